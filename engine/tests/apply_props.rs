//! Laws of apply/release under random sequences of operations and random
//! provider failures (in-process provisioner, real state files):
//! - no exclusive value is ever held twice; reservations agree with holdings;
//! - every provider record's users hold a binding to it, and every provider
//!   binding has its record;
//! - a failed apply leaves the state exactly as before, except for records
//!   whose rollback release failed, which are added to `pending_releases`;
//! - a successful re-apply of the same spec changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use berth_engine::apply::{self, ApplyError, ProviderRequest, Provisioner};
use berth_engine::state::{BindingSource, State};
use berth_engine::store::{Scope, StateFile};
use berth_specs::{HostManifest, NeedSpec};
use berth_testkit::model;
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
#[error("refused")]
struct Refused;

/// Fails the calls whose sequence numbers are in `fail` (provide and release
/// counted together).
struct Flaky {
    calls: usize,
    fail: BTreeSet<usize>,
}

impl Flaky {
    fn tick(&mut self) -> Result<(), Refused> {
        self.calls += 1;
        if self.fail.contains(&self.calls) {
            Err(Refused)
        } else {
            Ok(())
        }
    }
}

impl Provisioner for Flaky {
    type Error = Refused;
    fn provide(&mut self, req: &ProviderRequest<'_>) -> Result<Value, Refused> {
        self.tick()?;
        Ok(json!({"path": format!("/mnt/{}", req.name)}))
    }
    fn release(&mut self, _: &ProviderRequest<'_>) -> Result<(), Refused> {
        self.tick()
    }
    fn check(&mut self, _: &ProviderRequest<'_>) -> Result<bool, Refused> {
        Ok(true)
    }
}

const HOST: &str = r#"host: h
provides:
  - network: n6
    subnet6: 2001:db8::/112
  - ipv6: "*"
    pool: 2001:db8::100/125
    network: n6
  - port: "*"
    pool: 8000-8003
  - volume: shared
    path: /srv/shared
providers:
  - volume: "nfs-*"
    run: [./nfs]
"#;

fn host() -> HostManifest {
    model::host(HOST)
}

/// Container `c{i}` needs its address, maybe a port, the shared volume, and
/// one or two provider volumes out of a small set (so records get shared).
fn spec(i: u8, variant: u8) -> NeedSpec {
    need(&spec_text(i, variant))
}

fn spec_text(i: u8, variant: u8) -> String {
    let mut t = format!("container: c{i}\nneeds:\n  - ipv6: c{i}\n");
    if variant & 1 == 1 {
        t.push_str(&format!("  - port: p{i}\n    container_port: 80\n"));
    }
    if variant & 2 == 2 {
        t.push_str("  - volume: shared\n    mount: /s\n");
    }
    t.push_str(&format!("  - volume: nfs-{}\n    mount: /a\n", variant % 3));
    if variant & 4 == 4 {
        t.push_str(&format!("  - volume: nfs-{}\n    mount: /b\n", 3 + i % 2));
    }
    t
}

fn need(text: &str) -> NeedSpec {
    model::specs(text).remove(0)
}

fn check_invariants(s: &State) {
    let mut exclusive: BTreeMap<String, &str> = BTreeMap::new();
    for (c, h) in &s.holdings {
        for b in &h.bindings {
            if b.exclusive {
                let v = b.value.to_string();
                if let Some(prev) = exclusive.insert(format!("{}:{v}", b.kind), c) {
                    panic!("{} {v} held by {prev} and {c}", b.kind);
                }
            }
            let key = format!("{}/{}", b.kind, b.name);
            match b.source {
                BindingSource::Provider => {
                    let rec = s
                        .provided
                        .get(&key)
                        .unwrap_or_else(|| panic!("{c}: no record {key}"));
                    assert!(rec.users.contains(c), "{c} missing from users of {key}");
                }
                BindingSource::Pool => {
                    let r = &s.reservations[&key];
                    assert_eq!(r.holder.as_deref(), Some(c.as_str()), "{key}");
                }
                BindingSource::Provides => {}
            }
        }
    }
    let mut values = BTreeSet::new();
    for (k, r) in &s.reservations {
        assert!(
            values.insert((r.kind.clone(), r.value.clone())),
            "{k}: value reserved twice"
        );
        if let Some(h) = &r.holder {
            let held = s.holdings[h]
                .bindings
                .iter()
                .any(|b| format!("{}/{}", b.kind, b.name) == *k);
            assert!(held, "{k} says held by {h}, who does not hold it");
        }
    }
    for (k, rec) in &s.provided {
        assert!(
            !rec.users.is_empty(),
            "{k} has no users but was not released"
        );
        for u in &rec.users {
            let uses = s.holdings.get(u).is_some_and(|h| {
                h.bindings.iter().any(|b| {
                    b.source == BindingSource::Provider && format!("{}/{}", b.kind, b.name) == *k
                })
            });
            assert!(uses, "{k} lists {u}, who does not use it");
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Apply {
        i: u8,
        variant: u8,
        fail: Vec<usize>,
    },
    Release {
        i: u8,
        purge: bool,
        fail: Vec<usize>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let fail = prop::collection::vec(1usize..5, 0..2);
    prop_oneof![
        3 => (0u8..5, 0u8..8, fail.clone()).prop_map(|(i, variant, fail)| Op::Apply { i, variant, fail }),
        1 => (0u8..5, any::<bool>(), fail).prop_map(|(i, purge, fail)| Op::Release { i, purge, fail }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn random_applies_and_releases_keep_the_state_consistent(ops in prop::collection::vec(op(), 1..14)) {
        let tmp = tempfile::tempdir().unwrap();
        let file = StateFile::new(tmp.path(), "h");
        let host = host();
        for op in ops {
            let before = file.load_readonly().unwrap();
            match op {
                Op::Apply { i, variant, fail } => {
                    let s = spec(i, variant);
                    let mut prov = Flaky { calls: 0, fail: fail.into_iter().collect() };
                    let mut locked = file.lock().unwrap();
                    // Variants of one container are changed specs of it: applied
                    // with --replace (issue 11), as an operator changing it would.
                    let replace = apply::ApplyOptions {
        replace: true,
        ..Default::default()
    };
                    let out = apply::apply_with(&host, &[&s], &mut locked, &mut prov, replace);
                    drop(locked);
                    let after = file.load_readonly().unwrap();
                    match out {
                        Ok(_) => {
                            // Applying the same spec again changes nothing.
                            let mut quiet = Flaky { calls: 0, fail: BTreeSet::new() };
                            let mut locked = file.lock().unwrap();
                            apply::apply(&host, &[&s], &mut locked, &mut quiet).unwrap();
                            drop(locked);
                            prop_assert_eq!(file.load_readonly().unwrap(), after.clone());
                            prop_assert_eq!(quiet.calls, 0);
                        }
                        Err(ApplyError::Provider { rolled_back, .. }) => {
                            let failed: Vec<String> = rolled_back
                                .iter()
                                .filter(|r| r.result.is_err())
                                .map(|r| r.name.clone())
                                .collect();
                            let mut expected = before.clone();
                            let added: Vec<String> = after.pending_releases[before.pending_releases.len()..]
                                .iter()
                                .map(|p| p.name.clone())
                                .collect();
                            prop_assert_eq!(&added, &failed);
                            expected.pending_releases = after.pending_releases.clone();
                            prop_assert_eq!(&after, &expected);
                        }
                        Err(ApplyError::Unsatisfied(_)) => prop_assert_eq!(&after, &before),
                        Err(e) => panic!("{e}"),
                    }
                    check_invariants(&after);
                }
                Op::Release { i, purge, fail } => {
                    let mut prov = Flaky { calls: 0, fail: fail.into_iter().collect() };
                    let mut locked = file.lock().unwrap();
                    let out = apply::release(&host, &[format!("c{i}")], purge, &mut locked, &mut prov).unwrap();
                    drop(locked);
                    let after = file.load_readonly().unwrap();
                    let name = format!("c{i}");
                    prop_assert!(!after.holdings.contains_key(&name));
                    let failures = out.provider_releases.iter().filter(|r| r.result.is_err()).count();
                    prop_assert_eq!(after.pending_releases.len(), failures);
                    check_invariants(&after);
                }
            }
        }
    }
}

/// [`HOST`] with a static address and a volume that needs may take
/// exclusively: holdings that are not a pool's, whose holders a slice must
/// still see.
fn host_with_statics() -> HostManifest {
    let text = format!(
        "{HOST}  - ipv6: fixed\n    address: 2001:db8::50\n    network: n6\n  - volume: solo\n    path: /srv/solo\n"
    );
    let text = text.replacen(
        "providers:\n  - volume: \"nfs-*\"\n    run: [./nfs]\n",
        "",
        1,
    ) + "providers:\n  - volume: \"nfs-*\"\n    run: [./nfs]\n";
    model::host(&text)
}

/// [`spec`], and with bit 8 the static address, with bit 16 the volume
/// `solo` taken exclusively.
fn spec_with_statics(i: u8, variant: u8) -> NeedSpec {
    let mut t = spec_text(i, variant & 7);
    if variant & 8 == 8 {
        t.push_str("  - ipv6: fixed\n");
    }
    if variant & 16 == 16 {
        t.push_str("  - volume: solo\n    mount: /x\n    exclusive: true\n");
    }
    need(&t)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// A command that reads only its slice of the store (`lock_for`, as
    /// `berth apply`, `berth release` and `berth-cni` do) decides and writes
    /// exactly what one that reads the whole state decides and writes: the
    /// same outcome, and the same whole state after every step, pools
    /// exhausted, static addresses and exclusive volumes held by others,
    /// provider records shared.
    #[test]
    fn slices_decide_and_write_what_the_whole_state_does(ops in prop::collection::vec(op_with_statics(), 1..16)) {
        let tmp = tempfile::tempdir().unwrap();
        let whole = StateFile::new(tmp.path().join("whole"), "h");
        let slice = StateFile::new(tmp.path().join("slice"), "h");
        let host = host_with_statics();
        for op in ops {
            match op {
                Op::Apply { i, variant, fail } => {
                    let s = spec_with_statics(i, variant);
                    let replace = apply::ApplyOptions {
        replace: true,
        ..Default::default()
    };
                    let mut outs = Vec::new();
                    for (file, scoped) in [(&whole, false), (&slice, true)] {
                        let mut prov = Flaky { calls: 0, fail: fail.iter().copied().collect() };
                        let mut locked = if scoped {
                            file.lock_for(&Scope::of_specs(&[&s])).unwrap()
                        } else {
                            file.lock().unwrap()
                        };
                        let out = apply::apply_with(&host, &[&s], &mut locked, &mut prov, replace);
                        outs.push(match out {
                            Ok(a) => format!("ok {:?}", a.plan.containers),
                            Err(ApplyError::Unsatisfied(p)) => format!("unmet {:?}", p.containers),
                            Err(e) => format!("error {e}"),
                        });
                    }
                    prop_assert_eq!(&outs[0], &outs[1]);
                }
                Op::Release { i, purge, fail } => {
                    let mut outs = Vec::new();
                    for (file, scoped) in [(&whole, false), (&slice, true)] {
                        let mut prov = Flaky { calls: 0, fail: fail.iter().copied().collect() };
                        let name = format!("c{i}");
                        let mut locked = if scoped {
                            file.lock_for(&Scope::of_containers(std::slice::from_ref(&name))).unwrap()
                        } else {
                            file.lock().unwrap()
                        };
                        let out = apply::release(&host, &[name], purge, &mut locked, &mut prov).unwrap();
                        outs.push(format!("{:?} {:?} {:?}", out.released, out.not_held, out.purged));
                    }
                    prop_assert_eq!(&outs[0], &outs[1]);
                }
            }
            let (w, s) = (whole.load_readonly().unwrap(), slice.load_readonly().unwrap());
            check_invariants(&s);
            prop_assert_eq!(w, s);
            // The runs a slice reads its pools' taken values from are the
            // runs the rows make, after every write, in both stores.
            for file in [&whole, &slice] {
                if file.path().exists() {
                    let (kept, made) = berth_engine::store::taken_runs_check(file.path()).unwrap();
                    prop_assert_eq!(kept, made);
                }
            }
        }
    }
}

fn op_with_statics() -> impl Strategy<Value = Op> {
    let fail = prop::collection::vec(1usize..5, 0..2);
    prop_oneof![
        3 => (0u8..6, 0u8..32, fail.clone()).prop_map(|(i, variant, fail)| Op::Apply { i, variant, fail }),
        1 => (0u8..6, any::<bool>(), fail).prop_map(|(i, purge, fail)| Op::Release { i, purge, fail }),
    ]
}
