//! Helpers shared by the end-to-end tests: run the built binary in a fresh temp
//! dir with fixtures written inline, and decide whether a real-runtime test may
//! skip (never under `CI=true`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Path of the built `berth` binary.
pub fn berth_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth"))
}

/// The repository root (for `specs/examples`, `providers/bundled`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A scratch directory with files written into it and a private state dir.
pub struct Dir {
    /// Kept alive for the test's duration.
    pub tmp: tempfile::TempDir,
}

impl Dir {
    /// A new empty scratch directory.
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Writes `text` to `rel` (creating folders) and returns the full path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.tmp.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A `berth` command run in this directory, with `BERTH_STATE_DIR` pointing
    /// inside it and no host file from the environment.
    pub fn berth(&self) -> Command {
        let mut c = Command::new(berth_bin());
        c.current_dir(self.path());
        c.env("BERTH_STATE_DIR", self.path().join("state"));
        c.env_remove("BERTH_HOST_FILE");
        c.env("NO_COLOR", "1");
        c
    }
}

/// Runs a command, returning its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn")
}

/// stdout as a String.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as a String.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code (panics on signal death, with the output).
pub fn code(o: &Output) -> i32 {
    o.status
        .code()
        .unwrap_or_else(|| panic!("killed by signal; stderr: {}", stderr(o)))
}

pub use berth_testkit::runtime::{in_ci, which};

/// For tests that need real tools: `true` if they are all present and we are
/// root; else prints why the test skips and returns `false`, or panics under
/// CI, where a missing runtime is a failure.
pub fn require_tools(test: &str, tools: &[&str]) -> bool {
    berth_testkit::runtime::require(test, tools, &[])
}

/// Prints what `who` sees (the `inet6 1111:` line of its `ip -6 addr`
/// output, for the CI log) and asserts that it holds `expected`
/// (`ADDR/PREFIX`).
pub fn assert_sees_inet6(who: &str, ip_addr_output: &str, expected: &str) {
    let line = ip_addr_output
        .lines()
        .find(|l| l.contains("inet6 1111:"))
        .unwrap_or("(no 1111: address)");
    println!("{who} sees: {}", line.trim());
    assert!(
        ip_addr_output.contains(&format!("inet6 {expected}")),
        "{who}:\n{ip_addr_output}"
    );
}

/// The state berth keeps for `host` in the state folder `state`, as JSON
/// (the shape `berth status --format json` and the old state files have),
/// read through the store; None when berth never wrote one.
pub fn state_json(state: &Path, host: &str) -> Option<serde_json::Value> {
    if !state.join(format!("{host}.db")).exists() {
        return None;
    }
    let store = berth_engine::store::StateFile::new(state, host);
    let loaded = store.load_readonly().expect("the store reads back");
    Some(serde_json::to_value(loaded).expect("state as JSON"))
}
