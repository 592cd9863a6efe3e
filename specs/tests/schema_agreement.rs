//! The JSON Schema and the loader agree on what a berth file is (issue 12):
//! every fixture under `tests/fixtures` and `specs/examples`, and a list of
//! edge cases, goes through both, document by document. What the schema
//! rejects the loader rejects (an editor must never flag a file `berth check`
//! passes), and what the loader rejects for its shape (codes the schema can
//! express) the schema rejects too. Meaning-level checks (duplicates, subnets,
//! overlaps) are the loader's alone and are not compared.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;

use berth_specs::json::parse_json;
use berth_specs::load::{load_str, LoadOptions};
use berth_specs::schema::{host_schema, need_schema};
use berth_specs::yaml::{parse_yaml, Base};
use berth_specs::Code;

/// Loader codes about a document's shape: keys, kinds, types, names.
fn is_shape(code: Code) -> bool {
    matches!(
        code,
        Code::VersionMissing
            | Code::UnknownKey
            | Code::MissingKey
            | Code::WrongType
            | Code::InvalidName
            | Code::InvalidContainerName
            | Code::InvalidHostName
            | Code::UnknownDocument
            | Code::NeedUnknownKind
            | Code::NeedKindCount
            | Code::HostUnknownKind
            | Code::HostKindCount
            | Code::InvalidKind
            | Code::ConflictingKeys
    )
}

fn files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    let mut stack = vec![root.join("tests/fixtures"), root.join("specs/examples")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// One verdict per document of `text`: (schema errors, loader shape codes,
/// any loader error). Documents that are not berth documents are left out.
fn verdicts(name: &Path, text: &str) -> Vec<(String, Vec<String>, Vec<Code>, bool)> {
    let json = name.extension().is_some_and(|e| e == "json");
    let budget = AtomicUsize::new(0);
    let parsed = if json {
        parse_json(text)
    } else {
        parse_yaml(text, Base::default(), &budget)
    };
    if parsed.error.is_some() {
        // Not YAML: no editor validates it either; the loader must refuse it.
        let loaded = load_str(name, text, &LoadOptions::default());
        assert!(loaded.has_errors(), "{}", name.display());
        return Vec::new();
    }
    let mut out = Vec::new();
    for doc in &parsed.documents {
        let value = doc.to_json();
        let Some(map) = value.as_object() else {
            continue;
        };
        if !map.contains_key("berth") {
            continue;
        }
        let schema = if map.contains_key("host") {
            host_schema().to_value()
        } else {
            need_schema().to_value()
        };
        let validator = jsonschema::validator_for(&schema).expect("a valid schema");
        let errs: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        // The document alone, through the loader, as JSON (same tree).
        let one = serde_json::to_string(&value).unwrap();
        let loaded = load_str(Path::new("doc.json"), &one, &LoadOptions::default());
        let shape: Vec<Code> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.is_error() && is_shape(d.code))
            .map(|d| d.code)
            .collect();
        let text = serde_json::to_string(&value).unwrap();
        out.push((text, errs, shape, loaded.has_errors()));
    }
    out
}

fn disagreements(name: &Path, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (doc, schema_errs, shape, loader_failed) in verdicts(name, text) {
        if !schema_errs.is_empty() && !loader_failed {
            out.push(format!(
                "{}: the schema rejects what the loader accepts: {doc}\n  {schema_errs:?}",
                name.display()
            ));
        }
        if schema_errs.is_empty() && !shape.is_empty() {
            out.push(format!(
                "{}: the loader rejects {shape:?} what the schema accepts: {doc}",
                name.display()
            ));
        }
    }
    out
}

#[test]
fn the_schema_and_the_loader_agree_on_every_fixture() {
    let files = files();
    assert!(files.len() >= 12, "{files:?}");
    let mut all = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        all.extend(disagreements(f, &text));
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
}

/// Edge cases where a schema written by hand and a loader written by hand
/// drift apart: names YAML reads as numbers or booleans, quoted numbers,
/// unknown keys, empty lists.
const EDGE_CASES: &[&str] = &[
    "berth: 1\ncontainer: c\nneeds:\n  - volume: 2024\n    mount: /data\n",
    "berth: 1\ncontainer: c\nneeds:\n  - ipv6: 10\n",
    "berth: 1\ncontainer: c\nneeds:\n  - volume: 1.5\n    mount: /data\n",
    "berth: 1\ncontainer: c\nneeds:\n  - volume: -1\n    mount: /data\n",
    "berth: 1\ncontainer: c\nneeds:\n  - volume: true\n    mount: /data\n",
    "berth: 1\ncontainer: c\nneeds:\n  - volume: data\n    mout: /data\n",
    "berth: 1\ncontainer: c\nneeds:\n  - volume: data\n    mount: /data\n    read_only: yes\n",
    "berth: 1\ncontainer: c\nneeds: []\n",
    "berth: 1\ncontainer: 2024\nneeds: []\n",
    "berth: 1\ncontainer: c\nneeds:\n  - port: http\n    container_port: \"80\"\n",
    "berth: 1\ncontainer: c\nneeds:\n  - port: http\n    container_port: 53/udp\n",
    "berth: 1\nhost: h\nprovides:\n  - volume: 2024\n    path: /srv/x\n",
    "berth: 1\nhost: h\nprovides:\n  - port: http\n    host_port: \"8080\"\n",
    "berth: 1\nhost: 7\nprovides: []\n",
    "berth: 1\nhost: h\nprovides:\n  - volume: data\n    path: /srv/x\n    allow: [2024]\n",
];

#[test]
fn the_schema_and_the_loader_agree_on_edge_cases() {
    let mut all = Vec::new();
    for (i, text) in EDGE_CASES.iter().enumerate() {
        all.extend(disagreements(Path::new(&format!("edge-{i}.yaml")), text));
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
}

/// Every ```yaml block of `docs/*.md` that holds a berth document (the
/// diagnostics examples included: what they get wrong in shape, the schema
/// must reject too).
#[test]
fn the_schema_and_the_loader_agree_on_every_docs_example() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&docs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    let (mut blocks, mut all) = (0, Vec::new());
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for (i, block) in text.split("```yaml\n").skip(1).enumerate() {
            let block = &block[..block.find("```").unwrap_or(block.len())];
            if !block.contains("berth: 1") {
                continue;
            }
            blocks += 1;
            let name = PathBuf::from(format!("{}#{i}.yaml", page.display()));
            all.extend(disagreements(&name, block));
        }
    }
    assert!(blocks >= 40, "only {blocks} docs examples");
    assert!(all.is_empty(), "{}", all.join("\n"));
}
