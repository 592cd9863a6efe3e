//! Why a provider call failed, as data. The CLI renders these (message, the
//! provider's own `error`/`hint`, the tail of its stderr); nothing here formats
//! more than one line.

use std::path::PathBuf;
use std::time::Duration;

use crate::op::Op;

/// A failed provider call: which provider, which operation on which resource,
/// why, and what it wrote on stderr (the tail).
#[derive(Debug, thiserror::Error)]
#[error("provider `{program}` could not {op} {kind} `{name}`: {failure}")]
pub struct ProviderError {
    /// The provider's `run[0]` as declared in the manifest.
    pub program: String,
    /// The operation.
    pub op: Op,
    /// The resource kind.
    pub kind: String,
    /// The resource name.
    pub name: String,
    /// What went wrong.
    #[source]
    pub failure: Box<Failure>,
    /// The last bytes (at most [`crate::Limits::stderr_tail`]) of its stderr,
    /// lossily decoded.
    pub stderr_tail: String,
}

impl ProviderError {
    /// True when the provider never started: `run` is empty, names a command
    /// that is not on PATH, or an executable that cannot be started (missing,
    /// not executable). It made nothing then.
    pub fn never_ran(&self) -> bool {
        matches!(
            &*self.failure,
            Failure::EmptyArgv | Failure::NotOnPath(_) | Failure::Spawn { .. }
        )
    }

    /// The provider's own `error` text, when it printed `{"error": ...}`.
    pub fn provider_error(&self) -> Option<&str> {
        match &*self.failure {
            Failure::Exit { error, .. } => error.as_deref(),
            _ => None,
        }
    }

    /// The start of what it printed on stdout, when that is worth showing: a
    /// failure's stdout that was not `{"error": ...}`, or output that is not
    /// one JSON object.
    pub fn stdout_excerpt(&self) -> Option<&str> {
        match &*self.failure {
            Failure::Exit { stdout_excerpt, .. } => stdout_excerpt.as_deref(),
            Failure::NotJson { excerpt, .. } => Some(excerpt),
            _ => None,
        }
    }

    /// The provider's own `hint`, when it printed `{"hint": ...}`.
    pub fn provider_hint(&self) -> Option<&str> {
        match &*self.failure {
            Failure::Exit { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }
}

/// The reason a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// `run` is empty.
    #[error("its `run` argv is empty")]
    EmptyArgv,
    /// A bare command name not found on the provider's PATH.
    #[error("`{0}` was not found on PATH")]
    NotOnPath(String),
    /// The executable could not be started.
    #[error("cannot start `{}`: {source}", path.display())]
    Spawn {
        /// The resolved executable path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// It ran longer than its timeout; its whole process group was killed.
    #[error("timed out after {}; its process group was killed", human_duration(*timeout))]
    Timeout {
        /// The limit.
        timeout: Duration,
    },
    /// It exited with a non-zero status.
    #[error("exited with status {code}{}", error.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    Exit {
        /// Exit status.
        code: i32,
        /// Its `{"error": ...}`, when stdout carried one.
        error: Option<String>,
        /// Its `{"hint": ...}`, when stdout carried one.
        hint: Option<String>,
        /// The start of stdout when it was not such an object (at most 2 KiB).
        stdout_excerpt: Option<String>,
    },
    /// It was killed by a signal (crashed).
    #[error("was killed by signal {signal} ({})", signal_name(*signal))]
    Signal {
        /// The signal number.
        signal: i32,
    },
    /// It printed more than the stdout limit; berth stopped reading and killed it.
    #[error("printed more than {limit} bytes on stdout; berth stopped reading and killed it")]
    StdoutTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// It exited but a process it started kept stdout or stderr open.
    #[error("exited, but a process it started kept its stdout/stderr open until the timeout; its process group was killed")]
    Lingering,
    /// Success, but stdout is not one JSON object.
    #[error("its output is not one JSON object: {reason}")]
    NotJson {
        /// What the JSON parser said.
        reason: String,
        /// The start of stdout (at most 2 KiB).
        excerpt: String,
    },
    /// Success, but the object is not a valid manifest entry of the kind.
    #[error("its output is not a valid `{kind}` entry: {}", messages.join("; "))]
    InvalidEntry {
        /// The kind expected.
        kind: String,
        /// What the validator said (one message per problem).
        messages: Vec<String>,
    },
    /// Talking to it failed (pipes).
    #[error("I/O error while talking to it: {0}")]
    Io(#[from] std::io::Error),
}

/// `30s`, `1.5s`, `250ms`: short enough for one line.
pub fn human_duration(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The usual name of a signal number on Linux.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => "signal",
    }
}
