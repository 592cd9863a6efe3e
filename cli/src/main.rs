//! The `berth` binary: argument parsing, dispatch, and the one place where exit
//! codes are decided.
//!
//! Thin by design: each subcommand module turns what was typed into library
//! calls and renders the result. Results go to stdout, everything else (progress,
//! warnings, diagnostics) to stderr, so `berth apply ... > run.sh` and `| jq`
//! always work.

mod args;
mod cmd;
mod exit;
mod explain_render;
mod inputs;
mod out;
mod provision;
mod render;
mod report;
mod state_origin;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: `place` and `check` on a fleet
/// allocate and free millions of small values (nodes, names, diagnostics),
/// where glibc's malloc cost a tenth of the run (docs/performance.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = match args::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // clap prints help/version to stdout and usage errors to stderr.
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // Every report, whichever command prints it, in the same deterministic
    // style (width, colour) under NO_COLOR or a non-terminal stderr.
    render::set_color(args.color);
    render::install_hook();
    berth_engine::threads::init_pool();
    match cmd::dispatch(args) {
        Ok(code) => ExitCode::from(code),
        // The reader closed stdout (`| head`): it has what it wanted.
        Err(err) if out::is_closed_pipe(&err) => ExitCode::from(exit::OK),
        Err(err) => {
            let text = render::escape_lines(&format!("{err:#}")).into_owned();
            eprintln!("{:?}", miette::Report::msg(text));
            ExitCode::from(exit::INVALID)
        }
    }
}
