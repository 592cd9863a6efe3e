//! Pool allocation cost: a /64 with 10,000 holdings must hand out its next
//! address in well under a millisecond, because cost follows the holdings, not
//! the pool size. Run: `cargo bench -p berth-engine --bench pool`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;

use berth_engine::pool::{addr_to_u128, lowest_free, skipped_addresses, Span128};
use berth_engine::solve::solve;
use berth_engine::state::{resource_key, Reservation, State};
use berth_specs::{
    AddressSource, HostManifest, Kind, NamePattern, Need, NeedDetail, NeedSpec, Provide,
    ProvideDetail, Source, Span,
};
use criterion::{criterion_group, criterion_main, Criterion};
use ipnet::IpNet;

const HELD: u128 = 10_000;

fn pool() -> IpNet {
    "2001:db8:0:1::/64".parse().unwrap()
}

/// Addresses 1..=HELD of the pool are taken, in a scrambled order.
fn taken() -> Vec<u128> {
    let lo = Span128::of_net(&pool()).lo;
    let mut v: Vec<u128> = (1..=HELD).map(|i| lo + i).collect();
    let n = v.len();
    for i in 0..n {
        v.swap(i, (i * 7919) % n);
    }
    v
}

fn host() -> HostManifest {
    let p = |kind, name: &str, detail| Provide {
        kind,
        name: NamePattern::parse(name).unwrap(),
        detail,
        allow: None,
        span: Span::default(),
    };
    HostManifest {
        host: "h".into(),
        labels: BTreeMap::new(),
        state_dir: None,
        provides: vec![
            p(
                Kind::Network,
                "n",
                ProvideDetail::Network {
                    bridge: None,
                    subnet6: Some("2001:db8:0:1::/64".parse().unwrap()),
                    gateway6: Some("2001:db8:0:1::1".parse().unwrap()),
                    subnet4: None,
                    gateway4: None,
                },
            ),
            p(
                Kind::Ipv6,
                "*",
                ProvideDetail::Address {
                    source: AddressSource::Pool(pool()),
                    network: "n".into(),
                },
            ),
        ],
        providers: vec![],
        source: Source::new("host.yaml", ""),
        span: Span::default(),
    }
}

/// A state where 10,000 names hold reservations in the pool.
fn state() -> State {
    let mut st = State::new("h");
    let net = pool();
    for (i, v) in taken().into_iter().enumerate() {
        let name = format!("c{i}");
        let value = berth_engine::pool::u128_to_addr(v, &net).to_string();
        st.reservations.insert(
            resource_key(&Kind::Ipv6, &name),
            Reservation {
                kind: Kind::Ipv6,
                name: name.clone(),
                pool: net.to_string(),
                value,
                holder: Some(name),
                last_holder: None,
                last_digest: None,
            },
        );
    }
    st
}

fn bench(c: &mut Criterion) {
    let net = pool();
    let range = Span128::of_net(&net);
    let mut t = taken();
    t.extend(skipped_addresses(
        &net,
        None,
        Some("2001:db8:0:1::1".parse::<IpAddr>().unwrap()),
    ));
    c.bench_function("pool/lowest_free_slash64_10k_held", |b| {
        b.iter(|| lowest_free(black_box(range), black_box(t.iter().copied())))
    });
    let got = lowest_free(range, t.iter().copied()).unwrap();
    assert_eq!(got, addr_to_u128("2001:db8:0:1::2711".parse().unwrap()));

    let h = host();
    let st = state();
    let spec = NeedSpec {
        container: "new".into(),
        image: None,
        needs: vec![Need {
            kind: Kind::Ipv6,
            name: "new".into(),
            detail: NeedDetail::Ipv6 { prefix: None },
            span: Span::default(),
        }],
        placement: BTreeMap::new(),
        source: Arc::new(Source {
            path: "berth.yaml".into(),
            text: "".into(),
        }),
        span: Span::default(),
    };
    let plan = solve(&h, &st, &[&spec]);
    assert_eq!(
        plan.containers[0].bindings[0].value["address"],
        "2001:db8:0:1::2711"
    );
    c.bench_function("pool/solve_one_address_slash64_10k_reservations", |b| {
        b.iter(|| solve(black_box(&h), black_box(&st), &[&spec]))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
