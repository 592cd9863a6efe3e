//! A compose override file: the service with bind volumes, networks with fixed
//! addresses, ports and devices; every network is declared `external: true`
//! because berth (or a provider) made it, not compose.
//!
//! The override is merged onto the user's compose file. Compose merges a
//! service's `networks:` maps key by key, but a service that names no networks
//! is on the implicit `default` network only until a file names one: an
//! override that lists just berth's networks would take the service off
//! `default` and away from its siblings. Given the base file
//! (`--compose-file`, read by [`base_networks`]), the override repeats the
//! networks the base file gives the service, list or map form, and adds
//! `default` only when it gives none; without it, `default` is written with a
//! comment saying so (a service the base file puts on other networks only
//! would join `default` too). Ports are merged as a set of parsed entries, where
//! `8080:80` and `8080:80/tcp` differ: TCP ports are written without
//! `/tcp`, the way base files write them, so one port is never listed twice.
//!
//! Every scalar is written as a JSON string, which YAML reads as a
//! double-quoted scalar with the same escapes: no value, however odd, can change
//! the document's structure. Compose then interpolates `$VAR`, `${VAR}` and
//! `$(` in every value (not in keys), so each `$` in a value is written `$$`,
//! which compose reads back as one literal `$`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;
use std::sync::atomic::AtomicUsize;

use berth_specs::Protocol;

use crate::edits::Edits;
use crate::emit::emitter::{Emitter, Input, Output};
use crate::emit::EmitError;

/// `--emit compose`: one override file, one service per container, with a note
/// for each CDI device whose container path cannot be passed.
#[derive(Debug, Clone, Default)]
pub struct Compose {
    /// `--compose-file`: the networks the base file gives each of its
    /// services ([`base_networks`]); `None` when no base file was given.
    pub base: Option<BaseNetworks>,
}

/// The networks a base compose file gives each service, in file order (an
/// empty list for a service that names none).
pub type BaseNetworks = BTreeMap<String, Vec<String>>;

/// The compose emitter without a base file.
pub static COMPOSE: Compose = Compose { base: None };

/// Why a base compose file could not be read for its networks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BaseFileError(pub String);

/// The networks each service of base compose file `text` names under
/// `networks:`, in the list form (`[front, back]`) or the map form
/// (`front: {ipv4_address: ...}`).
pub fn base_networks(text: &str) -> Result<BaseNetworks, BaseFileError> {
    use berth_specs::yaml::{parse_yaml, Base};
    let budget = AtomicUsize::new(0);
    let parsed = parse_yaml(text, Base::default(), &budget);
    if let Some(e) = parsed.error {
        return Err(BaseFileError(format!("not YAML: {e:?}")));
    }
    let doc = parsed
        .documents
        .first()
        .ok_or_else(|| BaseFileError("empty file".into()))?;
    let services = doc
        .get("services")
        .and_then(|s| s.as_map())
        .ok_or_else(|| BaseFileError("no `services:` map".into()))?;
    let mut out = BaseNetworks::new();
    for (name, svc) in services {
        let name = name
            .text()
            .ok_or_else(|| BaseFileError("a service name that is not text".into()))?;
        let nets: Vec<String> = match svc.get("networks") {
            None => Vec::new(),
            Some(n) if n.is_null() => Vec::new(),
            Some(n) => match (n.as_seq(), n.as_map()) {
                (Some(list), _) => list
                    .iter()
                    .map(|x| x.text().map(str::to_string))
                    .collect::<Option<_>>(),
                (_, Some(map)) => map
                    .iter()
                    .map(|(k, _)| k.text().map(str::to_string))
                    .collect::<Option<_>>(),
                _ => None,
            }
            .ok_or_else(|| {
                BaseFileError(format!(
                    "service `{name}`: `networks:` is neither a list nor a map of names"
                ))
            })?,
        };
        out.insert(name.to_string(), nets);
    }
    Ok(out)
}

impl Emitter for Compose {
    fn name(&self) -> &'static str {
        "compose"
    }
    fn about(&self) -> &'static str {
        "A compose override file"
    }
    fn extension(&self) -> &'static str {
        "compose.yaml"
    }
    fn render(&self, input: &Input<'_>) -> Result<Output, EmitError> {
        let mut out = Output::default();
        for e in input.edits {
            out.note_all(&e.container, e.cdi_path_notes());
        }
        out.text = emit_onto(input.edits, self.base.as_ref());
        Ok(out)
    }
}

fn q(s: &str) -> String {
    let json = serde_json::to_string(s).expect("strings serialize");
    // JSON leaves U+0085, U+2028 and U+2029 raw, but YAML 1.1 (compose's
    // parser) takes them for line breaks and folds a double-quoted scalar
    // there, dropping the blank before one. Escaped, they stay characters.
    if json.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
        json.replace('\u{85}', "\\u0085")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
    } else {
        json
    }
}

/// A value compose interpolates: quoted, with every `$` doubled.
fn v(s: &str) -> String {
    q(&s.replace('$', "$$"))
}

/// The override file's text for one or more containers (one service each);
/// networks used by any of them are declared once. No base file: see
/// [`emit_onto`].
pub fn emit(all: &[Edits]) -> String {
    emit_onto(all, None)
}

/// [`emit`] for an override of a base file whose services' networks are
/// `base` (`None`: not given).
pub fn emit_onto(all: &[Edits], base: Option<&BaseNetworks>) -> String {
    let mut y = String::from("services:\n");
    for e in all {
        service(&mut y, e, base);
    }
    let mut nets: Vec<&str> = Vec::new();
    for n in all.iter().flat_map(|e| &e.networks) {
        if !nets.contains(&n.network.as_str()) {
            nets.push(&n.network);
        }
    }
    if !nets.is_empty() {
        y.push_str("networks:\n");
        for n in nets {
            let _ = writeln!(y, "  {}:", q(n));
            let _ = writeln!(y, "    external: true");
        }
    }
    y
}

fn service(y: &mut String, e: &Edits, base: Option<&BaseNetworks>) {
    let _ = writeln!(y, "  {}:", q(&e.container));
    if let Some(img) = &e.image {
        let _ = writeln!(y, "    image: {}", v(img));
    }
    if !e.mounts.is_empty() {
        y.push_str("    volumes:\n");
        for m in &e.mounts {
            let _ = writeln!(y, "      - type: bind");
            let _ = writeln!(y, "        source: {}", v(&m.source));
            let _ = writeln!(y, "        target: {}", v(&m.target));
            if m.read_only {
                let _ = writeln!(y, "        read_only: true");
            }
        }
    }
    if !e.networks.is_empty() {
        y.push_str("    networks:\n");
        // Keeps the service on the networks the base file gives it, else on
        // compose's implicit network (see the module doc).
        let theirs = base.and_then(|b| b.get(&e.container)).map(Vec::as_slice);
        let keep: Vec<&str> = match theirs {
            Some(nets) if !nets.is_empty() => nets.iter().map(String::as_str).collect(),
            _ => vec!["default"],
        };
        if base.is_none() {
            y.push_str(
                "      # `default` keeps the service on compose's implicit network; \
                 give --compose-file BASE to keep the base file's networks instead\n",
            );
        }
        for k in keep {
            if !e.networks.iter().any(|n| n.network == k) {
                let _ = writeln!(y, "      {}: {{}}", q(k));
            }
        }
        for n in &e.networks {
            if n.ipv6.is_none() && n.ipv4.is_none() {
                let _ = writeln!(y, "      {}: {{}}", q(&n.network));
                continue;
            }
            let _ = writeln!(y, "      {}:", q(&n.network));
            if let Some(a) = n.ipv6 {
                let _ = writeln!(y, "        ipv6_address: {}", q(&a.to_string()));
            }
            if let Some(a) = n.ipv4 {
                let _ = writeln!(y, "        ipv4_address: {}", q(&a.to_string()));
            }
        }
    }
    if !e.ports.is_empty() {
        y.push_str("    ports:\n");
        for p in &e.ports {
            // The short form: docker-compose 1.29 rejects the long form's
            // `host_ip`, and the short form is read by every compose version.
            let bind = match p.bind {
                Some(IpAddr::V6(a)) => format!("[{a}]:"),
                Some(IpAddr::V4(a)) => format!("{a}:"),
                None => String::new(),
            };
            // `/tcp` is left out: compose reads `8080:80` and `8080:80/tcp`
            // as two ports, so a base file's `8080:80` would be published
            // twice (and refused). Only `/udp` is written.
            let proto = match p.protocol {
                Protocol::Tcp => String::new(),
                other => format!("/{other}"),
            };
            let p = format!("{bind}{}:{}{proto}", p.host_port, p.container_port);
            let _ = writeln!(y, "      - {}", v(&p));
        }
    }
    if !e.devices.is_empty() {
        y.push_str("    devices:\n");
        for d in &e.devices {
            let d = match &d.target {
                Some(t) if !d.is_cdi() => format!("{}:{}", d.path, t),
                _ => d.path.clone(),
            };
            let _ = writeln!(y, "      - {}", v(&d));
        }
    }
    if !e.env.is_empty() {
        y.push_str("    environment:\n");
        for (k, val) in &e.env {
            let _ = writeln!(y, "      {}: {}", q(k), v(val));
        }
    }
}
