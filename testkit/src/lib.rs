//! `berth-testkit`: what berth's test crates share, in one dev-only crate
//! instead of copies and `#[path]` includes.
//!
//! - [`model`]: host manifests and need specs from inline YAML through the real
//!   loader, the seed example, the state `apply` would record for a plan;
//! - [`fleet`]: a small generated fleet as multi-document YAML text (load
//!   tests);
//! - [`genfleet`]: the big synthetic fleet of docs/performance.md (the
//!   `genfleet` example writes it, the placement benchmark loads it);
//! - [`gen`]: the random-problem generator: small fleets of hosts (exact names,
//!   patterns in file order, static addresses, IPv6 and IPv4 pools whose skips
//!   matter, prefixes, exclusive volumes, `allow` lists, ports, devices,
//!   providers, labels) with states holding and reserving values;
//! - [`oracle`]: an independent brute-force checker of the matching rules,
//!   written to be read (it enumerates every concrete value), against which the
//!   solver and placement are checked;
//! - [`runtime`]: whether a test needing real components may run, skip with
//!   its reason, or fail (under CI).
//!
//! Never a dependency of a shipped crate (`publish = false`).
#![warn(missing_docs)]

pub mod fleet;
pub mod gen;
pub mod genfleet;
pub mod model;
pub mod oracle;
pub mod runtime;
