//! Names the container engines reserve for themselves, which a resource name
//! must never reach by accident.
//!
//! `docker run --network host` is host networking; `none`, `bridge` and
//! `default` are the engine's own modes and default bridge; podman adds
//! `private`, `slirp4netns` and `pasta`; `container:X` joins another
//! container's namespace and `ns:PATH` any namespace. A need spec is untrusted
//! (DESIGN.md, "Trust boundary"), so the engine's matcher never serves these
//! names through a pattern or a provider, and `berth check` warns when a host
//! provides one by its exact name. One list, read by both.

/// The engine-reserved network names (compared without case), besides the
/// `container:` and `ns:` forms.
pub const ENGINE_RESERVED_NETWORKS: [&str; 7] = [
    "host",
    "none",
    "bridge",
    "default",
    "private",
    "slirp4netns",
    "pasta",
];

/// Whether `name` is an engine-reserved network name: one of
/// [`ENGINE_RESERVED_NETWORKS`] in any case, or a `container:X` / `ns:PATH`
/// form.
pub fn is_engine_reserved_network(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ENGINE_RESERVED_NETWORKS.contains(&lower.as_str())
        || lower.starts_with("container:")
        || lower.starts_with("ns:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_forms_and_ordinary_names() {
        for n in [
            "host",
            "HOST",
            "none",
            "pasta",
            "container:web",
            "ns:/proc/1/ns/net",
        ] {
            assert!(is_engine_reserved_network(n), "{n}");
        }
        for n in ["hostnet", "berth6", "bridge0", "my-host"] {
            assert!(!is_engine_reserved_network(n), "{n}");
        }
    }
}
