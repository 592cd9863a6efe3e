//! `berth status`: what a host has handed out, read without taking the lock
//! (a reader sees a whole state file thanks to atomic renames) and without
//! creating anything.

use std::fmt::Write;
use std::io::Write as _;

use anyhow::Context as _;
use berth_engine::state::{BindingSource, State};
use berth_engine::store;

use crate::args::{Format, StatusArgs};
use crate::exit;
use crate::inputs;
use crate::out::out;
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
        Format::Json => {
            // Streamed: a big host's view (11 MB at 5,000 holdings) is
            // never held whole. A closed pipe reaches `main` as an error.
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            berth_engine::status_view::write_status_json(
                &state,
                &path.display().to_string(),
                &mut w,
            )
            .and_then(|()| writeln!(w))
            .and_then(|()| w.flush())
            .context("cannot write to stdout")?;
        }
        Format::Human => out!("{}", human(&state, &render::path(&path))),
    }
    // The process ends with this command: freeing a full host's state one
    // allocation at a time (tens of thousands at 5,000 holdings) only
    // delays the exit, as for `place`'s fleet.
    std::mem::forget(state);
    Ok(exit::OK)
}

fn source(s: BindingSource) -> &'static str {
    match s {
        BindingSource::Provides => "provides",
        BindingSource::Pool => "pool",
        BindingSource::Provider => "provider",
    }
}

/// A compact rendering of a value for people: `{"path": "/srv"}` (its
/// `fields`) becomes `path=/srv`, anything else is `whole` as JSON (control
/// characters escaped: values come from providers), appended to `out`;
/// `scratch` is reused from value to value.
fn value<'v>(
    out: &mut String,
    scratch: &mut String,
    fields: Option<impl Iterator<Item = (&'v str, &'v serde_json::Value)>>,
    whole: &dyn std::fmt::Display,
) {
    scratch.clear();
    match fields {
        Some(m) => {
            for (i, (k, v)) in m.enumerate() {
                if i > 0 {
                    scratch.push(' ');
                }
                let _ = match v {
                    serde_json::Value::String(s) => write!(scratch, "{k}={s}"),
                    other => write!(scratch, "{k}={other}"),
                };
            }
        }
        None => {
            let _ = write!(scratch, "{whole}");
        }
    }
    out.push_str(&escape(scratch));
}

/// The human view, written into one string (ten thousand lines at 5,000
/// holdings: no string per line), sized once (about 220 bytes a holding of
/// two bindings and 80 a reservation, measured at 5,000 holdings).
fn human(state: &State, path: &str) -> String {
    let size = 256 + 256 * state.holdings.len() + 96 * state.reservations.len();
    let mut out = String::with_capacity(size);
    let mut scratch = String::new();
    let _ = writeln!(out, "host {} (state file {path})", escape(&state.host));
    let _ = writeln!(out, "holdings: {}", state.holdings.len());
    for (c, h) in &state.holdings {
        let _ = writeln!(out, "  {c}");
        for b in &h.bindings {
            let _ = write!(
                out,
                "    {} `{}` <- {} `{}`: ",
                b.kind,
                b.name,
                source(b.source),
                b.provide
            );
            value(&mut out, &mut scratch, b.value.fields(), &b.value);
            out.push('\n');
        }
    }
    let _ = writeln!(out, "reservations: {}", state.reservations.len());
    for (k, r) in &state.reservations {
        let _ = write!(out, "  {k} = {} from pool {} (", r.value, r.pool);
        let _ = match (&r.holder, &r.last_holder) {
            (Some(h), _) => write!(out, "held by {h}"),
            (None, Some(l)) => write!(out, "free (last held by {l})"),
            (None, None) => write!(out, "free"),
        };
        out.push_str(")\n");
    }
    let _ = writeln!(out, "provided: {}", state.provided.len());
    for (k, p) in &state.provided {
        let _ = write!(out, "  {k} by {}: ", escape(&p.run.join(" ")));
        let fields = p
            .provided
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)));
        value(&mut out, &mut scratch, fields, &p.provided);
        let _ = writeln!(out, " (users: {})", p.users.join(", "));
    }
    if !state.pending_releases.is_empty() {
        let _ = writeln!(
            out,
            "pending releases: {} (retried by the next `berth release`; `berth release --forget KIND/NAME` drops one that cannot succeed)",
            state.pending_releases.len()
        );
        for p in &state.pending_releases {
            let _ = writeln!(
                out,
                "  {}/{} by {}",
                p.kind,
                p.name,
                escape(&p.run.join(" "))
            );
        }
    }
    out
}
