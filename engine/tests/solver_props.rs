//! Laws of the solver on small random problems from `berth-testkit`'s
//! generator, checked against its brute-force oracle (written to be read, not
//! to be fast): one generator and one oracle for the solver and placement
//! (`solver_oracle.rs`, `place_quality.rs`).
//!
//! The universe (see `berth_testkit::gen`): network `n`, static addresses by
//! name and by pattern, IPv6 and IPv4 pools that skip their first address, the
//! gateway and (IPv4) the broadcast, prefixes inside and around pools, volumes
//! read-only or with `allow`, exclusive volumes, static and pooled ports of
//! both protocols, shared and exclusive devices, providers, and states that
//! hold and reserve values.

use berth_engine::plan::Plan;
use berth_engine::solve::solve;
use berth_engine::state::{BindingSource, State};
use berth_specs::{HostManifest, NeedSpec};
use berth_testkit::gen::{extra_pattern, problem, Problem, Rng, Size};
use berth_testkit::oracle::{assignment, check_picks};
use proptest::prelude::*;

/// Checks that a plan's bindings are a valid assignment under the oracle's
/// rules: each one of its need's choices, nothing exclusive given twice.
fn assert_valid(host: &HostManifest, state: &State, specs: &[&NeedSpec], plan: &Plan) {
    let mut picks = Vec::new();
    for (s, (spec, c)) in specs.iter().zip(&plan.containers).enumerate() {
        assert_eq!(spec.container, c.container);
        if !c.satisfied {
            continue;
        }
        for b in c.bindings.iter().filter(|b| b.need.is_some()) {
            let n = b.need.unwrap();
            let need = &spec.needs[n];
            let provide = match b.source {
                BindingSource::Provider => None,
                _ => Some(
                    host.provides
                        .iter()
                        .position(|p| p.kind == need.kind && p.name.as_str() == b.provide)
                        .expect("binding names a provide"),
                ),
            };
            let value = b
                .value
                .get("address")
                .and_then(|a| a.as_str().map(str::to_string))
                .or_else(|| b.value.get("host_port").map(|p| p.to_string()));
            // Only values the oracle enumerates: addresses and ports.
            let value = value.filter(|_| {
                matches!(
                    need.kind,
                    berth_specs::Kind::Ipv4 | berth_specs::Kind::Ipv6 | berth_specs::Kind::Port
                ) && provide.is_some()
            });
            picks.push((s, n, provide, value));
        }
    }
    if let Err(e) = check_picks(host, state, specs, &picks) {
        panic!("{e}\nplan: {:#?}", plan.containers);
    }
}

fn host_problem(seed: u64) -> Problem {
    problem(seed, Size::HOST)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn satisfiable_exactly_when_brute_force_finds_an_assignment(seed in any::<u64>()) {
        let p = host_problem(seed);
        let (host, state, specs) = (&p.hosts[0], &p.states[0], p.spec_refs());
        let plan = solve(host, state, &specs);
        let brute = assignment(host, state, &specs);
        prop_assert_eq!(plan.satisfied, brute.is_some(), "brute force: {:?}\nplan: {:#?}", brute, plan.containers);
        assert_valid(host, state, &specs, &plan);
    }

}

proptest! {
    // Most random problems are unsatisfiable; the law is about the others.
    #![proptest_config(ProptestConfig { cases: 1000, max_global_rejects: 50_000, ..ProptestConfig::default() })]

    #[test]
    fn adding_a_pattern_provide_never_breaks_a_satisfiable_plan(seed in any::<u64>(), at in any::<prop::sample::Index>()) {
        let p = host_problem(seed);
        let (host, state, specs) = (&p.hosts[0], &p.states[0], p.spec_refs());
        let before = solve(host, state, &specs);
        prop_assume!(before.satisfied);
        let mut bigger = host.clone();
        let extra = extra_pattern(&mut Rng::new(seed ^ 0x5eed));
        bigger.provides.insert(at.index(bigger.provides.len() + 1), extra);
        let after = solve(&bigger, state, &specs);
        prop_assert!(after.satisfied, "{:#?}", after.containers);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_container_is_bound_whole_or_explained(seed in any::<u64>()) {
        let p = host_problem(seed);
        let (host, state, specs) = (&p.hosts[0], &p.states[0], p.spec_refs());
        let plan = solve(host, state, &specs);
        for (spec, c) in specs.iter().zip(&plan.containers) {
            if c.satisfied {
                prop_assert!(c.unmet.is_empty());
                let bound: Vec<usize> = c.bindings.iter().filter_map(|b| b.need).collect();
                prop_assert_eq!(bound, (0..spec.needs.len()).collect::<Vec<_>>());
            } else {
                prop_assert!(c.bindings.is_empty());
                prop_assert!(!c.unmet.is_empty());
                prop_assert!(c.unmet.iter().all(|u| !u.reasons.is_empty()), "{:#?}", c.unmet);
            }
        }
        prop_assert_eq!(plan.satisfied, plan.containers.iter().all(|c| c.satisfied));
        // Same input, same plan.
        prop_assert_eq!(&plan, &solve(host, state, &specs));
    }

    #[test]
    fn spec_order_does_not_change_satisfiability(seed in any::<u64>(), shuffle in any::<u64>()) {
        let p = host_problem(seed);
        let (host, state, specs) = (&p.hosts[0], &p.states[0], p.spec_refs());
        let plan = solve(host, state, &specs);
        let mut shuffled = specs.clone();
        // A seeded Fisher-Yates: deterministic for proptest's shrinking.
        let mut x = shuffle | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let again = solve(host, state, &shuffled);
        prop_assert_eq!(plan.satisfied, again.satisfied);
    }
}

/// The generators must give both outcomes often, or the laws say little.
#[test]
fn generated_problems_are_mixed() {
    let mut sat = 0;
    for seed in 0..500 {
        let p = host_problem(seed);
        sat += usize::from(solve(&p.hosts[0], &p.states[0], &p.spec_refs()).satisfied);
    }
    assert!((100..400).contains(&sat), "{sat} of 500 satisfiable");
}
