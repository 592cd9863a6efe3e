//! Benchmark: allocating the next address of an IPv6 /64 pool that already has
//! 10,000 holdings, at three levels: the pool allocator alone, a full solve of
//! one new container against that state, and a full `apply` (lock, solve,
//! record, atomic write of the 10,000-holding state).
//!
//! Run: `cargo run --release -p berth-engine --example bench_apply`
//! Figures are recorded in docs/performance.md. Inputs are generated here, so
//! the run needs nothing but the repository.

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use berth_engine::apply;
use berth_engine::pool::{self, Span128};
use berth_engine::solve::solve;
use berth_engine::state::{BindingSource, ContainerHolding, HeldBinding, Reservation, State};
use berth_engine::store::StateFile;
use berth_specs::{HostManifest, Kind, NeedSpec};
use berth_testkit::model::{self, NoProviders};
use ipnet::IpNet;
use serde_json::json;

const HOLDINGS: usize = 10_000;

/// The store benchmarks' host (`berth: 1` added by `model::host`).
const HOST: &str = include_str!("bench_host.yaml");

fn host() -> HostManifest {
    model::host(HOST)
}

fn spec(name: &str) -> NeedSpec {
    model::specs(&format!("container: {name}\nneeds:\n  - ipv6: {name}\n")).remove(0)
}

/// 10,000 containers holding the lowest 10,000 usable addresses of the pool
/// (the worst case for lowest-free: the answer lies past all of them).
fn state() -> State {
    let mut s = State::new("bench");
    let base = u128::from("2001:db8:0:1::".parse::<Ipv6Addr>().unwrap());
    for i in 0..HOLDINGS {
        let name = format!("c{i}");
        let addr = Ipv6Addr::from(base + i as u128).to_string();
        s.holdings.insert(
            name.clone(),
            ContainerHolding {
                spec_digest: String::new(),
                bindings: vec![
                    HeldBinding {
                        kind: Kind::Ipv6,
                        name: name.clone(),
                        source: BindingSource::Pool,
                        provide: "*".into(),
                        exclusive: true,
                        value: json!({"address": addr, "network": "net6"}).into(),
                    },
                    HeldBinding {
                        kind: Kind::Network,
                        name: "net6".into(),
                        source: BindingSource::Provides,
                        provide: "net6".into(),
                        exclusive: false,
                        value: json!({"subnet6": "2001:db8::/48", "gateway6": "2001:db8::1"})
                            .into(),
                    },
                ],
            },
        );
        s.reservations.insert(
            format!("ipv6/{name}"),
            Reservation {
                kind: Kind::Ipv6,
                name: name.clone(),
                pool: "2001:db8:0:1::/64".into(),
                value: addr,
                holder: Some(name.clone()),
                last_holder: Some(name),
                last_digest: None,
            },
        );
    }
    s
}

/// Runs `f` `n` times; returns (median, min).
fn measure(n: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[n / 2], times[0])
}

fn row(what: &str, n: usize, (median, min): (Duration, Duration)) {
    println!(
        "| {what} | {n} | {:.1} µs | {:.1} µs |",
        median.as_secs_f64() * 1e6,
        min.as_secs_f64() * 1e6
    );
}

fn main() {
    let host = host();
    let state = state();
    let new = spec("newcomer");
    println!("| operation ({HOLDINGS} holdings in a /64 pool) | runs | median | min |");
    println!("|---|---|---|---|");

    // The pool lies in the host network `net6` (2001:db8::/48, gateway ::1):
    // its own first address is an ordinary one (docs/manifests.md).
    let net: IpNet = "2001:db8:0:1::/64".parse().unwrap();
    let subnet: IpNet = "2001:db8::/48".parse().unwrap();
    let gateway = "2001:db8::1".parse().ok();
    let taken: Vec<u128> = state
        .reservations
        .values()
        .map(|r| u128::from(r.value.parse::<Ipv6Addr>().unwrap()))
        .chain(pool::skipped_addresses(&net, Some(&subnet), gateway))
        .collect();
    let range = Span128::of_net(&net);
    let mut got = None;
    row(
        "`pool::lowest_free`",
        1000,
        measure(1000, || {
            got = pool::lowest_free(range, taken.iter().copied())
        }),
    );
    let expected = u128::from("2001:db8:0:1::".parse::<Ipv6Addr>().unwrap()) + HOLDINGS as u128;
    assert_eq!(got, Some(expected));

    let mut plan = None;
    row(
        "`solve` one new container",
        50,
        measure(50, || plan = Some(solve(&host, &state, &[&new]))),
    );
    let plan = plan.unwrap();
    assert!(plan.satisfied);
    assert_eq!(
        plan.containers[0].bindings[0].value["address"],
        Ipv6Addr::from(expected).to_string()
    );

    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "bench");
    // Measure apply alone: lock + load (parse) + solve + record + atomic write.
    let mut apply_times = Vec::new();
    for i in 0..20 {
        {
            let mut locked = file.lock().unwrap();
            locked.write(&state).unwrap();
        }
        let spec_i = spec(&format!("newcomer{i}"));
        let t = Instant::now();
        let mut locked = file.lock().unwrap();
        apply::apply(&host, &[&spec_i], &mut locked, &mut NoProviders).unwrap();
        drop(locked);
        apply_times.push(t.elapsed());
    }
    apply_times.sort();
    row(
        "`apply` (lock, load, solve, record, fsync'd write)",
        20,
        (apply_times[10], apply_times[0]),
    );
    let size = std::fs::metadata(file.path()).unwrap().len();
    row(
        &format!(
            "of which: lock and load the state file ({} KiB)",
            size / 1024
        ),
        20,
        measure(20, || drop(file.lock().unwrap())),
    );
    let mut locked = file.lock().unwrap();
    let mut changed = state.clone();
    let mut i = 0u32;
    row(
        "of which: atomic write (temp, fsync, rename, fsync dir)",
        20,
        measure(20, || {
            i += 1;
            changed.holdings.get_mut("c0").unwrap().spec_digest = i.to_string();
            locked.write(&changed).unwrap();
        }),
    );
    let mut copy = None;
    row(
        "of which: clone of the state",
        20,
        measure(20, || copy = Some(state.clone())),
    );
}
