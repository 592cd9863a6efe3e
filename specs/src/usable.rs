//! Which addresses of a network a container can be given: the one rule that
//! the engine's pools (what they hand out), `check` (a pool with no usable
//! address, a static address engines refuse) and fleet placement share.
//!
//! What must stay true: a pool's own first address is an ordinary address;
//! only what engines really refuse is skipped: the subnet's network address
//! (for IPv6 the subnet-router anycast address), an IPv4 subnet's broadcast
//! address, the network's gateway and the host's static addresses. Point to
//! point subnets (IPv4 /31 and /32, IPv6 /127 and /128) have no network or
//! broadcast address to skip (RFC 3021, RFC 6164).

use std::net::IpAddr;

use ipnet::IpNet;

/// The addresses of `subnet` that docker, podman and LXC refuse to give a
/// container: its network address (IPv6: the subnet-router anycast address)
/// and, for IPv4, its broadcast address. None for point-to-point subnets.
pub fn engine_refused(subnet: &IpNet) -> Vec<IpAddr> {
    let p2p = subnet.max_prefix_len() - subnet.prefix_len() <= 1;
    if p2p {
        return Vec::new();
    }
    match subnet {
        IpNet::V4(n) => vec![IpAddr::V4(n.network()), IpAddr::V4(n.broadcast())],
        IpNet::V6(n) => vec![IpAddr::V6(n.network())],
    }
}

/// Why an address cannot be given to a container, if it cannot: `"network
/// address"`, `"broadcast address"` or `"subnet-router anycast address"` of
/// `subnet`.
pub fn refused_reason(subnet: &IpNet, a: IpAddr) -> Option<&'static str> {
    let refused = engine_refused(subnet);
    match (refused.iter().position(|r| *r == a)?, subnet) {
        (0, IpNet::V6(_)) => Some("subnet-router anycast address"),
        (0, IpNet::V4(_)) => Some("network address"),
        _ => Some("broadcast address"),
    }
}

/// The addresses of `pool` it never hands out, whatever the state holds,
/// sorted and without repeats: [`engine_refused`] of `subnet` (the subnet of
/// the host network the pool lies in; the pool itself when the network
/// declares no subnet of the pool's family, or one that does not hold the
/// pool), the gateway and the `statics`, each only when it lies in the pool.
pub fn pool_skips(
    pool: &IpNet,
    subnet: Option<&IpNet>,
    gateway: Option<IpAddr>,
    statics: impl IntoIterator<Item = IpAddr>,
) -> Vec<IpAddr> {
    let subnet = subnet.filter(|s| s.contains(pool)).unwrap_or(pool);
    let mut out: Vec<IpAddr> = engine_refused(subnet)
        .into_iter()
        .chain(gateway)
        .chain(statics)
        .filter(|a| pool.contains(a))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// How many addresses `pool` can hand out before the state takes any: its
/// size minus [`pool_skips`] (`skips` as that returns them), saturating at
/// `u128::MAX` for a whole IPv6 /0.
pub fn usable_count(pool: &IpNet, skips: &[IpAddr]) -> u128 {
    let bits = u32::from(pool.max_prefix_len() - pool.prefix_len());
    let size = if bits >= 128 {
        u128::MAX
    } else {
        1u128 << bits
    };
    size.saturating_sub(skips.len() as u128)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_single_address_pool_keeps_its_address() {
        for p in ["2001:db8::10/128", "192.0.2.7/32"] {
            let pool = net(p);
            let skips = pool_skips(&pool, None, None, []);
            assert!(skips.is_empty(), "{p}: {skips:?}");
            assert_eq!(usable_count(&pool, &skips), 1);
        }
    }

    #[test]
    fn a_pool_inside_a_subnet_skips_only_the_subnets_network_address() {
        let subnet = net("10.0.0.0/24");
        let upper = pool_skips(&net("10.0.0.128/25"), Some(&subnet), None, []);
        assert_eq!(upper, vec![ip("10.0.0.255")]);
        let lower = pool_skips(&net("10.0.0.0/25"), Some(&subnet), Some(ip("10.0.0.1")), []);
        assert_eq!(lower, vec![ip("10.0.0.0"), ip("10.0.0.1")]);
    }

    #[test]
    fn a_pool_on_a_network_without_a_subnet_is_its_own_subnet() {
        let skips = pool_skips(&net("10.0.0.128/25"), None, None, []);
        assert_eq!(skips, vec![ip("10.0.0.128"), ip("10.0.0.255")]);
        let other = net("10.9.0.0/24");
        assert_eq!(
            pool_skips(&net("10.0.0.128/25"), Some(&other), None, []),
            skips
        );
    }

    #[test]
    fn reasons_name_what_engines_refuse() {
        assert_eq!(
            refused_reason(&net("2001:db8::/64"), ip("2001:db8::")),
            Some("subnet-router anycast address")
        );
        assert_eq!(
            refused_reason(&net("192.0.2.0/24"), ip("192.0.2.255")),
            Some("broadcast address")
        );
        assert_eq!(refused_reason(&net("192.0.2.0/31"), ip("192.0.2.0")), None);
        assert_eq!(refused_reason(&net("192.0.2.0/24"), ip("192.0.2.1")), None);
    }

    #[test]
    fn usable_count_of_a_whole_ipv6_space_saturates() {
        assert_eq!(usable_count(&net("::/0"), &[]), u128::MAX);
        assert_eq!(usable_count(&net("10.0.0.0/30"), &[ip("10.0.0.0")]), 3);
    }
}
