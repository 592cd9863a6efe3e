//! `berth-specs`: berth's two file formats.
//!
//! A **need spec** (`berth.yaml` beside a Dockerfile) says which named resources a
//! container needs; a **host manifest** (`host.yaml`) says what those names mean on
//! one host and which provider scripts can make missing ones. This crate turns
//! bytes into the typed [`model`], collecting every problem as a located
//! [`diag::Diagnostic`] with a stable code instead of stopping at the first.
//!
//! All YAML parsing lives in [`yaml`], so the parser can be replaced in one place;
//! JSON is read by [`json`] into the same tree.
#![warn(missing_docs)]

pub mod diag;
pub mod discover;
pub mod engine_net;
pub mod json;
pub mod kinds;
pub mod label;
pub mod load;
pub mod model;
pub mod read;
pub mod reserved;
pub mod schema;
pub mod usable;
pub mod validate;
pub mod yaml;

pub use diag::{Code, Diagnostic, Severity};
pub use model::*;
