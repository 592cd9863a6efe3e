//! The trust boundary end to end (issue 11, docs/security.md): the built
//! binary against hostile specs and a tampered state folder. Each test is
//! named after the case it pins.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{code, run, stderr, stdout, Dir};

const OPEN_HOST: &str = "berth: 1
host: h
provides:
  - network: \"*\"
  - volume: data
    path: /srv/data
";

fn apply(dir: &Dir, spec: &str, extra: &[&str]) -> std::process::Output {
    run(dir
        .berth()
        .args(["apply", "-H", "host.yaml", spec])
        .args(extra))
}

#[test]
fn host_networking_by_name_is_not_planned_through_a_pattern() {
    let d = Dir::new();
    d.write("host.yaml", OPEN_HOST);
    d.write(
        "evil.yaml",
        "berth: 1\ncontainer: evil\nimage: x\nneeds:\n  - network: host\n",
    );
    let o = run(d
        .berth()
        .args(["plan", "-H", "host.yaml", "evil.yaml", "--format", "json"]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v["containers"][0]["unmet"][0]["reasons"][0]["reason"],
        "reserved-network"
    );
    let o = apply(&d, "evil.yaml", &["--emit", "docker"]);
    assert_eq!(code(&o), 1);
    assert!(!stdout(&o).contains("--network host"), "{}", stdout(&o));
    let err = stderr(&o).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(err.contains("engine-reserved network name"), "{err}");
}

#[test]
fn identity_is_self_declared_a_second_spec_of_app1_is_refused_without_replace() {
    let d = Dir::new();
    d.write("host.yaml", OPEN_HOST);
    d.write(
        "app1.yaml",
        "berth: 1\ncontainer: app1\nneeds:\n  - volume: data\n    mount: /d\n",
    );
    d.write("evil.yaml", "berth: 1\ncontainer: app1\nneeds: []\n");
    let o = apply(&d, "app1.yaml", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The state as the store holds it (docs/state.md: the JSON view).
    let state = || {
        serde_json::to_vec(
            &berth_engine::store::StateFile::new(d.path().join("state"), "h")
                .load_readonly()
                .unwrap(),
        )
        .unwrap()
    };
    let before = state();
    let o = apply(&d, "evil.yaml", &["--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["diagnostics"][0]["code"], "berth::apply::spec-changed");
    let msg = v["diagnostics"][0]["message"].as_str().unwrap();
    assert!(msg.contains("no longer needs `volume/data`"), "{msg}");
    assert_eq!(state(), before, "state untouched");
    // The operator means it: --replace.
    let o = apply(&d, "evil.yaml", &["--replace"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn place_json_prints_diagnostics_for_duplicate_names() {
    let d = Dir::new();
    d.write("host.yaml", OPEN_HOST);
    d.write(
        "specs.yaml",
        "berth: 1\ncontainer: twin\nneeds: []\n---\nberth: 1\ncontainer: twin\nneeds: []\n",
    );
    let o = run(d.berth().args([
        "place",
        "--hosts",
        "host.yaml",
        "specs.yaml",
        "--format",
        "json",
    ]));
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_str(&stdout(&o)).expect("JSON on stdout");
    let diags = v["diagnostics"].as_array().unwrap();
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0]["code"], "berth::place::duplicate-container");
    assert_eq!(diags[0]["line"], 6);
    assert_eq!(diags[0]["related"][0]["line"], 2);
}

#[test]
fn a_world_writable_state_folder_is_refused() {
    let d = Dir::new();
    d.write("host.yaml", OPEN_HOST);
    d.write("c.yaml", "berth: 1\ncontainer: c\nneeds: []\n");
    let folder = d.path().join("state");
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = apply(&d, "c.yaml", &["--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["error"]["code"], "berth::state::folder-writable");
    assert!(!folder.join("h.json").exists());
}

/// A FIFO at `name` in the state folder: apply refuses it at once, never
/// waits on it for a writer.
fn refuses_a_fifo_at(name: &str) {
    let d = Dir::new();
    d.write("host.yaml", OPEN_HOST);
    d.write("c.yaml", "berth: 1\ncontainer: c\nneeds: []\n");
    let folder = d.path().join("state");
    std::fs::create_dir(&folder).unwrap();
    let fifo = folder.join(name);
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let start = Instant::now();
    let o = apply(&d, "c.yaml", &["--format", "json"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(code(&o), 1, "{name}: {}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["error"]["code"], "berth::state::io");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not a regular file"));
}

#[test]
fn a_fifo_in_place_of_the_state_file_is_refused_not_waited_on() {
    refuses_a_fifo_at("h.json");
}

#[test]
fn a_fifo_in_place_of_the_store_or_its_log_is_refused_not_waited_on() {
    refuses_a_fifo_at("h.db");
    refuses_a_fifo_at("h.db-wal");
}

#[test]
fn a_symlink_in_place_of_the_store_is_refused_and_its_target_untouched() {
    let d = Dir::new();
    d.write("host.yaml", OPEN_HOST);
    d.write("c.yaml", "berth: 1\ncontainer: c\nneeds: []\n");
    let folder = d.path().join("state");
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = d.write("victim.txt", "precious\n");
    std::os::unix::fs::symlink(&victim, folder.join("h.db")).unwrap();
    let o = apply(&d, "c.yaml", &["--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["error"]["code"], "berth::state::io");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn a_symlink_planted_at_the_old_temp_name_is_not_followed() {
    let d = Dir::new();
    d.write("host.yaml", OPEN_HOST);
    d.write("c.yaml", "berth: 1\ncontainer: c\nneeds: []\n");
    let folder = d.path().join("state");
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = d.write("victim.txt", "precious\n");
    std::os::unix::fs::symlink(&victim, folder.join(".h.json.tmp")).unwrap();
    let o = apply(&d, "c.yaml", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let state: Value = serde_json::to_value(
        berth_engine::store::StateFile::new(&folder, "h")
            .load_readonly()
            .unwrap(),
    )
    .unwrap();
    assert!(state["holdings"]["c"]["spec_digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
}

#[test]
fn run_image_other_is_checked_against_allow_image_patterns() {
    let d = Dir::new();
    d.write(
        "host.yaml",
        "berth: 1\nhost: h\nprovides:\n  - volume: data\n    path: /srv/data\n    allow: [\"image:example/*\"]\n",
    );
    d.write(
        "c.yaml",
        "berth: 1\ncontainer: c\nimage: example/web:1\nneeds:\n  - volume: data\n    mount: /d\n",
    );
    let dry = |extra: &[&str]| {
        run(d
            .berth()
            .args(["run", "-H", "host.yaml", "c.yaml", "--dry-run"])
            .args(extra))
    };
    let o = dry(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The spec's image is allowed; the one --image would start is not.
    let o = dry(&["--image", "evil/other:1"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(stderr(&o).contains("image:example/*"), "{}", stderr(&o));
    assert!(!stdout(&o).contains("evil/other"), "{}", stdout(&o));
}
