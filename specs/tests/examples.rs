//! The bundled examples load without any diagnostic.

use std::path::Path;

mod common;

use berth_specs::load::{load_file, LoadOptions};
use berth_specs::Document;

#[test]
fn every_example_loads_cleanly() {
    let files = common::examples();
    assert!(files.len() >= 4, "{files:?}");
    for f in files {
        let loaded = load_file(&f, &LoadOptions::default());
        assert!(
            loaded.diagnostics.is_empty(),
            "{}: {:#?}",
            f.display(),
            loaded.diagnostics
        );
        assert_eq!(loaded.documents.len(), 1, "{}", f.display());
    }
}

#[test]
fn seed_example_means_what_the_issue_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed");
    let host = load_file(&root.join("host.yaml"), &LoadOptions::default());
    let Document::Host(h) = &host.documents[0] else {
        panic!("not a host")
    };
    assert_eq!(h.host, "web-01");
    assert_eq!(h.provides.len(), 4);
    let need = load_file(&root.join("webserver/berth.yaml"), &LoadOptions::default());
    let Document::Need(n) = &need.documents[0] else {
        panic!("not a need")
    };
    assert_eq!(n.container, "webserver");
    assert_eq!(n.needs.len(), 3);
    assert_eq!(n.needs[0].span.line, 7);
}
