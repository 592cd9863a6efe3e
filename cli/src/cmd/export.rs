//! `berth export kubernetes|nomad --hosts PATH... SPEC...`: a placed fleet as
//! the engine's own files (`berth_engine::export`). Loads like `place` (one
//! walk, documents told apart by kind), prints the files on stdout and what
//! the engine cannot express on stderr (or both in one JSON object). Exit 0
//! when every container was exported, 1 when one was not or the input is
//! invalid. See docs/engines.md.

use std::io::Write as _;
use std::path::PathBuf;

use berth_engine::cdi;
use berth_engine::export::{export, Engine, ExportNote, Options};
use berth_engine::place::repeated_names;
use berth_specs::diag::{Capped, MAX_PER_RUN};
use berth_specs::discover::{discover, Folders};
use berth_specs::load::{load_file, LoadOptions};
use berth_specs::{Code, Diagnostic, Document, HostManifest, NeedSpec};
use serde_json::json;

use crate::args::{ExportArgs, ExportEngine, Format};
use crate::exit;
use crate::render::{capped_json, escape, print_capped};

pub fn run(args: ExportArgs) -> anyhow::Result<u8> {
    let paths: Vec<PathBuf> = args.hosts.iter().chain(&args.specs).cloned().collect();
    let found = discover(&paths, Folders::Walk);
    let mut diagnostics = Capped::run(MAX_PER_RUN);
    diagnostics.extend(found.diagnostics);
    let mut hosts: Vec<HostManifest> = Vec::new();
    let mut specs: Vec<NeedSpec> = Vec::new();
    for f in &found.files {
        // Fleet files, read under the fleet limit as `place` reads them.
        let opts = LoadOptions {
            max_file_size: berth_specs::read::MAX_FLEET_FILE_SIZE,
            ..LoadOptions::default()
        };
        let l = load_file(&f.path, &opts);
        diagnostics.absorb(Some(&f.path), l.diagnostics, l.omitted);
        for d in l.documents {
            match d {
                Document::Host(h) => hosts.push(h),
                Document::Need(s) => specs.push(s),
            }
        }
    }
    for (first, again) in repeated_names(hosts.iter().map(|h| h.host.as_str())) {
        diagnostics.push(
            Diagnostic::error(
                Code::PlaceDuplicateHost,
                format!("host `{}` is given twice", hosts[again].host),
            )
            .at(&hosts[again].source, hosts[again].span)
            .related(hosts[first].span, "first given here"),
        );
    }
    for (first, again) in repeated_names(specs.iter().map(|s| s.container.as_str())) {
        diagnostics.push(
            Diagnostic::error(
                Code::PlaceDuplicateContainer,
                format!("container `{}` is given twice", specs[again].container),
            )
            .at(&specs[again].source, specs[again].span)
            .related(specs[first].span, "first given here"),
        );
    }
    if diagnostics.has_errors() {
        if args.format == Format::Json {
            println!("{}", capped_json(&diagnostics));
        } else {
            print_capped(&diagnostics);
        }
        return Ok(exit::INVALID);
    }
    print_capped(&diagnostics);
    let engine = match args.engine {
        ExportEngine::Kubernetes => Engine::Kubernetes,
        ExportEngine::Nomad => Engine::Nomad,
        ExportEngine::Cdi => return cdi(&args, &hosts),
    };
    if specs.is_empty() {
        eprintln!("error: `berth export` for kubernetes and nomad needs at least one SPEC (the containers to export)");
        return Ok(exit::USAGE);
    }
    let host_refs: Vec<&HostManifest> = hosts.iter().collect();
    let spec_refs: Vec<&NeedSpec> = specs.iter().collect();
    if args.cdi && engine != Engine::Kubernetes {
        eprintln!("error: --cdi is for `berth export kubernetes` (Nomad's docker driver takes no CDI names)");
        return Ok(exit::USAGE);
    }
    let opts = Options {
        node_host_file: args.node_host_file.clone(),
        cdi: args.cdi,
    };
    let out = export(engine, &host_refs, &spec_refs, &opts);
    match args.format {
        Format::Json => emit(&format!("{}\n", serde_json::to_string_pretty(&out)?))?,
        Format::Human => {
            emit(&out.text)?;
            for n in &out.notes {
                eprintln!("note: {}", note_text(n));
            }
            eprintln!(
                "exported {} of {} containers",
                out.placed,
                out.placed + out.unplaced
            );
        }
    }
    Ok(if out.unplaced == 0 {
        exit::OK
    } else {
        exit::INVALID
    })
}

/// Writes the result to stdout. A reader that closed the pipe (`| head`) has
/// all it wanted: that is not an error, and nothing is printed about it.
fn emit(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// One line per note for people; the JSON carries the same as data.
fn note_text(n: &ExportNote) -> String {
    use berth_engine::export::ExportNoteKind as K;
    let what = match &n.kind {
        K::Unplaced { reasons } => {
            let r: Vec<String> = reasons
                .iter()
                .map(|r| {
                    let v = serde_json::to_value(&r.reason).unwrap_or_default();
                    let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                    format!(
                        "{} host(s): {} {} `{}`",
                        r.hosts,
                        field("reason"),
                        field("kind"),
                        field("name")
                    )
                })
                .collect();
            format!("not placed on any host ({}); nothing written for it", r.join(", "))
        }
        K::ProviderMade { host } => format!(
            "made by a provider on `{host}` at apply time, so its value is not in the export (run `berth apply` there first)"
        ),
        K::DeviceNotExpressible { device } => {
            format!("device `{device}` cannot be expressed in this engine; not exported")
        }
        K::PortBindNotExpressible { bind } => {
            format!("the host address {bind} of this port cannot be expressed; the port binds all addresses")
        }
        K::ExtraNetwork { network } => {
            format!("network `{network}` not attached: the engine attaches one network per group")
        }
        K::BadName { name } => format!("`{name}` is not a valid object name here; not exported"),
        K::NoImage => "the spec names no image; fill it in".to_string(),
        K::NotSatisfied { host } => {
            format!("cannot be planned on `{host}`, the host placement chose; not exported")
        }
    };
    let need = if n.need.is_empty() {
        String::new()
    } else {
        format!(" {}", n.need)
    };
    escape(&format!("container `{}`{need}: {what}", n.container)).into_owned()
}

/// `berth export cdi --hosts HOST [--cdi-dir DIR]`: one host's CDI specs,
/// printed (a JSON array) or written where runtimes read them.
fn cdi(args: &ExportArgs, hosts: &[HostManifest]) -> anyhow::Result<u8> {
    let [host] = hosts else {
        eprintln!(
            "error: `berth export cdi` writes the specs of one host; --hosts gave {}",
            hosts.len()
        );
        return Ok(exit::USAGE);
    };
    let (specs, notes) = cdi::specs(host);
    for n in &notes {
        let text = match n {
            cdi::CdiNote::Pattern { kind, name } => format!(
                "{kind} `{name}` is a pattern; CDI devices have concrete names: not written"
            ),
            cdi::CdiNote::AlreadyCdi { kind, name, device } => {
                format!("{kind} `{name}`: `{device}` is a CDI name already: not written")
            }
        };
        if args.format == Format::Human {
            eprintln!("note: {}", escape(&text));
        }
    }
    let written = match &args.cdi_dir {
        Some(dir) => cdi::write(dir, &specs)?,
        None => Vec::new(),
    };
    match args.format {
        Format::Json => emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&json!({
                "engine": "cdi",
                "specs": specs,
                "written": written,
                "notes": notes,
            }))?
        ))?,
        Format::Human if args.cdi_dir.is_none() => {
            emit(&format!("{}\n", serde_json::to_string_pretty(&specs)?))?
        }
        Format::Human => {
            for p in &written {
                eprintln!("wrote {}", escape(&p.display().to_string()));
            }
        }
    }
    Ok(exit::OK)
}
