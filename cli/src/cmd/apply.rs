//! `berth apply`: load, lock the host's state, provision the gaps, record, emit.
//!
//! The work is `berth_engine::apply::apply`; this module only loads files,
//! takes the lock, picks the provisioner and turns the outcome into output and
//! an exit code (0 done, 1 unmet or invalid, 3 a provider failed and everything
//! was rolled back). `berth run` reuses [`apply_loaded`]. The output is
//! rendered by the engine's emitter that `--emit` names.

use std::collections::BTreeMap;

use berth_engine::apply::{self, ApplyError, FailedStep, ReleaseReport, StepCause};
use berth_engine::emit::emitter;
use berth_engine::plan::Plan;
use berth_engine::state::ContainerHolding;
use berth_engine::store;
use berth_providers::ProviderError;
use berth_specs::{Code, HostManifest, NeedSpec};

use crate::args::{ApplyArgs, Format};
use crate::exit;
use crate::out::{out, outln};
use crate::provision::CliProvisioner;
use crate::render::{self, escape};
use crate::report::{self, report_store, Invalid};

/// A successful apply: what was loaded and the final plan (every container
/// satisfied, no steps left).
pub(crate) struct AppliedRun {
    /// The need specs, in the order given.
    pub specs: Vec<NeedSpec>,
    /// The final plan; its `containers` follow `specs`.
    pub plan: Plan,
    /// The plan in the `--emit` format, rendered before it was recorded.
    pub rendered: Option<berth_engine::emit::emitter::Output>,
}

pub fn run(args: ApplyArgs) -> anyhow::Result<u8> {
    let emit = args.emit.emitter()?;
    // A docker line needs an image: refuse before provisioning anything,
    // rather than hold resources for a configuration that cannot be printed.
    let invalid = Invalid {
        format: args.format,
        key: "ok",
    };
    let (host, specs) =
        match super::label::load_with_image(&args.host, &args.specs, &args.image, false, invalid) {
            Ok(x) => x,
            Err(code) => return Ok(code),
        };
    if let Some(e) = refused_before_apply(emit, &host, &specs) {
        lxc_refusal(&e, "nothing was applied", args.format);
        return Ok(exit::INVALID);
    }
    let opts = apply::ApplyOptions {
        replace: args.replace,
        emitter: Some(emit),
    };
    let done = match apply_loaded_checked(
        host,
        specs,
        args.format,
        args.quiet,
        emit.needs_image(),
        opts,
    )? {
        Ok(done) => done,
        Err(code) => return Ok(code),
    };
    // Rendered by the apply before it recorded anything (it was given the
    // emitter): a plan the format refuses was rolled back there
    // (ApplyError::Refused).
    let out = done
        .rendered
        .ok_or_else(|| anyhow::anyhow!("the apply was given an emitter and rendered nothing"))?;
    report::print_container_notes(&out.notes);
    out!("{}", out.text);
    Ok(exit::OK)
}

/// What the emitter refuses among the values known before anything is
/// provided or recorded (`--emit lxc`: a network link a pattern leaves to
/// the spec, a link longer than 15 bytes, an environment value ending in a
/// blank): the plan against the current state (read without the lock,
/// nothing written), rendered without the bindings providers would make. A
/// refusal here leaves the state as it was.
fn refused_before_apply(
    emit: crate::args::Emit,
    host: &HostManifest,
    specs: &[NeedSpec],
) -> Option<berth_engine::emit::EmitError> {
    let refs: Vec<&NeedSpec> = specs.iter().collect();
    // The slice the apply itself reads: the same plan, at a cost that
    // follows the specs (the whole state made an apply on a big host slow).
    let state = store::load_readonly_for(host, &store::Scope::of_specs(&refs)).ok()?;
    let mut plan = berth_engine::solve::solve(host, &state, &refs);
    if !plan.satisfied {
        return None; // apply explains it
    }
    for c in &mut plan.containers {
        c.bindings.retain(|b| !b.pending());
    }
    match emitter::render(emit, &plan, &refs) {
        Err(emitter::RenderError::Emit(
            e @ (berth_engine::emit::EmitError::LxcLink { .. }
            | berth_engine::emit::EmitError::LxcEnv { .. }),
        )) => Some(e),
        _ => None,
    }
}

/// Reports a value `--emit lxc` cannot write (`berth::emit::lxc-value`).
fn lxc_refusal(e: &berth_engine::emit::EmitError, outcome: &str, format: Format) {
    let problem = render::Problem {
        code: Code::EmitLxcValue,
        message: format!("{e}; {outcome}"),
        help: Some(
            "give the network provide a `bridge:` of at most 15 bytes, keep environment values free of trailing blanks, or use --emit docker|compose|json"
                .to_string(),
        ),
        file: None,
    };
    Invalid { format, key: "ok" }.report(&[], &[problem]);
}

/// Applies specs that are already loaded (`berth run`, which may change a
/// spec's image first, and `--from-image`); see [`AppliedRun`].
pub(crate) fn apply_loaded(
    host: HostManifest,
    specs: Vec<NeedSpec>,
    format: Format,
    quiet: bool,
    opts: apply::ApplyOptions,
) -> anyhow::Result<Result<AppliedRun, u8>> {
    apply_loaded_checked(host, specs, format, quiet, false, opts)
}

fn apply_loaded_checked(
    host: HostManifest,
    specs: Vec<NeedSpec>,
    format: Format,
    quiet: bool,
    needs_image: bool,
    opts: apply::ApplyOptions,
) -> anyhow::Result<Result<AppliedRun, u8>> {
    let imageless: Vec<&str> = specs
        .iter()
        .filter(|s| needs_image && s.image.is_none())
        .map(|s| s.container.as_str())
        .collect();
    if !imageless.is_empty() {
        let problem = render::Problem {
            code: Code::CliNoImage,
            message: format!(
                "--emit docker needs an image, and {} has none; nothing was applied",
                imageless
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            help: Some("add `image:` to the spec, or use --emit json|compose|lxc".to_string()),
            file: None,
        };
        Invalid { format, key: "ok" }.report(&[], &[problem]);
        return Ok(Err(exit::INVALID));
    }
    let refs: Vec<&NeedSpec> = specs.iter().collect();
    // Only the slice these specs can touch is read (docs/state.md).
    let mut locked = match store::lock_for(&host, &store::Scope::of_specs(&refs)) {
        Ok(l) => l,
        Err(e) => return Ok(Err(report_store(&e, format))),
    };
    let mut prov = CliProvisioner::new(&host, quiet);
    let state_before = locked.state().clone();
    let before = &state_before.holdings;
    let outcome = apply::apply_with(&host, &refs, &mut locked, &mut prov, opts);
    let after = locked.state().holdings.clone();
    drop(locked);
    match outcome {
        Ok(applied) => {
            report_releases(&applied.released, format);
            report_moved(before, &after);
            Ok(Ok(AppliedRun {
                specs,
                plan: applied.plan,
                rendered: applied.rendered,
            }))
        }
        Err(ApplyError::Unsatisfied(plan)) => {
            // Decided on the slice; explained, as `plan` explains it, against
            // the whole state when it can be read (what the slice leaves out:
            // the released names whose reservations keep a pool full).
            let whole = crate::inputs::solve_whole(&host, &refs)
                .ok()
                .filter(|(_, p)| !p.satisfied);
            let (state, plan) = match &whole {
                Some((s, p)) => (s, p),
                None => (&state_before, &*plan),
            };
            crate::explain_render::report_unsatisfied(&host, &refs, plan, format, Some(state));
            Ok(Err(exit::INVALID))
        }
        Err(ApplyError::Provider {
            failed,
            rolled_back,
        }) => {
            report_failure(&failed, &rolled_back, format, &host, &refs);
            Ok(Err(exit::PROVIDER))
        }
        Err(ApplyError::SpecChanged(changed)) => {
            let problems: Vec<render::Problem> = changed.iter().map(spec_changed).collect();
            Invalid { format, key: "ok" }.report(&[], &problems);
            Ok(Err(exit::INVALID))
        }
        Err(ApplyError::Refused {
            error, rolled_back, ..
        }) => {
            report_releases(&rolled_back, format);
            match *error {
                emitter::RenderError::Emit(
                    e @ (berth_engine::emit::EmitError::LxcLink { .. }
                    | berth_engine::emit::EmitError::LxcEnv { .. }),
                ) => {
                    // Only a value a provider printed during this apply gets
                    // here (the rest was refused before anything ran).
                    lxc_refusal(&e, "nothing was applied", format);
                    Ok(Err(exit::INVALID))
                }
                other => Err(anyhow::Error::new(other).context("nothing was applied")),
            }
        }
        Err(ApplyError::Store(e)) => Ok(Err(report_store(&e, format))),
    }
}

/// The refusal of a changed spec, with what it drops and adds.
fn spec_changed(c: &apply::ChangedSpec) -> render::Problem {
    let list = |v: &[String]| {
        v.iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut what = Vec::new();
    if !c.dropped.is_empty() {
        what.push(format!("it no longer needs {}", list(&c.dropped)));
    }
    if !c.added.is_empty() {
        what.push(format!("it newly needs {}", list(&c.added)));
    }
    if what.is_empty() {
        what.push("its options or placement labels differ".to_string());
    }
    render::Problem {
        code: Code::ApplySpecChanged,
        message: format!(
            "container `{}` is recorded with another spec ({}); nothing was applied",
            c.container,
            what.join("; ")
        ),
        help: Some(format!(
            "if this is the same container, changed on purpose, apply with --replace; otherwise give it another `container:` name, or `berth release {}` first",
            c.container
        )),
        file: None,
    }
}

/// Warns about every binding a re-apply resolved to another value (the
/// manifest changed: a static address edited, a volume moved): berth's record
/// and the printed configuration have the new value, but a container that is
/// already running keeps the old one until it is recreated. Warnings go to
/// stderr whatever the format, like the loader's.
fn report_moved(
    before: &BTreeMap<String, ContainerHolding>,
    after: &BTreeMap<String, ContainerHolding>,
) {
    for (container, old) in before {
        let Some(new) = after.get(container) else {
            continue;
        };
        for b in &old.bindings {
            let Some(n) = new
                .bindings
                .iter()
                .find(|n| n.kind == b.kind && n.name == b.name)
            else {
                continue;
            };
            if n.value != b.value {
                eprintln!(
                    "warning: {} `{}` of container `{}` changed from {} to {} (the host manifest changed); a running `{}` keeps the old value until it is recreated with the new configuration",
                    b.kind,
                    escape(&b.name),
                    escape(container),
                    escape(&b.value.to_string()),
                    escape(&n.value.to_string()),
                    escape(container),
                );
            }
        }
    }
}

fn release_json(r: &ReleaseReport<ProviderError>) -> serde_json::Value {
    serde_json::json!({
        "kind": r.kind.as_str(),
        "name": r.name,
        "provider": r.provider,
        "ok": r.result.is_ok(),
        "error": r.result.as_ref().err().map(|e| e.to_string()),
    })
}

fn report_releases(reports: &[ReleaseReport<ProviderError>], format: Format) {
    if format == Format::Human {
        for l in report::release_lines(reports) {
            eprintln!("{l}");
        }
    }
}

/// The failing step, the provider's own words, and the rollback.
fn report_failure(
    failed: &FailedStep<ProviderError>,
    rolled_back: &[ReleaseReport<ProviderError>],
    format: Format,
    host: &HostManifest,
    specs: &[&NeedSpec],
) {
    let (message, hint, stderr_tail, stdout) = match &failed.cause {
        StepCause::Provider(e) => (
            e.to_string(),
            e.provider_hint().map(str::to_string),
            e.stderr_tail.clone(),
            e.stdout_excerpt().map(str::to_string),
        ),
        StepCause::Rejected(diags) => {
            let reasons: Vec<String> = diags
                .iter()
                .map(|d| format!("{}: {}", d.code.as_str(), d.message))
                .collect();
            (
                format!(
                    "provider `{}` made {} `{}`, but its result is refused on this host: {}",
                    failed.provider.first().map(String::as_str).unwrap_or(""),
                    failed.kind,
                    failed.name,
                    reasons.join("; ")
                ),
                diags.iter().find_map(|d| d.help.clone()),
                String::new(),
                None,
            )
        }
        StepCause::Unusable(plan) => {
            let reasons: Vec<String> = plan
                .containers
                .iter()
                .flat_map(|c| c.unmet.iter())
                .map(|u| {
                    let spec = specs.iter().find(|s| s.container == u.container).copied();
                    let why = crate::explain_render::unmet_reasons(u, spec, host, None);
                    format!(
                        "{} `{}` of `{}`: {}",
                        u.kind,
                        u.name,
                        u.container,
                        why.join("; ")
                    )
                })
                .collect();
            (
                format!(
                    "provider `{}` made {} `{}`, but the result does not meet: {}",
                    failed.provider.first().map(String::as_str).unwrap_or(""),
                    failed.kind,
                    failed.name,
                    reasons.join("; ")
                ),
                None,
                String::new(),
                None,
            )
        }
    };
    if format == Format::Json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "ok": false,
                "failed": {
                    "op": failed.op.as_str(),
                    "kind": failed.kind.as_str(),
                    "name": failed.name,
                    "container": failed.container,
                    "provider": failed.provider,
                    "message": message,
                    "hint": hint,
                    "stderr_tail": stderr_tail,
                    "stdout_excerpt": stdout,
                },
                "rolled_back": rolled_back.iter().map(release_json).collect::<Vec<_>>(),
            }))
            .expect("json")
        );
        return;
    }
    // The provider's words (message, hint, output) are printed escaped: a
    // provider that prints terminal escapes must not colour or rewrite ours.
    let mut help = String::new();
    if let Some(h) = &hint {
        help.push_str(&render::escape_lines(h));
    }
    if rolled_back.is_empty() {
        push_line(
            &mut help,
            "nothing had been provided; the state is unchanged",
        );
    } else {
        push_line(&mut help, "rolled back (reverse order):");
        for l in report::release_lines(rolled_back) {
            push_line(&mut help, &format!("  {l}"));
        }
    }
    let title = format!(
        "{} {} `{}` for container `{}` failed; the apply was rolled back",
        failed.op.as_str(),
        failed.kind,
        failed.name,
        failed.container
    );
    eprintln!(
        "{:?}",
        miette::miette!(
            code = Code::ProviderFailed.as_str(),
            help = help,
            "{title}\n{}",
            render::escape_lines(&message)
        )
    );
    let out = stdout.as_deref().unwrap_or("").trim_end();
    if !out.is_empty() {
        eprintln!("provider stdout (start):");
        for l in out.lines() {
            eprintln!("  | {}", render::escape(l));
        }
    }
    let tail = stderr_tail.trim_end();
    if !tail.is_empty() {
        eprintln!("provider stderr (last {} bytes):", tail.len());
        for l in tail.lines() {
            eprintln!("  | {}", render::escape(l));
        }
    }
}

fn push_line(s: &mut String, l: &str) {
    if !s.is_empty() {
        s.push('\n');
    }
    s.push_str(l);
}
