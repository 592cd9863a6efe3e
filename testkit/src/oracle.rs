//! The brute-force oracle: whether some assignment serves every need of a set
//! of containers on one host, found by trying every concrete value.
//!
//! Independent of the engine on purpose: it shares no code with `solve` or
//! `place` (no indexes, no matching, no regions), only the model types and
//! their name patterns. It reads DESIGN.md's rules and docs/solver.md directly:
//!
//! - a need's candidates: the provide naming it exactly (the only candidate),
//!   else its pool reservation in the state (the only candidate), else the
//!   patterns matching it in file order, and the first provider covering it;
//! - compatibility: `allow` (container name, or `image:` pattern), read-only,
//!   address family, prefix, port protocol, and an address provide's network
//!   (its implied need) met by the exact network provide (whose `allow` must
//!   admit the container), else a matching network pattern, else a provider;
//! - a pool's values: its range minus the first address of the subnet it lies
//!   in (its network's subnet of its family when that holds the pool, else
//!   the pool itself) and, for IPv4, that subnet's last address, neither for
//!   a subnet of one or two addresses; minus the gateway of its network,
//!   static provides of the kind, values reserved for any name and values
//!   other containers hold; every pool address is enumerated, one choice each;
//! - exclusivity: an address or port value, a static exclusive provide and an
//!   exclusive volume (or a volume needed `exclusive: true`) have one holder;
//!   a shared volume any number; holdings of containers outside the set count;
//!   two containers of the set needing one address or port name cannot both
//!   have it;
//! - trust boundary: an engine-reserved network name (DESIGN.md's list) is
//!   served by its exact provide only, never a pattern or a provider; a
//!   released pool reservation goes back only to its last holder applying
//!   the spec that made it.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use berth_engine::state::{BindingSource, State};
use berth_specs::{
    AddressSource, HostManifest, Kind, NamePattern, Need, NeedDetail, NeedSpec, PortSource,
    Provide, ProvideDetail,
};
use ipnet::IpNet;

/// One concrete way to serve one need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The provide (index in the manifest), `None` for a provider.
    pub provide: Option<usize>,
    /// The concrete value a pool or reservation gives (an address or port).
    pub value: Option<String>,
    /// What the choice occupies: (resource, exclusively).
    pub takes: Vec<(String, bool)>,
}

/// Whether `host` carries every label of `spec`'s `placement`.
pub fn labels_ok(host: &HostManifest, spec: &NeedSpec) -> bool {
    spec.placement
        .iter()
        .all(|(k, v)| host.labels.get(k) == Some(v))
}

/// Whether every container of `specs` can run on `host` together, beside what
/// `state` says others hold (labels aside: see [`labels_ok`]).
pub fn fits(host: &HostManifest, state: &State, specs: &[&NeedSpec]) -> bool {
    assignment(host, state, specs).is_some()
}

/// One choice per need (specs in order, needs in order) serving every need
/// together, if any exists.
pub fn assignment(host: &HostManifest, state: &State, specs: &[&NeedSpec]) -> Option<Vec<Choice>> {
    let mut named = HashSet::new();
    for s in specs {
        for n in &s.needs {
            let one_holder = matches!(n.kind, Kind::Ipv4 | Kind::Ipv6 | Kind::Port);
            if one_holder && !named.insert((n.kind.clone(), n.name.clone())) {
                return None;
            }
        }
    }
    let ctx = &Ctx { host, state, specs };
    let options: Vec<Vec<Choice>> = specs
        .iter()
        .flat_map(|s| s.needs.iter().map(move |n| ctx.choices(s, n)))
        .collect();
    // Fewest choices first: the search fails early on a need nothing serves.
    let mut order: Vec<usize> = (0..options.len()).collect();
    order.sort_by_key(|&k| options[k].len());
    let sorted: Vec<Vec<Choice>> = order.iter().map(|&k| options[k].clone()).collect();
    let mut taken: HashMap<String, bool> = HashMap::new();
    let mut picked = Vec::new();
    if !search(&sorted, &mut taken, &mut picked) {
        return None;
    }
    let mut out = vec![None; options.len()];
    for (c, &k) in picked.into_iter().zip(&order) {
        out[k] = Some(c);
    }
    out.into_iter().collect()
}

/// Every concrete choice the rules give need `need` of `specs[spec]` when
/// `specs` are solved together on `host` with `state`.
pub fn choices(
    host: &HostManifest,
    state: &State,
    specs: &[&NeedSpec],
    spec: usize,
    need: usize,
) -> Vec<Choice> {
    let ctx = Ctx { host, state, specs };
    ctx.choices(specs[spec], &specs[spec].needs[need])
}

/// Checks that `picks` (spec index, need index, provide index or `None` for a
/// provider, concrete value) is a valid assignment: each pick is one of its
/// need's choices, and nothing exclusive is taken twice. `Err` says what is
/// wrong.
pub fn check_picks(
    host: &HostManifest,
    state: &State,
    specs: &[&NeedSpec],
    picks: &[(usize, usize, Option<usize>, Option<String>)],
) -> Result<(), String> {
    let mut taken: HashMap<String, bool> = HashMap::new();
    for (s, n, provide, value) in picks {
        let all = choices(host, state, specs, *s, *n);
        let Some(c) = all
            .iter()
            .find(|c| c.provide == *provide && c.value == *value)
        else {
            return Err(format!(
                "{}'s need {n} got {provide:?} {value:?}, not one of {all:?}",
                specs[*s].container
            ));
        };
        for (res, excl) in &c.takes {
            if let Some(&held) = taken.get(res) {
                if held || *excl {
                    return Err(format!("{res} given twice"));
                }
            }
            taken.insert(
                res.clone(),
                *excl || taken.get(res).copied().unwrap_or(false),
            );
        }
    }
    Ok(())
}

/// Plain backtracking over every need's choices.
fn search(
    options: &[Vec<Choice>],
    taken: &mut HashMap<String, bool>,
    picked: &mut Vec<Choice>,
) -> bool {
    let Some(list) = options.get(picked.len()) else {
        return true;
    };
    for c in list {
        // An exclusive take conflicts with any other user; a shared one with
        // an exclusive user. (A need's own takes never repeat a resource.)
        let clash = c.takes.iter().any(|(res, excl)| match taken.get(res) {
            Some(&held_excl) => *excl || held_excl,
            None => false,
        });
        if clash {
            continue;
        }
        let added: Vec<String> = c
            .takes
            .iter()
            .filter(|(res, _)| !taken.contains_key(res))
            .map(|(res, _)| res.clone())
            .collect();
        for (res, excl) in &c.takes {
            taken.insert(res.clone(), *excl);
        }
        picked.push(c.clone());
        if search(options, taken, picked) {
            return true;
        }
        picked.pop();
        for res in added {
            taken.remove(&res);
        }
    }
    false
}

struct Ctx<'a> {
    host: &'a HostManifest,
    state: &'a State,
    specs: &'a [&'a NeedSpec],
}

fn glob(pattern: &str, text: &str) -> bool {
    NamePattern::parse(pattern).is_ok_and(|p| p.matches(text))
}

fn allowed(p: &Provide, spec: &NeedSpec) -> bool {
    match &p.allow {
        None => true,
        Some(list) => list.iter().any(|a| match a.strip_prefix("image:") {
            Some(img) => spec.image.as_deref().is_some_and(|i| glob(img, i)),
            None => glob(a, &spec.container),
        }),
    }
}

/// An address as a number (IPv4 in the low 32 bits).
fn num(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

fn prefix_of(need: &NeedDetail) -> Option<IpNet> {
    match need {
        NeedDetail::Ipv6 { prefix } => prefix.map(IpNet::V6),
        NeedDetail::Ipv4 { prefix } => prefix.map(IpNet::V4),
        _ => None,
    }
}

impl Ctx<'_> {
    fn in_set(&self, container: &str) -> bool {
        self.specs.iter().any(|s| s.container == container)
    }

    /// (held by another container at all, held by one exclusively) for
    /// manifest provide `i`.
    fn held(&self, i: usize) -> (bool, bool) {
        let p = &self.host.provides[i];
        let mut any = false;
        let mut excl = false;
        for (holder, h) in &self.state.holdings {
            if self.in_set(holder) {
                continue;
            }
            for b in &h.bindings {
                if b.source == BindingSource::Provides
                    && b.kind == p.kind
                    && b.provide == p.name.as_str()
                {
                    any = true;
                    excl |= b.exclusive;
                }
            }
        }
        (any, excl)
    }

    /// Whether network `name` is met for `spec` (an address's implied need).
    fn network_met(&self, name: &str, spec: &NeedSpec) -> bool {
        let nets = || {
            self.host
                .provides
                .iter()
                .filter(|p| p.kind == Kind::Network)
        };
        if let Some(p) = nets().find(|p| p.name.is_exact() && p.name.as_str() == name) {
            return allowed(p, spec);
        }
        if engine_reserved(name) {
            return false;
        }
        nets().any(|p| !p.name.is_exact() && p.name.matches(name) && allowed(p, spec))
            || self
                .host
                .providers
                .iter()
                .any(|d| d.kind == Kind::Network && d.pattern.matches(name))
    }

    /// Every value pool provide `p` could still give someone: its range minus
    /// what is never handed out and what others reserve or hold.
    fn pool_values(&self, p: &Provide) -> Vec<u128> {
        let (lo, hi, mut skip): (u128, u128, Vec<u128>) = match &p.detail {
            ProvideDetail::Address {
                source: AddressSource::Pool(net),
                network,
            } => {
                let (lo, hi) = (num(net.network()), num(net.broadcast()));
                let network_provide = self.host.provides.iter().find(|q| {
                    q.kind == Kind::Network && q.name.is_exact() && q.name.as_str() == network
                });
                let (subnet, gateway) = match network_provide.map(|q| &q.detail) {
                    Some(ProvideDetail::Network {
                        subnet6, gateway6, ..
                    }) if matches!(net, IpNet::V6(_)) => {
                        (subnet6.map(IpNet::V6), gateway6.map(IpAddr::V6))
                    }
                    Some(ProvideDetail::Network {
                        subnet4, gateway4, ..
                    }) if matches!(net, IpNet::V4(_)) => {
                        (subnet4.map(IpNet::V4), gateway4.map(IpAddr::V4))
                    }
                    _ => (None, None),
                };
                let subnet = subnet.filter(|s| s.contains(net)).unwrap_or(*net);
                let (first, last) = (num(subnet.network()), num(subnet.broadcast()));
                let mut skip = Vec::new();
                if last - first >= 2 {
                    skip.push(first);
                    if matches!(net, IpNet::V4(_)) {
                        skip.push(last);
                    }
                }
                skip.extend(gateway.map(num));
                (lo, hi, skip)
            }
            ProvideDetail::Port {
                source: PortSource::Pool { first, last },
                ..
            } => (u128::from(*first), u128::from(*last), Vec::new()),
            _ => return Vec::new(),
        };
        let v4 = matches!(p.kind, Kind::Ipv4);
        let parse = |text: &str| -> Option<u128> {
            match p.kind {
                Kind::Port => text.parse::<u16>().ok().map(u128::from),
                _ => text
                    .parse::<IpAddr>()
                    .ok()
                    .filter(|a| a.is_ipv4() == v4)
                    .map(num),
            }
        };
        for q in self.host.provides.iter().filter(|q| q.kind == p.kind) {
            match &q.detail {
                ProvideDetail::Address {
                    source: AddressSource::Static(a),
                    ..
                } => skip.push(num(*a)),
                ProvideDetail::Port {
                    source: PortSource::Static(port),
                    ..
                } => skip.push(u128::from(*port)),
                _ => {}
            }
        }
        for r in self
            .state
            .reservations
            .values()
            .filter(|r| r.kind == p.kind)
        {
            skip.extend(parse(&r.value));
        }
        for h in self.state.holdings.values() {
            for b in h.bindings.iter().filter(|b| b.kind == p.kind) {
                let v = b
                    .value
                    .get("address")
                    .and_then(|a| a.as_str().map(str::to_string))
                    .or_else(|| b.value.get("host_port").map(|x| x.to_string()));
                skip.extend(v.as_deref().and_then(parse));
            }
        }
        (lo..=hi).filter(|v| !skip.contains(v)).collect()
    }

    fn value_text(&self, p: &Provide, v: u128) -> String {
        match p.kind {
            Kind::Port => v.to_string(),
            Kind::Ipv4 => std::net::Ipv4Addr::from(v as u32).to_string(),
            _ => std::net::Ipv6Addr::from(v).to_string(),
        }
    }

    fn value_choice(&self, i: usize, v: u128) -> Choice {
        let p = &self.host.provides[i];
        Choice {
            provide: Some(i),
            value: Some(self.value_text(p, v)),
            takes: vec![(format!("{}:{v}", p.kind.as_str()), true)],
        }
    }

    /// Every concrete choice for `need` of `spec`.
    fn choices(&self, spec: &NeedSpec, need: &Need) -> Vec<Choice> {
        let provides = &self.host.provides;
        let of_kind = || (0..provides.len()).filter(|&i| provides[i].kind == need.kind);
        if let Some(i) = of_kind()
            .find(|&i| provides[i].name.is_exact() && provides[i].name.as_str() == need.name)
        {
            return self.serve(i, spec, need);
        }
        let key = format!("{}/{}", need.kind.as_str(), need.name);
        if let Some(res) = self.state.reservations.get(&key) {
            return self.reserved(res, spec, need);
        }
        if need.kind == Kind::Network && engine_reserved(&need.name) {
            return Vec::new();
        }
        let mut out: Vec<Choice> = of_kind()
            .filter(|&i| !provides[i].name.is_exact() && provides[i].name.matches(&need.name))
            .flat_map(|i| self.serve(i, spec, need))
            .collect();
        if self
            .host
            .providers
            .iter()
            .any(|d| d.kind == need.kind && d.pattern.matches(&need.name))
        {
            out.push(Choice {
                provide: None,
                value: None,
                takes: Vec::new(),
            });
        }
        out
    }

    /// The reserved value, the name's only candidate.
    fn reserved(
        &self,
        res: &berth_engine::state::Reservation,
        spec: &NeedSpec,
        need: &Need,
    ) -> Vec<Choice> {
        if res.holder.as_deref().is_some_and(|h| !self.in_set(h)) {
            return Vec::new();
        }
        // Released: it goes back only to the container that held it last,
        // applying the spec that made it (when the state recorded which).
        if res.holder.is_none() {
            if let Some(last) = &res.last_holder {
                let same_spec = res
                    .last_digest
                    .as_deref()
                    .is_none_or(|d| berth_engine::state::digest_matches(d, spec));
                if *last != spec.container || !same_spec {
                    return Vec::new();
                }
            }
        }
        let pool = self.host.provides.iter().position(|p| {
            p.kind == need.kind
                && match &p.detail {
                    ProvideDetail::Address {
                        source: AddressSource::Pool(net),
                        ..
                    } => res.pool.parse::<IpNet>().ok() == Some(*net),
                    ProvideDetail::Port {
                        source: PortSource::Pool { first, last },
                        ..
                    } => res.pool == format!("{first}-{last}"),
                    _ => false,
                }
        });
        let Some(i) = pool else { return Vec::new() };
        let p = &self.host.provides[i];
        let value = match p.kind {
            Kind::Port => res.value.parse::<u16>().ok().map(u128::from),
            _ => res.value.parse::<IpAddr>().ok().map(num),
        };
        let Some(v) = value else { return Vec::new() };
        if let Some(prefix) = prefix_of(&need.detail) {
            match res.value.parse::<IpAddr>() {
                Ok(a) if prefix.contains(&a) => {}
                _ => return Vec::new(),
            }
        }
        if !allowed(p, spec) || !self.options_ok(p, spec, need) {
            return Vec::new();
        }
        vec![self.value_choice(i, v)]
    }

    /// Options that do not depend on the value: protocol, family, network.
    fn options_ok(&self, p: &Provide, spec: &NeedSpec, need: &Need) -> bool {
        match (&need.detail, &p.detail) {
            (NeedDetail::Port { protocol, .. }, ProvideDetail::Port { protocol: pp, .. }) => {
                protocol == pp
            }
            (_, ProvideDetail::Address { network, .. }) => self.network_met(network, spec),
            _ => true,
        }
    }

    /// The choices manifest provide `i` gives `need` of `spec`.
    fn serve(&self, i: usize, spec: &NeedSpec, need: &Need) -> Vec<Choice> {
        let p = &self.host.provides[i];
        if !allowed(p, spec) || !self.options_ok(p, spec, need) {
            return Vec::new();
        }
        let whole = |takes: Vec<(String, bool)>| {
            vec![Choice {
                provide: Some(i),
                value: None,
                takes,
            }]
        };
        let (held, held_excl) = self.held(i);
        match (&need.detail, &p.detail) {
            (
                NeedDetail::Volume {
                    read_only,
                    exclusive,
                    ..
                },
                ProvideDetail::Volume {
                    read_only: p_ro,
                    exclusive: p_ex,
                    ..
                },
            ) => {
                let alone = *exclusive || *p_ex;
                if (*p_ro && !*read_only) || held_excl || (alone && held) {
                    return Vec::new();
                }
                whole(vec![(format!("provide:{i}"), alone)])
            }
            (
                NeedDetail::Ipv6 { .. } | NeedDetail::Ipv4 { .. },
                ProvideDetail::Address { source, .. },
            ) => {
                let v6 = matches!(need.detail, NeedDetail::Ipv6 { .. });
                let prefix = prefix_of(&need.detail);
                match source {
                    AddressSource::Static(a) => {
                        if a.is_ipv6() != v6 || prefix.is_some_and(|w| !w.contains(a)) || held {
                            return Vec::new();
                        }
                        vec![self.value_choice(i, num(*a))]
                    }
                    AddressSource::Pool(net) => {
                        if matches!(net, IpNet::V6(_)) != v6 {
                            return Vec::new();
                        }
                        self.pool_values(p)
                            .into_iter()
                            .filter(|&v| {
                                prefix.is_none_or(|w| {
                                    let a: IpAddr = if v6 {
                                        std::net::Ipv6Addr::from(v).into()
                                    } else {
                                        std::net::Ipv4Addr::from(v as u32).into()
                                    };
                                    w.contains(&a)
                                })
                            })
                            .map(|v| self.value_choice(i, v))
                            .collect()
                    }
                }
            }
            (NeedDetail::Port { .. }, ProvideDetail::Port { source, .. }) => match source {
                PortSource::Static(port) => {
                    if held {
                        return Vec::new();
                    }
                    vec![self.value_choice(i, u128::from(*port))]
                }
                PortSource::Pool { .. } => self
                    .pool_values(p)
                    .into_iter()
                    .map(|v| self.value_choice(i, v))
                    .collect(),
            },
            (NeedDetail::Device { .. }, ProvideDetail::Device { shared, .. }) => {
                if *shared {
                    whole(Vec::new())
                } else if held_excl {
                    Vec::new()
                } else {
                    whole(vec![(format!("provide:{i}"), true)])
                }
            }
            (NeedDetail::Secret { .. }, ProvideDetail::Secret { .. })
            | (NeedDetail::Network, ProvideDetail::Network { .. }) => whole(Vec::new()),
            (NeedDetail::Custom, ProvideDetail::Custom { shared, .. }) => {
                if *shared {
                    whole(Vec::new())
                } else if held_excl {
                    Vec::new()
                } else {
                    whole(vec![(format!("provide:{i}"), true)])
                }
            }
            _ => Vec::new(),
        }
    }
}

/// DESIGN.md's engine-reserved network names, restated here (the oracle
/// shares no rule code with the engine): any case, and the `container:` and
/// `ns:` forms.
pub fn engine_reserved(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "host" | "none" | "bridge" | "default" | "private" | "slirp4netns" | "pasta"
    ) || n.starts_with("container:")
        || n.starts_with("ns:")
}
