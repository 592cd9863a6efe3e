//! `berth run`: apply one container on this host, then replace berth with the
//! engine (`docker run` / `podman run`) started with the resolved arguments.
//!
//! What must stay true:
//! - the container starts only when the apply succeeded: an unmet need exits 1
//!   with the explanation, a provider failure exits 3 (rolled back), and in
//!   both cases the engine is never run;
//! - no shell: the engine gets an argv through `exec`, so a value can never be
//!   re-parsed; `--dry-run` prints that same argv as one shlex-quoted line that
//!   `shlex::split` turns back into exactly it;
//! - the checks that need no state (an image to run, the engine on PATH) come
//!   before the apply, so a typo does not leave resources held for a container
//!   that was never going to start.
//!
//! After `exec` the engine's exit status is berth's. Holdings stay recorded
//! when the container stops (with `--rm` too): `berth release CONTAINER` frees
//! them, as after `berth apply`.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use berth_engine::edits;
use berth_engine::emit::docker;
use berth_specs::load::{load_file, LoadOptions};
use berth_specs::validate::resolve_program;
use berth_specs::{Code, Document};

use crate::args::{Engine, RunArgs};
use crate::cmd::apply;
use crate::exit;

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let engine = match args.engine {
        Engine::Docker => "docker",
        Engine::Podman => "podman",
    };
    if !args.dry_run && resolve_program(Path::new(""), engine).is_none() {
        eprintln!(
            "{:?}",
            miette::miette!(
                code = Code::RunNoEngine.as_str(),
                help = "install it, pick the other one with --engine, or use --dry-run to see the command",
                "`{engine}` is not on PATH; nothing was applied"
            )
        );
        return Ok(exit::INVALID);
    }
    if let Some(image) = &args.image {
        // The loader holds a spec's `image:` to the same rule: a word that
        // starts with `-` would be read by the engine as one of its options.
        if image.is_empty()
            || image.starts_with('-')
            || image.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            eprintln!(
                "{:?}",
                miette::miette!(
                    code = Code::RunBadImage.as_str(),
                    help = "an image reference like `example/web:1.4`: no spaces, not starting with `-`",
                    "--image {image:?} is not an image reference; nothing was applied"
                )
            );
            return Ok(exit::INVALID);
        }
    }
    if args.image.is_none() && spec_lacks_image(&args.spec) {
        eprintln!(
            "{:?}",
            miette::miette!(
                code = Code::CliNoImage.as_str(),
                help = "add `image:` to the spec, or give --image",
                "{}: the container names no image to run; nothing was applied",
                crate::render::path(&args.spec)
            )
        );
        return Ok(exit::INVALID);
    }

    let done = match apply::apply_for_run(&args.host.host, &args.spec, args.quiet)? {
        Ok(done) => done,
        Err(code) => return Ok(code),
    };
    let spec = done
        .specs
        .first()
        .ok_or_else(|| anyhow::anyhow!("{}: no container spec", args.spec.display()))?;
    let plan = done
        .plan
        .container(&spec.container)
        .ok_or_else(|| anyhow::anyhow!("the plan has no container `{}`", spec.container))?;
    let edits = edits::resolve(plan, spec)?;
    // A CDI device's container path cannot be passed to the engine: say so,
    // as `--emit docker` does, rather than drop it silently.
    crate::report::print_notes(&spec.container, &edits.cdi_path_notes());
    let image = match args.image.clone().or_else(|| edits.image.clone()) {
        Some(i) => i,
        // Checked before applying; reached only if the spec changed meanwhile.
        None => anyhow::bail!("container `{}` names no image to run", spec.container),
    };

    let mut argv = vec![engine.to_string(), "run".to_string()];
    if args.rm {
        argv.push("--rm".into());
    }
    if args.detach {
        argv.push("-d".into());
    }
    argv.extend(docker::args_for(
        &edits,
        match args.engine {
            Engine::Docker => docker::Flavor::Docker,
            Engine::Podman => docker::Flavor::Podman,
        },
    ));
    argv.push(image);
    argv.extend(args.extra.iter().cloned());

    if args.dry_run {
        println!("{}", docker::quote_line(&argv));
        return Ok(exit::OK);
    }
    if !args.quiet {
        eprintln!(
            "berth: starting {}",
            crate::render::escape(&docker::quote_line(&argv))
        );
    }
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // exec returns only on failure; the engine was found on PATH just before.
    let err = Command::new(&argv[0]).args(&argv[1..]).exec();
    eprintln!(
        "{:?}",
        miette::miette!(
            code = Code::RunExec.as_str(),
            help = format!(
                "the resources stay held: start it by hand, or free them with `berth release {}`",
                spec.container
            ),
            "cannot start `{engine}`: {err}"
        )
    );
    Ok(exit::INVALID)
}

/// Whether the spec file loads to a container without `image:`. Problems with
/// the file are left to the apply, which reports them properly.
fn spec_lacks_image(path: &Path) -> bool {
    let loaded = load_file(path, &LoadOptions::default());
    loaded
        .documents
        .iter()
        .any(|d| matches!(d, Document::Need(n) if n.image.is_none()))
}
