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
use berth_engine::state::State;
use berth_specs::{Code, Diagnostic, HostManifest, Kind, NeedSpec};

use crate::args::Format;
use crate::out::outln;
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

/// For a full pool: the reservations in it kept for names nobody holds now
/// (stable addresses outlive a release), each with the `berth release --purge`
/// that frees it. Empty without a state or without such reservations.
fn released_in_pool(cx: &Context<'_>, pool: &str) -> String {
    let Some(state) = cx.state else {
        return String::new();
    };
    let kept: Vec<String> = state
        .reservations
        .values()
        .filter(|r| r.kind == *cx.kind && r.pool == pool && r.holder.is_none())
        .map(|r| match &r.last_holder {
            Some(c) => format!(
                "`{}` = {} (released by `{c}`; `berth release --purge {c}` frees it)",
                r.name, r.value
            ),
            None => format!("`{}` = {}", r.name, r.value),
        })
        .collect();
    let singular = cx.kind.scalar_unit();
    let plural = if singular.ends_with('s') {
        format!("{singular}es")
    } else {
        format!("{singular}s")
    };
    let unit = (singular, plural.as_str());
    match kept.len() {
        0 => String::new(),
        1 => format!("; 1 {} is kept for a released name: {}", unit.0, kept[0]),
        n if n <= 3 => format!(
            "; {n} {} are kept for released names: {}",
            unit.1,
            kept.join(", ")
        ),
        n => format!(
            "; {n} {} are kept for released names, among them {} (`berth hosts show` lists them)",
            unit.1,
            kept[..3].join(", ")
        ),
    }
}

/// Whether a provide's name is a glob pattern (or a pool's `*`), which serves
/// each name it matches once, rather than one exactly named resource.
fn is_pattern(provide: &str) -> bool {
    provide.contains(['*', '?', '['])
}

/// What a pool of `kind` hands out (`port`, `address`), or the kind itself.
fn unit_or_kind(kind: &Kind) -> String {
    if kind.has_scalar() {
        kind.scalar_unit().into()
    } else {
        kind.to_string()
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
    /// The host's state, when the caller has it: a full pool then names the
    /// reservations kept for released names.
    pub state: Option<&'a State>,
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
            // A pattern or pool serves each name once: two containers of one
            // plan asking for the same name clash on the name, however many
            // values the pool has left.
            if holder.in_plan && is_pattern(&candidate.provide) {
                format!(
                    "container `{}` of this plan needs {kind} `{}` too, and {} serves each name once, to one container (the name clashes, not the {}s: give each container its own name, like `{}-{container}`)",
                    holder.container,
                    cx.name,
                    cand(kind, candidate, host_file),
                    unit_or_kind(kind),
                    cx.name,
                )
            } else if holder.in_plan {
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
            let mut text = if *in_plan {
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
            };
            text.push_str(&released_in_pool(cx, pool));
            text
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
        Reason::ReservedFor {
            candidate,
            container: last,
            changed_spec,
        } => {
            if *changed_spec {
                format!(
                    "{} is kept for `{last}` as it was applied; this spec differs from that one (`--replace` gives it to this spec)",
                    cand(kind, candidate, host_file)
                )
            } else {
                format!(
                    "{} is kept for `{last}`, which held it last (`--replace` gives it away; `berth release --purge {last}` frees it)",
                    cand(kind, candidate, host_file)
                )
            }
        }
        Reason::ReservedNetwork { name } => format!(
            "`{name}` is an engine-reserved network name (host networking, no network, the default bridge or another container's namespace): only a provide naming it exactly in the host manifest may serve it, never a pattern or a provider"
        ),
        Reason::ReservationStale { pool, value } => format!(
            "the name is reserved as {value} in pool {pool}, which the manifest no longer has (`berth release --purge` frees the name)"
        ),
    }
}

/// Every rejection of an unmet need of `spec`, one sentence each, in the
/// order the solver considered the candidates.
pub fn unmet_reasons(
    u: &Unmet,
    spec: Option<&NeedSpec>,
    host: &HostManifest,
    state: Option<&State>,
) -> Vec<String> {
    let cx = Context {
        kind: &u.kind,
        name: &u.name,
        container: &u.container,
        image: spec.and_then(|s| s.image.as_deref()),
        host_file: &host.source.path,
        state,
    };
    u.reasons.iter().map(|r| reason_text(&cx, r)).collect()
}

/// The diagnostic for one unmet need of `spec`.
pub fn unmet_diagnostic(
    u: &Unmet,
    spec: &NeedSpec,
    host: &HostManifest,
    state: Option<&State>,
) -> Diagnostic {
    let help: Vec<String> = unmet_reasons(u, Some(spec), host, state)
        .into_iter()
        .map(|r| format!("- {r}"))
        .collect();
    Diagnostic::error(Code::NeedUnmet, unmet_message(u, host))
        .at(&spec.source, u.span)
        .label(format!("{} `{}` needed here", u.kind, u.name))
        .help(help.join("\n"))
}

/// The plan as JSON for tools: the plan's own data, and in each `unmet[]`
/// entry the text a person would read, for CI annotations: `message` (the
/// headline of the `berth::need::unmet` diagnostic), `explanation[]` (one
/// sentence per entry of `reasons[]`, same order) and `line`.
pub fn plan_json(
    plan: &Plan,
    specs: &[&NeedSpec],
    host: &HostManifest,
    state: Option<&State>,
) -> serde_json::Value {
    let mut v = serde_json::to_value(plan).expect("plans serialize");
    let Some(containers) = v.get_mut("containers").and_then(|c| c.as_array_mut()) else {
        return v;
    };
    for (c, cv) in plan.containers.iter().zip(containers) {
        let spec = specs.iter().find(|s| s.container == c.container).copied();
        let Some(list) = cv.get_mut("unmet").and_then(|u| u.as_array_mut()) else {
            continue;
        };
        for (u, uv) in c.unmet.iter().zip(list) {
            let Some(obj) = uv.as_object_mut() else {
                continue;
            };
            obj.insert("message".into(), unmet_message(u, host).into());
            obj.insert("line".into(), u.span.line.into());
            obj.insert(
                "explanation".into(),
                unmet_reasons(u, spec, host, state).into(),
            );
        }
    }
    v
}

/// The headline of an unmet need.
fn unmet_message(u: &Unmet, host: &HostManifest) -> String {
    format!(
        "{} `{}` of container `{}` cannot be met on host `{}`",
        u.kind, u.name, u.container, host.host
    )
}

/// Every unmet need of `plan` as diagnostics, in spec order.
pub fn unmet_diagnostics(
    plan: &Plan,
    specs: &[&NeedSpec],
    host: &HostManifest,
    state: Option<&State>,
) -> Vec<Diagnostic> {
    plan.containers
        .iter()
        .flat_map(|c| {
            let spec = specs.iter().find(|s| s.container == c.container);
            c.unmet
                .iter()
                .filter_map(move |u| spec.map(|s| unmet_diagnostic(u, s, host, state)))
        })
        .collect()
}

/// Reports an unsatisfiable plan: the diagnostics on stderr for people, or the
/// plan itself on stdout for `--format json`.
pub fn report_unsatisfied(
    host: &HostManifest,
    specs: &[&NeedSpec],
    plan: &Plan,
    format: Format,
    state: Option<&State>,
) {
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&plan_json(plan, specs, host, state))
                .expect("plans serialize")
        ),
        Format::Human => {
            render::print_diagnostics(&unmet_diagnostics(plan, specs, host, state));
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
