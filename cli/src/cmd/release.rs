//! `berth release`: free what containers hold, release what providers made once
//! nobody uses it, retry earlier failed releases. Exit 0 done, 1 invalid input
//! or unusable state, 3 a provider release failed (kept pending, retried by the
//! next release).

use berth_engine::{apply, store};

use crate::args::{Format, ReleaseArgs};
use crate::cmd::apply::{load_inputs, release_lines, report_store};
use crate::exit;
use crate::provision::CliProvisioner;

pub fn run(args: ReleaseArgs) -> anyhow::Result<u8> {
    let host = match load_inputs(&args.host.host, &[]) {
        Ok((h, _)) => h,
        Err(code) => return Ok(code),
    };
    let mut locked = match store::lock(&host) {
        Ok(l) => l,
        Err(e) => return Ok(report_store(&e, Format::Human)),
    };
    let mut prov = CliProvisioner::new(&host, args.quiet);
    let out = match apply::release(&host, &args.containers, args.purge, &mut locked, &mut prov) {
        Ok(o) => o,
        Err(e) => return Ok(report_store(&e, Format::Human)),
    };
    drop(locked);
    for c in &out.released {
        println!("released container `{c}`");
    }
    for c in &out.not_held {
        eprintln!(
            "warning: container `{c}` holds nothing on host `{}`",
            host.host
        );
    }
    for k in &out.purged {
        println!("purged reservation {k}");
    }
    for l in release_lines(&out.provider_releases) {
        println!("{l}");
    }
    Ok(if out.any_failed() {
        exit::PROVIDER
    } else {
        exit::OK
    })
}
