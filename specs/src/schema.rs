//! JSON Schema (draft 2020-12) of the two formats, for editors and CI
//! (`berth schema need|host`).
//!
//! Built by hand with `schemars::json_schema!` rather than derived: an entry
//! of `needs:`/`provides:` is "a map with exactly one kind key plus that kind's
//! options", which no serde shape expresses, while one `oneOf` branch per kind
//! does. Each kind's branch is built from its definition in the kind registry
//! ([`crate::kinds::KINDS`]): option types, required keys and one-of groups;
//! and a test validates the bundled examples
//! (and rejects broken files), so the schema cannot drift from the loader.
//!
//! An unknown key the loader would answer with "did you mean `mount`?" (a
//! dropped letter, two letters swapped, `-` for `_`) is listed in the branch
//! as a key no value satisfies, with that question as its `errorMessage` and
//! `description`, so an editor says it too instead of only "not allowed".
//!
//! What must stay true: every file the loader accepts validates against the
//! schema. The schema may accept a little more (it does not know that `..` is
//! not a path component, or that a pool lies inside its subnet): the loader has
//! the last word.

use schemars::{json_schema, Schema};
use serde_json::{json, Map, Value};

use crate::kinds::{KindDef, OptionDef, OptionType, Presence, KINDS};

const CONTAINER_NAME: &str = "^[a-z0-9][a-z0-9_.-]{0,62}$";
const RESOURCE_NAME: &str = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$";
const NAME_PATTERN: &str = "^[A-Za-z0-9*?\\[][A-Za-z0-9_.*?\\[\\]!^-]{0,127}$";
const CUSTOM_KIND: &str =
    "^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+/[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";
const ABSOLUTE_PATH: &str = "^(/[^/\\u0000-\\u001f]+)+$";
const LABEL_KEY: &str = "^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$";
const TIMEOUT: &str = "^[0-9]{1,9}(ms|s|m|h)$";

fn string(pattern: &str, description: &str) -> Value {
    json!({ "type": "string", "pattern": pattern, "description": description })
}

/// A name: text matching `pattern`, or a whole number, which YAML reads from
/// an unquoted `2024` and the loader takes as the name `2024` (`pattern`
/// applies to strings only, `minimum` to numbers only).
fn name(pattern: &str, description: &str) -> Value {
    json!({ "type": ["string", "integer"], "minimum": 0, "pattern": pattern, "description": description })
}

fn boolean(description: &str) -> Value {
    json!({ "type": "boolean", "description": description })
}

fn labels(description: &str) -> Value {
    json!({
        "type": "object",
        "description": description,
        "propertyNames": { "pattern": LABEL_KEY },
        "additionalProperties": { "type": ["string", "integer", "boolean"] }
    })
}

fn mount(description: &str) -> Value {
    string(ABSOLUTE_PATH, description)
}

/// The schema of one option, from its type; its description is its docs line.
pub(crate) fn option_schema(o: &OptionDef) -> Value {
    let description = o.doc;
    match o.ty {
        OptionType::Bool => boolean(description),
        OptionType::AbsolutePath => mount(description),
        OptionType::DevicePath | OptionType::Text => {
            json!({ "type": "string", "description": description })
        }
        OptionType::ContainerPort => json!({
            "description": description,
            "oneOf": [
                { "type": "integer", "minimum": 1, "maximum": 65535 },
                { "type": "string", "pattern": "^[0-9]{1,5}(/(tcp|udp))?$" }
            ]
        }),
        // The loader reads a quoted port (`"8080"`) as the port, as it does
        // for `container_port`.
        OptionType::HostPort => json!({
            "type": ["integer", "string"],
            "minimum": 1,
            "maximum": 65535,
            "pattern": "^[0-9]{1,5}$",
            "description": description
        }),
        OptionType::PortRange => string("^[0-9]{1,5}-[0-9]{1,5}$", description),
        OptionType::ResourceName => name(RESOURCE_NAME, description),
        OptionType::Bridge => string("^[A-Za-z0-9_.-]{1,15}$", description),
        OptionType::Protocol => json!({ "enum": ["tcp", "udp"], "description": description }),
        OptionType::EnvMap => json!({
            "type": "object",
            "description": description,
            "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
            "additionalProperties": { "type": ["string", "integer", "boolean"] }
        }),
        OptionType::MountList => json!({
            "type": "array",
            "description": description,
            "items": {
                "type": "object",
                "required": ["path", "mount"],
                "additionalProperties": false,
                "properties": {
                    "path": mount("Host path."),
                    "mount": mount("Container path."),
                    "read_only": boolean("Read-only (default false).")
                }
            }
        }),
        OptionType::DeviceList => {
            json!({ "type": "array", "items": { "type": "string" }, "description": description })
        }
    }
}

fn options(options: &[OptionDef]) -> Map<String, Value> {
    options
        .iter()
        .map(|o| (o.key.to_string(), option_schema(o)))
        .collect()
}

fn required(options: &[OptionDef]) -> Vec<&'static str> {
    options
        .iter()
        .filter(|o| o.presence == Presence::Required)
        .map(|o| o.key)
        .collect()
}

/// Keys one slip away from a key of `props` (a letter dropped, two
/// neighbours swapped, `-` for `_`) that the loader's own suggestion
/// ([`crate::load::suggest`]) maps back to that key, each added as a key no
/// value satisfies whose `errorMessage` (VS Code's YAML and JSON services show
/// it) and `description` ask "did you mean `KEY`?".
fn add_typos(props: &mut Map<String, Value>) {
    let keys: Vec<String> = props.keys().cloned().collect();
    let known: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut typos: Vec<(String, &str)> = Vec::new();
    for k in &known {
        let chars: Vec<char> = k.chars().collect();
        let mut near: Vec<String> = (0..chars.len())
            .map(|i| {
                chars
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, c)| c)
                    .collect()
            })
            .collect();
        for i in 0..chars.len().saturating_sub(1) {
            let mut c = chars.clone();
            c.swap(i, i + 1);
            near.push(c.into_iter().collect());
        }
        near.push(k.replace('_', "-"));
        for t in near {
            if !t.is_empty()
                && !known.contains(&t.as_str())
                && crate::load::suggest(&t, &known) == Some(*k)
            {
                typos.push((t, k));
            }
        }
    }
    for (t, k) in typos {
        let ask = format!("Unknown key `{t}`: did you mean `{k}`?");
        props
            .entry(t)
            .or_insert_with(|| json!({ "not": {}, "errorMessage": ask, "description": ask }));
    }
}

/// One `oneOf` branch: an object with `kind_key` (or, for custom kinds, one
/// key matching the custom-kind pattern) and `options`.
fn entry(def: &KindDef, name: Value, options: Map<String, Value>, required: &[&str]) -> Value {
    let mut props = options;
    let mut req: Vec<Value> = required.iter().map(|r| json!(r)).collect();
    let mut branch = Map::new();
    branch.insert("type".into(), json!("object"));
    if def.is_custom() {
        branch.insert("patternProperties".into(), json!({ (CUSTOM_KIND): name }));
        // Every key is a custom kind or a known option, and at least one key
        // is a custom kind ("not every name fails the pattern").
        branch.insert(
            "propertyNames".into(),
            json!({ "anyOf": [ { "pattern": CUSTOM_KIND }, { "enum": props.keys().collect::<Vec<_>>() } ] }),
        );
        branch.insert(
            "not".into(),
            json!({ "propertyNames": { "not": { "pattern": CUSTOM_KIND } } }),
        );
    } else {
        props.insert(def.key.to_string(), name);
        req.insert(0, json!(def.key));
    }
    if !def.is_custom() {
        add_typos(&mut props);
    }
    branch.insert("required".into(), Value::Array(req));
    branch.insert("properties".into(), Value::Object(props));
    if !def.is_custom() {
        branch.insert("additionalProperties".into(), json!(false));
    }
    Value::Object(branch)
}

/// The `needs:` branch of one kind: its key and its need options, from its
/// definition (any definition: a test builds one for a kind berth lacks).
pub fn need_branch(def: &KindDef) -> Value {
    let name = if def.is_custom() {
        name(RESOURCE_NAME, "Resource name (`any` for any one).")
    } else {
        name(
            RESOURCE_NAME,
            &format!("Name of the {} this container needs.", def.key),
        )
    };
    entry(def, name, options(def.need), &required(def.need))
}

/// The `provides:` branch of one kind: its key, its provide options and
/// `allow`, its required options and its one-of group, from its definition.
pub fn provide_branch(def: &KindDef) -> Value {
    let mut options = options(def.provide);
    options.insert(
        "allow".into(),
        json!({
            "type": "array",
            "items": { "type": ["string", "integer"], "minimum": 0 },
            "description": "Which containers may hold it: glob patterns on the container name, or image:PATTERN."
        }),
    );
    let name = name(
        NAME_PATTERN,
        "Resource name, or a glob pattern serving every name it matches.",
    );
    let mut branch = entry(def, name, options, &required(def.provide));
    let group: Vec<Value> = def
        .provide
        .iter()
        .filter(|o| o.presence == Presence::OneOf)
        .map(|o| json!({ "required": [o.key] }))
        .collect();
    if let (false, Value::Object(m)) = (group.is_empty(), &mut branch) {
        m.insert("oneOf".into(), Value::Array(group));
    }
    branch
}

fn need_branches() -> Vec<Value> {
    KINDS.iter().map(need_branch).collect()
}

fn provide_branches() -> Vec<Value> {
    KINDS.iter().map(provide_branch).collect()
}

fn provider_branches() -> Vec<Value> {
    KINDS
        .iter()
        .map(|k| {
            let mut options = Map::new();
            options.insert(
                "run".into(),
                json!({
                    "type": "array",
                    "minItems": 1,
                    "items": { "type": ["string", "integer"] },
                    "prefixItems": [ { "type": "string", "minLength": 1 } ],
                    "description": "argv; run[0] is relative to the manifest's folder, absolute, or a command on PATH. Never a shell."
                }),
            );
            options.insert(
                "timeout".into(),
                string(TIMEOUT, "Time limit per call: 500ms, 30s, 2m, 1h (default 30s, at most 24h)."),
            );
            options.insert(
                "allow".into(),
                json!({
                    "type": "array",
                    "items": { "type": "string" },
                    "description": "Which containers may hold what it makes: glob patterns on the container name, or image:PATTERN."
                }),
            );
            options.insert(
                "env".into(),
                json!({
                    "type": "array",
                    "items": {
                        "type": "string",
                        "pattern": "^[A-Za-z_][A-Za-z0-9_]*(=.*)?$"
                    },
                    "description": "Environment variables the provider gets besides PATH, LANG and BERTH_*: NAME passes berth's own value through, NAME=value sets one; never BERTH_*."
                }),
            );
            let name = string(NAME_PATTERN, "Names this provider can make (glob).");
            entry(k, name, options, &["run"])
        })
        .collect()
}

/// The JSON Schema of a need spec (`berth.yaml`).
pub fn need_schema() -> Schema {
    json_schema!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "berth need spec",
        "description": "What a container needs, by resource name (berth.yaml beside the Dockerfile).",
        "type": "object",
        "required": ["berth", "container"],
        "additionalProperties": false,
        "properties": {
            "berth": { "const": 1, "description": "Format version." },
            "container": name(CONTAINER_NAME, "Container name."),
            "image": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^\\s-]\\S*$", "description": "Image `berth run` starts." },
            "placement": labels("Host labels a host must have (fleet placement)."),
            "needs": { "type": ["array", "null"], "items": { "oneOf": need_branches() }, "description": "The needs: one `<kind>: <name>` entry each, with that kind's options." }
        }
    })
}

/// The JSON Schema of a host manifest (`host.yaml`).
pub fn host_schema() -> Schema {
    json_schema!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "berth host manifest",
        "description": "What a host provides, by resource name, and the provider scripts that make missing resources.",
        "type": "object",
        "required": ["berth", "host"],
        "additionalProperties": false,
        "properties": {
            "berth": { "const": 1, "description": "Format version." },
            "host": name(CONTAINER_NAME, "Host name."),
            "labels": labels("Free-form labels, used by fleet placement."),
            "state_dir": string(ABSOLUTE_PATH, "Where this host's state lives (default $BERTH_STATE_DIR, then /var/lib/berth)."),
            "provides": { "type": ["array", "null"], "items": { "oneOf": provide_branches() }, "description": "What the host provides, in preference order." },
            "providers": { "type": ["array", "null"], "items": { "oneOf": provider_branches() }, "description": "Scripts that can make missing resources, in order." }
        }
    })
}
