//! Runs one executable with bounded time and memory, in its own process group.
//!
//! Why a process group: a provider is often a script that starts helpers
//! (`mount`, `sleep`, a daemon it forgot to detach). Killing only the script
//! leaves those running and, worse, holding our pipes open. The child is made
//! leader of a new group (`process_group(0)`, i.e. `setpgid(0, 0)`), and every
//! kill goes to the whole group: TERM first, then KILL after [`Limits::kill_grace`].
//!
//! Why threads and not `select`: three pipes and a child exit have to be watched
//! at once; one small thread per pipe plus one waiter, all reporting on a
//! channel, keeps this in std with no unsafe code. Readers stop reading as soon
//! as a limit is reached, so memory stays bounded whatever the child prints.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{kill_process_group, Pid, Signal};

use crate::error::Failure;

/// Bounds of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock limit of the call.
    pub timeout: Duration,
    /// Largest stdout accepted, in bytes; one more byte fails the call.
    pub stdout_max: usize,
    /// How many trailing bytes of stderr are kept.
    pub stderr_tail: usize,
    /// Time between TERM and KILL when the group is killed.
    pub kill_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: berth_specs::DEFAULT_PROVIDER_TIMEOUT,
            stdout_max: 1024 * 1024,
            stderr_tail: 64 * 1024,
            kill_grace: Duration::from_secs(2),
        }
    }
}

/// What a finished process left.
#[derive(Debug)]
pub struct RawOutput {
    /// How it ended.
    pub status: ExitStatus,
    /// All of stdout (at most `stdout_max` bytes).
    pub stdout: Vec<u8>,
    /// The tail of stderr.
    pub stderr_tail: Vec<u8>,
    /// Wall-clock time of the call.
    pub elapsed: Duration,
}

/// A failure of the runner, with whatever stderr tail was collected.
#[derive(Debug)]
pub struct RunFailure {
    /// Why.
    pub failure: Failure,
    /// Tail of stderr collected before the failure.
    pub stderr_tail: Vec<u8>,
    /// Wall-clock time until the failure.
    pub elapsed: Duration,
}

/// Finds the executable for `argv0`: a path with a `/` is taken as is when
/// absolute and relative to `base_dir` otherwise; a bare name is looked up in
/// `path_var` (the PATH the provider itself gets).
pub fn resolve_program(
    argv0: &str,
    base_dir: &Path,
    path_var: &OsString,
) -> Result<PathBuf, Failure> {
    if argv0.contains('/') {
        let p = Path::new(argv0);
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            base_dir.join(p)
        };
        // Absolute, because the child starts in `base_dir`: a relative program
        // path would be resolved a second time from there.
        return std::path::absolute(&p).map_err(|source| Failure::Spawn { path: p, source });
    }
    std::env::split_paths(path_var)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(argv0))
        .find(|p| p.is_file())
        .ok_or_else(|| Failure::NotOnPath(argv0.to_string()))
}

enum Event {
    Exited(std::io::Result<ExitStatus>),
    StdoutDone(Vec<u8>),
    StdoutOverflow,
    StderrDone(Vec<u8>),
}

/// Runs `program` with `args`, exactly the environment `env` (nothing
/// inherited), working directory `cwd`, and `stdin` written to its standard
/// input. Returns when it has exited and both output pipes are closed, or fails
/// on timeout / stdout overflow after killing its process group.
pub fn run(
    program: &Path,
    args: &[String],
    env: &[(String, OsString)],
    cwd: &Path,
    stdin: Vec<u8>,
    limits: &Limits,
) -> Result<RawOutput, RunFailure> {
    let start = Instant::now();
    let fail = |failure: Failure, stderr_tail: Vec<u8>| RunFailure {
        failure,
        stderr_tail,
        elapsed: start.elapsed(),
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(|source| {
        fail(
            Failure::Spawn {
                path: program.to_path_buf(),
                source,
            },
            Vec::new(),
        )
    })?;
    // The child is the leader of its own group: its pid is the group id.
    let pgid = Pid::from_child(&child);
    let (tx, rx) = mpsc::channel::<Event>();

    let mut child_stdin = child.stdin.take().expect("piped stdin");
    thread::spawn(move || {
        // A provider that ignores stdin may close it early: EPIPE is not an error
        // (Rust ignores SIGPIPE, so this is a plain write error).
        let _ = child_stdin.write_all(&stdin);
    });

    let mut out = child.stdout.take().expect("piped stdout");
    let max = limits.stdout_max;
    let txo = tx.clone();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match out.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if buf.len() + n > max {
                        // Stop reading: the pipe closes when `out` drops, and the
                        // main thread kills the group.
                        let _ = txo.send(Event::StdoutOverflow);
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        }
        let _ = txo.send(Event::StdoutDone(buf));
    });

    let mut err = child.stderr.take().expect("piped stderr");
    let tail = limits.stderr_tail;
    let txe = tx.clone();
    thread::spawn(move || {
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match err.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.len() > tail {
                        let cut = buf.len() - tail;
                        buf.drain(..cut);
                    }
                }
            }
        }
        let _ = txe.send(Event::StderrDone(buf));
    });

    thread::spawn(move || {
        let _ = tx.send(Event::Exited(child.wait()));
    });

    let deadline = start + limits.timeout;
    let mut status: Option<ExitStatus> = None;
    let mut stdout: Option<Vec<u8>> = None;
    let mut stderr: Option<Vec<u8>> = None;
    let outcome: Option<Failure> = loop {
        if let (Some(_), Some(_), Some(_)) = (&status, &stdout, &stderr) {
            break None;
        }
        let now = Instant::now();
        if now >= deadline {
            break Some(if status.is_some() {
                Failure::Lingering
            } else {
                Failure::Timeout {
                    timeout: limits.timeout,
                }
            });
        }
        match rx.recv_timeout(deadline - now) {
            Ok(Event::Exited(Ok(s))) => status = Some(s),
            Ok(Event::Exited(Err(e))) => break Some(Failure::Io(e)),
            Ok(Event::StdoutDone(b)) => stdout = Some(b),
            Ok(Event::StdoutOverflow) => break Some(Failure::StdoutTooLarge { limit: max }),
            Ok(Event::StderrDone(b)) => stderr = Some(b),
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break Some(Failure::Lingering),
        }
    };

    let Some(failure) = outcome else {
        return Ok(RawOutput {
            status: status.expect("checked"),
            stdout: stdout.expect("checked"),
            stderr_tail: stderr.expect("checked"),
            elapsed: start.elapsed(),
        });
    };

    // Kill the whole group: TERM, a grace period to clean up (the leader
    // exits and the pipes close), then KILL even when the leader is gone: its
    // children may have ignored TERM. ESRCH (the group is empty) is the good
    // case. After KILL the pipes close promptly unless something outside the
    // group (a daemon that called setsid) holds them: do not wait for that
    // forever either.
    let _ = kill_process_group(pgid, Signal::TERM);
    collect(&rx, limits.kill_grace, &mut status, &mut stderr);
    let _ = kill_process_group(pgid, Signal::KILL);
    collect(&rx, limits.kill_grace, &mut status, &mut stderr);
    Err(fail(failure, stderr.unwrap_or_default()))
}

/// Waits at most `grace` for the leader's exit status and the end of stderr.
fn collect(
    rx: &mpsc::Receiver<Event>,
    grace: Duration,
    status: &mut Option<ExitStatus>,
    stderr: &mut Option<Vec<u8>>,
) {
    let end = Instant::now() + grace;
    while status.is_none() || stderr.is_none() {
        let now = Instant::now();
        if now >= end {
            return;
        }
        match rx.recv_timeout(end - now) {
            // A failed wait still means there is nothing left to reap.
            Ok(Event::Exited(s)) => *status = Some(s.unwrap_or_else(|_| ExitStatus::from_raw(0))),
            Ok(Event::StderrDone(b)) => *stderr = Some(b),
            Ok(_) => {}
            Err(_) => return,
        }
    }
}
