//! Human rendering of the solver's explanations: an unmet need becomes a miette
//! diagnostic (code `berth::need::unmet`) pointing at the need's line in its
//! spec, with one help line per rejected candidate, each naming the host
//! manifest's `file:line`.
//!
//! The solver only produces data ([`berth_engine::explain`]); every sentence
//! berth prints about a failed match is written here, so wording changes never
//! touch the solver and `--format json` stays the data itself.

use std::path::Path;

use berth_engine::explain::{Candidate, Origin, Reason, Unmet};
use berth_engine::plan::Plan;
use berth_specs::{Code, Diagnostic, HostManifest, Kind, NeedSpec};

use crate::args::Format;
use crate::render;

/// Where a candidate is: `host.yaml:12`, or the state for provider records.
fn at(c: &Candidate, host_file: &Path) -> String {
    match (c.origin, c.span) {
        (Origin::State, _) => "recorded in the state".to_string(),
        (_, Some(s)) => format!("{}:{}", render::path(host_file), s.line),
        (_, None) => render::path(host_file),
    }
}

fn cand(kind: &Kind, c: &Candidate, host_file: &Path) -> String {
    match c.origin {
        Origin::Provider => format!("provider for {kind} `{}` ({})", c.provide, at(c, host_file)),
        _ => format!("{kind} `{}` ({})", c.provide, at(c, host_file)),
    }
}

/// What a reason is about: the need and where the host manifest is.
pub struct Context<'a> {
    /// Kind of the need.
    pub kind: &'a Kind,
    /// Resource name of the need.
    pub name: &'a str,
    /// The container that needs it.
    pub container: &'a str,
    /// Its image, if any (for `allow: [image:...]`).
    pub image: Option<&'a str>,
    /// The host manifest's path, for `file:line`.
    pub host_file: &'a Path,
}

/// One reason as a sentence.
pub fn reason_text(cx: &Context<'_>, r: &Reason) -> String {
    let (kind, container, image, host_file) = (cx.kind, cx.container, cx.image, cx.host_file);
    match r {
        Reason::NotProvided => format!(
            "the host provides no {kind} named `{}` and no pattern matching it",
            cx.name
        ),
        Reason::NoProvider {
            kind,
            name,
            considered,
        } => {
            let mut text = format!("no provider handles {kind} `{name}`");
            let why: Vec<String> = considered
                .iter()
                .map(|c| format!("{} does not cover `{name}`", cand(kind, c, host_file)))
                .collect();
            if !why.is_empty() {
                text.push_str(": ");
                text.push_str(&why.join("; "));
            }
            text
        }
        Reason::ReadOnlyConflict { candidate } => format!(
            "{} is lent read-only and the need is read-write (add `read_only: true` to the need if reading is enough)",
            cand(kind, candidate, host_file)
        ),
        Reason::NotAllowed { candidate, allow } => format!(
            "{} allows only [{}], which matches neither container `{container}` nor {}",
            cand(kind, candidate, host_file),
            allow.join(", "),
            match image {
                Some(i) => format!("image `{i}`"),
                None => "an image (the spec names none)".to_string(),
            }
        ),
        Reason::OutsidePrefix {
            candidate,
            prefix,
            offered,
            reserved_from: Some(pool),
        } => {
            // The candidate is the reservation (recorded in the state); its span
            // is the pool's line in the manifest.
            let pool_at = match candidate.span {
                Some(s) => format!(" ({}:{})", render::path(host_file), s.line),
                None => String::new(),
            };
            format!(
                "the name is reserved as {offered} (from pool {pool}{pool_at}), outside the \
                 requested prefix {prefix}; the reservation is its only candidate \
                 (`berth release --purge` frees the name)"
            )
        }
        Reason::OutsidePrefix {
            candidate,
            prefix,
            offered,
            reserved_from: None,
        } => format!(
            "{} offers {offered}, outside the requested prefix {prefix}",
            cand(kind, candidate, host_file)
        ),
        Reason::FamilyMismatch { candidate, offered } => format!(
            "{} offers {offered}, which is not {kind}",
            cand(kind, candidate, host_file)
        ),
        Reason::ProtocolMismatch {
            candidate,
            wanted,
            offered,
        } => format!(
            "{} is {offered}; the need wants {wanted}",
            cand(kind, candidate, host_file)
        ),
        Reason::HeldBy { candidate, holder } => {
            if holder.in_plan {
                format!(
                    "{} is exclusive and goes to container `{}` of this plan",
                    cand(kind, candidate, host_file),
                    holder.container
                )
            } else {
                format!(
                    "{} is held by container `{}` (`berth release` frees it)",
                    cand(kind, candidate, host_file),
                    holder.container
                )
            }
        }
        Reason::PoolExhausted {
            candidate,
            pool,
            in_plan,
        } => {
            if *in_plan {
                format!(
                    "pool {pool} of {} has no free {} left once the other containers of this plan are served",
                    cand(kind, candidate, host_file),
                    kind.scalar_unit()
                )
            } else {
                format!(
                    "pool {pool} of {} has no free {} left",
                    cand(kind, candidate, host_file),
                    kind.scalar_unit()
                )
            }
        }
        Reason::NetworkUnmet {
            candidate,
            network,
            reasons,
        } => {
            let net_kind = Kind::implied();
            let net_cx = Context {
                kind: &net_kind,
                name: network,
                ..*cx
            };
            let why: Vec<String> = reasons.iter().map(|r| reason_text(&net_cx, r)).collect();
            format!(
                "{} is on network `{network}`, which cannot be met: {}",
                cand(kind, candidate, host_file),
                why.join("; ")
            )
        }
        Reason::ReservationStale { pool, value } => format!(
            "the name is reserved as {value} in pool {pool}, which the manifest no longer has (`berth release --purge` frees the name)"
        ),
    }
}

/// Every rejection of an unmet need of `spec`, one sentence each, in the
/// order the solver considered the candidates.
pub fn unmet_reasons(u: &Unmet, spec: Option<&NeedSpec>, host: &HostManifest) -> Vec<String> {
    let cx = Context {
        kind: &u.kind,
        name: &u.name,
        container: &u.container,
        image: spec.and_then(|s| s.image.as_deref()),
        host_file: &host.source.path,
    };
    u.reasons.iter().map(|r| reason_text(&cx, r)).collect()
}

/// The diagnostic for one unmet need of `spec`.
pub fn unmet_diagnostic(u: &Unmet, spec: &NeedSpec, host: &HostManifest) -> Diagnostic {
    let help: Vec<String> = unmet_reasons(u, Some(spec), host)
        .into_iter()
        .map(|r| format!("- {r}"))
        .collect();
    Diagnostic::error(
        Code::NeedUnmet,
        format!(
            "{} `{}` of container `{}` cannot be met on host `{}`",
            u.kind, u.name, u.container, host.host
        ),
    )
    .at(&spec.source, u.span)
    .label(format!("{} `{}` needed here", u.kind, u.name))
    .help(help.join("\n"))
}

/// Every unmet need of `plan` as diagnostics, in spec order.
pub fn unmet_diagnostics(plan: &Plan, specs: &[&NeedSpec], host: &HostManifest) -> Vec<Diagnostic> {
    plan.containers
        .iter()
        .flat_map(|c| {
            let spec = specs.iter().find(|s| s.container == c.container);
            c.unmet
                .iter()
                .filter_map(move |u| spec.map(|s| unmet_diagnostic(u, s, host)))
        })
        .collect()
}

/// Reports an unsatisfiable plan: the diagnostics on stderr for people, or the
/// plan itself on stdout for `--format json`.
pub fn report_unsatisfied(host: &HostManifest, specs: &[&NeedSpec], plan: &Plan, format: Format) {
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(plan).expect("plans serialize")
        ),
        Format::Human => {
            render::print_diagnostics(&unmet_diagnostics(plan, specs, host));
            if let Some(cycle) = &plan.cycle {
                let path: Vec<String> = cycle
                    .iter()
                    .map(|k| format!("{} `{}`", k.kind, k.name))
                    .collect();
                eprintln!(
                    "{:?}",
                    miette::miette!(
                        code = Code::PlanStepCycle.as_str(),
                        "provider steps depend on each other in a cycle: {}",
                        path.join(" -> ")
                    )
                );
            }
        }
    }
}
