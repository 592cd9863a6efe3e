//! What a CNI runtime hands the plugin: the `CNI_*` environment and the network
//! configuration on stdin, parsed into one [`Request`] before anything runs.
//!
//! The IPAM section berth reads:
//! `"ipam": {"type": "berth-cni", "host": "/etc/berth/host.yaml", "network": "berth6",
//! "stateDir": "/var/lib/berth"}` (`stateDir` optional). The workload's name comes
//! from `CNI_ARGS` (`BERTH_NAME`, else `K8S_POD_NAME`) or from the configuration's
//! `args.cni.BERTH_NAME`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{CniError, ErrorCode};

/// The CNI versions this plugin speaks. Results are written in the version the
/// configuration asks for (0.3.x and 0.4.0 add `"version"` to each address).
pub const SUPPORTED_VERSIONS: [&str; 5] = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/// The newest version, used for answers when the configuration names none.
pub const LATEST_VERSION: &str = "1.1.0";

/// The CNI operation (`CNI_COMMAND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Give the attachment its address.
    Add,
    /// Free it (the name keeps its address reserved).
    Del,
    /// Verify that the attachment still holds what ADD gave.
    Check,
    /// Free every attachment of this network not listed as valid.
    Gc,
    /// Whether ADDs can be served.
    Status,
    /// The versions spoken.
    Version,
}

impl Command {
    /// Parses `CNI_COMMAND`.
    pub fn parse(s: &str) -> Option<Command> {
        Some(match s {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "GC" => Command::Gc,
            "STATUS" => Command::Status,
            "VERSION" => Command::Version,
            _ => return None,
        })
    }
}

/// berth's part of the network configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ipam {
    /// `berth-cni`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The host manifest.
    pub host: PathBuf,
    /// The berth network (a `network` provide of that manifest).
    pub network: String,
    /// Where the state lives, like `--state-dir` (optional).
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
}

/// One attachment as CNI names it in `cni.dev/valid-attachments`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Attachment {
    /// `CNI_CONTAINERID`.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
}

/// The network configuration (only the fields berth reads; the rest belongs
/// to the main plugin and is ignored, as CNI requires).
#[derive(Debug, Clone, Deserialize)]
pub struct NetConf {
    /// The version the runtime speaks.
    #[serde(rename = "cniVersion", default)]
    pub cni_version: Option<String>,
    /// The network's name.
    #[serde(default)]
    pub name: Option<String>,
    /// berth's section.
    pub ipam: Option<Ipam>,
    /// CHECK: what ADD returned.
    #[serde(rename = "prevResult", default)]
    pub prev_result: Option<serde_json::Value>,
    /// GC: the attachments that stay.
    #[serde(rename = "cni.dev/valid-attachments", default)]
    pub valid_attachments: Option<Vec<Attachment>>,
    /// Conventional `args` (`args.cni.BERTH_NAME`).
    #[serde(default)]
    pub args: Option<serde_json::Value>,
}

/// Everything one invocation needs.
#[derive(Debug, Clone)]
pub struct Request {
    /// The operation.
    pub command: Command,
    /// `CNI_CONTAINERID` (ADD, DEL, CHECK).
    pub container_id: Option<String>,
    /// `CNI_IFNAME` (ADD, DEL, CHECK).
    pub ifname: Option<String>,
    /// `CNI_ARGS` as key/value pairs.
    pub args: BTreeMap<String, String>,
    /// The configuration (absent for VERSION with empty stdin).
    pub conf: Option<NetConf>,
}

impl Request {
    /// Parses the environment (`get` looks a variable up) and stdin.
    pub fn parse(get: impl Fn(&str) -> Option<String>, stdin: &str) -> Result<Request, CniError> {
        let command = get("CNI_COMMAND").ok_or_else(|| {
            CniError::new(ErrorCode::InvalidEnv, "CNI_COMMAND is not set")
                .details("berth-cni is a CNI plugin; a CNI runtime runs it")
        })?;
        let command = Command::parse(&command).ok_or_else(|| {
            CniError::new(
                ErrorCode::InvalidEnv,
                format!("unknown CNI_COMMAND `{command}`"),
            )
        })?;
        let conf = if stdin.trim().is_empty() {
            None
        } else {
            Some(serde_json::from_str::<NetConf>(stdin).map_err(|e| {
                CniError::new(
                    ErrorCode::Decode,
                    format!("the network configuration does not parse: {e}"),
                )
            })?)
        };
        let args = parse_args(get("CNI_ARGS").as_deref().unwrap_or(""));
        let req = Request {
            command,
            container_id: get("CNI_CONTAINERID").filter(|s| !s.is_empty()),
            ifname: get("CNI_IFNAME").filter(|s| !s.is_empty()),
            args,
            conf,
        };
        if let Some(v) = req.conf.as_ref().and_then(|c| c.cni_version.as_deref()) {
            if !SUPPORTED_VERSIONS.contains(&v) {
                return Err(CniError::new(
                    ErrorCode::IncompatibleVersion,
                    format!("CNI version {v} is not supported"),
                )
                .details(format!(
                    "berth-cni speaks {}",
                    SUPPORTED_VERSIONS.join(", ")
                )));
            }
        }
        Ok(req)
    }

    /// The version to answer in.
    pub fn version(&self) -> &str {
        self.conf
            .as_ref()
            .and_then(|c| c.cni_version.as_deref())
            .unwrap_or(LATEST_VERSION)
    }

    /// The configuration, required for everything but VERSION.
    pub fn conf(&self) -> Result<&NetConf, CniError> {
        self.conf
            .as_ref()
            .ok_or_else(|| CniError::new(ErrorCode::Decode, "no network configuration on stdin"))
    }

    /// berth's IPAM section, checked for its type.
    pub fn ipam(&self) -> Result<&Ipam, CniError> {
        let ipam = self.conf()?.ipam.as_ref().ok_or_else(|| {
            CniError::new(
                ErrorCode::InvalidConfig,
                "the network configuration has no `ipam` section",
            )
        })?;
        if ipam.kind != "berth-cni" {
            return Err(CniError::new(
                ErrorCode::InvalidConfig,
                format!("ipam.type is `{}`, not `berth-cni`", ipam.kind),
            ));
        }
        Ok(ipam)
    }

    /// The attachment (`CNI_CONTAINERID`, `CNI_IFNAME`), required for ADD,
    /// DEL and CHECK.
    pub fn attachment(&self) -> Result<Attachment, CniError> {
        let need = |v: &Option<String>, var: &str| {
            v.clone()
                .ok_or_else(|| CniError::new(ErrorCode::InvalidEnv, format!("{var} is not set")))
        };
        Ok(Attachment {
            container_id: need(&self.container_id, "CNI_CONTAINERID")?,
            ifname: need(&self.ifname, "CNI_IFNAME")?,
        })
    }

    /// The workload's name: `BERTH_NAME`, else `K8S_POD_NAME` from `CNI_ARGS`,
    /// else `args.cni.BERTH_NAME` of the configuration.
    pub fn workload(&self) -> Result<String, CniError> {
        let from_conf = self
            .conf
            .as_ref()
            .and_then(|c| c.args.as_ref())
            .and_then(|a| a.pointer("/cni/BERTH_NAME"))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let name = self
            .args
            .get("BERTH_NAME")
            .or_else(|| self.args.get("K8S_POD_NAME"))
            .cloned()
            .filter(|s| !s.is_empty())
            .or(from_conf)
            .ok_or_else(|| {
                CniError::new(
                    ErrorCode::InvalidEnv,
                    "no workload name: CNI_ARGS has neither BERTH_NAME nor K8S_POD_NAME",
                )
                .details(
                    "set BERTH_NAME in CNI_ARGS (Nomad: cni { args = { BERTH_NAME = \"...\" } })",
                )
            })?;
        if !berth_specs::load::is_resource_name(&name) {
            return Err(CniError::new(
                ErrorCode::InvalidEnv,
                format!("workload name `{name}` is not a berth resource name ([A-Za-z0-9][A-Za-z0-9_.-]{{0,127}})"),
            ));
        }
        Ok(name)
    }
}

/// `K1=V1;K2=V2` into pairs (entries without `=` are ignored, as libcni does
/// with `IgnoreUnknown`).
pub fn parse_args(s: &str) -> BTreeMap<String, String> {
    s.split(';')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    const CONF: &str = r#"{"cniVersion":"1.0.0","name":"n","type":"bridge",
        "ipam":{"type":"berth-cni","host":"/h.yaml","network":"berth6"}}"#;

    #[test]
    fn berth_name_wins_over_the_pod_name() {
        let r = Request::parse(
            env(&[
                ("CNI_COMMAND", "ADD"),
                (
                    "CNI_ARGS",
                    "IgnoreUnknown=1;K8S_POD_NAME=pod-a;BERTH_NAME=web",
                ),
            ]),
            CONF,
        )
        .unwrap();
        assert_eq!(r.workload().unwrap(), "web");
        let r = Request::parse(
            env(&[("CNI_COMMAND", "ADD"), ("CNI_ARGS", "K8S_POD_NAME=pod-a")]),
            CONF,
        )
        .unwrap();
        assert_eq!(r.workload().unwrap(), "pod-a");
    }

    #[test]
    fn a_missing_name_or_version_is_a_cni_error() {
        let r = Request::parse(env(&[("CNI_COMMAND", "ADD")]), CONF).unwrap();
        assert_eq!(r.workload().unwrap_err().code, ErrorCode::InvalidEnv);
        let e = Request::parse(
            env(&[("CNI_COMMAND", "ADD")]),
            r#"{"cniVersion":"9.9.9","ipam":null}"#,
        )
        .unwrap_err();
        assert_eq!(e.code.number(), 1);
        let e = Request::parse(env(&[("CNI_COMMAND", "ADD")]), "{").unwrap_err();
        assert_eq!(e.code.number(), 6);
    }

    #[test]
    fn a_name_that_is_no_resource_name_is_refused() {
        let r = Request::parse(
            env(&[("CNI_COMMAND", "ADD"), ("CNI_ARGS", "BERTH_NAME=../etc")]),
            CONF,
        )
        .unwrap();
        assert_eq!(r.workload().unwrap_err().code, ErrorCode::InvalidEnv);
    }
}
