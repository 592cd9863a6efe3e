//! `berth label SPEC`, and reading a need spec back from an image
//! (`--from-image IMAGE` of plan, apply and run).
//!
//! The logic is the library's (`berth_specs::label` writes and loads the
//! label, `berth_providers::engine` asks the engine for it); this module only
//! prints, and reports an image without the label or an engine that cannot
//! answer with a stable code (`berth::label::missing`, `berth::image::inspect`).

use std::path::PathBuf;

use berth_providers::engine;
use berth_specs::diag::{Capped, MAX_PER_RUN};
use berth_specs::label::{self, LabelError};
use berth_specs::load::Loaded;
use berth_specs::read::{self, ReadError};
use berth_specs::{Code, HostManifest, NeedSpec};

use crate::args::{Engine, FromImage, HostArg, LabelArgs, LabelFormat};
use crate::exit;
use crate::inputs;
use crate::out::outln;
use crate::render;
use crate::report::Invalid;

pub fn run(args: LabelArgs) -> anyhow::Result<u8> {
    let text = match read::read_text(&args.spec, read::MAX_FILE_SIZE) {
        Ok(t) => t,
        Err(ReadError::Io(e)) => {
            render::Problem {
                code: Code::CliBadInput,
                message: format!("cannot read the spec: {e}"),
                help: None,
                file: Some(args.spec.clone()),
            }
            .print();
            return Ok(exit::INVALID);
        }
        Err(e) => {
            render::print_diagnostics(&[e.diagnostic(&args.spec)]);
            return Ok(exit::INVALID);
        }
    };
    let json = match label::spec_json(&args.spec, &text) {
        Ok(j) => j,
        Err(LabelError::Invalid(diags, omitted)) => {
            let mut list = Capped::run(MAX_PER_RUN);
            list.absorb(Some(&args.spec), diags, omitted);
            render::print_capped(&list);
            return Ok(exit::INVALID);
        }
        Err(e @ LabelError::NotOne(_)) => {
            render::Problem {
                code: Code::LabelNotOne,
                message: e.to_string(),
                help: Some("give a file with one `container:` document".into()),
                file: Some(args.spec.clone()),
            }
            .print();
            return Ok(exit::INVALID);
        }
    };
    match args.format {
        LabelFormat::Dockerfile => outln!("{}", label::dockerfile_line(&json)),
        LabelFormat::Args => outln!("{}", label::build_args(&json)),
    }
    Ok(exit::OK)
}

/// The engine's program name.
pub(crate) fn engine_name(e: Engine) -> &'static str {
    match e {
        Engine::Docker => "docker",
        Engine::Podman => "podman",
    }
}

/// Whether `image` could be an image reference (the loader holds a spec's
/// `image:` to the same rule): not empty, no `-` first (the engine would read
/// an option), no spaces or control characters.
pub(crate) fn image_ok(image: &str) -> bool {
    !image.is_empty()
        && !image.starts_with('-')
        && !image.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The need spec `image` carries, loaded under "image IMAGE, label
/// io.berth.spec". `Err(code)`: reported already.
pub(crate) fn image_spec(engine: Engine, image: &str) -> Result<(PathBuf, Loaded), u8> {
    if !image_ok(image) {
        render::Problem {
            code: Code::RunBadImage,
            message: format!(
                "--from-image {image:?} is not an image reference; nothing was applied"
            ),
            help: Some(
                "an image reference like `example/web:1.4`: no spaces, not starting with `-`"
                    .into(),
            ),
            file: None,
        }
        .print();
        return Err(exit::INVALID);
    }
    let name = engine_name(engine);
    let labels = match engine::image_labels(name, image) {
        Ok(l) => l,
        Err(e) => {
            render::Problem {
                code: Code::ImageInspect,
                message: format!("cannot read the labels of image `{image}`: {e}"),
                help: Some(format!(
                    "is the image there (`{name} image ls`), and does `{name}` reach its daemon? Pick the engine with --engine"
                )),
                file: None,
            }
            .print();
            return Err(exit::INVALID);
        }
    };
    let Some(text) = labels.get(label::LABEL_KEY) else {
        render::Problem {
            code: Code::LabelMissing,
            message: format!(
                "image `{image}` carries no `{}` label, so it states no needs",
                label::LABEL_KEY
            ),
            help: Some(
                "build it with the line `berth label berth.yaml` prints in its Dockerfile, or pass the spec file instead of --from-image"
                    .into(),
            ),
            file: None,
        }
        .print();
        return Err(exit::INVALID);
    };
    Ok((
        label::image_source_name(image),
        label::load_image_label(image, text),
    ))
}

/// Loads the host and the specs of `paths` plus, with `--from-image`, the
/// image's; each spec from the image runs that image (its `image:` is set to
/// it, so `allow: ["image:..."]` sees the image actually run).
pub(crate) fn load_with_image(
    host: &HostArg,
    paths: &[PathBuf],
    from: &FromImage,
    walk: bool,
    invalid: Invalid,
) -> Result<(HostManifest, Vec<NeedSpec>), u8> {
    let mut extra = Vec::new();
    if let Some(image) = &from.from_image {
        extra.push(image_spec(from.engine, image)?);
    }
    let (host, mut specs) = inputs::load_with(host, paths, extra, walk, invalid)?;
    if let Some(image) = &from.from_image {
        let name = label::image_source_name(image);
        for s in specs.iter_mut().filter(|s| s.source.path == name) {
            s.image = Some(image.clone());
        }
    }
    Ok((host, specs))
}
