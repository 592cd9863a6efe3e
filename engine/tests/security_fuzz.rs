//! The trust boundary under random hostile specs (issue 11): a fixed host with
//! network patterns, a network provider, `allow` lists on provides, pools and
//! a state where other containers hold and reserve names, against specs from
//! `berth-testkit`'s generator extended with hostile needs. Whatever the
//! specs ask, no plan ever binds an engine-reserved network, a provide whose
//! `allow` turns the container away, or another container's holding, and no
//! provider with `allow` makes anything for a container it does not admit.

use berth_engine::solve::solve;
use berth_engine::state::{BindingSource, State};
use berth_specs::{HostManifest, Kind, NeedSpec};
use berth_testkit::gen::{hostile_spec, Rng};
use berth_testkit::model::{applied, host, specs};
use berth_testkit::oracle::engine_reserved;
use proptest::prelude::*;

/// Patterns that would serve any network name, a provider that makes
/// `net-*` ones, an exact network with `allow`, pools, volumes with `allow`.
const HOST: &str = "host: h
provides:
  - network: n
    subnet6: fd00::/64
    gateway6: fd00::1
    allow: [\"c*\", o0, o1]
  - network: \"*\"
  - ipv6: \"*\"
    pool: fd00::100/120
    network: n
  - ipv6: \"o*\"
    pool: fd00::200/126
    network: n
  - port: \"*\"
    pool: 8000-8007
  - volume: v1
    path: /srv/v1
  - volume: v2
    path: /srv/v2
    allow: [c0, \"image:img-a\"]
  - volume: \"x*\"
    path: /srv/x
    exclusive: true
    allow: [c1, o0]
  - device: gpu
    path: /dev/gpu
providers:
  - network: \"net-*\"
    run: [/bin/true]
  - volume: \"nfs-*\"
    run: [/bin/true]
  - secret: \"s-*\"
    run: [/bin/true]
    allow: [c0]
";

/// Containers o0 and o1 applied (addresses, a port, the exclusive volume);
/// o1 then released, so its reservations stay with no holder.
fn state(h: &HostManifest) -> State {
    let others = specs(
        "container: o0\nneeds:\n  - ipv6: o0\n  - port: po0\n    container_port: 80\n  - volume: x0\n    mount: /x\n---\ncontainer: o1\nneeds:\n  - ipv6: o1\n  - port: po1\n    container_port: 80\n",
    );
    let refs: Vec<&NeedSpec> = others.iter().collect();
    let plan = solve(h, &State::new("h"), &refs);
    assert!(plan.satisfied, "{plan:#?}");
    let mut st = applied(&plan);
    st.holdings.remove("o1");
    for r in st.reservations.values_mut() {
        if r.holder.as_deref() == Some("o1") {
            r.holder = None;
            r.last_holder = Some("o1".into());
        }
    }
    st
}

/// Whether provide `name` of `kind` in `h` admits `spec` by its `allow`.
fn admitted(h: &HostManifest, kind: &Kind, provide: &str, spec: &NeedSpec) -> bool {
    let Some(p) = h
        .provides
        .iter()
        .find(|p| &p.kind == kind && p.name.as_str() == provide)
    else {
        return true;
    };
    p.allow.as_ref().is_none_or(|list| {
        list.iter().any(|a| match a.strip_prefix("image:") {
            Some(img) => spec
                .image
                .as_deref()
                .is_some_and(|i| glob::Pattern::new(img).is_ok_and(|g| g.matches(i))),
            None => glob::Pattern::new(a).is_ok_and(|g| g.matches(&spec.container)),
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_plan_crosses_the_trust_boundary(seed in any::<u64>(), n in 1usize..4) {
        let h = host(HOST);
        let st = state(&h);
        let mut r = Rng::new(seed);
        let names: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        let specs: Vec<NeedSpec> = names
            .iter()
            .map(|c| hostile_spec(c, &["o0", "o1"], 3, &mut r))
            .collect();
        let refs: Vec<&NeedSpec> = specs.iter().collect();
        let plan = solve(&h, &st, &refs);
        for (c, spec) in plan.containers.iter().zip(&specs) {
            if !c.satisfied {
                continue;
            }
            for b in &c.bindings {
                // 1. Never an engine-reserved network (the host names none
                //    exactly), never a step that makes one.
                prop_assert!(
                    !(b.kind == Kind::Network && engine_reserved(&b.name)),
                    "{} bound network {}", c.container, b.name
                );
                // 2. Never a provide whose `allow` turns the container away.
                if b.source != BindingSource::Provider {
                    prop_assert!(
                        admitted(&h, &b.kind, &b.provide, spec),
                        "{} bound {} {} through {} against its allow list",
                        c.container, b.kind, b.name, b.provide
                    );
                }
                // 3. Never another container's exclusive holding or its
                //    reserved name (o0 holds, o1 released but keeps them).
                for (holder, held) in &st.holdings {
                    for hb in &held.bindings {
                        let same_name = hb.kind == b.kind && hb.name == b.name;
                        let same_value = hb.kind == b.kind
                            && (hb.exclusive || b.exclusive)
                            && hb.value == *b.value.json();
                        prop_assert!(
                            !(same_value || (same_name && (hb.exclusive || b.exclusive))),
                            "{} took {} {} held by {holder}", c.container, b.kind, b.name
                        );
                    }
                }
                for res in st.reservations.values() {
                    if res.kind == b.kind && res.name == b.name {
                        prop_assert!(
                            res.last_holder.as_deref() == Some(c.container.as_str())
                                || res.holder.as_deref() == Some(c.container.as_str()),
                            "{} took {}'s reserved {}", c.container,
                            res.last_holder.clone().unwrap_or_default(), b.name
                        );
                    }
                }
            }
        }
        for step in &plan.steps {
            prop_assert!(!(step.kind == Kind::Network && engine_reserved(&step.name)));
            // 4. A provider with `allow` makes nothing for a container it
            //    does not admit (`s-*` admits c0 only).
            if step.kind == Kind::Secret {
                prop_assert!(step.users.iter().all(|u| u == "c0"), "{step:?}");
            }
        }
    }
}
