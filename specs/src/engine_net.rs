//! berth's addresses against an engine network's own address management.
//!
//! Docker and podman hand addresses to containers started without one from
//! the network's dynamic range (`--ip-range`; the whole subnet when none is
//! given). A container started with plain `docker run --network N` must never
//! take an address berth may give (a static, or one of a pool) on that
//! network: after a reboot it could start first and hold it (docker/compose
//! #11899, "Address already in use"). So:
//! - [`ip_range_overlaps`] (`berth check`): the `--ip-range6`/`--ip-range4`
//!   a network provider's argv names must not overlap the statics and pools
//!   on the networks it makes;
//! - [`engine_conflicts`] (`berth check --live`): an engine network that
//!   exists already must have the manifest's subnet, and its dynamic range
//!   must hold none of berth's addresses on it.
//!
//! Pure comparisons: asking the engine is the caller's part.

use ipnet::IpNet;

use crate::diag::{Code, Diagnostic};
use crate::model::{AddressSource, HostManifest, ProvideDetail, Span};

/// One of berth's addresses on a network: a static or a pool, with where the
/// manifest says it.
#[derive(Debug, Clone, Copy)]
struct Claim {
    net: IpNet,
    is_static: bool,
    span: Span,
}

impl Claim {
    fn overlaps(&self, range: &IpNet) -> bool {
        range.contains(&self.net.network()) || self.net.contains(&range.network())
    }

    fn text(&self) -> String {
        if self.is_static {
            format!("static address {}", self.net.addr())
        } else {
            format!("pool {}", self.net)
        }
    }
}

/// berth's statics and pools on network `name`.
fn claims(host: &HostManifest, name: &str) -> Vec<Claim> {
    host.provides
        .iter()
        .filter_map(|p| match &p.detail {
            ProvideDetail::Address { source, network } if network == name => Some(match source {
                AddressSource::Static(a) => Claim {
                    net: IpNet::from(*a),
                    is_static: true,
                    span: p.span,
                },
                AddressSource::Pool(n) => Claim {
                    net: *n,
                    is_static: false,
                    span: p.span,
                },
            }),
            _ => None,
        })
        .collect()
}

/// The value after `flag` in an argv, if any.
fn flag_value<'a>(run: &'a [String], flag: &str) -> Option<&'a str> {
    run.iter()
        .position(|a| a == flag)
        .and_then(|i| run.get(i + 1))
        .map(String::as_str)
}

/// `berth check`: a network provider whose argv names `--ip-range6` or
/// `--ip-range4` (the bundled `docker-network` / `podman-network`) leaves
/// every static and pool on the networks it makes outside that range.
pub fn ip_range_overlaps(host: &HostManifest) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for decl in host.providers.iter().filter(|d| d.kind.is_network()) {
        for flag in ["--ip-range6", "--ip-range4"] {
            let Some(Ok(range)) = flag_value(&decl.run, flag).map(str::parse::<IpNet>) else {
                continue;
            };
            let range = range.trunc();
            let networks: Vec<&str> = host
                .provides
                .iter()
                .filter_map(|p| match &p.detail {
                    ProvideDetail::Address { network, .. } if decl.pattern.matches(network) => {
                        Some(network.as_str())
                    }
                    _ => None,
                })
                .collect();
            for net in networks
                .iter()
                .copied()
                .collect::<std::collections::BTreeSet<_>>()
            {
                for c in claims(host, net).iter().filter(|c| c.overlaps(&range)) {
                    out.push(
                        Diagnostic::error(
                            Code::HostIpRangeOverlap,
                            format!(
                                "{} on network `{net}` lies in the engine's dynamic range {flag} {range}: a container started without berth could take it",
                                c.text()
                            ),
                        )
                        .at(&host.source, c.span)
                        .label("berth hands this out")
                        .related(decl.span, format!("{flag} {range} here"))
                        .help("give the engine a range outside berth's statics and pools (for example the upper half of the subnet)"),
                    );
                }
            }
        }
    }
    out
}

/// One subnet of an existing engine network and its dynamic range (`None`:
/// the whole subnet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSubnet {
    /// The subnet.
    pub subnet: IpNet,
    /// The part the engine hands out itself.
    pub range: Option<IpNet>,
}

/// The subnets the manifest gives network `name`: a `network` provide's
/// `subnet6`/`subnet4`, or a network provider's `--subnet6`/`--subnet4`.
pub fn manifest_subnets(host: &HostManifest, name: &str) -> Vec<(IpNet, Span)> {
    let mut out = Vec::new();
    for p in host.provides.iter().filter(|p| p.name.as_str() == name) {
        for s in p.detail.subnets().into_iter().flatten() {
            out.extend(s.net.map(|n| (n, p.span)));
        }
    }
    if out.is_empty() {
        for d in host
            .providers
            .iter()
            .filter(|d| d.kind.is_network() && d.pattern.matches(name))
        {
            for flag in ["--subnet6", "--subnet4"] {
                if let Some(Ok(s)) = flag_value(&d.run, flag).map(str::parse::<IpNet>) {
                    out.push((s.trunc(), d.span));
                }
            }
        }
    }
    out
}

/// The network names `check --live` asks the engines about: every `network`
/// provide and every network provider with an exact name.
pub fn engine_network_names(host: &HostManifest) -> Vec<String> {
    let mut names: Vec<String> = host
        .provides
        .iter()
        .filter(|p| p.kind.is_network())
        .map(|p| p.name.as_str().to_string())
        .chain(
            host.providers
                .iter()
                .filter(|d| d.kind.is_network())
                .map(|d| d.pattern.as_str().to_string()),
        )
        .filter(|n| !n.contains(['*', '?', '[']))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `berth check --live`: what is wrong with the existing `engine` network
/// `name` (its subnets as the engine reports them) for this manifest.
pub fn engine_conflicts(
    host: &HostManifest,
    engine: &str,
    name: &str,
    subnets: &[EngineSubnet],
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let wanted = manifest_subnets(host, name);
    for (subnet, span) in &wanted {
        if !subnets.iter().any(|s| s.subnet.trunc() == *subnet) {
            let has: Vec<String> = subnets.iter().map(|s| s.subnet.to_string()).collect();
            out.push(
                Diagnostic::error(
                    Code::LiveEngineNetwork,
                    format!(
                        "{engine} network `{name}` exists with subnet(s) {}, not {subnet}",
                        if has.is_empty() { "none".to_string() } else { has.join(", ") }
                    ),
                )
                .at(&host.source, *span)
                .help(format!("remove the {engine} network `{name}` (berth's provider makes it as the manifest says), or change the manifest")),
            );
        }
    }
    for s in subnets {
        let range = s.range.unwrap_or(s.subnet).trunc();
        for c in claims(host, name)
            .iter()
            .filter(|c| c.overlaps(&range) && s.subnet.contains(&c.net.network()))
        {
            out.push(
                Diagnostic::error(
                    Code::LiveEngineNetwork,
                    format!(
                        "{engine} network `{name}` hands out {range} itself, which holds berth's {}: a container started without berth could take it",
                        c.text()
                    ),
                )
                .at(&host.source, c.span)
                .help(format!("recreate `{name}` with an --ip-range outside berth's statics and pools (the bundled docker-network and podman-network take --ip-range6/--ip-range4)")),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{load_str, LoadOptions};
    use crate::model::Document;

    fn host(text: &str) -> HostManifest {
        let l = load_str(
            std::path::Path::new("h.yaml"),
            text,
            &LoadOptions::default(),
        );
        assert!(!l.has_errors(), "{:?}", l.diagnostics);
        match l.documents.into_iter().next() {
            Some(Document::Host(h)) => h,
            _ => panic!("no host"),
        }
    }

    const HOST: &str = "berth: 1\nhost: h\nprovides:\n  - ipv6: web\n    address: 2001:db8::20\n    network: n6\n  - ipv6: \"*\"\n    pool: 2001:db8::100/120\n    network: n6\nproviders:\n  - network: n6\n    run: [docker-network, --subnet6, \"2001:db8::/64\", --gateway6, \"2001:db8::1\", --ip-range6, \"RANGE\"]\n";

    #[test]
    fn an_ip_range_holding_a_static_or_a_pool_is_refused() {
        let ok = host(&HOST.replace("RANGE", "2001:db8::8000:0/97"));
        assert!(ip_range_overlaps(&ok).is_empty());
        let bad = host(&HOST.replace("RANGE", "2001:db8::/120"));
        let d = ip_range_overlaps(&bad);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].message.contains("static address 2001:db8::20"),
            "{}",
            d[0].message
        );
        let bad = host(&HOST.replace("RANGE", "2001:db8::100/124"));
        assert!(ip_range_overlaps(&bad)[0]
            .message
            .contains("pool 2001:db8::100/120"));
    }

    #[test]
    fn an_engine_network_with_another_subnet_or_a_wide_range_conflicts() {
        let h = host(&HOST.replace("RANGE", "2001:db8::8000:0/97"));
        let subnet: IpNet = "2001:db8::/64".parse().unwrap();
        let good = [EngineSubnet {
            subnet,
            range: Some("2001:db8::8000:0/97".parse().unwrap()),
        }];
        assert!(engine_conflicts(&h, "docker", "n6", &good).is_empty());
        let whole = [EngineSubnet {
            subnet,
            range: None,
        }];
        assert_eq!(engine_conflicts(&h, "docker", "n6", &whole).len(), 2);
        let other = [EngineSubnet {
            subnet: "2001:db9::/64".parse().unwrap(),
            range: None,
        }];
        let d = engine_conflicts(&h, "podman", "n6", &other);
        assert!(
            d[0].message.contains("not 2001:db8::/64"),
            "{}",
            d[0].message
        );
        assert_eq!(engine_network_names(&h), ["n6"]);
    }
}
