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

use berth_specs::{Kind, NeedDetail, NeedSpec, Protocol};
use ipnet::IpNet;
use serde::Serialize;
use serde_json::Value;

use crate::emit::{Note, NoteKind};
use crate::plan::{Binding, ContainerPlan};

/// Everything a container's bindings add to its run configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Edits {
    /// Container name.
    pub container: String,
    /// Image, if the spec names one.
    pub image: Option<String>,
    /// Bind mounts (volumes, secrets, custom mounts), in need order.
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
    /// Whether the source is a file (secrets) rather than a directory; LXC needs
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
    /// A binding's value lacks a field or has a malformed one.
    #[error("{kind} `{name}`: binding value has no valid `{field}`")]
    BadValue {
        /// Kind.
        kind: Kind,
        /// Name.
        name: String,
        /// The missing or malformed field.
        field: &'static str,
    },
    /// The plan is not for this spec (a binding points at a need it lacks).
    #[error("the plan of `{container}` does not match its spec")]
    SpecMismatch {
        /// Container.
        container: String,
    },
}

/// Resolves a satisfied container plan into edits. `spec` must be the spec the
/// plan was made from (its needs give mount points and container ports).
pub fn resolve(plan: &ContainerPlan, spec: &NeedSpec) -> Result<Edits, EditError> {
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
    // Networks first, so an address finds its network's subnet and gateway
    // whatever the binding order.
    for b in plan.bindings.iter().filter(|b| b.kind == Kind::Network) {
        check_ready(b)?;
        let net = attachment(&mut e.networks, &b.name);
        net_details(net, b)?;
    }
    for b in &plan.bindings {
        check_ready(b)?;
        let detail = match b.need {
            Some(i) => {
                &spec
                    .needs
                    .get(i)
                    .ok_or_else(|| EditError::SpecMismatch {
                        container: plan.container.clone(),
                    })?
                    .detail
            }
            None => &NeedDetail::Network,
        };
        match (&b.kind, detail) {
            (Kind::Network, _) => {}
            (
                Kind::Volume,
                NeedDetail::Volume {
                    mount, read_only, ..
                },
            ) => {
                let ro = *read_only || b.value.get("read_only") == Some(&Value::Bool(true));
                e.mounts.push(Mount {
                    source: str_field(b, "path")?,
                    target: mount.clone(),
                    read_only: ro,
                    file: false,
                    from: from(b),
                });
            }
            (Kind::Secret, NeedDetail::Secret { mount }) => e.mounts.push(Mount {
                source: str_field(b, "file")?,
                target: mount.clone(),
                read_only: true,
                file: true,
                from: from(b),
            }),
            (Kind::Ipv6 | Kind::Ipv4, _) => {
                let addr: IpAddr = str_field(b, "address")?
                    .parse()
                    .map_err(|_| bad(b, "address"))?;
                let network = str_field(b, "network")?;
                let net = attachment(&mut e.networks, &network);
                match addr {
                    IpAddr::V6(_) => net.ipv6 = Some(addr),
                    IpAddr::V4(_) => net.ipv4 = Some(addr),
                }
            }
            (
                Kind::Port,
                NeedDetail::Port {
                    container_port,
                    protocol,
                },
            ) => {
                let host_port = b
                    .value
                    .get("host_port")
                    .and_then(Value::as_u64)
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or_else(|| bad(b, "host_port"))?;
                let bind = match b.value.get("bind") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(
                        v.as_str()
                            .and_then(|s| s.parse().ok())
                            .ok_or_else(|| bad(b, "bind"))?,
                    ),
                };
                e.ports.push(PortMap {
                    name: b.name.clone(),
                    bind,
                    host_port,
                    container_port: *container_port,
                    protocol: *protocol,
                });
            }
            (Kind::Device, NeedDetail::Device { path }) => {
                let host = str_field(b, "path")?;
                let target = path.clone().filter(|p| *p != host);
                e.devices.push(DeviceEdit {
                    path: host,
                    target,
                    from: from(b),
                });
            }
            (Kind::Custom(_), _) => custom(&mut e, b)?,
            _ => {
                return Err(EditError::SpecMismatch {
                    container: plan.container.clone(),
                })
            }
        }
    }
    Ok(e)
}

fn check_ready(b: &Binding) -> Result<(), EditError> {
    if b.pending() {
        return Err(EditError::Pending {
            kind: b.kind.clone(),
            name: b.name.clone(),
        });
    }
    Ok(())
}

fn from(b: &Binding) -> String {
    format!("{} {}", b.kind, b.name)
}

fn bad(b: &Binding, field: &'static str) -> EditError {
    EditError::BadValue {
        kind: b.kind.clone(),
        name: b.name.clone(),
        field,
    }
}

fn str_field(b: &Binding, field: &'static str) -> Result<String, EditError> {
    b.value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| bad(b, field))
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

fn net_details(net: &mut Attachment, b: &Binding) -> Result<(), EditError> {
    let opt = |field: &'static str| -> Result<Option<&str>, EditError> {
        match b.value.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_str().map(Some).ok_or_else(|| bad(b, field)),
        }
    };
    if let Some(br) = opt("bridge")? {
        net.bridge = br.to_string();
    }
    if let Some(s) = opt("subnet6")? {
        net.prefix6 = s
            .parse::<IpNet>()
            .map_err(|_| bad(b, "subnet6"))?
            .prefix_len();
    }
    if let Some(s) = opt("subnet4")? {
        net.prefix4 = s
            .parse::<IpNet>()
            .map_err(|_| bad(b, "subnet4"))?
            .prefix_len();
    }
    if let Some(g) = opt("gateway6")? {
        net.gateway6 = Some(g.parse().map_err(|_| bad(b, "gateway6"))?);
    }
    if let Some(g) = opt("gateway4")? {
        net.gateway4 = Some(g.parse().map_err(|_| bad(b, "gateway4"))?);
    }
    Ok(())
}

fn custom(e: &mut Edits, b: &Binding) -> Result<(), EditError> {
    if let Some(env) = b.value.get("env") {
        let env = env.as_object().ok_or_else(|| bad(b, "env"))?;
        for (k, v) in env {
            let v = v.as_str().ok_or_else(|| bad(b, "env"))?;
            e.env.insert(k.clone(), v.to_string());
        }
    }
    if let Some(mounts) = b.value.get("mounts") {
        for m in mounts.as_array().ok_or_else(|| bad(b, "mounts"))? {
            let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
            e.mounts.push(Mount {
                source: s("path").ok_or_else(|| bad(b, "mounts"))?,
                target: s("mount").ok_or_else(|| bad(b, "mounts"))?,
                read_only: m.get("read_only").and_then(Value::as_bool).unwrap_or(false),
                file: false,
                from: from(b),
            });
        }
    }
    if let Some(devs) = b.value.get("devices") {
        for d in devs.as_array().ok_or_else(|| bad(b, "devices"))? {
            let path = d.as_str().ok_or_else(|| bad(b, "devices"))?;
            e.devices.push(DeviceEdit {
                path: path.to_string(),
                target: None,
                from: from(b),
            });
        }
    }
    Ok(())
}
