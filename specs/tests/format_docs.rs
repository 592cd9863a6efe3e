//! `docs/format.md` is tested: every `yaml` and `json` example loads without a
//! diagnostic, and every key of both formats is documented there.

use std::path::Path;

use berth_specs::load::{load_str, need_options, provide_options, LoadOptions};
use berth_specs::Kind;

fn docs() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/format.md"))
        .expect("docs/format.md")
}

/// (language, body) of every fenced block.
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(lang)) => current = Some((lang.to_string(), String::new())),
            (Some(_), Some("")) => out.push(current.take().unwrap()),
            (Some((_, body)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

#[test]
fn every_example_loads_cleanly() {
    let mut n = 0;
    for (lang, body) in blocks(&docs()) {
        let name = match lang.as_str() {
            "yaml" => "example.yaml",
            "json" => "example.json",
            _ => continue,
        };
        let loaded = load_str(Path::new(name), &body, &LoadOptions::default());
        let shown: Vec<_> = loaded
            .diagnostics
            .iter()
            .map(|d| (d.code.as_str(), &d.message, d.span))
            .collect();
        assert!(shown.is_empty(), "{body}\n{shown:#?}");
        assert!(!loaded.documents.is_empty());
        n += 1;
    }
    assert!(n >= 6, "{n} examples");
}

#[test]
fn every_key_is_documented() {
    let text = docs();
    let mut keys: Vec<&str> = vec![
        "berth",
        "container",
        "image",
        "placement",
        "needs",
        "host",
        "labels",
        "state_dir",
        "provides",
        "providers",
        "run",
        "timeout",
        "allow",
    ];
    let custom = Kind::Custom("x.y/z".into());
    for k in Kind::BUILTIN.iter().chain([&custom]) {
        keys.extend(need_options(k));
        keys.extend(provide_options(k));
        if !matches!(k, Kind::Custom(_)) {
            keys.push(k.as_str());
        }
    }
    for k in keys {
        assert!(
            text.contains(&format!("`{k}`")),
            "`{k}` is not documented in docs/format.md"
        );
    }
}
