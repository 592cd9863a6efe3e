//! `berth-engine`: from loaded specs and a host manifest to a decision.
//!
//! - [`solve`]: matches needs to provides with an exact assignment across all
//!   containers of one plan, and explains every unmet need as data ([`explain`]).
//! - [`plan`]: the result of a solve: bindings, provider steps, unmet needs.
//! - [`edits`] and [`emit`]: bindings become neutral edits (mounts, network
//!   attachments, ports, devices, env); emitters translate edits to docker,
//!   compose, LXC or JSON, each implementing [`emit::emitter::Emitter`] and
//!   listed once in [`emit::registry`].
//! - [`pool`]: lowest-free allocation in address and port pools.
//! - [`state`] and [`store`]: what a host has handed out, persisted atomically
//!   under a lock; [`status_view`]: its readable JSON view.
//! - [`apply`]: solve, provision gaps through the [`apply::Provisioner`] trait,
//!   record, emit; all-or-nothing.
//! - [`place`]: fleet placement across many hosts.
//! - [`cdi`]: CDI specs for devices and custom kinds, for runtimes that
//!   resolve `vendor.tld/class=name`.
//! - [`export`]: a placed fleet as Kubernetes objects or Nomad HCL.
//! - [`threads`]: the thread pool the programs run parallel parts on.
#![warn(missing_docs)]

pub mod apply;
pub mod cdi;
pub mod edits;
pub mod emit;
pub mod explain;
pub mod export;
pub mod inventory;
pub mod place;
pub mod plan;
pub mod pool;
mod rules;
pub mod solve;
pub mod state;
pub mod status_view;
pub mod store;
pub mod threads;
