//! Writes a synthetic fleet for `berth place` benchmarks: N host manifests and
//! M need specs as multi-document YAML (or JSON arrays), with a realistic mix:
//! most needs served by exact names (shared volumes), per-container addresses
//! and ports from pools, services pinned to zones by label, a few scarce
//! exclusive resources (an ingress address, a GPU) that more containers want
//! than hosts have, volumes that providers make, and a small share of
//! containers that no host can take.
//!
//! ```text
//! cargo run --release -p berth-engine --example genfleet -- \
//!     --hosts 5000 --containers 150000 --out /tmp/fleet [--json] [--seed 1]
//! ```
//! writes `/tmp/fleet/hosts.yaml` and `/tmp/fleet/containers.yaml` (or
//! `.json`). The same arguments always write the same bytes.

use std::io::Write as _;
use std::path::PathBuf;

use berth_testkit::genfleet::fleet_text;

struct Args {
    hosts: usize,
    containers: usize,
    out: PathBuf,
    json: bool,
    seed: u64,
}

fn parse_args() -> Args {
    let mut a = Args {
        hosts: 5000,
        containers: 150_000,
        out: PathBuf::from("fleet"),
        json: false,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--hosts" => a.hosts = value().parse().unwrap_or_else(|_| usage("--hosts N")),
            "--containers" => {
                a.containers = value().parse().unwrap_or_else(|_| usage("--containers M"))
            }
            "--out" => a.out = PathBuf::from(value()),
            "--seed" => a.seed = value().parse().unwrap_or_else(|_| usage("--seed S")),
            "--json" => a.json = true,
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    a
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "genfleet: {msg}\nusage: genfleet [--hosts N] [--containers M] [--out DIR] [--json] [--seed S]"
    );
    std::process::exit(2)
}

fn write(path: PathBuf, text: &str, documents: usize) {
    let mut f = std::fs::File::create(&path)
        .unwrap_or_else(|e| usage(&format!("cannot write {}: {e}", path.display())));
    f.write_all(text.as_bytes()).expect("write");
    eprintln!(
        "wrote {} ({documents} documents, {} bytes)",
        path.display(),
        text.len()
    );
}

fn main() {
    let a = parse_args();
    std::fs::create_dir_all(&a.out).unwrap_or_else(|e| usage(&format!("--out: {e}")));
    let (hosts, containers) = fleet_text(a.hosts, a.containers, a.seed, a.json);
    let ext = if a.json { "json" } else { "yaml" };
    write(a.out.join(format!("hosts.{ext}")), &hosts, a.hosts);
    write(
        a.out.join(format!("containers.{ext}")),
        &containers,
        a.containers,
    );
}
