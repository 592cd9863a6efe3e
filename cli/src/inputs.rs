//! The resolve step of host-bound commands: load the host manifest and need
//! specs through [`berth_specs::discover::load_inputs`] and report what is
//! wrong with them in the command's format. The rules (one host manifest,
//! unique containers) are the library's; this module only prints.

use std::path::{Path, PathBuf};

use berth_specs::discover;
use berth_specs::{HostManifest, NeedSpec};

use crate::args::Format;
use crate::exit;
use crate::report::Invalid;

/// The host manifest and the specs, or `Err(1)` once their diagnostics were
/// reported as `invalid` says. Warnings of valid input go to stderr whatever
/// the format.
pub fn load(
    host_path: &Path,
    spec_paths: &[PathBuf],
    invalid: Invalid,
) -> Result<(HostManifest, Vec<NeedSpec>), u8> {
    let inputs = discover::load_inputs(host_path, spec_paths);
    let failed = inputs.failed();
    if failed && invalid.format == Format::Json {
        invalid.report(&inputs.diagnostics, &[]);
        return Err(exit::INVALID);
    }
    Invalid::HUMAN.report(&inputs.diagnostics, &[]);
    match inputs.host {
        Some(h) if !failed => Ok((h, inputs.specs)),
        _ => Err(exit::INVALID),
    }
}
