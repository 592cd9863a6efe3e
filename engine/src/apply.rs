//! Apply and release: the only code that changes a host's state.
//!
//! `apply` = (state locked by the caller) check the provider-made resources the
//! containers already use → solve → run the provider steps in order → record
//! their results in a scratch copy → solve again (now without steps) → render
//! the final plan in the caller's format, if it gave one (a plan the format
//! refuses is rolled back like a failed step) → record holdings and
//! reservations → one atomic write. `release` frees holdings and
//! releases what providers made once nobody uses it.
//!
//! What must stay true:
//! - **All or nothing.** If any step fails, what this apply provided is released
//!   in reverse order (the failed provide first, with `provided: null`: it may
//!   have made part of its resource) and the state file is written back exactly as it was
//!   (plus, only if a rollback release itself failed, that resource in
//!   `pending_releases`, never forgotten).
//! - **Crash safety.** Before each provider step, the resource is written to
//!   `pending_releases` (a write-ahead intent). If berth dies before the final
//!   write, the next `berth release` releases it (providers are idempotent, so
//!   releasing something half made or never made is fine); if the same
//!   container is applied again, the intent is replaced by the real record.
//!   Holdings and reservations are written only in the final write, so a crash
//!   never leaves an address held twice.
//! - **Idempotence.** Re-applying an applied container solves to the same
//!   bindings (the solver counts a container's own holdings as its own), runs no
//!   provide unless `check` says a resource is gone, and writes nothing when the
//!   state is unchanged.
//!
//! The engine calls providers only through [`Provisioner`], so these rules are
//! tested with an in-process fake (`engine/tests/apply.rs`) and end to end with
//! real scripts (`tests/apply.rs`).

use std::collections::BTreeSet;
use std::time::Duration;

use berth_specs::{
    AddressSource, Code, Diagnostic, HostManifest, Kind, NamePattern, NeedDetail, NeedSpec,
    Provide, ProvideDetail, Span, DEFAULT_PROVIDER_TIMEOUT,
};
use serde_json::Value;

use crate::emit::emitter::{render, Emitter, Output, RenderError};
use crate::plan::{Binding, Plan, Step};
use crate::solve::solve;
use crate::state::{
    resource_key, BindingSource, ContainerHolding, HeldValue, ProvidedRecord, Reservation, State,
};
use crate::store::{Locked, StoreError};

/// One provider call as the engine asks for it. The implementation adds what
/// only it knows (the manifest's folder, the host name, the process runner).
#[derive(Debug, Clone)]
pub struct ProviderRequest<'a> {
    /// The provider's argv as declared.
    pub run: &'a [String],
    /// Its time limit.
    pub timeout: Duration,
    /// Kind of the resource.
    pub kind: &'a Kind,
    /// Name of the resource.
    pub name: &'a str,
    /// The container on whose behalf it runs.
    pub container: &'a str,
    /// For `provide`: the need's options (`None` for an implied network).
    pub need: Option<&'a NeedDetail>,
    /// For `release` / `check`: what `provide` returned.
    pub provided: Option<&'a Value>,
}

/// How the engine runs providers. The CLI implements it with
/// `berth-providers`; tests implement it in process.
pub trait Provisioner {
    /// Why a call failed.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Makes the resource exist; returns its host-manifest form without the
    /// kind key, already validated as a manifest entry of that kind.
    fn provide(&mut self, req: &ProviderRequest<'_>) -> Result<Value, Self::Error>;
    /// Takes it away; must succeed when it is already gone.
    fn release(&mut self, req: &ProviderRequest<'_>) -> Result<(), Self::Error>;
    /// Whether it is still there.
    fn check(&mut self, req: &ProviderRequest<'_>) -> Result<bool, Self::Error>;
    /// Whether a failed call never started the provider (its executable is
    /// missing or cannot be run), so it made nothing that needs a release.
    fn never_ran(&self, _error: &Self::Error) -> bool {
        false
    }
}

/// Which provider operation a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOp {
    /// `provide`.
    Provide,
    /// `check`.
    Check,
    /// `release`.
    Release,
}

impl StepOp {
    /// The protocol name.
    pub fn as_str(self) -> &'static str {
        match self {
            StepOp::Provide => "provide",
            StepOp::Check => "check",
            StepOp::Release => "release",
        }
    }
}

/// The step that made an apply fail.
#[derive(Debug)]
pub struct FailedStep<E> {
    /// What was attempted.
    pub op: StepOp,
    /// Kind of the resource.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// The container it was for.
    pub container: String,
    /// The provider's argv.
    pub provider: Vec<String>,
    /// Why.
    pub cause: StepCause<E>,
}

/// Why a step failed.
#[derive(Debug)]
pub enum StepCause<E> {
    /// The provider failed.
    Provider(E),
    /// The providers succeeded but what they returned does not satisfy the
    /// needs (e.g. an address outside a requested prefix); the plan explains.
    Unusable(Box<Plan>),
    /// The provider succeeded but its result is not a valid entry in this
    /// host's context: invalid as a manifest entry, or in conflict with the
    /// manifest, another provider-made record or a held/reserved value (the
    /// host checks' codes: `berth::host::duplicate-address`, ...).
    Rejected(Vec<Diagnostic>),
}

/// One release done while rolling back (or while releasing).
#[derive(Debug)]
pub struct ReleaseReport<E> {
    /// Kind of the resource.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// The provider's argv.
    pub provider: Vec<String>,
    /// `Err` when the release failed; the resource is then in
    /// `pending_releases`, retried by the next `berth release`.
    pub result: Result<(), E>,
}

/// Why an apply did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError<E: std::error::Error + 'static> {
    /// Some container cannot be met (or the steps form a cycle); nothing ran
    /// except `check`s, and the state is unchanged. The plan explains.
    #[error("not every container can be met on this host")]
    Unsatisfied(Box<Plan>),
    /// A step failed; everything this apply provided was released again.
    #[error("{} {} `{}` failed; rolled back", .failed.op.as_str(), .failed.kind, .failed.name)]
    Provider {
        /// The failing step.
        failed: Box<FailedStep<E>>,
        /// The rollback, in the order done (reverse of provisioning).
        rolled_back: Vec<ReleaseReport<E>>,
    },
    /// A recorded container was applied with another spec than the one
    /// recorded; nothing ran (`--replace` allows it).
    #[error("a recorded container's spec changed; nothing was applied")]
    SpecChanged(Vec<ChangedSpec>),
    /// The emitter refused the final plan (a value it cannot write); what
    /// this apply provided was released again and nothing was recorded.
    #[error("the plan cannot be written as {format}: {error}; nothing was applied")]
    Refused {
        /// The emitter's name (`lxc`, ...).
        format: &'static str,
        /// Why.
        error: Box<RenderError>,
        /// The rollback, in the order done (reverse of provisioning).
        rolled_back: Vec<ReleaseReport<E>>,
    },
    /// The state could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A successful apply.
#[derive(Debug)]
pub struct Applied<E> {
    /// The final plan: every container satisfied, no steps left. Emit from it.
    pub plan: Plan,
    /// `kind/name` of what providers made during this apply, in order.
    pub provided: Vec<String>,
    /// Provider-made resources no container uses any more (a changed spec
    /// dropped them) and their release.
    pub released: Vec<ReleaseReport<E>>,
    /// The final plan in [`ApplyOptions::emitter`]'s format, when one was
    /// given.
    pub rendered: Option<Output>,
}

pub use crate::state::spec_digest;

/// The timeout of a recorded provider: its manifest entry's, when the
/// manifest still declares that argv for that kind, else the default.
/// The provider a record's `check` or `release` runs, and its time limit: the
/// manifest entry that made it (same argv) while it is there; else the
/// manifest's current provider for that resource when one still covers it (a
/// fixed `run:` typo, a moved script: the argv and timeout as the manifest
/// says them now); else the argv saved in the record, with the default
/// timeout.
fn record_provider<'a>(
    host: &'a HostManifest,
    rec: &'a ProvidedRecord,
) -> (&'a [String], Duration) {
    let same = host
        .providers
        .iter()
        .find(|d| d.kind == rec.kind && d.run == rec.run);
    let covering = || {
        host.providers
            .iter()
            .find(|d| d.kind == rec.kind && d.pattern.matches(&rec.name))
    };
    match same.or_else(covering) {
        Some(d) => (&d.run, d.timeout),
        None => (&rec.run, DEFAULT_PROVIDER_TIMEOUT),
    }
}

/// A `check` or `release` of `rec` on behalf of `container`, with that
/// container's need of it when `specs` has one (the protocol sends the need's
/// options whenever berth knows them; `berth release` and a need a changed
/// spec dropped do not: `{}`).
fn record_request<'a>(
    host: &'a HostManifest,
    specs: &[&'a NeedSpec],
    rec: &'a ProvidedRecord,
    container: &'a str,
) -> ProviderRequest<'a> {
    let need = specs
        .iter()
        .find(|s| s.container == container)
        .and_then(|s| {
            s.needs
                .iter()
                .find(|n| n.kind == rec.kind && n.name == rec.name)
        })
        .map(|n| &n.detail);
    let (run, timeout) = record_provider(host, rec);
    ProviderRequest {
        run,
        timeout,
        kind: &rec.kind,
        name: &rec.name,
        container,
        need,
        provided: Some(&rec.provided),
    }
}

fn key_of(rec: &ProvidedRecord) -> String {
    resource_key(&rec.kind, &rec.name)
}

/// `--replace`: the released reservations of names `specs` need go to them,
/// whoever held them last (the record is rewritten when they are taken).
fn release_reservations_to(state: &mut State, specs: &[&NeedSpec]) {
    for spec in specs {
        for n in &spec.needs {
            if let Some(r) = state.reservations.get_mut(&resource_key(&n.kind, &n.name)) {
                if r.holder.is_none() {
                    r.last_holder = None;
                    r.last_digest = None;
                }
            }
        }
    }
}

/// Drops write-ahead intents and failed releases that a live record now
/// covers: the same resource made by the same provider. A pending release of
/// another provider (the name is now made by a different one) stays: what the
/// first one made is still there to release, and nothing is ever forgotten.
fn prune_pending(state: &mut State) {
    let provided = &state.provided;
    state.pending_releases.retain(|p| {
        provided
            .get(&key_of(p))
            .is_none_or(|live| live.run != p.run)
    });
}

/// Options of [`apply_with`].
#[derive(Clone, Copy, Default)]
pub struct ApplyOptions<'e> {
    /// `--replace`: a recorded container may be applied with another spec,
    /// and released reservations of the needed names go to these specs
    /// whoever held them last.
    pub replace: bool,
    /// The format the caller prints the final plan in. The plan is rendered
    /// before anything is recorded: one it refuses (a value a provider printed
    /// during this apply that LXC cannot write, say) is rolled back like a
    /// failed step ([`ApplyError::Refused`]), so a refused run leaves the
    /// state as it was. The rendering is returned in [`Applied::rendered`].
    pub emitter: Option<&'e dyn Emitter>,
}

impl std::fmt::Debug for ApplyOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplyOptions")
            .field("replace", &self.replace)
            .field("emitter", &self.emitter.map(|e| e.name()))
            .finish()
    }
}

/// A recorded container that a spec with another digest tries to re-apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedSpec {
    /// The container.
    pub container: String,
    /// `kind/name` the container holds that the new spec no longer needs.
    pub dropped: Vec<String>,
    /// `kind/name` the new spec needs that the container does not hold.
    pub added: Vec<String>,
}

/// The recorded containers among `specs` whose applied spec differs from the
/// one given (the identity check of DESIGN.md's trust boundary): a second,
/// different spec that says `container: app1` must not silently release or
/// take over app1's holdings.
pub fn changed_specs(state: &State, specs: &[&NeedSpec]) -> Vec<ChangedSpec> {
    let mut out = Vec::new();
    for spec in specs {
        let Some(h) = state.holdings.get(&spec.container) else {
            continue;
        };
        if crate::state::digest_matches(&h.spec_digest, spec) {
            continue;
        }
        let held: BTreeSet<String> = h
            .bindings
            .iter()
            .map(|b| resource_key(&b.kind, &b.name))
            .collect();
        let wanted: BTreeSet<String> = spec
            .needs
            .iter()
            .map(|n| resource_key(&n.kind, &n.name))
            .collect();
        // Networks are mostly implied by addresses (held without a need), so
        // only other kinds count as dropped.
        let dropped = held
            .iter()
            .filter(|k| !wanted.contains(*k) && !k.starts_with("network/"))
            .cloned()
            .collect();
        let added = wanted.difference(&held).cloned().collect();
        out.push(ChangedSpec {
            container: spec.container.clone(),
            dropped,
            added,
        });
    }
    out
}

/// Applies `specs` on `host`: see the module docs. `locked` is the host's
/// state under its lock; it is written here (intents, then the final state).
/// A recorded container whose spec changed is refused
/// ([`ApplyError::SpecChanged`]); [`apply_with`] takes `--replace`.
pub fn apply<P: Provisioner>(
    host: &HostManifest,
    specs: &[&NeedSpec],
    locked: &mut Locked,
    prov: &mut P,
) -> Result<Applied<P::Error>, ApplyError<P::Error>> {
    apply_with(host, specs, locked, prov, ApplyOptions::default())
}

/// [`apply`] with options.
pub fn apply_with<P: Provisioner>(
    host: &HostManifest,
    specs: &[&NeedSpec],
    locked: &mut Locked,
    prov: &mut P,
    opts: ApplyOptions,
) -> Result<Applied<P::Error>, ApplyError<P::Error>> {
    let before = locked.state().clone();
    if !opts.replace {
        let changed = changed_specs(&before, specs);
        if !changed.is_empty() {
            return Err(ApplyError::SpecChanged(changed));
        }
    }
    let mut scratch = before.clone();
    if opts.replace {
        release_reservations_to(&mut scratch, specs);
    }
    let names: BTreeSet<&str> = specs.iter().map(|s| s.container.as_str()).collect();

    // 1. Resources providers made for these containers: still there? A gone one
    //    is dropped from the scratch state, so the solver plans its step again.
    let mut gone: Vec<ProvidedRecord> = Vec::new();
    let used: Vec<(ProvidedRecord, String)> = before
        .provided
        .values()
        .filter_map(|r| {
            let user = r.users.iter().find(|u| names.contains(u.as_str()))?;
            Some((r.clone(), user.clone()))
        })
        .collect();
    let mut checked: BTreeSet<String> = used.iter().map(|(r, _)| key_of(r)).collect();
    check_records(host, specs, used, &mut scratch, &mut gone, prov)?;

    // 2. Solve. A record the plan reuses for a container that did not use it
    //    yet (a shared resource another container made) is checked too, and
    //    if it is gone, the plan is made again without it.
    let mut plan = solve(host, &scratch, specs);
    if plan.satisfied {
        let mut reused: Vec<(ProvidedRecord, String)> = Vec::new();
        for c in &plan.containers {
            for b in &c.bindings {
                let key = resource_key(&b.kind, &b.name);
                if b.source != BindingSource::Provider
                    || b.step.is_some()
                    || !checked.insert(key.clone())
                {
                    continue;
                }
                if let Some(rec) = scratch.provided.get(&key) {
                    reused.push((rec.clone(), c.container.clone()));
                }
            }
        }
        let n_gone = gone.len();
        check_records(host, specs, reused, &mut scratch, &mut gone, prov)?;
        if gone.len() > n_gone {
            plan = solve(host, &scratch, specs);
        }
    }
    if !plan.satisfied {
        return Err(ApplyError::Unsatisfied(Box::new(plan)));
    }

    // 3. Provide, in dependency order, each behind a write-ahead intent.
    let mut made: Vec<String> = Vec::new();
    for step in &plan.steps {
        let key = resource_key(&step.kind, &step.name);
        let mut journal = before.clone();
        journal
            .pending_releases
            .extend(made.iter().map(|k| scratch.provided[k].clone()));
        journal.pending_releases.push(intent(step));
        if let Err(e) = locked.write(&journal) {
            let _ = rollback((host, specs), &before, &scratch, &made, None, locked, prov);
            return Err(ApplyError::Store(e));
        }
        let need = step_need(specs, step);
        let req = ProviderRequest {
            run: &step.provider,
            timeout: step.timeout,
            kind: &step.kind,
            name: &step.name,
            container: &step.container,
            need,
            provided: None,
        };
        let (cause, interrupted) = match prov.provide(&req) {
            Ok(value) => {
                // Typed once, here: the check below and the record share it.
                let typed =
                    berth_specs::load::provide_detail_from_json(&step.kind, &step.name, &value);
                let rejected = match &typed {
                    Ok(detail) => host_conflicts(host, &scratch, &step.kind, &step.name, detail),
                    Err(diags) => diags.clone(),
                };
                let mut users: BTreeSet<String> = step.users.iter().cloned().collect();
                if let Some(old) = gone.iter().find(|g| key_of(g) == key) {
                    users.extend(old.users.iter().cloned());
                }
                scratch.provided.insert(
                    key.clone(),
                    ProvidedRecord::typed(
                        step.kind.clone(),
                        step.name.clone(),
                        step.provider.clone(),
                        value,
                        users.into_iter().collect(),
                        typed.ok(),
                    ),
                );
                made.push(key);
                if rejected.is_empty() {
                    continue;
                }
                // Made, but refused: released with what it printed.
                (StepCause::Rejected(rejected), None)
            }
            // A provide that failed (non-zero exit, timeout, a crash, output
            // that is not an entry) may still have made something before it
            // failed; providers are idempotent, so it is released with
            // `provided: null`, exactly as after a crash.
            // Unless it never ran (not found, not executable): then nothing
            // was made, and a release (of a provider that cannot start) would
            // only stay pending forever.
            Err(e) => {
                let interrupted = (!prov.never_ran(&e)).then(|| intent(step));
                (StepCause::Provider(e), interrupted)
            }
        };
        let rolled_back = rollback(
            (host, specs),
            &before,
            &scratch,
            &made,
            interrupted.as_ref(),
            locked,
            prov,
        );
        return Err(ApplyError::Provider {
            failed: failed_provide(step, cause),
            rolled_back,
        });
    }

    // 4. Solve again: the provider results are now exact provides.
    let fin = if plan.steps.is_empty() {
        plan
    } else {
        let again = solve(host, &scratch, specs);
        if !again.satisfied || !again.steps.is_empty() {
            let last = plan.steps.last().expect("steps ran");
            let rolled_back = rollback((host, specs), &before, &scratch, &made, None, locked, prov);
            return Err(ApplyError::Provider {
                failed: failed_provide(last, StepCause::Unusable(Box::new(again))),
                rolled_back,
            });
        }
        again
    };

    // 5. Render before recording: a plan the caller's format refuses is
    //    rolled back, never recorded.
    let rendered = match opts.emitter.map(|em| (em, render(em, &fin, specs))) {
        None => None,
        Some((_, Ok(out))) => Some(out),
        Some((em, Err(e))) => {
            let rolled_back = rollback((host, specs), &before, &scratch, &made, None, locked, prov);
            return Err(ApplyError::Refused {
                format: em.name(),
                error: Box::new(e),
                rolled_back,
            });
        }
    };

    // 6. Record holdings, reservations and users; one atomic write.
    let orphans = record(&mut scratch, &fin, specs);
    prune_pending(&mut scratch);
    scratch.pending_releases.extend(orphans.iter().cloned());
    if let Err(e) = locked.write(&scratch) {
        let _ = rollback((host, specs), &before, &scratch, &made, None, locked, prov);
        return Err(ApplyError::Store(e));
    }

    // 7. Release what a changed spec no longer uses (already in pending, so a
    //    crash or failure here is retried by the next release).
    let released = release_pending(host, &orphans, &mut scratch, prov);
    locked.write(&scratch)?;
    Ok(Applied {
        plan: fin,
        provided: made,
        released,
        rendered,
    })
}

/// Runs `check` for each record on behalf of its container; a gone one leaves
/// `scratch` for `gone`. A failing check fails the apply before anything ran.
fn check_records<P: Provisioner>(
    host: &HostManifest,
    specs: &[&NeedSpec],
    records: Vec<(ProvidedRecord, String)>,
    scratch: &mut State,
    gone: &mut Vec<ProvidedRecord>,
    prov: &mut P,
) -> Result<(), ApplyError<P::Error>> {
    for (rec, container) in records {
        match prov.check(&record_request(host, specs, &rec, &container)) {
            Ok(true) => {}
            Ok(false) => {
                scratch.provided.remove(&key_of(&rec));
                gone.push(rec);
            }
            Err(e) => {
                return Err(ApplyError::Provider {
                    failed: Box::new(FailedStep {
                        op: StepOp::Check,
                        kind: rec.kind.clone(),
                        name: rec.name.clone(),
                        container,
                        provider: rec.run.clone(),
                        cause: StepCause::Provider(e),
                    }),
                    rolled_back: Vec::new(),
                })
            }
        }
    }
    Ok(())
}

/// Why `detail`, just returned by a provider for `kind`/`name`, cannot be
/// recorded on this host (typing it ran the entry checks of its kind): the
/// host-wide checks (subnets, gateways, duplicate addresses and ports however spelled)
/// over the manifest's provides, every other provider-made record and this
/// result, keeping the errors that involve this result; then the values pools
/// reserved and containers hold. Empty when it is fine.
///
/// A provider is trusted to make things, not to know the host: without this, a
/// provider printing a gateway or an address it already returned for another
/// name would hand one exclusive address to two containers.
fn host_conflicts(
    host: &HostManifest,
    state: &State,
    kind: &Kind,
    name: &str,
    detail: &ProvideDetail,
) -> Vec<Diagnostic> {
    let key = resource_key(kind, name);
    // Provider-made resources have no place in a file: their entries (and the
    // candidate's) carry an empty span, and the validator tells which
    // problems involve the candidate by position, not by span.
    let exact = |kind: &Kind, name: &str, detail: ProvideDetail| Provide {
        kind: kind.clone(),
        name: NamePattern::Exact(name.to_string()),
        detail,
        allow: None,
        span: Span::default(),
    };
    // A record that no longer validates serves nothing (the solver skips it),
    // so it cannot conflict either.
    let others: Vec<Provide> = state
        .provided
        .iter()
        .filter(|(k, _)| **k != key)
        .filter_map(|(_, rec)| Some(exact(&rec.kind, &rec.name, rec.detail.clone()?)))
        .collect();
    let candidate = exact(kind, name, detail.clone());
    let found = berth_specs::validate::candidate_conflicts(host, &others, &candidate);
    if !found.is_empty() {
        return found;
    }
    held_conflicts(host, state, kind, name, detail)
}

/// `detail`'s address or host port against the values pools reserved and the
/// values containers hold (a changed manifest may no longer list them, but
/// their holders still use them). Holdings of `kind`/`name` itself are the
/// record being replaced and do not count.
fn held_conflicts(
    host: &HostManifest,
    state: &State,
    kind: &Kind,
    name: &str,
    detail: &ProvideDetail,
) -> Vec<Diagnostic> {
    type Same<'a, T> = Box<dyn Fn(&T) -> bool + 'a>;
    let (code, what, reserved, held): (Code, String, Same<Reservation>, Same<HeldValue>) =
        match detail {
            ProvideDetail::Address {
                source: AddressSource::Static(a),
                ..
            } => {
                let a = *a;
                let same = move |v: Option<&str>| {
                    v.and_then(|v| v.parse::<std::net::IpAddr>().ok()) == Some(a)
                };
                (
                    Code::HostDuplicateAddress,
                    format!("address `{a}`"),
                    Box::new(move |r| same(Some(&r.value))),
                    Box::new(move |v| same(v.get("address").and_then(Value::as_str))),
                )
            }
            // A static host port (the registry's `host_sockets` of one value).
            d => match d.host_sockets().filter(|s| !s.pool) {
                None => return Vec::new(),
                Some(s) => {
                    let (port, protocol) = (s.first, s.protocol);
                    (
                        Code::HostDuplicatePort,
                        format!("host port {port}/{protocol}"),
                        // The reservation's protocol is its pool's; a pool the
                        // manifest no longer lists counts as the same (the safe side).
                        Box::new(move |r| {
                            let pool_protocol = host.provides.iter().find_map(|p| {
                                p.detail
                                    .host_sockets()
                                    .filter(|q| q.pool && p.kind == r.kind && q.text() == r.pool)
                                    .map(|q| q.protocol)
                            });
                            r.value == port.to_string()
                                && pool_protocol.unwrap_or(protocol) == protocol
                        }),
                        Box::new(move |v| {
                            v.get("host_port").and_then(Value::as_u64) == Some(u64::from(port))
                                && v.get("protocol").and_then(Value::as_str).unwrap_or("tcp")
                                    == protocol.to_string()
                        }),
                    )
                }
            },
        };
    let mut out = Vec::new();
    for r in state.reservations.values() {
        if &r.kind == kind && r.name != name && reserved(r) {
            out.push(Diagnostic::error(
                code,
                format!(
                    "{what} is reserved for {} `{}` from pool `{}`",
                    r.kind, r.name, r.pool
                ),
            ));
        }
    }
    for (holder, h) in &state.holdings {
        for b in &h.bindings {
            let own = b.source == BindingSource::Provider && b.name == name;
            if &b.kind == kind && !own && held(&b.value) {
                out.push(Diagnostic::error(
                    code,
                    format!(
                        "{what} is held by container `{holder}` as {} `{}`",
                        b.kind, b.name
                    ),
                ));
            }
        }
    }
    out
}

/// The failure of `step`'s provide.
fn failed_provide<E>(step: &Step, cause: StepCause<E>) -> Box<FailedStep<E>> {
    Box::new(FailedStep {
        op: StepOp::Provide,
        kind: step.kind.clone(),
        name: step.name.clone(),
        container: step.container.clone(),
        provider: step.provider.clone(),
        cause,
    })
}

fn intent(step: &Step) -> ProvidedRecord {
    ProvidedRecord::new(
        step.kind.clone(),
        step.name.clone(),
        step.provider.clone(),
        Value::Null,
        step.users.clone(),
    )
}

fn step_need<'a>(specs: &[&'a NeedSpec], step: &Step) -> Option<&'a NeedDetail> {
    let spec = specs.iter().find(|s| s.container == step.container)?;
    step.need.and_then(|i| spec.needs.get(i)).map(|n| &n.detail)
}

/// Releases `interrupted` (the failed step's intent, `provided: null`), then
/// `made` (reverse order), and writes `before` back, plus the records whose
/// release failed in `pending_releases`.
fn rollback<P: Provisioner>(
    (host, specs): (&HostManifest, &[&NeedSpec]),
    before: &State,
    scratch: &State,
    made: &[String],
    interrupted: Option<&ProvidedRecord>,
    locked: &mut Locked,
    prov: &mut P,
) -> Vec<ReleaseReport<P::Error>> {
    let mut restored = before.clone();
    let mut reports = Vec::new();
    let records = made.iter().rev().map(|key| &scratch.provided[key]);
    for rec in interrupted.into_iter().chain(records) {
        let container = rec.users.first().map(String::as_str).unwrap_or("");
        let req = record_request(host, specs, rec, container);
        let provider = req.run.to_vec();
        let result = prov.release(&req);
        if result.is_err() {
            restored.pending_releases.push(rec.clone());
        }
        reports.push(ReleaseReport {
            kind: rec.kind.clone(),
            name: rec.name.clone(),
            provider,
            result,
        });
    }
    // Best effort: if even this write fails, the intents on disk make the next
    // `berth release` release what was made.
    let _ = locked.restore(&restored);
    reports
}

/// Records the plan's containers in `state`: holdings (replacing earlier
/// ones), reservations, users of provider records. Returns the provider
/// records that lost their last user (removed from `provided`).
fn record(state: &mut State, plan: &Plan, specs: &[&NeedSpec]) -> Vec<ProvidedRecord> {
    for cp in &plan.containers {
        let c = &cp.container;
        let Some(spec) = specs.iter().find(|s| &s.container == c) else {
            continue;
        };
        for r in state.reservations.values_mut() {
            if r.holder.as_deref() == Some(c.as_str()) {
                r.holder = None;
            }
        }
        for rec in state.provided.values_mut() {
            rec.users.retain(|u| u != c);
        }
        for b in &cp.bindings {
            let key = resource_key(&b.kind, &b.name);
            match b.source {
                BindingSource::Pool => {
                    state.reservations.insert(
                        key,
                        Reservation {
                            kind: b.kind.clone(),
                            name: b.name.clone(),
                            pool: b.pool.clone().unwrap_or_default(),
                            value: value_text(&b.value),
                            holder: Some(c.clone()),
                            last_holder: Some(c.clone()),
                            last_digest: Some(spec_digest(spec)),
                        },
                    );
                }
                BindingSource::Provider => {
                    if let Some(rec) = state.provided.get_mut(&key) {
                        if !rec.users.contains(c) {
                            rec.users.push(c.clone());
                            rec.users.sort();
                        }
                    }
                }
                BindingSource::Provides => {}
            }
        }
        state.holdings.insert(
            c.clone(),
            ContainerHolding {
                spec_digest: spec_digest(spec),
                bindings: cp.bindings.iter().map(Binding::held).collect(),
            },
        );
    }
    // A provider record serves every holder with one value (a binding's value
    // is the record's, whoever holds it): when it was provided again, holders
    // outside this apply now hold the new value too.
    let fresh: std::collections::HashMap<String, &Value> = plan
        .containers
        .iter()
        .flat_map(|c| c.bindings.iter())
        .filter(|b| b.source == BindingSource::Provider)
        .map(|b| (resource_key(&b.kind, &b.name), b.value.json()))
        .collect();
    let in_plan: BTreeSet<&str> = plan
        .containers
        .iter()
        .map(|c| c.container.as_str())
        .collect();
    for (holder, h) in state.holdings.iter_mut() {
        if in_plan.contains(holder.as_str()) {
            continue;
        }
        for b in h
            .bindings
            .iter_mut()
            .filter(|b| b.source == BindingSource::Provider)
        {
            if let Some(v) = fresh.get(&resource_key(&b.kind, &b.name)) {
                b.value = (*v).into();
            }
        }
    }
    take_orphans(
        state,
        &plan
            .containers
            .iter()
            .map(|c| c.container.clone())
            .collect::<Vec<_>>(),
    )
}

/// Removes the records no container uses any more from `provided`; each
/// comes back with `users` set to the `released_by` containers that last used
/// it (what the provider is told on release).
fn take_orphans(state: &mut State, released_by: &[String]) -> Vec<ProvidedRecord> {
    let orphan_keys: Vec<String> = state
        .provided
        .iter()
        .filter(|(_, r)| r.users.is_empty())
        .map(|(k, _)| k.clone())
        .collect();
    orphan_keys
        .into_iter()
        .filter_map(|k| state.provided.remove(&k))
        .map(|mut r| {
            r.users = released_by.to_vec();
            r
        })
        .collect()
}

/// The reserved value as text: the address, or the host port.
fn value_text(v: &Value) -> String {
    match v.get("address").or_else(|| v.get("host_port")) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => v.to_string(),
    }
}

/// Runs `release` for each of `records` (which are in `state.pending_releases`)
/// and drops the successes from there.
fn release_pending<P: Provisioner>(
    host: &HostManifest,
    records: &[ProvidedRecord],
    state: &mut State,
    prov: &mut P,
) -> Vec<ReleaseReport<P::Error>> {
    let mut reports = Vec::new();
    for rec in records {
        let container = rec.users.first().map(String::as_str).unwrap_or("");
        let mut req = record_request(host, &[], rec, container);
        // The name is live again, made by another provider: the current
        // manifest's provider for it is that one, and must not release what it
        // made; this release goes to the provider that made the old one.
        if state
            .provided
            .get(&key_of(rec))
            .is_some_and(|live| live.run != rec.run)
        {
            req.run = &rec.run;
            req.timeout = host
                .providers
                .iter()
                .find(|d| d.kind == rec.kind && d.run == rec.run)
                .map_or(DEFAULT_PROVIDER_TIMEOUT, |d| d.timeout);
        }
        let provider = req.run.to_vec();
        let result = prov.release(&req);
        if result.is_ok() {
            if let Some(i) = state.pending_releases.iter().position(|p| p == rec) {
                state.pending_releases.remove(i);
            }
        }
        reports.push(ReleaseReport {
            kind: rec.kind.clone(),
            name: rec.name.clone(),
            provider,
            result,
        });
    }
    reports
}

/// What `berth release` did.
#[derive(Debug)]
pub struct Released<E> {
    /// Containers that held something and no longer do.
    pub released: Vec<String>,
    /// Containers named that held nothing (not an error: release is idempotent).
    pub not_held: Vec<String>,
    /// Reservations dropped by `--purge` (`kind/name`).
    pub purged: Vec<String>,
    /// Provider releases run: what this release freed, then earlier failures
    /// retried. Failures stay in `pending_releases`.
    pub provider_releases: Vec<ReleaseReport<E>>,
}

impl<E> Released<E> {
    /// Nothing released yet.
    fn none() -> Self {
        Released {
            released: Vec::new(),
            not_held: Vec::new(),
            purged: Vec::new(),
            provider_releases: Vec::new(),
        }
    }

    /// True when a provider release failed (it will be retried).
    pub fn any_failed(&self) -> bool {
        self.provider_releases.iter().any(|r| r.result.is_err())
    }
}

/// Releases `containers` on `host`: frees their holdings (reservations stay
/// unless `purge`), then runs provider `release` for what no container uses
/// any more, and retries earlier failed releases. The freed holdings are
/// written before any provider runs, and each record waits in
/// `pending_releases` until its release succeeded. A release that changes
/// nothing writes nothing.
pub fn release<P: Provisioner>(
    host: &HostManifest,
    containers: &[String],
    purge: bool,
    locked: &mut Locked,
    prov: &mut P,
) -> Result<Released<P::Error>, StoreError> {
    let mut state = locked.state().clone();
    let mut out = Released::none();
    free(&mut state, containers, purge, &mut out);
    if state != *locked.state() {
        locked.write(&state)?;
    }
    if state.pending_releases.is_empty() {
        return Ok(out);
    }
    let pending = state.pending_releases.clone();
    out.provider_releases = release_pending(host, &pending, &mut state, prov);
    locked.write(&state)?;
    Ok(out)
}

/// Whether releasing `containers` (with `purge`) would change `state` or run
/// a provider: false when none of them holds, reserved or uses anything and
/// no earlier release is pending. Lets `berth release` refuse to create a
/// state file (and its lock) for a host that has nothing to free.
pub fn release_would_act(state: &State, containers: &[String], purge: bool) -> bool {
    if !state.pending_releases.is_empty() {
        return true;
    }
    let mut after = state.clone();
    let mut out = Released::<std::convert::Infallible>::none();
    free(&mut after, containers, purge, &mut out);
    after != *state
}

/// The state part of a release: holdings dropped, reservations freed (or
/// purged), provider records nobody uses moved to `pending_releases`.
fn free<E>(state: &mut State, containers: &[String], purge: bool, out: &mut Released<E>) {
    for c in containers {
        if state.holdings.remove(c).is_some() {
            out.released.push(c.clone());
        } else {
            out.not_held.push(c.clone());
        }
        for r in state.reservations.values_mut() {
            if r.holder.as_deref() == Some(c.as_str()) {
                r.holder = None;
                r.last_holder = Some(c.clone());
            }
        }
        if purge {
            let dropped: Vec<String> = state
                .reservations
                .iter()
                .filter(|(_, r)| r.holder.is_none() && r.last_holder.as_deref() == Some(c.as_str()))
                .map(|(k, _)| k.clone())
                .collect();
            for k in dropped {
                state.reservations.remove(&k);
                out.purged.push(k);
            }
        }
        let mut freed = Vec::new();
        for rec in state.provided.values_mut() {
            if rec.users.contains(c) {
                rec.users.retain(|u| u != c);
                if rec.users.is_empty() {
                    freed.push(key_of(rec));
                }
            }
        }
        for k in freed {
            if let Some(mut rec) = state.provided.remove(&k) {
                rec.users = vec![c.clone()];
                state.pending_releases.push(rec);
            }
        }
    }
}
