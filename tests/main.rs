//! End-to-end tests: the built `berth` binary against fixture folders and real
//! runtimes. One test binary (faster to link); one module per area.

mod util;

mod apply;
mod bundled;
mod check;
mod daily;
mod docker;
mod docs;
mod engines;
mod layering;
mod place;
mod plan;
mod runtime;
mod security;
mod state;
