//! Semantic checks of a host manifest that has loaded (every field is well
//! typed): duplicate names, the same address or port twice however spelled,
//! addresses outside their network's subnet, overlapping pools and subnets,
//! static addresses inside pools, and address provides whose network nothing
//! provides. Also the `--live` checks, which look at this host's filesystem.
//!
//! What must stay true: each problem has its own stable code; checks compare
//! parsed values (`2001:db8::5` equals `2001:db8:0:0::5`), never text.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipnet::IpNet;

use crate::diag::{Code, Diagnostic};
use crate::kinds::LivePath;
use crate::model::*;

/// Spans of individual fields of provides (`address`, `pool`, `gateway6`...),
/// recorded by the loader so that diagnostics can point at the value itself
/// rather than the whole entry.
#[derive(Debug, Default, Clone)]
pub struct FieldSpans {
    map: HashMap<(usize, &'static str), Span>,
}

impl FieldSpans {
    /// Records where field `field` of provide number `provide` is.
    pub fn insert(&mut self, provide: usize, field: &'static str, span: Span) {
        self.map.insert((provide, field), span);
    }

    /// Forgets fields of provide number `provide` (one that was left out of
    /// the manifest: the next provide gets its number).
    pub fn forget(&mut self, provide: usize, fields: impl IntoIterator<Item = &'static str>) {
        for field in fields {
            self.map.remove(&(provide, field));
        }
    }

    /// Where field `field` of provide number `provide` is, if recorded.
    pub fn get(&self, provide: usize, field: &str) -> Option<Span> {
        self.map.get(&(provide, field)).copied()
    }
}

/// Networks that a host manifest may declare in entries that did not load.
///
/// The loader checks the entries that did build even when others failed, so
/// one run reports every problem. An address on a network whose entry failed
/// must not then be called "on an unknown network": that would blame the
/// address for the network's mistake.
#[derive(Debug, Default, Clone)]
pub struct Unbuilt {
    /// Names of network provides that failed to load.
    pub networks: HashSet<String>,
    /// True when any network could be among the failures: a network provide
    /// whose name is unreadable, an entry whose kind is unknown, a network
    /// provider that failed, or a `providers` that is not a list.
    pub any_network: bool,
    /// Provides (by number) that loaded beside unknown keys: one of those
    /// may be a misspelt key that is absent, so checks that a key is
    /// missing skip them.
    pub incomplete: HashSet<usize>,
}

impl Unbuilt {
    fn may_provide_network(&self, name: &str) -> bool {
        self.any_network || self.networks.contains(name)
    }
}

/// Semantic checks of a host manifest, pointing at whole entries.
pub fn validate_host(host: &HostManifest) -> Vec<Diagnostic> {
    validate_host_with_spans(host, &FieldSpans::default())
}

struct Net {
    index: usize,
    subnet6: Option<IpNet>,
    subnet4: Option<IpNet>,
}

/// Semantic checks of a host manifest, pointing at fields where `spans` knows them.
pub fn validate_host_with_spans(host: &HostManifest, spans: &FieldSpans) -> Vec<Diagnostic> {
    validate_partial_host(host, spans, &Unbuilt::default())
}

/// The items of `items` whose `key` an earlier item already had, in order,
/// each with the span of the first item that had it.
fn repeats<'a, T, K: Eq + std::hash::Hash>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
    span: impl Fn(&T) -> Span,
) -> Vec<(&'a T, Span)> {
    let mut seen: HashMap<K, Span> = HashMap::new();
    items
        .iter()
        .filter_map(|t| Some((t, seen.insert(key(t), span(t))?)))
        .collect()
}

/// Semantic checks of the entries of a host manifest that loaded, when
/// others (listed in `unbuilt`) did not: nothing is reported that a failed
/// entry could explain.
pub fn validate_partial_host(
    host: &HostManifest,
    spans: &FieldSpans,
    unbuilt: &Unbuilt,
) -> Vec<Diagnostic> {
    let provides: Vec<&Provide> = host.provides.iter().collect();
    check_host(host, &provides, spans, unbuilt)
        .into_iter()
        .map(|(d, _)| d)
        .collect()
}

/// The problems that `candidate`, a provide that is not in the manifest
/// (what a provider printed), would bring beside the manifest's provides and
/// `others` (what providers made before): duplicate or overlapping addresses
/// and ports, gateways, unknown networks. Only errors that involve the
/// candidate are returned; it is checked like a manifest entry, in place, with
/// no copy of the manifest.
pub fn candidate_conflicts(
    host: &HostManifest,
    others: &[Provide],
    candidate: &Provide,
) -> Vec<Diagnostic> {
    let provides: Vec<&Provide> = host
        .provides
        .iter()
        .chain(others)
        .chain([candidate])
        .collect();
    let me = provides.len() - 1;
    check_host(host, &provides, &FieldSpans::default(), &Unbuilt::default())
        .into_iter()
        .filter(|(d, involved)| d.is_error() && involved.contains(&me))
        .map(|(d, _)| d)
        .collect()
}

/// The checks, over `provides` (the manifest's, maybe with more after them):
/// each problem with the indices of the provides it involves.
fn check_host(
    host: &HostManifest,
    provides: &[&Provide],
    spans: &FieldSpans,
    unbuilt: &Unbuilt,
) -> Vec<(Diagnostic, Vec<usize>)> {
    let src = &host.source;
    let at = |i: usize, field: &str| spans.get(i, field).unwrap_or(provides[i].span);
    let mut out: Vec<(Diagnostic, Vec<usize>)> = Vec::new();

    // Duplicate names (and duplicate patterns) per kind.
    let mut names: HashMap<(&Kind, &str), usize> = HashMap::new();
    for (i, p) in provides.iter().enumerate() {
        // Like `repeats`: each repeat points at the one before it.
        let Some(first) = names.insert((&p.kind, p.name.as_str()), i) else {
            continue;
        };
        out.push((
            Diagnostic::error(
                Code::HostDuplicateName,
                format!("{} `{}` is provided twice", p.kind, p.name),
            )
            .at(src, p.span)
            .label("second time")
            .related(provides[first].span, "first time")
            .help("remove one, or give it another name"),
            vec![i, first],
        ));
    }
    // An engine-reserved network named exactly: the host's own choice (only
    // an exact provide may serve one), but every spec needing it joins it.
    for (i, p) in provides.iter().enumerate() {
        if p.kind.is_network()
            && p.name.is_exact()
            && crate::reserved::is_engine_reserved_network(p.name.as_str())
        {
            out.push((
                Diagnostic::warning(
                    Code::HostReservedNetwork,
                    format!(
                        "network `{}` is an engine-reserved name: a spec that needs it joins the engine's own `{}` network mode",
                        p.name, p.name
                    ),
                )
                .at(src, p.span)
                .label("engine-reserved network")
                .help("keep it only if every container allowed here may use it; add `allow:` to restrict who may"),
                vec![i],
            ));
        }
    }
    for (p, first) in repeats(
        &host.providers,
        |p| (&p.kind, p.pattern.as_str()),
        |p| p.span,
    ) {
        out.push((
            Diagnostic::error(
                Code::HostDuplicateName,
                format!("two providers for {} `{}`", p.kind, p.pattern),
            )
            .at(src, p.span)
            .label("never used: the first one wins")
            .related(first, "first provider")
            .help("remove one of them"),
            Vec::new(),
        ));
    }

    // Networks: gateways inside subnets, subnets not overlapping.
    let mut nets: HashMap<&str, Net> = HashMap::new();
    let mut gateways: HashMap<IpAddr, (Span, usize)> = HashMap::new();
    for (i, p) in provides.iter().enumerate() {
        let Some(subnets) = p.detail.subnets() else {
            continue;
        };
        for s in subnets {
            let (subnet, gateway, gkey, skey) = (s.net, s.gateway, s.gateway_key, s.net_key);
            let Some(gw) = gateway else { continue };
            gateways.entry(gw).or_insert((at(i, gkey), i));
            match subnet {
                Some(net) if net.contains(&gw) => {}
                Some(net) => out.push((
                    Diagnostic::error(
                        Code::HostGatewayOutsideSubnet,
                        format!(
                            "gateway `{gw}` of network `{}` is outside its subnet `{net}`",
                            p.name
                        ),
                    )
                    .at(src, at(i, gkey))
                    .label("outside the subnet")
                    .related(at(i, skey), "the subnet")
                    .help("pick a gateway address inside the subnet, or fix the subnet"),
                    vec![i],
                )),
                None if unbuilt.incomplete.contains(&i) => {}
                None => out.push((
                    Diagnostic::error(
                        Code::HostGatewayOutsideSubnet,
                        format!("network `{}` has `{gkey}` but no `{skey}`", p.name),
                    )
                    .at(src, at(i, gkey))
                    .label("gateway without a subnet")
                    .help(format!(
                        "add `{skey}:` with the subnet the gateway lives in"
                    )),
                    vec![i],
                )),
            }
        }
        nets.entry(p.name.as_str()).or_insert(Net {
            index: i,
            subnet6: subnets[0].net,
            subnet4: subnets[1].net,
        });
    }
    for (v6, key) in [(true, "subnet6"), (false, "subnet4")] {
        let subnets: Vec<Interval<usize>> = nets
            .values()
            .filter_map(|n| {
                let s = if v6 { n.subnet6 } else { n.subnet4 };
                s.map(|s| interval(s, n.index))
            })
            .collect();
        for (later, earlier) in overlapping(subnets, |_, _| true) {
            let subnet = |i: usize| spans_subnet(provides[i], v6);
            out.push((
                Diagnostic::error(
                    Code::HostOverlap,
                    format!(
                        "subnet `{}` of network `{}` overlaps subnet `{}` of network `{}`",
                        subnet(later),
                        provides[later].name,
                        subnet(earlier),
                        provides[earlier].name
                    ),
                )
                .at(src, at(later, key))
                .label("overlaps")
                .related(at(earlier, key), "this subnet")
                .help("networks on one host need disjoint subnets"),
                vec![later, earlier],
            ));
        }
    }

    // Addresses: network known, inside its subnet, not twice, pools disjoint.
    let mut statics: HashMap<IpAddr, (Span, usize)> = HashMap::new();
    let mut ranges: [Vec<Interval<(usize, bool)>>; 2] = [Vec::new(), Vec::new()];
    let mut provider_made: HashMap<&str, bool> = HashMap::new();
    for (i, p) in provides.iter().enumerate() {
        let ProvideDetail::Address { source, network } = &p.detail else {
            continue;
        };
        let (value_key, as_net, pool) = match *source {
            AddressSource::Static(a) => ("address", IpNet::from(a), false),
            AddressSource::Pool(pool) => ("pool", pool, true),
        };
        let v6 = matches!(as_net, IpNet::V6(_));
        ranges[usize::from(v6)].push(interval(as_net, (i, pool)));
        match nets.get(network.as_str()) {
            Some(net) => {
                let subnet = if v6 { net.subnet6 } else { net.subnet4 };
                // A network without a subnet of this family leaves addressing
                // to the engine; nothing to compare against.
                if let Some(subnet) = subnet.filter(|s| !s.contains(&as_net)) {
                    let shown = address_text(p);
                    out.push((
                        Diagnostic::error(
                            Code::HostAddressOutsideSubnet,
                            format!(
                                "{value_key} `{shown}` of {} `{}` is outside subnet `{subnet}` of network `{network}`",
                                p.kind, p.name
                            ),
                        )
                        .at(src, at(i, value_key))
                        .label("outside the subnet")
                        .related(
                            at(net.index, if v6 { "subnet6" } else { "subnet4" }),
                            "the network's subnet",
                        )
                        .help("the container could not use this address on that network"),
                        vec![i, net.index],
                    ));
                }
            }
            None => {
                let by_provider = *provider_made.entry(network.as_str()).or_insert_with(|| {
                    host.providers
                        .iter()
                        .any(|d| d.kind.is_network() && d.pattern.matches(network))
                        // A provider never makes an engine-reserved network.
                        && !crate::reserved::is_engine_reserved_network(network)
                });
                if !by_provider && !unbuilt.may_provide_network(network) {
                    out.push((
                        Diagnostic::error(
                            Code::HostUnknownNetwork,
                            format!(
                                "{} `{}` is on network `{network}`, which this host does not provide",
                                p.kind, p.name
                            ),
                        )
                        .at(src, at(i, crate::kinds::NETWORK_OPTION))
                        .label("no such network here")
                        .help(format!(
                            "add a `- network: {network}` provide, or a provider for network `{network}`"
                        )),
                        vec![i],
                    ));
                }
            }
        }
        if let AddressSource::Static(a) = *source {
            if let Some((first, first_i)) = statics.insert(a, (at(i, "address"), i)) {
                out.push((
                    Diagnostic::error(
                        Code::HostDuplicateAddress,
                        format!("address `{a}` is provided twice"),
                    )
                    .at(src, at(i, "address"))
                    .label("second time")
                    .related(first, "first time (maybe spelled differently)")
                    .help("each address can be handed to one container: remove one"),
                    vec![i, first_i],
                ));
            }
            if let Some((gspan, gi)) = gateways.get(&a) {
                out.push((
                    Diagnostic::error(
                        Code::HostDuplicateAddress,
                        format!("address `{a}` is also a network's gateway"),
                    )
                    .at(src, at(i, "address"))
                    .label("the gateway's address")
                    .related(*gspan, "gateway")
                    .help("a container cannot hold its gateway's address: pick another"),
                    vec![i, *gi],
                ));
            }
        }
    }
    for family in ranges {
        // Pairs of statics are the duplicates reported above.
        let pairs = overlapping(family, |(_, a_pool), (_, b_pool)| a_pool || b_pool);
        for ((later, later_pool), (earlier, earlier_pool)) in pairs {
            let value = |i: usize| address_text(provides[i]);
            if later_pool && earlier_pool {
                out.push((
                    Diagnostic::error(
                        Code::HostOverlap,
                        format!("pool `{}` overlaps pool `{}`", value(later), value(earlier)),
                    )
                    .at(src, at(later, "pool"))
                    .label("overlaps")
                    .related(at(earlier, "pool"), "this pool")
                    .help("two pools could hand out one address twice: make them disjoint"),
                    vec![later, earlier],
                ));
            } else {
                let (a, pool) = if later_pool {
                    (earlier, later)
                } else {
                    (later, earlier)
                };
                out.push((
                    Diagnostic::warning(
                        Code::HostStaticInPool,
                        format!(
                            "static address `{}` lies inside pool `{}`",
                            value(a),
                            value(pool)
                        ),
                    )
                    .at(src, at(a, "address"))
                    .label("inside a pool")
                    .related(at(pool, "pool"), "the pool")
                    .help("the pool skips it, but a pool outside static addresses is clearer"),
                    vec![a, pool],
                ));
            }
        }
    }

    // Addresses engines refuse: a static one, a pool with nothing usable left
    // (the rule is `crate::usable`'s, shared with the engine's pools).
    for (i, p) in provides.iter().enumerate() {
        let ProvideDetail::Address { source, network } = &p.detail else {
            continue;
        };
        let v6 = matches!(source, AddressSource::Static(IpAddr::V6(_)))
            || matches!(source, AddressSource::Pool(IpNet::V6(_)));
        let subnet = nets
            .get(network.as_str())
            .and_then(|n| provides[n.index].detail.subnets())
            .map(|s| s[usize::from(!v6)]);
        let (net, gateway) = subnet.map_or((None, None), |s| (s.net, s.gateway));
        match *source {
            AddressSource::Static(a) => {
                let Some(reason) = net.and_then(|n| crate::usable::refused_reason(&n, a)) else {
                    continue;
                };
                out.push((
                    Diagnostic::warning(
                        Code::HostRefusedAddress,
                        format!(
                            "address `{a}` of {} `{}` is the {reason} of subnet `{}`",
                            p.kind,
                            p.name,
                            net.map(|n| n.to_string()).unwrap_or_default()
                        ),
                    )
                    .at(src, at(i, "address"))
                    .label(reason)
                    .help("docker, podman and LXC refuse to give it to a container: pick another address of the subnet"),
                    vec![i],
                ));
            }
            AddressSource::Pool(pool) => {
                let skips = crate::usable::pool_skips(
                    &pool,
                    net.as_ref(),
                    gateway,
                    statics.keys().copied(),
                );
                if crate::usable::usable_count(&pool, &skips) > 0 {
                    continue;
                }
                let shown: Vec<String> = skips.iter().map(|a| format!("`{a}`")).collect();
                out.push((
                    Diagnostic::warning(
                        Code::HostPoolEmpty,
                        format!("pool `{pool}` of {} `{}` has no usable address", p.kind, p.name),
                    )
                    .at(src, at(i, "pool"))
                    .label("nothing to hand out")
                    .help(format!(
                        "every address of it is skipped ({}: the subnet's network or broadcast address, the gateway or a static address): widen the pool or move it",
                        shown.join(", ")
                    )),
                    vec![i],
                ));
            }
        }
    }

    // Ports: not twice, ranges disjoint, statics outside ranges.
    let mut ports: [Vec<Interval<PortItem>>; 2] = [Vec::new(), Vec::new()];
    for (i, p) in provides.iter().enumerate() {
        let Some(s) = p.detail.host_sockets() else {
            continue;
        };
        ports[usize::from(s.protocol == Protocol::Udp)].push(Interval {
            start: u128::from(s.first),
            end: u128::from(s.last),
            item: (i, s.pool, s.bind),
        });
    }
    for (proto, family) in ["tcp", "udp"].into_iter().zip(ports) {
        let same_socket =
            |(_, _, a): PortItem, (_, _, b): PortItem| a.is_none() || b.is_none() || a == b;
        for ((later, later_pool, _), (earlier, earlier_pool, _)) in overlapping(family, same_socket)
        {
            let shown = |i: usize| {
                provides[i]
                    .detail
                    .host_sockets()
                    .map(|s| s.text())
                    .unwrap_or_default()
            };
            let key = |pool: bool| if pool { "pool" } else { "host_port" };
            let d = match (later_pool, earlier_pool) {
                (false, false) => Diagnostic::error(
                    Code::HostDuplicatePort,
                    format!("host port {}/{proto} is provided twice", shown(later)),
                )
                .help("one host port can be published once: remove or move one"),
                (true, true) => Diagnostic::error(
                    Code::HostOverlap,
                    format!(
                        "port range {} overlaps range {}",
                        shown(later),
                        shown(earlier)
                    ),
                )
                .help("two ranges could hand out one port twice: make them disjoint"),
                _ => Diagnostic::warning(
                    Code::HostStaticInPool,
                    "a static host port lies inside a port range".to_string(),
                )
                .help("the range skips it, but disjoint ranges are clearer"),
            };
            out.push((
                d.at(src, at(later, key(later_pool)))
                    .label("here")
                    .related(at(earlier, key(earlier_pool)), "this one"),
                vec![later, earlier],
            ));
        }
    }
    out
}

/// An address provide's static address or pool, as written in messages.
fn address_text(p: &Provide) -> String {
    match &p.detail {
        ProvideDetail::Address {
            source: AddressSource::Static(a),
            ..
        } => a.to_string(),
        ProvideDetail::Address {
            source: AddressSource::Pool(n),
            ..
        } => n.to_string(),
        _ => String::new(),
    }
}

fn spans_subnet(p: &Provide, v6: bool) -> String {
    p.detail
        .subnets()
        .and_then(|s| s[usize::from(!v6)].net)
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// A port provide in the overlap sweep: its index, whether it is a range, and
/// its bind address.
type PortItem = (usize, bool, Option<IpAddr>);

/// A closed range of addresses or ports, and what it belongs to.
struct Interval<T> {
    start: u128,
    end: u128,
    item: T,
}

fn interval<T>(net: IpNet, item: T) -> Interval<T> {
    let (start, end) = match net {
        IpNet::V4(n) => (
            u128::from(u32::from(n.network())),
            u128::from(u32::from(n.broadcast())),
        ),
        IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast())),
    };
    Interval { start, end, item }
}

/// Most earlier intervals one interval is compared with. Real manifests have a
/// handful of overlapping ranges; a hostile one with hundreds of thousands must
/// still be checked in bounded time (pairs past this many go unreported, and
/// by then there are plenty of diagnostics).
const MAX_ACTIVE: usize = 1024;

/// Most overlapping pairs reported per check: a file with more has bigger
/// problems than the 1001st overlap.
const MAX_PAIRS: usize = 1000;

/// Pairs `(later, earlier)` (in file order, by the item's first field) of
/// intervals that overlap and are `related`, found by a sweep over the
/// intervals sorted by start: O(n log n) plus the pairs.
fn overlapping<T: Copy + Ord>(
    mut items: Vec<Interval<T>>,
    related: impl Fn(T, T) -> bool,
) -> Vec<(T, T)> {
    items.sort_by_key(|i| (i.start, i.item));
    let mut active: Vec<&Interval<T>> = Vec::new();
    let mut pairs = Vec::new();
    'sweep: for it in &items {
        active.retain(|a| a.end >= it.start);
        if active.len() > 4 * MAX_ACTIVE {
            // Keep the widest: they are the ones later intervals can still hit.
            active.sort_by_key(|a| std::cmp::Reverse(a.end));
            active.truncate(MAX_ACTIVE);
        }
        for a in active.iter().rev().take(MAX_ACTIVE) {
            if related(a.item, it.item) {
                pairs.push(if a.item < it.item {
                    (it.item, a.item)
                } else {
                    (a.item, it.item)
                });
                if pairs.len() >= MAX_PAIRS {
                    break 'sweep;
                }
            }
        }
        active.push(it);
    }
    pairs.sort();
    pairs
}

/// `--live`: checks on this host that what a manifest names exists: what each
/// provide names (its kind's checks, in [`crate::kinds`]) and provider
/// executables (relative to the manifest's folder). Need specs name no host
/// paths and give nothing.
pub fn live_checks(doc: &Document) -> Vec<Diagnostic> {
    let Document::Host(host) = doc else {
        return Vec::new();
    };
    let src = &host.source;
    let mut out = Vec::new();
    for p in &host.provides {
        provide_live_checks(p, src, &mut out);
    }
    for d in &host.providers {
        let Some(program) = d.run.first() else {
            continue;
        };
        let resolved = resolve_program(&host.base_dir(), program);
        let problem = match &resolved {
            None => Some("is not found"),
            Some(path) => match std::fs::metadata(path) {
                Err(_) => Some("does not exist"),
                Ok(m) if !m.is_file() => Some("is not a file"),
                Ok(m) => {
                    use std::os::unix::fs::PermissionsExt;
                    (m.permissions().mode() & 0o111 == 0).then_some("is not executable")
                }
            },
        };
        if let Some(why) = problem {
            let shown = resolved.map_or(program.clone(), |p| p.display().to_string());
            out.push(
                Diagnostic::error(
                    Code::LiveProviderMissing,
                    format!("provider program `{shown}` {why}"),
                )
                .at(src, d.span)
                .label("this provider cannot run")
                .help(format!(
                    "`run[0]` is relative to the manifest's folder ({}), absolute, or a command on PATH",
                    host.base_dir().display()
                )),
            );
        }
    }
    out
}

/// Where `run[0]` of a provider resolves: relative to the manifest's folder
/// when it has a `/`, absolute as is, else looked up on `PATH`.
pub fn resolve_program(base: &Path, program: &str) -> Option<PathBuf> {
    let p = Path::new(program);
    if p.is_absolute() {
        return Some(p.to_path_buf());
    }
    if program.contains('/') {
        return Some(base.join(p.strip_prefix("./").unwrap_or(p)));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|c| c.is_file())
}

// ---------------------------------------------------------------------------
// Live checks
// ---------------------------------------------------------------------------

/// `--live` checks of one provide on this host: what it names exists (and a
/// file of a read-only-file kind is not world-readable).
fn provide_live_checks(p: &Provide, src: &Arc<Source>, out: &mut Vec<Diagnostic>) {
    let missing = |what: &str, path: &str, span: Span| {
        Diagnostic::error(
            Code::LiveMissing,
            format!("{what} `{path}` does not exist on this host"),
        )
        .at(src, span)
        .label("missing here")
        .help("create it, or fix the path")
    };
    for (what, path, rule) in p.detail.live_paths() {
        let meta = std::fs::metadata(path);
        match (rule, meta) {
            (LivePath::Dir, Ok(m)) if m.is_dir() => {}
            (LivePath::Exists, Ok(_)) => {}
            (LivePath::PrivateFile, Ok(m)) => {
                use std::os::unix::fs::PermissionsExt;
                if m.permissions().mode() & 0o004 != 0 {
                    out.push(
                        Diagnostic::error(
                            Code::LivePrivateFileReadable,
                            format!("{what} `{path}` is readable by everyone"),
                        )
                        .at(src, p.span)
                        .label(format!("world-readable {}", p.kind))
                        .help(format!("chmod o-rwx {path}")),
                    );
                }
            }
            _ => out.push(missing(what, path, p.span)),
        }
    }
}
