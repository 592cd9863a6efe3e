//! Laws of the solver on small random hosts and specs, checked against a
//! brute-force enumerator written to be read, not to be fast.
//!
//! The universe: one network `n`; IPv6 static addresses and pools (disjoint, as
//! the loader requires), volumes (read-only or not, with or without `allow`),
//! static ports (tcp/udp) and devices (shared or not), served by exact names or
//! patterns. Needs pick names from a small alphabet so that names collide.
//! Exclusive volume needs are left out: the solver treats them conservatively
//! (docs/solver.md), so exactness is not claimed for them.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use berth_engine::plan::Plan;
use berth_engine::solve::solve;
use berth_engine::state::State;
use berth_specs::{
    AddressSource, HostManifest, Kind, NamePattern, Need, NeedDetail, NeedSpec, PortSource,
    Protocol, Provide, ProvideDetail, Source, Span,
};
use ipnet::{IpNet, Ipv6Net};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

const NAMES: [&str; 3] = ["a", "b", "c"];
const PATTERNS: [&str; 3] = ["*", "a*", "[ab]"];
/// Disjoint pools, none containing a static address.
const POOLS: [&str; 3] = ["2001:db8::20/126", "2001:db8::24/127", "2001:db8::28/126"];
const STATICS: [&str; 4] = [
    "2001:db8::10",
    "2001:db8::11",
    "2001:db8::12",
    "2001:db8::13",
];
const PREFIXES: [&str; 3] = ["2001:db8::20/126", "2001:db8::10/126", "2001:db8::/120"];

fn source() -> Arc<Source> {
    Source::new("gen.yaml", "")
}

fn name_or_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => prop::sample::select(&NAMES[..]).prop_map(str::to_string),
        1 => prop::sample::select(&PATTERNS[..]).prop_map(str::to_string),
    ]
}

fn provide() -> impl Strategy<Value = Provide> {
    let allow = prop::option::weighted(
        0.2,
        prop::sample::select(vec!["c0", "c1", "c[01]"]).prop_map(|a| vec![a.to_string()]),
    );
    let detail = prop_oneof![
        1 => (any::<bool>()).prop_map(|ro| (Kind::Volume, ProvideDetail::Volume { path: "/srv/v".into(), read_only: ro, exclusive: false })),
        2 => prop::sample::select(&STATICS[..]).prop_map(|a| (Kind::Ipv6, ProvideDetail::Address {
            source: AddressSource::Static(a.parse().unwrap()),
            network: "n".into(),
        })),
        3 => prop::sample::select(&POOLS[..]).prop_map(|p| (Kind::Ipv6, ProvideDetail::Address {
            source: AddressSource::Pool(p.parse().unwrap()),
            network: "n".into(),
        })),
        1 => (prop::sample::select(vec![80u16, 81]), any::<bool>()).prop_map(|(p, udp)| (Kind::Port, ProvideDetail::Port {
            source: PortSource::Static(p),
            bind: None,
            protocol: if udp { Protocol::Udp } else { Protocol::Tcp },
        })),
        1 => any::<bool>().prop_map(|shared| (Kind::Device, ProvideDetail::Device { path: "/dev/x".into(), shared })),
    ];
    (name_or_pattern(), detail, allow).prop_map(|(name, (kind, detail), allow)| {
        // Pools serve patterns in practice; a pool under an exact name is legal too.
        Provide {
            kind,
            name: NamePattern::parse(&name).unwrap(),
            detail,
            allow,
            span: Span::default(),
        }
    })
}

/// A host from random provides, made loadable: one entry per (kind, name as
/// written), each static address and pool used once.
fn host_from(provides: Vec<Provide>) -> HostManifest {
    let mut seen = HashSet::new();
    let mut used_values = HashSet::new();
    let mut kept = vec![Provide {
        kind: Kind::Network,
        name: NamePattern::Exact("n".into()),
        detail: ProvideDetail::Network {
            bridge: None,
            subnet6: Some("2001:db8::/64".parse().unwrap()),
            gateway6: Some("2001:db8::1".parse().unwrap()),
            subnet4: None,
            gateway4: None,
        },
        allow: None,
        span: Span::default(),
    }];
    for (i, mut p) in provides.into_iter().enumerate() {
        let value = match &p.detail {
            ProvideDetail::Address { source, .. } => Some(format!("{source:?}")),
            ProvideDetail::Port {
                source, protocol, ..
            } => Some(format!("{source:?}{protocol}")),
            _ => None,
        };
        if !seen.insert((p.kind.clone(), p.name.as_str().to_string())) {
            continue;
        }
        if let Some(v) = value {
            if !used_values.insert(v) {
                continue;
            }
        }
        p.span = Span {
            offset: i,
            len: 1,
            line: i as u32 + 2,
            col: 1,
        };
        kept.push(p);
    }
    HostManifest {
        host: "h".into(),
        labels: BTreeMap::new(),
        state_dir: None,
        provides: kept,
        providers: vec![],
        source: source(),
        span: Span::default(),
    }
}

fn need() -> impl Strategy<Value = Need> {
    let name = prop::sample::select(&NAMES[..]).prop_map(str::to_string);
    let detail = prop_oneof![
        1 => any::<bool>().prop_map(|ro| NeedDetail::Volume { mount: "/v".into(), read_only: ro, exclusive: false }),
        4 => prop::option::weighted(0.4, prop::sample::select(&PREFIXES[..]))
            .prop_map(|p| NeedDetail::Ipv6 { prefix: p.map(|p| p.parse::<Ipv6Net>().unwrap()) }),
        1 => any::<bool>().prop_map(|udp| NeedDetail::Port {
            container_port: 80,
            protocol: if udp { Protocol::Udp } else { Protocol::Tcp },
        }),
        1 => Just(NeedDetail::Device { path: None }),
    ];
    (name, detail).prop_map(|(name, detail)| {
        let kind = match &detail {
            NeedDetail::Volume { .. } => Kind::Volume,
            NeedDetail::Ipv6 { .. } => Kind::Ipv6,
            NeedDetail::Port { .. } => Kind::Port,
            _ => Kind::Device,
        };
        Need {
            kind,
            name,
            detail,
            span: Span::default(),
        }
    })
}

fn specs_from(needs: Vec<Vec<Need>>) -> Vec<NeedSpec> {
    needs
        .into_iter()
        .enumerate()
        .map(|(i, ns)| {
            // One need per (kind, name) in a container, as the loader requires.
            let mut seen = HashSet::new();
            let needs = ns
                .into_iter()
                .filter(|n| seen.insert((n.kind.clone(), n.name.clone())))
                .collect();
            NeedSpec {
                container: format!("c{i}"),
                image: None,
                needs,
                placement: BTreeMap::new(),
                source: source(),
                span: Span::default(),
            }
        })
        .collect()
}

fn problem() -> impl Strategy<Value = (HostManifest, Vec<NeedSpec>)> {
    sized_problem(2..9, 0..3)
}

fn sized_problem(
    provides: std::ops::Range<usize>,
    needs: std::ops::Range<usize>,
) -> impl Strategy<Value = (HostManifest, Vec<NeedSpec>)> {
    (
        prop::collection::vec(provide(), provides),
        prop::collection::vec(prop::collection::vec(need(), needs), 1..4),
    )
        .prop_map(|(p, n)| (host_from(p), specs_from(n)))
}

// ---------------------------------------------------------------------------
// The brute-force enumerator
// ---------------------------------------------------------------------------

/// One concrete way to serve a need: which provide, and the value if the
/// provide hands out several (a pool address).
#[derive(Debug, Clone, PartialEq)]
struct Choice {
    provide: usize,
    address: Option<Ipv6Addr>,
}

fn allowed(p: &Provide, container: &str) -> bool {
    match &p.allow {
        None => true,
        Some(list) => list
            .iter()
            .any(|a| NamePattern::parse(a).unwrap().matches(container)),
    }
}

/// Every concrete choice the design's matching rules allow for `need`.
fn choices(host: &HostManifest, container: &str, need: &Need) -> Vec<Choice> {
    let same_kind: Vec<usize> = (0..host.provides.len())
        .filter(|&i| host.provides[i].kind == need.kind)
        .collect();
    let exact: Vec<usize> = same_kind
        .iter()
        .copied()
        .filter(|&i| host.provides[i].name.as_str() == need.name)
        .collect();
    let candidates = if !exact.is_empty() {
        exact
    } else {
        same_kind
            .into_iter()
            .filter(|&i| {
                !host.provides[i].name.is_exact() && host.provides[i].name.matches(&need.name)
            })
            .collect()
    };
    let mut out = Vec::new();
    for i in candidates {
        let p = &host.provides[i];
        if !allowed(p, container) {
            continue;
        }
        let whole = Choice {
            provide: i,
            address: None,
        };
        match (&need.detail, &p.detail) {
            (
                NeedDetail::Volume { read_only, .. },
                ProvideDetail::Volume {
                    read_only: p_ro, ..
                },
            ) if !*p_ro || *read_only => out.push(whole),
            (NeedDetail::Ipv6 { prefix }, ProvideDetail::Address { source, .. }) => {
                let addresses: Vec<Ipv6Addr> = match source {
                    AddressSource::Static(IpAddr::V6(a)) => vec![*a],
                    // Every address of the pool but its own network address.
                    AddressSource::Pool(IpNet::V6(net)) => {
                        let (lo, hi) = (u128::from(net.network()), u128::from(net.broadcast()));
                        (lo + 1..=hi).map(Ipv6Addr::from).collect()
                    }
                    _ => vec![],
                };
                out.extend(
                    addresses
                        .into_iter()
                        .filter(|a| prefix.is_none_or(|p| p.contains(a)))
                        .map(|a| Choice {
                            provide: i,
                            address: Some(a),
                        }),
                );
            }
            (NeedDetail::Port { protocol, .. }, ProvideDetail::Port { protocol: pp, .. })
                if protocol == pp =>
            {
                out.push(whole)
            }
            (NeedDetail::Device { .. }, ProvideDetail::Device { .. }) => out.push(whole),
            _ => {}
        }
    }
    out
}

/// The exclusive thing a choice takes, if any.
fn resource(host: &HostManifest, c: &Choice) -> Option<String> {
    if let Some(a) = c.address {
        return Some(format!("address {a}"));
    }
    host.provides[c.provide]
        .exclusive()
        .then(|| format!("provide {}", c.provide))
}

/// Finds an assignment satisfying every container, by plain backtracking.
fn brute_force(host: &HostManifest, specs: &[NeedSpec]) -> Option<Vec<Choice>> {
    let needs: Vec<(&NeedSpec, &Need)> = specs
        .iter()
        .flat_map(|s| s.needs.iter().map(move |n| (s, n)))
        .collect();
    // The name is the identity: two containers needing the same address or port
    // name need the same resource.
    let mut names = HashSet::new();
    for (s, n) in &needs {
        if matches!(n.kind, Kind::Ipv6 | Kind::Port)
            && !names.insert((n.kind.clone(), n.name.clone()))
        {
            let _ = s;
            return None;
        }
    }
    let options: Vec<Vec<Choice>> = needs
        .iter()
        .map(|(s, n)| choices(host, &s.container, n))
        .collect();
    fn go(
        host: &HostManifest,
        options: &[Vec<Choice>],
        taken: &mut Vec<String>,
        picked: &mut Vec<Choice>,
    ) -> bool {
        let k = picked.len();
        if k == options.len() {
            return true;
        }
        for c in &options[k] {
            let r = resource(host, c);
            if r.as_ref().is_some_and(|r| taken.contains(r)) {
                continue;
            }
            if let Some(r) = &r {
                taken.push(r.clone());
            }
            picked.push(c.clone());
            if go(host, options, taken, picked) {
                return true;
            }
            picked.pop();
            if r.is_some() {
                taken.pop();
            }
        }
        false
    }
    let mut picked = Vec::new();
    go(host, &options, &mut Vec::new(), &mut picked).then_some(picked)
}

/// Checks that a satisfied plan is a valid assignment: every binding is one of
/// its need's choices, no exclusive resource twice.
fn assert_valid(host: &HostManifest, specs: &[NeedSpec], plan: &Plan) {
    let mut taken = HashSet::new();
    for (spec, c) in specs.iter().zip(&plan.containers) {
        assert_eq!(spec.container, c.container);
        if !c.satisfied {
            continue;
        }
        for b in c.bindings.iter().filter(|b| b.need.is_some()) {
            let need = &spec.needs[b.need.unwrap()];
            let address = b
                .value
                .get("address")
                .map(|a| a.as_str().unwrap().parse::<Ipv6Addr>().unwrap());
            let provide = host
                .provides
                .iter()
                .position(|p| {
                    p.kind == need.kind
                        && p.name.as_str() == b.provide
                        && (address.is_none() || matches_value(p, address))
                })
                .expect("binding names a provide");
            let choice = Choice { provide, address };
            assert!(
                choices(host, &spec.container, need).contains(&choice),
                "{choice:?} not allowed for {need:?}"
            );
            if let Some(r) = resource(host, &choice) {
                assert!(taken.insert(r.clone()), "{r} given twice");
            }
        }
    }
}

fn matches_value(p: &Provide, address: Option<Ipv6Addr>) -> bool {
    match (&p.detail, address) {
        (
            ProvideDetail::Address {
                source: AddressSource::Static(s),
                ..
            },
            Some(a),
        ) => *s == IpAddr::V6(a),
        (
            ProvideDetail::Address {
                source: AddressSource::Pool(n),
                ..
            },
            Some(a),
        ) => n.contains(&IpAddr::V6(a)),
        _ => true,
    }
}

fn refs(s: &[NeedSpec]) -> Vec<&NeedSpec> {
    s.iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn satisfiable_exactly_when_brute_force_finds_an_assignment((host, specs) in problem()) {
        let plan = solve(&host, &State::new("h"), &refs(&specs));
        let brute = brute_force(&host, &specs);
        prop_assert_eq!(plan.satisfied, brute.is_some(), "brute force: {:?}\nplan: {:#?}", brute, plan.containers);
        assert_valid(&host, &specs, &plan);
    }

}

proptest! {
    // Most random problems are unsatisfiable; the law is about the others.
    #![proptest_config(ProptestConfig { cases: 1000, max_global_rejects: 50_000, ..ProptestConfig::default() })]

    #[test]
    fn adding_a_pattern_provide_never_breaks_a_satisfiable_plan(
        (host, specs) in sized_problem(4..12, 0..3),
        extra in provide(),
        pattern in prop::sample::select(&PATTERNS[..]),
        at in any::<prop::sample::Index>(),
    ) {
        let extra = Provide { name: NamePattern::parse(pattern).unwrap(), ..extra };
        let before = solve(&host, &State::new("h"), &refs(&specs));
        prop_assume!(before.satisfied);
        let mut bigger = host.provides.clone();
        bigger.insert(1 + at.index(bigger.len()), extra);
        let bigger = host_from(bigger.into_iter().skip(1).collect());
        // host_from drops an entry reusing a name or value; then it is no addition.
        prop_assume!(bigger.provides.len() == host.provides.len() + 1);
        let after = solve(&bigger, &State::new("h"), &refs(&specs));
        prop_assert!(after.satisfied, "{:#?}", after.containers);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_container_is_bound_whole_or_explained((host, specs) in problem()) {
        let plan = solve(&host, &State::new("h"), &refs(&specs));
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
        prop_assert_eq!(&plan, &solve(&host, &State::new("h"), &refs(&specs)));
    }

    #[test]
    fn spec_order_does_not_change_satisfiability((host, specs) in problem(), seed in any::<u64>()) {
        let plan = solve(&host, &State::new("h"), &refs(&specs));
        let mut shuffled = refs(&specs);
        // A seeded Fisher-Yates: deterministic for proptest's shrinking.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let again = solve(&host, &State::new("h"), &shuffled);
        prop_assert_eq!(plan.satisfied, again.satisfied);
    }
}

/// The generators must give both outcomes often, or the laws say little.
#[test]
fn generated_problems_are_mixed() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut sat = 0;
    for _ in 0..500 {
        let (host, specs) = problem().new_tree(&mut runner).unwrap().current();
        sat += usize::from(solve(&host, &State::new("h"), &refs(&specs)).satisfied);
    }
    assert!((100..400).contains(&sat), "{sat} of 500 satisfiable");
}
