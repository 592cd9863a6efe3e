//! The provider runner against real `sh` scripts: success, failure with
//! error/hint, garbage, huge output, hangs with children, crashes, PATH lookup.
//! Each script is written into a temp dir; nothing is faked.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_providers::{check, provide, release, Call, Failure, ProviderError};
use berth_specs::{Kind, ProvideDetail};
use serde_json::{json, Value};

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes an executable `sh` script at `rel`.
    fn script(&self, rel: &str, body: &str) -> PathBuf {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

fn call<'a>(run: &'a [String], base: &'a Path, kind: &'a Kind, timeout: Duration) -> Call<'a> {
    Call {
        run,
        base_dir: base,
        kind,
        name: "nfs-media",
        container: "app",
        host: "app-01",
        need: json!({"mount": "/media", "read_only": true, "exclusive": false}),
        provided: None,
        timeout,
        env: &[],
        state_dir: None,
    }
}

fn argv(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Alive means: /proc has it and it is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .chars()
                .next();
            state != Some('Z')
        }
        Err(_) => false,
    }
}

fn read_pid(p: &Path) -> u32 {
    std::fs::read_to_string(p).unwrap().trim().parse().unwrap()
}

const SEC: Duration = Duration::from_secs(10);

#[test]
fn success_is_validated_as_a_manifest_entry() {
    let f = Fixture::new();
    f.script(
        "prov",
        r#"cat > /dev/null; echo '{"path": "/mnt/nfs/media"}'"#,
    );
    let run = argv(&["./prov"]);
    let kind = Kind::Volume;
    let got = provide(&call(&run, f.path(), &kind, SEC)).unwrap();
    assert_eq!(got.value, json!({"path": "/mnt/nfs/media"}));
    assert!(
        matches!(got.detail, ProvideDetail::Volume { ref path, .. } if path == "/mnt/nfs/media")
    );
}

#[test]
fn request_env_and_stdin_follow_the_protocol() {
    let f = Fixture::new();
    let out = f.path().join("seen");
    f.script(
        "bin/prov",
        &format!(
            "cat > '{0}.stdin'; env > '{0}.env'; pwd > '{0}.pwd'; echo '{{\"path\": \"/x\"}}'",
            out.display()
        ),
    );
    // Relative to the base dir, with arguments passed through untouched.
    let run = argv(&["bin/prov", "--server", "$(rm -rf /)"]);
    let kind = Kind::Volume;
    std::env::set_var("BERTH_TEST_LEAK", "must-not-reach-providers");
    provide(&call(&run, f.path(), &kind, SEC)).unwrap();
    let stdin: Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("stdin")).unwrap())
            .unwrap();
    assert_eq!(
        stdin,
        json!({"berth": 1, "op": "provide", "kind": "volume", "name": "nfs-media", "container": "app",
               "host": "app-01", "need": {"mount": "/media", "read_only": true, "exclusive": false}})
    );
    let env = std::fs::read_to_string(out.with_extension("env")).unwrap();
    for expected in [
        "BERTH_OP=provide",
        "BERTH_KIND=volume",
        "BERTH_NAME=nfs-media",
        "BERTH_CONTAINER=app",
        "BERTH_HOST=app-01",
    ] {
        assert!(
            env.lines().any(|l| l == expected),
            "{expected} missing in\n{env}"
        );
    }
    assert!(env.lines().any(|l| l.starts_with("PATH=")));
    assert!(
        !env.contains("BERTH_TEST_LEAK"),
        "environment leaked:\n{env}"
    );
    let names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
    for n in &names {
        // sh itself adds PWD, SHLVL, OLDPWD and `_`.
        assert!(
            n.starts_with("BERTH_") || ["PATH", "LANG", "PWD", "SHLVL", "OLDPWD", "_"].contains(n),
            "unexpected variable {n}"
        );
    }
    let pwd = std::fs::read_to_string(out.with_extension("pwd")).unwrap();
    assert_eq!(
        Path::new(pwd.trim()).canonicalize().unwrap(),
        f.path().canonicalize().unwrap()
    );
}

#[test]
fn arguments_reach_the_provider_verbatim() {
    let f = Fixture::new();
    let out = f.path().join("args");
    f.script(
        "prov",
        &format!(
            "for a in \"$@\"; do printf '%s\\n' \"$a\" >> '{}'; done; exit 1",
            out.display()
        ),
    );
    let run = argv(&["./prov", "two words", "$(touch pwned)", "*"]);
    let kind = Kind::Volume;
    let _ = provide(&call(&run, f.path(), &kind, SEC));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "two words\n$(touch pwned)\n*\n"
    );
    assert!(!f.path().join("pwned").exists());
}

#[test]
fn failure_carries_error_hint_and_stderr_tail() {
    let f = Fixture::new();
    f.script(
        "prov",
        r#"echo "mount.nfs: access denied" >&2
echo '{"error": "nas.example refused the mount", "hint": "export /media to this host"}'
exit 32"#,
    );
    let run = argv(&["./prov"]);
    let kind = Kind::Volume;
    let e = provide(&call(&run, f.path(), &kind, SEC)).unwrap_err();
    assert_eq!(e.provider_error(), Some("nas.example refused the mount"));
    assert_eq!(e.provider_hint(), Some("export /media to this host"));
    assert!(matches!(*e.failure, Failure::Exit { code: 32, .. }));
    assert!(e.stderr_tail.contains("access denied"));
    let text = e.to_string();
    assert!(
        text.contains("provider `./prov` could not provide volume `nfs-media`")
            && text.contains("nas.example refused the mount"),
        "{text}"
    );
}

#[test]
fn garbage_output_is_a_clear_failure() {
    let f = Fixture::new();
    let kind = Kind::Volume;
    for (body, want) in [
        ("echo 'mounted ok!'", "not one JSON object"),
        ("echo '[1,2]'", "expected an object, found an array"),
        (
            "echo '{\"path\": \"/x\"} {\"path\": \"/y\"}'",
            "not one JSON object",
        ),
        ("printf '\\377\\376'", "not one JSON object"),
    ] {
        f.script("prov", body);
        let run = argv(&["./prov"]);
        let e = provide(&call(&run, f.path(), &kind, SEC)).unwrap_err();
        assert!(matches!(*e.failure, Failure::NotJson { .. }), "{body}: {e}");
        assert!(e.to_string().contains(want), "{body}: {e}");
    }
}

#[test]
fn output_invalid_for_the_kind_names_the_problem() {
    let f = Fixture::new();
    let kind = Kind::Volume;
    f.script(
        "prov",
        r#"echo '{"path": "relative/dir", "colour": "red"}'"#,
    );
    let run = argv(&["./prov"]);
    let e = provide(&call(&run, f.path(), &kind, SEC)).unwrap_err();
    assert!(matches!(*e.failure, Failure::InvalidEntry { .. }), "{e}");
}

#[test]
fn a_provider_may_not_return_a_pool() {
    let f = Fixture::new();
    let kind = Kind::Ipv6;
    f.script(
        "prov",
        r#"echo '{"pool": "2001:db8::/120", "network": "appnet"}'"#,
    );
    let run = argv(&["./prov"]);
    let e = provide(&call(&run, f.path(), &kind, SEC)).unwrap_err();
    assert!(e.to_string().contains("`pool` is not allowed"), "{e}");
}

#[test]
fn fifty_megabytes_of_stdout_fail_fast_with_bounded_memory() {
    let f = Fixture::new();
    let kind = Kind::Volume;
    f.script("prov", "head -c 52428800 /dev/zero | tr '\\0' 'a'");
    let run = argv(&["./prov"]);
    let before = peak_rss_kib();
    let start = Instant::now();
    let e = provide(&call(&run, f.path(), &kind, SEC)).unwrap_err();
    assert!(
        matches!(*e.failure, Failure::StdoutTooLarge { limit: 1048576 }),
        "{e}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "took {:?}",
        start.elapsed()
    );
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(grown < 16 * 1024, "peak RSS grew by {grown} KiB");
}

fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn stderr_keeps_only_its_tail() {
    let f = Fixture::new();
    let kind = Kind::Volume;
    f.script(
        "prov",
        "head -c 300000 /dev/zero | tr '\\0' 'x' >&2; echo LAST-LINE >&2; exit 1",
    );
    let run = argv(&["./prov"]);
    let e = provide(&call(&run, f.path(), &kind, SEC)).unwrap_err();
    assert!(e.stderr_tail.len() <= 64 * 1024);
    assert!(e.stderr_tail.ends_with("LAST-LINE\n"));
}

#[test]
fn a_hang_with_a_child_kills_the_whole_group_within_the_timeout() {
    let f = Fixture::new();
    let kind = Kind::Volume;
    let dir = f.path().display().to_string();
    f.script(
        "prov",
        &format!("sleep 1000 & echo $! > '{dir}/child'; echo $$ > '{dir}/self'; sleep 1000; wait"),
    );
    let run = argv(&["./prov"]);
    let start = Instant::now();
    let e = provide(&call(&run, f.path(), &kind, Duration::from_secs(1))).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(*e.failure, Failure::Timeout { .. }), "{e}");
    assert!(e.to_string().contains("timed out after 1s"), "{e}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let (me, child) = (
        read_pid(&f.path().join("self")),
        read_pid(&f.path().join("child")),
    );
    wait_dead(me);
    wait_dead(child);
}

#[test]
fn a_provider_ignoring_term_is_killed() {
    let f = Fixture::new();
    let kind = Kind::Volume;
    let dir = f.path().display().to_string();
    f.script(
        "prov",
        &format!("trap '' TERM; echo $$ > '{dir}/self'; while :; do sleep 1; done"),
    );
    let run = argv(&["./prov"]);
    let start = Instant::now();
    let e = provide(&call(&run, f.path(), &kind, Duration::from_millis(500))).unwrap_err();
    assert!(matches!(*e.failure, Failure::Timeout { .. }), "{e}");
    assert!(start.elapsed() < Duration::from_secs(5));
    wait_dead(read_pid(&f.path().join("self")));
}

#[test]
fn a_child_holding_stdout_after_exit_is_killed() {
    let f = Fixture::new();
    let kind = Kind::Volume;
    let dir = f.path().display().to_string();
    f.script(
        "prov",
        &format!("sleep 1000 & echo $! > '{dir}/child'; echo '{{\"path\": \"/x\"}}'; exit 0"),
    );
    let run = argv(&["./prov"]);
    let e = provide(&call(&run, f.path(), &kind, Duration::from_secs(1))).unwrap_err();
    assert!(matches!(*e.failure, Failure::Lingering), "{e}");
    wait_dead(read_pid(&f.path().join("child")));
}

/// Reaping of orphans is up to init; give it a moment, then insist.
fn wait_dead(pid: u32) {
    let end = Instant::now() + Duration::from_secs(3);
    while alive(pid) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "process {pid} survived");
}

#[test]
fn a_crash_by_signal_is_reported_with_its_name() {
    let f = Fixture::new();
    let kind = Kind::Volume;
    f.script("prov", "echo dying >&2; kill -SEGV $$");
    let run = argv(&["./prov"]);
    let e = provide(&call(&run, f.path(), &kind, SEC)).unwrap_err();
    assert!(matches!(*e.failure, Failure::Signal { signal: 11 }), "{e}");
    assert!(e.to_string().contains("SIGSEGV"));
    assert!(e.stderr_tail.contains("dying"));
}

#[test]
fn missing_executables_are_named() {
    let f = Fixture::new();
    let kind = Kind::Volume;
    let run = argv(&["berth-no-such-provider-xyz"]);
    let e = provide(&call(&run, f.path(), &kind, SEC)).unwrap_err();
    assert!(matches!(*e.failure, Failure::NotOnPath(_)), "{e}");
    let run = argv(&["./missing"]);
    let e = provide(&call(&run, f.path(), &kind, SEC)).unwrap_err();
    assert!(matches!(*e.failure, Failure::Spawn { .. }), "{e}");
    assert!(e.to_string().contains("missing"));
    let run: Vec<String> = Vec::new();
    let e: ProviderError = provide(&call(&run, f.path(), &kind, SEC)).unwrap_err();
    assert!(matches!(*e.failure, Failure::EmptyArgv));
}

#[test]
fn bare_names_are_found_on_path() {
    let f = Fixture::new();
    let kind = Kind::Volume;
    // `true` exits 0 without output: a successful release.
    let run = argv(&["true"]);
    release(&call(&run, f.path(), &kind, SEC)).unwrap();
}

#[test]
fn check_reads_the_exit_status_and_release_passes_what_was_provided() {
    let f = Fixture::new();
    let kind = Kind::Volume;
    let out = f.path().join("stdin");
    f.script(
        "prov",
        &format!(
            "cat > '{}'; test -e \"$(dirname \"$0\")/present\"",
            out.display()
        ),
    );
    let run = argv(&["./prov"]);
    let provided = json!({"path": "/mnt/nfs/media"});
    let mut c = call(&run, f.path(), &kind, SEC);
    c.provided = Some(&provided);
    assert!(!check(&c).unwrap());
    std::fs::write(f.path().join("present"), "").unwrap();
    assert!(check(&c).unwrap());
    release(&c).unwrap();
    let req: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(req["op"], "release");
    assert_eq!(req["provided"], provided);
}

#[test]
fn control_characters_in_the_output_are_refused() {
    // A newline in a path would break line-based formats (LXC config).
    let f = Fixture::new();
    let kind = Kind::Volume;
    f.script(
        "prov",
        r#"printf '{"path": "/srv/x\\nlxc.hook.pre-start = /bin/evil"}\n'"#,
    );
    let run = argv(&["./prov"]);
    let e = provide(&call(&run, f.path(), &kind, SEC)).unwrap_err();
    assert!(matches!(*e.failure, Failure::InvalidEntry { .. }), "{e}");
}

#[test]
fn a_relative_manifest_folder_works_from_any_working_directory() {
    // `-H specs/host.yaml` gives a relative base dir; the provider starts in
    // it, and its `run[0]` must still resolve against it only once.
    let cwd = std::env::current_dir().unwrap();
    let tmp = tempfile::tempdir_in(&cwd).unwrap();
    let rel = tmp.path().strip_prefix(&cwd).unwrap().to_path_buf();
    let f = Fixture { dir: tmp };
    f.script("bin/prov", r#"echo '{"path": "/x"}'"#);
    assert!(rel.is_relative() && rel.join("bin/prov").exists());
    let run = argv(&["bin/prov"]);
    let kind = Kind::Volume;
    provide(&call(&run, &rel, &kind, SEC)).unwrap();
}
