//! berth-cni side by side with the reference `host-local` IPAM plugin
//! (`/usr/lib/cni/host-local`, Debian `containernetworking-plugins`): the
//! wall time of one ADD, run as a CNI runtime runs an IPAM plugin (a process,
//! the network configuration on stdin), sequentially and 16 at once.
//!
//! `cargo bench -p berth-cni --bench vs_host_local` (docs/performance.md
//! records the figures). Both plugins keep their state in folders of one
//! temporary directory on the same file system, get the same number of ADDs
//! for distinct container ids, and start from an empty state each round.
//! Environment: `BENCH_ADDS` (ADDs per round, default 200), `BENCH_ROUNDS`
//! (default 3; the median round is reported), `BENCH_DIR` (the folder the
//! temporary directories go in; default the system's, e.g. `/dev/shm` for
//! tmpfs, which takes the file system's fsync cost out of the comparison),
//! `BENCH_LONG` (default 0: off; N > 0 also runs N sequential ADDs per
//! plugin, interleaved one for one, and reports the median of the last 20:
//! whether the cost of an ADD grows with the addresses already given).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BERTH_CNI: &str = env!("CARGO_BIN_EXE_berth-cni");
const HOST_LOCAL: &str = "/usr/lib/cni/host-local";

fn add(plugin: &str, conf: &str, id: &str) {
    let mut child = Command::new(plugin)
        .env("CNI_COMMAND", "ADD")
        .env("CNI_CONTAINERID", id)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_NETNS", "/nonexistent")
        .env("CNI_PATH", "/usr/lib/cni")
        .env("CNI_ARGS", format!("IgnoreUnknown=1;BERTH_NAME={id}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn plugin");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(conf.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{plugin} ADD {id}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Wall time per ADD for `n` ADDs, `par` at a time.
fn per_add(plugin: &str, conf: &str, n: usize, par: usize) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..par {
            s.spawn(move || {
                for i in (t..n).step_by(par) {
                    add(plugin, conf, &format!("b{i}"));
                }
            });
        }
    });
    start.elapsed() / n as u32
}

fn berth_conf(dir: &Path) -> String {
    std::fs::write(
        dir.join("host.yaml"),
        "berth: 1\nhost: bench\nprovides:\n  - network: b14net\n    subnet6: fd00:b3c1:14::/64\n    \
         gateway6: fd00:b3c1:14::1\n  - ipv6: \"*\"\n    pool: fd00:b3c1:14::1:0/112\n    network: b14net\n",
    )
    .unwrap();
    json!({"cniVersion": "1.0.0", "name": "b14", "type": "bridge",
        "ipam": {"type": "berth-cni", "host": dir.join("host.yaml"), "network": "b14net",
                 "stateDir": dir.join("state")}})
    .to_string()
}

fn host_local_conf(dir: &Path) -> String {
    json!({"cniVersion": "1.0.0", "name": "b14", "type": "bridge",
        "ipam": {"type": "host-local", "dataDir": dir.join("host-local"),
                 "ranges": [[{"subnet": "fd00:b3c1:14::/64", "rangeStart": "fd00:b3c1:14::1:1",
                              "rangeEnd": "fd00:b3c1:14::1:ffff", "gateway": "fd00:b3c1:14::1"}]],
                 "routes": [{"dst": "::/0"}]}})
    .to_string()
}

fn tempdir() -> tempfile::TempDir {
    match std::env::var_os("BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if !Path::new(HOST_LOCAL).is_file() {
        eprintln!(
            "vs_host_local: {HOST_LOCAL} is missing (apt-get install containernetworking-plugins)"
        );
        return;
    }
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (n, rounds) = (env("BENCH_ADDS", 200), env("BENCH_ROUNDS", 3));
    let mut report: Vec<Value> = Vec::new();
    for par in [1usize, 16] {
        let (mut b, mut h) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let dir = tempdir();
            b.push(per_add(BERTH_CNI, &berth_conf(dir.path()), n, par));
            let dir = tempdir();
            h.push(per_add(HOST_LOCAL, &host_local_conf(dir.path()), n, par));
        }
        let (b, h) = (median(b), median(h));
        let ratio = b.as_secs_f64() / h.as_secs_f64();
        println!(
            "{par:>2}-way, {n} ADDs: berth-cni {:>7.3} ms/ADD, host-local {:>7.3} ms/ADD, ratio {ratio:.2}",
            b.as_secs_f64() * 1e3,
            h.as_secs_f64() * 1e3
        );
        report.push(
            json!({"parallel": par, "adds": n, "berth_cni_ms": b.as_secs_f64() * 1e3,
            "host_local_ms": h.as_secs_f64() * 1e3, "ratio": ratio}),
        );
    }
    let long = env("BENCH_LONG", 0);
    if long > 0 {
        let (bd, hd) = (tempdir(), tempdir());
        let (bc, hc) = (berth_conf(bd.path()), host_local_conf(hd.path()));
        let (mut b, mut h) = (Vec::new(), Vec::new());
        let started = Instant::now();
        for i in 0..long {
            let id = format!("l{i}");
            let t = Instant::now();
            add(BERTH_CNI, &bc, &id);
            b.push(t.elapsed());
            let t = Instant::now();
            add(HOST_LOCAL, &hc, &id);
            h.push(t.elapsed());
        }
        let k = 20.min(long);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let (bf, hf) = (median(b[..k].to_vec()), median(h[..k].to_vec()));
        let (bl, hl) = (
            median(b[long - k..].to_vec()),
            median(h[long - k..].to_vec()),
        );
        println!(
            "{long} sequential ADDs ({:.1} s): first {k} median berth-cni {:.3} ms, host-local {:.3} ms; \
             last {k} median berth-cni {:.3} ms, host-local {:.3} ms; totals berth-cni {:.1} s, host-local {:.1} s",
            started.elapsed().as_secs_f64(),
            ms(bf),
            ms(hf),
            ms(bl),
            ms(hl),
            b.iter().sum::<Duration>().as_secs_f64(),
            h.iter().sum::<Duration>().as_secs_f64()
        );
        report.push(json!({"sequential": long, "berth_cni_last20_ms": ms(bl),
            "host_local_last20_ms": ms(hl), "berth_cni_first20_ms": ms(bf),
            "host_local_first20_ms": ms(hf)}));
    }
    println!("{}", Value::Array(report));
}
