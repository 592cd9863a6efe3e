//! Questions berth asks a container engine (docker or podman) directly, outside
//! the provider protocol: the labels of an image (`--from-image` reads the need
//! spec an image carries) and the subnets of an engine network (`check --live`
//! compares them with the host manifest).
//!
//! Why here: these run an external program with a time limit and bounded
//! output, which is what [`crate::process`] does for providers. Unlike a
//! provider, the engine gets the caller's environment (`DOCKER_HOST`,
//! `CONTAINERS_CONF`): it is the same engine `berth run` starts. Nothing here
//! changes anything in the engine.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use berth_specs::engine_net::{self, EngineSubnet};
use berth_specs::{Diagnostic, Document};

use crate::process::{self, resolve_program, Limits};

/// The label under which an image carries its need spec (compact JSON).
pub const SPEC_LABEL: &str = "io.berth.spec";

/// Why the engine could not answer.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine program is not on PATH.
    #[error("`{0}` is not on PATH")]
    NotFound(String),
    /// The engine could not be run, timed out, or printed too much.
    #[error("`{engine}` could not be run: {failure}")]
    Run {
        /// docker or podman.
        engine: String,
        /// What went wrong.
        failure: crate::Failure,
    },
    /// The engine ran and said no (no such image, daemon not answering).
    #[error("`{engine} {what}` failed: {stderr}")]
    Refused {
        /// docker or podman.
        engine: String,
        /// The command, e.g. `image inspect example/web:1`.
        what: String,
        /// The last line(s) of what it printed on stderr.
        stderr: String,
    },
    /// The engine printed something that is not what was asked for.
    #[error("`{engine} {what}` printed something unexpected: {detail}")]
    Output {
        /// docker or podman.
        engine: String,
        /// The command.
        what: String,
        /// Why it could not be read.
        detail: String,
    },
}

/// Runs `engine ARGS` with the caller's environment, within 30 s, and returns
/// its stdout.
fn engine_output(engine: &str, args: &[String]) -> Result<String, EngineError> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let program = resolve_program(engine, Path::new("/"), &path_var)
        .map_err(|_| EngineError::NotFound(engine.to_string()))?;
    let env: Vec<(String, OsString)> = std::env::vars_os()
        .filter_map(|(k, v)| k.into_string().ok().map(|k| (k, v)))
        .collect();
    let limits = Limits {
        timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let what = args.join(" ");
    let out = process::run(&program, args, &env, &cwd, Vec::new(), &limits).map_err(|f| {
        EngineError::Run {
            engine: engine.to_string(),
            failure: f.failure,
        }
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr_tail);
        return Err(EngineError::Refused {
            engine: engine.to_string(),
            what,
            stderr: err.trim().lines().last().unwrap_or("").to_string(),
        });
    }
    String::from_utf8(out.stdout).map_err(|_| EngineError::Output {
        engine: engine.to_string(),
        what,
        detail: "not UTF-8".into(),
    })
}

/// The labels of `image` (`ENGINE image inspect`). `image` must be an image
/// reference already checked not to start with `-`.
pub fn image_labels(engine: &str, image: &str) -> Result<BTreeMap<String, String>, EngineError> {
    let args: Vec<String> = [
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        image,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let text = engine_output(engine, &args)?;
    let labels: Option<BTreeMap<String, String>> =
        serde_json::from_str(text.trim()).map_err(|e| EngineError::Output {
            engine: engine.to_string(),
            what: format!("image inspect {image}"),
            detail: e.to_string(),
        })?;
    Ok(labels.unwrap_or_default())
}

/// The subnets of engine network `name`, or `None` when there is no such
/// network.
pub fn network_subnets(engine: &str, name: &str) -> Result<Option<Vec<EngineSubnet>>, EngineError> {
    let format = match engine {
        "podman" => "{{range .Subnets}}{{.Subnet}}={{if .LeaseRange}}{{.LeaseRange.StartIP}}-{{.LeaseRange.EndIP}}{{end}} {{end}}",
        _ => "{{range .IPAM.Config}}{{.Subnet}}={{.IPRange}} {{end}}",
    };
    let args: Vec<String> = ["network", "inspect", "--format", format, name]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let text = match engine_output(engine, &args) {
        Ok(t) => t,
        Err(EngineError::Refused { stderr, .. })
            if stderr.contains("No such network")
                || stderr.contains("not found")
                || stderr.contains("no such network") =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for item in text.split_whitespace() {
        let (subnet, range) = item.split_once('=').unwrap_or((item, ""));
        let bad = |detail: String| EngineError::Output {
            engine: engine.to_string(),
            what: format!("network inspect {name}"),
            detail,
        };
        let subnet: IpNet = subnet
            .parse()
            .map_err(|_| bad(format!("`{subnet}` is not a subnet")))?;
        let range = if range.is_empty() {
            None
        } else if let Some((start, end)) = range.split_once('-') {
            let (Ok(start), Ok(end)) = (start.parse(), end.parse()) else {
                return Err(bad(format!("`{range}` is not an address range")));
            };
            Some(smallest_prefix(start, end))
        } else {
            Some(
                range
                    .parse()
                    .map_err(|_| bad(format!("`{range}` is not a range")))?,
            )
        };
        out.push(EngineSubnet { subnet, range });
    }
    Ok(Some(out))
}

/// `berth check --live` for a host manifest: each engine on PATH (docker,
/// podman) is asked about every network the manifest names; one that exists
/// with another subnet, or whose dynamic range holds berth's statics or
/// pools, is reported. An engine that does not answer is skipped (the check
/// is about networks that exist, and says nothing when it cannot see them).
pub fn live_network_checks(doc: &Document) -> Vec<Diagnostic> {
    let Document::Host(host) = doc else {
        return Vec::new();
    };
    let names = engine_net::engine_network_names(host);
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let mut out = Vec::new();
    for engine in ["docker", "podman"] {
        if names.is_empty() || resolve_program(engine, Path::new("/"), &path_var).is_err() {
            continue;
        }
        for name in &names {
            if let Ok(Some(subnets)) = network_subnets(engine, name) {
                out.extend(engine_net::engine_conflicts(host, engine, name, &subnets));
            }
        }
    }
    out
}

/// The smallest prefix that holds both addresses (a lease range as a prefix;
/// it may be wider than the range, never narrower).
fn smallest_prefix(a: std::net::IpAddr, b: std::net::IpAddr) -> IpNet {
    let max = if a.is_ipv4() { 32 } else { 128 };
    (0..=max)
        .rev()
        .filter_map(|len| IpNet::new(a, len).ok().map(|n| n.trunc()))
        .find(|n| n.contains(&b))
        .unwrap_or_else(|| IpNet::new(a, 0).expect("prefix 0").trunc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_range_becomes_the_smallest_prefix_holding_it() {
        let n = smallest_prefix("10.0.0.128".parse().unwrap(), "10.0.0.255".parse().unwrap());
        assert_eq!(n.to_string(), "10.0.0.128/25");
        let n = smallest_prefix(
            "2001:db8::8000".parse().unwrap(),
            "2001:db8::8001".parse().unwrap(),
        );
        assert_eq!(n.to_string(), "2001:db8::8000/127");
    }

    #[test]
    fn a_missing_engine_is_a_typed_error() {
        let e = image_labels("berth-no-such-engine", "x").unwrap_err();
        assert!(matches!(e, EngineError::NotFound(_)), "{e}");
    }
}
