//! Whether a test that needs real components (root, `ip`, Docker, podman,
//! LXC, CNI plugins) can run here: one skip rule for the e2e suite and the
//! `berth-cni` tests. Outside CI a test without its tools prints why it skips;
//! under `CI=true` a missing tool is a failure, never a silent pass.

use std::path::{Path, PathBuf};

/// Whether we run under CI (`CI=true` or `CI=1`): real-runtime tests must
/// not skip there.
pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"))
}

/// Whether this process runs as root (the `Uid:` line of
/// `/proc/self/status`).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Finds an executable on `PATH`, or in `/usr/sbin` and `/sbin` (where
/// Debian puts `ip` and friends).
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// True when `tools` (executables on `PATH`) and `files` (paths that must
/// exist, each with what installs it) are all here and we are root.
/// Otherwise prints `TEST: SKIPPED, missing: ...` and returns false, or
/// panics under CI.
pub fn require(test: &str, tools: &[&str], files: &[(&Path, &str)]) -> bool {
    let mut missing: Vec<String> = tools
        .iter()
        .filter(|t| which(t).is_none())
        .map(|t| t.to_string())
        .collect();
    missing.extend(
        files
            .iter()
            .filter(|(p, _)| !p.exists())
            .map(|(p, what)| format!("{} ({what})", p.display())),
    );
    if !is_root() {
        missing.push("root privileges".to_string());
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!("{test}: SKIPPED, missing: {}", missing.join(", "));
    if in_ci() {
        panic!("{msg} (CI=true: real-runtime tests may not skip; .ci/setup installs these)");
    }
    eprintln!("{msg}");
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_is_named_and_never_passes() {
        let absent = "berth-testkit-no-such-tool";
        assert!(which(absent).is_none());
        // Under CI this must panic (a failure); elsewhere it skips.
        let r = std::panic::catch_unwind(|| require("t", &[absent], &[]));
        match r {
            Ok(ran) => assert!(!in_ci() && !ran),
            Err(_) => assert!(in_ci()),
        }
    }
}
