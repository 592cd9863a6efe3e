//! `berth completions SHELL` and `berth man`: generated from the clap
//! definition in [`crate::args`], so the completion scripts and the man page
//! can never list a flag the parser does not know (or miss one it does).

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs};
use crate::exit;

/// Writes the completion script for the shell to stdout.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<u8> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "berth", &mut buf);
    crate::out::print(format_args!("{}", String::from_utf8_lossy(&buf)));
    Ok(exit::OK)
}

/// Writes the man page (roff) to stdout: synopsis, options, and the
/// subcommands with what each does (`berth help CMD` has each one's flags).
pub fn man() -> anyhow::Result<u8> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut buf)?;
    crate::out::print(format_args!("{}", String::from_utf8_lossy(&buf)));
    Ok(exit::OK)
}
