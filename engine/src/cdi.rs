//! CDI (Container Device Interface) specs from a host manifest, so podman,
//! containerd and docker resolve `--device vendor.tld/class=name` to what the
//! host manifest says that name is.
//!
//! - A custom-kind provide (`example.com/thing: one`, already a CDI-shaped
//!   kind) becomes device `one` of kind `example.com/thing`, its `env`, `mounts`
//!   and `devices` becoming the device's `containerEdits` (`env`, `mounts`,
//!   `deviceNodes`).
//! - A `device` provide with a host path becomes device `<name>` of kind
//!   [`DEVICE_KIND`] (`berth.local/device`), one device node.
//!
//! CDI needs concrete names: a pattern provide (`"gpu-*"`) cannot be written
//! and comes back as a [`CdiNote`], as does a device that is itself a CDI name
//! (CDI specs do not refer to other specs). Nothing is dropped silently.
//!
//! One file per kind, `berth-<vendor>-<class>.json`, written atomically (temp
//! file and rename in the same folder) so a runtime never reads half a spec.
//!
//! The other direction serves emitters: [`binding_device`] is the one rule of
//! which binding a CDI name can stand for (what `--emit docker --cdi` and
//! `berth export kubernetes --cdi` pass instead of the edits), and [`lookup`]
//! reads the JSON specs of the CDI folders back, so the LXC emitter, which
//! resolves no CDI names itself, can apply a device's edits.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use berth_specs::{HostManifest, Kind, ProvideDetail};
use serde::{Deserialize, Serialize};

use crate::plan::Binding;
use crate::state::BindingSource;

/// The CDI spec version written: the oldest one with everything used here
/// (env, deviceNodes with hostPath, mounts), so older runtimes read it too.
pub const CDI_VERSION: &str = "0.5.0";

/// The CDI kind of berth's built-in `device` provides.
pub const DEVICE_KIND: &str = "berth.local/device";

/// The folder runtimes read dynamic CDI specs from.
pub const DEFAULT_DIR: &str = "/var/run/cdi";

/// The folders runtimes read CDI specs from, the one read first first: a
/// dynamic spec in `/var/run/cdi` wins over a static one in `/etc/cdi`.
pub const SPEC_DIRS: [&str; 2] = [DEFAULT_DIR, "/etc/cdi"];

/// One CDI spec file: every device of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdiSpec {
    /// The spec version ([`CDI_VERSION`]).
    pub cdi_version: String,
    /// `vendor.tld/class`.
    pub kind: String,
    /// The devices, in manifest order.
    pub devices: Vec<CdiDevice>,
    /// Edits applied with every device of the spec (berth writes none; other
    /// vendors' specs may have them).
    #[serde(default, skip_serializing_if = "ContainerEdits::is_empty")]
    pub container_edits: ContainerEdits,
}

/// One named device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdiDevice {
    /// The name after `=` in `vendor.tld/class=name`.
    pub name: String,
    /// What the runtime applies to the container.
    #[serde(default)]
    pub container_edits: ContainerEdits,
}

/// CDI's container edits (the subset berth's kinds produce; other fields of
/// a spec berth reads, like hooks, are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerEdits {
    /// `KEY=VALUE` entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Device nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_nodes: Vec<DeviceNode>,
    /// Bind mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<CdiMount>,
}

impl ContainerEdits {
    /// True when there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.env.is_empty() && self.device_nodes.is_empty() && self.mounts.is_empty()
    }
}

/// A device node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceNode {
    /// Path in the container.
    pub path: String,
    /// Path on the host (CDI: the container path when left out).
    #[serde(default)]
    pub host_path: String,
}

impl DeviceNode {
    /// The node's host path: `hostPath`, or `path` when a spec leaves it out.
    pub fn host(&self) -> &str {
        if self.host_path.is_empty() {
            &self.path
        } else {
            &self.host_path
        }
    }
}

/// A bind mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdiMount {
    /// Host path.
    pub host_path: String,
    /// Container path.
    pub container_path: String,
    /// `bind`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `bind` and `ro` or `rw`.
    #[serde(default)]
    pub options: Vec<String>,
}

/// A provide that could not become a CDI device, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "note", rename_all = "kebab-case")]
pub enum CdiNote {
    /// A pattern provide: CDI devices have concrete names.
    Pattern {
        /// Kind.
        kind: String,
        /// The pattern.
        name: String,
    },
    /// A device that is itself a CDI name.
    AlreadyCdi {
        /// Kind.
        kind: String,
        /// Provide name.
        name: String,
        /// The CDI name.
        device: String,
    },
}

/// Why specs could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write CDI spec {}: {source}", path.display())]
pub struct CdiError {
    /// The file or folder.
    pub path: PathBuf,
    /// The OS error.
    pub source: std::io::Error,
}

/// The CDI specs of `host`, one per kind (sorted by kind), and notes for what
/// could not be written.
pub fn specs(host: &HostManifest) -> (Vec<CdiSpec>, Vec<CdiNote>) {
    let mut by_kind: BTreeMap<String, Vec<CdiDevice>> = BTreeMap::new();
    let mut notes = Vec::new();
    for p in &host.provides {
        let (kind, edits) = match (&p.kind, &p.detail) {
            (
                Kind::Custom(k),
                ProvideDetail::Custom {
                    env,
                    mounts,
                    devices,
                    ..
                },
            ) => {
                let mut e = ContainerEdits {
                    env: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                    ..ContainerEdits::default()
                };
                for d in devices {
                    if d.starts_with('/') {
                        e.device_nodes.push(DeviceNode {
                            path: d.clone(),
                            host_path: d.clone(),
                        });
                    } else {
                        notes.push(CdiNote::AlreadyCdi {
                            kind: k.clone(),
                            name: p.name.to_string(),
                            device: d.clone(),
                        });
                    }
                }
                e.mounts = mounts
                    .iter()
                    .map(|m| CdiMount {
                        host_path: m.path.clone(),
                        container_path: m.mount.clone(),
                        kind: "bind".into(),
                        options: vec!["bind".into(), if m.read_only { "ro" } else { "rw" }.into()],
                    })
                    .collect();
                (k.clone(), e)
            }
            (Kind::Device, ProvideDetail::Device { path, .. }) => {
                if !path.starts_with('/') {
                    notes.push(CdiNote::AlreadyCdi {
                        kind: "device".into(),
                        name: p.name.to_string(),
                        device: path.clone(),
                    });
                    continue;
                }
                let e = ContainerEdits {
                    device_nodes: vec![DeviceNode {
                        path: path.clone(),
                        host_path: path.clone(),
                    }],
                    ..ContainerEdits::default()
                };
                (DEVICE_KIND.to_string(), e)
            }
            _ => continue,
        };
        if !p.name.is_exact() {
            notes.push(CdiNote::Pattern {
                kind: p.kind.to_string(),
                name: p.name.to_string(),
            });
            continue;
        }
        by_kind.entry(kind).or_default().push(CdiDevice {
            name: p.name.to_string(),
            container_edits: edits,
        });
    }
    let specs = by_kind
        .into_iter()
        .map(|(kind, devices)| CdiSpec {
            cdi_version: CDI_VERSION.into(),
            kind,
            devices,
            container_edits: ContainerEdits::default(),
        })
        .collect();
    (specs, notes)
}

/// The CDI name under which `berth export cdi` writes what serves `b`: a
/// custom kind or a device (with a host path) the manifest provides by that
/// exact name. `None` for anything else (patterns and provider-made
/// resources have no CDI device).
pub fn binding_device(b: &Binding) -> Option<String> {
    if b.source != BindingSource::Provides || b.provide != b.name {
        return None;
    }
    match &b.kind {
        Kind::Custom(k) => Some(format!("{k}={}", b.name)),
        Kind::Device if b.value.get("path")?.as_str()?.starts_with('/') => {
            Some(format!("{DEVICE_KIND}={}", b.name))
        }
        _ => None,
    }
}

/// The edits of CDI device `name` (`vendor.tld/class=device`) from the JSON
/// specs in `dirs` (searched in order, each folder's files in name order; the
/// first spec with that kind and device wins): the spec's own edits followed
/// by the device's. `None` when no readable JSON spec has it (YAML specs are
/// not read: berth keeps one YAML reader, for its own formats).
pub fn lookup<P: AsRef<Path>>(dirs: &[P], name: &str) -> Option<ContainerEdits> {
    let (kind, device) = name.split_once('=')?;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir.as_ref()) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            let Some(spec) = std::fs::read(&f)
                .ok()
                .and_then(|b| serde_json::from_slice::<CdiSpec>(&b).ok())
            else {
                continue;
            };
            if spec.kind != kind {
                continue;
            }
            if let Some(d) = spec.devices.iter().find(|d| d.name == device) {
                let mut e = spec.container_edits.clone();
                e.env.extend(d.container_edits.env.iter().cloned());
                e.device_nodes
                    .extend(d.container_edits.device_nodes.iter().cloned());
                e.mounts.extend(d.container_edits.mounts.iter().cloned());
                return Some(e);
            }
        }
    }
    None
}

/// [`lookup`] in the folders runtimes read ([`SPEC_DIRS`]).
pub fn lookup_on_host(name: &str) -> Option<ContainerEdits> {
    lookup(&SPEC_DIRS, name)
}

/// The file name of a spec: `berth-<vendor>-<class>.json`.
pub fn file_name(spec: &CdiSpec) -> String {
    format!("berth-{}.json", spec.kind.replace('/', "-"))
}

/// Writes each spec into `dir` (created if missing), atomically; returns the
/// paths written.
pub fn write(dir: &Path, specs: &[CdiSpec]) -> Result<Vec<PathBuf>, CdiError> {
    std::fs::create_dir_all(dir).map_err(|source| CdiError {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for s in specs {
        let path = dir.join(file_name(s));
        let err = |source| CdiError {
            path: path.clone(),
            source,
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".berth-cdi-")
            .tempfile_in(dir)
            .map_err(err)?;
        let text = serde_json::to_string_pretty(s).expect("plain data serializes");
        tmp.write_all(text.as_bytes()).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(&path).map_err(|e| err(e.error))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_specs::load::{load_str, LoadOptions};
    use berth_specs::Document;

    fn host(text: &str) -> HostManifest {
        let l = load_str(Path::new("host.yaml"), text, &LoadOptions::default());
        assert!(!l.has_errors(), "{:?}", l.diagnostics);
        match l.documents.into_iter().next() {
            Some(Document::Host(h)) => h,
            _ => panic!("no host"),
        }
    }

    #[test]
    fn custom_kinds_and_devices_become_cdi_devices_and_patterns_are_noted() {
        let h = host(
            "berth: 1\nhost: h\nprovides:\n  - example.com/thing: one\n    env: {THING: one}\n    \
             devices: [/dev/null]\n    mounts:\n      - path: /srv/thing\n        mount: /thing\n        \
             read_only: true\n  - example.com/thing: \"many-*\"\n    env: {A: b}\n  - device: fuse\n    \
             path: /dev/fuse\n",
        );
        let (specs, notes) = specs(&h);
        let v = serde_json::to_value(&specs).unwrap();
        assert_eq!(
            v,
            serde_json::json!([
                {"cdiVersion": "0.5.0", "kind": "berth.local/device", "devices": [
                    {"name": "fuse", "containerEdits": {"deviceNodes": [{"path": "/dev/fuse", "hostPath": "/dev/fuse"}]}}
                ]},
                {"cdiVersion": "0.5.0", "kind": "example.com/thing", "devices": [
                    {"name": "one", "containerEdits": {
                        "env": ["THING=one"],
                        "deviceNodes": [{"path": "/dev/null", "hostPath": "/dev/null"}],
                        "mounts": [{"hostPath": "/srv/thing", "containerPath": "/thing", "type": "bind", "options": ["bind", "ro"]}]
                    }}
                ]}
            ])
        );
        assert_eq!(
            notes,
            vec![CdiNote::Pattern {
                kind: "example.com/thing".into(),
                name: "many-*".into()
            }]
        );
        assert_eq!(file_name(&specs[1]), "berth-example.com-thing.json");
        let dir = tempfile::tempdir().unwrap();
        let written = write(&dir.path().join("cdi"), &specs).unwrap();
        assert_eq!(written.len(), 2);
        let back: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&written[1]).unwrap()).unwrap();
        assert_eq!(back, v[1]);
    }
}
