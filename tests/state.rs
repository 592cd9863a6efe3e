//! The state file seen from the command line: corrupt files (a copy kept by
//! every command that locks), semantically wrong files, the state folder from
//! the environment, and the JSON shapes of state errors.

use std::path::Path;

use crate::util::{code, run, stderr, stdout, Dir};

/// A host `h` providing volume `data`, and container `c` needing it.
fn fixture() -> Dir {
    let dir = Dir::new();
    dir.write(
        "host.yaml",
        "berth: 1\nhost: h\nprovides:\n  - volume: data\n    path: /srv/data\n",
    );
    dir.write(
        "c/berth.yaml",
        "berth: 1\ncontainer: c\nneeds:\n  - volume: data\n    mount: /data\n",
    );
    dir
}

/// The `.corrupt-` copies beside the state file.
fn copies(state_dir: &Path) -> Vec<String> {
    std::fs::read_dir(state_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".corrupt-"))
        .collect()
}

/// stderr with miette's wrapping undone (margins dropped, whitespace
/// collapsed), for substring checks that do not depend on the temp path.
fn flat(o: &std::process::Output) -> String {
    stderr(o)
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

const CORRUPT: &str = r#"{"berth_state":1,"host":"h","holdings":"x","reservations":{},"provided":{},"pending_releases":[]}"#;

#[test]
fn release_keeps_a_copy_of_a_corrupt_state_file() {
    let dir = fixture();
    let path = dir.write("state/h.json", CORRUPT);
    let o = run(dir.berth().args(["release", "-H", "host.yaml", "c"]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = flat(&o);
    assert!(err.contains("berth::state::corrupt"), "{err}");
    assert!(err.contains("a copy was kept"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), CORRUPT);
    let kept = copies(&dir.path().join("state"));
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].starts_with("h.json.corrupt-"), "{kept:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("state").join(&kept[0])).unwrap(),
        CORRUPT
    );
    // Again on the same bytes: the same copy is reused.
    let o = run(dir.berth().args(["release", "-H", "host.yaml", "c"]));
    assert_eq!(code(&o), 1);
    assert_eq!(copies(&dir.path().join("state")), kept);
}

/// A host with an IPv6 pool, and container `c` needing an address from it.
fn pool_fixture() -> Dir {
    let dir = Dir::new();
    dir.write(
        "host.yaml",
        "berth: 1\nhost: h\nprovides:\n  - network: n\n    subnet6: 2001:db8::/64\n    gateway6: 2001:db8::1\n  - ipv6: \"*\"\n    pool: 2001:db8::100/120\n    network: n\n",
    );
    dir.write(
        "c/berth.yaml",
        "berth: 1\ncontainer: c\nneeds:\n  - ipv6: c\n",
    );
    dir
}

#[test]
fn a_state_file_that_parses_but_means_nothing_is_corrupt() {
    let dir = pool_fixture();
    let apply = run(dir
        .berth()
        .args(["apply", "-H", "host.yaml", "c/berth.yaml"]));
    assert_eq!(code(&apply), 0, "{}", stderr(&apply));
    // Edited as a JSON state file, which berth migrates on its next run.
    let path = dir.path().join("state/h.json");
    let store = berth_engine::store::StateFile::new(dir.path().join("state"), "h");
    let mut v = serde_json::to_value(store.load_readonly().unwrap()).unwrap();
    v["reservations"]["ipv6/c"]["value"] = serde_json::json!("garbage");
    let edited = serde_json::to_vec_pretty(&v).unwrap();
    std::fs::write(&path, &edited).unwrap();
    let want = "`reservations.ipv6/c.value` is `garbage`, not an IPv6 address";
    for cmd in ["plan", "status"] {
        let mut c = dir.berth();
        c.args([cmd, "-H", "host.yaml"]);
        if cmd == "plan" {
            c.arg("c/berth.yaml");
        }
        let o = run(&mut c);
        assert_eq!(code(&o), 1, "{cmd}");
        let err = flat(&o);
        assert!(err.contains("berth::state::corrupt"), "{cmd}: {err}");
        assert!(!err.contains("need::unmet"), "{cmd}: {err}");
        assert!(err.contains(want), "{cmd}: {err}");
    }
    assert!(copies(&dir.path().join("state")).is_empty());
    let o = run(dir.berth().args(["release", "-H", "host.yaml", "c"]));
    assert_eq!(code(&o), 1);
    let err = flat(&o);
    assert!(
        err.contains(want) && err.contains("a copy was kept"),
        "{err}"
    );
    assert_eq!(copies(&dir.path().join("state")).len(), 1);
    assert_eq!(std::fs::read(&path).unwrap(), edited);
}

#[test]
fn plan_and_status_json_report_state_errors_as_diagnostics() {
    let dir = fixture();
    dir.write("state/h.json", CORRUPT);
    for (cmd, key) in [("plan", "satisfied"), ("status", "ok")] {
        let mut c = dir.berth();
        c.args([cmd, "-H", "host.yaml", "--format", "json"]);
        if cmd == "plan" {
            c.arg("c/berth.yaml");
        }
        let o = run(&mut c);
        assert_eq!(code(&o), 1, "{cmd}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
        let obj = v.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        let mut want = vec![key, "diagnostics"];
        want.sort();
        assert_eq!(keys, want, "{cmd}: {v:#}");
        assert_eq!(v[key], false, "{cmd}");
        let d = &v["diagnostics"];
        assert_eq!(d.as_array().unwrap().len(), 1, "{cmd}: {v:#}");
        assert_eq!(d[0]["code"], "berth::state::corrupt", "{cmd}");
        assert_eq!(d[0]["severity"], "error");
        let file = dir.path().join("state/h.json");
        assert_eq!(d[0]["file"], file.display().to_string());
        assert!(
            d[0]["message"].as_str().unwrap().contains("is corrupt"),
            "{cmd}: {v:#}"
        );
        assert!(d[0]["help"].as_str().unwrap().contains("never overwrites"));
        assert_eq!(d[0]["line"], serde_json::Value::Null);
    }
    assert!(copies(&dir.path().join("state")).is_empty());
}

#[test]
fn a_container_named_twice_is_released_once() {
    let dir = fixture();
    let apply = run(dir
        .berth()
        .args(["apply", "-H", "host.yaml", "c/berth.yaml"]));
    assert_eq!(code(&apply), 0, "{}", stderr(&apply));
    let o = run(dir.berth().args(["release", "-H", "host.yaml", "c", "c"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "released container `c`\n");
    assert!(!stderr(&o).contains("holds nothing"), "{}", stderr(&o));
    // Nothing held: one line for the name, not two.
    let o = run(dir.berth().args(["release", "-H", "host.yaml", "c", "c"]));
    assert_eq!(code(&o), 0);
    assert_eq!(stderr(&o).matches("nothing held by `c`").count(), 1);
}

#[test]
fn an_empty_state_dir_variable_counts_as_unset() {
    let dir = Dir::new();
    // A host name no real state folder holds: status only reads.
    dir.write(
        "host.yaml",
        "berth: 1\nhost: berth-e2e-empty-state-dir\nprovides: []\n",
    );
    let o = run(dir.berth().env("BERTH_STATE_DIR", "").args([
        "status",
        "-H",
        "host.yaml",
        "--format",
        "json",
    ]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["state_file"],
        "/var/lib/berth/berth-e2e-empty-state-dir.db"
    );
    assert!(!dir.path().join("berth-e2e-empty-state-dir.db").exists());
}

/// A state with one of each line `berth status` prints: pool, static and
/// provider-made holdings (a number and a flag among the values), held,
/// released and never-held reservations, a provider record and a pending
/// release.
const EVERY_LINE: &str = r#"{"berth_state": 1, "host": "h",
 "holdings": {
  "db": {"spec_digest": "sha256:01", "bindings": [
   {"kind": "volume", "name": "data", "source": "provides", "provide": "data", "exclusive": false,
    "value": {"read_only": true, "path": "/srv/data"}}]},
  "app": {"spec_digest": "sha256:02", "bindings": [
   {"kind": "ipv6", "name": "app", "source": "pool", "provide": "*", "exclusive": true,
    "value": {"network": "net", "address": "2001:db8::101"}},
   {"kind": "port", "name": "web", "source": "provides", "provide": "web", "exclusive": true,
    "value": {"host_port": 8080}},
   {"kind": "volume", "name": "nfs-media", "source": "provider", "provide": "nfs-*", "exclusive": false,
    "value": {"path": "/srv/v/nfs-media"}}]}},
 "reservations": {
  "ipv6/old": {"kind": "ipv6", "name": "old", "pool": "2001:db8::100/120", "value": "2001:db8::102",
               "holder": null, "last_holder": "gone", "last_digest": "sha256:03"},
  "ipv6/app": {"kind": "ipv6", "name": "app", "pool": "2001:db8::100/120", "value": "2001:db8::101",
               "holder": "app", "last_holder": "app"},
  "ipv6/new": {"kind": "ipv6", "name": "new", "pool": "2001:db8::100/120", "value": "2001:db8::103",
               "holder": null}},
 "provided": {
  "volume/nfs-media": {"kind": "volume", "name": "nfs-media", "run": ["bundled/dir-volume", "--base", "/srv/v"],
                       "provided": {"path": "/srv/v/nfs-media"}, "users": ["app"]}},
 "pending_releases": [
  {"kind": "volume", "name": "lost", "run": ["bundled/dir-volume", "--base", "/srv/v"],
   "provided": null, "users": ["gone"]}]}"#;

#[test]
fn status_prints_every_line_of_a_state_as_before() {
    let dir = fixture();
    dir.write("state/h.json", EVERY_LINE);
    let store = dir.path().join("state/h.db").display().to_string();
    let o = run(dir.berth().args(["status", "-H", "host.yaml"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let want = format!(
        "host h (state file {store})
holdings: 2
  app
    ipv6 `app` <- pool `*`: address=2001:db8::101 network=net
    port `web` <- provides `web`: host_port=8080
    volume `nfs-media` <- provider `nfs-*`: path=/srv/v/nfs-media
  db
    volume `data` <- provides `data`: path=/srv/data read_only=true
reservations: 3
  ipv6/app = 2001:db8::101 from pool 2001:db8::100/120 (held by app)
  ipv6/new = 2001:db8::103 from pool 2001:db8::100/120 (free)
  ipv6/old = 2001:db8::102 from pool 2001:db8::100/120 (free (last held by gone))
provided: 1
  volume/nfs-media by bundled/dir-volume --base /srv/v: path=/srv/v/nfs-media (users: app)
pending releases: 1 (retried by the next `berth release`; `berth release --forget KIND/NAME` drops one that cannot succeed)
  volume/lost by bundled/dir-volume --base /srv/v
"
    );
    assert_eq!(stdout(&o), want);
    // The JSON view: the state with `state_file`, keys sorted at every
    // level, indented (what copying the state into a `serde_json::Value`
    // printed).
    let o = run(dir
        .berth()
        .args(["status", "-H", "host.yaml", "--format", "json"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut v: serde_json::Value = serde_json::from_str(EVERY_LINE).unwrap();
    v["state_file"] = serde_json::json!(store);
    assert_eq!(
        stdout(&o),
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap())
    );
}
