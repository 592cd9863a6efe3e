//! Persistence of a host's [`State`]: one SQLite database per host,
//! `<state_dir>/<host>.db`, with a row per holding, reservation, provider
//! record and pending release, and a lock file beside it
//! (`<host>.json.lock`).
//!
//! Why a database and not a file rewritten whole: an `apply` on a host that
//! holds thousands of containers must cost what it changes, not what the host
//! holds (docs/performance.md). A write here is one SQLite transaction of the
//! rows that differ.
//!
//! What must stay true (docs/state.md):
//! - every change goes through [`Locked`], which holds an exclusive `flock` on
//!   the lock file for its whole life, so two berth processes (and
//!   `berth-cni`) never plan against the same state at once (no address
//!   handed out twice); each write is also a `BEGIN IMMEDIATE` transaction;
//! - a write is atomic: SQLite's write-ahead log; a crash at any instant
//!   leaves a committed state, complete (the last one after a crash of berth;
//!   after a power loss, with the default `synchronous=NORMAL`, possibly one
//!   before the last checkpoint: see [`sync_mode`] and docs/state.md);
//! - an `apply` or `release` reads only its slice ([`Scope`]) and writes only
//!   the rows it changed, so its cost does not grow with the host;
//! - a store that is not a berth database, or whose rows mean nothing berth
//!   could have written (a value that is not an address or port of its kind,
//!   a holding under a name that is not a container name, control characters,
//!   a reservation its holder does not hold, one exclusive value held twice),
//!   is corrupt: never written to, a copy kept (`<file>.corrupt-<unix
//!   seconds>`) under the lock, the key that is wrong named. The solver and
//!   `release` trust the state, so nonsense must stop at the door;
//! - a JSON state file of an earlier berth (`<host>.json`) is checked the
//!   same way, migrated into the store by the first locked load and kept as
//!   `<host>.json.bak`;
//! - [`load_readonly`] (for `plan` and `status`) takes no lock and creates
//!   nothing: it reads the last committed transaction.
//!
//! The lock file is never deleted: removing it while another process waits on
//! it would let a third process lock a new inode and run concurrently.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use berth_specs::{valid_container_name, Code, HostManifest, Kind};
use serde_json::Value;

use crate::state::{resource_key, BindingSource, State, STATE_VERSION};

/// Flags for creating the store: never through a symbolic link, never
/// waiting on a FIFO.
const NO_FOLLOW: i32 =
    (rustix::fs::OFlags::NOFOLLOW.bits() | rustix::fs::OFlags::NONBLOCK.bits()) as i32;

/// SQLite's `synchronous` setting for the store: `NORMAL` (a commit is
/// appended to the write-ahead log without an `fsync`; the log is synced at
/// each checkpoint), or `FULL` (every commit is `fsync`ed) when
/// `$BERTH_STATE_SYNC` is `full`. Both are crash-consistent: a crash of berth
/// or of the machine never leaves a torn store. NORMAL may lose the commits
/// made since the last checkpoint on a power loss or kernel crash (not on a
/// crash of berth); docs/state.md, "Durability", weighs the two.
fn sync_mode() -> &'static str {
    match std::env::var("BERTH_STATE_SYNC") {
        Ok(v) if v.eq_ignore_ascii_case("full") => "FULL",
        _ => "NORMAL",
    }
}

/// The size of the write-ahead log past which a write empties it into the
/// database ([`Locked::trim_wal`]): 1 MiB, about 256 pages, a few dozen
/// applies; reading a log that size costs a command well under a
/// millisecond.
const WAL_LIMIT: u64 = 1 << 20;

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

    /// The file the failure is about (the store, its lock, or a JSON state
    /// file being migrated), when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            StoreError::BadHostName(_) => None,
            StoreError::CreateDir { dir, .. } | StoreError::FolderWritable { dir, .. } => Some(dir),
            StoreError::NotRegular { path }
            | StoreError::Lock { path, .. }
            | StoreError::Read { path, .. }
            | StoreError::Corrupt { path, .. }
            | StoreError::Version { path, .. }
            | StoreError::HostMismatch { path, .. }
            | StoreError::Write { path, .. } => Some(path),
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

/// `<state_dir>/<host>.db`, the host's SQLite store.
pub fn state_path(host: &HostManifest) -> PathBuf {
    StateFile::new(state_dir(host), &host.host).path
}

/// Loads `host`'s state without locking or creating anything (an absent store
/// is an empty state). For `berth plan` and `berth status`.
pub fn load_readonly(host: &HostManifest) -> Result<State, StoreError> {
    StateFile::new(state_dir(host), &host.host).load_readonly()
}

/// Locks `host`'s state (creating the folder, mode 0700, if missing) and
/// loads it.
pub fn lock(host: &HostManifest) -> Result<Locked, StoreError> {
    StateFile::new(state_dir(host), &host.host).lock()
}

/// Like [`load_readonly`], but reads only the slice `scope` names (see
/// [`Scope`]): for a command that decides from it whether to lock at all.
pub fn load_readonly_for(host: &HostManifest, scope: &Scope) -> Result<State, StoreError> {
    StateFile::new(state_dir(host), &host.host).load_readonly_for(scope)
}

/// Locks `host`'s state like [`lock`] and loads only the slice `scope`
/// names: what one `apply` or `release` reads and may change (see
/// [`Scope`]). Its cost follows the command, not the number of holdings.
pub fn lock_for(host: &HostManifest, scope: &Scope) -> Result<Locked, StoreError> {
    StateFile::new(state_dir(host), &host.host).lock_for(scope)
}

/// The store's tables. One row per holding (a container and its bindings),
/// per reservation, per provider record and per pending release; `meta`
/// holds the format version and the host. Reservations keep their columns so
/// that `sqlite3` answers "which address has `app`" with one `SELECT`.
/// `taken_runs` is derived: the values of [`State::store_taken`] as maximal
/// runs `lo..=hi` per kind, kept by every write ([`fix_run`]), so that a
/// slice reads a few runs instead of every reservation of its kind.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS holdings (
    container TEXT PRIMARY KEY,
    spec_digest TEXT NOT NULL,
    bindings TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS held (
    container TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    exclusive INTEGER NOT NULL,
    num BLOB
) STRICT;
CREATE INDEX IF NOT EXISTS held_by_key ON held (kind, exclusive, source, id, container);
CREATE INDEX IF NOT EXISTS held_by_container ON held (container);
CREATE INDEX IF NOT EXISTS held_by_num ON held (kind, num);
CREATE TABLE IF NOT EXISTS reservations (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    pool TEXT NOT NULL,
    value TEXT NOT NULL,
    holder TEXT,
    last_holder TEXT,
    last_digest TEXT,
    num BLOB NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS reservations_by_value ON reservations (kind, num);
CREATE INDEX IF NOT EXISTS reservations_by_holder ON reservations (holder);
CREATE INDEX IF NOT EXISTS reservations_by_last_holder ON reservations (last_holder);
CREATE TABLE IF NOT EXISTS provided (key TEXT PRIMARY KEY, record TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS taken_runs (
    kind TEXT NOT NULL,
    lo BLOB NOT NULL,
    hi BLOB NOT NULL,
    PRIMARY KEY (kind, lo)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_releases (seq INTEGER PRIMARY KEY, record TEXT NOT NULL) STRICT;
";

/// One host's store in one folder: `<host>.db` (SQLite), its lock
/// `<host>.json.lock` (the name of the JSON era, so that an older berth and
/// this one exclude each other during an upgrade) and, before migration, the
/// JSON state file `<host>.json`.
#[derive(Debug, Clone)]
pub struct StateFile {
    dir: PathBuf,
    host: String,
    path: PathBuf,
    json: PathBuf,
}

/// Whether a SQLite error means the file is not a berth store (corrupt)
/// rather than that it could not be read.
fn sqlite_corrupt(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode as C;
    match e {
        rusqlite::Error::SqliteFailure(f, _) => {
            matches!(f.code, C::NotADatabase | C::DatabaseCorrupt)
        }
        rusqlite::Error::SqlInputError { .. } => false,
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => true,
        _ => false,
    }
}

impl StateFile {
    /// The store of `host` in `dir`.
    pub fn new(dir: impl Into<PathBuf>, host: &str) -> StateFile {
        let dir = dir.into();
        let path = dir.join(format!("{host}.db"));
        let json = dir.join(format!("{host}.json"));
        StateFile {
            dir,
            host: host.to_string(),
            path,
            json,
        }
    }

    /// The store's path (`<host>.db`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The JSON state file of earlier versions (`<host>.json`): migrated into
    /// the store (and renamed `<host>.json.bak`) by the next `apply` or
    /// `release`; until then it is what `plan` and `status` read.
    pub fn json_path(&self) -> &Path {
        &self.json
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

    /// Reads a file; `Ok(None)` when it does not exist. See
    /// [`open_regular`]: a FIFO or device in its place is refused, never
    /// waited on.
    fn read(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
        let read_err = |source| StoreError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut f = match open_regular(path) {
            Ok(Some(f)) => f,
            Ok(None) => {
                return Err(StoreError::NotRegular {
                    path: path.to_path_buf(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(read_err(source)),
        };
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).map_err(read_err)?;
        Ok(Some(bytes))
    }

    /// Refuses a store, log or lock that is there but is not a regular file
    /// (a FIFO, a device, a folder, a symbolic link), without opening it:
    /// SQLite would block on a FIFO, or write through a link, while berth
    /// holds the lock. A missing file is fine (the store creates it).
    fn check_files(&self) -> Result<(), StoreError> {
        let db = self.path.as_os_str();
        for suffix in ["", "-wal", "-shm"] {
            let mut p = db.to_os_string();
            p.push(suffix);
            let p = PathBuf::from(p);
            match std::fs::symlink_metadata(&p) {
                Ok(md) if !md.file_type().is_file() => {
                    return Err(StoreError::NotRegular { path: p })
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(StoreError::Read { path: p, source }),
            }
        }
        Ok(())
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

    /// Parses bytes as this host's JSON state. `Err(reason)` means corrupt.
    fn parse(&self, bytes: &[u8]) -> Result<Result<State, String>, StoreError> {
        let value: serde_json::Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e.to_string())),
        };
        match value.get("berth_state").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(STATE_VERSION) => {}
            Some(found) => {
                return Err(StoreError::Version {
                    path: self.json.clone(),
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
                path: self.json.clone(),
                found: state.host,
                expected: self.host.clone(),
            });
        }
        Ok(check_meaning(&state).map(|()| state))
    }

    /// Reads the whole state from an open store. `Ok(Err(reason))` means
    /// corrupt; `Ok(Ok(None))` an empty database (never written).
    fn read_db(
        &self,
        conn: &rusqlite::Connection,
        scope: Option<&Scope>,
    ) -> Result<Result<Option<State>, String>, StoreError> {
        match self.read_rows(conn, scope) {
            Ok(Ok(s)) => Ok(Ok(s)),
            Ok(Err(Bad::Reason(r))) => Ok(Err(r)),
            Ok(Err(Bad::Fatal(e))) => Err(e),
            Err(e) if sqlite_corrupt(&e) => Ok(Err(e.to_string())),
            Err(e) => Err(StoreError::Read {
                path: self.path.clone(),
                source: std::io::Error::other(e),
            }),
        }
    }

    #[allow(clippy::type_complexity)]
    fn read_rows(
        &self,
        conn: &rusqlite::Connection,
        scope: Option<&Scope>,
    ) -> rusqlite::Result<Result<Option<State>, Bad>> {
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |r| r.get(0),
        )?;
        if tables == 0 {
            return Ok(Ok(None));
        }
        let meta = |k: &str| -> rusqlite::Result<Option<String>> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })
        };
        match meta("berth_state")?.map(|v| v.parse::<u64>()) {
            Some(Ok(v)) if v == u64::from(STATE_VERSION) => {}
            Some(Ok(found)) => {
                return Ok(Err(Bad::Fatal(StoreError::Version {
                    path: self.path.clone(),
                    found,
                })))
            }
            _ => {
                return Ok(Err(Bad::Reason(
                    "`meta.berth_state` (the format version) is missing".into(),
                )))
            }
        }
        let host = meta("host")?.unwrap_or_default();
        if host != self.host {
            return Ok(Err(Bad::Fatal(StoreError::HostMismatch {
                path: self.path.clone(),
                found: host,
                expected: self.host.clone(),
            })));
        }
        let mut state = State::new(&self.host);
        let res_cols = "SELECT key, kind, name, pool, value, holder, last_holder, last_digest FROM reservations";
        let hold_cols = "SELECT container, spec_digest, bindings FROM holdings";
        match scope {
            None => {
                // A whole load: the holdings rows are read first and parsed
                // on the thread pool while this thread reads the
                // reservations (the two were a fifth and a third of
                // `status` one after the other). A bad reservation is
                // still reported before a bad holding.
                let rows = holding_rows(&mut conn.prepare(hold_cols)?, &[])?;
                let mut holdings = None;
                let reservations = rayon::in_place_scope(|s| {
                    s.spawn(|_| holdings = Some(parse_holdings(rows)));
                    read_reservations(&mut conn.prepare(res_cols)?, &[], &mut state)
                })?;
                if let Err(b) = reservations {
                    return Ok(Err(b));
                }
                match holdings.expect("the scope waited for the parse") {
                    Ok(read) => put_all(&mut state.holdings, read),
                    Err(b) => return Ok(Err(b)),
                }
            }
            Some(scope) => {
                // Reservations first: a slice also loads the holdings of
                // their holders.
                let keys = scope
                    .keys
                    .iter()
                    .map(|(kind, name)| resource_key(kind, name));
                let by_key = format!("{res_cols} WHERE key = ?1");
                let read = match read_each(conn, &by_key, keys, read_reservations, &mut state)? {
                    Ok(()) => {
                        let by_holder = format!("{res_cols} WHERE holder = ?1 OR last_holder = ?1");
                        let who = &scope.containers;
                        read_each(conn, &by_holder, who, read_reservations, &mut state)?
                    }
                    bad => bad,
                };
                if let Err(b) = read {
                    return Ok(Err(b));
                }
                let mut who: BTreeSet<String> = scope.containers.clone();
                who.extend(state.reservations.values().filter_map(|r| r.holder.clone()));
                scope.others(conn, &mut who)?;
                let by_container = format!("{hold_cols} WHERE container = ?1");
                if let Err(b) = read_each(conn, &by_container, &who, read_holdings, &mut state)? {
                    return Ok(Err(b));
                }
                match scope.taken(conn)? {
                    Ok(t) => state.store_taken = t,
                    Err(b) => return Ok(Err(b)),
                }
            }
        }
        let mut st = conn.prepare("SELECT key, record FROM provided")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let key: String = r.get(0)?;
            let text: String = r.get(1)?;
            match json_column(&text, &|| format!("provided.{}", key.escape_debug())) {
                Ok(rec) => {
                    state.provided.insert(key, rec);
                }
                Err(r) => return Ok(Err(Bad::Reason(r))),
            }
        }
        drop(rows);
        let mut st = conn.prepare("SELECT seq, record FROM pending_releases ORDER BY seq")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let text: String = r.get(1)?;
            match json_column(&text, &|| format!("pending_releases[{seq}]")) {
                Ok(rec) => state.pending_releases.push(rec),
                Err(r) => return Ok(Err(Bad::Reason(r))),
            }
        }
        drop(rows);
        Ok(match check_meaning(&state) {
            Ok(()) => Ok(Some(state)),
            Err(r) => Err(Bad::Reason(r)),
        })
    }

    /// See [`load_readonly`]. A JSON state file not yet migrated is read as
    /// it is; otherwise the store is opened read-only.
    pub fn load_readonly(&self) -> Result<State, StoreError> {
        self.load_readonly_scoped(None)
    }

    /// See [`load_readonly_for`].
    pub fn load_readonly_for(&self, scope: &Scope) -> Result<State, StoreError> {
        self.load_readonly_scoped(Some(scope))
    }

    fn load_readonly_scoped(&self, scope: Option<&Scope>) -> Result<State, StoreError> {
        self.check_name()?;
        self.check_folder()?;
        if let Some(bytes) = Self::read(&self.json)? {
            return self.parse(&bytes)?.map_err(|reason| StoreError::Corrupt {
                path: self.json.clone(),
                reason,
                copy: None,
            });
        }
        self.check_files()?;
        if !self.path.exists() {
            return Ok(State::new(&self.host));
        }
        let corrupt = |reason: String| StoreError::Corrupt {
            path: self.path.clone(),
            reason,
            copy: None,
        };
        let conn = match self.open(rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) {
            Ok(c) => c,
            Err(e) if sqlite_corrupt(&e) => return Err(corrupt(e.to_string())),
            Err(e) => {
                return Err(StoreError::Read {
                    path: self.path.clone(),
                    source: std::io::Error::other(e),
                })
            }
        };
        if scope.is_none() {
            // A whole load reads every row once, in table order: a page
            // cache of a few hundred KiB keeps the tables' inner pages,
            // where SQLite's default of 2 MiB was fresh memory to fault in.
            if let Err(e) = conn.pragma_update(None, "cache_size", -256) {
                return Err(StoreError::Read {
                    path: self.path.clone(),
                    source: std::io::Error::other(e),
                });
            }
        }
        match self.read_db(&conn, scope)? {
            Ok(s) => Ok(s.unwrap_or_else(|| State::new(&self.host))),
            Err(reason) => Err(corrupt(reason)),
        }
    }

    /// Opens the store with `flags` and berth's settings: a busy timeout (a
    /// reader may meet a checkpoint), WAL with [`sync_mode`], and no
    /// checkpoint when a short-lived process closes it (writes checkpoint
    /// when the log is big: [`Locked::trim_wal`]).
    fn open(&self, flags: rusqlite::OpenFlags) -> rusqlite::Result<rusqlite::Connection> {
        // SQLite refuses a symbolic link in the store's place (NOFOLLOW);
        // [`StateFile::check_files`] has refused FIFOs and devices before.
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            flags
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        if !flags.contains(rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.pragma_update(None, "synchronous", sync_mode())?;
        Ok(conn)
    }

    /// See [`lock`].
    pub fn lock(&self) -> Result<Locked, StoreError> {
        self.lock_scoped(None)
    }

    /// See [`lock_for`].
    pub fn lock_for(&self, scope: &Scope) -> Result<Locked, StoreError> {
        self.lock_scoped(Some(scope))
    }

    fn lock_scoped(&self, scope: Option<&Scope>) -> Result<Locked, StoreError> {
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
        // A JSON state file of an earlier berth is read with its own checks
        // and migrated below.
        let json = match Self::read(&self.json)? {
            None => None,
            Some(bytes) => match self.parse(&bytes)? {
                Ok(s) => Some(s),
                Err(reason) => {
                    let copy = keep_copy(&self.json, &bytes);
                    return Err(StoreError::Corrupt {
                        path: self.json.clone(),
                        reason,
                        copy,
                    });
                }
            },
        };
        self.check_files()?;
        let existed = self.path.exists();
        let write_err = |e: rusqlite::Error| StoreError::Write {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        };
        if !existed && json.is_some() {
            // Created private before SQLite opens it; its log files take
            // the same mode.
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .custom_flags(NO_FOLLOW)
                .open(&self.path)
                .map_err(|source| StoreError::Write {
                    path: self.path.clone(),
                    source,
                })?;
        }
        let corrupt_here = |reason: String| {
            let copy = Self::read(&self.path)
                .ok()
                .flatten()
                .and_then(|b| keep_copy(&self.path, &b));
            StoreError::Corrupt {
                path: self.path.clone(),
                reason,
                copy,
            }
        };
        let (conn, state) = if existed || json.is_some() {
            let conn = match self.open(
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                    | rusqlite::OpenFlags::SQLITE_OPEN_CREATE,
            ) {
                Ok(c) => c,
                Err(e) if sqlite_corrupt(&e) => return Err(corrupt_here(e.to_string())),
                Err(e) => {
                    return Err(StoreError::Read {
                        path: self.path.clone(),
                        source: std::io::Error::other(e),
                    })
                }
            };
            let state = match self.read_db(&conn, scope)? {
                Ok(s) => s.unwrap_or_else(|| State::new(&self.host)),
                Err(reason) => return Err(corrupt_here(reason)),
            };
            (Some(conn), state)
        } else {
            (None, State::new(&self.host))
        };
        let mut locked = Locked {
            conn,
            file: self.clone(),
            _lock: lock_file,
            state,
            existed,
        };
        if let Some(json_state) = json {
            // Migration: the JSON file's content becomes the store's (it is
            // what berth last wrote), then the file is kept aside. A crash
            // between the two imports the same file again.
            locked.replace_all(&json_state).map_err(write_err)?;
            let bak = self.dir.join(format!("{}.json.bak", self.host));
            std::fs::rename(&self.json, &bak)
                .and_then(|()| File::open(&self.dir).and_then(|d| d.sync_all()))
                .map_err(|source| StoreError::Write {
                    path: self.json.clone(),
                    source,
                })?;
            locked.existed = true;
        }
        Ok(locked)
    }
}

/// Reads the rows of one table into a state: [`read_holdings`] or
/// [`read_reservations`].
type RowReader = fn(
    &mut rusqlite::Statement<'_>,
    &[&dyn rusqlite::ToSql],
    &mut State,
) -> rusqlite::Result<Result<(), Bad>>;

/// A slice's read: `read` over the rows `sql` (with its `?1`) selects for
/// each of `keys`, stopping at the first corrupt row.
fn read_each<K: rusqlite::ToSql>(
    conn: &rusqlite::Connection,
    sql: &str,
    keys: impl IntoIterator<Item = K>,
    read: RowReader,
    state: &mut State,
) -> rusqlite::Result<Result<(), Bad>> {
    let mut st = conn.prepare(sql)?;
    for k in keys {
        if let Err(b) = read(&mut st, &[&k], state)? {
            return Ok(Err(b));
        }
    }
    Ok(Ok(()))
}

/// Reads the holdings rows `st` selects with `params` into `state`.
fn read_holdings(
    st: &mut rusqlite::Statement<'_>,
    params: &[&dyn rusqlite::ToSql],
    state: &mut State,
) -> rusqlite::Result<Result<(), Bad>> {
    let rows = holding_rows(st, params)?;
    Ok(parse_holdings(rows).map(|read| put_all(&mut state.holdings, read)))
}

/// A holdings row as read: container, spec digest, bindings (JSON).
type HoldingRow = (String, String, String);

/// The holdings rows `st` selects with `params`, unparsed.
fn holding_rows(
    st: &mut rusqlite::Statement<'_>,
    params: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<HoldingRow>> {
    let mut rows = st.query(params)?;
    let mut raw = Vec::new();
    while let Some(r) = rows.next()? {
        raw.push((r.get(0)?, r.get(1)?, r.get(2)?));
    }
    Ok(raw)
}

/// Holdings rows parsed: on all cores for a whole load of a big host
/// (parsing 5,000 holdings' JSON was a third of `status`), in order for a
/// slice of a few. The first bad row in row order is the one reported,
/// either way.
fn parse_holdings(
    raw: Vec<HoldingRow>,
) -> Result<Vec<(String, crate::state::ContainerHolding)>, Bad> {
    use rayon::prelude::*;
    let holding = |(c, digest, text): HoldingRow| {
        for (what, s) in [("holdings key", &c), ("spec_digest", &digest)] {
            if let Some(ch) = has_control(s) {
                return Err(Bad::Reason(format!(
                    "{what} {} holds the control character {ch:?}; berth never writes one",
                    tick(s)
                )));
            }
        }
        let bindings =
            json_column(&text, &|| format!("holdings.{c}.bindings")).map_err(Bad::Reason)?;
        Ok((
            c,
            crate::state::ContainerHolding {
                spec_digest: digest,
                bindings,
            },
        ))
    };
    let parsed: Vec<Result<_, Bad>> = if raw.len() >= PARALLEL_ROWS {
        raw.into_par_iter().map(holding).collect()
    } else {
        raw.into_iter().map(holding).collect()
    };
    // Collected whole, then the first error in row order (a parallel
    // collect into a `Result` would report whichever failed first in time).
    parsed.into_iter().collect()
}

/// From this many holdings on, their bindings are parsed on all cores (a
/// slice's few rows are not worth waking the thread pool).
const PARALLEL_ROWS: usize = 512;

/// Adds rows to a map of the state. Into an empty map (a whole load), the
/// rows are sorted once and the tree built from them, instead of a search
/// per row; a key read twice keeps its last row, as inserting would.
fn put_all<V>(map: &mut BTreeMap<String, V>, rows: Vec<(String, V)>) {
    if map.is_empty() {
        *map = rows.into_iter().collect();
    } else {
        map.extend(rows);
    }
}

/// Reads the reservation rows `st` selects with `params` into `state`.
fn read_reservations(
    st: &mut rusqlite::Statement<'_>,
    params: &[&dyn rusqlite::ToSql],
    state: &mut State,
) -> rusqlite::Result<Result<(), Bad>> {
    let mut rows = st.query(params)?;
    let mut read = Vec::new();
    while let Some(r) = rows.next()? {
        let key: String = r.get(0)?;
        // Read in place: a built-in kind is a name, not a string to keep.
        let kind: &str = r.get_ref(1)?.as_str()?;
        let fields: [Option<String>; 6] = [
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
        ];
        for s in [key.as_str(), kind]
            .into_iter()
            .chain(fields.iter().flatten().map(String::as_str))
        {
            if let Some(ch) = has_control(s) {
                return Ok(Err(Bad::Reason(format!(
                    "{} holds the control character {ch:?}; berth never writes one",
                    tick(&format!("reservations.{}", key.escape_debug()))
                ))));
            }
        }
        let Some(kind) = Kind::from_key(kind) else {
            return Ok(Err(Bad::Reason(format!(
                "`reservations.{key}.kind`: unknown kind `{kind}`"
            ))));
        };
        let [name, pool, value, holder, last_holder, last_digest] = fields;
        let (Some(name), Some(pool), Some(value)) = (name, pool, value) else {
            return Ok(Err(Bad::Reason(format!(
                "`reservations.{key}` lacks its name, pool or value"
            ))));
        };
        read.push((
            key,
            crate::state::Reservation {
                kind,
                name,
                pool,
                value,
                holder,
                last_holder,
                last_digest,
            },
        ));
    }
    put_all(&mut state.reservations, read);
    Ok(Ok(()))
}

/// What one command may read and change of a host's state: the slice a
/// locked load reads instead of the whole store ([`lock_for`]), so that its
/// cost follows the command, not the host.
///
/// A slice holds: the holdings of `containers`; the reservations of `keys`
/// (the resources the specs need) and those held or last held by
/// `containers`, and the holdings of their holders; of every other
/// container, only the holdings that can decide a need of these kinds (an
/// exclusive holding that is not a pool's, a holding of a provider-made
/// resource by one of these names, and the first holder, by name, of each
/// shared resource); every provider record and pending release; and
/// [`State::store_taken`] for the address and port kinds needed. Whatever
/// the command changes is in the slice, and a write changes only the rows
/// that differ from it.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    containers: BTreeSet<String>,
    keys: BTreeSet<(Kind, String)>,
}

impl Scope {
    /// The slice an `apply` of `specs` reads: their containers and needs.
    pub fn of_specs(specs: &[&berth_specs::NeedSpec]) -> Scope {
        Scope {
            containers: specs.iter().map(|s| s.container.clone()).collect(),
            keys: specs
                .iter()
                .flat_map(|s| &s.needs)
                .map(|n| (n.kind.clone(), n.name.clone()))
                .collect(),
        }
    }

    /// The slice a `release` of `containers` reads.
    pub fn of_containers<S: AsRef<str>>(containers: &[S]) -> Scope {
        Scope {
            containers: containers.iter().map(|c| c.as_ref().to_string()).collect(),
            keys: BTreeSet::new(),
        }
    }

    /// The kinds whose other holders matter: those needed, and networks
    /// (an address need implies one).
    fn kinds(&self) -> BTreeSet<Kind> {
        let mut k: BTreeSet<Kind> = self.keys.iter().map(|(k, _)| k.clone()).collect();
        if !k.is_empty() {
            k.insert(Kind::Network);
        }
        k
    }

    /// Adds to `who` the other containers whose holdings the solver needs
    /// (see the type's docs), each by an indexed query.
    fn others(
        &self,
        conn: &rusqlite::Connection,
        who: &mut BTreeSet<String>,
    ) -> rusqlite::Result<()> {
        let mut excl = conn.prepare_cached(
            "SELECT DISTINCT container FROM held
             WHERE kind = ?1 AND exclusive = 1 AND source IN ('provides', 'provider')",
        )?;
        // The first holder (by name) of each shared resource, one index
        // probe per resource: the solver only asks whether one exists.
        // Two probes, each a seek on one column after the index's equal
        // prefix: SQLite treats the row value `(source, id) > (?, ?)` as a
        // range on `source` alone and walks every holder of the resource
        // before it (measured: a third of an apply at 5,000 holdings).
        let mut same_source = conn.prepare_cached(
            "SELECT source, id, container FROM held
             WHERE kind = ?1 AND exclusive = 0 AND source = ?2 AND id > ?3
             ORDER BY id, container LIMIT 1",
        )?;
        let mut next_source = conn.prepare_cached(
            "SELECT source, id, container FROM held
             WHERE kind = ?1 AND exclusive = 0 AND source > ?2
             ORDER BY source, id, container LIMIT 1",
        )?;
        let mut made = conn.prepare_cached(
            "SELECT DISTINCT container FROM held
             WHERE kind = ?1 AND exclusive IN (0, 1) AND source = 'provider' AND id = ?2",
        )?;
        for kind in self.kinds() {
            let k = kind.as_str();
            let mut rows = excl.query([k])?;
            while let Some(r) = rows.next()? {
                who.insert(r.get(0)?);
            }
            let (mut source, mut id) = (String::new(), String::new());
            loop {
                let probe = |st: &mut rusqlite::CachedStatement<'_>,
                             params: &[&dyn rusqlite::ToSql]|
                 -> rusqlite::Result<Option<(String, String, String)>> {
                    st.query_row(params, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                        .map(Some)
                        .or_else(|e| match e {
                            rusqlite::Error::QueryReturnedNoRows => Ok(None),
                            e => Err(e),
                        })
                };
                let next = match probe(&mut same_source, rusqlite::params![k, source, id])? {
                    Some(n) => Some(n),
                    None => probe(&mut next_source, rusqlite::params![k, source])?,
                };
                let Some((s, i, c)) = next else { break };
                who.insert(c);
                (source, id) = (s, i);
            }
        }
        for (kind, name) in &self.keys {
            let mut rows = made.query([kind.as_str(), name.as_str()])?;
            while let Some(r) = rows.next()? {
                who.insert(r.get(0)?);
            }
        }
        Ok(())
    }

    /// [`State::store_taken`] for the address and port kinds needed: every
    /// reservation's value, and every value held from elsewhere than a pool.
    /// Read from `taken_runs` (a few rows however full the pool is); a store
    /// written before that table existed is scanned instead.
    fn taken(
        &self,
        conn: &rusqlite::Connection,
    ) -> rusqlite::Result<Result<BTreeMap<Kind, Vec<u128>>, Bad>> {
        let mut out = BTreeMap::new();
        let kinds: Vec<Kind> = self
            .kinds()
            .into_iter()
            .filter(|k| k.scalar_field().is_some())
            .collect();
        if kinds.is_empty() {
            return Ok(Ok(out));
        }
        if !has_taken_runs(conn)? {
            for kind in kinds {
                let v = scan_taken(conn, kind.as_str())?;
                out.insert(kind, v);
            }
            return Ok(Ok(out));
        }
        let mut runs = conn.prepare_cached("SELECT lo, hi FROM taken_runs WHERE kind = ?1")?;
        for kind in kinds {
            let mut v: Vec<u128> = Vec::new();
            let mut rows = runs.query([kind.as_str()])?;
            while let Some(r) = rows.next()? {
                let (Some(lo), Some(hi)) = (
                    blob_num(r.get_ref(0)?.as_blob()?),
                    blob_num(r.get_ref(1)?.as_blob()?),
                ) else {
                    return Ok(Err(Bad::Reason(
                        "`taken_runs` holds a value that is not 16 bytes".into(),
                    )));
                };
                // Each value of a run is a row of its own elsewhere; a run
                // longer than any store could hold is corruption, not a
                // reason to allocate without bound.
                if hi < lo || hi - lo >= MAX_RUN || v.len() as u128 + (hi - lo) >= MAX_RUN {
                    return Ok(Err(Bad::Reason(format!(
                        "`taken_runs` holds the run {lo}..={hi} of {}, longer than berth ever writes",
                        kind.as_str()
                    ))));
                }
                v.extend(lo..=hi);
            }
            out.insert(kind, v);
        }
        Ok(Ok(out))
    }
}

/// The most values `taken_runs` may stand for, per kind (see [`Scope::taken`]).
const MAX_RUN: u128 = 1 << 24;

/// Whether the store has its `taken_runs` table (an earlier store has not).
fn has_taken_runs(conn: &rusqlite::Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'taken_runs'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// The values of `kind` taken in the store, by the rule of
/// [`State::store_taken`], read from the rows themselves (unsorted, with
/// repeats).
fn scan_taken(conn: &rusqlite::Connection, kind: &str) -> rusqlite::Result<Vec<u128>> {
    let mut res = conn.prepare_cached("SELECT num FROM reservations WHERE kind = ?1")?;
    let mut held = conn.prepare_cached(
        "SELECT num FROM held WHERE kind = ?1 AND exclusive IN (0, 1)
         AND source IN ('provides', 'provider') AND num IS NOT NULL",
    )?;
    let mut v: Vec<u128> = Vec::new();
    for st in [&mut res, &mut held] {
        let mut rows = st.query([kind])?;
        while let Some(r) = rows.next()? {
            v.extend(blob_num(r.get_ref(0)?.as_blob()?));
        }
    }
    Ok(v)
}

/// Whether `v` of `kind` is taken by a row (the rule of
/// [`State::store_taken`]), by two index probes.
fn is_taken(tx: &rusqlite::Transaction<'_>, kind: &str, v: u128) -> rusqlite::Result<bool> {
    let mut st = tx.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM reservations WHERE kind = ?1 AND num = ?2)
             OR EXISTS (SELECT 1 FROM held WHERE kind = ?1 AND num = ?2
                        AND exclusive IN (0, 1) AND source IN ('provides', 'provider'))",
    )?;
    st.query_row(rusqlite::params![kind, num_blob(v)], |r| r.get(0))
}

/// Makes `taken_runs` right about `v` of `kind` after rows that held it
/// changed: `v` joins (and merges) the runs beside it when a row takes it,
/// and splits its run when none does. O(log n) per value.
fn fix_run(tx: &rusqlite::Transaction<'_>, kind: &str, v: u128) -> rusqlite::Result<()> {
    let mut at_or_below = tx.prepare_cached(
        "SELECT lo, hi FROM taken_runs WHERE kind = ?1 AND lo <= ?2 ORDER BY lo DESC LIMIT 1",
    )?;
    let prev: Option<(u128, u128)> = at_or_below
        .query_row(rusqlite::params![kind, num_blob(v)], |r| {
            Ok((
                blob_num(r.get_ref(0)?.as_blob()?),
                blob_num(r.get_ref(1)?.as_blob()?),
            ))
        })
        .map(|(lo, hi)| lo.zip(hi))
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    let mut del = tx.prepare_cached("DELETE FROM taken_runs WHERE kind = ?1 AND lo = ?2")?;
    let mut put = tx.prepare_cached("INSERT INTO taken_runs (kind, lo, hi) VALUES (?1, ?2, ?3)")?;
    let covered = prev.filter(|(_, hi)| *hi >= v);
    if is_taken(tx, kind, v)? {
        if covered.is_some() {
            return Ok(());
        }
        let (mut lo, mut hi) = (v, v);
        if let Some((plo, phi)) = prev.filter(|(_, phi)| v > 0 && *phi == v - 1) {
            del.execute(rusqlite::params![kind, num_blob(plo)])?;
            lo = plo;
            let _ = phi;
        }
        if let Some(next) = v.checked_add(1) {
            let mut starting =
                tx.prepare_cached("SELECT hi FROM taken_runs WHERE kind = ?1 AND lo = ?2")?;
            let nhi: Option<u128> = starting
                .query_row(rusqlite::params![kind, num_blob(next)], |r| {
                    Ok(blob_num(r.get_ref(0)?.as_blob()?))
                })
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })?;
            if let Some(nhi) = nhi {
                del.execute(rusqlite::params![kind, num_blob(next)])?;
                hi = nhi;
            }
        }
        put.execute(rusqlite::params![kind, num_blob(lo), num_blob(hi)])?;
    } else if let Some((lo, hi)) = covered {
        del.execute(rusqlite::params![kind, num_blob(lo)])?;
        if lo < v {
            put.execute(rusqlite::params![kind, num_blob(lo), num_blob(v - 1)])?;
        }
        if v < hi {
            put.execute(rusqlite::params![kind, num_blob(v + 1), num_blob(hi)])?;
        }
    }
    Ok(())
}

/// Fills `taken_runs` from the rows (a store written before the table).
fn build_runs(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM taken_runs", [])?;
    let kinds: Vec<String> = {
        let mut st = tx.prepare(
            "SELECT kind FROM reservations UNION SELECT kind FROM held WHERE num IS NOT NULL",
        )?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut put = tx.prepare_cached("INSERT INTO taken_runs (kind, lo, hi) VALUES (?1, ?2, ?3)")?;
    for kind in kinds {
        let mut v = scan_taken(tx, &kind)?;
        v.sort_unstable();
        v.dedup();
        let mut i = 0;
        while i < v.len() {
            let mut j = i;
            while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
                j += 1;
            }
            put.execute(rusqlite::params![kind, num_blob(v[i]), num_blob(v[j])])?;
            i = j + 1;
        }
    }
    Ok(())
}

/// Runs of taken values: kind, first and last value.
pub type Runs = Vec<(String, u128, u128)>;

/// The runs of `taken_runs` and those its rows make, for a check: equal in a
/// store berth wrote. Exposed for the store's tests.
#[doc(hidden)]
pub fn taken_runs_check(path: &Path) -> rusqlite::Result<(Runs, Runs)> {
    let mut conn = rusqlite::Connection::open(path)?;
    let tx = conn.transaction()?;
    let read = |tx: &rusqlite::Transaction<'_>| -> rusqlite::Result<Runs> {
        let mut st = tx.prepare("SELECT kind, lo, hi FROM taken_runs ORDER BY kind, lo")?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                blob_num(r.get_ref(1)?.as_blob()?).unwrap_or(0),
                blob_num(r.get_ref(2)?.as_blob()?).unwrap_or(0),
            ))
        })?;
        rows.collect()
    };
    let kept = read(&tx)?;
    build_runs(&tx)?;
    let made = read(&tx)?;
    tx.rollback()?;
    Ok((kept, made))
}

/// Why rows could not become a state.
enum Bad {
    /// Corrupt, with the reason.
    Reason(String),
    /// Another refusal (version, host).
    Fatal(StoreError),
}

/// A JSON column (bindings, a provider record) read into its type, after
/// the check that no string in it holds a control character.
fn json_column<T: serde::de::DeserializeOwned>(
    text: &str,
    at: &dyn Fn() -> String,
) -> Result<T, String> {
    // serde_json escapes control characters, so clean text is printable
    // ASCII without a backslash; anything else gets the full walk. A raw
    // control character below 0x20 cannot be inside a JSON string (the
    // parser refuses it), so ASCII without a backslash or DEL is clean; the
    // three scans are the standard library's word-at-a-time ones.
    let b = text.as_bytes();
    if !(text.is_ascii() && !b.contains(&b'\\') && !b.contains(&0x7f)) {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("`{}`: {e}", at()))?;
        if let Err(r) = check_strings(&v) {
            return Err(format!("`{}`: {r}", at()));
        }
        return serde_json::from_value(v).map_err(|e| format!("`{}`: {e}", at()));
    }
    serde_json::from_str(text).map_err(|e| format!("`{}`: {e}", at()))
}

/// Copies a corrupt file aside (`<file>.corrupt-<unix seconds>`) so that a
/// later repair cannot lose it. A failure to copy is not fatal: the original
/// stays in place anyway.
fn keep_copy(path: &Path, bytes: &[u8]) -> Option<PathBuf> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = format!("{}.corrupt-{secs}", path.display());
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

/// A host's state under its exclusive lock, released on drop.
#[derive(Debug)]
pub struct Locked {
    /// The open store; `None` until the first write creates it.
    conn: Option<rusqlite::Connection>,
    file: StateFile,
    _lock: File,
    state: State,
    /// Whether the store existed when the lock was taken.
    existed: bool,
}

fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("state always serializes")
}

impl Locked {
    /// The state as last loaded or written.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The store's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Puts back `before`, the state loaded with the lock: written as is, or,
    /// when there was no store then and `before` is still empty, the store
    /// created since is removed, so that a failed first apply leaves no trace.
    pub fn restore(&mut self, before: &State) -> Result<(), StoreError> {
        if self.existed || *before != State::new(&self.file.host) {
            return self.write(before);
        }
        if self.file.path.exists() {
            let err = |source| StoreError::Write {
                path: self.file.path.clone(),
                source,
            };
            // Closing first: the log files go with the connection.
            self.conn = None;
            for suffix in ["-wal", "-shm"] {
                let p = PathBuf::from(format!("{}{suffix}", self.file.path.display()));
                match std::fs::remove_file(&p) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err(e)),
                    _ => {}
                }
            }
            std::fs::remove_file(&self.file.path).map_err(err)?;
            File::open(&self.file.dir)
                .and_then(|d| d.sync_all())
                .map_err(err)?;
        }
        self.state = before.clone();
        Ok(())
    }

    /// The open store, created (mode 0600, with its tables) on first use.
    fn conn(&mut self) -> rusqlite::Result<&mut rusqlite::Connection> {
        if self.conn.is_none() {
            let _ = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .custom_flags(NO_FOLLOW)
                .open(&self.file.path);
            let conn = self.file.open(
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                    | rusqlite::OpenFlags::SQLITE_OPEN_CREATE,
            )?;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("just opened"))
    }

    /// Replaces every row by `state`'s, in one transaction (migration).
    fn replace_all(&mut self, state: &State) -> rusqlite::Result<()> {
        let host = self.file.host.clone();
        let conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(SCHEMA)?;
        tx.execute_batch(
            "DELETE FROM holdings; DELETE FROM held; DELETE FROM reservations; DELETE FROM provided; DELETE FROM pending_releases; DELETE FROM taken_runs;",
        )?;
        write_meta(&tx, &host)?;
        let empty = State::new(&host);
        write_diff(&tx, &empty, state)?;
        tx.commit()?;
        self.state = state.clone();
        self.trim_wal();
        Ok(())
    }

    /// Copies the write-ahead log into the database and empties it once it
    /// passes [`WAL_LIMIT`]. Every berth process is short-lived and the
    /// first to open the store rebuilds the log's index by reading the whole
    /// log, which also forgets what earlier checkpoints copied: left to
    /// SQLite's automatic checkpoints the log only grows, and so does the
    /// cost of every command (measured: 0.6 ms to 36 ms over 600 applies).
    /// A failed checkpoint is harmless (the log keeps the commits) and is
    /// tried again by the next write.
    fn trim_wal(&mut self) {
        let mut wal = self.file.path.as_os_str().to_os_string();
        wal.push("-wal");
        let big = std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_LIMIT);
        if let (true, Some(conn)) = (big, self.conn.as_ref()) {
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }

    /// Writes `state` in one transaction, as the rows that differ from the
    /// current state (skipped when nothing differs), and makes it the
    /// current state. The cost is that of the changed rows plus one
    /// comparison in memory, not of the whole state.
    pub fn write(&mut self, state: &State) -> Result<(), StoreError> {
        if *state == self.state && self.file.path.exists() {
            return Ok(());
        }
        let host = self.file.host.clone();
        let old = std::mem::take(&mut self.state);
        let result = (|| -> rusqlite::Result<()> {
            let conn = self.conn()?;
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let fresh: i64 = tx.query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'meta'",
                [],
                |r| r.get(0),
            )?;
            if fresh == 0 {
                tx.execute_batch(SCHEMA)?;
                write_meta(&tx, &host)?;
            } else if !has_taken_runs(&tx)? {
                // A store written before `taken_runs`: made once, here.
                tx.execute_batch(SCHEMA)?;
                build_runs(&tx)?;
            }
            write_diff(&tx, &old, state)?;
            tx.commit()
        })();
        match result {
            Ok(()) => {
                self.state = state.clone();
                self.trim_wal();
                Ok(())
            }
            Err(e) => {
                self.state = old;
                Err(StoreError::Write {
                    path: self.file.path.clone(),
                    source: std::io::Error::other(e),
                })
            }
        }
    }
}

fn write_meta(tx: &rusqlite::Transaction<'_>, host: &str) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('berth_state', ?1), ('host', ?2)",
        rusqlite::params![STATE_VERSION.to_string(), host],
    )?;
    Ok(())
}

/// The row changes that turn `old` into `new`, and the `taken_runs` of the
/// values whose rows changed.
fn write_diff(tx: &rusqlite::Transaction<'_>, old: &State, new: &State) -> rusqlite::Result<()> {
    // Values whose rows change, read from the rows themselves (what the
    // store holds, whatever the slice saw).
    let mut touched: BTreeSet<(String, u128)> = BTreeSet::new();
    fn gather(
        st: &mut rusqlite::CachedStatement<'_>,
        key: &str,
        touched: &mut BTreeSet<(String, u128)>,
    ) -> rusqlite::Result<()> {
        let mut rows = st.query([key])?;
        while let Some(r) = rows.next()? {
            let kind: String = r.get(0)?;
            if let Some(v) = r.get_ref(1)?.as_blob_or_null()?.and_then(blob_num) {
                touched.insert((kind, v));
            }
        }
        Ok(())
    }
    {
        let mut held_of = tx.prepare_cached(
            "SELECT kind, num FROM held WHERE container = ?1 AND num IS NOT NULL
             AND source IN ('provides', 'provider')",
        )?;
        let mut del = tx.prepare_cached("DELETE FROM holdings WHERE container = ?1")?;
        let mut del_held = tx.prepare_cached("DELETE FROM held WHERE container = ?1")?;
        for k in old
            .holdings
            .keys()
            .filter(|k| !new.holdings.contains_key(*k))
        {
            gather(&mut held_of, k, &mut touched)?;
            del.execute([k])?;
            del_held.execute([k])?;
        }
        let mut put = tx.prepare_cached(
            "INSERT OR REPLACE INTO holdings (container, spec_digest, bindings) VALUES (?1, ?2, ?3)",
        )?;
        let mut put_held = tx.prepare_cached(
            "INSERT INTO held (container, kind, source, id, exclusive, num) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (k, h) in &new.holdings {
            if old.holdings.get(k) != Some(h) {
                put.execute(rusqlite::params![k, h.spec_digest, json_text(&h.bindings)])?;
                gather(&mut held_of, k, &mut touched)?;
                del_held.execute([k])?;
                for b in &h.bindings {
                    let num = binding_scalar(b, &String::new).ok().flatten();
                    if let (Some(v), false) = (num, b.source == BindingSource::Pool) {
                        touched.insert((b.kind.as_str().to_string(), v));
                    }
                    put_held.execute(rusqlite::params![
                        k,
                        b.kind.as_str(),
                        source_str(b.source),
                        held_id(b),
                        b.exclusive,
                        num.map(num_blob)
                    ])?;
                }
            }
        }
    }
    {
        let mut res_of = tx.prepare_cached("SELECT kind, num FROM reservations WHERE key = ?1")?;
        let mut del = tx.prepare_cached("DELETE FROM reservations WHERE key = ?1")?;
        for k in old
            .reservations
            .keys()
            .filter(|k| !new.reservations.contains_key(*k))
        {
            gather(&mut res_of, k, &mut touched)?;
            del.execute([k])?;
        }
        let mut put = tx.prepare_cached(
            "INSERT OR REPLACE INTO reservations (key, kind, name, pool, value, holder, last_holder, last_digest, num)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for (k, r) in &new.reservations {
            if old.reservations.get(k) != Some(r) {
                // Written states are checked states: a value that is not of
                // its kind never gets here (check_meaning on load, the
                // solver's own values on apply); 0 would only make the index
                // miss it.
                let v = r.kind.scalar(&r.value).unwrap_or(0);
                gather(&mut res_of, k, &mut touched)?;
                touched.insert((r.kind.as_str().to_string(), v));
                put.execute(rusqlite::params![
                    k,
                    r.kind.as_str(),
                    r.name,
                    r.pool,
                    r.value,
                    r.holder,
                    r.last_holder,
                    r.last_digest,
                    num_blob(v)
                ])?;
            }
        }
    }
    for (kind, v) in &touched {
        fix_run(tx, kind, *v)?;
    }
    {
        let mut del = tx.prepare_cached("DELETE FROM provided WHERE key = ?1")?;
        for k in old
            .provided
            .keys()
            .filter(|k| !new.provided.contains_key(*k))
        {
            del.execute([k])?;
        }
        let mut put =
            tx.prepare_cached("INSERT OR REPLACE INTO provided (key, record) VALUES (?1, ?2)")?;
        for (k, p) in &new.provided {
            if old.provided.get(k) != Some(p) {
                put.execute(rusqlite::params![k, json_text(p)])?;
            }
        }
    }
    if old.pending_releases != new.pending_releases {
        tx.execute("DELETE FROM pending_releases", [])?;
        let mut put =
            tx.prepare_cached("INSERT INTO pending_releases (seq, record) VALUES (?1, ?2)")?;
        for (i, p) in new.pending_releases.iter().enumerate() {
            put.execute(rusqlite::params![i as i64, json_text(p)])?;
        }
    }
    Ok(())
}

/// A scalar as the store indexes it: 16 bytes, big-endian, so that SQLite's
/// byte order is the numeric order.
fn num_blob(v: u128) -> [u8; 16] {
    v.to_be_bytes()
}

/// The inverse of [`num_blob`]; `None` for a blob of another length.
fn blob_num(b: &[u8]) -> Option<u128> {
    <[u8; 16]>::try_from(b).ok().map(u128::from_be_bytes)
}

/// How a binding source is spelled in the `held` table (as in the JSON view).
fn source_str(s: BindingSource) -> &'static str {
    match s {
        BindingSource::Provides => "provides",
        BindingSource::Pool => "pool",
        BindingSource::Provider => "provider",
    }
}

/// What identifies the resource a binding holds, as the solver keys holdings:
/// the resource name for a provider's, the serving provide's name otherwise.
fn held_id(b: &crate::state::HeldBinding) -> &str {
    match b.source {
        BindingSource::Provider => &b.name,
        _ => &b.provide,
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

/// What one exclusive holding excludes others from: a pool value (one number
/// per kind; kept without allocating, ten thousand of them load often), or
/// a static entry and its value.
#[derive(PartialEq, Eq, Hash)]
enum ExclusiveKey<'a> {
    Value(&'a str, u128),
    Entry(String),
}

/// A hash map keyed by the store's own rows (see [`check_meaning`]).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

fn fast_map<K, V>(capacity: usize) -> FastMap<K, V> {
    HashMap::with_capacity_and_hasher(capacity, foldhash::fast::RandomState::default())
}

/// What serde cannot check: every value means something berth could have
/// written. One pass over the holdings and one over the reservations (side
/// by side on two cores), with hash lookups, then one over the provider
/// records: O(size of the state). Of several faults, the one reported is
/// the first of the holdings, else the first of the reservations in key
/// order.
fn check_meaning(state: &State) -> Result<(), String> {
    let (held, reserved) = rayon::join(|| check_holdings(state), || check_reservations(state));
    let pool_held = held?;
    // A reservation's own fault, or the first holder that does not hold
    // what its reservation says, whichever comes first in key order.
    let (holders, fault) = reserved;
    for (k, r, v) in holders {
        let h = r
            .holder
            .as_deref()
            .expect("only held reservations are listed");
        if pool_held.get(&(h, &r.kind, r.name.as_str())) != Some(&v) {
            return Err(format!(
                "{} names `{h}`, which does not hold {} (no pool binding of it in `holdings.{h}`)",
                tick(&format!("reservations.{k}.holder")),
                tick(&r.value)
            ));
        }
    }
    if let Some(fault) = fault {
        return Err(fault);
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
            check_container(&|| tick(&format!("provided.{k}.users")), u)?;
        }
    }
    for (i, p) in state.pending_releases.iter().enumerate() {
        for u in &p.users {
            check_container(&|| tick(&format!("pending_releases[{i}].users")), u)?;
        }
    }
    Ok(())
}

/// A container name where the state names one; `what` names the field,
/// built only for a message.
fn check_container(what: &dyn Fn() -> String, c: &str) -> Result<(), String> {
    if valid_container_name(c) {
        Ok(())
    } else {
        Err(format!(
            "{} {} is not a container name (a container name is `[a-z0-9][a-z0-9_.-]{{0,62}}`)",
            what(),
            tick(c)
        ))
    }
}

/// (holder, kind, name) -> the pool value it holds.
type PoolHeld<'a> = FastMap<(&'a str, &'a Kind, &'a str), u128>;

/// The holdings' part of [`check_meaning`]: names, values of their kinds,
/// no exclusive value held twice; returns what each holds from pools.
fn check_holdings(state: &State) -> Result<PoolHeld<'_>, String> {
    // The maps hash with foldhash: their keys are the store's own rows, and
    // SipHash was a tenth of a whole load (docs/performance.md).
    // Sized by a count first: most bindings are neither a pool's nor
    // exclusive (a shared volume, an implied network), and tables sized for
    // every binding were megabytes of fresh memory at 5,000 holdings.
    let (mut pools, mut exclusives) = (0, 0);
    for b in state.holdings.values().flat_map(|h| &h.bindings) {
        pools += usize::from(b.source == BindingSource::Pool);
        exclusives += usize::from(b.exclusive);
    }
    let mut pool_held: PoolHeld<'_> = fast_map(pools);
    // An exclusive value -> its holder. Pool values are one number per kind
    // (pools skip every value of their kind, whatever the network or
    // protocol); a static exclusive provide is its entry and value.
    let mut exclusive: FastMap<ExclusiveKey<'_>, &str> = fast_map(exclusives);
    for (c, h) in &state.holdings {
        check_container(&|| "holdings key".to_string(), c)?;
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
                (BindingSource::Pool, Some(v)) => ExclusiveKey::Value(b.kind.as_str(), v),
                _ => ExclusiveKey::Entry(format!("{} {} {}", b.kind, b.provide, b.value)),
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
    Ok(pool_held)
}

/// A held reservation, its key and value, for the holder check of
/// [`check_meaning`].
type HeldReservation<'a> = (&'a str, &'a crate::state::Reservation, u128);

/// The reservations' part of [`check_meaning`]: keys, values and pools of
/// their kinds, no value reserved twice, holder names. Returns the held
/// ones in key order, up to the first fault, and that fault if there is one.
fn check_reservations(state: &State) -> (Vec<HeldReservation<'_>>, Option<String>) {
    let mut held = Vec::with_capacity(state.reservations.len());
    let mut values: FastMap<(&str, u128), &str> = fast_map(state.reservations.len());
    // The pool last seen valid: a host's reservations share a few pools.
    let mut pool_seen: Option<(&Kind, &str)> = None;
    for (k, r) in &state.reservations {
        match check_reservation(k, r, &mut values, &mut pool_seen) {
            Ok(v) if r.holder.is_some() => held.push((k.as_str(), r, v)),
            Ok(_) => {}
            Err(why) => return (held, Some(why)),
        }
    }
    (held, None)
}

/// One reservation of [`check_reservations`]: its value as a number, or
/// its first fault. `values` holds the values reserved before it (each
/// value's key); `pool_seen` the last pool found valid.
fn check_reservation<'a>(
    k: &'a str,
    r: &'a crate::state::Reservation,
    values: &mut FastMap<(&'a str, u128), &'a str>,
    pool_seen: &mut Option<(&'a Kind, &'a str)>,
) -> Result<u128, String> {
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
    if *pool_seen != Some((&r.kind, r.pool.as_str())) {
        if !valid_pool(&r.kind, &r.pool) {
            return Err(format!(
                "{} is {}, not a {} pool",
                tick(&format!("{}.pool", at())),
                tick(&r.pool),
                r.kind
            ));
        }
        *pool_seen = Some((&r.kind, r.pool.as_str()));
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
        check_container(&|| tick(&format!("{}.last_holder", at())), l)?;
    }
    if let Some(h) = &r.holder {
        check_container(&|| tick(&format!("{}.holder", at())), h)?;
    }
    Ok(v)
}

/// Whether `pool` is a pool of `kind` as a reservation records it: a
/// network of the kind's family, or a `first-last` range of its values.
fn valid_pool(kind: &Kind, pool: &str) -> bool {
    match kind.def().family {
        Some(berth_specs::kinds::Family::V6) => {
            matches!(pool.parse::<ipnet::IpNet>(), Ok(ipnet::IpNet::V6(_)))
        }
        Some(berth_specs::kinds::Family::V4) => {
            matches!(pool.parse::<ipnet::IpNet>(), Ok(ipnet::IpNet::V4(_)))
        }
        None => pool
            .split_once('-')
            .is_some_and(|(a, b)| kind.scalar(a).is_ok() && kind.scalar(b).is_ok()),
    }
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
