//! The kind registry (`specs/src/kinds.rs`) is the one place a kind lives.
//!
//! - The docs tables of `docs/format.md` are the registry's, generated.
//! - Every definition in `KINDS` works end to end: a need and a provide built
//!   only from its option table load without a diagnostic, validate against
//!   the JSON Schema, leave out a required option with the table's example in
//!   the help, round-trip through the value's JSON form and become edits.
//!   This is the walk-through of `docs/adding-a-kind.md`: a new definition is
//!   covered here as soon as it is listed.
//! - No kind is spread over the code base again: the files naming a built-in
//!   kind are counted (see [`KIND_FILES`] for the patterns and why).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;

use berth_specs::kinds::{self, EditSink, KindDef, NetworkEdit, Presence, KINDS};
use berth_specs::load::{load_str, LoadOptions};
use berth_specs::schema::{host_schema, need_schema};
use berth_specs::yaml::{parse_yaml, Base};
use berth_specs::{Document, Kind, Protocol, ProvideDetail};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn docs_tables_are_the_registry() {
    let docs = std::fs::read_to_string(root().join("docs/format.md")).expect("docs/format.md");
    for (what, table) in [
        ("need kinds", kinds::docs_need_table()),
        ("provide kinds", kinds::docs_provide_table()),
    ] {
        assert!(
            docs.contains(&table),
            "docs/format.md does not hold the registry's table of {what}; paste this:\n{table}"
        );
    }
}

#[test]
fn every_builtin_kind_has_one_definition_in_order() {
    let keys: Vec<&str> = KINDS.iter().map(|d| d.key).collect();
    let builtin: Vec<&str> = Kind::BUILTIN.iter().map(|k| k.as_str()).collect();
    assert_eq!(&keys[..builtin.len()], &builtin[..]);
    assert_eq!(
        keys.len(),
        builtin.len() + 1,
        "one stand-in for custom kinds"
    );
    assert!(KINDS.last().unwrap().is_custom());
    for k in &Kind::BUILTIN {
        assert_eq!(k.def().key, k.as_str());
        assert_eq!(Kind::from_key(k.as_str()).as_ref(), Some(k));
    }
}

// ---------------------------------------------------------------------------
// The walk-through
// ---------------------------------------------------------------------------

/// The key a definition is written with (custom kinds need a real domain).
fn key(def: &KindDef) -> &'static str {
    if def.is_custom() {
        "example.com/gpu"
    } else {
        def.key
    }
}

/// A YAML entry of `def` with the given options (`key: example` lines; the
/// examples are written to be plain YAML).
fn entry(def: &KindDef, options: &[(&str, &str)]) -> String {
    let mut s = format!("  - {}: {}\n", key(def), def.example_name);
    for (k, v) in options {
        s.push_str(&format!("    {k}: {v}\n"));
    }
    s
}

/// Every option of a side with its example, the second of a one-of group
/// left out.
fn all_options(options: &'static [kinds::OptionDef]) -> Vec<(&'static str, &'static str)> {
    let mut seen_group = false;
    options
        .iter()
        .filter(|o| {
            if o.presence != Presence::OneOf {
                return true;
            }
            !std::mem::replace(&mut seen_group, true)
        })
        .map(|o| (o.key, o.example))
        .collect()
}

fn need_doc(def: &KindDef, options: &[(&str, &str)]) -> String {
    format!("berth: 1\ncontainer: c\nneeds:\n{}", entry(def, options))
}

fn host_doc(def: &KindDef, options: &[(&str, &str)]) -> String {
    // Address provides name a network `NETWORK` (their table's example).
    format!(
        "berth: 1\nhost: h\nprovides:\n  - network: NETWORK\n{}",
        entry(def, options)
    )
}

/// A diagnostic as (code, message, help).
type Shown = (String, String, Option<String>);

fn load(text: &str) -> (Vec<Document>, Vec<Shown>) {
    let loaded = load_str(Path::new("walk.yaml"), text, &LoadOptions::default());
    let diags = loaded
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.code.as_str().to_string(),
                d.message.clone(),
                d.help.clone(),
            )
        })
        .collect();
    (loaded.documents, diags)
}

fn schema_errors(schema: &Value, text: &str) -> Vec<String> {
    let parsed = parse_yaml(text, Base::default(), &AtomicUsize::new(0));
    let doc = parsed.documents[0].to_json();
    let v = jsonschema::validator_for(schema).expect("valid schema");
    v.iter_errors(&doc).map(|e| e.to_string()).collect()
}

/// Records edits as text.
#[derive(Default)]
struct Recorder(Vec<String>);

impl EditSink for Recorder {
    fn mount(&mut self, source: &str, target: &str, read_only: bool, file: bool) {
        self.0.push(format!(
            "mount {source} {target} ro={read_only} file={file}"
        ));
    }
    fn device(&mut self, path: &str, target: Option<&str>) {
        self.0.push(format!("device {path} {target:?}"));
    }
    fn publish(&mut self, bind: Option<IpAddr>, host: u16, container: u16, protocol: Protocol) {
        self.0
            .push(format!("publish {bind:?} {host} {container} {protocol}"));
    }
    fn env(&mut self, key: &str, value: &str) {
        self.0.push(format!("env {key}={value}"));
    }
    fn address(&mut self, network: &str, address: IpAddr) {
        self.0.push(format!("address {network} {address}"));
    }
    fn attach(&mut self, network: &str, detail: NetworkEdit<'_>) {
        self.0.push(format!("attach {network} {detail:?}"));
    }
}

#[test]
fn every_kind_walks_through_load_schema_value_and_edits() {
    let need_schema = need_schema().to_value();
    let host_schema = host_schema().to_value();
    for def in KINDS.iter() {
        let need_text = need_doc(def, &all_options(def.need));
        let host_text = host_doc(def, &all_options(def.provide));
        for (text, schema) in [(&need_text, &need_schema), (&host_text, &host_schema)] {
            let (docs, diags) = load(text);
            assert!(diags.is_empty(), "{}:\n{text}\n{diags:#?}", def.key);
            assert_eq!(docs.len(), 1);
            let errors = schema_errors(schema, text);
            assert!(errors.is_empty(), "{}:\n{text}\n{errors:#?}", def.key);
        }
        let (needs, _) = load(&need_text);
        let (hosts, _) = load(&host_text);
        let (Document::Need(spec), Document::Host(host)) = (&needs[0], &hosts[0]) else {
            panic!("{}: a need spec and a host", def.key);
        };
        let need = &spec.needs[0];
        let provide = host.provides.last().unwrap();
        assert_eq!(need.kind, provide.kind);
        assert_eq!(need.kind.def().key, def.key);
        assert_eq!(
            provide.exclusive(),
            match def.exclusive {
                kinds::Exclusive::Always => true,
                kinds::Exclusive::Never => false,
                // The examples say `shared: true` / `exclusive: true`.
                kinds::Exclusive::UnlessShared => false,
                kinds::Exclusive::WhenAsked => true,
            },
            "{}",
            def.key
        );
        // The value's JSON form (its serde form) reads back to the same detail.
        let value = provide.detail.to_json();
        assert_eq!(serde_json::to_value(&provide.detail).unwrap(), value);
        assert_eq!(
            ProvideDetail::from_json(&provide.kind, &value).as_ref(),
            Ok(&provide.detail),
            "{}: {value}",
            def.key
        );
        // And it is the host-manifest form: it loads as the provide's options.
        assert_eq!(
            berth_specs::load::provide_detail_from_json(&provide.kind, "x", &value)
                .map_err(|d| d.len()),
            Ok(provide.detail.clone()),
            "{}",
            def.key
        );
        let mut edits = Recorder::default();
        kinds::edits(&need.detail, &need.name, &provide.detail, &mut edits)
            .unwrap_or_else(|_| panic!("{}: need and value of one kind", def.key));
        assert!(!edits.0.is_empty(), "{}: no edits", def.key);
    }
}

#[test]
fn a_required_option_left_out_is_named_with_its_example() {
    for def in KINDS.iter() {
        for (side, options, doc) in [
            (
                "need",
                def.need,
                need_doc as fn(&KindDef, &[(&str, &str)]) -> String,
            ),
            ("provide", def.provide, host_doc),
        ] {
            for o in options.iter().filter(|o| o.presence == Presence::Required) {
                let rest: Vec<_> = all_options(options)
                    .into_iter()
                    .filter(|(k, _)| *k != o.key)
                    .collect();
                let (_, diags) = load(&doc(def, &rest));
                let want = format!("add `{}: {}`", o.key, o.example);
                assert!(
                    diags
                        .iter()
                        .any(|(code, msg, help)| code == "berth::format::missing-key"
                            && msg.ends_with(&format!("requires `{}`", o.key))
                            && help.as_deref() == Some(&want)),
                    "{} {side} without `{}`: {diags:#?}",
                    def.key,
                    o.key
                );
            }
            // A misspelt option is an unknown key with a suggestion.
            if let Some(o) = options.iter().find(|o| o.key.len() >= 6) {
                let typo = format!("{}x", o.key);
                let mut opts = all_options(options);
                opts.retain(|(k, _)| *k != o.key);
                opts.push((&typo, o.example));
                let (_, diags) = load(&doc(def, &opts));
                let want = format!("did you mean `{}`?", o.key);
                assert!(
                    diags
                        .iter()
                        .any(|(code, _, help)| code == "berth::format::unknown-key"
                            && help.as_deref() == Some(&want)),
                    "{} {side} `{typo}`: {diags:#?}",
                    def.key
                );
            }
        }
    }
}

/// A kind berth does not have, defined through the registry's own types: the
/// table-driven parts (docs rows, schema branches, exclusivity) need nothing
/// else. (Reading and edits are arms of the typed details, which a listed
/// kind adds; the walk-through above covers those for every listed kind.)
static TPM: KindDef = KindDef {
    key: "tpm",
    doc: "a TPM device",
    need: &[kinds::OptionDef::new(
        "mount",
        kinds::OptionType::AbsolutePath,
        "where it appears",
        "/dev/tpm0",
    )
    .required()],
    provide: &[
        kinds::OptionDef::new(
            "path",
            kinds::OptionType::DevicePath,
            "host node",
            "/dev/tpm0",
        )
        .one_of(),
        kinds::OptionDef::new("proxy", kinds::OptionType::Text, "a TPM proxy", "tpm:9").one_of(),
        kinds::OptionDef::new("shared", kinds::OptionType::Bool, "several holders", "true")
            .default("false"),
    ],
    provide_note: "",
    exclusive: kinds::Exclusive::UnlessShared,
    declares_network: false,
    family: None,
    example_name: "tpm0",
};

#[test]
fn a_test_only_kind_gets_docs_rows_and_schema_branches_from_its_definition() {
    assert_eq!(
        TPM.docs_need_row(),
        "| `tpm` | `mount` (required): where it appears | a TPM device |\n"
    );
    assert_eq!(
        TPM.docs_provide_row(),
        "| `tpm` | exactly one of `path` (host node) or `proxy` (a TPM proxy); `shared` (default `false`): several holders |\n"
    );
    let v = |schema: &Value, doc: Value| {
        jsonschema::validator_for(schema)
            .expect("valid schema")
            .iter_errors(&doc)
            .count()
    };
    let need = berth_specs::schema::need_branch(&TPM);
    assert_eq!(
        v(&need, serde_json::json!({"tpm": "t", "mount": "/dev/tpm0"})),
        0
    );
    assert_ne!(
        v(&need, serde_json::json!({"tpm": "t"})),
        0,
        "mount is required"
    );
    assert_ne!(
        v(
            &need,
            serde_json::json!({"tpm": "t", "mount": "/x", "mont": "/y"})
        ),
        0,
        "unknown options are refused"
    );
    let provide = berth_specs::schema::provide_branch(&TPM);
    assert_eq!(
        v(
            &provide,
            serde_json::json!({"tpm": "*", "path": "/dev/tpm0"})
        ),
        0
    );
    assert_eq!(
        v(
            &provide,
            serde_json::json!({"tpm": "t", "proxy": "x", "allow": ["a"]})
        ),
        0
    );
    assert_ne!(
        v(
            &provide,
            serde_json::json!({"tpm": "t", "path": "/d", "proxy": "x"})
        ),
        0,
        "exactly one of the pair"
    );
    assert_ne!(
        v(&provide, serde_json::json!({"tpm": "t"})),
        0,
        "one of the pair"
    );
}

// ---------------------------------------------------------------------------
// The count
// ---------------------------------------------------------------------------

/// Which text names a kind in code. `secret` is searched as the issue states it
/// (`Secret|secret`, comments and all). The other kind words are also ordinary
/// words of unrelated code (an emitter's `--ip6`/`ipv6_address`, "report",
/// "import", a `devices:` list of edits, an attachment's network), so for them
/// the pattern is precise: the enum variant (`Kind::X`, `NeedDetail::X`,
/// `ProvideDetail::X`) and the key string (`"x"`).
enum Pattern {
    Broad(&'static [&'static str]),
    Variant(&'static str),
}

impl Pattern {
    fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Broad(words) => words.iter().any(|w| text.contains(w)),
            Pattern::Variant(v) => {
                let key = format!("\"{}\"", v.to_ascii_lowercase());
                text.contains(&key)
                    || ["Kind::", "NeedDetail::", "ProvideDetail::"]
                        .iter()
                        .any(|p| word_at(text, &format!("{p}{v}")))
            }
        }
    }
}

/// Whether `word` occurs in `text` not followed by an identifier character.
fn word_at(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        text[i + word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

/// Each built-in kind, its pattern, and the files outside this registry's
/// reach that still name it, with why. The count of the others must be at
/// most 4; a listed file that no longer names the kind fails the test too, so
/// the list only shrinks.
const KIND_FILES: &[(&str, Pattern, &[&str])] = &[
    ("secret", Pattern::Broad(&["Secret", "secret"]), &[]),
    ("volume", Pattern::Variant("Volume"), &[]),
    ("ipv6", Pattern::Variant("Ipv6"), &[]),
    ("ipv4", Pattern::Variant("Ipv4"), &[]),
    ("device", Pattern::Variant("Device"), &[]),
    (
        "port",
        Pattern::Variant("Port"),
        // Pools (pool.rs), the provider-result holding check in apply and
        // the CLI's explanation text: each reads a port's scalar; to be read
        // from the registry's facts (`Kind::scalar`, as store.rs does) next.
        &[
            "engine/src/pool.rs",
            "engine/src/apply.rs",
            "cli/src/explain_render.rs",
        ],
    ),
    (
        "network",
        Pattern::Variant("Network"),
        // The CLI prints implied networks (plan, explanations); the fleet
        // matcher is being merged with the solver's into one module.
        &[
            "cli/src/cmd/plan.rs",
            "cli/src/explain_render.rs",
            "engine/src/place/fleet.rs",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_builtin_kind_is_named_in_at_most_four_files() {
    let root = root();
    let mut files = Vec::new();
    for dir in ["specs/src", "engine/src", "providers/src", "cli/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(p).unwrap())
        })
        .collect();
    assert!(texts.iter().any(|(f, _)| f == "specs/src/kinds.rs"));
    let mut covered = BTreeSet::new();
    for (kind, pattern, elsewhere) in KIND_FILES {
        covered.insert(*kind);
        let naming: BTreeSet<&str> = texts
            .iter()
            .filter(|(_, t)| pattern.matches(t))
            .map(|(f, _)| f.as_str())
            .collect();
        for f in *elsewhere {
            assert!(
                naming.contains(f),
                "{kind}: {f} no longer names it; take it off the list"
            );
        }
        let counted: Vec<&&str> = naming.iter().filter(|f| !elsewhere.contains(f)).collect();
        assert!(
            counted.len() <= 4,
            "{kind} is named in {} files: {counted:?}",
            counted.len()
        );
        assert!(naming.contains("specs/src/kinds.rs"), "{kind}");
    }
    let builtin: BTreeSet<&str> = Kind::BUILTIN.iter().map(|k| k.as_str()).collect();
    assert_eq!(covered, builtin, "every built-in kind is counted");
}
