//! `docker run` / `podman run` arguments.
//!
//! One network: `--network N --ip6 A --ip B`, which both engines take. Several:
//! `--ip6` can only refer to one network, so each network carries its addresses
//! in its own `--network` value, and there the engines differ: docker takes
//! `name=N,ip6=A,ip=B`, podman takes `N:ip6=A,ip=B` (podman reads docker's form as
//! a network literally named `name=N`). [`Flavor`] picks one; `--emit docker`
//! prints docker's. A bind whose paths contain `:` or `,` cannot be written
//! as `-v SRC:DST`, so it uses `--mount type=bind,...` with CSV quoting instead.

use crate::edits::{Attachment, Edits, Mount, PortMap};
use crate::emit::emitter::{Emitter, Input, Output};
use crate::emit::EmitError;

/// `--emit docker`: one `docker run` line per container (docker's syntax),
/// with a note for each CDI device whose container path cannot be passed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Docker {
    /// `--cdi`: a custom kind or device the host provides by exact name goes
    /// in as its CDI name (`--device vendor.tld/class=name`, the spec `berth
    /// export cdi` writes) instead of its env, mounts and devices.
    pub cdi: bool,
}

/// The docker emitter that expands every binding into its edits.
pub static DOCKER: Docker = Docker { cdi: false };

/// The docker emitter that passes CDI names (`--emit docker --cdi`).
pub static DOCKER_CDI: Docker = Docker { cdi: true };

impl Emitter for Docker {
    fn name(&self) -> &'static str {
        "docker"
    }
    fn about(&self) -> &'static str {
        "One `docker run ...` line, shell-quoted"
    }
    fn extension(&self) -> &'static str {
        "sh"
    }
    fn needs_image(&self) -> bool {
        true
    }
    fn cdi_names(&self) -> bool {
        self.cdi
    }
    fn render(&self, input: &Input<'_>) -> Result<Output, EmitError> {
        let mut out = Output::default();
        for e in input.edits {
            out.note_all(&e.container, e.cdi_path_notes());
            out.text.push_str(&line(e)?);
            out.text.push('\n');
        }
        Ok(out)
    }
}

/// Which engine's syntax to write where docker and podman differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// docker's (`--network name=N,ip6=A`).
    #[default]
    Docker,
    /// podman's (`--network N:ip6=A`).
    Podman,
}

/// The arguments that go between `docker run` and the image, in a fixed order:
/// `--name`, networks, mounts, ports, devices, environment (docker's syntax).
pub fn args(e: &Edits) -> Vec<String> {
    args_for(e, Flavor::Docker)
}

/// [`args`] in the syntax of one engine.
pub fn args_for(e: &Edits, flavor: Flavor) -> Vec<String> {
    let mut a = vec!["--name".to_string(), e.container.clone()];
    match e.networks.as_slice() {
        [] => {}
        [one] => {
            a.push("--network".into());
            a.push(one.network.clone());
            if let Some(ip) = one.ipv6 {
                a.push("--ip6".into());
                a.push(ip.to_string());
            }
            if let Some(ip) = one.ipv4 {
                a.push("--ip".into());
                a.push(ip.to_string());
            }
        }
        many => {
            for n in many {
                a.push("--network".into());
                a.push(multi_network(n, flavor));
            }
        }
    }
    for m in &e.mounts {
        a.extend(mount(m));
    }
    for p in &e.ports {
        a.push("-p".into());
        a.push(port(p));
    }
    for d in &e.devices {
        a.push("--device".into());
        a.push(match &d.target {
            Some(t) if !d.is_cdi() => format!("{}:{}", d.path, t),
            _ => d.path.clone(),
        });
    }
    for (k, v) in &e.env {
        a.push("-e".into());
        a.push(format!("{k}={v}"));
    }
    a
}

/// The whole argv: `docker run ARGS... IMAGE`.
pub fn argv(e: &Edits) -> Result<Vec<String>, EmitError> {
    let image = e.image.clone().ok_or_else(|| EmitError::NoImage {
        container: e.container.clone(),
    })?;
    let mut v = vec!["docker".to_string(), "run".to_string()];
    v.extend(args(e));
    v.push(image);
    Ok(v)
}

/// The argv as one shell line, each word quoted so that `shlex::split` gives
/// back exactly [`argv`].
pub fn line(e: &Edits) -> Result<String, EmitError> {
    Ok(quote_line(&argv(e)?))
}

/// Quotes words into one POSIX shell line.
pub fn quote_line(words: &[String]) -> String {
    // try_join only fails on NUL bytes, which the loader rejects (control
    // characters); a NUL that slipped through would be a loader bug, and
    // dropping the word would be worse than quoting it visibly.
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| {
        words
            .iter()
            .map(|w| {
                shlex::try_quote(w)
                    .map(|c| c.into_owned())
                    .unwrap_or_else(|_| format!("'{}'", w.replace('\0', "\\0")))
            })
            .collect::<Vec<_>>()
            .join(" ")
    })
}

fn multi_network(n: &Attachment, flavor: Flavor) -> String {
    let mut opts = Vec::new();
    if let Some(ip) = n.ipv6 {
        opts.push(format!("ip6={ip}"));
    }
    if let Some(ip) = n.ipv4 {
        opts.push(format!("ip={ip}"));
    }
    match flavor {
        Flavor::Docker => std::iter::once(format!("name={}", n.network))
            .chain(opts)
            .collect::<Vec<_>>()
            .join(","),
        Flavor::Podman if opts.is_empty() => n.network.clone(),
        Flavor::Podman => format!("{}:{}", n.network, opts.join(",")),
    }
}

fn mount(m: &Mount) -> Vec<String> {
    let plain = |p: &str| !p.contains([':', ',', '"']);
    if plain(&m.source) && plain(&m.target) {
        let mut v = format!("{}:{}", m.source, m.target);
        if m.read_only {
            v.push_str(":ro");
        }
        return vec!["-v".into(), v];
    }
    let mut fields = vec![
        "type=bind".to_string(),
        csv_field(&format!("source={}", m.source)),
        csv_field(&format!("target={}", m.target)),
    ];
    if m.read_only {
        fields.push("readonly".into());
    }
    vec!["--mount".into(), fields.join(",")]
}

/// docker parses `--mount` as one CSV record: a field with a comma or quote is
/// wrapped in quotes, inner quotes doubled.
fn csv_field(f: &str) -> String {
    if f.contains([',', '"']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

fn port(p: &PortMap) -> String {
    let mut s = String::new();
    match p.bind {
        Some(std::net::IpAddr::V6(a)) => s.push_str(&format!("[{a}]:")),
        Some(a) => s.push_str(&format!("{a}:")),
        None => {}
    }
    s.push_str(&format!("{}:{}", p.host_port, p.container_port));
    if p.protocol == berth_specs::Protocol::Udp {
        s.push_str("/udp");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attachment(network: &str, ipv6: Option<&str>, ipv4: Option<&str>) -> Attachment {
        Attachment {
            network: network.into(),
            bridge: network.into(),
            ipv6: ipv6.map(|a| a.parse().unwrap()),
            prefix6: 64,
            gateway6: None,
            ipv4: ipv4.map(|a| a.parse().unwrap()),
            prefix4: 24,
            gateway4: None,
        }
    }

    fn two_networks() -> Edits {
        Edits {
            container: "app".into(),
            networks: vec![
                attachment("front", Some("2001:db8:1::20"), None),
                attachment("back", Some("2001:db8:2::20"), Some("10.20.0.17")),
                attachment("plain", None, None),
            ],
            ..Edits::default()
        }
    }

    #[test]
    fn several_networks_in_docker_syntax() {
        let a = args_for(&two_networks(), Flavor::Docker);
        assert_eq!(args(&two_networks()), a);
        assert_eq!(
            a[2..],
            [
                "--network",
                "name=front,ip6=2001:db8:1::20",
                "--network",
                "name=back,ip6=2001:db8:2::20,ip=10.20.0.17",
                "--network",
                "name=plain",
            ]
        );
    }

    #[test]
    fn several_networks_in_podman_syntax() {
        let a = args_for(&two_networks(), Flavor::Podman);
        assert_eq!(
            a[2..],
            [
                "--network",
                "front:ip6=2001:db8:1::20",
                "--network",
                "back:ip6=2001:db8:2::20,ip=10.20.0.17",
                "--network",
                "plain",
            ]
        );
    }

    #[test]
    fn one_network_is_the_same_for_both_engines() {
        let mut e = two_networks();
        e.networks.truncate(1);
        assert_eq!(args_for(&e, Flavor::Docker), args_for(&e, Flavor::Podman));
        assert_eq!(
            args(&e)[2..],
            ["--network", "front", "--ip6", "2001:db8:1::20"]
        );
    }
}
