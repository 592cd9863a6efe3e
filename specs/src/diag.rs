//! Diagnostics as data: every problem berth finds in a file is one [`Diagnostic`]
//! with a stable [`Code`], a severity, a location and an optional help line.
//!
//! The library never renders them; the CLI turns them into miette reports or JSON.
//! Codes are part of berth's interface (CI scripts match on them): never rename one,
//! only add. Each is documented in `docs/diagnostics.md`; a test checks that.
//!
//! Diagnostics are capped where they are collected ([`Capped`]): a hostile file
//! (a pull request to a repository that CI checks) can hold millions of
//! minutes and gigabytes. The loader keeps the first [`MAX_KEPT_PER_FILE`] of a
//! file; a command shows the first [`MAX_PER_FILE`] of each file and the first
//! [`MAX_PER_RUN`] of the run (`--max-diagnostics`). The rest are counted by
//! file and severity, so the verdict and the totals stay exact.

use std::path::{Path, PathBuf};
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

/// Diagnostics shown per file; the rest are counted ([`Omitted`]).
pub const MAX_PER_FILE: usize = 100;

/// Diagnostics the loader keeps per file (no run shows more of one file);
/// the rest are counted ([`Omitted`]).
pub const MAX_KEPT_PER_FILE: usize = 1000;

/// Diagnostics kept per run unless `--max-diagnostics` says otherwise.
pub const MAX_PER_RUN: usize = 1000;

/// How many diagnostics a cap left out, by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Omitted {
    /// Errors left out.
    pub errors: usize,
    /// Warnings left out.
    pub warnings: usize,
}

impl Omitted {
    /// All of them.
    pub fn total(self) -> usize {
        self.errors + self.warnings
    }

    /// Counts one more.
    pub fn count(&mut self, severity: Severity) {
        match severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
    }

    /// Adds another count.
    pub fn add(&mut self, other: Omitted) {
        self.errors += other.errors;
        self.warnings += other.warnings;
    }
}

/// What a cap left out of one file's diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOmitted {
    /// The file (as the diagnostics name it), when the diagnostics had one.
    pub file: Option<PathBuf>,
    /// How many were left out.
    pub omitted: Omitted,
}

/// A list of diagnostics that keeps the first `limit` pushed, in order, and
/// only counts the rest (by file and severity): memory holds at most `limit`
/// diagnostics however many are found, while [`Capped::errors`] and
/// [`Capped::warnings`] stay exact.
///
/// A diagnostic pushed past the limit is still built by its caller (who may
/// set its label or help through [`Capped::last_mut`] right after); it is
/// dropped at the next push.
#[derive(Debug, Clone)]
pub struct Capped {
    kept: Vec<Diagnostic>,
    limit: usize,
    /// At most this many of one file are kept by [`Capped::absorb`].
    file_limit: usize,
    /// Left out, by file in the order first met.
    omitted: Vec<FileOmitted>,
    /// The last diagnostic pushed past the limit.
    spare: Option<Box<Diagnostic>>,
    /// Code and severity of every diagnostic pushed (one or two bytes each,
    /// kept or not), so a caller can ask what was found since a mark.
    seen: Vec<(Code, Severity)>,
    errors: usize,
    warnings: usize,
}

impl Default for Capped {
    fn default() -> Self {
        Capped::new(MAX_KEPT_PER_FILE)
    }
}

impl Capped {
    /// An empty list keeping at most `limit` diagnostics.
    pub fn new(limit: usize) -> Capped {
        Capped {
            kept: Vec::new(),
            limit,
            file_limit: usize::MAX,
            omitted: Vec::new(),
            spare: None,
            seen: Vec::new(),
            errors: 0,
            warnings: 0,
        }
    }

    /// A run's list: at most `limit` in all and [`MAX_PER_FILE`] of each
    /// file added with [`Capped::absorb`].
    pub fn run(limit: usize) -> Capped {
        Capped {
            file_limit: MAX_PER_FILE,
            ..Capped::new(limit)
        }
    }

    /// Adds one: kept while under the limit, else counted against its file.
    pub fn push(&mut self, d: Diagnostic) {
        self.seen.push((d.code, d.severity));
        match d.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
        if self.kept.len() < self.limit {
            self.spare = None;
            self.kept.push(d);
        } else {
            self.count_omitted(d.source.as_deref().map(|s| s.path.as_path()), {
                let mut o = Omitted::default();
                o.count(d.severity);
                o
            });
            self.spare = Some(Box::new(d));
        }
    }

    /// The diagnostic pushed last, kept or not (to finish its label or help).
    pub fn last_mut(&mut self) -> Option<&mut Diagnostic> {
        match &mut self.spare {
            Some(d) => Some(d),
            None => self.kept.last_mut(),
        }
    }

    /// How many were pushed, kept or not: a mark for [`Capped::since`].
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when nothing was pushed or absorbed.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty() && self.omitted.is_empty()
    }

    /// Code and severity of each diagnostic pushed after `mark` (a
    /// [`Capped::len`]), kept or not.
    pub fn since(&self, mark: usize) -> &[(Code, Severity)] {
        &self.seen[mark.min(self.seen.len())..]
    }

    /// Errors found, kept or not.
    pub fn errors(&self) -> usize {
        self.errors
    }

    /// Warnings found, kept or not.
    pub fn warnings(&self) -> usize {
        self.warnings
    }

    /// True when any error was found, kept or not.
    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// The diagnostics kept, in the order pushed.
    pub fn kept(&self) -> &[Diagnostic] {
        &self.kept
    }

    /// What was left out, by file.
    pub fn omitted(&self) -> &[FileOmitted] {
        &self.omitted
    }

    /// Everything left out, summed over files.
    pub fn omitted_total(&self) -> Omitted {
        let mut all = Omitted::default();
        for f in &self.omitted {
            all.add(f.omitted);
        }
        all
    }

    /// Adds one file's diagnostics and what an earlier cap left out of them
    /// (`file` names that file): kept while under this list's limit and its
    /// per-file limit ([`Capped::run`]), the rest counted.
    pub fn absorb(
        &mut self,
        file: Option<&Path>,
        diagnostics: impl IntoIterator<Item = Diagnostic>,
        omitted: Omitted,
    ) {
        let limit = self.limit;
        self.limit = self
            .limit
            .min(self.kept.len().saturating_add(self.file_limit));
        for d in diagnostics {
            self.push(d);
        }
        self.limit = limit;
        self.spare = None;
        if omitted.total() > 0 {
            self.errors += omitted.errors;
            self.warnings += omitted.warnings;
            self.count_omitted(file, omitted);
        }
    }

    /// Adds diagnostics of several files (each file's in one run, as
    /// loading gives them) and what earlier caps left out of each: every
    /// file is [`Capped::absorb`]ed, so a run shows at most
    /// [`MAX_PER_FILE`] of each.
    pub fn absorb_files(&mut self, diagnostics: Vec<Diagnostic>, omitted: &[FileOmitted]) {
        let mut rest = diagnostics.into_iter().peekable();
        while let Some(first) = rest.next() {
            let file = first.source.as_ref().map(|s| s.path.clone());
            let same = |d: &Diagnostic| d.source.as_ref().map(|s| &s.path) == file.as_ref();
            let mut group = vec![first];
            while let Some(d) = rest.next_if(same) {
                group.push(d);
            }
            self.absorb(file.as_deref(), group, Omitted::default());
        }
        for f in omitted {
            self.absorb(f.file.as_deref(), [], f.omitted);
        }
    }

    /// Adds another list (its kept diagnostics, then its omitted counts).
    pub fn append(&mut self, other: Capped) {
        for d in other.kept {
            self.push(d);
        }
        self.spare = None;
        for f in other.omitted {
            self.errors += f.omitted.errors;
            self.warnings += f.omitted.warnings;
            self.count_omitted(f.file.as_deref(), f.omitted);
        }
    }

    /// Sorts the kept diagnostics (the omitted counts do not move).
    pub fn sort_kept_by_key<K: Ord>(&mut self, key: impl FnMut(&Diagnostic) -> K) {
        self.kept.sort_by_key(key);
    }

    /// The kept diagnostics and every omitted count, summed over files.
    pub fn into_parts(self) -> (Vec<Diagnostic>, Omitted) {
        let all = self.omitted_total();
        (self.kept, all)
    }

    /// The kept diagnostics and the omitted counts by file.
    pub fn into_kept_and_omitted(self) -> (Vec<Diagnostic>, Vec<FileOmitted>) {
        (self.kept, self.omitted)
    }

    fn count_omitted(&mut self, file: Option<&Path>, n: Omitted) {
        // Diagnostics come file by file: the last entry is nearly always it.
        match self
            .omitted
            .iter_mut()
            .rev()
            .find(|f| f.file.as_deref() == file)
        {
            Some(f) => f.omitted.add(n),
            None => self.omitted.push(FileOmitted {
                file: file.map(Path::to_path_buf),
                omitted: n,
            }),
        }
    }
}

impl Extend<Diagnostic> for Capped {
    fn extend<I: IntoIterator<Item = Diagnostic>>(&mut self, iter: I) {
        for d in iter {
            self.push(d);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: Code, file: &str) -> Diagnostic {
        Diagnostic::error(code, "x").at_file(&Source::new(file, ""))
    }

    #[test]
    fn a_capped_list_keeps_the_first_and_counts_the_rest_exactly() {
        let mut list = Capped::new(3);
        for i in 0..10 {
            let d = if i % 2 == 0 {
                err(Code::WrongType, "a.yaml")
            } else {
                Diagnostic::warning(Code::HostStaticInPool, "w").at_file(&Source::new("a.yaml", ""))
            };
            list.push(d);
            // Past the limit, the caller can still finish what it pushed.
            list.last_mut().unwrap().help = Some(format!("help {i}"));
        }
        assert_eq!(list.kept().len(), 3);
        assert_eq!(list.kept()[2].help.as_deref(), Some("help 2"));
        assert_eq!((list.errors(), list.warnings()), (5, 5));
        assert_eq!(
            list.omitted(),
            [FileOmitted {
                file: Some(PathBuf::from("a.yaml")),
                omitted: Omitted {
                    errors: 3,
                    warnings: 4
                }
            }]
        );
        // What was pushed after a mark is known even past the limit.
        let mark = list.len();
        list.push(err(Code::UnknownKey, "a.yaml"));
        list.push(err(Code::MissingKey, "a.yaml"));
        assert_eq!(
            list.since(mark),
            [
                (Code::UnknownKey, Severity::Error),
                (Code::MissingKey, Severity::Error)
            ]
        );
        assert!(list.has_errors());
    }

    #[test]
    fn a_run_shows_a_hundred_of_a_file_and_counts_by_file() {
        let mut run = Capped::run(150);
        let many = |file: &str, n: usize| {
            (0..n)
                .map(|_| err(Code::WrongType, file))
                .collect::<Vec<_>>()
        };
        let loader_left_out = Omitted {
            errors: 5_000,
            warnings: 0,
        };
        run.absorb(
            Some(Path::new("a.yaml")),
            many("a.yaml", 1000),
            loader_left_out,
        );
        run.absorb(
            Some(Path::new("b.yaml")),
            many("b.yaml", 80),
            Omitted::default(),
        );
        assert_eq!(run.kept().len(), 150);
        assert_eq!(
            run.kept()
                .iter()
                .filter(|d| d.source.as_ref().unwrap().path == Path::new("a.yaml"))
                .count(),
            MAX_PER_FILE
        );
        assert_eq!(run.errors(), 6_080);
        let by_file: Vec<(PathBuf, usize)> = run
            .omitted()
            .iter()
            .map(|f| (f.file.clone().unwrap(), f.omitted.total()))
            .collect();
        assert_eq!(
            by_file,
            [
                (PathBuf::from("a.yaml"), 900 + 5_000),
                (PathBuf::from("b.yaml"), 30)
            ]
        );
        assert_eq!(run.omitted_total().total(), 5_930);
    }
}
