//! The matching rules, stated once: which provide may serve which need, and
//! what makes a use exclusive. The single-host solver ([`crate::solve`]) and
//! fleet placement ([`crate::place`]) both decide with these functions; they
//! differ only in what they do with a verdict (the solver turns a mismatch into
//! an explained [`crate::explain::Reason`], placement into a per-host count).
//!
//! What must stay true: nothing here looks at holders, capacity or state; those
//! are the callers' (the solver's matching is exact, and placement confirms a
//! host through the solver wherever its own index cannot be exact). A rule
//! added or changed here changes `plan` and `place` together, which is the
//! point: two copies of these rules once disagreed and `place` admitted
//! containers that `plan` refused on the same host.

use berth_specs::kinds::Subnet;
use berth_specs::{AddressSource, Kind, NeedDetail, NeedSpec, Protocol, Provide, ProvideDetail};
use ipnet::IpNet;

use crate::pool::Span128;

/// Who may hold a provide with an `allow` list: container name patterns, and
/// `image:` patterns matched against the spec's image.
#[derive(Debug, Clone)]
pub(crate) enum AllowRule {
    Container(glob::Pattern),
    Image(glob::Pattern),
}

impl AllowRule {
    pub(crate) fn parse(text: &str) -> AllowRule {
        // The loader validated these; an uncompilable pattern admits nobody
        // rather than everybody.
        let compile = |t: &str| {
            glob::Pattern::new(t).unwrap_or_else(|_| glob::Pattern::new("[]").expect("literal"))
        };
        match text.strip_prefix("image:") {
            Some(img) => AllowRule::Image(compile(img)),
            None => AllowRule::Container(compile(text)),
        }
    }

    pub(crate) fn admits(&self, spec: &NeedSpec) -> bool {
        match self {
            AllowRule::Container(p) => p.matches(&spec.container),
            AllowRule::Image(p) => spec.image.as_deref().is_some_and(|i| p.matches(i)),
        }
    }
}

/// The `allow` list of what a provider made: that of the manifest's first
/// provider covering `kind`/`name` (`None`: everyone, or no provider covers
/// it any more).
pub(crate) fn made_allow(
    host: &berth_specs::HostManifest,
    kind: &Kind,
    name: &str,
) -> Option<Vec<String>> {
    host.providers
        .iter()
        .find(|d| &d.kind == kind && d.pattern.matches(name))
        .and_then(|d| d.allow.clone())
}

/// Whether provider `d`'s `allow` admits `spec` (no list: everyone).
pub(crate) fn provider_admits(d: &berth_specs::ProviderDecl, spec: &NeedSpec) -> bool {
    d.allow
        .as_ref()
        .is_none_or(|list| list.iter().any(|a| AllowRule::parse(a).admits(spec)))
}

/// A provide's compiled `allow` list (`None`: everyone).
pub(crate) fn allow_rules(p: &Provide) -> Option<Vec<AllowRule>> {
    p.allow
        .as_ref()
        .map(|list| list.iter().map(|a| AllowRule::parse(a)).collect())
}

/// Whether compiled `allow` rules admit `spec`.
pub(crate) fn admits(rules: Option<&[AllowRule]>, spec: &NeedSpec) -> bool {
    rules.is_none_or(|rules| rules.iter().any(|r| r.admits(spec)))
}

/// Why a provide cannot serve a need, whoever holds what.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mismatch {
    /// A read-write need against a read-only provide.
    ReadOnly,
    /// A provide of another kind's form, which only a bad provider record
    /// can make (the loader keeps manifest kinds and forms together).
    Kind,
    /// An IPv6 need against an IPv4 provide or the reverse.
    Family {
        /// What the provide offers (an address or a pool).
        offered: String,
    },
    /// The address, or the whole pool, lies outside the need's `prefix`.
    OutsidePrefix {
        /// The need's prefix.
        prefix: IpNet,
        /// What the provide offers.
        offered: String,
    },
    /// A port of another protocol.
    Protocol {
        /// The need's protocol.
        wanted: Protocol,
        /// The provide's.
        offered: Protocol,
    },
}

/// How a compatible provide serves a need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fit {
    /// Whole: any of its values will do.
    Whole,
    /// Only the values of this prefix strictly inside the pool (CIDR ranges
    /// nest or are disjoint, so a prefix overlapping a pool is inside it or
    /// covers it).
    Within(Span128),
}

/// The need's `prefix`, if it asks for one.
pub(crate) fn need_prefix(d: &NeedDetail) -> Option<IpNet> {
    match d {
        NeedDetail::Ipv6 { prefix } => prefix.map(IpNet::V6),
        NeedDetail::Ipv4 { prefix } => prefix.map(IpNet::V4),
        _ => None,
    }
}

/// Whether a provide of the need's kind can serve it, options only: read-only,
/// address family, prefix, protocol. `allow`, holders, capacity and the
/// implied network are checked apart.
pub(crate) fn fit(need: &NeedDetail, p: &ProvideDetail) -> Result<Fit, Mismatch> {
    match (need, p) {
        (
            NeedDetail::Volume { read_only, .. },
            ProvideDetail::Volume {
                read_only: p_ro, ..
            },
        ) => {
            if *p_ro && !*read_only {
                return Err(Mismatch::ReadOnly);
            }
            Ok(Fit::Whole)
        }
        (
            NeedDetail::Ipv6 { .. } | NeedDetail::Ipv4 { .. },
            ProvideDetail::Address { source, .. },
        ) => {
            let v6 = matches!(need, NeedDetail::Ipv6 { .. });
            let want = need_prefix(need);
            match source {
                AddressSource::Static(a) => {
                    if a.is_ipv6() != v6 {
                        return Err(Mismatch::Family {
                            offered: a.to_string(),
                        });
                    }
                    match want {
                        Some(w) if !w.contains(a) => Err(Mismatch::OutsidePrefix {
                            prefix: w,
                            offered: a.to_string(),
                        }),
                        _ => Ok(Fit::Whole),
                    }
                }
                AddressSource::Pool(pnet) => {
                    if matches!(pnet, IpNet::V6(_)) != v6 {
                        return Err(Mismatch::Family {
                            offered: pnet.to_string(),
                        });
                    }
                    let Some(w) = want else { return Ok(Fit::Whole) };
                    let (pr, wr) = (Span128::of_net(pnet), Span128::of_net(&w));
                    if wr.covers(&pr) {
                        Ok(Fit::Whole)
                    } else if !wr.overlaps(&pr) {
                        Err(Mismatch::OutsidePrefix {
                            prefix: w,
                            offered: pnet.to_string(),
                        })
                    } else {
                        Ok(Fit::Within(wr))
                    }
                }
            }
        }
        (NeedDetail::Port { protocol, .. }, ProvideDetail::Port { protocol: pp, .. }) => {
            if protocol != pp {
                return Err(Mismatch::Protocol {
                    wanted: *protocol,
                    offered: *pp,
                });
            }
            Ok(Fit::Whole)
        }
        // Kinds with no option to compare (the registry says which).
        (need, provide) if need.matched_by_name(provide) => Ok(Fit::Whole),
        // The loader keeps kinds and details consistent; a mismatch here can
        // only be a record whose provider returned another kind's form.
        _ => Err(Mismatch::Kind),
    }
}

/// The need wants the resource for itself alone (`exclusive: true` on a volume).
pub(crate) fn wants_alone(need: &NeedDetail) -> bool {
    matches!(
        need,
        NeedDetail::Volume {
            exclusive: true,
            ..
        }
    )
}

/// Whether using provide `p` for `need` excludes every other user: an
/// exclusive provide, or a need that wants it alone.
pub(crate) fn exclusive_use(p: &Provide, need: &NeedDetail) -> bool {
    p.exclusive() || wants_alone(need)
}

/// Whether a provider-made resource of `kind` for `need` has one holder.
pub(crate) fn exclusive_made(kind: &Kind, need: &NeedDetail) -> bool {
    kind.exclusive_by_default() || wants_alone(need)
}

/// Kinds whose names have one holder whatever serves them: two containers
/// asking for `ipv6: app` ask for the same address, whichever pool serves it.
pub(crate) fn named_exclusive(kind: &Kind) -> bool {
    matches!(kind, Kind::Ipv4 | Kind::Ipv6 | Kind::Port)
}

/// Whether a pattern provide or a provider may serve `kind`/`name`: never an
/// engine-reserved network. Only a provide naming it exactly (the host's own,
/// deliberate choice) serves one. The trust boundary of DESIGN.md, stated
/// once for the solver and placement.
pub fn pattern_may_serve(kind: &Kind, name: &str) -> bool {
    !(kind.is_network() && berth_specs::reserved::is_engine_reserved_network(name))
}

/// What serves a name, by the candidate order of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Served {
    /// Provide `.0` (an index in the caller's provide list).
    Provide(usize),
    /// Provider `.0` (an index in the manifest's providers).
    Provider(usize),
}

/// How an address's network (its implied need) is served for one container:
/// the provide naming it exactly is the only candidate (its `allow` must admit
/// the container); otherwise the first matching pattern, in file order, whose
/// `allow` admits it; otherwise the first covering provider. `exact`,
/// `patterns` (the matching ones, in file order) and `provider` come from the
/// caller's own index; `admits(i)` says whether provide `i`'s `allow` admits
/// the container. `Err` lists the provides `allow` turned away, in order.
/// An engine-reserved `name` is served by its exact provide only.
pub(crate) fn serve_network(
    name: &str,
    exact: Option<usize>,
    patterns: impl IntoIterator<Item = usize>,
    provider: Option<usize>,
    mut admits: impl FnMut(usize) -> bool,
) -> Result<Served, Vec<usize>> {
    if let Some(i) = exact {
        return if admits(i) {
            Ok(Served::Provide(i))
        } else {
            Err(vec![i])
        };
    }
    if !pattern_may_serve(&Kind::Network, name) {
        return Err(Vec::new());
    }
    let mut denied = Vec::new();
    for i in patterns {
        if admits(i) {
            return Ok(Served::Provide(i));
        }
        denied.push(i);
    }
    provider.map(Served::Provider).ok_or(denied)
}

/// The subnet and gateway of network `network` in the family of `pool`, from
/// the first provide naming that network exactly: what a pool skips (see
/// [`crate::pool::manifest_skips`]).
pub(crate) fn subnet_of<'a>(
    provides: impl IntoIterator<Item = &'a Provide>,
    network: &str,
    pool: &IpNet,
) -> Option<Subnet> {
    let p = provides
        .into_iter()
        .find(|q| q.kind == Kind::Network && q.name.is_exact() && q.name.as_str() == network)?;
    let [v6, v4] = p.detail.subnets()?;
    Some(match pool {
        IpNet::V6(_) => v6,
        IpNet::V4(_) => v4,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(prefix: &str) -> NeedDetail {
        NeedDetail::Ipv4 {
            prefix: Some(prefix.parse().unwrap()),
        }
    }

    fn pool(net: &str) -> ProvideDetail {
        ProvideDetail::Address {
            source: AddressSource::Pool(net.parse().unwrap()),
            network: "n".into(),
        }
    }

    #[test]
    fn a_prefix_inside_a_pool_is_a_region_of_it_not_the_whole_pool() {
        let f = fit(&v4("192.168.1.4/30"), &pool("192.168.1.0/29")).unwrap();
        assert_eq!(
            f,
            Fit::Within(Span128::of_net(&"192.168.1.4/30".parse().unwrap()))
        );
        assert_eq!(
            fit(&v4("192.168.0.0/16"), &pool("192.168.1.0/29")),
            Ok(Fit::Whole)
        );
        assert!(matches!(
            fit(&v4("10.0.0.0/8"), &pool("192.168.1.0/29")),
            Err(Mismatch::OutsidePrefix { .. })
        ));
    }

    #[test]
    fn family_and_read_only_are_mismatches() {
        assert!(matches!(
            fit(&NeedDetail::Ipv6 { prefix: None }, &pool("192.168.1.0/29")),
            Err(Mismatch::Family { .. })
        ));
        let rw = NeedDetail::Volume {
            mount: "/m".into(),
            read_only: false,
            exclusive: false,
        };
        let ro = ProvideDetail::Volume {
            path: "/p".into(),
            read_only: true,
            exclusive: false,
        };
        assert_eq!(fit(&rw, &ro), Err(Mismatch::ReadOnly));
    }
}
