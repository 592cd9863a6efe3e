//! Nomad files for a placed fleet, in HCL (`docs/engines.md`, "Nomad"):
//! - per host: a `client` block with one `host_volume` per volume the manifest
//!   names exactly (its `path` and `read_only`);
//! - per container: a job pinned to its host (`constraint` on
//!   `${node.unique.name}`), a group with a `volume` of type `host` per volume
//!   need (`source`, `read_only`), static `port`s, and
//!   `network { mode = "cni/<net>" cni { args = { BERTH_NAME = ... } } }` for
//!   its address; a docker task with `volume_mount`s, `env`, device paths, and
//!   read-only bind mounts for secrets and custom-kind mounts.
//!
//! Nomad attaches a group to one network and its docker driver takes no CDI
//! names: both are notes. Strings are escaped for HCL (`"`, `\`, `${`, `%{`)
//! by [`string`], the only way text reaches the output.

use std::fmt::Write;

use berth_specs::{HostManifest, Kind, ProvideDetail};

use super::model::{ExportNote, ExportNoteKind, Placed};

/// An HCL string literal: quotes, backslashes and control characters escaped,
/// template sequences (`${`, `%{`) doubled so they stay literal.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `s` can be an HCL attribute name (an identifier).
fn identifier(s: &str) -> bool {
    let mut b = s.chars();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Renders the client blocks of every host, then one job per placed container.
pub fn render(
    placed: &[Placed<'_>],
    hosts: &[&HostManifest],
    notes: &mut Vec<ExportNote>,
) -> String {
    let mut out = String::from("# Nomad configuration written by `berth export nomad`\n");
    for h in hosts {
        let vols: Vec<_> = h
            .provides
            .iter()
            .filter(|p| p.kind == Kind::Volume && p.name.is_exact())
            .collect();
        if vols.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n# client configuration of host {}",
            h.host.replace('\n', " ")
        );
        out.push_str("client {\n");
        for p in vols {
            if let ProvideDetail::Volume {
                path, read_only, ..
            } = &p.detail
            {
                let _ = writeln!(out, "  host_volume {} {{", string(p.name.as_str()));
                let _ = writeln!(out, "    path      = {}", string(path));
                let _ = writeln!(out, "    read_only = {read_only}");
                out.push_str("  }\n");
            }
        }
        out.push_str("}\n");
    }
    for p in placed {
        job(&mut out, p, notes);
    }
    out
}

fn job(out: &mut String, p: &Placed<'_>, notes: &mut Vec<ExportNote>) {
    let c = &p.spec.container;
    let mut note = |need: &str, kind: ExportNoteKind| {
        notes.push(ExportNote {
            container: c.clone(),
            need: need.to_string(),
            kind,
        })
    };
    let e = &p.edits;
    let _ = writeln!(out, "\njob {} {{", string(c));
    out.push_str("  datacenters = [\"*\"]\n  type        = \"service\"\n\n");
    out.push_str("  constraint {\n    attribute = \"${node.unique.name}\"\n");
    let _ = writeln!(out, "    value     = {}\n  }}\n", string(&p.host.host));
    let _ = writeln!(out, "  group {} {{", string(c));
    // Network: the first attachment; more are notes.
    out.push_str("    network {\n");
    if let Some(a) = e.networks.first() {
        let _ = writeln!(
            out,
            "      mode = {}",
            string(&format!("cni/{}", a.network))
        );
    }
    for pm in &e.ports {
        let _ = writeln!(out, "      port {} {{", string(&pm.name));
        let _ = writeln!(out, "        static = {}", pm.host_port);
        let _ = writeln!(out, "        to     = {}", pm.container_port);
        out.push_str("      }\n");
        if let Some(b) = pm.bind {
            note(
                &format!("port {}", pm.name),
                ExportNoteKind::PortBindNotExpressible {
                    bind: b.to_string(),
                },
            );
        }
    }
    if let Some(a) = e.networks.first() {
        if let Some((_, name)) = p.addresses.iter().find(|(n, _)| *n == a.network) {
            out.push_str("      cni {\n        args = {\n");
            let _ = writeln!(out, "          BERTH_NAME = {}", string(name));
            out.push_str("        }\n      }\n");
        }
    }
    out.push_str("    }\n");
    for a in e.networks.iter().skip(1) {
        note(
            &format!("network {}", a.network),
            ExportNoteKind::ExtraNetwork {
                network: a.network.clone(),
            },
        );
    }
    let volumes: Vec<_> = e
        .mounts
        .iter()
        .filter_map(|m| Some((m.from.strip_prefix("volume ")?, m)))
        .collect();
    for (name, m) in &volumes {
        let _ = writeln!(out, "\n    volume {} {{", string(name));
        out.push_str("      type      = \"host\"\n");
        let _ = writeln!(out, "      source    = {}", string(name));
        let _ = writeln!(out, "      read_only = {}", m.read_only);
        out.push_str("    }\n");
    }
    let _ = writeln!(out, "\n    task {} {{", string(c));
    out.push_str("      driver = \"docker\"\n\n      config {\n");
    match &p.spec.image {
        Some(i) => {
            let _ = writeln!(out, "        image = {}", string(i));
        }
        None => {
            out.push_str("        image = \"\"\n");
            note("", ExportNoteKind::NoImage);
        }
    }
    if !e.ports.is_empty() {
        let names: Vec<String> = e.ports.iter().map(|pm| string(&pm.name)).collect();
        let _ = writeln!(out, "        ports = [{}]", names.join(", "));
    }
    for m in e.mounts.iter().filter(|m| !m.from.starts_with("volume ")) {
        out.push_str("        mount {\n          type     = \"bind\"\n");
        let _ = writeln!(out, "          source   = {}", string(&m.source));
        let _ = writeln!(out, "          target   = {}", string(&m.target));
        let _ = writeln!(out, "          readonly = {}", m.read_only);
        out.push_str("        }\n");
    }
    let mut devices = Vec::new();
    for d in &e.devices {
        if d.is_cdi() {
            note(
                &d.from,
                ExportNoteKind::DeviceNotExpressible {
                    device: d.path.clone(),
                },
            );
        } else {
            let target = d.target.as_deref().unwrap_or(&d.path);
            devices.push(format!(
                "{{ host_path = {}, container_path = {} }}",
                string(&d.path),
                string(target)
            ));
        }
    }
    if !devices.is_empty() {
        let _ = writeln!(out, "        devices = [{}]", devices.join(", "));
    }
    out.push_str("      }\n");
    for (name, m) in &volumes {
        out.push_str("\n      volume_mount {\n");
        let _ = writeln!(out, "        volume      = {}", string(name));
        let _ = writeln!(out, "        destination = {}", string(&m.target));
        let _ = writeln!(out, "        read_only   = {}", m.read_only);
        out.push_str("      }\n");
    }
    if !e.env.is_empty() {
        out.push_str("\n      env {\n");
        for (k, v) in &e.env {
            if identifier(k) {
                let _ = writeln!(out, "        {k} = {}", string(v));
            } else {
                note(
                    &format!("env {k}"),
                    ExportNoteKind::BadName { name: k.clone() },
                );
            }
        }
        out.push_str("      }\n");
    }
    out.push_str("    }\n  }\n}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_quotes_and_templates() {
        assert_eq!(string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(string("${x} %{y} $z"), r#""$${x} %%{y} $z""#);
        assert_eq!(string("a\nb"), r#""a\nb""#);
    }

    #[test]
    fn identifiers() {
        assert!(identifier("FOO_BAR"));
        assert!(!identifier("1X"));
        assert!(!identifier("a.b"));
    }
}
