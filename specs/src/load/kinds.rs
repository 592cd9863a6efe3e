//! Reading YAML nodes into the kind registry's typed values: one arm per kind
//! where a kind's options truly differ (addresses, ports, prefixes, custom
//! kinds), with located diagnostics.
//!
//! Why it is here and not in [`crate::kinds`]: the registry is a leaf (data and
//! types only) that every module may import; reading needs the loader's
//! context, YAML nodes and diagnostic codes, so it lives under the loader that
//! owns it. The generic table work (unknown keys, suggestions, types from the
//! option tables) is in [`crate::load`].

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{is_cdi_name, is_env_name, is_resource_name, tick, Context, Cx, Fields};
use crate::diag::Code;
use crate::kinds::*;
use crate::model::Span;
use crate::yaml::{Node, Scalar};
impl Cx<'_> {
    /// Reports a missing required option, with the example from its
    /// definition: "requires `key`", "add `key: EXAMPLE`".
    fn missing_option(&mut self, at: Span, context: Context<'_>, option: Option<&OptionDef>) {
        let option = option.expect("a required option is in its kind's table");
        self.missing(at, context, option.key, option.example);
    }

    /// Exactly one of the `OneOf` options of a provide of `def`.
    fn one_of_group<'n, 'a>(
        &mut self,
        def: &KindDef,
        f: &Fields<'n, 'a>,
        at: Span,
        context: Context<'_>,
    ) -> Option<(usize, &'n Node<'a>)> {
        let group: Vec<&OptionDef> = def
            .provide
            .iter()
            .filter(|o| o.presence == Presence::OneOf)
            .collect();
        let [a, b] = group.as_slice() else {
            unreachable!("a one-of group has two options")
        };
        let none_help = format!(
            "add `{}: {}` or `{}: {}`",
            a.key, a.example, b.key, b.example
        );
        self.one_of(f, at, context, [a.key, b.key], &none_help)
    }

    /// The details of a need of `kind` from its fields. `at` is the entry's
    /// kind and name, where to point for missing keys.
    pub(crate) fn need_detail(
        &mut self,
        kind: &Kind,
        f: &Fields<'_, '_>,
        at: Span,
        context: Context<'_>,
    ) -> Option<NeedDetail> {
        let def = kind.def();
        let span = at;
        Some(match kind {
            Kind::Volume => {
                let mount = match f.get("mount") {
                    Some(m) => self.path(m, "mount path", true),
                    None => {
                        self.missing_option(span, context, def.need_option("mount"));
                        None
                    }
                };
                let read_only = self.flag(f.get("read_only"), "`read_only`");
                let exclusive = self.flag(f.get("exclusive"), "`exclusive`");
                NeedDetail::Volume {
                    mount: mount?,
                    read_only: read_only?,
                    exclusive: exclusive?,
                }
            }
            Kind::Ipv6 => NeedDetail::Ipv6 {
                prefix: match f.get("prefix") {
                    None => None,
                    Some(p) => match self.prefix(p, true)? {
                        IpNet::V6(n) => Some(n),
                        IpNet::V4(_) => None,
                    },
                },
            },
            Kind::Ipv4 => NeedDetail::Ipv4 {
                prefix: match f.get("prefix") {
                    None => None,
                    Some(p) => match self.prefix(p, false)? {
                        IpNet::V4(n) => Some(n),
                        IpNet::V6(_) => None,
                    },
                },
            },
            Kind::Port => match f.get("container_port") {
                Some(p) => {
                    let (container_port, protocol) = self.container_port(p)?;
                    NeedDetail::Port {
                        container_port,
                        protocol,
                    }
                }
                None => {
                    self.missing_option(span, context, def.need_option("container_port"));
                    return None;
                }
            },
            Kind::Device => NeedDetail::Device {
                path: match f.get("path") {
                    None => None,
                    Some(p) => Some(self.path(p, "device path", true)?),
                },
            },
            Kind::Network => NeedDetail::Network,
            Kind::Secret => match f.get("mount") {
                Some(m) => NeedDetail::Secret {
                    mount: self.path(m, "mount path", true)?,
                },
                None => {
                    self.missing_option(span, context, def.need_option("mount"));
                    return None;
                }
            },
            Kind::Custom(_) => NeedDetail::Custom,
        })
    }

    /// The details of a provide of `kind` from its fields (shared by manifest
    /// entries and provider output). `at` is where to point for missing keys.
    pub(crate) fn provide_detail_of(
        &mut self,
        kind: &Kind,
        f: &Fields<'_, '_>,
        at: Span,
        context: Context<'_>,
    ) -> Option<ProvideDetail> {
        let def = kind.def();
        Some(match kind {
            Kind::Network => {
                let bridge = match f.get("bridge") {
                    None => None,
                    Some(b) => {
                        let s = self.string(b, "`bridge`")?;
                        let ok = !s.is_empty()
                            && s.len() <= 15
                            && s.bytes()
                                .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c));
                        if !ok {
                            let d = self.error(
                                Code::InvalidValue,
                                b.span,
                                format!("invalid bridge name {}", tick(s)),
                            );
                            d.label = Some("not an interface name".into());
                            d.help = Some("an interface name is 1-15 characters: letters, digits, `_`, `.`, `-`".into());
                            return None;
                        }
                        Some(s.to_string())
                    }
                };
                let subnet6 = f.get("subnet6").map(|v| self.net(v, "`subnet6`", true));
                let subnet4 = f.get("subnet4").map(|v| self.net(v, "`subnet4`", false));
                let gateway6 = f
                    .get("gateway6")
                    .map(|v| self.address(v, "`gateway6`", true));
                let gateway4 = f
                    .get("gateway4")
                    .map(|v| self.address(v, "`gateway4`", false));
                ProvideDetail::Network {
                    bridge,
                    subnet6: match subnet6 {
                        Some(Some(IpNet::V6(n))) => Some(n),
                        Some(_) => return None,
                        None => None,
                    },
                    gateway6: match gateway6 {
                        Some(Some(IpAddr::V6(a))) => Some(a),
                        Some(_) => return None,
                        None => None,
                    },
                    subnet4: match subnet4 {
                        Some(Some(IpNet::V4(n))) => Some(n),
                        Some(_) => return None,
                        None => None,
                    },
                    gateway4: match gateway4 {
                        Some(Some(IpAddr::V4(a))) => Some(a),
                        Some(_) => return None,
                        None => None,
                    },
                }
            }
            Kind::Ipv6 | Kind::Ipv4 => {
                let v6 = *kind == Kind::Ipv6;
                let network = match f.get("network") {
                    Some(n) => {
                        let s = self.string(n, "`network`")?;
                        if !is_resource_name(s) {
                            self.invalid_name(n.span, s, &Kind::Network, false);
                            None
                        } else {
                            Some(s.to_string())
                        }
                    }
                    None => {
                        self.missing_option(at, context, def.provide_option("network"));
                        None
                    }
                };
                let source = match self.one_of_group(def, f, at, context)? {
                    (0, a) => self.address(a, "`address`", v6).map(AddressSource::Static),
                    (_, p) => self.net(p, "`pool`", v6).map(AddressSource::Pool),
                };
                ProvideDetail::Address {
                    source: source?,
                    network: network?,
                }
            }
            Kind::Volume => {
                let path = match f.get("path") {
                    Some(p) => self.path(p, "volume path", false),
                    None => {
                        self.missing_option(at, context, def.provide_option("path"));
                        None
                    }
                };
                let read_only = self.flag(f.get("read_only"), "`read_only`");
                let exclusive = self.flag(f.get("exclusive"), "`exclusive`");
                ProvideDetail::Volume {
                    path: path?,
                    read_only: read_only?,
                    exclusive: exclusive?,
                }
            }
            Kind::Port => {
                let source = match self.one_of_group(def, f, at, context)? {
                    (0, p) => self.host_port(p).map(PortSource::Static),
                    (_, p) => self
                        .port_pool(p)
                        .map(|(first, last)| PortSource::Pool { first, last }),
                };
                let bind = match f.get("bind") {
                    None => Some(None),
                    Some(b) => {
                        let s = self.string(b, "`bind`")?;
                        match s.parse::<IpAddr>() {
                            Ok(a) => Some(Some(a)),
                            Err(_) => {
                                let d = self.error(
                                    Code::HostBadAddress,
                                    b.span,
                                    format!("`bind` `{}` is not an IP address", s.escape_debug()),
                                );
                                d.label = Some("expected an address".into());
                                None
                            }
                        }
                    }
                };
                let protocol = match f.get("protocol") {
                    None => Some(Protocol::Tcp),
                    Some(p) => match self.string(p, "`protocol`")? {
                        "tcp" => Some(Protocol::Tcp),
                        "udp" => Some(Protocol::Udp),
                        other => {
                            let d = self.error(
                                Code::InvalidValue,
                                p.span,
                                format!("unknown protocol {}", tick(other)),
                            );
                            d.label = Some("not a protocol".into());
                            d.help = Some("`tcp` or `udp`".into());
                            None
                        }
                    },
                };
                ProvideDetail::Port {
                    source: source?,
                    bind: bind?,
                    protocol: protocol?,
                }
            }
            Kind::Device => {
                let path = match f.get("path") {
                    Some(p) => match self.string(p, "device path") {
                        Some(s) if is_cdi_name(s) => Some(s.to_string()),
                        Some(_) => self.path(p, "device path", false),
                        None => None,
                    },
                    None => {
                        self.missing_option(at, context, def.provide_option("path"));
                        None
                    }
                };
                let shared = self.flag(f.get("shared"), "`shared`");
                ProvideDetail::Device {
                    path: path?,
                    shared: shared?,
                }
            }
            Kind::Secret => match f.get("file") {
                Some(p) => ProvideDetail::Secret {
                    file: self.path(p, "secret file", false)?,
                },
                None => {
                    self.missing_option(at, context, def.provide_option("file"));
                    return None;
                }
            },
            Kind::Custom(_) => self.custom_detail(f)?,
        })
    }

    fn prefix(&mut self, v: &Node<'_>, v6: bool) -> Option<IpNet> {
        let s = self.string(v, "`prefix`")?;
        let family = if v6 { "IPv6" } else { "IPv4" };
        let parsed: Option<IpNet> = s.parse().ok();
        match parsed {
            Some(n) if matches!(n, IpNet::V6(_)) == v6 && n.trunc() == n => Some(n),
            Some(n) if matches!(n, IpNet::V6(_)) == v6 => {
                let d = self.error(
                    Code::NeedBadPrefix,
                    v.span,
                    format!("prefix `{s}` has bits set after its length"),
                );
                d.help = Some(format!("did you mean `{}`?", n.trunc()));
                None
            }
            _ => {
                let d = self.error(
                    Code::NeedBadPrefix,
                    v.span,
                    format!("`{}` is not an {family} prefix", s.escape_debug()),
                );
                d.label = Some(format!("expected an {family} CIDR"));
                d.help = Some(if v6 {
                    "write a CIDR like `2001:db8::/64`".into()
                } else {
                    "write a CIDR like `192.0.2.0/24`".into()
                });
                None
            }
        }
    }

    fn container_port(&mut self, v: &Node<'_>) -> Option<(u16, Protocol)> {
        let text = match v.scalar() {
            Some(Scalar::Int(_) | Scalar::Str(_)) => v.text().unwrap_or_default(),
            _ => {
                self.wrong_type(v, "`container_port`", "a port number or \"PORT/udp\"");
                return None;
            }
        };
        let (num, proto) = match text.split_once('/') {
            Some((n, "tcp")) => (n, Protocol::Tcp),
            Some((n, "udp")) => (n, Protocol::Udp),
            Some(_) => ("", Protocol::Tcp),
            None => (text, Protocol::Tcp),
        };
        match num.parse::<u16>() {
            Ok(p) if p > 0 && num.bytes().all(|b| b.is_ascii_digit()) => Some((p, proto)),
            _ => {
                let d = self.error(
                    Code::NeedBadPort,
                    v.span,
                    format!("`{}` is not a container port", text.escape_debug()),
                );
                d.label = Some("expected 1-65535, optionally with /tcp or /udp".into());
                d.help = Some("write `80`, or `\"53/udp\"` for UDP".into());
                None
            }
        }
    }

    fn address(&mut self, v: &Node<'_>, what: &str, v6: bool) -> Option<IpAddr> {
        let s = self.string(v, what)?;
        let family = if v6 { "IPv6" } else { "IPv4" };
        match s.parse::<IpAddr>() {
            Ok(a) if a.is_ipv6() == v6 => Some(a),
            Ok(_) => {
                let other = if v6 { "IPv4" } else { "IPv6" };
                let d = self.error(
                    Code::HostBadAddress,
                    v.span,
                    format!("{what} `{s}` is an {other} address, expected {family}"),
                );
                d.label = Some(format!("{other} address"));
                d.help = Some(format!(
                    "an {} provide takes {family} addresses; use an `{}` entry for this one",
                    if v6 { "ipv6" } else { "ipv4" },
                    if v6 { "ipv4" } else { "ipv6" },
                ));
                None
            }
            Err(_) => {
                let d = self.error(
                    Code::HostBadAddress,
                    v.span,
                    format!("{what} `{}` is not an {family} address", s.escape_debug()),
                );
                d.label = Some(format!("expected an {family} address"));
                None
            }
        }
    }

    fn host_port(&mut self, v: &Node<'_>) -> Option<u16> {
        let text = match v.scalar() {
            Some(Scalar::Int(_) | Scalar::Str(_)) => v.text().unwrap_or_default(),
            _ => {
                self.wrong_type(v, "`host_port`", "a port number");
                return None;
            }
        };
        match text.parse::<u16>() {
            Ok(p) if p > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Some(p),
            _ => {
                let d = self.error(
                    Code::HostBadPort,
                    v.span,
                    format!("`{}` is not a port", text.escape_debug()),
                );
                d.label = Some("expected 1-65535".into());
                None
            }
        }
    }

    fn port_pool(&mut self, v: &Node<'_>) -> Option<(u16, u16)> {
        let s = self.string(v, "a port `pool`")?;
        let parsed = s.split_once('-').and_then(|(a, b)| {
            let a: u16 = a.trim().parse().ok()?;
            let b: u16 = b.trim().parse().ok()?;
            (a > 0 && a <= b).then_some((a, b))
        });
        if parsed.is_none() {
            let d = self.error(
                Code::HostBadPort,
                v.span,
                format!("`{}` is not a port range", s.escape_debug()),
            );
            d.label = Some("expected FIRST-LAST".into());
            d.help = Some("write an inclusive range like `8000-8099`".into());
        }
        parsed
    }

    fn custom_detail(&mut self, f: &Fields<'_, '_>) -> Option<ProvideDetail> {
        let mut ok = true;
        let env = match f.get("env") {
            None => BTreeMap::new(),
            Some(v) => match self.string_map(v, "`env`") {
                None => {
                    ok = false;
                    BTreeMap::new()
                }
                Some(entries) => {
                    for (k, _, span) in &entries {
                        if !is_env_name(k) {
                            ok = false;
                            let d = self.error(
                                Code::InvalidValue,
                                *span,
                                format!("invalid environment variable name {}", tick(k)),
                            );
                            d.help =
                                Some("letters, digits and `_`, not starting with a digit".into());
                        }
                    }
                    entries.into_iter().map(|(k, v, _)| (k, v)).collect()
                }
            },
        };
        let mut mounts = Vec::new();
        if let Some(v) = f.get("mounts") {
            match v.as_seq() {
                None => {
                    ok = false;
                    self.wrong_type(v, "`mounts`", "a list of {path, mount, read_only}");
                }
                Some(items) => {
                    for item in items {
                        let Some(entries) = item.as_map() else {
                            ok = false;
                            self.wrong_type(item, Context::Lit("a custom mount"), "a map");
                            continue;
                        };
                        let mf = self.fields(
                            entries.iter(),
                            &["path", "mount", "read_only"],
                            Context::Lit("a custom mount"),
                            &[],
                        );
                        let path = match mf.get("path") {
                            Some(p) => self.path(p, "mount source", false),
                            None => {
                                self.missing(
                                    item.span,
                                    Context::Lit("a custom mount"),
                                    "path",
                                    "/host/path",
                                );
                                None
                            }
                        };
                        let mount = match mf.get("mount") {
                            Some(p) => self.path(p, "mount path", true),
                            None => {
                                self.missing(
                                    item.span,
                                    Context::Lit("a custom mount"),
                                    "mount",
                                    "/container/path",
                                );
                                None
                            }
                        };
                        let read_only = self.flag(mf.get("read_only"), "`read_only`");
                        match (path, mount, read_only) {
                            (Some(path), Some(mount), Some(read_only)) => {
                                mounts.push(CustomMount {
                                    path,
                                    mount,
                                    read_only,
                                })
                            }
                            _ => ok = false,
                        }
                    }
                }
            }
        }
        let mut devices = Vec::new();
        if let Some(v) = f.get("devices") {
            match v.as_seq() {
                None => {
                    ok = false;
                    self.wrong_type(v, "`devices`", "a list of device paths");
                }
                Some(items) => {
                    for item in items {
                        match self.string(item, "a device") {
                            Some(s) if is_cdi_name(s) => devices.push(s.to_string()),
                            Some(_) => match self.path(item, "device path", false) {
                                Some(p) => devices.push(p),
                                None => ok = false,
                            },
                            None => ok = false,
                        }
                    }
                }
            }
        }
        let shared = self.flag(f.get("shared"), "`shared`");
        (ok).then_some(())?;
        Some(ProvideDetail::Custom {
            env,
            mounts,
            devices,
            shared: shared?,
        })
    }
}
