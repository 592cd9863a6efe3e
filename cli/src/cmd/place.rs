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
use berth_specs::diag::{Capped, MAX_PER_RUN};
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
    let emit = args.emit.emitter()?;
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
    let mut diagnostics = Capped::run(MAX_PER_RUN);
    diagnostics.extend(found.diagnostics);
    for (f, l) in files.iter().zip(loaded) {
        diagnostics.absorb(Some(f), l.diagnostics, l.omitted);
        for d in l.documents {
            match d {
                Document::Host(h) => hosts.push(h),
                Document::Need(s) => specs.push(s),
            }
        }
    }
    timer.lap("load");
    if diagnostics.has_errors() {
        if args.format == Format::Json {
            // Tools piping stdout get data, not an empty stream.
            outln!("{}", render::capped_json(&diagnostics));
        } else {
            render::print_capped(&diagnostics);
        }
        return Ok(exit::INVALID);
    }
    render::print_capped(&diagnostics);
    // `None` when `--explain` names no host of the fleet (refused below,
    // after the name check, so that its refusal comes first).
    let explain: Option<Option<usize>> = match &args.explain {
        None => Some(None),
        Some(name) => hosts.iter().position(|h| &h.host == name).map(Some),
    };
    let host_refs: Vec<&HostManifest> = hosts.iter().collect();
    let spec_refs: Vec<&NeedSpec> = specs.iter().collect();
    // The name check runs beside placement (itself split over the pool),
    // and its refusal, if any, still comes first (the placement is then
    // dropped unused). Both only read.
    let (repeated, placed) = rayon::join(
        || duplicates(&hosts, &specs),
        || {
            explain.is_some().then(|| {
                // Each host's state where berth keeps it: what runs there counts.
                let states = read_states(&host_refs, args.state_dir.as_deref())?;
                let placement = place_with_state(&host_refs, &states, &spec_refs);
                Ok::<_, berth_engine::store::StoreError>((states, placement))
            })
        },
    );
    if !repeated.is_empty() {
        print_duplicates(repeated, args.format);
        return Ok(exit::INVALID);
    }
    let Some(explain) = explain else {
        let name = args.explain.as_deref().unwrap_or_default();
        print_place_diag(PlaceDiag {
            code: Code::PlaceUnknownHost,
            message: format!(
                "--explain names host `{}`, which is not in the fleet",
                render::escape(name)
            ),
            help: Some(format!("the fleet has {} host(s)", hosts.len())),
        });
        return Ok(exit::USAGE);
    };
    let (states, mut placement) =
        match placed.expect("placed when --explain names no host or one of the fleet") {
            Ok(placed) => placed,
            Err(e) => return Ok(crate::report::report_store(&e, args.format)),
        };
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
    let code = if placement.unplaced == 0 {
        exit::OK
    } else {
        exit::INVALID
    };
    // The process ends with this command: freeing a fleet's models one by
    // one (150,000 specs, each a few dozen allocations) only delayed the exit
    // by tens of milliseconds, so the memory goes back to the system whole.
    std::mem::forget((hosts, specs, states, placement));
    Ok(code)
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
/// `--out DIR/<host>/<container>`) ambiguous: each such pair, to be refused
/// by [`print_duplicates`], naming both places.
fn duplicates(hosts: &[HostManifest], specs: &[NeedSpec]) -> Vec<(PlaceDiag, Diagnostic)> {
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
    found
}

/// The refusal of repeated names. With `--format json` it is data on stdout
/// (`{"diagnostics": [...]}`), like every other invalid input.
fn print_duplicates(found: Vec<(PlaceDiag, Diagnostic)>, format: Format) {
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
    let width = specs.iter().map(|s| s.container.len()).max().unwrap_or(0);
    let placed = rendered(&p.placements, |text, _, c| match c.host {
        Some(h) => writeln!(
            text,
            "{:<width$}  -> {}",
            specs[c.spec].container, hosts[h].host
        ),
        None => Ok(()),
    })?;
    write_chunks(&mut std::io::stdout().lock(), &placed)?;
    // The unplaced, each a report in the house style, rendered on all cores
    // (the hook is installed before the first one).
    render::install_hook();
    let unplaced = rendered(&p.placements, |text, _, c| {
        if c.host.is_some() {
            return Ok(());
        }
        let s = specs[c.spec];
        let d = PlaceDiag {
            code: Code::PlaceUnplaced,
            message: format!(
                "container `{}` ({}) fits on no host",
                s.container,
                at(&s.source, s.span)
            ),
            help: Some(histogram_text(p, &c.reasons)),
        };
        writeln!(text, "{:?}", miette::Report::new(d))
    })?;
    write_chunks(&mut std::io::stderr().lock(), &unplaced)?;
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

/// Placements per chunk rendered by one task of [`rendered`].
const CHUNK: usize = 4096;

/// Renders `each(text, index, item)` for every item on all cores, a chunk of
/// items per task; the chunks come back in order, for [`write_chunks`]. At
/// fleet scale (150,000 placements) printing was a tenth of `place`.
fn rendered<T: Sync>(
    items: &[T],
    each: impl Fn(&mut Vec<u8>, usize, &T) -> std::io::Result<()> + Sync,
) -> std::io::Result<Vec<Vec<u8>>> {
    items
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(n, chunk)| {
            let mut text = Vec::new();
            for (i, item) in chunk.iter().enumerate() {
                each(&mut text, n * CHUNK + i, item)?;
            }
            Ok(text)
        })
        .collect()
}

fn write_chunks(out: &mut impl std::io::Write, chunks: &[Vec<u8>]) -> std::io::Result<()> {
    for c in chunks {
        out.write_all(c)?;
    }
    out.flush()
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
    // Typed rows, no tree per placement, rendered on all cores. The keys
    // are in the order `json!` wrote them (sorted), so the bytes are too.
    #[derive(serde::Serialize)]
    struct Row<'a> {
        container: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<&'a Path>,
        host: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reasons: Option<serde_json::Value>,
    }
    let rows = rendered(&p.placements, |text, i, c| {
        let s = specs[c.spec];
        let unplaced = c.host.is_none();
        let row = Row {
            container: &s.container,
            file: unplaced.then_some(s.source.path.as_path()),
            host: c.host.map(|h| hosts[h].host.as_str()),
            line: unplaced.then_some(s.span.line),
            // As a value, for its sorted keys (only the unplaced have any).
            reasons: match unplaced {
                true => Some(serde_json::to_value(&c.reasons).map_err(std::io::Error::other)?),
                false => None,
            },
        };
        if i > 0 {
            text.push(b',');
        }
        serde_json::to_writer(text, &row).map_err(std::io::Error::other)
    })?;
    write_chunks(&mut out, &rows)?;
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
