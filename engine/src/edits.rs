//! Neutral edits: what a container's bindings mean for its run configuration,
//! independent of any engine (mounts, network attachments with their addresses,
//! published ports, devices, environment).
//!
//! Every emitter translates [`Edits`] and nothing else, so docker, compose, LXC
//! and JSON cannot disagree about what a binding means. Edits are read from the
//! binding values (host-manifest form) and the need options only, so a resource
//! a provider made resolves exactly like one the manifest names. A binding whose
//! value is still pending (a provider step has not run) has no edits: emitting
//! happens after apply.

use std::collections::BTreeMap;
use std::net::IpAddr;

use berth_specs::kinds::{self, EditSink, NetworkEdit};
use berth_specs::{Kind, NeedDetail, NeedSpec, Protocol};
use serde::Serialize;

use crate::emit::{Note, NoteKind};
use crate::plan::{Binding, ContainerPlan};
use crate::state::BindingSource;

/// Everything a container's bindings add to its run configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Edits {
    /// Container name.
    pub container: String,
    /// Image, if the spec names one.
    pub image: Option<String>,
    /// Bind mounts (of directories, files and custom mounts), in need order.
    pub mounts: Vec<Mount>,
    /// One attachment per network, in order of first mention.
    pub networks: Vec<Attachment>,
    /// Published ports.
    pub ports: Vec<PortMap>,
    /// Devices (host paths or CDI names).
    pub devices: Vec<DeviceEdit>,
    /// Environment variables (from custom kinds).
    pub env: BTreeMap<String, String>,
}

/// A bind mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// Host path.
    pub source: String,
    /// Path in the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Whether the source is a file rather than a directory; LXC needs
    /// to know what to create at the target.
    pub file: bool,
    /// Kind and name of the need it comes from.
    pub from: String,
}

/// The container on one network, with its addresses there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    /// Network name (the engine network).
    pub network: String,
    /// Host bridge (LXC link); the network name unless the network says.
    /// Empty when a pattern provide without `bridge:` served the network:
    /// the host chose no bridge, and the LXC emitter refuses it.
    pub bridge: String,
    /// IPv6 address on it.
    pub ipv6: Option<IpAddr>,
    /// Prefix length of the IPv6 subnet (128 when the network gives none).
    pub prefix6: u8,
    /// IPv6 gateway.
    pub gateway6: Option<IpAddr>,
    /// IPv4 address on it.
    pub ipv4: Option<IpAddr>,
    /// Prefix length of the IPv4 subnet (32 when the network gives none).
    pub prefix4: u8,
    /// IPv4 gateway.
    pub gateway4: Option<IpAddr>,
}

/// A published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortMap {
    /// Resource name of the port need (`http`).
    pub name: String,
    /// Host address to bind, if not all.
    pub bind: Option<IpAddr>,
    /// Host port.
    pub host_port: u16,
    /// Container port.
    pub container_port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

/// A device to pass in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceEdit {
    /// Host device node, or a CDI name (`vendor.com/class=name`).
    pub path: String,
    /// Path in the container when it differs from the host path.
    pub target: Option<String>,
    /// Kind and name of the need it comes from.
    pub from: String,
}

impl DeviceEdit {
    /// CDI names (`vendor.com/class=name`) are passed to the engine as they are.
    pub fn is_cdi(&self) -> bool {
        !self.path.starts_with('/') && self.path.contains('=')
    }
}

impl Edits {
    /// What docker and compose cannot express: a CDI device's container path.
    /// A CDI name is passed to the engine as it is and the CDI spec decides where
    /// the device appears, so the need's `path:` is ignored, said out loud.
    pub fn cdi_path_notes(&self) -> Vec<Note> {
        self.devices
            .iter()
            .filter(|d| d.is_cdi())
            .filter_map(|d| {
                Some(Note {
                    need: d.from.clone(),
                    kind: NoteKind::CdiPathIgnored {
                        device: d.path.clone(),
                        path: d.target.clone()?,
                    },
                })
            })
            .collect()
    }
}

/// Why a container plan cannot become edits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The container is not satisfied: there is nothing to run.
    #[error("container `{container}` is not satisfied")]
    NotSatisfied {
        /// Container.
        container: String,
    },
    /// A provider step must run first (apply, then emit).
    #[error("{kind} `{name}` is made by a provider step that has not run yet")]
    Pending {
        /// Kind.
        kind: Kind,
        /// Name.
        name: String,
    },
    /// The plan is not for this spec (a binding points at a need it lacks).
    #[error("the plan of `{container}` does not match its spec")]
    SpecMismatch {
        /// Container.
        container: String,
    },
}

/// Resolves a satisfied container plan into edits. `spec` must be the spec the
/// plan was made from (its needs give mount points and container ports). What
/// each kind's value means comes from the kind registry
/// ([`berth_specs::kinds::edits`]); this only collects it.
pub fn resolve(plan: &ContainerPlan, spec: &NeedSpec) -> Result<Edits, EditError> {
    resolve_with(plan, spec, false)
}

/// Like [`resolve`]; with `cdi_names`, a binding a CDI name stands for
/// ([`crate::cdi::binding_device`]: a custom kind or device the manifest
/// provides by exact name, which `berth export cdi` writes) becomes one device
/// edit with that name instead of its env, mounts and devices. A device need's
/// container `path:` is kept on it, so the emitter can say it is ignored.
pub fn resolve_with(
    plan: &ContainerPlan,
    spec: &NeedSpec,
    cdi_names: bool,
) -> Result<Edits, EditError> {
    if !plan.satisfied {
        return Err(EditError::NotSatisfied {
            container: plan.container.clone(),
        });
    }
    let mut e = Edits {
        container: plan.container.clone(),
        image: spec.image.clone(),
        ..Edits::default()
    };
    let implied = NeedDetail::implied();
    // Networks first, so an address finds its network's subnet and gateway
    // whatever the binding order.
    let (networks, others): (Vec<&Binding>, Vec<&Binding>) =
        plan.bindings.iter().partition(|b| b.kind.is_network());
    for b in networks.into_iter().chain(others) {
        let Some(value) = b.value.detail() else {
            return Err(EditError::Pending {
                kind: b.kind.clone(),
                name: b.name.clone(),
            });
        };
        let mismatch = || EditError::SpecMismatch {
            container: plan.container.clone(),
        };
        let need = match b.need {
            Some(i) => &spec.needs.get(i).ok_or_else(mismatch)?.detail,
            None => &implied,
        };
        let cdi = cdi_names.then(|| crate::cdi::binding_device(b)).flatten();
        let mut scratch = Edits::default();
        let mut sink = Sink {
            edits: if cdi.is_some() { &mut scratch } else { &mut e },
            binding: b,
        };
        kinds::edits(need, &b.name, value, &mut sink).map_err(|_| mismatch())?;
        if let Some(name) = cdi {
            let target = scratch.devices.into_iter().find_map(|d| d.target);
            let from = sink_from(b);
            e.devices.push(DeviceEdit {
                path: name,
                target,
                from,
            });
        }
    }
    Ok(e)
}

/// Collects one binding's edits into [`Edits`].
struct Sink<'e> {
    edits: &'e mut Edits,
    binding: &'e Binding,
}

impl Sink<'_> {
    fn from(&self) -> String {
        sink_from(self.binding)
    }
}

/// What an edit says it comes from: the binding's kind and name.
fn sink_from(b: &Binding) -> String {
    format!("{} {}", b.kind, b.name)
}

impl EditSink for Sink<'_> {
    fn mount(&mut self, source: &str, target: &str, read_only: bool, file: bool) {
        let from = self.from();
        self.edits.mounts.push(Mount {
            source: source.to_string(),
            target: target.to_string(),
            read_only,
            file,
            from,
        });
    }

    fn device(&mut self, path: &str, target: Option<&str>) {
        let from = self.from();
        self.edits.devices.push(DeviceEdit {
            path: path.to_string(),
            target: target.map(str::to_string),
            from,
        });
    }

    fn publish(
        &mut self,
        bind: Option<IpAddr>,
        host_port: u16,
        container_port: u16,
        protocol: Protocol,
    ) {
        self.edits.ports.push(PortMap {
            name: self.binding.name.clone(),
            bind,
            host_port,
            container_port,
            protocol,
        });
    }

    fn env(&mut self, key: &str, value: &str) {
        self.edits.env.insert(key.to_string(), value.to_string());
    }

    fn address(&mut self, network: &str, address: IpAddr) {
        let net = attachment(&mut self.edits.networks, network);
        match address {
            IpAddr::V6(_) => net.ipv6 = Some(address),
            IpAddr::V4(_) => net.ipv4 = Some(address),
        }
    }

    fn attach(&mut self, network: &str, detail: NetworkEdit<'_>) {
        let b = self.binding;
        // A network served by a pattern provide names no bridge of its own:
        // the need's name must not become the LXC link (any host bridge).
        let from_pattern =
            b.kind.is_network() && b.source == BindingSource::Provides && b.provide != b.name;
        let net = attachment(&mut self.edits.networks, network);
        if let Some(b) = detail.bridge {
            net.bridge = b.to_string();
        } else if from_pattern {
            net.bridge.clear();
        }
        if let Some(p) = detail.prefix6 {
            net.prefix6 = p;
        }
        if let Some(p) = detail.prefix4 {
            net.prefix4 = p;
        }
        if let Some(g) = detail.gateway6 {
            net.gateway6 = Some(g);
        }
        if let Some(g) = detail.gateway4 {
            net.gateway4 = Some(g);
        }
    }
}

fn attachment<'e>(nets: &'e mut Vec<Attachment>, name: &str) -> &'e mut Attachment {
    match nets.iter().position(|n| n.network == name) {
        Some(i) => &mut nets[i],
        None => {
            nets.push(Attachment {
                network: name.to_string(),
                bridge: name.to_string(),
                ipv6: None,
                prefix6: 128,
                gateway6: None,
                ipv4: None,
                prefix4: 32,
                gateway4: None,
            });
            nets.last_mut().expect("just pushed")
        }
    }
}
