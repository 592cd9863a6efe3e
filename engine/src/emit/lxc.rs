//! An LXC config fragment with the modern keys (`lxc.net.N.*`, `lxc.mount.entry`,
//! `lxc.cgroup2.devices.allow`, `lxc.environment`).
//!
//! LXC has no port publishing: each port becomes a [`Note`] the caller prints,
//! never a silent omission. Mount entries are fstab lines, so spaces, tabs and
//! backslashes in paths are written as octal escapes (`\040`), which LXC's
//! fstab parser decodes. Control characters never reach here (the loader
//! rejects them).
//!
//! The fragment is included into a container's config, which usually has a
//! NIC already (`lxc-create` writes `lxc.net.0` from `/etc/lxc/default.conf`):
//! a fragment that also starts at `lxc.net.0` silently replaces that NIC's
//! keys. [`Lxc::net_index`] (`--lxc-net-index N`) numbers berth's NICs from
//! N instead.
//!
//! LXC resolves no CDI names, so a device given by one (`vendor.tld/class=x`)
//! is replaced by its CDI spec's edits ([`apply_cdi`], specs read by
//! [`Lxc::cdi`]): `env` becomes `lxc.environment`, `deviceNodes` mount entries
//! with `lxc.cgroup2.devices.allow`, `mounts` mount entries. A name no
//! readable spec has stays a note.

use std::fmt::Write;

use crate::cdi::ContainerEdits;
use crate::edits::{DeviceEdit, Edits, Mount};
use crate::emit::emitter::{Emitter, Input, Output};
use crate::emit::{EmitError, Note, NoteKind};

/// `--emit lxc`: one config block per container (each after a
/// `# container NAME` line when there are several), device numbers read by
/// `devices`; ports and CDI names become notes.
#[derive(Debug, Clone, Copy)]
pub struct Lxc {
    /// Reads a device node's type and numbers ([`stat_device`] on a host).
    pub devices: fn(&str) -> Option<DeviceNumbers>,
    /// The first `lxc.net.N` index berth's NICs take (0: `lxc.net.0`).
    pub net_index: usize,
    /// Reads the edits of a CDI device by name
    /// ([`crate::cdi::lookup_on_host`] on a host).
    pub cdi: fn(&str) -> Option<ContainerEdits>,
}

/// The LXC emitter that reads device numbers and CDI specs on this host, NICs
/// from 0.
pub static LXC: Lxc = Lxc {
    devices: stat_device,
    net_index: 0,
    cdi: crate::cdi::lookup_on_host,
};

impl Emitter for Lxc {
    fn name(&self) -> &'static str {
        "lxc"
    }
    fn about(&self) -> &'static str {
        "An LXC config fragment"
    }
    fn extension(&self) -> &'static str {
        "conf"
    }
    fn render(&self, input: &Input<'_>) -> Result<Output, EmitError> {
        let mut out = Output::default();
        let edits: Vec<Edits> = input
            .edits
            .iter()
            .map(|e| apply_cdi(e, &self.cdi))
            .collect();
        for e in &edits {
            check_links(e)?;
            check_env(e)?;
        }
        for e in &edits {
            if edits.len() > 1 {
                let _ = writeln!(out.text, "# container {}", e.container);
            }
            let (text, notes) = emit_from(e, &self.devices, self.net_index);
            out.text.push_str(&text);
            out.note_all(&e.container, notes);
        }
        Ok(out)
    }
}

/// `e` with every CDI device that `cdi` finds replaced by its spec's edits:
/// each `KEY=VALUE` of `env` an environment variable, each device node a
/// device (host path, at its container path), each mount a bind mount
/// (read-only when its options say `ro`; a file mount when the host path is a
/// file). A device `cdi` does not find, or whose edits hold a control
/// character (a line-based config cannot carry one) or an env entry without
/// `=`, stays a CDI name, which [`emit_from`] notes.
pub fn apply_cdi(e: &Edits, cdi: &dyn Fn(&str) -> Option<ContainerEdits>) -> Edits {
    let mut out = Edits {
        devices: Vec::new(),
        ..e.clone()
    };
    for d in &e.devices {
        let found = if d.is_cdi() { cdi(&d.path) } else { None };
        let Some(c) = found.filter(cdi_edits_fit) else {
            out.devices.push(d.clone());
            continue;
        };
        for kv in &c.env {
            if let Some((k, v)) = kv.split_once('=') {
                out.env.insert(k.to_string(), v.to_string());
            }
        }
        for n in &c.device_nodes {
            out.devices.push(DeviceEdit {
                path: n.host().to_string(),
                target: (n.host() != n.path).then(|| n.path.clone()),
                from: d.from.clone(),
            });
        }
        for m in &c.mounts {
            out.mounts.push(Mount {
                source: m.host_path.clone(),
                target: m.container_path.clone(),
                read_only: m.options.iter().any(|o| o == "ro"),
                file: std::path::Path::new(&m.host_path).is_file(),
                from: d.from.clone(),
            });
        }
    }
    out
}

/// Whether a CDI device's edits can go into an LXC config: no control
/// character anywhere, every env entry `KEY=VALUE`, every path absolute.
fn cdi_edits_fit(c: &ContainerEdits) -> bool {
    let clean = |s: &str| !s.chars().any(char::is_control);
    let abs = |s: &str| s.starts_with('/') && clean(s);
    c.env
        .iter()
        .all(|kv| clean(kv) && kv.split_once('=').is_some_and(|(k, _)| !k.is_empty()))
        && c.device_nodes.iter().all(|n| abs(&n.path) && abs(n.host()))
        && c.mounts
            .iter()
            .all(|m| abs(&m.host_path) && abs(&m.container_path))
}

/// Longest Linux interface name (`IFNAMSIZ` minus the NUL).
pub const MAX_LINK_LEN: usize = 15;

/// Every network's link is a host-chosen interface name that Linux accepts:
/// not left to the need's name by a pattern provide (the spec would pick any
/// host bridge), and at most [`MAX_LINK_LEN`] bytes (LXC would write a link
/// no kernel interface can have).
pub fn check_links(e: &Edits) -> Result<(), EmitError> {
    for n in &e.networks {
        let why = if n.bridge.is_empty() {
            "a pattern provide serves it without `bridge:`, so the host chose no bridge".to_string()
        } else if n.bridge.len() > MAX_LINK_LEN {
            format!(
                "`{}` is {} bytes, and Linux interface names have at most {MAX_LINK_LEN}",
                n.bridge,
                n.bridge.len()
            )
        } else {
            continue;
        };
        return Err(EmitError::LxcLink {
            container: e.container.clone(),
            network: n.network.clone(),
            why,
        });
    }
    Ok(())
}

/// LXC's config reader trims blanks at the end of a line, so an
/// `lxc.environment` value ending in one would reach the container shortened;
/// LXC has no escape for it, so such a value is refused, never altered.
pub fn check_env(e: &Edits) -> Result<(), EmitError> {
    for (k, v) in &e.env {
        if v.ends_with([' ', '\t']) {
            return Err(EmitError::LxcEnv {
                container: e.container.clone(),
                key: k.clone(),
            });
        }
    }
    Ok(())
}

/// A device's type (`c` or `b`) and major/minor numbers.
pub type DeviceNumbers = (char, u64, u64);

/// Reads a device node's type and numbers on this host.
pub fn stat_device(path: &str) -> Option<DeviceNumbers> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let md = std::fs::metadata(path).ok()?;
    let ft = md.file_type();
    let kind = if ft.is_char_device() {
        'c'
    } else if ft.is_block_device() {
        'b'
    } else {
        return None;
    };
    let rdev = md.rdev();
    // glibc's major()/minor() encoding.
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    Some((kind, major, minor))
}

/// The config text and the notes for what LXC cannot express. `devices` looks
/// up a device's numbers (use [`stat_device`]; tests pass their own).
pub fn emit(e: &Edits, devices: &dyn Fn(&str) -> Option<DeviceNumbers>) -> (String, Vec<Note>) {
    emit_from(e, devices, 0)
}

/// Like [`emit`], with the NICs numbered from `first_net` (`lxc.net.N`).
pub fn emit_from(
    e: &Edits,
    devices: &dyn Fn(&str) -> Option<DeviceNumbers>,
    first_net: usize,
) -> (String, Vec<Note>) {
    let mut out = String::new();
    let mut notes = Vec::new();
    for (i, n) in (first_net..).zip(&e.networks) {
        let _ = writeln!(out, "lxc.net.{i}.type = veth");
        let _ = writeln!(out, "lxc.net.{i}.link = {}", n.bridge);
        let _ = writeln!(out, "lxc.net.{i}.flags = up");
        if let Some(a) = n.ipv6 {
            let _ = writeln!(out, "lxc.net.{i}.ipv6.address = {a}/{}", n.prefix6);
        }
        if let Some(g) = n.gateway6 {
            let _ = writeln!(out, "lxc.net.{i}.ipv6.gateway = {g}");
        }
        if let Some(a) = n.ipv4 {
            let _ = writeln!(out, "lxc.net.{i}.ipv4.address = {a}/{}", n.prefix4);
        }
        if let Some(g) = n.gateway4 {
            let _ = writeln!(out, "lxc.net.{i}.ipv4.gateway = {g}");
        }
    }
    for m in &e.mounts {
        let _ = writeln!(out, "{}", mount_entry(m));
    }
    for d in &e.devices {
        if d.is_cdi() {
            notes.push(Note {
                need: format!("device {}", d.path),
                kind: NoteKind::CdiNotApplicable {
                    device: d.path.clone(),
                },
            });
            continue;
        }
        let target = d.target.as_deref().unwrap_or(&d.path);
        let _ = writeln!(
            out,
            "lxc.mount.entry = {} {} none bind,optional,create=file 0 0",
            fstab_escape(&d.path),
            fstab_escape(target.trim_start_matches('/'))
        );
        match devices(&d.path) {
            Some((t, major, minor)) => {
                let _ = writeln!(out, "lxc.cgroup2.devices.allow = {t} {major}:{minor} rwm");
            }
            None => notes.push(Note {
                need: format!("device {}", d.path),
                kind: NoteKind::DeviceNotFound {
                    path: d.path.clone(),
                },
            }),
        }
    }
    for (k, v) in &e.env {
        let _ = writeln!(out, "lxc.environment = {k}={v}");
    }
    for p in &e.ports {
        notes.push(Note {
            need: format!("port {}", p.name),
            kind: NoteKind::PortNotApplicable {
                host_port: p.host_port,
                container_port: p.container_port,
                protocol: p.protocol,
            },
        });
    }
    (out, notes)
}

fn mount_entry(m: &Mount) -> String {
    let mut opts = String::from("bind");
    if m.read_only {
        opts.push_str(",ro");
    }
    opts.push_str(if m.file {
        ",create=file"
    } else {
        ",create=dir"
    });
    format!(
        "lxc.mount.entry = {} {} none {opts} 0 0",
        fstab_escape(&m.source),
        fstab_escape(m.target.trim_start_matches('/'))
    )
}

/// fstab field escaping: space, tab, newline and backslash as octal.
pub fn fstab_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ' ' => o.push_str("\\040"),
            '\t' => o.push_str("\\011"),
            '\n' => o.push_str("\\012"),
            '\\' => o.push_str("\\134"),
            c => o.push(c),
        }
    }
    o
}
