//! Daily operation without surprises (issue 12): CI never silently skips,
//! nothing gets stuck, outputs merge safely. Each test is named after the bug
//! it pins.

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;

use crate::util::{code, run, stderr, stdout, Dir};

const HOST: &str = "berth: 1\nhost: h\nprovides:\n  - volume: data\n    path: /srv/data\n";
const SPEC: &str = "berth: 1\ncontainer: web\nneeds:\n  - volume: data\n    mount: /data\n";

/// A pipe whose read end is already closed: any write to the other end fails
/// with EPIPE, whatever the timing.
fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: pipe fills two new descriptors; each is owned exactly once below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    drop(unsafe { OwnedFd::from_raw_fd(fds[0]) });
    Stdio::from(unsafe { OwnedFd::from_raw_fd(fds[1]) })
}

#[test]
fn a_closed_stdout_panicked_with_a_backtrace_instead_of_ending_quietly() {
    let dir = Dir::new();
    let host = dir.write("host.yaml", HOST);
    let spec = dir.write("web.yaml", SPEC);
    let (h, s) = (host.to_str().unwrap(), spec.to_str().unwrap());
    let commands: &[&[&str]] = &[
        &["status", "-H", h, "--format", "json"],
        &["status", "-H", h],
        &["plan", "-H", h, s, "--format", "json"],
        &["plan", "-H", h, s],
        &["check", "--format", "json", h, s],
        &["schema", "host"],
        &["label", s],
        &["place", "--hosts", h, s],
        &["place", "--hosts", h, s, "--format", "json"],
        &["apply", "-H", h, s, "--emit", "json", "-q"],
        &["release", "-H", h, "web", "-q"],
        &["completions", "bash"],
        &["man"],
    ];
    for args in commands {
        let o = run(dir.berth().args(*args).stdout(closed_pipe()));
        let err = stderr(&o);
        assert_eq!(code(&o), 0, "berth {args:?}: {err}");
        assert!(!err.contains("panicked"), "berth {args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "berth {args:?}: {err}");
    }
}

#[test]
fn there_were_no_shell_completions_and_no_man_page() {
    let dir = Dir::new();
    for (shell, marker) in [
        ("bash", "complete -F _berth"),
        ("zsh", "#compdef berth"),
        ("fish", "complete -c berth"),
    ] {
        let o = run(dir.berth().args(["completions", shell]));
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let text = stdout(&o);
        assert!(text.contains(marker), "{shell}: {text}");
        // Every subcommand and a flag of each are offered.
        for word in ["check", "plan", "release", "completions"] {
            assert!(text.contains(word), "{shell} lacks {word}");
        }
    }
    let o = run(dir.berth().arg("man"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let page = stdout(&o);
    assert!(page.contains(".TH berth 1"), "{page}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "{section}: {page}");
    }
    assert!(page.contains("completions"), "{page}");
    assert_eq!(
        code(&run(dir.berth().args(["completions", "tcsh"]))),
        2,
        "an unknown shell is a usage error"
    );
}

#[test]
fn there_was_no_color_flag() {
    let dir = Dir::new();
    let spec = dir.write(
        "bad.yaml",
        "berth: 1\ncontainer: web\nneeds:\n  - volum: data\n",
    );
    // The test environment sets NO_COLOR and stderr is a pipe: `always` wins anyway.
    let o = run(dir.berth().args(["check", "--color", "always"]).arg(&spec));
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("\x1b["), "{}", stderr(&o));
    for when in ["never", "auto"] {
        let o = run(dir.berth().args(["check", "--color", when]).arg(&spec));
        assert_eq!(code(&o), 1);
        let err = stderr(&o);
        assert!(!err.contains("\x1b["), "{when}: {err}");
        assert!(err.contains("berth::need::unknown-kind"), "{when}: {err}");
    }
    assert_eq!(
        code(&run(dir.berth().args(["--color", "sometimes", "man"]))),
        2
    );
}
