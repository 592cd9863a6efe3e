//! Why a need is unmet, as data.
//!
//! The solver records, for every unmet need, each candidate it considered and
//! the reason it was rejected, plus the need's location. It never formats a
//! sentence: the CLI renders these structs (`cli/src/explain_render.rs`), fleet
//! placement counts them by [`Reason::code`], and `--format json` serializes them.
//! Adding a variant is fine; renaming a code breaks users who match on it.

use std::path::PathBuf;

use berth_specs::{Kind, Protocol, Span};
use serde::Serialize;

/// One need that cannot be met, with every reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmet {
    /// The container that needs it.
    pub container: String,
    /// Kind of the need.
    pub kind: Kind,
    /// Resource name of the need.
    pub name: String,
    /// The need spec file.
    pub file: PathBuf,
    /// The need's entry in that file.
    pub span: Span,
    /// Index of the need in its spec's `needs`.
    pub need: usize,
    /// Every rejection, candidate by candidate, in the order considered.
    pub reasons: Vec<Reason>,
}

/// Where a candidate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// An entry of the host manifest's `provides`.
    Manifest,
    /// A resource a provider made earlier, recorded in the state.
    State,
    /// An entry of the host manifest's `providers`.
    Provider,
}

/// A candidate the solver considered for a need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// Its name as written (`webserver`, `"*"`, a provider's pattern).
    pub provide: String,
    /// Where it came from.
    pub origin: Origin,
    /// Its entry in the host manifest (none for state records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
}

/// Who holds an exclusive resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// The holding container.
    pub container: String,
    /// True when the holder is another container of the same plan (it was
    /// matched first); false when the state says it holds it.
    pub in_plan: bool,
}

/// Why a candidate was rejected, or why no candidate exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Reason {
    /// No provide of this kind has this name or a pattern matching it.
    NotProvided,
    /// No provider's kind and pattern cover the need (so no gap can be filled).
    NoProvider {
        /// Kind of the need.
        kind: Kind,
        /// Resource name.
        name: String,
        /// The host's providers of this kind, none of whose patterns covers
        /// the name, in file order (empty when the host has none).
        considered: Vec<Candidate>,
    },
    /// A read-write need against a provide the host lends read-only.
    ReadOnlyConflict {
        /// The provide.
        candidate: Candidate,
    },
    /// The provide's `allow` list names neither the container nor its image.
    NotAllowed {
        /// The provide.
        candidate: Candidate,
        /// The `allow` list as written.
        allow: Vec<String>,
    },
    /// The address (or the whole pool) lies outside the need's `prefix`.
    OutsidePrefix {
        /// The provide.
        candidate: Candidate,
        /// The need's prefix.
        prefix: String,
        /// The address or pool offered.
        offered: String,
        /// When the name holds a reservation: the pool it came from (`offered`
        /// is then the reserved address, the name's only candidate). Boxed so
        /// that `Reason`, the solver's `Err` type, stays small.
        #[serde(skip_serializing_if = "Option::is_none")]
        reserved_from: Option<Box<String>>,
    },
    /// An IPv4 value offered to an IPv6 need or the reverse.
    FamilyMismatch {
        /// The provide.
        candidate: Candidate,
        /// The address or pool offered.
        offered: String,
    },
    /// A port provide of the other protocol.
    ProtocolMismatch {
        /// The provide.
        candidate: Candidate,
        /// What the need asks for.
        wanted: Protocol,
        /// What the provide offers.
        offered: Protocol,
    },
    /// An exclusive resource another container holds.
    HeldBy {
        /// The provide (or reserved name).
        candidate: Candidate,
        /// The holder.
        holder: Holder,
    },
    /// A pool with no free value left (for this need's prefix, if any).
    PoolExhausted {
        /// The pool provide.
        candidate: Candidate,
        /// The pool as written (`2001:db8::/120`, `8000-8099`).
        pool: String,
        /// True when values are free on the host but other containers of this
        /// plan took them.
        in_plan: bool,
    },
    /// The address's network cannot be met for this container.
    NetworkUnmet {
        /// The address provide.
        candidate: Candidate,
        /// The network the address lives on.
        network: String,
        /// Why the network cannot be met.
        reasons: Vec<Reason>,
    },
    /// An engine-reserved network name (`host`, `none`, `bridge`, ...,
    /// `container:X`, `ns:PATH`): only a provide naming it exactly may serve
    /// it, never a pattern or a provider.
    ReservedNetwork {
        /// The network name.
        name: String,
    },
    /// The name's pool reservation was released by another container, or by
    /// this container applying another spec: it goes back only to the spec
    /// that made it (or with `--replace`).
    ReservedFor {
        /// The reservation.
        candidate: Candidate,
        /// The container that held it last.
        container: String,
        /// True when that container is this one, with a changed spec.
        changed_spec: bool,
    },
    /// The name has a pool reservation from a pool the manifest no longer has.
    ReservationStale {
        /// The pool recorded with the reservation.
        pool: String,
        /// The reserved value.
        value: String,
    },
}

impl Reason {
    /// A stable kebab-case code for the reason (what fleet placement counts).
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NotProvided => "not-provided",
            Reason::NoProvider { .. } => "no-provider",
            Reason::ReadOnlyConflict { .. } => "read-only-conflict",
            Reason::NotAllowed { .. } => "not-allowed",
            Reason::OutsidePrefix { .. } => "outside-prefix",
            Reason::FamilyMismatch { .. } => "family-mismatch",
            Reason::ProtocolMismatch { .. } => "protocol-mismatch",
            Reason::HeldBy { .. } => "held-by",
            Reason::PoolExhausted { .. } => "pool-exhausted",
            Reason::NetworkUnmet { .. } => "network-unmet",
            Reason::ReservationStale { .. } => "reservation-stale",
            Reason::ReservedNetwork { .. } => "reserved-network",
            Reason::ReservedFor { .. } => "reserved-for",
        }
    }

    /// The candidate the reason is about, if it is about one.
    pub fn candidate(&self) -> Option<&Candidate> {
        match self {
            Reason::ReadOnlyConflict { candidate }
            | Reason::NotAllowed { candidate, .. }
            | Reason::OutsidePrefix { candidate, .. }
            | Reason::FamilyMismatch { candidate, .. }
            | Reason::ProtocolMismatch { candidate, .. }
            | Reason::HeldBy { candidate, .. }
            | Reason::PoolExhausted { candidate, .. }
            | Reason::NetworkUnmet { candidate, .. }
            | Reason::ReservedFor { candidate, .. } => Some(candidate),
            Reason::NotProvided
            | Reason::NoProvider { .. }
            | Reason::ReservationStale { .. }
            | Reason::ReservedNetwork { .. } => None,
        }
    }
}
