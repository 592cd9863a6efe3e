//! `berth plan -H HOST SPEC...`: solve and show the bindings, the provider steps
//! apply would run, and every unmet need with its reasons. No side effects: the
//! state is read without locking and nothing is created.

use std::fmt::Write;

use berth_engine::emit;
use berth_engine::plan::{Binding, Plan};
use berth_engine::state::BindingSource;
use berth_specs::{HostManifest, NeedSpec};
use serde_json::Value;

use crate::args::{Format, PlanArgs};
use crate::exit;
use crate::explain_render;
use crate::out::{out, outln};
use crate::render;
use crate::report::Invalid;

pub fn run(args: PlanArgs) -> anyhow::Result<u8> {
    let invalid = Invalid {
        format: args.format,
        key: "satisfied",
    };
    let (host, specs) =
        match super::label::load_with_image(&args.host, &args.specs, &args.image, true, invalid) {
            Ok(x) => x,
            Err(code) => return Ok(code),
        };
    let refs: Vec<&NeedSpec> = specs.iter().collect();
    let (state, plan) = match crate::inputs::solve_readonly(&host, &refs, invalid) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    match args.format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&explain_render::plan_json(
                &plan,
                &refs,
                &host,
                Some(&state)
            ))?
        ),
        Format::Human => {
            out!("{}", human(&host, &plan));
            if !plan.satisfied {
                explain_render::report_unsatisfied(
                    &host,
                    &refs,
                    &plan,
                    Format::Human,
                    Some(&state),
                );
            }
        }
    }
    Ok(if plan.satisfied {
        exit::OK
    } else {
        exit::INVALID
    })
}

/// The plan for people: one block per container, then the steps.
pub(crate) fn human(host: &HostManifest, plan: &Plan) -> String {
    let file = render::path(&host.source.path);
    let mut o = String::new();
    let ok = plan.containers.iter().filter(|c| c.satisfied).count();
    let _ = writeln!(
        o,
        "host `{}` ({file}): {ok} of {} container(s) can run{}",
        render::escape(&plan.host),
        plan.containers.len(),
        if plan.steps.is_empty() {
            String::new()
        } else {
            format!(", after {} provider step(s)", plan.steps.len())
        }
    );
    for c in &plan.containers {
        let _ = writeln!(o);
        if !c.satisfied {
            let _ = writeln!(
                o,
                "container `{}`: cannot run here ({} unmet need(s), explained on stderr)",
                c.container,
                c.unmet.len()
            );
            continue;
        }
        let _ = writeln!(o, "container `{}`:", c.container);
        let width = c
            .bindings
            .iter()
            .map(|b| b.kind.as_str().len() + 1 + b.name.len())
            .max()
            .unwrap_or(0);
        for b in &c.bindings {
            let what = format!("{} {}", b.kind, b.name);
            let _ = writeln!(
                o,
                "  {what:<width$}  <- {}  [{}]",
                render::escape(&value_text(b)),
                origin_text(b, &file)
            );
        }
    }
    if !plan.steps.is_empty() {
        let _ = writeln!(o, "\nprovider steps apply would run, in order:");
        for (i, s) in plan.steps.iter().enumerate() {
            let _ = writeln!(
                o,
                "  {}. provide {} `{}` for `{}`: {} (timeout {}s)",
                i + 1,
                s.kind,
                s.name,
                s.users.join("`, `"),
                render::escape(&emit::docker::quote_line(&s.provider)),
                s.timeout.as_secs_f64()
            );
        }
    }
    o
}

fn value_text(b: &Binding) -> String {
    if let Some(step) = b.step {
        if b.pending() {
            return format!("made by provider step {}", step + 1);
        }
    }
    let s = |k: &str| b.value.get(k).and_then(Value::as_str);
    let network = b.value.detail().and_then(|d| d.on_network());
    if let (Some(a), Some(n)) = (s("address"), network) {
        return format!("{a} on {n}");
    }
    if let Some(p) = b.value.get("host_port") {
        let bind = s("bind").map(|x| format!("{x}:")).unwrap_or_default();
        let proto = s("protocol").map(|x| format!("/{x}")).unwrap_or_default();
        return format!("{bind}{p}{proto}");
    }
    if let Some(p) = s("path") {
        return p.to_string();
    }
    if let Some(f) = s("file") {
        return f.to_string();
    }
    if b.kind.is_network() {
        let parts: Vec<String> = ["bridge", "subnet6", "gateway6", "subnet4", "gateway4"]
            .iter()
            .filter_map(|k| s(k).map(|v| format!("{k} {v}")))
            .collect();
        return if parts.is_empty() {
            format!("bridge {}", b.name)
        } else {
            parts.join(", ")
        };
    }
    if let berth_specs::Kind::Custom(_) = b.kind {
        return custom_text(&b.value);
    }
    b.value.to_string()
}

/// `devices /dev/dri/renderD128; env GPU_VENDOR=example; mounts /a:/b`.
fn custom_text(v: &Value) -> String {
    let mut parts = Vec::new();
    let devices: Vec<&str> = v["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !devices.is_empty() {
        parts.push(format!("devices {}", devices.join(" ")));
    }
    if let Some(env) = v["env"].as_object().filter(|e| !e.is_empty()) {
        let kv: Vec<String> = env
            .iter()
            .map(|(k, x)| format!("{k}={}", x.as_str().unwrap_or_default()))
            .collect();
        parts.push(format!("env {}", kv.join(" ")));
    }
    let mounts: Vec<String> = v["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            format!(
                "{}:{}",
                m["path"].as_str().unwrap_or_default(),
                m["mount"].as_str().unwrap_or_default()
            )
        })
        .collect();
    if !mounts.is_empty() {
        parts.push(format!("mounts {}", mounts.join(" ")));
    }
    if parts.is_empty() {
        "(no edits)".to_string()
    } else {
        parts.join("; ")
    }
}

fn origin_text(b: &Binding, file: &str) -> String {
    let line = b
        .provide_span
        .map(|s| format!(", {file}:{}", s.line))
        .unwrap_or_default();
    let implied = if b.need.is_none() { "implied; " } else { "" };
    match b.source {
        BindingSource::Provides => format!("{implied}provides `{}`{line}", b.provide),
        BindingSource::Pool => format!(
            "{implied}pool `{}` {}{line}",
            b.provide,
            b.pool.as_deref().unwrap_or_default()
        ),
        BindingSource::Provider => format!("{implied}provider `{}`{line}", b.provide),
    }
}
