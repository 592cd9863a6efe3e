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
//! earlier host: spread by default. Hosts start empty unless their state is
//! given ([`place_with_state`]): then what the state holds and reserves counts.
//!
//! One set of rules. Compatibility (read-only, allow, prefix, protocol,
//! family, exclusivity, gateways) comes from [`crate::rules`], the module the
//! single-host solver uses too. The per-host index below decides fast and
//! exactly where it can model the host; where it cannot (the host has state,
//! or a container there wants an address within a prefix, which splits pools
//! into regions) the single-host solver itself confirms each container on the
//! host together with those placed before it. So a container `place` puts on
//! host H is always one `plan` satisfies on H beside the others placed there.
//!
//! Heuristic. Placing containers on hosts with exclusive resources is a
//! multi-dimensional bin packing problem, NP-hard in general, so this is a
//! greedy: containers are taken most constrained first (fewest hosts that
//! could serve them by name, ties in input order) and each goes to the least
//! loaded feasible host; then a bounded repair moves one blocker elsewhere
//! where that lets a left-over container in. Per host the check is exact
//! (pools are a b-matching kept incrementally). Its miss rate against an
//! exhaustive search on small fleets is measured by
//! `engine/tests/place_quality.rs` and reported in `docs/placement.md`.
//!
//! Speed. Names and kinds are interned; each distinct (kind, name) needed gets
//! one bitset of the hosts that could serve it by name (exact provide,
//! matching pattern, covering provider). Containers whose candidate hosts come
//! from the same sets form one class ([`class`]): its static set is computed
//! once, and a lazy (load, host) heap per class yields its hosts least loaded
//! first, so a container costs the hosts it tries, not the fleet's width
//! (issue 14). Independent work (class sets, the explanations of unplaced
//! containers) runs on rayon.
//!
//! Failure is data: [`HostReason`] and [`ReasonCount`]; text is the CLI's.
//! Each host is counted under one reason, the first in this order: a missing
//! label, a missing resource (no provide and no provider, first need in file
//! order), a volume needed read-write that the host lends read-only, a need
//! whose exact provide's `allow` list does not admit the container, an
//! exclusive resource already held, then the first need the host rejects in
//! file order. (The first four never change while placing: they are decided
//! once per class of containers, not once per host tried.)

mod class;
mod fleet;
mod host;

use std::collections::{BTreeMap, HashMap};

use berth_specs::{HostManifest, Kind, NeedSpec};
use rayon::prelude::*;
use serde::Serialize;

use crate::state::State;
use class::Classes;
use fleet::{FastMap, Fleet, Needs, PNeed, OWN};
use host::{Group, HostState, Scratch, Why};

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
    /// Placed on a host, but its run configuration could not be written
    /// there (`place --out`), so it does not count as placed.
    NotWritten {
        /// The host it was placed on.
        host: String,
        /// Why the file was not written.
        error: String,
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

    /// Takes back the placement of spec `c` (its run configuration could not
    /// be written): it counts as unplaced, for `reason`.
    pub fn unplace(&mut self, c: usize, reason: HostReason) {
        let p = &mut self.placements[c];
        if p.host.take().is_some() {
            self.placed -= 1;
            self.unplaced += 1;
        }
        p.reasons = vec![ReasonCount {
            reason,
            hosts: 1,
            holders: Vec::new(),
        }];
    }

    /// [`Placement::on_host`] for every host at once, in one pass: entry `h`
    /// lists the specs placed on host `h`, in input order.
    pub fn by_host(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.hosts];
        for p in &self.placements {
            if let Some(h) = p.host {
                out[h].push(p.spec);
            }
        }
        out
    }
}

/// Each host's state, read where berth keeps it
/// ([`crate::store::state_location`] with `state_dir`, a command's
/// `--state-dir`), without locking or creating anything; a host without a
/// state file gets an empty state. Fast on big fleets: each distinct folder is
/// listed once, and only the files present are read (5,000 hosts without
/// state cost one `read_dir`, not 5,000 failed opens).
pub fn read_states(
    hosts: &[&HostManifest],
    state_dir: Option<&std::path::Path>,
) -> Result<Vec<State>, crate::store::StoreError> {
    use std::collections::HashSet;
    use std::ffi::OsString;
    use std::path::PathBuf;
    let dirs: Vec<PathBuf> = hosts
        .iter()
        .map(|h| crate::store::state_location(state_dir, h))
        .collect();
    // Per distinct folder: the names present, or `None` when it cannot be
    // listed (then each host's file is read, and reports its own error).
    let mut listed: HashMap<&PathBuf, Option<HashSet<OsString>>> = HashMap::new();
    for d in &dirs {
        listed
            .entry(d)
            .or_insert_with(|| match std::fs::read_dir(d) {
                Ok(rd) => Some(rd.filter_map(|e| e.ok().map(|e| e.file_name())).collect()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(HashSet::new()),
                Err(_) => None,
            });
    }
    hosts
        .par_iter()
        .zip(&dirs)
        .map(|(h, d)| {
            if let Some(names) = &listed[d] {
                // The store, or a JSON state file not yet migrated.
                let has =
                    |ext: &str| names.contains(std::ffi::OsStr::new(&format!("{}.{ext}", h.host)));
                if !has("db") && !has("json") {
                    return Ok(State::new(&h.host));
                }
            }
            crate::store::StateFile::new(d, &h.host).load_readonly()
        })
        .collect()
}

/// Where each exclusive resource name is held, by key info (index into
/// [`Fleet::keys`], dense): almost always on one host, kept inline in a flat
/// table (a fleet holds hundreds of thousands of such names, and a hash map
/// of them costs a cache miss per lookup); the rare further hosts beside it.
#[derive(Debug)]
struct Held {
    /// Per key info: the first host holding it (`u32::MAX`: none).
    first: Vec<u32>,
    /// Per key info held on more than one host: the others, in order.
    more: FastMap<u32, Vec<u32>>,
}

impl Held {
    fn new(infos: usize) -> Held {
        Held {
            first: vec![u32::MAX; infos],
            more: FastMap::default(),
        }
    }

    fn hold(&mut self, i: u32, h: usize) {
        let first = &mut self.first[i as usize];
        if *first == u32::MAX {
            *first = h as u32;
        } else {
            self.more.entry(i).or_default().push(h as u32);
        }
    }

    fn release(&mut self, i: u32, h: usize) {
        let first = &mut self.first[i as usize];
        if *first == u32::MAX {
            return;
        }
        let more = self.more.get_mut(&i);
        if *first == h as u32 {
            *first = more.and_then(Vec::pop).unwrap_or(u32::MAX);
        } else if let Some(more) = more {
            more.retain(|&x| x != h as u32);
        }
    }

    /// The hosts holding key info `i`: the first, then the others in order.
    fn hosts(&self, i: u32) -> impl Iterator<Item = u32> + '_ {
        // `more` is empty whenever `first` is (`release` moves its last
        // into `first`).
        let first = self.first[i as usize];
        let more = self.more.get(&i);
        (first != u32::MAX)
            .then_some(first)
            .into_iter()
            .chain(more.into_iter().flatten().copied())
    }
}

/// Names given twice, which make a placement ambiguous (two hosts or two
/// containers called alike): for each repeat, in order, the index of the
/// previous item with that name and its own index. [`place`] works by index;
/// a caller that reports or writes by name (as `berth place` does) refuses
/// these first, for the host names and for the container names.
///
/// ```
/// use berth_engine::place::repeated_names;
/// assert_eq!(repeated_names(["a", "b", "a", "a"]), vec![(0, 2), (2, 3)]);
/// ```
pub fn repeated_names<'n>(names: impl IntoIterator<Item = &'n str>) -> Vec<(usize, usize)> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    names
        .into_iter()
        .enumerate()
        .filter_map(|(i, name)| seen.insert(name, i).map(|prev| (prev, i)))
        .collect()
}

/// Places every spec on one host of the fleet (see the module docs for the
/// rules and the heuristic). Deterministic: the same input gives the same
/// output.
pub fn place<'a>(hosts: &'a [&'a HostManifest], specs: &'a [&'a NeedSpec]) -> Placement {
    place_with_state(hosts, &[], specs)
}

/// [`place`] on hosts that already run something: `states[h]` is host `h`'s
/// state (its holdings, reservations and provider records count as they do
/// for `plan`); hosts past the end of `states` start empty.
pub fn place_with_state<'a>(
    hosts: &'a [&'a HostManifest],
    states: &'a [State],
    specs: &'a [&'a NeedSpec],
) -> Placement {
    let mut fleet = Fleet::build(hosts, states);
    let needs = fleet.prepare(specs);
    let fleet = fleet;
    let n = hosts.len();
    let classes = Classes::build(&fleet, specs, &needs);

    // 8 bytes a container (a class has at most `n` hosts, fewer than 2^32).
    let mut order: Vec<(u32, u32)> = (0..specs.len())
        .map(|c| {
            (
                classes.all[classes.of[c] as usize].hosts.len() as u32,
                c as u32,
            )
        })
        .collect();
    order.sort_unstable();

    let mut g = Greedy {
        fleet: &fleet,
        specs,
        needs: &needs,
        states: (0..n).map(|_| HostState::default()).collect(),
        held: Held::new(fleet.keys.len()),
        load: vec![0; n],
        classes,
        at: vec![None; specs.len()],
        scratch: Scratch::default(),
        stuck: vec![u32::MAX; specs.len()],
        dead: Vec::new(),
        generation: 0,
    };
    g.dead = vec![u32::MAX; g.classes.all.len()];
    for &(count, c) in &order {
        if count > 0 {
            g.attempt(c);
        }
    }
    // Repair: an unplaced container may fit where a blocker sits that could
    // move elsewhere. Bounded work (20,000 host checks, plus one per eight
    // containers of the input), so big fleets stay fast: there, most
    // unplaced containers want something truly scarce, and a repair rarely
    // finds a blocker with somewhere else to go.
    let mut budget = 20_000 + specs.len() / 8;
    let mut repaired = false;
    for &(count, c) in &order {
        if count > 0 && g.at[c as usize].is_none() && budget > 0 {
            repaired |= g.repair(c, &mut budget);
        }
    }
    if repaired {
        // A repaired host lost a container and gained another: retry the
        // rest once, so that every unplaced container is refused by the
        // final state (the histograms below rely on it).
        for &(count, c) in &order {
            if count > 0 && g.at[c as usize].is_none() {
                g.attempt(c);
            }
        }
    }
    if fleet.replacing() {
        // A container the state records on a host, placed there again,
        // frees what it held for the others (its holdings are its own): a
        // refusal before it came may no longer hold. Retry until nothing
        // changes (each round places one more at least).
        loop {
            let mut placed_one = false;
            for &(count, c) in &order {
                if count > 0 && g.at[c as usize].is_none() {
                    placed_one |= g.attempt(c);
                }
            }
            if !placed_one {
                break;
            }
        }
    }
    let Greedy {
        states,
        held,
        at,
        classes,
        ..
    } = g;

    let unplaced: Vec<usize> = (0..specs.len()).filter(|&c| at[c].is_none()).collect();
    // The static part of an explanation is the same for every member of a
    // class: counted once per class.
    // So is the count of its hosts taken by holders of the names every
    // member needs (a scarce GPU's holders): counted once per class, from
    // its first unplaced member.
    let mut wanted: Vec<(u32, usize)> = unplaced.iter().map(|&c| (classes.of[c], c)).collect();
    wanted.sort_unstable();
    wanted.dedup_by_key(|w| w.0);
    let explain = |k: u32, groups| Explain {
        fleet: &fleet,
        states: &states,
        held: &held,
        specs,
        hosts: &classes.all[k as usize].hosts,
        groups,
    };
    let groups: FastMap<u32, Vec<(Group, usize)>> = wanted
        .par_iter()
        .map(|&(k, _)| (k, classes.static_groups(&fleet, k)))
        .collect();
    let shared: FastMap<u32, (Groups, Vec<u32>)> = wanted
        .par_iter()
        .map(|&(k, c)| {
            let own = needs.of(c).iter().filter(|p| p.has(OWN));
            (k, explain(k, &groups[&k]).held_part(own))
        })
        .collect();
    let mut reasons: HashMap<usize, Vec<ReasonCount>> = unplaced
        .par_iter()
        .map(|&c| {
            let k = classes.of[c];
            (
                c,
                explain(k, &groups[&k]).histogram(c, needs.of(c), &shared[&k]),
            )
        })
        .collect();
    let placements = (0..specs.len())
        .map(|c| ContainerPlacement {
            spec: c,
            host: at[c].map(|h| h as usize),
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

/// The greedy's state: what each host holds, where each exclusive name is
/// held, host loads, and where each container went.
struct Greedy<'f, 'a> {
    fleet: &'f Fleet<'a>,
    specs: &'a [&'a NeedSpec],
    needs: &'f Needs,
    states: Vec<HostState>,
    held: Held,
    /// Per host: how many containers are placed there (only grows).
    load: Vec<u32>,
    classes: Classes<'f>,
    /// Per container: the host it went to.
    at: Vec<Option<u32>>,
    scratch: Scratch,
    /// Per container: the repair generation in which it was found to fit
    /// nowhere else (`stuck[x] == generation`); a repair bumps the generation.
    stuck: Vec<u32>,
    /// Per class: the repair generation in which every host of its static
    /// set was found blocked by a stuck holder of a name every member needs
    /// (`dead[k] == generation`): its other members cannot be repaired in
    /// that generation either, and cost nothing.
    dead: Vec<u32>,
    generation: u32,
}

/// Whether every container of class-mate `c`'s class fails on host `h` until
/// `h` is rebuilt: `h` holds exclusively a name that all of them need (one
/// served by an exact provide somewhere, which makes it part of the class).
fn parkable(states: &[HostState], needs: &[PNeed], h: usize) -> bool {
    needs
        .iter()
        .any(|p| p.has(OWN) && states[h].holder(p.info).is_some())
}

impl Greedy<'_, '_> {
    /// The least loaded host (ties: the earlier) of `c`'s static set, other
    /// than `skip`, where `c` fits beside what is there; placed there when
    /// `place`, else only checked.
    fn least(&mut self, c: u32, skip: Option<usize>, place: bool) -> Option<usize> {
        let (spec, pn) = (self.specs[c as usize], self.needs.of(c as usize));
        let (fleet, states, scratch) = (self.fleet, &mut self.states, &mut self.scratch);
        let k = self.classes.of[c as usize];
        self.classes.first(k, &self.load, skip, place, |h| {
            let r = if place {
                states[h].try_place(fleet, h, c, spec, pn, scratch)
            } else {
                states[h].verdict(fleet, h, c, spec, pn, scratch)
            };
            r.map_err(|_| parkable(states, pn, h))
        })
    }

    /// Places `c` on the least loaded host where it fits, if any.
    fn attempt(&mut self, c: u32) -> bool {
        let Some(h) = self.least(c, None, true) else {
            return false;
        };
        self.load[h] += 1;
        for i in 0..self.scratch.taken.len() {
            let k = self.scratch.taken[i];
            self.held.hold(k, h);
        }
        self.at[c as usize] = Some(h as u32);
        true
    }

    /// Tries to place unplaced `c` by moving one container that blocks it
    /// (the holder of a name it needs, or a user of a full pool) to another
    /// host. Spends `budget` checks at most. True if `c` was placed.
    fn repair(&mut self, c: u32, budget: &mut usize) -> bool {
        let (spec, pn) = (self.specs[c as usize], self.needs.of(c as usize));
        let k = self.classes.of[c as usize] as usize;
        if self.dead[k] == self.generation {
            return false;
        }
        // Whether every host so far was blocked through a name the whole
        // class needs (then the class is dead for this generation: holders
        // and stuck marks only change when a repair commits).
        let mut class_blocked = true;
        for i in 0..self.classes.all[k].hosts.len() {
            let h = self.classes.all[k].hosts[i] as usize;
            if *budget == 0 {
                return false;
            }
            // A host where a name `c` needs is held by a container known to
            // fit nowhere else costs no check.
            let stuck_holder = |p: &PNeed| {
                self.states[h]
                    .holder(p.info)
                    .is_some_and(|y| self.stuck[y as usize] == self.generation)
            };
            let own = |p: &&PNeed| p.has(OWN);
            if pn.iter().filter(own).any(stuck_holder) {
                continue;
            }
            class_blocked = false;
            if pn.iter().any(stuck_holder) {
                continue;
            }
            *budget -= 1;
            let blockers: Vec<u32> =
                match self.states[h].verdict(self.fleet, h, c, spec, pn, &mut self.scratch) {
                    Err(f) if f.why == Why::Held => f.holder.into_iter().collect(),
                    Err(f) if f.why == Why::Exhausted => {
                        self.states[h].placed().iter().copied().take(8).collect()
                    }
                    _ => continue,
                };
            for x in blockers {
                if self.stuck[x as usize] == self.generation || *budget == 0 {
                    continue;
                }
                // Where `x` could go instead (not `h`).
                let mut spent = 0;
                let elsewhere = {
                    let (xs, xn) = (self.specs[x as usize], self.needs.of(x as usize));
                    let (fleet, states, scratch) = (self.fleet, &self.states, &mut self.scratch);
                    let kx = self.classes.of[x as usize];
                    self.classes.first(kx, &self.load, Some(h), false, |g| {
                        spent += 1;
                        states[g]
                            .verdict(fleet, g, x, xs, xn, scratch)
                            .map_err(|_| parkable(states, xn, g))
                    })
                };
                *budget = budget.saturating_sub(spent);
                let Some(g) = elsewhere else {
                    self.stuck[x as usize] = self.generation;
                    continue;
                };
                let (xs, xn) = (self.specs[x as usize], self.needs.of(x as usize));
                // `h` without `x`, plus `c`.
                let mut rebuilt = HostState::default();
                let rest: Vec<u32> = self.states[h]
                    .placed()
                    .iter()
                    .copied()
                    .filter(|&y| y != x)
                    .collect();
                *budget = budget.saturating_sub(rest.len() + 1);
                let replayed = rest.iter().all(|&y| {
                    let (ys, yn) = (self.specs[y as usize], self.needs.of(y as usize));
                    rebuilt
                        .try_place(self.fleet, h, y, ys, yn, &mut self.scratch)
                        .is_ok()
                });
                if !replayed
                    || rebuilt
                        .try_place(self.fleet, h, c, spec, pn, &mut self.scratch)
                        .is_err()
                {
                    continue;
                }
                // Commit: `x` moves to `g`, `c` takes its place on `h`.
                let old: Vec<u32> = self.states[h].exclusive_keys().collect();
                for k in old {
                    self.held.release(k, h);
                }
                self.states[h] = rebuilt;
                let new: Vec<u32> = self.states[h].exclusive_keys().collect();
                for k in new {
                    self.held.hold(k, h);
                }
                self.classes.unpark(h, &self.load);
                self.at[c as usize] = Some(h as u32);
                self.states[g]
                    .try_place(self.fleet, g, x, xs, xn, &mut self.scratch)
                    .expect("checked just before");
                for i in 0..self.scratch.taken.len() {
                    let k = self.scratch.taken[i];
                    self.held.hold(k, g);
                }
                self.load[g] += 1;
                self.at[x as usize] = Some(g as u32);
                self.generation += 1;
                return true;
            }
        }
        if class_blocked {
            self.dead[k] = self.generation;
        }
        false
    }
}

/// What explaining an unplaced container needs: the final host states, and
/// its class's static set and static reason counts.
struct Explain<'e, 'a> {
    fleet: &'e Fleet<'a>,
    states: &'e [HostState],
    held: &'e Held,
    specs: &'e [&'e NeedSpec],
    /// The class's static set, ascending.
    hosts: &'e [u32],
    /// The class's reasons outside its static set ([`Classes::static_groups`]).
    groups: &'e [(Group, usize)],
}

/// Reason counts being gathered: per group, the hosts and up to three
/// distinct holders (in the order met).
type Groups = BTreeMap<Group, (usize, Vec<u32>)>;

fn add(groups: &mut Groups, g: Group, k: usize, holder: Option<u32>) {
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
}

impl Explain<'_, '_> {
    /// The class's static counts, then the hosts of its static set taken out
    /// by a holder of one of `needs` (the first such need in order counts);
    /// and the hosts left, ascending.
    fn held_part<'n>(&self, needs: impl Iterator<Item = &'n PNeed>) -> (Groups, Vec<u32>) {
        let mut groups = Groups::new();
        for &(g, k) in self.groups {
            add(&mut groups, g, k, None);
        }
        // Hosts of the static set taken out by a holder, by position.
        let mut taken: Vec<bool> = vec![false; self.hosts.len()];
        for pn in needs {
            for h in self.held.hosts(pn.info) {
                if let Ok(i) = self.hosts.binary_search(&h) {
                    if !taken[i] {
                        taken[i] = true;
                        let holder = self.states[h as usize].holder(pn.info);
                        add(&mut groups, Group::Need(pn.need, Why::Held), 1, holder);
                    }
                }
            }
        }
        let free = self
            .hosts
            .iter()
            .zip(&taken)
            .filter(|(_, &t)| !t)
            .map(|(&h, _)| h)
            .collect();
        (groups, free)
    }

    /// Counts, over every host, the first reason it rejects container `c`
    /// for: the class's static counts, then per host of the static set the
    /// holders of its exclusive names, then the host's own verdict.
    /// `shared` is [`Explain::held_part`] of the names every member of the
    /// class needs: used as is when no other name of `c` is held on the
    /// class's hosts (almost always: those are per-container names).
    fn histogram(
        &self,
        c: usize,
        needs: &[PNeed],
        shared: &(Groups, Vec<u32>),
    ) -> Vec<ReasonCount> {
        let (f, states, specs) = (self.fleet, self.states, self.specs);
        let spec = specs[c];
        let others_held = needs
            .iter()
            .filter(|p| !p.has(OWN))
            .flat_map(|p| self.held.hosts(p.info))
            .any(|h| self.hosts.binary_search(&h).is_ok());
        let own;
        let (mut groups, free) = if others_held {
            own = self.held_part(needs.iter());
            (own.0.clone(), &own.1)
        } else {
            (shared.0.clone(), &shared.1)
        };
        let mut scratch = Scratch::default();
        for &h in free {
            let h = h as usize;
            match states[h].verdict(f, h, c as u32, spec, needs, &mut scratch) {
                Err(fail) => add(
                    &mut groups,
                    Group::Need(fail.need, fail.why),
                    1,
                    fail.holder,
                ),
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
}
