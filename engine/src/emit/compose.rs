//! A compose override file: the service with bind volumes, networks with fixed
//! addresses, ports and devices; every network is declared `external: true`
//! because berth (or a provider) made it, not compose.
//!
//! The override is merged onto the user's compose file, which berth never
//! sees. Compose merges a service's `networks:` maps key by key, but a service
//! that names no networks is on the implicit `default` network only until a
//! file names one: an override that lists just berth's networks would take the
//! service off `default` and away from its siblings. So a service with
//! networks also lists `default` (keeping the base file's own networks is
//! compose's merge). Ports are merged as a set of parsed entries, where
//! `8080:80` and `8080:80/tcp` differ: TCP ports are written without
//! `/tcp`, the way base files write them, so one port is never listed twice.
//!
//! Every scalar is written as a JSON string, which YAML reads as a
//! double-quoted scalar with the same escapes: no value, however odd, can change
//! the document's structure. Compose then interpolates `$VAR`, `${VAR}` and
//! `$(` in every value (not in keys), so each `$` in a value is written `$$`,
//! which compose reads back as one literal `$`.

use std::fmt::Write;
use std::net::IpAddr;

use berth_specs::Protocol;

use crate::edits::Edits;
use crate::emit::emitter::{Emitter, Input, Output};
use crate::emit::EmitError;

/// `--emit compose`: one override file, one service per container, with a note
/// for each CDI device whose container path cannot be passed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Compose;

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
        out.text = emit(input.edits);
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
/// networks used by any of them are declared once.
pub fn emit(all: &[Edits]) -> String {
    let mut y = String::from("services:\n");
    for e in all {
        service(&mut y, e);
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

fn service(y: &mut String, e: &Edits) {
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
        // Keeps the service on compose's implicit network (see the module doc).
        if !e.networks.iter().any(|n| n.network == "default") {
            let _ = writeln!(y, "      \"default\": {{}}");
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
