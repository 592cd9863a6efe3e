//! Load throughput on a generated fleet file (5,000 hosts and 150,000
//! containers in one multi-document YAML file, as `berth place` reads it).
//!
//! Run: `cargo bench -p berth-specs --bench load` (prints MB/s; the figures go
//! in `docs/performance.md` under "Loading"). Optional arguments: HOSTS CONTAINERS.

#[path = "../tests/common/fleet.rs"]
mod fleet;

use std::path::Path;
use std::time::{Duration, Instant};

use berth_specs::load::{load_file, load_str_sequential, LoadOptions};

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let out = f();
        best = best.min(t.elapsed());
        last = Some(out);
    }
    (best, last.expect("at least one run"))
}

fn main() {
    // `cargo bench` passes `--bench`; take only numeric arguments.
    let nums: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let hosts = nums.first().copied().unwrap_or(5_000);
    let containers = nums.get(1).copied().unwrap_or(150_000);
    let text = fleet::fleet(hosts, containers);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fleet.yaml");
    std::fs::write(&path, &text).expect("write");
    let mb = text.len() as f64 / 1e6;
    let opts = LoadOptions {
        max_file_size: 1 << 30,
        ..LoadOptions::default()
    };
    println!(
        "fleet: {hosts} hosts, {containers} containers, {mb:.1} MB, {} threads",
        rayon::current_num_threads()
    );
    let (t, loaded) = best_of(5, || load_file(&path, &opts));
    assert_eq!(loaded.documents.len(), hosts + containers);
    assert!(loaded.diagnostics.is_empty());
    println!(
        "load_file (parallel):  {:>7.1} ms  {:>6.1} MB/s",
        t.as_secs_f64() * 1e3,
        mb / t.as_secs_f64()
    );
    let (t, n) = best_of(3, || {
        let budget = std::sync::atomic::AtomicUsize::new(0);
        berth_specs::yaml::parse_yaml(&text, berth_specs::yaml::Base::default(), &budget)
            .documents
            .len()
    });
    assert_eq!(n, hosts + containers);
    println!(
        "YAML parse only (1 thread): {:>7.1} ms  {:>6.1} MB/s",
        t.as_secs_f64() * 1e3,
        mb / t.as_secs_f64()
    );
    let (t, loaded) = best_of(3, || {
        load_str_sequential(Path::new("fleet.yaml"), &text, &opts)
    });
    assert_eq!(loaded.documents.len(), hosts + containers);
    println!(
        "sequential (1 thread): {:>7.1} ms  {:>6.1} MB/s",
        t.as_secs_f64() * 1e3,
        mb / t.as_secs_f64()
    );
}
