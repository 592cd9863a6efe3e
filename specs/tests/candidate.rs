//! `validate::candidate_conflicts`: a provide that is not in the manifest (what
//! a provider printed) is checked against the manifest and earlier records in
//! place, and only the problems that involve it come back.

use std::path::Path;

use berth_specs::load::{load_str, provide_detail_from_json, LoadOptions};
use berth_specs::validate::candidate_conflicts;
use berth_specs::{Document, HostManifest, Kind, NamePattern, Provide, Span};
use serde_json::json;

const HOST: &str = "berth: 1
host: h
provides:
  - network: net
    subnet6: 2001:db8::/64
    gateway6: 2001:db8::1
  - ipv6: web
    address: 2001:db8::5
    network: net
";

fn host() -> HostManifest {
    let loaded = load_str(Path::new("host.yaml"), HOST, &LoadOptions::default());
    match loaded.documents.into_iter().next() {
        Some(Document::Host(h)) => h,
        other => panic!("{other:?} {:#?}", loaded.diagnostics),
    }
}

fn address(name: &str, value: serde_json::Value) -> Provide {
    Provide {
        kind: Kind::Ipv6,
        name: NamePattern::Exact(name.into()),
        detail: provide_detail_from_json(&Kind::Ipv6, name, &value).expect("valid form"),
        allow: None,
        span: Span::default(),
    }
}

fn codes(h: &HostManifest, others: &[Provide], candidate: &Provide) -> Vec<&'static str> {
    candidate_conflicts(h, others, candidate)
        .iter()
        .map(|d| d.code.as_str())
        .collect()
}

#[test]
fn a_fresh_address_has_no_conflict_though_others_have_some() {
    let h = host();
    // Two records that duplicate each other: not the candidate's problem.
    let others = [
        address("a", json!({"address": "2001:db8::7", "network": "net"})),
        address("b", json!({"address": "2001:db8::7", "network": "net"})),
    ];
    let fresh = address("new", json!({"address": "2001:db8::9", "network": "net"}));
    assert_eq!(codes(&h, &others, &fresh), Vec::<&str>::new());
    let dup = address("new", json!({"address": "2001:db8::7", "network": "net"}));
    assert_eq!(codes(&h, &others, &dup), ["berth::host::duplicate-address"]);
}

#[test]
fn an_address_the_manifest_or_a_record_has_is_refused() {
    let h = host();
    let dup = address(
        "new",
        json!({"address": "2001:db8:0:0::5", "network": "net"}),
    );
    assert_eq!(codes(&h, &[], &dup), ["berth::host::duplicate-address"]);
    let record = address("old", json!({"address": "2001:db8::9", "network": "net"}));
    let again = address("new", json!({"address": "2001:db8::9", "network": "net"}));
    assert_eq!(
        codes(&h, &[record], &again),
        ["berth::host::duplicate-address"]
    );
}

#[test]
fn the_gateway_and_an_address_outside_the_subnet_are_refused() {
    let h = host();
    let gw = address("new", json!({"address": "2001:db8::1", "network": "net"}));
    assert_eq!(codes(&h, &[], &gw), ["berth::host::duplicate-address"]);
    let outside = address("new", json!({"address": "2001:db9::1", "network": "net"}));
    assert_eq!(
        codes(&h, &[], &outside),
        ["berth::host::address-outside-subnet"]
    );
}
