//! The trust boundary of DESIGN.md, case by case (issue 11): a need spec is
//! untrusted, so it can never reach an engine-reserved network through a
//! host's pattern or provider, and placement refuses what the solver refuses;
//! emitters never write a value their format would change or misread.
//! Each test is named after the attack it pins.

use berth_engine::edits::{self, Edits};
use berth_engine::emit::{compose, lxc, EmitError};
use berth_engine::explain::Reason;
use berth_engine::place::place;
use berth_engine::solve::solve;
use berth_engine::state::{ProvidedRecord, State};
use std::path::Path;

use berth_specs::load::{load_str, LoadOptions};
use berth_specs::yaml::{parse_yaml, Base};
use berth_testkit::model::{host, specs};

/// A host that serves any network name through a pattern and through a
/// provider (the shapes the format docs show), plus one address on a network
/// the host names `bridge` itself.
const OPEN_HOST: &str = "host: h
provides:
  - network: \"*\"
  - network: bridge
  - ipv6: on-bridge
    address: 2001:db8::20
    network: bridge
providers:
  - network: \"net-*\"
    run: [/bin/true]
";

fn plan_codes(spec_yaml: &str) -> (bool, Vec<Vec<&'static str>>) {
    let h = host(OPEN_HOST);
    let s = specs(spec_yaml);
    let plan = solve(&h, &State::new("h"), &[&s[0]]);
    let c = &plan.containers[0];
    (
        c.satisfied,
        c.unmet
            .iter()
            .map(|u| u.reasons.iter().map(Reason::code).collect())
            .collect(),
    )
}

#[test]
fn host_networking_by_name_through_a_pattern_is_refused() {
    for name in [
        "host",
        "none",
        "default",
        "private",
        "slirp4netns",
        "pasta",
        "HOST",
    ] {
        let (ok, codes) = plan_codes(&format!("container: evil\nneeds:\n  - network: {name}\n"));
        assert!(!ok, "`network: {name}` was served");
        assert_eq!(codes, vec![vec!["reserved-network"]], "{name}");
    }
}

#[test]
fn host_networking_by_name_through_a_provider_is_refused() {
    // `net-host` is an ordinary name the provider covers; `host` would be
    // covered by a `*` provider, which must not make it.
    let h = host(
        "host: h
providers:
  - network: \"*\"
    run: [/bin/true]
",
    );
    let s = specs("container: evil\nneeds:\n  - network: host\n---\ncontainer: ok\nneeds:\n  - network: net-host\n");
    let plan = solve(&h, &State::new("h"), &[&s[0], &s[1]]);
    assert!(!plan.container("evil").unwrap().satisfied);
    assert!(plan.container("ok").unwrap().satisfied);
    assert!(plan.steps.iter().all(|st| st.name != "host"), "{plan:#?}");
}

#[test]
fn a_reserved_network_named_exactly_by_the_host_is_the_hosts_choice() {
    // The host itself wrote `network: bridge`: an exact provide serves it,
    // for a need and as the implied network of an address.
    let (ok, codes) =
        plan_codes("container: c\nneeds:\n  - network: bridge\n  - ipv6: on-bridge\n");
    assert!(ok, "{codes:?}");
}

#[test]
fn an_address_on_a_reserved_network_cannot_be_left_to_a_provider() {
    // The address names network `host`; only the `*` provider would make it,
    // and no provider makes an engine-reserved network: the manifest is
    // refused as naming a network it does not provide.
    let text = "berth: 1
host: h
provides:
  - ipv6: a
    address: 2001:db8::20
    network: host
providers:
  - network: \"*\"
    run: [/bin/true]
";
    let loaded = load_str(Path::new("host.yaml"), text, &LoadOptions::default());
    let codes: Vec<&str> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(codes, vec!["berth::host::unknown-network"]);
}

#[test]
fn an_exact_reserved_network_in_the_host_is_warned_about() {
    let loaded = load_str(
        Path::new("host.yaml"),
        &format!("berth: 1\n{OPEN_HOST}"),
        &LoadOptions::default(),
    );
    let codes: Vec<&str> = loaded.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, vec!["berth::host::reserved-network"]);
    assert!(!loaded.diagnostics[0].is_error());
}

#[test]
fn host_networking_by_name_is_not_placed_either() {
    let h = host(OPEN_HOST);
    let s = specs(
        "container: evil\nneeds:\n  - network: host\n---\ncontainer: fine\nneeds:\n  - network: anything\n---\ncontainer: chosen\nneeds:\n  - network: bridge\n",
    );
    let hosts = [&h];
    let refs: Vec<_> = s.iter().collect();
    let p = place(&hosts, &refs);
    assert_eq!(p.placements[0].host, None, "{p:#?}");
    assert_eq!(p.placements[1].host, Some(0));
    assert_eq!(p.placements[2].host, Some(0));
}

/// The edits of the first container of `spec_yaml` on `host_yaml`, solved.
fn edits_of(host_yaml: &str, spec_yaml: &str) -> Edits {
    let h = host(host_yaml);
    let s = specs(spec_yaml);
    let plan = solve(&h, &State::new("h"), &[&s[0]]);
    assert!(plan.satisfied, "{plan:#?}");
    edits::resolve(&plan.containers[0], &s[0]).unwrap()
}

#[test]
fn a_pattern_served_network_cannot_pick_an_lxc_bridge() {
    let e = edits_of(
        "host: h\nprovides:\n  - network: \"*\"\n",
        "container: c\nneeds:\n  - network: lxcbr0\n",
    );
    assert!(matches!(
        lxc::check_links(&e),
        Err(EmitError::LxcLink { .. })
    ));
    // With a `bridge:` the host chose the link, whatever the name.
    let e = edits_of(
        "host: h\nprovides:\n  - network: \"*\"\n    bridge: br-tenants\n",
        "container: c\nneeds:\n  - network: lxcbr0\n",
    );
    assert_eq!(lxc::check_links(&e), Ok(()));
    assert!(lxc::emit(&e, &|_| None)
        .0
        .contains("lxc.net.0.link = br-tenants"));
}

#[test]
fn a_network_name_longer_than_15_characters_is_refused_as_an_lxc_link() {
    let e = edits_of(
        "host: h\nprovides:\n  - network: a-very-long-net-name\n",
        "container: c\nneeds:\n  - network: a-very-long-net-name\n",
    );
    match lxc::check_links(&e) {
        Err(EmitError::LxcLink { why, .. }) => assert!(why.contains("15"), "{why}"),
        other => panic!("{other:?}"),
    }
    let e = edits_of(
        "host: h\nprovides:\n  - network: exactly-15-byte\n",
        "container: c\nneeds:\n  - network: exactly-15-byte\n",
    );
    assert_eq!(lxc::check_links(&e), Ok(()));
}

#[test]
fn lxc_keeps_trailing_blanks_of_environment_values_or_refuses_them() {
    let mut e = Edits {
        container: "c".into(),
        ..Edits::default()
    };
    e.env.insert("GREETING".into(), "hello ".into());
    assert!(matches!(lxc::check_env(&e), Err(EmitError::LxcEnv { .. })));
    e.env.insert("GREETING".into(), " hello".into());
    assert_eq!(lxc::check_env(&e), Ok(()));
}

#[test]
fn compose_output_keeps_a_blank_before_u2028_and_u2029() {
    let mut e = Edits {
        container: "c".into(),
        image: Some("img".into()),
        ..Edits::default()
    };
    let value = "a \u{2028}b \u{2029}c \u{85}d";
    e.env.insert("V".into(), value.into());
    let text = compose::emit(&[e]);
    assert!(
        !text.contains('\u{2028}') && !text.contains('\u{2029}'),
        "{text}"
    );
    // YAML 1.1 readers (docker-compose's PyYAML) break lines at the raw
    // characters; escaped, every reader gets the value back.
    let budget = std::sync::atomic::AtomicUsize::new(0);
    let parsed = parse_yaml(&text, Base::default(), &budget);
    assert!(parsed.error.is_none(), "{:?}\n{text}", parsed.error);
    let got = ["services", "c", "environment", "V"]
        .iter()
        .try_fold(&parsed.documents[0], |n, k| n.get(k))
        .and_then(|n| n.text())
        .map(str::to_string);
    assert_eq!(got.as_deref(), Some(value));
}

#[test]
fn device_paths_with_a_colon_are_refused_before_anything_is_recorded() {
    let text = "berth: 1\nhost: h\nprovides:\n  - device: disk\n    path: /dev/disk/by-path/pci-0000:00:1f.2-ata-1\n";
    let loaded = load_str(Path::new("host.yaml"), text, &LoadOptions::default());
    let codes: Vec<&str> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(
        codes,
        vec!["berth::host::bad-path"],
        "{:#?}",
        loaded.diagnostics
    );
    let spec = "berth: 1\ncontainer: c\nneeds:\n  - device: disk\n    path: /dev/x:y\n";
    let loaded = load_str(Path::new("berth.yaml"), spec, &LoadOptions::default());
    assert!(loaded
        .diagnostics
        .iter()
        .any(|d| d.is_error() && d.message.contains("contains `:`")));
}

const SECRET_HOST: &str = "host: h
providers:
  - secret: \"*\"
    run: [/bin/true]
    allow: [payments, \"image:corp/*\"]
";

#[test]
fn provider_made_resources_can_be_restricted_with_allow() {
    let h = host(SECRET_HOST);
    let s = specs(
        "container: evil\nneeds:\n  - secret: payments-key\n    mount: /k\n---\ncontainer: payments\nneeds:\n  - secret: payments-key\n    mount: /k\n",
    );
    let plan = solve(&h, &State::new("h"), &[&s[0]]);
    let c = &plan.containers[0];
    assert!(!c.satisfied);
    assert_eq!(c.unmet[0].reasons[0].code(), "not-allowed");
    assert!(plan.steps.is_empty(), "the provider is never asked");
    let plan = solve(&h, &State::new("h"), &[&s[1]]);
    assert!(plan.satisfied);
    assert_eq!(plan.steps.len(), 1);
    // Placement agrees.
    let hosts = [&h];
    let refs: Vec<_> = s.iter().collect();
    let p = place(&hosts, &refs);
    assert_eq!(p.placements[0].host, None);
    assert_eq!(p.placements[1].host, Some(0));
}

#[test]
fn what_an_allow_listed_provider_made_is_not_bound_by_others() {
    let h = host(SECRET_HOST);
    let st = made_for_payments();
    let s = specs("container: evil\nneeds:\n  - secret: payments-key\n    mount: /k\n");
    let plan = solve(&h, &st, &[&s[0]]);
    let c = &plan.containers[0];
    assert!(!c.satisfied, "{plan:#?}");
    assert_eq!(c.unmet[0].reasons[0].code(), "not-allowed");
}

#[test]
fn allow_on_a_provider_entry_loads() {
    let text = format!("berth: 1\n{SECRET_HOST}");
    let loaded = load_str(Path::new("host.yaml"), &text, &LoadOptions::default());
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    match &loaded.documents[0] {
        berth_specs::Document::Host(h) => assert_eq!(
            h.providers[0].allow.as_deref(),
            Some(&["payments".to_string(), "image:corp/*".to_string()][..])
        ),
        other => panic!("{other:?}"),
    }
}

/// A state where the provider behind `secret: "*"` made `payments-key` for
/// `payments`.
fn made_for_payments() -> State {
    let mut st = State::new("h");
    st.provided.insert(
        "secret/payments-key".into(),
        ProvidedRecord::new(
            berth_specs::Kind::Secret,
            "payments-key".into(),
            vec!["/bin/true".into()],
            serde_json::json!({"file": "/run/berth/payments-key"}),
            vec!["payments".into()],
        ),
    );
    st
}

fn not_allowed_list(plan: &berth_engine::plan::Plan) -> Option<Vec<String>> {
    match &plan.containers[0].unmet.first()?.reasons[0] {
        Reason::NotAllowed { allow, .. } => Some(allow.clone()),
        _ => None,
    }
}

#[test]
fn a_provider_allow_is_read_from_the_current_manifest_at_every_bind() {
    let st = made_for_payments();
    let reports = specs("container: reports\nneeds:\n  - secret: payments-key\n    mount: /k\n");
    let payments = specs("container: payments\nneeds:\n  - secret: payments-key\n    mount: /k\n");
    let with_allow = |allow: &str| {
        host(&format!(
            "host: h\nproviders:\n  - secret: \"*\"\n    run: [/bin/true]\n    allow: {allow}\n"
        ))
    };
    // Admitted while the manifest says so...
    let plan = solve(&with_allow("[payments, reports]"), &st, &[&reports[0]]);
    assert!(plan.satisfied, "{plan:#?}");
    // ...refused at the next bind once `allow` is tightened, explained like
    // any allow denial (the list as the manifest now says it).
    let plan = solve(&with_allow("[payments]"), &st, &[&reports[0]]);
    assert!(!plan.satisfied);
    assert_eq!(plan.containers[0].unmet[0].reasons[0].code(), "not-allowed");
    assert_eq!(not_allowed_list(&plan), Some(vec!["payments".to_string()]));
    assert!(plan.steps.is_empty());
    let plan = solve(&with_allow("[payments]"), &st, &[&payments[0]]);
    assert!(plan.satisfied);
}

#[test]
fn removing_the_provider_from_the_manifest_does_not_open_what_it_made_to_everyone() {
    // Once, no covering provider meant no `allow`: every spec could bind it.
    let st = made_for_payments();
    let h = host("host: h\nprovides:\n  - volume: other\n    path: /srv/o\n");
    let evil = specs("container: evil\nneeds:\n  - secret: payments-key\n    mount: /k\n");
    let plan = solve(&h, &st, &[&evil[0]]);
    assert!(!plan.satisfied, "{plan:#?}");
    assert_eq!(not_allowed_list(&plan), Some(vec!["payments".to_string()]));
    // What already uses it keeps it.
    let payments = specs("container: payments\nneeds:\n  - secret: payments-key\n    mount: /k\n");
    assert!(solve(&h, &st, &[&payments[0]]).satisfied);
}
