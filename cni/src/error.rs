//! The CNI error form (`{"cniVersion", "code", "msg", "details"}`) as a typed
//! error. Every failure of the plugin ends as one of these on stdout with a
//! non-zero exit, because that is the only failure a CNI runtime reads.
//!
//! Codes 1-11 and 50-51 are CNI's own (spec 1.1, "Error"); 100 and up are
//! berth's, listed in `docs/engines.md`.

use serde::Serialize;

/// A CNI error code (the spec's well-known ones and berth's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 1: the requested CNI version is not supported.
    IncompatibleVersion,
    /// 3: the container (attachment) is unknown.
    UnknownContainer,
    /// 4: a required environment variable is missing or invalid.
    InvalidEnv,
    /// 5: reading or writing berth's state failed.
    Io,
    /// 6: stdin is not the expected JSON.
    Decode,
    /// 7: the network configuration is invalid (including the host manifest).
    InvalidConfig,
    /// 50: STATUS: the plugin cannot serve ADDs now.
    Unavailable,
    /// 100: berth cannot give this name an address (unmet; the details explain).
    Unmet,
    /// 101: CHECK found another address than the one berth holds.
    Mismatch,
}

impl ErrorCode {
    /// The number on the wire.
    pub fn number(self) -> u32 {
        match self {
            ErrorCode::IncompatibleVersion => 1,
            ErrorCode::UnknownContainer => 3,
            ErrorCode::InvalidEnv => 4,
            ErrorCode::Io => 5,
            ErrorCode::Decode => 6,
            ErrorCode::InvalidConfig => 7,
            ErrorCode::Unavailable => 50,
            ErrorCode::Unmet => 100,
            ErrorCode::Mismatch => 101,
        }
    }
}

/// A failed CNI operation.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{msg}")]
pub struct CniError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// One line.
    pub msg: String,
    /// More, when there is more to say.
    pub details: Option<String>,
}

impl CniError {
    /// An error without details.
    pub fn new(code: ErrorCode, msg: impl Into<String>) -> CniError {
        CniError {
            code,
            msg: msg.into(),
            details: None,
        }
    }

    /// Adds details.
    pub fn details(mut self, details: impl Into<String>) -> CniError {
        self.details = Some(details.into());
        self
    }

    /// The CNI error JSON for `cni_version`.
    pub fn to_json(&self, cni_version: &str) -> serde_json::Value {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(rename = "cniVersion")]
            cni_version: &'a str,
            code: u32,
            msg: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            details: Option<&'a str>,
        }
        serde_json::to_value(Wire {
            cni_version,
            code: self.code.number(),
            msg: &self.msg,
            details: self.details.as_deref(),
        })
        .expect("plain strings serialize")
    }
}
