//! berth-cni for real: the built plugin, called directly as a CNI runtime
//! would and through the reference `bridge` plugin (Debian
//! `containernetworking-plugins`) against network namespaces made here.
//!
//! Addresses come from `fd00:b3c1:13::/64` (and `fd00:b3c1:13:1::/64` for the
//! podman test, so that its bridge never shares a subnet with the other one),
//! used by no other test; bridges and namespaces carry this process's id
//! (`brc13-<pid>`, `brp13-<pid>`, `berth-cni-t<pid>-N`) and are removed when a
//! test ends, even when it fails. Tests that need root,
//! `ip`, `ping` or `/usr/lib/cni/bridge` skip with a printed reason, and fail
//! under `CI=true` (.ci/setup installs them).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_berth-cni");
const CNI_DIR: &str = "/usr/lib/cni";

const HOST: &str = "\
berth: 1
host: cni-host
provides:
  - network: b13net
    bridge: BRIDGE
    subnet6: fd00:b3c1:13::/64
    gateway6: fd00:b3c1:13::1
  - ipv6: web
    address: fd00:b3c1:13::20
    network: b13net
  - ipv6: \"*\"
    pool: fd00:b3c1:13::100/120
    network: b13net
";

/// A scratch folder with `host.yaml`, a state folder, and the network
/// configuration that points at both.
struct Case {
    tmp: tempfile::TempDir,
    bridge: String,
}

impl Case {
    fn new() -> Case {
        let tmp = tempfile::tempdir().unwrap();
        let bridge = format!("brc13-{}", std::process::id() % 100_000);
        std::fs::write(
            tmp.path().join("host.yaml"),
            HOST.replace("BRIDGE", &bridge),
        )
        .unwrap();
        Case { tmp, bridge }
    }

    fn state_dir(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    fn conf(&self) -> Value {
        json!({
            "cniVersion": "1.0.0",
            "name": "b13",
            "type": "bridge",
            "bridge": self.bridge,
            "isGateway": true,
            "ipam": {
                "type": "berth-cni",
                "host": self.tmp.path().join("host.yaml"),
                "network": "b13net",
                "stateDir": self.state_dir(),
            }
        })
    }

    /// `berth-cni` (or `plugin`) with `CNI_COMMAND` and friends.
    fn call(&self, plugin: &Path, env: &[(&str, &str)], conf: &Value) -> Output {
        let mut c = Command::new(plugin);
        c.env(
            "CNI_PATH",
            format!("{}:{CNI_DIR}", Path::new(BIN).parent().unwrap().display()),
        );
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn plugin");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(conf.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// ADD for `name` as attachment `id`/eth0, straight to berth-cni.
    fn add(&self, id: &str, name: &str) -> Output {
        self.call(
            Path::new(BIN),
            &[
                ("CNI_COMMAND", "ADD"),
                ("CNI_CONTAINERID", id),
                ("CNI_IFNAME", "eth0"),
                ("CNI_NETNS", "/nonexistent"),
                ("CNI_ARGS", &format!("IgnoreUnknown=1;BERTH_NAME={name}")),
            ],
            &self.conf(),
        )
    }

    fn del(&self, id: &str) -> Output {
        self.call(
            Path::new(BIN),
            &[
                ("CNI_COMMAND", "DEL"),
                ("CNI_CONTAINERID", id),
                ("CNI_IFNAME", "eth0"),
            ],
            &self.conf(),
        )
    }

    fn state(&self) -> Value {
        let store = berth_engine::store::StateFile::new(self.state_dir(), "cni-host");
        serde_json::to_value(store.load_readonly().unwrap()).unwrap()
    }
}

fn ok_json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "plugin failed: stdout {} stderr {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

/// The first address of an ADD result (`fd00:b3c1:13::20/64`).
fn address(result: &Value) -> String {
    result["ips"][0]["address"].as_str().unwrap().to_string()
}

/// True when the real network tools are here; else prints why the test skips
/// (panics under CI=true, where skipping is a failure).
fn require_network(test: &str, also: &[&str]) -> bool {
    let bridge = Path::new(CNI_DIR).join("bridge");
    let tools: Vec<&str> = ["ip", "ping"].iter().chain(also).copied().collect();
    berth_testkit::runtime::require(test, &tools, &[(&bridge, "containernetworking-plugins")])
}

fn sh(argv: &[&str]) -> Output {
    Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .expect("spawn")
}

/// Removes the namespaces and the bridge when dropped.
struct NetGuard {
    namespaces: Vec<String>,
    bridge: String,
}

impl Drop for NetGuard {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = sh(&["ip", "netns", "del", ns]);
        }
        let _ = sh(&["ip", "link", "del", &self.bridge]);
    }
}

#[test]
fn version_lists_the_spoken_versions() {
    let case = Case::new();
    let out = case.call(
        Path::new(BIN),
        &[("CNI_COMMAND", "VERSION")],
        &json!({"cniVersion": "1.1.0"}),
    );
    let v = ok_json(&out);
    assert_eq!(v["cniVersion"], "1.1.0");
    assert!(v["supportedVersions"]
        .as_array()
        .unwrap()
        .contains(&json!("1.1.0")));
}

#[test]
fn errors_are_cni_error_json_with_a_code() {
    let case = Case::new();
    // No workload name.
    let out = case.call(
        Path::new(BIN),
        &[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "x"),
            ("CNI_IFNAME", "eth0"),
        ],
        &case.conf(),
    );
    assert!(!out.status.success());
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["code"], 4);
    assert_eq!(e["cniVersion"], "1.0.0");
    assert!(e["msg"].as_str().unwrap().contains("BERTH_NAME"));
    // A network the host does not provide.
    let mut conf = case.conf();
    conf["ipam"]["network"] = json!("nonet");
    let out = case.call(
        Path::new(BIN),
        &[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "x"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_ARGS", "BERTH_NAME=a"),
        ],
        &conf,
    );
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["code"], 7, "{e}");
}

#[test]
fn a_static_name_gets_its_address_and_a_pool_name_keeps_its_own_after_del() {
    let case = Case::new();
    let web = ok_json(&case.add("c-web", "web"));
    assert_eq!(address(&web), "fd00:b3c1:13::20/64");
    assert_eq!(web["ips"][0]["gateway"], "fd00:b3c1:13::1");
    assert_eq!(
        web["routes"][0],
        json!({"dst": "::/0", "gw": "fd00:b3c1:13::1"})
    );

    let first = address(&ok_json(&case.add("c-a1", "alpha")));
    let other = address(&ok_json(&case.add("c-b1", "beta")));
    assert_ne!(first, other);
    // ADD for the same attachment again is idempotent.
    assert_eq!(address(&ok_json(&case.add("c-a1", "alpha"))), first);
    ok_json(&case.del("c-a1"));
    // DEL of something not held succeeds too.
    ok_json(&case.del("c-a1"));
    // DEL frees the attachment even when the configuration names a network
    // the manifest no longer has (it needs only the host and the attachment).
    ok_json(&case.add("c-tmp", "temp"));
    let mut gone = case.conf();
    gone["ipam"]["network"] = json!("gone");
    let del = [
        ("CNI_COMMAND", "DEL"),
        ("CNI_CONTAINERID", "c-tmp"),
        ("CNI_IFNAME", "eth0"),
    ];
    ok_json(&case.call(Path::new(BIN), &del, &gone));
    assert_eq!(
        case.state()["reservations"]["ipv6/temp"]["holder"],
        Value::Null
    );
    // A new workload takes the lowest free address, which is not alpha's:
    // the name keeps it reserved.
    let gamma = address(&ok_json(&case.add("c-g1", "gamma")));
    assert_ne!(gamma, first);
    // alpha comes back in a new container and gets its address again.
    assert_eq!(address(&ok_json(&case.add("c-a2", "alpha"))), first);
    // The same name twice at once: one holder only.
    let twice = case.add("c-a3", "alpha");
    assert!(!twice.status.success());
    let e: Value = serde_json::from_slice(&twice.stdout).unwrap();
    assert_eq!(e["code"], 100);
    assert!(e["msg"].as_str().unwrap().contains("held-by"), "{e}");
}

#[test]
fn sixteen_concurrent_adds_get_sixteen_distinct_addresses() {
    let case = Case::new();
    let results: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let case = &case;
                s.spawn(move || address(&ok_json(&case.add(&format!("par-{i}"), &format!("w{i}")))))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut distinct = results.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 16, "{results:?}");
    let state = case.state();
    assert_eq!(state["holdings"].as_object().unwrap().len(), 16);
}

#[test]
fn gc_frees_attachments_not_listed_as_valid() {
    let case = Case::new();
    let keep = address(&ok_json(&case.add("keep", "kept")));
    ok_json(&case.add("drop", "dropped"));
    let mut conf = case.conf();
    conf["cniVersion"] = json!("1.1.0");
    conf["cni.dev/valid-attachments"] = json!([{"containerID": "keep", "ifname": "eth0"}]);
    ok_json(&case.call(Path::new(BIN), &[("CNI_COMMAND", "GC")], &conf));
    let state = case.state();
    let holders: Vec<&Value> = state["holdings"].as_object().unwrap().values().collect();
    assert_eq!(holders.len(), 1);
    assert_eq!(holders[0]["bindings"][0]["name"], "kept");
    assert_eq!(
        state["reservations"]["ipv6/dropped"]["holder"],
        Value::Null,
        "the freed name keeps its reservation"
    );
    // CHECK: the kept attachment still holds its address; the dropped one is unknown.
    let mut check = case.conf();
    check["prevResult"] = json!({"cniVersion": "1.0.0", "ips": [{"address": keep}]});
    let env = |id: &'static str| {
        vec![
            ("CNI_COMMAND", "CHECK"),
            ("CNI_CONTAINERID", id),
            ("CNI_IFNAME", "eth0"),
        ]
    };
    ok_json(&case.call(Path::new(BIN), &env("keep"), &check));
    let out = case.call(Path::new(BIN), &env("drop"), &check);
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["code"], 3, "{e}");
    // STATUS: available.
    ok_json(&case.call(Path::new(BIN), &[("CNI_COMMAND", "STATUS")], &conf));
}

/// `berth` from the same target folder, when built (`cargo test --workspace`
/// builds it; alone, this crate's tests cannot ask cargo for it).
fn berth_bin() -> Option<PathBuf> {
    let p = Path::new(BIN).with_file_name("berth");
    p.is_file().then_some(p)
}

#[test]
fn berth_apply_and_berth_cni_share_one_state_and_never_share_an_address() {
    let case = Case::new();
    let Some(berth) = berth_bin() else {
        let msg = "berth_apply_and_berth_cni...: SKIPPED, the berth binary is not built (cargo build -p berth)";
        if matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1")) {
            panic!("{msg}");
        }
        eprintln!("{msg}");
        return;
    };
    let spec = case.tmp.path().join("specs.yaml");
    let mut text = String::new();
    for i in 0..8 {
        text.push_str(&format!(
            "berth: 1\ncontainer: app{i}\nneeds:\n  - ipv6: app{i}\n---\n"
        ));
    }
    text.push_str("berth: 1\ncontainer: webserver\nneeds:\n  - ipv6: web\n");
    std::fs::write(&spec, &text).unwrap();
    // CNI takes `web` first; eight CNI workloads and eight applied containers
    // then race for the pool.
    ok_json(&case.add("c-web", "web"));
    let berth_cmd = |args: &[&str]| {
        Command::new(&berth)
            .args(args)
            .env("BERTH_STATE_DIR", case.state_dir())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let host = case.tmp.path().join("host.yaml");
    let host = host.to_str().unwrap();
    std::thread::scope(|s| {
        let mut hs = Vec::new();
        for i in 0..8 {
            let case = &case;
            hs.push(s.spawn(move || ok_json(&case.add(&format!("mix-{i}"), &format!("cni{i}")))));
        }
        for i in 0..8 {
            let spec = case.tmp.path().join(format!("app{i}.yaml"));
            std::fs::write(
                &spec,
                format!("berth: 1\ncontainer: app{i}\nneeds:\n  - ipv6: app{i}\n"),
            )
            .unwrap();
            let berth_cmd = &berth_cmd;
            s.spawn(move || {
                let o = berth_cmd(&[
                    "apply",
                    "-H",
                    host,
                    spec.to_str().unwrap(),
                    "--emit",
                    "json",
                ]);
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            });
        }
        for h in hs {
            h.join().unwrap();
        }
    });
    // The applied container that wants `web` finds it held by the CNI attachment.
    let ws = case.tmp.path().join("webserver.yaml");
    std::fs::write(
        &ws,
        "berth: 1\ncontainer: webserver\nneeds:\n  - ipv6: web\n",
    )
    .unwrap();
    let o = berth_cmd(&["apply", "-H", host, ws.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // berth status lists every holder, CNI's among them, and no address twice.
    let o = berth_cmd(&["status", "-H", host, "--format", "json"]);
    assert!(o.status.success());
    let st: Value = serde_json::from_slice(&o.stdout).unwrap();
    let holdings = st["holdings"].as_object().unwrap();
    assert_eq!(holdings.len(), 17, "{st}");
    assert_eq!(holdings.keys().filter(|k| k.starts_with("cni-")).count(), 9);
    let mut addrs: Vec<&str> = holdings
        .values()
        .flat_map(|h| h["bindings"].as_array().unwrap())
        .filter(|b| b["kind"] == "ipv6")
        .map(|b| b["value"]["address"].as_str().unwrap())
        .collect();
    let n = addrs.len();
    addrs.sort();
    addrs.dedup();
    assert_eq!((n, addrs.len()), (17, 17));
}

#[test]
fn bridge_plugin_with_berth_ipam_gives_namespaces_their_addresses_and_ping6_works() {
    if !require_network("bridge_plugin_with_berth_ipam", &[]) {
        return;
    }
    let case = Case::new();
    let pid = std::process::id();
    let guard = NetGuard {
        namespaces: vec![format!("berth-cni-t{pid}-1"), format!("berth-cni-t{pid}-2")],
        bridge: case.bridge.clone(),
    };
    for ns in &guard.namespaces {
        let o = sh(&["ip", "netns", "add", ns]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let bridge = Path::new(CNI_DIR).join("bridge");
    let run = |cmd: &str, ns: &str, id: &str, name: &str| {
        let netns = format!("/var/run/netns/{ns}");
        let args = format!("IgnoreUnknown=1;BERTH_NAME={name}");
        case.call(
            &bridge,
            &[
                ("CNI_COMMAND", cmd),
                ("CNI_CONTAINERID", id),
                ("CNI_NETNS", &netns),
                ("CNI_IFNAME", "eth0"),
                ("CNI_ARGS", &args),
            ],
            &case.conf(),
        )
    };
    let (ns1, ns2) = (&guard.namespaces[0], &guard.namespaces[1]);
    let web = ok_json(&run("ADD", ns1, "ns-web", "web"));
    assert_eq!(address(&web), "fd00:b3c1:13::20/64");
    let other = ok_json(&run("ADD", ns2, "ns-other", "other"));
    let other_addr = address(&other);
    let in_ns = |ns: &str, argv: &[&str]| {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(argv);
        sh(&full)
    };
    let addrs = String::from_utf8_lossy(&in_ns(ns1, &["ip", "-6", "addr", "show", "eth0"]).stdout)
        .into_owned();
    assert!(addrs.contains("fd00:b3c1:13::20/64"), "{addrs}");
    let routes = String::from_utf8_lossy(&in_ns(ns1, &["ip", "-6", "route"]).stdout).into_owned();
    assert!(routes.contains("default via fd00:b3c1:13::1"), "{routes}");
    // Through the bridge: ns1 -> ns2's address (DAD may need a moment).
    let target = other_addr.split('/').next().unwrap().to_string();
    let mut pinged = false;
    for _ in 0..20 {
        if in_ns(ns1, &["ping", "-6", "-c", "1", "-W", "1", &target])
            .status
            .success()
        {
            pinged = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(pinged, "ping6 from {ns1} to {target} failed");
    // DEL then ADD (a new container id, as after a restart): the same address.
    ok_json(&run("DEL", ns2, "ns-other", "other"));
    let again = ok_json(&run("ADD", ns2, "ns-other-2", "other"));
    assert_eq!(address(&again), other_addr);
    ok_json(&run("DEL", ns2, "ns-other-2", "other"));
    ok_json(&run("DEL", ns1, "ns-web", "web"));
    drop(guard);
}

/// Podman's CNI backend passes the container's name as `K8S_POD_NAME` (seen
/// with podman 4.3): a container named like a static provide gets that
/// address, and `--rm` (a DEL) frees the holding.
#[test]
fn podman_with_the_cni_backend_gives_a_container_the_address_of_its_name() {
    if !require_network("podman_with_the_cni_backend", &["podman"]) {
        return;
    }
    let pid = std::process::id() % 100_000;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let name = format!("berth-cni-p{pid}");
    let bridge = format!("brp13-{pid}");
    let _guard = NetGuard {
        namespaces: vec![],
        bridge: bridge.clone(),
    };
    std::fs::write(
        dir.join("host.yaml"),
        format!(
            "berth: 1\nhost: podman-cni\nprovides:\n  - network: p13net\n    bridge: {bridge}\n    \
             subnet6: fd00:b3c1:13:1::/64\n    gateway6: fd00:b3c1:13:1::1\n  - ipv6: {name}\n    \
             address: fd00:b3c1:13:1::20\n    network: p13net\n"
        ),
    )
    .unwrap();
    let (nets, plugins) = (dir.join("net"), dir.join("plugins"));
    std::fs::create_dir_all(&nets).unwrap();
    std::fs::create_dir_all(&plugins).unwrap();
    std::os::unix::fs::symlink(BIN, plugins.join("berth-cni")).unwrap();
    std::os::unix::fs::symlink(Path::new(CNI_DIR).join("bridge"), plugins.join("bridge")).unwrap();
    let net = format!("p13-{pid}");
    let conflist = json!({
        "cniVersion": "1.0.0",
        "name": net,
        "plugins": [{
            "type": "bridge", "bridge": bridge, "isGateway": true,
            "ipam": {"type": "berth-cni", "host": dir.join("host.yaml"),
                     "network": "p13net", "stateDir": dir.join("state")}
        }]
    });
    std::fs::write(nets.join(format!("{net}.conflist")), conflist.to_string()).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let base = std::fs::read_to_string(repo.join("tests/support/containers.conf")).unwrap();
    let conf = dir.join("containers.conf");
    std::fs::write(
        &conf,
        format!(
            "{base}\n[network]\nnetwork_backend = \"cni\"\nnetwork_config_dir = \"{}\"\ncni_plugin_dirs = [\"{}\"]\n",
            nets.display(),
            plugins.display()
        ),
    )
    .unwrap();
    let image = "localhost/berth-test-busybox:1";
    let o = Command::new(repo.join("tests/support/busybox-image"))
        .arg(image)
        .env("CONTAINERS_CONF", &conf)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new("podman")
        .args([
            "--network-backend",
            "cni",
            "run",
            "--rm",
            "--name",
            &name,
            "--network",
            &net,
            image,
        ])
        .args(["ip", "-6", "addr", "show", "eth0"])
        .env("CONTAINERS_CONF", &conf)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("fd00:b3c1:13:1::20/64"), "{out}");
    let store = berth_engine::store::StateFile::new(dir.join("state"), "podman-cni");
    let state = serde_json::to_value(store.load_readonly().unwrap()).unwrap();
    assert_eq!(
        state["holdings"],
        json!({}),
        "--rm released the holding: {state}"
    );
}

#[test]
fn older_versions_get_their_result_format_and_status_reports_unavailability() {
    let case = Case::new();
    let mut conf = case.conf();
    conf["cniVersion"] = json!("0.4.0");
    let env = [
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", "old"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_ARGS", "BERTH_NAME=web"),
    ];
    let r = ok_json(&case.call(Path::new(BIN), &env, &conf));
    assert_eq!(r["cniVersion"], "0.4.0");
    assert_eq!(r["ips"][0]["version"], "6");
    assert_eq!(r["ips"][0]["address"], "fd00:b3c1:13::20/64");
    let mut gone = case.conf();
    gone["cniVersion"] = json!("1.1.0");
    gone["ipam"]["network"] = json!("gone");
    let out = case.call(Path::new(BIN), &[("CNI_COMMAND", "STATUS")], &gone);
    assert!(!out.status.success());
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["code"], 50, "{e}");
}
