//! Daily operation without surprises (issue 12): CI never silently skips,
//! nothing gets stuck, outputs merge safely. Each test is named after the bug
//! it pins.

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;

use crate::util::{code, run, stderr, stdout, Dir};

const HOST: &str = "berth: 1\nhost: h\nprovides:\n  - volume: data\n    path: /srv/data\n";
const SPEC: &str = "berth: 1\ncontainer: web\nneeds:\n  - volume: data\n    mount: /data\n";

/// A pipe whose read end is already closed: any write to the other end fails
/// with EPIPE, whatever the timing.
fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: pipe fills two new descriptors; each is owned exactly once below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    drop(unsafe { OwnedFd::from_raw_fd(fds[0]) });
    Stdio::from(unsafe { OwnedFd::from_raw_fd(fds[1]) })
}

#[test]
fn a_closed_stdout_panicked_with_a_backtrace_instead_of_ending_quietly() {
    let dir = Dir::new();
    let host = dir.write("host.yaml", HOST);
    let spec = dir.write("web.yaml", SPEC);
    let (h, s) = (host.to_str().unwrap(), spec.to_str().unwrap());
    let commands: &[&[&str]] = &[
        &["status", "-H", h, "--format", "json"],
        &["status", "-H", h],
        &["plan", "-H", h, s, "--format", "json"],
        &["plan", "-H", h, s],
        &["check", "--format", "json", h, s],
        &["schema", "host"],
        &["label", s],
        &["place", "--hosts", h, s],
        &["place", "--hosts", h, s, "--format", "json"],
        &["apply", "-H", h, s, "--emit", "json", "-q"],
        &["release", "-H", h, "web", "-q"],
        &["completions", "bash"],
        &["man"],
    ];
    for args in commands {
        let o = run(dir.berth().args(*args).stdout(closed_pipe()));
        let err = stderr(&o);
        assert_eq!(code(&o), 0, "berth {args:?}: {err}");
        assert!(!err.contains("panicked"), "berth {args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "berth {args:?}: {err}");
    }
}

/// A stdout that cannot take the output (a full disk: `/dev/full`) is an
/// error that says so, exit 1, for the streamed JSON view as for the rest.
#[test]
fn a_full_stdout_is_an_error_that_says_so() {
    let dir = Dir::new();
    let host = dir.write("host.yaml", HOST);
    let h = host.to_str().unwrap();
    for args in [
        &["status", "-H", h, "--format", "json"][..],
        &["status", "-H", h][..],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = run(dir.berth().args(args).stdout(full));
        let err = stderr(&o);
        assert_eq!(code(&o), 1, "berth {args:?}: {err}");
        assert!(
            err.contains("cannot write to stdout"),
            "berth {args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "berth {args:?}: {err}");
    }
}

#[test]
fn there_were_no_shell_completions_and_no_man_page() {
    let dir = Dir::new();
    for (shell, marker) in [
        ("bash", "complete -F _berth"),
        ("zsh", "#compdef berth"),
        ("fish", "complete -c berth"),
    ] {
        let o = run(dir.berth().args(["completions", shell]));
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let text = stdout(&o);
        assert!(text.contains(marker), "{shell}: {text}");
        // Every subcommand and a flag of each are offered.
        for word in ["check", "plan", "release", "completions", "lxc-net-index"] {
            assert!(text.contains(word), "{shell} lacks {word}");
        }
    }
    let o = run(dir.berth().arg("man"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let page = stdout(&o);
    assert!(page.contains(".TH berth 1"), "{page}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "{section}: {page}");
    }
    assert!(page.contains("completions"), "{page}");
    assert_eq!(
        code(&run(dir.berth().args(["completions", "tcsh"]))),
        2,
        "an unknown shell is a usage error"
    );
}

#[test]
fn there_was_no_color_flag() {
    let dir = Dir::new();
    let spec = dir.write(
        "bad.yaml",
        "berth: 1\ncontainer: web\nneeds:\n  - volum: data\n",
    );
    // The test environment sets NO_COLOR and stderr is a pipe: `always` wins anyway.
    let o = run(dir.berth().args(["check", "--color", "always"]).arg(&spec));
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("\x1b["), "{}", stderr(&o));
    for when in ["never", "auto"] {
        let o = run(dir.berth().args(["check", "--color", when]).arg(&spec));
        assert_eq!(code(&o), 1);
        let err = stderr(&o);
        assert!(!err.contains("\x1b["), "{when}: {err}");
        assert!(err.contains("berth::need::unknown-kind"), "{when}: {err}");
    }
    assert_eq!(
        code(&run(dir.berth().args(["--color", "sometimes", "man"]))),
        2
    );
}

/// The codes `check --format json` reported, with each one's file name.
fn check_json(dir: &Dir, args: &[&str]) -> (i32, serde_json::Value) {
    let o = run(dir
        .berth()
        .arg("check")
        .arg("--format")
        .arg("json")
        .args(args));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&o), stderr(&o)));
    (code(&o), v)
}

#[test]
fn a_berth_file_without_its_version_line_was_skipped_and_ci_stayed_green() {
    let dir = Dir::new();
    // No `berth:` at all, in a file named berth.yml.
    dir.write("web/berth.yml", "container: web\n");
    // A misspelt version key in a berth-shaped need spec.
    dir.write(
        "api/svc.yaml",
        "Berth: 1\ncontainer: api\nneeds:\n  - volume: x\n    mount: /x\n",
    );
    // The version line commented out in a berth-shaped host manifest.
    dir.write("hosts/h.yaml", "# berth: 1\nhost: h\nprovides: []\n");
    // Foreign YAML stays skipped.
    dir.write(".github/ci.yml", "name: ci\non: push\n");
    let (rc, v) = check_json(&dir, &["."]);
    assert_eq!(rc, 1, "{v:#}");
    let mut missing: Vec<String> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "berth::format::version-missing")
        .map(|d| d["file"].as_str().unwrap().to_string())
        .collect();
    missing.sort();
    assert_eq!(
        missing,
        ["./api/svc.yaml", "./hosts/h.yaml", "./web/berth.yml"],
        "{v:#}"
    );
    assert_eq!(v["skipped"], 1, "{v:#}");
    assert_eq!(v["skipped_files"][0]["file"], "./.github/ci.yml", "{v:#}");
}

#[test]
fn skipped_files_were_only_counted_never_named() {
    let dir = Dir::new();
    dir.write("ok.yaml", "berth: 1\ncontainer: web\n");
    dir.write("ci.yml", "name: ci\non: push\n");
    dir.write("k8s.yaml", "kind: Pod\n---\nberth: 1\ncontainer: api\n");
    dir.write("Dockerfile", "FROM scratch\n");
    let (rc, v) = check_json(&dir, &["."]);
    assert_eq!(rc, 0, "{v:#}");
    let listed: Vec<(String, u64)> = v["skipped_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["file"].as_str().unwrap().to_string(),
                s["documents"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("./Dockerfile".to_string(), 0),
            ("./ci.yml".to_string(), 1),
            ("./k8s.yaml".to_string(), 1),
        ]
    );
    let o = run(dir.berth().args(["check", "--verbose", "."]));
    assert_eq!(code(&o), 0);
    let err = stderr(&o);
    for f in ["./Dockerfile", "./ci.yml", "./k8s.yaml"] {
        assert!(err.contains(&format!("skipped {f}: ")), "{f}: {err}");
    }
    assert!(!err.contains("skipped ./ok.yaml"), "{err}");
    // Without --verbose the human report stays one summary line.
    let quiet = stderr(&run(dir.berth().args(["check", "."])));
    assert!(!quiet.contains("skipped ./"), "{quiet}");
}

#[test]
fn check_could_not_read_stdin() {
    let dir = Dir::new();
    let check = |text: &str| {
        let mut child = dir
            .berth()
            .args(["check", "--format", "json", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let o = child.wait_with_output().unwrap();
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        (code(&o), v)
    };
    let (rc, v) = check("berth: 1\ncontainer: web\n");
    assert_eq!((rc, &v["documents"]), (0, &serde_json::json!(1)), "{v:#}");
    let (rc, v) = check("berth: 1\ncontainer: Web\n");
    assert_eq!(rc, 1, "{v:#}");
    assert_eq!(v["diagnostics"][0]["file"], "<stdin>", "{v:#}");
    assert_eq!(v["diagnostics"][0]["line"], 2, "{v:#}");
    // Stdin is named: no document at all is an error, not a pass.
    let (rc, _) = check("");
    assert_eq!(rc, 1);
}

const NET_HOST: &str = "berth: 1
host: n-01
provides:
  - network: front
    subnet6: 2001:db8:7::/64
    gateway6: 2001:db8:7::1
  - ipv6: web
    address: 2001:db8:7::20
    network: front
  - port: http
    host_port: 8080
";

const NET_SPEC: &str = "berth: 1
container: web
image: example/web:1
needs:
  - ipv6: web
  - port: http
    container_port: 80
";

#[test]
fn a_compose_override_listed_a_base_file_port_twice() {
    if !crate::util::require_tools(
        "a_compose_override_listed_a_base_file_port_twice",
        &["docker-compose"],
    ) {
        return;
    }
    let dir = Dir::new();
    let host = dir.write("host.yaml", NET_HOST);
    let spec = dir.write("berth.yaml", NET_SPEC);
    let o = run(dir
        .berth()
        .args(["apply", "-q", "--emit", "compose", "-H"])
        .arg(&host)
        .arg(&spec));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let over = dir.write("override.yaml", &stdout(&o));
    // The base file publishes the same port, the way compose files write it,
    // and names no network (the service is on `default`).
    let base = dir.write(
        "compose.yaml",
        "services:\n  web:\n    image: example/web:1\n    ports:\n      - \"8080:80\"\n  db:\n    image: example/db:1\n",
    );
    let merged = run(std::process::Command::new("docker-compose")
        .arg("-f")
        .arg(&base)
        .arg("-f")
        .arg(&over)
        .arg("config")
        .current_dir(dir.path()));
    assert!(merged.status.success(), "{}", stderr(&merged));
    let text = stdout(&merged);
    let web = &text[text.find("  web:").expect("service web")..];
    let ports = web.matches("target: 80\n").count() + web.matches(":80/tcp").count();
    assert_eq!(ports, 1, "port 80 listed {ports} times:\n{text}");
    // Still on the siblings' network, and on berth's.
    assert!(web.contains("default"), "{text}");
    assert!(web.contains("ipv6_address: 2001:db8:7::20"), "{text}");
}

#[test]
fn the_lxc_fragment_always_started_at_lxc_net_0() {
    let dir = Dir::new();
    let host = dir.write("host.yaml", NET_HOST);
    let spec = dir.write(
        "berth.yaml",
        "berth: 1\ncontainer: web\nneeds:\n  - ipv6: web\n",
    );
    let lxc = |extra: &[&str]| {
        let o = run(dir
            .berth()
            .args(["apply", "-q", "--emit", "lxc", "-H"])
            .arg(&host)
            .arg(&spec)
            .args(extra));
        (code(&o), stdout(&o), stderr(&o))
    };
    let (rc, text, err) = lxc(&[]);
    assert_eq!(rc, 0, "{err}");
    assert!(
        text.contains("lxc.net.0.ipv6.address = 2001:db8:7::20/64"),
        "{text}"
    );
    let (rc, text, err) = lxc(&["--lxc-net-index", "1"]);
    assert_eq!(rc, 0, "{err}");
    assert!(text.contains("lxc.net.1.type = veth"), "{text}");
    assert!(
        text.contains("lxc.net.1.ipv6.address = 2001:db8:7::20/64"),
        "{text}"
    );
    assert!(
        text.contains("lxc.net.1.ipv6.gateway = 2001:db8:7::1"),
        "{text}"
    );
    assert!(!text.contains("lxc.net.0"), "{text}");
    // place --out writes the same numbering.
    let out = dir.path().join("out");
    let o = run(dir
        .berth()
        .args(["place", "--emit", "lxc", "--lxc-net-index", "2", "--hosts"])
        .arg(&host)
        .arg(&spec)
        .arg("--out")
        .arg(&out));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let written = std::fs::read_to_string(out.join("n-01/web.conf")).unwrap();
    assert!(written.contains("lxc.net.2.link = front"), "{written}");
    // Meaningless without --emit lxc: a usage error, not silently ignored.
    let o = run(dir
        .berth()
        .args(["apply", "--emit", "json", "--lxc-net-index", "1", "-H"])
        .arg(&host)
        .arg(&spec));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--emit lxc"), "{}", stderr(&o));
}

#[test]
fn plan_json_unmet_needs_had_no_message_text_for_ci_annotations() {
    let dir = Dir::new();
    let host = dir.write("host.yaml", "berth: 1\nhost: h\nprovides: []\n");
    let spec = dir.write("berth.yaml", SPEC);
    let o = run(dir
        .berth()
        .args(["plan", "--format", "json", "-H"])
        .arg(&host)
        .arg(&spec));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let u = &v["containers"][0]["unmet"][0];
    assert_eq!(
        u["message"], "volume `data` of container `web` cannot be met on host `h`",
        "{u:#}"
    );
    assert_eq!(u["line"], 4, "{u:#}");
    let explained = u["explanation"].as_array().unwrap();
    assert_eq!(explained.len(), u["reasons"].as_array().unwrap().len());
    assert_eq!(explained[1], "no provider handles volume `data`", "{u:#}");
    // apply's JSON failure report carries the same text.
    let o = run(dir
        .berth()
        .args(["apply", "--format", "json", "-H"])
        .arg(&host)
        .arg(&spec));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["containers"][0]["unmet"][0]["message"], u["message"]);
}

/// A host whose `volume: "nfs-*"` provider (`./nfs`) provides a path and
/// whose release always fails (a resource that is already gone, say).
fn stuck_release_fixture() -> (Dir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new();
    let nfs = dir.write(
        "nfs",
        "#!/bin/sh\ncat >/dev/null\ncase $BERTH_OP in\n  provide) printf '{\"path\":\"/srv/%s\"}\\n' \"$BERTH_NAME\" ;;\n  release) echo 'no such export' >&2; exit 1 ;;\nesac\n",
    );
    std::fs::set_permissions(&nfs, std::fs::Permissions::from_mode(0o755)).unwrap();
    let host = dir.write(
        "host.yaml",
        "berth: 1\nhost: h\nprovides:\n  - volume: data\n    path: /srv/data\nproviders:\n  - volume: \"nfs-*\"\n    run: [./nfs]\n",
    );
    nfs_app(&dir, "nfs-a");
    dir.write("web.yaml", SPEC);
    (dir, host)
}

#[test]
fn a_pending_release_that_could_never_succeed_blocked_every_release() {
    let (dir, host) = stuck_release_fixture();
    let berth = |args: &[&str]| {
        let o = run(dir.berth().args(args).arg("-H").arg(&host));
        (code(&o), stdout(&o), stderr(&o))
    };
    assert_eq!(berth(&["apply", "-q", "app.yaml", "web.yaml"]).0, 0);
    let (rc, _, _) = berth(&["release", "-q", "app"]);
    assert_eq!(rc, 3);
    // Stuck: releasing anything else retries it and fails again.
    let (rc, _, _) = berth(&["release", "-q", "web"]);
    assert_eq!(rc, 3);
    let (_, status, _) = berth(&["status"]);
    assert!(status.contains("pending releases: 1"), "{status}");
    assert!(status.contains("--forget KIND/NAME"), "{status}");
    let (_, json, _) = berth(&["status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["pending_releases"][0]["name"], "nfs-a", "{v:#}");

    // A wrong name changes nothing and lists what is pending.
    let (rc, _, err) = berth(&["release", "--forget", "volume/nfs-b"]);
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("berth::cli::not-pending"), "{err}");
    assert!(err.contains("pending: volume/nfs-a"), "{err}");
    let (rc, _, err) = berth(&["release", "--forget", "nfs-a"]);
    assert_eq!(rc, 2, "{err}");

    let (rc, out, err) = berth(&["release", "--forget", "volume/nfs-a"]);
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.contains(
            "forgot pending release of volume `nfs-a` (by ./nfs); its provider was not run"
        ),
        "{out}"
    );
    let (_, status, _) = berth(&["status"]);
    assert!(!status.contains("pending releases"), "{status}");
    // Unstuck: the next release is an ordinary one.
    assert_eq!(berth(&["apply", "-q", "web.yaml"]).0, 0);
    let (rc, out, err) = berth(&["release", "-q", "web"]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("released container `web`"), "{out}");
}

#[test]
fn bundled_provider_ledgers_ignored_the_state_folder() {
    let dir = Dir::new();
    let state = dir.path().join("state");
    let base = dir.path().join("vols");
    let provider = |op: &str| {
        let o = run(std::process::Command::new(
            crate::util::repo_root().join("providers/bundled/dir-volume"),
        )
        .arg("--base")
        .arg(&base)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("BERTH_OP", op)
        .env("BERTH_KIND", "volume")
        .env("BERTH_NAME", "data")
        .env("BERTH_CONTAINER", "web")
        .env("BERTH_HOST", "h")
        .env("BERTH_STATE_DIR", &state)
        .stdin(Stdio::null()));
        assert_eq!(code(&o), 0, "{op}: {}", stderr(&o));
        stdout(&o)
    };
    let out = provider("provide");
    assert!(out.contains("vols/data"), "{out}");
    // The ledger is in berth's state folder, not /var/lib/berth/providers.
    let ledger = state.join("providers/dir-volume");
    assert!(ledger.is_dir(), "no ledger at {}", ledger.display());
    provider("release");
    assert!(!base.join("data").exists());
    // Nothing left behind once released: the ledger and its folder go.
    assert!(!state.join("providers").exists());
}

#[test]
fn plan_refused_folders_that_check_and_place_take() {
    let dir = Dir::new();
    let host = dir.write("repo/host.yaml", HOST);
    dir.write("repo/web/berth.yaml", SPEC);
    dir.write(
        "repo/api/berth.yaml",
        "berth: 1\ncontainer: api\nneeds:\n  - volume: data\n    mount: /d\n    read_only: true\n",
    );
    dir.write("repo/.github/ci.yml", "name: ci\non: push\n");
    let o = run(dir
        .berth()
        .args(["plan", "--format", "json", "-H"])
        .arg(&host)
        .arg(dir.path().join("repo")));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let names: Vec<&str> = v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["container"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "web"], "{v:#}");
    // apply changes the host: it still takes files only.
    let o = run(dir
        .berth()
        .args(["apply", "-H"])
        .arg(&host)
        .arg(dir.path().join("repo")));
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("berth::io::read"), "{}", stderr(&o));
}

#[test]
fn a_reapply_after_a_manifest_change_moved_an_address_silently() {
    let dir = Dir::new();
    let host = dir.write("host.yaml", NET_HOST);
    let spec = dir.write(
        "berth.yaml",
        "berth: 1\ncontainer: web\nneeds:\n  - ipv6: web\n",
    );
    let apply = || {
        let o = run(dir
            .berth()
            .args(["apply", "-q", "-H"])
            .arg(&host)
            .arg(&spec));
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        (stdout(&o), stderr(&o))
    };
    let (_, err) = apply();
    assert_eq!(err, "");
    // Re-applying the same thing says nothing.
    let (_, err) = apply();
    assert_eq!(err, "");
    dir.write(
        "host.yaml",
        &NET_HOST.replace("2001:db8:7::20", "2001:db8:7::21"),
    );
    let (out, err) = apply();
    assert!(out.contains("2001:db8:7::21"), "{out}");
    assert!(
        err.contains(
            "warning: ipv6 `web` of container `web` changed from {\"address\":\"2001:db8:7::20\""
        ),
        "{err}"
    );
    assert!(err.contains("keeps the old value"), "{err}");
}

#[test]
fn two_containers_needing_one_port_name_blamed_an_exclusive_pool_with_ports_free() {
    let dir = Dir::new();
    let host = dir.write(
        "host.yaml",
        "berth: 1\nhost: h\nprovides:\n  - port: \"*\"\n    pool: 8000-8099\n",
    );
    let specs = dir.write(
        "web.yaml",
        "berth: 1\ncontainer: web-1\nneeds:\n  - port: http\n    container_port: 80\n---\nberth: 1\ncontainer: web-2\nneeds:\n  - port: http\n    container_port: 80\n",
    );
    assert!(host.exists() && specs.exists());
    let o = run(dir.berth().args(["plan", "-H", "host.yaml", "web.yaml"]));
    assert_eq!(code(&o), 1);
    let err = stderr(&o).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(!err.contains("is exclusive and goes to"), "{err}");
    assert!(
        err.contains("container `web-1` of this plan needs port `http` too, and port `*` (host.yaml:4) serves each name once"),
        "{err}"
    );
    assert!(err.contains("the name clashes, not the ports"), "{err}");
    assert!(err.contains("`http-web-2`"), "{err}");
}

const POOL_HOST: &str = "berth: 1
host: h
provides:
  - network: front
    subnet6: 2001:db8:7::/64
    gateway6: 2001:db8:7::1
  - ipv6: web
    address: 2001:db8:7::20
    network: front
  - ipv6: \"*\"
    pool: 2001:db8:7::/120
    network: front
  - port: \"*\"
    pool: 8000-8099
  - volume: data
    path: /srv/data
providers:
  - volume: \"nfs-*\"
    run: [./nfs, --server, nas]
    timeout: 10s
";

#[test]
fn no_command_showed_what_a_host_provides_and_how_much_is_free() {
    let dir = Dir::new();
    let host = dir.write("host.yaml", POOL_HOST);
    dir.write(
        "api.yaml",
        "berth: 1\ncontainer: api\nneeds:\n  - ipv6: api\n  - port: http\n    container_port: 80\n  - volume: data\n    mount: /d\n",
    );
    dir.write("db.yaml", "berth: 1\ncontainer: db\nneeds:\n  - ipv6: db\n");
    for spec in ["api.yaml", "db.yaml"] {
        let o = run(dir.berth().args(["apply", "-q", "-H", "host.yaml", spec]));
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    assert_eq!(
        code(&run(dir.berth().args([
            "release",
            "-q",
            "-H",
            "host.yaml",
            "db"
        ]))),
        0
    );
    let o = run(dir
        .berth()
        .args(["hosts", "show", "--format", "json", "-H"])
        .arg(&host));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let provides = v["provides"].as_array().unwrap();
    assert_eq!(provides.len(), 5);
    let pool6 = &provides[2]["pool"];
    assert_eq!(pool6["range"], "2001:db8:7::/120", "{v:#}");
    assert_eq!(pool6["size"], "256");
    // The subnet's network address, the gateway and the static are never handed out.
    assert_eq!(pool6["usable"], "253");
    assert_eq!(pool6["free"], "251");
    assert_eq!(pool6["reservations"][0]["name"], "api");
    assert_eq!(pool6["reservations"][0]["holder"], "api");
    assert_eq!(pool6["reservations"][1]["name"], "db");
    assert_eq!(pool6["reservations"][1]["holder"], serde_json::Value::Null);
    assert_eq!(pool6["reservations"][1]["last_holder"], "db");
    let ports = &provides[3]["pool"];
    assert_eq!(
        (&ports["usable"], &ports["free"]),
        (&serde_json::json!("100"), &serde_json::json!("99"))
    );
    assert_eq!(provides[4]["entry"]["path"], "/srv/data");
    assert_eq!(provides[4]["holders"], serde_json::json!(["api"]));
    assert_eq!(v["providers"][0]["pattern"], "nfs-*");
    assert_eq!(v["providers"][0]["timeout"], 10.0);

    let o = run(dir.berth().args(["hosts", "show", "-H", "host.yaml"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    for line in [
        "251 free of 253 usable addresses (256 in 2001:db8:7::/120)",
        "- db = 2001:db8:7::3 (free, kept for the name; `berth release --purge db` frees it)",
        "99 free of 100 usable ports (100 in 8000-8099)",
        "volume `data` (line 15): path=/srv/data (held by api)",
        "volume `nfs-*` (line 18): ./nfs --server nas (timeout 10s)",
    ] {
        assert!(text.contains(line), "no `{line}` in:\n{text}");
    }
}

#[test]
fn there_was_no_state_dir_flag() {
    let dir = Dir::new();
    let host = dir.write("host.yaml", HOST);
    dir.write("web.yaml", SPEC);
    let flag = dir.path().join("flagged");
    // Dir::berth sets BERTH_STATE_DIR to DIR/state: the flag wins over it.
    let o = run(dir
        .berth()
        .args(["apply", "-q", "web.yaml", "-H"])
        .arg(&host)
        .arg("--state-dir")
        .arg(&flag));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(flag.join("h.json").is_file() || flag.read_dir().unwrap().next().is_some());
    assert!(!dir.path().join("state").exists());
    for args in [
        &["status", "--format", "json"][..],
        &["hosts", "show", "--format", "json"][..],
        &["plan", "--format", "json", "web.yaml"][..],
    ] {
        let o = run(dir
            .berth()
            .args(args)
            .arg("-H")
            .arg(&host)
            .arg("--state-dir")
            .arg(&flag));
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(
            out.contains("\"web\""),
            "{args:?} does not see the holding: {out}"
        );
    }
    let o = run(dir
        .berth()
        .args(["release", "-q", "web", "-H"])
        .arg(&host)
        .arg("--state-dir")
        .arg(&flag));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("released container `web`"));
}

/// The help lines `check --format json` gives for one file's text.
fn check_help(dir: &Dir, text: &str) -> Vec<String> {
    let f = dir.write("pitfall.yaml", text);
    let (_, v) = check_json(dir, &[f.to_str().unwrap()]);
    v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["help"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn yaml_pitfalls_got_raw_parser_messages() {
    let dir = Dir::new();
    let help = check_help(
        &dir,
        "berth: 1\nhost: h\nprovides:\n  - ipv6: web\n    address: 2001:db8:42::\n    network: n\n",
    );
    assert!(
        help[0].contains("quote the address, `address: \"2001:db8:42::\"`"),
        "{help:?}"
    );
    let help = check_help(
        &dir,
        "berth: 1\ncontainer: web\nneeds:\n  - volume: a\n   mount: /x\n",
    );
    assert!(help[0].starts_with("check the indentation"), "{help:?}");
    let help = check_help(&dir, "berth: 1\ncontainer: web\nneeds:\n\t- volume: a\n");
    assert!(help[0].contains("spaces only"), "{help:?}");
    // `yes` has no quotes to remove: the help says what it is instead.
    let help = check_help(
        &dir,
        "berth: 1\ncontainer: web\nneeds:\n  - volume: a\n    mount: /x\n    read_only: yes\n",
    );
    assert!(!help[0].contains("without quotes"), "{help:?}");
    assert!(help[0].contains("`yes` is a string"), "{help:?}");
    let help = check_help(
        &dir,
        "berth: 1\ncontainer: web\nneeds:\n  - volume: a\n    mount: /x\n    read_only: \"true\"\n",
    );
    assert_eq!(help[0], "write `true` or `false` without quotes");
}

/// Writes an executable provider script `name` for `volume: "nfs-*"`: provide
/// prints a path and logs `NAME OP RESOURCE` to calls.log; release exits
/// `release_exit`.
fn nfs_script(dir: &Dir, name: &str, release_exit: u8) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.write(
        name,
        &format!(
            "#!/bin/sh\ncat >/dev/null\necho \"{name} $BERTH_OP $BERTH_NAME\" >> calls.log\ncase $BERTH_OP in\n  provide) printf '{{\"path\":\"/srv/%s\"}}\\n' \"$BERTH_NAME\" ;;\n  release) exit {release_exit} ;;\nesac\n"
        ),
    );
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn nfs_host(dir: &Dir, run: &str) -> std::path::PathBuf {
    dir.write(
        "host.yaml",
        &format!("berth: 1\nhost: h\nproviders:\n  - volume: \"nfs-*\"\n    run: [{run}]\n    timeout: 5s\n"),
    )
}

/// `app.yaml`: container `app` needing the provider-made volume `volume`.
fn nfs_app(dir: &Dir, volume: &str) {
    let mount = volume.trim_start_matches("nfs-");
    dir.write(
        "app.yaml",
        &format!("berth: 1\ncontainer: app\nneeds:\n  - volume: {volume}\n    mount: /{mount}\n"),
    );
}

/// Applies `app.yaml` (its provider succeeds) and releases `app`, whose
/// provider release fails: one pending release is left behind.
fn apply_then_fail_to_release(dir: &Dir) {
    let berth = |args: &[&str]| code(&run(dir.berth().args(args)));
    assert_eq!(berth(&["apply", "-q", "-H", "host.yaml", "app.yaml"]), 0);
    assert_eq!(berth(&["release", "-q", "-H", "host.yaml", "app"]), 3);
}

fn calls(dir: &Dir) -> Vec<String> {
    std::fs::read_to_string(dir.path().join("calls.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_provider_that_could_not_start_left_a_pending_release_that_blocked_the_host() {
    let dir = Dir::new();
    nfs_script(&dir, "nfs", 0);
    nfs_host(&dir, "./nfs-typo");
    nfs_app(&dir, "nfs-a");
    let o = run(dir
        .berth()
        .args(["apply", "-q", "-H", "host.yaml", "app.yaml"]));
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let st = run(dir
        .berth()
        .args(["status", "--format", "json", "-H", "host.yaml"]));
    let v: serde_json::Value = serde_json::from_str(&stdout(&st)).unwrap();
    assert_eq!(v["pending_releases"], serde_json::json!([]), "{v:#}");
    // Fixing the typo is enough: nothing is stuck.
    nfs_host(&dir, "./nfs");
    let o = run(dir
        .berth()
        .args(["apply", "-q", "-H", "host.yaml", "app.yaml"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(dir
        .berth()
        .args(["release", "-q", "-H", "host.yaml", "app"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(calls(&dir), ["nfs provide nfs-a", "nfs release nfs-a"]);
}

#[test]
fn a_retried_release_ran_the_saved_argv_after_the_manifest_was_fixed() {
    let dir = Dir::new();
    nfs_script(&dir, "nfs-old", 1);
    nfs_script(&dir, "nfs-new", 0);
    nfs_host(&dir, "./nfs-old");
    nfs_app(&dir, "nfs-a");
    apply_then_fail_to_release(&dir);
    // The manifest now names another script for the same resources.
    nfs_host(&dir, "./nfs-new");
    let o = run(dir
        .berth()
        .args(["release", "-q", "-H", "host.yaml", "app"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        calls(&dir),
        [
            "nfs-old provide nfs-a",
            "nfs-old release nfs-a",
            "nfs-new release nfs-a"
        ]
    );
}

#[test]
fn a_pending_release_was_dropped_when_another_provider_made_the_same_name() {
    let dir = Dir::new();
    nfs_script(&dir, "nfs-a", 1);
    nfs_script(&dir, "nfs-b", 0);
    nfs_host(&dir, "./nfs-a");
    nfs_app(&dir, "nfs-x");
    apply_then_fail_to_release(&dir);
    // Another provider makes the same name: the first one's release is still owed.
    nfs_host(&dir, "./nfs-b");
    let o = run(dir
        .berth()
        .args(["apply", "-q", "-H", "host.yaml", "app.yaml"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let st = run(dir
        .berth()
        .args(["status", "--format", "json", "-H", "host.yaml"]));
    let v: serde_json::Value = serde_json::from_str(&stdout(&st)).unwrap();
    let pending = v["pending_releases"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{v:#}");
    assert_eq!(pending[0]["run"], serde_json::json!(["./nfs-a"]), "{v:#}");
    // Retried with the provider that made it, never with the one whose
    // resource is live now.
    let _ = run(dir
        .berth()
        .args(["release", "-q", "-H", "host.yaml", "nobody"]));
    let log = calls(&dir);
    assert!(!log.contains(&"nfs-b release nfs-x".to_string()), "{log:?}");
    assert_eq!(log.last().unwrap(), "nfs-a release nfs-x", "{log:?}");
}

#[test]
fn providers_lost_the_environment_they_need() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new();
    let p = dir.write(
        "envdump",
        "#!/bin/sh\ncat >/dev/null\nenv | sort > env.$BERTH_OP\nprintf '{\"path\":\"/srv/x\"}\\n'\n",
    );
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir.write(
        "host.yaml",
        "berth: 1\nhost: h\nproviders:\n  - volume: \"nfs-*\"\n    run: [./envdump]\n    env: [DOCKER_HOST, CONTAINERS_CONF=/etc/berth/containers.conf, NOT_SET_HERE]\n",
    );
    nfs_app(&dir, "nfs-a");
    let o = run(dir
        .berth()
        .args(["apply", "-q", "-H", "host.yaml", "app.yaml"])
        .env("DOCKER_HOST", "unix:///run/test-docker.sock")
        .env("HOME", "/home/someone")
        .env_remove("NOT_SET_HERE"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let env = std::fs::read_to_string(dir.path().join("env.provide")).unwrap();
    let lines: Vec<&str> = env.lines().collect();
    assert!(
        lines.contains(&"DOCKER_HOST=unix:///run/test-docker.sock"),
        "{env}"
    );
    assert!(
        lines.contains(&"CONTAINERS_CONF=/etc/berth/containers.conf"),
        "{env}"
    );
    let state = dir.path().join("state");
    assert!(
        lines.contains(&format!("BERTH_STATE_DIR={}", state.display()).as_str()),
        "{env}"
    );
    // Only what the entry lists: not HOME, and not a listed name berth lacks.
    assert!(!env.contains("HOME="), "{env}");
    assert!(!env.contains("NOT_SET_HERE"), "{env}");

    // A name that is not a variable, or one of berth's own, is refused by check.
    let bad = dir.write(
        "bad.yaml",
        "berth: 1\nhost: h\nproviders:\n  - volume: \"nfs-*\"\n    run: [./envdump]\n    env: [BERTH_NAME=x, \"A B\"]\n",
    );
    let (rc, v) = check_json(&dir, &[bad.to_str().unwrap()]);
    assert_eq!(rc, 1);
    let messages: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].contains("`BERTH_NAME` is berth's own"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("`A B` is not a variable name"),
        "{messages:?}"
    );
}

#[test]
fn a_bundled_provider_left_its_ledger_in_var_lib_berth_whatever_the_state_dir() {
    let dir = Dir::new();
    let base = dir.path().join("vols");
    dir.write(
        "host.yaml",
        &format!(
            "berth: 1\nhost: h\nproviders:\n  - volume: \"data-*\"\n    run: [{}, --base, {}]\n",
            crate::util::repo_root()
                .join("providers/bundled/dir-volume")
                .display(),
            base.display()
        ),
    );
    dir.write(
        "app.yaml",
        "berth: 1\ncontainer: app\nneeds:\n  - volume: data-a\n    mount: /a\n",
    );
    let state = dir.path().join("elsewhere");
    let o = run(dir
        .berth()
        .args(["apply", "-q", "-H", "host.yaml", "app.yaml", "--state-dir"])
        .arg(&state));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(state.join("providers/dir-volume").is_dir());
    assert!(base.join("data-a").is_dir());
    let o = run(dir
        .berth()
        .args(["release", "-q", "-H", "host.yaml", "app", "--state-dir"])
        .arg(&state));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!base.join("data-a").exists());
    assert!(!state.join("providers").exists());
}

#[test]
fn a_pool_full_of_a_released_names_reservation_did_not_name_it() {
    let dir = Dir::new();
    dir.write(
        "host.yaml",
        "berth: 1\nhost: h\nprovides:\n  - network: n\n    subnet4: 10.9.0.0/24\n  - ipv4: \"*\"\n    pool: 10.9.0.8/32\n    network: n\n",
    );
    dir.write("db.yaml", "berth: 1\ncontainer: db\nneeds:\n  - ipv4: db\n");
    dir.write(
        "web.yaml",
        "berth: 1\ncontainer: web\nneeds:\n  - ipv4: web\n",
    );
    let berth = |args: &[&str]| run(dir.berth().args(args));
    assert_eq!(
        code(&berth(&["apply", "-q", "-H", "host.yaml", "db.yaml"])),
        0
    );
    assert_eq!(code(&berth(&["release", "-q", "-H", "host.yaml", "db"])), 0);
    let o = berth(&["plan", "--format", "json", "-H", "host.yaml", "web.yaml"]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let why = v["containers"][0]["unmet"][0]["explanation"][0]
        .as_str()
        .unwrap();
    assert!(why.contains("has no free address left"), "{why}");
    assert!(
        why.contains("1 address is kept for a released name: `db` = "),
        "{why}"
    );
    assert!(why.contains("`berth release --purge db` frees it"), "{why}");
    // `plan` and `apply` decide on the slice of the store the spec can touch
    // (docs/state.md), which leaves `db`'s reservation out; their
    // explanations are made against the whole state, and name it.
    let o = berth(&["plan", "-H", "host.yaml", "web.yaml"]);
    assert_eq!(code(&o), 1);
    // The report wraps its help to the terminal's width.
    let words = stderr(&o).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("1 address is kept for a released name: `db` = "),
        "{words}"
    );
    let o = berth(&["apply", "--format", "json", "-H", "host.yaml", "web.yaml"]);
    assert_eq!(code(&o), 1);
    assert!(
        stdout(&o).contains("1 address is kept for a released name: `db` = "),
        "{}",
        stdout(&o)
    );
    // Purged, the pool serves the new name.
    assert_eq!(
        code(&berth(&[
            "release",
            "-q",
            "--purge",
            "-H",
            "host.yaml",
            "db"
        ])),
        0
    );
    assert_eq!(code(&berth(&["plan", "-H", "host.yaml", "web.yaml"])), 0);
}

/// Three networks whose pools start at an address that is not their subnet's
/// network address: a single IPv6 address, a single IPv4 address, the upper
/// half of an IPv4 /24.
const FIRST_ADDRESS_HOST: &str = "berth: 1
host: h
provides:
  - network: six
    subnet6: 2001:db8::/64
    gateway6: 2001:db8::1
  - network: four
    subnet4: 192.0.2.0/24
  - network: half
    subnet4: 10.0.0.0/24
    gateway4: 10.0.0.1
  - ipv6: \"solo-*\"
    pool: 2001:db8::10/128
    network: six
  - ipv4: \"one-*\"
    pool: 192.0.2.7/32
    network: four
  - ipv4: \"half-*\"
    pool: 10.0.0.128/25
    network: half
";

fn plan_addresses(dir: &Dir, host: &str, spec: &str) -> Vec<String> {
    let o = run(dir
        .berth()
        .args(["plan", "--format", "json", "-H", host, spec]));
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["bindings"].as_array().unwrap().iter())
        .filter_map(|b| b["value"]["address"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_pool_never_gave_out_its_own_first_address() {
    let dir = Dir::new();
    dir.write("host.yaml", FIRST_ADDRESS_HOST);
    dir.write(
        "berth.yaml",
        "berth: 1\ncontainer: web\nneeds:\n  - ipv6: solo-a\n  - ipv4: one-a\n  - ipv4: half-a\n",
    );
    assert_eq!(
        plan_addresses(&dir, "host.yaml", "berth.yaml"),
        ["2001:db8::10", "192.0.2.7", "10.0.0.128"]
    );
    // None of these pools is empty: check says nothing.
    let o = run(dir.berth().args(["check", "host.yaml"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("pool-empty"), "{}", stderr(&o));
}

#[test]
fn a_pool_with_no_usable_address_and_addresses_engines_refuse_passed_check_silently() {
    let dir = Dir::new();
    dir.write(
        "host.yaml",
        "berth: 1
host: h
provides:
  - network: four
    subnet4: 192.0.2.0/24
    gateway4: 192.0.2.1
  - network: six
    subnet6: 2001:db8::/64
  - ipv4: bcast
    address: 192.0.2.255
    network: four
  - ipv4: net
    address: 192.0.2.0
    network: four
  - ipv6: router
    address: \"2001:db8::\"
    network: six
  - ipv4: \"gw-*\"
    pool: 192.0.2.0/31
    network: four
  - ipv4: \"top-*\"
    pool: 192.0.2.254/31
    network: four
  - ipv4: \"ok-*\"
    pool: 192.0.2.128/30
    network: four
",
    );
    let o = run(dir.berth().args(["check", "--format", "json", "host.yaml"]));
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    let count = |code: &str| out.matches(code).count();
    // 192.0.2.0/31 holds only the subnet's network address and the gateway;
    // 192.0.2.254/31 keeps .254 beside the broadcast address.
    assert_eq!(count("berth::host::pool-empty"), 1, "{out}");
    assert!(out.contains("pool `192.0.2.0/31`"), "{out}");
    assert_eq!(count("berth::host::refused-address"), 3, "{out}");
    assert!(out.contains("subnet-router anycast address"), "{out}");
    assert!(
        out.contains("broadcast address of subnet `192.0.2.0/24`"),
        "{out}"
    );
}

#[test]
fn reservations_made_while_a_pools_first_address_was_skipped_keep_their_address() {
    let dir = Dir::new();
    // The first apply runs while 2001:db8::100 is a static address (the
    // pool skips it, as every pool's first address once was): `old` gets
    // ::101 and keeps it for its name.
    let host = "berth: 1
host: h
provides:
  - network: six
    subnet6: 2001:db8::/64
  - ipv6: held
    address: 2001:db8::100
    network: six
  - ipv6: \"*\"
    pool: 2001:db8::100/120
    network: six
";
    dir.write("host.yaml", host);
    dir.write(
        "old.yaml",
        "berth: 1\ncontainer: old\nneeds:\n  - ipv6: old\n",
    );
    dir.write(
        "new.yaml",
        "berth: 1\ncontainer: new\nneeds:\n  - ipv6: new\n",
    );
    let apply = |spec: &str| {
        let o = run(dir.berth().args(["apply", "-q", "-H", "host.yaml", spec]));
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        stdout(&o)
    };
    assert!(apply("old.yaml").contains("2001:db8::101"));
    // The static goes away: ::100 is an ordinary address now, and the state
    // written before keeps `old` on ::101 while `new` gets ::100.
    dir.write(
        "host.yaml",
        &host.replace(
            "  - ipv6: held\n    address: 2001:db8::100\n    network: six\n",
            "",
        ),
    );
    let o = run(dir
        .berth()
        .args(["release", "-q", "-H", "host.yaml", "old"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        plan_addresses(&dir, "host.yaml", "old.yaml"),
        ["2001:db8::101"]
    );
    assert!(apply("new.yaml").contains("2001:db8::100"));
    assert!(apply("old.yaml").contains("2001:db8::101"));
}

/// The networks compose puts service `svc` on in `docker-compose config`'s
/// output (map form: one `name:` line per network under `networks:`).
fn merged_networks(text: &str, svc: &str) -> Vec<String> {
    let at = text
        .find(&format!("\n  {svc}:\n"))
        .unwrap_or_else(|| panic!("no service {svc} in:\n{text}"));
    let rest = &text[at + 1..];
    let mut lines = rest.lines().skip(1);
    let mut out = Vec::new();
    while let Some(l) = lines.next() {
        if !l.starts_with("    ") {
            break;
        }
        if l == "    networks:" {
            for n in lines.by_ref() {
                if let Some(name) = n.strip_prefix("      ") {
                    if !name.starts_with(' ') {
                        let name = name.split(':').next().unwrap_or_default();
                        out.push(name.trim_matches(['"', '\'']).to_string());
                    }
                } else {
                    break;
                }
            }
            break;
        }
    }
    out
}

#[test]
fn a_compose_override_put_a_service_on_default_whatever_the_base_file_said() {
    let dir = Dir::new();
    let host = dir.write("host.yaml", NET_HOST);
    let spec = dir.write("berth.yaml", NET_SPEC);
    // `web` is on `back` only (list form); `db` on `back` (map form).
    let base = dir.write(
        "compose.yaml",
        "services:\n  web:\n    image: example/web:1\n    networks: [back]\n  db:\n    image: example/db:1\n    networks:\n      back: {}\nnetworks:\n  back: {}\n",
    );
    let emit = |extra: &[&str]| {
        let o = run(dir
            .berth()
            .args(["apply", "-q", "--emit", "compose", "-H"])
            .arg(&host)
            .arg(&spec)
            .args(extra));
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        stdout(&o)
    };
    let with_base = emit(&["--compose-file", base.to_str().unwrap()]);
    assert!(with_base.contains("      \"back\": {}\n"), "{with_base}");
    assert!(!with_base.contains("default"), "{with_base}");
    let without = emit(&[]);
    assert!(without.contains("      \"default\": {}\n"), "{without}");
    assert!(
        without.contains("# `default` keeps the service"),
        "{without}"
    );
    // A base file where `web` names no network: `default` it is.
    let bare = dir.write("bare.yaml", "services:\n  web:\n    image: example/web:1\n");
    let on_bare = emit(&["--compose-file", bare.to_str().unwrap()]);
    assert!(on_bare.contains("      \"default\": {}\n"), "{on_bare}");
    assert!(!on_bare.contains('#'), "{on_bare}");
    // The option belongs to compose, and the file must be one.
    let o = run(dir
        .berth()
        .args(["apply", "-q", "--emit", "docker", "--compose-file"])
        .arg(&base)
        .arg("-H")
        .arg(&host)
        .arg(&spec));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = run(dir
        .berth()
        .args([
            "apply",
            "-q",
            "--emit",
            "compose",
            "--compose-file",
            "host.yaml",
            "-H",
        ])
        .arg(&host)
        .arg(&spec));
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("no `services:` map"), "{}", stderr(&o));

    if !crate::util::require_tools(
        "a_compose_override_put_a_service_on_default_whatever_the_base_file_said",
        &["docker-compose"],
    ) {
        return;
    }
    let over = dir.write("override.yaml", &with_base);
    let merged = run(std::process::Command::new("docker-compose")
        .arg("-f")
        .arg(&base)
        .arg("-f")
        .arg(&over)
        .arg("config")
        .current_dir(dir.path()));
    assert!(merged.status.success(), "{}", stderr(&merged));
    let text = stdout(&merged);
    let mut nets = merged_networks(&text, "web");
    nets.sort();
    assert_eq!(nets, ["back", "front"], "{text}");
}

#[test]
fn the_cdi_option_belongs_to_the_docker_line() {
    let dir = Dir::new();
    let host = dir.write(
        "host.yaml",
        "berth: 1\nhost: h\nprovides:\n  - example.com/thing: one\n    env: {THING: one}\n",
    );
    let spec = dir.write(
        "berth.yaml",
        "berth: 1\ncontainer: c\nimage: img\nneeds:\n  - example.com/thing: one\n",
    );
    let line = |extra: &[&str]| {
        run(dir
            .berth()
            .args(["apply", "-q", "-H"])
            .arg(&host)
            .arg(&spec)
            .args(extra))
    };
    let o = line(&["--emit", "docker", "--cdi"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let argv = shlex::split(stdout(&o).trim()).unwrap();
    assert!(
        argv.windows(2)
            .any(|w| w[0] == "--device" && w[1] == "example.com/thing=one"),
        "{argv:?}"
    );
    assert!(!argv.iter().any(|a| a == "THING=one"), "{argv:?}");
    let o = line(&["--emit", "lxc", "--cdi"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--cdi"), "{}", stderr(&o));
}

/// Issue 12: an error about the state folder said "see docs/state.md" and
/// never where the folder came from. Each source is named with the way to
/// change it: here the folder cannot be created (its parent is a file).
#[test]
fn a_state_folder_error_did_not_say_where_the_folder_came_from() {
    let dir = Dir::new();
    dir.write("blocker", "a file, not a folder\n");
    let spec = dir.write("berth.yaml", "berth: 1\ncontainer: c\nneeds: []\n");
    let host = |state_dir: Option<&str>| {
        let extra = state_dir.map_or(String::new(), |d| format!("state_dir: {d}\n"));
        dir.write(
            "host.yaml",
            &format!("berth: 1\nhost: h\n{extra}provides: []\n"),
        )
    };
    let apply = |cmd: &mut std::process::Command| {
        let o = run(cmd.arg("-H").arg(dir.path().join("host.yaml")).arg(&spec));
        assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
        stderr(&o)
    };
    host(None);
    let err = apply(
        dir.berth()
            .args(["apply", "-q", "--state-dir", "blocker/state"]),
    );
    assert!(err.contains("cannot create state folder"), "{err}");
    assert!(err.contains("given with --state-dir"), "{err}");

    let err = apply(
        dir.berth()
            .env("BERTH_STATE_DIR", dir.path().join("blocker/env"))
            .args(["apply", "-q"]),
    );
    assert!(err.contains("comes from $BERTH_STATE_DIR"), "{err}");
    assert!(err.contains("--state-dir DIR"), "{err}");

    host(Some(dir.path().join("blocker/manifest").to_str().unwrap()));
    let err = apply(
        dir.berth()
            .env_remove("BERTH_STATE_DIR")
            .args(["apply", "-q"]),
    );
    assert!(err.contains("comes from `state_dir:` in"), "{err}");
    assert!(err.contains("host.yaml"), "{err}");

    // A folder anyone may write, from the manifest, in JSON too.
    let open = dir.path().join("open");
    host(Some(open.to_str().unwrap()));
    std::fs::create_dir(&open).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = run(dir
        .berth()
        .env_remove("BERTH_STATE_DIR")
        .args(["plan", "--format", "json", "-H", "host.yaml"])
        .arg(&spec));
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("berth::state::folder-writable"), "{out}");
    assert!(
        out.contains("comes from `state_dir:` in host.yaml"),
        "{out}"
    );
}
