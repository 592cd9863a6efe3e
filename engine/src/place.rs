//! Fleet placement: which host of a fleet runs each container, and, for each
//! container that fits nowhere, how many hosts rejected it for which reason.
//!
//! Semantics. A container goes on one host where all its needs are met
//! together under the single-host rules (exact name is the only candidate
//! where one exists, otherwise compatible glob provides and pools in file
//! order, otherwise a covering provider; an address provide's network is an
//! implied need), beside everything already placed there: an exclusive
//! resource name has one holder per host, a pool holds at most its capacity.
//! Hosts must carry every label of the spec's `placement`. Among feasible
//! hosts the least loaded wins (fewest containers placed), ties going to the
//! earlier host: spread by default. Hosts start empty: placement reads no
//! state.
//!
//! Heuristic. Placing containers on hosts with exclusive resources is a
//! multi-dimensional bin packing problem, NP-hard in general, so this is a
//! greedy: containers are taken most constrained first (fewest hosts that
//! could serve them by name, ties in input order) and each goes to the least
//! loaded feasible host. Per host the check is exact (pools are a b-matching
//! kept incrementally). Its miss rate against an exhaustive search on small
//! fleets is measured by `engine/tests/place_quality.rs` and reported in
//! `docs/placement.md`.
//!
//! Speed. Names and kinds are interned; each distinct (kind, name) needed gets
//! one bitset of the hosts that could serve it by name (exact provide,
//! matching pattern, covering provider), so a container's candidate hosts are a
//! few bitset intersections. Hosts are bucketed by load, so "least loaded
//! feasible" scans the candidates of the lowest buckets only. Independent work
//! (candidate counts, the explanations of unplaced containers) runs on rayon.
//!
//! Failure is data: [`HostReason`] and [`ReasonCount`]; text is the CLI's.
//! Each host is counted under one reason, the first in this order: a missing
//! label, a missing resource (no provide and no provider, first need in file
//! order), a volume needed read-write that the host lends read-only, an
//! exclusive resource already held, then the first need the host rejects in
//! file order.

mod fleet;
mod host;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use berth_specs::{HostManifest, Kind, NeedSpec};
use fixedbitset::FixedBitSet;
use rayon::prelude::*;
use serde::Serialize;

use fleet::{FastMap, Fleet, Key, PNeed};
use host::{HostState, Scratch, Why};

/// Why one host cannot run a container.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum HostReason {
    /// The host lacks a label the spec's `placement` asks for (or has another value).
    Label {
        /// Label key.
        key: String,
        /// Wanted value.
        value: String,
    },
    /// No provide of that kind and name (or matching pattern), and no provider.
    Missing {
        /// Kind of the need.
        kind: Kind,
        /// Name of the need.
        name: String,
    },
    /// An exclusive resource already held by another container on the host.
    Held {
        /// Kind of the need.
        kind: Kind,
        /// Name of the need.
        name: String,
    },
    /// The need is read-write; the host lends it read-only.
    ReadOnly {
        /// Kind of the need.
        kind: Kind,
        /// Name of the need.
        name: String,
    },
    /// The provide's `allow` list does not admit the container.
    Denied {
        /// Kind of the need.
        kind: Kind,
        /// Name of the need.
        name: String,
    },
    /// The address (or pool) lies outside the need's `prefix`.
    OutsidePrefix {
        /// Kind of the need.
        kind: Kind,
        /// Name of the need.
        name: String,
    },
    /// The port's protocol differs.
    Protocol {
        /// Kind of the need.
        kind: Kind,
        /// Name of the need.
        name: String,
    },
    /// The address's network (its implied need) is not on the host.
    NoNetwork {
        /// Kind of the need.
        kind: Kind,
        /// Name of the need.
        name: String,
        /// The network the address lives on.
        network: String,
    },
    /// Every pool that could serve it is full.
    Exhausted {
        /// Kind of the need.
        kind: Kind,
        /// Name of the need.
        name: String,
    },
}

/// How many hosts gave one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// The reason.
    #[serde(flatten)]
    pub reason: HostReason,
    /// How many hosts gave it.
    pub hosts: usize,
    /// For [`HostReason::Held`]: the holders on the first hosts counted (up to
    /// three, distinct, in host order).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub holders: Vec<String>,
}

/// Where one container went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPlacement {
    /// Index of the spec in the input.
    pub spec: usize,
    /// Index of the host in the input, `None` when unplaced.
    pub host: Option<usize>,
    /// When unplaced: the reasons, most hosts first (counts sum to the fleet size).
    pub reasons: Vec<ReasonCount>,
}

/// The result of [`place`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Number of hosts in the fleet.
    pub hosts: usize,
    /// One entry per spec, in input order.
    pub placements: Vec<ContainerPlacement>,
    /// How many containers were placed.
    pub placed: usize,
    /// How many were not.
    pub unplaced: usize,
}

impl Placement {
    /// Indexes of the specs placed on host `h`, in input order.
    pub fn on_host(&self, h: usize) -> Vec<usize> {
        self.placements
            .iter()
            .filter(|p| p.host == Some(h))
            .map(|p| p.spec)
            .collect()
    }
}

/// The hosts where an exclusive resource name is held: almost always one,
/// kept inline (a fleet holds hundreds of thousands of such names).
#[derive(Debug)]
struct HeldOn {
    first: u32,
    more: Vec<u32>,
}

impl HeldOn {
    fn hosts(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::once(self.first).chain(self.more.iter().copied())
    }
}

/// Hosts bucketed by load, so that the least loaded feasible host is found by
/// scanning the lowest buckets' candidates only.
struct Loads {
    load: Vec<u32>,
    levels: Vec<FixedBitSet>,
    count: Vec<usize>,
    min: usize,
}

impl Loads {
    fn new(n: usize) -> Loads {
        let mut all = FixedBitSet::with_capacity(n);
        all.insert_range(..);
        Loads {
            load: vec![0; n],
            levels: vec![all],
            count: vec![n],
            min: 0,
        }
    }

    fn bump(&mut self, h: usize) {
        let n = self.load.len();
        let l = self.load[h] as usize;
        self.levels[l].set(h, false);
        self.count[l] -= 1;
        self.load[h] += 1;
        if self.levels.len() == l + 1 {
            self.levels.push(FixedBitSet::with_capacity(n));
            self.count.push(0);
        }
        self.levels[l + 1].insert(h);
        self.count[l + 1] += 1;
        while self.count[self.min] == 0 {
            self.min += 1;
        }
    }

    /// The first host of `w` in the lowest load bucket, in host order, that
    /// `fits` accepts.
    fn first(&self, w: &FixedBitSet, mut fits: impl FnMut(usize) -> bool) -> Option<usize> {
        const BITS: usize = usize::BITS as usize;
        let ws = w.as_slice();
        for level in self.min..self.levels.len() {
            if self.count[level] == 0 {
                continue;
            }
            let bs = self.levels[level].as_slice();
            for (i, (&a, &b)) in ws.iter().zip(bs).enumerate() {
                let mut x = a & b;
                while x != 0 {
                    let h = i * BITS + x.trailing_zeros() as usize;
                    x &= x - 1;
                    if fits(h) {
                        return Some(h);
                    }
                }
            }
        }
        None
    }
}

/// Places every spec on one host of the fleet (see the module docs for the
/// rules and the heuristic). Deterministic: the same input gives the same
/// output.
pub fn place<'a>(hosts: &'a [&'a HostManifest], specs: &'a [&'a NeedSpec]) -> Placement {
    let mut fleet = Fleet::build(hosts);
    let needs = fleet.prepare(specs);
    let fleet = fleet;
    let n = hosts.len();

    let mut order: Vec<(usize, u32)> = (0..specs.len())
        .into_par_iter()
        .map_init(
            || FixedBitSet::with_capacity(n),
            |w, c| {
                fleet.static_set_into(specs[c], needs.of(c), w);
                (w.count_ones(..), c as u32)
            },
        )
        .collect();
    order.sort_unstable();

    let mut states: Vec<HostState> = (0..n).map(|_| HostState::default()).collect();
    let mut held: FastMap<Key, HeldOn> = FastMap::default();
    held.reserve(specs.len());
    let mut loads = Loads::new(n);
    let mut at: Vec<Option<usize>> = vec![None; specs.len()];
    let mut w = FixedBitSet::with_capacity(n);
    let mut scratch = Scratch::default();
    for &(count, c) in &order {
        if count == 0 {
            continue;
        }
        let (spec, pn) = (specs[c as usize], needs.of(c as usize));
        fleet.static_set_into(spec, pn, &mut w);
        for p in pn {
            if let Some(on) = held.get(&p.key) {
                for h in on.hosts() {
                    w.set(h as usize, false);
                }
            }
        }
        let chosen = loads.first(&w, |h| {
            states[h]
                .try_place(&fleet, h, c, spec, pn, &mut scratch)
                .is_ok()
        });
        if let Some(h) = chosen {
            loads.bump(h);
            for &k in &scratch.taken {
                match held.entry(k) {
                    Entry::Occupied(mut e) => e.get_mut().more.push(h as u32),
                    Entry::Vacant(e) => {
                        e.insert(HeldOn {
                            first: h as u32,
                            more: Vec::new(),
                        });
                    }
                }
            }
            at[c as usize] = Some(h);
        }
    }

    let unplaced: Vec<usize> = (0..specs.len()).filter(|&c| at[c].is_none()).collect();
    let mut reasons: HashMap<usize, Vec<ReasonCount>> = unplaced
        .par_iter()
        .map(|&c| {
            let hist = histogram(&fleet, &states, &held, specs, c, needs.of(c));
            (c, hist)
        })
        .collect();
    let placements = (0..specs.len())
        .map(|c| ContainerPlacement {
            spec: c,
            host: at[c],
            reasons: reasons.remove(&c).unwrap_or_default(),
        })
        .collect();
    Placement {
        hosts: n,
        placements,
        placed: specs.len() - unplaced.len(),
        unplaced: unplaced.len(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Label(usize),
    Need(u32, Why),
}

/// Counts, over every host, the first reason it rejects container `c` for.
fn histogram(
    f: &Fleet<'_>,
    states: &[HostState],
    held: &FastMap<Key, HeldOn>,
    specs: &[&NeedSpec],
    c: usize,
    needs: &[PNeed],
) -> Vec<ReasonCount> {
    let spec = specs[c];
    let mut remaining = FixedBitSet::with_capacity(f.hosts.len());
    remaining.insert_range(..);
    let mut groups: BTreeMap<Group, (usize, Vec<u32>)> = BTreeMap::new();
    let mut add = |g: Group, k: usize, holder: Option<u32>| {
        if k == 0 {
            return;
        }
        let e = groups.entry(g).or_default();
        e.0 += k;
        if let Some(hd) = holder {
            if e.1.len() < 3 && !e.1.contains(&hd) {
                e.1.push(hd);
            }
        }
    };
    for (j, (k, v)) in spec.placement.iter().enumerate() {
        match f.label_hosts(k, v) {
            Some(ok) => {
                add(Group::Label(j), remaining.difference_count(ok), None);
                remaining.intersect_with(ok);
            }
            None => {
                add(Group::Label(j), remaining.count_ones(..), None);
                remaining.clear();
            }
        }
    }
    for pn in needs {
        let cand = f.cand(&f.keys[pn.info as usize]);
        add(
            Group::Need(pn.need, Why::Missing),
            remaining.difference_count(cand),
            None,
        );
        remaining.intersect_with(cand);
    }
    for pn in needs {
        if let (true, Some(ro)) = (pn.rw, &f.keys[pn.info as usize].read_only) {
            add(
                Group::Need(pn.need, Why::ReadOnly),
                remaining.intersection_count(ro),
                None,
            );
            remaining.difference_with(ro);
        }
    }
    for pn in needs {
        for h in held.get(&pn.key).into_iter().flat_map(HeldOn::hosts) {
            if remaining.contains(h as usize) {
                remaining.set(h as usize, false);
                let holder = states[h as usize].holder(&pn.key);
                add(Group::Need(pn.need, Why::Held), 1, holder);
            }
        }
    }
    let mut scratch = Scratch::default();
    for h in remaining.ones() {
        match states[h].verdict(f, h, spec, needs, &mut scratch) {
            Err(fail) => add(Group::Need(fail.need, fail.why), 1, fail.holder),
            // Unreachable: a host only gains holders after a container was
            // refused, so a refusal stays a refusal.
            Ok(()) => debug_assert!(false, "host {h} accepts an unplaced container"),
        }
    }
    let mut out: Vec<(Group, ReasonCount)> = groups
        .into_iter()
        .map(|(g, (hosts, holders))| {
            let reason = match g {
                Group::Label(j) => {
                    let (k, v) = spec.placement.iter().nth(j).expect("label index");
                    HostReason::Label {
                        key: k.clone(),
                        value: v.clone(),
                    }
                }
                Group::Need(i, why) => {
                    let need = &spec.needs[i as usize];
                    let (kind, name) = (need.kind.clone(), need.name.clone());
                    match why {
                        Why::Missing => HostReason::Missing { kind, name },
                        Why::Held => HostReason::Held { kind, name },
                        Why::ReadOnly => HostReason::ReadOnly { kind, name },
                        Why::Denied => HostReason::Denied { kind, name },
                        Why::OutsidePrefix => HostReason::OutsidePrefix { kind, name },
                        Why::Protocol => HostReason::Protocol { kind, name },
                        Why::Exhausted => HostReason::Exhausted { kind, name },
                        Why::NoNetwork(net) => HostReason::NoNetwork {
                            kind,
                            name,
                            network: f.names.name(net).to_string(),
                        },
                    }
                }
            };
            let holders = holders
                .into_iter()
                .map(|s| specs[s as usize].container.clone())
                .collect();
            (
                g,
                ReasonCount {
                    reason,
                    hosts,
                    holders,
                },
            )
        })
        .collect();
    out.sort_by(|a, b| b.1.hosts.cmp(&a.1.hosts).then(a.0.cmp(&b.0)));
    out.into_iter().map(|(_, r)| r).collect()
}
