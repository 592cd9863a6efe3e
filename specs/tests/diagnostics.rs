//! Every diagnostic code: documented in `docs/diagnostics.md`, unique, produced
//! by the documented example, and rendered as a snapshot.
//!
//! The docs are the fixture: each `### \`code\`` section's `yaml` block is loaded
//! and must produce that code. Codes that need a file system or a host (I/O, size,
//! encoding, `--live`) are produced here in a temp dir instead.

mod common;

use std::collections::HashSet;
use std::path::Path;

use berth_specs::load::{load_file, load_str, LoadOptions};
use berth_specs::validate::live_checks;
use berth_specs::{Code, Diagnostic, Severity};
use common::render;

/// Codes produced by other crates (the solver, the state, placement, the
/// CLI), not by loading; `load_inputs`'s bad-input is about which file holds
/// what, and is tested end to end.
const NOT_FROM_LOADING: &[Code] = &[
    Code::NeedUnmet,
    // `berth check` and `check --live` (specs::engine_net, specs::label),
    // tested beside their code.
    Code::HostIpRangeOverlap,
    Code::LiveEngineNetwork,
    Code::LabelDiffers,
    Code::LabelBadDockerfile,
    Code::PlanStepCycle,
    Code::ProviderFailed,
    Code::StateCorrupt,
    Code::StateVersion,
    Code::StateHostMismatch,
    Code::StateLock,
    Code::StateIo,
    Code::PlaceUnplaced,
    Code::PlaceDuplicateHost,
    Code::PlaceDuplicateContainer,
    Code::PlaceUnknownHost,
    Code::CliBadInput,
    Code::CliNoImage,
    Code::CliBadContainerName,
    Code::CliNotPending,
    Code::RunNoEngine,
    Code::RunBadImage,
    Code::RunExec,
    Code::LabelMissing,
    Code::ImageInspect,
    Code::LabelNotOne,
    // apply, emit and the state store (engine/tests, tests/security.rs).
    Code::ApplySpecChanged,
    Code::EmitLxcValue,
    Code::StateFolderWritable,
];

struct Section {
    code: String,
    warning: bool,
    yaml: Option<String>,
}

fn sections() -> Vec<Section> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/diagnostics.md");
    let text = std::fs::read_to_string(path).expect("docs/diagnostics.md");
    let mut out: Vec<Section> = Vec::new();
    let mut in_yaml: Option<String> = None;
    for line in text.lines() {
        if let Some(buf) = in_yaml.as_mut() {
            if line == "```" {
                let body = in_yaml.take().unwrap();
                let last = out
                    .last_mut()
                    .expect("a yaml block before any code heading");
                assert!(last.yaml.is_none(), "two yaml blocks for {}", last.code);
                last.yaml = Some(body);
            } else {
                buf.push_str(line);
                buf.push('\n');
            }
            continue;
        }
        if line == "```yaml" {
            in_yaml = Some(String::new());
        } else if let Some(rest) = line.strip_prefix("### `") {
            let (code, after) = rest.split_once('`').expect("closing backtick");
            out.push(Section {
                code: code.to_string(),
                warning: after.contains("(warning)"),
                yaml: None,
            });
        }
    }
    out
}

fn snapshot_name(code: Code) -> String {
    code.as_str().replace("::", "__")
}

fn rendered(diags: &[Diagnostic], code: Code) -> String {
    let mine: Vec<&Diagnostic> = diags.iter().filter(|d| d.code == code).collect();
    assert!(
        !mine.is_empty(),
        "no {} among {:#?}",
        code.as_str(),
        diags
            .iter()
            .map(|d| (d.code.as_str(), &d.message))
            .collect::<Vec<_>>()
    );
    mine.iter()
        .map(|d| render(d))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn codes_are_unique() {
    let mut seen = HashSet::new();
    for c in Code::ALL {
        assert!(seen.insert(c.as_str()), "two codes share {}", c.as_str());
        assert!(c.as_str().starts_with("berth::"), "{}", c.as_str());
        assert!(
            c.as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-:".contains(&b)),
            "{} is not kebab-case",
            c.as_str()
        );
    }
}

#[test]
fn every_code_is_documented_once() {
    let docs = sections();
    for c in Code::ALL {
        let n = docs.iter().filter(|s| s.code == c.as_str()).count();
        assert_eq!(
            n,
            1,
            "{} documented {n} times in docs/diagnostics.md",
            c.as_str()
        );
    }
    for s in &docs {
        assert!(
            Code::ALL.iter().any(|c| c.as_str() == s.code),
            "docs/diagnostics.md documents `{}`, which is not a code",
            s.code
        );
    }
}

#[test]
fn documented_examples_produce_their_code() {
    for s in sections() {
        let Some(yaml) = &s.yaml else { continue };
        let code = *Code::ALL.iter().find(|c| c.as_str() == s.code).unwrap();
        let loaded = load_str(Path::new("example.yaml"), yaml, &LoadOptions::default());
        let text = rendered(&loaded.diagnostics, code);
        for d in loaded.diagnostics.iter().filter(|d| d.code == code) {
            assert_eq!(
                d.severity == Severity::Warning,
                s.warning,
                "{}: severity differs from the docs",
                s.code
            );
            assert!(d.span.is_some(), "{} has no location", s.code);
        }
        insta::assert_snapshot!(snapshot_name(code), text);
    }
}

/// Codes whose example is not a YAML block: each is produced for real here.
#[test]
fn codes_without_a_yaml_example_are_produced_here() {
    let dir = tempfile::tempdir().unwrap();
    let clean = |s: String| s.replace(&dir.path().display().to_string(), "<tmp>");
    let mut produced: Vec<Code> = Vec::new();
    let mut check = |code: Code, diags: &[Diagnostic]| {
        insta::assert_snapshot!(snapshot_name(code), clean(rendered(diags, code)));
        produced.push(code);
    };

    let missing = dir.path().join("missing.yaml");
    check(
        Code::IoRead,
        &load_file(&missing, &LoadOptions::default()).diagnostics,
    );

    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed/host.yaml");
    let small = LoadOptions {
        max_file_size: 10,
        ..LoadOptions::default()
    };
    let too_large = load_file(&seed, &small);
    assert_eq!(too_large.diagnostics[0].code, Code::FileTooLarge);

    let latin1 = dir.path().join("latin1.yaml");
    std::fs::write(&latin1, b"berth: 1\ncontainer: caf\xe9\n").unwrap();
    check(
        Code::NotUtf8,
        &load_file(&latin1, &LoadOptions::default()).diagnostics,
    );
    let big = load_str(Path::new("big.yaml"), "berth: 1\ncontainer: web\n", &small);
    check(Code::FileTooLarge, &big.diagnostics);

    // --live: a host whose paths do not exist, a world-readable secret and a
    // provider script that is not executable.
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "hunter2").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(dir.path().join("make-volume"), "#!/bin/sh\n").unwrap();
    let host = format!(
        "berth: 1\nhost: web-01\nprovides:\n  - volume: pages\n    path: /nonexistent/berth/pages\n  - secret: db\n    file: {}\nproviders:\n  - volume: \"nfs-*\"\n    run: [./make-volume]\n",
        secret.display()
    );
    let host_path = dir.path().join("host.yaml");
    std::fs::write(&host_path, host).unwrap();
    let loaded = load_file(&host_path, &LoadOptions::default());
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let live: Vec<Diagnostic> = loaded.documents.iter().flat_map(live_checks).collect();
    check(Code::LiveMissing, &live);
    check(Code::LivePrivateFileReadable, &live);
    check(Code::LiveProviderMissing, &live);

    // Every code is produced somewhere: by a documented example or here.
    let documented: Vec<String> = sections()
        .into_iter()
        .filter(|s| s.yaml.is_some())
        .map(|s| s.code)
        .collect();
    for c in Code::ALL {
        assert!(
            documented.iter().any(|d| d == c.as_str())
                || produced.contains(c)
                || NOT_FROM_LOADING.contains(c),
            "{} has no example that produces it",
            c.as_str()
        );
    }
}
