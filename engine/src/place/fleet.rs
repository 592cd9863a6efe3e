//! The static side of placement: every name and kind interned to an integer,
//! and indexes from a need to the hosts that could serve it by name, so that a
//! container's candidate hosts come from a few bitset intersections instead of
//! a scan of every host for every need.
//!
//! What must stay true: a host is in a need's candidate set exactly when it has
//! a provide of that kind whose name equals or matches the need's name, or a
//! provider covering it (the "could serve it by name" test). Everything else
//! (options, holders, capacity) is decided per host in [`super::host`], so the
//! bitsets are a sound pre-filter: they never drop a host that could serve.

use std::collections::HashMap;

use berth_specs::{
    AddressSource, HostManifest, Kind, NamePattern, NeedSpec, Provide, ProvideDetail,
};
use fixedbitset::FixedBitSet;
use rayon::prelude::*;

use crate::pool;
use crate::rules::{self, AllowRule};
use crate::state::{BindingSource, State};

/// An interned (kind, name) pair.
pub(crate) type Key = (u16, u32);

/// A hash map with a fast, fixed-seed hasher: keys are small integers and
/// names from the user's own files, and the order is never observed.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// Strings to dense integer ids. Borrows the names from the documents: a
/// fleet has hundreds of thousands of them, and copying each would cost an
/// allocation to make and another to free.
#[derive(Debug, Default)]
pub(crate) struct Interner<'a> {
    map: FastMap<&'a str, u32>,
    names: Vec<&'a str>,
    /// The names new to [`Interner::bulk_firsts`]: per [`shard_of`] table,
    /// each one's hash to its id (no two of them share a hash; empty until
    /// then).
    bulk: Vec<FastMap<u64, u32>>,
}

/// Marks an id known before in [`Interner::bulk_firsts`] (a value that is
/// not a position).
const KNOWN: u32 = 1 << 31;

/// How many tables [`Interner::bulk_firsts`] spreads the names over: each
/// stays small enough for the cache (800,000 names at 4x the generated fleet
/// are about 3,000 a table), where one table of them all did not.
const SHARDS: usize = 256;

/// The table of a name's hash among [`SHARDS`]: bits that hashbrown uses
/// neither for the bucket (low bits) nor for the tag (top seven).
fn shard_of(hash: u64) -> usize {
    (hash >> 32) as usize % SHARDS
}

/// Groups (specs) one task handles in the passes over every need: each
/// task writes its own part of an array sized up front.
const CHUNK: usize = 1024;

/// `buf` cut into consecutive parts of the given lengths.
fn split_parts<'s, T>(mut buf: &'s mut [T], lens: &[usize]) -> Vec<&'s mut [T]> {
    let mut parts = Vec::with_capacity(lens.len());
    for &n in lens {
        let (a, b) = std::mem::take(&mut buf).split_at_mut(n);
        parts.push(a);
        buf = b;
    }
    parts
}

/// A name's hash for [`Interner::bulk_firsts`].
fn name_hash(s: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(s)
}

impl<'a> Interner<'a> {
    pub(crate) fn intern(&mut self, s: &'a str) -> u32 {
        if let Some(id) = self.get_bulk(s) {
            return id;
        }
        let next = self.names.len() as u32;
        let id = *self.map.entry(s).or_insert(next);
        if id == next {
            self.names.push(s);
        }
        id
    }

    /// Interns every name of every group (in order: the groups' names one
    /// after another; `len(g)` is how many names `names(g)` yields) and
    /// returns their ids: the same ids as [`Interner::intern`] on each in
    /// turn (new names numbered in order of first appearance).
    /// [`Interner::bulk_firsts`], then [`Interner::number`] on each name in
    /// order, then [`Interner::finish_bulk`]; a caller that reads the names
    /// in order anyway numbers them in its own pass (as placement does).
    #[cfg(test)]
    pub(crate) fn intern_all<G, I>(
        &mut self,
        groups: &[G],
        len: impl Fn(&G) -> usize + Sync,
        names: impl Fn(&G) -> I + Sync,
    ) -> Vec<u32>
    where
        G: Sync,
        I: Iterator<Item = &'a str>,
    {
        let Some(mut ids) = self.bulk_firsts(groups, len, &names) else {
            return groups
                .iter()
                .flat_map(&names)
                .map(|s| self.intern(s))
                .collect();
        };
        for (i, s) in groups.iter().flat_map(&names).enumerate() {
            self.number(&mut ids, i, s);
        }
        self.finish_bulk(&ids);
        ids
    }

    /// The first step of interning every name in bulk, without one table of
    /// every name, whose random probes (and the name bytes each one
    /// compares) stop fitting the cache as the fleet grows: each name is
    /// hashed once, in order, on all cores; the hashes are grouped into small
    /// tables (one per [`shard_of`]) that find each name's first appearance
    /// without reading a name. Returns, per position, the position of its
    /// name's first appearance, or its id with [`KNOWN`] when interned
    /// before; `None` when the bulk path does not apply (interned in bulk
    /// before, or too many names): then intern one by one. The names are
    /// read from the groups where they are, not gathered into one array
    /// first (16 bytes a name: 38 MB at 4x the generated fleet, faulted in
    /// and freed on every call).
    pub(crate) fn bulk_firsts<G, I>(
        &mut self,
        groups: &[G],
        len: impl Fn(&G) -> usize + Sync,
        names: impl Fn(&G) -> I + Sync,
    ) -> Option<Vec<u32>>
    where
        G: Sync,
        I: Iterator<Item = &'a str>,
    {
        let chunk_lens: Vec<usize> = groups
            .par_chunks(CHUNK)
            .map(|ch| ch.iter().map(&len).sum())
            .collect();
        let total: usize = chunk_lens.iter().sum();
        if !self.bulk.is_empty() || total >= KNOWN as usize {
            return None;
        }
        let known = &self.map;
        // Each name's hash, and its id if interned before (u32::MAX: not),
        // written chunk by chunk into place.
        let mut hashes = vec![0u64; total];
        // Zeroed memory comes zeroed from the system, not written twice.
        let mut known_ids = vec![0u32; total];
        let parts = split_parts(&mut hashes, &chunk_lens)
            .into_iter()
            .zip(split_parts(&mut known_ids, &chunk_lens));
        groups
            .par_chunks(CHUNK)
            .zip(parts.collect::<Vec<_>>())
            .for_each(|(ch, (hs, ks))| {
                let all = ch.iter().flat_map(&names);
                for ((s, h), k) in all.zip(hs.iter_mut()).zip(ks.iter_mut()) {
                    *h = name_hash(s);
                    *k = match known.is_empty() {
                        true => u32::MAX,
                        false => known.get(s).map_or(u32::MAX, |&id| id | KNOWN),
                    };
                }
            });
        // The positions of names not known before, with their hashes,
        // grouped by table, ascending within each (a counting sort): each
        // table's pass below then reads its part in order, where reading the
        // hashes by position cost a cache miss each once they outgrew the
        // cache (issue 14).
        let mut start = vec![0usize; SHARDS + 1];
        for (&h, &k) in hashes.iter().zip(&known_ids) {
            if k == u32::MAX {
                start[shard_of(h) + 1] += 1;
            }
        }
        for k in 0..SHARDS {
            start[k + 1] += start[k];
        }
        let fresh = start[SHARDS];
        let mut next = start.clone();
        let mut g_hash = vec![0u64; fresh];
        let mut g_pos = vec![0u32; fresh];
        for (i, (&h, &k)) in hashes.iter().zip(&known_ids).enumerate() {
            if k == u32::MAX {
                let j = &mut next[shard_of(h)];
                (g_hash[*j], g_pos[*j]) = (h, i as u32);
                *j += 1;
            }
        }
        drop(hashes);
        let lens: Vec<usize> = (0..SHARDS).map(|k| start[k + 1] - start[k]).collect();
        // Per table: the first position of each hash, written over the hash.
        let tables: Vec<FastMap<u64, u32>> = split_parts(&mut g_hash, &lens)
            .into_par_iter()
            .zip(split_parts(&mut g_pos, &lens))
            .map(|(hs, at)| {
                // Names repeat (a shared network): half the positions is
                // room enough for the generated fleet's names without a
                // rehash, and half the memory to fault in.
                let mut t = FastMap::with_capacity_and_hasher(at.len() / 2, Default::default());
                for (h, &i) in hs.iter_mut().zip(at.iter()) {
                    *h = u64::from(*t.entry(*h).or_insert(i));
                }
                t
            })
            .collect();
        // Each position's first appearance, or its id with KNOWN.
        let mut ids = known_ids;
        for (&i, &f) in g_pos.iter().zip(&g_hash) {
            ids[i as usize] = f as u32;
        }
        drop((g_hash, g_pos));
        // One entry a new name (no two share a hash), so grown once.
        self.names.reserve(tables.iter().map(|t| t.len()).sum());
        self.bulk = tables;
        Some(ids)
    }

    /// The id of name `s` at position `i` of [`Interner::bulk_firsts`]'s
    /// `ids`, written there; called for every position in order (a first
    /// appearance comes before its repeats, so a repeat finds its first
    /// appearance's id). A repeat is checked against its first appearance's
    /// name byte by byte; two names of one 64-bit hash: the later one is
    /// interned one by one.
    pub(crate) fn number(&mut self, ids: &mut [u32], i: usize, s: &'a str) -> u32 {
        let f = ids[i];
        let id = if f & KNOWN != 0 {
            f & !KNOWN
        } else if f as usize == i {
            self.names.push(s);
            self.names.len() as u32 - 1
        } else {
            let first = ids[f as usize];
            if self.names[first as usize] == s {
                first
            } else {
                let next = self.names.len() as u32;
                let id = *self.map.entry(s).or_insert(next);
                if id == next {
                    self.names.push(s);
                }
                id
            }
        };
        ids[i] = id;
        id
    }

    /// The last step of interning in bulk, once every position is
    /// numbered: the tables give each new name's id (no two share a hash).
    pub(crate) fn finish_bulk(&mut self, ids: &[u32]) {
        self.bulk.par_iter_mut().for_each(|t| {
            for v in t.values_mut() {
                *v = ids[*v as usize];
            }
        });
    }

    fn get_bulk(&self, s: &str) -> Option<u32> {
        if self.bulk.is_empty() {
            return None;
        }
        let h = name_hash(s);
        let id = *self.bulk[shard_of(h)].get(&h)?;
        (self.names[id as usize] == s).then_some(id)
    }

    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        self.map.get(s).copied().or_else(|| self.get_bulk(s))
    }

    pub(crate) fn name(&self, i: u32) -> &'a str {
        self.names[i as usize]
    }
}

/// One distinct (kind, pattern) among the fleet's glob provides or providers,
/// with the hosts that declare it.
#[derive(Debug)]
pub(crate) struct PatternEntry {
    pub(crate) kind: u16,
    pub(crate) pattern: NamePattern,
    pub(crate) hosts: FixedBitSet,
    /// Some host's provide with this pattern is exclusive.
    exclusive: bool,
}

/// Whether an address provide's network (its implied need) is available on
/// its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NetStatus {
    /// Not an address provide.
    NotAddress,
    /// A network provide without `allow`, a network pattern or a provider serves it.
    Ok,
    /// Whether it is served depends on the container: `allow` lists decide
    /// (an exact network provide with one, or only matching patterns with
    /// them and no provider). Decided per container by
    /// [`Fleet::network_served`], through [`rules::serve_network`].
    PerContainer,
    /// Nothing on the host serves the network.
    Missing,
}

/// What one host's state means for placement, beyond pool capacities (which
/// [`capacity`] already counts).
#[derive(Debug, Default)]
pub(crate) struct StateIndex {
    /// The index cannot model this state: the solver decides every container
    /// tried here (provider records, holders that are being placed again, a
    /// held pattern provide).
    pub(crate) whole: bool,
    /// It records a container that is being placed again.
    pub(crate) replacing: bool,
    /// Names with a pool reservation: such a name's only candidate is its
    /// reserved value, so a container needing one is decided by the solver.
    pub(crate) special: FastMap<Key, ()>,
    /// Exact-name provides other containers hold: whether any holding is
    /// exclusive.
    pub(crate) held: FastMap<Key, bool>,
}

/// One host's indexes: its rows of [`HostTables`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct HostIndex<'t> {
    /// (kind, exact name) -> provide index, sorted by key.
    exact: &'t [(Key, u32)],
    /// Glob provides in file order: (kind, pattern entry, provide index).
    pub(crate) patterns: &'t [(u16, u32, u32)],
    /// Providers in file order: (kind, provider pattern entry).
    pub(crate) providers: &'t [(u16, u32)],
    /// Per provide: how many holders it can have when exclusive.
    pub(crate) capacity: &'t [u32],
    /// Per provide: what a check reads of it, side by side.
    pub(crate) prov: &'t [ProvInfo],
}

impl HostIndex<'_> {
    /// The provide naming `key` exactly, if any.
    pub(crate) fn exact(&self, key: &Key) -> Option<u32> {
        let e = self.exact;
        if e.len() <= 8 {
            e.iter().find(|(k, _)| k == key).map(|&(_, pi)| pi)
        } else {
            e.binary_search_by(|(k, _)| k.cmp(key)).ok().map(|i| e[i].1)
        }
    }
}

/// Every host's indexes in a few flat tables, a host's rows after the
/// previous host's: a check reads a handful of rows of the host it tries,
/// and a hash map and four vectors per host (each its own allocation) made
/// that a dozen cache misses; on 20,000 hosts they no longer fit the cache
/// (issue 14).
#[derive(Debug, Default)]
pub(crate) struct HostTables {
    exact: Vec<(Key, u32)>,
    patterns: Vec<(u16, u32, u32)>,
    providers: Vec<(u16, u32)>,
    /// Per provide (the same rows as `prov`).
    capacity: Vec<u32>,
    prov: Vec<ProvInfo>,
    /// Per host, and one past the last: where its rows start in `exact`,
    /// `patterns`, `providers` and `prov`.
    at: Vec<[u32; 4]>,
}

impl HostTables {
    fn mark(&mut self) {
        self.at.push([
            self.exact.len() as u32,
            self.patterns.len() as u32,
            self.providers.len() as u32,
            self.prov.len() as u32,
        ]);
    }

    /// Host `h`'s rows.
    pub(crate) fn host(&self, h: usize) -> HostIndex<'_> {
        let [e0, p0, d0, v0] = self.at[h].map(|x| x as usize);
        let [e1, p1, d1, v1] = self.at[h + 1].map(|x| x as usize);
        HostIndex {
            exact: &self.exact[e0..e1],
            patterns: &self.patterns[p0..p1],
            providers: &self.providers[d0..d1],
            capacity: &self.capacity[v0..v1],
            prov: &self.prov[v0..v1],
        }
    }
}

/// What checking a need against one provide reads, in one place and small
/// (16 bytes, four to a cache line): a check visits a few provides of each
/// host it tries, and reading them from the manifest and three per-host
/// tables cost a cache miss each (issue 14).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProvInfo {
    /// Index into [`Fleet::details`]: the manifest's detail, for
    /// [`rules::fit`]. Equal details of one name share one entry (a shared
    /// volume's on every host), which stays in the cache.
    pub(crate) detail: u32,
    /// Index into [`Fleet::allows`]: its compiled `allow` list (`u32::MAX`:
    /// none). Equal lists share one, compiled once.
    pub(crate) allow: u32,
    /// Its implied network's interned name (`u32::MAX`: none).
    pub(crate) net_name: u32,
    /// Its implied network's availability.
    pub(crate) net: NetStatus,
    /// [`Provide::exclusive`].
    pub(crate) exclusive: bool,
}

/// What every host with a given (kind, name) need can offer it, by name.
/// Small (8 bytes): a fleet needs hundreds of thousands of names, almost
/// all of them served by patterns only; what a name some host provides
/// exactly has beside is in [`ExactInfo`] (at 80 bytes a name, this table
/// was 64 MB at 4x the generated fleet, faulted in on every call).
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyInfo {
    /// Index into [`Fleet::sigs`]: the patterns and providers matching the name.
    pub(crate) sig: u32,
    /// Index into [`Fleet::exacts`] when some host provides the name
    /// exactly (`u32::MAX`: none).
    exact: u32,
}

/// What a name some host provides exactly adds to its [`KeyInfo`].
#[derive(Debug)]
pub(crate) struct ExactInfo {
    /// Hosts with an exact provide, a matching pattern or a covering provider.
    own: FixedBitSet,
    /// Hosts whose exact provide lends a volume read-only, when there are any:
    /// a read-write need can never use them (exact is the only candidate), so
    /// they leave its candidates up front instead of being tried one by one.
    read_only: Option<FixedBitSet>,
    /// Hosts whose exact provide has an `allow` list, grouped by that list:
    /// (one host of the group, the group's hosts). A container a list does
    /// not admit can never use those hosts (exact is the only candidate), so
    /// they leave its candidates up front, as read-only lending does, and
    /// the list is read once per container, not once per host.
    guards: Vec<(u32, FixedBitSet)>,
}

/// The provide patterns and provider patterns (entry ids, sorted) matching a
/// name, and the hosts that have any of them. Names with the same signature
/// share it: a fleet of per-container address names served by `*` pools
/// needs one.
#[derive(Debug)]
pub(crate) struct Sig {
    pub(crate) pats: Vec<u32>,
    pub(crate) provs: Vec<u32>,
    hosts: FixedBitSet,
}

/// One need of one container, interned. 20 bytes: a fleet has millions
/// (2.4 million at 4x the generated fleet), and every byte of them is a page
/// to fault in per call (issue 14).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PNeed {
    /// The key's kind ([`PNeed::key`]).
    pub(crate) kind: u16,
    /// The flags below, one bit each.
    flags: u8,
    /// The key's name ([`PNeed::key`]).
    pub(crate) name: u32,
    /// Index into [`Fleet::keys`].
    pub(crate) info: u32,
    /// Index of the need in its spec.
    pub(crate) need: u32,
    /// What the checks read of its [`KeyInfo`], copied here where a
    /// container's needs lie side by side: a per-container name's key info
    /// is touched by nobody else, and reading it cost a cache miss per need.
    /// [`KeyInfo::sig`].
    pub(crate) sig: u32,
}

/// The container wants it for itself alone (`exclusive: true` on a volume).
pub(crate) const WANTS_EXCL: u8 = 1;
/// A volume needed read-write.
pub(crate) const RW: u8 = 1 << 1;
/// [`KeyInfo::has_own`].
pub(crate) const OWN: u8 = 1 << 2;
/// Other users of the name matter: some use of it can be exclusive (not
/// only shared) and another container of the input needs it too. A name
/// only one container needs (a per-container address or port, most
/// exclusive names of a fleet) has no other user to meet on any host, so its
/// uses are not recorded: the hosts' usage tables then hold the few names
/// containers share instead of growing with every container placed (issue
/// 14).
pub(crate) const TRACK: u8 = 1 << 3;
/// [`Fleet::read_only`] is set.
pub(crate) const RO_HOSTS: u8 = 1 << 4;
/// [`Fleet::guards`] is not empty.
pub(crate) const GUARDED: u8 = 1 << 5;

impl PNeed {
    /// The interned (kind, name).
    pub(crate) fn key(&self) -> Key {
        (self.kind, self.name)
    }

    fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        }
    }

    /// Whether flag `flag` ([`WANTS_EXCL`], [`RW`], [`OWN`], [`TRACK`],
    /// [`RO_HOSTS`], [`GUARDED`]) is set.
    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// Every spec's interned needs, in one allocation.
#[derive(Debug)]
pub(crate) struct Needs {
    all: Vec<PNeed>,
    /// Per spec, and one past the last: where its needs start in `all`.
    at: Vec<u32>,
}

impl KeyInfo {
    /// Some host provides this name exactly (then [`Fleet::cand`] is this
    /// name's own set, not its signature's).
    pub(crate) fn has_own(&self) -> bool {
        self.exact != u32::MAX
    }
}

impl Needs {
    /// The needs of spec `c`.
    pub(crate) fn of(&self, c: usize) -> &[PNeed] {
        let (lo, hi) = (self.at[c], self.at[c + 1]);
        &self.all[lo as usize..hi as usize]
    }
}

/// The fleet's static index.
#[derive(Debug)]
pub(crate) struct Fleet<'a> {
    pub(crate) hosts: &'a [&'a HostManifest],
    pub(crate) kinds: Interner<'a>,
    pub(crate) names: Interner<'a>,
    /// (kind, exact name) -> hosts providing it (ascending).
    pub(crate) exact: FastMap<Key, Vec<u32>>,
    pub(crate) pats: Vec<PatternEntry>,
    pub(crate) provs: Vec<PatternEntry>,
    tables: HostTables,
    /// label key -> value -> hosts carrying it.
    pub(crate) labels: FastMap<String, FastMap<String, FixedBitSet>>,
    /// Per distinct needed key.
    pub(crate) keys: Vec<KeyInfo>,
    /// Per distinct needed key that some host provides exactly.
    exacts: Vec<ExactInfo>,
    pub(crate) sigs: Vec<Sig>,
    /// Per name id: the first kind it was needed as, and that key's index
    /// into `keys` (`u16::MAX`: not needed yet). Most names are needed as one
    /// kind; this dense table saves a second hash lookup per need.
    first_key: Vec<(u16, u32)>,
    /// Keys of names needed as a second or third kind.
    other_keys: FastMap<Key, u32>,
    pub(crate) net_kind: u16,
    /// The specs being placed (set by [`Fleet::prepare`]).
    pub(crate) specs: &'a [&'a NeedSpec],
    /// Per host: what its state says is held and reserved (empty: started empty).
    pub(crate) states: Vec<std::borrow::Cow<'a, State>>,
    /// Per host with state: what it means for the index (built by
    /// [`Fleet::prepare`], once the needed names are interned).
    pub(crate) state_idx: FastMap<u32, StateIndex>,
    /// The provides' details, equal ones of a name once ([`ProvInfo::detail`]).
    details: Vec<ProvideDetail>,
    /// The distinct compiled `allow` lists ([`ProvInfo::allow`]).
    allows: Vec<Vec<AllowRule>>,
}

impl<'a> Fleet<'a> {
    /// Indexes the hosts.
    /// `states[h]` is host `h`'s state; hosts past its end start empty.
    pub(crate) fn build(hosts: &'a [&'a HostManifest], states: &'a [State]) -> Fleet<'a> {
        let n = hosts.len();
        let mut kinds = Interner::default();
        let net_kind = kinds.intern(Kind::implied().def().key) as u16;
        let mut f = Fleet {
            hosts,
            kinds,
            names: Interner::default(),
            exact: FastMap::default(),
            pats: Vec::new(),
            provs: Vec::new(),
            tables: HostTables::default(),
            labels: FastMap::default(),
            keys: Vec::new(),
            exacts: Vec::new(),
            sigs: Vec::new(),
            first_key: Vec::new(),
            other_keys: FastMap::default(),
            net_kind,
            specs: &[],
            state_idx: FastMap::default(),
            details: Vec::new(),
            allows: Vec::new(),
            states: hosts
                .iter()
                .enumerate()
                .map(|(h, host)| match states.get(h) {
                    Some(st) => std::borrow::Cow::Borrowed(st),
                    None => std::borrow::Cow::Owned(State::new(&host.host)),
                })
                .collect(),
        };
        let mut pat_ids: HashMap<(u16, String), u32> = HashMap::new();
        let mut prov_ids: HashMap<(u16, String), u32> = HashMap::new();
        // Per (kind, exact name or pattern entry): the details met, to share.
        let mut detail_ids: FastMap<(u16, bool, u32), Vec<u32>> = FastMap::default();
        let mut allow_ids: FastMap<&'a [String], u32> = FastMap::default();
        for (h, host) in hosts.iter().enumerate() {
            f.tables.mark();
            let first_exact = f.tables.exact.len();
            let hi = &mut f.tables;
            for (pi, p) in host.provides.iter().enumerate() {
                let kind = f.kinds.intern(p.kind.as_str()) as u16;
                let named = match &p.name {
                    NamePattern::Exact(name) => {
                        let key = (kind, f.names.intern(name));
                        hi.exact.push((key, pi as u32));
                        let list = f.exact.entry(key).or_default();
                        if list.last() != Some(&(h as u32)) {
                            list.push(h as u32);
                        }
                        (kind, true, key.1)
                    }
                    pat => {
                        let e = entry(&mut f.pats, &mut pat_ids, kind, pat, n);
                        f.pats[e as usize].hosts.insert(h);
                        f.pats[e as usize].exclusive |= p.exclusive();
                        hi.patterns.push((kind, e, pi as u32));
                        (kind, false, e)
                    }
                };
                // Shared with an equal detail of the same name met before (a
                // few compared at most: pools differ on every host).
                let met = detail_ids.entry(named).or_default();
                let detail = match met
                    .iter()
                    .take(4)
                    .find(|&&d| f.details[d as usize] == p.detail)
                {
                    Some(&d) => d,
                    None => {
                        f.details.push(p.detail.clone());
                        met.push(f.details.len() as u32 - 1);
                        f.details.len() as u32 - 1
                    }
                };
                let allow = match p.allow.as_deref() {
                    None => u32::MAX,
                    Some(list) => *allow_ids.entry(list).or_insert_with(|| {
                        f.allows
                            .push(rules::allow_rules(p).expect("the provide has an `allow` list"));
                        f.allows.len() as u32 - 1
                    }),
                };
                hi.capacity.push(capacity(host, p, states.get(h)));
                let net_name = match &p.detail {
                    ProvideDetail::Address { network, .. } => f.names.intern(network),
                    _ => u32::MAX,
                };
                hi.prov.push(ProvInfo {
                    allow,
                    detail,
                    exclusive: p.exclusive(),
                    net: NetStatus::NotAddress,
                    net_name,
                });
            }
            for d in &host.providers {
                let kind = f.kinds.intern(d.kind.as_str()) as u16;
                let e = entry(&mut f.provs, &mut prov_ids, kind, &d.pattern, n);
                f.provs[e as usize].hosts.insert(h);
                hi.providers.push((kind, e));
            }
            // A duplicate exact name is a load error; keep the first (a
            // stable sort keeps them in file order).
            let mut rows = hi.exact.split_off(first_exact);
            rows.sort_by_key(|&(k, _)| k);
            rows.dedup_by_key(|&mut (k, _)| k);
            hi.exact.extend(rows);
            for (k, v) in &host.labels {
                f.labels
                    .entry(k.clone())
                    .or_default()
                    .entry(v.clone())
                    .or_insert_with(|| FixedBitSet::with_capacity(n))
                    .insert(h);
            }
        }
        f.tables.mark();
        // Implied networks, resolved once per address provide.
        let nets: Vec<Vec<NetStatus>> = hosts
            .iter()
            .enumerate()
            .map(|(h, host)| {
                host.provides
                    .iter()
                    .map(|p| match &p.detail {
                        ProvideDetail::Address { network, .. } => f.network_status(h, network),
                        _ => NetStatus::NotAddress,
                    })
                    .collect()
            })
            .collect();
        for (pr, net) in f.tables.prov.iter_mut().zip(nets.into_iter().flatten()) {
            pr.net = net;
        }
        f
    }

    /// Precomputes [`rules::serve_network`] for a network where the answer
    /// cannot depend on the container.
    fn network_status(&self, h: usize, network: &str) -> NetStatus {
        let hi = self.host(h);
        let (exact, patterns, provider) = self.network_candidates(h, network);
        if let Some(pi) = exact {
            return if hi.prov[pi].allow != u32::MAX {
                NetStatus::PerContainer
            } else {
                NetStatus::Ok
            };
        }
        let open_provider = provider.is_some_and(|d| self.hosts[h].providers[d].allow.is_none());
        if open_provider || patterns.iter().any(|&pi| hi.prov[pi].allow == u32::MAX) {
            NetStatus::Ok
        } else if patterns.is_empty() && provider.is_none() {
            NetStatus::Missing
        } else {
            NetStatus::PerContainer
        }
    }

    /// Host `h`'s candidates for network `network`: the exact provide, the
    /// matching patterns in file order (provide indexes), whether a provider
    /// covers it.
    fn network_candidates(
        &self,
        h: usize,
        network: &str,
    ) -> (Option<usize>, Vec<usize>, Option<usize>) {
        let hi = self.host(h);
        let exact = self
            .names
            .get(network)
            .and_then(|id| hi.exact(&(self.net_kind, id)))
            .map(|pi| pi as usize);
        let reserved = !rules::pattern_may_serve(&Kind::implied(), network);
        let patterns = match exact {
            Some(_) => Vec::new(),
            None if reserved => Vec::new(),
            None => hi
                .patterns
                .iter()
                .filter(|&&(k, e, _)| {
                    k == self.net_kind && self.pats[e as usize].pattern.matches(network)
                })
                .map(|&(_, _, pi)| pi as usize)
                .collect(),
        };
        let provider = hi.providers.iter().position(|&(k, e)| {
            !reserved && k == self.net_kind && self.provs[e as usize].pattern.matches(network)
        });
        (exact, patterns, provider)
    }

    /// Whether network `network` (interned) is served on host `h` for `spec`:
    /// [`rules::serve_network`] on the host's candidates.
    pub(crate) fn network_served(&self, h: usize, network: u32, spec: &NeedSpec) -> bool {
        let hi = self.host(h);
        let name = self.names.name(network);
        let (exact, patterns, provider) = self.network_candidates(h, name);
        let provider =
            provider.filter(|&d| rules::provider_admits(&self.hosts[h].providers[d], spec));
        rules::serve_network(name, exact, patterns, provider, |pi| {
            rules::admits(self.allow(&hi.prov[pi]), spec)
        })
        .is_ok()
    }

    /// Interns every spec's needs and computes, once per distinct (kind, name),
    /// which hosts could serve it by name. Returns each spec's interned needs.
    pub(crate) fn prepare(&mut self, specs: &'a [&'a NeedSpec]) -> Needs {
        self.specs = specs;
        let n = specs.len();
        // Where each spec's needs start: the lengths read on all cores,
        // summed in order.
        let mut at = vec![0u32; n + 1];
        at[1..]
            .par_iter_mut()
            .zip(specs)
            .for_each(|(a, s)| *a = s.needs.len() as u32);
        for c in 0..n {
            at[c + 1] += at[c];
        }
        let total = at[n] as usize;
        let mut firsts = self.names.bulk_firsts(
            specs,
            |s| s.needs.len(),
            |&s: &&'a NeedSpec| s.needs.iter().map(|n| n.name.as_str()),
        );
        // Room for the names known and each new one (more on the rare
        // collision, grown where met).
        let bulk_new: usize = self.names.bulk.iter().map(|t| t.len()).sum();
        self.first_key
            .resize(self.names.names.len() + bulk_new, (u16::MAX, 0));
        // One pass in order over the needs: each one's record, its key info
        // numbered in order of first appearance. The kinds met are few, and
        // compared as enums: hashing a kind's key per need cost more than
        // the comparison.
        let mut kind_ids: Vec<(&Kind, u16)> = Vec::new();
        // About one key a name (most are needed as one kind): grown once.
        let mut fresh: Vec<Key> = Vec::with_capacity(self.first_key.len());
        let mut all: Vec<PNeed> = Vec::with_capacity(total);
        for spec in specs {
            for (i, need) in spec.needs.iter().enumerate() {
                let kind = match kind_ids.iter().find(|(k, _)| **k == need.kind) {
                    Some(&(_, id)) => id,
                    None => {
                        let id = self.kinds.intern(need.kind.as_str()) as u16;
                        kind_ids.push((&need.kind, id));
                        id
                    }
                };
                // The names numbered here, in the pass that reads the
                // needs anyway, not in one more pass of their own.
                let j = all.len();
                let name = match &mut firsts {
                    Some(ids) => self.names.number(ids, j, need.name.as_str()),
                    None => self.names.intern(need.name.as_str()),
                };
                if name as usize >= self.first_key.len() {
                    self.first_key.resize(name as usize + 1, (u16::MAX, 0));
                }
                let key = (kind, name);
                let next = (self.keys.len() + fresh.len()) as u32;
                let info = match self.first_key[name as usize] {
                    (k, info) if k == kind => info,
                    (u16::MAX, _) => {
                        self.first_key[name as usize] = (kind, next);
                        fresh.push(key);
                        next
                    }
                    _ => *self.other_keys.entry(key).or_insert_with(|| {
                        fresh.push(key);
                        next
                    }),
                };
                let mut pn = PNeed {
                    kind,
                    name,
                    info,
                    need: i as u32,
                    flags: 0,
                    // Set below, once the key infos exist.
                    sig: 0,
                };
                pn.set(WANTS_EXCL, rules::wants_alone(&need.detail));
                pn.set(RW, need.detail.writes());
                all.push(pn);
            }
        }
        if let Some(ids) = firsts {
            self.names.finish_bulk(&ids);
        }
        let mut out = Needs { all, at };
        // Which patterns match each distinct name: independent per key.
        // As bit masks while the tables are small (a fleet has a handful of
        // patterns): hundreds of thousands of names are then grouped by two
        // integers, not by two lists allocated and hashed per name.
        let small = self.pats.len() <= 64 && self.provs.len() <= 64;
        let matched: Vec<Matched> = fresh
            .par_iter()
            .map(|&(kind, name)| {
                let name = self.names.name(name);
                // An engine-reserved network: no pattern or provider serves it.
                let reserved =
                    kind == self.net_kind && !rules::pattern_may_serve(&Kind::implied(), name);
                let hit = |e: &PatternEntry| !reserved && e.kind == kind && e.pattern.matches(name);
                let ids = |table: &[PatternEntry]| -> Vec<u32> {
                    (0..table.len() as u32)
                        .filter(|&i| hit(&table[i as usize]))
                        .collect()
                };
                let bits = |table: &[PatternEntry]| -> u64 {
                    (0..table.len())
                        .filter(|&i| hit(&table[i]))
                        .fold(0, |b, i| b | 1 << i)
                };
                if small {
                    Matched::Bits(bits(&self.pats), bits(&self.provs))
                } else {
                    Matched::Lists(Box::new((ids(&self.pats), ids(&self.provs))))
                }
            })
            .collect();
        let n = self.hosts.len();
        let mut sig_ids: FastMap<Matched, u32> = FastMap::default();
        let sig_of: Vec<u32> = matched
            .into_iter()
            .map(|m| {
                let next = self.sigs.len() as u32;
                let (pats, provs) = (&self.pats, &self.provs);
                let sigs = &mut self.sigs;
                *sig_ids.entry(m).or_insert_with_key(|m| {
                    let (p, v) = m.lists();
                    let mut hosts = FixedBitSet::with_capacity(n);
                    for &e in &p {
                        hosts.union_with(&pats[e as usize].hosts);
                    }
                    for &e in &v {
                        hosts.union_with(&provs[e as usize].hosts);
                    }
                    sigs.push(Sig {
                        pats: p,
                        provs: v,
                        hosts,
                    });
                    next
                })
            })
            .collect();
        let base = self.keys.len();
        let mut wanted_alone = vec![false; fresh.len()];
        for pn in out.all.iter().filter(|pn| pn.has(WANTS_EXCL)) {
            wanted_alone[pn.info as usize - base] = true;
        }
        // Per fresh key: whether no use of it can ever be exclusive (no
        // exclusive provide or kind serves it, no need wants it alone), so
        // who else uses it never matters and is not tracked: most mount
        // needs.
        let shared_only: Vec<bool> = fresh
            .par_iter()
            .zip(&sig_of)
            .zip(wanted_alone)
            .map(|((key, &sig), wanted_alone)| {
                let by_kind = Kind::from_key(self.kinds.name(u32::from(key.0)))
                    .is_some_and(|k| k.exclusive_by_default());
                let by_pattern = self.sigs[sig as usize]
                    .pats
                    .iter()
                    .any(|&e| self.pats[e as usize].exclusive);
                let by_exact = self.exact.get(key).is_some_and(|hosts| {
                    hosts.iter().any(|&h| {
                        let pi = self.host(h as usize).exact(key).expect("an exact provide");
                        self.hosts[h as usize].provides[pi as usize].exclusive()
                    })
                });
                !(wanted_alone || by_kind || by_pattern || by_exact)
            })
            .collect();
        // The few fresh keys some host provides exactly.
        let with_exact: Vec<u32> = (0..fresh.len() as u32)
            .filter(|&i| self.exact.contains_key(&fresh[i as usize]))
            .collect();
        let exacts: Vec<ExactInfo> = with_exact
            .par_iter()
            .map(|&i| {
                let (key, sig) = (&fresh[i as usize], sig_of[i as usize]);
                let hosts = &self.exact[key];
                let mut b = self.sigs[sig as usize].hosts.clone();
                let mut ro = FixedBitSet::with_capacity(n);
                // Hosts grouped by their provide's `allow` list (equal lists
                // share one id, `ProvInfo::allow`).
                let mut guard_of: FastMap<u32, usize> = FastMap::default();
                let mut guards: Vec<(u32, FixedBitSet)> = Vec::new();
                for &h in hosts {
                    b.insert(h as usize);
                    let pi = self.host(h as usize).exact(key).expect("an exact provide");
                    let p = &self.hosts[h as usize].provides[pi as usize];
                    if p.detail.read_only() {
                        ro.insert(h as usize);
                    }
                    let allow = self.host(h as usize).prov[pi as usize].allow;
                    if allow != u32::MAX {
                        let g = *guard_of.entry(allow).or_insert_with(|| {
                            guards.push((h, FixedBitSet::with_capacity(n)));
                            guards.len() - 1
                        });
                        guards[g].1.insert(h as usize);
                    }
                }
                ExactInfo {
                    own: b,
                    read_only: (!ro.is_clear()).then_some(ro),
                    guards,
                }
            })
            .collect();
        self.keys.reserve_exact(fresh.len());
        let mut with_exact = with_exact.iter().peekable();
        let mut e = self.exacts.len() as u32;
        for (i, &sig) in sig_of.iter().enumerate() {
            let exact = match with_exact.next_if(|&&x| x as usize == i) {
                Some(_) => {
                    e += 1;
                    e - 1
                }
                None => u32::MAX,
            };
            self.keys.push(KeyInfo { sig, exact });
        }
        self.exacts.extend(exacts);
        // How many needs of the input name each key: 0, 1, or more.
        let mut needed = vec![0u8; self.keys.len()];
        for pn in &out.all {
            let n = &mut needed[pn.info as usize];
            *n = n.saturating_add(1);
        }
        let this = &*self;
        out.all.par_iter_mut().for_each(|pn| {
            let k = this.keys[pn.info as usize];
            pn.sig = k.sig;
            pn.set(OWN, k.has_own());
            pn.set(
                TRACK,
                !shared_only[pn.info as usize - base] && needed[pn.info as usize] > 1,
            );
            pn.set(RO_HOSTS, this.read_only(k).is_some());
            pn.set(GUARDED, !this.guards(k).is_empty());
        });
        self.index_states(specs);
        out
    }

    /// Builds [`StateIndex`] for every host with state. Keys only for names
    /// some spec needs: a name nobody needs changes nothing.
    fn index_states(&mut self, specs: &[&NeedSpec]) {
        if !(0..self.hosts.len()).any(|h| self.has_state(h)) {
            return;
        }
        let placing: std::collections::HashSet<&str> =
            specs.iter().map(|s| s.container.as_str()).collect();
        let mut out = FastMap::default();
        for h in 0..self.hosts.len() {
            if !self.has_state(h) {
                continue;
            }
            let st = &self.states[h];
            let mut idx = StateIndex {
                whole: !st.provided.is_empty(),
                ..StateIndex::default()
            };
            let key = |kind: &Kind, name: &str| -> Option<Key> {
                let k = self.kinds.get(kind.as_str())? as u16;
                Some((k, self.names.get(name)?))
            };
            for r in st.reservations.values() {
                if let Some(k) = key(&r.kind, &r.name) {
                    idx.special.insert(k, ());
                }
            }
            for (holder, hold) in &st.holdings {
                if placing.contains(holder.as_str()) {
                    // Being placed again: where it lands, its holdings are its
                    // own; elsewhere they are others'. The solver tells.
                    idx.whole = true;
                    idx.replacing = true;
                    continue;
                }
                for b in &hold.bindings {
                    // Pool values are counted by the pools' capacities; other
                    // shared holdings matter only to volumes (an exclusive use
                    // waits for shared holders).
                    if b.source == BindingSource::Pool
                        || !(b.exclusive || b.kind.shared_holders_count())
                    {
                        continue;
                    }
                    let name = match b.source {
                        // A provider makes the resource again for whoever
                        // needs it; only its record (`provided`) would be
                        // an exact provide, and that makes the state whole.
                        BindingSource::Provider => continue,
                        _ => {
                            let exact = self.hosts[h].provides.iter().any(|p| {
                                p.kind == b.kind
                                    && p.name.is_exact()
                                    && p.name.as_str() == b.provide
                            });
                            if !exact {
                                // A held pattern provide keeps out every name
                                // it serves; the per-name index cannot say so.
                                idx.whole = true;
                                continue;
                            }
                            b.provide.as_str()
                        }
                    };
                    if let Some(k) = key(&b.kind, name) {
                        *idx.held.entry(k).or_insert(false) |= b.exclusive;
                    }
                }
            }
            out.insert(h as u32, idx);
        }
        self.state_idx = out;
    }

    /// Whether host `h` must be decided by the single-host solver rather than
    /// by the incremental index alone: its state is one the index cannot
    /// model ([`StateIndex::whole`]), or `delicate`: a container needing a
    /// reserved name there, or a container on
    /// it (or the one being tried) wants an address within a prefix strictly
    /// inside a pool (which splits the pool into regions the index counts
    /// whole), or wants a shared pattern volume for itself alone (the index
    /// tracks exclusivity by name, but such a need excludes every other name
    /// that pattern serves). Elsewhere the index is exact (checked against the
    /// oracle by `engine/tests/solver_oracle.rs`).
    pub(crate) fn exact_needed(&self, h: usize, delicate: bool) -> bool {
        delicate
            || (!self.state_idx.is_empty()
                && self.state_idx.get(&(h as u32)).is_some_and(|s| s.whole))
    }

    /// Whether some state records a container that is being placed again.
    pub(crate) fn replacing(&self) -> bool {
        self.state_idx.values().any(|s| s.replacing)
    }

    /// Whether host `h`'s state holds, reserves or records anything the solver
    /// reads.
    pub(crate) fn has_state(&self, h: usize) -> bool {
        let st = &self.states[h];
        !(st.holdings.is_empty() && st.reservations.is_empty() && st.provided.is_empty())
    }

    /// Whether the `allow` list of guard `g` of need `p`'s name
    /// ([`Fleet::guards`]) admits `spec`.
    pub(crate) fn guard_admits(&self, p: &PNeed, g: usize, spec: &NeedSpec) -> bool {
        let h = self.guards(self.keys[p.info as usize])[g].0 as usize;
        let hi = self.host(h);
        let pi = hi.exact(&p.key()).expect("an exact provide");
        rules::admits(self.allow(&hi.prov[pi as usize]), spec)
    }

    /// Host `h`'s indexes.
    pub(crate) fn host(&self, h: usize) -> HostIndex<'_> {
        self.tables.host(h)
    }

    /// A provide's compiled `allow` list (`None`: everyone).
    pub(crate) fn allow(&self, pr: &ProvInfo) -> Option<&[AllowRule]> {
        (pr.allow != u32::MAX).then(|| self.allows[pr.allow as usize].as_slice())
    }

    /// A provide's detail.
    pub(crate) fn detail(&self, pr: &ProvInfo) -> &ProvideDetail {
        &self.details[pr.detail as usize]
    }

    /// The hosts that could serve this key by name.
    pub(crate) fn cand(&self, info: KeyInfo) -> &FixedBitSet {
        match self.exacts.get(info.exact as usize) {
            Some(e) => &e.own,
            None => &self.sigs[info.sig as usize].hosts,
        }
    }

    /// [`ExactInfo::read_only`] of a key (`None` too when no host provides
    /// it exactly).
    pub(crate) fn read_only(&self, info: KeyInfo) -> Option<&FixedBitSet> {
        self.exacts
            .get(info.exact as usize)
            .and_then(|e| e.read_only.as_ref())
    }

    /// [`ExactInfo::guards`] of a key (empty when no host provides it
    /// exactly).
    pub(crate) fn guards(&self, info: KeyInfo) -> &[(u32, FixedBitSet)] {
        self.exacts
            .get(info.exact as usize)
            .map_or(&[], |e| e.guards.as_slice())
    }

    /// The hosts with a pattern or provider of signature `s`.
    pub(crate) fn sig_hosts(&self, s: u32) -> &FixedBitSet {
        &self.sigs[s as usize].hosts
    }

    /// Hosts carrying label `key` with `value`.
    pub(crate) fn label_hosts(&self, key: &str, value: &str) -> Option<&FixedBitSet> {
        self.labels.get(key).and_then(|m| m.get(value))
    }
}

/// The pattern entries and provider entries (ids, ascending) that match one
/// name: as bit masks when both tables have at most 64 entries, else as lists.
/// Equal sets are equal values either way. The lists are boxed: one value
/// per needed name is kept until the names are grouped, and 24 bytes each
/// instead of 56 are fewer pages to fault in (issue 14).
#[derive(Debug, PartialEq, Eq, Hash)]
enum Matched {
    Bits(u64, u64),
    Lists(Box<(Vec<u32>, Vec<u32>)>),
}

impl Matched {
    fn lists(&self) -> (Vec<u32>, Vec<u32>) {
        let ids = |b: u64| (0..64).filter(|i| b & (1 << i) != 0).collect();
        match self {
            Matched::Bits(p, v) => (ids(*p), ids(*v)),
            Matched::Lists(l) => (**l).clone(),
        }
    }
}

fn entry(
    table: &mut Vec<PatternEntry>,
    ids: &mut HashMap<(u16, String), u32>,
    kind: u16,
    pat: &NamePattern,
    n: usize,
) -> u32 {
    *ids.entry((kind, pat.as_str().to_string()))
        .or_insert_with(|| {
            table.push(PatternEntry {
                kind,
                pattern: pat.clone(),
                hosts: FixedBitSet::with_capacity(n),
                exclusive: false,
            });
            (table.len() - 1) as u32
        })
}

/// How many holders an exclusive provide admits: one for a static provide, the
/// free values for a pool, skipping what the solver's allocator skips
/// (`crate::pool::manifest_skips`: its subnet's network address, the gateway,
/// an IPv4 broadcast, static addresses or ports of the kind) and what the host's
/// state takes (`crate::pool::state_taken`: reserved and held values).
fn capacity(host: &HostManifest, p: &Provide, state: Option<&State>) -> u32 {
    if !p.exclusive() {
        return u32::MAX;
    }
    let (subnet, net) = match &p.detail {
        ProvideDetail::Address {
            source: AddressSource::Pool(net),
            network,
        } => (rules::subnet_of(&host.provides, network, net), Some(net)),
        _ => (None, None),
    };
    let Some((range, mut skip)) = pool::manifest_skips(p, subnet.as_ref(), &host.provides) else {
        return 1;
    };
    if let Some(st) = state {
        skip.extend(pool::state_taken(p, net, st));
        skip.retain(|v| range.contains(*v));
    }
    skip.sort_unstable();
    skip.dedup();
    range
        .size()
        .saturating_sub(skip.len() as u128)
        .min(u128::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-need and per-name records stay small: there are millions of
    /// the first and hundreds of thousands of the second, and their bytes
    /// are pages to fault in on every call (issue 14: 28 and 80 bytes before).
    #[test]
    fn per_need_records_stay_small() {
        assert_eq!(std::mem::size_of::<PNeed>(), 20);
        assert_eq!(std::mem::size_of::<KeyInfo>(), 8);
        assert!(std::mem::size_of::<Matched>() <= 24);
    }

    /// `intern_all` numbers names as `intern` one by one does: names known
    /// before keep their ids, new ones are numbered by first appearance, and
    /// `get` finds both.
    #[test]
    fn intern_all_numbers_as_one_by_one() {
        let known = ["net-a", "gpu"];
        let owned: Vec<String> = (0..5_000)
            .map(|i| format!("name-{}", (i * 7919) % 1_700))
            .chain(["gpu", "net-a", "", "net-b"].map(String::from))
            .collect();
        let all: Vec<&str> = owned.iter().map(String::as_str).collect();
        let mut one = Interner::default();
        let mut bulk = Interner::default();
        for s in known {
            one.intern(s);
            bulk.intern(s);
        }
        let want: Vec<u32> = all.iter().map(|s| one.intern(s)).collect();
        assert_eq!(bulk.intern_all(&all, |_| 1, |s| std::iter::once(*s)), want);
        assert_eq!(bulk.names, one.names);
        for s in all.iter().chain(&known) {
            assert_eq!(bulk.get(s), one.get(s), "{s}");
        }
        assert_eq!(bulk.get("never-seen"), None);
        // Interning after the bulk keeps the numbering.
        assert_eq!(bulk.intern("net-b"), one.intern("net-b"));
        assert_eq!(bulk.intern("late"), one.intern("late"));
    }
}
