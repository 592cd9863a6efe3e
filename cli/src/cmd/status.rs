//! `berth status`: what a host has handed out, read without taking the lock
//! (a reader sees a whole state file thanks to atomic renames) and without
//! creating anything.

use berth_engine::state::{self, BindingSource, State};
use berth_engine::store;

use crate::args::{Format, StatusArgs};
use crate::exit;
use crate::inputs;
use crate::out::{out, outln};
use crate::render::{self, escape};
use crate::report::Invalid;

pub fn run(args: StatusArgs) -> anyhow::Result<u8> {
    let invalid = Invalid {
        format: args.format,
        key: "ok",
    };
    let (host, state) = match inputs::load_host_and_state(&args.host, invalid) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let path = store::state_path(&host);
    match args.format {
        Format::Json => outln!("{}", state::status_json(&state, &path.display().to_string())),
        Format::Human => out!("{}", human(&state, &render::path(&path))),
    }
    Ok(exit::OK)
}

fn source(s: BindingSource) -> &'static str {
    match s {
        BindingSource::Provides => "provides",
        BindingSource::Pool => "pool",
        BindingSource::Provider => "provider",
    }
}

/// A compact rendering of the value for people: `{"path": "/srv"}` becomes
/// `path=/srv` (control characters escaped: values come from providers).
fn value(v: &serde_json::Value) -> String {
    escape(&raw_value(v)).into_owned()
}

fn raw_value(v: &serde_json::Value) -> String {
    match v.as_object() {
        Some(m) => m
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        None => v.to_string(),
    }
}

fn human(state: &State, path: &str) -> String {
    let mut out = format!("host {} (state file {path})\n", escape(&state.host));
    out.push_str(&format!("holdings: {}\n", state.holdings.len()));
    for (c, h) in &state.holdings {
        out.push_str(&format!("  {c}\n"));
        for b in &h.bindings {
            out.push_str(&format!(
                "    {} `{}` <- {} `{}`: {}\n",
                b.kind,
                b.name,
                source(b.source),
                b.provide,
                value(&b.value)
            ));
        }
    }
    out.push_str(&format!("reservations: {}\n", state.reservations.len()));
    for (k, r) in &state.reservations {
        let who = match (&r.holder, &r.last_holder) {
            (Some(h), _) => format!("held by {h}"),
            (None, Some(l)) => format!("free (last held by {l})"),
            (None, None) => "free".to_string(),
        };
        out.push_str(&format!(
            "  {k} = {} from pool {} ({who})\n",
            r.value, r.pool
        ));
    }
    out.push_str(&format!("provided: {}\n", state.provided.len()));
    for (k, p) in &state.provided {
        out.push_str(&format!(
            "  {k} by {}: {} (users: {})\n",
            escape(&p.run.join(" ")),
            value(&p.provided),
            p.users.join(", ")
        ));
    }
    if !state.pending_releases.is_empty() {
        out.push_str(&format!(
            "pending releases: {} (retried by the next `berth release`; `berth release --forget KIND/NAME` drops one that cannot succeed)\n",
            state.pending_releases.len()
        ));
        for p in &state.pending_releases {
            out.push_str(&format!(
                "  {}/{} by {}\n",
                p.kind,
                p.name,
                escape(&p.run.join(" "))
            ));
        }
    }
    out
}
