//! The single-host solver at scale: 5,000 containers with 4 exclusive needs
//! each, against pools whose file order leads first-fit into thousands of dead
//! ends (the `"*"` pools come first and are exactly as large as what only they
//! can serve). The answer must be exact: every container satisfied.
//! Run: `cargo bench -p berth-engine --bench solver`.

use std::collections::BTreeMap;
use std::hint::black_box;

use berth_engine::solve::solve;
use berth_engine::state::State;
use berth_specs::{
    AddressSource, HostManifest, Kind, NamePattern, Need, NeedDetail, NeedSpec, PortSource,
    Protocol, Provide, ProvideDetail, Source, Span,
};
use criterion::{criterion_group, criterion_main, Criterion};

const CONTAINERS: usize = 5_000;
const PORTS_EACH: usize = 3;

fn provide(name: &str, kind: Kind, detail: ProvideDetail) -> Provide {
    Provide {
        kind,
        name: NamePattern::parse(name).unwrap(),
        detail,
        allow: None,
        span: Span::default(),
    }
}

fn port_pool(name: &str, first: u16, last: u16) -> Provide {
    provide(
        name,
        Kind::Port,
        ProvideDetail::Port {
            source: PortSource::Pool { first, last },
            bind: None,
            protocol: Protocol::Tcp,
        },
    )
}

fn addr_pool(name: &str, cidr: &str) -> Provide {
    provide(
        name,
        Kind::Ipv6,
        ProvideDetail::Address {
            source: AddressSource::Pool(cidr.parse().unwrap()),
            network: "n".into(),
        },
    )
}

/// Half the containers are named `a…` (they may use the `"*"` and the `"a*"`
/// pools), half `b…` (only `"*"`). The `a` containers come first in spec order,
/// so first-fit fills `"*"` with them and every `b` need dead-ends.
fn problem() -> (HostManifest, Vec<NeedSpec>) {
    let b_ports = (CONTAINERS / 2 * PORTS_EACH) as u16;
    let host = HostManifest {
        host: "h".into(),
        labels: BTreeMap::new(),
        state_dir: None,
        provides: vec![
            provide(
                "n",
                Kind::Network,
                ProvideDetail::Network {
                    bridge: None,
                    subnet6: Some("2001:db8::/64".parse().unwrap()),
                    gateway6: None,
                    subnet4: None,
                    gateway4: None,
                },
            ),
            // 4,095 usable addresses for 5,000 address needs that prefer it.
            addr_pool("*", "2001:db8::1:0/116"),
            addr_pool("a*", "2001:db8::2:0/116"),
            // Exactly as many ports as the `b` containers need.
            port_pool("*", 10_000, 10_000 + b_ports - 1),
            port_pool("a*", 20_000, 20_000 + b_ports - 1),
        ],
        providers: vec![],
        source: Source::new("host.yaml", ""),
        span: Span::default(),
    };
    let source = Source::new("berth.yaml", "");
    let specs = (0..CONTAINERS)
        .map(|i| {
            let p = if i < CONTAINERS / 2 { 'a' } else { 'b' };
            let mut needs = vec![Need {
                kind: Kind::Ipv6,
                name: format!("{p}{i}"),
                detail: NeedDetail::Ipv6 { prefix: None },
                span: Span::default(),
            }];
            for j in 0..PORTS_EACH {
                needs.push(Need {
                    kind: Kind::Port,
                    name: format!("{p}{i}-{j}"),
                    detail: NeedDetail::Port {
                        container_port: 80 + j as u16,
                        protocol: Protocol::Tcp,
                    },
                    span: Span::default(),
                });
            }
            NeedSpec {
                container: format!("{p}{i}"),
                image: None,
                needs,
                placement: BTreeMap::new(),
                source: source.clone(),
                span: Span::default(),
            }
        })
        .collect();
    (host, specs)
}

fn bench(c: &mut Criterion) {
    let (host, specs) = problem();
    let refs: Vec<&NeedSpec> = specs.iter().collect();
    let state = State::new("h");
    let plan = solve(&host, &state, &refs);
    assert!(
        plan.satisfied,
        "the exact solver must satisfy every container"
    );
    let mut g = c.benchmark_group("solver");
    g.sample_size(20);
    g.bench_function("5000_containers_x4_exclusive_first_fit_dead_ends", |b| {
        b.iter(|| solve(black_box(&host), black_box(&state), black_box(&refs)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
