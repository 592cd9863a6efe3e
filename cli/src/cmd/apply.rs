//! `berth apply`: load, lock the host's state, provision the gaps, record, emit.
//!
//! The work is `berth_engine::apply::apply`; this module only loads files,
//! takes the lock, picks the provisioner and turns the outcome into output and
//! an exit code (0 done, 1 unmet or invalid, 3 a provider failed and everything
//! was rolled back). `berth run` reuses [`apply_for_run`].

use std::path::{Path, PathBuf};

use berth_engine::apply::{self, ApplyError, FailedStep, ReleaseReport, StepCause};
use berth_engine::plan::Plan;
use berth_engine::store;
use berth_providers::ProviderError;
use berth_specs::load::{load_file, LoadOptions};
use berth_specs::{Document, HostManifest, NeedSpec};

use crate::args::{ApplyArgs, Format};
use crate::exit;
use crate::provision::CliProvisioner;
use crate::render;

/// A successful apply: what was loaded and the final plan (every container
/// satisfied, no steps left).
pub(crate) struct AppliedRun {
    /// The host manifest.
    pub host: HostManifest,
    /// The need specs, in the order given.
    pub specs: Vec<NeedSpec>,
    /// The final plan; its `containers` follow `specs`.
    pub plan: Plan,
}

pub fn run(args: ApplyArgs) -> anyhow::Result<u8> {
    // A docker line needs an image: refuse before provisioning anything,
    // rather than hold resources for a configuration that cannot be printed.
    let needs_image = args.emit == crate::args::Emit::Docker;
    let invalid = Invalid {
        format: args.format,
        key: "ok",
    };
    let (host, specs) =
        match super::label::load_with_image(&args.host.host, &args.specs, &args.image, invalid) {
            Ok(x) => x,
            Err(code) => return Ok(code),
        };
    let done = match apply_loaded_checked(host, specs, args.format, args.quiet, needs_image)? {
        Ok(done) => done,
        Err(code) => return Ok(code),
    };
    let specs: Vec<&NeedSpec> = done.specs.iter().collect();
    let text = crate::cmd::plan::emit_text(args.emit, &done.host, &specs, &done.plan)?;
    print!("{text}");
    Ok(exit::OK)
}

/// Applies specs that are already loaded (`berth run`, which may change a
/// spec's image first, and `--from-image`); see [`AppliedRun`].
pub(crate) fn apply_loaded(
    host: HostManifest,
    specs: Vec<NeedSpec>,
    format: Format,
    quiet: bool,
) -> anyhow::Result<Result<AppliedRun, u8>> {
    apply_loaded_checked(host, specs, format, quiet, false)
}

fn apply_loaded_checked(
    host: HostManifest,
    specs: Vec<NeedSpec>,
    format: Format,
    quiet: bool,
    needs_image: bool,
) -> anyhow::Result<Result<AppliedRun, u8>> {
    let imageless: Vec<&str> = specs
        .iter()
        .filter(|s| needs_image && s.image.is_none())
        .map(|s| s.container.as_str())
        .collect();
    if !imageless.is_empty() {
        let problem = render::Problem {
            code: "berth::cli::no-image",
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
    let mut locked = match store::lock(&host) {
        Ok(l) => l,
        Err(e) => return Ok(Err(report_store(&e, format))),
    };
    let mut prov = CliProvisioner::new(&host, quiet);
    let refs: Vec<&NeedSpec> = specs.iter().collect();
    let outcome = apply::apply(&host, &refs, &mut locked, &mut prov);
    drop(locked);
    match outcome {
        Ok(applied) => {
            report_releases(&applied.released, format);
            Ok(Ok(AppliedRun {
                host,
                specs,
                plan: applied.plan,
            }))
        }
        Err(ApplyError::Unsatisfied(plan)) => {
            crate::explain_render::report_unsatisfied(&host, &refs, &plan, format);
            Ok(Err(exit::INVALID))
        }
        Err(ApplyError::Provider {
            failed,
            rolled_back,
        }) => {
            report_failure(&failed, &rolled_back, format, &host, &refs);
            Ok(Err(exit::PROVIDER))
        }
        Err(ApplyError::Store(e)) => Ok(Err(report_store(&e, format))),
    }
}

/// How a command reports invalid input: diagnostics on stderr for people, or
/// one JSON object on stdout (`{"<key>": false, "diagnostics": [...]}`) so that
/// `| jq` always gets a document.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Invalid {
    /// The requested report format.
    pub format: Format,
    /// The command's verdict key: `satisfied` for plan, `ok` for the others.
    pub key: &'static str,
}

impl Invalid {
    /// Human reports (commands without `--format`).
    pub const HUMAN: Invalid = Invalid {
        format: Format::Human,
        key: "ok",
    };

    /// Prints the loader's diagnostics and the CLI's own problems in this
    /// format.
    pub fn report(self, diags: &[berth_specs::Diagnostic], problems: &[render::Problem]) {
        match self.format {
            Format::Json => {
                let list: Vec<serde_json::Value> = diags
                    .iter()
                    .map(render::diagnostic_json)
                    .chain(problems.iter().map(render::Problem::json))
                    .collect();
                let mut v = serde_json::Map::new();
                v.insert(self.key.to_string(), serde_json::Value::Bool(false));
                v.insert("diagnostics".to_string(), serde_json::Value::Array(list));
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).expect("json values serialize")
                );
            }
            Format::Human => {
                render::print_diagnostics(diags);
                for p in problems {
                    p.print();
                }
            }
        }
    }
}

/// Loads the host manifest (exactly one host document) and the need specs
/// (need documents only, container names unique). Diagnostics are reported
/// as `invalid` says; `Err(1)` when any is an error.
pub(crate) fn load_inputs(
    host_path: &Path,
    spec_paths: &[PathBuf],
    invalid: Invalid,
) -> Result<(HostManifest, Vec<NeedSpec>), u8> {
    load_inputs_with(host_path, spec_paths, Vec::new(), invalid)
}

/// Like [`load_inputs`], with need specs loaded elsewhere too (`--from-image`:
/// the image label, named by its display name), after the files.
pub(crate) fn load_inputs_with(
    host_path: &Path,
    spec_paths: &[PathBuf],
    extra: Vec<(PathBuf, berth_specs::load::Loaded)>,
    invalid: Invalid,
) -> Result<(HostManifest, Vec<NeedSpec>), u8> {
    let opts = LoadOptions::default();
    let mut diags = Vec::new();
    let mut problems = Vec::new();
    let bad_input = |file: &Path, message: String| render::Problem {
        code: "berth::cli::bad-input",
        message,
        help: None,
        file: Some(file.to_path_buf()),
    };
    let loaded = load_file(host_path, &opts);
    diags.extend(loaded.diagnostics);
    let mut hosts: Vec<HostManifest> = loaded
        .documents
        .into_iter()
        .filter_map(|d| match d {
            Document::Host(h) => Some(h),
            Document::Need(_) => None,
        })
        .collect();
    let host = if hosts.len() == 1 && !diags.iter().any(|d| d.is_error()) {
        hosts.pop()
    } else {
        if !diags.iter().any(|d| d.is_error()) {
            problems.push(bad_input(
                host_path,
                format!(
                    "expected exactly one host manifest (a document with `host:`), found {}",
                    hosts.len()
                ),
            ));
        }
        None
    };
    let mut specs: Vec<NeedSpec> = Vec::new();
    let spec_loads = spec_paths
        .iter()
        .map(|p| (p.clone(), load_file(p, &opts)))
        .chain(extra);
    for (p, loaded) in spec_loads {
        let p = p.as_path();
        diags.extend(loaded.diagnostics);
        for d in loaded.documents {
            match d {
                Document::Need(n) => {
                    if specs.iter().any(|s| s.container == n.container) {
                        problems.push(bad_input(
                            p,
                            format!(
                                "container `{}` is given twice; each container is applied once",
                                n.container
                            ),
                        ));
                    } else {
                        specs.push(n);
                    }
                }
                Document::Host(h) => problems.push(bad_input(
                    p,
                    format!(
                        "`{}` is a host manifest; give host manifests with -H",
                        h.host
                    ),
                )),
            }
        }
    }
    let failed = host.is_none() || !problems.is_empty() || diags.iter().any(|d| d.is_error());
    if failed && invalid.format == Format::Json {
        invalid.report(&diags, &problems);
        return Err(exit::INVALID);
    }
    // Warnings of valid input go to stderr whatever the format.
    Invalid::HUMAN.report(&diags, &problems);
    match host {
        Some(h) if !failed => Ok((h, specs)),
        _ => Err(exit::INVALID),
    }
}

/// Reports a state store error (exit 1: berth cannot work on this host's
/// state until a person looks at it).
/// The stable code and help text for a state-store failure (docs/state.md),
/// shared by every command that reads the state file.
pub(crate) fn store_code_help(e: &store::StoreError) -> (&'static str, &'static str) {
    use store::StoreError as E;
    let code = match e {
        E::Corrupt { .. } => "berth::state::corrupt",
        E::Version { .. } => "berth::state::version",
        E::HostMismatch { .. } => "berth::state::host-mismatch",
        E::Lock { .. } => "berth::state::lock",
        _ => "berth::state::io",
    };
    let help = match e {
        E::Corrupt { .. } => {
            "berth never overwrites a state file it cannot read; repair it or move it away (see docs/state.md)"
        }
        _ => "see docs/state.md",
    };
    (code, help)
}

pub(crate) fn report_store(e: &store::StoreError, format: Format) -> u8 {
    let (code, help) = store_code_help(e);
    match format {
        Format::Json => println!(
            "{}",
            serde_json::json!({"ok": false, "error": {"code": code, "message": e.to_string()}})
        ),
        Format::Human => {
            let message = render::escape_lines(&e.to_string()).into_owned();
            eprintln!(
                "{:?}",
                miette::miette!(code = code, help = help, "{message}")
            );
        }
    }
    exit::INVALID
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

/// One line per release: what was released, or why it failed and that it
/// stays pending.
pub(crate) fn release_lines(reports: &[ReleaseReport<ProviderError>]) -> Vec<String> {
    reports
        .iter()
        .map(|r| match &r.result {
            Ok(()) => format!("released {} `{}`", r.kind, r.name),
            Err(e) => format!(
                "release of {} `{}` FAILED, kept pending for the next `berth release`: {}",
                r.kind,
                r.name,
                render::escape(&e.to_string())
            ),
        })
        .collect()
}

fn report_releases(reports: &[ReleaseReport<ProviderError>], format: Format) {
    if format == Format::Human {
        for l in release_lines(reports) {
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
                    let why = crate::explain_render::unmet_reasons(u, spec, host);
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
        println!(
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
        for l in release_lines(rolled_back) {
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
            code = "berth::provider::failed",
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
