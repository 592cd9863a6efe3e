//! One module per subcommand; `dispatch` routes to them.

use crate::args::{Cli, Command};

mod apply;
mod check;
mod completions;
mod export;
mod hosts;
mod label;
mod place;
mod plan;
mod release;
mod run;
mod schema;
mod status;

/// Runs the command and returns the process exit code.
pub fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Check(a) => check::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Apply(a) => apply::run(a),
        Command::Run(a) => run::run(a),
        Command::Release(a) => release::run(a),
        Command::Status(a) => status::run(a),
        Command::Hosts(a) => hosts::run(a),
        Command::Place(a) => place::run(a),
        Command::Schema(a) => schema::run(a),
        Command::Label(a) => label::run(a),
        Command::Completions(a) => completions::completions(a),
        Command::Man(_) => completions::man(),
        Command::Export(a) => export::run(a),
    }
}
