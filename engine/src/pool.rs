//! Lowest-free allocation in address pools (`pool: 2001:db8::100/120`) and port
//! ranges (`pool: 8000-8099`).
//!
//! Addresses and ports are mapped to `u128` offsets so one piece of code serves
//! IPv4, IPv6 and ports. What must stay true:
//! - cost is proportional to the number of taken values, never to the size of the
//!   pool: a /64 (2^64 addresses) with ten thousand holdings is as cheap as a /120
//!   with ten thousand holdings;
//! - "lowest free" is deterministic: the same taken set gives the same answer;
//! - a pool's own first address is an ordinary address; what is never handed
//!   out is the rule of [`berth_specs::usable`]: the network address of the
//!   subnet the pool lies in, an IPv4 subnet's broadcast address, the network's
//!   gateway and the host's static addresses; callers pass them as taken (see
//!   [`skipped_addresses`] and [`manifest_skips`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use berth_specs::kinds::Subnet;
use berth_specs::{AddressSource, Provide, ProvideDetail};
use ipnet::IpNet;

/// An inclusive range of `u128` values (an address pool, a port range, or a
/// prefix inside a pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span128 {
    /// First value.
    pub lo: u128,
    /// Last value (inclusive).
    pub hi: u128,
}

impl Span128 {
    /// The addresses of a network.
    pub fn of_net(net: &IpNet) -> Span128 {
        Span128 {
            lo: addr_to_u128(net.network()),
            hi: addr_to_u128(net.broadcast()),
        }
    }

    /// An inclusive port range.
    pub fn of_ports(first: u16, last: u16) -> Span128 {
        Span128 {
            lo: u128::from(first),
            hi: u128::from(last),
        }
    }

    /// Number of values, saturating at `u128::MAX` (a whole IPv6 /0).
    pub fn size(&self) -> u128 {
        (self.hi - self.lo).saturating_add(1)
    }

    /// Whether `v` lies inside.
    pub fn contains(&self, v: u128) -> bool {
        self.lo <= v && v <= self.hi
    }

    /// Whether `other` lies entirely inside.
    pub fn covers(&self, other: &Span128) -> bool {
        self.lo <= other.lo && other.hi <= self.hi
    }

    /// Whether the two ranges share a value.
    pub fn overlaps(&self, other: &Span128) -> bool {
        self.lo <= other.hi && other.lo <= self.hi
    }
}

/// An address as a `u128` (IPv4 in the low 32 bits).
pub fn addr_to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The inverse of [`addr_to_u128`] for the family of `like`.
pub fn u128_to_addr(v: u128, like: &IpNet) -> IpAddr {
    match like {
        IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(v as u32)),
        IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

/// The values of a pool that are never handed out, whatever is held:
/// [`berth_specs::usable::pool_skips`] without statics (the network address of
/// `subnet`, the subnet of the host network the pool lies in, or of the pool
/// itself when that is unknown; an IPv4 subnet's broadcast; the gateway), as
/// `u128` values inside the pool.
pub fn skipped_addresses(
    pool: &IpNet,
    subnet: Option<&IpNet>,
    gateway: Option<IpAddr>,
) -> Vec<u128> {
    berth_specs::usable::pool_skips(pool, subnet, gateway, [])
        .into_iter()
        .map(addr_to_u128)
        .collect()
}

/// The range of a pool provide and every value the host manifest alone keeps it
/// from handing out: [`skipped_addresses`] (with `subnet`, the subnet and
/// gateway of the pool's network in the pool's family, see
/// [`crate::rules::subnet_of`]) and the static provides of the same kind inside
/// the range.
/// `None` when `p` is not a pool.
///
/// The one statement of the manifest's skip rule: the solver adds the state's
/// holdings and reservations to it, fleet placement uses it as is, so the two
/// never disagree on a pool's capacity.
pub fn manifest_skips<'a>(
    p: &Provide,
    subnet: Option<&Subnet>,
    provides: impl IntoIterator<Item = &'a Provide>,
) -> Option<(Span128, Vec<u128>)> {
    let (range, mut skip) = match &p.detail {
        ProvideDetail::Address {
            source: AddressSource::Pool(net),
            ..
        } => (
            Span128::of_net(net),
            skipped_addresses(
                net,
                subnet.and_then(|s| s.net.as_ref()),
                subnet.and_then(|s| s.gateway),
            ),
        ),
        d => {
            let s = d.host_sockets().filter(|s| s.pool)?;
            (Span128::of_ports(s.first, s.last), Vec::new())
        }
    };
    for q in provides.into_iter().filter(|q| q.kind == p.kind) {
        skip.extend(q.detail.static_scalar());
    }
    skip.retain(|v| range.contains(*v));
    Some((range, skip))
}

/// The values of pool `p` (`net`: its network, `None` for a port pool) that
/// `state` takes from it, besides the manifest's skips: the value of every
/// reservation of the kind (held or kept for its name), and of every holding
/// of the kind that is not a pool's (a provider-made address). Pool holdings
/// are covered by their reservations (apply writes both). Values outside the
/// pool are included; callers keep those inside. The one statement of this
/// rule: the solver and fleet placement both count a pool's capacity with it.
pub fn state_taken(p: &Provide, net: Option<&IpNet>, state: &crate::state::State) -> Vec<u128> {
    use crate::state::BindingSource;
    // Parse by family: trying IPv4 first on every IPv6 string doubles the
    // cost of scanning ten thousand reservations.
    let parse = |v: &str| -> Option<u128> {
        match net {
            Some(IpNet::V6(_)) => v.parse::<Ipv6Addr>().ok().map(u128::from),
            Some(IpNet::V4(_)) => v.parse::<Ipv4Addr>().ok().map(|a| u128::from(u32::from(a))),
            None => v.parse::<u16>().ok().map(u128::from),
        }
    };
    let mut out: Vec<u128> = state
        .reservations
        .values()
        .filter(|r| r.kind == p.kind)
        .filter_map(|r| parse(&r.value))
        .collect();
    // A state loaded as a slice carries the values the rest of the store
    // takes (the same rule, answered by the store's index).
    if let Some(v) = state.store_taken.get(&p.kind) {
        out.extend_from_slice(v);
    }
    for h in state.holdings.values() {
        for b in h
            .bindings
            .iter()
            .filter(|b| b.kind == p.kind && b.source != BindingSource::Pool)
        {
            let v = if net.is_some() {
                b.value
                    .get("address")
                    .and_then(|a| a.as_str())
                    .map(str::to_string)
            } else {
                b.value
                    .get("host_port")
                    .and_then(|x| x.as_u64())
                    .map(|x| x.to_string())
            };
            out.extend(v.as_deref().and_then(parse));
        }
    }
    out
}

/// The taken values of one pool: sorted, deduplicated, only those inside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taken {
    sorted: Vec<u128>,
}

impl Taken {
    /// Keeps the values of `values` that lie in `range`.
    pub fn new(range: Span128, values: impl IntoIterator<Item = u128>) -> Taken {
        let mut sorted: Vec<u128> = values.into_iter().filter(|v| range.contains(*v)).collect();
        sorted.sort_unstable();
        sorted.dedup();
        Taken { sorted }
    }

    /// How many taken values lie in `range`. O(log n).
    pub fn count_in(&self, range: Span128) -> u128 {
        let a = self.sorted.partition_point(|v| *v < range.lo);
        let b = self.sorted.partition_point(|v| *v <= range.hi);
        (b - a) as u128
    }

    /// Whether `v` is taken. O(log n).
    pub fn contains(&self, v: u128) -> bool {
        self.sorted.binary_search(&v).is_ok()
    }

    /// Number of taken values.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// True when nothing is taken.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }
}

/// The lowest value of `range` that is not in `taken`, in O(n) for n taken
/// values (no sorting, no walk over the pool): at most n values can be taken, so
/// the answer is among the first n+1 values of the range.
pub fn lowest_free(range: Span128, taken: impl IntoIterator<Item = u128>) -> Option<u128> {
    let taken: Vec<u128> = taken.into_iter().filter(|v| range.contains(*v)).collect();
    let window = taken.len() + 1;
    let mut seen = vec![false; window];
    for v in &taken {
        let off = v - range.lo;
        if off < window as u128 {
            seen[off as usize] = true;
        }
    }
    let first = seen.iter().position(|s| !s)? as u128;
    if first < range.size() {
        Some(range.lo + first)
    } else {
        None
    }
}

/// Hands out free values of one region of a pool in increasing order: the
/// region is `range` minus the `excluded` sub-ranges (prefixes served by their
/// own regions) minus the taken values. Each call continues where the previous
/// stopped, so allocating k values costs O(k + taken + excluded) in total.
#[derive(Debug, Clone)]
pub struct Cursor<'t> {
    range: Span128,
    excluded: Vec<Span128>,
    taken: &'t Taken,
    next: Option<u128>,
}

impl<'t> Cursor<'t> {
    /// A cursor at the start of `range`.
    pub fn new(range: Span128, mut excluded: Vec<Span128>, taken: &'t Taken) -> Cursor<'t> {
        excluded.sort();
        Cursor {
            range,
            excluded,
            taken,
            next: Some(range.lo),
        }
    }

    /// Number of values this region can still hand out (ignoring what this
    /// cursor already handed out). Excluded sub-ranges must be disjoint.
    pub fn free_count(&self) -> u128 {
        let mut free = self.range.size() - self.taken.count_in(self.range);
        for e in &self.excluded {
            free -= e.size() - self.taken.count_in(*e);
        }
        free
    }
}

impl Iterator for Cursor<'_> {
    type Item = u128;

    /// Walks the sorted taken list in lockstep with the candidate value, so a
    /// run of k taken values costs O(k), not O(k log n).
    fn next(&mut self) -> Option<u128> {
        let mut v = self.next?;
        let taken = &self.taken.sorted;
        let mut ti = taken.partition_point(|t| *t < v);
        loop {
            if !self.range.contains(v) {
                self.next = None;
                return None;
            }
            let step_to = if let Some(e) = self.excluded.iter().find(|e| e.contains(v)) {
                e.hi.checked_add(1)
            } else if taken.get(ti) == Some(&v) {
                ti += 1;
                v.checked_add(1)
            } else {
                self.next = v.checked_add(1);
                return Some(v);
            };
            match step_to {
                Some(n) => {
                    v = n;
                    while taken.get(ti).is_some_and(|t| *t < v) {
                        ti += 1;
                    }
                }
                None => {
                    self.next = None;
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn lowest_free_skips_network_address_and_gateway() {
        let pool = net("2001:db8::/120");
        let skip = skipped_addresses(&pool, None, Some("2001:db8::1".parse().unwrap()));
        let got = lowest_free(Span128::of_net(&pool), skip).unwrap();
        assert_eq!(
            u128_to_addr(got, &pool),
            "2001:db8::2".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn ipv4_pool_skips_broadcast() {
        let pool = net("10.0.0.0/30");
        let mut taken = skipped_addresses(&pool, None, None);
        taken.push(addr_to_u128("10.0.0.1".parse().unwrap()));
        taken.push(addr_to_u128("10.0.0.2".parse().unwrap()));
        assert_eq!(lowest_free(Span128::of_net(&pool), taken), None);
    }

    #[test]
    fn lowest_free_in_a_slash_64_with_gaps() {
        let pool = net("2001:db8::/64");
        let r = Span128::of_net(&pool);
        let taken: Vec<u128> = (0..1000).filter(|i| *i != 700).map(|i| r.lo + i).collect();
        assert_eq!(lowest_free(r, taken), Some(r.lo + 700));
    }

    #[test]
    fn full_range_has_no_free_value() {
        let r = Span128::of_ports(8000, 8002);
        assert_eq!(lowest_free(r, [8000, 8001, 8002]), None);
        assert_eq!(lowest_free(r, [8000, 8002]), Some(8001));
    }

    #[test]
    fn cursor_skips_taken_and_excluded_and_counts_free() {
        let r = Span128::of_ports(1, 10);
        let taken = Taken::new(r, [1, 2, 5, 42]);
        let c = Cursor::new(r, vec![Span128::of_ports(6, 8)], &taken);
        assert_eq!(c.free_count(), 10 - 3 - 3);
        assert_eq!(c.collect::<Vec<_>>(), vec![3, 4, 9, 10]);
    }

    #[test]
    fn cursor_at_the_top_of_the_ipv6_space_stops() {
        let r = Span128 {
            lo: u128::MAX - 1,
            hi: u128::MAX,
        };
        let taken = Taken::default();
        let got: Vec<u128> = Cursor::new(r, vec![], &taken).collect();
        assert_eq!(got, vec![u128::MAX - 1, u128::MAX]);
    }
}
