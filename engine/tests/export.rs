//! `export`: what each engine's files say for fleets with shared volumes,
//! secrets, custom kinds, provider-made resources and unplaceable containers,
//! and that every case an engine cannot express comes back as a note.

use berth_engine::export::{export, Engine, ExportNoteKind, Exported, Options};
use berth_specs::{HostManifest, NeedSpec};
use berth_testkit::model::{host, specs};
use serde_json::Value;

fn run(engine: Engine, hosts: &[HostManifest], specs: &[NeedSpec]) -> Exported {
    let h: Vec<&HostManifest> = hosts.iter().collect();
    let s: Vec<&NeedSpec> = specs.iter().collect();
    export(engine, &h, &s, &Options::default())
}

fn docs(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .skip(1)
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

const HOST: &str = "host: h1
provides:
  - network: n6
    subnet6: fd00:1::/64
    gateway6: fd00:1::1
  - ipv6: \"*\"
    pool: fd00:1::100/120
    network: n6
  - volume: shared
    path: /srv/shared
  - secret: token
    file: /etc/berth/token
  - example.com/thing: one
    env: {THING: one}
    mounts:
      - path: /srv/thing
        mount: /thing
        read_only: true
providers:
  - volume: \"made-*\"
    run: [/bin/true]
";

#[test]
fn two_containers_share_one_volume_through_one_claim_and_secrets_are_host_paths() {
    let hosts = vec![host(HOST)];
    let specs = specs(
        "container: a\nimage: x/a:1\nneeds:\n  - volume: shared\n    mount: /data\n  - ipv6: a\n  \
         - secret: token\n    mount: /run/secrets/token\n  - example.com/thing: one\n\
         ---\ncontainer: b\nimage: x/b:1\nneeds:\n  - volume: shared\n    mount: /data\n    read_only: true\n",
    );
    let out = run(Engine::Kubernetes, &hosts, &specs);
    assert_eq!((out.placed, out.unplaced), (2, 0));
    assert!(out.notes.is_empty(), "{:?}", out.notes);
    let d = docs(&out.text);
    assert_eq!(of_kind(&d, "PersistentVolume").len(), 1);
    assert_eq!(of_kind(&d, "PersistentVolumeClaim").len(), 1);
    let pods = of_kind(&d, "Pod");
    assert_eq!(pods.len(), 2);
    let a = pods[0];
    let vols = a["spec"]["volumes"].as_array().unwrap();
    assert_eq!(
        vols[0]["persistentVolumeClaim"]["claimName"],
        "berth-h1-shared"
    );
    assert_eq!(vols[1]["hostPath"]["path"], "/etc/berth/token");
    assert_eq!(vols[1]["hostPath"]["type"], "File");
    assert_eq!(vols[2]["hostPath"]["path"], "/srv/thing");
    let c = &a["spec"]["containers"][0];
    assert_eq!(
        c["env"][0],
        serde_json::json!({"name": "THING", "value": "one"})
    );
    assert_eq!(c["volumeMounts"][1]["readOnly"], true);
    let b = pods[1];
    assert_eq!(
        b["spec"]["containers"][0]["volumeMounts"][0]["readOnly"],
        true
    );
    assert!(
        b["metadata"].get("annotations").is_none(),
        "b has no network"
    );

    let out = run(Engine::Nomad, &hosts, &specs);
    assert!(out.notes.is_empty(), "{:?}", out.notes);
    assert!(out.text.contains("host_volume \"shared\""));
    assert!(
        out.text.contains("source = \"/etc/berth/token\""),
        "{}",
        out.text
    );
    assert!(out.text.contains("THING = \"one\""));
    assert_eq!(out.text.matches("job \"").count(), 2);
}

#[test]
fn provider_made_and_unplaceable_resources_are_notes_never_silence() {
    let hosts = vec![host(HOST)];
    let specs = specs(
        "container: p\nimage: x/p:1\nneeds:\n  - volume: made-1\n    mount: /m\n\
         ---\ncontainer: q\nneeds:\n  - volume: absent\n    mount: /q\n",
    );
    for engine in [Engine::Kubernetes, Engine::Nomad] {
        let out = run(engine, &hosts, &specs);
        assert_eq!((out.placed, out.unplaced), (1, 1), "{engine:?}");
        let kinds: Vec<(&str, &ExportNoteKind)> = out
            .notes
            .iter()
            .map(|n| (n.container.as_str(), &n.kind))
            .collect();
        assert!(
            kinds
                .iter()
                .any(|(c, k)| *c == "q" && matches!(k, ExportNoteKind::Unplaced { .. })),
            "{kinds:?}"
        );
        assert!(
            kinds.iter().any(|(c, k)| *c == "p"
                && matches!(k, ExportNoteKind::ProviderMade { host } if host == "h1")),
            "{kinds:?}"
        );
        assert!(!out.text.contains("made-1"), "not exported: {}", out.text);
    }
}

#[test]
fn a_second_network_and_a_bound_port_are_notes_for_nomad() {
    let hosts = vec![host(
        "host: h2
provides:
  - network: one
    subnet6: fd00:2::/64
  - network: two
    subnet6: fd00:3::/64
  - ipv6: a
    address: fd00:2::5
    network: one
  - ipv6: b
    address: fd00:3::5
    network: two
  - port: web
    host_port: 8080
    bind: 127.0.0.1
",
    )];
    let specs = specs(
        "container: c\nimage: x/c:1\nneeds:\n  - ipv6: a\n  - ipv6: b\n  - port: web\n    container_port: 80\n",
    );
    let out = run(Engine::Nomad, &hosts, &specs);
    let notes: Vec<&ExportNoteKind> = out.notes.iter().map(|n| &n.kind).collect();
    assert!(notes
        .iter()
        .any(|k| matches!(k, ExportNoteKind::ExtraNetwork { network } if network == "two")));
    assert!(notes.iter().any(
        |k| matches!(k, ExportNoteKind::PortBindNotExpressible { bind } if bind == "127.0.0.1")
    ));
    assert!(out.text.contains("BERTH_NAME = \"a\""));
    // Kubernetes attaches both networks through Multus and binds the port.
    let out = run(Engine::Kubernetes, &hosts, &specs);
    assert!(out.notes.is_empty(), "{:?}", out.notes);
    let d = docs(&out.text);
    assert_eq!(of_kind(&d, "NetworkAttachmentDefinition").len(), 2);
    let pod = of_kind(&d, "Pod")[0];
    let nets: Value = serde_json::from_str(
        pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(nets[1]["cni-args"]["BERTH_NAME"], "b");
    assert_eq!(
        pod["spec"]["containers"][0]["ports"][0]["hostIP"],
        "127.0.0.1"
    );
}

#[test]
fn with_cdi_exactly_provided_devices_and_custom_kinds_become_cdi_names() {
    let hosts = [host(
        "host: h3
provides:
  - device: fuse
    path: /dev/fuse
  - example.com/thing: one
    env: {THING: one}
  - example.com/thing: \"pat-*\"
    env: {THING: pat}
",
    )];
    let specs = specs(
        "container: c\nimage: x/c:1\nneeds:\n  - device: fuse\n  - example.com/thing: one\n  \
         - example.com/thing: pat-1\n",
    );
    let h: Vec<&HostManifest> = hosts.iter().collect();
    let s: Vec<&NeedSpec> = specs.iter().collect();
    let opts = Options {
        cdi: true,
        ..Options::default()
    };
    let out = export(Engine::Kubernetes, &h, &s, &opts);
    assert!(out.notes.is_empty(), "{:?}", out.notes);
    let d = docs(&out.text);
    let pod = of_kind(&d, "Pod")[0];
    let ann = &pod["metadata"]["annotations"];
    assert_eq!(ann["cdi.k8s.io/berth-0"], "berth.local/device=fuse");
    assert_eq!(ann["cdi.k8s.io/berth-1"], "example.com/thing=one");
    // The pattern-served one has no CDI device: its edits are expanded.
    let env = &pod["spec"]["containers"][0]["env"];
    assert_eq!(env, &serde_json::json!([{"name": "THING", "value": "pat"}]));
    // Without --cdi the device path cannot be expressed: a note.
    let out = export(Engine::Kubernetes, &h, &s, &Options::default());
    assert!(out
        .notes
        .iter()
        .any(|n| matches!(&n.kind, ExportNoteKind::DeviceNotExpressible { device } if device == "/dev/fuse")));
}
