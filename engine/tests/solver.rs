//! The solver's worked examples: the seed scenario, the matching rules of the
//! design (exact names, patterns, pools, reservations, allow lists, implied
//! networks, providers) and the first-fit dead end that exact matching avoids.

use berth_testkit::model as solver_support;

use berth_engine::explain::{Holder, Reason};
use berth_engine::solve::solve;
use berth_engine::state::{BindingSource, ProvidedRecord, State};
use solver_support::{applied, bound, host, specs};

fn refs(v: &[berth_specs::NeedSpec]) -> Vec<&berth_specs::NeedSpec> {
    v.iter().collect()
}

fn codes(plan: &berth_engine::plan::Plan, container: &str) -> Vec<Vec<&'static str>> {
    plan.container(container)
        .unwrap()
        .unmet
        .iter()
        .map(|u| u.reasons.iter().map(Reason::code).collect())
        .collect()
}

#[test]
fn seed_example_binds_every_need_and_the_implied_network() {
    let (h, s) = solver_support::seed();
    let plan = solve(&h, &State::new("web-01"), &[&s]);
    assert!(plan.satisfied, "{plan:#?}");
    assert!(plan.steps.is_empty());
    assert_eq!(
        bound(&plan),
        vec![
            ("webserver".into(), "volume/webpages".into(), "/srv/webpages".into()),
            ("webserver".into(), "ipv6/webserver".into(), "1111:2222:3333:4444::8888:20".into()),
            ("webserver".into(), "port/http".into(), "80".into()),
            ("webserver".into(), "network/berth6".into(), r#"{"bridge":"docker0","gateway6":"1111:2222:3333:4444::8888:1","subnet6":"1111:2222:3333:4444::8888:0/112"}"#.into()),
        ]
    );
    let c = &plan.containers[0];
    assert_eq!(c.bindings[1].source, BindingSource::Provides);
    assert!(c.bindings[1].exclusive);
    assert_eq!(
        c.bindings[3].need, None,
        "the network is implied by the address"
    );
}

#[test]
fn first_fit_dead_end_on_two_one_address_pools_is_avoided() {
    // File order makes first-fit give `a` the first pool; `b` may only use the
    // first pool (its prefix excludes the second), so first-fit dead-ends. The
    // exact matcher moves `a` to the second pool.
    let h = host(
        "host: h
provides:
  - network: n
    subnet6: 2001:db8::/64
  - ipv6: \"*\"
    pool: 2001:db8::11/128
    network: n
  - ipv6: \"a*\"
    pool: 2001:db8::21/128
    network: n
",
    );
    let s = specs(
        "container: a
needs:
  - ipv6: a1
---
container: b
needs:
  - ipv6: b1
    prefix: 2001:db8::10/124
",
    );
    let plan = solve(&h, &State::new("h"), &refs(&s));
    assert!(plan.satisfied, "{:#?}", plan.containers);
    let got = bound(&plan);
    assert!(
        got.contains(&("a".into(), "ipv6/a1".into(), "2001:db8::21".into())),
        "{got:?}"
    );
    assert!(
        got.contains(&("b".into(), "ipv6/b1".into(), "2001:db8::11".into())),
        "{got:?}"
    );
}

#[test]
fn exact_name_is_the_only_candidate_even_when_a_pattern_would_do() {
    let h = host(
        "host: h
provides:
  - volume: data
    path: /srv/data
    read_only: true
  - volume: \"*\"
    path: /srv/any
",
    );
    let s = specs(
        "container: c
needs:
  - volume: data
    mount: /data
",
    );
    let plan = solve(&h, &State::new("h"), &refs(&s));
    assert!(!plan.satisfied);
    assert_eq!(codes(&plan, "c"), vec![vec!["read-only-conflict"]]);
}

#[test]
fn held_static_address_is_explained_with_its_holder() {
    let h = host(
        "host: h
provides:
  - network: n
  - ipv6: web
    address: 2001:db8::5
    network: n
",
    );
    let s = specs(
        "container: api\nneeds:\n  - ipv6: web\n---\ncontainer: web\nneeds:\n  - ipv6: web\n",
    );
    // `api` holds it on the host already.
    let first = solve(&h, &State::new("h"), &[&s[0]]);
    let st = applied(&first);
    let plan = solve(&h, &st, &[&s[1]]);
    let u = &plan.containers[0].unmet[0];
    assert!(matches!(
        &u.reasons[..],
        [Reason::HeldBy { holder: Holder { container, in_plan: false }, .. }] if container == "api"
    ));
    // Both in one plan: the first spec wins, the second is told who took it.
    let plan = solve(&h, &State::new("h"), &refs(&s));
    assert!(plan.containers[0].satisfied);
    assert!(matches!(
        &plan.containers[1].unmet[0].reasons[..],
        [Reason::HeldBy { holder: Holder { container, in_plan: true }, .. }] if container == "api"
    ));
}

#[test]
fn re_solving_an_applied_container_gives_the_same_bindings() {
    let h = host(
        "host: h
provides:
  - network: n
  - ipv6: \"*\"
    pool: 2001:db8::/120
    network: n
  - port: \"*\"
    pool: 8000-8001
",
    );
    let s = specs("container: a\nneeds:\n  - ipv6: a\n  - port: p\n    container_port: 80\n---\ncontainer: b\nneeds:\n  - ipv6: b\n");
    let plan = solve(&h, &State::new("h"), &refs(&s));
    assert!(plan.satisfied);
    let st = applied(&plan);
    let again = solve(&h, &st, &refs(&s));
    assert_eq!(bound(&plan), bound(&again));
    // Only `b`, re-solved alone: still its own address, not the lowest free.
    let b_alone = solve(&h, &st, &[&s[1]]);
    assert_eq!(bound(&b_alone), bound(&plan)[3..].to_vec());
    // A newcomer gets the next free address, never a reserved one.
    let c = specs("container: c\nneeds:\n  - ipv6: c\n");
    let plan_c = solve(&h, &st, &refs(&c));
    assert_eq!(bound(&plan_c)[0].2, "2001:db8::3");
}

#[test]
fn reservation_for_a_released_name_is_kept() {
    let h = host(
        "host: h
provides:
  - network: n
  - ipv6: \"*\"
    pool: 2001:db8::/126
    network: n
",
    );
    let s = specs("container: a\nneeds:\n  - ipv6: x\n---\ncontainer: b\nneeds:\n  - ipv6: y\n");
    let mut st = applied(&solve(&h, &State::new("h"), &refs(&s)));
    // `a` released: its reservation stays, without a holder.
    st.holdings.remove("a");
    st.reservations.get_mut("ipv6/x").unwrap().holder = None;
    let c = specs("container: c\nneeds:\n  - ipv6: z\n");
    let plan = solve(&h, &st, &refs(&c));
    // /126 = 4 addresses: ::0 network, ::1 x (reserved), ::2 y, ::3 free.
    assert_eq!(bound(&plan)[0].2, "2001:db8::3");
    let a_again = solve(&h, &st, &[&s[0]]);
    assert_eq!(bound(&a_again)[0].2, "2001:db8::1");
}

#[test]
fn pool_exhausted_and_not_allowed_are_reasons() {
    let h = host(
        "host: h
provides:
  - network: n
  - ipv6: \"*\"
    pool: 2001:db8::1/128
    network: n
  - volume: cache
    path: /srv/cache
    allow: [\"web-*\", \"image:example/*\"]
",
    );
    let s = specs(
        "container: a\nneeds:\n  - ipv6: a\n---\ncontainer: b\nimage: other/b:1\nneeds:\n  - ipv6: b\n  - volume: cache\n    mount: /c\n",
    );
    let plan = solve(&h, &State::new("h"), &refs(&s));
    assert!(plan.containers[0].satisfied);
    // An exact name has no fallback, so no provider is mentioned.
    assert_eq!(codes(&plan, "b"), vec![vec!["not-allowed"]]);
    let s2 =
        specs("container: a\nneeds:\n  - ipv6: a\n---\ncontainer: web-1\nneeds:\n  - ipv6: b\n");
    let plan = solve(&h, &State::new("h"), &refs(&s2));
    assert_eq!(
        codes(&plan, "web-1"),
        vec![vec!["pool-exhausted", "no-provider"]]
    );
    let st = applied(&solve(&h, &State::new("h"), &[&s2[0]]));
    let plan = solve(&h, &st, &[&s2[1]]);
    assert!(matches!(
        &plan.containers[0].unmet[0].reasons[..],
        [
            Reason::PoolExhausted { in_plan: false, .. },
            Reason::NoProvider { .. }
        ]
    ));
}

#[test]
fn missing_resource_lists_no_provider() {
    let h = host("host: h\nprovides: []\n");
    let s = specs("container: c\nneeds:\n  - volume: media\n    mount: /m\n");
    let plan = solve(&h, &State::new("h"), &refs(&s));
    assert_eq!(codes(&plan, "c"), vec![vec!["not-provided", "no-provider"]]);
    assert_eq!(plan.containers[0].unmet[0].span.line, 4);
}

#[test]
fn providers_fill_gaps_network_step_first() {
    let h = host(
        "host: h
provides:
  - volume: \"*\"
    path: /srv/shared
    allow: [nobody]
providers:
  - ipv6: \"*\"
    run: [make-addr]
  - network: \"*\"
    run: [make-net, --fast]
    timeout: 5s
  - volume: \"nfs-*\"
    run: [nfs]
",
    );
    let s = specs(
        "container: c\nneeds:\n  - ipv6: c\n  - network: appnet\n  - volume: nfs-x\n    mount: /x\n---\ncontainer: d\nneeds:\n  - volume: nfs-x\n    mount: /x\n",
    );
    let plan = solve(&h, &State::new("h"), &refs(&s));
    assert!(plan.satisfied, "{:#?}", plan.containers);
    let order: Vec<String> = plan
        .steps
        .iter()
        .map(|s| format!("{}/{}", s.kind, s.name))
        .collect();
    assert_eq!(order.len(), 3);
    let net = order.iter().position(|s| s == "network/appnet").unwrap();
    let addr = order.iter().position(|s| s == "ipv6/c").unwrap();
    assert!(net < addr, "{order:?}");
    let vol = &plan.steps[order.iter().position(|s| s == "volume/nfs-x").unwrap()];
    assert_eq!(vol.users, vec!["c".to_string(), "d".to_string()]);
    assert_eq!(plan.steps[net].provider, vec!["make-net", "--fast"]);
    for c in &plan.containers {
        for b in &c.bindings {
            assert!(b.pending());
            assert_eq!(plan.steps[b.step.unwrap()].name, b.name);
        }
    }
    // The volume pattern provide was considered and rejected, then the provider.
    // After apply, provider records bind without steps.
    let mut st = State::new("h");
    for (k, n, v) in [
        (
            "ipv6",
            "c",
            serde_json::json!({"address": "2001:db8::9", "network": "appnet"}),
        ),
        (
            "network",
            "appnet",
            serde_json::json!({"subnet6": "2001:db8::/64", "gateway6": "2001:db8::1"}),
        ),
        ("volume", "nfs-x", serde_json::json!({"path": "/mnt/nfs-x"})),
    ] {
        st.provided.insert(
            format!("{k}/{n}"),
            ProvidedRecord::new(
                berth_specs::Kind::from_key(k).unwrap(),
                n.into(),
                vec![],
                v,
                vec![],
            ),
        );
    }
    let again = solve(&h, &st, &refs(&s));
    assert!(again.satisfied && again.steps.is_empty(), "{again:#?}");
    let b = &again.containers[0].bindings[0];
    assert_eq!(
        (b.source, b.provide.as_str()),
        (BindingSource::Provider, "*")
    );
    assert_eq!(b.value["address"], "2001:db8::9");
}

#[test]
fn address_whose_network_cannot_be_met_is_unmet_with_the_network_reason() {
    let h = host(
        "host: h
provides:
  - network: n
    allow: [other]
  - ipv6: \"*\"
    pool: 2001:db8::/120
    network: n
",
    );
    let s = specs("container: c\nneeds:\n  - ipv6: c\n");
    let plan = solve(&h, &State::new("h"), &refs(&s));
    match &plan.containers[0].unmet[0].reasons[..] {
        [Reason::NetworkUnmet {
            network, reasons, ..
        }, Reason::NoProvider { .. }] => {
            assert_eq!(network, "n");
            assert_eq!(reasons[0].code(), "not-allowed");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn prefix_inside_a_pool_is_exact() {
    // The pool /124 has 15 usable addresses, 2 inside the /127 (::2, ::3... no:
    // ::0 is skipped, /127 at ::2 holds ::2 and ::3). Two needs want the /127,
    // twelve need any address: all fit only if the twelve avoid the /127.
    let h = host(
        "host: h
provides:
  - network: n
  - ipv6: \"*\"
    pool: 2001:db8::/124
    network: n
",
    );
    let mut text = String::new();
    for i in 0..13 {
        text.push_str(&format!(
            "container: any{i}\nneeds:\n  - ipv6: any{i}\n---\n"
        ));
    }
    text.push_str("container: p0\nneeds:\n  - ipv6: p0\n    prefix: 2001:db8::2/127\n---\n");
    text.push_str("container: p1\nneeds:\n  - ipv6: p1\n    prefix: 2001:db8::2/127\n");
    let s = specs(&text);
    let plan = solve(&h, &State::new("h"), &refs(&s));
    assert!(
        plan.satisfied,
        "{:#?}",
        plan.containers
            .iter()
            .filter(|c| !c.satisfied)
            .collect::<Vec<_>>()
    );
    let got = bound(&plan);
    let p: Vec<&str> = got
        .iter()
        .filter(|g| g.0.starts_with('p') && g.1.starts_with("ipv6"))
        .map(|g| g.2.as_str())
        .collect();
    assert_eq!(p, vec!["2001:db8::2", "2001:db8::3"]);
    let mut all: Vec<&str> = got
        .iter()
        .map(|g| g.2.as_str())
        .filter(|v| v.starts_with("2001"))
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 15, "no address twice");
}

#[test]
fn same_input_same_plan() {
    let h = host(
        "host: h
provides:
  - network: n
  - ipv6: \"*\"
    pool: 2001:db8::/120
    network: n
  - ipv6: \"x*\"
    pool: 2001:db8:1::/120
    network: n
",
    );
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!("container: x{i}\nneeds:\n  - ipv6: x{i}\n---\n"));
    }
    text.push_str("container: last\nneeds: []\n");
    let s = specs(&text);
    let a = solve(&h, &State::new("h"), &refs(&s));
    let b = solve(&h, &State::new("h"), &refs(&s));
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

#[test]
fn exclusive_volume_need_excludes_and_is_excluded() {
    let h = host("host: h\nprovides:\n  - volume: data\n    path: /srv/data\n");
    let s = specs(
        "container: owner\nneeds:\n  - volume: data\n    mount: /d\n    exclusive: true\n---\ncontainer: reader\nneeds:\n  - volume: data\n    mount: /d\n    read_only: true\n",
    );
    // In one plan the exclusive need takes the volume whole.
    let plan = solve(&h, &State::new("h"), &refs(&s));
    assert!(plan.containers[0].satisfied);
    assert_eq!(codes(&plan, "reader"), vec![vec!["held-by"]]);
    // Held exclusively in the state: a shared need is refused...
    let st = applied(&solve(&h, &State::new("h"), &[&s[0]]));
    assert_eq!(
        codes(&solve(&h, &st, &[&s[1]]), "reader"),
        vec![vec!["held-by"]]
    );
    // ...and held shared, an exclusive need waits for the holder to leave.
    let st = applied(&solve(&h, &State::new("h"), &[&s[1]]));
    assert_eq!(
        codes(&solve(&h, &st, &[&s[0]]), "owner"),
        vec![vec!["held-by"]]
    );
    // Shared needs share.
    let two = specs("container: r1\nneeds:\n  - volume: data\n    mount: /d\n---\ncontainer: r2\nneeds:\n  - volume: data\n    mount: /d\n");
    assert!(solve(&h, &State::new("h"), &refs(&two)).satisfied);
}

#[test]
fn prefix_protocol_and_stale_reservation_reasons() {
    let h = host(
        "host: h
provides:
  - network: n
  - ipv6: \"*\"
    pool: 2001:db8::100/120
    network: n
  - ipv6: fixed
    address: 2001:db8::5
    network: n
  - port: dns
    host_port: 53
",
    );
    let s = specs(
        "container: c
needs:
  - ipv6: x
    prefix: 2001:db8:1::/64
  - ipv6: fixed
    prefix: 2001:db8:1::/64
  - port: dns
    container_port: 53/udp
",
    );
    let plan = solve(&h, &State::new("h"), &refs(&s));
    let u = &plan.containers[0].unmet;
    assert!(
        matches!(&u[0].reasons[0], Reason::OutsidePrefix { offered, .. } if offered == "2001:db8::100/120")
    );
    assert!(
        matches!(&u[1].reasons[0], Reason::OutsidePrefix { offered, .. } if offered == "2001:db8::5")
    );
    assert!(matches!(
        &u[2].reasons[0],
        Reason::ProtocolMismatch {
            wanted: berth_specs::Protocol::Udp,
            offered: berth_specs::Protocol::Tcp,
            ..
        }
    ));

    // A reservation from a pool the manifest no longer has.
    let mut st = State::new("h");
    st.reservations.insert(
        "ipv6/y".into(),
        berth_engine::state::Reservation {
            kind: berth_specs::Kind::Ipv6,
            name: "y".into(),
            pool: "2001:db8:9::/120".into(),
            value: "2001:db8:9::1".into(),
            holder: None,
            last_holder: None,
            last_digest: None,
        },
    );
    let s = specs("container: d\nneeds:\n  - ipv6: y\n");
    let plan = solve(&h, &st, &refs(&s));
    assert_eq!(codes(&plan, "d"), vec![vec!["reservation-stale"]]);
}
