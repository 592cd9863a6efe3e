//! Placement on the benchmark's generated fleet (`berth_testkit::genfleet`,
//! the fleet of `docs/performance.md`), at small sizes:
//!
//! - every host's containers are satisfied together by the single-host solver
//!   (the same rules, another implementation), and every unplaced container's
//!   reason counts add up to the fleet size;
//! - the placements and explanations are exactly those of the bitset
//!   placement that came before the linear one (issue 14): its output on these
//!   fleets was digested (SHA-256 of one line per container: host, or every
//!   reason with its count and holders) and the digests are pinned below, so
//!   the faster search changed the speed and nothing else.

use std::fmt::Write as _;

use berth_engine::place::{place, Placement};
use berth_engine::solve::solve;
use berth_engine::state::State;
use berth_specs::{HostManifest, NeedSpec};
use berth_testkit::genfleet::fleet_docs;
use sha2::{Digest, Sha256};

/// One line per container: where it went, or why it went nowhere.
fn digest(pl: &Placement) -> String {
    let mut text = String::new();
    for p in &pl.placements {
        let _ = write!(text, "{} {:?}", p.spec, p.host);
        for r in &p.reasons {
            let _ = write!(text, " {:?}={}{:?}", r.reason, r.hosts, r.holders);
        }
        text.push('\n');
    }
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

fn check(hosts: usize, containers: usize, seed: u64, pinned: &str) {
    let (h, s) = fleet_docs(hosts, containers, seed);
    let (hr, sr): (Vec<&HostManifest>, Vec<&NeedSpec>) = (h.iter().collect(), s.iter().collect());
    let pl = place(&hr, &sr);
    assert!(pl.placed > 0 && pl.unplaced > 0, "a mixed fleet");
    for (hi, on) in pl.by_host().into_iter().enumerate() {
        if on.is_empty() {
            continue;
        }
        let on: Vec<&NeedSpec> = on.into_iter().map(|c| sr[c]).collect();
        let plan = solve(hr[hi], &State::new(&hr[hi].host), &on);
        assert!(
            plan.satisfied,
            "the solver refuses host {}'s set",
            hr[hi].host
        );
    }
    for p in pl.placements.iter().filter(|p| p.host.is_none()) {
        assert_eq!(p.reasons.iter().map(|r| r.hosts).sum::<usize>(), hosts);
    }
    assert_eq!(digest(&pl), pinned, "{hosts} x {containers}, seed {seed}");
}

#[test]
fn generated_fleet_small() {
    check(
        40,
        1_500,
        3,
        "dbb4bebfd20d1d96a821fec2d23acabc890bcbe4c166661987e0c26c6bb8f1f0",
    );
}

#[test]
fn generated_fleet_medium() {
    check(
        300,
        9_000,
        1,
        "e60d24ea221c7bd2b14f3a7c17427f78c9862e3401f1f66469f3382ce0aa6c8a",
    );
}

#[test]
fn generated_fleet_large() {
    check(
        1_000,
        30_000,
        2,
        "7378f8474ba4ba1fdf9369399d8c1b67ff8e34c691e2d87da3b0cfaea5218c46",
    );
}

/// An exact provide's `allow` refusal never changes while placing, so it is
/// decided once per class of containers and counted before a holder
/// (issue 14; before, each refusing host was tried, and counted under the
/// first need it rejected in file order: here `held`).
#[test]
fn allow_refusal_counts_before_a_holder() {
    use berth_engine::place::HostReason;
    use berth_specs::load::{load_str, LoadOptions};
    use berth_specs::Document;
    let host = |h: &str| {
        format!(
            "berth: 1\nhost: {h}\nprovides:\n  - device: gpu0\n    path: /dev/nvidia0\n  \
             - volume: audit\n    path: /srv/audit\n    allow: [\"auditor-*\"]\n"
        )
    };
    let spec = |c: &str, audit: bool| {
        let mut s = format!("berth: 1\ncontainer: {c}\nneeds:\n  - device: gpu0\n");
        if audit {
            s.push_str("  - volume: audit\n    mount: /audit\n    read_only: true\n");
        }
        s
    };
    let text = [
        host("h1"),
        host("h2"),
        host("h3"),
        spec("g1", false),
        spec("auditor-1", true),
        spec("c", true),
    ]
    .join("---\n");
    let loaded = load_str(
        std::path::Path::new("fleet.yaml"),
        &text,
        &LoadOptions::default(),
    );
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let (mut h, mut s) = (Vec::new(), Vec::new());
    for d in &loaded.documents {
        match d {
            Document::Host(m) => h.push(m),
            Document::Need(n) => s.push(n),
        }
    }
    let pl = place(&h, &s);
    assert_eq!(pl.placements[0].host, Some(0));
    assert_eq!(pl.placements[1].host, Some(1));
    let c = &pl.placements[2];
    assert_eq!(c.host, None);
    let name = |s: &str| s.to_string();
    let kind = |k: &str| berth_specs::Kind::from_key(k).expect("a kind");
    let denied = HostReason::Denied {
        kind: kind("volume"),
        name: name("audit"),
    };
    let counted: Vec<(HostReason, usize)> = c
        .reasons
        .iter()
        .map(|r| (r.reason.clone(), r.hosts))
        .collect();
    assert_eq!(counted, vec![(denied, 3)]);
}
