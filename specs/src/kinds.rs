//! The kind registry: every resource kind berth knows, defined once.
//!
//! Why it exists: a kind used to be spread over a dozen places (the model, the
//! loader's key lists and readers, the JSON Schema, the docs, the live checks,
//! the provider request, the binding value, the edits). Here each kind is one
//! [`KindDef`] listed once in [`KINDS`], the way ripgrep lists each flag once in
//! `FLAGS`: the loader's option lists and did-you-mean vocabulary, the schema
//! ([`crate::schema`]), the docs tables ([`docs_need_table`],
//! [`docs_provide_table`], checked against `docs/format.md` by a test), the
//! exclusivity facts, the value's JSON form and the edits all come from it.
//! What still differs per kind in code (how a value is read with its located
//! diagnostics, how it becomes edits) sits below, in one arm per kind.
//!
//! What must stay true: every built-in [`Kind`] has exactly one entry in
//! [`KINDS`], in documentation order, and the option tables list exactly the
//! keys the readers below accept (a test loads an example built from each
//! table). `docs/adding-a-kind.md` walks through adding one.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------
// The kinds
// ---------------------------------------------------------------------------

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
            Kind::Custom(s) => s,
            builtin => builtin.def().key,
        }
    }

    /// Parses a built-in kind key, or a custom kind (any key containing `/`).
    /// Does not validate the custom kind's syntax; the loader does.
    pub fn from_key(key: &str) -> Option<Kind> {
        // A match rather than a scan of `KINDS`: the loader asks this of every
        // key of every entry.
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

    /// The kind's position in [`KINDS`] (custom kinds share the last entry).
    fn index(&self) -> usize {
        match self {
            Kind::Volume => 0,
            Kind::Ipv6 => 1,
            Kind::Ipv4 => 2,
            Kind::Port => 3,
            Kind::Device => 4,
            Kind::Network => 5,
            Kind::Secret => 6,
            Kind::Custom(_) => 7,
        }
    }

    /// The kind's definition.
    pub fn def(&self) -> &'static KindDef {
        &KINDS[self.index()]
    }

    /// Whether a provide of this kind has one holder at a time unless it says
    /// otherwise (`shared: true` on devices, `exclusive: true` on volumes).
    pub fn exclusive_by_default(&self) -> bool {
        // A provider-made custom resource is shared: what it prints decides
        // (`shared:`), and berth cannot know before it runs.
        matches!(
            self.def().exclusive,
            Exclusive::Always | Exclusive::UnlessShared
        ) && !matches!(self, Kind::Custom(_))
    }

    /// Whether shared holders of a resource of this kind still matter to
    /// others: an exclusive need of it waits for them to leave (volumes).
    pub fn shared_holders_count(&self) -> bool {
        matches!(self, Kind::Volume)
    }

    /// Whether a value of this kind is one scalar a pool hands out (an
    /// address or a host port): pools, reservations and held values compare
    /// it, and its binding is applied after the holder's networks exist.
    pub fn has_scalar(&self) -> bool {
        self.scalar_field().is_some()
    }

    /// The field of a binding's value that holds its scalar (`address` or
    /// `host_port`), for kinds that have one.
    pub fn scalar_field(&self) -> Option<&'static str> {
        match self {
            Kind::Ipv6 | Kind::Ipv4 => Some("address"),
            Kind::Port => Some("host_port"),
            _ => None,
        }
    }

    /// The address or port a pool value stands for, parsed for its kind: the
    /// same number whatever its spelling, so that values can be compared. The
    /// error names what was expected.
    pub fn scalar(&self, s: &str) -> Result<u128, &'static str> {
        match self {
            Kind::Ipv6 => s
                .parse::<Ipv6Addr>()
                .map(u128::from)
                .map_err(|_| "an IPv6 address"),
            Kind::Ipv4 => s
                .parse::<Ipv4Addr>()
                .map(|a| u128::from(u32::from(a)))
                .map_err(|_| "an IPv4 address"),
            Kind::Port => match s.parse::<u16>() {
                Ok(p) if p != 0 => Ok(u128::from(p)),
                _ => Err("a port (1-65535)"),
            },
            _ => Err("a pool value (pools hand out addresses and ports only)"),
        }
    }

    /// Whether this kind's provides declare networks that address provides
    /// name (`network:`) and that become implied needs of their holders.
    pub fn is_network(&self) -> bool {
        self.def().declares_network
    }

    /// Whether this kind's provides are addresses on a network (they carry a
    /// `network:` option naming a network provide).
    pub fn is_address(&self) -> bool {
        self.def().family.is_some()
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

// ---------------------------------------------------------------------------
// Definitions
// ---------------------------------------------------------------------------

/// How a provide of a kind decides whether it has one holder at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusive {
    /// Always one holder (addresses, ports).
    Always,
    /// Never exclusive (networks, secrets).
    Never,
    /// One holder unless the provide says `shared: true`.
    UnlessShared,
    /// Shared unless the provide says `exclusive: true`.
    WhenAsked,
}

/// An option's value type: decides its JSON Schema and is named in the docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionType {
    /// `true` or `false`.
    Bool,
    /// An absolute, normalized path.
    AbsolutePath,
    /// A host device node or a CDI name.
    DevicePath,
    /// Free text checked by the loader (CIDRs, addresses).
    Text,
    /// A container port: `80` or `"53/udp"`.
    ContainerPort,
    /// A host port number.
    HostPort,
    /// An inclusive port range `FIRST-LAST`.
    PortRange,
    /// A resource name.
    ResourceName,
    /// A network interface name.
    Bridge,
    /// `tcp` or `udp`.
    Protocol,
    /// A map of environment variables.
    EnvMap,
    /// A list of `{path, mount, read_only}` bind mounts.
    MountList,
    /// A list of device nodes or CDI names.
    DeviceList,
}

/// Whether an option must be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// It must be given.
    Required,
    /// It may be left out.
    Optional,
    /// Exactly one of the options of this side marked `OneOf` must be given.
    OneOf,
}

/// One option of a need or a provide.
#[derive(Debug, Clone, Copy)]
pub struct OptionDef {
    /// The key as written.
    pub key: &'static str,
    /// Its value type.
    pub ty: OptionType,
    /// Required, optional, or one of a group.
    pub presence: Presence,
    /// The default when left out, as written in docs (`false`).
    pub default: Option<&'static str>,
    /// One line for the docs table and the schema's description.
    pub doc: &'static str,
    /// An example value, used in "add `key: EXAMPLE`" help and by the tests
    /// that build an entry of every kind.
    pub example: &'static str,
}

impl OptionDef {
    /// An optional option without a default.
    pub const fn new(
        key: &'static str,
        ty: OptionType,
        doc: &'static str,
        example: &'static str,
    ) -> Self {
        OptionDef {
            key,
            ty,
            presence: Presence::Optional,
            default: None,
            doc,
            example,
        }
    }
    /// Marks it required.
    pub const fn required(mut self) -> Self {
        self.presence = Presence::Required;
        self
    }
    /// Marks it one of the side's "exactly one of" pair.
    pub const fn one_of(mut self) -> Self {
        self.presence = Presence::OneOf;
        self
    }
    /// Gives its default, as the docs show it.
    pub const fn default(mut self, d: &'static str) -> Self {
        self.default = Some(d);
        self
    }
}

/// An address kind's family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv6.
    V6,
    /// IPv4.
    V4,
}

/// One resource kind, defined once.
#[derive(Debug)]
pub struct KindDef {
    /// The key as written (`volume`); `vendor.tld/class` stands for custom kinds.
    pub key: &'static str,
    /// What it is, one line (the docs' "meaning").
    pub doc: &'static str,
    /// Options of a need.
    pub need: &'static [OptionDef],
    /// Options of a provide (besides `allow`, which every provide takes).
    pub provide: &'static [OptionDef],
    /// Extra docs words after the provide options (how a family must match).
    pub provide_note: &'static str,
    /// Whether a provide has one holder at a time.
    pub exclusive: Exclusive,
    /// Its provides declare networks (named by address provides).
    pub declares_network: bool,
    /// For address kinds: the family of the addresses.
    pub family: Option<Family>,
    /// An example resource name, for generated examples.
    pub example_name: &'static str,
}

impl KindDef {
    /// Whether this is the stand-in definition of custom kinds.
    pub fn is_custom(&self) -> bool {
        self.key.contains('/')
    }

    /// The need option named `key`.
    pub fn need_option(&self, key: &str) -> Option<&'static OptionDef> {
        self.need.iter().find(|o| o.key == key)
    }

    /// The provide option named `key`.
    pub fn provide_option(&self, key: &str) -> Option<&'static OptionDef> {
        self.provide.iter().find(|o| o.key == key)
    }
}

use OptionType as T;

const MOUNT: OptionDef = OptionDef::new(
    "mount",
    T::AbsolutePath,
    "container path (absolute, normalized)",
    "/path/in/container",
)
.required();
const NEED_READ_ONLY: OptionDef =
    OptionDef::new("read_only", T::Bool, "mount it read-only", "true").default("false");
const SHARED: OptionDef =
    OptionDef::new("shared", T::Bool, "several holders at once", "true").default("false");

/// Every kind, listed once, in documentation order; the last entry stands for
/// every custom kind `vendor.tld/class`.
pub static KINDS: [KindDef; 8] = [
    KindDef {
        key: "volume",
        doc: "a host directory bind-mounted into the container",
        need: &[
            MOUNT,
            NEED_READ_ONLY,
            OptionDef::new(
                "exclusive",
                T::Bool,
                "the container wants it for itself alone",
                "true",
            )
            .default("false"),
        ],
        provide: &[
            OptionDef::new("path", T::AbsolutePath, "host directory", "/srv/data").required(),
            OptionDef::new(
                "read_only",
                T::Bool,
                "the host only lends it read-only",
                "true",
            )
            .default("false"),
            OptionDef::new("exclusive", T::Bool, "one holder at a time", "true").default("false"),
        ],
        provide_note: "",
        exclusive: Exclusive::WhenAsked,
        declares_network: false,
        family: None,
        example_name: "webpages",
    },
    KindDef {
        key: "ipv6",
        doc: "one IPv6 address (and its network)",
        need: &[OptionDef::new(
            "prefix",
            T::Text,
            "the address must lie within this IPv6 CIDR",
            "2001:db8::/64",
        )],
        provide: &[
            OptionDef::new("address", T::Text, "one static address", "2001:db8::5").one_of(),
            OptionDef::new(
                "pool",
                T::Text,
                "a CIDR: one address per name, lowest free first, reserved for that name",
                "2001:db8::100/120",
            )
            .one_of(),
            OptionDef::new(
                "network",
                T::ResourceName,
                "the network the address lives on, which becomes an implied need of the holder",
                "NETWORK",
            )
            .required(),
        ],
        provide_note: "The family must match the kind",
        exclusive: Exclusive::Always,
        declares_network: false,
        family: Some(Family::V6),
        example_name: "web",
    },
    KindDef {
        key: "ipv4",
        doc: "one IPv4 address (and its network)",
        need: &[OptionDef::new(
            "prefix",
            T::Text,
            "the address must lie within this IPv4 CIDR",
            "192.0.2.0/24",
        )],
        provide: &[
            OptionDef::new("address", T::Text, "one static address", "192.0.2.5").one_of(),
            OptionDef::new(
                "pool",
                T::Text,
                "a CIDR: one address per name, lowest free first, reserved for that name",
                "192.0.2.128/25",
            )
            .one_of(),
            OptionDef::new(
                "network",
                T::ResourceName,
                "the network the address lives on, which becomes an implied need of the holder",
                "NETWORK",
            )
            .required(),
        ],
        provide_note: "The family must match the kind",
        exclusive: Exclusive::Always,
        declares_network: false,
        family: Some(Family::V4),
        example_name: "web",
    },
    KindDef {
        key: "port",
        doc: "a published host port",
        need: &[OptionDef::new(
            "container_port",
            T::ContainerPort,
            "`80`, or `\"53/udp\"` (`/tcp` is the default)",
            "80",
        )
        .required()],
        provide: &[
            OptionDef::new("host_port", T::HostPort, "one host port, `80`", "80").one_of(),
            OptionDef::new(
                "pool",
                T::PortRange,
                "an inclusive range, `8000-8099`",
                "8000-8099",
            )
            .one_of(),
            OptionDef::new("bind", T::Text, "host address to bind", "127.0.0.1").default("all"),
            OptionDef::new("protocol", T::Protocol, "`tcp` or `udp`", "udp").default("tcp"),
        ],
        provide_note: "",
        exclusive: Exclusive::Always,
        declares_network: false,
        family: None,
        example_name: "http",
    },
    KindDef {
        key: "device",
        doc: "a device node",
        need: &[OptionDef::new(
            "path",
            T::AbsolutePath,
            "the path in the container",
            "/dev/NAME",
        )
        .default("the host's path")],
        provide: &[
            OptionDef::new(
                "path",
                T::DevicePath,
                "host device node or CDI name",
                "/dev/NAME",
            )
            .required(),
            SHARED,
        ],
        provide_note: "",
        exclusive: Exclusive::UnlessShared,
        declares_network: false,
        family: None,
        example_name: "fuse",
    },
    KindDef {
        key: "network",
        doc: "attach to a network without an address of its own",
        need: &[],
        provide: &[
            OptionDef::new(
                "bridge",
                T::Bridge,
                "host bridge / LXC link (an interface name of at most 15 characters)",
                "br0",
            )
            .default("the network's name"),
            OptionDef::new("subnet6", T::Text, "IPv6 subnet (CIDR)", "2001:db8::/64"),
            OptionDef::new(
                "gateway6",
                T::Text,
                "IPv6 gateway, inside `subnet6`",
                "2001:db8::1",
            ),
            OptionDef::new("subnet4", T::Text, "IPv4 subnet (CIDR)", "192.0.2.0/24"),
            OptionDef::new(
                "gateway4",
                T::Text,
                "IPv4 gateway, inside `subnet4`",
                "192.0.2.1",
            ),
        ],
        provide_note: "",
        exclusive: Exclusive::Never,
        declares_network: true,
        family: None,
        example_name: "berth6",
    },
    KindDef {
        key: "secret",
        doc: "a secret file, always mounted read-only",
        need: &[OptionDef::new(
            "mount",
            T::AbsolutePath,
            "container path of the file (absolute, normalized)",
            "/run/secrets/NAME",
        )
        .required()],
        provide: &[OptionDef::new(
            "file",
            T::AbsolutePath,
            "host file holding the secret",
            "/etc/berth/secrets/NAME",
        )
        .required()],
        provide_note: "",
        exclusive: Exclusive::Never,
        declares_network: false,
        family: None,
        example_name: "db-password",
    },
    KindDef {
        key: "vendor.tld/class",
        doc: "a custom kind; the host decides its edits (the name may be `any`)",
        need: &[],
        provide: &[
            OptionDef::new("env", T::EnvMap, "map of environment variables", "{A: b}"),
            OptionDef::new(
                "mounts",
                T::MountList,
                "list of `{path, mount, read_only}` bind mounts",
                "[]",
            ),
            OptionDef::new(
                "devices",
                T::DeviceList,
                "list of device nodes or CDI names",
                "[]",
            ),
            SHARED,
        ],
        provide_note: "",
        exclusive: Exclusive::UnlessShared,
        declares_network: false,
        family: None,
        example_name: "any",
    },
];

/// Option keys of each kind's needs, by [`KINDS`] position (computed once).
static NEED_KEYS: LazyLock<Vec<Vec<&'static str>>> = LazyLock::new(|| {
    KINDS
        .iter()
        .map(|d| d.need.iter().map(|o| o.key).collect())
        .collect()
});

/// Option keys of each kind's provides, by [`KINDS`] position.
static PROVIDE_KEYS: LazyLock<Vec<Vec<&'static str>>> = LazyLock::new(|| {
    KINDS
        .iter()
        .map(|d| d.provide.iter().map(|o| o.key).collect())
        .collect()
});

/// The same with `allow`, which every provide takes.
static PROVIDE_KEYS_ALLOW: LazyLock<Vec<Vec<&'static str>>> = LazyLock::new(|| {
    PROVIDE_KEYS
        .iter()
        .map(|keys| keys.iter().copied().chain(["allow"]).collect())
        .collect()
});

/// The built-in kind keys, for "did you mean" and help texts.
pub static KIND_WORDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    KINDS
        .iter()
        .filter(|d| !d.is_custom())
        .map(|d| d.key)
        .collect()
});

/// Options of a need of `kind` (besides the kind key).
pub fn need_options(kind: &Kind) -> &'static [&'static str] {
    &NEED_KEYS[kind.index()]
}

/// Options of a provide of `kind` (besides the kind key and `allow`).
pub fn provide_options(kind: &Kind) -> &'static [&'static str] {
    &PROVIDE_KEYS[kind.index()]
}

/// Options of a provide of `kind` and `allow`.
pub(crate) fn provide_options_allow(kind: &Kind) -> &'static [&'static str] {
    &PROVIDE_KEYS_ALLOW[kind.index()]
}

// ---------------------------------------------------------------------------
// Docs
// ---------------------------------------------------------------------------

fn docs_option(o: &OptionDef) -> String {
    let mut s = format!("`{}`", o.key);
    match (o.presence, o.default) {
        (Presence::Required, _) => s.push_str(" (required)"),
        (_, Some(d)) if d.chars().all(|c| c.is_ascii_alphanumeric()) => {
            s.push_str(&format!(" (default `{d}`)"))
        }
        (_, Some(d)) => s.push_str(&format!(" (default: {d})")),
        (_, None) => {}
    }
    s.push_str(": ");
    s.push_str(o.doc);
    s
}

fn docs_options(options: &[OptionDef], note: &str) -> String {
    if options.is_empty() {
        return "none".into();
    }
    let group: Vec<&OptionDef> = options
        .iter()
        .filter(|o| o.presence == Presence::OneOf)
        .collect();
    let mut parts = Vec::new();
    if let [a, b] = group.as_slice() {
        parts.push(format!(
            "exactly one of `{}` ({}) or `{}` ({})",
            a.key, a.doc, b.key, b.doc
        ));
    }
    parts.extend(
        options
            .iter()
            .filter(|o| o.presence != Presence::OneOf)
            .map(docs_option),
    );
    let mut out = parts.join("; ");
    if !note.is_empty() {
        out.push_str(". ");
        out.push_str(note);
    }
    out
}

fn kind_cell(d: &KindDef) -> String {
    format!("`{}`", d.key)
}

impl KindDef {
    /// Its row in the docs table of need kinds.
    pub fn docs_need_row(&self) -> String {
        format!(
            "| {} | {} | {} |\n",
            kind_cell(self),
            docs_options(self.need, ""),
            self.doc
        )
    }

    /// Its row in the docs table of provide kinds.
    pub fn docs_provide_row(&self) -> String {
        format!(
            "| {} | {} |\n",
            kind_cell(self),
            docs_options(self.provide, self.provide_note)
        )
    }
}

/// The table of need kinds in `docs/format.md`, generated from [`KINDS`].
pub fn docs_need_table() -> String {
    let mut out = String::from("| kind | options | meaning |\n|---|---|---|\n");
    for d in &KINDS {
        out.push_str(&d.docs_need_row());
    }
    out
}

/// The table of provide kinds in `docs/format.md`, generated from [`KINDS`].
pub fn docs_provide_table() -> String {
    let mut out = String::from("| kind | options |\n|---|---|\n");
    for d in &KINDS {
        out.push_str(&d.docs_provide_row());
    }
    out.push_str("| all | `allow`: list of glob patterns on the container name, or `image:PATTERN` on its image; only those containers may hold it (default: everyone) |\n");
    out
}

// ---------------------------------------------------------------------------
// Typed details
// ---------------------------------------------------------------------------

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
    /// `secret`: a file, always mounted read-only.
    Secret {
        /// Absolute, normalized path in the container.
        mount: String,
    },
    /// A custom kind; it takes no options.
    Custom,
}

impl NeedDetail {
    /// The need an address provide implies for its holder: its network.
    pub fn implied() -> NeedDetail {
        NeedDetail::Network
    }

    /// The path this need occupies in the container, if any (two needs may
    /// not share one).
    pub fn mount_path(&self) -> Option<&str> {
        match self {
            NeedDetail::Volume { mount, .. } | NeedDetail::Secret { mount } => Some(mount),
            NeedDetail::Device { path: Some(p) } => Some(p),
            _ => None,
        }
    }

    /// The requested prefix of an address need.
    pub fn prefix(&self) -> Option<IpNet> {
        match self {
            NeedDetail::Ipv6 { prefix } => prefix.map(IpNet::V6),
            NeedDetail::Ipv4 { prefix } => prefix.map(IpNet::V4),
            _ => None,
        }
    }

    /// The need's options in need-spec form, as a provider sees them on stdin
    /// (`{"mount": "/var/www", "read_only": true, ...}`).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        match self {
            NeedDetail::Volume {
                mount,
                read_only,
                exclusive,
            } => {
                m.insert("mount".into(), json!(mount));
                m.insert("read_only".into(), json!(read_only));
                m.insert("exclusive".into(), json!(exclusive));
            }
            NeedDetail::Ipv6 { .. } | NeedDetail::Ipv4 { .. } => {
                if let Some(p) = self.prefix() {
                    m.insert("prefix".into(), json!(p.to_string()));
                }
            }
            NeedDetail::Port {
                container_port,
                protocol,
            } => {
                m.insert("container_port".into(), json!(container_port));
                m.insert("protocol".into(), json!(protocol.to_string()));
            }
            NeedDetail::Device { path } => {
                if let Some(p) = path {
                    m.insert("path".into(), json!(p));
                }
            }
            NeedDetail::Secret { mount } => {
                m.insert("mount".into(), json!(mount));
            }
            NeedDetail::Network | NeedDetail::Custom => {}
        }
        Value::Object(m)
    }

    /// Whether the need mounts its resource writable (a volume without
    /// `read_only`), so a read-only provide cannot serve it.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            NeedDetail::Volume {
                read_only: false,
                ..
            }
        )
    }

    /// Whether a provide with `detail` is of this need's kind and is matched
    /// by name alone (no option to compare): networks, secrets, devices and
    /// custom kinds.
    pub fn matched_by_name(&self, detail: &ProvideDetail) -> bool {
        matches!(
            (self, detail),
            (NeedDetail::Network, ProvideDetail::Network { .. })
                | (NeedDetail::Secret { .. }, ProvideDetail::Secret { .. })
                | (NeedDetail::Device { .. }, ProvideDetail::Device { .. })
                | (NeedDetail::Custom, ProvideDetail::Custom { .. })
        )
    }
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
    /// An address (`ipv6` / `ipv4`).
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
    /// The kind of files mounted read-only.
    Secret {
        /// Host file holding it.
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

impl ProvideDetail {
    /// A stand-in for the resource a provider would make, for previews that
    /// run nothing (`berth run --dry-run`): a network is known by its name
    /// alone, a path-valued kind gets `text` as its path. `None` for kinds
    /// whose value no placeholder can stand for (an address or port a provider
    /// hands out, a custom kind's edits): a preview leaves those out.
    pub fn placeholder(kind: &Kind, text: &str) -> Option<ProvideDetail> {
        Some(match kind {
            Kind::Network => ProvideDetail::Network {
                bridge: None,
                subnet6: None,
                gateway6: None,
                subnet4: None,
                gateway4: None,
            },
            Kind::Volume => ProvideDetail::Volume {
                path: text.to_string(),
                read_only: false,
                exclusive: false,
            },
            Kind::Device => ProvideDetail::Device {
                path: text.to_string(),
                shared: false,
            },
            Kind::Secret => ProvideDetail::Secret {
                file: text.to_string(),
            },
            _ => return None,
        })
    }

    /// Whether one holder at a time may hold (each address / port of) it.
    pub fn exclusive(&self) -> bool {
        match self {
            ProvideDetail::Address { .. } | ProvideDetail::Port { .. } => true,
            ProvideDetail::Device { shared, .. } | ProvideDetail::Custom { shared, .. } => !shared,
            ProvideDetail::Volume { exclusive, .. } => *exclusive,
            ProvideDetail::Network { .. } | ProvideDetail::Secret { .. } => false,
        }
    }

    /// The detail in host-manifest form without the kind key: what a binding
    /// records, what the state keeps and what `plan --format json` shows.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        match self {
            ProvideDetail::Network {
                bridge,
                subnet6,
                gateway6,
                subnet4,
                gateway4,
            } => {
                if let Some(b) = bridge {
                    m.insert("bridge".into(), json!(b));
                }
                if let Some(x) = subnet6 {
                    m.insert("subnet6".into(), json!(x.to_string()));
                }
                if let Some(x) = gateway6 {
                    m.insert("gateway6".into(), json!(x.to_string()));
                }
                if let Some(x) = subnet4 {
                    m.insert("subnet4".into(), json!(x.to_string()));
                }
                if let Some(x) = gateway4 {
                    m.insert("gateway4".into(), json!(x.to_string()));
                }
            }
            ProvideDetail::Address { source, network } => {
                match source {
                    AddressSource::Static(a) => m.insert("address".into(), json!(a.to_string())),
                    AddressSource::Pool(p) => m.insert("pool".into(), json!(p.to_string())),
                };
                m.insert("network".into(), json!(network));
            }
            ProvideDetail::Volume {
                path,
                read_only,
                exclusive,
            } => {
                m.insert("path".into(), json!(path));
                if *read_only {
                    m.insert("read_only".into(), json!(true));
                }
                if *exclusive {
                    m.insert("exclusive".into(), json!(true));
                }
            }
            ProvideDetail::Port {
                source,
                bind,
                protocol,
            } => {
                match source {
                    PortSource::Static(p) => m.insert("host_port".into(), json!(p)),
                    PortSource::Pool { first, last } => {
                        m.insert("pool".into(), json!(format!("{first}-{last}")))
                    }
                };
                if let Some(b) = bind {
                    m.insert("bind".into(), json!(b.to_string()));
                }
                if *protocol != Protocol::Tcp {
                    m.insert("protocol".into(), json!(protocol.to_string()));
                }
            }
            ProvideDetail::Device { path, shared } => {
                m.insert("path".into(), json!(path));
                if *shared {
                    m.insert("shared".into(), json!(true));
                }
            }
            ProvideDetail::Secret { file } => {
                m.insert("file".into(), json!(file));
            }
            ProvideDetail::Custom {
                env,
                mounts,
                devices,
                shared,
            } => {
                m.insert("env".into(), json!(env));
                let mounts: Vec<Value> = mounts
                    .iter()
                    .map(|x| json!({"path": x.path, "mount": x.mount, "read_only": x.read_only}))
                    .collect();
                m.insert("mounts".into(), Value::Array(mounts));
                m.insert("devices".into(), json!(devices));
                if *shared {
                    m.insert("shared".into(), json!(true));
                }
            }
        }
        Value::Object(m)
    }

    /// Reads back what [`ProvideDetail::to_json`] wrote for a provide of
    /// `kind` (a binding value from a plan or the state). The value is
    /// trusted (berth wrote it); untrusted provider output goes through
    /// [`crate::load::provide_detail_from_json`] and its diagnostics instead.
    /// `Err` names the first field that is missing or malformed.
    pub fn from_json(kind: &Kind, v: &Value) -> Result<ProvideDetail, &'static str> {
        let s = |k: &'static str| v.get(k).and_then(Value::as_str).ok_or(k);
        let opt = |k: &'static str| -> Result<Option<&str>, &'static str> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(x) => x.as_str().map(Some).ok_or(k),
            }
        };
        let flag = |k: &'static str| -> Result<bool, &'static str> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(false),
                Some(x) => x.as_bool().ok_or(k),
            }
        };
        fn parsed<T: std::str::FromStr>(
            x: Option<&str>,
            k: &'static str,
        ) -> Result<Option<T>, &'static str> {
            x.map(|x| x.parse().map_err(|_| k)).transpose()
        }
        Ok(match kind {
            Kind::Network => ProvideDetail::Network {
                bridge: opt("bridge")?.map(str::to_string),
                subnet6: parsed(opt("subnet6")?, "subnet6")?,
                gateway6: parsed(opt("gateway6")?, "gateway6")?,
                subnet4: parsed(opt("subnet4")?, "subnet4")?,
                gateway4: parsed(opt("gateway4")?, "gateway4")?,
            },
            Kind::Ipv6 | Kind::Ipv4 => {
                let source = match (opt("address")?, opt("pool")?) {
                    (Some(a), _) => AddressSource::Static(a.parse().map_err(|_| "address")?),
                    (None, Some(p)) => AddressSource::Pool(p.parse().map_err(|_| "pool")?),
                    (None, None) => return Err("address"),
                };
                ProvideDetail::Address {
                    source,
                    network: s("network")?.to_string(),
                }
            }
            Kind::Volume => ProvideDetail::Volume {
                path: s("path")?.to_string(),
                read_only: flag("read_only")?,
                exclusive: flag("exclusive")?,
            },
            Kind::Port => {
                let source = match v.get("host_port") {
                    Some(p) => PortSource::Static(
                        p.as_u64()
                            .and_then(|p| u16::try_from(p).ok())
                            .ok_or("host_port")?,
                    ),
                    None => {
                        let (a, b) = s("pool")?.split_once('-').ok_or("pool")?;
                        PortSource::Pool {
                            first: a.parse().map_err(|_| "pool")?,
                            last: b.parse().map_err(|_| "pool")?,
                        }
                    }
                };
                ProvideDetail::Port {
                    source,
                    bind: parsed(opt("bind")?, "bind")?,
                    protocol: match opt("protocol")? {
                        None | Some("tcp") => Protocol::Tcp,
                        Some("udp") => Protocol::Udp,
                        Some(_) => return Err("protocol"),
                    },
                }
            }
            Kind::Device => ProvideDetail::Device {
                path: s("path")?.to_string(),
                shared: flag("shared")?,
            },
            Kind::Secret => ProvideDetail::Secret {
                file: s("file")?.to_string(),
            },
            Kind::Custom(_) => {
                let mut env = BTreeMap::new();
                if let Some(e) = v.get("env") {
                    for (k, x) in e.as_object().ok_or("env")? {
                        env.insert(k.clone(), x.as_str().ok_or("env")?.to_string());
                    }
                }
                let mut mounts = Vec::new();
                for m in v.get("mounts").map_or(Ok(&[][..]), |m| {
                    m.as_array().map(Vec::as_slice).ok_or("mounts")
                })? {
                    let f = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
                    mounts.push(CustomMount {
                        path: f("path").ok_or("mounts")?,
                        mount: f("mount").ok_or("mounts")?,
                        read_only: m.get("read_only").and_then(Value::as_bool).unwrap_or(false),
                    });
                }
                let mut devices = Vec::new();
                for d in v.get("devices").map_or(Ok(&[][..]), |d| {
                    d.as_array().map(Vec::as_slice).ok_or("devices")
                })? {
                    devices.push(d.as_str().ok_or("devices")?.to_string());
                }
                ProvideDetail::Custom {
                    env,
                    mounts,
                    devices,
                    shared: flag("shared")?,
                }
            }
        })
    }

    /// The host paths `--live` checks for this provide: what each is called in
    /// the message, the path, and what must hold of it. Devices given as CDI
    /// names (`vendor/class=name`) are not paths and are left out.
    pub fn live_paths(&self) -> Vec<(&'static str, &str, LivePath)> {
        let device = |d: &str| !d.contains('=');
        match self {
            ProvideDetail::Volume { path, .. } => {
                vec![("volume path", path.as_str(), LivePath::Dir)]
            }
            ProvideDetail::Device { path, .. } if device(path) => {
                vec![("device", path.as_str(), LivePath::Exists)]
            }
            ProvideDetail::Secret { file } => {
                vec![("secret file", file.as_str(), LivePath::PrivateFile)]
            }
            ProvideDetail::Custom {
                mounts, devices, ..
            } => mounts
                .iter()
                .map(|m| ("mount source", m.path.as_str(), LivePath::Exists))
                .chain(
                    devices
                        .iter()
                        .filter(|d| device(d))
                        .map(|d| ("device", d.as_str(), LivePath::Exists)),
                )
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether the provide is mounted read-only whatever the need asks
    /// (a volume with `read_only: true`).
    pub fn read_only(&self) -> bool {
        matches!(
            self,
            ProvideDetail::Volume {
                read_only: true,
                ..
            }
        )
    }

    /// Whether a provider may not answer with this detail: a provider makes
    /// one resource, never a pool.
    pub fn is_pool(&self) -> bool {
        matches!(
            self,
            ProvideDetail::Address {
                source: AddressSource::Pool(_),
                ..
            } | ProvideDetail::Port {
                source: PortSource::Pool { .. },
                ..
            }
        )
    }
}

/// The JSON form of [`ProvideDetail::to_json`]: the one serialization of a
/// provide's value (plans, state, provider output all use this form).
impl Serialize for ProvideDetail {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

// ---------------------------------------------------------------------------
// Values of the kinds
// ---------------------------------------------------------------------------

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

/// What `--live` requires of a host path a provide names
/// ([`ProvideDetail::live_paths`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivePath {
    /// A directory.
    Dir,
    /// Anything that exists.
    Exists,
    /// A file that exists and is not readable by everyone.
    PrivateFile,
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

// ---------------------------------------------------------------------------
// Edits
// ---------------------------------------------------------------------------

/// Where a binding's edits go: the engine's neutral edits implement this, so
/// the registry says what each kind's value means for a container without
/// knowing any engine (like ripgrep's printers implement one `Sink`).
pub trait EditSink {
    /// A bind mount; `file` when the source is a file rather than a directory.
    fn mount(&mut self, source: &str, target: &str, read_only: bool, file: bool);
    /// A device (host node or CDI name), with its container path when it differs.
    fn device(&mut self, path: &str, target: Option<&str>);
    /// A published port.
    fn publish(
        &mut self,
        bind: Option<IpAddr>,
        host_port: u16,
        container_port: u16,
        protocol: Protocol,
    );
    /// An environment variable.
    fn env(&mut self, key: &str, value: &str);
    /// An address on a network.
    fn address(&mut self, network: &str, address: IpAddr);
    /// A network's own details (bridge, subnets, gateways).
    fn attach(&mut self, network: &str, detail: NetworkEdit);
}

/// What a network binding adds to the container's attachment to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkEdit<'a> {
    /// Host bridge, when it is not the network's name.
    pub bridge: Option<&'a str>,
    /// IPv6 subnet's prefix length.
    pub prefix6: Option<u8>,
    /// IPv6 gateway.
    pub gateway6: Option<IpAddr>,
    /// IPv4 subnet's prefix length.
    pub prefix4: Option<u8>,
    /// IPv4 gateway.
    pub gateway4: Option<IpAddr>,
}

/// The need and the value of a binding are of different kinds (a plan that
/// is not of this spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindMismatch;

/// Writes what binding `need` to the resource `name` with `value` means for
/// the container. An address needs its network attached first for the
/// network's details; the caller orders that.
pub fn edits(
    need: &NeedDetail,
    name: &str,
    value: &ProvideDetail,
    sink: &mut dyn EditSink,
) -> Result<(), KindMismatch> {
    match (need, value) {
        (
            _,
            ProvideDetail::Network {
                bridge,
                subnet6,
                gateway6,
                subnet4,
                gateway4,
            },
        ) => sink.attach(
            name,
            NetworkEdit {
                bridge: bridge.as_deref(),
                prefix6: subnet6.map(|n| n.prefix_len()),
                gateway6: gateway6.map(IpAddr::V6),
                prefix4: subnet4.map(|n| n.prefix_len()),
                gateway4: gateway4.map(IpAddr::V4),
            },
        ),
        (
            NeedDetail::Volume {
                mount, read_only, ..
            },
            ProvideDetail::Volume {
                path,
                read_only: lent_ro,
                ..
            },
        ) => sink.mount(path, mount, *read_only || *lent_ro, false),
        (NeedDetail::Secret { mount }, ProvideDetail::Secret { file }) => {
            sink.mount(file, mount, true, true)
        }
        (_, ProvideDetail::Address { source, network }) => match source {
            AddressSource::Static(a) => sink.address(network, *a),
            AddressSource::Pool(_) => return Err(KindMismatch),
        },
        (
            NeedDetail::Port {
                container_port,
                protocol,
            },
            ProvideDetail::Port { source, bind, .. },
        ) => match source {
            PortSource::Static(p) => sink.publish(*bind, *p, *container_port, *protocol),
            PortSource::Pool { .. } => return Err(KindMismatch),
        },
        (NeedDetail::Device { path: target }, ProvideDetail::Device { path, .. }) => {
            sink.device(path, target.as_deref().filter(|t| t != path))
        }
        (
            _,
            ProvideDetail::Custom {
                env,
                mounts,
                devices,
                ..
            },
        ) => {
            for (k, v) in env {
                sink.env(k, v);
            }
            for m in mounts {
                sink.mount(&m.path, &m.mount, m.read_only, false);
            }
            for d in devices {
                sink.device(d, None);
            }
        }
        _ => return Err(KindMismatch),
    }
    Ok(())
}
