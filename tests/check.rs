//! `berth check` and `berth schema` end to end: the bundled examples pass, every
//! mistake of a file is reported with its line, folders are walked like a repo
//! in CI (foreign YAML skipped and counted), JSON output for tools, warnings
//! and `--deny-warnings`, `--live`, size limits, and the JSON Schemas.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::util::{berth_bin, code, repo_root, run, stderr, stdout, Dir};

/// `berth check ARGS` run from the repository root, so paths in the output are
/// the relative ones given.
fn check(args: &[&str]) -> Output {
    let mut c = Command::new(berth_bin());
    c.current_dir(repo_root())
        .env("NO_COLOR", "1")
        .arg("check")
        .args(args);
    run(&mut c)
}

const FIXTURES: &str = "tests/fixtures/check";

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

/// The stderr without trailing spaces (miette pads some lines).
fn report(o: &Output) -> String {
    stderr(o)
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn bundled_examples_pass() {
    let o = check(&["specs/examples/"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "checked 4 documents in 4 files, skipped 0 non-berth documents: 0 errors, 0 warnings"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn five_mistakes_are_all_reported_with_their_lines() {
    let o = check(&[&fixture("five-mistakes.yaml")]);
    assert_eq!(code(&o), 1);
    let text = report(&o);
    for (code, line) in [
        ("berth::format::invalid-container-name", 3),
        ("berth::need::unknown-kind", 5),
        ("berth::need::bad-mount", 7),
        ("berth::need::bad-port", 9),
        ("berth::format::unknown-key", 11),
    ] {
        assert!(text.contains(code), "{code} missing:\n{text}");
        let place = format!("[{}:{line}:", fixture("five-mistakes.yaml"));
        assert!(text.contains(&place), "{place} missing:\n{text}");
    }
    assert!(
        text.contains("1 document in 1 file, skipped 0 non-berth documents: 5 errors, 0 warnings")
    );
    insta::assert_snapshot!("check_five_mistakes", text);
}

/// The host cross-checks (gateway, duplicate address) ran only when the
/// document had no other error: here they hid behind `colour:` and `run: []`.
#[test]
fn host_cross_checks_vanished_beside_other_errors() {
    let o = check(&[&fixture("host-four-mistakes.yaml")]);
    assert_eq!(code(&o), 1);
    let text = report(&o);
    for code in [
        "berth::format::unknown-key",
        "berth::host::gateway-outside-subnet",
        "berth::host::duplicate-address",
        "berth::host::empty-run",
    ] {
        assert!(text.contains(code), "{code} missing:\n{text}");
    }
    assert!(text.contains(": 4 errors, 0 warnings"), "{text}");
}

/// `berth check f.yaml` on a FIFO waited forever for a writer.
#[test]
fn fifo_named_on_the_command_line_hung_check() {
    let dir = Dir::new();
    let fifo = dir.path().join("f.yaml");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let mut child = dir
        .berth()
        .args(["check", "f.yaml"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // On a regression berth never exits: kill it and fail instead of hanging.
    let mut waited = 0;
    while child.try_wait().unwrap().is_none() {
        if waited == 600 {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("berth check hung on a FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 1);
    let text = stderr(&o);
    assert!(text.contains("berth::io::read"), "{text}");
    assert!(text.contains("not a regular file (it is a FIFO)"), "{text}");
}

#[test]
fn volum_says_did_you_mean_volume_with_the_line() {
    let o = check(&[&fixture("volum.yaml")]);
    assert_eq!(code(&o), 1);
    let text = report(&o);
    assert!(text.contains("did you mean `volume`?"), "{text}");
    assert!(
        text.contains(&format!("[{}:4:5]", fixture("volum.yaml"))),
        "{text}"
    );
    assert!(text.contains(" 4 │   - volum: data"), "{text}");
}

#[test]
fn json_format_gives_every_diagnostic_as_data() {
    let o = check(&[
        "--format",
        "json",
        &fixture("five-mistakes.yaml"),
        &fixture("volum.yaml"),
    ]);
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_str(&stdout(&o)).expect("stdout is JSON");
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"], 6);
    assert_eq!(v["files"], 2);
    let d = &v["diagnostics"][5];
    assert_eq!(d["code"], "berth::need::unknown-kind");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], fixture("volum.yaml"));
    assert_eq!(d["line"], 4);
    assert_eq!(d["column"], 5);
    assert_eq!(d["message"], "unknown kind `volum`");
    assert_eq!(d["help"], "did you mean `volume`?");
    for d in v["diagnostics"].as_array().unwrap() {
        for key in [
            "code", "severity", "file", "line", "column", "message", "help",
        ] {
            assert!(d.get(key).is_some(), "{key} missing in {d}");
        }
    }
}

#[test]
fn a_folder_is_walked_like_a_repository() {
    let dir = Dir::new();
    dir.write(
        ".github/workflows/ci.yml",
        "name: CI\non: [push]\njobs: {}\n",
    );
    dir.write(
        "k8s/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\n---\napiVersion: v1\nkind: Service\n",
    );
    dir.write(
        "chart/templates/cm.yaml",
        "kind: ConfigMap\ndata:\n  {{- range .Values.items }}\n  {{ . }}: x\n  {{- end }}\n",
    );
    dir.write("web/Dockerfile", "FROM scratch\n");
    dir.write(
        "web/berth.yaml",
        "berth: 1\ncontainer: web\nneeds:\n  - volume: pages\n    mount: /var/www\n",
    );
    dir.write(
        "hosts/web-01.yml",
        "berth: 1\nhost: web-01\nprovides:\n  - volume: pages\n    path: /srv/pages\n",
    );
    // Build output and VCS internals are never read, and files that are not
    // YAML are not berth files.
    dir.write("target/debug/broken.yaml", "berth: 1\ncontainer: [\n");
    dir.write(".git/config.yaml", "berth: 1\nhost: [\n");
    dir.write("notes.txt", "berth: 1\n");
    let o = run(dir.berth().args(["check", "."]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "checked 2 documents in 5 files, skipped 4 non-berth documents: 0 errors, 0 warnings"
        ),
        "{}",
        stderr(&o)
    );

    // A berth file with a mistake in the folder fails the run.
    dir.write(
        "api/berth.yaml",
        "berth: 1\ncontainer: api\nneeds:\n  - volum: x\n",
    );
    let o = run(dir.berth().args(["check", "."]));
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("berth::need::unknown-kind"));

    // A file named on the command line is always a berth file.
    let o = run(dir.berth().args(["check", "k8s/deploy.yaml"]));
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("berth::format::version-missing"),
        "{}",
        stderr(&o)
    );
}

/// `check` and `place` read a folder through one walker: the JSON fleet that
/// `place --hosts fleet/` loads is checked too, and foreign JSON (a
/// `package.json`) is skipped and counted like foreign YAML.
#[test]
fn check_reads_the_files_place_reads_from_a_folder() {
    let dir = Dir::new();
    dir.write(
        "fleet/hosts.json",
        r#"[{"berth": 1, "host": "j-1", "provides": [{"volume": "data", "path": "/srv/data"}]}]"#,
    );
    dir.write(
        "fleet/package.json",
        r#"{"name": "tools", "version": "1.0.0"}"#,
    );
    dir.write(
        "apps/a.yaml",
        "berth: 1\ncontainer: a\nneeds:\n  - volume: data\n    mount: /data\n",
    );
    let o = run(dir.berth().args(["check", "fleet", "apps"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "checked 2 documents in 3 files, skipped 1 non-berth document: 0 errors, 0 warnings"
        ),
        "{}",
        stderr(&o)
    );
    // `place` loads every file of its folders as berth files (no foreign
    // documents in a fleet): without the package.json it reads the same two.
    std::fs::remove_file(dir.path().join("fleet/package.json")).unwrap();
    let o = run(dir.berth().args(["place", "--hosts", "fleet", "apps"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // A mistake in the JSON fleet fails the check, with its code.
    dir.write(
        "fleet/hosts.json",
        r#"[{"berth": 1, "host": "j-1", "provides": [{"volum": "data", "path": "/srv/data"}]}]"#,
    );
    let o = run(dir.berth().args(["check", "fleet", "apps"]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("berth::host::unknown-kind"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn warnings_pass_unless_denied() {
    let f = fixture("static-in-pool.yaml");
    let o = check(&[&f]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("berth::host::static-in-pool"));
    assert!(stderr(&o).contains("0 errors, 1 warning"), "{}", stderr(&o));
    let o = check(&["--deny-warnings", &f]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("(warnings denied)"), "{}", stderr(&o));
}

#[test]
fn json_files_are_checked_when_named() {
    let o = check(&["--format", "json", &fixture("fleet.json")]);
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["documents"], 2);
    assert_eq!(v["diagnostics"][0]["code"], "berth::host::bad-path");
    assert_eq!(v["diagnostics"][0]["line"], 3);
}

#[test]
fn size_limit_and_missing_files() {
    let o = check(&["--max-file-size", "100", "specs/examples/seed/host.yaml"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("berth::file::too-large"),
        "{}",
        stderr(&o)
    );
    let dir = Dir::new();
    dir.write("empty.yaml", "# nothing yet\n");
    let o = run(dir.berth().args(["check", "empty.yaml"]));
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("empty.yaml: the file holds no document"),
        "{}",
        stderr(&o)
    );
    let o = check(&["no/such/file.yaml"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("berth::io::read"), "{}", stderr(&o));
    assert!(stderr(&o).contains("no/such/file.yaml"), "{}", stderr(&o));
}

#[test]
fn live_checks_look_at_this_host() {
    let dir = Dir::new();
    let host = |volume: &Path, secret: &Path| {
        format!(
            "berth: 1\nhost: h\nprovides:\n  - volume: pages\n    path: {}\n  - secret: db\n    file: {}\nproviders:\n  - volume: \"nfs-*\"\n    run: [./make-volume]\n",
            volume.display(),
            secret.display()
        )
    };
    let volume = dir.path().join("pages");
    let secret = dir.path().join("db-secret");
    dir.write("host.yaml", &host(&volume, &secret));
    // Statically fine.
    let o = run(dir.berth().args(["check", "host.yaml"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Live: nothing exists yet.
    let o = run(dir
        .berth()
        .args(["check", "--live", "--format", "json", "host.yaml"]));
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let codes: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "berth::live::missing",
            "berth::live::missing",
            "berth::live::provider-missing"
        ]
    );
    // Make them exist, the secret world-readable.
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir(&volume).unwrap();
    std::fs::write(&secret, "s3cret").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let script = dir.write("make-volume", "#!/bin/sh\nexit 0\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = run(dir.berth().args(["check", "--live", "host.yaml"]));
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("berth::live::secret-world-readable"),
        "{}",
        stderr(&o)
    );
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = run(dir.berth().args(["check", "--live", "host.yaml"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn alias_bombs_are_refused() {
    let dir = Dir::new();
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..40 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    dir.write("bomb.yaml", &text);
    let o = run(dir.berth().args(["check", "bomb.yaml"]));
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("berth::yaml::alias-limit"),
        "{}",
        stderr(&o)
    );
}

/// Runs berth with its address space limited to `limit` bytes
/// (`RLIMIT_AS`, set in the child before `exec`): an allocation beyond it
/// fails and berth aborts, so the run proves berth's memory stayed below.
/// A limit rather than a measure: `wait4`'s `ru_maxrss` would include this
/// test process's own peak (the kernel folds the spawner's peak in at
/// `exec`). One rayon thread pool of two and two malloc arenas keep the
/// address space that is reserved but unused small on any machine.
fn run_with_address_space_limit(cmd: &mut Command, limit: u64) -> Output {
    use std::os::unix::process::CommandExt;
    cmd.env("RAYON_NUM_THREADS", "2")
        .env("MALLOC_ARENA_MAX", "2");
    // SAFETY: the closure only calls setrlimit, which is async-signal-safe,
    // on a local struct.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit as libc::rlim_t,
                rlim_max: limit as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    run(cmd)
}

/// The memory bomb: a 1 MiB anchored scalar referenced thousands of times.
/// Counting nodes let it through (3,000 references took 3 GB); the budget
/// counts bytes, so it is refused before the copies are made.
#[test]
fn memory_bomb_big_scalar_aliases_refused_with_bounded_memory() {
    let dir = Dir::new();
    for refs in [3_000, 20_000] {
        let text = format!(
            "berth: 1\ncontainer: w\nx: &a \"{}\"\nneeds: [{}]\n",
            "x".repeat(1 << 20),
            vec!["*a"; refs].join(",")
        );
        dir.write("bomb.yaml", &text);
        // The budget is 64 MiB of copies; 1 GiB of address space is plenty
        // (berth needs under 256 MiB here) and far below the gigabytes the
        // copies took (3 GB resident for 3,000 references).
        let o = run_with_address_space_limit(dir.berth().args(["check", "bomb.yaml"]), 1 << 30);
        // `code` panics if berth died of a signal (an abort on a failed
        // allocation).
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        assert!(
            stderr(&o).contains("berth::yaml::alias-limit"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn schema_prints_json_schema_for_both_formats() {
    for which in ["need", "host"] {
        let mut c = Command::new(berth_bin());
        let o = run(c.args(["schema", which]));
        assert_eq!(code(&o), 0);
        let v: Value = serde_json::from_str(&stdout(&o)).expect("JSON");
        assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
        let key = if which == "need" { "container" } else { "host" };
        assert!(v["required"]
            .as_array()
            .unwrap()
            .contains(&Value::from(key)));
    }
}

#[test]
fn a_minified_json_fleet_is_not_printed_as_a_snippet() {
    let dir = Dir::new();
    let mut docs: Vec<String> = (0..3000)
        .map(|i| {
            format!(r#"{{"berth":1,"host":"h{i}","provides":[{{"volume":"d","path":"/srv/d"}}]}}"#)
        })
        .collect();
    docs[2000] = r#"{"berth":1,"host":"bad","provides":[{"volume":"d","path":"srv"}]}"#.to_string();
    dir.write("fleet.json", &format!("[{}]", docs.join(",")));
    let o = run(dir.berth().args(["check", "fleet.json"]));
    assert_eq!(code(&o), 1);
    let text = stderr(&o);
    assert!(text.contains("fleet.json:1:"), "{text}");
    assert!(text.contains("volume path `srv` is relative"), "{text}");
    assert!(
        text.len() < 2000,
        "the megabyte line was printed: {} bytes",
        text.len()
    );
}

/// Regression: snippets were rendered from the whole file, counting lines from
/// its start for every diagnostic (minutes for hundreds of mistakes in a fleet
/// file). The snippet now comes from a window around the span; this pins that
/// the window's line numbers and related labels are still right.
#[test]
fn snippets_deep_in_a_big_file_show_the_right_lines() {
    let dir = Dir::new();
    let mut docs: Vec<String> = (0..20_000)
        .map(|i| format!("berth: 1\ncontainer: c{i}\nneeds:\n  - volume: v{i}\n    mount: /data\n"))
        .collect();
    // Document 15,000 (lines 6 each, `---` between) gets a typo at its 4th line.
    docs[15_000] = "berth: 1\ncontainer: bad\nneeds:\n  - volum: v\n    mount: /data\n".into();
    dir.write("big.yaml", &docs.join("---\n"));
    let o = run(dir.berth().args(["check", "big.yaml"]));
    assert_eq!(code(&o), 1);
    let text = stderr(&o);
    let line = 15_000 * 6 + 4;
    assert!(text.contains(&format!("big.yaml:{line}:5")), "{text}");
    assert!(text.contains(&format!(" {line} │   - volum: v")), "{text}");
    assert!(text.contains(&format!(" {} │ needs:", line - 1)), "{text}");

    // A duplicate whose first definition is near: both labels in one snippet.
    let host = "berth: 1\nhost: h\nprovides:\n  - volume: a\n    path: /srv/a\n  - volume: a\n    path: /srv/b\n";
    let mut big = "# padding\n".repeat(50_000);
    big.push_str(host);
    dir.write("host.yaml", &big);
    let o = run(dir.berth().args(["check", "host.yaml"]));
    let text = stderr(&o);
    assert!(text.contains(" 50004 │   - volume: a"), "{text}");
    assert!(text.contains(" 50006 │   - volume: a"), "{text}");
}
