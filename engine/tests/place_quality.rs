//! Placement laws on small random fleets, checked against an exhaustive search
//! written here to be easy to read (no indexes, no matching: it tries every
//! assignment).
//!
//! - every placement `place` returns is valid (each host's containers fit it
//!   together under the single-host rules, and the single-host solver agrees);
//! - each unplaced container's reason counts add up to the fleet size;
//! - the same input gives the same output;
//! - quality: how often `place` places fewer containers than the best
//!   assignment the exhaustive search finds (the greedy's miss rate, reported
//!   in docs/placement.md and bounded here).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use berth_engine::place::{place, Placement};
use berth_engine::solve::solve;
use berth_engine::state::State;
use berth_specs::{
    AddressSource, HostManifest, Kind, NamePattern, Need, NeedDetail, NeedSpec, PortSource,
    Protocol, Provide, ProvideDetail, ProviderDecl, Source, Span, DEFAULT_PROVIDER_TIMEOUT,
};
use proptest::prelude::*;

/// Small deterministic RNG: an instance is a function of its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

fn source() -> Arc<Source> {
    Source::new("gen.yaml", "")
}

fn provide(kind: Kind, name: &str, detail: ProvideDetail) -> Provide {
    Provide {
        kind,
        name: NamePattern::parse(name).unwrap(),
        detail,
        allow: None,
        span: Span::default(),
    }
}

fn addr(n: u16) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, n)
}

fn pool(first: u16, prefix: u8) -> ProvideDetail {
    ProvideDetail::Address {
        source: AddressSource::Pool(ipnet::IpNet::V6(
            ipnet::Ipv6Net::new(addr(first), prefix).unwrap(),
        )),
        network: "net".into(),
    }
}

fn gen_host(i: usize, r: &mut Rng) -> HostManifest {
    let mut provides = Vec::new();
    if r.chance(95) {
        provides.push(provide(
            Kind::Network,
            "net",
            ProvideDetail::Network {
                bridge: None,
                subnet6: Some("fd00::/64".parse().unwrap()),
                gateway6: Some(addr(1)),
                subnet4: None,
                gateway4: None,
            },
        ));
    }
    for (k, name) in ["a", "b"].iter().enumerate() {
        if r.chance(50) {
            provides.push(provide(
                Kind::Ipv6,
                name,
                ProvideDetail::Address {
                    source: AddressSource::Static(IpAddr::V6(addr(0x10 + k as u16))),
                    network: "net".into(),
                },
            ));
        }
    }
    if r.chance(40) {
        // A one-address pool for names starting with `w`, before the catch-all.
        provides.push(provide(Kind::Ipv6, "w*", pool(0x200, 127)));
    }
    if r.chance(80) {
        let prefix = if r.chance(50) { 127 } else { 126 };
        provides.push(provide(Kind::Ipv6, "*", pool(0x100, prefix)));
    }
    if r.chance(85) {
        provides.push(provide(
            Kind::Volume,
            "v1",
            ProvideDetail::Volume {
                path: "/srv/v1".into(),
                read_only: r.chance(20),
                exclusive: false,
            },
        ));
    }
    if r.chance(60) {
        let mut p = provide(
            Kind::Volume,
            "v2",
            ProvideDetail::Volume {
                path: "/srv/v2".into(),
                read_only: false,
                exclusive: r.chance(50),
            },
        );
        if r.chance(30) {
            p.allow = Some(vec!["w*".into()]);
        }
        provides.push(p);
    }
    if r.chance(40) {
        provides.push(provide(
            Kind::Device,
            "gpu",
            ProvideDetail::Device {
                path: "/dev/gpu".into(),
                shared: false,
            },
        ));
    }
    if r.chance(50) {
        let source = if r.chance(50) {
            PortSource::Static(80)
        } else {
            PortSource::Pool {
                first: 8000,
                last: 8000 + r.below(2) as u16,
            }
        };
        let name = if matches!(source, PortSource::Static(_)) {
            "http"
        } else {
            "*"
        };
        provides.push(provide(
            Kind::Port,
            name,
            ProvideDetail::Port {
                source,
                bind: None,
                protocol: Protocol::Tcp,
            },
        ));
    }
    let providers = if r.chance(30) {
        vec![ProviderDecl {
            kind: Kind::Volume,
            pattern: NamePattern::parse("nfs-*").unwrap(),
            run: vec!["nfs".into()],
            timeout: DEFAULT_PROVIDER_TIMEOUT,
            env: Vec::new(),
            span: Span::default(),
        }]
    } else {
        Vec::new()
    };
    let mut labels = BTreeMap::new();
    labels.insert(
        "zone".to_string(),
        if r.chance(50) { "a" } else { "b" }.to_string(),
    );
    HostManifest {
        host: format!("h{i}"),
        labels,
        state_dir: None,
        provides,
        providers,
        source: source(),
        span: Span::default(),
    }
}

fn need(kind: Kind, name: &str, detail: NeedDetail) -> Need {
    Need {
        kind,
        name: name.into(),
        detail,
        span: Span::default(),
    }
}

fn gen_spec(i: usize, r: &mut Rng) -> NeedSpec {
    let container = if r.chance(40) {
        format!("w{i}")
    } else {
        format!("c{i}")
    };
    let mut needs = Vec::new();
    match r.below(4) {
        0 => needs.push(need(
            Kind::Ipv6,
            &container,
            NeedDetail::Ipv6 { prefix: None },
        )),
        1 => needs.push(need(Kind::Ipv6, "a", NeedDetail::Ipv6 { prefix: None })),
        2 => needs.push(need(Kind::Ipv6, "b", NeedDetail::Ipv6 { prefix: None })),
        _ => {}
    }
    if r.chance(50) {
        needs.push(need(
            Kind::Volume,
            "v1",
            NeedDetail::Volume {
                mount: "/v1".into(),
                read_only: r.chance(50),
                exclusive: false,
            },
        ));
    }
    if r.chance(20) {
        needs.push(need(
            Kind::Volume,
            "v2",
            NeedDetail::Volume {
                mount: "/v2".into(),
                read_only: false,
                exclusive: r.chance(30),
            },
        ));
    }
    if r.chance(15) {
        needs.push(need(Kind::Device, "gpu", NeedDetail::Device { path: None }));
    }
    if r.chance(25) {
        let name = if r.chance(50) {
            "http".to_string()
        } else {
            format!("{container}-p")
        };
        needs.push(need(
            Kind::Port,
            &name,
            NeedDetail::Port {
                container_port: 80,
                protocol: Protocol::Tcp,
            },
        ));
    }
    if r.chance(15) {
        needs.push(need(
            Kind::Volume,
            "nfs-x",
            NeedDetail::Volume {
                mount: "/nfs".into(),
                read_only: false,
                exclusive: false,
            },
        ));
    }
    let mut placement = BTreeMap::new();
    if r.chance(20) {
        placement.insert("zone".to_string(), "a".to_string());
    }
    NeedSpec {
        container,
        image: None,
        needs,
        placement,
        source: source(),
        span: Span::default(),
    }
}

fn instance(seed: u64, max_hosts: u64, max_specs: u64) -> (Vec<HostManifest>, Vec<NeedSpec>) {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let hosts = (0..1 + r.below(max_hosts) as usize)
        .map(|i| gen_host(i, &mut r))
        .collect();
    let specs = (0..1 + r.below(max_specs) as usize)
        .map(|i| gen_spec(i, &mut r))
        .collect();
    (hosts, specs)
}

// ---------------------------------------------------------------------------
// The exhaustive search: the single-host rules, spelled out.
// ---------------------------------------------------------------------------

/// A place a need can be served from: a provide (by index) or a provider.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Choice {
    Provide(usize),
    Provider,
}

fn compatible(host: &HostManifest, p: &Provide, n: &Need, spec: &NeedSpec) -> bool {
    if let Some(allow) = &p.allow {
        if !allow
            .iter()
            .any(|a| glob::Pattern::new(a).unwrap().matches(&spec.container))
        {
            return false;
        }
    }
    if let (
        NeedDetail::Volume {
            read_only: false, ..
        },
        ProvideDetail::Volume {
            read_only: true, ..
        },
    ) = (&n.detail, &p.detail)
    {
        return false;
    }
    if let ProvideDetail::Address { network, .. } = &p.detail {
        let served = host
            .provides
            .iter()
            .any(|q| q.kind == Kind::Network && q.name.matches(network))
            || host
                .providers
                .iter()
                .any(|d| d.kind == Kind::Network && d.pattern.matches(network));
        if !served {
            return false;
        }
    }
    true
}

/// The choices for one need on one host; empty when it cannot be met.
fn choices(host: &HostManifest, n: &Need, spec: &NeedSpec) -> Vec<Choice> {
    let same_kind = |p: &&Provide| p.kind == n.kind;
    if let Some(i) = host
        .provides
        .iter()
        .position(|p| same_kind(&p) && p.name.is_exact() && p.name.as_str() == n.name)
    {
        return if compatible(host, &host.provides[i], n, spec) {
            vec![Choice::Provide(i)]
        } else {
            vec![]
        };
    }
    let matching: Vec<usize> = (0..host.provides.len())
        .filter(|&i| {
            let p = &host.provides[i];
            same_kind(&p) && !p.name.is_exact() && p.name.matches(&n.name)
        })
        .collect();
    if !matching.is_empty() {
        return matching
            .into_iter()
            .filter(|&i| compatible(host, &host.provides[i], n, spec))
            .map(Choice::Provide)
            .collect();
    }
    if host
        .providers
        .iter()
        .any(|d| d.kind == n.kind && d.pattern.matches(&n.name))
    {
        return vec![Choice::Provider];
    }
    vec![]
}

/// A pool hands out every value except its network address, the gateway and
/// the host's static values of the kind.
fn pool_capacity(host: &HostManifest, p: &Provide) -> usize {
    let is_static = |v: &dyn Fn(&ProvideDetail) -> bool| {
        host.provides
            .iter()
            .any(|q| q.kind == p.kind && v(&q.detail))
    };
    match &p.detail {
        ProvideDetail::Address {
            source: AddressSource::Pool(net),
            ..
        } => {
            let gateway = host.provides.iter().find_map(|q| match &q.detail {
                ProvideDetail::Network { gateway6, .. } => gateway6.map(IpAddr::V6),
                _ => None,
            });
            let all: Vec<IpAddr> = match net {
                ipnet::IpNet::V6(n) => {
                    let lo = u128::from(n.network());
                    let hi = u128::from(n.broadcast());
                    (lo..=hi).map(|v| IpAddr::V6(Ipv6Addr::from(v))).collect()
                }
                ipnet::IpNet::V4(_) => unreachable!("the generator makes IPv6 pools"),
            };
            all.into_iter()
                .filter(|a| *a != net.network() && Some(*a) != gateway)
                .filter(|a| {
                    !is_static(&|d| {
                        matches!(d, ProvideDetail::Address { source: AddressSource::Static(s), .. } if s == a)
                    })
                })
                .count()
        }
        ProvideDetail::Port {
            source: PortSource::Pool { first, last },
            ..
        } => (*first..=*last)
            .filter(|port| {
                !is_static(&|d| {
                    matches!(d, ProvideDetail::Port { source: PortSource::Static(s), .. } if s == port)
                })
            })
            .count(),
        _ => 1,
    }
}

/// Whether these containers fit on this host together: tries every
/// combination of choices.
fn host_fits(host: &HostManifest, specs: &[&NeedSpec]) -> bool {
    let mut needs: Vec<(&NeedSpec, &Need, Vec<Choice>)> = Vec::new();
    for s in specs {
        if s.placement
            .iter()
            .any(|(k, v)| host.labels.get(k) != Some(v))
        {
            return false;
        }
        for n in &s.needs {
            let c = choices(host, n, s);
            if c.is_empty() {
                return false;
            }
            needs.push((s, n, c));
        }
    }
    let mut pick = vec![0usize; needs.len()];
    loop {
        if valid(host, &needs, &pick) {
            return true;
        }
        // Next combination (odometer).
        let mut i = 0;
        loop {
            if i == needs.len() {
                return false;
            }
            pick[i] += 1;
            if pick[i] < needs[i].2.len() {
                break;
            }
            pick[i] = 0;
            i += 1;
        }
    }
}

fn valid(host: &HostManifest, needs: &[(&NeedSpec, &Need, Vec<Choice>)], pick: &[usize]) -> bool {
    // Users per resource name, and whether any use is exclusive.
    let mut users: BTreeMap<(String, String), (usize, bool)> = BTreeMap::new();
    let mut per_provide: BTreeMap<usize, usize> = BTreeMap::new();
    for ((_, n, c), &k) in needs.iter().zip(pick) {
        let wants = matches!(
            n.detail,
            NeedDetail::Volume {
                exclusive: true,
                ..
            }
        );
        let excl = match c[k] {
            Choice::Provide(i) => {
                let p = &host.provides[i];
                if p.exclusive() {
                    *per_provide.entry(i).or_default() += 1;
                }
                p.exclusive() || wants
            }
            Choice::Provider => n.kind.exclusive_by_default() || wants,
        };
        let u = users
            .entry((n.kind.to_string(), n.name.clone()))
            .or_default();
        u.0 += 1;
        u.1 |= excl;
    }
    users.values().all(|&(count, excl)| !excl || count == 1)
        && per_provide
            .iter()
            .all(|(&i, &used)| used <= pool_capacity(host, &host.provides[i]))
}

/// The most containers any assignment places.
fn best(hosts: &[HostManifest], specs: &[NeedSpec]) -> usize {
    let (h, m) = (hosts.len(), specs.len());
    let mut best = 0;
    let mut at = vec![0usize; m]; // 0 = unplaced, i = host i-1
    loop {
        let placed = at.iter().filter(|&&a| a > 0).count();
        if placed > best {
            let ok = (0..h).all(|hi| {
                let on: Vec<&NeedSpec> = (0..m)
                    .filter(|&c| at[c] == hi + 1)
                    .map(|c| &specs[c])
                    .collect();
                on.is_empty() || host_fits(&hosts[hi], &on)
            });
            if ok {
                best = placed;
            }
        }
        let mut i = 0;
        loop {
            if i == m {
                return best;
            }
            at[i] += 1;
            if at[i] <= h {
                break;
            }
            at[i] = 0;
            i += 1;
        }
    }
}

fn run(hosts: &[HostManifest], specs: &[NeedSpec]) -> Placement {
    let h: Vec<&HostManifest> = hosts.iter().collect();
    let s: Vec<&NeedSpec> = specs.iter().collect();
    place(&h, &s)
}

fn check_valid(hosts: &[HostManifest], specs: &[NeedSpec], p: &Placement) {
    for (hi, host) in hosts.iter().enumerate() {
        let on: Vec<&NeedSpec> = p.on_host(hi).into_iter().map(|c| &specs[c]).collect();
        if on.is_empty() {
            continue;
        }
        // The single-host solver agrees: the same rules, another implementation.
        let plan = solve(host, &State::new(&host.host), &on);
        assert!(
            plan.satisfied,
            "solver refuses {:?} on {}: {plan:?}",
            on.iter().map(|s| &s.container).collect::<Vec<_>>(),
            host.host
        );
        assert!(
            host_fits(host, &on),
            "host {} cannot take {:?}",
            host.host,
            on.iter().map(|s| &s.container).collect::<Vec<_>>()
        );
    }
    for c in &p.placements {
        if c.host.is_none() {
            let total: usize = c.reasons.iter().map(|r| r.hosts).sum();
            assert_eq!(total, hosts.len(), "reasons of {} cover every host", c.spec);
        } else {
            assert!(c.reasons.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn placements_are_valid_and_explained(seed in any::<u64>()) {
        let (hosts, specs) = instance(seed, 3, 6);
        let p = run(&hosts, &specs);
        check_valid(&hosts, &specs, &p);
        prop_assert_eq!(p.placed + p.unplaced, specs.len());
    }

    #[test]
    fn same_input_same_output(seed in any::<u64>()) {
        let (hosts, specs) = instance(seed, 4, 8);
        prop_assert_eq!(run(&hosts, &specs), run(&hosts, &specs));
    }

    #[test]
    fn single_host_is_exact_for_one_container(seed in any::<u64>()) {
        // One container: placement is exactly "some host fits it".
        let (hosts, mut specs) = instance(seed, 4, 1);
        specs.truncate(1);
        let p = run(&hosts, &specs);
        let fits = hosts.iter().any(|h| host_fits(h, &[&specs[0]]));
        prop_assert_eq!(p.placed == 1, fits);
    }
}

/// The measured quality of the heuristic over 4,000 seeded instances of up
/// to 3 hosts and 6 containers. Printed with `--nocapture`; the figures are
/// in docs/placement.md. Bound: the heuristic may miss, but rarely.
#[test]
fn quality_against_exhaustive_search() {
    let (mut instances, mut full, mut missed_full, mut short, mut lost) = (0, 0, 0, 0, 0);
    for seed in 0..4000u64 {
        let (hosts, specs) = instance(seed, 3, 6);
        let p = run(&hosts, &specs);
        check_valid(&hosts, &specs, &p);
        let b = best(&hosts, &specs);
        assert!(
            p.placed <= b,
            "seed {seed}: placed more than the exhaustive best"
        );
        instances += 1;
        if b == specs.len() {
            full += 1;
            if p.placed < b {
                missed_full += 1;
            }
        }
        if p.placed < b {
            short += 1;
            lost += b - p.placed;
        }
    }
    println!(
        "place quality: {instances} instances; {full} fully placeable, of which the greedy missed {missed_full} \
         ({:.2}%); placed fewer than the best in {short} ({:.2}%), {lost} containers in all",
        100.0 * missed_full as f64 / full as f64,
        100.0 * short as f64 / instances as f64,
    );
    // Measured: 0 of 885 and 13 of 4,000 (docs/placement.md); the bounds
    // leave room for generator changes, not for a regression in kind.
    assert!(
        missed_full * 100 <= full,
        "left containers unplaced in {missed_full} of {full} fully placeable instances"
    );
    assert!(
        short * 50 < instances,
        "fell short of the best in {short} of {instances} instances"
    );
}
