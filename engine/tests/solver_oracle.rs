//! The solver and fleet placement against one brute-force oracle, on problems
//! from one generator (`berth-testkit`): prefixes inside pools, pools that hold
//! a gateway or a broadcast address, exclusive volumes, reservations and
//! holdings in the state, `allow` lists, patterns, providers and labels.
//!
//! - `solve` satisfies every container exactly when the oracle finds an
//!   assignment serving them all;
//! - every container `place` puts on host H is satisfied by `solve` on H's state
//!   together with the others placed there, and the oracle agrees;
//! - every container `place` leaves out is refused, by the oracle, by every
//!   host as the placement left it (so a lone container is placed exactly when
//!   some host fits it).

use berth_engine::place::place_with_state;
use berth_engine::solve::solve;
use berth_specs::NeedSpec;
use berth_testkit::gen::{problem, Problem, Size};
use berth_testkit::oracle::{fits, labels_ok};
use proptest::prelude::*;

fn check_solve(p: &Problem) -> Result<(), TestCaseError> {
    let (host, state) = (&p.hosts[0], &p.states[0]);
    let specs = p.spec_refs();
    let plan = solve(host, state, &specs);
    let oracle = fits(host, state, &specs);
    prop_assert_eq!(
        plan.satisfied,
        oracle,
        "oracle says {}; plan: {:#?}\nproblem: {:#?}",
        oracle,
        plan.containers,
        p
    );
    Ok(())
}

fn check_place(p: &Problem) -> Result<(), TestCaseError> {
    let (hosts, specs) = (p.host_refs(), p.spec_refs());
    let placement = place_with_state(&hosts, &p.states, &specs);
    let by_host = placement.by_host();
    for (h, on) in by_host.iter().enumerate() {
        let set: Vec<&NeedSpec> = on.iter().map(|&c| specs[c]).collect();
        for s in &set {
            prop_assert!(
                labels_ok(hosts[h], s),
                "{} on h{h} lacks a label",
                s.container
            );
        }
        let plan = solve(hosts[h], &p.states[h], &set);
        prop_assert!(
            plan.satisfied,
            "plan refuses what place put on h{h}: {:#?}\nproblem: {:#?}",
            plan.containers,
            p
        );
        prop_assert!(
            fits(hosts[h], &p.states[h], &set),
            "oracle refuses what place put on h{h}\nproblem: {:#?}",
            p
        );
    }
    for c in placement.placements.iter().filter(|c| c.host.is_none()) {
        let total: usize = c.reasons.iter().map(|r| r.hosts).sum();
        prop_assert_eq!(total, hosts.len());
        for (h, on) in by_host.iter().enumerate() {
            let mut set: Vec<&NeedSpec> = on.iter().map(|&x| specs[x]).collect();
            set.push(specs[c.spec]);
            let fits_here =
                labels_ok(hosts[h], specs[c.spec]) && fits(hosts[h], &p.states[h], &set);
            prop_assert!(
                !fits_here,
                "{} unplaced but fits h{h}\nproblem: {:#?}",
                specs[c.spec].container,
                p
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn solve_agrees_with_the_oracle(seed in any::<u64>()) {
        check_solve(&problem(seed, Size::HOST))?;
    }

    #[test]
    fn place_agrees_with_the_oracle_and_plan(seed in any::<u64>()) {
        check_place(&problem(seed, Size::FLEET))?;
    }
}

/// The generator must give both outcomes often, prefixes and states, or the
/// laws above say little.
#[test]
fn generated_problems_are_mixed() {
    let (mut sat, mut prefix, mut state, n) = (0, 0, 0, 2000);
    for seed in 0..n {
        let p = problem(seed, Size::HOST);
        sat += usize::from(fits(&p.hosts[0], &p.states[0], &p.spec_refs()));
        prefix += usize::from(p.has_prefix());
        state += usize::from(p.has_state());
    }
    println!("{sat} of {n} satisfiable, {prefix} with a prefix, {state} with state");
    assert!(
        (n / 5..n * 4 / 5).contains(&(sat as u64)),
        "{sat} of {n} satisfiable"
    );
    assert!(prefix as u64 > n / 5, "{prefix} with a prefix");
    assert!(state as u64 > n / 5, "{state} with state");
}

/// Issue 9's IPv4 case through the kit: the oracle and the solver agree that
/// three of four containers fit a /30 prefix of a /29 pool.
#[test]
fn issue_9_ipv4_prefix_case() {
    use berth_engine::state::State;
    use berth_testkit::model::{host, specs};
    let h = host(
        "host: h1\nprovides:\n  - network: mynet\n    subnet4: 192.168.1.0/29\n    gateway4: 192.168.1.1\n  - ipv4: \"*\"\n    pool: 192.168.1.0/29\n    network: mynet\n",
    );
    let s = specs(
        &(0..4)
            .map(|i| {
                format!("container: r{i}\nneeds:\n  - ipv4: r{i}\n    prefix: 192.168.1.4/30\n")
            })
            .collect::<Vec<_>>()
            .join("---\n"),
    );
    let refs: Vec<&NeedSpec> = s.iter().collect();
    let st = State::new("h1");
    assert!(fits(&h, &st, &refs[..3]));
    assert!(!fits(&h, &st, &refs));
    let hosts = [&h];
    let placement = place_with_state(&hosts, &[], &refs);
    assert_eq!(placement.placed, 3);
}
