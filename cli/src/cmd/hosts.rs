//! `berth hosts show -H HOST`: what a host offers and how much is left, the
//! other half of `berth status` (which shows what was handed out). Read-only:
//! the state is read without the lock and nothing is created. The numbers come
//! from [`berth_engine::inventory`], which counts a pool the way the solver
//! does.

use berth_engine::inventory::{inventory, Inventory, PoolUse};

use crate::args::{Format, HostShowArgs, HostsArgs, HostsCommand};
use crate::exit;
use crate::inputs;
use crate::out::{out, outln};
use crate::render::{self, escape};
use crate::report::Invalid;

pub fn run(args: HostsArgs) -> anyhow::Result<u8> {
    match args.command {
        HostsCommand::Show(a) => show(a),
    }
}

fn show(args: HostShowArgs) -> anyhow::Result<u8> {
    let invalid = Invalid {
        format: args.format,
        key: "ok",
    };
    let (host, state) = match inputs::load_host_and_state(&args.host, invalid) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let inv = inventory(&host, &state);
    match args.format {
        Format::Json => {
            let mut v = serde_json::to_value(&inv)?;
            v["file"] = serde_json::json!(host.source.path.display().to_string());
            outln!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Human => out!("{}", human(&inv, &render::path(&host.source.path))),
    }
    Ok(exit::OK)
}

/// `key=value` pairs of an entry as written (values from the manifest are
/// escaped: a trusted file can still hold a stray control character).
fn entry(v: &serde_json::Value) -> String {
    let Some(m) = v.as_object() else {
        return String::new();
    };
    let pairs: Vec<String> = m
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    escape(&pairs.join(" ")).into_owned()
}

fn pool_line(p: &PoolUse) -> String {
    let unit = if p.range.contains(['.', ':']) {
        "addresses"
    } else {
        "ports"
    };
    format!(
        "{} free of {} usable {unit} ({} in {})",
        p.free, p.usable, p.size, p.range
    )
}

fn human(inv: &Inventory, file: &str) -> String {
    let mut o = format!("host {} ({file})\n", escape(&inv.host));
    o.push_str(&format!("provides: {}\n", inv.provides.len()));
    for p in &inv.provides {
        o.push_str(&format!(
            "  {} `{}` (line {}): {}",
            p.kind,
            escape(&p.name),
            p.line,
            entry(&p.entry)
        ));
        if let Some(pool) = &p.pool {
            o.push_str(&format!("\n    {}", pool_line(pool)));
            for r in &pool.reservations {
                let who = match (&r.holder, &r.last_holder) {
                    (Some(h), _) => format!("held by {h}"),
                    (None, Some(l)) => {
                        format!("free, kept for the name; `berth release --purge {l}` frees it")
                    }
                    (None, None) => "free, kept for the name".to_string(),
                };
                o.push_str(&format!(
                    "\n    - {} = {} ({who})",
                    escape(&r.name),
                    r.value
                ));
            }
        } else if !p.holders.is_empty() {
            o.push_str(&format!(" (held by {})", p.holders.join(", ")));
        }
        o.push('\n');
    }
    o.push_str(&format!("providers: {}\n", inv.providers.len()));
    for d in &inv.providers {
        o.push_str(&format!(
            "  {} `{}` (line {}): {} (timeout {}s)\n",
            d.kind,
            escape(&d.pattern),
            d.line,
            escape(&d.run.join(" ")),
            d.timeout
        ));
    }
    if !inv.pending_releases.is_empty() {
        o.push_str(&format!(
            "pending releases: {}\n",
            escape(&inv.pending_releases.join(", "))
        ));
    }
    o
}
