//! Fleet placement at the Kubernetes envelope (5,000 hosts, 150,000
//! containers) and at a tenth of it, on fleets from `berth_testkit::genfleet`
//! (the same generator `docs/performance.md` uses end to end). Measures
//! `place` alone, and loading the same YAML, so the parsing share of the
//! end-to-end figure can be read off.
//! Run: `cargo bench -p berth-engine --bench place`.

use std::hint::black_box;
use std::path::Path;

use berth_engine::place::place;
use berth_specs::load::{load_str, LoadOptions};
use berth_specs::{Document, HostManifest, NeedSpec};
use criterion::{criterion_group, criterion_main, Criterion};

use berth_testkit::genfleet;

fn load(name: &str, text: &str) -> Vec<Document> {
    let opts = LoadOptions {
        max_file_size: u64::MAX,
        ..LoadOptions::default()
    };
    let loaded = load_str(Path::new(name), text, &opts);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics.first());
    loaded.documents
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("place");
    group.sample_size(10);
    for (hosts, containers) in [(500, 15_000), (5_000, 150_000)] {
        let (host_text, spec_text) = genfleet::fleet_text(hosts, containers, 1, false);
        let mut h: Vec<HostManifest> = Vec::new();
        let mut s: Vec<NeedSpec> = Vec::new();
        for d in load("hosts.yaml", &host_text)
            .into_iter()
            .chain(load("containers.yaml", &spec_text))
        {
            match d {
                Document::Host(x) => h.push(x),
                Document::Need(x) => s.push(x),
            }
        }
        let hr: Vec<&HostManifest> = h.iter().collect();
        let sr: Vec<&NeedSpec> = s.iter().collect();
        group.bench_function(format!("place_{hosts}x{containers}"), |b| {
            b.iter(|| black_box(place(black_box(&hr), black_box(&sr))))
        });
        group.bench_function(format!("load_yaml_{hosts}x{containers}"), |b| {
            b.iter(|| {
                black_box(load("hosts.yaml", &host_text));
                black_box(load("containers.yaml", &spec_text))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
