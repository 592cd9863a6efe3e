//! `berth check PATH...`: validate need specs and host manifests, for CI.
//!
//! Files named on the command line are always berth files; folders are walked
//! (like a repository in CI) and YAML documents without a top-level `berth:` key
//! are skipped and counted, never errors. Diagnostics go to stderr (or stdout as
//! JSON with `--format json`); the exit code says whether anything failed.
//!
//! A Dockerfile (named, or found in a folder) is checked for its
//! `io.berth.spec` label (`berth_specs::label::check_dockerfile`); one without
//! the label is not a berth file and is not counted at all.

use std::path::{Path, PathBuf};

use berth_specs::load::{load_file, LoadOptions, Loaded};
use berth_specs::validate::live_checks;
use berth_specs::{Diagnostic, Severity};
use rayon::prelude::*;

use crate::args::{CheckArgs, Format};
use crate::exit;
use crate::render::{diagnostic_json, print_diagnostics};

/// Folders never walked: build output and VCS internals are not manifests.
const SKIP_DIRS: &[&str] = &["target", ".git", "node_modules"];

/// One file to check, and whether it was named (always a berth file) or found
/// by walking a folder (foreign YAML is skipped).
struct Input {
    path: PathBuf,
    named: bool,
}

/// `Dockerfile`, `Dockerfile.NAME` or `NAME.Dockerfile`.
fn is_dockerfile(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        n == "Dockerfile" || n.starts_with("Dockerfile.") || n.ends_with(".Dockerfile")
    })
}

/// A Dockerfile's label, checked; `None` when it has none (not a berth file).
fn check_dockerfile(input: &Input, max: u64) -> Option<Loaded> {
    let text = match std::fs::metadata(&input.path) {
        Ok(m) if m.len() > max => Err(std::io::Error::other(format!(
            "the file is {} bytes, more than the limit of {max} bytes",
            m.len()
        ))),
        Ok(_) => std::fs::read_to_string(&input.path),
        Err(e) => Err(e),
    };
    match text {
        Ok(text) => berth_specs::label::check_dockerfile(&input.path, &text),
        Err(e) => Some(Loaded {
            diagnostics: vec![io_error(&input.path, &e)],
            ..Loaded::default()
        }),
    }
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// Collects YAML files under `dir`, sorted, without following symlinked folders
/// (a link loop must not hang CI).
fn walk(dir: &Path, out: &mut Vec<Input>, errors: &mut Vec<Diagnostic>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(io_error(dir, &e));
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            let name = entry.file_name();
            if !SKIP_DIRS.iter().any(|s| name == *s) {
                walk(&path, out, errors);
            }
        } else if (is_yaml(&path) || is_dockerfile(&path)) && (ft.is_file() || path.is_file()) {
            out.push(Input { path, named: false });
        }
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error(
        berth_specs::Code::IoRead,
        format!("cannot read `{}`: {e}", path.display()),
    )
    .at_file(&berth_specs::Source::new(path, ""))
}

pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    let mut inputs = Vec::new();
    let mut walk_errors = Vec::new();
    for p in &args.paths {
        if p.is_dir() {
            walk(p, &mut inputs, &mut walk_errors);
        } else {
            inputs.push(Input {
                path: p.clone(),
                named: true,
            });
        }
    }
    let results: Vec<Option<Loaded>> = inputs
        .par_iter()
        .map(|input| {
            let opts = LoadOptions {
                max_file_size: args.max_file_size,
                skip_foreign: !input.named,
            };
            if is_dockerfile(&input.path) {
                return check_dockerfile(input, args.max_file_size);
            }
            let mut loaded = load_file(&input.path, &opts);
            // A network provider's engine range must leave berth's addresses alone.
            let overlaps: Vec<Diagnostic> = loaded
                .documents
                .iter()
                .filter_map(|d| match d {
                    berth_specs::Document::Host(h) => Some(berth_specs::engine_net::ip_range_overlaps(h)),
                    berth_specs::Document::Need(_) => None,
                })
                .flatten()
                .collect();
            loaded.diagnostics.extend(overlaps);
            if input.named && loaded.examined == 0 && loaded.diagnostics.is_empty() {
                // An empty file named on the command line is a mistake (a
                // wrong path, a truncated file), not a pass.
                let d = Diagnostic::error(
                    berth_specs::Code::UnknownDocument,
                    "the file holds no document",
                )
                .help("a need spec starts with `berth: 1` and `container: NAME`, a host manifest with `berth: 1` and `host: NAME`")
                .at_file(&berth_specs::Source::new(&input.path, ""));
                loaded.diagnostics.push(d);
            }
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

    let mut diagnostics = walk_errors;
    let (mut documents, mut skipped) = (0, 0);
    // Dockerfiles without the label are not berth files: not counted.
    let files = results.iter().filter(|r| r.is_some()).count();
    for r in results.into_iter().flatten() {
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
                "files": files,
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

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
