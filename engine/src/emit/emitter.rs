//! The one interface every run-configuration format implements, the way
//! ripgrep's printers implement one `Sink`: [`Emitter`] says what a format is
//! called, what its files end with, whether it needs an image, and renders the
//! edits of a plan into text plus the [`Note`]s for what it cannot express.
//!
//! [`render`] is the one way from a plan to emitted text: it resolves each
//! container's edits against its spec and hands them to the emitter, so
//! `apply`, `run` and `place --out` cannot drift apart. Which emitters exist is
//! decided in [`crate::emit::registry`], never by a caller matching on names.
//!
//! Kept apart from `emit.rs` (which holds [`Note`] and [`EmitError`], plain data
//! that `edits` also speaks) so that no module imports one that imports it back.

use std::fmt;

use berth_specs::NeedSpec;

use crate::edits::{self, EditError, Edits};
use crate::emit::{EmitError, Note};
use crate::plan::Plan;

/// What an emitter is given: a plan whose containers are all satisfied and
/// whose provider steps have run, and each container's edits, in plan order.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The plan (the JSON emitter prints it whole).
    pub plan: &'a Plan,
    /// One per container of the plan, in the same order.
    pub edits: &'a [Edits],
}

/// A [`Note`] and the container it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerNote {
    /// The container.
    pub container: String,
    /// What was not emitted and why.
    pub note: Note,
}

/// What an emitter produced: the configuration (for stdout or a file) and the
/// notes (for stderr), in container order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// The configuration text, ending with a newline.
    pub text: String,
    /// What the format could not express.
    pub notes: Vec<ContainerNote>,
}

impl Output {
    /// Adds `notes` about `container`.
    pub fn note_all(&mut self, container: &str, notes: Vec<Note>) {
        self.notes
            .extend(notes.into_iter().map(|note| ContainerNote {
                container: container.to_string(),
                note,
            }));
    }
}

/// One run-configuration format.
///
/// Contract: [`Emitter::render`] translates edits and nothing else (no I/O
/// beyond what the format needs to read on this host, like LXC's device
/// numbers); it never drops an edit silently: what the format cannot say comes
/// back as a note. Its text is the same bytes for the same input.
pub trait Emitter: fmt::Debug + Sync {
    /// The `--emit` value (`docker`).
    fn name(&self) -> &'static str;
    /// One line for `--help`.
    fn about(&self) -> &'static str;
    /// What `place --out` files of this format end with, without the dot
    /// (`sh`, `compose.yaml`).
    fn extension(&self) -> &'static str;
    /// Whether every container must name an image (a `docker run` line ends
    /// with one). Checked before anything is applied.
    fn needs_image(&self) -> bool {
        false
    }
    /// Whether a binding a CDI name stands for is passed by that name instead
    /// of its edits (see [`edits::resolve_with`]); `--emit docker --cdi`.
    fn cdi_names(&self) -> bool {
        false
    }
    /// The configuration for every container of `input`.
    fn render(&self, input: &Input<'_>) -> Result<Output, EmitError>;
}

/// Why a plan could not be emitted.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The plan names a container no spec was given for.
    #[error("no spec for container `{container}`")]
    NoSpec {
        /// The container.
        container: String,
    },
    /// A container's bindings do not make edits (unsatisfied, pending step).
    #[error(transparent)]
    Edits(#[from] EditError),
    /// The format cannot be written for these edits (no image).
    #[error(transparent)]
    Emit(#[from] EmitError),
}

/// Resolves the edits of every container of `plan` (each against its spec in
/// `specs`, matched by name) and renders them with `emitter`.
pub fn render(
    emitter: &dyn Emitter,
    plan: &Plan,
    specs: &[&NeedSpec],
) -> Result<Output, RenderError> {
    let mut all = Vec::with_capacity(plan.containers.len());
    for c in &plan.containers {
        let spec = specs
            .iter()
            .find(|s| s.container == c.container)
            .ok_or_else(|| RenderError::NoSpec {
                container: c.container.clone(),
            })?;
        all.push(edits::resolve_with(c, spec, emitter.cdi_names())?);
    }
    Ok(emitter.render(&Input { plan, edits: &all })?)
}
