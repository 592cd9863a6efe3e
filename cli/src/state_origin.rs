//! Where this run's state folder came from, kept when the host manifest is
//! loaded, so that an error about the folder (permission denied, missing,
//! writable by everyone) names its source (`--state-dir`, `$BERTH_STATE_DIR`,
//! the manifest's `state_dir`, the default for root or other users) and how
//! to change it. The rule itself is the store's ([`store::state_origin`]);
//! this only renders it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use berth_engine::store::{self, StateOrigin};

static ORIGIN: OnceLock<(StateOrigin, PathBuf)> = OnceLock::new();

/// Keeps the origin of the state folder of the manifest at `manifest` (the
/// first one kept wins: a command works on one host's state).
pub fn remember(origin: StateOrigin, manifest: &Path) {
    let _ = ORIGIN.set((origin, manifest.to_path_buf()));
}

/// Where the folder came from and how to change it, if known.
pub fn help() -> Option<String> {
    let (origin, manifest) = ORIGIN.get()?;
    Some(text(*origin, manifest))
}

/// The sentence for `origin` (`manifest`: the host manifest's path).
pub fn text(origin: StateOrigin, manifest: &Path) -> String {
    let others = "or give --state-dir DIR (before $BERTH_STATE_DIR and the manifest's `state_dir`)";
    match origin {
        StateOrigin::Flag => {
            "the state folder was given with --state-dir: give another folder with --state-dir DIR".into()
        }
        StateOrigin::Env => format!(
            "the state folder comes from $BERTH_STATE_DIR: set it to another folder, unset it, {others}"
        ),
        StateOrigin::Manifest => format!(
            "the state folder comes from `state_dir:` in {}: change it there, set $BERTH_STATE_DIR, {others}",
            manifest.display()
        ),
        StateOrigin::RootDefault => format!(
            "the state folder is the default for root ({}): add `state_dir:` to {}, set $BERTH_STATE_DIR, {others}",
            store::DEFAULT_STATE_DIR,
            manifest.display()
        ),
        StateOrigin::XdgDefault => format!(
            "the state folder is the default for a user other than root ($XDG_STATE_HOME/berth): add `state_dir:` to {}, set $BERTH_STATE_DIR, {others}",
            manifest.display()
        ),
        StateOrigin::HomeDefault => format!(
            "the state folder is the default for a user other than root (~/.local/state/berth): add `state_dir:` to {}, set $BERTH_STATE_DIR, {others}",
            manifest.display()
        ),
        _ => format!(
            "the state folder is {} because neither $XDG_STATE_HOME nor $HOME is set: add `state_dir:` to {}, set $BERTH_STATE_DIR, {others}",
            store::DEFAULT_STATE_DIR,
            manifest.display()
        ),
    }
}
