//! Diagnostics as data: every problem berth finds in a file is one [`Diagnostic`]
//! with a stable [`Code`], a severity, a location and an optional help line.
//!
//! The library never renders them; the CLI turns them into miette reports or JSON.
//! Codes are part of berth's interface (CI scripts match on them): never rename one,
//! only add. Each is documented in `docs/diagnostics.md`; a test checks that.

use std::sync::Arc;

use serde::Serialize;

use crate::model::{Source, Span};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Suspicious but loadable; fails only under `--deny-warnings`.
    Warning,
    /// The document is invalid.
    Error,
}

/// One problem found in a file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Stable code, e.g. `berth::host::duplicate-address`.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// One-line description of what is wrong.
    pub message: String,
    /// The file, when the problem is in one.
    pub source: Option<Arc<Source>>,
    /// Where in the file.
    pub span: Option<Span>,
    /// Text for the label at the span (defaults to the message).
    pub label: Option<String>,
    /// How to fix it, when known.
    pub help: Option<String>,
    /// Other places involved (e.g. the first definition of a duplicate).
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    /// An error with a code and message and nothing else.
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            source: None,
            span: None,
            label: None,
            help: None,
            related: Vec::new(),
        }
    }

    /// A warning with a code and message and nothing else.
    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Sets the location.
    pub fn at(mut self, source: &Arc<Source>, span: Span) -> Diagnostic {
        self.source = Some(source.clone());
        self.span = Some(span);
        self
    }

    /// Names the file without a position (I/O problems, size limits).
    pub fn at_file(mut self, source: &Arc<Source>) -> Diagnostic {
        self.source = Some(source.clone());
        self
    }

    /// Sets the label shown at the span.
    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Sets the help line.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a related location.
    pub fn related(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.related.push((span, label.into()));
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident => $code:literal, )*) => {
        /// Stable diagnostic codes. Never rename; only add.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as shown to users, e.g. `berth::need::unknown-kind`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }
        }
    };
}

codes! {
    /// The file could not be read.
    IoRead => "berth::io::read",
    /// The file is larger than the size limit.
    FileTooLarge => "berth::file::too-large",
    /// The YAML is not well-formed.
    YamlSyntax => "berth::yaml::syntax",
    /// Alias expansion exceeded the limit (a "billion laughs" file).
    YamlAliasLimit => "berth::yaml::alias-limit",
    /// A value has the wrong type.
    WrongType => "berth::format::wrong-type",
    /// An unknown key.
    UnknownKey => "berth::format::unknown-key",
    /// A required key is missing.
    MissingKey => "berth::format::missing-key",
    /// `berth:` is missing.
    VersionMissing => "berth::format::version-missing",
    /// `berth:` names a version this build does not support.
    VersionUnsupported => "berth::format::version-unsupported",
    /// A value contains control characters.
    ControlCharacter => "berth::format::control-character",
    /// An invalid container name (and, before `InvalidHostName`, host name).
    InvalidContainerName => "berth::format::invalid-container-name",
    /// An invalid resource name.
    InvalidName => "berth::format::invalid-name",
    /// The document is neither a container (`container:`) nor a host (`host:`).
    UnknownDocument => "berth::format::unknown-document",
    /// A need key that is not a kind.
    NeedUnknownKind => "berth::need::unknown-kind",
    /// A need with no kind key, or with two.
    NeedKindCount => "berth::need::kind-count",
    /// A mount path that is relative or not normalized.
    NeedBadMount => "berth::need::bad-mount",
    /// A need that may not be combined with another.
    NeedDuplicate => "berth::need::duplicate",
    /// Need unsatisfiable (used by the solver's reports).
    NeedUnmet => "berth::need::unmet",
    /// The same resource name provided twice for one kind.
    HostDuplicateName => "berth::host::duplicate-name",
    /// The same address provided twice, however spelled.
    HostDuplicateAddress => "berth::host::duplicate-address",
    /// An address or pool outside its network's subnet.
    HostAddressOutsideSubnet => "berth::host::address-outside-subnet",
    /// A gateway outside its subnet.
    HostGatewayOutsideSubnet => "berth::host::gateway-outside-subnet",
    /// Two pools or subnets overlap.
    HostOverlap => "berth::host::overlap",
    /// A static address inside a pool (the pool skips it).
    HostStaticInPool => "berth::host::static-in-pool",
    /// An address provide whose network is neither provided nor provider-backed.
    HostUnknownNetwork => "berth::host::unknown-network",
    /// A provider with an empty `run`.
    HostEmptyRun => "berth::host::empty-run",
    /// A timeout that does not parse.
    HostBadTimeout => "berth::host::bad-timeout",
    /// An invalid address, subnet or pool.
    HostBadAddress => "berth::host::bad-address",
    /// A host path that is not absolute.
    HostBadPath => "berth::host::bad-path",
    /// `--live`: a path, device or file that does not exist on this host.
    LiveMissing => "berth::live::missing",
    /// `--live`: a private file (a read-only-file kind's) readable by everyone.
    LivePrivateFileReadable => "berth::live::secret-world-readable",
    /// `--live`: a provider executable that is missing or not executable.
    LiveProviderMissing => "berth::live::provider-missing",
    /// The file is not UTF-8 text.
    NotUtf8 => "berth::file::not-utf8",
    /// Nesting deeper than any berth file needs.
    YamlTooDeep => "berth::yaml::too-deep",
    /// A key given twice in one map.
    DuplicateKey => "berth::format::duplicate-key",
    /// Two keys that exclude each other (`address` and `pool`).
    ConflictingKeys => "berth::format::conflicting-keys",
    /// A custom kind key that is not `vendor.tld/class`.
    InvalidKind => "berth::format::invalid-kind",
    /// A label key that is not a valid label.
    InvalidLabel => "berth::format::invalid-label",
    /// A value of the right type that is still not allowed (an image with spaces,
    /// an unknown protocol, a bad environment variable name).
    InvalidValue => "berth::format::invalid-value",
    /// A need's `prefix` that is not a CIDR of its address family.
    NeedBadPrefix => "berth::need::bad-prefix",
    /// A need's `container_port` that is not a port (or `PORT/udp`).
    NeedBadPort => "berth::need::bad-port",
    /// Two needs of one container mount at the same path.
    NeedMountConflict => "berth::need::mount-conflict",
    /// A provide or provider key that is not a kind.
    HostUnknownKind => "berth::host::unknown-kind",
    /// A provide or provider entry with no kind key, or with two.
    HostKindCount => "berth::host::kind-count",
    /// A host port or port range that is not valid.
    HostBadPort => "berth::host::bad-port",
    /// The same host port provided twice.
    HostDuplicatePort => "berth::host::duplicate-port",
    /// An invalid host name (`host: ../../etc`).
    InvalidHostName => "berth::format::invalid-host-name",
    /// A network provider's `--ip-range6`/`--ip-range4` holds a static address
    /// or a pool of that network.
    HostIpRangeOverlap => "berth::host::ip-range-overlap",
    /// `--live`: an existing engine network has another subnet, or hands out
    /// berth's addresses itself.
    LiveEngineNetwork => "berth::live::engine-network",
    /// A Dockerfile's `io.berth.spec` label and the `berth.yaml` beside it differ.
    LabelDiffers => "berth::label::differs",
    /// A Dockerfile that does not parse.
    LabelBadDockerfile => "berth::label::bad-dockerfile",
    /// Provider steps that depend on each other in a cycle (the solver's plan).
    PlanStepCycle => "berth::plan::step-cycle",
    /// A provider step failed or timed out; the apply was rolled back.
    ProviderFailed => "berth::provider::failed",
    /// The state file does not parse; it is never overwritten.
    StateCorrupt => "berth::state::corrupt",
    /// The state file has a format version this build does not know.
    StateVersion => "berth::state::version",
    /// The state file belongs to another host.
    StateHostMismatch => "berth::state::host-mismatch",
    /// The state lock cannot be opened or taken.
    StateLock => "berth::state::lock",
    /// The state folder or file cannot be created, read or written.
    StateIo => "berth::state::io",
    /// A container fits on no host of the fleet.
    PlaceUnplaced => "berth::place::unplaced",
    /// Two host manifests of a fleet share a name.
    PlaceDuplicateHost => "berth::place::duplicate-host",
    /// Two specs of a placement share a container name.
    PlaceDuplicateContainer => "berth::place::duplicate-container",
    /// `place --explain` names a host that is not in the fleet.
    PlaceUnknownHost => "berth::place::unknown-host",
    /// The files given to a host-bound command do not hold what it needs (not
    /// exactly one host manifest, a host manifest among the specs, a container
    /// given twice).
    CliBadInput => "berth::cli::bad-input",
    /// A docker configuration or `berth run` needs an image the spec lacks.
    CliNoImage => "berth::cli::no-image",
    /// A container name on the command line that is not a container name.
    CliBadContainerName => "berth::cli::bad-container-name",
    /// `berth release --forget KIND/NAME`: no such pending release (or not
    /// `KIND/NAME`).
    CliNotPending => "berth::cli::not-pending",
    /// `berth run`: the engine is not on `PATH`.
    RunNoEngine => "berth::run::no-engine",
    /// `berth run --image`: not an image reference.
    RunBadImage => "berth::run::bad-image",
    /// `berth run`: the engine could not be executed after the apply.
    RunExec => "berth::run::exec",
    /// `--from-image IMAGE`: the image has no `io.berth.spec` label.
    LabelMissing => "berth::label::missing",
    /// `--from-image IMAGE`: the engine could not inspect the image.
    ImageInspect => "berth::image::inspect",
    /// `berth label FILE`: the file holds no need spec, or several.
    LabelNotOne => "berth::label::not-one",
    /// `apply`/`run`: a recorded container re-applied with another spec than
    /// the one recorded, without `--replace`.
    ApplySpecChanged => "berth::apply::spec-changed",
    /// A host provides an engine-reserved network name (`host`, `none`,
    /// `bridge`, ...) exactly: every spec that needs it joins it.
    HostReservedNetwork => "berth::host::reserved-network",
    /// `--emit lxc`: a value an LXC config cannot hold as given: a network
    /// link longer than 15 bytes or left to the need's name by a pattern, an
    /// environment value ending in a blank.
    EmitLxcValue => "berth::emit::lxc-value",
    /// The state folder is writable by others than its owner.
    StateFolderWritable => "berth::state::folder-writable",
    /// A pool that has no address to hand out: every one of its addresses is
    /// its subnet's network or broadcast address, the gateway or a static one.
    HostPoolEmpty => "berth::host::pool-empty",
    /// A static address that engines refuse to give a container: an IPv4
    /// subnet's network or broadcast address, an IPv6 subnet-router anycast
    /// address.
    HostRefusedAddress => "berth::host::refused-address",
}
