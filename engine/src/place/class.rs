//! Candidate classes: containers whose static candidate hosts are built from
//! the same sets (the same labels, the same per-need candidate sets, the same
//! read-only exclusions, the same `allow` refusals, in the same order) share
//! one class, so that the
//! fleet-wide set work is done once per class, not once per container.
//!
//! Why it exists: a container's candidate hosts used to be computed with
//! full-width bitset operations (twice) and its least loaded feasible host
//! found by scanning a load-level bitset, so each container cost
//! O(hosts / 64) whatever it needed, and placement grew with containers x
//! hosts (issue 14). Here a class's static set is computed once, by walking
//! the smallest of its sets and testing membership in the others, and each
//! class keeps a lazy min-heap of its hosts keyed by (load, host index),
//! shared by the classes with the same static set that never park a host: a
//! container's search pops hosts in exactly the order "least loaded first,
//! ties to the earlier host" that the placement rule states, and costs the
//! hosts it tries, not the fleet's width.
//!
//! What must stay true: [`Class::hosts`] is exactly the static set (labels
//! carried, every need servable by name, read-write needs off hosts that lend
//! them read-only, needs off hosts whose exact provide's `allow` list refuses
//! the container); the heap's order is the true (load, host) order (loads
//! only grow, so an entry whose recorded load is behind is pushed again with
//! the current one before it can be chosen); a host is parked (left out of a
//! class's heap) only while it holds exclusively a name every member of the
//! class needs, which makes every member fail there, and it comes back when
//! a repair frees that host; only a class with a heap of its own parks.

use std::cmp::Reverse;

use dary_heap::{PeekMut, QuaternaryHeap};

use berth_specs::NeedSpec;
use fixedbitset::FixedBitSet;
use rayon::prelude::*;

use super::fleet::{FastMap, Fleet, Needs, GUARDED, OWN, RO_HOSTS, RW, TRACK};
use super::host::{Group, Why};

/// One ingredient of a static set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Part {
    /// Hosts carrying a label pair (index into [`Classes::labels`]); `None`
    /// in that table when no host carries it.
    Label(u32),
    /// Hosts that could serve a need by name, for a name some host provides
    /// exactly: [`Fleet::cand`] of this key info (index into [`Fleet::keys`]).
    /// Every member of the class needs that very name.
    Own(u32),
    /// Hosts that could serve a need by name through patterns and providers
    /// only: the hosts of this signature (index into [`Fleet::sigs`]),
    /// shared by every name it serves (per-container address names).
    Sig(u32),
    /// Read-write need `need` (index in the spec): hosts lending the key
    /// info's exact provide read-only are excluded.
    NotRo(u32, u32),
    /// Need `need` (index in the spec) is refused by `allow` lists: the hosts
    /// whose exact provide of it does not admit the container (index into
    /// [`Classes::denied`]) are excluded.
    NotDenied(u32, u32),
}

/// Containers with one static candidate set.
#[derive(Debug)]
pub(crate) struct Class {
    parts: Vec<Part>,
    /// The static set, ascending.
    pub(crate) hosts: Vec<u32>,
    /// Index into [`Classes::heaps`].
    heap: u32,
    /// Some member can fail on a host for a reason that parks it there (a
    /// name every member needs, held exclusively): see [`Classes::first`].
    parks: bool,
}

/// A lazy min-heap of (load << 32 | host), built on the first search.
/// Four-ary: 20,000 hosts are 7 levels deep instead of 14, and a level's
/// children share a cache line (issue 14: the binary heap's sifts grew
/// faster than the fleet). Entries are distinct, so any heap pops them in
/// the same order.
type Heap = Option<QuaternaryHeap<Reverse<u64>>>;

/// Every class, and which class each container is in.
#[derive(Debug)]
pub(crate) struct Classes<'f> {
    pub(crate) all: Vec<Class>,
    pub(crate) of: Vec<u32>,
    labels: Vec<Option<&'f FixedBitSet>>,
    /// Hosts whose `allow` lists refuse a need's name to a container: one
    /// set per (name, refusing lists) met.
    denied: Vec<FixedBitSet>,
    /// The heaps. Classes that never park a host and have the same static
    /// set share one: the generated fleet has dozens of classes spanning
    /// every host, and with a heap each, every placement left a stale entry
    /// in each of them to be sifted again (issue 14).
    heaps: Vec<Heap>,
    /// Per host: the classes it is parked in.
    parked: Vec<Vec<u32>>,
    back: Vec<u64>,
}

fn pack(load: u32, h: usize) -> u64 {
    (u64::from(load) << 32) | h as u64
}

impl<'f> Classes<'f> {
    /// Sorts every container into its class and computes each class's static
    /// set (in parallel: classes are independent).
    pub(crate) fn build(fleet: &'f Fleet<'_>, specs: &[&NeedSpec], needs: &Needs) -> Self {
        let mut label_ids: FastMap<(&str, &str), u32> = FastMap::default();
        let mut labels = Vec::new();
        let mut ids: FastMap<Vec<Part>, u32> = FastMap::default();
        let mut all: Vec<Class> = Vec::new();
        let mut of = Vec::with_capacity(specs.len());
        let mut parts = Vec::new();
        let mut denied: Vec<FixedBitSet> = Vec::new();
        let mut denied_ids: FastMap<(u32, Vec<u32>), u32> = FastMap::default();
        let mut refusing: Vec<u32> = Vec::new();
        for (c, spec) in specs.iter().enumerate() {
            parts.clear();
            for (k, v) in &spec.placement {
                let next = labels.len() as u32;
                let id = *label_ids
                    .entry((k.as_str(), v.as_str()))
                    .or_insert_with(|| {
                        labels.push(fleet.label_hosts(k, v));
                        next
                    });
                parts.push(Part::Label(id));
            }
            let pn = needs.of(c);
            parts.extend(pn.iter().map(|p| {
                if p.has(OWN) {
                    Part::Own(p.info)
                } else {
                    Part::Sig(p.sig)
                }
            }));
            for p in pn {
                if p.has(RW) && p.has(RO_HOSTS) {
                    parts.push(Part::NotRo(p.info, p.need));
                }
            }
            // `allow` lists read once per list, not once per host.
            for p in pn.iter().filter(|p| p.has(GUARDED)) {
                let guards = fleet.guards(fleet.keys[p.info as usize]);
                refusing.clear();
                refusing.extend(
                    (0..guards.len())
                        .filter(|&g| !fleet.guard_admits(p, g, spec))
                        .map(|g| g as u32),
                );
                if refusing.is_empty() {
                    continue;
                }
                let next = denied.len() as u32;
                let id = *denied_ids
                    .entry((p.info, refusing.clone()))
                    .or_insert_with(|| {
                        let mut set = FixedBitSet::with_capacity(fleet.hosts.len());
                        for &g in &refusing {
                            set.union_with(&guards[g as usize].1);
                        }
                        denied.push(set);
                        next
                    });
                parts.push(Part::NotDenied(id, p.need));
            }
            let k = match ids.get(parts.as_slice()) {
                Some(&k) => k,
                None => {
                    let k = all.len() as u32;
                    ids.insert(parts.clone(), k);
                    all.push(Class {
                        parts: parts.clone(),
                        hosts: Vec::new(),
                        heap: 0,
                        parks: pn.iter().any(|p| p.has(OWN) && p.has(TRACK)),
                    });
                    k
                }
            };
            of.push(k);
        }
        let mut out = Classes {
            all,
            of,
            labels,
            denied,
            heaps: Vec::new(),
            parked: vec![Vec::new(); fleet.hosts.len()],
            back: Vec::new(),
        };
        let hosts: Vec<Vec<u32>> = out
            .all
            .par_iter()
            .map(|cl| out.static_set(fleet, &cl.parts))
            .collect();
        for (cl, h) in out.all.iter_mut().zip(hosts) {
            cl.hosts = h;
        }
        let mut shared: FastMap<&[u32], u32> = FastMap::default();
        let mut heap_of = Vec::with_capacity(out.all.len());
        let mut heaps = 0;
        for cl in &out.all {
            let mut fresh = || {
                heaps += 1;
                heaps - 1
            };
            heap_of.push(match cl.parks {
                true => fresh(),
                false => *shared.entry(&cl.hosts).or_insert_with(fresh),
            });
        }
        for (cl, h) in out.all.iter_mut().zip(heap_of) {
            cl.heap = h;
        }
        out.heaps = (0..heaps).map(|_| None).collect();
        out
    }

    fn set<'s>(&'s self, fleet: &'s Fleet<'_>, part: Part) -> Option<&'s FixedBitSet>
    where
        'f: 's,
    {
        match part {
            Part::Label(l) => self.labels[l as usize],
            Part::Own(i) => Some(fleet.cand(fleet.keys[i as usize])),
            Part::Sig(s) => Some(fleet.sig_hosts(s)),
            Part::NotRo(i, _) => fleet.read_only(fleet.keys[i as usize]),
            Part::NotDenied(d, _) => Some(&self.denied[d as usize]),
        }
    }

    /// The hosts in every positive set and no read-only set: the smallest
    /// positive set walked, the others tested bit by bit.
    fn static_set(&self, fleet: &Fleet<'_>, parts: &[Part]) -> Vec<u32> {
        let mut pos: Vec<&FixedBitSet> = Vec::new();
        let mut neg: Vec<&FixedBitSet> = Vec::new();
        for &p in parts {
            match (p, self.set(fleet, p)) {
                (Part::NotRo(..) | Part::NotDenied(..), Some(b)) => neg.push(b),
                (Part::NotRo(..) | Part::NotDenied(..), None) => {}
                (_, Some(b)) => pos.push(b),
                (_, None) => return Vec::new(),
            }
        }
        let keep =
            |h: usize| pos.iter().all(|b| b.contains(h)) && !neg.iter().any(|b| b.contains(h));
        match pos.iter().min_by_key(|b| b.count_ones(..)) {
            Some(small) => small
                .ones()
                .filter(|&h| keep(h))
                .map(|h| h as u32)
                .collect(),
            None => (0..fleet.hosts.len())
                .filter(|&h| keep(h))
                .map(|h| h as u32)
                .collect(),
        }
    }

    /// The first host of class `k` in (load, host) order, other than `skip`,
    /// that `test` accepts. `test` says `Err(true)` for a host to park: one
    /// where every member of the class fails until a repair frees it. With
    /// `bump`, the caller places a container on the host found (its load
    /// grows by one): its entry goes back with that load, not one behind
    /// (one sift fewer per placement, same order).
    pub(crate) fn first(
        &mut self,
        k: u32,
        load: &[u32],
        skip: Option<usize>,
        bump: bool,
        mut test: impl FnMut(usize) -> Result<(), bool>,
    ) -> Option<usize> {
        let cl = &self.all[k as usize];
        let heap = self.heaps[cl.heap as usize].get_or_insert_with(|| {
            cl.hosts
                .iter()
                .map(|&h| Reverse(pack(load[h as usize], h as usize)))
                .collect()
        });
        let mut found = None;
        while let Some(mut top) = heap.peek_mut() {
            let e = top.0;
            let h = (e & u64::from(u32::MAX)) as usize;
            let l = (e >> 32) as u32;
            if l < load[h] {
                // Behind: updated in place (one sift instead of a pop and a
                // push; entries are distinct, so the order is the same).
                top.0 = pack(load[h], h);
                continue;
            }
            PeekMut::pop(top);
            if Some(h) == skip {
                self.back.push(e);
                continue;
            }
            match test(h) {
                Ok(()) => {
                    self.back.push(if bump { pack(load[h] + 1, h) } else { e });
                    found = Some(h);
                    break;
                }
                Err(true) => {
                    // Only a class with a heap of its own parks hosts.
                    debug_assert!(cl.parks, "class {k} parks host {h}");
                    self.parked[h].push(k);
                }
                Err(false) => self.back.push(e),
            }
        }
        heap.extend(self.back.drain(..).map(Reverse));
        found
    }

    /// Host `h` may have lost holders (a repair rebuilt it): it goes back
    /// into every class it was parked in.
    pub(crate) fn unpark(&mut self, h: usize, load: &[u32]) {
        for k in std::mem::take(&mut self.parked[h]) {
            if let Some(heap) = &mut self.heaps[self.all[k as usize].heap as usize] {
                heap.push(Reverse(pack(load[h], h)));
            }
        }
    }

    /// The reasons hosts outside class `k`'s static set give, counted in the
    /// order of placement's explanations (labels, then a missing resource by
    /// need, then read-only lending by need, then `allow` refusals by need):
    /// the same for every member.
    /// Full-width set work, once per class that has unplaced containers.
    pub(crate) fn static_groups(&self, fleet: &Fleet<'_>, k: u32) -> Vec<(Group, usize)> {
        let mut remaining = FixedBitSet::with_capacity(fleet.hosts.len());
        remaining.insert_range(..);
        let mut out = Vec::new();
        let (mut label, mut need) = (0, 0);
        for &p in &self.all[k as usize].parts {
            let set = self.set(fleet, p);
            let group = match p {
                Part::Label(_) => {
                    label += 1;
                    Group::Label(label - 1)
                }
                Part::Own(_) | Part::Sig(_) => {
                    need += 1;
                    Group::Need(need - 1, Why::Missing)
                }
                Part::NotRo(_, i) | Part::NotDenied(_, i) => {
                    let why = match p {
                        Part::NotRo(..) => Why::ReadOnly,
                        _ => Why::Denied,
                    };
                    if let Some(ro) = set {
                        out.push((Group::Need(i, why), remaining.intersection_count(ro)));
                        remaining.difference_with(ro);
                    }
                    continue;
                }
            };
            match set {
                Some(ok) => {
                    out.push((group, remaining.difference_count(ok)));
                    remaining.intersect_with(ok);
                }
                None => {
                    out.push((group, remaining.count_ones(..)));
                    remaining.clear();
                }
            }
        }
        out
    }
}
