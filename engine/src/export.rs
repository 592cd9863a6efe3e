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
pub mod model;
pub mod nomad;

pub use model::{object_name, Engine, ExportNote, ExportNoteKind, Options, Placed};

use berth_specs::{HostManifest, Kind, NeedSpec};
use serde::Serialize;

use crate::cdi;
use crate::edits;
use crate::place::place;
use crate::plan::ContainerPlan;
use crate::solve::solve;
use crate::state::State;

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
            match prepare(host, spec, cp, opts, &mut notes) {
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
    opts: &Options,
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
    let mut cdi_devices = Vec::new();
    if opts.cdi {
        cp.bindings.retain(|b| match cdi::binding_device(b) {
            Some(name) => {
                cdi_devices.push((format!("{} {}", b.kind, b.name), name));
                false
            }
            None => true,
        });
    }
    let edits = edits::resolve(&cp, spec).ok()?;
    let addresses = cp
        .bindings
        .iter()
        .filter_map(|b| {
            let net = b.value.detail()?.on_network()?;
            Some((net.to_string(), b.name.clone()))
        })
        .collect();
    Some(Placed {
        host,
        spec,
        edits,
        addresses,
        cdi_devices,
    })
}
