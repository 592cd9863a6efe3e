//! The state file seen from the command line: corrupt files (a copy kept by
//! every command that locks), semantically wrong files, the state folder from
//! the environment, and the JSON shapes of state errors.

use std::path::Path;

use crate::util::{code, run, stderr, Dir};

/// A host `h` providing volume `data`, and container `c` needing it.
fn fixture() -> Dir {
    let dir = Dir::new();
    dir.write(
        "host.yaml",
        "berth: 1\nhost: h\nprovides:\n  - volume: data\n    path: /srv/data\n",
    );
    dir.write(
        "c/berth.yaml",
        "berth: 1\ncontainer: c\nneeds:\n  - volume: data\n    mount: /data\n",
    );
    dir
}

/// The `.corrupt-` copies beside the state file.
fn copies(state_dir: &Path) -> Vec<String> {
    std::fs::read_dir(state_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".corrupt-"))
        .collect()
}

const CORRUPT: &str = r#"{"berth_state":1,"host":"h","holdings":"x","reservations":{},"provided":{},"pending_releases":[]}"#;

#[test]
fn release_keeps_a_copy_of_a_corrupt_state_file() {
    let dir = fixture();
    let path = dir.write("state/h.json", CORRUPT);
    let o = run(dir.berth().args(["release", "-H", "host.yaml", "c"]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("berth::state::corrupt"), "{err}");
    assert!(err.contains("a copy was kept"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), CORRUPT);
    let kept = copies(&dir.path().join("state"));
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].starts_with("h.json.corrupt-"), "{kept:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("state").join(&kept[0])).unwrap(),
        CORRUPT
    );
    // Again on the same bytes: the same copy is reused.
    let o = run(dir.berth().args(["release", "-H", "host.yaml", "c"]));
    assert_eq!(code(&o), 1);
    assert_eq!(copies(&dir.path().join("state")), kept);
}
