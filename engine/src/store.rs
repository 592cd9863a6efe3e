//! Persistence of a host's [`State`]: one JSON file per host,
//! `<state_dir>/<host>.json`, and a lock file beside it (`<host>.json.lock`).
//!
//! What must stay true (docs/state.md):
//! - every change goes through [`Locked`], which holds an exclusive `flock` on
//!   the lock file for its whole life, so two berth processes never plan against
//!   the same state at once (no address handed out twice);
//! - a write is atomic: temp file in the same folder, fsync, rename over the
//!   state file, fsync the folder; a crash at any instant leaves either the old
//!   or the new file, both valid;
//! - a state file that does not parse is never overwritten: loading under the
//!   lock fails with [`StoreError::Corrupt`] naming the file, after keeping a
//!   copy (`<file>.corrupt-<unix seconds>`);
//! - a file that parses but means nothing berth could have written (a value
//!   that is not an address or port of its kind, a holding under a name that
//!   is not a container name, control characters, a reservation its holder
//!   does not hold, one exclusive value held twice) is corrupt too: the solver
//!   and `release` trust the state, so nonsense must stop at the door, with
//!   the key that is wrong. The checks are one pass over the file;
//! - [`load_readonly`] (for `plan` and `status`) takes no lock and creates
//!   nothing: a reader sees the old or the new file thanks to the rename.
//!
//! The lock file is never deleted: removing it while another process waits on
//! it would let a third process lock a new inode and run concurrently.

use std::collections::HashMap;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use berth_specs::{valid_container_name, Code, HostManifest, Kind};
use serde_json::Value;

use crate::state::{resource_key, BindingSource, State, STATE_VERSION};

/// The state folder used when neither the manifest nor the environment says.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/berth";

/// Why state could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The host name cannot be a file name.
    #[error("host name `{0}` cannot name a state file")]
    BadHostName(String),
    /// The state folder could not be created.
    #[error("cannot create state folder {}: {source}", dir.display())]
    CreateDir {
        /// The folder.
        dir: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The lock could not be taken.
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The state file could not be read.
    #[error("cannot read state file {}: {source}", path.display())]
    Read {
        /// The state file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The state file does not parse; it was left in place (and copied).
    #[error("state file {} is corrupt: {reason}{}", path.display(),
        copy.as_ref().map(|c| format!("; a copy was kept at {}", c.display())).unwrap_or_default())]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
        /// Where the copy went (none for read-only loads, which write nothing).
        copy: Option<PathBuf>,
    },
    /// The file is of a state format this build does not know.
    #[error("state file {} has format version {found}; this berth understands version {STATE_VERSION}", path.display())]
    Version {
        /// The state file.
        path: PathBuf,
        /// Its `berth_state`.
        found: u64,
    },
    /// The file belongs to another host.
    #[error("state file {} belongs to host `{found}`, not `{expected}`", path.display())]
    HostMismatch {
        /// The state file.
        path: PathBuf,
        /// Its `host`.
        found: String,
        /// The manifest's host.
        expected: String,
    },
    /// The state file is not a regular file (a FIFO, a device, a folder):
    /// berth never reads from one, which could block it while it holds the lock.
    #[error("state file {} is not a regular file", path.display())]
    NotRegular {
        /// The state file.
        path: PathBuf,
    },
    /// The state folder is writable by every user: anyone could replace the
    /// state file or plant one.
    #[error("state folder {} is writable by every user (mode {mode:o})", dir.display())]
    FolderWritable {
        /// The folder.
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Writing failed; the previous state file is intact.
    #[error("cannot write state file {}: {source}", path.display())]
    Write {
        /// The state file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl StoreError {
    /// The stable diagnostic code of this failure (`docs/diagnostics.md`),
    /// shared by every command that reads the state.
    pub fn code(&self) -> Code {
        match self {
            StoreError::Corrupt { .. } => Code::StateCorrupt,
            StoreError::Version { .. } => Code::StateVersion,
            StoreError::HostMismatch { .. } => Code::StateHostMismatch,
            StoreError::Lock { .. } => Code::StateLock,
            StoreError::FolderWritable { .. } => Code::StateFolderWritable,
            _ => Code::StateIo,
        }
    }

    /// What a person should do about it.
    pub fn help(&self) -> &'static str {
        match self {
            StoreError::Corrupt { .. } => {
                "berth never overwrites a state file it cannot read; repair it or move it away (see docs/state.md)"
            }
            StoreError::FolderWritable { .. } => {
                "make the state folder writable by its owner only (chmod 700), or point --state-dir elsewhere (see docs/security.md)"
            }
            _ => "see docs/state.md",
        }
    }
}

/// The state folder of `host` for the commands that take no `--state-dir`
/// of their own: [`state_location`] without a flag, so that `apply`, `plan`,
/// `status`, `release`, `run`, `place` and `berth-cni` agree on one folder.
pub fn state_dir(host: &HostManifest) -> PathBuf {
    state_location(None, host)
}

/// Which rule of [`state_location`] chose a state folder, so that an error
/// about the folder can say where it came from and how to change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateOrigin {
    /// A command's `--state-dir`.
    Flag,
    /// `$BERTH_STATE_DIR`.
    Env,
    /// The host manifest's `state_dir`.
    Manifest,
    /// [`DEFAULT_STATE_DIR`], the default for root.
    RootDefault,
    /// `$XDG_STATE_HOME/berth`, the default for other users.
    XdgDefault,
    /// `~/.local/state/berth`, the default for other users without
    /// `$XDG_STATE_HOME`.
    HomeDefault,
    /// [`DEFAULT_STATE_DIR`] for a user with neither `$XDG_STATE_HOME` nor
    /// `$HOME`.
    NoHomeDefault,
}

/// Where berth keeps `host`'s state, by the rule of DESIGN.md, first that is
/// set: `flag` (a command's `--state-dir`), `$BERTH_STATE_DIR` (not empty),
/// the manifest's `state_dir` (relative: to the manifest's folder),
/// [`DEFAULT_STATE_DIR`] for root, else `$XDG_STATE_HOME/berth` (when set to
/// an absolute path) or `~/.local/state/berth`.
///
/// The one statement of that rule, for every command that reads state
/// ([`state_dir`] is this rule without a flag).
pub fn state_location(flag: Option<&Path>, host: &HostManifest) -> PathBuf {
    locate(flag, host).0
}

/// Which rule [`state_location`] follows for `flag` and `host`.
pub fn state_origin(flag: Option<&Path>, host: &HostManifest) -> StateOrigin {
    locate(flag, host).1
}

fn locate(flag: Option<&Path>, host: &HostManifest) -> (PathBuf, StateOrigin) {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = flag {
        return (d.to_path_buf(), StateOrigin::Flag);
    }
    if let Some(d) = env("BERTH_STATE_DIR") {
        return (d, StateOrigin::Env);
    }
    if let Some(d) = &host.state_dir {
        let d = if d.is_absolute() {
            d.clone()
        } else {
            host.base_dir().join(d)
        };
        return (d, StateOrigin::Manifest);
    }
    if rustix::process::geteuid().is_root() {
        return (PathBuf::from(DEFAULT_STATE_DIR), StateOrigin::RootDefault);
    }
    if let Some(x) = env("XDG_STATE_HOME").filter(|d| d.is_absolute()) {
        return (x.join("berth"), StateOrigin::XdgDefault);
    }
    match env("HOME") {
        Some(home) => (home.join(".local/state/berth"), StateOrigin::HomeDefault),
        None => (PathBuf::from(DEFAULT_STATE_DIR), StateOrigin::NoHomeDefault),
    }
}

/// `<state_dir>/<host>.json`.
pub fn state_path(host: &HostManifest) -> PathBuf {
    StateFile::new(state_dir(host), &host.host).path
}

/// Loads `host`'s state without locking or creating anything (an absent file
/// is an empty state). For `berth plan` and `berth status`.
pub fn load_readonly(host: &HostManifest) -> Result<State, StoreError> {
    StateFile::new(state_dir(host), &host.host).load_readonly()
}

/// Locks `host`'s state (creating the folder, mode 0700, if missing) and
/// loads it.
pub fn lock(host: &HostManifest) -> Result<Locked, StoreError> {
    StateFile::new(state_dir(host), &host.host).lock()
}

/// One host's state file in one folder.
#[derive(Debug, Clone)]
pub struct StateFile {
    dir: PathBuf,
    host: String,
    path: PathBuf,
}

impl StateFile {
    /// The state file of `host` in `dir`.
    pub fn new(dir: impl Into<PathBuf>, host: &str) -> StateFile {
        let dir = dir.into();
        let path = dir.join(format!("{host}.json"));
        StateFile {
            dir,
            host: host.to_string(),
            path,
        }
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_name(&self) -> Result<(), StoreError> {
        // The loader already restricts host names; this keeps the store safe
        // when called with anything else.
        let h = &self.host;
        if h.is_empty() || h.starts_with('.') || h.contains(['/', '\0']) {
            return Err(StoreError::BadHostName(h.clone()));
        }
        Ok(())
    }

    /// Reads the state; `Ok(None)` when the file does not exist. See
    /// [`open_regular`]: a FIFO or device in its place is refused, never
    /// waited on.
    fn read(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let read_err = |source| StoreError::Read {
            path: self.path.clone(),
            source,
        };
        let mut f = match open_regular(&self.path) {
            Ok(Some(f)) => f,
            Ok(None) => {
                return Err(StoreError::NotRegular {
                    path: self.path.clone(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(read_err(source)),
        };
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).map_err(read_err)?;
        Ok(Some(bytes))
    }

    /// Refuses a state folder every user may write to (see
    /// [`StoreError::FolderWritable`]); a missing folder is fine.
    fn check_folder(&self) -> Result<(), StoreError> {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(&self.dir) {
            Ok(md) if md.permissions().mode() & 0o002 != 0 => Err(StoreError::FolderWritable {
                dir: self.dir.clone(),
                mode: md.permissions().mode() & 0o7777,
            }),
            _ => Ok(()),
        }
    }

    /// Parses bytes as this host's state. `Err(reason)` means corrupt.
    fn parse(&self, bytes: &[u8]) -> Result<Result<State, String>, StoreError> {
        let value: serde_json::Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e.to_string())),
        };
        match value.get("berth_state").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(STATE_VERSION) => {}
            Some(found) => {
                return Err(StoreError::Version {
                    path: self.path.clone(),
                    found,
                })
            }
            None => return Ok(Err("`berth_state` (the format version) is missing".into())),
        }
        if let Err(reason) = check_strings(&value) {
            return Ok(Err(reason));
        }
        let state: State = match serde_json::from_value(value) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if state.host != self.host {
            return Err(StoreError::HostMismatch {
                path: self.path.clone(),
                found: state.host,
                expected: self.host.clone(),
            });
        }
        Ok(check_meaning(&state).map(|()| state))
    }

    /// See [`load_readonly`].
    pub fn load_readonly(&self) -> Result<State, StoreError> {
        self.check_name()?;
        self.check_folder()?;
        let Some(bytes) = self.read()? else {
            return Ok(State::new(&self.host));
        };
        self.parse(&bytes)?.map_err(|reason| StoreError::Corrupt {
            path: self.path.clone(),
            reason,
            copy: None,
        })
    }

    /// See [`lock`].
    pub fn lock(&self) -> Result<Locked, StoreError> {
        self.check_name()?;
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|source| StoreError::CreateDir {
                dir: self.dir.clone(),
                source,
            })?;
        self.check_folder()?;
        let lock_path = self.dir.join(format!("{}.json.lock", self.host));
        let lock_err = |source| StoreError::Lock {
            path: lock_path.clone(),
            source,
        };
        let lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(lock_err)?;
        // Blocks until every other berth process working on this host is done.
        fs4::FileExt::lock(&lock_file).map_err(lock_err)?;
        let bytes = self.read()?;
        let existed = bytes.is_some();
        let state = match bytes {
            None => State::new(&self.host),
            Some(bytes) => match self.parse(&bytes)? {
                Ok(s) => s,
                Err(reason) => {
                    let copy = self.keep_copy(&bytes);
                    return Err(StoreError::Corrupt {
                        path: self.path.clone(),
                        reason,
                        copy,
                    });
                }
            },
        };
        Ok(Locked {
            file: self.clone(),
            _lock: lock_file,
            state,
            existed,
        })
    }

    /// Copies a corrupt file aside so that a later repair cannot lose it. A
    /// failure to copy is not fatal: the original stays in place anyway.
    fn keep_copy(&self, bytes: &[u8]) -> Option<PathBuf> {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let base = format!("{}.corrupt-{secs}", self.path.display());
        for n in 0..100u32 {
            let p = PathBuf::from(if n == 0 {
                base.clone()
            } else {
                format!("{base}-{n}")
            });
            match std::fs::read(&p) {
                Ok(existing) if existing == bytes => return Some(p),
                Ok(_) => continue,
                Err(_) => {}
            }
            let written = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&p)
                .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()));
            if written.is_ok() {
                return Some(p);
            }
        }
        None
    }

    /// Writes `state` atomically. Only [`Locked`] calls this.
    fn write(&self, state: &State) -> Result<(), StoreError> {
        let err = |source| StoreError::Write {
            path: self.path.clone(),
            source,
        };
        let mut bytes = serde_json::to_vec_pretty(state).expect("state always serializes");
        bytes.push(b'\n');
        // A fresh temp file of a random name, created exclusively (never
        // following a symlink planted at a fixed name), mode 0600, renamed
        // over the state file. A crash leaves at most a stray temp file.
        let mut f = tempfile::Builder::new()
            .prefix(&format!(".{}.json.", self.host))
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(err)?;
        f.write_all(&bytes).map_err(err)?;
        f.as_file().sync_all().map_err(err)?;
        f.persist(&self.path).map_err(|e| err(e.error))?;
        // The rename is durable only once the folder is synced.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
        Ok(())
    }
}

/// A host's state under its exclusive lock, released on drop.
#[derive(Debug)]
pub struct Locked {
    file: StateFile,
    _lock: File,
    state: State,
    /// Whether the state file existed when the lock was taken.
    existed: bool,
}

impl Locked {
    /// The state as last loaded or written.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Puts back `before`, the state loaded with the lock: written as is, or,
    /// when there was no state file then and `before` is still empty, the file
    /// written since is removed, so that a failed first apply leaves no trace.
    pub fn restore(&mut self, before: &State) -> Result<(), StoreError> {
        if self.existed || *before != State::new(&self.file.host) {
            return self.write(before);
        }
        if self.file.path.exists() {
            let err = |source| StoreError::Write {
                path: self.file.path.clone(),
                source,
            };
            std::fs::remove_file(&self.file.path).map_err(err)?;
            File::open(&self.file.dir)
                .and_then(|d| d.sync_all())
                .map_err(err)?;
        }
        self.state = before.clone();
        Ok(())
    }

    /// Writes `state` atomically (skipped when equal to what is on disk) and
    /// makes it the current state.
    pub fn write(&mut self, state: &State) -> Result<(), StoreError> {
        if *state == self.state && self.file.path.exists() {
            return Ok(());
        }
        self.file.write(state)?;
        self.state = state.clone();
        Ok(())
    }
}

/// One step of a path into the state file, for messages.
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// A key or value as it appears in a message: escaped, and named by its start
/// and length when long (a hand-edited key can be megabytes).
fn tick(s: &str) -> String {
    const SHOWN: usize = 64;
    match s.char_indices().nth(SHOWN) {
        None => format!("`{}`", s.escape_debug()),
        Some((cut, _)) => format!("`{}…` ({} bytes)", s[..cut].escape_debug(), s.len()),
    }
}

fn has_control(s: &str) -> Option<char> {
    // Fast path: printable ASCII holds no control character.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    s.chars().find(|c| c.is_control())
}

/// The first string (key or value) holding a control character, with its
/// path reversed (innermost first, so that the walk allocates only on a find).
fn find_control(v: &Value) -> Option<(Vec<Seg<'_>>, char)> {
    match v {
        Value::String(s) => has_control(s).map(|c| (Vec::new(), c)),
        Value::Array(a) => a.iter().enumerate().find_map(|(i, x)| {
            find_control(x).map(|(mut p, c)| {
                p.push(Seg::Index(i));
                (p, c)
            })
        }),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            if let Some(c) = has_control(k) {
                return Some((vec![Seg::Key(k)], c));
            }
            find_control(x).map(|(mut p, c)| {
                p.push(Seg::Key(k));
                (p, c)
            })
        }),
        _ => None,
    }
}

/// No key or string anywhere holds a control character: berth never writes
/// one (the loaders refuse them), and they would reach terminals, provider
/// environments and emitted configurations.
fn check_strings(v: &Value) -> Result<(), String> {
    let Some((rev, c)) = find_control(v) else {
        return Ok(());
    };
    let mut path = String::new();
    for seg in rev.iter().rev() {
        match seg {
            Seg::Key(k) if path.is_empty() => path.push_str(&k.escape_debug().to_string()),
            Seg::Key(k) => {
                path.push('.');
                path.push_str(&k.escape_debug().to_string());
            }
            Seg::Index(i) => path.push_str(&format!("[{i}]")),
        }
    }
    Err(format!(
        "{} holds the control character {c:?}; berth never writes one",
        tick(&path)
    ))
}

/// The scalar of a binding's value (`address` or `host_port`), checked
/// against its kind; `None` when the value has none and need not have one.
fn binding_scalar(
    b: &crate::state::HeldBinding,
    at: &dyn Fn() -> String,
) -> Result<Option<u128>, String> {
    let Some(field) = b.kind.scalar_field() else {
        return Ok(None);
    };
    let owned: String;
    let text: &str = match b.value.get(field) {
        None if b.source == BindingSource::Pool => {
            return Err(format!(
                "{} comes from a pool but has no `{field}`",
                tick(&at())
            ))
        }
        None => return Ok(None),
        Some(Value::String(s)) if field == "address" => s,
        Some(other) => {
            owned = other.to_string();
            &owned
        }
    };
    b.kind.scalar(text).map(Some).map_err(|want| {
        format!(
            "{} is {}, not {want}",
            tick(&format!("{}.value.{field}", at())),
            tick(text)
        )
    })
}

/// What serde cannot check: every value means something berth could have
/// written. One pass over the holdings, one over the reservations, one over
/// the provider records, with hash lookups: O(size of the state).
fn check_meaning(state: &State) -> Result<(), String> {
    let name_rule = "a container name is `[a-z0-9][a-z0-9_.-]{0,62}`";
    // `what` names the field, built only for a message.
    let container = |what: &dyn Fn() -> String, c: &str| -> Result<(), String> {
        if valid_container_name(c) {
            Ok(())
        } else {
            Err(format!(
                "{} {} is not a container name ({name_rule})",
                what(),
                tick(c)
            ))
        }
    };
    // (holder, kind/name) -> the pool value it holds.
    let mut pool_held: HashMap<(&str, &Kind, &str), u128> = HashMap::new();
    // An exclusive value -> its holder. Pool values are one number per kind
    // (pools skip every value of their kind, whatever the network or
    // protocol); a static exclusive provide is its entry and value.
    let mut exclusive: HashMap<String, &str> = HashMap::new();
    for (c, h) in &state.holdings {
        container(&|| "holdings key".to_string(), c)?;
        for (i, b) in h.bindings.iter().enumerate() {
            // Built only for a message: ten thousand holdings load often.
            let at = || format!("holdings.{c}.bindings[{i}]");
            let value = binding_scalar(b, &at)?;
            if b.source == BindingSource::Pool {
                if let Some(v) = value {
                    pool_held.insert((c.as_str(), &b.kind, b.name.as_str()), v);
                }
            }
            if !b.exclusive {
                continue;
            }
            let key = match (b.source, value) {
                (BindingSource::Pool, Some(v)) => format!("{} {v}", b.kind),
                _ => format!("{} {} {}", b.kind, b.provide, b.value),
            };
            match exclusive.insert(key, c) {
                Some(other) if other != c => {
                    return Err(format!(
                        "{} holds the exclusive {} `{}` ({}) that `{other}` holds too",
                        tick(&at()),
                        b.kind,
                        b.name.escape_debug(),
                        b.value
                    ))
                }
                _ => {}
            }
        }
    }
    let mut values: HashMap<(&str, u128), &str> = HashMap::new();
    for (k, r) in &state.reservations {
        let at = || format!("reservations.{k}");
        let keyed = k
            .strip_prefix(r.kind.as_str())
            .and_then(|rest| rest.strip_prefix('/'));
        if keyed != Some(r.name.as_str()) {
            return Err(format!(
                "{} does not match its kind and name ({})",
                tick(&at()),
                tick(&resource_key(&r.kind, &r.name))
            ));
        }
        let v = r.kind.scalar(&r.value).map_err(|want| {
            format!(
                "{} is {}, not {want}",
                tick(&format!("{}.value", at())),
                tick(&r.value)
            )
        })?;
        let pool_ok = match r.kind.def().family {
            Some(berth_specs::kinds::Family::V6) => {
                matches!(r.pool.parse::<ipnet::IpNet>(), Ok(ipnet::IpNet::V6(_)))
            }
            Some(berth_specs::kinds::Family::V4) => {
                matches!(r.pool.parse::<ipnet::IpNet>(), Ok(ipnet::IpNet::V4(_)))
            }
            None => r
                .pool
                .split_once('-')
                .is_some_and(|(a, b)| r.kind.scalar(a).is_ok() && r.kind.scalar(b).is_ok()),
        };
        if !pool_ok {
            return Err(format!(
                "{} is {}, not a {} pool",
                tick(&format!("{}.pool", at())),
                tick(&r.pool),
                r.kind
            ));
        }
        if let Some(other) = values.insert((r.kind.as_str(), v), k) {
            return Err(format!(
                "{} and {} both reserve {}",
                tick(&format!("reservations.{other}")),
                tick(&at()),
                tick(&r.value)
            ));
        }
        if let Some(l) = &r.last_holder {
            container(&|| tick(&format!("{}.last_holder", at())), l)?;
        }
        if let Some(h) = &r.holder {
            container(&|| tick(&format!("{}.holder", at())), h)?;
            if pool_held.get(&(h.as_str(), &r.kind, r.name.as_str())) != Some(&v) {
                return Err(format!(
                    "{} names `{h}`, which does not hold {} (no pool binding of it in `holdings.{h}`)",
                    tick(&format!("{}.holder", at())),
                    tick(&r.value)
                ));
            }
        }
    }
    for (k, p) in &state.provided {
        let expected = resource_key(&p.kind, &p.name);
        if *k != expected {
            return Err(format!(
                "{} does not match its kind and name ({})",
                tick(&format!("provided.{k}")),
                tick(&expected)
            ));
        }
        for u in &p.users {
            container(&|| tick(&format!("provided.{k}.users")), u)?;
        }
    }
    for (i, p) in state.pending_releases.iter().enumerate() {
        for u in &p.users {
            container(&|| tick(&format!("pending_releases[{i}].users")), u)?;
        }
    }
    Ok(())
}

/// Opens `path` for reading without blocking, and returns it only if it is a regular file (`Ok(None)`
/// otherwise). `O_NONBLOCK` makes opening a FIFO return at once instead of
/// waiting for a writer (while berth holds the state lock); the type check
/// then refuses it. The descriptor goes back to blocking reads for a file.
pub fn open_regular(path: &Path) -> std::io::Result<Option<File>> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    if !f.metadata()?.file_type().is_file() {
        return Ok(None);
    }
    let flags = rustix::fs::fcntl_getfl(&f)?;
    rustix::fs::fcntl_setfl(&f, flags - rustix::fs::OFlags::NONBLOCK)?;
    Ok(Some(f))
}
