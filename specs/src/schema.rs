//! JSON Schema (draft 2020-12) of the two formats, for editors and CI
//! (`berth schema need|host`).
//!
//! Built by hand with `schemars::json_schema!` rather than derived: an entry
//! of `needs:`/`provides:` is "a map with exactly one kind key plus that kind's
//! options", which no serde shape expresses, while one `oneOf` branch per kind
//! does. The option lists come from [`crate::load::need_options`] and
//! [`crate::load::provide_options`], and a test validates the bundled examples
//! (and rejects broken files), so the schema cannot drift from the loader.
//!
//! What must stay true: every file the loader accepts validates against the
//! schema. The schema may accept a little more (it does not know that `..` is
//! not a path component, or that a pool lies inside its subnet): the loader has
//! the last word.

use schemars::{json_schema, Schema};
use serde_json::{json, Map, Value};

use crate::load::{need_options, provide_options};
use crate::model::Kind;

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

/// The schema of one option of a need.
fn need_option(kind: &Kind, option: &str) -> Value {
    match option {
        "mount" if *kind == Kind::Secret => {
            mount("Absolute, normalized path of the secret file in the container.")
        }
        "mount" => mount("Absolute, normalized path in the container."),
        "read_only" => boolean("Mount read-only (default false)."),
        "exclusive" => boolean("The container wants the volume for itself alone (default false)."),
        "prefix" => {
            json!({ "type": "string", "description": "The address must lie within this CIDR prefix." })
        }
        "container_port" => json!({
            "description": "Port inside the container: 80, or \"53/udp\".",
            "oneOf": [
                { "type": "integer", "minimum": 1, "maximum": 65535 },
                { "type": "string", "pattern": "^[0-9]{1,5}(/(tcp|udp))?$" }
            ]
        }),
        "path" => mount("Device path inside the container (default: the host's path)."),
        other => unreachable!("need option {other} has no schema"),
    }
}

/// The schema of one option of a provide.
fn provide_option(kind: &Kind, option: &str) -> Value {
    let v6 = *kind == Kind::Ipv6;
    match option {
        "bridge" => string(
            "^[A-Za-z0-9_.-]{1,15}$",
            "Host bridge / LXC link (default: the network's name).",
        ),
        "subnet6" => json!({ "type": "string", "description": "IPv6 subnet (CIDR)." }),
        "gateway6" => json!({ "type": "string", "description": "IPv6 gateway, inside subnet6." }),
        "subnet4" => json!({ "type": "string", "description": "IPv4 subnet (CIDR)." }),
        "gateway4" => json!({ "type": "string", "description": "IPv4 gateway, inside subnet4." }),
        "address" => {
            json!({ "type": "string", "description": if v6 { "One static IPv6 address." } else { "One static IPv4 address." } })
        }
        "pool" if *kind == Kind::Port => string(
            "^[0-9]{1,5}-[0-9]{1,5}$",
            "Host port range FIRST-LAST (inclusive).",
        ),
        "pool" => {
            json!({ "type": "string", "description": "Address pool (CIDR): one address per name, lowest free first." })
        }
        "network" => string(
            RESOURCE_NAME,
            "The network the address lives on; an implied need of the holder.",
        ),
        "path" if *kind == Kind::Device => {
            json!({ "type": "string", "description": "Host device node, or a CDI name vendor.tld/class=name." })
        }
        "path" => mount("Host directory (absolute)."),
        "read_only" => boolean("The host only lends it read-only (default false)."),
        "exclusive" => boolean("One holder at a time (default false)."),
        "host_port" => {
            json!({ "type": "integer", "minimum": 1, "maximum": 65535, "description": "Host port." })
        }
        "bind" => {
            json!({ "type": "string", "description": "Host address to bind (default: all)." })
        }
        "protocol" => json!({ "enum": ["tcp", "udp"], "description": "Protocol (default tcp)." }),
        "shared" => boolean("Several holders at once (default false)."),
        "file" => mount("Host file holding the secret."),
        "env" => json!({
            "type": "object",
            "description": "Environment variables to set.",
            "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
            "additionalProperties": { "type": ["string", "integer", "boolean"] }
        }),
        "mounts" => json!({
            "type": "array",
            "description": "Bind mounts to add.",
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
        "devices" => {
            json!({ "type": "array", "items": { "type": "string" }, "description": "Device nodes or CDI names to add." })
        }
        other => unreachable!("provide option {other} has no schema"),
    }
}

fn required_need_options(kind: &Kind) -> &'static [&'static str] {
    match kind {
        Kind::Volume | Kind::Secret => &["mount"],
        Kind::Port => &["container_port"],
        _ => &[],
    }
}

/// One `oneOf` branch: an object with `kind_key` (or, for custom kinds, one
/// key matching the custom-kind pattern) and `options`.
fn entry(kind: &Kind, name: Value, options: Map<String, Value>, required: &[&str]) -> Value {
    let mut props = options;
    let mut req: Vec<Value> = required.iter().map(|r| json!(r)).collect();
    let mut branch = Map::new();
    branch.insert("type".into(), json!("object"));
    if let Kind::Custom(_) = kind {
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
        props.insert(kind.as_str().to_string(), name);
        req.insert(0, json!(kind.as_str()));
    }
    branch.insert("required".into(), Value::Array(req));
    branch.insert("properties".into(), Value::Object(props));
    if !matches!(kind, Kind::Custom(_)) {
        branch.insert("additionalProperties".into(), json!(false));
    }
    Value::Object(branch)
}

fn all_kinds() -> Vec<Kind> {
    let mut k = Kind::BUILTIN.to_vec();
    k.push(Kind::Custom("vendor.tld/class".into()));
    k
}

fn need_branches() -> Vec<Value> {
    all_kinds()
        .iter()
        .map(|k| {
            let options = need_options(k)
                .iter()
                .map(|o| (o.to_string(), need_option(k, o)))
                .collect();
            let name = if let Kind::Custom(_) = k {
                string(RESOURCE_NAME, "Resource name (`any` for any one).")
            } else {
                string(
                    RESOURCE_NAME,
                    &format!("Name of the {k} this container needs."),
                )
            };
            entry(k, name, options, required_need_options(k))
        })
        .collect()
}

fn provide_branches() -> Vec<Value> {
    all_kinds()
        .iter()
        .map(|k| {
            let mut options: Map<String, Value> = provide_options(k)
                .iter()
                .map(|o| (o.to_string(), provide_option(k, o)))
                .collect();
            options.insert(
                "allow".into(),
                json!({
                    "type": "array",
                    "items": { "type": "string" },
                    "description": "Which containers may hold it: glob patterns on the container name, or image:PATTERN."
                }),
            );
            let required: &[&str] = match k {
                Kind::Volume | Kind::Device => &["path"],
                Kind::Secret => &["file"],
                Kind::Ipv6 | Kind::Ipv4 => &["network"],
                _ => &[],
            };
            let name = string(NAME_PATTERN, "Resource name, or a glob pattern serving every name it matches.");
            let mut branch = entry(k, name, options, required);
            let one_of = match k {
                Kind::Ipv6 | Kind::Ipv4 => Some(["address", "pool"]),
                Kind::Port => Some(["host_port", "pool"]),
                _ => None,
            };
            if let (Some([a, b]), Value::Object(m)) = (one_of, &mut branch) {
                m.insert(
                    "oneOf".into(),
                    json!([{ "required": [a] }, { "required": [b] }]),
                );
            }
            branch
        })
        .collect()
}

fn provider_branches() -> Vec<Value> {
    all_kinds()
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
            "container": string(CONTAINER_NAME, "Container name."),
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
            "host": string(CONTAINER_NAME, "Host name."),
            "labels": labels("Free-form labels, used by fleet placement."),
            "state_dir": string(ABSOLUTE_PATH, "Where this host's state lives (default $BERTH_STATE_DIR, then /var/lib/berth)."),
            "provides": { "type": ["array", "null"], "items": { "oneOf": provide_branches() }, "description": "What the host provides, in preference order." },
            "providers": { "type": ["array", "null"], "items": { "oneOf": provider_branches() }, "description": "Scripts that can make missing resources, in order." }
        }
    })
}
