//! `berth-cni`: a CNI IPAM plugin (spec 1.1: ADD, DEL, CHECK, GC, STATUS,
//! VERSION) that gives each workload the address berth reserves for its name.
//!
//! It exists so that a host's `host.yaml` keeps its meaning under the engines
//! users grow into (Kubernetes, Nomad, podman with CNI): the address of
//! `webserver` is the same whether `berth apply` or a CNI runtime asks, and
//! never handed to two holders, because both go through the engine's one
//! state file, lock and pool code ([`ops`]). [`config`] reads what the runtime
//! passes; [`error`] is CNI's error form.
#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod ops;

use config::Request;
use error::CniError;

/// Runs one invocation: the environment lookup and stdin in, the JSON to print
/// on stdout out (`Ok(None)`: print nothing, exit 0; `Err`: print the error
/// JSON, exit 1).
pub fn invoke(
    get: impl Fn(&str) -> Option<String>,
    stdin: &str,
) -> Result<Option<serde_json::Value>, (CniError, String)> {
    let req = match Request::parse(get, stdin) {
        Ok(r) => r,
        Err(e) => return Err((e, config::LATEST_VERSION.to_string())),
    };
    ops::run(&req).map_err(|e| (e, req.version().to_string()))
}
