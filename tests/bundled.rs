//! The bundled providers (`providers/bundled/`), run for real the way berth runs
//! them: an argv, a minimal environment (PATH, LANG, BERTH_*), the JSON request
//! on stdin. Each one is taken through provide, a second provide (idempotent),
//! check, release and a second release, and the host is compared with what it
//! was before: a provider's release must remove what it made and nothing else.
//!
//! Names (bridges, networks, subnets) carry the process id and a per-test tag,
//! so these tests run in parallel with each other and with `tests/runtime.rs`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::util::{code, repo_root, require_tools, stderr, stdout, which};

/// A provider script's path.
pub fn bundled(script: &str) -> PathBuf {
    repo_root().join("providers/bundled").join(script)
}

/// Runs a bundled provider as berth does and returns its output.
pub fn provider(script: &str, op: &str, kind: &str, name: &str, args: &[&str]) -> Output {
    let mut child = Command::new(bundled(script))
        .args(args)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LANG", "C.UTF-8")
        .env("BERTH_OP", op)
        .env("BERTH_KIND", kind)
        .env("BERTH_NAME", name)
        .env("BERTH_CONTAINER", "tester")
        .env("BERTH_HOST", "test-host")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn provider");
    let request = serde_json::json!({
        "berth": 1, "op": op, "kind": kind, "name": name,
        "container": "tester", "host": "test-host", "need": {},
    });
    // A provider may exit before reading (a usage error): a broken pipe is fine.
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes());
    child.wait_with_output().expect("wait provider")
}

/// Asserts success and returns the one JSON object printed.
fn ok_json(o: &Output, what: &str) -> serde_json::Value {
    assert_eq!(
        code(o),
        0,
        "{what} failed: stdout {} stderr {}",
        stdout(o),
        stderr(o)
    );
    serde_json::from_str(stdout(o).trim())
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", stdout(o)))
}

/// Asserts success with no output (release).
fn ok_quiet(o: &Output, what: &str) {
    assert_eq!(
        code(o),
        0,
        "{what} failed: stdout {} stderr {}",
        stdout(o),
        stderr(o)
    );
    assert_eq!(stdout(o), "", "{what} printed on stdout");
}

/// Asserts the protocol's failure: exit 1, `{"error": ...}` on stdout; returns the error.
fn failed(o: &Output, what: &str) -> String {
    assert_eq!(
        code(o),
        1,
        "{what} should fail: stdout {} stderr {}",
        stdout(o),
        stderr(o)
    );
    let v: serde_json::Value = serde_json::from_str(stdout(o).trim())
        .unwrap_or_else(|e| panic!("{what}: failure output is not JSON ({e}): {}", stdout(o)));
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no error key: {v}"))
        .to_string()
}

/// A name unique to this process and test, at most 15 characters (bridge names).
pub fn unique(tag: &str) -> String {
    format!("bt{}{}", std::process::id() % 1_000_000, tag)
}

/// A /112 subnet unique to this process and test, and its gateway (`::1`).
pub fn unique_subnet6(tag: u16) -> (String, String) {
    let pid = std::process::id();
    let prefix = format!(
        "fd42:{:x}:{:x}:{tag:x}::",
        (pid >> 16) & 0xffff,
        pid & 0xffff
    );
    (format!("{prefix}/112"), format!("{prefix}1"))
}

/// Runs a command and returns its stdout, panicking on failure.
pub fn sh_out(program: &str, args: &[&str]) -> String {
    let o = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(o.status.success(), "{program} {args:?}: {}", stderr(&o));
    stdout(&o)
}

/// What the host shows of one interface: link line (flags) and addresses, with
/// the ever-changing bits (ifindex, lifetimes) left out. Empty when absent.
pub fn link_snapshot(dev: &str) -> String {
    if !Path::new("/sys/class/net").join(dev).exists() {
        return String::new();
    }
    let link = sh_out("ip", &["-o", "link", "show", "dev", dev]);
    let flags = link
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string();
    let mut addrs: Vec<String> = sh_out("ip", &["-o", "addr", "show", "dev", dev])
        .lines()
        .map(|l| {
            l.split_whitespace()
                .skip(2)
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    addrs.sort();
    format!("{dev} {flags}\n{}", addrs.join("\n"))
}

/// Removes a bridge at the end of a test, whatever happened.
pub struct LinkGuard(pub String);
impl Drop for LinkGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", "dev", &self.0])
            .output();
    }
}

/// One linux-bridge test's scratch: a temp state folder, a unique bridge name
/// and subnet, and a guard removing the bridge whatever happens.
struct BridgeCase {
    dir: tempfile::TempDir,
    br: String,
    subnet: String,
    gw: String,
    _guard: LinkGuard,
}

impl BridgeCase {
    fn new(tag: &str, n: u16) -> BridgeCase {
        let br = unique(tag);
        let (subnet, gw) = unique_subnet6(n);
        BridgeCase {
            dir: tempfile::tempdir().unwrap(),
            _guard: LinkGuard(br.clone()),
            br,
            subnet,
            gw,
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `--subnet6 S --gateway6 G --state-dir D` and then `extra`.
    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = [
            "--subnet6",
            &self.subnet,
            "--gateway6",
            &self.gw,
            "--state-dir",
            self.state().to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }
}

/// `Vec<String>` as `Vec<&str>`.
fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn linux_bridge_makes_and_removes_only_its_bridge() {
    if !require_tools("linux_bridge_makes_and_removes_only_its_bridge", &["ip"]) {
        return;
    }
    let case = BridgeCase::new("a", 0xa);
    let (br, gw) = (&case.br, &case.gw);
    let args = case.args(&["--subnet4", "10.251.7.0/24", "--gateway4", "10.251.7.1"]);
    let args = strs(&args);
    assert_eq!(link_snapshot(br), "", "bridge {br} exists before the test");

    let first = ok_json(
        &provider("linux-bridge", "provide", "network", br, &args),
        "provide",
    );
    assert_eq!(
        first,
        serde_json::json!({"bridge": br, "subnet6": case.subnet, "gateway6": gw, "subnet4": "10.251.7.0/24", "gateway4": "10.251.7.1"})
    );
    let made = link_snapshot(br);
    assert!(made.contains(&format!("inet6 {gw}/112")), "{made}");
    assert!(made.contains("inet 10.251.7.1/24"), "{made}");
    assert!(made.contains("UP"), "{made}");
    eprintln!("linux-bridge made:\n{made}");

    let second = ok_json(
        &provide_again("linux-bridge", "network", br, &args),
        "second provide",
    );
    assert_eq!(first, second);
    assert_eq!(link_snapshot(br), made, "a second provide changed the host");
    ok_quiet(
        &provider("linux-bridge", "check", "network", br, &args),
        "check",
    );

    ok_quiet(
        &provider("linux-bridge", "release", "network", br, &args),
        "release",
    );
    assert_eq!(link_snapshot(br), "", "release left the bridge");
    ok_quiet(
        &provider("linux-bridge", "release", "network", br, &args),
        "second release",
    );
    let err = failed(
        &provider("linux-bridge", "check", "network", br, &args),
        "check after release",
    );
    assert!(err.contains("does not exist"), "{err}");
    assert_empty_dir(&case.state());
}

fn provide_again(script: &str, kind: &str, name: &str, args: &[&str]) -> Output {
    provider(script, "provide", kind, name, args)
}

/// The provider state folder holds nothing once everything was released.
fn assert_empty_dir(dir: &Path) {
    if dir.exists() {
        let left: Vec<_> = walk(dir);
        assert!(left.is_empty(), "left in {}: {left:?}", dir.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn linux_bridge_leaves_a_preexisting_bridge_as_it_was() {
    if !require_tools(
        "linux_bridge_leaves_a_preexisting_bridge_as_it_was",
        &["ip"],
    ) {
        return;
    }
    let case = BridgeCase::new("b", 0xb);
    let br = &case.br;
    // An administrator's bridge, down, with the gateway already on it (written
    // in another textual form than the manifest's).
    sh_out("ip", &["link", "add", "name", br, "type", "bridge"]);
    let long_gw = case.gw.replace("::", ":0:0::");
    sh_out(
        "ip",
        &[
            "-6",
            "addr",
            "add",
            &format!("{long_gw}/112"),
            "dev",
            br,
            "nodad",
        ],
    );
    let before = link_snapshot(br);
    let args = case.args(&[]);
    let args = strs(&args);

    ok_json(
        &provider("linux-bridge", "provide", "network", br, &args),
        "provide",
    );
    assert!(
        link_snapshot(br).contains("UP"),
        "the bridge was not brought up"
    );
    ok_json(
        &provide_again("linux-bridge", "network", br, &args),
        "second provide",
    );
    ok_quiet(
        &provider("linux-bridge", "release", "network", br, &args),
        "release",
    );
    assert_eq!(
        link_snapshot(br),
        before,
        "release changed an administrator's bridge"
    );
    ok_quiet(
        &provider("linux-bridge", "release", "network", br, &args),
        "second release",
    );
    assert_eq!(link_snapshot(br), before);
    assert_empty_dir(&case.state());
}

#[test]
fn linux_bridge_failed_provide_leaves_nothing() {
    if !require_tools("linux_bridge_failed_provide_leaves_nothing", &["ip"]) {
        return;
    }
    let case = BridgeCase::new("c", 0xc);
    // The IPv4 gateway passes the script's syntax check but `ip` refuses it,
    // after the bridge and the IPv6 gateway were made.
    let args = case.args(&["--subnet4", "10.251.8.0/24", "--gateway4", "10.251.8.300"]);
    let err = failed(
        &provider("linux-bridge", "provide", "network", &case.br, &strs(&args)),
        "provide",
    );
    assert!(err.contains("10.251.8.300"), "{err}");
    assert_eq!(
        link_snapshot(&case.br),
        "",
        "a failed provide left the bridge"
    );
    assert_empty_dir(&case.state());
}

#[test]
fn dir_volume_creates_under_base_and_removes_only_its_empty_folders() {
    if !require_tools(
        "dir_volume_creates_under_base_and_removes_only_its_empty_folders",
        &[],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let base = dir.path().join("srv/volumes");
    let b = base.to_str().unwrap();
    let st = state.to_str().unwrap();
    let args = [
        "--base",
        b,
        "--owner",
        "1234:2345",
        "--mode",
        "0750",
        "--state-dir",
        st,
    ];
    let path = base.join("data-1");

    let v = ok_json(
        &provider("dir-volume", "provide", "volume", "data-1", &args),
        "provide",
    );
    assert_eq!(v, serde_json::json!({"path": path.to_str().unwrap()}));
    let meta = std::fs::metadata(&path).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(
        (meta.uid(), meta.gid(), meta.permissions().mode() & 0o7777),
        (1234, 2345, 0o750)
    );
    assert_eq!(
        ok_json(
            &provide_again("dir-volume", "volume", "data-1", &args),
            "second provide"
        ),
        v
    );
    ok_quiet(
        &provider("dir-volume", "check", "volume", "data-1", &args),
        "check",
    );

    // Data in it: a plain release keeps it (and says so), still as ours.
    std::fs::write(path.join("keep.txt"), "data").unwrap();
    let o = provider("dir-volume", "release", "volume", "data-1", &args);
    ok_quiet(&o, "release of a non-empty volume");
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
    assert!(path.join("keep.txt").exists());
    // With --delete-data the data goes, and so do the folders it made (srv, srv/volumes).
    let mut del = args.to_vec();
    del.push("--delete-data");
    ok_quiet(
        &provider("dir-volume", "release", "volume", "data-1", &del),
        "release --delete-data",
    );
    assert!(
        !dir.path().join("srv").exists(),
        "release left folders it made"
    );
    ok_quiet(
        &provider("dir-volume", "release", "volume", "data-1", &del),
        "second release",
    );
    assert_empty_dir(&state);
}

#[test]
fn dir_volume_never_touches_a_folder_it_did_not_make() {
    if !require_tools("dir_volume_never_touches_a_folder_it_did_not_make", &[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let base = dir.path().join("base");
    let empty = base.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let args = [
        "--base",
        base.to_str().unwrap(),
        "--mode",
        "0700",
        "--delete-data",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    use std::os::unix::fs::PermissionsExt;
    let mode_before = std::fs::metadata(&empty).unwrap().permissions().mode();
    ok_json(
        &provider("dir-volume", "provide", "volume", "empty", &args),
        "provide",
    );
    assert_eq!(
        std::fs::metadata(&empty).unwrap().permissions().mode(),
        mode_before
    );
    ok_quiet(
        &provider("dir-volume", "release", "volume", "empty", &args),
        "release",
    );
    assert!(
        empty.is_dir(),
        "release --delete-data removed a folder it did not make"
    );
    assert_empty_dir(&state);
}

#[test]
fn podman_network_creates_and_removes_its_network() {
    if !require_tools(
        "podman_network_creates_and_removes_its_network",
        &["podman"],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("state");
    let net = unique("n");
    let _guard = NetworkGuard(net.clone());
    let (subnet, gw) = unique_subnet6(0xd);
    let args = [
        "--subnet6",
        &subnet,
        "--gateway6",
        &gw,
        "--state-dir",
        st.to_str().unwrap(),
    ];
    // By name: other tests make networks of their own meanwhile.
    assert!(!podman_networks().contains(&net));

    let v = ok_json(
        &provider("podman-network", "provide", "network", &net, &args),
        "provide",
    );
    assert_eq!(v, serde_json::json!({"subnet6": subnet, "gateway6": gw}));
    let inspect = sh_out(
        "podman",
        &[
            "network",
            "inspect",
            "--format",
            "{{.IPv6Enabled}} {{range .Subnets}}{{.Subnet}} {{.Gateway}} {{end}}",
            &net,
        ],
    );
    eprintln!("podman network {net}: {}", inspect.trim());
    assert!(inspect.starts_with("true "), "{inspect}");
    assert!(inspect.contains(&format!("{subnet} {gw}")), "{inspect}");
    assert_eq!(
        ok_json(
            &provide_again("podman-network", "network", &net, &args),
            "second provide"
        ),
        v
    );
    ok_quiet(
        &provider("podman-network", "check", "network", &net, &args),
        "check",
    );
    ok_quiet(
        &provider("podman-network", "release", "network", &net, &args),
        "release",
    );
    assert!(!podman_networks().contains(&net), "release left a network");
    ok_quiet(
        &provider("podman-network", "release", "network", &net, &args),
        "second release",
    );
    assert!(!podman_networks().contains(&net));
    assert_empty_dir(&st);

    // A network of that name made by someone else, with another subnet: refused, and kept.
    let (other, _) = unique_subnet6(0xe);
    sh_out(
        "podman",
        &["network", "create", "--ipv6", "--subnet", &other, &net],
    );
    let err = failed(
        &provider("podman-network", "provide", "network", &net, &args),
        "provide over a foreign network",
    );
    assert!(err.contains(&other), "{err}");
    ok_quiet(
        &provider("podman-network", "release", "network", &net, &args),
        "release of a foreign network",
    );
    assert!(
        podman_networks().contains(&net),
        "release removed a network it did not make"
    );
}

/// `docker-network` is `podman-network` with docker as its default engine:
/// the network it makes has IPv6, the subnet, and Docker's own dynamic range
/// (`--ip-range6`); release refuses while a container is attached (running or
/// not), and a network someone else made is refused and kept.
#[test]
fn docker_network_creates_and_removes_its_network() {
    use crate::docker::{docker, docker_host, docker_ok, image, networks, require_docker, IMAGE};
    if !require_docker("docker_network_creates_and_removes_its_network") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("state");
    let net = unique("dn");
    let host = docker_host();
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = docker(&["rm", "-f", &format!("{}-c", self.0)]);
            let _ = docker(&["network", "rm", &self.0]);
        }
    }
    let _guard = Gone(net.clone());
    let (subnet, gw) = unique_subnet6(0x1d);
    let range = subnet.replace("::/112", "::8000/113");
    let args = [
        "--subnet6",
        &subnet,
        "--gateway6",
        &gw,
        "--ip-range6",
        &range,
        "--docker-host",
        &host,
        "--state-dir",
        st.to_str().unwrap(),
    ];
    assert!(!networks().contains(&net));
    let v = ok_json(
        &provider("docker-network", "provide", "network", &net, &args),
        "provide",
    );
    assert_eq!(v, serde_json::json!({"subnet6": subnet, "gateway6": gw}));
    let inspect = docker_ok(&[
        "network",
        "inspect",
        "--format",
        "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}}={{.IPRange}} {{end}}",
        &net,
    ]);
    eprintln!("docker network {net}: {}", inspect.trim());
    assert!(inspect.starts_with("true "), "{inspect}");
    assert!(inspect.contains(&format!("{subnet}={range}")), "{inspect}");
    assert_eq!(
        ok_json(
            &provide_again("docker-network", "network", &net, &args),
            "second provide"
        ),
        v
    );
    ok_quiet(
        &provider("docker-network", "check", "network", &net, &args),
        "check",
    );
    // A stopped container on the network still holds it.
    image(IMAGE, &[]);
    let c = format!("{net}-c");
    docker_ok(&["create", "--name", &c, "--network", &net, IMAGE]);
    let err = failed(
        &provider("docker-network", "release", "network", &net, &args),
        "release while attached",
    );
    assert!(err.contains(&c), "{err}");
    assert!(
        networks().contains(&net),
        "release removed a network in use"
    );
    docker_ok(&["rm", "-f", &c]);
    ok_quiet(
        &provider("docker-network", "release", "network", &net, &args),
        "release",
    );
    assert!(!networks().contains(&net), "release left a network");
    ok_quiet(
        &provider("docker-network", "release", "network", &net, &args),
        "second release",
    );
    assert_empty_dir(&st);

    // Someone else's network of that name, without the range: refused, kept.
    docker_ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &subnet,
        "--gateway",
        &gw,
        &net,
    ]);
    let err = failed(
        &provider("docker-network", "provide", "network", &net, &args),
        "provide over a foreign network",
    );
    assert!(err.contains("other dynamic ranges"), "{err}");
    ok_quiet(
        &provider("docker-network", "release", "network", &net, &args),
        "release of a foreign network",
    );
    assert!(
        networks().contains(&net),
        "release removed a network it did not make"
    );
}

/// podman-network passes `--ip-range6` to podman too, and `berth check
/// --live` reads podman's lease range: a static address of the manifest inside
/// it is reported.
#[test]
fn podman_network_takes_an_ip_range_and_check_live_reads_it() {
    if !require_tools(
        "podman_network_takes_an_ip_range_and_check_live_reads_it",
        &["podman"],
    ) {
        return;
    }
    let dir = crate::util::Dir::new();
    let st = dir.path().join("state");
    let net = unique("nr");
    let _guard = NetworkGuard(net.clone());
    let (subnet, gw) = unique_subnet6(0x1e);
    let range = subnet.replace("::/112", "::8000/113");
    let args = [
        "--subnet6",
        &subnet,
        "--gateway6",
        &gw,
        "--ip-range6",
        &range,
        "--state-dir",
        st.to_str().unwrap(),
    ];
    ok_json(
        &provider("podman-network", "provide", "network", &net, &args),
        "provide",
    );
    let inspect = sh_out(
        "podman",
        &[
            "network",
            "inspect",
            "--format",
            "{{range .Subnets}}{{.Subnet}}={{if .LeaseRange}}{{.LeaseRange.StartIP}}{{end}} {{end}}",
            &net,
        ],
    );
    let start = subnet.replace("::/112", "::800");
    assert!(inspect.contains(&format!("{subnet}={start}")), "{inspect}");
    let host = |addr: &str| {
        format!(
            "berth: 1\nhost: h\nprovides:\n  - network: {net}\n    subnet6: \"{subnet}\"\n    gateway6: \"{gw}\"\n  - ipv6: app\n    address: \"{addr}\"\n    network: {net}\n"
        )
    };
    let inside = dir.write("inside.yaml", &host(&subnet.replace("::/112", "::9000")));
    let o = dir
        .berth()
        .args(["check", "--live"])
        .arg(&inside)
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("berth::live::engine-network")
            && stderr(&o).contains(&format!("podman network `{net}` hands out")),
        "{}",
        stderr(&o)
    );
    let outside = dir.write("outside.yaml", &host(&subnet.replace("::/112", "::20")));
    let o = dir
        .berth()
        .args(["check", "--live"])
        .arg(&outside)
        .output()
        .unwrap();
    assert!(!stderr(&o).contains("engine-network"), "{}", stderr(&o));
    ok_quiet(
        &provider("podman-network", "release", "network", &net, &args),
        "release",
    );
    assert!(!podman_networks().contains(&net));
}

/// podman's network names, sorted.
pub fn podman_networks() -> Vec<String> {
    let mut v: Vec<String> = sh_out("podman", &["network", "ls", "--format", "{{.Name}}"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Removes a podman network at the end of a test, whatever happened.
pub struct NetworkGuard(pub String);
impl Drop for NetworkGuard {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["network", "rm", "-f", &self.0])
            .output();
    }
}

#[test]
fn secret_is_copied_private_and_never_printed() {
    if !require_tools("secret_is_copied_private_and_never_printed", &[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("state");
    let out = dir.path().join("run/secrets");
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    let value = "s3cr3t-VALUE-that-must-not-leak";
    std::fs::write(store.join("db-password"), value).unwrap();
    let env_file = dir.path().join("secrets.env");
    std::fs::write(
        &env_file,
        format!("# comment\nAPI_TOKEN=old\nAPI_TOKEN={value}=tail\nDB_PASSWORD=\n"),
    )
    .unwrap();
    let (s, o, e) = (
        store.to_str().unwrap(),
        out.to_str().unwrap(),
        env_file.to_str().unwrap(),
    );
    let st = st.to_str().unwrap();

    let mut outputs = Vec::new();
    let store_args = ["--store", s, "--out", o, "--state-dir", st];
    let p = provider("secret", "provide", "secret", "db-password", &store_args);
    let v = ok_json(&p, "provide from store");
    let file = out.join("db-password");
    assert_eq!(v, serde_json::json!({"file": file.to_str().unwrap()}));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), value);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o700
    );
    outputs.push(p);
    outputs.push(provide_again(
        "secret",
        "secret",
        "db-password",
        &store_args,
    ));
    outputs.push(provider(
        "secret",
        "release",
        "secret",
        "db-password",
        &store_args,
    ));
    assert!(
        !dir.path().join("run").exists(),
        "release left the folders it made"
    );

    let env_args = ["--env-file", e, "--out", o, "--state-dir", st];
    let p = provider("secret", "provide", "secret", "api-token", &env_args);
    ok_json(&p, "provide from env file");
    assert_eq!(
        std::fs::read_to_string(out.join("api-token")).unwrap(),
        format!("{value}=tail")
    );
    outputs.push(p);
    // Failures name keys and paths, never a value.
    let p = provider("secret", "provide", "secret", "db-password", &env_args);
    assert!(failed(&p, "empty key").contains("DB_PASSWORD"));
    outputs.push(p);
    let p = provider("secret", "provide", "secret", "nope", &store_args);
    assert!(failed(&p, "missing").contains("nope"));
    outputs.push(p);
    outputs.push(provider(
        "secret",
        "release",
        "secret",
        "api-token",
        &env_args,
    ));
    assert!(!dir.path().join("run").exists());
    for p in &outputs {
        for text in [stdout(p), stderr(p)] {
            assert!(!text.contains("s3cr3t"), "the secret leaked: {text}");
        }
    }
    assert_empty_dir(Path::new(st));
}

#[test]
fn providers_reject_hostile_input_without_side_effects() {
    if !require_tools(
        "providers_reject_hostile_input_without_side_effects",
        &["ip"],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("state");
    let st = st.to_str().unwrap();
    let base = dir.path().join("base");
    let b = base.to_str().unwrap();
    let hostile = ["../etc", "$(rm -rf /)", "a/b", "x\ny", "-rf", "", ".hidden"];
    for name in hostile {
        failed(
            &provider(
                "dir-volume",
                "provide",
                "volume",
                name,
                &["--base", b, "--state-dir", st],
            ),
            name,
        );
        failed(
            &provider(
                "secret",
                "provide",
                "secret",
                name,
                &["--store", b, "--out", b, "--state-dir", st],
            ),
            name,
        );
        failed(
            &provider(
                "linux-bridge",
                "provide",
                "network",
                name,
                &[
                    "--subnet6",
                    "fd42::/112",
                    "--gateway6",
                    "fd42::1",
                    "--state-dir",
                    st,
                ],
            ),
            name,
        );
    }
    let bad_args: [&[&str]; 6] = [
        &["--base", "relative"],
        &["--base", "/a/../b"],
        &["--base"],
        &["--base", b, "--mode", "99"],
        &["--base", b, "--owner", "-R"],
        &["--base", b, "--unknown"],
    ];
    for args in bad_args {
        let err = failed(
            &provider("dir-volume", "provide", "volume", "v", args),
            &format!("{args:?}"),
        );
        assert!(!err.is_empty());
    }
    let bad_net: [&[&str]; 5] = [
        &["--subnet6", "fd42::/112"],
        &["--subnet6", "-fd42::/112", "--gateway6", "fd42::1"],
        &["--subnet6", "fd42::/129", "--gateway6", "fd42::1"],
        &[
            "--subnet6",
            "fd42::/112",
            "--gateway6",
            "fd42::1",
            "--bridge",
            "much-too-long-bridge-name",
        ],
        &["--subnet6", "fd42::/112", "--gateway6", "fd42::1 dev lo"],
    ];
    for args in bad_net {
        failed(
            &provider("linux-bridge", "provide", "network", "net1", args),
            &format!("{args:?}"),
        );
    }
    // The wrong kind, an unknown operation.
    failed(
        &provider("dir-volume", "provide", "secret", "v", &["--base", b]),
        "wrong kind",
    );
    failed(
        &provider("dir-volume", "destroy", "volume", "v", &["--base", b]),
        "unknown op",
    );
    assert!(!base.exists(), "a rejected call created {b}");
    assert!(!Path::new("/sys/class/net/net1").exists());
    assert_empty_dir(Path::new(st));
}

#[test]
fn bundled_scripts_pass_shellcheck() {
    if !require_tools("bundled_scripts_pass_shellcheck", &["shellcheck"]) {
        return;
    }
    let mut files: Vec<PathBuf> = [
        "linux-bridge",
        "dir-volume",
        "podman-network",
        "secret",
        "lib/common.sh",
    ]
    .iter()
    .map(|s| bundled(s))
    .collect();
    for s in ["busybox-rootfs", "busybox-image", "dockerd"] {
        files.push(repo_root().join("tests/support").join(s));
    }
    let o = Command::new(which("shellcheck").unwrap())
        .args(["-x", "-s", "sh"])
        .args(&files)
        .current_dir(bundled(""))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "shellcheck:\n{}{}",
        stdout(&o),
        stderr(&o)
    );
}

/// docs/bundled-providers.md is the providers' reference: every option a
/// script accepts is in its section, and every manifest example is a valid
/// `providers:` entry (checked by `berth check` inside a host manifest).
#[test]
fn bundled_providers_doc_matches_the_scripts() {
    let doc = std::fs::read_to_string(repo_root().join("docs/bundled-providers.md")).unwrap();
    for script in [
        "linux-bridge",
        "dir-volume",
        "podman-network",
        "docker-network",
        "secret",
    ] {
        let head = format!("## `{script}`");
        let start = doc
            .find(&head)
            .unwrap_or_else(|| panic!("no section {head}"));
        let section = &doc[start..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
        let text = std::fs::read_to_string(bundled(script)).unwrap();
        let options: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().split_once(')').map(|(arm, _)| arm))
            .filter(|arm| arm.starts_with("--") && !arm.contains(' '))
            .collect();
        assert!(options.len() >= 2, "{script}: options not found");
        for opt in options {
            assert!(
                section.contains(&format!("`{opt}")),
                "{script}: {opt} is not documented in {head}"
            );
        }
    }
    let dir = crate::util::Dir::new();
    let mut n = 0;
    for block in doc.split("```yaml\n").skip(1) {
        let body = block.split("```").next().unwrap();
        let host = dir.write(
            &format!("host{n}.yaml"),
            &format!("berth: 1\nhost: h{n}\n{body}"),
        );
        let o = dir.berth().arg("check").arg(&host).output().unwrap();
        assert_eq!(
            code(&o),
            0,
            "docs/bundled-providers.md example {n}:\n{body}\n{}{}",
            stdout(&o),
            stderr(&o)
        );
        n += 1;
    }
    assert_eq!(n, 4, "manifest examples in docs/bundled-providers.md");
}
