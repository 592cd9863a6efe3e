//! The JSON Schemas accept every bundled example and the documented format
//! examples, and reject files the loader rejects for shape reasons.

use std::sync::atomic::AtomicUsize;

use berth_specs::schema::{host_schema, need_schema};
use berth_specs::yaml::{parse_yaml, Base};
use serde_json::Value;

mod common;

fn as_json(text: &str) -> Value {
    let parsed = parse_yaml(text, Base::default(), &AtomicUsize::new(0));
    assert!(parsed.error.is_none(), "{:?}", parsed.error);
    parsed.documents[0].to_json()
}

fn errors(schema: &Value, instance: &Value) -> Vec<String> {
    let v = jsonschema::validator_for(schema).expect("the schema is valid");
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn schema_for(doc: &Value) -> Value {
    if doc.get("host").is_some() {
        host_schema().to_value()
    } else {
        need_schema().to_value()
    }
}

#[test]
fn schemas_are_valid_json_schema() {
    for s in [need_schema(), host_schema()] {
        let v = s.to_value();
        assert!(jsonschema::meta::is_valid(&v), "{v:#}");
    }
}

#[test]
fn bundled_examples_validate() {
    let files = common::examples();
    for p in &files {
        let doc = as_json(&std::fs::read_to_string(p).unwrap());
        let errs = errors(&schema_for(&doc), &doc);
        assert!(errs.is_empty(), "{}: {errs:#?}", p.display());
    }
    assert!(files.len() >= 4);
}

#[test]
fn schema_rejects_what_the_loader_rejects_by_shape() {
    let cases = [
        "berth: 1\ncontainer: web\nneeds:\n  - volum: data\n",
        "berth: 1\ncontainer: web\nneeds:\n  - volume: data\n",
        "berth: 1\ncontainer: web\nneeds:\n  - ipv6: a\n    ipv4: b\n",
        "berth: 1\ncontainer: Web\n",
        "berth: 2\ncontainer: web\n",
        "berth: 1\ncontainer: web\nimge: x\n",
        "berth: 1\nhost: h\nprovides:\n  - ipv6: a\n    address: 2001:db8::1\n    pool: 2001:db8::/120\n    network: n\n",
        "berth: 1\nhost: h\nproviders:\n  - volume: x\n    run: []\n",
        "berth: 1\nhost: h\nproviders:\n  - volume: x\n    run: [a]\n    timeout: 30\n",
        "berth: 1\nhost: h\nprovides:\n  - example.com/gpu: \"*\"\n    colour: red\n",
    ];
    for text in cases {
        let doc = as_json(text);
        assert!(
            !errors(&schema_for(&doc), &doc).is_empty(),
            "schema accepts:\n{text}"
        );
    }
    let custom = as_json("berth: 1\nhost: h\nprovides:\n  - example.com/gpu: \"*\"\n    devices: [/dev/dri/renderD128]\n    env: { A: b }\n");
    assert_eq!(
        errors(&host_schema().to_value(), &custom),
        Vec::<String>::new()
    );
}

/// Issue 12: an editor said "not valid under any of the given schemas" where
/// `berth check` says "did you mean `mount`?". The volume need's branch lists
/// the slip as a key no value satisfies, carrying the same question.
#[test]
fn an_unknown_key_in_the_schema_had_no_did_you_mean() {
    let schema = need_schema().to_value();
    let branches = schema["properties"]["needs"]["items"]["oneOf"]
        .as_array()
        .unwrap();
    let volume = branches
        .iter()
        .find(|b| b["required"][0] == "volume")
        .expect("a volume branch");
    for typo in ["mout", "muont", "read-only", "raed_only"] {
        let msg = volume["properties"][typo]["errorMessage"]
            .as_str()
            .unwrap_or_else(|| panic!("no `{typo}` in {}", volume["properties"]));
        assert!(msg.contains("did you mean `"), "{msg}");
    }
    assert_eq!(
        volume["properties"]["mout"]["errorMessage"],
        "Unknown key `mout`: did you mean `mount`?"
    );
    // Still rejected, and real keys are untouched.
    let doc =
        serde_json::json!({"berth": 1, "container": "c", "needs": [{"volume": "v", "mout": "/x"}]});
    assert!(!errors(&schema, &doc).is_empty());
    let ok = serde_json::json!({"berth": 1, "container": "c", "needs": [{"volume": "v", "mount": "/x"}]});
    assert!(
        errors(&schema, &ok).is_empty(),
        "{:?}",
        errors(&schema, &ok)
    );
}
