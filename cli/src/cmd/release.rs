//! `berth release`: free what containers hold, release what providers made once
//! nobody uses it, retry earlier failed releases. Exit 0 done, 1 invalid input
//! or unusable state, 3 a provider release failed (kept pending, retried by the
//! next release).
//!
//! `--forget KIND/NAME` is the way out of a pending release that can never
//! succeed (the resource is already gone, the provider cannot run): it drops
//! the record without running anything, all named ones or none, and says so.

use berth_engine::state::State;
use berth_engine::{apply, store};
use berth_specs::{Code, HostManifest};

use crate::args::{Format, ReleaseArgs};
use crate::exit;
use crate::inputs;
use crate::out::outln;
use crate::provision::CliProvisioner;
use crate::render::escape;
use crate::report::{release_lines, report_store, Invalid};

pub fn run(args: ReleaseArgs) -> anyhow::Result<u8> {
    // A name given twice is released once: the second would only warn that it
    // holds nothing, about what this very command just freed.
    let mut seen = std::collections::HashSet::new();
    let containers: Vec<String> = args
        .containers
        .iter()
        .filter(|c| seen.insert(c.as_str()))
        .cloned()
        .collect();
    // Names reach the state, provider environments and the terminal: hold
    // them to the format's rule before anything is read or locked.
    let bad: Vec<&String> = containers
        .iter()
        .filter(|c| !berth_specs::valid_container_name(c))
        .collect();
    if !bad.is_empty() {
        for c in bad {
            crate::render::Problem {
                code: berth_specs::Code::CliBadContainerName,
                message: format!(
                    "`{}` is not a container name; nothing was released",
                    escape(c)
                ),
                help: Some(
                    "a container name is `[a-z0-9][a-z0-9_.-]{0,62}`, as in a need spec's `container:`"
                        .to_string(),
                ),
                file: None,
            }
            .print();
        }
        return Ok(exit::USAGE);
    }
    let host = match inputs::load(&args.host, &[], Invalid::HUMAN) {
        Ok((h, _)) => h,
        Err(code) => return Ok(code),
    };
    // Releasing what nobody holds must not create a state file or its lock
    // (a typo on a fresh host would otherwise leave both behind). A release
    // racing this check is harmless: the names held nothing either way.
    // Only the slice of these containers is read (docs/state.md).
    let scope = store::Scope::of_containers(&containers);
    let state = match store::load_readonly_for(&host, &scope) {
        Ok(s) => s,
        // A corrupt file is reported by the locked load, which keeps a copy
        // (docs/state.md), as apply does; the read-only load writes nothing.
        Err(store::StoreError::Corrupt { .. }) => match store::lock_for(&host, &scope) {
            Err(e) => return Ok(report_store(&e, Format::Human)),
            // Repaired in between: go on with what the lock read.
            Ok(l) => l.state().clone(),
        },
        Err(e) => return Ok(report_store(&e, Format::Human)),
    };
    let state = if args.forget.is_empty() {
        state
    } else {
        match forget(&host, &args.forget) {
            Ok(s) => s,
            Err(code) => return Ok(code),
        }
    };
    if containers.is_empty() {
        return Ok(exit::OK);
    }
    if !apply::release_would_act(&state, &containers, args.purge) {
        for c in &containers {
            eprintln!(
                "nothing held by `{c}` on host `{}`; the state is unchanged",
                host.host
            );
        }
        return Ok(exit::OK);
    }
    let mut locked = match store::lock_for(&host, &scope) {
        Ok(l) => l,
        Err(e) => return Ok(report_store(&e, Format::Human)),
    };
    let mut prov = CliProvisioner::new(&host, args.quiet);
    let out = match apply::release(&host, &containers, args.purge, &mut locked, &mut prov) {
        Ok(o) => o,
        Err(e) => return Ok(report_store(&e, Format::Human)),
    };
    drop(locked);
    for c in &out.released {
        outln!("released container `{c}`");
    }
    for c in &out.not_held {
        eprintln!(
            "warning: container `{c}` holds nothing on host `{}`",
            host.host
        );
    }
    for k in &out.purged {
        outln!("purged reservation {k}");
    }
    for l in release_lines(&out.provider_releases) {
        outln!("{l}");
    }
    Ok(if out.any_failed() {
        exit::PROVIDER
    } else {
        exit::OK
    })
}

/// `--forget`: drops the named pending releases under the lock, all or none;
/// returns the state after it, or the exit code when one names no pending
/// release (nothing is changed then).
fn forget(host: &HostManifest, forget: &[String]) -> Result<State, u8> {
    let mut locked = match store::lock(host) {
        Ok(l) => l,
        Err(e) => return Err(report_store(&e, Format::Human)),
    };
    let mut state = locked.state().clone();
    let pending = |s: &State| -> String {
        if s.pending_releases.is_empty() {
            return "no release is pending on this host".to_string();
        }
        let list: Vec<String> = s
            .pending_releases
            .iter()
            .map(|p| format!("{}/{}", p.kind, p.name))
            .collect();
        format!("pending: {}", escape(&list.join(", ")))
    };
    let mut forgotten = Vec::new();
    for arg in forget {
        // The kind may hold a `/` itself (`example.com/gpu`); a name never does.
        let Some((kind, name)) = arg
            .rsplit_once('/')
            .filter(|(k, n)| !k.is_empty() && !n.is_empty())
        else {
            crate::render::Problem {
                code: Code::CliNotPending,
                message: format!("`{}` is not KIND/NAME; nothing was forgotten", escape(arg)),
                help: Some(format!(
                    "write it as `berth status` lists it, like `volume/data`; {}",
                    pending(&state)
                )),
                file: None,
            }
            .print();
            return Err(exit::USAGE);
        };
        let before = state.pending_releases.len();
        let mut dropped = Vec::new();
        state.pending_releases.retain(|p| {
            let hit = p.kind.to_string() == kind && p.name == name;
            if hit {
                dropped.push(p.run.join(" "));
            }
            !hit
        });
        if state.pending_releases.len() == before {
            crate::render::Problem {
                code: Code::CliNotPending,
                message: format!(
                    "no release of {} `{}` is pending on host `{}`; nothing was forgotten",
                    escape(kind),
                    escape(name),
                    host.host
                ),
                help: Some(pending(locked.state())),
                file: None,
            }
            .print();
            return Err(exit::INVALID);
        }
        forgotten.extend(dropped.into_iter().map(|run| (kind, name, run)));
    }
    if let Err(e) = locked.write(&state) {
        return Err(report_store(&e, Format::Human));
    }
    drop(locked);
    for (kind, name, run) in forgotten {
        outln!(
            "forgot pending release of {} `{}` (by {}); its provider was not run",
            escape(kind),
            escape(name),
            escape(&run)
        );
    }
    Ok(state)
}
