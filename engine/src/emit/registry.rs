//! Which emitters berth has, listed once. The CLI's `--emit` values, their
//! help lines and `place --out`'s file extensions all come from [`EMITTERS`];
//! adding a format is one file implementing [`Emitter`] plus one line here
//! (see `docs/emit.md`).

use crate::emit::emitter::Emitter;
use crate::emit::{compose, docker, json, lxc};

/// Every emitter, in the order `--help` lists them.
pub static EMITTERS: &[&dyn Emitter] =
    &[&docker::DOCKER, &compose::COMPOSE, &lxc::LXC, &json::Json];

/// The emitter called `name` (an `--emit` value).
pub fn by_name(name: &str) -> Option<&'static dyn Emitter> {
    EMITTERS.iter().copied().find(|e| e.name() == name)
}
