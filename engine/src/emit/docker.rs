//! `docker run` arguments (podman takes the same flags).
//!
//! One network: `--network N --ip6 A --ip B`. Several: docker's
//! `--network name=N,ip6=A,ip=B` form once per network, because `--ip6` can only
//! refer to one network. A bind whose paths contain `:` or `,` cannot be written
//! as `-v SRC:DST`, so it uses `--mount type=bind,...` with CSV quoting instead.

use crate::edits::{Attachment, Edits, Mount, PortMap};
use crate::emit::EmitError;

/// The arguments that go between `docker run` and the image, in a fixed order:
/// `--name`, networks, mounts, ports, devices, environment.
pub fn args(e: &Edits) -> Vec<String> {
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
                a.push(multi_network(n));
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

fn multi_network(n: &Attachment) -> String {
    let mut s = format!("name={}", n.network);
    if let Some(ip) = n.ipv6 {
        s.push_str(&format!(",ip6={ip}"));
    }
    if let Some(ip) = n.ipv4 {
        s.push_str(&format!(",ip={ip}"));
    }
    s
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
