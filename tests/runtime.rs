//! Real runtimes end to end: the seed container started by LXC and by podman
//! from berth's own output, checked from inside (its IPv6 address, default
//! route, pages volume read-only), from the host (ping6 through the bridge, the
//! published port), and after `berth release` nothing berth made is left (no
//! bridge, network, folder, state entry or provider ledger).
//!
//! These need root, LXC, podman and busybox-static (`.ci/setup` installs them).
//! Without them each test prints why it skips; under `CI=true` it fails.
//!
//! Sandbox-only podman settings (runtime runc, cgroupfs, ulimits, events to a
//! file) come from `tests/support/containers.conf` through `CONTAINERS_CONF`,
//! never from berth's arguments. Names that must be unique on the machine
//! (bridge, podman network, LXC container, port) carry the process id; the
//! podman tests share the seed's container name `webserver` and so run one at
//! a time (a lock).
//!
//! The address each container sees is printed (`println!`), so `cargo test --
//! --show-output` (`.ci/run`) shows it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::bundled::{bundled, link_snapshot, podman_networks, unique, LinkGuard, NetworkGuard};
use crate::util::{code, repo_root, require_tools, stderr, stdout, Dir};

/// The seed's need spec, used as it is.
pub(crate) fn seed_spec() -> PathBuf {
    repo_root().join("specs/examples/seed/webserver/berth.yaml")
}

/// The busybox image the podman tests run (built by tests/support/busybox-image).
const IMAGE: &str = "localhost/berth-test-busybox:1";

/// The podman tests use the seed's container name: one at a time.
static PODMAN: Mutex<()> = Mutex::new(());

/// `CONTAINERS_CONF` for podman: the caller's, else the test-only file.
fn containers_conf() -> std::ffi::OsString {
    std::env::var_os("CONTAINERS_CONF").unwrap_or_else(|| {
        repo_root()
            .join("tests/support/containers.conf")
            .into_os_string()
    })
}

/// A podman command with the test configuration.
fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .env("CONTAINERS_CONF", containers_conf())
        .output()
        .expect("spawn podman")
}

/// A fixture with its `@NAME@` placeholders filled in, written into `dir`.
pub(crate) fn fixture(dir: &Dir, name: &str, fill: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(repo_root().join("tests/fixtures/runtime").join(name))
        .expect("fixture");
    for (k, v) in fill {
        text = text.replace(&format!("@{k}@"), v);
    }
    assert!(
        !text.contains('@'),
        "unfilled placeholder in {name}:\n{text}"
    );
    dir.write(name, &text)
}

/// Runs `berth ARGS` in `dir` with the test configuration for podman.
fn berth(dir: &Dir, args: &[&str]) -> Output {
    let mut c = dir.berth();
    c.args(args).env("CONTAINERS_CONF", containers_conf());
    c.output().expect("spawn berth")
}

pub(crate) fn ok(o: &Output, what: &str) {
    assert_eq!(
        code(o),
        0,
        "{what}: exit {}\nstdout:\n{}\nstderr:\n{}",
        code(o),
        stdout(o),
        stderr(o)
    );
}

/// Releases a container through berth when dropped, so that a failing test
/// still frees what berth made; the test itself asserts on its own release.
struct Release<'a> {
    dir: &'a Dir,
    host: PathBuf,
    container: &'static str,
}
impl Drop for Release<'_> {
    fn drop(&mut self) {
        let _ = berth(
            self.dir,
            &[
                "release",
                "-q",
                "-H",
                self.host.to_str().unwrap(),
                self.container,
            ],
        );
    }
}

/// Removes a podman container when dropped.
struct ContainerGuard(&'static str);

impl ContainerGuard {
    /// Fails the test if a container of that name exists already (someone
    /// else's: the guard must never remove it), else guards the name.
    fn claim(name: &'static str) -> ContainerGuard {
        assert!(
            !podman_containers().iter().any(|n| n == name),
            "a podman container named `{name}` exists already; remove it to run this test"
        );
        ContainerGuard(name)
    }
}
impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", self.0]);
    }
}

/// Stops an LXC container when dropped.
struct LxcGuard {
    name: String,
    lxcpath: PathBuf,
    child: Option<Child>,
}
impl Drop for LxcGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("lxc-stop")
                .args(["-k", "-n", &self.name, "-P"])
                .arg(&self.lxcpath)
                .output();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// After a release: the host state holds nothing (no holding, no provider
/// record, no pending release) and the provider ledgers are gone.
pub(crate) fn assert_state_empty(dir: &Dir, host: &str, ledgers: &Path) {
    let state = crate::util::state_json(&dir.path().join("state"), host).expect("state");
    for key in ["holdings", "provided"] {
        assert_eq!(
            state[key],
            serde_json::json!({}),
            "state {key} not empty: {state:#}"
        );
    }
    assert_eq!(
        state["pending_releases"],
        serde_json::json!([]),
        "{state:#}"
    );
    if ledgers.exists() {
        let left: Vec<_> = std::fs::read_dir(ledgers)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "provider ledgers left: {left:?}");
    }
}

/// What the container prints before `READY`, line by line, within `limit`.
fn lines_until_ready(child: &mut Child, limit: Duration) -> (Vec<String>, mpsc::Receiver<String>) {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + limit;
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l == "READY" => return (lines, rx),
            Ok(l) => lines.push(l),
            Err(_) => {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("the container did not get ready in {limit:?}; it printed {lines:#?}\nstderr: {err}");
            }
        }
    }
}

/// What the LXC container runs: wait for duplicate-address detection to end,
/// show the address, the routes, the page, try to write, then wait for stdin
/// to close (the host pings it meanwhile).
const LXC_SCRIPT: &str = r#"i=0
while ip -6 addr show dev eth0 | grep -q tentative && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
ip -6 addr show dev eth0
ip -6 route
echo "PAGE $(cat /var/www/index.html)"
if (echo probe > /var/www/probe) 2>/dev/null; then echo WRITE-ALLOWED; else echo WRITE-REFUSED; fi
echo READY
read -r _ || true
"#;

#[test]
fn lxc_container_gets_the_seed_address_route_and_read_only_pages() {
    let name = "lxc_container_gets_the_seed_address_route_and_read_only_pages";
    if !require_tools(name, &["lxc-execute", "lxc-stop", "busybox", "ip", "ping"]) {
        return;
    }
    let dir = Dir::new();
    let bridge = unique("l");
    let _link = LinkGuard(bridge.clone());
    let ledgers = dir.path().join("provider-state");
    let rootfs = dir.path().join("rootfs");
    let built = Command::new(repo_root().join("tests/support/busybox-rootfs"))
        .arg(&rootfs)
        .output()
        .unwrap();
    ok(&built, "busybox-rootfs");
    let www = dir.write("www/index.html", "berth seed page\n");
    let host = fixture(
        &dir,
        "lxc-host.yaml",
        &[
            ("WWW", www.parent().unwrap().to_str().unwrap()),
            (
                "BUNDLED",
                bundled("").to_str().unwrap().trim_end_matches('/'),
            ),
            ("BRIDGE", &bridge),
            ("PSTATE", ledgers.to_str().unwrap()),
        ],
    );
    let h = host.to_str().unwrap();
    let spec = seed_spec();
    let _release = Release {
        dir: &dir,
        host: host.clone(),
        container: "webserver",
    };

    let applied = berth(
        &dir,
        &["apply", "-H", h, spec.to_str().unwrap(), "--emit", "lxc"],
    );
    ok(&applied, "berth apply --emit lxc");
    let fragment = stdout(&applied);
    eprintln!(
        "berth apply --emit lxc printed:\n{fragment}stderr:\n{}",
        stderr(&applied)
    );
    assert!(
        fragment.contains(&format!("lxc.net.0.link = {bridge}")),
        "{fragment}"
    );
    // LXC cannot publish the seed's port: berth must say so, not drop it.
    let said = stderr(&applied);
    assert!(
        said.contains("port http") && said.contains("LXC"),
        "the port was dropped silently:\n{said}"
    );
    assert!(
        link_snapshot(&bridge).contains("inet6 1111:2222:3333:4444::8888:1/112"),
        "linux-bridge did not make {bridge}"
    );

    // The emitted fragment plus what only the test knows: the rootfs, a name,
    // and, on a kernel with AppArmor on, no profile (this throwaway busybox
    // container must not depend on LXC's profiles being loaded on the CI
    // machine; a test setting, like containers.conf for podman).
    let lxc_name = format!("berth-{}", unique("x"));
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim() == "Y");
    let config = dir.write(
        "lxc.conf",
        &format!(
            "lxc.uts.name = {lxc_name}\nlxc.rootfs.path = dir:{}\n{}{fragment}",
            rootfs.display(),
            if apparmor {
                "lxc.apparmor.profile = unconfined\n"
            } else {
                ""
            }
        ),
    );
    let mut guard = LxcGuard {
        name: lxc_name.clone(),
        lxcpath: dir.path().to_path_buf(),
        child: None,
    };
    let child = Command::new("lxc-execute")
        .args(["-n", &lxc_name, "-P"])
        .arg(dir.path())
        .arg("-f")
        .arg(&config)
        .args(["--", "/bin/sh", "-c", LXC_SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lxc-execute");
    let child = guard.child.insert(child);
    let (lines, _rest) = lines_until_ready(child, Duration::from_secs(60));
    let seen = lines.join("\n");
    crate::util::assert_sees_inet6(
        &format!("LXC container {lxc_name}"),
        &seen,
        "1111:2222:3333:4444::8888:20/112",
    );
    assert!(
        seen.contains("default via 1111:2222:3333:4444::8888:1"),
        "default route inside LXC:\n{seen}"
    );
    assert!(
        seen.contains("PAGE berth seed page"),
        "pages inside LXC:\n{seen}"
    );
    assert!(
        seen.contains("WRITE-REFUSED"),
        "the pages volume is writable inside LXC:\n{seen}"
    );

    // From the host, through the bridge.
    let ping = Command::new("ping")
        .args(["-6", "-c", "2", "-W", "2", "1111:2222:3333:4444::8888:20"])
        .output()
        .unwrap();
    println!(
        "host ping6 1111:2222:3333:4444::8888:20 via {bridge}: {}",
        stdout(&ping)
            .lines()
            .find(|l| l.contains("packets"))
            .unwrap_or("")
    );
    ok(&ping, "ping6 the LXC container from the host");

    // Let the container end (its shell waits on stdin), then release.
    drop(child.stdin.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "lxc-execute: {status}");
    guard.child = None;
    let released = berth(&dir, &["release", "-H", h, "webserver"]);
    ok(&released, "berth release");
    assert_eq!(link_snapshot(&bridge), "", "release left bridge {bridge}");
    assert_state_empty(&dir, "web-01", &ledgers);
}

/// Fetches `path` from 127.0.0.1:`port` with HTTP/1.0, retrying while the
/// server starts.
pub(crate) fn http_get(port: u16, path: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = String::new();
    while Instant::now() < deadline {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
                let mut body = String::new();
                match s.read_to_string(&mut body) {
                    Ok(_) if !body.is_empty() => return Ok(body),
                    Ok(_) => last = "empty answer".into(),
                    Err(e) => last = e.to_string(),
                }
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(last)
}

/// A free-looking high port for this process (the host manifest's choice).
fn test_port() -> u16 {
    20000 + (std::process::id() % 20000) as u16
}

/// Builds the busybox image once per machine (idempotent).
fn busybox_image() {
    let o = Command::new(repo_root().join("tests/support/busybox-image"))
        .arg(IMAGE)
        .env("CONTAINERS_CONF", containers_conf())
        .output()
        .unwrap();
    ok(&o, "busybox-image");
}

/// A podman test's host: a scratch dir, a host manifest from `fixture_name`
/// with a unique network name, a port, a volumes base and a ledger folder, and
/// a guard that removes the network whatever happens.
struct PodmanHost {
    dir: Dir,
    net: String,
    ledgers: PathBuf,
    volumes: PathBuf,
    port: String,
    host: PathBuf,
    _net: NetworkGuard,
}

impl PodmanHost {
    fn new(fixture_name: &str, tag: &str) -> PodmanHost {
        let dir = Dir::new();
        let net = unique(tag);
        let ledgers = dir.path().join("provider-state");
        let volumes = dir.path().join("volumes");
        let port = test_port().to_string();
        let host = fixture(
            &dir,
            fixture_name,
            &[
                ("NET", &net),
                ("PORT", &port),
                (
                    "BUNDLED",
                    bundled("").to_str().unwrap().trim_end_matches('/'),
                ),
                ("VOLUMES", volumes.to_str().unwrap()),
                ("PSTATE", ledgers.to_str().unwrap()),
            ],
        );
        PodmanHost {
            _net: NetworkGuard(net.clone()),
            dir,
            net,
            ledgers,
            volumes,
            port,
            host,
        }
    }

    fn host(&self) -> &str {
        self.host.to_str().unwrap()
    }
}

#[test]
fn podman_container_gets_the_seed_address_route_pages_and_port() {
    let name = "podman_container_gets_the_seed_address_route_pages_and_port";
    if !require_tools(name, &["podman", "runc", "busybox", "ip", "ping"]) {
        return;
    }
    let _one = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    busybox_image();
    let case = PodmanHost::new("podman-host.yaml", "p");
    let (dir, net, port, volumes, ledgers) = (
        &case.dir,
        &case.net,
        &case.port,
        &case.volumes,
        &case.ledgers,
    );
    let h = case.host();
    let spec = seed_spec();
    let s = spec.to_str().unwrap();
    // Dropped in reverse order: the container goes before berth releases.
    let _release = Release {
        dir,
        host: case.host.clone(),
        container: "webserver",
    };
    let _container = ContainerGuard::claim("webserver");

    // Applied first (the providers make the network and the pages folder),
    // --dry-run then prints the argv with every value: one line that shlex
    // splits back. A dry run alone applies nothing (tests/docker.rs).
    ok(&berth(dir, &["apply", "-q", "-H", h, s]), "berth apply");
    let dry = berth(
        dir,
        &[
            "run",
            "-H",
            h,
            s,
            "--engine",
            "podman",
            "--image",
            IMAGE,
            "-d",
            "--dry-run",
        ],
    );
    ok(&dry, "berth run --dry-run");
    let line = stdout(&dry);
    let argv = shlex::split(line.trim()).expect("the dry-run line splits");
    let pages = volumes.join("webpages");
    let expected: Vec<String> = [
        "podman",
        "run",
        "-d",
        "--name",
        "webserver",
        "--network",
        net,
        "--ip6",
        "1111:2222:3333:4445::8888:20",
        "-v",
        &format!("{}:/var/www:ro", pages.display()),
        "-p",
        &format!("{port}:80"),
        IMAGE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(argv, expected, "dry-run argv: {line}");
    assert!(
        !podman_containers().iter().any(|n| n == "webserver"),
        "--dry-run started a container"
    );

    std::fs::write(pages.join("index.html"), "berth seed page\n").unwrap();
    let run = berth(
        dir,
        &[
            "run", "-H", h, s, "--engine", "podman", "--image", IMAGE, "-d",
        ],
    );
    ok(&run, "berth run --engine podman -d");
    eprintln!("berth run stderr:\n{}", stderr(&run));

    let addr = podman(&[
        "exec",
        "webserver",
        "ip",
        "-6",
        "addr",
        "show",
        "dev",
        "eth0",
    ]);
    ok(&addr, "ip -6 addr inside");
    let addr = stdout(&addr);
    crate::util::assert_sees_inet6(
        "podman container webserver",
        &addr,
        "1111:2222:3333:4445::8888:20/112",
    );
    let route = stdout(&podman(&["exec", "webserver", "ip", "-6", "route"]));
    assert!(
        route.contains("default via 1111:2222:3333:4445::8888:1"),
        "{route}"
    );
    let page = podman(&["exec", "webserver", "cat", "/var/www/index.html"]);
    assert_eq!(stdout(&page), "berth seed page\n");
    let write = podman(&[
        "exec",
        "webserver",
        "sh",
        "-c",
        "echo probe > /var/www/probe",
    ]);
    assert_ne!(
        code(&write),
        0,
        "the pages volume is writable inside podman"
    );
    assert!(
        stderr(&write).contains("Read-only file system"),
        "{}",
        stderr(&write)
    );

    // The published port, from the host.
    match http_get(test_port(), "/index.html") {
        Ok(answer) => {
            println!(
                "host GET 127.0.0.1:{port}/index.html: {}",
                answer.lines().next().unwrap_or("")
            );
            assert!(
                answer.starts_with("HTTP/1.") && answer.contains("berth seed page"),
                "{answer}"
            );
        }
        Err(e) => {
            let ports = stdout(&podman(&["port", "webserver"]));
            panic!("port {port} did not answer from the host ({e}); podman reports the mapping as: {ports:?}");
        }
    }
    // And the address, through podman's bridge.
    let ping = Command::new("ping")
        .args(["-6", "-c", "1", "-W", "2", "1111:2222:3333:4445::8888:20"])
        .output()
        .unwrap();
    ok(&ping, "ping6 the podman container from the host");

    ok(&podman(&["rm", "-f", "-t", "0", "webserver"]), "podman rm");

    // In the foreground with --rm and a command after `--`: the engine
    // replaces berth, so the container's output is berth's output. The extra
    // arguments survive quoting (--dry-run) and reach the container as they are.
    let tricky = "echo \"it's $HOME\"; ip -6 addr show dev eth0; cat /var/www/index.html";
    let extra = ["--", "/bin/sh", "-c", tricky];
    let mut dry_args = vec![
        "run",
        "-H",
        h,
        s,
        "--engine",
        "podman",
        "--image",
        IMAGE,
        "--rm",
        "--dry-run",
    ];
    dry_args.extend(extra);
    let dry = berth(dir, &dry_args);
    ok(&dry, "berth run --rm --dry-run -- ...");
    let argv = shlex::split(stdout(&dry).trim()).expect("splits");
    assert_eq!(argv[..3], ["podman", "run", "--rm"]);
    assert_eq!(argv[argv.len() - 4..], [IMAGE, "/bin/sh", "-c", tricky]);
    let mut fg_args = vec![
        "run", "-q", "-H", h, s, "--engine", "podman", "--image", IMAGE, "--rm",
    ];
    fg_args.extend(extra);
    let fg = berth(dir, &fg_args);
    ok(&fg, "berth run --rm -- /bin/sh -c ...");
    let out = stdout(&fg);
    assert!(out.starts_with("it's /root\n"), "{out}");
    assert!(
        out.contains("inet6 1111:2222:3333:4445::8888:20/112"),
        "{out}"
    );
    assert!(out.ends_with("berth seed page\n"), "{out}");
    // podman may finish an `--rm` removal just after `run` returns.
    assert!(gone_soon("webserver"), "--rm left the container");
    let released = berth(dir, &["release", "-H", h, "webserver"]);
    ok(&released, "berth release");
    assert!(
        !podman_networks().contains(net),
        "release left podman network {net}"
    );
    assert!(!volumes.exists(), "release left the volume folders");
    assert_state_empty(dir, "web-02", ledgers);
}

/// Whether the podman container `name` is gone within a few seconds.
fn gone_soon(name: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !podman_containers().iter().any(|n| n == name) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Names of all podman containers.
fn podman_containers() -> Vec<String> {
    stdout(&podman(&["ps", "-a", "--format", "{{.Names}}"]))
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn unmet_need_starts_no_container() {
    let name = "unmet_need_starts_no_container";
    if !require_tools(name, &["podman", "runc"]) {
        return;
    }
    let _one = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    let case = PodmanHost::new("podman-host.yaml", "u");
    let (dir, net, host) = (&case.dir, &case.net, &case.host);
    let spec = repo_root().join("tests/fixtures/runtime/unmet.yaml");
    let _container = ContainerGuard::claim("berth-unmet");
    let o = berth(
        dir,
        &[
            "run",
            "-H",
            host.to_str().unwrap(),
            spec.to_str().unwrap(),
            "--engine",
            "podman",
        ],
    );
    assert_eq!(code(&o), 1, "stdout {}\nstderr {}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    eprintln!("berth run of an unmet container said:\n{err}");
    assert!(
        err.contains("nowhere-pages"),
        "the explanation does not name the need:\n{err}"
    );
    assert!(!err.contains("berth: starting"), "{err}");
    // By name: other tests start containers of their own meanwhile.
    assert!(
        !podman_containers().iter().any(|n| n == "berth-unmet"),
        "a container was created"
    );
    assert!(!podman_networks().contains(net));
    assert!(!dir.path().join("volumes").exists());
}

#[test]
fn provider_failure_starts_no_container_and_rolls_back() {
    let name = "provider_failure_starts_no_container_and_rolls_back";
    if !require_tools(name, &["podman", "runc"]) {
        return;
    }
    let _one = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    let case = PodmanHost::new("broken-provider-host.yaml", "f");
    let (dir, net, host, ledgers) = (&case.dir, &case.net, &case.host, &case.ledgers);
    let _container = ContainerGuard::claim("webserver");
    let o = berth(
        dir,
        &[
            "run",
            "-H",
            host.to_str().unwrap(),
            seed_spec().to_str().unwrap(),
            "--engine",
            "podman",
            "--image",
            IMAGE,
        ],
    );
    assert_eq!(code(&o), 3, "stdout {}\nstderr {}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    eprintln!("berth run with a failing provider said:\n{err}");
    assert!(
        err.contains("must be an absolute path"),
        "the provider's error is not shown:\n{err}"
    );
    let names = podman_containers();
    assert!(
        !names.iter().any(|n| n == "webserver"),
        "a container was created: {names:?}"
    );
    assert!(
        !podman_networks().contains(net),
        "the network was not rolled back"
    );
    if crate::util::state_json(&dir.path().join("state"), "web-03").is_some() {
        assert_state_empty(dir, "web-03", ledgers);
    }
}

#[test]
fn docker_compose_accepts_the_compose_override() {
    let name = "docker_compose_accepts_the_compose_override";
    if !require_tools(name, &["docker-compose"]) {
        return;
    }
    let dir = Dir::new();
    let www = dir.write("www/index.html", "page\n");
    // The seed host as it is, with its pages folder in the scratch dir: no
    // provider runs, compose only reads the file.
    let seed_host =
        std::fs::read_to_string(repo_root().join("specs/examples/seed/host.yaml")).unwrap();
    let host = dir.write(
        "host.yaml",
        &seed_host.replace("/srv/webpages", www.parent().unwrap().to_str().unwrap()),
    );
    let o = berth(
        &dir,
        &[
            "apply",
            "-q",
            "-H",
            host.to_str().unwrap(),
            seed_spec().to_str().unwrap(),
            "--emit",
            "compose",
        ],
    );
    ok(&o, "berth apply --emit compose");
    let over = dir.write("docker-compose.override.yml", &stdout(&o));
    let base = repo_root().join("tests/fixtures/runtime/compose-base.yaml");
    let cfg = Command::new("docker-compose")
        .arg("-f")
        .arg(&base)
        .arg("-f")
        .arg(&over)
        .arg("config")
        .current_dir(dir.path())
        .output()
        .unwrap();
    ok(&cfg, "docker-compose config");
    let merged = stdout(&cfg);
    eprintln!("docker-compose config:\n{merged}");
    assert!(merged.contains("1111:2222:3333:4444::8888:20"), "{merged}");
    assert!(merged.contains("/var/www"), "{merged}");
    assert!(merged.contains("external: true"), "{merged}");
    let released = berth(
        &dir,
        &["release", "-q", "-H", host.to_str().unwrap(), "webserver"],
    );
    ok(&released, "berth release");
    assert_state_empty(&dir, "web-01", &dir.path().join("no-providers"));
}

/// `docs/walkthrough.md` shows real output. Its files (```yaml blocks starting
/// with a `# file: PATH` line, which is not part of the file) are written into a scratch dir, and every `berth check`
/// and `berth plan` command of its ```console blocks is run there (they have no
/// side effects) and must print exactly what the page shows. The other commands
/// are the runtime tests above.
#[test]
fn walkthrough_check_and_plan_outputs_are_real() {
    let doc = std::fs::read_to_string(repo_root().join("docs/walkthrough.md")).unwrap();
    let dir = Dir::new();
    let state = dir.path().join("state");
    let mut ran = 0;
    let mut files = 0;
    for (lang, body) in fenced_blocks(&doc) {
        if lang == "yaml" {
            if let Some(rest) = body.strip_prefix("# file: ") {
                // The `# file:` line names the file and is not part of it; the
                // state goes to the scratch dir (on the same line, so that the
                // line numbers in the outputs stay right).
                let (path, content) = rest.split_once('\n').unwrap();
                let text = content.replace("/srv/berth-demo/state", state.to_str().unwrap());
                dir.write(path.trim(), &text);
                files += 1;
            }
            continue;
        }
        if lang != "console" {
            continue;
        }
        for (command, expected) in console_pairs(&body) {
            let argv = shlex::split(&command).expect("a command that splits");
            if argv.first().map(String::as_str) != Some("berth")
                || !matches!(argv.get(1).map(String::as_str), Some("check" | "plan"))
            {
                continue;
            }
            let o = dir.berth().args(&argv[1..]).output().unwrap();
            let got = format!("{}{}", stdout(&o), stderr(&o));
            let norm = |s: &str| s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
            assert_eq!(
                norm(&got).trim(),
                norm(&expected).trim(),
                "docs/walkthrough.md: `{command}` prints something else"
            );
            ran += 1;
        }
    }
    assert_eq!(files, 4, "the walkthrough's files");
    assert!(ran >= 3, "only {ran} commands checked");
}

/// (language, body) of each fenced block of a markdown text.
pub(crate) fn fenced_blocks(md: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in md.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(lang)) => current = Some((lang.trim().to_string(), String::new())),
            (Some(_), Some(_)) => out.push(current.take().unwrap()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// The `$ command` lines of a console block, each with the output below it.
pub(crate) fn console_pairs(body: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            out.push((cmd.to_string(), String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

/// What `berth run` can refuse without touching the host: an engine that is not
/// on PATH, a container without an image. Nothing is applied (no state file).
#[test]
fn run_refuses_before_applying_without_engine_or_image() {
    let dir = Dir::new();
    let www = dir.write("www/index.html", "page\n");
    let seed_host =
        std::fs::read_to_string(repo_root().join("specs/examples/seed/host.yaml")).unwrap();
    let host = dir.write(
        "host.yaml",
        &seed_host.replace("/srv/webpages", www.parent().unwrap().to_str().unwrap()),
    );
    let h = host.to_str().unwrap();
    let empty_path = dir.path().join("empty-path");
    std::fs::create_dir_all(&empty_path).unwrap();
    let o = dir
        .berth()
        .args([
            "run",
            "-H",
            h,
            seed_spec().to_str().unwrap(),
            "--engine",
            "docker",
        ])
        .env("PATH", &empty_path)
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("berth::run::no-engine"),
        "{}",
        stderr(&o)
    );

    let spec = dir.write(
        "noimage/berth.yaml",
        "berth: 1\ncontainer: noimage\nneeds:\n  - volume: webpages\n    mount: /var/www\n",
    );
    // `berth run -H HOST SPEC --engine podman ARGS...`
    let run_podman = |args: &[&str]| {
        let mut all = vec!["run", "-H", h, spec.to_str().unwrap(), "--engine", "podman"];
        all.extend(args);
        berth(&dir, &all)
    };
    let o = run_podman(&["--dry-run"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("berth::cli::no-image"),
        "{}",
        stderr(&o)
    );
    for bad in ["--privileged", "", "busybox sh", "a\nb"] {
        let flag = format!("--image={bad}");
        let o = run_podman(&["--dry-run", &flag]);
        assert_eq!(code(&o), 1, "{flag:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("berth::run::bad-image"),
            "{}",
            stderr(&o)
        );
    }
    assert!(
        crate::util::state_json(&dir.path().join("state"), "web-01").is_none(),
        "a refused run applied something"
    );
    // --image supplies it: the dry run prints the argv and applies nothing.
    let o = run_podman(&["--image", "busybox", "--dry-run"]);
    ok(&o, "berth run --image --dry-run");
    assert_eq!(
        shlex::split(stdout(&o).trim()).unwrap(),
        [
            "podman",
            "run",
            "--name",
            "noimage",
            "-v",
            &format!("{}:/var/www", www.parent().unwrap().display()),
            "busybox"
        ]
    );
    // `--dry-run` has no side effects (issue 10): it used to apply.
    assert!(
        !dir.path().join("state").exists(),
        "the dry run applied something"
    );
}

#[test]
fn podman_container_reads_a_secret_that_never_shows_elsewhere() {
    let name = "podman_container_reads_a_secret_that_never_shows_elsewhere";
    if !require_tools(name, &["podman", "runc", "busybox"]) {
        return;
    }
    busybox_image();
    let dir = Dir::new();
    let store = dir.path().join("store");
    let out = dir.path().join("run/secrets");
    let ledgers = dir.path().join("provider-state");
    let value = "pw-THAT-MUST-NOT-LEAK-42";
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("db-password"), value).unwrap();
    let host = fixture(
        &dir,
        "secret-host.yaml",
        &[
            (
                "BUNDLED",
                bundled("").to_str().unwrap().trim_end_matches('/'),
            ),
            ("STORE", store.to_str().unwrap()),
            ("OUT", out.to_str().unwrap()),
            ("PSTATE", ledgers.to_str().unwrap()),
        ],
    );
    let h = host.to_str().unwrap();
    let spec = repo_root().join("tests/fixtures/runtime/secret-spec.yaml");
    let s = spec.to_str().unwrap();
    let _release = Release {
        dir: &dir,
        host: host.clone(),
        container: "berth-secret-user",
    };
    let _container = ContainerGuard::claim("berth-secret-user");

    let mut seen = Vec::new();
    // Applied first (the secret provider copies the file), so that the dry
    // run's line names the copy.
    let applied = berth(&dir, &["apply", "-q", "-H", h, s]);
    ok(&applied, "berth apply");
    seen.push(applied);
    let dry = berth(
        &dir,
        &["run", "-H", h, s, "--engine", "podman", "--rm", "--dry-run"],
    );
    ok(&dry, "berth run --dry-run");
    let file = out.join("db-password");
    assert!(
        stdout(&dry).contains(&format!("-v {}:/run/secrets/db:ro", file.display())),
        "{}",
        stdout(&dry)
    );
    seen.push(dry);
    let fg = berth(
        &dir,
        &[
            "run",
            "-H",
            h,
            s,
            "--engine",
            "podman",
            "--rm",
            "--",
            "/bin/sh",
            "-c",
            "cat /run/secrets/db; echo; (echo x > /run/secrets/db) 2>&1 || true",
        ],
    );
    ok(&fg, "berth run --rm");
    let inside = stdout(&fg);
    println!(
        "podman container berth-secret-user reads its secret: {}",
        if inside.starts_with(value) {
            "yes (value not shown)"
        } else {
            "NO"
        }
    );
    assert!(
        inside.starts_with(&format!("{value}\n")),
        "the secret inside the container is not the store's"
    );
    assert!(
        inside.contains("Read-only file system"),
        "the secret is writable inside"
    );
    // The value leaked neither into berth's or podman's messages, nor into berth's state.
    let status = berth(&dir, &["status", "-H", h, "--format", "json"]);
    let state = crate::util::state_json(&dir.path().join("state"), "web-04")
        .expect("state")
        .to_string();
    for text in [stderr(&fg), stdout(&status), stderr(&status), state] {
        assert!(!text.contains(value), "the secret leaked: {text}");
    }
    for o in &seen {
        assert!(
            !stdout(o).contains(value) && !stderr(o).contains(value),
            "the secret leaked"
        );
    }

    let released = berth(&dir, &["release", "-H", h, "berth-secret-user"]);
    ok(&released, "berth release");
    assert!(
        !dir.path().join("run").exists(),
        "release left the secret's copy or its folders"
    );
    assert_state_empty(&dir, "web-04", &ledgers);
}

/// Regression: with several networks the argv used docker's
/// `--network name=N,ip6=A` form, which podman reads as a network literally
/// named `name=N`. `berth run --engine podman` now writes podman's `N:ip6=A`.
#[test]
fn podman_container_on_two_networks_gets_an_address_on_each() {
    let name = "podman_container_on_two_networks_gets_an_address_on_each";
    if !require_tools(name, &["podman", "runc", "busybox"]) {
        return;
    }
    let _one = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    busybox_image();
    let (front, back) = (unique("f"), unique("b"));
    let tag = (std::process::id() % 250) as u8;
    let (subnet6, gw6, addr6) = (
        format!("2001:db8:7{tag:02x}::/64"),
        format!("2001:db8:7{tag:02x}::1"),
        format!("2001:db8:7{tag:02x}::20"),
    );
    let (subnet4, gw4, addr4) = (
        format!("10.72.{tag}.0/24"),
        format!("10.72.{tag}.1"),
        format!("10.72.{tag}.17"),
    );
    let _guards = (NetworkGuard(front.clone()), NetworkGuard(back.clone()));
    ok(
        &podman(&[
            "network",
            "create",
            "--ipv6",
            "--subnet",
            &subnet6,
            "--gateway",
            &gw6,
            &front,
        ]),
        "podman network create (front)",
    );
    ok(
        &podman(&[
            "network",
            "create",
            "--subnet",
            &subnet4,
            "--gateway",
            &gw4,
            &back,
        ]),
        "podman network create (back)",
    );
    let dir = Dir::new();
    let host = dir.write(
        "host.yaml",
        &format!(
            "berth: 1\nhost: two-nets\nprovides:\n  - network: {front}\n    subnet6: {subnet6}\n    gateway6: {gw6}\n  - network: {back}\n    subnet4: {subnet4}\n    gateway4: {gw4}\n  - ipv6: app6\n    address: {addr6}\n    network: {front}\n  - ipv4: app4\n    address: {addr4}\n    network: {back}\n"
        ),
    );
    let spec = dir.write(
        "app/berth.yaml",
        &format!("berth: 1\ncontainer: berth-two-nets\nimage: {IMAGE}\nneeds:\n  - ipv6: app6\n  - ipv4: app4\n"),
    );
    let _container = ContainerGuard::claim("berth-two-nets");
    let (h, s) = (host.to_str().unwrap(), spec.to_str().unwrap());
    let _release = Release {
        dir: &dir,
        host: host.clone(),
        container: "berth-two-nets",
    };
    let dry = berth(
        &dir,
        &["run", "-q", "--engine", "podman", "--dry-run", "-H", h, s],
    );
    ok(&dry, "berth run --dry-run");
    let argv = shlex::split(stdout(&dry).trim()).unwrap();
    assert!(argv.contains(&format!("{front}:ip6={addr6}")), "{argv:?}");
    assert!(argv.contains(&format!("{back}:ip={addr4}")), "{argv:?}");

    let o = berth(
        &dir,
        &[
            "run", "-q", "--engine", "podman", "--rm", "-H", h, s, "--", "ip", "addr",
        ],
    );
    ok(&o, "berth run --engine podman with two networks");
    let seen = stdout(&o);
    let has = |a: &str| {
        seen.lines()
            .any(|l| l.contains(&format!("inet6 {a}/")) || l.contains(&format!("inet {a}/")))
    };
    assert!(has(&addr6) && has(&addr4), "inside the container:\n{seen}");
    println!("podman container on two networks sees {addr6} and {addr4}");
    ok(
        &berth(&dir, &["release", "-q", "-H", h, "berth-two-nets"]),
        "berth release",
    );
}
