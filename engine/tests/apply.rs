//! Apply and release orchestration against an in-process provisioner that logs
//! every call and fails on demand: gaps only, idempotence, all-or-nothing
//! rollback, write-ahead intents, `check`, shared provider resources, purge.
//! The real process runner is tested in `providers/tests` and end to end in
//! `tests/apply.rs`.

use std::collections::BTreeSet;
use std::path::Path;

use berth_engine::apply::{self, ApplyError, ProviderRequest, Provisioner, StepCause, StepOp};
use berth_engine::state::State;
use berth_engine::store::{self, StateFile};
use berth_specs::load::{load_str, LoadOptions};
use berth_specs::{Document, HostManifest, NeedSpec};
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
#[error("fake provider refused {0}")]
struct Refused(String);

/// Logs `op kind/name container`; fails the ops listed in `fail`; says gone
/// for the names in `gone`; can snapshot the state file at each provide.
#[derive(Default)]
struct Fake {
    log: Vec<String>,
    fail: BTreeSet<String>,
    gone: BTreeSet<String>,
    /// Fail the n-th provide call (1-based).
    fail_provide_nr: Option<usize>,
    provides: usize,
    state_file: Option<berth_engine::store::StateFile>,
    seen_states: Vec<State>,
    /// What `provide` returns per name, instead of the default.
    results: std::collections::BTreeMap<String, Value>,
    /// `name` and `provided` of each release request.
    released: Vec<(String, Option<Value>)>,
    /// `op name` and the need's options of each request that had a need.
    needs: Vec<(String, String)>,
}

impl Fake {
    fn entry(&mut self, op: &str, req: &ProviderRequest<'_>) -> Result<(), Refused> {
        if let Some(n) = req.need {
            self.needs
                .push((format!("{op} {}", req.name), format!("{n:?}")));
        }
        let line = format!("{op} {}/{} {}", req.kind, req.name, req.container);
        self.log.push(line.clone());
        let key = format!("{op} {}", req.name);
        if self.fail.contains(&key) {
            return Err(Refused(key));
        }
        Ok(())
    }
}

impl Provisioner for Fake {
    type Error = Refused;
    fn provide(&mut self, req: &ProviderRequest<'_>) -> Result<Value, Refused> {
        if let Some(p) = &self.state_file {
            // What another process would read while the provider runs.
            self.seen_states.push(p.load_readonly().unwrap());
        }
        self.entry("provide", req)?;
        self.provides += 1;
        if self.fail_provide_nr == Some(self.provides) {
            return Err(Refused(format!("provide {}", req.name)));
        }
        if let Some(v) = self.results.get(req.name) {
            return Ok(v.clone());
        }
        Ok(match req.kind.as_str() {
            "volume" => json!({"path": format!("/mnt/{}", req.name)}),
            _ => json!({}),
        })
    }
    fn release(&mut self, req: &ProviderRequest<'_>) -> Result<(), Refused> {
        self.released
            .push((req.name.to_string(), req.provided.cloned()));
        self.entry("release", req)
    }
    fn check(&mut self, req: &ProviderRequest<'_>) -> Result<bool, Refused> {
        self.entry("check", req)?;
        Ok(!self.gone.contains(req.name))
    }
}

const HOST: &str = r#"
berth: 1
host: web-01
provides:
  - network: net6
    subnet6: 2001:db8::/112
    gateway6: 2001:db8::100
  - ipv6: "*"
    pool: 2001:db8::100/125
    network: net6
  - volume: static
    path: /srv/static
providers:
  - volume: "nfs-*"
    run: [./nfs, --server, nas]
    timeout: 5s
"#;

/// Loads a one-document text that must be valid.
fn load_one(name: &str, text: &str) -> Document {
    let loaded = load_str(Path::new(name), text, &LoadOptions::default());
    assert!(
        loaded.diagnostics.iter().all(|d| !d.is_error()),
        "{:?}",
        loaded.diagnostics
    );
    loaded.documents.into_iter().next().expect("one document")
}

fn host() -> HostManifest {
    host_from(HOST)
}

fn host_from(text: &str) -> HostManifest {
    match load_one("host.yaml", text) {
        Document::Host(h) => h,
        other => panic!("{other:?}"),
    }
}

fn spec(container: &str, needs: &str) -> NeedSpec {
    let text = format!("berth: 1\ncontainer: {container}\nneeds:\n{needs}");
    match load_one("berth.yaml", &text) {
        Document::Need(n) => n,
        other => panic!("{other:?}"),
    }
}

fn vol(name: &str, mount: &str) -> String {
    format!("  - volume: {name}\n    mount: {mount}\n")
}

/// Container `app` needing the provider volumes `nfs-a` and `nfs-b`: two
/// provider steps, in that order.
fn two_volume_app() -> NeedSpec {
    spec(
        "app",
        &format!("{}{}", vol("nfs-a", "/a"), vol("nfs-b", "/b")),
    )
}

struct Env {
    _tmp: tempfile::TempDir,
    file: StateFile,
    host: HostManifest,
}

impl Env {
    fn new() -> Env {
        Env::with_host(host())
    }

    fn with_host(host: HostManifest) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let file = StateFile::new(tmp.path().join("state"), &host.host);
        Env {
            _tmp: tmp,
            file,
            host,
        }
    }

    fn apply(
        &self,
        specs: &[&NeedSpec],
        fake: &mut Fake,
    ) -> Result<apply::Applied<Refused>, ApplyError<Refused>> {
        let mut locked = self.file.lock().unwrap();
        apply::apply(&self.host, specs, &mut locked, fake)
    }

    /// `apply --replace`.
    fn apply_replace(
        &self,
        specs: &[&NeedSpec],
        fake: &mut Fake,
    ) -> Result<apply::Applied<Refused>, ApplyError<Refused>> {
        let mut locked = self.file.lock().unwrap();
        let opts = apply::ApplyOptions {
            replace: true,
            ..Default::default()
        };
        apply::apply_with(&self.host, specs, &mut locked, fake, opts)
    }

    fn release(
        &self,
        containers: &[&str],
        purge: bool,
        fake: &mut Fake,
    ) -> apply::Released<Refused> {
        let mut locked = self.file.lock().unwrap();
        let names: Vec<String> = containers.iter().map(|s| s.to_string()).collect();
        apply::release(&self.host, &names, purge, &mut locked, fake).unwrap()
    }

    fn state(&self) -> State {
        self.file.load_readonly().unwrap()
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(self.file.path()).unwrap()
    }
}

#[test]
fn apply_provides_only_the_gap_and_reapply_provides_nothing() {
    let env = Env::new();
    let app = spec(
        "app",
        &format!(
            "{}{}  - ipv6: app\n",
            vol("static", "/s"),
            vol("nfs-a", "/a")
        ),
    );
    let mut fake = Fake::default();
    let first = env.apply(&[&app], &mut fake).unwrap();
    assert_eq!(fake.log, ["provide volume/nfs-a app"]);
    assert_eq!(first.provided, ["volume/nfs-a"]);
    let state = env.state();
    let rec = &state.provided["volume/nfs-a"];
    assert_eq!(rec.users, ["app"]);
    assert_eq!(rec.provided, json!({"path": "/mnt/nfs-a"}));
    assert_eq!(rec.run, ["./nfs", "--server", "nas"]);
    // The pool's first address is the network's gateway: never handed out.
    assert_eq!(state.reservations["ipv6/app"].value, "2001:db8::101");
    assert_eq!(
        state.reservations["ipv6/app"].holder.as_deref(),
        Some("app")
    );
    assert!(state.pending_releases.is_empty());
    let bytes = env.bytes();

    let mut again = Fake::default();
    let second = env.apply(&[&app], &mut again).unwrap();
    assert_eq!(
        again.log,
        ["check volume/nfs-a app"],
        "re-apply must only check"
    );
    assert!(second.provided.is_empty());
    assert_eq!(second.plan, first.plan);
    assert_eq!(env.bytes(), bytes, "an idempotent apply rewrote the state");
}

/// The name in a `provide kind/name container` log line.
fn logged_name(line: &str) -> String {
    line.split(' ')
        .nth(1)
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn a_failing_second_step_releases_the_first_and_restores_the_state() {
    let env = Env::new();
    let other = spec("other", "  - ipv6: other\n");
    env.apply(&[&other], &mut Fake::default()).unwrap();
    let before = env.bytes();

    let app = two_volume_app();
    let mut fake = Fake {
        fail_provide_nr: Some(2),
        ..Fake::default()
    };
    let err = env.apply(&[&app], &mut fake).unwrap_err();
    assert_eq!(fake.log.len(), 4, "{:?}", fake.log);
    let (first, second) = (logged_name(&fake.log[0]), logged_name(&fake.log[1]));
    // The failed provide may have made something: released first, with
    // `provided: null`, then what the first step made.
    assert_eq!(
        fake.log,
        [
            format!("provide volume/{first} app"),
            format!("provide volume/{second} app"),
            format!("release volume/{second} app"),
            format!("release volume/{first} app")
        ]
    );
    assert_eq!(fake.released[0], (second.clone(), Some(Value::Null)));
    assert_eq!(
        fake.released[1],
        (
            first.clone(),
            Some(json!({"path": format!("/mnt/{first}")}))
        )
    );
    let ApplyError::Provider {
        failed,
        rolled_back,
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (failed.op, failed.name.as_str()),
        (StepOp::Provide, second.as_str())
    );
    assert!(
        matches!(&failed.cause, StepCause::Provider(Refused(k)) if *k == format!("provide {second}"))
    );
    assert_eq!(rolled_back.len(), 2);
    assert_eq!(
        (rolled_back[0].name.as_str(), rolled_back[1].name.as_str()),
        (second.as_str(), first.as_str())
    );
    assert!(rolled_back.iter().all(|r| r.result.is_ok()));
    assert_eq!(env.bytes(), before, "state not restored byte for byte");
}

#[test]
fn a_failed_rollback_release_is_kept_pending_and_retried_by_release() {
    let env = Env::new();
    let app = two_volume_app();
    let mut fake = Fake {
        fail_provide_nr: Some(2),
        fail: ["release nfs-a".to_string(), "release nfs-b".to_string()].into(),
        ..Fake::default()
    };
    let err = env.apply(&[&app], &mut fake).unwrap_err();
    let (first, second) = (logged_name(&fake.log[0]), logged_name(&fake.log[1]));
    let ApplyError::Provider { rolled_back, .. } = err else {
        panic!()
    };
    assert!(rolled_back.iter().all(|r| r.result.is_err()));
    let state = env.state();
    assert!(state.holdings.is_empty() && state.provided.is_empty());
    let pending: Vec<(&str, &Value)> = state
        .pending_releases
        .iter()
        .map(|p| (p.name.as_str(), &p.provided))
        .collect();
    let made = json!({"path": format!("/mnt/{first}")});
    assert_eq!(
        pending,
        [(second.as_str(), &Value::Null), (first.as_str(), &made)]
    );

    // Any later release retries them; success clears them.
    let mut fake = Fake::default();
    let out = env.release(&["nobody"], false, &mut fake);
    assert_eq!(out.not_held, ["nobody"]);
    assert_eq!(
        fake.log,
        [
            format!("release volume/{second} app"),
            format!("release volume/{first} app")
        ]
    );
    assert!(env.state().pending_releases.is_empty());
}

#[test]
fn each_step_is_preceded_by_a_write_ahead_intent() {
    let env = Env::new();
    let app = two_volume_app();
    let mut fake = Fake {
        state_file: Some(env.file.clone()),
        ..Fake::default()
    };
    env.apply(&[&app], &mut fake).unwrap();
    let pending: Vec<Vec<String>> = fake
        .seen_states
        .iter()
        .map(|s| s.pending_releases.iter().map(|p| p.name.clone()).collect())
        .collect();
    let order: Vec<String> = fake.log.iter().map(|l| logged_name(l)).collect();
    assert_eq!(pending, [vec![order[0].clone()], order.clone()]);
    // Holdings appear only in the final write.
    assert!(fake.seen_states.iter().all(|s| s.holdings.is_empty()));
    let fin = env.state();
    assert!(fin.pending_releases.is_empty());
    assert_eq!(fin.provided.len(), 2);
}

#[test]
fn a_resource_check_reports_gone_is_provided_again_keeping_its_users() {
    let env = Env::new();
    let a = spec("a", &vol("nfs-shared", "/x"));
    let b = spec("b", &vol("nfs-shared", "/y"));
    env.apply(&[&a], &mut Fake::default()).unwrap();
    let mut fake = Fake::default();
    env.apply(&[&b], &mut fake).unwrap();
    assert_eq!(
        fake.log,
        ["check volume/nfs-shared b"],
        "b reuses a's resource, checked first"
    );
    assert_eq!(env.state().provided["volume/nfs-shared"].users, ["a", "b"]);

    let mut fake = remade_when_checked();
    env.apply(&[&a], &mut fake).unwrap();
    assert_eq!(
        fake.log,
        ["check volume/nfs-shared a", "provide volume/nfs-shared a"]
    );
    let state = env.state();
    assert_eq!(state.provided["volume/nfs-shared"].users, ["a", "b"]);
    assert_eq!(
        state.provided["volume/nfs-shared"].provided,
        json!({"path": "/mnt/remade"})
    );
    // Every holder holds the new value, not only the one re-applied.
    for holder in ["a", "b"] {
        let v = &state.holdings[holder].bindings[0].value;
        assert_eq!(v["path"], "/mnt/remade", "{holder}: {v}");
    }
}

/// A provisioner for which `nfs-shared` is gone and comes back at `/mnt/remade`.
fn remade_when_checked() -> Fake {
    let mut fake = Fake {
        gone: ["nfs-shared".to_string()].into(),
        ..Fake::default()
    };
    fake.results
        .insert("nfs-shared".into(), json!({"path": "/mnt/remade"}));
    fake
}

#[test]
fn a_first_apply_reusing_a_gone_shared_record_provides_it_again_for_all_holders() {
    let env = Env::new();
    let a = spec("a", &vol("nfs-shared", "/x"));
    let b = spec("b", &vol("nfs-shared", "/y"));
    env.apply(&[&a], &mut Fake::default()).unwrap();
    let mut fake = remade_when_checked();
    env.apply(&[&b], &mut fake).unwrap();
    assert_eq!(
        fake.log,
        ["check volume/nfs-shared b", "provide volume/nfs-shared b"]
    );
    let state = env.state();
    assert_eq!(state.provided["volume/nfs-shared"].users, ["a", "b"]);
    for holder in ["a", "b"] {
        let v = &state.holdings[holder].bindings[0].value;
        assert_eq!(v["path"], "/mnt/remade", "{holder}: {v}");
    }
}

#[test]
fn release_runs_the_provider_once_the_last_user_is_gone() {
    let env = Env::new();
    let a = spec("a", &vol("nfs-shared", "/x"));
    let b = spec("b", &vol("nfs-shared", "/y"));
    env.apply(&[&a, &b], &mut Fake::default()).unwrap();
    let mut fake = Fake::default();
    let out = env.release(&["a"], false, &mut fake);
    assert_eq!(out.released, ["a"]);
    assert!(fake.log.is_empty());
    let out = env.release(&["b"], false, &mut fake);
    assert_eq!(fake.log, ["release volume/nfs-shared b"]);
    assert!(!out.any_failed());
    let s = env.state();
    assert!(s.holdings.is_empty() && s.provided.is_empty() && s.pending_releases.is_empty());
    // Idempotent: releasing again does nothing.
    let out = env.release(&["b"], false, &mut fake);
    assert_eq!(out.not_held, ["b"]);
    assert_eq!(fake.log.len(), 1);
}

#[test]
fn a_failing_release_is_reported_and_retried_next_time() {
    let env = Env::new();
    let a = spec("a", &vol("nfs-a", "/x"));
    env.apply(&[&a], &mut Fake::default()).unwrap();
    let mut fake = Fake {
        fail: ["release nfs-a".to_string()].into(),
        ..Fake::default()
    };
    let out = env.release(&["a"], false, &mut fake);
    assert!(out.any_failed());
    let s = env.state();
    assert!(s.holdings.is_empty());
    assert_eq!(s.pending_releases.len(), 1);
    let mut fake = Fake::default();
    let out = env.release(&["a"], false, &mut fake);
    assert_eq!(fake.log, ["release volume/nfs-a a"]);
    assert!(!out.any_failed());
    assert!(env.state().pending_releases.is_empty());
}

#[test]
fn reservations_outlive_release_until_purged() {
    let env = Env::new();
    let a = spec("a", "  - ipv6: a\n");
    let b = spec("b", "  - ipv6: b\n");
    env.apply(&[&a], &mut Fake::default()).unwrap();
    env.release(&["a"], false, &mut Fake::default());
    let r = &env.state().reservations["ipv6/a"];
    assert_eq!(
        (r.value.as_str(), r.holder.as_deref()),
        ("2001:db8::101", None)
    );
    // b does not get a's address while it is reserved.
    env.apply(&[&b], &mut Fake::default()).unwrap();
    assert_eq!(env.state().reservations["ipv6/b"].value, "2001:db8::102");
    // a comes back to its own address.
    env.apply(&[&a], &mut Fake::default()).unwrap();
    assert_eq!(env.state().reservations["ipv6/a"].value, "2001:db8::101");
    // A purge (also after a plain release) frees it for others.
    env.release(&["a"], false, &mut Fake::default());
    let out = env.release(&["a"], true, &mut Fake::default());
    assert_eq!(out.purged, ["ipv6/a"]);
    let c = spec("c", "  - ipv6: c\n");
    env.apply(&[&c], &mut Fake::default()).unwrap();
    assert_eq!(env.state().reservations["ipv6/c"].value, "2001:db8::101");
}

#[test]
fn an_unsatisfiable_apply_runs_nothing_and_writes_nothing() {
    let env = Env::new();
    let app = spec(
        "app",
        &format!("{}{}", vol("nfs-a", "/a"), vol("missing", "/m")),
    );
    let mut fake = Fake::default();
    let err = env.apply(&[&app], &mut fake).unwrap_err();
    assert!(matches!(err, ApplyError::Unsatisfied(_)), "{err:?}");
    assert!(fake.log.is_empty());
    assert!(!env.file.path().exists());
}

#[test]
fn a_changed_spec_releases_what_it_no_longer_uses() {
    let env = Env::new();
    env.apply(&[&spec("app", &vol("nfs-old", "/a"))], &mut Fake::default())
        .unwrap();
    let mut fake = Fake::default();
    // A changed spec of a recorded container needs --replace (issue 11).
    let out = env
        .apply_replace(&[&spec("app", &vol("nfs-new", "/a"))], &mut fake)
        .unwrap();
    assert_eq!(
        fake.log,
        [
            "check volume/nfs-old app",
            "provide volume/nfs-new app",
            "release volume/nfs-old app"
        ]
    );
    assert_eq!(out.released.len(), 1);
    let s = env.state();
    assert_eq!(s.provided.keys().collect::<Vec<_>>(), ["volume/nfs-new"]);
    assert!(s.pending_releases.is_empty());
}

#[test]
fn pool_addresses_are_distinct_across_applies_and_exhaustion_is_unmet() {
    let env = Env::new();
    // 2001:db8::100/125 has eight values; its first is the gateway.
    let mut seen = BTreeSet::new();
    for i in 0..7 {
        let s = spec(&format!("c{i}"), &format!("  - ipv6: c{i}\n"));
        env.apply(&[&s], &mut Fake::default()).unwrap();
        seen.insert(
            env.state().reservations[&format!("ipv6/c{i}")]
                .value
                .clone(),
        );
    }
    assert_eq!(seen.len(), 7);
    let s = spec("c7", "  - ipv6: c7\n");
    assert!(matches!(
        env.apply(&[&s], &mut Fake::default()),
        Err(ApplyError::Unsatisfied(_))
    ));
}

#[test]
fn a_failed_first_apply_leaves_no_state_file() {
    let env = Env::new();
    let app = two_volume_app();
    let mut fake = Fake {
        fail_provide_nr: Some(2),
        ..Fake::default()
    };
    assert!(env.apply(&[&app], &mut fake).is_err());
    assert!(!env.file.path().exists());
}

#[test]
fn state_dir_comes_from_the_manifest_then_the_environment() {
    let text = |dir: &str| format!("berth: 1\nhost: web-01\nstate_dir: {dir}\n");
    let load = |name: &str, t: &str| match load_one(name, t) {
        Document::Host(h) => h,
        other => panic!("{other:?}"),
    };
    let h = load("/etc/berth/host.yaml", &text("/srv/berth-state"));
    assert_eq!(
        store::state_path(&h),
        Path::new("/srv/berth-state/web-01.db")
    );
    // Without `state_dir:`, $BERTH_STATE_DIR, else /var/lib/berth (this test
    // owns the variable: no other test in this binary reads it).
    let h = load("/etc/berth/host.yaml", "berth: 1\nhost: web-01\n");
    std::env::set_var("BERTH_STATE_DIR", "/run/berth-test");
    assert_eq!(
        store::state_path(&h),
        Path::new("/run/berth-test/web-01.db")
    );
    std::env::remove_var("BERTH_STATE_DIR");
    assert_eq!(store::state_path(&h), Path::new("/var/lib/berth/web-01.db"));
}

const AUDNET: &str = r#"
berth: 1
host: web-01
provides:
  - network: audnet
    subnet6: 2001:db8:1::/64
    gateway6: 2001:db8:1::1
  - ipv6: fixed
    address: 2001:db8:1::7
    network: audnet
  - ipv6: "p-*"
    pool: 2001:db8:1::100/120
    network: audnet
  - port: web
    host_port: 8080
providers:
  - ipv6: "out-*"
    run: [./addr]
  - port: "pp-*"
    run: [./port]
"#;

/// Applies `app` needing `need` where the fake provider returns `result`; the
/// apply must fail with a rejection carrying `code`, release what it made, and
/// leave the state as it was.
fn assert_provider_result_refused(env: &Env, need: &str, result: Value, code: &str) {
    let before = std::fs::read(env.file.path()).ok();
    let (kind, rest) = need.split_once(": ").unwrap();
    let name = rest.lines().next().unwrap();
    let app = spec("app", &format!("  - {kind}: {rest}\n"));
    let mut fake = Fake::default();
    fake.results.insert(name.to_string(), result);
    let err = env.apply(&[&app], &mut fake).unwrap_err();
    let ApplyError::Provider {
        failed,
        rolled_back,
    } = err
    else {
        panic!("{err:?}")
    };
    let StepCause::Rejected(diags) = &failed.cause else {
        panic!("{:?}", failed.cause)
    };
    assert!(
        diags.iter().any(|d| d.code.as_str() == code),
        "{code} not in {diags:?}"
    );
    assert_eq!(rolled_back.len(), 1, "the made resource is released");
    assert_eq!(rolled_back[0].name, name);
    assert_eq!(
        std::fs::read(env.file.path()).ok(),
        before,
        "state not restored"
    );
}

#[test]
fn a_provider_address_outside_its_network_subnet_is_refused() {
    let env = Env::with_host(host_from(AUDNET));
    assert_provider_result_refused(
        &env,
        "ipv6: out-1",
        json!({"address": "2001:db8:ffff::5", "network": "audnet"}),
        "berth::host::address-outside-subnet",
    );
}

#[test]
fn a_provider_address_equal_to_the_gateway_or_a_static_is_refused() {
    let env = Env::with_host(host_from(AUDNET));
    assert_provider_result_refused(
        &env,
        "ipv6: out-1",
        json!({"address": "2001:db8:1:0::1", "network": "audnet"}),
        "berth::host::duplicate-address",
    );
    assert_provider_result_refused(
        &env,
        "ipv6: out-1",
        json!({"address": "2001:db8:1::0:7", "network": "audnet"}),
        "berth::host::duplicate-address",
    );
}

#[test]
fn a_provider_address_already_provided_for_another_name_is_refused() {
    let env = Env::with_host(host_from(AUDNET));
    let c1 = spec("c1", "  - ipv6: out-1\n");
    let mut fake = Fake::default();
    fake.results.insert(
        "out-1".into(),
        json!({"address": "2001:db8:1::5", "network": "audnet"}),
    );
    env.apply(&[&c1], &mut fake).unwrap();
    // The same address, spelled differently, for another name.
    assert_provider_result_refused(
        &env,
        "ipv6: out-2",
        json!({"address": "2001:db8:1:0:0::5", "network": "audnet"}),
        "berth::host::duplicate-address",
    );
    assert_eq!(env.state().provided.len(), 1);
}

#[test]
fn a_provider_address_reserved_by_a_pool_is_refused() {
    let env = Env::with_host(host_from(AUDNET));
    let c1 = spec("c1", "  - ipv6: p-1\n");
    env.apply(&[&c1], &mut Fake::default()).unwrap();
    let reserved = env.state().reservations["ipv6/p-1"].value.clone();
    assert_provider_result_refused(
        &env,
        "ipv6: out-1",
        json!({"address": reserved, "network": "audnet"}),
        "berth::host::duplicate-address",
    );
}

#[test]
fn a_provider_host_port_already_provided_is_refused() {
    let env = Env::with_host(host_from(AUDNET));
    assert_provider_result_refused(
        &env,
        "port: pp-1\n    container_port: 80",
        json!({"host_port": 8080}),
        "berth::host::duplicate-port",
    );
}

#[test]
fn an_invalid_provider_result_is_refused_and_released() {
    let env = Env::with_host(host_from(AUDNET));
    assert_provider_result_refused(
        &env,
        "ipv6: out-1",
        json!({"address": "not-an-address", "network": "audnet"}),
        "berth::host::bad-address",
    );
}

#[test]
fn check_and_rollback_release_get_the_need_like_provide() {
    let env = Env::new();
    let app = two_volume_app();
    let mut fake = Fake::default();
    env.apply(&[&app], &mut fake).unwrap();
    let provided = fake.needs.clone();
    assert_eq!(provided.len(), 2, "{provided:?}");
    let mut again = Fake::default();
    env.apply(&[&app], &mut again).unwrap();
    let as_check: Vec<(String, String)> = provided
        .iter()
        .map(|(op, n)| (op.replace("provide", "check"), n.clone()))
        .collect();
    let mut checked = again.needs.clone();
    checked.sort();
    let mut want = as_check;
    want.sort();
    assert_eq!(checked, want);

    // A rollback release knows the need too.
    let env = Env::new();
    let mut fake = Fake {
        fail_provide_nr: Some(2),
        ..Fake::default()
    };
    env.apply(&[&app], &mut fake).unwrap_err();
    let releases: Vec<&(String, String)> = fake
        .needs
        .iter()
        .filter(|(op, _)| op.starts_with("release"))
        .collect();
    assert_eq!(releases.len(), 2, "{:?}", fake.needs);
    for (op, n) in releases {
        let name = op.split(' ').nth(1).unwrap();
        let provide = format!("provide {name}");
        assert!(fake.needs.contains(&(provide, n.clone())), "{op}: {n}");
    }
}

#[test]
fn identity_is_self_declared_a_different_spec_with_no_needs_does_not_release_app1() {
    let env = Env::new();
    env.apply(
        &[&spec("app1", &vol("nfs-data", "/d"))],
        &mut Fake::default(),
    )
    .unwrap();
    let before = env.bytes();
    let mut fake = Fake::default();
    let evil = match load_one("berth.yaml", "berth: 1\ncontainer: app1\n") {
        Document::Need(n) => n,
        other => panic!("{other:?}"),
    };
    let err = env.apply(&[&evil], &mut fake).unwrap_err();
    match err {
        ApplyError::SpecChanged(changed) => {
            assert_eq!(changed.len(), 1);
            assert_eq!(changed[0].container, "app1");
            assert_eq!(changed[0].dropped, ["volume/nfs-data"]);
            assert!(changed[0].added.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(fake.log.is_empty(), "{:?}", fake.log);
    assert_eq!(env.bytes(), before, "nothing was written");
}

#[test]
fn identity_is_self_declared_an_exclusive_volume_is_not_taken_by_a_second_spec() {
    let env = Env::new();
    env.apply(&[&spec("app1", &vol("static", "/s"))], &mut Fake::default())
        .unwrap();
    let other = spec(
        "app1",
        "  - volume: static\n    mount: /s\n    exclusive: true\n",
    );
    let err = env.apply(&[&other], &mut Fake::default()).unwrap_err();
    assert!(matches!(err, ApplyError::SpecChanged(_)), "{err:?}");
    // The same spec again is no change; --replace takes the new one.
    env.apply(&[&spec("app1", &vol("static", "/s"))], &mut Fake::default())
        .unwrap();
    env.apply_replace(&[&other], &mut Fake::default()).unwrap();
    assert!(env.state().holdings["app1"].bindings[0].exclusive);
}

#[test]
fn identity_is_self_declared_a_released_reservation_does_not_go_to_another_name() {
    let env = Env::new();
    let web = spec("web", "  - ipv6: web\n");
    env.apply(&[&web], &mut Fake::default()).unwrap();
    env.release(&["web"], false, &mut Fake::default());
    // `evil` asks for web's name: the reservation is kept for web.
    let evil = spec("evil", "  - ipv6: web\n");
    match env.apply(&[&evil], &mut Fake::default()).unwrap_err() {
        ApplyError::Unsatisfied(plan) => {
            let u = &plan.containers[0].unmet[0];
            assert_eq!(u.reasons[0].code(), "reserved-for", "{u:?}");
        }
        other => panic!("{other:?}"),
    }
    // web itself, with the spec that made it, gets it back.
    env.apply(&[&web], &mut Fake::default()).unwrap();
    assert_eq!(env.state().reservations["ipv6/web"].value, "2001:db8::101");
}

#[test]
fn a_released_reservation_goes_to_a_changed_spec_of_its_name_only_with_replace() {
    let env = Env::new();
    env.apply(&[&spec("web", "  - ipv6: web\n")], &mut Fake::default())
        .unwrap();
    env.release(&["web"], false, &mut Fake::default());
    let changed = spec("web", &format!("  - ipv6: web\n{}", vol("static", "/s")));
    let err = env.apply(&[&changed], &mut Fake::default()).unwrap_err();
    assert!(matches!(err, ApplyError::Unsatisfied(_)), "{err:?}");
    env.apply_replace(&[&changed], &mut Fake::default())
        .unwrap();
    let r = &env.state().reservations["ipv6/web"];
    assert_eq!(
        (r.value.as_str(), r.holder.as_deref()),
        ("2001:db8::101", Some("web"))
    );
    // A state written before digests were kept (no `last_digest`) still
    // lets the last holder's name take it back.
    let mut legacy = env.state().reservations["ipv6/web"].clone();
    legacy.holder = None;
    legacy.last_digest = None;
    assert!(legacy.released_to(&spec("web", "  - ipv6: web\n")));
    assert!(!legacy.released_to(&spec("other", "  - ipv6: web\n")));
}

#[test]
fn an_image_upgrade_or_run_image_is_not_a_changed_spec() {
    // The identity digest covers needs, not the image: `berth run --image`
    // and an image bump in the spec re-apply without --replace.
    let env = Env::new();
    let with_image = |image: &str| match load_one(
        "berth.yaml",
        &format!(
            "berth: 1\ncontainer: app1\nimage: {image}\nneeds:\n  - volume: static\n    mount: /s\n"
        ),
    ) {
        Document::Need(n) => n,
        other => panic!("{other:?}"),
    };
    env.apply(&[&with_image("example/app:1.4")], &mut Fake::default())
        .unwrap();
    env.apply(&[&with_image("example/app:1.5")], &mut Fake::default())
        .unwrap();
    assert_eq!(env.state().holdings["app1"].bindings.len(), 1);
}
