//! The `berth-cni` binary: reads the CNI environment and stdin, prints the
//! result or CNI's error JSON on stdout. Install it into a folder on
//! `CNI_PATH` (docs/engines.md).

use std::io::{Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut stdin = String::new();
    // Bounded: a network configuration is small; more is not one.
    if let Err(e) = std::io::stdin().take(4 << 20).read_to_string(&mut stdin) {
        stdin.clear();
        eprintln!("berth-cni: cannot read stdin: {e}");
    }
    let out = std::io::stdout();
    let mut out = out.lock();
    match berth_cni::invoke(|k| std::env::var(k).ok(), &stdin) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(v)) => {
            let _ = writeln!(out, "{v}");
            ExitCode::SUCCESS
        }
        Err((e, version)) => {
            let _ = writeln!(out, "{}", e.to_json(&version));
            ExitCode::FAILURE
        }
    }
}
