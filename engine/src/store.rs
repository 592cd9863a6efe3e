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
//! - [`load_readonly`] (for `plan` and `status`) takes no lock and creates
//!   nothing: a reader sees the old or the new file thanks to the rename.
//!
//! The lock file is never deleted: removing it while another process waits on
//! it would let a third process lock a new inode and run concurrently.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use berth_specs::HostManifest;

use crate::state::{State, STATE_VERSION};

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
    /// Writing failed; the previous state file is intact.
    #[error("cannot write state file {}: {source}", path.display())]
    Write {
        /// The state file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The state folder of `host`: its manifest's `state_dir` (the loader insists
/// on an absolute path; a relative one from elsewhere is taken relative to the
/// manifest's folder), else `$BERTH_STATE_DIR`, else [`DEFAULT_STATE_DIR`].
pub fn state_dir(host: &HostManifest) -> PathBuf {
    if let Some(d) = &host.state_dir {
        return if d.is_absolute() {
            d.clone()
        } else {
            host.base_dir().join(d)
        };
    }
    match std::env::var_os("BERTH_STATE_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(DEFAULT_STATE_DIR),
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

    /// Reads the state; `Ok(None)` when the file does not exist.
    fn read(&self) -> Result<Option<Vec<u8>>, StoreError> {
        match std::fs::read(&self.path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Read {
                path: self.path.clone(),
                source,
            }),
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
        Ok(Ok(state))
    }

    /// See [`load_readonly`].
    pub fn load_readonly(&self) -> Result<State, StoreError> {
        self.check_name()?;
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
        let existed = self.path.exists();
        let state = match self.read()? {
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
        // A fixed temp name is safe: only the lock holder writes. A temp file
        // left by a crash is simply truncated by the next write.
        let tmp = self.dir.join(format!(".{}.json.tmp", self.host));
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        f.write_all(&bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(err)?;
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
