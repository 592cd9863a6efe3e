//! What a host offers and how much of it is left, for `berth hosts show`:
//! every provide as written, who holds it, every address pool and port range
//! with its usable and free counts and its reservations, and the providers.
//!
//! `berth status` shows what was handed out; this is the other half, what can
//! still be. Pool capacity follows the solver's own rule
//! ([`pool::manifest_skips`] for what the manifest keeps from handing out, the
//! state's reservations and holdings for the rest), so "free" here is what the
//! next `apply` can give, never a second opinion. Data only: the CLI renders it.

use std::collections::HashMap;
use std::net::IpAddr;

use berth_specs::{AddressSource, HostManifest, Kind, PortSource, Provide, ProvideDetail};
use serde::Serialize;
use serde_json::Value;

use crate::pool::{self, Taken};
use crate::state::{BindingSource, State};

/// A host's inventory.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    /// The host name.
    pub host: String,
    /// Every provide, in file order.
    pub provides: Vec<ProvideUse>,
    /// Every provider entry, in file order.
    pub providers: Vec<ProviderEntry>,
    /// Provider releases that failed and are retried by the next release.
    pub pending_releases: Vec<String>,
}

/// One provide and its use.
#[derive(Debug, Clone, Serialize)]
pub struct ProvideUse {
    /// The kind.
    pub kind: String,
    /// The name or pattern, as written.
    pub name: String,
    /// The entry's 1-based line in the manifest.
    pub line: u32,
    /// The entry's options as written, without the kind key.
    pub entry: Value,
    /// One holder at a time.
    pub exclusive: bool,
    /// Containers holding it (for a pool: holding one of its values).
    pub holders: Vec<String>,
    /// For an address pool or a port range: its capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolUse>,
}

/// The capacity of one pool or port range.
#[derive(Debug, Clone, Serialize)]
pub struct PoolUse {
    /// The pool as written (`2001:db8::100/120`, `8000-8099`).
    pub range: String,
    /// Values in the range, as a decimal string (an IPv6 /64 does not fit a
    /// JSON number).
    pub size: String,
    /// Values it may ever hand out: the range minus what the manifest keeps
    /// (network address, IPv4 broadcast, gateway, statics).
    pub usable: String,
    /// Values the next apply can still hand out to a new name.
    pub free: String,
    /// Names holding a reservation in it, lowest value first.
    pub reservations: Vec<ReservationUse>,
}

/// One reservation of a pool.
#[derive(Debug, Clone, Serialize)]
pub struct ReservationUse {
    /// The resource name it is kept for.
    pub name: String,
    /// The address or port.
    pub value: String,
    /// The container holding it now.
    pub holder: Option<String>,
    /// When free: the container that held it last (`berth release --purge`
    /// that container frees the name).
    pub last_holder: Option<String>,
}

/// One provider entry.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderEntry {
    /// The kind.
    pub kind: String,
    /// The name pattern it covers.
    pub pattern: String,
    /// Its argv as declared.
    pub run: Vec<String>,
    /// Its time limit, in seconds.
    pub timeout: f64,
    /// The entry's 1-based line in the manifest.
    pub line: u32,
}

/// The inventory of `host` given its `state`.
pub fn inventory(host: &HostManifest, state: &State) -> Inventory {
    let mut entries = entries_as_written(host);
    let provides = host
        .provides
        .iter()
        .map(|p| {
            let entry = entries.remove(&p.span.offset).unwrap_or(Value::Null);
            provide_use(host, state, p, entry)
        })
        .collect();
    let providers = host
        .providers
        .iter()
        .map(|d| ProviderEntry {
            kind: d.kind.to_string(),
            pattern: d.pattern.as_str().to_string(),
            run: d.run.clone(),
            timeout: d.timeout.as_secs_f64(),
            line: d.span.line,
        })
        .collect();
    Inventory {
        host: host.host.clone(),
        provides,
        providers,
        pending_releases: state
            .pending_releases
            .iter()
            .map(|p| format!("{}/{}", p.kind, p.name))
            .collect(),
    }
}

fn provide_use(host: &HostManifest, state: &State, p: &Provide, entry: Value) -> ProvideUse {
    let name = p.name.as_str().to_string();
    let pool = pool_use(host, state, p);
    let holders: Vec<String> = state
        .holdings
        .iter()
        .filter(|(_, h)| {
            h.bindings.iter().any(|b| {
                b.kind == p.kind
                    && b.provide == name
                    && b.source != BindingSource::Provider
                    && (pool.is_none() || b.source == BindingSource::Pool)
            })
        })
        .map(|(c, _)| c.clone())
        .collect();
    ProvideUse {
        kind: p.kind.to_string(),
        name,
        line: p.span.line,
        entry,
        exclusive: p.exclusive(),
        holders,
        pool,
    }
}

/// Every provide entry's options as the manifest writes them (the kind key
/// left out), keyed by the offset of the entry's kind key (a provide's span
/// starts there): read back from the file's text so every option shows,
/// whatever the kind.
fn entries_as_written(host: &HostManifest) -> HashMap<usize, Value> {
    let text = &host.source.text;
    let budget = std::sync::atomic::AtomicUsize::new(0);
    let json = host
        .source
        .path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let parsed = if json {
        berth_specs::json::parse_json(text)
    } else {
        berth_specs::yaml::parse_yaml(text, Default::default(), &budget)
    };
    let mut out = HashMap::new();
    for doc in &parsed.documents {
        let Some(items) = doc.get("provides").and_then(|p| p.as_seq()) else {
            continue;
        };
        for item in items {
            let Some(entries) = item.as_map() else {
                continue;
            };
            let mut options = serde_json::Map::new();
            let mut kind_at = None;
            for (k, v) in entries {
                match k.text() {
                    Some(key) if kind_at.is_none() && is_kind_key(key) => {
                        kind_at = Some(k.span.offset);
                    }
                    Some(key) => {
                        options.insert(key.to_string(), v.to_json());
                    }
                    None => {}
                }
            }
            if let Some(at) = kind_at {
                out.insert(at, Value::Object(options));
            }
        }
    }
    out
}

/// Whether an entry key is a kind (built-in, or custom `vendor.tld/class`).
fn is_kind_key(key: &str) -> bool {
    Kind::from_key(key).is_some()
}

fn pool_use(host: &HostManifest, state: &State, p: &Provide) -> Option<PoolUse> {
    let (text, net, subnet) = match &p.detail {
        ProvideDetail::Address {
            source: AddressSource::Pool(net),
            network,
            ..
        } => (
            net.to_string(),
            Some(*net),
            crate::rules::subnet_of(&host.provides, network, net),
        ),
        ProvideDetail::Port {
            source: PortSource::Pool { first, last },
            ..
        } => (format!("{first}-{last}"), None, None),
        _ => return None,
    };
    let (range, skip) = pool::manifest_skips(p, subnet.as_ref(), &host.provides)?;
    let parse = |v: &str| -> Option<u128> {
        match net {
            Some(_) => v.parse::<IpAddr>().ok().map(pool::addr_to_u128),
            None => v.parse::<u16>().ok().map(u128::from),
        }
    };
    let fixed = Taken::new(range, skip.iter().copied());
    let mut taken: Vec<u128> = skip;
    let mut reservations: Vec<(u128, ReservationUse)> = Vec::new();
    for r in state.reservations.values().filter(|r| r.kind == p.kind) {
        let Some(v) = parse(&r.value).filter(|v| range.contains(*v)) else {
            continue;
        };
        taken.push(v);
        if r.pool == text {
            reservations.push((
                v,
                ReservationUse {
                    name: r.name.clone(),
                    value: r.value.clone(),
                    holder: r.holder.clone(),
                    last_holder: r.last_holder.clone(),
                },
            ));
        }
    }
    // Values held from elsewhere (a provider-made address in the range).
    for b in state
        .holdings
        .values()
        .flat_map(|h| &h.bindings)
        .filter(|b| b.kind == p.kind && b.source != BindingSource::Pool)
    {
        let v = match net {
            Some(_) => b
                .value
                .get("address")
                .and_then(Value::as_str)
                .and_then(parse),
            None => b
                .value
                .get("host_port")
                .and_then(Value::as_u64)
                .map(u128::from),
        };
        taken.extend(v);
    }
    reservations.sort_by_key(|(v, _)| *v);
    let taken = Taken::new(range, taken);
    let size = range.size();
    Some(PoolUse {
        range: text,
        size: size.to_string(),
        usable: (size - fixed.count_in(range)).to_string(),
        free: (size - taken.count_in(range)).to_string(),
        reservations: reservations.into_iter().map(|(_, r)| r).collect(),
    })
}
