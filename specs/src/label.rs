//! The image carries its needs: a need spec stored as compact JSON under the
//! image label `io.berth.spec`, the seed's proposal.
//!
//! Three directions meet here: writing the label (`berth label`: a Dockerfile
//! `LABEL` line or `--label` flags for `docker build`), reading it back (the
//! text an engine's `image inspect` returned, loaded through the ordinary
//! loader under the display name "image IMAGE, label io.berth.spec" and with
//! the JSON path of each problem), and checking a Dockerfile's label against
//! the `berth.yaml` beside it (`berth check` on a folder).
//!
//! What must stay true:
//! - the label is loaded by the same loader as a file, so an image can never
//!   say more than a `berth.yaml` could (it is untrusted input);
//! - the printed lines hold the JSON in single quotes with no `'` inside (a
//!   `'` in a value is written `\u0027`, the same JSON string), so the shell,
//!   Docker's own Dockerfile lexer and `shlex::split` all give back exactly
//!   the JSON;
//! - Dockerfiles are read with a Dockerfile parser (`dockerfile-parser`), not
//!   by hand; only the quoting of the one value is undone here, with Docker's
//!   rule for single quotes (no escapes inside).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;

use crate::diag::{Code, Diagnostic};
use crate::load::{load_str, LoadOptions, Loaded};
use crate::model::{Document, NeedSpec, Source, Span};
use crate::yaml::{self, Base, Node, Value};

/// The image label that carries a need spec.
pub const LABEL_KEY: &str = "io.berth.spec";

/// Why a spec file cannot become a label.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// The file has errors (the diagnostics say which).
    #[error("the spec has errors")]
    Invalid(Vec<Diagnostic>),
    /// The file holds no need spec, or several: a label carries one.
    #[error("the file holds {0} need specs; a label carries exactly one container")]
    NotOne(usize),
}

/// The compact JSON of the one need spec in `text` (named `name` in
/// diagnostics): its keys and values as the loader reads them, without
/// comments or layout. The spec is loaded (and must be valid) first.
pub fn spec_json(name: &Path, text: &str) -> Result<String, LabelError> {
    let loaded = load_str(name, text, &LoadOptions::default());
    if loaded.has_errors() {
        return Err(LabelError::Invalid(loaded.diagnostics));
    }
    let needs: Vec<&NeedSpec> = loaded
        .documents
        .iter()
        .filter_map(|d| match d {
            Document::Need(n) => Some(n),
            Document::Host(_) => None,
        })
        .collect();
    if needs.len() != 1 || loaded.documents.len() != 1 {
        return Err(LabelError::NotOne(needs.len()));
    }
    let budget = AtomicUsize::new(0);
    let parsed = yaml::parse_yaml(text, Base::default(), &budget);
    let doc = parsed
        .documents
        .iter()
        .find(|d| d.as_map().is_some())
        .ok_or(LabelError::NotOne(0))?;
    Ok(compact(&doc.to_json()))
}

/// Compact JSON with every `'` written as `\u0027` (see the module doc).
fn compact(v: &serde_json::Value) -> String {
    serde_json::to_string(v)
        .expect("JSON values serialize")
        .replace('\'', "\\u0027")
}

/// The Dockerfile line: `LABEL io.berth.spec='JSON'`.
pub fn dockerfile_line(json: &str) -> String {
    format!("LABEL {LABEL_KEY}='{}'", json.replace('\'', "\\u0027"))
}

/// The `docker build` / `podman build` flags: `--label 'io.berth.spec=JSON'`.
pub fn build_args(json: &str) -> String {
    format!("--label '{LABEL_KEY}={}'", json.replace('\'', "\\u0027"))
}

/// The display name of an image's label in diagnostics.
pub fn image_source_name(image: &str) -> PathBuf {
    PathBuf::from(format!("image {image}, label {LABEL_KEY}"))
}

/// Loads the need spec an image carries (`label`: the label's value) under
/// the name "image IMAGE, label io.berth.spec". Valid JSON is pretty-printed
/// first so that snippets show one key per line; every diagnostic with a
/// position says the JSON path of the problem (`$.needs[0].mount`).
pub fn load_image_label(image: &str, label: &str) -> Loaded {
    load_label_text(&image_source_name(image), label)
}

/// Like [`load_image_label`], for a label read elsewhere (a Dockerfile),
/// named `name`.
pub fn load_label_text(name: &Path, label: &str) -> Loaded {
    let text = match serde_json::from_str::<serde_json::Value>(label) {
        Ok(v) => serde_json::to_string_pretty(&v).expect("JSON values serialize"),
        Err(_) => label.to_string(),
    };
    let mut loaded = load_str(name, &text, &LoadOptions::default());
    let budget = AtomicUsize::new(0);
    let parsed = yaml::parse_yaml(&text, Base::default(), &budget);
    if let Some(root) = parsed.documents.first() {
        for d in &mut loaded.diagnostics {
            if let Some(span) = d.span {
                let path = json_path_at(root, span.offset);
                d.message = format!("{} (JSON path {path})", d.message);
            }
        }
    }
    loaded
}

/// The JSON path (`$.needs[1].mount`) of the deepest node at byte `offset`.
pub fn json_path_at(root: &Node, offset: usize) -> String {
    let mut path = String::from("$");
    let mut node = root;
    'down: loop {
        match &node.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    if contains(k.span, offset) || contains(v.span, offset) {
                        path.push('.');
                        path.push_str(k.text().unwrap_or("?"));
                        if contains(k.span, offset) {
                            break 'down;
                        }
                        node = v;
                        continue 'down;
                    }
                }
                break;
            }
            Value::Seq(items) => {
                for (i, v) in items.iter().enumerate() {
                    if contains(v.span, offset) {
                        path.push_str(&format!("[{i}]"));
                        node = v;
                        continue 'down;
                    }
                }
                break;
            }
            Value::Scalar(..) => break,
        }
    }
    path
}

fn contains(span: Span, offset: usize) -> bool {
    offset >= span.offset && offset < span.offset + span.len.max(1)
}

/// The `io.berth.spec` label of a Dockerfile: its value and the 1-based line
/// of its `LABEL` instruction, `Ok(None)` when the Dockerfile has none (the
/// last one wins, as in Docker), or the parser's error.
pub fn dockerfile_label(text: &str) -> Result<Option<(String, u32)>, String> {
    use dockerfile_parser::{Dockerfile, Instruction};
    let parsed = Dockerfile::parse(text).map_err(|e| e.to_string())?;
    let mut found = None;
    for ins in &parsed.instructions {
        let Instruction::Label(l) = ins else { continue };
        for label in &l.labels {
            if label.name.content != LABEL_KEY {
                continue;
            }
            // Docker's rule for a single-quoted value: everything up to the
            // closing quote, literally (the parser's unquoting also undoes
            // backslash escapes, which JSON needs kept).
            let raw = text
                .get(label.value.span.start..label.value.span.end)
                .unwrap_or("");
            let value = match raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
                Some(inner) => inner.to_string(),
                None => label.value.content.clone(),
            };
            let line = text[..l.span.start.min(text.len())].matches('\n').count() as u32 + 1;
            found = Some((value, line));
        }
    }
    Ok(found)
}

/// How two loadings of one container's needs differ in meaning (container,
/// image, placement, and each need by kind and name with its options), one
/// line per difference; empty when they mean the same. `a` and `b` name the
/// two sides in the lines.
pub fn differences(a: &NeedSpec, a_name: &str, b: &NeedSpec, b_name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if a.container != b.container {
        out.push(format!(
            "container: `{}` in {a_name}, `{}` in {b_name}",
            a.container, b.container
        ));
    }
    if a.image != b.image {
        let show = |i: &Option<String>| {
            i.as_deref()
                .map_or("none".to_string(), |i| format!("`{i}`"))
        };
        out.push(format!(
            "image: {} in {a_name}, {} in {b_name}",
            show(&a.image),
            show(&b.image)
        ));
    }
    if a.placement != b.placement {
        out.push(format!(
            "placement: {:?} in {a_name}, {:?} in {b_name}",
            a.placement, b.placement
        ));
    }
    for n in &a.needs {
        match b
            .needs
            .iter()
            .find(|m| m.kind == n.kind && m.name == n.name)
        {
            None => out.push(format!("need {} `{}` is only in {a_name}", n.kind, n.name)),
            Some(m) if m.detail != n.detail => out.push(format!(
                "need {} `{}` has other options: {:?} in {a_name}, {:?} in {b_name}",
                n.kind, n.name, n.detail, m.detail
            )),
            Some(_) => {}
        }
    }
    for m in &b.needs {
        if !a.needs.iter().any(|n| n.kind == m.kind && n.name == m.name) {
            out.push(format!("need {} `{}` is only in {b_name}", m.kind, m.name));
        }
    }
    out
}

/// `berth check` on a Dockerfile: its `io.berth.spec` label must load as a
/// valid need spec and, when a `berth.yaml` (or `berth.yml`) lies beside it,
/// mean the same. Returns what loading the label gave (documents count as
/// checked) plus those diagnostics; `None` when the Dockerfile carries no label.
pub fn check_dockerfile(path: &Path, text: &str) -> Option<Loaded> {
    let source = Source::new(path, text);
    let (value, line) = match dockerfile_label(text) {
        Ok(Some(found)) => found,
        Ok(None) => return None,
        Err(e) => {
            let d = Diagnostic::error(
                Code::LabelBadDockerfile,
                format!(
                    "the Dockerfile does not parse: {}",
                    e.lines().next().unwrap_or("")
                ),
            )
            .help(
                "berth reads the `io.berth.spec` label of a Dockerfile that `docker build` accepts",
            )
            .at_file(&source);
            return Some(Loaded {
                diagnostics: vec![d],
                examined: 1,
                ..Loaded::default()
            });
        }
    };
    let name = PathBuf::from(format!("{}:{line}, label {LABEL_KEY}", path.display()));
    let mut loaded = load_label_text(&name, &value);
    loaded.examined = loaded.examined.max(1);
    let label_spec = loaded.documents.iter().find_map(|d| match d {
        Document::Need(n) => Some(n.clone()),
        Document::Host(_) => None,
    });
    let dir = path.parent().unwrap_or(Path::new("."));
    let beside = ["berth.yaml", "berth.yml"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file());
    if let (Some(label_spec), Some(yaml_path)) = (label_spec, beside) {
        let from_yaml = crate::load::load_file(&yaml_path, &LoadOptions::default());
        let yaml_spec = from_yaml.documents.iter().find_map(|d| match d {
            Document::Need(n) if n.container == label_spec.container => Some(n),
            _ => None,
        });
        let yaml_name = yaml_path
            .file_name()
            .map_or("berth.yaml".into(), |n| n.to_string_lossy().into_owned());
        let diffs = match yaml_spec {
            Some(y) => differences(y, &yaml_name, &label_spec, "the label"),
            None => vec![format!(
                "{yaml_name} has no container `{}`",
                label_spec.container
            )],
        };
        if !diffs.is_empty() {
            let span = line_span(text, line);
            loaded.diagnostics.push(
                Diagnostic::error(
                    Code::LabelDiffers,
                    format!(
                        "the Dockerfile's {LABEL_KEY} label and {yaml_name} beside it differ: {}",
                        diffs.join("; ")
                    ),
                )
                .at(&source, span)
                .label("this label")
                .help("regenerate the line with `berth label berth.yaml`"),
            );
        }
    }
    Some(loaded)
}

/// The span of 1-based line `line` of `text`.
fn line_span(text: &str, line: u32) -> Span {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1) as usize)
        .map(str::len)
        .sum();
    let len = text[start..].find('\n').unwrap_or(text.len() - start);
    Span {
        offset: start,
        len,
        line,
        col: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "berth: 1\ncontainer: webserver\nimage: example/webserver:1.4\n# a comment\nneeds:\n  - volume: webpages\n    mount: /var/www\n    read_only: true\n  - ipv6: webserver\n  - port: http\n    container_port: 80\n";

    #[test]
    fn the_label_line_round_trips_through_the_loader_and_shlex() {
        let json = spec_json(Path::new("berth.yaml"), SEED).unwrap();
        assert!(!json.contains('\n') && !json.contains("comment"), "{json}");
        let line = dockerfile_line(&json);
        let words = shlex::split(&line).unwrap();
        assert_eq!(words, ["LABEL".to_string(), format!("{LABEL_KEY}={json}")]);
        let back = load_image_label("x", &json);
        assert!(!back.has_errors(), "{:?}", back.diagnostics);
        let (Document::Need(a), Document::Need(b)) = (
            &back.documents[0],
            &load_str(Path::new("b.yaml"), SEED, &LoadOptions::default()).documents[0],
        ) else {
            panic!("not need specs")
        };
        assert!(differences(a, "a", b, "b").is_empty());
        // The Dockerfile parser reads back exactly the JSON.
        let docker = format!("FROM scratch\n{line}\nCMD [\"x\"]\n");
        assert_eq!(dockerfile_label(&docker).unwrap(), Some((json, 2)));
    }

    #[test]
    fn a_quote_in_a_value_keeps_its_meaning() {
        let spec =
            "berth: 1\ncontainer: a\nimage: \"x\"\nneeds:\n  - volume: v\n    mount: \"/it's\"\n";
        let json = spec_json(Path::new("b.yaml"), spec).unwrap();
        let args = shlex::split(&build_args(&json)).unwrap();
        let value = args[1].strip_prefix("io.berth.spec=").unwrap();
        let v: serde_json::Value = serde_json::from_str(value).unwrap();
        assert_eq!(v["needs"][0]["mount"], "/it's");
    }

    #[test]
    fn a_dockerfile_label_that_differs_from_berth_yaml_says_which_need() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("berth.yaml"), SEED).unwrap();
        let other = SEED.replace("read_only: true", "read_only: false");
        let json = spec_json(Path::new("o.yaml"), &other).unwrap();
        let docker = format!("FROM scratch\n{}\n", dockerfile_line(&json));
        let path = dir.path().join("Dockerfile");
        let loaded = check_dockerfile(&path, &docker).unwrap();
        let d = loaded
            .diagnostics
            .iter()
            .find(|d| d.code == Code::LabelDiffers)
            .expect("differs");
        assert!(
            d.message.contains("need volume `webpages`"),
            "{}",
            d.message
        );
        let same = format!(
            "FROM scratch\n{}\n",
            dockerfile_line(&spec_json(Path::new("s"), SEED).unwrap())
        );
        let loaded = check_dockerfile(&path, &same).unwrap();
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        assert!(check_dockerfile(&path, "FROM scratch\n").is_none());
    }
}
