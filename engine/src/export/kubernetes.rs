//! Kubernetes objects for a placed fleet (`docs/engines.md`, "Kubernetes"):
//! - per host volume used: a local `PersistentVolume` pinned to its node by
//!   `nodeAffinity`, and a `PersistentVolumeClaim` pre-bound to it by
//!   `volumeName` with `storageClassName: ""` (no provisioner may take it);
//! - per berth network with addresses: a `NetworkAttachmentDefinition`
//!   (Multus) whose IPAM is `berth-cni`;
//! - per container: a `Pod` on its host (`nodeSelector` on
//!   `kubernetes.io/hostname`) with those claims, its `hostPort`s, read-only
//!   file mounts and custom mounts as read-only `hostPath` volumes, env, CDI devices through the
//!   `cdi.k8s.io/` annotations, and the Multus network annotation that passes
//!   the address's berth name as `BERTH_NAME`.
//!
//! The stream is YAML documents separated by `---`, each written as JSON (a
//! subset of YAML), so no YAML writer is needed. A local volume's capacity is
//! nominal (`1Gi`): berth does not know sizes, and local volumes do not
//! enforce them.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::model::{object_name, ExportNote, ExportNoteKind, Options, Placed};

/// The nominal capacity of a local volume.
const CAPACITY: &str = "1Gi";

/// Renders the placed containers; notes go to `notes`.
pub fn render(placed: &[Placed<'_>], opts: &Options, notes: &mut Vec<ExportNote>) -> String {
    let mut docs: Vec<Value> = Vec::new();
    let mut nets: BTreeMap<String, Value> = BTreeMap::new();
    let mut claims: BTreeMap<String, Value> = BTreeMap::new();
    let mut pods = Vec::new();
    for p in placed {
        let c = &p.spec.container;
        let host = &p.host.host;
        let note = |need: &str, kind: ExportNoteKind| ExportNote {
            container: c.clone(),
            need: need.to_string(),
            kind,
        };
        let Some(pod_name) = object_name(&[c]) else {
            notes.push(note("", ExportNoteKind::BadName { name: c.clone() }));
            continue;
        };
        let mut volumes = Vec::new();
        let mut mounts = Vec::new();
        for (i, m) in p.edits.mounts.iter().enumerate() {
            let vol = object_name(&[&format!("m{i}")]).unwrap_or_default();
            match m.from.strip_prefix("volume ") {
                Some(res) => {
                    let Some(pv) = object_name(&["berth", host, res]) else {
                        notes.push(note(&m.from, ExportNoteKind::BadName { name: res.into() }));
                        continue;
                    };
                    claims.entry(pv.clone()).or_insert_with(|| {
                        json!([persistent_volume(&pv, host, &m.source), claim(&pv)])
                    });
                    volumes.push(json!({
                        "name": vol,
                        "persistentVolumeClaim": {"claimName": pv, "readOnly": m.read_only},
                    }));
                }
                None => volumes.push(json!({
                    "name": vol,
                    "hostPath": {
                        "path": m.source,
                        "type": if m.file { "File" } else { "Directory" },
                    },
                })),
            }
            mounts.push(json!({"name": vol, "mountPath": m.target, "readOnly": m.read_only}));
        }
        let ports: Vec<Value> = p
            .edits
            .ports
            .iter()
            .map(|pm| {
                let mut v = json!({
                    "containerPort": pm.container_port,
                    "hostPort": pm.host_port,
                    "protocol": pm.protocol.to_string().to_ascii_uppercase(),
                });
                if port_name_ok(&pm.name) {
                    v["name"] = json!(pm.name);
                }
                if let Some(b) = pm.bind {
                    v["hostIP"] = json!(b.to_string());
                }
                v
            })
            .collect();
        let mut annotations = serde_json::Map::new();
        let mut cdi = 0;
        for d in &p.edits.devices {
            if d.is_cdi() {
                annotations.insert(format!("cdi.k8s.io/berth-{cdi}"), json!(d.path));
                cdi += 1;
            } else {
                notes.push(note(
                    &d.from,
                    ExportNoteKind::DeviceNotExpressible {
                        device: d.path.clone(),
                    },
                ));
            }
        }
        for (_, name) in &p.cdi_devices {
            annotations.insert(format!("cdi.k8s.io/berth-{cdi}"), json!(name));
            cdi += 1;
        }
        let mut selections = Vec::new();
        for a in &p.edits.networks {
            let Some(nad) = object_name(&[&a.network]) else {
                notes.push(note(
                    &format!("network {}", a.network),
                    ExportNoteKind::BadName {
                        name: a.network.clone(),
                    },
                ));
                continue;
            };
            nets.entry(nad.clone())
                .or_insert_with(|| attachment_definition(&nad, &a.network, &a.bridge, opts));
            let mut sel = json!({"name": nad, "interface": format!("net{}", selections.len() + 1)});
            if let Some((_, name)) = p.addresses.iter().find(|(n, _)| *n == a.network) {
                sel["cni-args"] = json!({"BERTH_NAME": name});
            }
            selections.push(sel);
        }
        if !selections.is_empty() {
            annotations.insert(
                "k8s.v1.cni.cncf.io/networks".into(),
                json!(Value::Array(selections).to_string()),
            );
        }
        let mut container = json!({"name": pod_name});
        match &p.spec.image {
            Some(img) => container["image"] = json!(img),
            None => notes.push(note("", ExportNoteKind::NoImage)),
        }
        if !ports.is_empty() {
            container["ports"] = json!(ports);
        }
        if !mounts.is_empty() {
            container["volumeMounts"] = json!(mounts);
        }
        if !p.edits.env.is_empty() {
            let env: Vec<Value> = p
                .edits
                .env
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect();
            container["env"] = json!(env);
        }
        let mut spec = json!({
            "nodeSelector": {"kubernetes.io/hostname": host},
            "containers": [container],
        });
        if !volumes.is_empty() {
            spec["volumes"] = json!(volumes);
        }
        let mut meta = json!({"name": pod_name, "labels": labels(c)});
        if !annotations.is_empty() {
            meta["annotations"] = Value::Object(annotations);
        }
        pods.push(json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}));
    }
    docs.extend(nets.into_values());
    for pair in claims.into_values() {
        docs.extend(pair.as_array().cloned().unwrap_or_default());
    }
    docs.extend(pods);
    let mut out = String::from("# Kubernetes objects written by `berth export kubernetes`\n");
    for d in docs {
        out.push_str("---\n");
        out.push_str(&serde_json::to_string_pretty(&d).expect("JSON values serialize"));
        out.push('\n');
    }
    out
}

fn labels(container: &str) -> Value {
    json!({"app.kubernetes.io/managed-by": "berth", "app.kubernetes.io/name": container})
}

/// IANA service names: at most 15 characters, lowercase letters, digits and
/// inner single hyphens, at least one letter.
fn port_name_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 15
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.iter().any(u8::is_ascii_lowercase)
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !s.contains("--")
}

fn persistent_volume(name: &str, host: &str, path: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "berth"}},
        "spec": {
            "capacity": {"storage": CAPACITY},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "volumeMode": "Filesystem",
            "local": {"path": path},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}
            ]}]}},
        }
    })
}

fn claim(pv: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": pv, "labels": {"app.kubernetes.io/managed-by": "berth"}},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "volumeName": pv,
            "resources": {"requests": {"storage": CAPACITY}},
        }
    })
}

/// The CNI configuration berth-cni serves, as Multus wants it (a JSON string).
pub fn cni_config(network: &str, bridge: &str, opts: &Options) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": network,
        "type": "bridge",
        "bridge": bridge,
        "isGateway": true,
        "ipam": {
            "type": "berth-cni",
            "host": opts.node_host_file,
            "network": network,
        }
    })
}

fn attachment_definition(name: &str, network: &str, bridge: &str, opts: &Options) -> Value {
    json!({
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "berth"}},
        "spec": {"config": cni_config(network, bridge, opts).to_string()},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_names_follow_iana() {
        assert!(port_name_ok("http"));
        assert!(!port_name_ok("8080"));
        assert!(!port_name_ok("a--b"));
        assert!(!port_name_ok("Http"));
        assert!(!port_name_ok("a-very-long-port-name"));
    }
}
