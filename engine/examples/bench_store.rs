//! Benchmark: the per-host store as a host fills up. Applies containers one
//! after another on one host (each `apply` its own lock, load, solve, record
//! and durable commit, as one `berth apply` process does), and measures at
//! the midpoint what `berth status` and `berth release` cost there. The
//! acceptance figures of issue 14 (docs/performance.md): one apply at 5,000
//! holdings under 10 ms; the last applies of 10,000 within 2x of the first;
//! `status` and `release` at 5,000 holdings under 20 ms.
//!
//! Run: `cargo run --release -p berth-engine --example bench_store [N]`
//! (N containers, default 10,000; the state folder is a temp folder under
//! `$BENCH_DIR`, default `/tmp`; `BENCH_WHOLE=1` makes every command load the
//! whole state instead of its slice). Inputs are generated here.

use std::time::{Duration, Instant};

use berth_engine::apply;
use berth_engine::state;
use berth_engine::store::{Locked, Scope, StateFile};
use berth_specs::{HostManifest, NeedSpec};
use berth_testkit::model::{self, NoProviders};

/// The store benchmarks' host (`berth: 1` added by `model::host`).
const HOST: &str = include_str!("bench_host.yaml");

fn host() -> HostManifest {
    model::host(HOST)
}

fn spec(name: &str) -> NeedSpec {
    model::specs(&format!(
        "container: {name}\nneeds:\n  - ipv6: {name}\n  - volume: shared\n    mount: /data\n"
    ))
    .remove(0)
}

/// The time this thread has spent on a CPU (`/proc/thread-self/schedstat`,
/// nanoseconds): on a machine shared with builds, wall time mostly says how
/// long the thread waited for a core; this says how much work it did.
fn on_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// `berth status --format json`'s view of a loaded state, as the CLI makes it.
fn view(s: &state::State, file: &StateFile) -> String {
    berth_engine::status_view::status_json(s, &file.path().display().to_string())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `BENCH_WHOLE=1`: every command loads the whole state, as before slices
/// (for the side-by-side figures of docs/performance.md).
fn whole() -> bool {
    std::env::var_os("BENCH_WHOLE").is_some_and(|v| v == "1")
}

/// `BENCH_ROUNDS=R`: R rounds of status, release and re-apply at the
/// midpoint instead of 21 (more for a profile of `status`).
fn rounds() -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(21)
}

fn lock(file: &StateFile, scope: Scope) -> Locked {
    if whole() {
        file.lock().unwrap()
    } else {
        file.lock_for(&scope).unwrap()
    }
}

fn apply_one(host: &HostManifest, file: &StateFile, name: &str) -> Duration {
    let s = spec(name);
    let t = Instant::now();
    let mut locked = lock(file, Scope::of_specs(&[&s]));
    let done = apply::apply(host, &[&s], &mut locked, &mut NoProviders);
    drop(locked);
    let took = t.elapsed();
    assert!(done.is_ok(), "apply of {name} failed");
    took
}

fn main() {
    // The pool the `berth` binary runs on (cli/src/main.rs).
    berth_engine::threads::init_pool();
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N is a number"))
        .unwrap_or(10_000);
    let base = std::env::var_os("BENCH_DIR").unwrap_or_else(|| "/tmp".into());
    let tmp = tempfile::tempdir_in(base).unwrap();
    let file = StateFile::new(tmp.path(), "bench");
    let host = host();
    let mid = n / 2;
    let mut times = Vec::with_capacity(n);
    let mut at_mid = Vec::new();
    let started = Instant::now();
    for i in 0..n {
        times.push(apply_one(&host, &file, &format!("c{i}")));
        if i + 1 == mid {
            // At `mid` holdings: status (read-only load and the JSON view),
            // release of one container and its re-apply, 21 rounds each
            // (`BENCH_ROUNDS`).
            let (mut status, mut release, mut again) = (Vec::new(), Vec::new(), Vec::new());
            let (mut load, mut status_cpu, mut load_cpu) = (Vec::new(), Vec::new(), Vec::new());
            for r in 0..rounds() {
                let (t, c) = (Instant::now(), on_cpu());
                let s = file.load_readonly().unwrap();
                load.push(t.elapsed());
                load_cpu.push(on_cpu() - c);
                let text = view(&s, &file);
                status.push(t.elapsed());
                status_cpu.push(on_cpu() - c);
                assert!(text.len() > mid * 100);
                let victim = format!("c{}", r * 7);
                let t = Instant::now();
                let mut locked = lock(&file, Scope::of_containers(&[&victim]));
                let out = apply::release(
                    &host,
                    std::slice::from_ref(&victim),
                    false,
                    &mut locked,
                    &mut NoProviders,
                )
                .unwrap();
                drop(locked);
                release.push(t.elapsed());
                assert!(!out.any_failed());
                again.push(apply_one(&host, &file, &victim));
            }
            at_mid.push(("status, fastest round", *status.iter().min().unwrap()));
            at_mid.push(("status (load, JSON view)", median(status)));
            at_mid.push(("status, time on a CPU", median(status_cpu)));
            at_mid.push(("of which the whole load", median(load)));
            at_mid.push(("of which the whole load, on a CPU", median(load_cpu)));
            at_mid.push(("release one container", median(release)));
            at_mid.push(("apply one container", median(again)));
        }
    }
    let total = started.elapsed();
    let window = (n / 100).clamp(1, 100);
    let first = median(times[..window].to_vec());
    let last = median(times[n - window..].to_vec());
    println!("| what | median |");
    println!("|---|---|");
    for (what, d) in &at_mid {
        println!("| {what}, at {mid} holdings | {:.2} ms |", ms(*d));
    }
    println!("| apply, first {window} of {n} | {:.2} ms |", ms(first));
    println!("| apply, last {window} of {n} | {:.2} ms |", ms(last));
    println!(
        "| last / first | {:.2} |",
        last.as_secs_f64() / first.as_secs_f64()
    );
    println!("| all {n} applies | {:.1} s |", total.as_secs_f64());
    let db = std::fs::metadata(file.path()).map(|m| m.len()).unwrap_or(0);
    println!("| store size | {} KiB |", db / 1024);
}
