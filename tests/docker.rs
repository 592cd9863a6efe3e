//! Docker for real (issue 10): the seed container started by `berth run
//! --engine docker` on a network the bundled `docker-network` provider makes,
//! checked from inside (address, default route, read-only pages) and from the
//! host (HTTP through the published port); its address survives `docker
//! restart` and a daemon restart, and a container started with plain `docker
//! run` on the same network never gets one of berth's addresses (the
//! provider's `--ip-range6` keeps Docker's own IPAM away from them). Also:
//! `--dry-run` changes neither the state nor the engine, compose `up` with
//! berth's override, and `--from-image` on an image imported with the label
//! `berth label` prints. After `berth release` no network, container, folder,
//! state entry or provider ledger berth made is left.
//!
//! These need root, Docker (a daemon that answers) and busybox-static
//! (`.ci/setup` installs them and starts a daemon of its own,
//! `tests/support/dockerd`). Without them each test prints why it skips; under
//! `CI=true` it fails. The daemon is `DOCKER_HOST` when set, else the one
//! `tests/support/dockerd` runs when its socket exists, else Docker's default.
//!
//! The tests share the container name `webserver` and one test restarts the
//! daemon, so they run one at a time (a lock). Networks carry the process id;
//! subnets are the seed's on /64s no other test uses (`...:4446::` to
//! `...:4448::`); ports are 40000 and up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::bundled::{bundled, unique};
use crate::runtime::{assert_state_empty, fixture, http_get, ok, seed_spec};
use crate::util::{code, in_ci, repo_root, require_tools, stderr, stdout, Dir};

/// One test at a time: the container name `webserver`, and the daemon restart.
static DOCKER: Mutex<()> = Mutex::new(());

/// The busybox image the tests run (imported by [`image`]).
pub(crate) const IMAGE: &str = "berth-test-busybox:1";

/// `tests/support/dockerd`, which .ci/setup uses to start berth's own daemon.
fn dockerd_script() -> PathBuf {
    repo_root().join("tests/support/dockerd")
}

/// The daemon the tests use, as a `DOCKER_HOST` value.
pub(crate) fn docker_host() -> String {
    if let Some(h) = std::env::var_os("DOCKER_HOST") {
        return h.to_string_lossy().into_owned();
    }
    if Path::new("/run/berth-ci-docker/docker.sock").exists() {
        return "unix:///run/berth-ci-docker/docker.sock".into();
    }
    "unix:///var/run/docker.sock".into()
}

/// Whether that daemon is the one `tests/support/dockerd` runs (and so may
/// be restarted by a test).
fn daemon_is_ours() -> bool {
    docker_host() == "unix:///run/berth-ci-docker/docker.sock"
        && Path::new("/run/berth-ci-docker/docker.pid").exists()
}

/// A docker command against the test daemon.
pub(crate) fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", docker_host())
        .output()
        .expect("spawn docker")
}

/// docker's stdout, asserting success.
pub(crate) fn docker_ok(args: &[&str]) -> String {
    let o = docker(args);
    ok(&o, &format!("docker {}", args.join(" ")));
    stdout(&o)
}

/// `berth ARGS` in `dir`, against the test daemon.
fn berth(dir: &Dir, args: &[&str]) -> Output {
    dir.berth()
        .args(args)
        .env("DOCKER_HOST", docker_host())
        .output()
        .expect("spawn berth")
}

/// Root, docker and busybox-static, and a daemon that answers; otherwise
/// prints why the test skips (or fails under CI).
pub(crate) fn require_docker(test: &str) -> bool {
    if !require_tools(test, &["docker", "busybox", "ip"]) {
        return false;
    }
    if code(&docker(&["version", "--format", "{{.Server.Version}}"])) == 0 {
        return true;
    }
    let msg = format!(
        "{test}: SKIPPED, no Docker daemon answers at {} (.ci/setup starts one: tests/support/dockerd start)",
        docker_host()
    );
    if in_ci() {
        panic!("{msg} (CI=true: real-runtime tests may not skip)");
    }
    eprintln!("{msg}");
    false
}

/// Imports the busybox rootfs as `name` with the seed's command (httpd serving
/// /var/www) and the extra `--change` lines; an existing `name` is replaced.
pub(crate) fn image(name: &str, changes: &[&str]) {
    let dir = Dir::new();
    let rootfs = dir.path().join("rootfs");
    let o = Command::new(repo_root().join("tests/support/busybox-rootfs"))
        .arg(&rootfs)
        .output()
        .unwrap();
    ok(&o, "busybox-rootfs");
    let tar = dir.path().join("rootfs.tar");
    let o = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .output()
        .unwrap();
    ok(&o, "tar");
    let mut args = vec![
        "import".to_string(),
        "--change".into(),
        r#"CMD ["/bin/httpd", "-f", "-h", "/var/www"]"#.into(),
    ];
    for c in changes {
        args.push("--change".into());
        args.push(c.to_string());
    }
    args.push(tar.to_str().unwrap().into());
    args.push(name.into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    docker_ok(&refs);
}

/// Names of all containers (running or not).
fn containers() -> Vec<String> {
    docker_ok(&["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Names of all networks.
pub(crate) fn networks() -> Vec<String> {
    let mut v: Vec<String> = docker_ok(&["network", "ls", "--format", "{{.Name}}"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Removes containers and a network when dropped, whatever happened.
struct Cleanup {
    containers: Vec<String>,
    network: String,
}
impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = docker(&["rm", "-f", c]);
        }
        let _ = docker(&["network", "rm", &self.network]);
    }
}

/// A test's host: a scratch dir, the Docker host manifest with a unique
/// network name, its /64 (`netid`, e.g. `4446`), a port, a volumes base and a
/// ledger folder.
struct Host {
    dir: Dir,
    net: String,
    netid: &'static str,
    port: u16,
    volumes: PathBuf,
    ledgers: PathBuf,
    path: PathBuf,
}

impl Host {
    fn new(tag: &str, netid: &'static str, port_offset: u16) -> Host {
        let dir = Dir::new();
        let net = unique(tag);
        let ledgers = dir.path().join("provider-state");
        let volumes = dir.path().join("volumes");
        let port = 40000 + (std::process::id() % 20000) as u16 + port_offset;
        let path = fixture(
            &dir,
            "docker-host.yaml",
            &[
                ("NET", &net),
                ("NETID", netid),
                ("PORT", &port.to_string()),
                (
                    "BUNDLED",
                    bundled("").to_str().unwrap().trim_end_matches('/'),
                ),
                ("VOLUMES", volumes.to_str().unwrap()),
                ("PSTATE", ledgers.to_str().unwrap()),
                ("DOCKER_HOST", &docker_host()),
            ],
        );
        Host {
            dir,
            net,
            netid,
            port,
            volumes,
            ledgers,
            path,
        }
    }

    fn h(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// An address of this host's subnet, `...:NETID::8888:SUFFIX`.
    fn addr(&self, suffix: &str) -> String {
        format!("1111:2222:3333:{}::8888:{suffix}", self.netid)
    }
}

/// The container's global IPv6 address on eth0 (as `ip` prints it, with the
/// prefix length), waiting while it starts.
fn address_of(container: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        let o = docker(&["exec", container, "ip", "-6", "addr", "show", "dev", "eth0"]);
        last = format!("{}{}", stdout(&o), stderr(&o));
        if let Some(l) = last.lines().find(|l| l.contains("inet6 1111:")) {
            return l.split_whitespace().nth(1).unwrap_or("").to_string();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{container} has no 1111: address: {last}");
}

/// What the state folder and the engine look like: the host's state (None
/// when absent), the containers and the networks.
fn snapshot(dir: &Dir, host: &str) -> (Option<serde_json::Value>, Vec<String>, Vec<String>) {
    let state = crate::util::state_json(&dir.path().join("state"), host);
    (state, containers(), networks())
}

#[test]
fn docker_seed_gets_its_address_route_pages_and_port_and_keeps_its_address() {
    let name = "docker_seed_gets_its_address_route_pages_and_port_and_keeps_its_address";
    if !require_docker(name) {
        return;
    }
    let _one = DOCKER.lock().unwrap_or_else(|e| e.into_inner());
    image(IMAGE, &[]);
    let case = Host::new("d", "4446", 0);
    let (dir, h, net) = (&case.dir, case.h(), case.net.as_str());
    let s = seed_spec();
    let s = s.to_str().unwrap();
    let plain = format!("berth-plain-{}", std::process::id());
    let plain2 = format!("{plain}-2");
    assert!(
        !containers().iter().any(|n| n == "webserver"),
        "a docker container named `webserver` exists already; remove it to run this test"
    );
    let _cleanup = Cleanup {
        containers: vec!["webserver".into(), plain.clone(), plain2.clone()],
        network: net.to_string(),
    };
    let run_args = |extra: &[&'static str]| {
        let mut a = vec![
            "run",
            "-H",
            h,
            s,
            "--engine",
            "docker",
            "--image",
            IMAGE,
            "-d",
            "--engine-arg=--restart=unless-stopped",
        ];
        a.extend(extra);
        a
    };

    // --dry-run before anything exists: no state folder, no network, no
    // container, no volume folder; the argv names the network and berth's
    // address, the provider-made pages folder as a placeholder.
    let before = snapshot(dir, "web-05");
    assert!(before.0.is_none());
    let dry = berth(dir, &run_args(&["--dry-run"]));
    ok(&dry, "berth run --dry-run");
    assert_eq!(
        snapshot(dir, "web-05"),
        before,
        "--dry-run changed something"
    );
    assert!(
        !dir.path().join("state").exists(),
        "--dry-run made the state folder"
    );
    assert!(!case.volumes.exists() && !case.ledgers.exists());
    let argv = shlex::split(stdout(&dry).trim()).expect("the dry-run line splits");
    let addr = case.addr("20");
    assert_eq!(
        argv[..5],
        ["docker", "run", "-d", "--restart=unless-stopped", "--name"],
        "{argv:?}"
    );
    assert!(
        argv.windows(4)
            .any(|w| w == ["--network", net, "--ip6", addr.as_str()]),
        "{argv:?}"
    );
    assert!(
        argv.contains(&"<volume webpages made by its provider on apply>:/var/www:ro".to_string()),
        "{argv:?}"
    );
    let said = stderr(&dry);
    assert!(
        said.contains("provide network") && said.contains("docker-network"),
        "the dry run does not show the provider step:\n{said}"
    );

    // For real, with --restart passed through to the engine.
    let run = berth(dir, &run_args(&[]));
    ok(&run, "berth run --engine docker -d");
    eprintln!("berth run stderr:\n{}", stderr(&run));
    std::fs::write(
        case.volumes.join("webpages/index.html"),
        "berth seed page\n",
    )
    .unwrap();
    assert_eq!(
        docker_ok(&[
            "inspect",
            "--format",
            "{{.HostConfig.RestartPolicy.Name}}",
            "webserver"
        ])
        .trim(),
        "unless-stopped"
    );
    let seen = address_of("webserver");
    println!("docker container webserver sees: {seen}");
    assert_eq!(seen, format!("{addr}/112"));
    let route = docker_ok(&["exec", "webserver", "ip", "-6", "route"]);
    assert!(
        route.contains(&format!("default via {}", case.addr("1"))),
        "{route}"
    );
    assert_eq!(
        docker_ok(&["exec", "webserver", "cat", "/var/www/index.html"]),
        "berth seed page\n"
    );
    let write = docker(&[
        "exec",
        "webserver",
        "sh",
        "-c",
        "echo probe > /var/www/probe",
    ]);
    assert_ne!(
        code(&write),
        0,
        "the pages volume is writable inside docker"
    );
    assert!(
        stderr(&write).contains("Read-only file system"),
        "{}",
        stderr(&write)
    );
    match http_get(case.port, "/index.html") {
        Ok(answer) => {
            println!(
                "host GET 127.0.0.1:{}/index.html: {}",
                case.port,
                answer.lines().next().unwrap_or("")
            );
            assert!(
                answer.starts_with("HTTP/1.") && answer.contains("berth seed page"),
                "{answer}"
            );
        }
        Err(e) => panic!("port {} did not answer from the host ({e})", case.port),
    }

    // A dry run now prints exactly what runs, and still changes nothing.
    let before = snapshot(dir, "web-05");
    assert!(before.0.is_some());
    let dry = berth(dir, &run_args(&["--dry-run"]));
    ok(&dry, "berth run --dry-run (applied)");
    assert_eq!(
        snapshot(dir, "web-05"),
        before,
        "--dry-run changed something"
    );
    assert!(
        stderr(&run).contains(stdout(&dry).trim()),
        "the dry run's line is not the one that ran:\n{}\n{}",
        stdout(&dry),
        stderr(&run)
    );

    // Plain `docker run` on the same network: Docker's own IPAM gives an
    // address from the provider's --ip-range6, outside berth's static and pool.
    let in_range = |a: &str| {
        let n = |s: &str| u128::from(s.parse::<std::net::Ipv6Addr>().unwrap());
        let ip = n(a.split('/').next().unwrap());
        // --ip-range6 ...::8888:8000/113, the pool ...::8888:100/120.
        let range = n(&case.addr("8000"))..=n(&case.addr("ffff"));
        let pool = n(&case.addr("100"))..=n(&case.addr("1ff"));
        range.contains(&ip) && !pool.contains(&ip) && ip != n(&addr)
    };
    docker_ok(&["run", "-d", "--name", &plain, "--network", net, IMAGE]);
    let other = address_of(&plain);
    println!("plain docker run on {net} gets: {other}");
    assert!(in_range(&other), "plain docker run got {other}");

    // docker restart: the same address.
    docker_ok(&["restart", "-t", "1", "webserver"]);
    assert_eq!(
        address_of("webserver"),
        format!("{addr}/112"),
        "after docker restart"
    );

    // The reboot race of docker/compose#11899: berth's container is down and
    // another starts first on the network; it does not take berth's address,
    // and berth's container gets its own back.
    docker_ok(&["stop", "-t", "1", "webserver"]);
    docker_ok(&["run", "-d", "--name", &plain2, "--network", net, IMAGE]);
    let other2 = address_of(&plain2);
    assert!(in_range(&other2), "plain docker run got {other2}");
    docker_ok(&["start", "webserver"]);
    assert_eq!(
        address_of("webserver"),
        format!("{addr}/112"),
        "after a stop and start"
    );

    // A daemon restart (only of the daemon tests/support/dockerd runs): the
    // restart policy passed through --engine-arg brings it back, same address.
    if daemon_is_ours() {
        let o = Command::new(dockerd_script())
            .arg("restart")
            .output()
            .unwrap();
        ok(&o, "tests/support/dockerd restart");
        let deadline = Instant::now() + Duration::from_secs(30);
        while docker_ok(&["inspect", "--format", "{{.State.Running}}", "webserver"]).trim()
            != "true"
        {
            assert!(
                Instant::now() < deadline,
                "webserver did not come back after a daemon restart"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let after = address_of("webserver");
        println!("after a daemon restart webserver sees: {after}");
        assert_eq!(after, format!("{addr}/112"), "after a daemon restart");
        assert!(http_get(case.port, "/index.html").is_ok_and(|a| a.contains("berth seed page")));
    } else {
        let msg = format!(
            "{name}: daemon restart SKIPPED: the daemon at {} is not the one tests/support/dockerd runs",
            docker_host()
        );
        assert!(
            !in_ci() || std::env::var_os("DOCKER_HOST").is_some(),
            "{msg}"
        );
        eprintln!("{msg}");
    }

    // Release refuses to remove the network while containers are attached,
    // and keeps that release pending; once they are gone, nothing is left.
    docker_ok(&["rm", "-f", &plain, &plain2]);
    let refused = berth(dir, &["release", "-H", h, "webserver"]);
    assert_eq!(code(&refused), 3, "{}", stdout(&refused));
    assert!(
        stdout(&refused).contains("still has containers attached: webserver"),
        "exit {}\nstdout:\n{}\nstderr:\n{}",
        code(&refused),
        stdout(&refused),
        stderr(&refused)
    );
    assert!(
        networks().iter().any(|n| n == net),
        "the network went while in use"
    );
    docker_ok(&["rm", "-f", "webserver"]);
    let released = berth(dir, &["release", "-H", h, "webserver"]);
    ok(&released, "berth release");
    assert!(
        !networks().iter().any(|n| n == net),
        "release left docker network {net}"
    );
    assert!(!containers().iter().any(|n| n == "webserver"));
    assert!(!case.volumes.exists(), "release left the volume folders");
    assert_state_empty(dir, "web-05", &case.ledgers);
}

/// The compose file a user already has: the seed's web server and a sibling
/// that only this file names; neither names a network (both on `default`).
const APP_YML: &str = r#"version: "3.8"
services:
  webserver:
    image: IMAGE
    command: ["/bin/httpd", "-f", "-h", "/var/www"]
  sidekick:
    image: IMAGE
    command: ["/bin/httpd", "-f", "-h", "/"]
"#;

#[test]
fn docker_compose_up_with_the_override_keeps_the_default_network() {
    let name = "docker_compose_up_with_the_override_keeps_the_default_network";
    if !require_docker(name) || !require_tools(name, &["docker-compose"]) {
        return;
    }
    let _one = DOCKER.lock().unwrap_or_else(|e| e.into_inner());
    image(IMAGE, &[]);
    let case = Host::new("c", "4447", 1);
    let (dir, h, net) = (&case.dir, case.h(), case.net.as_str());
    let project = format!("berthc{}", std::process::id());
    let _cleanup = Cleanup {
        containers: Vec::new(),
        network: net.to_string(),
    };
    let compose = |args: &[&str]| {
        Command::new("docker-compose")
            .args(["-p", &project, "-f", "app.yml", "-f", "override.yml"])
            .args(args)
            .current_dir(dir.path())
            .env("DOCKER_HOST", docker_host())
            .output()
            .unwrap()
    };
    struct Down<'a>(&'a dyn Fn(&[&str]) -> Output);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["down", "-t", "1"]);
        }
    }
    dir.write("app.yml", &APP_YML.replace("IMAGE", IMAGE));
    // The spec without an image: the base file's stays.
    let spec = dir.write(
        "webserver/berth.yaml",
        &std::fs::read_to_string(seed_spec())
            .unwrap()
            .replace("image: example/webserver:1.4\n", ""),
    );
    let applied = berth(
        dir,
        &[
            "apply",
            "-q",
            "-H",
            h,
            spec.to_str().unwrap(),
            "--emit",
            "compose",
        ],
    );
    ok(&applied, "berth apply --emit compose");
    let over = stdout(&applied);
    eprintln!("override:\n{over}");
    dir.write("override.yml", &over);
    std::fs::write(case.volumes.join("webpages/index.html"), "compose page\n").unwrap();
    let _down = Down(&compose);
    let up = compose(&["up", "-d"]);
    ok(&up, "docker-compose up -d");
    let id = stdout(&compose(&["ps", "-q", "webserver"]))
        .trim()
        .to_string();
    assert!(!id.is_empty(), "no webserver container");
    let seen = address_of(&id);
    println!("compose service webserver sees: {seen}");
    assert_eq!(seen, format!("{}/112", case.addr("20")));
    assert_eq!(
        docker_ok(&["exec", &id, "cat", "/var/www/index.html"]),
        "compose page\n"
    );
    let write = docker(&["exec", &id, "sh", "-c", "echo x > /var/www/x"]);
    assert!(
        stderr(&write).contains("Read-only file system"),
        "{}",
        stderr(&write)
    );
    // Still on `default` with its sibling: the sibling's name resolves and
    // its web server answers.
    let nets = docker_ok(&[
        "inspect",
        "--format",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        &id,
    ]);
    assert!(
        nets.split_whitespace()
            .any(|n| n == format!("{project}_default")),
        "the service left the default network: {nets}"
    );
    let sibling = docker(&[
        "exec",
        &id,
        "wget",
        "-q",
        "-O",
        "-",
        "http://sidekick/etc/passwd",
    ]);
    assert_eq!(
        code(&sibling),
        0,
        "the sibling is unreachable: {}",
        stderr(&sibling)
    );
    match http_get(case.port, "/index.html") {
        Ok(a) => assert!(a.contains("compose page"), "{a}"),
        Err(e) => panic!("port {} did not answer ({e})", case.port),
    }
    ok(&compose(&["down", "-t", "1"]), "docker-compose down");
    ok(
        &berth(dir, &["release", "-H", h, "webserver"]),
        "berth release",
    );
    assert!(!networks().iter().any(|n| n == net), "release left {net}");
    assert_state_empty(dir, "web-05", &case.ledgers);
}

#[test]
fn docker_runs_an_image_that_carries_its_needs() {
    let name = "docker_runs_an_image_that_carries_its_needs";
    if !require_docker(name) {
        return;
    }
    let _one = DOCKER.lock().unwrap_or_else(|e| e.into_inner());
    let case = Host::new("i", "4448", 2);
    let (dir, h, net) = (&case.dir, case.h(), case.net.as_str());
    let _cleanup = Cleanup {
        containers: vec!["webserver".into()],
        network: net.to_string(),
    };
    // The image is built (imported) with the line `berth label` prints, as a
    // Dockerfile would have it.
    let label = berth(dir, &["label", seed_spec().to_str().unwrap()]);
    ok(&label, "berth label");
    let line = stdout(&label);
    assert_eq!(shlex::split(line.trim()).unwrap()[0], "LABEL");
    let labelled = "berth-test-labelled:1";
    image(labelled, &[line.trim()]);
    image(IMAGE, &[]);

    // A label that is not a valid spec: the loader's diagnostic, naming the
    // image, the label and the JSON path.
    let bad = line.trim().replace("/var/www", "var/www");
    image("berth-test-badlabel:1", &[&bad]);
    let o = berth(
        dir,
        &["plan", "-H", h, "--from-image", "berth-test-badlabel:1"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("image berth-test-badlabel:1, label io.berth.spec"),
        "{err}"
    );
    assert!(err.contains("(JSON path $.needs[0].mount)"), "{err}");
    let _ = docker(&["rmi", "berth-test-badlabel:1"]);

    // The image without the label: a clear error with a stable code.
    let o = berth(dir, &["plan", "-H", h, "--from-image", IMAGE]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("berth::label::missing"),
        "{}",
        stderr(&o)
    );

    // `allow: ["image:..."]` sees the image actually run: with the label's
    // spec from the labelled image it passes; the same spec file run with
    // another --image does not.
    let allowed = dir.write(
        "allow-host.yaml",
        &std::fs::read_to_string(&case.path).unwrap().replace(
            "  - port: http\n",
            "  - volume: webpages\n    path: /srv/nowhere\n    allow: [\"image:berth-test-labelled:*\"]\n  - port: http\n",
        ),
    );
    let a = allowed.to_str().unwrap();
    let o = berth(
        dir,
        &["run", "-H", a, "--from-image", labelled, "--dry-run"],
    );
    ok(&o, "berth run --from-image (allowed image) --dry-run");
    assert!(stdout(&o).trim().ends_with(labelled), "{}", stdout(&o));
    let o = berth(
        dir,
        &[
            "run",
            "-H",
            a,
            seed_spec().to_str().unwrap(),
            "--image",
            IMAGE,
            "--dry-run",
        ],
    );
    assert_eq!(
        code(&o),
        1,
        "another image passed the allow list: {}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("berth::need::unmet"), "{}", stderr(&o));

    // apply reads it too, and the configuration names the image.
    let applied = berth(
        dir,
        &[
            "apply",
            "-q",
            "-H",
            h,
            "--from-image",
            labelled,
            "--emit",
            "docker",
        ],
    );
    ok(&applied, "berth apply --from-image --emit docker");
    let argv = shlex::split(stdout(&applied).trim()).unwrap();
    assert_eq!(argv.last().map(String::as_str), Some(labelled), "{argv:?}");
    assert!(networks().iter().any(|n| n == net), "apply made no network");

    // For real: run the labelled image with no spec file.
    let run = berth(
        dir,
        &[
            "run",
            "-q",
            "-H",
            h,
            "--from-image",
            labelled,
            "--rm",
            "--",
            "ip",
            "-6",
            "addr",
            "show",
            "dev",
            "eth0",
        ],
    );
    ok(&run, "berth run --from-image");
    let out = stdout(&run);
    crate::util::assert_sees_inet6(
        "docker container from the labelled image",
        &out,
        &format!("{}/112", case.addr("20")),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while containers().iter().any(|n| n == "webserver") {
        assert!(Instant::now() < deadline, "--rm left the container");
        std::thread::sleep(Duration::from_millis(100));
    }
    ok(
        &berth(dir, &["release", "-H", h, "webserver"]),
        "berth release",
    );
    assert!(!networks().iter().any(|n| n == net));
    assert!(!case.volumes.exists());
    assert_state_empty(dir, "web-05", &case.ledgers);
}

/// `docs/walkthrough.md`, section 8 (the seed on Docker): every command of its
/// `shell-session` blocks runs for real, in order, in a scratch folder holding
/// the page's files (`# file:` and `# docker file:` blocks, that first line not
/// part of the file), with this test's subnet, port, network, compose project
/// and daemon. Each must exit 0 (non-zero where the page shows a refusal);
/// `berth` and `cat` print exactly the page's lines (ids aside, in any order:
/// stdout and stderr are read apart); other commands print every address line
/// and page line the page shows.
#[test]
fn docker_walkthrough_runs_for_real() {
    let name = "docker_walkthrough_runs_for_real";
    if !require_docker(name) || !require_tools(name, &["docker-compose", "tar"]) {
        return;
    }
    let _one = DOCKER.lock().unwrap_or_else(|e| e.into_inner());
    let doc = std::fs::read_to_string(repo_root().join("docs/walkthrough.md")).unwrap();
    let start = doc.find("## 8. The seed on Docker").expect("section 8");
    let end = doc
        .find("## What this machine taught us")
        .expect("end of section 8");
    let section = &doc[start..end];
    let dir = Dir::new();
    let net = unique("w");
    let plain = format!("berth-plain-w{}", std::process::id());
    let project = format!("berthw{}", std::process::id());
    let port = (40000 + (std::process::id() % 20000) as u16 + 3).to_string();
    let state = dir.path().join("state");
    let www = dir.path().join("www");
    let bundled_dir = bundled("");
    let bundled_dir = bundled_dir.to_str().unwrap().trim_end_matches('/');
    let host = docker_host();
    let subst = |t: &str| {
        t.replace("/srv/berth-demo/state", state.to_str().unwrap())
            .replace("/usr/lib/berth/providers", bundled_dir)
            .replace("/srv/webpages", www.to_str().unwrap())
            .replace("4444::8888", "4449::8888")
            .replace("berth6", &net)
            .replace("8080", &port)
            .replace("unix:///run/berth-ci-docker/docker.sock", &host)
            .replace("-p demo ", &format!("-p {project} "))
            .replace("demo_", &format!("{project}_"))
    };
    struct Gone {
        containers: Vec<String>,
        net: String,
        project: String,
        dir: PathBuf,
    }
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = Command::new("docker-compose")
                .args([
                    "-p",
                    &self.project,
                    "-f",
                    "app.yml",
                    "-f",
                    "override.yml",
                    "down",
                ])
                .current_dir(&self.dir)
                .env("DOCKER_HOST", docker_host())
                .output();
            for c in &self.containers {
                let _ = docker(&["rm", "-f", c]);
            }
            let _ = docker(&["network", "rm", &self.net]);
        }
    }
    assert!(
        !containers().iter().any(|n| n == "webserver"),
        "a docker container named `webserver` exists already"
    );
    let _gone = Gone {
        containers: vec!["webserver".into(), plain.clone()],
        net: net.clone(),
        project: project.clone(),
        dir: dir.path().to_path_buf(),
    };

    // The page's files: the spec of section 2, and section 8's own.
    let mut files = 0;
    for (lang, body) in crate::runtime::fenced_blocks(&doc) {
        if let Some(content) = body.strip_prefix("# file: webserver/berth.yaml\n") {
            dir.write("webserver/berth.yaml", content);
            files += 1;
        } else if let Some(rest) = body.strip_prefix("# docker file: ") {
            assert!(section.contains(&body), "a docker file outside section 8");
            assert!(lang == "yaml" || lang == "dockerfile", "{lang}");
            let (path, content) = rest.split_once('\n').unwrap();
            dir.write(path.trim(), &subst(content));
            files += 1;
        }
    }
    assert_eq!(files, 4, "the files of section 8 (and the spec)");
    dir.write("www/index.html", "<h1>served by berth</h1>\n");

    let hexid = |l: &str| {
        let l = l.trim().trim_start_matches("sha256:");
        l.len() == 64 && l.bytes().all(|b| b.is_ascii_hexdigit())
    };
    let lines = |t: &str| -> Vec<String> {
        let mut v: Vec<String> = t
            .lines()
            // Columns are padded to the longest name: spaces are not compared.
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty() && !hexid(l))
            .collect();
        v.sort();
        v
    };
    let mut ran = 0;
    for (lang, body) in crate::runtime::fenced_blocks(section) {
        if lang != "shell-session" {
            continue;
        }
        for (command, expected) in crate::runtime::console_pairs(&body) {
            let mut argv: Vec<String> = shlex::split(&subst(&command))
                .expect("a command that splits")
                .into_iter()
                .map(|a| if a == "plain" { plain.clone() } else { a })
                .collect();
            let redirect = match argv.iter().position(|a| a == ">") {
                Some(i) => {
                    let to = argv[i + 1].clone();
                    argv.truncate(i);
                    Some(dir.path().join(to))
                }
                None => None,
            };
            let mut cmd = if argv[0] == "berth" {
                dir.berth()
            } else if argv[0].starts_with("tests/") {
                Command::new(repo_root().join(&argv[0]))
            } else {
                Command::new(&argv[0])
            };
            let o = cmd
                .args(&argv[1..])
                .current_dir(dir.path())
                .env("DOCKER_HOST", &host)
                .output()
                .unwrap_or_else(|e| panic!("`{command}`: {e}"));
            let (out, err) = (stdout(&o), stderr(&o));
            if let Some(to) = &redirect {
                std::fs::write(to, &out).unwrap();
            }
            let refused = expected.contains("Read-only file system");
            assert_eq!(
                code(&o) != 0,
                refused,
                "`{command}`: exit {}\nstdout:\n{out}\nstderr:\n{err}",
                code(&o)
            );
            let got = if redirect.is_some() {
                err.clone()
            } else {
                format!("{out}{err}")
            };
            let expected = subst(&expected);
            if argv[0] == "berth" || argv[0] == "cat" {
                assert_eq!(
                    lines(&got),
                    lines(&expected),
                    "docs/walkthrough.md: `{command}` prints something else:\n{got}"
                );
            } else {
                let got_lines = lines(&got);
                for l in lines(&expected).iter().filter(|l| {
                    l.contains("1111:2222")
                        || l.contains("served by berth")
                        || l.contains("Read-only")
                        || l.starts_with("root:x:0:0")
                }) {
                    assert!(
                        got_lines.contains(l),
                        "docs/walkthrough.md: `{command}` did not print `{l}`:\n{got}"
                    );
                }
            }
            ran += 1;
        }
    }
    println!("docs/walkthrough.md section 8: {ran} commands ran for real");
    assert!(ran >= 20, "only {ran} commands ran");
    assert!(
        !networks().contains(&net),
        "the walkthrough left network {net}"
    );
    assert!(!containers().iter().any(|c| c == "webserver" || c == &plain));
}

/// `berth check` refuses a network provider whose `--ip-range6` holds one of
/// berth's addresses, and `check --live` reports an existing Docker network
/// whose dynamic range (the whole subnet, made without `--ip-range`) holds
/// them.
#[test]
fn check_refuses_an_engine_range_over_berth_addresses() {
    let dir = Dir::new();
    let ok_host = fixture(
        &dir,
        "docker-host.yaml",
        &[
            ("NET", "berth6"),
            ("NETID", "4446"),
            ("PORT", "8080"),
            ("BUNDLED", "/usr/lib/berth/providers"),
            ("VOLUMES", "/srv/volumes"),
            ("PSTATE", "/var/lib/berth/providers"),
            ("DOCKER_HOST", "unix:///run/docker.sock"),
        ],
    );
    let o = berth(&dir, &["check", ok_host.to_str().unwrap()]);
    ok(&o, "berth check of the Docker host");
    let text = std::fs::read_to_string(&ok_host).unwrap();
    let bad = dir.write(
        "bad-host.yaml",
        &text.replace("8888:8000/113\"", "8888:0/113\""),
    );
    let o = berth(&dir, &["check", bad.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("berth::host::ip-range-overlap"), "{err}");
    assert!(
        err.contains("static address 1111:2222:3333:4446::8888:20"),
        "{err}"
    );
    assert!(
        err.contains("pool 1111:2222:3333:4446::8888:100/120"),
        "{err}"
    );

    let name = "check_refuses_an_engine_range_over_berth_addresses";
    if !require_docker(name) {
        return;
    }
    let _one = DOCKER.lock().unwrap_or_else(|e| e.into_inner());
    let case = Host::new("l", "4446", 4);
    let _cleanup = Cleanup {
        containers: Vec::new(),
        network: case.net.clone(),
    };
    let live = || berth(&case.dir, &["check", "--live", case.h()]);
    // No such network yet: nothing to say about it.
    let o = live();
    assert!(!stderr(&o).contains("engine-network"), "{}", stderr(&o));
    docker_ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &format!("{}/112", case.addr("0")),
        &case.net,
    ]);
    let o = live();
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains("berth::live::engine-network"), "{err}");
    assert!(
        err.contains(&format!("docker network `{}` hands out", case.net)),
        "{err}"
    );
    docker_ok(&["network", "rm", &case.net]);
    docker_ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "2001:db8:4446::/64",
        &case.net,
    ]);
    let err = stderr(&live());
    assert!(
        err.contains(&format!("{}/112", case.addr("0"))) && err.contains("2001:db8:4446::/64"),
        "another subnet is not reported: {err}"
    );
}

/// `berth check` on a folder reads a Dockerfile's `io.berth.spec` label: it
/// must be a valid spec and mean what `berth.yaml` beside it says.
#[test]
fn check_compares_a_dockerfile_label_with_berth_yaml() {
    let dir = Dir::new();
    let spec = std::fs::read_to_string(seed_spec()).unwrap();
    dir.write("web/berth.yaml", &spec);
    let label = berth(&dir, &["label", "web/berth.yaml"]);
    ok(&label, "berth label");
    let line = stdout(&label);
    dir.write(
        "web/Dockerfile",
        &format!("FROM scratch\nCMD [\"/bin/httpd\"]\n{line}"),
    );
    let o = berth(&dir, &["check", "web"]);
    ok(&o, "berth check of a folder with a matching Dockerfile");
    assert!(
        stderr(&o).contains("checked 2 documents in 2 files"),
        "{}",
        stderr(&o)
    );
    // The label says read-write pages; berth.yaml read-only.
    dir.write(
        "web/Dockerfile",
        &format!("FROM scratch\n{}", line.replace("\"read_only\":true,", "")),
    );
    let o = berth(&dir, &["check", "web"]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains("berth::label::differs"), "{err}");
    // (The message may be wrapped: its parts are looked for one by one.)
    assert!(err.contains("need volume `webpages`"), "{err}");
    assert!(
        err.contains("read_only: true") && err.contains("read_only: false"),
        "{err}"
    );
    // An invalid label: the loader's diagnostic, with the JSON path.
    dir.write(
        "web/Dockerfile",
        &format!("FROM scratch\n{}", line.replace("/var/www", "var/www")),
    );
    let err = stderr(&berth(&dir, &["check", "web"]));
    assert!(err.contains("berth::need::bad-mount"), "{err}");
    assert!(err.contains("(JSON path $.needs[0].mount)"), "{err}");
    assert!(err.contains("Dockerfile:2, label io.berth.spec"), "{err}");
}
