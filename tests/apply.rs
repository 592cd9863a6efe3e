//! `berth apply`, `release` and `status` end to end: the built binary, real
//! provider scripts (`tests/fixtures/providers/test-provider`), real state
//! files. Covers the provider acceptance cases (gap only, idempotent re-apply,
//! rollback, hangs, garbage, floods), concurrency and SIGKILL crash safety.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_engine::state::State;

use crate::util::{code, repo_root, run, stderr, stdout, Dir};

fn provider() -> String {
    repo_root()
        .join("tests/fixtures/providers/test-provider")
        .display()
        .to_string()
}

/// A host with a static volume, an IPv6 pool and a volume provider run as
/// `test-provider MODE... DIR`.
fn host_yaml(mode: &[&str], dir: &Path, timeout: &str) -> String {
    host_yaml_with(&provider(), mode, dir, timeout)
}

fn host_yaml_with(program: &str, mode: &[&str], dir: &Path, timeout: &str) -> String {
    let mut run = vec![format!("{program:?}")];
    run.extend(mode.iter().map(|m| format!("{m:?}")));
    run.push(format!("{:?}", dir.display().to_string()));
    format!(
        r#"berth: 1
host: web-01
provides:
  - network: net6
    subnet6: 2001:db8::/112
    gateway6: 2001:db8::100
  - ipv6: "*"
    pool: 2001:db8::100/120
    network: net6
  - volume: static
    path: /srv/static
providers:
  - volume: "nfs-*"
    run: [{}]
    timeout: {timeout}
"#,
        run.join(", ")
    )
}

fn spec_yaml(container: &str, needs: &[&str]) -> String {
    let mut s = format!("berth: 1\ncontainer: {container}\nneeds:\n");
    for n in needs {
        if let Some(v) = n.strip_prefix("volume:") {
            s.push_str(&format!("  - volume: {v}\n    mount: /mnt/{v}\n"));
        } else {
            s.push_str(&format!("  - {n}\n"));
        }
    }
    s
}

struct Fx {
    dir: Dir,
    host: PathBuf,
}

impl Fx {
    fn new(mode: &[&str], timeout: &str) -> Fx {
        let dir = Dir::new();
        std::fs::create_dir_all(dir.path().join("made")).unwrap();
        let host = dir.write("host.yaml", &host_yaml(mode, dir.path(), timeout));
        Fx { dir, host }
    }

    fn spec(&self, container: &str, needs: &[&str]) -> PathBuf {
        self.dir.write(
            &format!("{container}/berth.yaml"),
            &spec_yaml(container, needs),
        )
    }

    fn cmd(&self, sub: &str) -> Command {
        let mut c = self.dir.berth();
        c.arg(sub).arg("-H").arg(&self.host);
        c
    }

    fn apply(&self, specs: &[&Path]) -> std::process::Output {
        run(self.cmd("apply").args(specs))
    }

    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The host's store (SQLite).
    fn state_path(&self) -> PathBuf {
        self.dir.path().join("state/web-01.db")
    }

    /// The JSON state file of earlier versions, migrated on first use.
    fn json_path(&self) -> PathBuf {
        self.dir.path().join("state/web-01.json")
    }

    fn state(&self) -> State {
        berth_engine::store::StateFile::new(self.dir.path().join("state"), "web-01")
            .load_readonly()
            .unwrap()
    }
}

#[test]
fn apply_runs_the_provider_for_the_gap_only_and_reapply_is_byte_identical() {
    let fx = Fx::new(&["ok"], "10s");
    let app = fx.spec("app", &["volume:static", "volume:nfs-data", "ipv6: app"]);

    // plan never runs a provider.
    let plan = run(fx.cmd("plan").arg(&app));
    assert_eq!(code(&plan), 0, "{}", stderr(&plan));
    assert!(fx.log().is_empty(), "plan ran a provider: {:?}", fx.log());

    let first = fx.apply(&[&app]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert_eq!(fx.log(), ["provide volume nfs-data app"]);
    let made = fx.dir.path().join("made/nfs-data");
    assert!(made.is_dir());
    let out: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert!(
        out.to_string().contains(&made.display().to_string()),
        "{out}"
    );

    let second = fx.apply(&[&app]);
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert_eq!(
        second.stdout, first.stdout,
        "re-apply printed different bytes"
    );
    // No provide again: only the check that the resource is still there.
    assert_eq!(
        fx.log(),
        ["provide volume nfs-data app", "check volume nfs-data app"]
    );

    let rel = run(fx.cmd("release").arg("app"));
    assert_eq!(code(&rel), 0, "{}", stderr(&rel));
    assert_eq!(
        fx.log(),
        [
            "provide volume nfs-data app",
            "check volume nfs-data app",
            "release volume nfs-data app"
        ]
    );
    assert!(!made.exists());
    let s = fx.state();
    assert!(s.holdings.is_empty() && s.provided.is_empty() && s.pending_releases.is_empty());
    // The pool reservation stays after release.
    assert_eq!(s.reservations["ipv6/app"].holder, None);
    // Releasing again is a no-op that runs nothing.
    let again = run(fx.cmd("release").arg("app"));
    assert_eq!(code(&again), 0);
    assert!(stderr(&again).contains("nothing held by `app`"));
    assert_eq!(fx.log().len(), 3);
}

#[test]
fn apply_json_prints_nothing_for_invalid_input() {
    // Load errors and the CLI's own refusals are JSON on stdout too, in the
    // shape of apply's other failures (`ok: false`), and nothing is applied.
    let fx = Fx::new(&["ok"], "10s");
    let bad = fx
        .dir
        .write("bad/berth.yaml", "berth: 1\ncontainer: Bad!\nneeds: []\n");
    let o = run(fx.cmd("apply").args(["--format", "json"]).arg(&bad));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["ok"], false);
    let d = &v["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], bad.display().to_string());
    assert_eq!(d["line"], 2);
    let app = fx.spec("app", &["volume:static"]);
    let o = run(fx
        .cmd("apply")
        .args(["--format", "json", "--emit", "docker"])
        .arg(&app));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["ok"], false);
    assert_eq!(v["diagnostics"][0]["code"], "berth::cli::no-image");
    assert!(!fx.dir.path().join("state").exists());
    // status: a host file that is not one host manifest.
    let o = run(fx
        .dir
        .berth()
        .args(["status", "--format", "json", "-H"])
        .arg(&app));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["ok"], false);
    assert_eq!(v["diagnostics"][0]["code"], "berth::cli::bad-input");
}

#[test]
fn release_accepts_any_container_name() {
    // `berth release $'a\x1b[31mb' ../../etc` used to take both as names.
    // Each is refused by name (escaped), exit 2, and no state is touched.
    let fx = Fx::new(&["ok"], "10s");
    let o = run(fx
        .cmd("release")
        .args(["a\x1b[31mb", "../../etc", "ok-name"]));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.contains('\x1b'), "{err:?}");
    assert!(
        err.contains("`a\\x1b[31mb` is not a container name"),
        "{err}"
    );
    assert!(err.contains("`../../etc` is not a container name"), "{err}");
    assert!(!err.contains("`ok-name`"), "{err}");
    assert!(err.contains("berth::cli::bad-container-name"), "{err}");
    assert!(!fx.dir.path().join("state").exists());
    for bad in ["", "-x", "A", &"a".repeat(64)] {
        let o = run(fx.cmd("release").arg(bad));
        assert_eq!(code(&o), 2, "{bad:?}: {}", stderr(&o));
    }
    let o = run(fx.cmd("release").arg("a".repeat(63)));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn release_of_nothing_creates_state_and_lock() {
    // A fresh host: no state folder at all. Releasing a name nobody holds
    // must leave it so (no state file, no lock file), say so, and exit 0.
    let fx = Fx::new(&["ok"], "10s");
    let state_dir = fx.dir.path().join("state");
    let o = run(fx.cmd("release").arg("nosuch"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nothing held by `nosuch`"),
        "{}",
        stderr(&o)
    );
    assert!(
        !state_dir.exists(),
        "release created {}",
        state_dir.display()
    );
    // With a state file, it is not rewritten either.
    let app = fx.spec("app", &["volume:static"]);
    assert_eq!(code(&fx.apply(&[&app])), 0);
    let before = std::fs::read(fx.state_path()).unwrap();
    let mtime = std::fs::metadata(fx.state_path())
        .unwrap()
        .modified()
        .unwrap();
    let o = run(fx.cmd("release").args(["--purge", "nosuch"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing held by `nosuch`"));
    assert_eq!(std::fs::read(fx.state_path()).unwrap(), before);
    assert_eq!(
        std::fs::metadata(fx.state_path())
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
    assert!(fx.log().is_empty(), "{:?}", fx.log());
}

#[test]
fn a_resource_that_is_gone_is_provided_again() {
    let fx = Fx::new(&["ok"], "10s");
    let app = fx.spec("app", &["volume:nfs-data"]);
    assert_eq!(code(&fx.apply(&[&app])), 0);
    std::fs::remove_dir(fx.dir.path().join("made/nfs-data")).unwrap();
    let o = fx.apply(&[&app]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        fx.log(),
        [
            "provide volume nfs-data app",
            "check volume nfs-data app",
            "provide volume nfs-data app"
        ]
    );
    assert!(fx.dir.path().join("made/nfs-data").is_dir());
}

#[test]
fn a_provider_failing_second_rolls_back_the_first_and_leaves_the_state() {
    let fx = Fx::new(&["fail-nth", "2"], "10s");
    let other = fx.spec("other", &["ipv6: other"]);
    assert_eq!(code(&fx.apply(&[&other])), 0);
    let before = fx.state();

    let app = fx.spec("app", &["volume:nfs-a", "volume:nfs-b"]);
    let o = fx.apply(&[&app]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let log = fx.log();
    assert_eq!(log.len(), 4, "{log:?}");
    let name = |l: &str| l.split(' ').nth(2).unwrap().to_string();
    let (first, second) = (name(&log[0]), name(&log[1]));
    // The failed provide is released too (it may have made something).
    assert_eq!(
        log,
        [
            format!("provide volume {first} app"),
            format!("provide volume {second} app"),
            format!("release volume {second} app"),
            format!("release volume {first} app"),
        ]
    );
    assert!(!fx.dir.path().join("made").join(&first).exists());
    assert_eq!(fx.state(), before, "state changed");
    let err = stderr(&o);
    for want in [
        format!("provide volume `{second}` for container `app` failed"),
        format!("cannot export {second}"),
        "allow this host on the NAS".to_string(),
        "permission denied".to_string(),
        format!("released volume `{first}`"),
        "berth::provider::failed".to_string(),
    ] {
        let want = want.as_str();
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}

#[test]
fn a_hanging_provider_and_its_child_are_killed_after_the_timeout() {
    let fx = Fx::new(&["hang"], "1s");
    let app = fx.spec("app", &["volume:nfs-data"]);
    let start = Instant::now();
    let o = fx.apply(&[&app]);
    let took = start.elapsed();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(took < Duration::from_secs(8), "apply took {took:?}");
    assert!(stderr(&o).contains("timed out after 1s"), "{}", stderr(&o));
    for f in ["provider.pid", "child.pid"] {
        let pid: u32 = std::fs::read_to_string(fx.dir.path().join(f))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        wait_dead(pid);
    }
    assert!(!fx.state_path().exists() || fx.state().holdings.is_empty());
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

fn wait_dead(pid: u32) {
    let end = Instant::now() + Duration::from_secs(3);
    while alive(pid) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "process {pid} is still alive");
}

#[test]
fn garbage_and_floods_fail_with_a_clear_message() {
    for (mode, wants) in [
        (
            "garbage",
            &[
                "its output is not one JSON object",
                "  | mounted it, all good!",
            ][..],
        ),
        ("flood", &["printed more than 1048576 bytes on stdout"][..]),
    ] {
        let fx = Fx::new(&[mode], "20s");
        let app = fx.spec("app", &["volume:nfs-data"]);
        let o = fx.apply(&[&app]);
        if mode == "flood" {
            assert_bounded_memory(&fx, &app);
        }
        assert_eq!(code(&o), 3, "{mode}: {}", stderr(&o));
        let err = stderr(&o);
        for want in wants {
            assert!(err.contains(want), "{mode}: {err}");
        }
        assert!(
            err.contains("test-provider"),
            "{mode}: provider not named: {err}"
        );
        assert!(
            err.len() < 64 * 1024 + 8192,
            "{mode}: stderr is {} bytes",
            err.len()
        );
    }
}

#[test]
fn status_shows_holdings_reservations_and_provider_results() {
    let fx = Fx::new(&["ok"], "10s");
    let app = fx.spec("app", &["volume:nfs-data", "ipv6: app"]);
    assert_eq!(code(&fx.apply(&[&app])), 0);
    let o = run(fx.cmd("status").args(["--format", "json"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["host"], "web-01");
    assert_eq!(v["reservations"]["ipv6/app"]["holder"], "app");
    assert_eq!(v["provided"]["volume/nfs-data"]["users"][0], "app");
    assert!(v["holdings"]["app"]["bindings"].as_array().unwrap().len() >= 2);
    let h = run(&mut fx.cmd("status"));
    let text = stdout(&h);
    assert!(text.contains("ipv6/app = 2001:db8::101"), "{text}");
    assert!(text.contains("volume/nfs-data by"), "{text}");
}

#[test]
fn a_corrupt_state_file_stops_berth_and_is_kept() {
    let fx = Fx::new(&["ok"], "10s");
    let app = fx.spec("app", &["ipv6: app"]);
    std::fs::create_dir_all(fx.dir.path().join("state")).unwrap();
    std::fs::write(fx.json_path(), "{\"berth_state\": 1, \"host\": ").unwrap();
    let o = fx.apply(&[&app]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains("web-01.json is corrupt") && err.contains("berth::state::corrupt"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(fx.json_path()).unwrap(),
        "{\"berth_state\": 1, \"host\": "
    );
    let copies = std::fs::read_dir(fx.dir.path().join("state"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".corrupt-")
        })
        .count();
    assert_eq!(copies, 1);
    let s = run(&mut fx.cmd("status"));
    assert_eq!(code(&s), 1);
}

/// Every address held at most once, holdings and reservations agreeing.
fn assert_consistent(s: &State) {
    let mut held: BTreeMap<String, String> = BTreeMap::new();
    for (c, h) in &s.holdings {
        for b in &h.bindings {
            if let Some(a) = b.value.get("address").and_then(|a| a.as_str()) {
                if let Some(prev) = held.insert(a.to_string(), c.clone()) {
                    panic!("{a} held by both {prev} and {c}");
                }
            }
        }
    }
    let mut values = BTreeSet::new();
    for (k, r) in &s.reservations {
        assert!(
            values.insert(r.value.clone()),
            "{} reserved twice ({k})",
            r.value
        );
        if let Some(h) = &r.holder {
            assert_eq!(
                held.get(&r.value),
                Some(h),
                "reservation {k} disagrees with holdings"
            );
        }
    }
}

#[test]
fn sixteen_concurrent_applies_get_sixteen_distinct_addresses() {
    let fx = Fx::new(&["ok"], "10s");
    let specs: Vec<PathBuf> = (0..16)
        .map(|i| fx.spec(&format!("c{i}"), &[&format!("ipv6: c{i}")]))
        .collect();
    let children: Vec<_> = specs
        .iter()
        .map(|s| {
            fx.cmd("apply")
                .arg(s)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let s = fx.state();
    assert_eq!(s.holdings.len(), 16);
    let addrs: BTreeSet<&str> = s.reservations.values().map(|r| r.value.as_str()).collect();
    assert_eq!(addrs.len(), 16, "{addrs:?}");
    assert_consistent(&s);
}

/// A tiny deterministic generator (xorshift), seeded from the clock and
/// printed, so a failing round can be replayed with BERTH_CRASH_SEED.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

const ROUNDS: u32 = 60;

#[test]
fn sigkill_at_random_moments_never_leaves_a_broken_state() {
    let fx = Fx::new(&["slow", "15"], "10s");
    let seed = std::env::var("BERTH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed: {seed} (BERTH_CRASH_SEED to replay)");
    let mut rng = Rng(seed);
    let mut killed = 0;
    for round in 0..ROUNDS {
        let i = rng.next(12);
        let needs = if rng.next(2) == 0 {
            vec![format!("ipv6: c{i}")]
        } else {
            vec![format!("ipv6: c{i}"), format!("volume:nfs-{i}")]
        };
        let needs: Vec<&str> = needs.iter().map(String::as_str).collect();
        let spec = fx.spec(&format!("c{i}"), &needs);
        let mut cmd = if rng.next(4) == 0 {
            let mut c = fx.cmd("release");
            c.arg(format!("c{i}"));
            c
        } else {
            let mut c = fx.cmd("apply");
            c.arg(&spec);
            c
        };
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.next(40)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        if fx.state_path().exists() {
            let s = berth_engine::store::StateFile::new(fx.dir.path().join("state"), "web-01")
                .load_readonly()
                .unwrap_or_else(|e| {
                    panic!("round {round} (seed {seed}): state does not load: {e}")
                });
            assert_consistent(&s);
        }
    }
    eprintln!("crash test: {killed} of {ROUNDS} rounds killed mid-run");
    // After the storm, berth still works on this state.
    let o = run(fx.cmd("status").args(["--format", "json"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let spec = fx.spec("final", &["ipv6: final"]);
    let o = fx.apply(&[&spec]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_consistent(&fx.state());
    // Resources a killed apply may have made wait in `pending_releases`
    // (write-ahead intents); the next release releases them all.
    let o = run(fx.cmd("release").arg("final"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(fx.state().pending_releases.is_empty());
}

#[test]
fn the_provider_example_in_the_docs_works() {
    let text = std::fs::read_to_string(repo_root().join("docs/providers.md")).unwrap();
    let start = text.find("<!-- example: provider -->").unwrap();
    let rest = &text[start..];
    let body = &rest[rest.find("```sh\n").unwrap() + 6..];
    let script = &body[..body.find("```").unwrap()];
    let dir = Dir::new();
    let prov = dir.write("dir-provider", script);
    std::fs::set_permissions(&prov, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let vols = dir.path().join("vols");
    let host = dir.write(
        "host.yaml",
        &format!(
            "berth: 1\nhost: h1\nproviders:\n  - volume: \"nfs-*\"\n    run: [./dir-provider, {:?}]\n",
            vols.display().to_string()
        ),
    );
    let spec = dir.write(
        "app/berth.yaml",
        &spec_yaml("app", &["volume:nfs-x"])
            .replace("container: app\n", "container: app\nimage: example/app:1\n"),
    );
    let o = run(dir
        .berth()
        .args(["apply", "--emit", "docker", "-H"])
        .arg(&host)
        .arg(&spec));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(vols.join("nfs-x").is_dir());
    assert!(
        stdout(&o).contains(&format!("{}:/mnt/nfs-x", vols.join("nfs-x").display())),
        "{}",
        stdout(&o)
    );
    let o = run(dir.berth().args(["release", "-H"]).arg(&host).arg("app"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!vols.join("nfs-x").exists());
}

#[test]
fn a_failing_release_exits_3_stays_pending_and_is_retried() {
    let fx = Fx::new(&["flaky-release"], "10s");
    let app = fx.spec("app", &["volume:nfs-data"]);
    assert_eq!(code(&fx.apply(&[&app])), 0);
    let o = run(fx.cmd("release").arg("app"));
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("FAILED, kept pending"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("umount: target is busy"),
        "{}",
        stdout(&o)
    );
    let s = fx.state();
    assert!(s.holdings.is_empty());
    assert_eq!(s.pending_releases.len(), 1);
    let st = run(&mut fx.cmd("status"));
    assert!(
        stdout(&st).contains("pending releases: 1"),
        "{}",
        stdout(&st)
    );
    // The next release (of anything) retries it.
    let o = run(fx.cmd("release").arg("app"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("released volume `nfs-data`"));
    assert!(fx.state().pending_releases.is_empty());
    assert_eq!(
        fx.log(),
        [
            "provide volume nfs-data app",
            "release volume nfs-data app",
            "release volume nfs-data app"
        ]
    );
}

#[test]
fn progress_lines_only_on_a_terminal_and_not_with_quiet() {
    let fx = Fx::new(&["slow", "300"], "10s");
    let app = fx.spec("app", &["volume:nfs-data"]);
    // Not a terminal: stderr stays empty on success.
    let o = fx.apply(&[&app]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    if crate::util::which("script").is_none() {
        let msg = "progress_lines_only_on_a_terminal: terminal part SKIPPED, missing: script (Debian bsdutils)";
        assert!(!crate::util::in_ci(), "{msg}");
        eprintln!("{msg}");
        return;
    }
    // On a pseudo-terminal (util-linux `script`), one line per provider call.
    let release = fx.spec("other", &["volume:nfs-other"]);
    let line = |quiet: bool| {
        let mut argv = vec![
            crate::util::berth_bin().display().to_string(),
            "apply".into(),
            "-H".into(),
            fx.host.display().to_string(),
            release.display().to_string(),
        ];
        if quiet {
            argv.push("--quiet".into());
        }
        let cmdline: Vec<String> = argv
            .iter()
            .map(|a| shlex::try_quote(a).unwrap().into_owned())
            .collect();
        let mut c = Command::new("script");
        c.args(["-qec", &cmdline.join(" "), "/dev/null"])
            .current_dir(fx.dir.path())
            .env("BERTH_STATE_DIR", fx.dir.path().join("state"))
            .env("TERM", "xterm");
        let o = run(&mut c);
        assert_eq!(code(&o), 0, "{}", stdout(&o));
        stdout(&o)
    };
    let shown = line(false);
    assert!(shown.contains("provide volume `nfs-other`"), "{shown:?}");
    assert!(shown.contains("done in"), "{shown:?}");
    let quiet = line(true);
    assert!(!quiet.contains("provide volume"), "{quiet:?}");
}

#[test]
fn every_code_used_by_apply_is_documented() {
    let docs = ["docs/providers.md", "docs/state.md", "docs/cli.md"]
        .map(|d| std::fs::read_to_string(repo_root().join(d)).unwrap())
        .join("\n");
    let mut found = 0;
    // The commands name their codes from the registry (`Code::StateLock`), and
    // the state's codes are decided by `StoreError::code` in the engine.
    let registry: Vec<(String, &str)> = berth_specs::Code::ALL
        .iter()
        .map(|c| (format!("{c:?}"), c.as_str()))
        .collect();
    for src in [
        "cli/src/cmd/apply.rs",
        "cli/src/cmd/release.rs",
        "cli/src/cmd/status.rs",
        "cli/src/report.rs",
        "engine/src/store.rs",
    ] {
        let text = std::fs::read_to_string(repo_root().join(src)).unwrap();
        let used = text.split("Code::").skip(1).filter_map(|rest| {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            registry
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, code)| *code)
        });
        for piece in used {
            if piece.starts_with("berth::") {
                found += 1;
                assert!(
                    docs.contains(&format!("`{piece}`")),
                    "{piece} (used in {src}) is not documented"
                );
            }
        }
    }
    assert!(found >= 6, "found only {found} codes: has the code moved?");
}

#[test]
fn emit_docker_without_an_image_is_refused_before_provisioning() {
    let fx = Fx::new(&["ok"], "10s");
    let app = fx.spec("app", &["volume:nfs-data"]);
    let o = run(fx.cmd("apply").args(["--emit", "docker"]).arg(&app));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("berth::cli::no-image"),
        "{}",
        stderr(&o)
    );
    assert!(fx.log().is_empty());
    assert!(!fx.state_path().exists());
}

#[test]
fn a_provider_made_network_serves_the_address_it_carries() {
    let dir = Dir::new();
    std::fs::create_dir_all(dir.path().join("made")).unwrap();
    let d = format!("{:?}", dir.path().display().to_string());
    let host = dir.write(
        "host.yaml",
        &format!(
            r#"berth: 1
host: h1
provides:
  - ipv6: "*"
    pool: 2001:db8:9::100/120
    network: appnet
providers:
  - network: appnet
    run: [{p:?}, ok, {d}]
"#,
            p = provider()
        ),
    );
    let spec = dir.write(
        "app/berth.yaml",
        "berth: 1\ncontainer: app\nimage: example/app:1\nneeds:\n  - ipv6: app\n",
    );
    let o = run(dir
        .berth()
        .args(["apply", "--emit", "docker", "-H"])
        .arg(&host)
        .arg(&spec));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let argv = shlex::split(stdout(&o).trim()).unwrap();
    let at = |flag: &str| {
        argv.iter()
            .position(|a| a == flag)
            .map(|i| argv[i + 1].as_str())
    };
    assert_eq!(at("--network"), Some("appnet"), "{argv:?}");
    assert_eq!(at("--ip6"), Some("2001:db8:9::101"), "{argv:?}");
    let log = std::fs::read_to_string(dir.path().join("calls.log")).unwrap();
    assert_eq!(log, "provide network appnet app\n");
    let o = run(dir.berth().args(["release", "-H"]).arg(&host).arg("app"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let log = std::fs::read_to_string(dir.path().join("calls.log")).unwrap();
    assert_eq!(
        log,
        "provide network appnet app\nrelease network appnet app\n"
    );
}

/// stderr with the scratch folder's path replaced, for snapshots.
fn redacted(o: &std::process::Output, dir: &Path) -> String {
    stderr(o).replace(&dir.display().to_string(), "[DIR]")
}

/// A fixture whose provider is copied beside the manifest as `./prov`, so that
/// messages do not depend on where the repository is checked out.
fn local_fx(mode: &[&str], timeout: &str) -> Fx {
    let dir = Dir::new();
    std::fs::create_dir_all(dir.path().join("made")).unwrap();
    std::fs::copy(provider(), dir.path().join("prov")).unwrap();
    let host = dir.write(
        "host.yaml",
        &host_yaml_with("./prov", mode, dir.path(), timeout),
    );
    Fx { dir, host }
}

#[test]
fn snapshot_provider_failure() {
    let fx = local_fx(&["fail-nth", "1"], "10s");
    let app = fx.spec("app", &["volume:nfs-a"]);
    let o = fx.apply(&[&app]);
    assert_eq!(code(&o), 3);
    insta::assert_snapshot!(redacted(&o, fx.dir.path()));
}

#[test]
fn snapshot_provider_timeout() {
    let fx = local_fx(&["hang"], "1s");
    let app = fx.spec("app", &["volume:nfs-a"]);
    let o = fx.apply(&[&app]);
    assert_eq!(code(&o), 3);
    insta::assert_snapshot!(redacted(&o, fx.dir.path()));
}

#[test]
fn snapshot_corrupt_state() {
    let fx = local_fx(&["ok"], "10s");
    let app = fx.spec("app", &["ipv6: app"]);
    std::fs::create_dir_all(fx.dir.path().join("state")).unwrap();
    std::fs::write(fx.json_path(), "{\"berth_state\": 1,").unwrap();
    // A relative state folder keeps the message (and its wrapping) free of the
    // scratch folder's path.
    let o = run(fx.cmd("apply").env("BERTH_STATE_DIR", "state").arg(&app));
    assert_eq!(code(&o), 1);
    // The copy's name carries the time; keep the snapshot stable.
    let text = redacted(&o, fx.dir.path());
    let text = match text.find(".corrupt-") {
        Some(i) => {
            let end = text[i + 9..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(text.len(), |e| i + 9 + e);
            format!("{}.corrupt-[TIME]{}", &text[..i], &text[end..])
        }
        None => text,
    };
    insta::assert_snapshot!(text);
}

#[test]
fn provider_failures_as_json() {
    let fx = Fx::new(&["fail-nth", "1"], "10s");
    let app = fx.spec("app", &["volume:nfs-a"]);
    let o = run(fx.cmd("apply").args(["--format", "json"]).arg(&app));
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["failed"]["op"], "provide");
    assert_eq!(v["failed"]["kind"], "volume");
    assert_eq!(v["failed"]["name"], "nfs-a");
    assert_eq!(v["failed"]["container"], "app");
    assert_eq!(v["failed"]["hint"], "allow this host on the NAS");
    assert!(v["failed"]["message"]
        .as_str()
        .unwrap()
        .contains("cannot export nfs-a"));
    assert!(v["failed"]["stderr_tail"]
        .as_str()
        .unwrap()
        .contains("permission denied"));
    assert_eq!(v["rolled_back"][0]["name"], "nfs-a");
    assert_eq!(v["rolled_back"][0]["ok"], true);
    assert_eq!(v["rolled_back"].as_array().unwrap().len(), 1);
}

/// berth's peak RSS while a provider floods stdout stays far below the 50 MB
/// printed. Measured from the kernel's high-water mark of berth's memory, so
/// the check needs no tool and can never skip.
fn assert_bounded_memory(fx: &Fx, spec: &Path) {
    let mut c = Command::new(crate::util::berth_bin());
    c.args(["apply", "-H"]).arg(&fx.host).arg(spec);
    c.current_dir(fx.dir.path())
        .env("BERTH_STATE_DIR", fx.dir.path().join("state"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let (status, kib) = peak_rss_kib(c);
    assert_eq!(status, 3, "berth apply under the flood");
    assert!(
        kib < 32 * 1024,
        "berth peaked at {kib} KiB while the provider printed 50 MB"
    );
}

/// The flood's memory check used to skip when `/usr/bin/time` was missing,
/// even under CI. Its measure now needs no tool; this shows it measures: `dd`
/// copying through a 64 MiB buffer peaks above 64 MiB, berth printing its
/// version stays far below.
#[test]
fn memory_check_skipped_without_usr_bin_time() {
    let mut dd = Command::new("dd");
    dd.args(["if=/dev/zero", "of=/dev/null", "bs=64M", "count=40"])
        .stderr(Stdio::null());
    let (status, kib) = peak_rss_kib(dd);
    assert_eq!(status, 0);
    assert!(kib >= 64 * 1024, "dd peaked at {kib} KiB");
    let mut v = Command::new(crate::util::berth_bin());
    v.arg("--version").stdout(Stdio::null());
    let (status, kib) = peak_rss_kib(v);
    assert_eq!(status, 0);
    assert!(kib < 32 * 1024, "berth --version peaked at {kib} KiB");
}

/// Runs `c` to its end and returns its exit code and peak resident set (KiB):
/// the kernel's high-water mark of the child's own memory (`VmHWM` in
/// `/proc/PID/status`), sampled until it exits.
///
/// Why not `wait4`'s `ru_maxrss`: the child is spawned by this test process
/// (vfork-style), and the kernel folds the spawning process's peak into the
/// child's `ru_maxrss` at `exec`, so berth would be charged for the whole test
/// binary. `VmHWM` belongs to the memory berth runs in. A sample can only
/// come after the peak it reports, so a peak in the last moment before exit
/// could be missed; berth's peak is while it reads the flood, long before.
fn peak_rss_kib(mut c: Command) -> (i32, u64) {
    let mut child = c.spawn().expect("spawn");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            let code = status.code().expect("exited, not killed by a signal");
            return (code, peak);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// stderr with miette's trailing spaces trimmed, for snapshots.
pub(crate) fn snap(o: &std::process::Output) -> String {
    stderr(o)
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A scratch folder with `host.yaml` (host `h`, one volume) and the spec
/// `c/berth.yaml`; commands run there with relative paths, so snapshots carry
/// no scratch path.
fn small_dir(spec_extra: &str) -> Dir {
    let dir = Dir::new();
    dir.write(
        "host.yaml",
        "berth: 1\nhost: h\nprovides:\n  - volume: data\n    path: /srv/data\n",
    );
    dir.write(
        "c/berth.yaml",
        &format!(
            "berth: 1\ncontainer: c\n{spec_extra}needs:\n  - volume: data\n    mount: /data\n"
        ),
    );
    dir
}

/// Runs berth in `dir` with `args`, which it must refuse with `exit` before
/// touching any state; the report, for a snapshot.
fn refusal(dir: &Dir, args: &[&str], exit: i32) -> String {
    let o = run(dir.berth().args(args));
    assert_eq!(code(&o), exit, "{}", stderr(&o));
    assert!(!dir.path().join("state").exists());
    snap(&o)
}

#[test]
fn snapshot_cli_bad_input() {
    // A host manifest given where specs go, and a spec file given twice.
    let args = [
        "apply",
        "-H",
        "host.yaml",
        "host.yaml",
        "c/berth.yaml",
        "c/berth.yaml",
    ];
    insta::assert_snapshot!(refusal(&small_dir(""), &args, 1));
}

#[test]
fn snapshot_cli_no_image() {
    let args = [
        "apply",
        "--emit",
        "docker",
        "-H",
        "host.yaml",
        "c/berth.yaml",
    ];
    insta::assert_snapshot!(refusal(&small_dir(""), &args, 1));
}

#[test]
fn snapshot_run_bad_image() {
    let args = [
        "run",
        "--dry-run",
        "--image=-v/:/host",
        "-H",
        "host.yaml",
        "c/berth.yaml",
    ];
    insta::assert_snapshot!(refusal(&small_dir("image: example/c:1\n"), &args, 1));
}

/// Applies `c` (state in the relative folder `state`), rewrites one key of
/// the state file, and applies again: the store's refusal.
fn apply_with_state_edit(key: &str, value: serde_json::Value) -> String {
    let dir = small_dir("");
    let apply = || {
        run(dir.berth().env("BERTH_STATE_DIR", "state").args([
            "apply",
            "-H",
            "host.yaml",
            "c/berth.yaml",
        ]))
    };
    assert_eq!(code(&apply()), 0);
    // Edited as a JSON state file, which berth migrates on its next run.
    let path = dir.path().join("state/h.json");
    let store = berth_engine::store::StateFile::new(dir.path().join("state"), "h");
    let mut v = serde_json::to_value(store.load_readonly().unwrap()).unwrap();
    v[key] = value;
    let edited = serde_json::to_vec_pretty(&v).unwrap();
    std::fs::write(&path, &edited).unwrap();
    let o = apply();
    assert_eq!(code(&o), 1);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        edited,
        "the state file was changed"
    );
    snap(&o)
}

#[test]
fn snapshot_state_version() {
    insta::assert_snapshot!(apply_with_state_edit("berth_state", 99.into()));
}

#[test]
fn snapshot_state_host_mismatch() {
    insta::assert_snapshot!(apply_with_state_edit("host", "web-02".into()));
}

/// A provider script written beside the manifest as `./NAME`: logs
/// `OP NAME` to `calls.log` and stdin to `stdin.log`, then runs `body`.
fn script(dir: &Dir, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.write(
        name,
        &format!(
            "#!/bin/sh\nset -u\nreq=$(cat)\necho \"$BERTH_OP $BERTH_NAME\" >> calls.log\nprintf '%s\\n' \"$req\" >> stdin.log\n{body}\n"
        ),
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Host `audnet` (2001:db8:1::/64, gateway ::1) whose `ipv6: "out-*"` provider
/// prints the address in the file `answer`; release removes `made/NAME`.
fn audnet_fx() -> Fx {
    let dir = Dir::new();
    std::fs::create_dir_all(dir.path().join("made")).unwrap();
    script(
        &dir,
        "addr",
        r#"case $BERTH_OP in
  provide) touch "made/$BERTH_NAME"; printf '{"address":"%s","network":"audnet"}\n' "$(cat answer)" ;;
  release) rm -f "made/$BERTH_NAME" ;;
  check) test -e "made/$BERTH_NAME" ;;
esac"#,
    );
    let host = dir.write(
        "host.yaml",
        r#"berth: 1
host: web-01
provides:
  - network: audnet
    subnet6: 2001:db8:1::/64
    gateway6: 2001:db8:1::1
providers:
  - ipv6: "out-*"
    run: [./addr]
"#,
    );
    Fx { dir, host }
}

#[test]
fn a_provider_result_outside_the_subnet_or_duplicated_or_a_gateway_is_refused() {
    let fx = audnet_fx();
    let answer = |a: &str| fx.dir.write("answer", a);
    let c1 = fx.spec("c1", &["ipv6: out-1"]);
    let c2 = fx.spec("c2", &["ipv6: out-2"]);

    answer("2001:db8:ffff::5");
    let o = fx.apply(&[&c1]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("berth::host::address-outside-subnet"), "{err}");
    assert!(err.contains("./addr"), "names the provider: {err}");
    assert!(err.contains("released ipv6 `out-1`"), "{err}");
    assert!(!fx.dir.path().join("made/out-1").exists());
    assert!(!fx.state_path().exists() || fx.state().provided.is_empty());

    answer("2001:db8:1::1");
    let o = fx.apply(&[&c1]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("berth::host::duplicate-address"));

    answer("2001:db8:1::5");
    let o = fx.apply(&[&c1]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let before = fx.state();
    // The same exclusive address for another name, spelled differently.
    answer("2001:db8:1:0::5");
    let o = fx.apply(&[&c2]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("berth::host::duplicate-address"), "{err}");
    assert!(err.contains("released ipv6 `out-2`"), "{err}");
    assert_eq!(fx.state(), before);
}

#[test]
fn a_provide_that_times_out_or_prints_garbage_is_released_with_provided_null() {
    for (what, provide) in [
        ("timeout", "sleep 5"),
        ("garbage", "echo 'made it, all good'"),
        (
            "invalid entry",
            "echo '{\"address\": \"nope\", \"network\": \"audnet\"}'",
        ),
    ] {
        let fx = audnet_fx();
        script(
            &fx.dir,
            "addr",
            &format!(
                "case $BERTH_OP in\n  provide) touch \"made/$BERTH_NAME\"; {provide} ;;\n  release) rm -f \"made/$BERTH_NAME\" ;;\nesac"
            ),
        );
        let host = std::fs::read_to_string(&fx.host).unwrap();
        fx.dir.write(
            "host.yaml",
            &host.replace("run: [./addr]", "run: [./addr]\n    timeout: 1s"),
        );
        let c1 = fx.spec("c1", &["ipv6: out-1"]);
        let o = fx.apply(&[&c1]);
        assert_eq!(code(&o), 3, "{what}: {}", stderr(&o));
        assert!(
            !fx.dir.path().join("made/out-1").exists(),
            "{what}: the failed provide was not released"
        );
        assert_eq!(fx.log(), ["provide out-1", "release out-1"], "{what}");
        let stdin = std::fs::read_to_string(fx.dir.path().join("stdin.log")).unwrap();
        let release: serde_json::Value =
            serde_json::from_str(stdin.lines().nth(1).unwrap()).unwrap();
        assert_eq!(release["provided"], serde_json::Value::Null, "{what}");
        assert!(
            stderr(&o).contains("released ipv6 `out-1`"),
            "{what}: {}",
            stderr(&o)
        );
        assert!(!fx.state_path().exists() || fx.state().pending_releases.is_empty());
    }
}

#[test]
fn an_unusable_provider_result_says_why_it_does_not_meet_the_need() {
    let dir = Dir::new();
    script(
        &dir,
        "vol",
        r#"case $BERTH_OP in provide) echo '{"path":"/x","read_only":true}' ;; esac"#,
    );
    let host = dir.write(
        "host.yaml",
        "berth: 1\nhost: web-01\nproviders:\n  - volume: \"vol*\"\n    run: [./vol]\n",
    );
    let fx = Fx { dir, host };
    let app = fx.spec("app", &["volume:vol1"]);
    let o = fx.apply(&[&app]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("volume `vol1` of `app`"), "{err}");
    assert!(
        err.contains("is lent read-only and the need is read-write"),
        "no reason given:\n{err}"
    );
    assert!(err.contains("released volume `vol1`"), "{err}");
}

#[test]
fn check_and_rollback_release_send_the_need_options_like_provide() {
    let fx = volume_fx(r#"echo '{"path":"/srv/v"}'"#);
    let app = fx.dir.write(
        "app/berth.yaml",
        "berth: 1\ncontainer: app\nneeds:\n  - volume: v1\n    mount: /data\n    read_only: true\n",
    );
    assert_eq!(code(&fx.apply(&[&app])), 0);
    assert_eq!(code(&fx.apply(&[&app])), 0);
    assert_eq!(fx.log(), ["provide v1", "check v1"]);
    let stdin = std::fs::read_to_string(fx.dir.path().join("stdin.log")).unwrap();
    let reqs: Vec<serde_json::Value> = stdin
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want = serde_json::json!({"mount": "/data", "read_only": true, "exclusive": false});
    assert_eq!(reqs[0]["need"], want, "provide");
    assert_eq!(reqs[1]["need"], want, "check");
    assert_eq!(reqs[1]["provided"], serde_json::json!({"path": "/srv/v"}));
}

#[test]
fn a_shared_resource_gone_and_provided_again_updates_every_holder() {
    // Each provide makes a new path: /srv/v1, /srv/v2, ...
    let fx = volume_fx(r#"printf '{"path":"/srv/v%s"}\n' "$(grep -c '^provide' calls.log)""#);
    let c1 = fx.spec("c1", &["volume:v1"]);
    let c2 = fx.spec("c2", &["volume:v1"]);
    assert_eq!(code(&fx.apply(&[&c1])), 0);
    std::fs::remove_file(fx.dir.path().join("made/v1")).unwrap();
    let o = fx.apply(&[&c2]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(fx.log(), ["provide v1", "check v1", "provide v1"]);
    let state = fx.state();
    assert_eq!(state.provided["volume/v1"].users, ["c1", "c2"]);
    assert_eq!(state.provided["volume/v1"].provided["path"], "/srv/v2");
    for holder in ["c1", "c2"] {
        assert_eq!(
            state.holdings[holder].bindings[0].value["path"], "/srv/v2",
            "{holder}"
        );
    }
}

/// A host whose `volume: "v*"` provider `./vol` marks `made/NAME` and runs
/// `provide` to print its result; release removes the mark, check tests it.
fn volume_fx(provide: &str) -> Fx {
    let dir = Dir::new();
    std::fs::create_dir_all(dir.path().join("made")).unwrap();
    script(
        &dir,
        "vol",
        &format!(
            r#"case $BERTH_OP in
  provide) touch "made/$BERTH_NAME"; {provide} ;;
  release) rm -f "made/$BERTH_NAME" ;;
  check) test -e "made/$BERTH_NAME" ;;
esac"#
        ),
    );
    let host = dir.write(
        "host.yaml",
        "berth: 1\nhost: web-01\nproviders:\n  - volume: \"v*\"\n    run: [./vol]\n",
    );
    Fx { dir, host }
}

/// `--emit` takes exactly the engine's registered emitters (the CLI keeps no
/// list of its own): each is offered with its help line, for `apply` and
/// `place --out` alike, and any other value is a usage error.
#[test]
fn emit_values_are_the_registered_emitters() {
    use berth_engine::emit::registry::EMITTERS;
    for sub in ["apply", "place"] {
        let o = run(Command::new(crate::util::berth_bin()).args([sub, "--help"]));
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let help = stdout(&o);
        for e in EMITTERS {
            assert!(
                help.contains(&format!("- {}:", e.name())) && help.contains(e.about()),
                "`berth {sub} --help` lacks emitter {}:\n{help}",
                e.name()
            );
        }
    }
    let fx = Fx::new(&["ok"], "10s");
    let app = fx.spec("app", &["volume:nfs-data"]);
    let o = run(fx.cmd("apply").args(["--emit", "cdi"]).arg(&app));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("[possible values: docker, compose, lxc, json]"),
        "{}",
        stderr(&o)
    );
    assert!(fx.log().is_empty(), "nothing may run: {:?}", fx.log());
}
