//! The synthetic fleet of `docs/performance.md`: N host manifests and M need
//! specs as multi-document YAML (or JSON arrays), with a realistic mix: most
//! needs served by exact names (shared volumes), per-container addresses and
//! ports from pools, services pinned to zones by label, a few scarce exclusive
//! resources (an ingress address, a GPU) that more containers want than hosts
//! have, volumes that providers make, and a small share of containers that no
//! host can take. The same arguments always give the same bytes. Used by
//! `engine/examples/genfleet.rs` (the files) and `engine/benches/place.rs`.

use std::fmt::Write as _;

/// Deterministic xorshift64*: a benchmark input must be reproducible, and
/// nothing here needs statistical quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const ZONES: [&str; 4] = ["a", "b", "c", "d"];
/// Services whose data volume lives on a subset of hosts.
const SERVICES: u64 = 40;

/// A document as ordered fields, so the kind key comes first in each entry
/// the way people write it, in YAML and JSON alike.
#[derive(Clone, PartialEq)]
enum V {
    S(String),
    N(u64),
    B(bool),
    /// A flow list of strings (`allow`, `run`).
    Strs(Vec<String>),
    /// A flow map of strings (`labels`, `placement`).
    Map(Vec<(String, String)>),
    /// A block list of entries (`provides`, `needs`).
    Entries(Vec<Doc>),
}

type Doc = Vec<(&'static str, V)>;

fn s(x: impl Into<String>) -> V {
    V::S(x.into())
}

fn host(h: usize, rng: &mut Rng) -> Doc {
    let (hi, lo) = (h / 65536, h % 65536);
    let net = format!("fd00:{hi:x}:{lo:x}:1::");
    let mut provides: Vec<Doc> = vec![
        vec![
            ("network", s("net6")),
            ("subnet6", s(format!("{net}/64"))),
            ("gateway6", s(format!("{net}1"))),
        ],
        vec![
            ("ipv6", s("*")),
            ("pool", s(format!("{net}1:0/112"))),
            ("network", s("net6")),
        ],
        vec![("port", s("*")), ("pool", s("20000-20999"))],
        vec![
            ("volume", s("data")),
            ("path", s("/srv/data")),
            ("read_only", V::B(true)),
        ],
        vec![("volume", s("logs")), ("path", s("/srv/logs"))],
        vec![("secret", s("tls")), ("file", s("/etc/berth/secrets/tls"))],
    ];
    // Each host carries the data of a few services.
    let mut services: Vec<u64> = (0..3)
        .map(|k| (h as u64 * 7 + k * 13 + rng.below(3)) % SERVICES)
        .collect();
    services.sort_unstable();
    services.dedup();
    for sv in services {
        provides.push(vec![
            ("volume", s(format!("svc-{sv}-data"))),
            ("path", s(format!("/srv/svc-{sv}"))),
        ]);
    }
    if h % 10 == 0 {
        provides.push(vec![
            ("ipv6", s("ingress")),
            ("address", s(format!("{net}10"))),
            ("network", s("net6")),
        ]);
    }
    if h % 20 == 0 {
        provides.push(vec![("device", s("gpu0")), ("path", s("/dev/nvidia0"))]);
    }
    if h % 50 == 0 {
        provides.push(vec![
            ("example.com/fpga", s("fpga")),
            ("devices", V::Strs(vec!["/dev/fpga0".into()])),
        ]);
    }
    if h % 25 == 0 {
        provides.push(vec![
            ("volume", s("audit")),
            ("path", s("/srv/audit")),
            ("allow", V::Strs(vec!["auditor-*".into()])),
        ]);
    }
    let zone = ZONES[h % ZONES.len()].to_string();
    let disk = if h % 3 == 0 { "hdd" } else { "ssd" }.to_string();
    let mut doc: Doc = vec![
        ("berth", V::N(1)),
        ("host", s(format!("h-{h:05}"))),
        (
            "labels",
            V::Map(vec![("zone".into(), zone), ("disk".into(), disk)]),
        ),
        ("provides", V::Entries(provides)),
    ];
    if h % 2 == 0 {
        let run = ["bundled/dir-volume", "--base", "/srv/nfs"]
            .map(String::from)
            .to_vec();
        doc.push((
            "providers",
            V::Entries(vec![vec![("volume", s("nfs-*")), ("run", V::Strs(run))]]),
        ));
    }
    doc
}

fn container(c: usize, rng: &mut Rng) -> Doc {
    let mut name = format!("c-{c:06}");
    let roll = rng.below(1000);
    let mut needs: Vec<Doc> = Vec::new();
    let mut placement = None;
    let data_ro = vec![
        ("volume", s("data")),
        ("mount", s("/data")),
        ("read_only", V::B(true)),
    ];
    if rng.below(10) < 6 {
        needs.push(data_ro.clone());
    }
    match roll {
        // Services pinned to a zone, needing their data volume.
        0..=249 => {
            let sv = rng.below(SERVICES);
            needs.push(vec![
                ("volume", s(format!("svc-{sv}-data"))),
                ("mount", s("/svc")),
            ]);
            placement = Some(ZONES[rng.below(4) as usize]);
        }
        // Writers of logs and a secret.
        250..=549 => {
            needs.push(vec![("volume", s("logs")), ("mount", s("/var/log/app"))]);
            needs.push(vec![("secret", s("tls")), ("mount", s("/run/secrets/tls"))]);
        }
        // Volumes that a provider makes (only on half the hosts).
        550..=689 => needs.push(vec![
            ("volume", s(format!("nfs-{}", rng.below(100)))),
            ("mount", s("/nfs")),
        ]),
        // A custom kind only a few hosts have, wanted by more containers.
        690..=699 => needs.push(vec![("example.com/fpga", s("fpga"))]),
        // The ingress address: static on a tenth of the hosts; elsewhere the
        // `*` pool serves the name, so these all find a host.
        700..=709 => needs.push(vec![("ipv6", s("ingress"))]),
        // A scarce exclusive device: more takers than holders.
        710..=719 => needs.push(vec![("device", s("gpu0"))]),
        // An allow list that admits some and denies others.
        720..=724 => {
            name = format!("auditor-{c:06}");
            needs.push(vec![
                ("volume", s("audit")),
                ("mount", s("/audit")),
                ("read_only", V::B(true)),
            ]);
        }
        725..=729 => needs.push(vec![
            ("volume", s("audit")),
            ("mount", s("/audit")),
            ("read_only", V::B(true)),
        ]),
        // Unplaceable: read-write on a read-only volume, a volume no host
        // has, a zone no host is in.
        730..=734 => {
            needs.retain(|n| n[0].1 != s("data"));
            needs.push(vec![("volume", s("data")), ("mount", s("/data"))]);
        }
        735..=739 => needs.push(vec![("volume", s("archive")), ("mount", s("/archive"))]),
        740..=744 => placement = Some("z"),
        _ => {}
    }
    // A per-container address from the pool, and for some a published port.
    needs.push(vec![("ipv6", s(name.clone()))]);
    if rng.below(20) < 7 {
        needs.push(vec![
            ("port", s(format!("{name}-http"))),
            ("container_port", V::N(8080)),
        ]);
    }
    let mut doc: Doc = vec![("berth", V::N(1)), ("container", s(name))];
    if let Some(z) = placement {
        doc.push(("placement", V::Map(vec![("zone".into(), z.into())])));
    }
    doc.push(("needs", V::Entries(needs)));
    doc
}

/// YAML scalars: plain where YAML reads them back as the same string, JSON
/// (double-quoted YAML) otherwise.
fn yscalar(x: &str) -> String {
    let plain = !x.is_empty()
        && x.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && !x.starts_with(['-', '.'])
        && x.parse::<f64>().is_err()
        && !["true", "false", "null", "yes", "no", "on", "off"].contains(&x);
    if plain {
        x.to_string()
    } else {
        jstr(x)
    }
}

fn jstr(x: &str) -> String {
    serde_json::to_string(x).expect("string")
}

fn value(v: &V, json: bool, out: &mut String, indent: &str) {
    let q = |x: &str| if json { jstr(x) } else { yscalar(x) };
    match v {
        V::S(x) => out.push_str(&q(x)),
        V::N(n) => out.push_str(&n.to_string()),
        V::B(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Strs(items) => {
            let items: Vec<String> = items.iter().map(|i| q(i)).collect();
            let _ = write!(out, "[{}]", items.join(", "));
        }
        V::Map(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|(k, x)| {
                    if json {
                        format!("{}: {}", jstr(k), jstr(x))
                    } else {
                        format!("{k}: {}", q(x))
                    }
                })
                .collect();
            let _ = write!(out, "{{{}}}", items.join(", "));
        }
        V::Entries(entries) if json => {
            out.push('[');
            for (i, e) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                doc_json(e, out);
            }
            out.push(']');
        }
        V::Entries(entries) => {
            for e in entries {
                for (i, (k, x)) in e.iter().enumerate() {
                    let lead = if i == 0 { "  - " } else { "    " };
                    let _ = write!(out, "\n{indent}{lead}{k}: ");
                    value(x, false, out, indent);
                }
            }
        }
    }
}

fn doc_json(d: &Doc, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in d.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{}: ", jstr(k));
        value(v, true, out, "");
    }
    out.push('}');
}

fn doc_yaml(d: &Doc, out: &mut String) {
    out.push_str("---\n");
    for (k, v) in d {
        let _ = write!(out, "{k}:");
        if !matches!(v, V::Entries(_)) {
            out.push(' ');
        }
        value(v, false, out, "");
        out.push('\n');
    }
}

/// The documents as one file's text: multi-document YAML, or a JSON array.
fn render(docs: &[Doc], json: bool) -> String {
    let mut text = String::new();
    if json {
        text.push('[');
        for (i, d) in docs.iter().enumerate() {
            text.push_str(if i == 0 { "\n" } else { ",\n" });
            doc_json(d, &mut text);
        }
        text.push_str("\n]\n");
    } else {
        for d in docs {
            doc_yaml(d, &mut text);
        }
    }
    text
}

/// The fleet's two files as text: (hosts, containers).
pub fn fleet_text(hosts: usize, containers: usize, seed: u64, json: bool) -> (String, String) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let hosts: Vec<_> = (0..hosts).map(|h| host(h, &mut rng)).collect();
    let containers: Vec<_> = (0..containers).map(|c| container(c, &mut rng)).collect();
    (render(&hosts, json), render(&containers, json))
}

/// The fleet of [`fleet_text`] loaded (its YAML, through the real loader):
/// (host manifests, need specs). Panics on a load error: the generator must
/// write valid files.
pub fn fleet_docs(
    hosts: usize,
    containers: usize,
    seed: u64,
) -> (Vec<berth_specs::HostManifest>, Vec<berth_specs::NeedSpec>) {
    use berth_specs::load::{load_str, LoadOptions};
    use berth_specs::Document;
    let (ht, st) = fleet_text(hosts, containers, seed, false);
    let opts = LoadOptions {
        max_file_size: u64::MAX,
        ..LoadOptions::default()
    };
    let (mut h, mut s) = (Vec::new(), Vec::new());
    for (name, text) in [("hosts.yaml", &ht), ("containers.yaml", &st)] {
        let loaded = load_str(std::path::Path::new(name), text, &opts);
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics.first());
        for d in loaded.documents {
            match d {
                Document::Host(x) => h.push(x),
                Document::Need(x) => s.push(x),
            }
        }
    }
    (h, s)
}
