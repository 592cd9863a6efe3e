//! The six CNI operations over berth's own state.
//!
//! berth-cni is not a second allocator. An ADD for workload `web` is a
//! `berth apply` of a one-need container (`ipv6: web` with the CNI network's
//! subnet as its `prefix`, and `ipv4: web` when the network has IPv4
//! addresses) through the engine's [`apply`], under the same state file and
//! lock. So what must stay true comes from the engine and is not repeated
//! here:
//! - an address has one holder at a time, whether `berth apply` or
//!   `berth-cni` asked (one lock, one state);
//! - the name gets its static provide, else its pool reservation, else the
//!   lowest free pool address, which stays reserved for the name after DEL
//!   (DEL then ADD gives the same address);
//! - `berth status` lists the attachment as a holder.
//!
//! The holder is the attachment, not the workload: `cni-` and 16 hex digits
//! of an FNV-1a digest of (`CNI_CONTAINERID`, `CNI_IFNAME`), a valid container
//! name that GC can recompute from `cni.dev/valid-attachments`. berth-cni
//! runs no providers: an address or network that only a provider could make
//! is refused (code 100) rather than half made.

use std::path::Path;

use berth_engine::apply::{self, ApplyError, ProviderRequest, Provisioner};
use berth_engine::state::State;
use berth_engine::store::{self, StateFile};
use berth_specs::discover;
use berth_specs::load::{load_str, LoadOptions};
use berth_specs::{Document, HostManifest, Kind, NeedSpec, ProvideDetail};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde_json::{json, Value};

use crate::config::{Attachment, Command, Ipam, Request, SUPPORTED_VERSIONS};
use crate::error::{CniError, ErrorCode};

/// Runs one request; `Ok(Some(json))` is printed on stdout, `Ok(None)` means
/// success with nothing to print.
pub fn run(req: &Request) -> Result<Option<Value>, CniError> {
    match req.command {
        Command::Version => Ok(Some(json!({
            "cniVersion": req.version(),
            "supportedVersions": SUPPORTED_VERSIONS,
        }))),
        Command::Add => add(req).map(Some),
        Command::Del => del(req).map(|()| None),
        Command::Check => check(req).map(|()| None),
        Command::Gc => gc(req).map(|()| None),
        Command::Status => status(req).map(|()| None),
    }
}

/// The holder name of an attachment: `cni-` + 16 hex digits.
pub fn holder(att: &Attachment) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in att
        .container_id
        .bytes()
        .chain([0])
        .chain(att.ifname.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("cni-{h:016x}")
}

/// Whether a holder name is one [`holder`] makes.
pub fn is_cni_holder(name: &str) -> bool {
    name.len() == 20
        && name.starts_with("cni-")
        && name[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The loaded host and the CNI network's subnets.
struct Net {
    host: HostManifest,
    subnet6: Option<(Ipv6Net, Option<std::net::Ipv6Addr>)>,
    subnet4: Option<(Ipv4Net, Option<std::net::Ipv4Addr>)>,
    /// Which families have an address provide on this network.
    has6: bool,
    has4: bool,
}

/// The host manifest alone: what DEL and GC need, so that they still free
/// holdings after the network left the manifest.
fn load_host(ipam: &Ipam) -> Result<HostManifest, CniError> {
    let inputs = discover::load_inputs(&ipam.host, &[]);
    let failed = inputs.failed();
    let host = match inputs.host {
        Some(h) if !failed => h,
        _ => {
            let details: Vec<String> = inputs
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| format!("{}: {}", d.code.as_str(), d.message))
                .collect();
            return Err(CniError::new(
                ErrorCode::InvalidConfig,
                format!("host manifest {} is not valid", ipam.host.display()),
            )
            .details(details.join("; ")));
        }
    };
    Ok(host)
}

fn load_net(ipam: &Ipam) -> Result<Net, CniError> {
    let host = load_host(ipam)?;
    let found = host
        .provides
        .iter()
        .find_map(|p| match (&p.kind, &p.detail) {
            (Kind::Network, ProvideDetail::Network { .. }) if p.name.as_str() == ipam.network => {
                Some(p.detail.clone())
            }
            _ => None,
        });
    let Some(ProvideDetail::Network {
        subnet6,
        gateway6,
        subnet4,
        gateway4,
        ..
    }) = found
    else {
        return Err(CniError::new(
            ErrorCode::InvalidConfig,
            format!(
                "host `{}` provides no network `{}`",
                host.host, ipam.network
            ),
        ));
    };
    let on_net = |kind: Kind| {
        host.provides.iter().any(|p| {
            p.kind == kind
                && matches!(&p.detail, ProvideDetail::Address { network, .. } if *network == ipam.network)
        })
    };
    let (has6, has4) = (on_net(Kind::Ipv6), on_net(Kind::Ipv4));
    if !((has6 && subnet6.is_some()) || (has4 && subnet4.is_some())) {
        return Err(CniError::new(
            ErrorCode::InvalidConfig,
            format!(
                "network `{}` of host `{}` has no subnet with addresses (an ipv6/ipv4 provide on it)",
                ipam.network, host.host
            ),
        ));
    }
    Ok(Net {
        subnet6: subnet6.map(|s| (s, gateway6)),
        subnet4: subnet4.map(|s| (s, gateway4)),
        has6,
        has4,
        host,
    })
}

/// The state file for this host, by DESIGN.md's state location order
/// ([`store::state_location`]): `stateDir` in the IPAM section plays
/// `--state-dir`, then `BERTH_STATE_DIR`, the manifest's `state_dir`, and the
/// per-user or system default.
fn state_file(ipam: &Ipam, host: &HostManifest) -> StateFile {
    let dir = store::state_location(ipam.state_dir.as_deref(), host);
    StateFile::new(dir, &host.host)
}

/// The one-need container an attachment applies.
fn spec_for(net: &Net, holder: &str, name: &str) -> Result<NeedSpec, CniError> {
    let mut needs = Vec::new();
    if let (Some((s, _)), true) = (net.subnet6, net.has6) {
        needs.push(json!({"ipv6": name, "prefix": s.to_string()}));
    }
    if let (Some((s, _)), true) = (net.subnet4, net.has4) {
        needs.push(json!({"ipv4": name, "prefix": s.to_string()}));
    }
    let text = json!({"berth": 1, "container": holder, "needs": needs}).to_string();
    let loaded = load_str(Path::new("berth-cni.json"), &text, &LoadOptions::default());
    let problems: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect();
    match loaded.documents.into_iter().next() {
        Some(Document::Need(spec)) if problems.is_empty() => Ok(spec),
        _ => Err(CniError::new(
            ErrorCode::InvalidEnv,
            format!("cannot ask for the address of `{name}`"),
        )
        .details(problems.join("; "))),
    }
}

/// Runs no provider: CNI wants an answer now, from what the host provides.
#[derive(Debug, Default)]
pub struct NoProviders;

/// Why [`NoProviders`] refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "berth-cni runs no providers ({kind} `{name}` would need one); `berth apply` can make it first"
)]
pub struct ProviderRefused {
    kind: String,
    name: String,
}

impl Provisioner for NoProviders {
    type Error = ProviderRefused;
    fn provide(&mut self, req: &ProviderRequest<'_>) -> Result<Value, ProviderRefused> {
        Err(refused(req))
    }
    fn release(&mut self, req: &ProviderRequest<'_>) -> Result<(), ProviderRefused> {
        // Stays in pending_releases; the next `berth release` retries it.
        Err(refused(req))
    }
    fn check(&mut self, req: &ProviderRequest<'_>) -> Result<bool, ProviderRefused> {
        Err(refused(req))
    }
}

fn refused(req: &ProviderRequest<'_>) -> ProviderRefused {
    ProviderRefused {
        kind: req.kind.to_string(),
        name: req.name.to_string(),
    }
}

fn store_err(e: store::StoreError) -> CniError {
    CniError::new(ErrorCode::Io, e.to_string()).details(e.help())
}

fn add(req: &Request) -> Result<Value, CniError> {
    let ipam = req.ipam()?;
    let att = req.attachment()?;
    let name = req.workload()?;
    let net = load_net(ipam)?;
    let holder = holder(&att);
    let spec = spec_for(&net, &holder, &name)?;
    let mut locked = state_file(ipam, &net.host)
        .lock_for(&store::Scope::of_specs(&[&spec]))
        .map_err(store_err)?;
    // The container runtime, not a spec author, names the holder, and a pod
    // made again under a new container ID must get its name's address back:
    // berth-cni applies as `--replace` does (identity checks are for specs).
    let opts = apply::ApplyOptions {
        replace: true,
        ..Default::default()
    };
    let applied = match apply::apply_with(&net.host, &[&spec], &mut locked, &mut NoProviders, opts)
    {
        Ok(a) => a,
        Err(ApplyError::Unsatisfied(plan)) => {
            let unmet: Vec<&berth_engine::explain::Unmet> =
                plan.containers.iter().flat_map(|c| &c.unmet).collect();
            let codes: Vec<String> = unmet
                .iter()
                .map(|u| {
                    let why: Vec<&str> = u.reasons.iter().map(|r| r.code()).collect();
                    format!("{} `{}`: {}", u.kind, u.name, why.join(", "))
                })
                .collect();
            return Err(CniError::new(
                ErrorCode::Unmet,
                format!(
                    "host `{}` cannot give `{name}` an address on network `{}` ({})",
                    net.host.host,
                    ipam.network,
                    codes.join("; ")
                ),
            )
            .details(serde_json::to_string(&unmet).unwrap_or_default()));
        }
        Err(ApplyError::Provider { failed, .. }) => {
            let msg = match &failed.cause {
                apply::StepCause::Provider(e) => e.to_string(),
                _ => "a provider step failed".to_string(),
            };
            return Err(CniError::new(ErrorCode::Unmet, msg));
        }
        Err(ApplyError::Store(e)) => return Err(store_err(e)),
        Err(e @ (ApplyError::SpecChanged(_) | ApplyError::Refused { .. })) => {
            return Err(CniError::new(ErrorCode::Unmet, e.to_string()))
        }
    };
    let container = applied
        .plan
        .containers
        .first()
        .ok_or_else(|| CniError::new(ErrorCode::Unmet, "the plan is empty"))?;
    let mut ips = Vec::new();
    let mut routes = Vec::new();
    let old = !req.version().starts_with('1');
    for b in &container.bindings {
        let (family, prefix, gateway, default) = match (&b.kind, net.subnet6, net.subnet4) {
            (Kind::Ipv6, Some((s, g)), _) => {
                ("6", s.prefix_len(), g.map(|g| g.to_string()), "::/0")
            }
            (Kind::Ipv4, _, Some((s, g))) => {
                ("4", s.prefix_len(), g.map(|g| g.to_string()), "0.0.0.0/0")
            }
            _ => continue,
        };
        let addr = b
            .value
            .get("address")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                CniError::new(
                    ErrorCode::Io,
                    format!("binding of {} `{}` has no address", b.kind, b.name),
                )
            })?;
        let mut ip = json!({"address": format!("{addr}/{prefix}")});
        if let Some(g) = &gateway {
            ip["gateway"] = json!(g);
            routes.push(json!({"dst": default, "gw": g}));
        }
        if old {
            ip["version"] = json!(family);
        }
        ips.push(ip);
    }
    Ok(json!({
        "cniVersion": req.version(),
        "ips": ips,
        "routes": routes,
        "dns": {},
    }))
}

fn del(req: &Request) -> Result<(), CniError> {
    // DEL must succeed when there is nothing to delete, and may come with a
    // configuration whose host file is already gone: then nothing is held by
    // it that berth could free, so there is nothing to do.
    let ipam = req.ipam()?;
    let att = req.attachment()?;
    let host = match load_host(ipam) {
        Ok(h) => h,
        Err(_) if !ipam.host.exists() => return Ok(()),
        Err(e) => return Err(e),
    };
    let file = state_file(ipam, &host);
    if !file.path().exists() {
        return Ok(());
    }
    let holder = holder(&att);
    let mut locked = file
        .lock_for(&store::Scope::of_containers(&[&holder]))
        .map_err(store_err)?;
    if !locked.state().holdings.contains_key(&holder) {
        return Ok(());
    }
    apply::release(&host, &[holder], false, &mut locked, &mut NoProviders).map_err(store_err)?;
    Ok(())
}

/// The addresses a holder holds, as written in the state.
fn held_addresses(state: &State, holder: &str) -> Option<Vec<String>> {
    let h = state.holdings.get(holder)?;
    Some(
        h.bindings
            .iter()
            .filter(|b| matches!(b.kind, Kind::Ipv6 | Kind::Ipv4))
            .filter_map(|b| b.value.get("address")?.as_str().map(str::to_string))
            .collect(),
    )
}

fn check(req: &Request) -> Result<(), CniError> {
    let ipam = req.ipam()?;
    let att = req.attachment()?;
    let net = load_net(ipam)?;
    let holder = holder(&att);
    let state = state_file(ipam, &net.host)
        .load_readonly_for(&store::Scope::of_containers(&[&holder]))
        .map_err(store_err)?;
    let held = held_addresses(&state, &holder).ok_or_else(|| {
        CniError::new(
            ErrorCode::UnknownContainer,
            format!(
                "attachment {}/{} holds nothing on host `{}`",
                att.container_id, att.ifname, net.host.host
            ),
        )
    })?;
    let prev = req
        .conf()?
        .prev_result
        .as_ref()
        .and_then(|p| p.get("ips"))
        .and_then(Value::as_array);
    if let Some(ips) = prev {
        for ip in ips {
            let Some(text) = ip.get("address").and_then(Value::as_str) else {
                continue;
            };
            let addr = text
                .parse::<IpNet>()
                .map(|n| n.addr().to_string())
                .unwrap_or_else(|_| text.to_string());
            if !held.contains(&addr) {
                return Err(CniError::new(
                    ErrorCode::Mismatch,
                    format!(
                        "{text} is not what berth holds for this attachment ({})",
                        held.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn gc(req: &Request) -> Result<(), CniError> {
    let ipam = req.ipam()?;
    let host = load_host(ipam)?;
    let keep: Vec<String> = req
        .conf()?
        .valid_attachments
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(holder)
        .collect();
    let file = state_file(ipam, &host);
    if !file.path().exists() {
        return Ok(());
    }
    let mut locked = file.lock().map_err(store_err)?;
    let stale: Vec<String> = locked
        .state()
        .holdings
        .iter()
        .filter(|(name, h)| {
            is_cni_holder(name)
                && !keep.contains(name)
                && h.bindings
                    .iter()
                    .any(|b| b.kind == Kind::Network && b.name == ipam.network)
        })
        .map(|(name, _)| name.clone())
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    apply::release(&host, &stale, false, &mut locked, &mut NoProviders).map_err(store_err)?;
    Ok(())
}

fn status(req: &Request) -> Result<(), CniError> {
    let unavailable = |e: CniError| {
        CniError::new(ErrorCode::Unavailable, e.msg).details(e.details.unwrap_or_default())
    };
    let ipam = req.ipam().map_err(unavailable)?;
    let net = load_net(ipam).map_err(unavailable)?;
    state_file(ipam, &net.host)
        .load_readonly()
        .map_err(|e| unavailable(store_err(e)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_names_are_container_names_and_recognised() {
        let a = Attachment {
            container_id: "abc".into(),
            ifname: "eth0".into(),
        };
        let b = Attachment {
            container_id: "abc".into(),
            ifname: "eth1".into(),
        };
        let (ha, hb) = (holder(&a), holder(&b));
        assert_ne!(ha, hb);
        assert_eq!(ha, holder(&a.clone()));
        assert!(berth_specs::valid_container_name(&ha));
        assert!(is_cni_holder(&ha));
        assert!(!is_cni_holder("cni-webserver"));
        assert!(!is_cni_holder("webserver"));
    }
}
