//! How `place` grows with the fleet (issue 14's acceptance: at twice the
//! fleet at most 2.2 times the time, at four times at most 4.5 times). Builds
//! the generated fleet of `docs/performance.md` (`berth_testkit::genfleet`) at
//! 1x, 2x and 4x of 5,000 hosts x 150,000 containers (or of the base given as
//! arguments), loads each once, then times `place` alone on each, the scales
//! interleaved round after round so that a busy machine slows them alike.
//! Prints every round, then per scale the minimum and median wall time and
//! their ratios to 1x.
//!
//! Run: `cargo bench -p berth-engine --bench place_scale [-- HOSTS CONTAINERS ROUNDS]`.
//! `PLACE_SCALES=4` (a comma-separated list) places only those scales, e.g.
//! to profile one of them under `perf record`.
//!
//! Every scale starts each round as a fresh `berth place` process does: with
//! the memory the previous round freed given back to the system
//! (`mi_collect(true)`, untimed), so each round faults in the pages it uses.
//! Without it the rounds are unequal: mimalloc keeps the freed pages of the
//! 1x fleet's per-call arrays for the next round, while the 4x fleet's, most
//! of them larger than what it keeps, go back to the system and fault in again
//! (about 1,550 page faults a round at 1x and 30,000 at 4x, issue 14's fourth
//! step in `docs/performance.md`), so the bench measured 1x with a warm
//! allocator and 4x with a cold one, which no single `berth place` does.
//! `PLACE_KEEP_FREED=1` skips the collection (the old, unequal conditions),
//! to compare.

/// The allocator the `berth` binary ships with (cli/src/main.rs): placement
/// allocates per class and per host, so the figures are those of the binary.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::{Duration, Instant};

use berth_engine::place::place;
use berth_specs::{HostManifest, NeedSpec};
use berth_testkit::genfleet::fleet_docs;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    // The pool the `berth` binary runs on (cli/src/main.rs): placement's
    // parallel parts run on the calling thread too.
    berth_engine::threads::init_pool();
    // `cargo bench` passes `--bench`; numbers are ours.
    let nums: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (hosts, containers, rounds) = match nums[..] {
        [h, c, r, ..] => (h, c, r),
        [h, c] => (h, c, 5),
        _ => (5_000, 150_000, 5),
    };
    let scales: Vec<usize> = match std::env::var("PLACE_SCALES") {
        Ok(v) => v.split(',').filter_map(|k| k.trim().parse().ok()).collect(),
        Err(_) => vec![1, 2, 4],
    };
    let fleets: Vec<_> = scales
        .iter()
        .map(|&k| fleet_docs(hosts * k, containers * k, 1))
        .collect();
    let keep_freed = std::env::var_os("PLACE_KEEP_FREED").is_some_and(|v| v != "0");
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); scales.len()];
    for r in 1..=rounds {
        for (i, (h, s)) in fleets.iter().enumerate() {
            let hr: Vec<&HostManifest> = h.iter().collect();
            let sr: Vec<&NeedSpec> = s.iter().collect();
            if !keep_freed {
                // SAFETY: a plain call into the allocator in use, on no
                // pointer of ours.
                unsafe { libmimalloc_sys::mi_collect(true) };
            }
            let start = Instant::now();
            let p = black_box(place(black_box(&hr), black_box(&sr)));
            let t = start.elapsed();
            drop(p);
            println!(
                "round {r} {}x ({} hosts, {} containers): {:.0} ms",
                scales[i],
                h.len(),
                s.len(),
                ms(t)
            );
            times[i].push(t);
        }
    }
    let stat = |v: &Vec<Duration>| {
        let mut v = v.clone();
        v.sort();
        (v[0], v[v.len() / 2])
    };
    let (min1, med1) = stat(&times[0]);
    for (i, t) in times.iter().enumerate() {
        let (min, med) = stat(t);
        println!(
            "{}x: min {:.0} ms ({:.2}x of {}x), median {:.0} ms ({:.2}x of {}x)",
            scales[i],
            ms(min),
            min.as_secs_f64() / min1.as_secs_f64(),
            scales[0],
            ms(med),
            med.as_secs_f64() / med1.as_secs_f64(),
            scales[0]
        );
    }
}
