//! The data berth keeps per host: who holds what, pool reservations, and what
//! providers returned. Pure data with serde; persistence (atomic writes under a
//! lock) is in [`crate::store`].
//!
//! Invariants the store and the solver maintain:
//! - an exclusive resource (a static exclusive provide, or one pool address or
//!   port) has at most one holder;
//! - a pool reservation ties a resource name to one value; it outlives the
//!   holding (stable addresses for DNS) until a purge;
//! - every resource a provider made is listed in `provided` until its `release`
//!   succeeded; a failed release moves it to `pending_releases`, never dropped.

use std::collections::BTreeMap;

use berth_specs::{Kind, ProvideDetail};
use serde::{Deserialize, Serialize};

/// Version of the state file format.
pub const STATE_VERSION: u32 = 1;

/// One host's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Format version ([`STATE_VERSION`]).
    pub berth_state: u32,
    /// The host this state belongs to.
    pub host: String,
    /// Container name -> what it holds.
    pub holdings: BTreeMap<String, ContainerHolding>,
    /// Pool reservations, keyed by [`ResourceKey`] display (`ipv6/webserver`).
    pub reservations: BTreeMap<String, Reservation>,
    /// Resources made by providers, keyed like reservations.
    pub provided: BTreeMap<String, ProvidedRecord>,
    /// Provider-made resources whose `release` failed: retried on next release.
    pub pending_releases: Vec<ProvidedRecord>,
}

impl State {
    /// An empty state for `host`.
    pub fn new(host: &str) -> State {
        State {
            berth_state: STATE_VERSION,
            host: host.to_string(),
            ..State::default()
        }
    }
}

/// `kind/name`, the key of reservations and provider records.
pub fn resource_key(kind: &Kind, name: &str) -> String {
    format!("{}/{}", kind.as_str(), name)
}

/// Where a binding's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BindingSource {
    /// A provide entry of the manifest (exact or pattern).
    Provides,
    /// An address or port pool.
    Pool,
    /// A provider script.
    Provider,
}

/// What one container holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerHolding {
    /// Digest of the need spec applied, so a changed spec is noticed.
    pub spec_digest: String,
    /// One entry per need (implied networks included).
    pub bindings: Vec<HeldBinding>,
}

/// One held resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldBinding {
    /// Kind.
    pub kind: Kind,
    /// Resource name as needed.
    pub name: String,
    /// Where it came from.
    pub source: BindingSource,
    /// The serving provide's name as written in the manifest (`webserver`,
    /// `*`), or the provider's pattern; identifies a static exclusive provide.
    pub provide: String,
    /// Whether this holding excludes other holders.
    pub exclusive: bool,
    /// The resolved value in host-manifest form (`{"address": ...}`).
    pub value: serde_json::Value,
}

/// A pool reservation: `name` keeps `value` until purged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reservation {
    /// Kind.
    pub kind: Kind,
    /// Resource name.
    pub name: String,
    /// The pool it came from, as written (`1111::/120`, `8000-8999`).
    pub pool: String,
    /// The address or port, as a string.
    pub value: String,
    /// Current holder, if held.
    pub holder: Option<String>,
    /// The container that held it last, kept after release so that a later
    /// `release --purge` of that container still finds its reservations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_holder: Option<String>,
}

/// A resource a provider made.
///
/// Its value is kept twice: as the provider printed it (`provided`, what the
/// state file holds and what the provider gets back on release and check) and
/// typed (`detail`), parsed once, when the result arrives or the state is
/// read, so that solving never parses it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawProvidedRecord")]
pub struct ProvidedRecord {
    /// Kind.
    pub kind: Kind,
    /// Resource name.
    pub name: String,
    /// The provider's argv as declared.
    pub run: Vec<String>,
    /// What `provide` printed (validated manifest-entry form).
    pub provided: serde_json::Value,
    /// Containers using it; released when this becomes empty.
    pub users: Vec<String>,
    /// `provided`, typed; `None` while the provider has not answered (an
    /// intent) or when the value is not of its kind's form (it serves
    /// nothing; `berth check` and apply report it).
    #[serde(skip)]
    pub detail: Option<ProvideDetail>,
}

impl ProvidedRecord {
    /// A record of what a provider printed, typed once here.
    pub fn new(
        kind: Kind,
        name: String,
        run: Vec<String>,
        provided: serde_json::Value,
        users: Vec<String>,
    ) -> ProvidedRecord {
        // Validated exactly like a manifest entry, as when it arrived: a
        // record edited into something else serves nothing.
        let detail = match provided {
            serde_json::Value::Null => None,
            _ => berth_specs::load::provide_detail_from_json(&kind, &name, &provided).ok(),
        };
        ProvidedRecord::typed(kind, name, run, provided, users, detail)
    }

    /// A record whose value the caller already typed (`detail` must be
    /// `provided` read as a provide of `kind`).
    pub fn typed(
        kind: Kind,
        name: String,
        run: Vec<String>,
        provided: serde_json::Value,
        users: Vec<String>,
        detail: Option<ProvideDetail>,
    ) -> ProvidedRecord {
        ProvidedRecord {
            kind,
            name,
            run,
            provided,
            users,
            detail,
        }
    }
}

/// [`ProvidedRecord`] as the state file holds it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvidedRecord {
    kind: Kind,
    name: String,
    run: Vec<String>,
    provided: serde_json::Value,
    users: Vec<String>,
}

impl From<RawProvidedRecord> for ProvidedRecord {
    fn from(r: RawProvidedRecord) -> ProvidedRecord {
        ProvidedRecord::new(r.kind, r.name, r.run, r.provided, r.users)
    }
}
