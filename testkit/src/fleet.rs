//! A generated fleet: many host manifests and need specs in one multi-document
//! YAML text, shaped like what `berth place` reads.

/// `hosts` host manifests followed by `containers` need specs, `---`-separated.
pub fn fleet(hosts: usize, containers: usize) -> String {
    let mut out = String::with_capacity(hosts * 600 + containers * 220);
    for h in 0..hosts {
        let (a, b) = (h / 256, h % 256);
        out.push_str(&format!(
            "---\n# host {h}\nberth: 1\nhost: h{h:05}\nlabels: {{ zone: z{}, rack: \"r{}\" }}\nprovides:\n  - network: berth6\n    bridge: br0\n    subnet6: 2001:db8:{a:x}:{b:x}::/64\n    gateway6: 2001:db8:{a:x}:{b:x}::1\n  - ipv6: \"*\"\n    pool: 2001:db8:{a:x}:{b:x}::100/120\n    network: berth6\n  - volume: data-{}\n    path: /srv/data-{}\n  - port: \"*\"\n    pool: 8000-8099\nproviders:\n  - volume: \"nfs-*\"\n    run: [./nfs-volume, --server, nas.example]\n    timeout: 30s\n",
            h % 5,
            h % 40,
            h % 100,
            h % 100
        ));
    }
    for c in 0..containers {
        out.push_str(&format!(
            "---\nberth: 1\ncontainer: c{c:06}\nimage: example/app:1\nplacement: {{ zone: z{} }}\nneeds:\n  - ipv6: c{c:06}\n  - volume: data-{}\n    mount: /data\n    read_only: true\n  - port: http\n    container_port: 8080\n",
            c % 5,
            c % 100
        ));
    }
    out
}
