//! The typed model of berth's two file formats: need specs (`berth.yaml`, what a
//! container needs) and host manifests (`host.yaml`, what a host provides).
//!
//! These types are what every other crate consumes. They are produced only by the
//! loader (`crate::load`), which validates as it builds them, so code that holds a
//! `NeedSpec` or a `HostManifest` may assume: names are valid resource names, mount
//! paths are absolute and normalized, no value contains control characters, and
//! addresses are parsed (`2001:db8::5` and `2001:db8:0:0::5` are one value).
//!
//! Every need and provide keeps the [`Span`] of its entry so that explanations can
//! say `file:line` and render a snippet.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::kinds::{
    AddressSource, CustomMount, Kind, NeedDetail, PortSource, Protocol, ProvideDetail,
};

/// The only `berth:` format version this build understands.
pub const FORMAT_VERSION: u64 = 1;

/// One loaded file: its name as given by the user and its whole text.
///
/// Kept alive (behind an `Arc`) by every document that came from it, so a
/// diagnostic can render a snippet long after loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The path as the user gave it (or a display name such as `<stdin>`).
    pub path: PathBuf,
    /// The file's text.
    pub text: Arc<str>,
}

impl Source {
    /// Wraps a path and its text.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Arc<Source> {
        Arc::new(Source {
            path: path.into(),
            text: text.into(),
        })
    }
}

/// A region of a [`Source`]: byte offset and length, plus the 1-based line and
/// column of its start (kept so that rendering `file:line` needs no scan).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// Byte offset of the start.
    pub offset: usize,
    /// Length in bytes (may be 0).
    pub len: usize,
    /// 1-based line of the start.
    pub line: u32,
    /// 1-based column (in characters) of the start.
    pub col: u32,
}

/// A name on the provide side: either one exact resource name or a glob pattern
/// (`*`, `?`, `[...]`) serving every name it matches.
#[derive(Debug, Clone)]
pub enum NamePattern {
    /// Serves exactly this name.
    Exact(String),
    /// Serves any name the pattern matches (`"*"`, `"nfs-*"`).
    Glob {
        /// The pattern as written.
        text: String,
        /// The compiled pattern.
        pattern: glob::Pattern,
    },
}

impl NamePattern {
    /// Builds a pattern: text without glob metacharacters is an exact name.
    /// Errors when the glob does not compile.
    pub fn parse(text: &str) -> Result<NamePattern, glob::PatternError> {
        if text.contains(['*', '?', '[']) {
            Ok(NamePattern::Glob {
                text: text.to_string(),
                pattern: glob::Pattern::new(text)?,
            })
        } else {
            Ok(NamePattern::Exact(text.to_string()))
        }
    }

    /// Whether this pattern serves `name`.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NamePattern::Exact(n) => n == name,
            NamePattern::Glob { pattern, .. } => pattern.matches(name),
        }
    }

    /// The text as written in the file.
    pub fn as_str(&self) -> &str {
        match self {
            NamePattern::Exact(n) => n,
            NamePattern::Glob { text, .. } => text,
        }
    }

    /// True for an exact name.
    pub fn is_exact(&self) -> bool {
        matches!(self, NamePattern::Exact(_))
    }
}

impl PartialEq for NamePattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for NamePattern {}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------
// Need spec
// ---------------------------------------------------------------------------

/// Whether `s` is a valid container name, `[a-z0-9][a-z0-9_.-]{0,62}`: the
/// rule the loader holds `container:` to, for names that come from elsewhere
/// (`berth release NAME...` on the command line).
pub fn valid_container_name(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_.-".contains(c))
}

/// One container's need spec (one YAML document with `container:`).
#[derive(Debug, Clone)]
pub struct NeedSpec {
    /// Container name, `[a-z0-9][a-z0-9_.-]{0,62}`.
    pub container: String,
    /// Image `berth run` starts, if given.
    pub image: Option<String>,
    /// The needs, in file order.
    pub needs: Vec<Need>,
    /// Host label constraints for fleet placement (`placement: {zone: a}`):
    /// a host qualifies only if it has every label with the same value.
    pub placement: BTreeMap<String, String>,
    /// The file this came from.
    pub source: Arc<Source>,
    /// The whole document (its `container:` key is a good place to point).
    pub span: Span,
}

/// One need: a kind, a resource name, and that kind's options.
#[derive(Debug, Clone)]
pub struct Need {
    /// The kind key.
    pub kind: Kind,
    /// The resource name, `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}` (custom kinds may
    /// also use `any`).
    pub name: String,
    /// Kind-specific options.
    pub detail: NeedDetail,
    /// The need's entry in the file.
    pub span: Span,
}

// ---------------------------------------------------------------------------
// Host manifest
// ---------------------------------------------------------------------------

/// One host's manifest (one YAML document with `host:`).
#[derive(Debug, Clone)]
pub struct HostManifest {
    /// Host name (same syntax as a container name).
    pub host: String,
    /// Free-form labels, used by fleet placement constraints.
    pub labels: BTreeMap<String, String>,
    /// Where this host's state lives (`state_dir:`), if the manifest says.
    pub state_dir: Option<PathBuf>,
    /// What the host provides, in file order (file order is preference order).
    pub provides: Vec<Provide>,
    /// Scripts that can make missing resources exist, in file order.
    pub providers: Vec<ProviderDecl>,
    /// The file this came from.
    pub source: Arc<Source>,
    /// The whole document.
    pub span: Span,
}

impl HostManifest {
    /// The folder relative to which provider `run` paths resolve.
    pub fn base_dir(&self) -> PathBuf {
        match self.source.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// One provided resource (or pattern / pool of resources).
#[derive(Debug, Clone)]
pub struct Provide {
    /// The kind key.
    pub kind: Kind,
    /// Exact name, or a glob pattern serving many names.
    pub name: NamePattern,
    /// Kind-specific details.
    pub detail: ProvideDetail,
    /// Which containers may hold it: glob patterns on the container name, or
    /// `image:PATTERN` on the image. `None`: everyone.
    pub allow: Option<Vec<String>>,
    /// The entry in the file.
    pub span: Span,
}

impl Provide {
    /// Whether one holder at a time may hold (each address / port of) it.
    pub fn exclusive(&self) -> bool {
        self.detail.exclusive()
    }
}

/// A provider script entry.
#[derive(Debug, Clone)]
pub struct ProviderDecl {
    /// Kind it provides.
    pub kind: Kind,
    /// Names it covers.
    pub pattern: NamePattern,
    /// argv; `run[0]` is relative to the manifest's folder, absolute, or a bare
    /// command name looked up on PATH.
    pub run: Vec<String>,
    /// Time limit per call (default 30 s).
    pub timeout: Duration,
    /// The entry in the file.
    pub span: Span,
}

/// Default provider timeout.
pub const DEFAULT_PROVIDER_TIMEOUT: Duration = Duration::from_secs(30);

/// A loaded document: one container or one host.
#[derive(Debug, Clone)]
pub enum Document {
    /// A need spec.
    Need(NeedSpec),
    /// A host manifest.
    Host(HostManifest),
}
