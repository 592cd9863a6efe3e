//! `berth plan` end to end: the seed example, exit codes, the JSON keys of the
//! design, no side effects, and snapshots of the human explanation of each kind
//! of unmet need (each fixture says what it shows).

use berth_engine::state::{BindingSource, ContainerHolding, HeldBinding, State};
use serde_json::Value;

use crate::util::{code, repo_root, run, stderr, stdout, Dir};

const NET: &str = "  - network: n
    subnet6: 2001:db8::/64
    gateway6: 2001:db8::1
";

/// Writes `host.yaml` (host `h`) and `c/berth.yaml`, runs `berth plan` on them
/// with relative paths (so output is the same in every temp dir).
fn plan(dir: &Dir, host: &str, spec: &str, extra: &[&str]) -> std::process::Output {
    dir.write("host.yaml", &format!("berth: 1\nhost: h\n{host}"));
    dir.write("c/berth.yaml", &format!("berth: 1\n{spec}"));
    run(dir
        .berth()
        .args(["plan", "-H", "host.yaml", "c/berth.yaml"])
        .args(extra))
}

/// The explanation, with the trailing whitespace miette leaves trimmed.
fn explanation(o: &std::process::Output) -> String {
    assert_eq!(code(o), 1, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    crate::apply::snap(o)
}

#[test]
fn seed_example_is_satisfiable_and_lists_its_bindings() {
    let root = repo_root();
    let dir = Dir::new();
    let o = run(dir.berth().args([
        "plan",
        "-H",
        root.join("specs/examples/seed/host.yaml").to_str().unwrap(),
        root.join("specs/examples/seed/webserver/berth.yaml")
            .to_str()
            .unwrap(),
    ]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("1 of 1 container(s) can run"), "{out}");
    assert!(
        out.contains("ipv6 webserver   <- 1111:2222:3333:4444::8888:20 on berth6"),
        "{out}"
    );
    assert!(out.contains("network berth6   <- bridge docker0"), "{out}");
    assert!(
        !dir.path().join("state").exists(),
        "plan must not create the state dir"
    );
}

#[test]
fn json_has_the_design_keys() {
    let dir = Dir::new();
    let o = plan(
        &dir,
        // The gateway is the pool's first address: the plan gives ::101.
        &format!(
            "provides:\n{}  - ipv6: \"*\"\n    pool: 2001:db8::100/120\n    network: n\nproviders:\n  - volume: \"nfs-*\"\n    run: [./nfs]\n",
            NET.replace("db8::1\n", "db8::100\n")
        ),
        "container: c\nneeds:\n  - ipv6: c\n  - volume: nfs-a\n    mount: /a\n  - device: fuse\n",
        &["--format", "json"],
    );
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["satisfied"], false);
    assert_eq!(v["host"], "h");
    let c = &v["containers"][0];
    assert_eq!(c["container"], "c");
    assert_eq!(c["satisfied"], false);
    assert_eq!(c["unmet"][0]["kind"], "device");
    assert_eq!(c["unmet"][0]["name"], "fuse");
    assert_eq!(c["unmet"][0]["reasons"][0]["reason"], "not-provided");
    assert_eq!(c["unmet"][0]["reasons"][1]["reason"], "no-provider");

    // Without the device: satisfiable with a provider step (exit 0).
    let o = plan(
        &dir,
        &format!(
            "provides:\n{}  - ipv6: \"*\"\n    pool: 2001:db8::100/120\n    network: n\nproviders:\n  - volume: \"nfs-*\"\n    run: [./nfs]\n",
            NET.replace("db8::1\n", "db8::100\n")
        ),
        "container: c\nneeds:\n  - ipv6: c\n  - volume: nfs-a\n    mount: /a\n",
        &["--format", "json"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["satisfied"], true);
    let b = &v["containers"][0]["bindings"];
    assert_eq!(b[0]["kind"], "ipv6");
    assert_eq!(b[0]["name"], "c");
    assert_eq!(b[0]["source"], "pool");
    assert_eq!(b[0]["value"]["address"], "2001:db8::101");
    assert_eq!(b[1]["source"], "provider");
    assert_eq!(b[1]["value"], Value::Null);
    assert_eq!(b[2]["kind"], "network");
    assert_eq!(b[2]["source"], "provides");
    let s = &v["steps"][0];
    assert_eq!(s["provider"], serde_json::json!(["./nfs"]));
    assert_eq!(
        (
            s["kind"].as_str(),
            s["name"].as_str(),
            s["container"].as_str()
        ),
        (Some("volume"), Some("nfs-a"), Some("c"))
    );
}

#[test]
fn explain_missing_resource() {
    // The host has no secret at all and no provider for one.
    let dir = Dir::new();
    let o = plan(
        &dir,
        "provides: []\n",
        "container: c\nneeds:\n  - secret: api-token\n    mount: /run/secrets/token\n",
        &[],
    );
    insta::assert_snapshot!(explanation(&o));
}

#[test]
fn explain_read_only_conflict() {
    // The host lends `media` read-only; the need wants to write.
    let dir = Dir::new();
    let o = plan(
        &dir,
        "provides:\n  - volume: media\n    path: /srv/media\n    read_only: true\n",
        "container: c\nneeds:\n  - volume: media\n    mount: /media\n",
        &[],
    );
    insta::assert_snapshot!(explanation(&o));
}

#[test]
fn explain_held_by_another_container() {
    // The state says container `api` holds the static address `web`.
    let dir = Dir::new();
    let mut st = State::new("h");
    st.holdings.insert(
        "api".into(),
        ContainerHolding {
            spec_digest: String::new(),
            bindings: vec![HeldBinding {
                kind: berth_specs::Kind::Ipv6,
                name: "web".into(),
                source: BindingSource::Provides,
                provide: "web".into(),
                exclusive: true,
                value: serde_json::json!({"address": "2001:db8::5", "network": "n"}).into(),
            }],
        },
    );
    dir.write("state/h.json", &serde_json::to_string_pretty(&st).unwrap());
    let o = plan(
        &dir,
        &format!("provides:\n{NET}  - ipv6: web\n    address: 2001:db8::5\n    network: n\n"),
        "container: c\nneeds:\n  - ipv6: web\n",
        &[],
    );
    insta::assert_snapshot!(explanation(&o));
}

#[test]
fn explain_denied_by_allow() {
    // `cache` may only be held by `web-*` containers or `example/*` images.
    let dir = Dir::new();
    let o = plan(
        &dir,
        "provides:\n  - volume: cache\n    path: /srv/cache\n    allow: [\"web-*\", \"image:example/*\"]\n",
        "container: batch\nimage: other/batch:1\nneeds:\n  - volume: cache\n    mount: /cache\n",
        &[],
    );
    insta::assert_snapshot!(explanation(&o));
}

#[test]
fn explain_pool_exhausted() {
    // A pool of one usable address (the other is the gateway) and two
    // containers in one plan.
    let dir = Dir::new();
    let net = NET.replace("db8::1\n", "db8::11\n");
    let o = plan(
        &dir,
        &format!("provides:\n{net}  - ipv6: \"*\"\n    pool: 2001:db8::10/127\n    network: n\n"),
        "container: a\nneeds:\n  - ipv6: a\n---\nberth: 1\ncontainer: b\nneeds:\n  - ipv6: b\n",
        &[],
    );
    insta::assert_snapshot!(explanation(&o));
}

#[test]
fn explain_no_provider() {
    // A provider exists, but for `nfs-*` volumes only; nothing provides `media`.
    let dir = Dir::new();
    let o = plan(
        &dir,
        "provides: []\nproviders:\n  - volume: \"nfs-*\"\n    run: [./nfs]\n",
        "container: c\nneeds:\n  - volume: media\n    mount: /media\n",
        &[],
    );
    insta::assert_snapshot!(explanation(&o));
}

#[test]
fn no_provider_explanation_reads_like_missing_resource() {
    // The no-provider reason used to say only "no provider handles", as if the
    // host had none: it names each provider of the kind that was compared
    // and did not cover the name, as data and in the text.
    let dir = Dir::new();
    let host = "provides: []\nproviders:\n  - volume: \"nfs-*\"\n    run: [./nfs]\n  - device: \"*\"\n    run: [./dev]\n  - volume: \"smb-*\"\n    run: [./smb]\n";
    let spec = "container: c\nneeds:\n  - volume: media\n    mount: /media\n";
    let o = plan(&dir, host, spec, &["--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let reasons = &v["containers"][0]["unmet"][0]["reasons"];
    let no_provider = reasons
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reason"] == "no-provider")
        .expect("a no-provider reason");
    let considered: Vec<(&str, u64)> = no_provider["considered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["provide"].as_str().unwrap(),
                c["span"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(considered, [("nfs-*", 5), ("smb-*", 9)]);
    let o = plan(&dir, host, spec, &[]);
    let text = explanation(&o).replace("\n        ", " ");
    for want in [
        "provider for volume `nfs-*` (host.yaml:5) does not cover `media`",
        "provider for volume `smb-*` (host.yaml:9) does not cover `media`",
    ] {
        assert!(text.contains(want), "{text}");
    }
    assert!(!text.contains("device"), "{text}");
    // A host without providers of the kind: the short sentence.
    let o = plan(&dir, "provides: []\n", spec, &[]);
    assert!(explanation(&o).contains("- no provider handles volume `media`\n"));
}

#[test]
fn explain_network_of_an_address_not_allowed() {
    // The pool's network may only be used by `other`; the address is unmet with
    // the network's own reasons.
    let dir = Dir::new();
    let o = plan(
        &dir,
        "provides:\n  - network: n\n    allow: [other]\n  - ipv6: \"*\"\n    pool: 2001:db8::100/120\n    network: n\n",
        "container: c\nneeds:\n  - ipv6: c\n",
        &[],
    );
    insta::assert_snapshot!(explanation(&o));
}

#[test]
fn load_errors_exit_1_without_solving() {
    let dir = Dir::new();
    let o = plan(
        &dir,
        "provides: []\n",
        "container: c\nneeds:\n  - volum: x\n",
        &[],
    );
    assert_eq!(code(&o), 1);
    assert!(!stderr(&o).contains("berth::need::unmet"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
}

#[test]
fn plan_json_prints_nothing_for_invalid_input() {
    // `berth plan --format json | jq` must get a document even when the input
    // does not load: the verdict and the diagnostics as data, nothing solved.
    let dir = Dir::new();
    let o = plan(
        &dir,
        "provides: []\n",
        "container: c\nneeds:\n  - volum: x\n",
        &["--format", "json"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["satisfied"], false);
    let diags = v["diagnostics"].as_array().unwrap();
    assert!(!diags.is_empty());
    assert_eq!(diags[0]["severity"], "error");
    assert_eq!(diags[0]["file"], "c/berth.yaml");
    assert_eq!(diags[0]["line"], 4);
    assert!(diags[0]["code"].as_str().unwrap().starts_with("berth::"));
    // A host manifest given as a spec: the CLI's own code, same keys.
    let o = run(dir
        .berth()
        .args(["plan", "--format", "json", "-H", "host.yaml", "host.yaml"]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["satisfied"], false);
    assert_eq!(v["diagnostics"][0]["code"], "berth::cli::bad-input");
    assert_eq!(v["diagnostics"][0]["file"], "host.yaml");
    assert!(v["diagnostics"][0]["line"].is_null());
}

#[test]
fn control_characters_reach_the_terminal_raw() {
    // A file named `evil<ESC>[31mRED<LF>line.yaml`: its name used to be printed
    // as is in diagnostic headers and plan output, colouring the terminal and
    // forging a line. People see escapes; JSON keeps the raw name.
    let dir = Dir::new();
    let evil = "evil\x1b[31mRED\nline.yaml";
    let shown = "evil\\x1b[31mRED\\nline.yaml";
    dir.write(evil, "berth: 1\ncontainer: c\nneeds:\n  - volum: x\n");
    dir.write(
        "host.yaml",
        "berth: 1\nhost: h\nprovides:\n  - volume: x\n    path: /srv/x\n",
    );
    dir.write(
        "c/berth.yaml",
        "berth: 1\ncontainer: c\nneeds:\n  - volume: x\n    mount: /x\n",
    );
    let o = run(dir.berth().args(["plan", "-H", "host.yaml", evil]));
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        !err.contains('\x1b') && !err.contains("RED\nline"),
        "{err:?}"
    );
    assert!(err.contains(shown), "{err}");
    let o = run(dir
        .berth()
        .args(["plan", "--format", "json", "-H", "host.yaml", evil]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["diagnostics"][0]["file"], evil);
    // The host manifest's own name, in plan's human output and in an
    // explanation's `file:line`.
    let host = "h\x1b]0;title\x07.yaml";
    std::fs::copy(dir.path().join("host.yaml"), dir.path().join(host)).unwrap();
    let o = run(dir.berth().args(["plan", "-H", host, "c/berth.yaml"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    assert!(out.contains("h\\x1b]0;title\\x07.yaml:4"), "{out}");
    // A raw escape inside the file: the snippet shows it escaped, and the
    // label still underlines the value it is in.
    dir.write(
        "raw/berth.yaml",
        "berth: 1\ncontainer: raw\nneeds:\n  - volume: a\x1b[31mb\u{9b}\n    mount: /x\n",
    );
    let o = run(dir
        .berth()
        .args(["plan", "-H", "host.yaml", "raw/berth.yaml"]));
    assert_eq!(code(&o), 1);
    let err = crate::apply::snap(&o);
    assert!(!err.contains('\x1b') && !err.contains('\u{9b}'), "{err:?}");
    insta::assert_snapshot!("control_character_in_a_snippet", err);
    // A state folder with control characters, in status's human output.
    let o = run(dir
        .berth()
        .env("BERTH_STATE_DIR", dir.path().join("st\x1b[2Jate"))
        .args(["status", "-H", host]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stdout(&o).contains('\x1b'), "{:?}", stdout(&o));
    assert!(stdout(&o).contains("st\\x1b[2Jate"), "{}", stdout(&o));
}

fn seed_apply(dir: &Dir, emit: &str) -> std::process::Output {
    let root = repo_root();
    run(dir.berth().args([
        "apply",
        "-H",
        root.join("specs/examples/seed/host.yaml").to_str().unwrap(),
        root.join("specs/examples/seed/webserver/berth.yaml")
            .to_str()
            .unwrap(),
        "--emit",
        emit,
    ]))
}

#[test]
fn seed_apply_emits_the_docker_line_and_the_lxc_config() {
    let dir = Dir::new();
    let o = seed_apply(&dir, "docker");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let argv = shlex::split(out.trim_end()).expect("one shell line");
    let pair = |f: &str, v: &str| argv.windows(2).any(|w| w[0] == f && w[1] == v);
    assert!(pair("--network", "berth6"), "{argv:?}");
    assert!(pair("--ip6", "1111:2222:3333:4444::8888:20"), "{argv:?}");
    assert!(pair("-v", "/srv/webpages:/var/www:ro"), "{argv:?}");
    assert!(pair("-p", "80:80"), "{argv:?}");
    assert_eq!(
        argv.last().map(String::as_str),
        Some("example/webserver:1.4")
    );

    // Applying again is idempotent: same address, same line.
    let again = seed_apply(&dir, "docker");
    assert_eq!(stdout(&again), out);

    let o = seed_apply(&dir, "lxc");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    assert!(
        lines.contains(&"lxc.net.0.ipv6.address = 1111:2222:3333:4444::8888:20/112".to_string())
    );
    assert!(lines.contains(&"lxc.net.0.ipv6.gateway = 1111:2222:3333:4444::8888:1".to_string()));
    // The port is reported on stderr, not dropped.
    assert!(
        stderr(&o).contains("port http (80:80/tcp) of `webserver` is not applicable to LXC"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn compose_override_passes_docker_compose_config() {
    if !crate::util::require_tools(
        "compose_override_passes_docker_compose_config",
        &["docker-compose"],
    ) {
        return;
    }
    let dir = Dir::new();
    let o = seed_apply(&dir, "compose");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let file = dir.write("override.yaml", &stdout(&o));
    let checked = run(std::process::Command::new("docker-compose")
        .args(["-f", file.to_str().unwrap(), "config"])
        .current_dir(dir.path()));
    assert!(
        checked.status.success(),
        "docker-compose config failed:\n{}\n{}",
        stdout(&checked),
        stderr(&checked)
    );
    let out = stdout(&checked);
    assert!(
        out.contains("ipv6_address: 1111:2222:3333:4444::8888:20"),
        "{out}"
    );
    assert!(out.contains("external: true"), "{out}");
}

#[test]
fn docs_solver_example_matches() {
    let root = repo_root();
    let doc = std::fs::read_to_string(root.join("docs/solver.md")).unwrap();
    let marker = "<!-- test: plan-rich -->\n```\n";
    let at = doc.find(marker).unwrap() + marker.len();
    let want = &doc[at..at + doc[at..].find("```").unwrap()];
    // The rich host names `state_dir: /var/lib/berth`; a copy points it at a
    // fresh folder (same line count, so the same line numbers) so that no state
    // on this machine changes the output.
    let dir = Dir::new();
    let host = std::fs::read_to_string(root.join("specs/examples/rich/host.yaml")).unwrap();
    assert!(host.contains("state_dir: /var/lib/berth\n"));
    let state = format!("state_dir: {}\n", dir.path().join("state").display());
    dir.write(
        "specs/examples/rich/host.yaml",
        &host.replace("state_dir: /var/lib/berth\n", &state),
    );
    let spec = std::fs::read_to_string(root.join("specs/examples/rich/app/berth.yaml")).unwrap();
    dir.write("specs/examples/rich/app/berth.yaml", &spec);
    let o = run(dir.berth().args([
        "plan",
        "-H",
        "specs/examples/rich/host.yaml",
        "specs/examples/rich/app/berth.yaml",
    ]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), want);
}

const COMPOSE_HOST: &str = "berth: 1
host: c-01
provides:
  - network: front
    subnet6: 2001:db8:1::/64
  - network: back
    subnet4: 10.20.0.0/24
  - ipv6: shop
    address: 2001:db8:1::20
    network: front
  - ipv4: \"*\"
    pool: 10.20.0.16/28
    network: back
  - volume: uploads
    path: /srv/shop/uploads
  - port: metrics
    host_port: 9100
    bind: 127.0.0.1
  - port: https
    host_port: 8443
    bind: 2001:db8::5
  - port: dns
    host_port: 5353
    protocol: udp
  - device: fuse
    path: /dev/fuse
  - example.com/gpu: \"*\"
    devices: [/dev/dri/renderD128]
    env: { GPU_VENDOR: example }
";

const COMPOSE_SPEC: &str = "berth: 1
container: shop
image: example/shop:3
needs:
  - ipv6: shop
  - ipv4: shop-db
  - volume: uploads
    mount: /var/lib/shop/uploads
  - port: metrics
    container_port: 9100
  - port: https
    container_port: 443
  - port: dns
    container_port: 53/udp
  - device: fuse
  - example.com/gpu: any
";

/// `berth apply --emit EMIT` for a host manifest and a spec given as text.
fn apply_emit(dir: &Dir, host: &str, spec: &str, emit: &str) -> std::process::Output {
    let h = dir.write("host.yaml", host);
    let s = dir.write("spec.yaml", spec);
    run(dir.berth().args([
        "apply",
        "-H",
        h.to_str().unwrap(),
        s.to_str().unwrap(),
        "--emit",
        emit,
    ]))
}

/// `berth apply --emit compose` for `host` and `spec`, then `docker-compose
/// config` on a base file plus that override: the merged config it prints.
fn compose_config(dir: &Dir, host: &str, spec: &str) -> String {
    let o = apply_emit(dir, host, spec, "compose");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let over = dir.write("override.yaml", &stdout(&o));
    let base = dir.write("base.yaml", "services: {shop: {image: example/shop:3}}\n");
    let checked = run(std::process::Command::new("docker-compose")
        .args([
            "-f",
            base.to_str().unwrap(),
            "-f",
            over.to_str().unwrap(),
            "config",
        ])
        .current_dir(dir.path()));
    assert!(
        checked.status.success(),
        "docker-compose config failed:\n{}\n{}\noverride:\n{}",
        stdout(&checked),
        stderr(&checked),
        stdout(&o)
    );
    stdout(&checked)
}

#[test]
fn compose_override_with_bind_addresses_passes_docker_compose_config() {
    if !crate::util::require_tools(
        "compose_override_with_bind_addresses_passes_docker_compose_config",
        &["docker-compose"],
    ) {
        return;
    }
    let dir = Dir::new();
    let out = compose_config(&dir, COMPOSE_HOST, COMPOSE_SPEC);
    for want in [
        // docker-compose prints bound ports in the short form, the IPv6
        // address without brackets.
        "- 127.0.0.1:9100:9100/tcp",
        "- 2001:db8::5:8443:443/tcp",
        "protocol: udp",
        "target: 53",
        "published: 5353",
        "ipv6_address: 2001:db8:1::20",
        // The pool lies inside subnet 10.20.0.0/24: its first address is an
        // ordinary address (issue 12 point 6).
        "ipv4_address: 10.20.0.16",
        "/dev/fuse",
        "/dev/dri/renderD128",
        "GPU_VENDOR: example",
        "source: /srv/shop/uploads",
    ] {
        assert!(out.contains(want), "no `{want}` in:\n{out}");
    }
}

#[test]
fn compose_override_keeps_dollar_signs_literal_under_docker_compose() {
    if !crate::util::require_tools(
        "compose_override_keeps_dollar_signs_literal_under_docker_compose",
        &["docker-compose"],
    ) {
        return;
    }
    let dir = Dir::new();
    let host = COMPOSE_HOST
        .replace("path: /srv/shop/uploads", "path: /srv/$HOME/x")
        .replace(
            "env: { GPU_VENDOR: example }",
            "env: { GPU_VENDOR: example, B: \"$(id)\", P: \"$HOME\", Q: \"${USER:-x}\" }",
        );
    let out = compose_config(&dir, &host, COMPOSE_SPEC);
    // `config` writes each literal `$` back as `$$`; a substituted value would
    // show the variable's value (or nothing) instead, and `$(id)` unescaped
    // makes docker-compose fail with "Invalid interpolation format".
    for want in [
        "source: /srv/$$HOME/x",
        "B: $$(id)",
        "P: $$HOME",
        "Q: $${USER:-x}",
    ] {
        assert!(out.contains(want), "no `{want}` in:\n{out}");
    }
}

#[test]
fn a_cdi_device_path_is_a_warning_under_docker_and_compose() {
    let dir = Dir::new();
    let host = "berth: 1\nhost: h\nprovides:\n  - device: gpu\n    path: nvidia.com/gpu=0\n";
    let spec =
        "berth: 1\ncontainer: c\nimage: i\nneeds:\n  - device: gpu\n    path: /dev/nvidia0\n";
    for emit in ["docker", "compose"] {
        let o = apply_emit(&dir, host, spec, emit);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(stdout(&o).contains("nvidia.com/gpu=0"), "{}", stdout(&o));
        assert!(!stdout(&o).contains("/dev/nvidia0"), "{}", stdout(&o));
        assert!(
            stderr(&o).contains(
                "warning: device gpu of `c`: container path `/dev/nvidia0` is ignored: \
                 CDI name `nvidia.com/gpu=0` is passed as it is"
            ),
            "{emit}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn a_reservation_outside_the_prefix_is_named_not_its_pool() {
    let dir = Dir::new();
    let h = dir.write(
        "host.yaml",
        "berth: 1\nhost: h\nprovides:\n  - network: n\n  - ipv6: \"*\"\n    pool: 2001:db8:5::100/120\n    network: n\n",
    );
    let first = dir.write(
        "first.yaml",
        "berth: 1\ncontainer: c\nneeds:\n  - ipv6: x\n",
    );
    let o = run(dir
        .berth()
        .args(["apply", "-H", h.to_str().unwrap(), first.to_str().unwrap()]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(dir
        .berth()
        .args(["release", "-H", h.to_str().unwrap(), "c"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The name keeps its reservation (2001:db8:5::101, after the skipped
    // network address); a need with a prefix
    // that excludes it has that reservation as its only candidate.
    let again = dir.write(
        "again.yaml",
        "berth: 1\ncontainer: c\nneeds:\n  - ipv6: x\n    prefix: 2001:db8:1::/64\n",
    );
    let o = run(dir
        .berth()
        .args(["plan", "-H", h.to_str().unwrap(), again.to_str().unwrap()]));
    assert_ne!(code(&o), 0);
    // miette wraps the help text: compare with whitespace collapsed.
    let text = format!("{}{}", stdout(&o), stderr(&o));
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "the name is reserved as 2001:db8:5::101 (from pool 2001:db8:5::100/120 (",
        "outside the requested prefix 2001:db8:1::/64; the reservation is its only candidate",
    ] {
        assert!(text.contains(want), "no `{want}` in {text}");
    }
    assert!(!text.contains("offers 2001:db8:5::100/120"), "{text}");
    let o = run(dir.berth().args([
        "plan",
        "-H",
        h.to_str().unwrap(),
        again.to_str().unwrap(),
        "--format",
        "json",
    ]));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let r = &v["containers"][0]["unmet"][0]["reasons"][0];
    assert_eq!(r["reason"], "outside-prefix", "{r}");
    assert_eq!(r["offered"], "2001:db8:5::101", "{r}");
    assert_eq!(r["reserved_from"], "2001:db8:5::100/120", "{r}");
}

/// Regression: `berth run` dropped a CDI device's container path silently,
/// where `--emit docker` warns.
#[test]
fn run_warns_that_a_cdi_device_path_is_ignored() {
    let dir = Dir::new();
    dir.write(
        "host.yaml",
        "berth: 1\nhost: h\nprovides:\n  - device: gpu\n    path: nvidia.com/gpu=0\n",
    );
    dir.write(
        "c/berth.yaml",
        "berth: 1\ncontainer: c\nimage: example/c:1\nneeds:\n  - device: gpu\n    path: /dev/nvidia0\n",
    );
    let o = run(dir.berth().args([
        "run",
        "--dry-run",
        "--engine",
        "podman",
        "-H",
        "host.yaml",
        "c/berth.yaml",
    ]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let argv = shlex::split(stdout(&o).trim()).unwrap();
    assert!(
        argv.windows(2)
            .any(|w| w == ["--device", "nvidia.com/gpu=0"]),
        "{argv:?}"
    );
    assert!(
        stderr(&o).contains("container path `/dev/nvidia0` is ignored"),
        "{}",
        stderr(&o)
    );
}
