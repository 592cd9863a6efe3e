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

use berth_specs::{Kind, NeedSpec, ProvideDetail};
use serde::{Deserialize, Serialize};

mod value;
pub use value::HeldValue;

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
    /// For a state loaded as a slice ([`crate::store::Scope`]): per kind, the
    /// address or port values the whole store takes (every reservation of
    /// the kind, every holding of it that is not a pool's), read by an
    /// indexed query, so that pools count what the slice leaves out
    /// ([`crate::pool::state_taken`]). Empty for a whole state. Never
    /// written: the rows it comes from are.
    #[serde(skip)]
    pub store_taken: BTreeMap<Kind, Vec<u128>>,
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

/// What one container holds. Fields in alphabetical order (see
/// [`HeldBinding`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerHolding {
    /// One entry per need (implied networks included).
    pub bindings: Vec<HeldBinding>,
    /// Digest of the need spec applied, so a changed spec is noticed.
    pub spec_digest: String,
}

/// One held resource.
///
/// The fields are in alphabetical order, here and in [`ContainerHolding`],
/// [`Reservation`] and [`ProvidedRecord`]: their derived serialization is
/// then the readable view's, whose keys are sorted
/// ([`crate::status_view`]); a field added out of order fails
/// `the_status_view_is_the_whole_state_in_sorted_keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldBinding {
    /// Whether this holding excludes other holders.
    pub exclusive: bool,
    /// Kind.
    pub kind: Kind,
    /// Resource name as needed.
    pub name: String,
    /// The serving provide's name as written in the manifest (`webserver`,
    /// `*`), or the provider's pattern; identifies a static exclusive provide.
    pub provide: String,
    /// Where it came from.
    pub source: BindingSource,
    /// The resolved value in host-manifest form (`{"address": ...}`).
    pub value: HeldValue,
}

/// A pool reservation: `name` keeps `value` until purged. Fields in
/// alphabetical order (see [`HeldBinding`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reservation {
    /// Current holder, if held.
    pub holder: Option<String>,
    /// Kind.
    pub kind: Kind,
    /// The [`spec_digest`] of the spec that made the reservation: once
    /// released, the value goes back only to `last_holder` applying that same
    /// spec (or to anyone with `--replace`). Absent in states written before
    /// it existed: then the container name alone decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_digest: Option<String>,
    /// The container that held it last, kept after release so that a later
    /// `release --purge` of that container still finds its reservations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_holder: Option<String>,
    /// Resource name.
    pub name: String,
    /// The pool it came from, as written (`1111::/120`, `8000-8999`).
    pub pool: String,
    /// The address or port, as a string.
    pub value: String,
}

impl Reservation {
    /// Whether a released reservation may go to `spec`: a held one is the solver's business, an unclaimed one (no
    /// last holder) goes to anyone; otherwise only the last holder applying
    /// the spec that made it. The identity rule of DESIGN.md's trust boundary.
    pub fn released_to(&self, spec: &NeedSpec) -> bool {
        if self.holder.is_some() {
            return true;
        }
        match &self.last_holder {
            None => true,
            Some(l) => {
                *l == spec.container
                    && self
                        .last_digest
                        .as_deref()
                        .is_none_or(|d| digest_matches(d, spec))
            }
        }
    }
}

/// A resource a provider made.
///
/// Its value is kept twice: as the provider printed it (`provided`, what the
/// state file holds and what the provider gets back on release and check) and
/// typed (`detail`), parsed once, when the result arrives or the state is
/// read, so that solving never parses it again. Fields in alphabetical
/// order (see [`HeldBinding`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawProvidedRecord")]
pub struct ProvidedRecord {
    /// Kind.
    pub kind: Kind,
    /// Resource name.
    pub name: String,
    /// What `provide` printed (validated manifest-entry form).
    pub provided: serde_json::Value,
    /// The provider's argv as declared.
    pub run: Vec<String>,
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

/// A digest of what a spec asks for (container, needs with options,
/// placement labels; not comments or layout), recorded with the holding and
/// with pool reservations. It is an identity check (a different spec must not
/// pass as the recorded one), so it is SHA-256, not a fast checksum.
pub fn spec_digest(spec: &NeedSpec) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    feed_spec(spec, false, &mut |s: &str| {
        // Length-prefixed, so fields cannot run into each other.
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    });
    format!("sha256:{:x}", h.finalize())
}

/// Whether `recorded` (a digest from the state) is the digest of `spec`. States
/// written before SHA-256 hold an FNV-1a digest (`fnv1a64:`): those are
/// compared in their own form, so upgrading berth refuses no re-apply.
pub fn digest_matches(recorded: &str, spec: &NeedSpec) -> bool {
    if recorded.starts_with("fnv1a64:") {
        recorded == legacy_digest(spec)
    } else {
        recorded == spec_digest(spec)
    }
}

/// The digest of states before SHA-256 (FNV-1a over the same fields).
fn legacy_digest(spec: &NeedSpec) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    feed_spec(spec, true, &mut |s: &str| {
        for b in s.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    });
    format!("fnv1a64:{h:016x}")
}

/// The fields a spec digest covers, in order. The SHA-256 digest leaves the
/// image out: what a container holds is its needs, while its image changes
/// with every upgrade and with `berth run --image`, and neither may need
/// `--replace` (who may hold a resource by image is what `allow:
/// ["image:..."]` decides, checked against the image that runs). The legacy
/// FNV-1a digest covered the image, and is still compared that way.
fn feed_spec(spec: &NeedSpec, with_image: bool, feed: &mut dyn FnMut(&str)) {
    feed(&spec.container);
    if with_image {
        feed(spec.image.as_deref().unwrap_or(""));
    }
    for n in &spec.needs {
        feed(n.kind.as_str());
        feed(&n.name);
        feed(&format!("{:?}", n.detail));
    }
    for (k, v) in &spec.placement {
        feed(k);
        feed(v);
    }
}
