//! `berth release`: free what containers hold, release what providers made once
//! nobody uses it, retry earlier failed releases. Exit 0 done, 1 invalid input
//! or unusable state, 3 a provider release failed (kept pending, retried by the
//! next release).

use berth_engine::{apply, store};

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
    let host = match inputs::load(&args.host.host, &[], Invalid::HUMAN) {
        Ok((h, _)) => h,
        Err(code) => return Ok(code),
    };
    // Releasing what nobody holds must not create a state file or its lock
    // (a typo on a fresh host would otherwise leave both behind). A release
    // racing this check is harmless: the names held nothing either way.
    let state = match store::load_readonly(&host) {
        Ok(s) => s,
        // A corrupt file is reported by the locked load, which keeps a copy
        // (docs/state.md), as apply does; the read-only load writes nothing.
        Err(store::StoreError::Corrupt { .. }) => match store::lock(&host) {
            Err(e) => return Ok(report_store(&e, Format::Human)),
            // Repaired in between: go on with what the lock read.
            Ok(l) => l.state().clone(),
        },
        Err(e) => return Ok(report_store(&e, Format::Human)),
    };
    if !apply::release_would_act(&state, &containers, args.purge) {
        for c in &containers {
            eprintln!(
                "nothing held by `{c}` on host `{}`; the state is unchanged",
                host.host
            );
        }
        return Ok(exit::OK);
    }
    let mut locked = match store::lock(&host) {
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
