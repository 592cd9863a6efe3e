//! The dynamic side of placement: what each host has handed out so far, and
//! whether one more container fits on it with everything already placed there.
//!
//! What must stay true: [`HostState::check`] accepts a container exactly when
//! the single-host rules admit it beside the containers already placed:
//! exact name is the only candidate where one exists, otherwise compatible
//! glob provides in file order, otherwise a covering provider; an exclusive
//! resource name has one holder; pools hold at most their capacity. Pool
//! capacity is an exact bipartite b-matching kept incrementally (one
//! augmenting path per new exclusive need, Kuhn's algorithm): when no path
//! exists, no assignment of the host's needs to its pools admits the newcomer.

use berth_specs::NeedSpec;

use crate::explain::Reason;
use crate::rules::{self, Fit, Mismatch};

use super::fleet::{FastMap, Fleet, Key, NetStatus, PNeed};

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
    key: Key,
    excl: bool,
    /// Whether other users matter (see `KeyInfo::shared_only`).
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
    seen: Vec<u32>,
    log: Vec<Undo>,
    /// After a successful [`HostState::try_place`]: the exclusive keys taken.
    pub(crate) taken: Vec<Key>,
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

/// The pools' b-matching: which exclusive need sits on which provide.
#[derive(Debug, Clone, Default)]
struct Matching {
    /// Per left vertex (an exclusive need served by pools): its pools, as a
    /// range of `cand_data`.
    cand_at: Vec<(u32, u32)>,
    cand_data: Vec<u32>,
    /// Per provide index: the left vertices it holds.
    holders: Vec<Vec<u32>>,
}

/// One write of an augmenting path, so a container that does not fit leaves
/// the matching as it found it (no clone per attempt).
#[derive(Debug, Clone, Copy)]
enum Undo {
    Push(u32),
    Set(u32, usize, u32),
}

impl Matching {
    /// Finds an augmenting path from left vertex `l` (Kuhn's algorithm on a
    /// b-matching): a free slot, or a holder that can move elsewhere. A failed
    /// search writes nothing.
    fn augment(&mut self, l: u32, cap: &[u32], seen: &mut Vec<u32>, log: &mut Vec<Undo>) -> bool {
        let (lo, hi) = self.cand_at[l as usize];
        for i in lo..hi {
            let p = self.cand_data[i as usize];
            if seen.contains(&p) {
                continue;
            }
            seen.push(p);
            if self.holders.len() <= p as usize {
                self.holders.resize(p as usize + 1, Vec::new());
            }
            let held = self.holders[p as usize].len();
            if (held as u64) < u64::from(cap[p as usize]) {
                self.holders[p as usize].push(l);
                log.push(Undo::Push(p));
                return true;
            }
            for j in 0..held {
                let other = self.holders[p as usize][j];
                if self.augment(other, cap, seen, log) {
                    log.push(Undo::Set(p, j, other));
                    self.holders[p as usize][j] = l;
                    return true;
                }
            }
        }
        false
    }

    /// Adds the uses' pool needs; on failure restores the matching and says
    /// which need found no room.
    fn add(&mut self, cap: &[u32], sc: &mut Scratch) -> Result<(), Fail> {
        let (lefts, data) = (self.cand_at.len(), self.cand_data.len());
        sc.log.clear();
        for u in &sc.uses {
            let Some((lo, hi)) = u.cands else { continue };
            let l = self.cand_at.len() as u32;
            let start = self.cand_data.len() as u32;
            self.cand_data
                .extend_from_slice(&sc.pools[lo as usize..hi as usize]);
            self.cand_at.push((start, self.cand_data.len() as u32));
            sc.seen.clear();
            if !self.augment(l, cap, &mut sc.seen, &mut sc.log) {
                for w in sc.log.drain(..).rev() {
                    match w {
                        Undo::Push(p) => {
                            self.holders[p as usize].pop();
                        }
                        Undo::Set(p, j, old) => self.holders[p as usize][j] = old,
                    }
                }
                self.cand_at.truncate(lefts);
                self.cand_data.truncate(data);
                return Err(Fail {
                    need: u.need,
                    why: Why::Exhausted,
                    holder: None,
                });
            }
        }
        Ok(())
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
    usage: FastMap<Key, Usage>,
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
        let hi = &f.host_idx[h];
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
            let (excl, cands) = if let Some(&pi) = hi.exact.get(&pn.key) {
                let fit = compat(f, h, pi, need, spec).map_err(fail)?;
                sc.delicate |= fit != Fit::Whole;
                (
                    host.provides[pi as usize].exclusive() || pn.wants_excl,
                    None,
                )
            } else {
                let sig = &f.sigs[f.keys[pn.info as usize].sig as usize];
                let mut matched = false;
                let mut first_rejection = None;
                let start = sc.pools.len() as u32;
                let mut shared = false;
                for &(kind, e, pi) in &hi.patterns {
                    if kind != pn.key.0 || sig.pats.binary_search(&e).is_err() {
                        continue;
                    }
                    matched = true;
                    match compat(f, h, pi, need, spec) {
                        Ok(fit) if host.provides[pi as usize].exclusive() => {
                            sc.delicate |= fit != Fit::Whole;
                            sc.pools.push(pi);
                        }
                        Ok(_) => {
                            // An exclusive need of a shared pattern provide
                            // also excludes the other names it serves, which
                            // the per-name usage below does not see.
                            sc.delicate |= pn.wants_excl;
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
                    let covered = hi
                        .providers
                        .iter()
                        .any(|&(k, e)| k == pn.key.0 && sig.provs.binary_search(&e).is_ok());
                    if !covered {
                        return Err(fail(Why::Missing));
                    }
                    (need.kind.exclusive_by_default() || pn.wants_excl, None)
                } else if shared {
                    sc.pools.truncate(start as usize);
                    (pn.wants_excl, None)
                } else if start == end {
                    return Err(fail(first_rejection.unwrap_or(Why::Missing)));
                } else {
                    (true, Some((start, end)))
                }
            };
            if let Some(st) = state {
                // A reserved name: the solver decides (its only candidate is
                // the reserved value).
                sc.delicate |= st.special.contains_key(&pn.key);
                if let Some(&held_excl) = st.held.get(&pn.key) {
                    if held_excl || excl {
                        return Err(Fail {
                            need: pn.need,
                            why: Why::Held,
                            holder: None,
                        });
                    }
                }
            }
            let track = !f.keys[pn.info as usize].shared_only;
            if let Some(u) = track.then(|| self.usage.get(&pn.key)).flatten() {
                if u.excl_holder.is_some() || excl {
                    return Err(Fail {
                        need: pn.need,
                        why: Why::Held,
                        holder: Some(u.excl_holder.unwrap_or(u.first_user)),
                    });
                }
            }
            sc.uses.push(Use {
                key: pn.key,
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
        if sc.uses.iter().any(|u| u.cands.is_some()) {
            self.matching.clone().add(&f.host_idx[h].capacity, sc)?;
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
            self.matching.add(&f.host_idx[h].capacity, sc)?;
        }
        self.placed.push(c);
        self.delicate |= f.exact_needed(h, sc.delicate);
        sc.taken.clear();
        for u in sc.uses.iter().filter(|u| u.track) {
            let entry = self.usage.entry(u.key).or_insert(Usage {
                users: 0,
                first_user: c,
                excl_holder: None,
            });
            entry.users += 1;
            if u.excl {
                entry.excl_holder = Some(c);
                sc.taken.push(u.key);
            }
        }
        self.load += 1;
        Ok(())
    }

    /// The names held exclusively here.
    pub(crate) fn exclusive_keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.usage
            .iter()
            .filter(|(_, u)| u.excl_holder.is_some())
            .map(|(k, _)| *k)
    }

    /// Who holds `key` exclusively here, if anyone.
    pub(crate) fn holder(&self, key: &Key) -> Option<u32> {
        self.usage.get(key).and_then(|u| u.excl_holder)
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
    let hi = &f.host_idx[h];
    let p = &f.hosts[h].provides[pi as usize];
    let admitted = |i: usize| rules::admits(hi.allow[i].as_deref(), spec);
    if !admitted(pi as usize) {
        return Err(Why::Denied);
    }
    let fit = rules::fit(&need.detail, &p.detail).map_err(|m| {
        match m {
            Mismatch::ReadOnly => Why::ReadOnly,
            Mismatch::OutsidePrefix { .. } => Why::OutsidePrefix,
            Mismatch::Protocol { .. } => Why::Protocol,
            // The loader keeps families and kinds apart before placement.
            Mismatch::Family { .. } | Mismatch::Kind => Why::Missing,
        }
    })?;
    let net = hi.net_name[pi as usize];
    match hi.net[pi as usize] {
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
        | Reason::ReservationStale { .. } => Why::Missing,
    };
    (why, None)
}
