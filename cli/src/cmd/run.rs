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
//! - `--dry-run` has no side effects: it solves against the state read without
//!   a lock (like `berth plan`), prints what apply would record and the
//!   provider steps it would run (stderr), and the argv (stdout) with every
//!   value known without running a provider; nothing is provided, recorded or
//!   started;
//! - the image berth starts is the one the solve saw: `--image` and
//!   `--from-image` replace the spec's `image:` before solving, so an
//!   `allow: ["image:..."]` list is checked against the image actually run;
//! - the checks that need no state (an image to run, the engine on PATH) come
//!   before the apply, so a typo does not leave resources held for a container
//!   that was never going to start.
//!
//! The argv is `ENGINE run [--rm] [-d] ENGINE-ARGS... BERTH-ARGS... IMAGE
//! EXTRA...`: the `--engine-arg` options (`--restart`, `-e`, `--user`) come
//! before berth's own, the container's command after the image.
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
use berth_specs::validate::resolve_program;
use berth_specs::{Code, NeedSpec};

use crate::args::{Engine, FromImage, RunArgs};
use crate::cmd::apply;
use crate::cmd::label::{engine_name, image_ok, load_with_image};
use crate::exit;
use crate::out::outln;
use crate::report::{self, Invalid};

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let engine = engine_name(args.engine);
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
        if !image_ok(image) {
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
    let paths: Vec<_> = args.spec.iter().cloned().collect();
    let from = FromImage {
        from_image: args.from_image.clone(),
        engine: args.engine,
    };
    let (host, mut specs) = match load_with_image(&args.host, &paths, &from, false, Invalid::HUMAN)
    {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    if specs.len() != 1 {
        crate::render::Problem {
            code: Code::CliBadInput,
            message: format!(
                "berth run starts one container, and this gives {}",
                specs.len()
            ),
            help: Some("give a spec file with one `container:` document".into()),
            file: args.spec.clone(),
        }
        .print();
        return Ok(exit::INVALID);
    }
    if let Some(image) = &args.image {
        specs[0].image = Some(image.clone());
    }
    if specs[0].image.is_none() {
        eprintln!(
            "{:?}",
            miette::miette!(
                code = Code::CliNoImage.as_str(),
                help = "add `image:` to the spec, or give --image",
                "{}: the container names no image to run; nothing was applied",
                crate::render::path(&specs[0].source.path)
            )
        );
        return Ok(exit::INVALID);
    }
    if args.dry_run {
        return dry_run(&args, engine, &host, &specs[0]);
    }

    let done = match apply::apply_loaded(
        host,
        specs,
        crate::args::Format::Human,
        args.quiet,
        berth_engine::apply::ApplyOptions {
            replace: args.replace,
            emitter: None,
        },
    )? {
        Ok(done) => done,
        Err(code) => return Ok(code),
    };
    let spec = done
        .specs
        .first()
        .ok_or_else(|| anyhow::anyhow!("no container spec"))?;
    let plan = done
        .plan
        .container(&spec.container)
        .ok_or_else(|| anyhow::anyhow!("the plan has no container `{}`", spec.container))?;
    let edits = edits::resolve_with(plan, spec, args.cdi)?;
    // A CDI device's container path cannot be passed to the engine: say so,
    // as `--emit docker` does, rather than drop it silently.
    report::print_notes(&spec.container, &edits.cdi_path_notes());
    let argv = engine_argv(&args, engine, &edits);

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

/// `ENGINE run [--rm] [-d] ENGINE-ARGS... BERTH-ARGS... IMAGE EXTRA...`.
fn engine_argv(args: &RunArgs, engine: &str, edits: &edits::Edits) -> Vec<String> {
    let mut argv = vec![engine.to_string(), "run".to_string()];
    if args.rm {
        argv.push("--rm".into());
    }
    if args.detach {
        argv.push("-d".into());
    }
    argv.extend(args.engine_args.iter().cloned());
    argv.extend(docker::args_for(
        edits,
        match args.engine {
            Engine::Docker => docker::Flavor::Docker,
            Engine::Podman => docker::Flavor::Podman,
        },
    ));
    // Checked before solving: the spec's image, or --image / --from-image.
    argv.push(edits.image.clone().unwrap_or_default());
    argv.extend(args.extra.iter().cloned());
    argv
}

/// `--dry-run`: the plan against the current state (read without a lock,
/// nothing written), what apply would record and run on stderr, the argv on
/// stdout.
fn dry_run(
    args: &RunArgs,
    engine: &str,
    host: &berth_specs::HostManifest,
    spec: &NeedSpec,
) -> anyhow::Result<u8> {
    let refs = [spec];
    let invalid = crate::report::Invalid {
        format: crate::args::Format::Human,
        key: "ok",
    };
    let (state, plan) = match crate::inputs::solve_readonly(host, &refs, invalid) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    if !plan.satisfied {
        crate::explain_render::report_unsatisfied(
            host,
            &refs,
            &plan,
            crate::args::Format::Human,
            Some(&state),
        );
        return Ok(exit::INVALID);
    }
    let container = plan
        .container(&spec.container)
        .ok_or_else(|| anyhow::anyhow!("the plan has no container `{}`", spec.container))?;
    let edits = edits::resolve_with(&with_placeholders(container), spec, args.cdi)?;
    report::print_notes(&spec.container, &edits.cdi_path_notes());
    let argv = engine_argv(args, engine, &edits);
    if !args.quiet {
        eprint!(
            "berth run --dry-run: nothing is provided, recorded or started. Apply would record:\n{}",
            crate::cmd::plan::human(host, &plan)
        );
        let pending: Vec<String> = container
            .bindings
            .iter()
            .filter(|b| b.pending())
            .map(|b| format!("{} `{}`", b.kind, b.name))
            .collect();
        if !pending.is_empty() {
            eprintln!(
                "made by a provider on apply (a placeholder or left out below): {}",
                pending.join(", ")
            );
        }
    }
    outln!("{}", docker::quote_line(&argv));
    Ok(exit::OK)
}

/// The container plan with what providers would make stood in for: a network
/// is known by its name (`--network NAME`), a path by a placeholder that says
/// so; a value that no placeholder can stand for (an address or port a
/// provider hands out, a custom kind's edits) is left out of the line.
fn with_placeholders(
    plan: &berth_engine::plan::ContainerPlan,
) -> berth_engine::plan::ContainerPlan {
    let mut plan = plan.clone();
    plan.bindings.retain_mut(|b| {
        if !b.pending() {
            return true;
        }
        let placeholder = format!("<{} {} made by its provider on apply>", b.kind, b.name);
        match berth_specs::ProvideDetail::placeholder(&b.kind, &placeholder) {
            Some(detail) => {
                b.value = berth_engine::plan::BindingValue::of(detail);
                true
            }
            None => false,
        }
    });
    plan
}
