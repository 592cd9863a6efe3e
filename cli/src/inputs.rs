//! The resolve step of host-bound commands: load the host manifest and need
//! specs through [`berth_specs::discover::load_inputs`] and report what is
//! wrong with them in the command's format. The rules (one host manifest,
//! unique containers) are the library's; this module only prints. Commands
//! that only look (`status`, `hosts show`, `plan`) also read the host's state
//! here, the one way.

use std::path::PathBuf;

use berth_engine::plan::Plan;
use berth_engine::solve::solve;
use berth_engine::state::State;
use berth_engine::store;
use berth_specs::diag::{Capped, MAX_PER_RUN};
use berth_specs::discover;
use berth_specs::load::Loaded;
use berth_specs::{HostManifest, NeedSpec};

use crate::args::{Format, HostArg};
use crate::exit;
use crate::report::{report_state, Invalid};

/// The host manifest and the specs, or `Err(1)` once their diagnostics were
/// reported as `invalid` says. Warnings of valid input go to stderr whatever
/// the format.
pub fn load(
    host: &HostArg,
    spec_paths: &[PathBuf],
    invalid: Invalid,
) -> Result<(HostManifest, Vec<NeedSpec>), u8> {
    load_with(host, spec_paths, Vec::new(), false, invalid)
}

/// Like [`load`], with need specs loaded elsewhere too (`--from-image`: the
/// image label, named by its display name), after the files
/// ([`discover::load_inputs_with`]); with `walk`, folders among the specs are
/// walked ([`discover::load_inputs_walked`], for `plan`).
pub fn load_with(
    host_arg: &HostArg,
    spec_paths: &[PathBuf],
    extra: Vec<(PathBuf, Loaded)>,
    walk: bool,
    invalid: Invalid,
) -> Result<(HostManifest, Vec<NeedSpec>), u8> {
    let host_path = host_arg.host.as_path();
    let inputs = if walk {
        discover::load_inputs_walked(host_path, spec_paths, extra)
    } else {
        discover::load_inputs_with(host_path, spec_paths, extra)
    };
    let failed = inputs.failed();
    let mut list = Capped::run(MAX_PER_RUN);
    list.absorb_files(inputs.diagnostics, &inputs.omitted);
    if failed && invalid.format == Format::Json {
        invalid.report_capped(&list);
        return Err(exit::INVALID);
    }
    Invalid::HUMAN.report_capped(&list);
    match inputs.host {
        Some(mut h) if !failed => {
            // `--state-dir` comes first (store::state_location): the state
            // store reads the folder from the manifest it is given, and
            // $BERTH_STATE_DIR, which would come before the manifest's
            // folder, no longer applies to this process. Nothing else runs
            // yet, so changing the environment here races with no thread.
            crate::state_origin::remember(
                berth_engine::store::state_origin(host_arg.state_dir.as_deref(), &h),
                host_path,
            );
            if let Some(dir) = &host_arg.state_dir {
                h.state_dir = Some(dir.clone());
                std::env::remove_var("BERTH_STATE_DIR");
            }
            Ok((h, inputs.specs))
        }
        _ => Err(exit::INVALID),
    }
}

/// The host's state read without the lock and without creating anything, or
/// `Err(code)` once the store's error was reported as `invalid` says.
pub fn state(host: &HostManifest, invalid: Invalid) -> Result<State, u8> {
    store::load_readonly(host).map_err(|e| report_state(&e, host, invalid))
}

/// `specs` solved against the host's state read without the lock (`plan`,
/// `run --dry-run`): against the slice they can touch (the one `apply`
/// locks: [`store::Scope::of_specs`]), at a cost that follows the specs, not
/// the host; and when they cannot all run, again against the whole state,
/// whose explanations can name what the slice leaves out (the released
/// names whose reservations keep a pool full). Returns the state the plan
/// was solved against.
pub fn solve_readonly(
    host: &HostManifest,
    specs: &[&NeedSpec],
    invalid: Invalid,
) -> Result<(State, Plan), u8> {
    let slice = store::load_readonly_for(host, &store::Scope::of_specs(specs))
        .map_err(|e| report_state(&e, host, invalid))?;
    let plan = solve(host, &slice, specs);
    if plan.satisfied {
        return Ok((slice, plan));
    }
    solve_whole(host, specs).map_err(|e| report_state(&e, host, invalid))
}

/// `specs` solved against the whole state read without the lock: the
/// explanation of specs that cannot run on their slice ([`solve_readonly`],
/// and `apply` once it failed on its slice).
pub fn solve_whole(
    host: &HostManifest,
    specs: &[&NeedSpec],
) -> Result<(State, Plan), store::StoreError> {
    let whole = store::load_readonly(host)?;
    let plan = solve(host, &whole, specs);
    Ok((whole, plan))
}

/// The host manifest (no specs) and its state, as [`load`] and [`state`].
pub fn load_host_and_state(host: &HostArg, invalid: Invalid) -> Result<(HostManifest, State), u8> {
    let (h, _) = load(host, &[], invalid)?;
    let state = state(&h, invalid)?;
    Ok((h, state))
}
