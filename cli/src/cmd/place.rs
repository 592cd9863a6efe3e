//! `berth place --hosts PATH... SPEC...`: fleet placement. Loads every file in
//! parallel, places each container with `berth_engine::place`, prints where
//! each went (stdout) and why the others fit nowhere (stderr, or in the JSON),
//! and optionally explains one host in full (`--explain`) through the
//! single-host solver and writes run configurations (`--out`).
//!
//! Documents are told apart by their kind (`host:` or `container:`), not by
//! which list named their file. Exit 0 when every container is placed, 1 when
//! one is not or the input is invalid, 2 for an `--explain` host not in the
//! fleet. See docs/placement.md.

use std::fmt::{self, Write as _};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use berth_engine::emit::emitter;
use berth_engine::place::{
    place_with_state, read_states, repeated_names, HostReason, Placement, ReasonCount,
};
use berth_engine::plan::Plan;
use berth_engine::solve::solve;
use berth_engine::state::State;
use berth_specs::discover::{discover, Folders};
use berth_specs::load::{load_file, LoadOptions};
use berth_specs::{Code, Diagnostic, Document, HostManifest, NeedSpec, Source, Span};
use rayon::prelude::*;
use serde_json::json;

use crate::args::{Emit, Format, PlaceArgs};
use crate::exit;
use crate::out::outln;
use crate::render::{self, diagnostic_json, print_diagnostics};
use crate::report::print_container_notes;

/// Unplaced containers explained with `--explain` in full; past this the
/// output would drown the reader (the JSON has them all).
const EXPLAIN_LIMIT: usize = 50;

/// A placement diagnostic for people: code, message, help; no snippet (a
/// fleet file is megabytes, and each location is in the message).
struct PlaceDiag {
    code: Code,
    message: String,
    help: Option<String>,
}

impl fmt::Debug for PlaceDiag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for PlaceDiag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PlaceDiag {}

impl miette::Diagnostic for PlaceDiag {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code.as_str()))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
}

fn print_place_diag(d: PlaceDiag) {
    render::install_hook();
    eprintln!("{:?}", miette::Report::new(d));
}

fn at(source: &Source, span: Span) -> String {
    format!("{}:{}", render::path(&source.path), span.line)
}

/// Timings on stderr with `BERTH_PLACE_TIMINGS=1` (docs/performance.md uses
/// them for the parsing share).
struct Timer {
    on: bool,
    start: Instant,
    last: Instant,
}

impl Timer {
    fn new() -> Timer {
        let now = Instant::now();
        Timer {
            on: std::env::var_os("BERTH_PLACE_TIMINGS").is_some_and(|v| v == "1"),
            start: now,
            last: now,
        }
    }
    fn lap(&mut self, what: &str) {
        if self.on {
            let now = Instant::now();
            eprintln!(
                "timing: {what:<8} {:>8.1} ms (total {:.1} ms)",
                (now - self.last).as_secs_f64() * 1e3,
                (now - self.start).as_secs_f64() * 1e3
            );
            self.last = now;
        }
    }
}

pub fn run(args: PlaceArgs) -> anyhow::Result<u8> {
    let emit = crate::args::emitter_with(
        args.emit,
        args.lxc_net_index,
        args.cdi,
        args.compose_file.as_deref(),
    )?;
    let mut timer = Timer::new();
    // One walk over both lists: documents are told apart by kind, not list.
    let paths: Vec<PathBuf> = args.hosts.iter().chain(&args.specs).cloned().collect();
    let found = discover(&paths, Folders::Walk);
    let files: Vec<PathBuf> = found.files.into_iter().map(|f| f.path).collect();
    let opts = LoadOptions {
        max_file_size: args.max_file_size,
        skip_foreign: false,
    };
    let loaded: Vec<_> = files.par_iter().map(|f| load_file(f, &opts)).collect();
    let mut hosts: Vec<HostManifest> = Vec::new();
    let mut specs: Vec<NeedSpec> = Vec::new();
    let mut diagnostics: Vec<Diagnostic> = found.diagnostics;
    for l in loaded {
        diagnostics.extend(l.diagnostics);
        for d in l.documents {
            match d {
                Document::Host(h) => hosts.push(h),
                Document::Need(s) => specs.push(s),
            }
        }
    }
    timer.lap("load");
    if diagnostics.iter().any(Diagnostic::is_error) {
        if args.format == Format::Json {
            // Tools piping stdout get data, not an empty stream.
            let list: Vec<_> = diagnostics.iter().map(diagnostic_json).collect();
            outln!("{}", json!({ "diagnostics": list }));
        } else {
            print_diagnostics(&diagnostics);
        }
        return Ok(exit::INVALID);
    }
    print_diagnostics(&diagnostics);
    if let Some(code) = duplicates(&hosts, &specs, args.format) {
        return Ok(code);
    }
    let explain = match &args.explain {
        None => None,
        Some(name) => match hosts.iter().position(|h| &h.host == name) {
            Some(i) => Some(i),
            None => {
                print_place_diag(PlaceDiag {
                    code: Code::PlaceUnknownHost,
                    message: format!(
                        "--explain names host `{}`, which is not in the fleet",
                        render::escape(name)
                    ),
                    help: Some(format!("the fleet has {} host(s)", hosts.len())),
                });
                return Ok(exit::USAGE);
            }
        },
    };

    timer.lap("check");
    let host_refs: Vec<&HostManifest> = hosts.iter().collect();
    let spec_refs: Vec<&NeedSpec> = specs.iter().collect();
    // Each host's state where berth keeps it: what runs there counts.
    let states = match read_states(&host_refs, args.state_dir.as_deref()) {
        Ok(s) => s,
        Err(e) => return Ok(crate::report::report_store(&e, args.format)),
    };
    timer.lap("state");
    let mut placement = place_with_state(&host_refs, &states, &spec_refs);
    timer.lap("place");

    if let Some(dir) = &args.out {
        write_out(dir, emit, &host_refs, &states, &spec_refs, &mut placement)?;
        timer.lap("out");
    }
    let explained = explain.map(|h| explain_host(h, &host_refs, &states, &spec_refs, &placement));
    let with_state: Vec<bool> = states.iter().map(has_state).collect();
    match args.format {
        Format::Json => print_json(
            &host_refs,
            &spec_refs,
            &placement,
            &with_state,
            explained.as_ref(),
        )?,
        Format::Human => print_human(
            &host_refs,
            &spec_refs,
            &placement,
            &with_state,
            explained.as_ref(),
        )?,
    }
    timer.lap("output");
    Ok(if placement.unplaced == 0 {
        exit::OK
    } else {
        exit::INVALID
    })
}

/// Whether a host's state holds, reserves or records anything: such a host
/// "had state"; the others started empty.
fn has_state(s: &State) -> bool {
    !(s.holdings.is_empty() && s.reservations.is_empty() && s.provided.is_empty())
}

/// Host names, at most `limit`, then "and N more".
fn name_list(hosts: &[&HostManifest], which: impl Iterator<Item = usize>, limit: usize) -> String {
    let all: Vec<usize> = which.collect();
    let mut names: Vec<&str> = all
        .iter()
        .take(limit)
        .map(|&h| hosts[h].host.as_str())
        .collect();
    let more = all.len().saturating_sub(limit);
    let more_text = format!("and {more} more");
    if more > 0 {
        names.push(&more_text);
    }
    names.join(", ")
}

/// Two hosts or two containers with one name would make the output (and
/// `--out DIR/<host>/<container>`) ambiguous: refuse, naming both places. With
/// `--format json` the refusal is data on stdout (`{"diagnostics": [...]}`),
/// like every other invalid input.
fn duplicates(hosts: &[HostManifest], specs: &[NeedSpec], format: Format) -> Option<u8> {
    let h: Vec<_> = hosts
        .iter()
        .map(|h| (h.host.as_str(), &h.source, h.span))
        .collect();
    let s: Vec<_> = specs
        .iter()
        .map(|s| (s.container.as_str(), &s.source, s.span))
        .collect();
    let mut found = duplicate_diags(
        Code::PlaceDuplicateHost,
        "host",
        "each host of a fleet needs its own name",
        &h,
    );
    found.extend(duplicate_diags(
        Code::PlaceDuplicateContainer,
        "container",
        "each container of a release needs its own name",
        &s,
    ));
    if found.is_empty() {
        return None;
    }
    match format {
        Format::Json => {
            let list: Vec<_> = found.iter().map(|(_, d)| diagnostic_json(d)).collect();
            println!("{}", json!({ "diagnostics": list }));
        }
        Format::Human => {
            for (d, _) in found {
                print_place_diag(d);
            }
        }
    }
    Some(exit::INVALID)
}

/// Every name seen twice, for people (the locations in the message, no
/// snippet) and as a located diagnostic (for JSON).
fn duplicate_diags(
    code: Code,
    what: &str,
    help: &str,
    items: &[(&str, &std::sync::Arc<Source>, Span)],
) -> Vec<(PlaceDiag, Diagnostic)> {
    let repeats = repeated_names(items.iter().map(|&(name, ..)| name));
    repeats
        .iter()
        .map(|&(first, second)| {
            let (name, first_source, first_span) = items[first];
            let (_, source, span) = items[second];
            let message = format!(
                "{what} `{name}` is defined twice: {} and {}",
                at(first_source, first_span),
                at(source, span)
            );
            let mut diag = Diagnostic::error(code, message.clone())
                .at(source, span)
                .label("second definition")
                .help(help);
            if std::sync::Arc::ptr_eq(first_source, source) {
                diag = diag.related(first_span, "first definition");
            }
            (
                PlaceDiag {
                    code,
                    message,
                    help: Some(help.into()),
                },
                diag,
            )
        })
        .collect()
}

/// "lack volume `webpages`" and the like: one host count's reason as text.
fn reason_text(r: &ReasonCount) -> String {
    let kn = |k: &dyn fmt::Display, n: &str| format!("{k} `{n}`");
    match &r.reason {
        HostReason::Label { key, value } => format!("lack label {key}={value}"),
        HostReason::Missing { kind, name } => format!("lack {}", kn(kind, name)),
        HostReason::Held { kind, name } => {
            let mut t = format!("hold {} for ", kn(kind, name));
            let names: Vec<String> = r.holders.iter().map(|h| format!("`{h}`")).collect();
            t.push_str(&names.join(", "));
            if r.hosts > r.holders.len() {
                let _ = write!(t, " and {} other(s)", r.hosts - r.holders.len());
            }
            t
        }
        HostReason::ReadOnly { kind, name } => {
            format!("lend {} read-only (needed read-write)", kn(kind, name))
        }
        HostReason::Denied { kind, name } => {
            format!("deny {} by their `allow` list", kn(kind, name))
        }
        HostReason::OutsidePrefix { kind, name } => {
            format!("offer {} only outside the needed prefix", kn(kind, name))
        }
        HostReason::Protocol { kind, name } => {
            format!("offer {} with another protocol", kn(kind, name))
        }
        HostReason::NoNetwork {
            kind,
            name,
            network,
        } => format!("lack network `{network}` that {} lives on", kn(kind, name)),
        HostReason::Exhausted { kind, name } => {
            format!("have no free address or port for {}", kn(kind, name))
        }
        HostReason::NotWritten { host, error } => {
            format!("placed on `{host}`, but its configuration was not written: {error}")
        }
    }
}

fn histogram_text(p: &Placement, reasons: &[ReasonCount]) -> String {
    if p.hosts == 0 {
        return "the fleet has no hosts (no host manifest among the inputs)".into();
    }
    let parts: Vec<String> = reasons
        .iter()
        .map(|r| format!("{} {}", r.hosts, reason_text(r)))
        .collect();
    format!("0/{} hosts: {}", p.hosts, parts.join(", "))
}

/// One host's full explanation for each container that could not be placed:
/// the single-host solver on what was placed there plus that container.
struct Explained {
    host: usize,
    on_host: Vec<usize>,
    plans: Vec<(usize, Plan)>,
    truncated: usize,
}

fn explain_host(
    h: usize,
    hosts: &[&HostManifest],
    states: &[State],
    specs: &[&NeedSpec],
    p: &Placement,
) -> Explained {
    let on_host = p.on_host(h);
    let unplaced: Vec<usize> = p
        .placements
        .iter()
        .filter(|c| c.host.is_none())
        .map(|c| c.spec)
        .collect();
    let truncated = unplaced.len().saturating_sub(EXPLAIN_LIMIT);
    let host = hosts[h];
    let state = &states[h];
    let plans = unplaced
        .par_iter()
        .take(EXPLAIN_LIMIT)
        .map(|&c| {
            let mut set: Vec<&NeedSpec> = on_host.iter().map(|&i| specs[i]).collect();
            set.push(specs[c]);
            (c, solve(host, state, &set))
        })
        .collect();
    Explained {
        host: h,
        on_host,
        plans,
        truncated,
    }
}

/// The spec's `placement` labels this host does not carry (the single-host
/// solver does not look at labels; placement does).
fn missing_labels<'a>(spec: &'a NeedSpec, host: &HostManifest) -> Vec<(&'a str, &'a str)> {
    spec.placement
        .iter()
        .filter(|(k, v)| host.labels.get(*k) != Some(*v))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn print_human(
    hosts: &[&HostManifest],
    specs: &[&NeedSpec],
    p: &Placement,
    with_state: &[bool],
    explained: Option<&Explained>,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let width = specs.iter().map(|s| s.container.len()).max().unwrap_or(0);
    for c in &p.placements {
        if let Some(h) = c.host {
            writeln!(
                out,
                "{:<width$}  -> {}",
                specs[c.spec].container, hosts[h].host
            )?;
        }
    }
    out.flush()?;
    for c in p.placements.iter().filter(|c| c.host.is_none()) {
        let s = specs[c.spec];
        print_place_diag(PlaceDiag {
            code: Code::PlaceUnplaced,
            message: format!(
                "container `{}` ({}) fits on no host",
                s.container,
                at(&s.source, s.span)
            ),
            help: Some(histogram_text(p, &c.reasons)),
        });
    }
    if let Some(e) = explained {
        let host = hosts[e.host];
        let names: Vec<&str> = e
            .on_host
            .iter()
            .map(|&i| specs[i].container.as_str())
            .collect();
        eprintln!(
            "host `{}` ({}) runs {} container(s){}{}",
            host.host,
            at(&host.source, host.span),
            names.len(),
            if names.is_empty() { "" } else { ": " },
            names.join(", ")
        );
        for (c, plan) in &e.plans {
            let s = specs[*c];
            let Some(cp) = plan.container(&s.container) else {
                continue;
            };
            for (k, v) in missing_labels(s, host) {
                eprintln!(
                    "host `{}` lacks label {k}={v}, which container `{}` asks for ({})",
                    host.host,
                    s.container,
                    at(&s.source, s.span)
                );
            }
            if cp.satisfied {
                // Only labels keep it off this host.
                continue;
            }
            eprintln!(
                "why container `{}` cannot run on `{}`:",
                s.container, host.host
            );
            let diags: Vec<Diagnostic> = cp
                .unmet
                .iter()
                .map(|u| crate::explain_render::unmet_diagnostic(u, s, host, None))
                .collect();
            print_diagnostics(&diags);
        }
        if e.truncated > 0 {
            eprintln!(
                "{} more unplaced container(s) not explained here (--format json has every placement)",
                e.truncated
            );
        }
    }
    // Said only when some host had state: a fleet checked in CI has none,
    // and its output stays what it was (the JSON always says).
    let n_state = with_state.iter().filter(|&&w| w).count();
    if n_state > 0 {
        eprintln!(
            "state: {n_state} host(s) had state ({}); {} started empty",
            name_list(hosts, (0..hosts.len()).filter(|&h| with_state[h]), 10),
            hosts.len() - n_state
        );
    }
    eprintln!(
        "placed {} of {} container(s) on {} host(s); {} unplaced",
        p.placed,
        p.placed + p.unplaced,
        p.hosts,
        p.unplaced
    );
    Ok(())
}

fn print_json(
    hosts: &[&HostManifest],
    specs: &[&NeedSpec],
    p: &Placement,
    with_state: &[bool],
    explained: Option<&Explained>,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    write!(
        out,
        "{{\"hosts\":{},\"placed\":{},\"unplaced\":{},\"placements\":[",
        p.hosts, p.placed, p.unplaced
    )?;
    // Streamed: 150,000 placements need no intermediate tree.
    for (i, c) in p.placements.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        let s = specs[c.spec];
        let v = match c.host {
            Some(h) => json!({"container": s.container, "host": hosts[h].host}),
            None => json!({
                "container": s.container,
                "host": null,
                "file": s.source.path,
                "line": s.span.line,
                "reasons": c.reasons,
            }),
        };
        serde_json::to_writer(&mut out, &v)?;
    }
    out.write_all(b"]")?;
    let (had, empty): (Vec<usize>, Vec<usize>) = (0..hosts.len()).partition(|&h| with_state[h]);
    let names = |v: &[usize]| -> Vec<&str> { v.iter().map(|&h| hosts[h].host.as_str()).collect() };
    out.write_all(b",\"state\":")?;
    serde_json::to_writer(
        &mut out,
        &json!({"with_state": names(&had), "started_empty": names(&empty)}),
    )?;
    if let Some(e) = explained {
        let unmet: Vec<_> = e
            .plans
            .iter()
            .filter_map(|(c, plan)| {
                let s = specs[*c];
                plan.container(&s.container).map(|cp| {
                    let labels: Vec<_> = missing_labels(s, hosts[e.host])
                        .into_iter()
                        .map(|(k, v)| json!({"key": k, "value": v}))
                        .collect();
                    json!({
                        "container": s.container,
                        "satisfied": cp.satisfied,
                        "missing_labels": labels,
                        "unmet": cp.unmet,
                    })
                })
            })
            .collect();
        let on_host: Vec<&str> = e
            .on_host
            .iter()
            .map(|&i| specs[i].container.as_str())
            .collect();
        out.write_all(b",\"explain\":")?;
        serde_json::to_writer(
            &mut out,
            &json!({
                "host": hosts[e.host].host,
                "containers": on_host,
                "unplaced": unmet,
                "not_explained": e.truncated,
            }),
        )?;
    }
    out.write_all(b"}\n")?;
    out.flush()?;
    Ok(())
}

/// Writes `DIR/<host>/<container>.<ext>` for every placed container, from the
/// single-host solver's plan of each host on its state (hosts in parallel), so
/// each file carries what `apply` there would give. A container whose
/// configuration needs provider steps first is reported, not written. A placed
/// container whose file cannot be made (the solver refuses it there, the
/// emitter fails, the write fails) is taken back: it counts as unplaced, and
/// nothing is written for it.
fn write_out(
    dir: &Path,
    emit: Emit,
    hosts: &[&HostManifest],
    states: &[State],
    specs: &[&NeedSpec],
    p: &mut Placement,
) -> anyhow::Result<()> {
    // Grouped in one pass: on_host per host would scan every placement
    // once per host.
    let by_host = p.by_host();
    type Failed = Vec<(usize, String)>;
    let results: Vec<anyhow::Result<(Vec<String>, Failed)>> = (0..hosts.len())
        .into_par_iter()
        .map(|h| {
            let on = &by_host[h];
            if on.is_empty() {
                return Ok((Vec::new(), Vec::new()));
            }
            let host = hosts[h];
            let set: Vec<&NeedSpec> = on.iter().map(|&i| specs[i]).collect();
            let plan = solve(host, &states[h], &set);
            let hdir = dir.join(&host.host);
            std::fs::create_dir_all(&hdir)
                .with_context(|| format!("cannot create {}", hdir.display()))?;
            let mut skipped = Vec::new();
            let mut failed = Vec::new();
            for ((&c, spec), cp) in on.iter().zip(&set).zip(&plan.containers) {
                if !cp.satisfied {
                    failed.push((c, "the single-host solver does not satisfy it there".to_string()));
                    continue;
                }
                let single = plan.only(&cp.container).expect("a container of this plan");
                let pending = !single.steps.is_empty();
                match (pending, emitter::render(emit, &single, &[spec])) {
                    (false, Ok(out)) => {
                        print_container_notes(&out.notes);
                        let path = hdir.join(format!("{}.{}", spec.container, emit.extension()));
                        if let Err(e) = std::fs::write(&path, out.text) {
                            failed.push((c, format!("cannot write {}: {e}", path.display())));
                        }
                    }
                    (true, _) => skipped.push(format!(
                        "{}/{}: needs provider steps on the host first (`berth apply` there writes it)",
                        host.host, spec.container
                    )),
                    (false, Err(e)) => failed.push((c, format!("{e:#}"))),
                }
            }
            Ok((skipped, failed))
        })
        .collect();
    for r in results {
        let (skipped, failed) = r?;
        for line in skipped {
            eprintln!("warning: not written: {line}");
        }
        for (c, error) in failed {
            let host = p.placements[c]
                .host
                .map(|h| hosts[h].host.clone())
                .unwrap_or_default();
            eprintln!("error: not written: {host}/{}: {error}", specs[c].container);
            p.unplace(c, HostReason::NotWritten { host, error });
        }
    }
    Ok(())
}
