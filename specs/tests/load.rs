//! Loading behaviour: every mistake of a file is reported with its line, hostile
//! input is refused with a code, and the parallel load equals the sequential one.

mod common;

use std::path::Path;

use berth_specs::load::{load_file, load_str, load_str_sequential, LoadOptions, Loaded};
use berth_specs::{Code, Document, NeedDetail};
use berth_testkit::fleet::fleet;
use proptest::prelude::*;

fn load(text: &str) -> Loaded {
    load_str(Path::new("berth.yaml"), text, &LoadOptions::default())
}

fn codes_and_lines(l: &Loaded) -> Vec<(&'static str, u32)> {
    l.diagnostics
        .iter()
        .map(|d| (d.code.as_str(), d.span.map_or(0, |s| s.line)))
        .collect()
}

#[test]
fn five_mistakes_five_diagnostics() {
    let text = "\
berth: 1
container: Web
needs:
  - volum: data
  - volume: pages
    mount: var/www
  - port: http
    container_port: 99999
  - ipv6: web
    prefx: 2001:db8::/64
";
    let l = load(text);
    assert_eq!(
        codes_and_lines(&l),
        vec![
            ("berth::format::invalid-container-name", 2),
            ("berth::need::unknown-kind", 4),
            ("berth::need::bad-mount", 6),
            ("berth::need::bad-port", 8),
            ("berth::format::unknown-key", 10),
        ]
    );
    assert!(l.documents.is_empty(), "an invalid document is not loaded");
}

#[test]
fn volum_suggests_volume_with_its_line() {
    let l = load("berth: 1\ncontainer: web\nneeds:\n  - volum: data\n    mount: /data\n");
    let d = &l.diagnostics[0];
    assert_eq!(d.code, Code::NeedUnknownKind);
    assert_eq!(d.help.as_deref(), Some("did you mean `volume`?"));
    assert_eq!(d.span.unwrap().line, 4);
    assert_eq!(l.diagnostics.len(), 1);
}

#[test]
fn addresses_compare_as_values() {
    let l = load(
        "berth: 1\nhost: h\nprovides:\n  - network: n\n  - ipv6: a\n    address: 2001:db8::5\n    network: n\n  - ipv6: b\n    address: 2001:DB8:0:0::5\n    network: n\n",
    );
    assert_eq!(
        codes_and_lines(&l),
        vec![("berth::host::duplicate-address", 9)]
    );
}

#[test]
fn foreign_documents_are_skipped_only_when_asked() {
    let text = "name: CI\non: [push]\n---\nberth: 1\ncontainer: web\n---\n- a list\n";
    let walk = LoadOptions {
        skip_foreign: true,
        ..LoadOptions::default()
    };
    let l = load_str(Path::new("x.yaml"), text, &walk);
    assert_eq!(
        (l.skipped, l.documents.len(), l.diagnostics.len()),
        (2, 1, 0)
    );
    let named = load(text);
    assert_eq!(
        codes_and_lines(&named),
        vec![
            ("berth::format::version-missing", 1),
            ("berth::format::unknown-document", 1),
            ("berth::format::wrong-type", 7)
        ]
    );
}

#[test]
fn options_are_typed() {
    let l = load(
        "berth: 1\ncontainer: web\nneeds:\n  - port: dns\n    container_port: \"53/udp\"\n  - volume: v\n    mount: /v\n    read_only: \"true\"\n",
    );
    assert_eq!(codes_and_lines(&l), vec![("berth::format::wrong-type", 8)]);
    assert_eq!(
        l.diagnostics[0].help.as_deref(),
        Some("write `true` or `false` without quotes")
    );
    let ok =
        load("berth: 1\ncontainer: web\nneeds:\n  - port: dns\n    container_port: \"53/udp\"\n");
    let Document::Need(n) = &ok.documents[0] else {
        panic!()
    };
    assert_eq!(
        n.needs[0].detail,
        NeedDetail::Port {
            container_port: 53,
            protocol: berth_specs::Protocol::Udp
        }
    );
}

#[test]
fn json_files_load_like_yaml() {
    let json = r#"[
  {"berth": 1, "host": "h1", "provides": [{"volume": "data", "path": "/srv/data"}]},
  {"berth": 1, "host": "h2", "provides": [{"volume": "data", "path": "srv"}]}
]"#;
    let l = load_str(Path::new("fleet.json"), json, &LoadOptions::default());
    assert_eq!(l.documents.len(), 1);
    assert_eq!(codes_and_lines(&l), vec![("berth::host::bad-path", 3)]);
}

#[test]
fn provider_output_is_validated_like_a_manifest_entry() {
    use berth_specs::load::provide_detail_from_json;
    use berth_specs::{AddressSource, Kind, ProvideDetail};
    let ok = provide_detail_from_json(
        &Kind::Ipv6,
        "web",
        &serde_json::json!({"address": "2001:db8::5", "network": "berth6"}),
    )
    .unwrap();
    assert_eq!(
        ok,
        ProvideDetail::Address {
            source: AddressSource::Static("2001:db8::5".parse().unwrap()),
            network: "berth6".into()
        }
    );
    let v = provide_detail_from_json(&Kind::Volume, "v", &serde_json::json!({"path": "/mnt/x"}));
    assert!(v.is_ok());
    let bad = provide_detail_from_json(
        &Kind::Ipv6,
        "web",
        &serde_json::json!({"address": "192.0.2.1", "network": "berth6", "extra": 1}),
    )
    .unwrap_err();
    let codes: Vec<_> = bad.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec![Code::UnknownKey, Code::HostBadAddress]);
    assert!(provide_detail_from_json(&Kind::Volume, "v", &serde_json::json!("/x")).is_err());
    assert!(provide_detail_from_json(&Kind::Volume, "v", &serde_json::json!({})).is_err());
}

#[test]
fn alias_bomb_is_refused() {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..30 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let l = load(&text);
    assert_eq!(l.diagnostics.len(), 1);
    assert_eq!(l.diagnostics[0].code, Code::YamlAliasLimit);
}

#[test]
fn a_100_mb_file_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(100 * 1024 * 1024).unwrap(); // sparse: no 100 MB written
    let l = load_file(&path, &LoadOptions::default());
    assert_eq!(l.diagnostics.len(), 1);
    assert_eq!(l.diagnostics[0].code, Code::FileTooLarge);
    // A regular file whose size metadata lies (0 for files in /proc) is
    // bounded by the read itself. (/dev/zero used to be the example; it is
    // not a regular file and is now refused before reading.)
    let small = LoadOptions {
        max_file_size: 100,
        ..LoadOptions::default()
    };
    if cfg!(target_os = "linux") {
        let l = load_file(Path::new("/proc/self/maps"), &small);
        assert_eq!(l.diagnostics[0].code, Code::FileTooLarge);
    }
}

/// A FIFO named on the command line made `berth check` wait forever in
/// `open` for a writer. Non-regular files (FIFOs, devices) are refused with
/// `berth::io::read` before anything is read.
#[cfg(unix)]
#[test]
fn fifo_named_on_the_command_line_hung_check() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("f.yaml");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    for path in [fifo.clone(), "/dev/zero".into(), "/dev/null".into()] {
        // On a regression the load never returns: fail instead of hanging.
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        std::thread::spawn(move || {
            let _ = tx.send(load_file(&p, &LoadOptions::default()));
        });
        let l = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("load_file({}) hung", path.display()));
        assert_eq!(codes(&l), vec!["berth::io::read"], "{}", path.display());
        assert!(
            l.diagnostics[0].message.contains("not a regular file"),
            "{}",
            l.diagnostics[0].message
        );
    }
}

/// What a load gave, as comparable text (documents without their source).
fn summary(l: &Loaded) -> Vec<String> {
    let mut out: Vec<String> = l
        .documents
        .iter()
        .map(|d| match d {
            Document::Need(n) => format!(
                "need {} {:?} {:?} {:?} {:?}",
                n.container,
                n.image,
                n.placement,
                n.span,
                n.needs
                    .iter()
                    .map(|x| (&x.kind, &x.name, &x.detail, x.span))
                    .collect::<Vec<_>>()
            ),
            Document::Host(h) => format!(
                "host {} {:?} {:?} {:?} {:?}",
                h.host,
                h.labels,
                h.span,
                h.provides
                    .iter()
                    .map(|p| (&p.kind, p.name.as_str(), &p.detail, &p.allow, p.span))
                    .collect::<Vec<_>>(),
                h.providers
                    .iter()
                    .map(|p| (&p.kind, p.pattern.as_str(), &p.run, p.timeout, p.span))
                    .collect::<Vec<_>>()
            ),
        })
        .collect();
    out.extend(l.diagnostics.iter().map(|d| {
        format!(
            "{} {} {:?} {:?}",
            d.code.as_str(),
            d.message,
            d.span,
            d.related
        )
    }));
    out.push(format!("skipped {} examined {}", l.skipped, l.examined));
    out
}

#[test]
fn parallel_load_equals_sequential_load() {
    // Big enough to be cut into chunks, with mistakes and non-ASCII text spread
    // through it so that offsets, lines and columns are all exercised.
    let mut text = fleet(500, 12000);
    text = text.replacen("container: c000100\n", "container: c000100 # café ☕\n", 1);
    text = text.replacen("container_port: 8080\n", "container_port: 0\n", 3);
    text = text.replacen("    mount: /data\n", "    mount: /data/\n", 2);
    text.push_str("---\nberth: 1\nhost: last\nprovides:\n  - volum: x\n");
    assert!(text.len() > 2 << 20, "{}", text.len());
    let name = Path::new("fleet.yaml");
    let opts = LoadOptions::default();
    let par = load_str(name, &text, &opts);
    let seq = load_str_sequential(name, &text, &opts);
    // 12,501 documents; c000000-c000002 and the last host have mistakes.
    assert_eq!(par.documents.len(), 12501 - 4);
    assert_eq!(summary(&par), summary(&seq));

    // A syntax error makes the chunked parse fall back to one piece.
    let broken = text.replacen("needs:\n", "needs: [\n", 1);
    let par = load_str(name, &broken, &opts);
    let seq = load_str_sequential(name, &broken, &opts);
    assert!(par.diagnostics.iter().any(|d| d.code == Code::YamlSyntax));
    assert_eq!(summary(&par), summary(&seq));
}

/// Loads `text` as YAML and as JSON and checks every diagnostic's span lies
/// inside it, on a real line and column.
fn spans_inside(text: &str) -> Result<(), TestCaseError> {
    for name in ["x.yaml", "x.json"] {
        let l = load_str(Path::new(name), text, &LoadOptions::default());
        for d in &l.diagnostics {
            if let Some(s) = d.span {
                prop_assert!(s.offset + s.len <= text.len() && s.line >= 1 && s.col >= 1);
            }
        }
    }
    Ok(())
}

proptest! {
    // 256 cases each by default; PROPTEST_CASES=N runs more.

    #[test]
    fn any_bytes_give_ok_or_diagnostics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.yaml");
        std::fs::write(&path, &bytes).unwrap();
        let l = load_file(&path, &LoadOptions::default());
        // Every diagnostic's span lies inside the file.
        for d in &l.diagnostics {
            if let (Some(s), Some(src)) = (d.span, &d.source) {
                prop_assert!(s.offset + s.len <= src.text.len());
            }
        }
    }

    #[test]
    fn mutated_examples_give_ok_or_diagnostics(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..4, "[ -~\n\t\u{85}é]{0,3}"), 1..6),
    ) {
        // Small edits of real files reach deep into the loader (a valid shape
        // with one wrong value), which random bytes rarely do.
        let files = [
            include_str!("../examples/seed/host.yaml"),
            include_str!("../examples/rich/host.yaml"),
            include_str!("../examples/seed/webserver/berth.yaml"),
            include_str!("../examples/rich/app/berth.yaml"),
        ];
        let mut text = files[which].to_string();
        for (at, cut, insert) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            let mut j = (i + cut).min(text.len());
            while !text.is_char_boundary(j) {
                j += 1;
            }
            text.replace_range(i..j, &insert);
        }
        spans_inside(&text)?;
    }

    #[test]
    fn yaml_like_text_gives_ok_or_diagnostics(
        text in "(berth: 1\n|container: [a-z]{1,4}\n|host: h\n|needs:\n|provides:\n|providers:\n|  - (volume|ipv6|port|network|x.io/y|volum): [a-z*./]{0,6}\n|    (mount|path|address|pool|network|run|timeout|read_only|container_port|host_port): [a-z0-9:/.\\[\\]*&-]{0,12}\n|---\n|[&*!|>{}\\[\\],'\"#]\n){0,24}"
    ) {
        spans_inside(&text)?;
    }
}

#[test]
fn control_characters_are_found_however_written() {
    for value in [
        "\"a\\tb\"",
        "\"a\\x7fb\"",
        "\"a\\u0085b\"",
        "\"a\u{7f}b\"",
        "'a\u{85}b'",
        "\"a\\nb\"",
    ] {
        let l = load(&format!("berth: 1\ncontainer: web\nimage: {value}\n"));
        let codes: Vec<_> = l.diagnostics.iter().map(|d| d.code).collect();
        assert!(
            codes.contains(&Code::ControlCharacter) || codes.contains(&Code::YamlSyntax),
            "{value}: {codes:?}"
        );
        assert!(l.documents.is_empty(), "{value}");
    }
}

#[test]
fn big_hostile_maps_and_lists_stay_bounded() {
    // 50,000 distinct label keys, then one duplicate: found without a
    // quadratic scan.
    let mut text = String::from("berth: 1\nhost: h\nlabels:\n");
    for i in 0..50_000 {
        text.push_str(&format!("  k{i}: v\n"));
    }
    text.push_str("  k7: again\n");
    let l = load(&text);
    assert_eq!(
        codes_and_lines(&l),
        vec![("berth::format::duplicate-key", 50_004)]
    );

    // 5,000 identical pools overlap pairwise: reported, but capped.
    let mut text = String::from("berth: 1\nhost: h\nprovides:\n  - network: n\n");
    for i in 0..5_000 {
        text.push_str(&format!(
            "  - ipv6: \"p{i}-*\"\n    pool: 2001:db8::/120\n    network: n\n"
        ));
    }
    let l = load(&text);
    assert!(l.diagnostics.iter().all(|d| d.code == Code::HostOverlap));
    assert_eq!(l.diagnostics.len(), 1000);
}

#[test]
fn broken_foreign_yaml_is_skipped_when_walking() {
    let walk = LoadOptions {
        skip_foreign: true,
        ..LoadOptions::default()
    };
    let helm = "apiVersion: v1\nkind: ConfigMap\ndata:\n  {{- range .Values.items }}\n  {{ . }}: x\n  {{- end }}\n";
    let l = load_str(Path::new("templates/cm.yaml"), helm, &walk);
    assert_eq!(
        (l.skipped, l.diagnostics.len()),
        (1, 0),
        "{:?}",
        l.diagnostics
    );
    // Named on the command line it is a berth file, and broken.
    let l = load(helm);
    assert_eq!(l.diagnostics[0].code, Code::YamlSyntax);
    // A broken file that says `berth:` is a broken berth file even when walking.
    let l = load_str(
        Path::new("berth.yaml"),
        "berth: 1\ncontainer: [web\n",
        &walk,
    );
    assert_eq!(l.diagnostics[0].code, Code::YamlSyntax);
}

fn codes(l: &Loaded) -> Vec<&'static str> {
    l.diagnostics.iter().map(|d| d.code.as_str()).collect()
}

/// Host cross-checks ran only on a document with no other error, so fixing an
/// unknown key revealed a second round of problems. They now run over the
/// entries that loaded.
#[test]
fn host_cross_checks_vanished_beside_other_errors() {
    for colour_in_network in [false, true] {
        let (top, inner) = if colour_in_network {
            ("", "    colour: red\n")
        } else {
            ("colour: red\n", "")
        };
        let text = format!(
            "berth: 1\nhost: h1\n{top}provides:\n  - network: lan\n    bridge: br0\n{inner}    subnet4: 10.0.0.0/24\n    gateway4: 10.9.9.1\n  - ipv4: a\n    address: 10.0.0.5\n    network: lan\n  - ipv4: b\n    address: 10.0.0.5\n    network: lan\nproviders:\n  - volume: \"*\"\n    run: []\n"
        );
        let mut got = codes(&load(&text));
        got.sort();
        assert_eq!(
            got,
            vec![
                "berth::format::unknown-key",
                "berth::host::duplicate-address",
                "berth::host::empty-run",
                "berth::host::gateway-outside-subnet",
            ],
            "{text}"
        );
    }
}

/// The partial model never blames a good entry for a failed one.
#[test]
fn host_cross_checks_on_a_partial_model_do_not_cascade() {
    // A network that failed to load, and a misspelt network kind: addresses
    // on them are not "on an unknown network".
    let l = load(
        "berth: 1\nhost: h1\nprovides:\n  - network: lan\n    subnet4: 10.0.0.0/99\n  - ipv4: a\n    address: 10.0.0.5\n    network: lan\n  - netwrok: wan\n  - ipv4: b\n    address: 10.1.0.5\n    network: wan\n",
    );
    assert_eq!(
        codes(&l),
        vec!["berth::host::bad-address", "berth::host::unknown-kind"]
    );
    // Only `lan` failed: an address on a network nobody declared is still
    // reported.
    let l = load(
        "berth: 1\nhost: h1\nprovides:\n  - network: lan\n    subnet4: 10.0.0.0/99\n  - ipv4: a\n    address: 10.0.0.5\n    network: lan\n  - ipv4: c\n    address: 10.2.0.5\n    network: nowhere\n",
    );
    assert_eq!(
        codes(&l),
        vec!["berth::host::bad-address", "berth::host::unknown-network"]
    );
    // A misspelt `subnet_4`: the gateway is not also "without a subnet".
    let l = load(
        "berth: 1\nhost: h1\nprovides:\n  - network: lan\n    subnet_4: 10.0.0.0/24\n    gateway4: 10.0.0.1\n  - ipv4: a\n    address: 10.0.0.5\n    network: lan\n",
    );
    assert_eq!(codes(&l), vec!["berth::format::unknown-key"]);
    // A failed network provider may have made any network.
    let l = load(
        "berth: 1\nhost: h1\nprovides:\n  - ipv4: a\n    address: 10.0.0.5\n    network: lan\nproviders:\n  - network: \"*\"\n    run: []\n",
    );
    assert_eq!(codes(&l), vec!["berth::host::empty-run"]);
    // A bad host name does not hide the entries' problems.
    let l = load(
        "berth: 1\nhost: Bad Name\nprovides:\n  - network: lan\n    subnet4: 10.0.0.0/24\n  - ipv4: a\n    address: 10.0.0.5\n    network: lan\n  - ipv4: b\n    address: 10.0.0.5\n    network: lan\n",
    );
    assert_eq!(codes(&l).len(), 2, "{:?}", codes(&l));
    assert!(codes(&l).contains(&"berth::host::duplicate-address"));
}

/// `host: ../../etc` was reported as an invalid *container* name.
#[test]
fn host_name_was_reported_as_invalid_container_name() {
    let l = load("berth: 1\nhost: ../../etc\n");
    assert_eq!(codes(&l), vec!["berth::format::invalid-host-name"]);
    assert_eq!(l.diagnostics[0].message, "invalid host name `../../etc`");
    let l = load("berth: 1\ncontainer: ../../etc\n");
    assert_eq!(codes(&l), vec!["berth::format::invalid-container-name"]);
}

/// A 1 MiB key on one line (an explicit `? key`) was printed whole in its
/// diagnostic: the message names it by its start and length.
#[test]
fn a_one_mib_key_is_named_not_printed_whole() {
    let text = format!("berth: 1\ncontainer: w\n? {}\n: 1\n", "k".repeat(1 << 20));
    let l = load(&text);
    assert_eq!(codes(&l), vec!["berth::format::unknown-key"]);
    let d = &l.diagnostics[0];
    assert!(d.message.len() < 200, "{} bytes", d.message.len());
    assert!(d.message.contains("(1048576 bytes)"), "{}", d.message);
    assert_eq!(d.span.unwrap().len, 1 << 20);
}

#[test]
fn a_file_of_a_million_mistakes_keeps_a_thousand_diagnostics_and_counts_the_rest() {
    // Issue 11: a 15 MiB file of `  -` lines once made `berth check` hold
    // four million diagnostics (10 GB). The loader keeps the first ones in
    // file order and counts the rest, so the verdict stays exact.
    let mut text = String::from("berth: 1\ncontainer: x\nneeds:\n");
    text.push_str(&"  -\n".repeat(20_000));
    text.push_str("---\nberth: 1\ncontainer: y\n");
    // Parallel chunks and one piece agree.
    let big = text.clone() + &"# padding\n".repeat(120_000);
    for l in [
        load(&text),
        load(&big),
        load_str_sequential(Path::new("berth.yaml"), &big, &LoadOptions::default()),
    ] {
        assert_eq!(l.diagnostics.len(), berth_specs::diag::MAX_KEPT_PER_FILE);
        assert!(l.diagnostics.iter().all(|d| d.code == Code::WrongType));
        assert_eq!(l.diagnostics[0].span.unwrap().line, 4);
        assert_eq!(l.diagnostics[999].span.unwrap().line, 1003);
        assert_eq!(l.omitted.errors, 19_000);
        assert_eq!(l.omitted.warnings, 0);
        assert!(l.has_errors());
        // The broken document is left out; the good one after it loads.
        assert_eq!(l.documents.len(), 1);
    }
}

/// A need named (or mounted) a third time points at the second time, as a
/// map's insert gives it, with a handful of needs (scanned in place) and with
/// more than sixteen (hashed): both ways say the same.
#[test]
fn repeated_needs_point_at_the_time_before() {
    for filler in [0, 20] {
        let mut text = String::from("berth: 1\ncontainer: web\nneeds:\n");
        for i in 0..filler {
            text.push_str(&format!("  - ipv6: a{i}\n"));
        }
        let first_line = 4 + filler as u32;
        for _ in 0..3 {
            text.push_str("  - volume: data\n    mount: /data\n");
        }
        let l = load_str(Path::new("x.yaml"), &text, &LoadOptions::default());
        let found: Vec<_> = l
            .diagnostics
            .iter()
            .map(|d| {
                (
                    d.code.as_str(),
                    d.span.map(|s| s.line),
                    d.related.iter().map(|(s, _)| s.line).collect::<Vec<_>>(),
                )
            })
            .collect();
        let (a, b, c) = (first_line, first_line + 2, first_line + 4);
        assert_eq!(
            found,
            vec![
                ("berth::need::duplicate", Some(b), vec![a]),
                ("berth::need::mount-conflict", Some(b), vec![a]),
                ("berth::need::duplicate", Some(c), vec![b]),
                ("berth::need::mount-conflict", Some(c), vec![b]),
            ],
            "{filler} needs before"
        );
    }
}

/// A JSON fleet is held to the size limit like YAML, before it is read: one
/// byte over is `berth::file::too-large` (from a file or a text), exactly
/// the limit loads.
#[test]
fn a_json_fleet_over_the_size_limit_is_refused() {
    let text = r#"[{"berth": 1, "container": "a", "needs": []}, {"berth": 1, "container": "b", "needs": []}]"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.json");
    std::fs::write(&path, text).unwrap();
    let limit = |n: usize| LoadOptions {
        max_file_size: n as u64,
        ..LoadOptions::default()
    };
    for l in [
        load_file(&path, &limit(text.len() - 1)),
        load_str(Path::new("fleet.json"), text, &limit(text.len() - 1)),
    ] {
        assert!(l.documents.is_empty());
        assert_eq!(codes_and_lines(&l), vec![("berth::file::too-large", 0)]);
    }
    for l in [
        load_file(&path, &limit(text.len())),
        load_str(Path::new("fleet.json"), text, &limit(text.len())),
    ] {
        assert_eq!(l.documents.len(), 2);
        assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    }
}
