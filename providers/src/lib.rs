//! `berth-providers`: runs provider executables under berth's provider protocol.
//!
//! A provider is any executable that makes a missing resource exist (`provide`),
//! takes it away (`release`) or says whether it is still there (`check`). berth
//! runs it with an argv (never a shell), a minimal environment and a JSON request
//! on stdin, and treats it as hostile: it may hang, fork children that outlive
//! it, crash, print garbage or print gigabytes.
//!
//! What must stay true:
//! - a call returns within its timeout plus a short kill grace, and when it
//!   returns no process of the provider's process group is left running;
//! - memory is bounded: stdout is capped ([`Limits::stdout_max`]) and stderr
//!   keeps only its tail ([`Limits::stderr_tail`]);
//! - a `provide` result is accepted only when it is one JSON object valid as a
//!   host-manifest entry of the requested kind (checked by
//!   [`berth_specs::load::provide_detail_from_json`], the loader's own rules).
//!
//! [`process`] is the bounded process runner; [`protocol`] builds requests and
//! interprets outputs; [`error`] is the typed failure; [`op`] names the
//! operation both of them speak of; [`engine`] asks docker or podman about
//! images and networks.
#![warn(missing_docs)]

pub mod engine;
pub mod error;
pub mod op;
pub mod process;
pub mod protocol;

pub use error::{Failure, ProviderError};
pub use op::Op;
pub use process::{Limits, RawOutput};
pub use protocol::{check, need_options, provide, release, Call, Provided};
