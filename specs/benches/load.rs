//! Load throughput on a generated fleet file (5,000 hosts and 150,000
//! containers in one multi-document YAML file, as `berth place` reads it).
//!
//! Run: `cargo bench -p berth-specs --bench load` (prints MB/s; the figures go
//! in `docs/performance.md` under "Loading"). Optional arguments: HOSTS CONTAINERS.
//!
//! With `BERTH_LOAD_JSON=FILE` (say the `place.sh` fleet,
//! `/tmp/berth-place-bench/1x-json/containers.json`) it times that JSON file
//! only: the whole load, and the reading alone (trees built and dropped, not
//! converted), best of 7.

use std::path::Path;
use std::time::{Duration, Instant};

use berth_specs::load::{load_file, load_str_sequential, LoadOptions};
use berth_testkit::fleet;

/// CPU time (user + system) of this process so far, from /proc/self/stat
/// (clock ticks of 10 ms). On a busy machine wall time says little; CPU time
/// still says how much work a load is.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let fields: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    Duration::from_millis(fields.iter().sum::<u64>() * 10)
}

/// Best wall time of `runs`, the CPU time of that run, and its result.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let mut best = (Duration::MAX, Duration::ZERO);
    let mut last = None;
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu_time());
        let out = f();
        let wall = t.elapsed();
        if wall < best.0 {
            best = (wall, cpu_time() - c);
        }
        drop(last.replace(out));
    }
    (best.0, best.1, last.expect("at least one run"))
}

fn line(what: &str, mb: f64, wall: Duration, cpu: Duration) {
    println!(
        "{what:<28} wall {:>7.1} ms  {:>6.1} MB/s   cpu {:>7.1} ms  {:>6.1} MB per cpu-second",
        wall.as_secs_f64() * 1e3,
        mb / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e3,
        mb / cpu.as_secs_f64().max(1e-3)
    );
}

/// Options that read the whole generated fleet (bigger than the default limit).
fn big_files() -> LoadOptions {
    LoadOptions {
        max_file_size: 1 << 30,
        ..LoadOptions::default()
    }
}

/// Times one JSON file: the whole load, and the reader alone.
fn json_file(path: &Path) {
    let text = std::fs::read_to_string(path).expect("read");
    let mb = text.len() as f64 / 1e6;
    let opts = big_files();
    println!(
        "{}: {mb:.1} MB, {} threads",
        path.display(),
        rayon::current_num_threads()
    );
    let (t, c, loaded) = best_of(7, || load_file(path, &opts));
    assert!(!loaded.documents.is_empty());
    line("load_file (JSON)", mb, t, c);
    let (t, c, n) = best_of(7, || {
        let (docs, error) = berth_specs::json::parse_json_each(&text, |node| node.span.len);
        assert!(error.is_none());
        docs.len()
    });
    assert_eq!(n, loaded.documents.len());
    line("JSON read only", mb, t, c);
}

fn main() {
    if let Some(path) = std::env::var_os("BERTH_LOAD_JSON") {
        return json_file(Path::new(&path));
    }
    // `cargo bench` passes `--bench`; take only numeric arguments.
    let nums: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let hosts = nums.first().copied().unwrap_or(5_000);
    let containers = nums.get(1).copied().unwrap_or(150_000);
    let text = fleet::fleet(hosts, containers);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fleet.yaml");
    std::fs::write(&path, &text).expect("write");
    let mb = text.len() as f64 / 1e6;
    let opts = big_files();
    println!(
        "fleet: {hosts} hosts, {containers} containers, {mb:.1} MB, {} threads",
        rayon::current_num_threads()
    );
    let (t, c, loaded) = best_of(5, || load_file(&path, &opts));
    assert_eq!(loaded.documents.len(), hosts + containers);
    assert!(loaded.diagnostics.is_empty());
    line("load_file (parallel)", mb, t, c);
    let (t, c, n) = best_of(3, || {
        let budget = std::sync::atomic::AtomicUsize::new(0);
        berth_specs::yaml::parse_yaml(&text, berth_specs::yaml::Base::default(), &budget)
            .documents
            .len()
    });
    assert_eq!(n, hosts + containers);
    line("YAML parse only (1 thread)", mb, t, c);
    let (t, c, loaded) = best_of(3, || {
        load_str_sequential(Path::new("fleet.yaml"), &text, &opts)
    });
    assert_eq!(loaded.documents.len(), hosts + containers);
    line("load_str_sequential", mb, t, c);

    // The same fleet as one JSON array (how generated fleets are often passed).
    let budget = std::sync::atomic::AtomicUsize::new(0);
    let docs: Vec<serde_json::Value> =
        berth_specs::yaml::parse_yaml(&text, berth_specs::yaml::Base::default(), &budget)
            .documents
            .iter()
            .map(|d| d.to_json())
            .collect();
    let json = serde_json::to_string_pretty(&docs).expect("JSON");
    let json_mb = json.len() as f64 / 1e6;
    let json_path = dir.path().join("fleet.json");
    std::fs::write(&json_path, &json).expect("write");
    let (t, c, loaded) = best_of(3, || load_file(&json_path, &opts));
    assert_eq!(loaded.documents.len(), hosts + containers);
    println!("JSON: {json_mb:.1} MB");
    line("load_file (JSON)", json_mb, t, c);
}
