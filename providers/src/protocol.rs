//! The provider protocol (docs/providers.md): how a request is built (argv,
//! environment, stdin JSON) and how the output of each operation is read.
//!
//! - `provide`: exit 0 and stdout one JSON object, the host-manifest form of the
//!   kind without the kind key, validated like a manifest entry; a provider
//!   makes one resource, so pools are refused.
//! - `release`: exit 0 means released (or already absent: it must be idempotent).
//! - `check`: exit 0 means the resource is still there; any other exit status
//!   means it is gone (berth then provides it again, which is idempotent).
//! - any non-zero exit of `provide`/`release` is a failure; stdout may carry
//!   `{"error": "...", "hint": "..."}`.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use berth_specs::{Kind, NeedDetail, ProvideDetail, ProviderEnv};
use serde_json::{json, Map, Value};

use crate::error::{Failure, ProviderError};
pub use crate::op::Op;
use crate::process::{self, Limits, RawOutput, RunFailure};

/// One call: which provider, for which resource, on behalf of which container.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// The provider's argv as declared (`run`).
    pub run: &'a [String],
    /// Folder relative to which a `run[0]` containing `/` resolves (the
    /// manifest's folder); also the provider's working directory.
    pub base_dir: &'a Path,
    /// Resource kind.
    pub kind: &'a Kind,
    /// Resource name.
    pub name: &'a str,
    /// The container on whose behalf it runs.
    pub container: &'a str,
    /// The host name.
    pub host: &'a str,
    /// The need's options, in need-spec form (see [`need_options`]).
    pub need: Value,
    /// For `release`/`check`: what `provide` returned.
    pub provided: Option<&'a Value>,
    /// Time limit of the call.
    pub timeout: Duration,
    /// The manifest entry's `env:`: variables passed through from berth's
    /// environment or set, besides `PATH`, `LANG` and `BERTH_*`.
    pub env: &'a [ProviderEnv],
    /// The host's state folder, handed over as `BERTH_STATE_DIR` so the
    /// provider's own records follow it.
    pub state_dir: Option<&'a Path>,
}

/// A successful `provide`: the validated detail and the object as printed.
#[derive(Debug, Clone, PartialEq)]
pub struct Provided {
    /// The object validated as a manifest entry.
    pub detail: ProvideDetail,
    /// The object as printed (kept in state and handed back on release/check).
    pub value: Value,
    /// How long the call ran.
    pub elapsed: Duration,
}

/// The PATH a provider gets: berth's own PATH, or a conventional one when
/// berth has none.
fn provider_path() -> OsString {
    std::env::var_os("PATH")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| {
            OsString::from("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        })
}

/// The need's options as the provider sees them on stdin, in need-spec form
/// (`{"mount": "/var/www", "read_only": true, ...}`).
pub fn need_options(detail: &NeedDetail) -> Value {
    detail.to_json()
}

fn request(op: Op, call: &Call<'_>) -> Vec<u8> {
    let mut req = json!({
        "berth": 1,
        "op": op.as_str(),
        "kind": call.kind.as_str(),
        "name": call.name,
        "container": call.container,
        "host": call.host,
        "need": call.need,
    });
    if let Some(p) = call.provided {
        req["provided"] = p.clone();
    }
    let mut bytes = serde_json::to_vec(&req).expect("a Value always serializes");
    bytes.push(b'\n');
    bytes
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 2048;
    let s = lossy(&bytes[..bytes.len().min(MAX)]);
    if bytes.len() > MAX {
        format!("{s}…")
    } else {
        s
    }
}

/// Runs one operation and returns the raw output of a zero exit, or the
/// typed failure (non-zero exit with the provider's `error`/`hint`, signal,
/// timeout, overflow).
fn invoke(op: Op, call: &Call<'_>) -> Result<RawOutput, ProviderError> {
    let program = call.run.first().cloned().unwrap_or_default();
    let err = |failure: Failure, stderr_tail: Vec<u8>| ProviderError {
        program: program.clone(),
        op,
        kind: call.kind.to_string(),
        name: call.name.to_string(),
        failure: Box::new(failure),
        stderr_tail: lossy(&stderr_tail),
    };
    let Some(argv0) = call.run.first() else {
        return Err(err(Failure::EmptyArgv, Vec::new()));
    };
    let path = provider_path();
    let exe =
        process::resolve_program(argv0, call.base_dir, &path).map_err(|f| err(f, Vec::new()))?;
    let env: Vec<(String, OsString)> = vec![
        ("PATH".into(), path),
        (
            "LANG".into(),
            std::env::var_os("LANG").unwrap_or_else(|| "C.UTF-8".into()),
        ),
        ("BERTH_OP".into(), op.as_str().into()),
        ("BERTH_KIND".into(), call.kind.as_str().into()),
        ("BERTH_NAME".into(), call.name.into()),
        ("BERTH_CONTAINER".into(), call.container.into()),
        ("BERTH_HOST".into(), call.host.into()),
    ];
    let mut env = env;
    if let Some(dir) = call.state_dir {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        env.push(("BERTH_STATE_DIR".into(), dir.into_os_string()));
    }
    // `env:` last, so a set value replaces PATH or LANG; a name berth's own
    // environment lacks is simply not passed.
    for e in call.env {
        let value = match &e.value {
            Some(v) => Some(OsString::from(v)),
            None => std::env::var_os(&e.name),
        };
        if let Some(v) = value {
            env.retain(|(k, _)| *k != e.name);
            env.push((e.name.clone(), v));
        }
    }
    let limits = Limits {
        timeout: call.timeout,
        ..Limits::default()
    };
    let cwd = std::path::absolute(call.base_dir).map_err(|e| err(Failure::Io(e), Vec::new()))?;
    let out = process::run(&exe, &call.run[1..], &env, &cwd, request(op, call), &limits).map_err(
        |RunFailure {
             failure,
             stderr_tail,
             ..
         }| err(failure, stderr_tail),
    )?;
    if out.status.success() {
        return Ok(out);
    }
    let failure = exit_failure(&out);
    Err(err(failure, out.stderr_tail))
}

fn exit_failure(out: &RawOutput) -> Failure {
    use std::os::unix::process::ExitStatusExt;
    if let Some(signal) = out.status.signal() {
        return Failure::Signal { signal };
    }
    let code = out.status.code().unwrap_or(-1);
    let parsed: Option<Map<String, Value>> = serde_json::from_slice(&out.stdout).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|m| m.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let (error, hint) = (field("error"), field("hint"));
    let stdout_excerpt = if error.is_none() && !out.stdout.iter().all(u8::is_ascii_whitespace) {
        Some(excerpt(&out.stdout))
    } else {
        None
    };
    Failure::Exit {
        code,
        error,
        hint,
        stdout_excerpt,
    }
}

/// `provide`: runs the provider and validates its output as a manifest entry
/// of `call.kind` named `call.name`.
pub fn provide(call: &Call<'_>) -> Result<Provided, ProviderError> {
    let out = invoke(Op::Provide, call)?;
    let fail = |failure: Failure| ProviderError {
        program: call.run[0].clone(),
        op: Op::Provide,
        kind: call.kind.to_string(),
        name: call.name.to_string(),
        failure: Box::new(failure),
        stderr_tail: lossy(&out.stderr_tail),
    };
    let value: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        fail(Failure::NotJson {
            reason: e.to_string(),
            excerpt: excerpt(&out.stdout),
        })
    })?;
    if !value.is_object() {
        return Err(fail(Failure::NotJson {
            reason: format!("expected an object, found {}", json_type(&value)),
            excerpt: excerpt(&out.stdout),
        }));
    }
    let detail = berth_specs::load::provide_detail_from_json(call.kind, call.name, &value)
        .map_err(|diags| {
            fail(Failure::InvalidEntry {
                kind: call.kind.to_string(),
                messages: diags
                    .iter()
                    .map(|d| match &d.help {
                        Some(h) => format!("{} ({h})", d.message),
                        None => d.message.clone(),
                    })
                    .collect(),
            })
        })?;
    let pool = detail.is_pool();
    if pool {
        return Err(fail(Failure::InvalidEntry {
            kind: call.kind.to_string(),
            messages: vec!["a provider makes one resource: `pool` is not allowed, give `address` or `host_port`".into()],
        }));
    }
    Ok(Provided {
        detail,
        value,
        elapsed: out.elapsed,
    })
}

/// `release`: succeeds on exit 0 (stdout is ignored).
pub fn release(call: &Call<'_>) -> Result<Duration, ProviderError> {
    invoke(Op::Release, call).map(|o| o.elapsed)
}

/// `check`: `Ok(true)` when the resource is still there (exit 0), `Ok(false)`
/// when the provider says it is gone (a non-zero exit), `Err` when the
/// provider could not be run or misbehaved (timeout, signal, overflow).
pub fn check(call: &Call<'_>) -> Result<bool, ProviderError> {
    match invoke(Op::Check, call) {
        Ok(_) => Ok(true),
        Err(e) if matches!(*e.failure, Failure::Exit { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
