//! The solver: for one host, its state and a set of need specs, decide which
//! provide serves each need, which gaps a provider must fill, and why the rest
//! cannot be met.
//!
//! Four passes, each deterministic (hash maps are only looked up, never
//! iterated into the output):
//! 1. **Candidates.** Per need, the provides of its kind that may serve it (the
//!    exact name if one exists, else a recorded provider result, else its pool
//!    reservation, else patterns in file order and then the first provider that
//!    covers it), each checked for compatibility; every rejection is kept as a
//!    [`Reason`]. An address candidate also needs its network to be met for the
//!    container (an implied need), else it is rejected with the network's reasons.
//! 2. **Resources.** Candidates become right vertices with a capacity: 1 for an
//!    exclusive provide or a reserved name, the free count (capped at demand) for
//!    each region of a pool, unbounded for shared provides and providers. A
//!    pool is never enumerated; a need's `prefix` inside a pool splits the pool
//!    into disjoint regions so that capacities stay exact.
//! 3. **Matching.** Containers are admitted in spec order; a container is
//!    admitted when all its needs can be matched together with those already
//!    admitted (augmenting paths, [`matching`]), otherwise its needs are rolled
//!    back and explained. If an assignment satisfying every container exists,
//!    this finds it (exact). When none exists the admitted set is maximal, not
//!    necessarily maximum: maximizing the number of satisfied containers
//!    contains set packing, which is NP-hard.
//! 4. **Bindings.** Pool values are allocated lowest-free in spec order, implied
//!    networks are added, and provider steps are ordered by dependency.

pub(crate) mod matching;
mod order;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use berth_specs::{
    AddressSource, HostManifest, Kind, NamePattern, Need, NeedDetail, NeedSpec, Provide,
    ProvideDetail, Span,
};
use ipnet::IpNet;

use crate::explain::{Candidate, Holder, Origin, Reason, Unmet};
use crate::plan::{Binding, BindingValue, ContainerPlan, Plan, Step, StepKey};
use crate::pool::{self, Cursor, Span128, Taken};
use crate::state::{resource_key, BindingSource, State};

use crate::rules::{self, named_exclusive, need_prefix, AllowRule, Fit, Mismatch, Served};
use matching::{Matcher, UNBOUNDED};

/// Solves `specs` together on `host` given what `state` says is held.
///
/// Contract:
/// - Pure: no I/O, no side effects; the same inputs give the same plan.
/// - Holdings in `state` of containers named in `specs` count as their own (they
///   are being re-solved), not as conflicts; re-solving an applied container
///   gives the same bindings.
/// - A name with a pool reservation in `state` gets its reserved value only.
/// - `state.provided` records are exact-name provides (source `provider`): after
///   apply ran the providers, re-solving binds their results and plans no step.
/// - If an assignment satisfying every container exists, the plan satisfies
///   every container. Otherwise containers are admitted in spec order, each only
///   if it can be met with those already admitted; the others get every reason.
pub fn solve(host: &HostManifest, state: &State, specs: &[&NeedSpec]) -> Plan {
    Solver::new(host, state, specs).run()
}

/// How an option of a need would be served.
#[derive(Debug, Clone, PartialEq)]
enum Cand {
    /// A provide used as a whole (static value, pattern, shared resource).
    /// Indices past the manifest's provides are `state.provided` records.
    Unit(usize),
    /// A pool, restricted to a prefix strictly inside it when `within` is set.
    Pool(usize, Option<Span128>),
    /// The name's reserved value in pool `.0`.
    Reserved(usize, u128),
    /// A provider entry.
    Provider(usize),
}

/// kind, source, provide name as written (or name, for provider-made).
type HeldKey<'a> = (&'a str, BindingSource, &'a str);

/// How an address's network is met.
#[derive(Debug, Clone, PartialEq)]
enum Net {
    Unit(usize),
    Provider(usize),
}

#[derive(Debug, Clone)]
struct Opt {
    cand: Cand,
    network: Option<(String, Net)>,
}

struct NeedInfo {
    spec: usize,
    need: usize,
    opts: Vec<Opt>,
    rejections: Vec<Reason>,
    /// Per adjacency entry of this need's left vertex: which option it belongs to.
    adj_opt: Vec<usize>,
}

/// A right vertex of the matching: one resource with a capacity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum VKey {
    /// A provide used whole.
    Unit(usize),
    /// Region `.1` of pool `.0`.
    Region(usize, usize),
    /// A reserved name (`kind/name`): one holder whoever needs it.
    Reserved(String),
    /// A provider: unbounded.
    Provider(usize),
}

struct PoolInfo {
    range: Span128,
    text: String,
    taken: Taken,
    /// Distinct prefixes strictly inside the pool that needs asked for.
    prefixes: BTreeSet<Span128>,
    /// Region nodes: 0 is the whole pool; each with its excluded children.
    regions: Vec<(Span128, Vec<Span128>)>,
}

struct Solver<'a> {
    host: &'a HostManifest,
    state: &'a State,
    specs: &'a [&'a NeedSpec],
    /// Manifest provides followed by `state.provided` records as exact provides.
    provides: Vec<Provide>,
    n_manifest: usize,
    /// Exact-name provides by kind, then name: looked up without allocating.
    exact: HashMap<Kind, HashMap<String, usize>>,
    globs: HashMap<Kind, Vec<usize>>,
    in_plan: HashSet<&'a str>,
    /// For the record provides (index - manifest len): their state entry.
    records: Vec<&'a crate::state::ProvidedRecord>,
    /// Holdings by containers outside the plan, keyed like [`Solver::held_key`]:
    /// (holder, exclusive) in state order. Pool bindings are not here: pool
    /// values are tracked by reservations, value by value.
    held: HashMap<HeldKey<'a>, Vec<(&'a str, bool)>>,
    allow_cache: HashMap<usize, Vec<AllowRule>>,
    net_memo: HashMap<(usize, String), Result<Net, Vec<Reason>>>,
    pools: HashMap<usize, PoolInfo>,
    /// Volume provides that an exclusive need in this plan may take.
    excl_volume: HashSet<usize>,
}

impl<'a> Solver<'a> {
    fn new(host: &'a HostManifest, state: &'a State, specs: &'a [&'a NeedSpec]) -> Solver<'a> {
        let mut provides = host.provides.clone();
        let n_manifest = provides.len();
        let mut records = Vec::new();
        for rec in state.provided.values() {
            // A record that no longer validates is ignored here; `berth check`
            // and apply report it. It cannot serve a need.
            if let Some(detail) = rec.detail.clone() {
                provides.push(Provide {
                    kind: rec.kind.clone(),
                    name: NamePattern::Exact(rec.name.clone()),
                    detail,
                    // What a provider made is held under its `allow`, whoever
                    // binds it later.
                    allow: rules::made_allow(host, &rec.kind, &rec.name),
                    span: Span::default(),
                });
                records.push(rec);
            }
        }
        let mut exact: HashMap<Kind, HashMap<String, usize>> = HashMap::new();
        let mut globs: HashMap<Kind, Vec<usize>> = HashMap::new();
        for (i, p) in provides.iter().enumerate() {
            let k = p.kind.clone();
            if p.name.is_exact() {
                // The first entry wins; the loader reports duplicates.
                exact
                    .entry(k)
                    .or_default()
                    .entry(p.name.as_str().to_string())
                    .or_insert(i);
            } else {
                globs.entry(k).or_default().push(i);
            }
        }
        let in_plan: HashSet<&str> = specs.iter().map(|s| s.container.as_str()).collect();
        let mut held: HashMap<HeldKey<'a>, Vec<(&'a str, bool)>> = HashMap::new();
        for (holder, h) in &state.holdings {
            if in_plan.contains(holder.as_str()) {
                continue;
            }
            for b in h
                .bindings
                .iter()
                .filter(|b| b.source != BindingSource::Pool)
            {
                let id = match b.source {
                    BindingSource::Provider => b.name.as_str(),
                    _ => b.provide.as_str(),
                };
                held.entry((b.kind.as_str(), b.source, id))
                    .or_default()
                    .push((holder.as_str(), b.exclusive));
            }
        }
        Solver {
            host,
            state,
            specs,
            provides,
            n_manifest,
            exact,
            globs,
            in_plan,
            records,
            held,
            allow_cache: HashMap::new(),
            net_memo: HashMap::new(),
            pools: HashMap::new(),
            excl_volume: HashSet::new(),
        }
    }

    fn candidate(&self, i: usize) -> Candidate {
        let p = &self.provides[i];
        if i < self.n_manifest {
            Candidate {
                provide: p.name.as_str().to_string(),
                origin: Origin::Manifest,
                span: Some(p.span),
            }
        } else {
            Candidate {
                provide: p.name.as_str().to_string(),
                origin: Origin::State,
                span: None,
            }
        }
    }

    fn provider_candidate(&self, d: usize) -> Candidate {
        let decl = &self.host.providers[d];
        Candidate {
            provide: decl.pattern.as_str().to_string(),
            origin: Origin::Provider,
            span: Some(decl.span),
        }
    }

    /// The providers of `kind`, as candidates: what a need of that kind that
    /// no provider covers was still compared against.
    fn providers_of(&self, kind: &Kind) -> Vec<Candidate> {
        (0..self.host.providers.len())
            .filter(|&d| &self.host.providers[d].kind == kind)
            .map(|d| self.provider_candidate(d))
            .collect()
    }

    /// Whether provider `d`'s `allow` admits `spec`.
    fn provider_admits(&self, d: usize, spec: &NeedSpec) -> bool {
        rules::provider_admits(&self.host.providers[d], spec)
    }

    fn provider_not_allowed(&self, d: usize) -> Reason {
        Reason::NotAllowed {
            candidate: self.provider_candidate(d),
            allow: self.host.providers[d].allow.clone().unwrap_or_default(),
        }
    }

    /// The first provider whose kind and pattern cover `kind`/`name`.
    fn provider_for(&self, kind: &Kind, name: &str) -> Option<usize> {
        self.host
            .providers
            .iter()
            .position(|d| &d.kind == kind && d.pattern.matches(name))
    }

    /// How holdings of provide `i` are recorded: kind, source, and the provide's
    /// name as written (provider-made resources: their own name).
    fn held_key(&self, i: usize) -> HeldKey<'a> {
        if i < self.n_manifest {
            let p = &self.host.provides[i];
            (p.kind.as_str(), BindingSource::Provides, p.name.as_str())
        } else {
            let r = self.records[i - self.n_manifest];
            (r.kind.as_str(), BindingSource::Provider, r.name.as_str())
        }
    }

    /// The first other container holding provide `i` exclusively.
    fn held_excl(&self, i: usize) -> Option<&'a str> {
        let list = self.held.get(&self.held_key(i))?;
        list.iter().find(|(_, ex)| *ex).map(|(h, _)| *h)
    }

    /// The first other container holding provide `i` at all.
    fn held_any(&self, i: usize) -> Option<&'a str> {
        self.held.get(&self.held_key(i))?.first().map(|(h, _)| *h)
    }

    fn allowed(&mut self, i: usize, spec: &NeedSpec) -> bool {
        if self.provides[i].allow.is_none() {
            return true;
        }
        let provides = &self.provides;
        let rules = self
            .allow_cache
            .entry(i)
            .or_insert_with(|| rules::allow_rules(&provides[i]).unwrap_or_default());
        rules::admits(Some(rules), spec)
    }

    fn not_allowed(&self, i: usize) -> Reason {
        Reason::NotAllowed {
            candidate: self.candidate(i),
            allow: self.provides[i].allow.clone().unwrap_or_default(),
        }
    }

    /// Resolves network `name` for container `s`, memoized.
    fn network(&mut self, s: usize, name: &str) -> Result<Net, Vec<Reason>> {
        if let Some(r) = self.net_memo.get(&(s, name.to_string())) {
            return r.clone();
        }
        let r = self.network_uncached(s, name);
        self.net_memo.insert((s, name.to_string()), r.clone());
        r
    }

    /// The exact-name provide of `kind` called `name`, if any.
    fn exact_of(&self, kind: &Kind, name: &str) -> Option<usize> {
        self.exact.get(kind)?.get(name).copied()
    }

    fn network_uncached(&mut self, s: usize, name: &str) -> Result<Net, Vec<Reason>> {
        let spec = self.specs[s];
        let net_kind = Kind::implied();
        let exact = self.exact_of(&net_kind, name);
        let patterns: Vec<usize> = match exact {
            Some(_) => Vec::new(),
            None => self
                .globs
                .get(&net_kind)
                .into_iter()
                .flatten()
                .copied()
                .filter(|&i| self.provides[i].name.matches(name))
                .collect(),
        };
        let covering = self.provider_for(&net_kind, name);
        let provider = covering.filter(|&d| self.provider_admits(d, spec));
        match rules::serve_network(name, exact, patterns, provider, |i| self.allowed(i, spec)) {
            Ok(Served::Provide(i)) => Ok(Net::Unit(i)),
            Ok(Served::Provider(d)) => Ok(Net::Provider(d)),
            Err(denied) => {
                let mut reasons: Vec<Reason> =
                    denied.into_iter().map(|i| self.not_allowed(i)).collect();
                if let Some(d) = covering.filter(|_| provider.is_none() && exact.is_none()) {
                    if rules::pattern_may_serve(&Kind::implied(), name) {
                        reasons.push(self.provider_not_allowed(d));
                    }
                }
                if exact.is_none() && !rules::pattern_may_serve(&Kind::implied(), name) {
                    reasons.push(Reason::ReservedNetwork {
                        name: name.to_string(),
                    });
                } else if exact.is_none() {
                    if reasons.is_empty() {
                        reasons.push(Reason::NotProvided);
                    }
                    reasons.push(Reason::NoProvider {
                        considered: self.providers_of(&net_kind),
                        kind: net_kind,
                        name: name.to_string(),
                    });
                }
                Err(reasons)
            }
        }
    }

    /// Pass 1 for one need.
    fn need_options(&mut self, s: usize, n: usize) -> (Vec<Opt>, Vec<Reason>) {
        let spec = self.specs[s];
        let need = &spec.needs[n];
        let mut opts = Vec::new();
        let mut rej = Vec::new();
        if let Some(i) = self.exact_of(&need.kind, &need.name) {
            match self.check(s, need, i) {
                Ok(o) => opts.push(o),
                Err(r) => rej.push(r),
            }
            return (opts, rej);
        }
        if let Some(res) = self
            .state
            .reservations
            .get(&resource_key(&need.kind, &need.name))
        {
            match self.check_reserved(s, need, res) {
                Ok(o) => opts.push(o),
                Err(r) => rej.push(r),
            }
            return (opts, rej);
        }
        if !rules::pattern_may_serve(&need.kind, &need.name) {
            rej.push(Reason::ReservedNetwork {
                name: need.name.clone(),
            });
            return (opts, rej);
        }
        let globs = self.globs.get(&need.kind).cloned().unwrap_or_default();
        let mut considered = false;
        for i in globs {
            if !self.provides[i].name.matches(&need.name) {
                continue;
            }
            considered = true;
            match self.check(s, need, i) {
                Ok(o) => opts.push(o),
                Err(r) => rej.push(r),
            }
        }
        match self.provider_for(&need.kind, &need.name) {
            Some(d) if !self.provider_admits(d, spec) => {
                rej.push(self.provider_not_allowed(d));
            }
            Some(d) => opts.push(Opt {
                cand: Cand::Provider(d),
                network: None,
            }),
            None => {
                if !considered {
                    rej.push(Reason::NotProvided);
                }
                rej.push(Reason::NoProvider {
                    kind: need.kind.clone(),
                    name: need.name.clone(),
                    considered: self.providers_of(&need.kind),
                });
            }
        }
        (opts, rej)
    }

    fn held_by(&self, i: usize, holder: &str) -> Reason {
        Reason::HeldBy {
            candidate: self.candidate(i),
            holder: Holder {
                container: holder.to_string(),
                in_plan: false,
            },
        }
    }

    /// Compatibility of provide `i` with a need of container `s`.
    fn check(&mut self, s: usize, need: &Need, i: usize) -> Result<Opt, Reason> {
        self.check_inner(s, need, i, false)
    }

    /// `reserved`: the need holds a reservation in this pool, so the pool being
    /// full (of, among others, that reservation) is no reason to reject it.
    fn check_inner(
        &mut self,
        s: usize,
        need: &Need,
        i: usize,
        reserved: bool,
    ) -> Result<Opt, Reason> {
        let spec = self.specs[s];
        if !self.allowed(i, spec) {
            return Err(self.not_allowed(i));
        }
        let p = &self.provides[i];
        let fit = rules::fit(&need.detail, &p.detail).map_err(|m| self.mismatch(i, need, m))?;
        let mut network = None;
        let cand = match (&need.detail, &p.detail) {
            // Kinds whose shared holders matter (volumes; `fit` saw the
            // need is of the same kind).
            (_, detail) if p.kind.shared_holders_count() => {
                // An exclusive holder keeps everyone out; an exclusive need or
                // provide also waits for shared holders to leave.
                let alone = rules::wants_alone(&need.detail);
                let holder = if detail.exclusive() || alone {
                    self.held_any(i)
                } else {
                    self.held_excl(i)
                };
                if let Some(h) = holder {
                    return Err(self.held_by(i, h));
                }
                if alone {
                    self.excl_volume.insert(i);
                }
                Cand::Unit(i)
            }
            (
                _,
                ProvideDetail::Address {
                    source,
                    network: net,
                },
            ) => {
                let net_name = net.clone();
                let cand = match source {
                    AddressSource::Static(_) => {
                        if let Some(h) = self.held_excl(i) {
                            return Err(self.held_by(i, h));
                        }
                        Cand::Unit(i)
                    }
                    AddressSource::Pool(pnet) => {
                        let within = match fit {
                            Fit::Whole => None,
                            Fit::Within(w) => Some(w),
                        };
                        let pnet = *pnet;
                        let info = self.pool_info(i);
                        let region = within.unwrap_or(info.range);
                        let free = region.size() - info.taken.count_in(region);
                        if free == 0 && !reserved {
                            return Err(Reason::PoolExhausted {
                                candidate: self.candidate(i),
                                pool: pnet.to_string(),
                                in_plan: false,
                            });
                        }
                        if let Some(w) = within {
                            self.pools
                                .get_mut(&i)
                                .expect("pool info")
                                .prefixes
                                .insert(w);
                        }
                        Cand::Pool(i, within)
                    }
                };
                match self.network(s, &net_name) {
                    Ok(n) => network = Some((net_name, n)),
                    Err(reasons) => {
                        return Err(Reason::NetworkUnmet {
                            candidate: self.candidate(i),
                            network: net_name,
                            reasons,
                        })
                    }
                }
                cand
            }
            // Other pools (ports): one region, the whole pool.
            (_, d) if d.is_pool() => {
                let info = self.pool_info(i);
                if info.range.size() == info.taken.count_in(info.range) && !reserved {
                    let pool = info.text.clone();
                    return Err(Reason::PoolExhausted {
                        candidate: self.candidate(i),
                        pool,
                        in_plan: false,
                    });
                }
                Cand::Pool(i, None)
            }
            _ => {
                if p.exclusive() {
                    if let Some(h) = self.held_excl(i) {
                        return Err(self.held_by(i, h));
                    }
                }
                Cand::Unit(i)
            }
        };
        Ok(Opt { cand, network })
    }

    /// A [`rules::Mismatch`] of provide `i`, as an explained reason.
    fn mismatch(&self, i: usize, need: &Need, m: Mismatch) -> Reason {
        let candidate = self.candidate(i);
        match m {
            Mismatch::Kind => Reason::FamilyMismatch {
                candidate,
                offered: need.kind.as_str().to_string(),
            },
            Mismatch::ReadOnly => Reason::ReadOnlyConflict { candidate },
            Mismatch::Family { offered } => Reason::FamilyMismatch { candidate, offered },
            Mismatch::OutsidePrefix { prefix, offered } => Reason::OutsidePrefix {
                candidate,
                prefix: prefix.to_string(),
                offered,
                reserved_from: None,
            },
            Mismatch::Protocol { wanted, offered } => Reason::ProtocolMismatch {
                candidate,
                wanted,
                offered,
            },
        }
    }

    fn check_reserved(
        &mut self,
        s: usize,
        need: &Need,
        res: &crate::state::Reservation,
    ) -> Result<Opt, Reason> {
        let stale = || Reason::ReservationStale {
            pool: res.pool.clone(),
            value: res.value.clone(),
        };
        // The pool it came from, matched by value (however the pool is spelled);
        // the reservation's pool and value are parsed once, not per provide.
        let res_net = res.pool.parse::<IpNet>().ok();
        let res_addr = res.value.parse::<IpAddr>().ok();
        let pool = (0..self.n_manifest).find(|&i| {
            let p = &self.provides[i];
            p.kind == need.kind
                && match &p.detail {
                    ProvideDetail::Address {
                        source: AddressSource::Pool(net),
                        ..
                    } => res_net == Some(*net),
                    d => d.pool_text().is_some_and(|t| t == res.pool),
                }
        });
        let Some(i) = pool else { return Err(stale()) };
        let value = match &self.provides[i].detail {
            ProvideDetail::Address { .. } => res_addr.map(pool::addr_to_u128),
            _ => res.value.parse::<u16>().ok().map(u128::from),
        };
        let Some(value) = value else {
            return Err(stale());
        };
        let candidate = Candidate {
            provide: need.name.clone(),
            origin: Origin::State,
            span: Some(self.provides[i].span),
        };
        if let Some(h) = &res.holder {
            if !self.in_plan.contains(h.as_str()) {
                return Err(Reason::HeldBy {
                    candidate,
                    holder: Holder {
                        container: h.clone(),
                        in_plan: false,
                    },
                });
            }
        }
        // The reserved value is the name's only candidate, so the prefix is
        // checked against it before the pool: a pool wholly outside the prefix
        // would otherwise be blamed instead of the reservation.
        if let (Some(prefix), Some(addr)) = (need_prefix(&need.detail), res_addr) {
            if !prefix.contains(&addr) {
                return Err(Reason::OutsidePrefix {
                    candidate,
                    prefix: prefix.to_string(),
                    offered: res.value.clone(),
                    reserved_from: Some(Box::new(res.pool.clone())),
                });
            }
        }
        // Released: only its last holder, applying the spec that made it.
        let spec = self.specs[s];
        if !res.released_to(spec) {
            let container = res.last_holder.clone().unwrap_or_default();
            return Err(Reason::ReservedFor {
                changed_spec: container == spec.container,
                candidate,
                container,
            });
        }
        // Everything else about the pool (allow, protocol, network) must still
        // hold for the reserved value.
        let mut opt = self.check_inner(s, need, i, true)?;
        opt.cand = Cand::Reserved(i, value);
        Ok(opt)
    }

    fn pool_info(&mut self, i: usize) -> &PoolInfo {
        if !self.pools.contains_key(&i) {
            let info = self.build_pool(i);
            self.pools.insert(i, info);
        }
        &self.pools[&i]
    }

    /// What a pool can no longer hand out: reserved and held values of its kind,
    /// static provides inside it, its subnet's network address and gateway.
    fn build_pool(&self, i: usize) -> PoolInfo {
        let p = &self.provides[i];
        let (net, text, subnet) = match &p.detail {
            ProvideDetail::Address {
                source: AddressSource::Pool(net),
                network,
                ..
            } => (
                Some(*net),
                net.to_string(),
                // The manifest's subnet, not one a provider returned: plan,
                // apply and fleet placement then agree on what a pool skips.
                rules::subnet_of(&self.host.provides, network, net),
            ),
            d => (
                None,
                d.pool_text().expect("pool_info is only called for pools"),
                None,
            ),
        };
        let (range, mut skip) = pool::manifest_skips(p, subnet.as_ref(), &self.provides)
            .expect("pool_info is only called for pools");
        skip.extend(pool::state_taken(p, net.as_ref(), self.state));
        PoolInfo {
            range,
            text,
            taken: Taken::new(range, skip),
            prefixes: BTreeSet::new(),
            regions: Vec::new(),
        }
    }

    fn run(mut self) -> Plan {
        // Pass 1: candidates.
        let mut needs: Vec<NeedInfo> = Vec::new();
        let mut first_need: Vec<usize> = Vec::with_capacity(self.specs.len() + 1);
        for s in 0..self.specs.len() {
            first_need.push(needs.len());
            for n in 0..self.specs[s].needs.len() {
                let (opts, rejections) = self.need_options(s, n);
                needs.push(NeedInfo {
                    spec: s,
                    need: n,
                    opts,
                    rejections,
                    adj_opt: Vec::new(),
                });
            }
        }
        first_need.push(needs.len());

        // Pass 2: resources. Pool regions first: they depend on every prefix.
        for info in self.pools.values_mut() {
            build_regions(info);
        }
        let mut vkeys: HashMap<VKey, u32> = HashMap::new();
        let mut vlist: Vec<VKey> = Vec::new();
        let mut demand: Vec<usize> = Vec::new();
        let mut adj: Vec<Vec<u32>> = Vec::with_capacity(needs.len());
        for ni in needs.iter_mut() {
            let mut a = Vec::new();
            let need = &self.specs[ni.spec].needs[ni.need];
            for (oi, o) in ni.opts.iter().enumerate() {
                let keys: Vec<VKey> = match &o.cand {
                    Cand::Unit(i) => vec![VKey::Unit(*i)],
                    Cand::Provider(d) => vec![VKey::Provider(*d)],
                    Cand::Reserved(..) => {
                        vec![VKey::Reserved(resource_key(&need.kind, &need.name))]
                    }
                    Cand::Pool(i, within) => region_order(&self.pools[i], *within)
                        .into_iter()
                        .map(|ri| VKey::Region(*i, ri))
                        .collect(),
                };
                for k in keys {
                    let v = *vkeys.entry(k.clone()).or_insert_with(|| {
                        vlist.push(k);
                        demand.push(0);
                        (vlist.len() - 1) as u32
                    });
                    demand[v as usize] += 1;
                    a.push(v);
                    ni.adj_opt.push(oi);
                }
            }
            adj.push(a);
        }
        let cap: Vec<usize> = vlist
            .iter()
            .zip(&demand)
            .map(|(k, &d)| match k {
                VKey::Unit(i) => {
                    if self.provides[*i].exclusive() || self.excl_volume.contains(i) {
                        1
                    } else {
                        UNBOUNDED
                    }
                }
                VKey::Region(i, ri) => {
                    let info = &self.pools[i];
                    let (node, excl) = &info.regions[*ri];
                    let free = Cursor::new(*node, excl.clone(), &info.taken).free_count();
                    free.min(d as u128) as usize
                }
                VKey::Reserved(_) => 1,
                VKey::Provider(_) => UNBOUNDED,
            })
            .collect();

        // Pass 3: admit containers in spec order.
        let mut m = Matcher::new(cap, adj);
        let n_specs = self.specs.len();
        let mut name_owner: HashMap<(String, String), usize> = HashMap::new();
        let mut admitted = vec![false; n_specs];
        let mut unmet_of: Vec<Vec<Unmet>> = (0..n_specs).map(|_| Vec::new()).collect();
        for s in 0..n_specs {
            let range = first_need[s]..first_need[s + 1];
            let mut unmet = Vec::new();
            for l in range.clone() {
                let ni = &needs[l];
                if ni.opts.is_empty() {
                    unmet.push(self.unmet(ni, ni.rejections.clone()));
                    continue;
                }
                let need = &self.specs[s].needs[ni.need];
                if named_exclusive(&need.kind) {
                    let key = (need.kind.as_str().to_string(), need.name.clone());
                    if let Some(&o) = name_owner.get(&key) {
                        let mut reasons = ni.rejections.clone();
                        reasons.push(Reason::HeldBy {
                            candidate: self.opt_candidate(&ni.opts[0], need),
                            holder: Holder {
                                container: self.specs[o].container.clone(),
                                in_plan: true,
                            },
                        });
                        unmet.push(self.unmet(ni, reasons));
                    }
                }
            }
            if unmet.is_empty() {
                let failed: Vec<usize> = range.clone().filter(|&l| !m.augment(l as u32)).collect();
                for &l in &failed {
                    let mut reasons = needs[l].rejections.clone();
                    reasons.extend(self.contention(&needs[l], &m, l, &vlist, &needs));
                    unmet.push(self.unmet(&needs[l], reasons));
                }
                if !failed.is_empty() {
                    for l in range.clone() {
                        m.unmatch(l as u32);
                    }
                }
            }
            if unmet.is_empty() {
                admitted[s] = true;
                for n in &self.specs[s].needs {
                    if named_exclusive(&n.kind) {
                        name_owner
                            .entry((n.kind.as_str().to_string(), n.name.clone()))
                            .or_insert(s);
                    }
                }
            }
            unmet_of[s] = unmet;
        }

        // Pass 4: bindings, pool values, implied networks, steps.
        let mut cursors: HashMap<(usize, usize), Cursor<'_>> = HashMap::new();
        let mut steps = StepBuilder::default();
        let mut containers = Vec::with_capacity(n_specs);
        for (s, unmet) in unmet_of.into_iter().enumerate() {
            let spec = self.specs[s];
            let mut bindings = Vec::new();
            if admitted[s] {
                let mut nets_bound: Vec<String> = Vec::new();
                let mut implied: Vec<(String, Net)> = Vec::new();
                let range = first_need[s]..first_need[s + 1];
                for (l, ni) in range.clone().zip(&needs[range]) {
                    let need = &spec.needs[ni.need];
                    let v = m.mate(l as u32).expect("admitted needs are matched");
                    let k = m
                        .adj(l as u32)
                        .iter()
                        .position(|&x| x == v)
                        .expect("mate is adjacent");
                    let opt = &ni.opts[ni.adj_opt[k]];
                    let b = match &opt.cand {
                        Cand::Unit(i) => self.unit_binding(*i, need, Some(ni.need)),
                        Cand::Provider(d) => {
                            let step =
                                steps.add(self.host, *d, need, &spec.container, Some(ni.need));
                            self.provider_binding(
                                *d,
                                &need.kind,
                                &need.name,
                                Some((ni.need, need)),
                                step,
                            )
                        }
                        Cand::Reserved(i, value) => self.pool_binding(*i, *value, need, ni.need),
                        Cand::Pool(i, _) => {
                            let VKey::Region(_, ri) = vlist[v as usize] else {
                                unreachable!("pool options map to regions")
                            };
                            let info = &self.pools[i];
                            let cursor = cursors.entry((*i, ri)).or_insert_with(|| {
                                let (node, excl) = &info.regions[ri];
                                Cursor::new(*node, excl.clone(), &info.taken)
                            });
                            let value = cursor
                                .next()
                                .expect("region capacity counts its free values");
                            self.pool_binding(*i, value, need, ni.need)
                        }
                    };
                    if need.kind.is_network() {
                        nets_bound.push(need.name.clone());
                    }
                    if let Some((net, how)) = &opt.network {
                        implied.push((net.clone(), how.clone()));
                    }
                    bindings.push(b);
                }
                for (net, how) in implied {
                    if nets_bound.contains(&net) {
                        continue;
                    }
                    let b = match how {
                        Net::Unit(i) => {
                            let mut b = self.unit_binding(i, &implied_network(&net), None);
                            b.need_span = None;
                            b
                        }
                        Net::Provider(d) => {
                            let need = implied_network(&net);
                            let step = steps.add(self.host, d, &need, &spec.container, None);
                            self.provider_binding(d, &need.kind, &net, None, step)
                        }
                    };
                    nets_bound.push(net);
                    bindings.push(b);
                }
            }
            containers.push(ContainerPlan {
                container: spec.container.clone(),
                image: spec.image.clone(),
                satisfied: admitted[s],
                bindings,
                unmet,
            });
        }
        let (steps, cycle) = steps.finish(&mut containers);
        Plan {
            satisfied: cycle.is_none() && containers.iter().all(|c| c.satisfied),
            host: self.host.host.clone(),
            containers,
            steps,
            cycle,
        }
    }

    fn unmet(&self, ni: &NeedInfo, mut reasons: Vec<Reason>) -> Unmet {
        // Candidates first (in the order considered), then what is missing.
        reasons.sort_by_key(|r| matches!(r, Reason::NotProvided | Reason::NoProvider { .. }));
        let spec = self.specs[ni.spec];
        let need = &spec.needs[ni.need];
        Unmet {
            container: spec.container.clone(),
            kind: need.kind.clone(),
            name: need.name.clone(),
            file: spec.source.path.clone(),
            span: need.span,
            need: ni.need,
            reasons,
        }
    }

    fn opt_candidate(&self, o: &Opt, need: &Need) -> Candidate {
        match &o.cand {
            Cand::Unit(i) | Cand::Pool(i, _) => self.candidate(*i),
            Cand::Reserved(i, _) => Candidate {
                provide: need.name.clone(),
                origin: Origin::State,
                span: Some(self.provides[*i].span),
            },
            Cand::Provider(d) => self.provider_candidate(*d),
        }
    }

    /// Why a need whose options all exist could not be matched: every resource
    /// it could use is full, held by needs of admitted containers.
    fn contention(
        &self,
        ni: &NeedInfo,
        m: &Matcher,
        l: usize,
        vlist: &[VKey],
        needs: &[NeedInfo],
    ) -> Vec<Reason> {
        let need = &self.specs[ni.spec].needs[ni.need];
        let mut out = Vec::new();
        let mut done: Vec<usize> = Vec::new();
        for (k, &v) in m.adj(l as u32).iter().enumerate() {
            let oi = ni.adj_opt[k];
            if done.contains(&oi) {
                continue;
            }
            done.push(oi);
            let o = &ni.opts[oi];
            let holder = m.holders(v).first().map(|&h| Holder {
                container: self.specs[needs[h as usize].spec].container.clone(),
                in_plan: true,
            });
            let r = match (&vlist[v as usize], holder) {
                (VKey::Region(i, _), _) => Reason::PoolExhausted {
                    candidate: self.candidate(*i),
                    pool: self.pools[i].text.clone(),
                    in_plan: true,
                },
                (_, Some(holder)) => Reason::HeldBy {
                    candidate: self.opt_candidate(o, need),
                    holder,
                },
                (_, None) => continue,
            };
            out.push(r);
        }
        out
    }

    fn unit_binding(&self, i: usize, need: &Need, need_index: Option<usize>) -> Binding {
        let p = &self.provides[i];
        let record = i >= self.n_manifest;
        let exclusive = rules::exclusive_use(p, &need.detail);
        Binding {
            kind: need.kind.clone(),
            name: need.name.clone(),
            source: if record {
                BindingSource::Provider
            } else {
                BindingSource::Provides
            },
            provide: if record {
                self.provider_for(&need.kind, &need.name)
                    .map(|d| self.host.providers[d].pattern.as_str().to_string())
                    .unwrap_or_else(|| need.name.clone())
            } else {
                p.name.as_str().to_string()
            },
            exclusive,
            value: BindingValue::of(p.detail.clone()),
            pool: None,
            need: need_index,
            need_span: need_index.map(|_| need.span),
            provide_span: (!record).then_some(p.span),
            step: None,
        }
    }

    fn provider_binding(
        &self,
        d: usize,
        kind: &Kind,
        name: &str,
        need: Option<(usize, &Need)>,
        step: usize,
    ) -> Binding {
        let decl = &self.host.providers[d];
        Binding {
            kind: kind.clone(),
            name: name.to_string(),
            source: BindingSource::Provider,
            provide: decl.pattern.as_str().to_string(),
            exclusive: need.map_or(kind.exclusive_by_default(), |n| {
                rules::exclusive_made(kind, &n.1.detail)
            }),
            value: BindingValue::pending(),
            pool: None,
            need: need.map(|n| n.0),
            need_span: need.map(|n| n.1.span),
            provide_span: Some(decl.span),
            step: Some(step),
        }
    }

    fn pool_binding(&self, i: usize, value: u128, need: &Need, need_index: usize) -> Binding {
        let p = &self.provides[i];
        let info = &self.pools[&i];
        let detail = p
            .detail
            .from_pool(value)
            .expect("pool_binding is only called for pools");
        Binding {
            kind: need.kind.clone(),
            name: need.name.clone(),
            source: BindingSource::Pool,
            provide: p.name.as_str().to_string(),
            exclusive: true,
            value: BindingValue::of(detail),
            pool: Some(info.text.clone()),
            need: Some(need_index),
            need_span: Some(need.span),
            provide_span: Some(p.span),
            step: None,
        }
    }
}

/// The need a network implied by an address stands for.
fn implied_network(name: &str) -> Need {
    Need {
        kind: Kind::implied(),
        name: name.to_string(),
        detail: NeedDetail::implied(),
        span: Span::default(),
    }
}

#[derive(Default)]
struct StepBuilder {
    steps: Vec<Step>,
    index: HashMap<(String, String), usize>,
}

impl StepBuilder {
    /// One step per resource, however many containers use it.
    fn add(
        &mut self,
        host: &HostManifest,
        d: usize,
        need: &Need,
        container: &str,
        need_index: Option<usize>,
    ) -> usize {
        let key = (need.kind.as_str().to_string(), need.name.clone());
        if let Some(&i) = self.index.get(&key) {
            if !self.steps[i].users.iter().any(|u| u == container) {
                self.steps[i].users.push(container.to_string());
            }
            return i;
        }
        let decl = &host.providers[d];
        self.steps.push(Step {
            provider: decl.run.clone(),
            kind: need.kind.clone(),
            name: need.name.clone(),
            container: container.to_string(),
            users: vec![container.to_string()],
            timeout: decl.timeout,
            decl: d,
            decl_span: decl.span,
            need: need_index,
        });
        self.index.insert(key, self.steps.len() - 1);
        self.steps.len() - 1
    }

    /// Orders steps: a network step before the address and port steps of the
    /// containers that use it (an address a provider makes names its network
    /// only once made, so every network of the container comes first).
    fn finish(self, containers: &mut [ContainerPlan]) -> (Vec<Step>, Option<Vec<StepKey>>) {
        let steps = self.steps;
        let mut nets_of: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, st) in steps.iter().enumerate() {
            if st.kind.is_network() {
                for u in &st.users {
                    nets_of.entry(u.as_str()).or_default().push(i);
                }
            }
        }
        let mut edges = Vec::new();
        for (j, st) in steps.iter().enumerate() {
            if st.kind.has_scalar() {
                for u in &st.users {
                    for &i in nets_of.get(u.as_str()).into_iter().flatten() {
                        if !edges.contains(&(i, j)) {
                            edges.push((i, j));
                        }
                    }
                }
            }
        }
        match order::order(steps.len(), &edges) {
            Ok(perm) => {
                let mut new_index = vec![0; steps.len()];
                for (new, &old) in perm.iter().enumerate() {
                    new_index[old] = new;
                }
                for c in containers.iter_mut() {
                    for b in &mut c.bindings {
                        if let Some(s) = &mut b.step {
                            *s = new_index[*s];
                        }
                    }
                }
                let mut slots: Vec<Option<Step>> = steps.into_iter().map(Some).collect();
                let ordered = perm
                    .iter()
                    .map(|&i| slots[i].take().expect("permutation"))
                    .collect();
                (ordered, None)
            }
            Err(path) => {
                let keys = path
                    .iter()
                    .map(|&i| StepKey {
                        kind: steps[i].kind.clone(),
                        name: steps[i].name.clone(),
                    })
                    .collect();
                (steps, Some(keys))
            }
        }
    }
}

/// Regions of a pool: node 0 is the pool minus its maximal prefixes; each
/// prefix is a node minus its own maximal sub-prefixes. CIDR ranges either nest
/// or are disjoint, so the regions partition the pool.
fn build_regions(info: &mut PoolInfo) {
    let mut nodes: Vec<Span128> = vec![info.range];
    let mut by_size: Vec<Span128> = info.prefixes.iter().copied().collect();
    by_size.sort_by(|a, b| b.size().cmp(&a.size()).then(a.lo.cmp(&b.lo)));
    nodes.extend(by_size);
    let mut children: Vec<Vec<Span128>> = vec![Vec::new(); nodes.len()];
    for c in 1..nodes.len() {
        let parent = (0..c)
            .filter(|&p| nodes[p].covers(&nodes[c]))
            .min_by_key(|&p| nodes[p].size())
            .unwrap_or(0);
        children[parent].push(nodes[c]);
    }
    info.regions = nodes.into_iter().zip(children).collect();
}

/// The regions a need may use, in preference order: the requested node's own
/// region first, then the regions inside it by address.
fn region_order(info: &PoolInfo, within: Option<Span128>) -> Vec<usize> {
    let top = within.unwrap_or(info.range);
    let mut out: Vec<usize> = (0..info.regions.len())
        .filter(|&ri| top.covers(&info.regions[ri].0))
        .collect();
    out.sort_by_key(|&ri| (info.regions[ri].0 != top, info.regions[ri].0.lo, ri));
    out
}
