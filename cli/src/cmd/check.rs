//! `berth check PATH...`: validate need specs and host manifests, for CI.
//!
//! Files named on the command line are always berth files; folders are walked
//! (like a repository in CI, by the one walker [`berth_specs::discover`]) and
//! documents without a top-level `berth:` key in the files found there are
//! skipped and counted, never errors. Diagnostics go to stderr (or stdout as
//! JSON with `--format json`); the exit code says whether anything failed.

use berth_specs::discover::{discover, load_found, Discovered, Folders};
use berth_specs::load::Loaded;
use berth_specs::validate::live_checks;
use berth_specs::{Diagnostic, Severity};
use rayon::prelude::*;

use crate::args::{CheckArgs, Format};
use crate::exit;
use crate::render::{diagnostic_json, print_diagnostics};

pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    let Discovered {
        files: inputs,
        diagnostics: walk_errors,
    } = discover(&args.paths, Folders::Walk);
    let results: Vec<Loaded> = inputs
        .par_iter()
        .map(|input| {
            let mut loaded = load_found(input, args.max_file_size);
            if args.live {
                let live: Vec<Diagnostic> = loaded.documents.iter().flat_map(live_checks).collect();
                loaded.diagnostics.extend(live);
            }
            // File order reads best; the loader reports semantic checks last.
            loaded
                .diagnostics
                .sort_by_key(|d| d.span.map_or(0, |s| s.offset));
            loaded
        })
        .collect();

    let mut diagnostics = walk_errors;
    let (mut documents, mut skipped) = (0, 0);
    for r in results {
        documents += r.examined - r.skipped;
        skipped += r.skipped;
        diagnostics.extend(r.diagnostics);
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let failed = errors > 0 || (args.deny_warnings && warnings > 0);

    match args.format {
        Format::Human => print_diagnostics(&diagnostics),
        Format::Json => {
            let report = serde_json::json!({
                "ok": !failed,
                "files": inputs.len(),
                "documents": documents,
                "skipped": skipped,
                "errors": errors,
                "warnings": warnings,
                "diagnostics": diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    eprintln!(
        "checked {documents} document{} in {} file{}, skipped {skipped} non-berth document{}: {errors} error{}, {warnings} warning{}{}",
        plural(documents),
        inputs.len(),
        plural(inputs.len()),
        plural(skipped),
        plural(errors),
        plural(warnings),
        if args.deny_warnings && warnings > 0 && errors == 0 {
            " (warnings denied)"
        } else {
            ""
        }
    );
    Ok(if failed { exit::INVALID } else { exit::OK })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
