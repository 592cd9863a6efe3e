//! The random-problem generator: small fleets where the matching rules bite.
//!
//! One seed gives one [`Problem`] (a deterministic xorshift, so a failing case
//! is reproduced from the seed that proptest prints). The universe is small on
//! purpose, so that names collide and resources run out:
//!
//! - hosts: network `n` (sometimes with an `allow` list; else network
//!   patterns with or without `allow`, a network provider, or nothing), static addresses named `a` and `b`
//!   and one under the pattern `[ab]`, a one-address `w*` pool, a pool under
//!   the exact name `c0`, a `*` IPv6 pool (one of them holding the
//!   subnet's network address and the gateway), a `*` IPv4 /29 pool (network
//!   address, gateway and broadcast skipped), volumes `v1` (sometimes
//!   read-only) and `v2` (with `allow`), an `x*` volume pattern (sometimes
//!   exclusive), a static port `http` (tcp or udp), a two-port pool, a device
//!   `gpu` (sometimes shared) and a `g*` device pattern, an `nfs-*` volume
//!   provider, a `zone` label;
//! - specs: addresses by those names or their own, within a prefix or not,
//!   volumes read-only or not, exclusive volumes, ports, the device, NFS
//!   volumes, images matched by `allow: [image:...]`, a `placement` zone;
//! - states: containers `o0`, `o1` solved and recorded on the host (as apply
//!   would; sometimes the first is `c0`, which the problem places again), one
//!   of them sometimes released, so states hold static provides and keep pool
//!   reservations with and without a holder.
//!
//! Everything generated loads: pools are disjoint, no static address lies in a
//! pool, one need per (kind, name) in a spec, one provide per (kind, name).

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use berth_engine::solve::solve;
use berth_engine::state::State;
use berth_specs::{
    AddressSource, HostManifest, Kind, NamePattern, Need, NeedDetail, NeedSpec, PortSource,
    Protocol, Provide, ProvideDetail, ProviderDecl, Source, Span, DEFAULT_PROVIDER_TIMEOUT,
};

use crate::model::applied;

/// A small deterministic random source: a problem is a function of its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        // splitmix64 once, so that nearby seeds start far apart.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    /// One element of `items`.
    pub fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// How big a problem may get.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Hosts: 1 to this many.
    pub hosts: u64,
    /// Specs: 1 to this many.
    pub specs: u64,
    /// Needs per spec: 1 to this many.
    pub needs: u64,
    /// Chance (percent) that a host has state.
    pub state_pct: u64,
}

impl Size {
    /// One host, up to three specs of up to three needs: the solver's size.
    pub const HOST: Size = Size {
        hosts: 1,
        specs: 3,
        needs: 3,
        state_pct: 60,
    };
    /// Up to three hosts and five specs of up to two needs: placement's size.
    pub const FLEET: Size = Size {
        hosts: 3,
        specs: 5,
        needs: 2,
        state_pct: 60,
    };
}

/// A generated fleet with the hosts' states and the specs to place.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Host manifests, named `h0`, `h1`, ...
    pub hosts: Vec<HostManifest>,
    /// One state per host (often empty).
    pub states: Vec<State>,
    /// Need specs, named `c0`, `c1`, ...
    pub specs: Vec<NeedSpec>,
}

impl Problem {
    /// The specs as the engine's entry points take them.
    pub fn spec_refs(&self) -> Vec<&NeedSpec> {
        self.specs.iter().collect()
    }

    /// The hosts as the engine's entry points take them.
    pub fn host_refs(&self) -> Vec<&HostManifest> {
        self.hosts.iter().collect()
    }

    /// Whether some host has state.
    pub fn has_state(&self) -> bool {
        self.states
            .iter()
            .any(|s| !s.holdings.is_empty() || !s.reservations.is_empty())
    }

    /// Whether some need asks for an address within a prefix.
    pub fn has_prefix(&self) -> bool {
        self.specs.iter().flat_map(|s| &s.needs).any(|n| {
            matches!(
                n.detail,
                NeedDetail::Ipv6 { prefix: Some(_) } | NeedDetail::Ipv4 { prefix: Some(_) }
            )
        })
    }
}

/// The problem of `seed` at `size`.
pub fn problem(seed: u64, size: Size) -> Problem {
    let mut r = Rng::new(seed);
    let n_hosts = 1 + r.below(size.hosts) as usize;
    let hosts: Vec<HostManifest> = (0..n_hosts).map(|h| host(h, &mut r)).collect();
    let states = hosts
        .iter()
        .map(|h| {
            if r.chance(size.state_pct) {
                state(h, &mut r)
            } else {
                State::new(&h.host)
            }
        })
        .collect();
    let n_specs = 1 + r.below(size.specs) as usize;
    let specs = (0..n_specs)
        .map(|i| spec(&format!("c{i}"), size.needs, &mut r))
        .collect();
    Problem {
        hosts,
        states,
        specs,
    }
}

fn source() -> Arc<Source> {
    Source::new("gen.yaml", "")
}

fn provide(kind: Kind, name: &str, detail: ProvideDetail) -> Provide {
    Provide {
        kind,
        name: NamePattern::parse(name).expect("generated names are valid"),
        detail,
        allow: None,
        span: Span::default(),
    }
}

fn address(kind: Kind, name: &str, source: AddressSource) -> Provide {
    provide(
        kind,
        name,
        ProvideDetail::Address {
            source,
            network: "n".into(),
        },
    )
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("generated addresses are valid")
}

fn net(text: &str) -> AddressSource {
    AddressSource::Pool(text.parse().expect("generated pools are valid"))
}

/// Host `h{i}`.
pub fn host(i: usize, r: &mut Rng) -> HostManifest {
    let mut provides = Vec::new();
    let mut providers = Vec::new();
    if r.chance(80) {
        let mut n = provide(
            Kind::Network,
            "n",
            ProvideDetail::Network {
                bridge: None,
                subnet6: Some("fd00::/64".parse().unwrap()),
                gateway6: Some("fd00::1".parse().unwrap()),
                subnet4: Some("10.0.0.0/24".parse().unwrap()),
                gateway4: Some("10.0.0.1".parse().unwrap()),
            },
        );
        if r.chance(10) {
            n.allow = Some(vec!["c[01]".into(), "o*".into()]);
        }
        provides.push(n);
    } else {
        // No exact network: patterns (with `allow` or not), then a provider.
        for pattern in ["n*", "*"] {
            if r.chance(40) {
                let mut n = provide(
                    Kind::Network,
                    pattern,
                    ProvideDetail::Network {
                        bridge: None,
                        subnet6: None,
                        gateway6: None,
                        subnet4: None,
                        gateway4: None,
                    },
                );
                if r.chance(60) {
                    n.allow = Some(vec!["c0".into(), "o*".into()]);
                }
                provides.push(n);
            }
        }
        if r.chance(40) {
            providers.push(provider(Kind::Network, "*"));
        }
    }
    if r.chance(50) {
        provides.push(address(
            Kind::Ipv6,
            "a",
            AddressSource::Static(ip("fd00::10")),
        ));
    }
    if r.chance(40) {
        provides.push(address(
            Kind::Ipv6,
            "b",
            AddressSource::Static(ip("fd00::11")),
        ));
    }
    if r.chance(35) {
        provides.push(address(Kind::Ipv6, "w*", net("fd00::200/127")));
    }
    if r.chance(20) {
        // A pool under an exact name: that name's only candidate.
        provides.push(address(Kind::Ipv6, "c0", net("fd00::300/127")));
    }
    if r.chance(25) {
        // A static address under a pattern.
        provides.push(address(
            Kind::Ipv6,
            "[ab]",
            AddressSource::Static(ip("fd00::12")),
        ));
    }
    if r.chance(80) {
        let pool = *r.pick(&["fd00::100/126", "fd00::100/125", "fd00::/126"]);
        provides.push(address(Kind::Ipv6, "*", net(pool)));
    }
    if r.chance(55) {
        provides.push(address(Kind::Ipv4, "*", net("10.0.0.0/29")));
    }
    if r.chance(95) {
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
    if r.chance(65) {
        let mut p = provide(
            Kind::Volume,
            "v2",
            ProvideDetail::Volume {
                path: "/srv/v2".into(),
                read_only: false,
                exclusive: false,
            },
        );
        p.allow = Some(if r.chance(50) {
            vec!["c0".into(), "c2".into()]
        } else {
            vec!["image:img-a".into()]
        });
        provides.push(p);
    }
    if r.chance(65) {
        provides.push(provide(
            Kind::Volume,
            "x*",
            ProvideDetail::Volume {
                path: "/srv/x".into(),
                read_only: false,
                exclusive: r.chance(30),
            },
        ));
    }
    if r.chance(60) {
        provides.push(provide(
            Kind::Port,
            "http",
            ProvideDetail::Port {
                source: PortSource::Static(80),
                bind: None,
                protocol: if r.chance(30) {
                    Protocol::Udp
                } else {
                    Protocol::Tcp
                },
            },
        ));
    }
    if r.chance(60) {
        provides.push(provide(
            Kind::Port,
            "*",
            ProvideDetail::Port {
                source: PortSource::Pool {
                    first: 8000,
                    last: 8001,
                },
                bind: None,
                protocol: Protocol::Tcp,
            },
        ));
    }
    if r.chance(50) {
        provides.push(provide(
            Kind::Device,
            "gpu",
            ProvideDetail::Device {
                path: "/dev/gpu".into(),
                shared: r.chance(30),
            },
        ));
    }
    if r.chance(20) {
        provides.push(provide(
            Kind::Device,
            "g*",
            ProvideDetail::Device {
                path: "/dev/g".into(),
                shared: false,
            },
        ));
    }
    if r.chance(60) {
        providers.push(provider(Kind::Volume, "nfs-*"));
    }
    for (k, p) in provides.iter_mut().enumerate() {
        p.span = Span {
            offset: k,
            len: 1,
            line: k as u32 + 2,
            col: 1,
        };
    }
    let zone = if r.chance(50) { "a" } else { "b" };
    HostManifest {
        host: format!("h{i}"),
        labels: BTreeMap::from([("zone".to_string(), zone.to_string())]),
        state_dir: None,
        provides,
        providers,
        source: source(),
        span: Span::default(),
    }
}

fn provider(kind: Kind, pattern: &str) -> ProviderDecl {
    ProviderDecl {
        kind,
        pattern: NamePattern::parse(pattern).unwrap(),
        run: vec!["./make".into()],
        timeout: DEFAULT_PROVIDER_TIMEOUT,
        allow: None,
        env: Vec::new(),
        span: Span::default(),
    }
}

fn need(kind: Kind, name: &str, detail: NeedDetail) -> Need {
    Need {
        kind,
        name: name.to_string(),
        detail,
        span: Span::default(),
    }
}

/// Container `name` with 1 to `max_needs` needs.
pub fn spec(name: &str, max_needs: u64, r: &mut Rng) -> NeedSpec {
    let k = 1 + r.below(max_needs);
    let mut needs = Vec::new();
    let mut seen = HashSet::new();
    for _ in 0..k {
        let n = match r.below(15) {
            0..=3 => {
                let own_w = format!("w{name}");
                let names = ["a", "b", name, own_w.as_str()];
                let pick = *r.pick(&names);
                let prefix = r.chance(35).then(|| {
                    r.pick(&["fd00::100/127", "fd00::104/126", "fd00::/126", "fd00::/120"])
                        .parse()
                        .unwrap()
                });
                need(Kind::Ipv6, pick, NeedDetail::Ipv6 { prefix })
            }
            4 | 5 => {
                let prefix = r.chance(50).then(|| "10.0.0.4/30".parse().unwrap());
                need(Kind::Ipv4, name, NeedDetail::Ipv4 { prefix })
            }
            6 | 7 => need(
                Kind::Volume,
                "v1",
                NeedDetail::Volume {
                    mount: "/v1".into(),
                    read_only: r.chance(50),
                    exclusive: false,
                },
            ),
            8 => need(
                Kind::Volume,
                "v2",
                NeedDetail::Volume {
                    mount: "/v2".into(),
                    read_only: true,
                    exclusive: false,
                },
            ),
            9 | 10 => {
                let x = if r.chance(50) { "x0" } else { "x1" };
                need(
                    Kind::Volume,
                    x,
                    NeedDetail::Volume {
                        mount: "/x".into(),
                        read_only: false,
                        exclusive: r.chance(50),
                    },
                )
            }
            11 => {
                let nfs = if r.chance(50) { "nfs-0" } else { "nfs-1" };
                need(
                    Kind::Volume,
                    nfs,
                    NeedDetail::Volume {
                        mount: "/nfs".into(),
                        read_only: false,
                        exclusive: false,
                    },
                )
            }
            12 => need(
                Kind::Port,
                "http",
                NeedDetail::Port {
                    container_port: 80,
                    protocol: if r.chance(30) {
                        Protocol::Udp
                    } else {
                        Protocol::Tcp
                    },
                },
            ),
            13 => need(
                Kind::Port,
                &format!("p{name}"),
                NeedDetail::Port {
                    container_port: 8080,
                    protocol: Protocol::Tcp,
                },
            ),
            _ => need(Kind::Device, "gpu", NeedDetail::Device { path: None }),
        };
        if seen.insert((n.kind.clone(), n.name.clone())) {
            needs.push(n);
        }
    }
    NeedSpec {
        container: name.to_string(),
        image: Some(if r.chance(50) { "img-a" } else { "img-b" }.to_string()),
        needs,
        placement: if r.chance(20) {
            BTreeMap::from([("zone".to_string(), "a".to_string())])
        } else {
            BTreeMap::new()
        },
        source: source(),
        span: Span::default(),
    }
}

/// A state for `host`: containers `o0`, `o1` solved there and recorded as
/// apply records them; sometimes the first one recorded is then released
/// (its holding gone, its pool reservations kept without a holder).
pub fn state(host: &HostManifest, r: &mut Rng) -> State {
    // Sometimes the first one is `c0`, which the problem places again.
    let again = r.chance(20);
    let others: Vec<NeedSpec> = (0..1 + r.below(2))
        .map(|j| {
            let name = if j == 0 && again {
                "c0".to_string()
            } else {
                format!("o{j}")
            };
            spec(&name, 2, r)
        })
        .collect();
    let refs: Vec<&NeedSpec> = others.iter().collect();
    let plan = solve(host, &State::new(&host.host), &refs);
    let mut st = applied(&plan);
    if r.chance(50) {
        if let Some(gone) = st.holdings.keys().next().cloned() {
            st.holdings.remove(&gone);
            for res in st.reservations.values_mut() {
                if res.holder.as_deref() == Some(gone.as_str()) {
                    res.holder = None;
                    res.last_holder = Some(gone.clone());
                }
            }
        }
    }
    st
}

/// A pattern provide that [`host`] never makes (so adding it keeps the host
/// loadable): for the law "adding a pattern provide never makes a satisfiable
/// problem unsatisfiable".
pub fn extra_pattern(r: &mut Rng) -> Provide {
    match r.below(4) {
        0 => provide(
            Kind::Volume,
            "v*",
            ProvideDetail::Volume {
                path: "/srv/vstar".into(),
                read_only: r.chance(30),
                exclusive: false,
            },
        ),
        1 => address(Kind::Ipv6, "c*", AddressSource::Static(ip("fd00::13"))),
        2 => provide(
            Kind::Port,
            "h*",
            ProvideDetail::Port {
                source: PortSource::Static(81),
                bind: None,
                protocol: if r.chance(50) {
                    Protocol::Udp
                } else {
                    Protocol::Tcp
                },
            },
        ),
        _ => provide(
            Kind::Device,
            "gp*",
            ProvideDetail::Device {
                path: "/dev/gp".into(),
                shared: r.chance(50),
            },
        ),
    }
}

/// Names an attacker tries for a network: every engine-reserved name (in
/// several cases), ordinary names a `*` pattern or a `net-*` provider serves.
pub const HOSTILE_NETWORKS: [&str; 12] = [
    "host",
    "HOST",
    "none",
    "bridge",
    "default",
    "private",
    "slirp4netns",
    "pasta",
    "Host",
    "net-host",
    "n",
    "tenant",
];

/// A spec as [`spec`] makes it, plus hostile needs (issue 11): engine-reserved
/// network names, the names other containers (`others`) hold or reserve
/// (`ipv6: o0`, `port: po0`), volumes behind `allow` lists, `s-*` secrets
/// (for a provider with `allow`), and sometimes
/// the name of another container's holding under its own container name.
pub fn hostile_spec(name: &str, others: &[&str], max_needs: u64, r: &mut Rng) -> NeedSpec {
    let mut s = spec(name, max_needs, r);
    let mut seen: HashSet<(Kind, String)> = s
        .needs
        .iter()
        .map(|n| (n.kind.clone(), n.name.clone()))
        .collect();
    for _ in 0..1 + r.below(3) {
        let other = *r.pick(others);
        let net = *r.pick::<&str>(&HOSTILE_NETWORKS);
        let vol = *r.pick::<&str>(&["v2", "x0", "x1"]);
        let n = match r.below(6) {
            5 => need(
                Kind::Secret,
                if r.chance(50) { "s-key" } else { "s-other" },
                NeedDetail::Secret {
                    mount: "/run/s".into(),
                },
            ),
            0 | 1 => need(Kind::Network, net, NeedDetail::Network),
            2 => need(Kind::Ipv6, other, NeedDetail::Ipv6 { prefix: None }),
            3 => need(
                Kind::Port,
                &format!("p{other}"),
                NeedDetail::Port {
                    container_port: 8080,
                    protocol: Protocol::Tcp,
                },
            ),
            _ => need(
                Kind::Volume,
                vol,
                NeedDetail::Volume {
                    mount: "/h".into(),
                    read_only: true,
                    exclusive: false,
                },
            ),
        };
        if seen.insert((n.kind.clone(), n.name.clone())) {
            s.needs.push(n);
        }
    }
    s
}
