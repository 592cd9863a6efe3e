//! The dynamic side of placement: what each host has handed out so far, and
//! whether one more container fits on it with everything already placed there.
//!
//! What must stay true: [`HostState::check`] accepts a container exactly when
//! the single-host rules admit it beside the containers already placed:
//! exact name is the only candidate where one exists, otherwise compatible
//! glob provides in file order, otherwise a covering provider; an exclusive
//! resource name has one holder; pools hold at most their capacity. Pool
//! capacity is an exact bipartite b-matching kept incrementally by the
//! solver's own matcher (`crate::solve::matching`: one augmenting path per
//! new exclusive need): when no path exists, no assignment of the host's needs
//! to its pools admits the newcomer. The rules come from [`crate::rules`];
//! where this index cannot be exact, the solver itself decides
//! ([`Fleet::exact_needed`]).

use berth_specs::NeedSpec;

use crate::explain::Reason;
use crate::rules::{self, Fit, Mismatch};
use crate::solve::matching::{Matcher, UNBOUNDED};

use super::fleet::{FastMap, Fleet, NetStatus, PNeed, TRACK, WANTS_EXCL};

/// What an explanation counts a host under: a label it lacks, or a need it
/// cannot serve and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Group {
    Label(usize),
    Need(u32, Why),
}

/// Why one host rejects one need, compactly (turned into a
/// [`super::HostReason`] only when a histogram is built).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Why {
    Missing,
    Held,
    ReadOnly,
    Denied,
    OutsidePrefix,
    Protocol,
    /// The address's network (interned name) is not on the host.
    NoNetwork(u32),
    Exhausted,
}

/// A rejection: which need (index in the spec), why, and who holds it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fail {
    pub(crate) need: u32,
    pub(crate) why: Why,
    pub(crate) holder: Option<u32>,
}

/// One need's use of a host, decided but not yet recorded.
#[derive(Debug, Clone, Copy)]
struct Use {
    /// Index into [`Fleet::keys`]: the (kind, name) used.
    info: u32,
    excl: bool,
    /// Whether other users matter (see `PNeed::track`).
    track: bool,
    need: u32,
    /// Exclusive glob provides (pools) it may take, in preference order, as
    /// a range of [`Scratch::pools`]; `None` when it needs no capacity.
    cands: Option<(u32, u32)>,
}

/// Buffers reused across attempts: placing 150,000 containers would
/// otherwise allocate and free a few small vectors per host tried.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    uses: Vec<Use>,
    pools: Vec<u32>,
    /// After a successful [`HostState::try_place`]: the exclusive names
    /// taken (key infos).
    pub(crate) taken: Vec<u32>,
    /// After [`HostState::check`]: the container uses this host in a way the
    /// index does not count exactly (see [`Fleet::exact_needed`]).
    delicate: bool,
}

#[derive(Debug, Clone, Copy)]
struct Usage {
    users: u32,
    first_user: u32,
    excl_holder: Option<u32>,
}

/// The pools' b-matching: which exclusive need sits on which provide. The
/// solver's own matcher ([`Matcher`]), grown need by need: right vertices are
/// the host's provides (capacity: [`Fleet`]'s per-provide capacity), left
/// vertices the needs placed here that pools serve.
///
/// Until a need with several candidate pools comes, the matcher is not
/// built: a need with one candidate can never be moved by an augmenting
/// path (it has nowhere else to go), so while every need has one, a need
/// fits exactly when its pool has a free slot, and per-pool counts decide
/// what the matcher would. The first need with a choice builds the matcher
/// from the counts (the order in which one-candidate needs are added
/// changes nothing: none of them ever moves). Most hosts never get there:
/// their pools serve disjoint kinds (issue 14: the matcher was a seventh of
/// the place phase).
#[derive(Debug, Clone)]
struct Matching {
    /// While `m` is not built: (provide, needs sitting on it) for up to
    /// four pools, inline (a host's state stays one allocation-free record;
    /// `u32::MAX`: a free entry). A fifth pool builds the matcher.
    used: [(u32, u32); 4],
    /// Boxed: most hosts never build one, and a host's state stays small.
    m: Option<Box<Matcher>>,
}

impl Default for Matching {
    fn default() -> Self {
        Matching {
            used: [(u32::MAX, 0); 4],
            m: None,
        }
    }
}

impl Matching {
    /// Free slots of provide `r` (`UNBOUNDED` stays unbounded).
    fn free_slots(&self, cap: &[u32], r: u32) -> usize {
        match &self.m {
            Some(m) => m.free_slots(r),
            None if cap[r as usize] == u32::MAX => UNBOUNDED,
            None => {
                let used = self.used.iter().find(|e| e.0 == r).map_or(0, |e| e.1);
                (cap[r as usize] - used) as usize
            }
        }
    }

    /// Whether the uses' pool needs fit in free slots as they are, nobody
    /// moved (then they surely fit; otherwise [`Matching::add`] on a copy
    /// decides). Spares a copy of the matching for most verdicts.
    fn fits_as_is(&self, cap: &[u32], sc: &Scratch) -> bool {
        let mut taken: Vec<(u32, usize)> = Vec::new();
        for u in &sc.uses {
            let Some((lo, hi)) = u.cands else { continue };
            let found = sc.pools[lo as usize..hi as usize].iter().find(|&&r| {
                let free = self.free_slots(cap, r);
                let used = taken.iter().find(|(x, _)| *x == r).map_or(0, |(_, n)| *n);
                free > used
            });
            let Some(&r) = found else { return false };
            match taken.iter_mut().find(|(x, _)| *x == r) {
                Some((_, n)) => *n += 1,
                None => taken.push((r, 1)),
            }
        }
        true
    }

    /// Adds the uses' pool needs; on failure takes them back and says which
    /// need found no room.
    fn add(&mut self, cap: &[u32], sc: &mut Scratch) -> Result<(), Fail> {
        if self.m.is_none() {
            let single = |u: &Use| u.cands.is_none_or(|(lo, hi)| hi - lo == 1);
            if sc.uses.iter().all(single) {
                if let Some(done) = self.count(cap, sc) {
                    return done;
                }
            }
            // A need with a choice, or a fifth pool: from here on the
            // matcher decides.
            let mut m = Matcher::new(
                cap.iter()
                    .map(|&c| if c == u32::MAX { UNBOUNDED } else { c as usize })
                    .collect(),
                Vec::new(),
            );
            for &(r, k) in self.used.iter().filter(|e| e.0 != u32::MAX) {
                for _ in 0..k {
                    let l = m.push_left(&[r]);
                    let placed = m.augment(l);
                    debug_assert!(placed, "counted within capacity");
                }
            }
            self.m = Some(Box::new(m));
        }
        let m = self.m.as_mut().expect("built above");
        let first = m.lefts();
        for u in &sc.uses {
            let Some((lo, hi)) = u.cands else { continue };
            let l = m.push_left(&sc.pools[lo as usize..hi as usize]);
            if !m.augment(l) {
                while m.lefts() > first {
                    m.pop_left();
                }
                return Err(Fail {
                    need: u.need,
                    why: Why::Exhausted,
                    holder: None,
                });
            }
        }
        Ok(())
    }

    /// [`Matching::add`] while every need has one candidate pool: each takes
    /// a slot of it, in order; the first that finds none fails, and the
    /// slots taken before it are given back. `None` (nothing changed) when
    /// a fifth pool would be needed.
    fn count(&mut self, cap: &[u32], sc: &Scratch) -> Option<Result<(), Fail>> {
        let before = self.used;
        for u in &sc.uses {
            let Some((lo, _)) = u.cands else { continue };
            let r = sc.pools[lo as usize];
            let slot = match self.used.iter().position(|e| e.0 == r) {
                Some(i) => i,
                None => match self.used.iter().position(|e| e.0 == u32::MAX) {
                    Some(i) => {
                        self.used[i] = (r, 0);
                        i
                    }
                    None => {
                        self.used = before;
                        return None;
                    }
                },
            };
            let c = cap[r as usize];
            if c != u32::MAX && self.used[slot].1 >= c {
                self.used = before;
                return Some(Err(Fail {
                    need: u.need,
                    why: Why::Exhausted,
                    holder: None,
                }));
            }
            self.used[slot].1 += 1;
        }
        Some(Ok(()))
    }
}

/// What one host has handed out.
#[derive(Debug, Default)]
pub(crate) struct HostState {
    pub(crate) load: u32,
    /// The containers placed here, in placement order (the solver's input
    /// when the host is confirmed by it).
    placed: Vec<u32>,
    /// A container placed here uses the host in a way the index does not
    /// count exactly ([`Fleet::exact_needed`]).
    delicate: bool,
    /// Per key info used here whose other users matter.
    usage: FastMap<u32, Usage>,
    matching: Matching,
}

impl HostState {
    /// Decides every need of a container on host `h` against what is already
    /// placed there; the uses go to `sc.uses` for [`HostState::try_place`].
    fn check(
        &self,
        f: &Fleet<'_>,
        h: usize,
        spec: &NeedSpec,
        needs: &[PNeed],
        sc: &mut Scratch,
    ) -> Result<(), Fail> {
        let hi = f.host(h);
        let host = f.hosts[h];
        sc.uses.clear();
        sc.pools.clear();
        sc.delicate = false;
        let state = if f.state_idx.is_empty() {
            None
        } else {
            f.state_idx.get(&(h as u32))
        };
        for pn in needs {
            let fail = |why| Fail {
                need: pn.need,
                why,
                holder: None,
            };
            let need = &spec.needs[pn.need as usize];
            let (excl, cands) = if let Some(pi) = hi.exact(&pn.key()) {
                let fit = compat(f, h, pi, need, spec).map_err(fail)?;
                sc.delicate |= fit != Fit::Whole;
                (hi.prov[pi as usize].exclusive || pn.has(WANTS_EXCL), None)
            } else {
                let sig = &f.sigs[pn.sig as usize];
                let mut matched = false;
                let mut first_rejection = None;
                let start = sc.pools.len() as u32;
                let mut shared = false;
                for &(kind, e, pi) in hi.patterns {
                    if kind != pn.kind || sig.pats.binary_search(&e).is_err() {
                        continue;
                    }
                    matched = true;
                    match compat(f, h, pi, need, spec) {
                        Ok(fit) if hi.prov[pi as usize].exclusive => {
                            sc.delicate |= fit != Fit::Whole;
                            sc.pools.push(pi);
                        }
                        Ok(_) => {
                            // An exclusive need of a shared pattern provide
                            // also excludes the other names it serves, which
                            // the per-name usage below does not see.
                            sc.delicate |= pn.has(WANTS_EXCL);
                            shared = true;
                            break;
                        }
                        Err(why) => {
                            first_rejection.get_or_insert(why);
                        }
                    }
                }
                let end = sc.pools.len() as u32;
                if !matched {
                    let covering = hi
                        .providers
                        .iter()
                        .position(|&(k, e)| k == pn.kind && sig.provs.binary_search(&e).is_ok());
                    let Some(d) = covering else {
                        return Err(fail(Why::Missing));
                    };
                    // The first covering provider decides, as in the solver.
                    if !rules::provider_admits(&host.providers[d], spec) {
                        return Err(fail(Why::Denied));
                    }
                    (need.kind.exclusive_by_default() || pn.has(WANTS_EXCL), None)
                } else if shared {
                    sc.pools.truncate(start as usize);
                    (pn.has(WANTS_EXCL), None)
                } else if start == end {
                    return Err(fail(first_rejection.unwrap_or(Why::Missing)));
                } else {
                    (true, Some((start, end)))
                }
            };
            if let Some(st) = state {
                // A reserved name: the solver decides (its only candidate is
                // the reserved value).
                sc.delicate |= st.special.contains_key(&pn.key());
                if let Some(&held_excl) = st.held.get(&pn.key()) {
                    if held_excl || excl {
                        return Err(Fail {
                            need: pn.need,
                            why: Why::Held,
                            holder: None,
                        });
                    }
                }
            }
            let track = pn.has(TRACK);
            if let Some(u) = track.then(|| self.usage.get(&pn.info)).flatten() {
                if u.excl_holder.is_some() || excl {
                    return Err(Fail {
                        need: pn.need,
                        why: Why::Held,
                        holder: Some(u.excl_holder.unwrap_or(u.first_user)),
                    });
                }
            }
            sc.uses.push(Use {
                info: pn.info,
                excl,
                track,
                need: pn.need,
                cands,
            });
        }
        Ok(())
    }

    /// [`HostState::check`] plus the pools: the full verdict, without recording.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn verdict(
        &self,
        f: &Fleet<'_>,
        h: usize,
        c: u32,
        spec: &NeedSpec,
        needs: &[PNeed],
        sc: &mut Scratch,
    ) -> Result<(), Fail> {
        self.check(f, h, spec, needs, sc)?;
        if f.exact_needed(h, self.delicate || sc.delicate) {
            return self.confirm(f, h, c);
        }
        let cap = f.host(h).capacity;
        if sc.uses.iter().any(|u| u.cands.is_some()) && !self.matching.fits_as_is(cap, sc) {
            self.matching.clone().add(cap, sc)?;
        }
        Ok(())
    }

    /// Where the index alone is not exact ([`Fleet::exact_needed`]), the
    /// single-host solver decides: `c` fits when `solve` on the host's state
    /// with the containers placed here plus `c` satisfies `c` (the others
    /// were admitted in the same order before, so they still are). The pool
    /// matching is skipped there: it may count a reserved name against its
    /// pool, and only the solver knows better; everything [`HostState::check`]
    /// rejects the solver rejects too.
    fn confirm(&self, f: &Fleet<'_>, h: usize, c: u32) -> Result<(), Fail> {
        let mut set: Vec<&NeedSpec> = self.placed.iter().map(|&y| f.specs[y as usize]).collect();
        set.push(f.specs[c as usize]);
        let plan = crate::solve::solve(f.hosts[h], &f.states[h], &set);
        let Some(cp) = plan.containers.last() else {
            return Ok(());
        };
        let Some(u) = cp.unmet.first() else {
            return Ok(());
        };
        let (why, holder) = why_of(f, &u.reasons);
        let holder = holder.and_then(|name| {
            self.placed
                .iter()
                .copied()
                .find(|&y| f.specs[y as usize].container == name)
        });
        Err(Fail {
            need: u.need as u32,
            why,
            holder,
        })
    }

    /// Places container `c` here if it fits; the exclusive keys it took are
    /// left in `sc.taken`.
    pub(crate) fn try_place(
        &mut self,
        f: &Fleet<'_>,
        h: usize,
        c: u32,
        spec: &NeedSpec,
        needs: &[PNeed],
        sc: &mut Scratch,
    ) -> Result<(), Fail> {
        self.check(f, h, spec, needs, sc)?;
        if f.exact_needed(h, self.delicate || sc.delicate) {
            // The matching no longer describes this host: the solver decides
            // every later container here too (`self.delicate` below).
            self.confirm(f, h, c)?;
        } else if sc.uses.iter().any(|u| u.cands.is_some()) {
            self.matching.add(f.host(h).capacity, sc)?;
        }
        self.placed.push(c);
        self.delicate |= f.exact_needed(h, sc.delicate);
        sc.taken.clear();
        for u in sc.uses.iter().filter(|u| u.track) {
            let entry = self.usage.entry(u.info).or_insert(Usage {
                users: 0,
                first_user: c,
                excl_holder: None,
            });
            entry.users += 1;
            if u.excl {
                entry.excl_holder = Some(c);
                sc.taken.push(u.info);
            }
        }
        self.load += 1;
        Ok(())
    }

    /// The containers placed here, in placement order (a repair replays
    /// them; one list a host, not a second copy beside it).
    pub(crate) fn placed(&self) -> &[u32] {
        &self.placed
    }

    /// The names held exclusively here (key infos).
    pub(crate) fn exclusive_keys(&self) -> impl Iterator<Item = u32> + '_ {
        self.usage
            .iter()
            .filter(|(_, u)| u.excl_holder.is_some())
            .map(|(k, _)| *k)
    }

    /// Who holds key info `info` exclusively here, if anyone.
    pub(crate) fn holder(&self, info: u32) -> Option<u32> {
        self.usage.get(&info).and_then(|u| u.excl_holder)
    }
}

/// Whether provide `pi` of host `h` can serve `need` of `spec`, options aside
/// from holders and capacity.
fn compat(
    f: &Fleet<'_>,
    h: usize,
    pi: u32,
    need: &berth_specs::Need,
    spec: &NeedSpec,
) -> Result<Fit, Why> {
    let pr = &f.host(h).prov[pi as usize];
    if !rules::admits(f.allow(pr), spec) {
        return Err(Why::Denied);
    }
    let fit = rules::fit(&need.detail, f.detail(pr)).map_err(|m| {
        match m {
            Mismatch::ReadOnly => Why::ReadOnly,
            Mismatch::OutsidePrefix { .. } => Why::OutsidePrefix,
            Mismatch::Protocol { .. } => Why::Protocol,
            // The loader keeps families and kinds apart before placement.
            Mismatch::Family { .. } | Mismatch::Kind => Why::Missing,
        }
    })?;
    let net = pr.net_name;
    match pr.net {
        NetStatus::NotAddress | NetStatus::Ok => Ok(fit),
        NetStatus::PerContainer if f.network_served(h, net, spec) => Ok(fit),
        NetStatus::PerContainer | NetStatus::Missing => Err(Why::NoNetwork(net)),
    }
}

/// The first of an unmet need's reasons, as placement counts it, and the
/// holder's name when another container holds it.
fn why_of(f: &Fleet<'_>, reasons: &[Reason]) -> (Why, Option<String>) {
    // The solver lists candidates' rejections first, what is missing last.
    let Some(r) = reasons.first() else {
        return (Why::Missing, None);
    };
    let why = match r {
        Reason::PoolExhausted { .. } => Why::Exhausted,
        Reason::HeldBy { holder, .. } => return (Why::Held, Some(holder.container.clone())),
        Reason::ReservedFor { container, .. } => return (Why::Held, Some(container.clone())),
        Reason::OutsidePrefix { .. } => Why::OutsidePrefix,
        Reason::ReadOnlyConflict { .. } => Why::ReadOnly,
        Reason::NotAllowed { .. } => Why::Denied,
        Reason::ProtocolMismatch { .. } => Why::Protocol,
        Reason::NetworkUnmet { network, .. } => match f.names.get(network) {
            Some(id) => Why::NoNetwork(id),
            None => Why::Missing,
        },
        Reason::NotProvided
        | Reason::NoProvider { .. }
        | Reason::FamilyMismatch { .. }
        | Reason::ReservationStale { .. }
        | Reason::ReservedNetwork { .. } => Why::Missing,
    };
    (why, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic: the cases are the same on every run.
    use berth_testkit::gen::Rng;

    fn uses(rng: &mut Rng, pools: u32, sc: &mut Scratch) {
        sc.uses.clear();
        sc.pools.clear();
        for need in 0..=rng.below(3) as u32 {
            let lo = sc.pools.len() as u32;
            // Mostly one candidate (the counted path), sometimes two or
            // three (the matcher takes over).
            let k = if rng.below(6) == 0 {
                2 + rng.below(2)
            } else {
                1
            };
            for _ in 0..k {
                let r = rng.below(u64::from(pools)) as u32;
                if !sc.pools[lo as usize..].contains(&r) {
                    sc.pools.push(r);
                }
            }
            sc.uses.push(Use {
                info: need,
                excl: true,
                track: false,
                need,
                cands: Some((lo, sc.pools.len() as u32)),
            });
        }
    }

    /// The pool counts kept before a matcher is needed decide every
    /// container as the matcher alone does, whatever comes after (issue 14
    /// stopped building a matcher per host).
    #[test]
    fn pool_counts_decide_as_the_matcher_does() {
        let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
        for case in 0..400 {
            let pools = 1 + rng.below(6) as u32;
            let cap: Vec<u32> = (0..pools)
                .map(|_| match rng.below(5) {
                    0 => u32::MAX,
                    _ => rng.below(5) as u32,
                })
                .collect();
            let mut counted = Matching::default();
            let mut matcher = Matching {
                m: Some(Box::new(Matcher::new(
                    cap.iter()
                        .map(|&c| if c == u32::MAX { UNBOUNDED } else { c as usize })
                        .collect(),
                    Vec::new(),
                ))),
                ..Matching::default()
            };
            let mut sc = Scratch::default();
            for step in 0..30 {
                uses(&mut rng, pools, &mut sc);
                let fits = counted.fits_as_is(&cap, &sc);
                assert_eq!(
                    fits,
                    matcher.fits_as_is(&cap, &sc),
                    "case {case} step {step}"
                );
                let a = counted.add(&cap, &mut sc).map_err(|f| f.need);
                let b = matcher.add(&cap, &mut sc).map_err(|f| f.need);
                assert_eq!(a, b, "case {case} step {step}: {cap:?}");
                // (An unbounded pool stays "unbounded" in both, give or take.)
                let free = |m: &Matching, r| m.free_slots(&cap, r).min(1 << 20);
                for r in 0..pools {
                    assert_eq!(
                        free(&counted, r),
                        free(&matcher, r),
                        "case {case} step {step}"
                    );
                }
            }
        }
    }
}
