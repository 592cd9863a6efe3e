//! `berth check PATH...`: validate need specs and host manifests, for CI.
//!
//! Files named on the command line are always berth files; folders are walked
//! (like a repository in CI, by the one walker [`berth_specs::discover`]) and
//! documents without a top-level `berth:` key in the files found there are
//! skipped and counted, never errors. Diagnostics go to stderr (or stdout as
//! JSON with `--format json`); the exit code says whether anything failed.
//!
//! Found files named `berth.yaml`/`berth.yml`, and files holding a document
//! shaped like a berth document (`container:` with `needs:`, `host:` with
//! `provides:`), are berth files even without `berth:`
//! ([`berth_specs::discover::load_found`]): CI must not stay green over a
//! berth file that lost its version line. `--verbose` (stderr) and the JSON
//! report (`skipped_files`) list every file skipped, with the reason. The
//! path `-` reads stdin.
//!
//! A Dockerfile (named, or found in a folder) is checked for its
//! `io.berth.spec` label (`berth_specs::label::check_dockerfile`); one without
//! the label is not a berth file and is not counted at all.

use berth_specs::diag::Capped;
use berth_specs::discover::{
    discover, is_dockerfile, load_dockerfile, load_found, Discovered, Folders,
};
use berth_specs::engine_net::ip_range_overlaps;
use berth_specs::load::Loaded;
use berth_specs::validate::live_checks;
use berth_specs::{Diagnostic, Document};
use rayon::prelude::*;

use crate::args::{CheckArgs, Format};
use crate::exit;
use crate::out::outln;
use crate::render::{self, diagnostic_json, omitted_json, print_capped};

pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    let Discovered {
        files: inputs,
        diagnostics: walk_errors,
    } = discover(&args.paths, Folders::WalkWithDockerfiles);
    let results: Vec<Option<Loaded>> = inputs
        .par_iter()
        .map(|input| {
            if is_dockerfile(&input.path) {
                return load_dockerfile(input, args.max_file_size);
            }
            let mut loaded = load_found(input, args.max_file_size);
            // A network provider's engine range must leave berth's addresses alone.
            let overlaps: Vec<Diagnostic> = loaded
                .documents
                .iter()
                .filter_map(|d| match d {
                    Document::Host(h) => Some(ip_range_overlaps(h)),
                    Document::Need(_) => None,
                })
                .flatten()
                .collect();
            loaded.diagnostics.extend(overlaps);
            if args.live {
                let live: Vec<Diagnostic> = loaded
                    .documents
                    .iter()
                    .flat_map(|d| {
                        let mut v = live_checks(d);
                        v.extend(berth_providers::engine::live_network_checks(d));
                        v
                    })
                    .collect();
                loaded.diagnostics.extend(live);
            }
            // File order reads best; the loader reports semantic checks last.
            loaded
                .diagnostics
                .sort_by_key(|d| d.span.map_or(0, |s| s.offset));
            Some(loaded)
        })
        .collect();

    let mut diagnostics = Capped::run(args.max_diagnostics);
    diagnostics.extend(walk_errors);
    let (mut documents, mut skipped) = (0, 0);
    // Dockerfiles without the label are not berth files: not counted, but
    // listed with the skipped files, so nothing is passed over unseen.
    let files = results.iter().filter(|r| r.is_some()).count();
    let mut skipped_files = Vec::new();
    for (input, r) in inputs.iter().zip(results) {
        let Some(r) = r else {
            skipped_files.push(Skipped {
                file: input.path.display().to_string(),
                documents: 0,
                reason: "a Dockerfile without an `io.berth.spec` label",
            });
            continue;
        };
        if r.skipped > 0 {
            skipped_files.push(Skipped {
                file: input.path.display().to_string(),
                documents: r.skipped,
                reason: if r.oversize_skipped {
                    "larger than the size limit (--max-file-size), and its start does not look like a berth file"
                } else if r.skipped == r.examined {
                    "no document has a top-level `berth:` key or a berth shape"
                } else {
                    "some documents have no top-level `berth:` key or berth shape"
                },
            });
        }
        documents += r.examined - r.skipped;
        skipped += r.skipped;
        let file = r
            .diagnostics
            .iter()
            .find_map(|d| d.source.as_ref().map(|s| s.path.clone()));
        diagnostics.absorb(file.as_deref(), r.diagnostics, r.omitted);
    }
    let errors = diagnostics.errors();
    let warnings = diagnostics.warnings();
    let failed = errors > 0 || (args.deny_warnings && warnings > 0);

    match args.format {
        Format::Human => print_capped(&diagnostics),
        Format::Json => {
            let mut report = serde_json::json!({
                "ok": !failed,
                "files": files,
                "documents": documents,
                "skipped": skipped,
                "skipped_files": skipped_files.iter().map(|s| serde_json::json!({
                    "file": s.file,
                    "documents": s.documents,
                    "reason": s.reason,
                })).collect::<Vec<_>>(),
                "errors": errors,
                "warnings": warnings,
                "diagnostics": diagnostics.kept().iter().map(diagnostic_json).collect::<Vec<_>>(),
            });
            for (key, value) in omitted_json(&diagnostics) {
                report[key] = value;
            }
            outln!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    if args.verbose {
        for s in &skipped_files {
            eprintln!(
                "skipped {}: {}{}",
                render::escape_lines(&s.file),
                s.reason,
                if s.documents > 1 {
                    format!(" ({} documents)", s.documents)
                } else {
                    String::new()
                }
            );
        }
    }
    eprintln!(
        "checked {documents} document{} in {} file{}, skipped {skipped} non-berth document{}: {errors} error{}, {warnings} warning{}{}",
        plural(documents),
        files,
        plural(files),
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

/// A file walked over without being checked (or with documents skipped).
struct Skipped {
    file: String,
    documents: usize,
    reason: &'static str,
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
