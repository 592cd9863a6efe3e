//! Semantic checks of a host manifest that has loaded (every field is well
//! typed): duplicate names, the same address or port twice however spelled,
//! addresses outside their network's subnet, overlapping pools and subnets,
//! static addresses inside pools, and address provides whose network nothing
//! provides. Also the `--live` checks, which look at this host's filesystem.
//!
//! What must stay true: each problem has its own stable code; checks compare
//! parsed values (`2001:db8::5` equals `2001:db8:0:0::5`), never text.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use crate::diag::{Code, Diagnostic};
use crate::model::*;

/// Spans of individual fields of provides (`address`, `pool`, `gateway6`...),
/// recorded by the loader so that diagnostics can point at the value itself
/// rather than the whole entry.
#[derive(Debug, Default, Clone)]
pub struct FieldSpans {
    map: HashMap<(usize, &'static str), Span>,
}

impl FieldSpans {
    /// Records where field `field` of provide number `provide` is.
    pub fn insert(&mut self, provide: usize, field: &'static str, span: Span) {
        self.map.insert((provide, field), span);
    }

    /// Where field `field` of provide number `provide` is, if recorded.
    pub fn get(&self, provide: usize, field: &str) -> Option<Span> {
        self.map.get(&(provide, field)).copied()
    }
}

/// Semantic checks of a host manifest, pointing at whole entries.
pub fn validate_host(host: &HostManifest) -> Vec<Diagnostic> {
    validate_host_with_spans(host, &FieldSpans::default())
}

struct Net<'h> {
    index: usize,
    name: &'h str,
    subnet6: Option<IpNet>,
    subnet4: Option<IpNet>,
}

/// Semantic checks of a host manifest, pointing at fields where `spans` knows them.
pub fn validate_host_with_spans(host: &HostManifest, spans: &FieldSpans) -> Vec<Diagnostic> {
    let src = &host.source;
    let at = |i: usize, field: &str| spans.get(i, field).unwrap_or(host.provides[i].span);
    let mut out = Vec::new();

    // Duplicate names (and duplicate patterns) per kind.
    let mut names: HashMap<(&Kind, &str), Span> = HashMap::new();
    for p in &host.provides {
        if let Some(first) = names.insert((&p.kind, p.name.as_str()), p.span) {
            out.push(
                Diagnostic::error(
                    Code::HostDuplicateName,
                    format!("{} `{}` is provided twice", p.kind, p.name),
                )
                .at(src, p.span)
                .label("second time")
                .related(first, "first time")
                .help("remove one, or give it another name"),
            );
        }
    }
    let mut patterns: HashMap<(&Kind, &str), Span> = HashMap::new();
    for p in &host.providers {
        if let Some(first) = patterns.insert((&p.kind, p.pattern.as_str()), p.span) {
            out.push(
                Diagnostic::error(
                    Code::HostDuplicateName,
                    format!("two providers for {} `{}`", p.kind, p.pattern),
                )
                .at(src, p.span)
                .label("never used: the first one wins")
                .related(first, "first provider")
                .help("remove one of them"),
            );
        }
    }

    // Networks: gateways inside subnets, subnets not overlapping.
    let mut nets: Vec<Net<'_>> = Vec::new();
    let mut gateways: Vec<(IpAddr, Span)> = Vec::new();
    for (i, p) in host.provides.iter().enumerate() {
        let ProvideDetail::Network {
            subnet6,
            gateway6,
            subnet4,
            gateway4,
            ..
        } = &p.detail
        else {
            continue;
        };
        let pairs = [
            (
                subnet6.map(IpNet::V6),
                gateway6.map(IpAddr::V6),
                "gateway6",
                "subnet6",
            ),
            (
                subnet4.map(IpNet::V4),
                gateway4.map(IpAddr::V4),
                "gateway4",
                "subnet4",
            ),
        ];
        for (subnet, gateway, gkey, skey) in pairs {
            let Some(gw) = gateway else { continue };
            gateways.push((gw, at(i, gkey)));
            match subnet {
                Some(net) if net.contains(&gw) => {}
                Some(net) => out.push(
                    Diagnostic::error(
                        Code::HostGatewayOutsideSubnet,
                        format!(
                            "gateway `{gw}` of network `{}` is outside its subnet `{net}`",
                            p.name
                        ),
                    )
                    .at(src, at(i, gkey))
                    .label("outside the subnet")
                    .related(at(i, skey), "the subnet")
                    .help("pick a gateway address inside the subnet, or fix the subnet"),
                ),
                None => out.push(
                    Diagnostic::error(
                        Code::HostGatewayOutsideSubnet,
                        format!("network `{}` has `{gkey}` but no `{skey}`", p.name),
                    )
                    .at(src, at(i, gkey))
                    .label("gateway without a subnet")
                    .help(format!(
                        "add `{skey}:` with the subnet the gateway lives in"
                    )),
                ),
            }
        }
        nets.push(Net {
            index: i,
            name: p.name.as_str(),
            subnet6: subnet6.map(IpNet::V6),
            subnet4: subnet4.map(IpNet::V4),
        });
    }
    for (a, na) in nets.iter().enumerate() {
        for nb in &nets[a + 1..] {
            for (x, y, key) in [
                (na.subnet6, nb.subnet6, "subnet6"),
                (na.subnet4, nb.subnet4, "subnet4"),
            ] {
                if let (Some(x), Some(y)) = (x, y) {
                    if overlaps(x, y) {
                        out.push(
                            Diagnostic::error(
                                Code::HostOverlap,
                                format!(
                                    "subnet `{y}` of network `{}` overlaps subnet `{x}` of network `{}`",
                                    nb.name, na.name
                                ),
                            )
                            .at(src, at(nb.index, key))
                            .label("overlaps")
                            .related(at(na.index, key), "this subnet")
                            .help("networks on one host need disjoint subnets"),
                        );
                    }
                }
            }
        }
    }

    // Addresses: network known, inside its subnet, not twice, pools disjoint.
    let mut statics: HashMap<IpAddr, Span> = HashMap::new();
    let mut pools: Vec<(IpNet, usize)> = Vec::new();
    let mut static_list: Vec<(IpAddr, usize)> = Vec::new();
    for (i, p) in host.provides.iter().enumerate() {
        let ProvideDetail::Address { source, network } = &p.detail else {
            continue;
        };
        let (value_key, as_net) = match *source {
            AddressSource::Static(a) => ("address", IpNet::from(a)),
            AddressSource::Pool(pool) => ("pool", pool),
        };
        let contained = |n: &IpNet| n.contains(&as_net);
        let shown = match source {
            AddressSource::Static(a) => a.to_string(),
            AddressSource::Pool(n) => n.to_string(),
        };
        match nets.iter().find(|n| n.name == network) {
            Some(net) => {
                let subnet = if p.kind == Kind::Ipv4 {
                    net.subnet4
                } else {
                    net.subnet6
                };
                // A network without a subnet of this family leaves addressing
                // to the engine; nothing to compare against.
                if let Some(subnet) = subnet {
                    if !contained(&subnet) {
                        let what = if value_key == "pool" {
                            "pool"
                        } else {
                            "address"
                        };
                        out.push(
                            Diagnostic::error(
                                Code::HostAddressOutsideSubnet,
                                format!(
                                    "{what} `{shown}` of {} `{}` is outside subnet `{subnet}` of network `{network}`",
                                    p.kind, p.name
                                ),
                            )
                            .at(src, at(i, value_key))
                            .label("outside the subnet")
                            .related(
                                at(net.index, if p.kind == Kind::Ipv4 { "subnet4" } else { "subnet6" }),
                                "the network's subnet",
                            )
                            .help("the container could not use this address on that network"),
                        );
                    }
                }
            }
            None => {
                let by_provider = host
                    .providers
                    .iter()
                    .any(|d| d.kind == Kind::Network && d.pattern.matches(network));
                if !by_provider {
                    out.push(
                        Diagnostic::error(
                            Code::HostUnknownNetwork,
                            format!(
                                "{} `{}` is on network `{network}`, which this host does not provide",
                                p.kind, p.name
                            ),
                        )
                        .at(src, at(i, "network"))
                        .label("no such network here")
                        .help(format!(
                            "add a `- network: {network}` provide, or a provider for network `{network}`"
                        )),
                    );
                }
            }
        }
        match *source {
            AddressSource::Static(a) => {
                if let Some(first) = statics.insert(a, at(i, "address")) {
                    out.push(
                        Diagnostic::error(
                            Code::HostDuplicateAddress,
                            format!("address `{a}` is provided twice"),
                        )
                        .at(src, at(i, "address"))
                        .label("second time")
                        .related(first, "first time (maybe spelled differently)")
                        .help("each address can be handed to one container: remove one"),
                    );
                }
                if let Some((_, gspan)) = gateways.iter().find(|(g, _)| *g == a) {
                    out.push(
                        Diagnostic::error(
                            Code::HostDuplicateAddress,
                            format!("address `{a}` is also a network's gateway"),
                        )
                        .at(src, at(i, "address"))
                        .label("the gateway's address")
                        .related(*gspan, "gateway")
                        .help("a container cannot hold its gateway's address: pick another"),
                    );
                }
                static_list.push((a, i));
            }
            AddressSource::Pool(pool) => {
                for (other, j) in &pools {
                    if overlaps(*other, pool) {
                        out.push(
                            Diagnostic::error(
                                Code::HostOverlap,
                                format!("pool `{pool}` overlaps pool `{other}`"),
                            )
                            .at(src, at(i, "pool"))
                            .label("overlaps")
                            .related(at(*j, "pool"), "this pool")
                            .help("two pools could hand out one address twice: make them disjoint"),
                        );
                    }
                }
                pools.push((pool, i));
            }
        }
    }
    for (a, i) in &static_list {
        for (pool, j) in &pools {
            if pool.contains(a) {
                out.push(
                    Diagnostic::warning(
                        Code::HostStaticInPool,
                        format!("static address `{a}` lies inside pool `{pool}`"),
                    )
                    .at(src, at(*i, "address"))
                    .label("inside a pool")
                    .related(at(*j, "pool"), "the pool")
                    .help("the pool skips it, but a pool outside static addresses is clearer"),
                );
            }
        }
    }

    // Ports: not twice, ranges disjoint, statics outside ranges.
    struct PortEntry {
        first: u16,
        last: u16,
        pool: bool,
        protocol: Protocol,
        bind: Option<IpAddr>,
        index: usize,
    }
    let mut ports: Vec<PortEntry> = Vec::new();
    for (i, p) in host.provides.iter().enumerate() {
        let ProvideDetail::Port {
            source,
            bind,
            protocol,
        } = &p.detail
        else {
            continue;
        };
        let (first, last, pool) = match *source {
            PortSource::Static(n) => (n, n, false),
            PortSource::Pool { first, last } => (first, last, true),
        };
        let key = if pool { "pool" } else { "host_port" };
        for e in &ports {
            let same_socket = e.protocol == *protocol
                && (e.bind.is_none() || bind.is_none() || e.bind == *bind)
                && e.first <= last
                && first <= e.last;
            if !same_socket {
                continue;
            }
            let other_key = if e.pool { "pool" } else { "host_port" };
            let (code, message, warn) = match (pool, e.pool) {
                (false, false) => (
                    Code::HostDuplicatePort,
                    format!("host port {first}/{protocol} is provided twice"),
                    false,
                ),
                (true, true) => (
                    Code::HostOverlap,
                    format!(
                        "port range {first}-{last} overlaps range {}-{}",
                        e.first, e.last
                    ),
                    false,
                ),
                _ => (
                    Code::HostStaticInPool,
                    "a static host port lies inside a port range".to_string(),
                    true,
                ),
            };
            let d = if warn {
                Diagnostic::warning(code, message)
                    .help("the range skips it, but disjoint ranges are clearer")
            } else {
                Diagnostic::error(code, message)
                    .help("one host port can be published once: remove or move one")
            };
            out.push(
                d.at(src, at(i, key))
                    .label("here")
                    .related(at(e.index, other_key), "this one"),
            );
        }
        ports.push(PortEntry {
            first,
            last,
            pool,
            protocol: *protocol,
            bind: *bind,
            index: i,
        });
    }
    out
}

fn overlaps(a: IpNet, b: IpNet) -> bool {
    a.contains(&b) || b.contains(&a)
}

/// `--live`: checks on this host that what a manifest names exists: volume
/// paths, device nodes, secret files (and that they are not world-readable),
/// custom mounts and devices, and provider executables (relative to the
/// manifest's folder). Need specs name no host paths and give nothing.
pub fn live_checks(doc: &Document) -> Vec<Diagnostic> {
    let Document::Host(host) = doc else {
        return Vec::new();
    };
    let src = &host.source;
    let mut out = Vec::new();
    let missing = |what: &str, path: &str, span: Span| {
        Diagnostic::error(
            Code::LiveMissing,
            format!("{what} `{path}` does not exist on this host"),
        )
        .at(src, span)
        .label("missing here")
        .help("create it, or fix the path")
    };
    for p in &host.provides {
        match &p.detail {
            ProvideDetail::Volume { path, .. } if !Path::new(path).is_dir() => {
                out.push(missing("volume path", path, p.span));
            }
            ProvideDetail::Device { path, .. }
                if !path.contains('=') && !Path::new(path).exists() =>
            {
                out.push(missing("device", path, p.span));
            }
            ProvideDetail::Secret { file } => match std::fs::metadata(file) {
                Err(_) => out.push(missing("secret file", file, p.span)),
                Ok(m) => {
                    use std::os::unix::fs::PermissionsExt;
                    if m.permissions().mode() & 0o004 != 0 {
                        out.push(
                            Diagnostic::error(
                                Code::LiveSecretReadable,
                                format!("secret file `{file}` is readable by everyone"),
                            )
                            .at(src, p.span)
                            .label("world-readable secret")
                            .help(format!("chmod o-rwx {file}")),
                        );
                    }
                }
            },
            ProvideDetail::Custom {
                mounts, devices, ..
            } => {
                for m in mounts {
                    if !Path::new(&m.path).exists() {
                        out.push(missing("mount source", &m.path, p.span));
                    }
                }
                for d in devices {
                    if !d.contains('=') && !Path::new(d).exists() {
                        out.push(missing("device", d, p.span));
                    }
                }
            }
            _ => {}
        }
    }
    for d in &host.providers {
        let Some(program) = d.run.first() else {
            continue;
        };
        let resolved = resolve_program(&host.base_dir(), program);
        let problem = match &resolved {
            None => Some("is not found"),
            Some(path) => match std::fs::metadata(path) {
                Err(_) => Some("does not exist"),
                Ok(m) if !m.is_file() => Some("is not a file"),
                Ok(m) => {
                    use std::os::unix::fs::PermissionsExt;
                    (m.permissions().mode() & 0o111 == 0).then_some("is not executable")
                }
            },
        };
        if let Some(why) = problem {
            let shown = resolved.map_or(program.clone(), |p| p.display().to_string());
            out.push(
                Diagnostic::error(
                    Code::LiveProviderMissing,
                    format!("provider program `{shown}` {why}"),
                )
                .at(src, d.span)
                .label("this provider cannot run")
                .help(format!(
                    "`run[0]` is relative to the manifest's folder ({}), absolute, or a command on PATH",
                    host.base_dir().display()
                )),
            );
        }
    }
    out
}

/// Where `run[0]` of a provider resolves: relative to the manifest's folder
/// when it has a `/`, absolute as is, else looked up on `PATH`.
pub fn resolve_program(base: &Path, program: &str) -> Option<PathBuf> {
    let p = Path::new(program);
    if p.is_absolute() {
        return Some(p.to_path_buf());
    }
    if program.contains('/') {
        return Some(base.join(p.strip_prefix("./").unwrap_or(p)));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|c| c.is_file())
}
