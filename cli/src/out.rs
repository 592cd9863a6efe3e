//! Writing results to stdout, and what a closed stdout means.
//!
//! `berth status --format json | head -c 10` closes the pipe while berth is
//! still writing. `outln!` panics there (exit 101 and a backtrace); like
//! ripgrep, berth takes a closed pipe as "the reader has all it wants" and
//! ends quietly with exit 0. Every result berth prints goes through [`print`]
//! (the [`outln!`] and [`out!`] macros), and `main` treats a `BrokenPipe`
//! error that reaches it (a streamed writer's `?`) the same way.
//!
//! Exiting from here is safe because results are printed last: by then the
//! state is committed and its lock is released with the process.

use std::fmt;
use std::io::{self, Write as _};

use crate::exit;

/// Writes to stdout; a closed pipe ends the process with exit 0, any other
/// write error with a message and exit 1.
pub fn print(args: fmt::Arguments<'_>) {
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if is_broken_pipe(&e) {
            std::process::exit(i32::from(exit::OK));
        }
        let _ = writeln!(io::stderr(), "berth: cannot write to stdout: {e}");
        std::process::exit(i32::from(exit::INVALID));
    }
}

/// True for the error a write to a closed pipe gives.
pub fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// True when an error returned by a command is, at its root, a write to a
/// closed pipe.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|c| c.downcast_ref::<io::Error>().is_some_and(is_broken_pipe))
}

/// `outln!` to stdout through [`print`].
macro_rules! outln {
    () => { $crate::out::print(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::out::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` to stdout through [`print`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::print(format_args!($($arg)*)) };
}

pub(crate) use {out, outln};
