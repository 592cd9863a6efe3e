//! The data every export format shares: the engines, the options, what one
//! placed container brings ([`Placed`]) and the notes for what a format cannot
//! express. Plain data that imports nothing of `export`, so the formats and
//! the entry point can both use it without an import circle.

use std::path::PathBuf;

use berth_specs::{HostManifest, NeedSpec};
use serde::Serialize;

use crate::edits::Edits;
use crate::place::ReasonCount;

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
    /// Pass devices and custom kinds that a host provides by exact name as CDI
    /// names (`kind=name`, what `berth export cdi` writes on that host) instead
    /// of expanding their edits.
    pub cdi: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            node_host_file: PathBuf::from("/etc/berth/host.yaml"),
            cdi: false,
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
    /// With [`Options::cdi`]: `(need, CDI name)` of the bindings passed as CDI
    /// devices (left out of `edits`).
    pub cdi_devices: Vec<(String, String)>,
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
