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

/// A scratch folder for spec `c.yaml` on the open host whose private state
/// folder holds, at `name`, a symbolic link to `victim.txt` ("precious").
fn link_in_state_folder(name: &str) -> (Dir, std::path::PathBuf) {
    let d = Dir::new();
    d.write("host.yaml", OPEN_HOST);
    d.write("c.yaml", "berth: 1\ncontainer: c\nneeds: []\n");
    let folder = d.path().join("state");
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = d.write("victim.txt", "precious\n");
    std::os::unix::fs::symlink(&victim, folder.join(name)).unwrap();
    (d, victim)
}

#[test]
fn a_symlink_in_place_of_the_store_is_refused_and_its_target_untouched() {
    let (d, victim) = link_in_state_folder("h.db");
    let o = apply(&d, "c.yaml", &["--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["error"]["code"], "berth::state::io");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn a_symlink_planted_at_the_old_temp_name_is_not_followed() {
    let (d, victim) = link_in_state_folder(".h.json.tmp");
    let o = apply(&d, "c.yaml", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let state = crate::util::state_json(&d.path().join("state"), "h").expect("state");
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

/// A need spec whose `needs:` holds `n` empty items: `n` diagnostics.
fn many_mistakes(container: &str, n: usize) -> String {
    format!(
        "berth: 1\ncontainer: {container}\nneeds:\n{}",
        "  -\n".repeat(n)
    )
}

#[test]
fn diagnostics_cannot_exhaust_ci_check_shows_the_first_and_counts_the_rest() {
    let d = Dir::new();
    d.write("many.yaml", &many_mistakes("x", 5_000));
    let o = run(d.berth().args(["check", "--format", "json", "many.yaml"]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("one JSON document");
    assert_eq!(v["diagnostics"].as_array().unwrap().len(), 100);
    assert_eq!(v["diagnostics"][99]["line"], 103);
    assert_eq!(v["errors"], 5_000, "totals count what was left out");
    assert_eq!(v["omitted"], 4_900);
    assert_eq!(
        v["omitted_files"],
        serde_json::json!([{"file": "many.yaml", "omitted": 4_900, "errors": 4_900, "warnings": 0}])
    );

    let o = run(d.berth().args(["check", "many.yaml"]));
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert_eq!(
        err.matches("berth::format::wrong-type").count(),
        100,
        "{err}"
    );
    assert!(
        err.contains("... and 4,900 more diagnostics in many.yaml (4,900 errors), not shown"),
        "{err}"
    );
    assert!(err.contains(": 5000 errors, 0 warnings"), "{err}");

    // `berth label` loads the same way.
    let o = run(d.berth().args(["label", "many.yaml"]));
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert_eq!(err.matches("berth::format::wrong-type").count(), 100);
    assert!(
        err.contains("... and 4,900 more diagnostics in many.yaml"),
        "{err}"
    );

    // Per run: --max-diagnostics, counted against each file.
    d.write("more.yaml", &many_mistakes("y", 60));
    let o = run(d.berth().args([
        "check",
        "--format",
        "json",
        "--max-diagnostics",
        "130",
        "many.yaml",
        "more.yaml",
    ]));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let files: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 130);
    assert_eq!(files.iter().filter(|f| **f == "more.yaml").count(), 30);
    assert_eq!(v["errors"], 5_060);
    assert_eq!(v["omitted"], 4_900 + 30);
    assert_eq!(v["omitted_files"][1]["file"], "more.yaml");
    assert_eq!(v["omitted_files"][1]["omitted"], 30);
}

#[test]
fn diagnostics_cannot_exhaust_ci_plan_and_place_cap_them_too() {
    let d = Dir::new();
    d.write("host.yaml", OPEN_HOST);
    d.write("many.yaml", &many_mistakes("x", 3_000));
    let o = run(d
        .berth()
        .args(["plan", "-H", "host.yaml", "many.yaml", "--format", "json"]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["satisfied"], false);
    assert_eq!(v["diagnostics"].as_array().unwrap().len(), 100);
    assert_eq!(v["omitted"], 2_900);

    // A host file of mistakes given to place (a 32 MiB one once took 21 GB).
    let mut host = String::from("berth: 1\nhost: big\nprovides:\n");
    host.push_str(&"  -\n".repeat(3_000));
    d.write("fleet.yaml", &host);
    d.write("web.yaml", "berth: 1\ncontainer: web\n");
    let o = run(d.berth().args([
        "place",
        "--hosts",
        "fleet.yaml",
        "web.yaml",
        "--format",
        "json",
    ]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["diagnostics"].as_array().unwrap().len(), 100);
    assert_eq!(v["omitted"], 2_900);
    let o = run(d
        .berth()
        .args(["place", "--hosts", "fleet.yaml", "web.yaml"]));
    let err = stderr(&o);
    assert!(
        err.contains("... and 2,900 more diagnostics in fleet.yaml"),
        "{err}"
    );
}

/// A file of `size` bytes that starts with `head` (the rest is a hole: the
/// size rule refuses it by its size, before reading).
fn sized(d: &Dir, rel: &str, head: &str, size: u64) -> std::path::PathBuf {
    let p = d.write(rel, head);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(size)
        .unwrap();
    p
}

const OVER: u64 = 16 * 1024 * 1024 + 1;

#[test]
fn every_command_reading_a_user_file_refuses_oversize_input_with_a_stable_code() {
    let d = Dir::new();
    d.write("host.yaml", OPEN_HOST);
    d.write("web.yaml", "berth: 1\ncontainer: web\nimage: x\n");
    sized(&d, "big-host.yaml", "berth: 1\nhost: h\n", OVER);
    sized(&d, "big-spec.yaml", "berth: 1\ncontainer: big\n", OVER);
    sized(
        &d,
        "big-fleet.yaml",
        "berth: 1\nhost: h\n",
        256 * 1024 * 1024 + 1,
    );
    sized(&d, "Dockerfile", "FROM scratch\n", OVER);
    let runs: Vec<Vec<&str>> = vec![
        vec!["check", "big-spec.yaml"],
        vec!["check", "Dockerfile"],
        vec!["plan", "-H", "big-host.yaml", "web.yaml"],
        vec!["plan", "-H", "host.yaml", "big-spec.yaml"],
        vec!["apply", "-H", "big-host.yaml", "web.yaml"],
        vec!["apply", "-H", "host.yaml", "big-spec.yaml"],
        vec!["run", "--dry-run", "-H", "host.yaml", "big-spec.yaml"],
        vec!["status", "-H", "big-host.yaml"],
        vec!["release", "-H", "big-host.yaml", "web"],
        vec!["hosts", "show", "-H", "big-host.yaml"],
        vec!["label", "big-spec.yaml"],
        vec!["place", "--hosts", "big-fleet.yaml", "web.yaml"],
        vec!["place", "--hosts", "host.yaml", "big-fleet.yaml"],
        vec!["export", "nomad", "--hosts", "big-fleet.yaml", "web.yaml"],
    ];
    for args in runs {
        let o = run(d.berth().args(&args));
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("berth::file::too-large"), "{args:?}: {err}");
        assert!(err.contains("more than the limit of"), "{args:?}: {err}");
    }

    // `berth label` once read its file whole, whatever it was: /dev/zero
    // ran until memory was gone.
    let o = run(d.berth().args(["label", "/dev/zero"]));
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));

    // stdin, `check -`: never more than the limit is read.
    let mut child = d
        .berth()
        .args(["check", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let chunk = "  -\n".repeat(1 << 16);
        for _ in 0..(OVER as usize / chunk.len() + 2) {
            if stdin.write_all(chunk.as_bytes()).is_err() {
                break; // berth stopped reading at the limit
            }
        }
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("berth::file::too-large"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_foreign_json_file_over_the_limit_in_a_folder_is_skipped_a_berth_one_fails() {
    let d = Dir::new();
    d.write("repo/web/berth.yaml", "berth: 1\ncontainer: web\n");
    sized(
        &d,
        "repo/package-lock.json",
        "{\n  \"name\": \"site\",\n  \"lockfileVersion\": 3,\n  \"packages\": {",
        OVER,
    );
    let o = run(d.berth().args(["check", "--format", "json", "repo"]));
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["skipped_files"][0]["file"], "repo/package-lock.json");
    assert!(v["skipped_files"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("larger than the size limit"));

    // Shaped like berth at its start, or named like berth: a failure.
    sized(
        &d,
        "repo/fleet.json",
        "{\"berth\": 1, \"host\": \"a\", \"provides\": [",
        OVER,
    );
    sized(&d, "repo/api/berth.yml", "# the api\n", OVER);
    let o = run(d.berth().args(["check", "--format", "json", "repo"]));
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let failed: Vec<(&str, &str)> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["file"].as_str().unwrap(), d["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failed,
        [
            ("repo/api/berth.yml", "berth::file::too-large"),
            ("repo/fleet.json", "berth::file::too-large")
        ]
    );
}

#[test]
fn an_lxc_refusal_leaves_the_state_unchanged() {
    // A network served by a pattern without `bridge:` would let the spec pick
    // the LXC bridge: refused, and (once only after recording the holding)
    // before anything is applied.
    let d = Dir::new();
    d.write("host.yaml", OPEN_HOST);
    d.write(
        "first.yaml",
        "berth: 1\ncontainer: first\nneeds:\n  - volume: data\n    mount: /d\n",
    );
    d.write(
        "lxc.yaml",
        "berth: 1\ncontainer: guest\nneeds:\n  - volume: data\n    mount: /d\n  - network: lan\n",
    );
    let o = apply(&d, "first.yaml", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let state = d.path().join("state");
    let before = crate::util::state_json(&state, "h").expect("state");
    let o = apply(&d, "lxc.yaml", &["--emit", "lxc", "--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["diagnostics"][0]["code"], "berth::emit::lxc-value");
    let msg = v["diagnostics"][0]["message"].as_str().unwrap();
    assert!(msg.contains("nothing was applied"), "{msg}");
    assert_eq!(
        crate::util::state_json(&state, "h"),
        Some(before),
        "state unchanged"
    );
    let o = run(d
        .berth()
        .args(["status", "-H", "host.yaml", "--format", "json"]));
    assert!(!stdout(&o).contains("guest"), "{}", stdout(&o));
}

#[test]
fn a_value_a_provider_printed_that_lxc_cannot_write_was_refused_after_it_was_recorded() {
    // The provider makes `net-longer-than-15` with no `bridge:`, so the LXC
    // link would be the network's 18-byte name: known only once the provider
    // has run, refused then, and rolled back before anything is recorded.
    use std::os::unix::fs::PermissionsExt;
    let d = Dir::new();
    let mknet = d.write(
        "mknet",
        "#!/bin/sh\ncat >/dev/null\necho \"$BERTH_OP $BERTH_NAME\" >> calls.log\ncase $BERTH_OP in\n  provide) echo '{}' ;;\nesac\n",
    );
    std::fs::set_permissions(&mknet, std::fs::Permissions::from_mode(0o755)).unwrap();
    d.write(
        "host.yaml",
        "berth: 1\nhost: h\nproviders:\n  - network: \"net-*\"\n    run: [./mknet]\n",
    );
    d.write(
        "guest.yaml",
        "berth: 1\ncontainer: guest\nneeds:\n  - network: net-longer-than-15\n",
    );
    let o = apply(&d, "guest.yaml", &["--emit", "lxc", "--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["diagnostics"][0]["code"], "berth::emit::lxc-value");
    let msg = v["diagnostics"][0]["message"].as_str().unwrap();
    assert!(msg.contains("`net-longer-than-15` is 18 bytes"), "{msg}");
    assert!(msg.contains("nothing was applied"), "{msg}");
    // What the provider made was released again, and nothing is recorded.
    let calls = std::fs::read_to_string(d.path().join("calls.log")).unwrap();
    assert_eq!(
        calls,
        "provide net-longer-than-15\nrelease net-longer-than-15\n"
    );
    if let Some(state) = crate::util::state_json(&d.path().join("state"), "h") {
        assert_eq!(state["holdings"], serde_json::json!({}), "{state:#}");
        assert_eq!(state["provided"], serde_json::json!({}), "{state:#}");
        assert_eq!(
            state["pending_releases"],
            serde_json::json!([]),
            "{state:#}"
        );
    }
    // The same apply printing a line it can write goes through.
    let o = apply(&d, "guest.yaml", &["--emit", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}
