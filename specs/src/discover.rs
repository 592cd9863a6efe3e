//! Which files a command reads, and the inputs of a host-bound command.
//!
//! [`discover`] is berth's one folder walker: `check`, `plan`, `apply` and
//! `place` all turn their path arguments into files through it, so one rule
//! set decides what a folder holds (YAML and JSON files, sorted by name, build
//! output and VCS folders left out, symlinked folders not followed so a link
//! loop cannot hang CI). Whether a file was *named* or *found* is kept: a named
//! file is always a berth file, a found one may be foreign YAML that `check`
//! skips. `check` also asks for Dockerfiles ([`Folders::WalkWithDockerfiles`]),
//! whose `io.berth.spec` label it compares with the `berth.yaml` beside them
//! ([`load_dockerfile`]).
//!
//! [`load_inputs`] loads what `plan`, `apply`, `status` and `release` work on:
//! exactly one host manifest and need specs with unique container names,
//! every problem as a located [`Diagnostic`] (code `berth::cli::bad-input` for
//! the ones about which file holds what). [`load_inputs_with`] adds specs
//! loaded elsewhere (`--from-image`: an image's label).

use std::path::{Path, PathBuf};

use crate::diag::{Code, Diagnostic, FileOmitted, Omitted};
use crate::json;
use crate::label;
use std::sync::atomic::AtomicUsize;

use crate::load::{load_file, load_str, LoadOptions, Loaded};
use crate::model::{Document, HostManifest, NeedSpec, Source};
use crate::read;
use crate::yaml::{self, Node};

/// Folders never walked: build output and VCS internals are not manifests.
pub const SKIP_DIRS: &[&str] = &["target", ".git", "node_modules"];

/// Extensions of the files a folder yields (compared without case).
pub const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// What to do with a folder among the paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folders {
    /// Walk it for berth files.
    Walk,
    /// Walk it for berth files and Dockerfiles ([`is_dockerfile`]), for
    /// `check`.
    WalkWithDockerfiles,
    /// Keep it as a named path: loading it then reports that it is a folder
    /// (for commands that take files only).
    AsNamed,
}

/// One file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its path.
    pub path: PathBuf,
    /// Named on the command line (always a berth file), or found in a folder
    /// (foreign YAML may be skipped).
    pub named: bool,
}

/// The files under some paths, and the folders that could not be read.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Files in the order of the paths, each folder's files sorted by name.
    pub files: Vec<Found>,
    /// One `berth::io::read` error per folder that could not be listed.
    pub diagnostics: Vec<Diagnostic>,
}

/// Whether a folder yields this file, by its extension.
pub fn is_berth_file_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// `Dockerfile`, `Dockerfile.NAME` or `NAME.Dockerfile`.
pub fn is_dockerfile(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        n == "Dockerfile" || n.starts_with("Dockerfile.") || n.ends_with(".Dockerfile")
    })
}

/// The files under `paths`: a file as named; a folder walked (or kept, see
/// [`Folders`]).
pub fn discover(paths: &[PathBuf], folders: Folders) -> Discovered {
    let mut out = Discovered::default();
    let dockerfiles = folders == Folders::WalkWithDockerfiles;
    for p in paths {
        if folders != Folders::AsNamed && p.is_dir() {
            walk(p, dockerfiles, &mut out);
        } else {
            out.files.push(Found {
                path: p.clone(),
                named: true,
            });
        }
    }
    out
}

fn walk(dir: &Path, dockerfiles: bool, out: &mut Discovered) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.diagnostics.push(
                Diagnostic::error(
                    Code::IoRead,
                    format!("cannot read `{}`: {e}", dir.display()),
                )
                .at_file(&Source::new(dir, "")),
            );
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        // The entry's own type: a symlinked folder is not walked.
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            let name = entry.file_name();
            if !SKIP_DIRS.iter().any(|s| name == *s) {
                walk(&path, dockerfiles, out);
            }
        } else if (is_berth_file_name(&path) || (dockerfiles && is_dockerfile(&path)))
            && (ft.is_file() || path.is_file())
        {
            out.files.push(Found { path, named: false });
        }
    }
}

/// The path that stands for stdin (`berth check -`).
pub const STDIN: &str = "-";

/// How stdin is named in diagnostics.
pub const STDIN_NAME: &str = "<stdin>";

/// `berth.yaml`, `berth.yml` (any case): a file with this name is a berth
/// file wherever it is found, so a missing or misspelt `berth: 1` line is
/// reported instead of the file being skipped as foreign YAML.
pub fn is_berth_named(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        let n = n.to_ascii_lowercase();
        n == "berth.yaml" || n == "berth.yml"
    })
}

/// A document shaped like a berth document even without its `berth:` key:
/// a map with `container:` and `needs:` (a need spec) or `host:` and
/// `provides:` (a host manifest). Walking a folder, such a document is not
/// foreign YAML but a berth file that lost (or misspelt, or commented out)
/// its version line, and is checked as one.
pub fn is_berth_shaped(doc: &Node<'_>) -> bool {
    (doc.get("container").is_some() && doc.get("needs").is_some())
        || (doc.get("host").is_some() && doc.get("provides").is_some())
}

/// Whether any document of a YAML or JSON text is berth-shaped
/// ([`is_berth_shaped`]); documents before a syntax error count.
fn holds_berth_shaped(path: &Path, text: &str) -> bool {
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let budget = AtomicUsize::new(0);
    let parsed = if json {
        json::parse_json(text)
    } else {
        yaml::parse_yaml(text, yaml::Base::default(), &budget)
    };
    parsed.documents.iter().any(is_berth_shaped)
}

/// Reads stdin as `berth check -` does: at most `max_file_size` bytes
/// ([`read::read_stdin`]).
fn load_stdin(opts: &LoadOptions) -> Loaded {
    let name = Path::new(STDIN_NAME);
    match read::read_stdin(opts.max_file_size) {
        Ok(text) => load_str(name, &text, opts),
        Err(e) => Loaded {
            diagnostics: vec![e.diagnostic(name)],
            ..Loaded::default()
        },
    }
}

/// Loads one file as `berth check` reads it: a found file may hold foreign
/// documents (skipped and counted), a named one is always a berth file, and a
/// named file that holds no document at all is an error (a wrong path, a
/// truncated file), not a pass. A found file named `berth.y*ml`
/// ([`is_berth_named`]), or one holding a berth-shaped document
/// ([`is_berth_shaped`]), is a berth file too: CI never stays green over a
/// berth file that only lost its `berth: 1` line. The path `-` is stdin.
///
/// A found file over the size limit cannot be parsed to see its shape: it
/// is skipped as foreign ([`Loaded::oversize_skipped`]) unless it is
/// berth-named or its start looks like berth's ([`read::looks_like_berth`]),
/// in which case it fails (`berth::file::too-large`).
pub fn load_found(found: &Found, max_file_size: u64) -> Loaded {
    let named = found.named || is_berth_named(&found.path);
    let mut opts = LoadOptions {
        max_file_size,
        skip_foreign: !named,
    };
    let stdin = found.named && found.path.as_os_str() == STDIN;
    if !named
        && read::is_oversize(&found.path, max_file_size)
        && !read::looks_like_berth(&found.path)
    {
        return Loaded {
            skipped: 1,
            examined: 1,
            oversize_skipped: true,
            ..Loaded::default()
        };
    }
    let mut loaded = if stdin {
        load_stdin(&opts)
    } else {
        load_file(&found.path, &opts)
    };
    if loaded.skipped > 0 {
        let text = read::read_text(&found.path, max_file_size).unwrap_or_default();
        if holds_berth_shaped(&found.path, &text) {
            opts.skip_foreign = false;
            loaded = load_file(&found.path, &opts);
        }
    }
    if found.named && loaded.examined == 0 && loaded.diagnostics.is_empty() {
        loaded.diagnostics.push(
            Diagnostic::error(Code::UnknownDocument, "the file holds no document")
                .help("a need spec starts with `berth: 1` and `container: NAME`, a host manifest with `berth: 1` and `host: NAME`")
                .at_file(&Source::new(if stdin { Path::new(STDIN_NAME) } else { &found.path }, "")),
        );
    }
    loaded
}

/// A Dockerfile's `io.berth.spec` label, checked against the `berth.yaml`
/// beside it ([`label::check_dockerfile`]); `None` when it has no label (not a
/// berth file, not counted).
pub fn load_dockerfile(found: &Found, max_file_size: u64) -> Option<Loaded> {
    let path = &found.path;
    match read::read_text(path, max_file_size) {
        Ok(text) => label::check_dockerfile(path, &text),
        Err(e) => Some(Loaded {
            diagnostics: vec![e.diagnostic(path)],
            ..Loaded::default()
        }),
    }
}

/// The inputs of a host-bound command.
#[derive(Debug, Default)]
pub struct Inputs {
    /// The host manifest, when the host file holds exactly one and no error.
    pub host: Option<HostManifest>,
    /// The need specs, in the order given, container names unique.
    pub specs: Vec<NeedSpec>,
    /// The loader's diagnostics, then the problems with what the files hold.
    pub diagnostics: Vec<Diagnostic>,
    /// What the loader's cap left out of each file ([`crate::diag::Capped`]).
    pub omitted: Vec<FileOmitted>,
}

impl Inputs {
    /// True when nothing can be done with them: no host, or any error
    /// (listed or omitted).
    pub fn failed(&self) -> bool {
        self.host.is_none()
            || self.diagnostics.iter().any(Diagnostic::is_error)
            || self.omitted.iter().any(|f| f.omitted.errors > 0)
    }
}

/// Records what the loader left out of `file`, if anything.
fn note_omitted(list: &mut Vec<FileOmitted>, file: &Path, omitted: Omitted) {
    if omitted.total() > 0 {
        list.push(FileOmitted {
            file: Some(file.to_path_buf()),
            omitted,
        });
    }
}

/// Loads the host manifest (exactly one host document) and the need specs
/// (need documents only, each container once). Spec paths are files: a folder
/// is reported by the loader.
pub fn load_inputs(host_path: &Path, spec_paths: &[PathBuf]) -> Inputs {
    load_inputs_with(host_path, spec_paths, Vec::new())
}

/// Like [`load_inputs`], with need specs loaded elsewhere too (`--from-image`:
/// an image's label, named by its display name), after the files and held to
/// the same rules.
pub fn load_inputs_with(
    host_path: &Path,
    spec_paths: &[PathBuf],
    extra: Vec<(PathBuf, Loaded)>,
) -> Inputs {
    load_inputs_from(host_path, spec_paths, extra, Folders::AsNamed)
}

/// Like [`load_inputs_with`], with folders among the spec paths walked
/// ([`Folders::Walk`]) for `plan`, which changes nothing and so may be given a
/// repository as `check` and `place` are: a found file is read as `check`
/// reads it ([`load_found`]: foreign YAML skipped), and a host manifest found
/// there is skipped too (the host is `-H`'s). Named files keep every rule.
pub fn load_inputs_walked(
    host_path: &Path,
    spec_paths: &[PathBuf],
    extra: Vec<(PathBuf, Loaded)>,
) -> Inputs {
    load_inputs_from(host_path, spec_paths, extra, Folders::Walk)
}

fn load_inputs_from(
    host_path: &Path,
    spec_paths: &[PathBuf],
    extra: Vec<(PathBuf, Loaded)>,
    folders: Folders,
) -> Inputs {
    let opts = LoadOptions::default();
    let mut diags = Vec::new();
    let mut problems = Vec::new();
    let bad_input = |file: &Path, message: String| {
        Diagnostic::error(Code::CliBadInput, message).at_file(&Source::new(file, ""))
    };
    let mut omitted = Vec::new();
    let loaded = load_file(host_path, &opts);
    note_omitted(&mut omitted, host_path, loaded.omitted);
    let host_failed = loaded.has_errors();
    diags.extend(loaded.diagnostics);
    let mut hosts: Vec<HostManifest> = loaded
        .documents
        .into_iter()
        .filter_map(|d| match d {
            Document::Host(h) => Some(h),
            Document::Need(_) => None,
        })
        .collect();
    let host = if hosts.len() == 1 && !host_failed {
        hosts.pop()
    } else {
        if !host_failed {
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
    let walked = discover(spec_paths, folders);
    diags.extend(walked.diagnostics);
    let spec_loads = walked
        .files
        .into_iter()
        .map(|found| {
            let loaded = if found.named {
                load_file(&found.path, &opts)
            } else {
                load_found(&found, opts.max_file_size)
            };
            (found.named, found.path, loaded)
        })
        .chain(extra.into_iter().map(|(p, l)| (true, p, l)));
    for (named, p, loaded) in spec_loads {
        let p = p.as_path();
        note_omitted(&mut omitted, p, loaded.omitted);
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
                Document::Host(_) if !named => {}
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
    diags.extend(problems);
    Inputs {
        host,
        specs,
        diagnostics: diags,
        omitted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_set_for_every_folder() {
        let dir = tempfile::tempdir().unwrap();
        let w = |rel: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "berth: 1\n").unwrap();
        };
        for f in [
            "b.yaml",
            "a.yml",
            "c.JSON",
            "sub/d.yaml",
            "notes.txt",
            "target/x.yaml",
            ".git/y.yaml",
            "node_modules/z.yaml",
        ] {
            w(f);
        }
        std::os::unix::fs::symlink(dir.path().join("sub"), dir.path().join("link")).unwrap();
        let named = dir.path().join("notes.txt");
        let d = discover(&[dir.path().to_path_buf(), named.clone()], Folders::Walk);
        let rel: Vec<(String, bool)> = d
            .files
            .iter()
            .map(|f| {
                let r = f.path.strip_prefix(dir.path()).unwrap();
                (r.display().to_string(), f.named)
            })
            .collect();
        assert_eq!(
            rel,
            [
                ("a.yml".to_string(), false),
                ("b.yaml".to_string(), false),
                ("c.JSON".to_string(), false),
                ("sub/d.yaml".to_string(), false),
                ("notes.txt".to_string(), true),
            ]
        );
        assert!(d.diagnostics.is_empty());
        let kept = discover(&[dir.path().to_path_buf()], Folders::AsNamed);
        assert_eq!(
            kept.files,
            [Found {
                path: dir.path().to_path_buf(),
                named: true
            }]
        );
    }

    #[test]
    fn a_named_empty_file_fails_and_a_found_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.yaml");
        std::fs::write(&path, "# nothing yet\n").unwrap();
        let named = load_found(
            &Found {
                path: path.clone(),
                named: true,
            },
            1 << 20,
        );
        let codes: Vec<Code> = named.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::UnknownDocument]);
        let found = load_found(&Found { path, named: false }, 1 << 20);
        assert!(found.diagnostics.is_empty(), "{:?}", found.diagnostics);
    }

    #[test]
    fn inputs_are_one_host_and_unique_specs() {
        let dir = tempfile::tempdir().unwrap();
        let w = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let host = w("host.yaml", "berth: 1\nhost: h\n");
        let two = w("two.yaml", "berth: 1\nhost: a\n---\nberth: 1\nhost: b\n");
        let web = w("web.yaml", "berth: 1\ncontainer: web\n");
        let bad = |i: &Inputs| -> Vec<String> {
            i.diagnostics
                .iter()
                .filter(|d| d.code == Code::CliBadInput)
                .map(|d| d.message.clone())
                .collect()
        };

        let ok = load_inputs(&host, std::slice::from_ref(&web));
        assert!(!ok.failed(), "{:?}", ok.diagnostics);
        assert_eq!(ok.specs.len(), 1);

        let i = load_inputs(&two, std::slice::from_ref(&web));
        assert!(i.failed() && i.host.is_none());
        assert_eq!(
            bad(&i),
            ["expected exactly one host manifest (a document with `host:`), found 2"]
        );

        let i = load_inputs(&host, &[web.clone(), web.clone(), host.clone()]);
        assert!(i.failed());
        assert_eq!(
            bad(&i),
            [
                "container `web` is given twice; each container is applied once",
                "`h` is a host manifest; give host manifests with -H",
            ]
        );
        // A folder among the specs is reported by the loader, not walked.
        let i = load_inputs(&host, &[dir.path().to_path_buf()]);
        assert!(i.failed());
        assert_eq!(i.diagnostics[0].code, Code::IoRead);
    }

    #[test]
    fn inputs_with_extra_specs_follow_the_same_rules() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("host.yaml");
        std::fs::write(&host, "berth: 1\nhost: h\n").unwrap();
        let web = dir.path().join("web.yaml");
        std::fs::write(&web, "berth: 1\ncontainer: web\n").unwrap();
        let label = |c: &str| {
            let name = PathBuf::from("image x, label io.berth.spec");
            let loaded = crate::load::load_str(
                &name,
                &format!("{{\"berth\": 1, \"container\": \"{c}\"}}"),
                &LoadOptions::default(),
            );
            (name, loaded)
        };
        let ok = load_inputs_with(&host, std::slice::from_ref(&web), vec![label("api")]);
        assert!(!ok.failed(), "{:?}", ok.diagnostics);
        let names: Vec<&str> = ok.specs.iter().map(|s| s.container.as_str()).collect();
        assert_eq!(names, ["web", "api"]);
        let twice = load_inputs_with(&host, std::slice::from_ref(&web), vec![label("web")]);
        assert!(twice.failed());
        assert_eq!(twice.diagnostics[0].code, Code::CliBadInput);
    }

    #[test]
    fn dockerfiles_are_walked_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "Dockerfile",
            "Dockerfile.dev",
            "web.Dockerfile",
            "berth.yaml",
        ] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let names = |folders| -> Vec<String> {
            discover(&[dir.path().to_path_buf()], folders)
                .files
                .iter()
                .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names(Folders::Walk), ["berth.yaml"]);
        assert_eq!(
            names(Folders::WalkWithDockerfiles),
            [
                "Dockerfile",
                "Dockerfile.dev",
                "berth.yaml",
                "web.Dockerfile"
            ]
        );
        let plain = Found {
            path: dir.path().join("Dockerfile"),
            named: false,
        };
        assert!(load_dockerfile(&plain, 1 << 20).is_none());
    }
}
