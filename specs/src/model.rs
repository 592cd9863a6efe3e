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
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

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

/// A resource kind: the key of a need or provide entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A host directory bind-mounted into the container.
    Volume,
    /// One IPv6 address on a network.
    Ipv6,
    /// One IPv4 address on a network.
    Ipv4,
    /// A published host port.
    Port,
    /// A device node.
    Device,
    /// An engine network / LXC bridge.
    Network,
    /// A secret file, mounted read-only.
    Secret,
    /// A custom kind `vendor.tld/class`, like CDI names.
    Custom(String),
}

impl Kind {
    /// Every built-in kind, in documentation order.
    pub const BUILTIN: [Kind; 7] = [
        Kind::Volume,
        Kind::Ipv6,
        Kind::Ipv4,
        Kind::Port,
        Kind::Device,
        Kind::Network,
        Kind::Secret,
    ];

    /// The kind's key as written in files (`volume`, `example.com/gpu`).
    pub fn as_str(&self) -> &str {
        match self {
            Kind::Volume => "volume",
            Kind::Ipv6 => "ipv6",
            Kind::Ipv4 => "ipv4",
            Kind::Port => "port",
            Kind::Device => "device",
            Kind::Network => "network",
            Kind::Secret => "secret",
            Kind::Custom(s) => s,
        }
    }

    /// Parses a built-in kind key, or a custom kind (any key containing `/`).
    /// Does not validate the custom kind's syntax; the loader does.
    pub fn from_key(key: &str) -> Option<Kind> {
        Some(match key {
            "volume" => Kind::Volume,
            "ipv6" => Kind::Ipv6,
            "ipv4" => Kind::Ipv4,
            "port" => Kind::Port,
            "device" => Kind::Device,
            "network" => Kind::Network,
            "secret" => Kind::Secret,
            k if k.contains('/') => Kind::Custom(k.to_string()),
            _ => return None,
        })
    }

    /// Whether a provide of this kind has one holder at a time unless it says
    /// otherwise (`shared: true` on devices, `exclusive: true` on volumes).
    pub fn exclusive_by_default(&self) -> bool {
        matches!(self, Kind::Ipv4 | Kind::Ipv6 | Kind::Port | Kind::Device)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Kind::from_key(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown kind `{s}`")))
    }
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

/// Transport protocol of a port.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP (the default).
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
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

/// Kind-specific options of a need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeedDetail {
    /// `volume`: where and how it is mounted.
    Volume {
        /// Absolute, normalized path in the container.
        mount: String,
        /// Mount read-only (default false).
        read_only: bool,
        /// The container wants the volume for itself alone (default false).
        exclusive: bool,
    },
    /// `ipv6`: optionally only an address within `prefix`.
    Ipv6 {
        /// Address must lie within this prefix.
        prefix: Option<Ipv6Net>,
    },
    /// `ipv4`: optionally only an address within `prefix`.
    Ipv4 {
        /// Address must lie within this prefix.
        prefix: Option<Ipv4Net>,
    },
    /// `port`: the container side of a published port.
    Port {
        /// Port inside the container.
        container_port: u16,
        /// Protocol (`"53/udp"` gives udp).
        protocol: Protocol,
    },
    /// `device`: a device node.
    Device {
        /// Path inside the container; defaults to the host path.
        path: Option<String>,
    },
    /// `network`: attach to a network without an address of its own.
    Network,
    /// `secret`: a secret file, always mounted read-only.
    Secret {
        /// Absolute, normalized path in the container.
        mount: String,
    },
    /// A custom kind; it takes no options.
    Custom,
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
        match &self.detail {
            ProvideDetail::Address { .. } | ProvideDetail::Port { .. } => true,
            ProvideDetail::Device { shared, .. } => !shared,
            ProvideDetail::Volume { exclusive, .. } => *exclusive,
            ProvideDetail::Custom { shared, .. } => !shared,
            ProvideDetail::Network { .. } | ProvideDetail::Secret { .. } => false,
        }
    }
}

/// Where an address provide's addresses come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSource {
    /// One static address (`address:`).
    Static(IpAddr),
    /// A pool (`pool:` CIDR): one address per name, lowest free first.
    Pool(IpNet),
}

/// Where a port provide's host ports come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortSource {
    /// One host port (`host_port:`).
    Static(u16),
    /// A range pool (`pool: "8000-8999"`, inclusive).
    Pool {
        /// First port.
        first: u16,
        /// Last port (inclusive).
        last: u16,
    },
}

/// A custom kind's bind mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomMount {
    /// Host path.
    pub path: String,
    /// Container path.
    pub mount: String,
    /// Read-only.
    pub read_only: bool,
}

/// Kind-specific details of a provide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvideDetail {
    /// `network`.
    Network {
        /// LXC link / host bridge; defaults to the network name.
        bridge: Option<String>,
        /// IPv6 subnet.
        subnet6: Option<Ipv6Net>,
        /// IPv6 gateway (inside `subnet6`).
        gateway6: Option<Ipv6Addr>,
        /// IPv4 subnet.
        subnet4: Option<Ipv4Net>,
        /// IPv4 gateway (inside `subnet4`).
        gateway4: Option<Ipv4Addr>,
    },
    /// `ipv6` / `ipv4`.
    Address {
        /// Static address or pool.
        source: AddressSource,
        /// The network the address lives on; an implied need of the holder.
        network: String,
    },
    /// `volume`.
    Volume {
        /// Host path (absolute).
        path: String,
        /// The host only lends it read-only.
        read_only: bool,
        /// One holder at a time.
        exclusive: bool,
    },
    /// `port`.
    Port {
        /// Host port or range.
        source: PortSource,
        /// Host address to bind, if not all.
        bind: Option<IpAddr>,
        /// Protocol (default tcp).
        protocol: Protocol,
    },
    /// `device`.
    Device {
        /// Host device node path, or a CDI name (`vendor.com/class=name`).
        path: String,
        /// Several holders at once.
        shared: bool,
    },
    /// `secret`.
    Secret {
        /// Host file holding the secret.
        file: String,
    },
    /// A custom kind: container edits, like CDI.
    Custom {
        /// Environment variables to set.
        env: BTreeMap<String, String>,
        /// Bind mounts to add.
        mounts: Vec<CustomMount>,
        /// Device nodes (or CDI names) to add.
        devices: Vec<String>,
        /// Several holders at once (default false: exclusive).
        shared: bool,
    },
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
    /// Environment variables it gets besides `PATH`, `LANG` and `BERTH_*`
    /// (`env:`), in file order.
    pub env: Vec<ProviderEnv>,
    /// The entry in the file.
    pub span: Span,
}

/// One `env:` entry of a provider: a variable passed through from berth's
/// own environment (`DOCKER_HOST`), or set to a value (`DOCKER_HOST=unix:///x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEnv {
    /// The variable's name (`[A-Za-z_][A-Za-z0-9_]*`, never `BERTH_*`).
    pub name: String,
    /// Its value; `None`: berth's own value, when berth has one.
    pub value: Option<String>,
}

impl ProviderEnv {
    /// Parses `NAME` or `NAME=value`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<ProviderEnv, String> {
        let (name, value) = match text.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (text, None),
        };
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "`{}` is not a variable name (`[A-Za-z_][A-Za-z0-9_]*`)",
                name.escape_debug()
            ));
        }
        if name.starts_with("BERTH_") {
            return Err(format!(
                "`{name}` is berth's own: providers always get the `BERTH_*` variables berth sets"
            ));
        }
        if let Some(v) = value {
            if v.chars().any(|c| c.is_control()) {
                return Err(format!("the value of `{name}` holds a control character"));
            }
        }
        Ok(ProviderEnv {
            name: name.to_string(),
            value: value.map(str::to_string),
        })
    }
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
