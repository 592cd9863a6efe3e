//! Emitters: the seed example in every format, the docker line's shell round
//! trip with hostile names, compose as real YAML, LXC's notes for what it
//! cannot express.

use berth_testkit::model as solver_support;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;

use berth_engine::edits::{self, Attachment, DeviceEdit, EditError, Edits, Mount, PortMap};
use berth_engine::emit::{compose, docker, lxc, Note, NoteKind};
use berth_engine::solve::solve;
use berth_engine::state::State;
use berth_specs::yaml::{parse_yaml, Base, Node};
use berth_specs::Protocol;
use solver_support::{host, seed, specs};

fn seed_edits() -> Edits {
    let (h, s) = seed();
    let plan = solve(&h, &State::new("web-01"), &[&s]);
    edits::resolve(&plan.containers[0], &s).unwrap()
}

/// Whether `argv` has `flag` immediately followed by `value`.
fn has_pair(argv: &[String], flag: &str, value: &str) -> bool {
    argv.windows(2).any(|w| w[0] == flag && w[1] == value)
}

#[test]
fn seed_docker_line_splits_to_the_expected_argv() {
    let line = docker::line(&seed_edits()).unwrap();
    let argv = shlex::split(&line).unwrap();
    assert_eq!(&argv[..2], ["docker", "run"]);
    assert!(has_pair(&argv, "--name", "webserver"), "{argv:?}");
    assert!(has_pair(&argv, "--network", "berth6"), "{argv:?}");
    assert!(
        has_pair(&argv, "--ip6", "1111:2222:3333:4444::8888:20"),
        "{argv:?}"
    );
    assert!(
        has_pair(&argv, "-v", "/srv/webpages:/var/www:ro"),
        "{argv:?}"
    );
    assert!(has_pair(&argv, "-p", "80:80"), "{argv:?}");
    assert_eq!(argv.last().unwrap(), "example/webserver:1.4");
    assert_eq!(argv, docker::argv(&seed_edits()).unwrap());
}

#[test]
fn seed_lxc_config_has_address_with_prefix_and_gateway() {
    let (text, notes) = lxc::emit(&seed_edits(), &|_| None);
    let lines: Vec<&str> = text.lines().collect();
    for want in [
        "lxc.net.0.type = veth",
        "lxc.net.0.link = docker0",
        "lxc.net.0.flags = up",
        "lxc.net.0.ipv6.address = 1111:2222:3333:4444::8888:20/112",
        "lxc.net.0.ipv6.gateway = 1111:2222:3333:4444::8888:1",
        "lxc.mount.entry = /srv/webpages var/www none bind,ro,create=dir 0 0",
    ] {
        assert!(lines.contains(&want), "missing `{want}` in:\n{text}");
    }
    // The port is not dropped silently.
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].need, "port http");
    assert!(matches!(
        notes[0].kind,
        NoteKind::PortNotApplicable {
            host_port: 80,
            container_port: 80,
            protocol: Protocol::Tcp
        }
    ));
}

fn hostile() -> Edits {
    let weird = [
        "/srv/my pages",
        "/srv/it's \"quoted\"",
        "/srv/$(rm -rf /)",
        "/srv/ünï côdé 🚢",
        "/srv/back\\slash;&|`x`",
    ];
    Edits {
        container: "web $(id) 'x'".into(),
        image: Some("registry.example/ïmage:1 $(whoami)".into()),
        mounts: weird
            .iter()
            .enumerate()
            .map(|(i, p)| Mount {
                source: p.to_string(),
                target: format!("/data/{i} {p}"),
                read_only: i % 2 == 0,
                file: false,
                from: format!("volume v{i}"),
            })
            .collect(),
        networks: vec![],
        ports: vec![],
        devices: vec![DeviceEdit {
            path: "/dev/fu se".into(),
            target: Some("/dev/$(x)".into()),
            from: "device fuse".into(),
        }],
        env: BTreeMap::from([(
            "GREETING".to_string(),
            "héllo \"world\" $HOME `x` \\n".to_string(),
        )]),
    }
}

#[test]
fn docker_line_round_trips_spaces_quotes_substitutions_and_unicode() {
    let e = hostile();
    let argv = docker::argv(&e).unwrap();
    let line = docker::line(&e).unwrap();
    assert_eq!(shlex::split(&line).unwrap(), argv);
    assert!(argv.contains(&"-v".to_string()));
    assert!(
        argv.contains(&"/srv/my pages:/data/0 /srv/my pages:ro".to_string()),
        "{argv:?}"
    );
    assert!(argv.contains(&"GREETING=héllo \"world\" $HOME `x` \\n".to_string()));
    assert_eq!(argv.last().unwrap(), "registry.example/ïmage:1 $(whoami)");
}

#[test]
fn docker_mount_form_for_paths_docker_cannot_split() {
    let mut e = hostile();
    e.mounts = vec![Mount {
        source: "/srv/a:b,c\"d".into(),
        target: "/x".into(),
        read_only: true,
        file: false,
        from: "volume v".into(),
    }];
    let argv = docker::argv(&e).unwrap();
    assert!(
        has_pair(
            &argv,
            "--mount",
            "type=bind,\"source=/srv/a:b,c\"\"d\",target=/x,readonly"
        ),
        "{argv:?}"
    );
    assert_eq!(shlex::split(&docker::line(&e).unwrap()).unwrap(), argv);
}

fn net(name: &str, v6: Option<&str>, v4: Option<&str>) -> Attachment {
    Attachment {
        network: name.into(),
        bridge: format!("br-{name}"),
        ipv6: v6.map(|a| a.parse().unwrap()),
        prefix6: 64,
        gateway6: None,
        ipv4: v4.map(|a| a.parse().unwrap()),
        prefix4: 24,
        gateway4: v4.map(|_| "10.0.0.1".parse().unwrap()),
    }
}

#[test]
fn docker_several_networks_use_the_name_form() {
    let mut e = hostile();
    e.networks = vec![
        net("front", Some("2001:db8::5"), None),
        net("back", Some("2001:db8:1::5"), Some("10.0.0.5")),
    ];
    let argv = docker::argv(&e).unwrap();
    assert!(
        has_pair(&argv, "--network", "name=front,ip6=2001:db8::5"),
        "{argv:?}"
    );
    assert!(
        has_pair(
            &argv,
            "--network",
            "name=back,ip6=2001:db8:1::5,ip=10.0.0.5"
        ),
        "{argv:?}"
    );
    assert!(!argv.contains(&"--ip6".to_string()));
}

#[test]
fn docker_ports_with_bind_and_udp() {
    let mut e = hostile();
    e.ports = vec![
        PortMap {
            name: "dns".into(),
            bind: Some("::1".parse().unwrap()),
            host_port: 53,
            container_port: 5353,
            protocol: Protocol::Udp,
        },
        PortMap {
            name: "web".into(),
            bind: Some("127.0.0.1".parse().unwrap()),
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
        },
    ];
    let argv = docker::argv(&e).unwrap();
    assert!(has_pair(&argv, "-p", "[::1]:53:5353/udp"), "{argv:?}");
    assert!(has_pair(&argv, "-p", "127.0.0.1:8080:80"), "{argv:?}");
}

fn get<'a>(n: &'a Node<'a>, path: &[&str]) -> &'a Node<'a> {
    path.iter()
        .fold(n, |n, k| n.get(k).unwrap_or_else(|| panic!("no `{k}`")))
}

#[test]
fn compose_override_is_yaml_with_external_networks() {
    let mut seed = seed_edits();
    let mut other = hostile();
    other.networks = vec![
        net("berth6", Some("1111:2222:3333:4444::8888:21"), None),
        net("back", None, Some("10.0.0.5")),
    ];
    seed.env
        .insert("K".into(), "v: with colon # and hash".into());
    let text = compose::emit(&[seed, other.clone()]);
    let budget = AtomicUsize::new(0);
    let parsed = parse_yaml(&text, Base::default(), &budget);
    assert!(parsed.error.is_none(), "{:?}\n{text}", parsed.error);
    let doc = &parsed.documents[0];
    let web = get(doc, &["services", "webserver"]);
    assert_eq!(get(web, &["image"]).text(), Some("example/webserver:1.4"));
    assert_eq!(
        get(web, &["networks", "berth6", "ipv6_address"]).text(),
        Some("1111:2222:3333:4444::8888:20")
    );
    let vol = &get(web, &["volumes"]).as_seq().unwrap()[0];
    assert_eq!(get(vol, &["type"]).text(), Some("bind"));
    assert_eq!(get(vol, &["source"]).text(), Some("/srv/webpages"));
    assert_eq!(get(vol, &["target"]).text(), Some("/var/www"));
    assert_eq!(get(vol, &["read_only"]).text(), Some("true"));
    let port = &get(web, &["ports"]).as_seq().unwrap()[0];
    assert_eq!(port.text(), Some("80:80"));
    assert_eq!(
        get(web, &["environment", "K"]).text(),
        Some("v: with colon # and hash")
    );
    // Hostile names survive as values, not structure.
    let svc = get(doc, &["services", "web $(id) 'x'"]);
    let srcs: Vec<&str> = get(svc, &["volumes"])
        .as_seq()
        .unwrap()
        .iter()
        .map(|v| get(v, &["source"]).text().unwrap())
        .collect();
    // Every `$` in a value is doubled: compose reads `$$` back as one `$`.
    let want: Vec<String> = other
        .mounts
        .iter()
        .map(|m| m.source.replace('$', "$$"))
        .collect();
    assert_eq!(srcs, want);
    assert_eq!(
        get(svc, &["networks", "back", "ipv4_address"]).text(),
        Some("10.0.0.5")
    );
    assert_eq!(
        get(svc, &["devices"]).as_seq().unwrap()[0].text(),
        Some("/dev/fu se:/dev/$$(x)")
    );
    // Networks declared once each, external.
    let nets = get(doc, &["networks"]).as_map().unwrap();
    let names: Vec<&str> = nets.iter().map(|(k, _)| k.text().unwrap()).collect();
    assert_eq!(names, ["berth6", "back"]);
    for (_, v) in nets {
        assert_eq!(get(v, &["external"]).text(), Some("true"));
    }
}

#[test]
fn lxc_escapes_mount_paths_and_allows_devices() {
    let mut e = hostile();
    e.devices.push(DeviceEdit {
        path: "nvidia.com/gpu=0".into(),
        target: None,
        from: "device gpu".into(),
    });
    e.env.clear();
    let (text, notes) = lxc::emit(&e, &|p| (p == "/dev/fu se").then_some(('c', 10, 229)));
    assert!(text.contains("lxc.mount.entry = /srv/my\\040pages data/0\\040/srv/my\\040pages none bind,ro,create=dir 0 0"), "{text}");
    assert!(
        text.contains("lxc.mount.entry = /srv/back\\134slash;&|`x` "),
        "{text}"
    );
    assert!(
        text.contains(
            "lxc.mount.entry = /dev/fu\\040se dev/$(x) none bind,optional,create=file 0 0"
        ),
        "{text}"
    );
    assert!(
        text.contains("lxc.cgroup2.devices.allow = c 10:229 rwm"),
        "{text}"
    );
    assert!(text.lines().all(|l| l.starts_with("lxc.")), "{text}");
    assert!(
        matches!(&notes[..], [n] if matches!(&n.kind, NoteKind::CdiNotApplicable { device } if device == "nvidia.com/gpu=0"))
    );
}

#[test]
fn a_cdi_device_path_is_noted_not_dropped_silently() {
    let h = host("host: h\nprovides:\n  - device: gpu\n    path: nvidia.com/gpu=0\n  - device: fuse\n    path: /dev/fuse\n");
    let s = specs("container: c\nimage: i\nneeds:\n  - device: gpu\n    path: /dev/nvidia0\n  - device: fuse\n    path: /dev/fuse2\n");
    let plan = solve(&h, &State::new("h"), &[&s[0]]);
    assert!(plan.satisfied, "{plan:#?}");
    let e = edits::resolve(&plan.containers[0], &s[0]).unwrap();
    // docker and compose pass the CDI name alone...
    let line = docker::line(&e).unwrap();
    assert!(line.contains("--device 'nvidia.com/gpu=0' "), "{line}");
    assert!(line.contains("--device /dev/fuse:/dev/fuse2 "), "{line}");
    let text = compose::emit(std::slice::from_ref(&e));
    assert!(text.contains("- \"nvidia.com/gpu=0\"\n"), "{text}");
    // ...so the ignored path comes back as a note; a node's path is emitted.
    assert_eq!(
        e.cdi_path_notes(),
        [Note {
            need: "device gpu".into(),
            kind: NoteKind::CdiPathIgnored {
                device: "nvidia.com/gpu=0".into(),
                path: "/dev/nvidia0".into(),
            },
        }]
    );
}

#[test]
fn pending_provider_values_are_not_emitted() {
    let h = host("host: h\nproviders:\n  - volume: \"nfs-*\"\n    run: [nfs]\n");
    let s = specs("container: c\nimage: i\nneeds:\n  - volume: nfs-a\n    mount: /a\n");
    let plan = solve(&h, &State::new("h"), &[&s[0]]);
    assert!(plan.satisfied);
    assert_eq!(
        edits::resolve(&plan.containers[0], &s[0]),
        Err(EditError::Pending {
            kind: berth_specs::Kind::Volume,
            name: "nfs-a".into()
        })
    );
}

#[test]
fn secrets_devices_and_custom_kinds_become_edits() {
    let h = host(
        "host: h
provides:
  - secret: db
    file: /etc/berth/secrets/db
  - device: fuse
    path: /dev/fuse
  - example.com/gpu: \"*\"
    devices: [/dev/dri/renderD128]
    env: { GPU_VENDOR: example }
",
    );
    let s = specs(
        "container: c\nimage: i\nneeds:\n  - secret: db\n    mount: /run/secrets/db\n  - device: fuse\n  - example.com/gpu: any\n",
    );
    let plan = solve(&h, &State::new("h"), &[&s[0]]);
    let e = edits::resolve(&plan.containers[0], &s[0]).unwrap();
    let argv = docker::argv(&e).unwrap();
    assert!(
        has_pair(&argv, "-v", "/etc/berth/secrets/db:/run/secrets/db:ro"),
        "{argv:?}"
    );
    assert!(has_pair(&argv, "--device", "/dev/fuse"), "{argv:?}");
    assert!(
        has_pair(&argv, "--device", "/dev/dri/renderD128"),
        "{argv:?}"
    );
    assert!(has_pair(&argv, "-e", "GPU_VENDOR=example"), "{argv:?}");
    let (text, _) = lxc::emit(&e, &|_| None);
    assert!(
        text.contains(
            "lxc.mount.entry = /etc/berth/secrets/db run/secrets/db none bind,ro,create=file 0 0"
        ),
        "{text}"
    );
    assert!(
        text.contains("lxc.environment = GPU_VENDOR=example"),
        "{text}"
    );
}

/// The fenced block after `<!-- test: NAME -->` in a doc.
fn doc_block(doc: &str, name: &str) -> String {
    let marker = format!("<!-- test: {name} -->");
    let at = doc.find(&marker).unwrap_or_else(|| panic!("no {marker}"));
    let rest = &doc[at + marker.len()..];
    let open = rest.find("```").unwrap();
    let body = &rest[open..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

#[test]
fn docs_examples_match_the_emitters() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/emit.md")).unwrap();
    let strip = |y: String| y.trim_start_matches("berth: 1\n").to_string();
    let h = host(&strip(doc_block(&doc, "host")));
    let s = specs(&strip(doc_block(&doc, "spec")));
    let plan = solve(&h, &State::new("doc-01"), &[&s[0]]);
    assert!(plan.satisfied, "{plan:#?}");
    let e = edits::resolve(&plan.containers[0], &s[0]).unwrap();
    assert_eq!(docker::line(&e).unwrap() + "\n", doc_block(&doc, "docker"));
    assert_eq!(
        compose::emit(std::slice::from_ref(&e)),
        doc_block(&doc, "compose")
    );
    let (text, notes) = lxc::emit(&e, &|p| (p == "/dev/fuse").then_some(('c', 10, 229)));
    assert_eq!(text, doc_block(&doc, "lxc"));
    assert_eq!(notes.len(), 3);
}

#[test]
fn json_is_the_plan_with_edits_per_container() {
    let (h, s) = seed();
    let plan = solve(&h, &State::new("web-01"), &[&s]);
    let e = edits::resolve(&plan.containers[0], &s).unwrap();
    let v = berth_engine::emit::json::emit(&plan, std::slice::from_ref(&e));
    assert_eq!(v["satisfied"], true);
    assert_eq!(v["host"], "web-01");
    let c = &v["containers"][0];
    assert_eq!(
        c["bindings"][1]["value"]["address"],
        "1111:2222:3333:4444::8888:20"
    );
    let net = &c["edits"]["networks"][0];
    assert_eq!(net["network"], "berth6");
    assert_eq!(net["bridge"], "docker0");
    assert_eq!(net["prefix6"], 112);
    assert_eq!(net["gateway6"], "1111:2222:3333:4444::8888:1");
    assert_eq!(c["edits"]["mounts"][0]["read_only"], true);
    assert_eq!(c["edits"]["ports"][0]["host_port"], 80);
}

/// The registry: four emitters, names and extensions unique, found by name,
/// and only docker needs an image.
#[test]
fn every_emitter_is_registered_once() {
    use berth_engine::emit::registry::{by_name, EMITTERS};
    let names: Vec<&str> = EMITTERS.iter().map(|e| e.name()).collect();
    assert_eq!(names, ["docker", "compose", "lxc", "json"]);
    let mut exts: Vec<&str> = EMITTERS.iter().map(|e| e.extension()).collect();
    exts.sort();
    exts.dedup();
    assert_eq!(exts.len(), EMITTERS.len(), "{exts:?}");
    for e in EMITTERS {
        assert_eq!(by_name(e.name()).unwrap().name(), e.name());
        assert!(!e.about().is_empty());
        assert_eq!(e.needs_image(), e.name() == "docker", "{}", e.name());
    }
    assert!(by_name("kubernetes").is_none());
}

/// Through the one interface, each emitter writes the same bytes as its own
/// function, and its notes are the ones that function gives, per container.
#[test]
fn the_interface_renders_what_each_emitter_writes() {
    use berth_engine::emit::emitter::{render, RenderError};
    use berth_engine::emit::registry::by_name;
    let (h, s) = seed();
    let plan = solve(&h, &State::new("web-01"), &[&s]);
    let e = seed_edits();
    let out = |name: &str| render(by_name(name).unwrap(), &plan, &[&s]).unwrap();

    let docker_out = out("docker");
    assert_eq!(docker_out.text, docker::line(&e).unwrap() + "\n");
    assert!(docker_out.notes.is_empty());
    assert_eq!(out("compose").text, compose::emit(std::slice::from_ref(&e)));
    let json = berth_engine::emit::json::emit(&plan, std::slice::from_ref(&e));
    assert_eq!(
        out("json").text,
        serde_json::to_string_pretty(&json).unwrap() + "\n"
    );
    let lxc_out = render(
        &lxc::Lxc {
            devices: |_| None,
            net_index: 0,
            cdi: |_| None,
        },
        &plan,
        &[&s],
    )
    .unwrap();
    let (text, notes) = lxc::emit(&e, &|_| None);
    assert_eq!(lxc_out.text, text);
    assert_eq!(lxc_out.notes.len(), notes.len());
    assert_eq!(lxc_out.notes[0].container, "webserver");
    assert_eq!(lxc_out.notes[0].note, notes[0]);

    // Two containers: LXC heads each block with its name.
    let mut s2 = s.clone();
    s2.container = "webserver2".into();
    s2.needs.retain(|n| n.kind == berth_specs::Kind::Volume);
    let two = solve(&h, &State::new("web-01"), &[&s, &s2]);
    assert!(two.satisfied, "{two:#?}");
    let text = render(
        &lxc::Lxc {
            devices: |_| None,
            net_index: 0,
            cdi: |_| None,
        },
        &two,
        &[&s, &s2],
    )
    .unwrap()
    .text;
    assert!(text.starts_with("# container webserver\n"), "{text}");
    assert!(text.contains("\n# container webserver2\n"), "{text}");

    // A container without a spec, and a docker line without an image.
    let err = render(by_name("json").unwrap(), &plan, &[]).unwrap_err();
    assert!(matches!(err, RenderError::NoSpec { .. }), "{err}");
    let mut imageless = s.clone();
    imageless.image = None;
    let err = render(by_name("docker").unwrap(), &plan, &[&imageless]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "container `webserver` has no `image:` to run"
    );
}

fn load_docs(text: &str) -> Vec<berth_specs::Document> {
    use berth_specs::load::{load_str, LoadOptions};
    let l = load_str(
        std::path::Path::new("f.yaml"),
        text,
        &LoadOptions::default(),
    );
    assert!(!l.has_errors(), "{:?}", l.diagnostics);
    l.documents
}

fn cdi_host_and_spec() -> (berth_specs::HostManifest, berth_specs::NeedSpec) {
    let mut docs = load_docs(
        "berth: 1\nhost: h\nprovides:\n  - example.com/thing: one\n    env: {THING: one}\n    \
         devices: [/dev/null]\n    mounts:\n      - path: /srv/thing\n        mount: /thing\n        \
         read_only: true\n  - example.com/thing: \"many-*\"\n    env: {MANY: yes-many}\n  - device: fuse\n    \
         path: /dev/fuse\n---\nberth: 1\ncontainer: c\nimage: img\nneeds:\n  - example.com/thing: one\n  \
         - example.com/thing: many-a\n  - device: fuse\n",
    )
    .into_iter();
    match (docs.next(), docs.next()) {
        (Some(berth_specs::Document::Host(h)), Some(berth_specs::Document::Need(s))) => (h, s),
        other => panic!("{other:?}"),
    }
}

/// Issue 13: `--emit docker --cdi` names the CDI device of what the host
/// provides by exact name instead of expanding its edits; a pattern provide
/// (no CDI device) is still expanded. Without the option nothing changes.
#[test]
fn docker_could_not_name_the_cdi_device_instead_of_expanding_its_edits() {
    use berth_engine::emit::emitter::render;
    let (h, s) = cdi_host_and_spec();
    let plan = solve(&h, &State::new("h"), &[&s]);
    assert!(plan.satisfied, "{plan:#?}");
    let argv = |d: &docker::Docker| {
        let out = render(d, &plan, &[&s]).unwrap();
        shlex::split(out.text.trim_end()).unwrap()
    };
    let cdi = argv(&docker::DOCKER_CDI);
    assert!(
        has_pair(&cdi, "--device", "example.com/thing=one"),
        "{cdi:?}"
    );
    assert!(
        has_pair(&cdi, "--device", "berth.local/device=fuse"),
        "{cdi:?}"
    );
    assert!(has_pair(&cdi, "-e", "MANY=yes-many"), "{cdi:?}");
    for gone in [
        "THING=one",
        "/dev/null",
        "/dev/fuse",
        "/srv/thing:/thing:ro",
    ] {
        assert!(!cdi.iter().any(|a| a == gone), "{gone} in {cdi:?}");
    }
    let expanded = argv(&docker::DOCKER);
    assert!(has_pair(&expanded, "-e", "THING=one"), "{expanded:?}");
    assert!(has_pair(&expanded, "--device", "/dev/null"), "{expanded:?}");
    assert!(has_pair(&expanded, "--device", "/dev/fuse"), "{expanded:?}");
    assert!(
        has_pair(&expanded, "-v", "/srv/thing:/thing:ro"),
        "{expanded:?}"
    );
    assert!(!expanded
        .iter()
        .any(|a| a.contains('=') && a.starts_with("example.com/")));
}

/// Issue 13: the LXC emitter applied no CDI spec: a CDI device was only a
/// note. Now its spec's env, device nodes and mounts become LXC keys; a name
/// no spec has stays a note.
#[test]
fn lxc_warned_about_a_cdi_device_instead_of_applying_its_spec() {
    use berth_engine::cdi;
    let dir = tempfile::tempdir().unwrap();
    let thing = dir.path().join("thing");
    std::fs::create_dir(&thing).unwrap();
    let spec = serde_json::json!({
        "cdiVersion": "0.6.0",
        "kind": "example.com/gpu",
        "containerEdits": {"env": ["GPU_ALL=1"]},
        "devices": [{
            "name": "0",
            "containerEdits": {
                "env": ["GPU=0"],
                "deviceNodes": [{"path": "/dev/gpu0", "hostPath": "/dev/null", "type": "c"}],
                "mounts": [{"hostPath": thing.to_str().unwrap(), "containerPath": "/opt/gpu",
                            "options": ["ro", "nosuid", "bind"]}]
            }
        }]
    });
    std::fs::write(dir.path().join("vendor.json"), spec.to_string()).unwrap();
    // Not JSON: skipped, not an error.
    std::fs::write(dir.path().join("broken.json"), "{").unwrap();
    let e = Edits {
        container: "c".into(),
        devices: vec![
            DeviceEdit {
                path: "example.com/gpu=0".into(),
                target: None,
                from: "example.com/gpu any".into(),
            },
            DeviceEdit {
                path: "example.com/gpu=9".into(),
                target: None,
                from: "example.com/gpu nine".into(),
            },
        ],
        ..Edits::default()
    };
    let applied = lxc::apply_cdi(&e, &|n| cdi::lookup(&[dir.path()], n));
    let (text, notes) = lxc::emit(&applied, &lxc::stat_device);
    assert!(text.contains("lxc.environment = GPU=0\n"), "{text}");
    assert!(text.contains("lxc.environment = GPU_ALL=1\n"), "{text}");
    assert!(
        text.contains("lxc.mount.entry = /dev/null dev/gpu0 none bind,optional,create=file 0 0\n"),
        "{text}"
    );
    assert!(
        text.contains("lxc.cgroup2.devices.allow = c 1:3 rwm\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "lxc.mount.entry = {} opt/gpu none bind,ro,create=dir 0 0\n",
            thing.display()
        )),
        "{text}"
    );
    assert_eq!(
        notes,
        vec![Note {
            need: "device example.com/gpu=9".into(),
            kind: NoteKind::CdiNotApplicable {
                device: "example.com/gpu=9".into()
            }
        }]
    );
    // berth's own specs read back the same way.
    let (h, _) = cdi_host_and_spec();
    let (specs, _) = cdi::specs(&h);
    let own = dir.path().join("own");
    cdi::write(&own, &specs).unwrap();
    let got = cdi::lookup(&[own.as_path()], "example.com/thing=one").unwrap();
    assert_eq!(got.env, ["THING=one"]);
    assert_eq!(got.device_nodes[0].host(), "/dev/null");
    assert_eq!(got.mounts[0].container_path, "/thing");
}

/// `--compose-file`: each service's networks in the list and the map form,
/// none for a service without `networks:` (or with `networks:` empty), and
/// errors for a file compose would not take either.
#[test]
fn base_compose_networks_in_list_and_map_form() {
    let base = compose::base_networks(
        "services:\n  a:\n    networks: [front, back]\n  b:\n    networks:\n      back:\n        ipv4_address: 10.0.0.9\n  c:\n    image: x\n  d:\n    networks:\n",
    )
    .unwrap();
    assert_eq!(base["a"], ["front", "back"]);
    assert_eq!(base["b"], ["back"]);
    assert!(base["c"].is_empty() && base["d"].is_empty());
    assert!(compose::base_networks("version: '3'\n").is_err());
    assert!(compose::base_networks("services:\n  a:\n    networks: 7\n").is_err());
    assert!(compose::base_networks("services: [\n").is_err());
    // The override repeats a's networks and puts c on `default`.
    let edits = |name: &str| Edits {
        container: name.into(),
        networks: vec![net("berth6", Some("2001:db8::5"), None)],
        ..Edits::default()
    };
    let text = compose::emit_onto(&[edits("a"), edits("c")], Some(&base));
    let a = &text[text.find("\"a\":").unwrap()..text.find("\"c\":").unwrap()];
    assert!(
        a.contains("\"front\": {}") && a.contains("\"back\": {}"),
        "{text}"
    );
    assert!(!a.contains("default"), "{text}");
    let c = &text[text.find("\"c\":").unwrap()..];
    assert!(c.contains("\"default\": {}"), "{text}");
    assert!(!text.contains('#'), "{text}");
}
