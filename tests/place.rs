//! `berth place` end to end: placements, the per-reason host counts of an
//! unplaceable container, `--explain`, labels, exclusive contention across
//! hosts, spread, determinism, JSON shape, `--out`, folders and JSON fleets,
//! and the refusals (duplicate names, unknown `--explain` host).

use serde_json::Value;

use crate::apply::snap;
use crate::util::{code, repo_root, run, stderr, stdout, Dir};

fn fixture(rel: &str) -> String {
    repo_root()
        .join("tests/fixtures/place")
        .join(rel)
        .display()
        .to_string()
}

/// `berth place --hosts H S...` in `dir`.
fn place(dir: &Dir, hosts: &[&str], args: &[&str]) -> std::process::Output {
    let mut cmd = dir.berth();
    cmd.arg("place");
    for h in hosts {
        cmd.arg("--hosts").arg(h);
    }
    run(cmd.args(args))
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn host_of(v: &Value, container: &str) -> Value {
    v["placements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["container"] == container)
        .unwrap_or_else(|| panic!("no placement for {container}"))["host"]
        .clone()
}

#[test]
fn unplaceable_container_names_the_missing_resource_and_counts_hosts_per_reason() {
    let d = Dir::new();
    let o = place(
        &d,
        &[&fixture("web/hosts.yaml")],
        &[&fixture("web/specs.yaml")],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "0/5 hosts: 3 lack volume `webpages`, 2 hold ipv6 `webserver` for `api-1`, `api-2`"
        ),
        "{err}"
    );
    assert!(err.contains("berth::place::unplaced"), "{err}");
    assert!(err.contains("specs.yaml:21"), "the spec's location: {err}");
    let out = stdout(&o);
    assert!(out.contains("api-1   -> web-1"), "{out}");
    assert!(out.contains("api-2   -> web-2"), "{out}");
    insta::assert_snapshot!(
        "place_unplaced_web",
        err.replace(&repo_root().display().to_string(), "<repo>")
    );

    let o = place(
        &d,
        &[&fixture("web/hosts.yaml")],
        &[&fixture("web/specs.yaml"), "--format", "json"],
    );
    assert_eq!(code(&o), 1);
    let v = json(&o);
    assert_eq!(v["placed"], 3);
    assert_eq!(v["unplaced"], 1);
    assert_eq!(v["hosts"], 5);
    let web = v["placements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["container"] == "web")
        .unwrap();
    assert_eq!(web["host"], Value::Null);
    assert_eq!(web["line"], 21);
    let reasons = web["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0]["reason"], "missing");
    assert_eq!(reasons[0]["kind"], "volume");
    assert_eq!(reasons[0]["name"], "webpages");
    assert_eq!(reasons[0]["hosts"], 3);
    assert_eq!(reasons[1]["reason"], "held");
    assert_eq!(reasons[1]["kind"], "ipv6");
    assert_eq!(reasons[1]["name"], "webserver");
    assert_eq!(reasons[1]["hosts"], 2);
    assert_eq!(reasons[1]["holders"], serde_json::json!(["api-1", "api-2"]));
    assert_eq!(host_of(&v, "logger"), "edge-1");
}

#[test]
fn explain_shows_one_hosts_detail() {
    let d = Dir::new();
    let o = place(
        &d,
        &[&fixture("web/hosts.yaml")],
        &[&fixture("web/specs.yaml"), "--explain", "web-1"],
    );
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains("host `web-1`") && err.contains("runs 1 container(s): api-1"),
        "{err}"
    );
    assert!(
        err.contains("why container `web` cannot run on `web-1`"),
        "{err}"
    );
    assert!(err.contains("berth::need::unmet"), "{err}");
    assert!(
        err.contains("ipv6 `webserver` of container `web` cannot be met on host `web-1`"),
        "{err}"
    );
    assert!(
        err.contains("container `api-1`"),
        "the holder is named: {err}"
    );

    // A host missing the volume explains that, with the need's line.
    let o = place(
        &d,
        &[&fixture("web/hosts.yaml")],
        &[
            &fixture("web/specs.yaml"),
            "--explain",
            "edge-3",
            "--format",
            "json",
        ],
    );
    let v = json(&o);
    assert_eq!(v["explain"]["host"], "edge-3");
    let web = &v["explain"]["unplaced"][0];
    assert_eq!(web["container"], "web");
    let unmet = web["unmet"].as_array().unwrap();
    assert!(
        unmet
            .iter()
            .any(|u| u["kind"] == "volume" && u["name"] == "webpages"),
        "{unmet:?}"
    );

    let o = place(
        &d,
        &[&fixture("web/hosts.yaml")],
        &[&fixture("web/specs.yaml"), "--explain", "nowhere"],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("berth::place::unknown-host"));
}

#[test]
fn same_input_same_output() {
    let d = Dir::new();
    let args = [fixture("web/specs.yaml"), "--format".into(), "json".into()];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = place(&d, &[&fixture("web/hosts.yaml")], &args);
    let b = place(&d, &[&fixture("web/hosts.yaml")], &args);
    assert_eq!(stdout(&a), stdout(&b));
    assert_eq!(stderr(&a), stderr(&b));
}

const TWO_ZONES: &str = "\
berth: 1
host: a-1
labels: { zone: a }
provides:
  - device: gpu
    path: /dev/gpu0
---
berth: 1
host: b-1
labels: { zone: b }
provides:
  - device: gpu
    path: /dev/gpu0
---
berth: 1
host: b-2
labels: { zone: b }
provides:
  - device: gpu
    path: /dev/gpu0
";

#[test]
fn label_constraints_choose_hosts_and_explain_the_others() {
    let d = Dir::new();
    d.write("hosts.yaml", TWO_ZONES);
    d.write(
        "specs.yaml",
        "berth: 1\ncontainer: b-only\nplacement: { zone: b }\nneeds: []\n---\n\
         berth: 1\ncontainer: nowhere\nplacement: { zone: c }\nneeds: []\n",
    );
    let o = place(&d, &["hosts.yaml"], &["specs.yaml", "--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(host_of(&v, "b-only"), "b-1");
    assert_eq!(host_of(&v, "nowhere"), Value::Null);
    let r = &v["placements"][1]["reasons"][0];
    assert_eq!(r["reason"], "label");
    assert_eq!(r["key"], "zone");
    assert_eq!(r["value"], "c");
    assert_eq!(r["hosts"], 3);
    let o = place(&d, &["hosts.yaml"], &["specs.yaml"]);
    assert!(
        stderr(&o).contains("0/3 hosts: 3 lack label zone=c"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn exclusive_resources_are_consumed_across_hosts() {
    let d = Dir::new();
    d.write("hosts.yaml", TWO_ZONES);
    let specs: String = (1..=4)
        .map(|i| format!("berth: 1\ncontainer: train-{i}\nneeds:\n  - device: gpu\n---\n"))
        .collect();
    d.write("specs.yaml", &specs);
    let o = place(&d, &["hosts.yaml"], &["specs.yaml", "--format", "json"]);
    assert_eq!(code(&o), 1);
    let v = json(&o);
    let hosts: Vec<Value> = (1..=4)
        .map(|i| host_of(&v, &format!("train-{i}")))
        .collect();
    assert_eq!(hosts[..3], ["a-1", "b-1", "b-2"], "one GPU per host");
    assert_eq!(hosts[3], Value::Null);
    let r = &v["placements"][3]["reasons"][0];
    assert_eq!(r["reason"], "held");
    assert_eq!(r["kind"], "device");
    assert_eq!(r["hosts"], 3);
    let o = place(&d, &["hosts.yaml"], &["specs.yaml"]);
    assert!(
        stderr(&o).contains("0/3 hosts: 3 hold device `gpu` for `train-1`, `train-2`, `train-3`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn spread_goes_to_the_least_loaded_host_and_exit_zero_when_all_placed() {
    let d = Dir::new();
    d.write("hosts.yaml", TWO_ZONES);
    let specs: String = (1..=6)
        .map(|i| format!("berth: 1\ncontainer: app-{i}\nneeds: []\n---\n"))
        .collect();
    d.write("specs.yaml", &specs);
    let o = place(&d, &["hosts.yaml"], &["specs.yaml", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    let hosts: Vec<Value> = (1..=6).map(|i| host_of(&v, &format!("app-{i}"))).collect();
    assert_eq!(hosts, ["a-1", "b-1", "b-2", "a-1", "b-1", "b-2"]);
    assert_eq!(v["unplaced"], 0);
}

#[test]
fn folders_and_json_fleets_load_alike() {
    let d = Dir::new();
    d.write(
        "fleet/hosts.json",
        r#"[{"berth": 1, "host": "j-1", "provides": [{"volume": "data", "path": "/srv/data"}]},
            {"berth": 1, "host": "j-2", "provides": []}]"#,
    );
    d.write(
        "fleet/more/host.yaml",
        "berth: 1\nhost: y-1\nprovides:\n  - volume: data\n    path: /d\n",
    );
    d.write("fleet/README.txt", "not a manifest");
    d.write(
        "apps/a.json",
        r#"{"berth": 1, "container": "a", "needs": [{"volume": "data", "mount": "/data"}]}"#,
    );
    d.write(
        "apps/b.yaml",
        "berth: 1\ncontainer: b\nneeds:\n  - volume: data\n    mount: /data\n",
    );
    let o = place(&d, &["fleet"], &["apps", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["hosts"], 3);
    assert_eq!(host_of(&v, "a"), "j-1");
    assert_eq!(host_of(&v, "b"), "y-1");
}

#[test]
fn out_writes_each_hosts_run_configurations() {
    let d = Dir::new();
    let seed = repo_root().join("specs/examples/seed");
    let host = seed.join("host.yaml").display().to_string();
    let spec = seed.join("webserver/berth.yaml").display().to_string();
    let o = place(&d, &[&host], &[&spec, "--out", "out", "--emit", "docker"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let line = std::fs::read_to_string(d.path().join("out/web-01/webserver.sh")).unwrap();
    let argv = shlex::split(line.trim()).unwrap();
    for want in [
        "--network",
        "berth6",
        "--ip6",
        "1111:2222:3333:4444::8888:20",
    ] {
        assert!(argv.iter().any(|a| a == want), "{want} in {argv:?}");
    }
    assert_eq!(argv.last().unwrap(), "example/webserver:1.4");
}

#[test]
fn duplicate_names_are_refused() {
    let d = Dir::new();
    d.write("hosts.yaml", TWO_ZONES);
    d.write(
        "specs.yaml",
        "berth: 1\ncontainer: twin\nneeds: []\n---\nberth: 1\ncontainer: twin\nneeds: []\n",
    );
    let o = place(&d, &["hosts.yaml"], &["specs.yaml"]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("berth::place::duplicate-container"), "{err}");
    assert!(err.contains("specs.yaml:2 and specs.yaml:6"), "{err}");
    assert!(stdout(&o).is_empty());
    insta::assert_snapshot!("snapshot_place_duplicate_container", snap(&o));

    d.write("again.yaml", TWO_ZONES);
    let o = place(&d, &["hosts.yaml", "again.yaml"], &["specs.yaml"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("berth::place::duplicate-host"));
    insta::assert_snapshot!("snapshot_place_duplicate_host", snap(&o));
}

#[test]
fn invalid_input_places_nothing() {
    let d = Dir::new();
    d.write("hosts.yaml", TWO_ZONES);
    d.write(
        "specs.yaml",
        "berth: 1\ncontainer: x\nneeds:\n  - volum: data\n",
    );
    let o = place(&d, &["hosts.yaml"], &["specs.yaml"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("berth::need::unknown-kind"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());

    let o = place(&d, &["hosts.yaml"], &["specs.yaml", "--format", "json"]);
    assert_eq!(code(&o), 1);
    let v = json(&o);
    assert_eq!(v["diagnostics"][0]["code"], "berth::need::unknown-kind");
    assert_eq!(v["diagnostics"][0]["line"], 4);
}

#[test]
fn out_reports_containers_that_need_provider_steps_first() {
    let d = Dir::new();
    let rich = repo_root().join("specs/examples/rich");
    let host = rich.join("host.yaml").display().to_string();
    let spec = rich.join("app/berth.yaml").display().to_string();
    let o = place(&d, &[&host], &[&spec, "--out", "out"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not written: app-01/app: needs provider steps on the host first"),
        "{}",
        stderr(&o)
    );
    assert!(!d.path().join("out/app-01/app.json").exists());
}

#[test]
fn the_file_size_limit_holds() {
    let d = Dir::new();
    d.write("hosts.yaml", TWO_ZONES);
    d.write("specs.yaml", "berth: 1\ncontainer: a\nneeds: []\n");
    let o = place(
        &d,
        &["hosts.yaml"],
        &["specs.yaml", "--max-file-size", "100"],
    );
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("berth::file::too-large"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}

#[test]
fn a_fleet_without_hosts_says_so() {
    let d = Dir::new();
    d.write("empty.yaml", "");
    d.write("specs.yaml", "berth: 1\ncontainer: a\nneeds: []\n");
    let o = place(&d, &["empty.yaml"], &["specs.yaml"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("the fleet has no hosts"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn explain_snapshot_names_missing_resources_and_labels() {
    let d = Dir::new();
    d.write("hosts.yaml", TWO_ZONES);
    d.write(
        "specs.yaml",
        "berth: 1\ncontainer: fpga-job\nplacement: { zone: b }\nneeds:\n  - example.com/fpga: any\n",
    );
    let o = place(&d, &["hosts.yaml"], &["specs.yaml", "--explain", "a-1"]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains("host `a-1` lacks label zone=b, which container `fpga-job` asks for"),
        "{err}"
    );
    insta::assert_snapshot!("place_explain_label_and_missing", err);
}

#[test]
fn snapshot_place_unknown_host() {
    let d = Dir::new();
    d.write("hosts.yaml", TWO_ZONES);
    d.write("specs.yaml", "berth: 1\ncontainer: web\nneeds: []\n");
    let o = place(&d, &["hosts.yaml"], &["specs.yaml", "--explain", "nowhere"]);
    assert_eq!(code(&o), 2);
    insta::assert_snapshot!(snap(&o));
    // The name comes from the command line: printed escaped.
    let o = place(
        &d,
        &["hosts.yaml"],
        &["specs.yaml", "--explain", "no\x1b[31mwhere"],
    );
    assert_eq!(code(&o), 2);
    assert!(
        snap(&o).contains("host `no\\x1b[31mwhere`"),
        "{:?}",
        snap(&o)
    );
}

/// Issue 9's IPv4 case: four containers want an address within
/// 192.168.1.4/30 of a /29 pool; the /30 holds four addresses, and `plan`
/// satisfies three on that host (the fourth would be .7, the /29's broadcast).
const PREFIX4_HOST: &str = "berth: 1
host: h1
provides:
  - network: mynet
    subnet4: 192.168.1.0/29
    gateway4: 192.168.1.1
  - ipv4: \"*\"
    pool: 192.168.1.0/29
    network: mynet
";

/// Issue 9's IPv6 case: a /126 prefix that holds the subnet's network address
/// and the gateway leaves two addresses.
const PREFIX6_HOST: &str = "berth: 1
host: h6
provides:
  - network: mynet6
    subnet6: 2001:db8::/120
    gateway6: 2001:db8::1
  - ipv6: \"*\"
    pool: 2001:db8::/120
    network: mynet6
";

/// `n` containers `{name}0..`, each needing `{kind}: {name}N` within `prefix`.
fn prefixed_specs(name: &str, kind: &str, prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            format!("berth: 1\ncontainer: {name}{i}\nneeds:\n  - {kind}: {name}{i}\n    prefix: {prefix}\n")
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

fn placed_hosts(v: &Value) -> Vec<(String, Value)> {
    v["placements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["container"].as_str().unwrap().to_string(),
                p["host"].clone(),
            )
        })
        .collect()
}

/// How many containers `berth plan` satisfies on `host` with all `specs`.
fn plan_satisfies(d: &Dir, host: &str, specs: &str) -> usize {
    let o = run(d
        .berth()
        .args(["plan", "-H", host, specs, "--format", "json"]));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["satisfied"] == true)
        .count()
}

#[test]
fn issue_9_place_admits_no_more_than_plan_in_an_ipv4_prefix_of_a_pool() {
    let d = Dir::new();
    d.write("hosts.yaml", PREFIX4_HOST);
    d.write(
        "specs.yaml",
        &prefixed_specs("r", "ipv4", "192.168.1.4/30", 4),
    );
    assert_eq!(plan_satisfies(&d, "hosts.yaml", "specs.yaml"), 3);
    let o = place(&d, &["hosts.yaml"], &["specs.yaml", "--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["placed"], 3);
    assert_eq!(v["unplaced"], 1);
    let r3 = &v["placements"][3];
    assert_eq!(r3["container"], "r3");
    assert!(r3["host"].is_null());
    assert_eq!(r3["reasons"][0]["reason"], "exhausted");
    assert_eq!(r3["reasons"][0]["hosts"], 1);

    // --out writes the three placed containers only, and says 3 of 4.
    let o = place(&d, &["hosts.yaml"], &["specs.yaml", "--out", "out"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("placed 3 of 4"), "{err}");
    assert!(!err.contains("not written"), "{err}");
    for c in ["r0", "r1", "r2"] {
        assert!(d.path().join(format!("out/h1/{c}.json")).is_file(), "{c}");
    }
    assert!(!d.path().join("out/h1/r3.json").exists());
}

#[test]
fn issue_9_place_admits_no_more_than_plan_in_an_ipv6_prefix_holding_the_gateway() {
    let d = Dir::new();
    d.write("hosts.yaml", PREFIX6_HOST);
    d.write(
        "specs.yaml",
        &prefixed_specs("s", "ipv6", "2001:db8::/126", 4),
    );
    assert_eq!(plan_satisfies(&d, "hosts.yaml", "specs.yaml"), 2);
    let o = place(
        &d,
        &["hosts.yaml"],
        &["specs.yaml", "--format", "json", "--out", "out"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["placed"], 2);
    assert_eq!(v["unplaced"], 2);
    for (c, host) in placed_hosts(&v) {
        let file = d.path().join(format!("out/h6/{c}.json"));
        if c == "s0" || c == "s1" {
            assert_eq!(host, "h6");
            assert!(file.is_file(), "{c}");
        } else {
            assert!(host.is_null(), "{c}");
            assert!(!file.exists(), "{c}");
        }
    }
    for p in &v["placements"].as_array().unwrap()[2..] {
        assert_eq!(p["reasons"][0]["reason"], "exhausted", "{p}");
    }
}

#[test]
fn out_that_cannot_write_a_placed_container_fails_and_counts_it_unplaced() {
    let d = Dir::new();
    d.write("hosts.yaml", PREFIX4_HOST);
    d.write(
        "specs.yaml",
        &prefixed_specs("r", "ipv4", "192.168.1.4/30", 2),
    );
    // A folder where r0's file should go: the write fails.
    std::fs::create_dir_all(d.path().join("out/h1/r0.json")).unwrap();
    let o = place(
        &d,
        &["hosts.yaml"],
        &["specs.yaml", "--out", "out", "--format", "json"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["placed"], 1);
    assert_eq!(v["unplaced"], 1);
    assert!(host_of(&v, "r0").is_null());
    assert_eq!(v["placements"][0]["reasons"][0]["reason"], "not-written");
    assert_eq!(host_of(&v, "r1"), "h1");
    assert!(stderr(&o).contains("not written: h1/r0"), "{}", stderr(&o));
}

const STATE_HOST: &str = "berth: 1
host: h1
provides:
  - network: mynet
    subnet6: 2001:db8:5::/120
    gateway6: 2001:db8:5::1
  - ipv6: \"*\"
    pool: 2001:db8:5::/120
    network: mynet
";

/// The address of the first binding of kind `kind` in a plan's JSON.
fn address_in(v: &Value, kind: &str) -> String {
    v["containers"][0]["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} binding in {v}"))["value"]["address"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn place_reads_each_hosts_state_and_out_gives_what_apply_gives() {
    let d = Dir::new();
    d.write("host.yaml", STATE_HOST);
    d.write("a.yaml", "berth: 1\ncontainer: a\nneeds:\n  - ipv6: a\n");
    d.write("b.yaml", "berth: 1\ncontainer: b\nneeds:\n  - ipv6: b\n");
    // `a` runs on h1: the state holds its address, the pool's first free one.
    let o = run(d
        .berth()
        .args(["apply", "-H", "host.yaml", "a.yaml", "--emit", "json"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let a: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(address_in(&a, "ipv6"), "2001:db8:5::2");

    // place sees it (state under $BERTH_STATE_DIR) and gives `b` the next one.
    let o = place(
        &d,
        &["host.yaml"],
        &["b.yaml", "--out", "out", "--format", "json"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["state"]["with_state"], serde_json::json!(["h1"]));
    assert_eq!(v["state"]["started_empty"], serde_json::json!([]));
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("out/h1/b.json")).unwrap())
            .unwrap();
    assert_eq!(address_in(&written, "ipv6"), "2001:db8:5::3");

    // --state-dir wins over $BERTH_STATE_DIR: an empty folder means empty hosts.
    d.write("empty/.keep", "");
    let o = place(
        &d,
        &["host.yaml"],
        &["b.yaml", "--state-dir", "empty", "--format", "json"],
    );
    let v = json(&o);
    assert_eq!(v["state"]["with_state"], serde_json::json!([]));
    assert_eq!(v["state"]["started_empty"], serde_json::json!(["h1"]));
    let o = place(&d, &["host.yaml"], &["b.yaml"]);
    assert!(
        stderr(&o).contains("state: 1 host(s) had state (h1); 0 started empty"),
        "{}",
        stderr(&o)
    );

    // A real apply of `b` gives what place --out wrote.
    let o = run(d
        .berth()
        .args(["apply", "-H", "host.yaml", "b.yaml", "--emit", "json"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let b: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(address_in(&b, "ipv6"), address_in(&written, "ipv6"));
}

#[test]
fn place_counts_a_hosts_held_names_from_its_state() {
    // `a` holds the pool's only free address on h1 (a /126 pool whose network
    // address and gateway are skipped): `b` fits nowhere, and says why.
    let d = Dir::new();
    d.write(
        "host.yaml",
        "berth: 1\nhost: h1\nprovides:\n  - network: mynet\n    subnet6: 2001:db8:6::/120\n    gateway6: 2001:db8:6::1\n  - ipv6: \"*\"\n    pool: 2001:db8:6::/126\n    network: mynet\n",
    );
    d.write(
        "a.yaml",
        "berth: 1\ncontainer: a\nneeds:\n  - ipv6: a\n  - ipv6: a2\n",
    );
    d.write("b.yaml", "berth: 1\ncontainer: b\nneeds:\n  - ipv6: b\n");
    let o = run(d.berth().args(["apply", "-H", "host.yaml", "a.yaml"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = place(&d, &["host.yaml"], &["b.yaml", "--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v = json(&o);
    assert!(host_of(&v, "b").is_null());
    assert_eq!(v["placements"][0]["reasons"][0]["reason"], "exhausted");
}

#[test]
fn place_finds_state_by_the_design_precedence() {
    // --state-dir > $BERTH_STATE_DIR > the manifest's state_dir.
    let d = Dir::new();
    let own = d.path().join("own-state");
    d.write(
        "host.yaml",
        &format!("{STATE_HOST}state_dir: {}\n", own.display()),
    );
    d.write("a.yaml", "berth: 1\ncontainer: a\nneeds:\n  - ipv6: a\n");
    d.write("b.yaml", "berth: 1\ncontainer: b\nneeds:\n  - ipv6: b\n");
    // apply follows the same rule: with no flag and no environment, the
    // manifest's state_dir.
    let mut cmd = d.berth();
    cmd.env_remove("BERTH_STATE_DIR");
    let o = run(cmd.args(["apply", "-H", "host.yaml", "a.yaml"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(own.join("h1.db").is_file());
    let with_state = |o: &std::process::Output| json(o)["state"]["with_state"].clone();
    // No flag, no environment: the manifest's state_dir.
    let mut cmd = d.berth();
    cmd.env_remove("BERTH_STATE_DIR");
    let o = run(cmd.args([
        "place",
        "--hosts",
        "host.yaml",
        "b.yaml",
        "--format",
        "json",
    ]));
    assert_eq!(with_state(&o), serde_json::json!(["h1"]), "{}", stderr(&o));
    // The environment wins over the manifest (an empty folder: empty hosts).
    let o = place(&d, &["host.yaml"], &["b.yaml", "--format", "json"]);
    assert_eq!(with_state(&o), serde_json::json!([]));
    // The flag wins over the environment.
    let o = place(
        &d,
        &["host.yaml"],
        &[
            "b.yaml",
            "--format",
            "json",
            "--state-dir",
            own.to_str().unwrap(),
        ],
    );
    assert_eq!(with_state(&o), serde_json::json!(["h1"]));
}

/// Output is rendered in chunks on all cores: across chunk edges it is one
/// document, in input order, a line per placed container and a report per
/// unplaced one; the JSON rows keep their sorted keys (the bytes `place`
/// always printed).
#[test]
fn output_across_render_chunks_is_whole_and_in_order() {
    let d = Dir::new();
    d.write("hosts.yaml", TWO_ZONES);
    let n = 9_000;
    let specs: String = (0..n)
        .map(|i| {
            let zone = if i % 1000 == 999 { "c" } else { "b" };
            format!(
                "berth: 1\ncontainer: c-{i:05}\nplacement: {{ zone: {zone} }}\nneeds: []\n---\n"
            )
        })
        .collect();
    d.write("specs.yaml", &specs);
    let o = place(&d, &["hosts.yaml"], &["specs.yaml", "--format", "json"]);
    assert_eq!(code(&o), 1);
    let text = stdout(&o);
    let v = json(&o);
    let rows = v["placements"].as_array().unwrap();
    assert_eq!(rows.len(), n);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["container"], format!("c-{i:05}"));
    }
    assert_eq!(v["unplaced"], 9);
    assert!(
        text.contains(r#"{"container":"c-00999","file":"specs.yaml","host":null,"line":4997,"reasons":[{"hosts":3,"key":"zone","reason":"label","value":"c"}]}"#),
        "{}",
        &text[..2000.min(text.len())]
    );
    assert!(text.contains(r#"{"container":"c-01000","host":"b-"#));

    let o = place(&d, &["hosts.yaml"], &["specs.yaml"]);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().map(|l| l.split(' ').next().unwrap()).collect();
    let placed: Vec<String> = (0..n)
        .filter(|i| i % 1000 != 999)
        .map(|i| format!("c-{i:05}"))
        .collect();
    assert_eq!(lines, placed);
    let err = stderr(&o);
    let reports: Vec<usize> = (0..n)
        .filter(|i| i % 1000 == 999)
        .map(|i| {
            err.find(&format!("container `c-{i:05}`"))
                .expect("reported")
        })
        .collect();
    assert!(
        reports.windows(2).all(|w| w[0] < w[1]),
        "in input order: {err}"
    );
}
