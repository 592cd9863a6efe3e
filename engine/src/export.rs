//! `berth export kubernetes|nomad`: a placed fleet as the orchestrator's own
//! files, so host manifests and need specs keep their meaning there.
//!
//! The host of each container comes from [`crate::place::place`]; what it gets
//! there comes from [`crate::solve::solve`] of that host with the containers
//! placed on it, made into neutral [`Edits`] like every emitter does. The
//! engine-specific part ([`kubernetes`], [`nomad`]) only translates edits and
//! bindings. What must stay true: nothing is dropped silently. What an engine
//! cannot express, a container that was not placed, and a resource a provider
//! would make only at apply time each come back as an [`ExportNote`] (stderr
//! and JSON), and the text names what it could not write.
//!
//! Exports plan from each host's empty state: a fleet export describes what
//! the fleet can run, not what one machine has handed out; addresses are left
//! to `berth-cni` at run time, by name.

pub mod kubernetes;
pub mod nomad;

use std::path::PathBuf;

use berth_specs::{HostManifest, Kind, NeedSpec};
use serde::Serialize;

use crate::edits::{self, Edits};
use crate::place::{place, ReasonCount};
use crate::plan::ContainerPlan;
use crate::solve::solve;
use crate::state::State;

/// The engines berth exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Kubernetes manifests (PV, PVC, Pod, NetworkAttachmentDefinition).
    Kubernetes,
    /// Nomad client `host_volume` blocks and jobs, in HCL.
    Nomad,
}

impl Engine {
    /// Parses `kubernetes` / `nomad`.
    pub fn from_name(s: &str) -> Option<Engine> {
        match s {
            "kubernetes" => Some(Engine::Kubernetes),
            "nomad" => Some(Engine::Nomad),
            _ => None,
        }
    }
}

/// Choices the files need that the manifests do not hold.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where each node keeps its host manifest, for `berth-cni`'s IPAM config.
    pub node_host_file: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            node_host_file: PathBuf::from("/etc/berth/host.yaml"),
        }
    }
}

/// Something the export could not express, said out loud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportNote {
    /// The container (or host, for host-level notes).
    pub container: String,
    /// Kind and name of the need it concerns (`device fuse`), empty when about
    /// the whole container.
    pub need: String,
    /// What and why.
    #[serde(flatten)]
    pub kind: ExportNoteKind,
}

/// The kinds of export notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "note", rename_all = "kebab-case")]
pub enum ExportNoteKind {
    /// No host of the fleet can run the container; nothing was written for it.
    Unplaced {
        /// Why, per reason, with host counts (as `berth place` says).
        reasons: Vec<ReasonCount>,
    },
    /// A resource a provider makes at apply time: the export cannot know its
    /// value; run `berth apply` on the host and export again, or provide it.
    ProviderMade {
        /// The host.
        host: String,
    },
    /// A device given as a host path where the engine takes only CDI names
    /// (Kubernetes) or no CDI names (Nomad's docker driver).
    DeviceNotExpressible {
        /// The device as the host provides it.
        device: String,
    },
    /// A published port bound to one host address: the engine's port block
    /// has no such field.
    PortBindNotExpressible {
        /// The address the host binds.
        bind: String,
    },
    /// A second network: the engine attaches a group to one network.
    ExtraNetwork {
        /// The network not attached.
        network: String,
    },
    /// A name the engine does not accept as an object name.
    BadName {
        /// The name.
        name: String,
    },
    /// The spec names no image; the file carries a placeholder to fill in.
    NoImage,
    /// The container could not be planned on the host `place` chose (a
    /// disagreement between placement and planning, reported, never hidden).
    NotSatisfied {
        /// The host.
        host: String,
    },
}

/// One container ready for an engine: where it runs, its edits, and the
/// resource names behind its addresses.
#[derive(Debug, Clone)]
pub struct Placed<'a> {
    /// The host.
    pub host: &'a HostManifest,
    /// The spec.
    pub spec: &'a NeedSpec,
    /// Its edits on that host.
    pub edits: Edits,
    /// `(network, address resource name)` for each address need, in order.
    pub addresses: Vec<(String, String)>,
}

/// What an export produced.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    /// The engine.
    pub engine: Engine,
    /// The files' text (several documents in one stream).
    pub text: String,
    /// What could not be expressed.
    pub notes: Vec<ExportNote>,
    /// How many containers were placed and exported.
    pub placed: usize,
    /// How many were not.
    pub unplaced: usize,
}

/// Places `specs` on `hosts` and renders the placed ones for `engine`.
pub fn export(
    engine: Engine,
    hosts: &[&HostManifest],
    specs: &[&NeedSpec],
    opts: &Options,
) -> Exported {
    let placement = place(hosts, specs);
    let mut notes = Vec::new();
    for p in &placement.placements {
        if p.host.is_none() {
            notes.push(ExportNote {
                container: specs[p.spec].container.clone(),
                need: String::new(),
                kind: ExportNoteKind::Unplaced {
                    reasons: p.reasons.clone(),
                },
            });
        }
    }
    let mut placed = Vec::new();
    for (h, on) in placement.by_host().into_iter().enumerate() {
        if on.is_empty() {
            continue;
        }
        let host = hosts[h];
        let here: Vec<&NeedSpec> = on.iter().map(|&i| specs[i]).collect();
        let plan = solve(host, &State::new(&host.host), &here);
        for spec in here {
            let Some(cp) = plan.container(&spec.container) else {
                continue;
            };
            match prepare(host, spec, cp, &mut notes) {
                Some(p) => placed.push(p),
                None => notes.push(ExportNote {
                    container: spec.container.clone(),
                    need: String::new(),
                    kind: ExportNoteKind::NotSatisfied {
                        host: host.host.clone(),
                    },
                }),
            }
        }
    }
    // Input order, whatever the host order.
    let order = |s: &NeedSpec| specs.iter().position(|x| x.container == s.container);
    placed.sort_by_key(|p| order(p.spec));
    let text = match engine {
        Engine::Kubernetes => kubernetes::render(&placed, opts, &mut notes),
        Engine::Nomad => nomad::render(&placed, hosts, &mut notes),
    };
    let exported = placed.len();
    Exported {
        engine,
        text,
        notes,
        placed: exported,
        unplaced: specs.len() - exported,
    }
}

/// Edits of a satisfied container plan; bindings a provider would make are
/// left out, each with a note. `None` when the plan is not satisfied.
fn prepare<'a>(
    host: &'a HostManifest,
    spec: &'a NeedSpec,
    cp: &ContainerPlan,
    notes: &mut Vec<ExportNote>,
) -> Option<Placed<'a>> {
    if !cp.satisfied {
        return None;
    }
    let mut cp = cp.clone();
    let pending: Vec<(Kind, String)> = cp
        .bindings
        .iter()
        .filter(|b| b.pending())
        .map(|b| (b.kind.clone(), b.name.clone()))
        .collect();
    for (kind, name) in &pending {
        notes.push(ExportNote {
            container: spec.container.clone(),
            need: format!("{kind} {name}"),
            kind: ExportNoteKind::ProviderMade {
                host: host.host.clone(),
            },
        });
    }
    cp.bindings.retain(|b| !b.pending());
    let edits = edits::resolve(&cp, spec).ok()?;
    let addresses = cp
        .bindings
        .iter()
        .filter(|b| matches!(b.kind, Kind::Ipv6 | Kind::Ipv4))
        .filter_map(|b| {
            let net = b.value.get("network")?.as_str()?;
            Some((net.to_string(), b.name.clone()))
        })
        .collect();
    Some(Placed {
        host,
        spec,
        edits,
        addresses,
    })
}

/// A name as a Kubernetes / Nomad object name: lowercase, `_` and `.` as `-`.
/// `None` when what is left is not a DNS label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`,
/// at most 63 characters).
pub fn object_name(parts: &[&str]) -> Option<String> {
    let joined = parts
        .join("-")
        .to_ascii_lowercase()
        .replace(['_', '.'], "-");
    let b = joined.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-';
    ok.then_some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_dns_labels() {
        assert_eq!(
            object_name(&["web-01", "Web_Pages"]).as_deref(),
            Some("web-01-web-pages")
        );
        assert_eq!(object_name(&["a.b"]).as_deref(), Some("a-b"));
        assert_eq!(object_name(&["x-"]), None);
        assert_eq!(object_name(&[&"a".repeat(64)]), None);
    }
}
