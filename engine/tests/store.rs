//! The state store on a real filesystem: folder creation and mode, atomic
//! round trips, the exclusive lock, and corrupt / foreign / future files.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use berth_engine::state::{Reservation, State};
use berth_engine::store::{StateFile, StoreError};
use berth_specs::Kind;

fn sample() -> State {
    let mut s = State::new("web-01");
    s.reservations.insert(
        "ipv6/app".into(),
        Reservation {
            kind: Kind::Ipv6,
            name: "app".into(),
            pool: "2001:db8::100/120".into(),
            value: "2001:db8::100".into(),
            holder: Some("app".into()),
            last_holder: None,
        },
    );
    s
}

#[test]
fn a_missing_folder_is_created_private_and_writes_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b/state");
    let file = StateFile::new(&dir, "web-01");
    let mut locked = file.lock().unwrap();
    assert_eq!(*locked.state(), State::new("web-01"));
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    locked.write(&sample()).unwrap();
    drop(locked);
    assert_eq!(file.load_readonly().unwrap(), sample());
    assert_eq!(file.lock().unwrap().state(), &sample());
    let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Only the state file and its lock remain: no temp file left behind.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["web-01.json", "web-01.json.lock"]);
}

#[test]
fn a_readonly_load_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let file = StateFile::new(&dir, "web-01");
    assert_eq!(file.load_readonly().unwrap(), State::new("web-01"));
    assert!(!dir.exists());
}

#[test]
fn a_corrupt_file_is_kept_and_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    let garbage = b"{\"berth_state\": 1, \"host\": \"web-01\", \"holdings\": {tru";
    std::fs::write(file.path(), garbage).unwrap();

    let e = file.load_readonly().unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { copy: None, .. }), "{e}");
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "a read-only load wrote something"
    );

    let e = file.lock().unwrap_err();
    let StoreError::Corrupt {
        path,
        copy: Some(copy),
        ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!(path, file.path());
    assert!(e.to_string().contains("web-01.json is corrupt"), "{e}");
    assert!(e.to_string().contains(".corrupt-"), "{e}");
    assert_eq!(std::fs::read(copy).unwrap(), garbage);
    assert_eq!(std::fs::read(file.path()).unwrap(), garbage);
    // Trying again keeps the same copy instead of piling up new ones.
    let again = file.lock().unwrap_err();
    assert!(matches!(again, StoreError::Corrupt { copy: Some(ref c), .. } if c == copy));
}

#[test]
fn unknown_keys_future_versions_and_foreign_hosts_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    let mut v = serde_json::to_value(sample()).unwrap();
    v["surprise"] = serde_json::json!(1);
    std::fs::write(file.path(), v.to_string()).unwrap();
    assert!(matches!(
        file.load_readonly(),
        Err(StoreError::Corrupt { .. })
    ));

    std::fs::write(file.path(), r#"{"berth_state": 7, "host": "web-01"}"#).unwrap();
    let e = file.lock().unwrap_err();
    assert!(matches!(e, StoreError::Version { found: 7, .. }), "{e}");

    let other = serde_json::to_string(&State::new("db-01")).unwrap();
    std::fs::write(file.path(), other).unwrap();
    let e = file.load_readonly().unwrap_err();
    assert!(matches!(e, StoreError::HostMismatch { .. }), "{e}");
}

#[test]
fn the_lock_is_exclusive_across_open_files() {
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    let held = file.lock().unwrap();
    let other = file.clone();
    let start = Instant::now();
    let waiter = std::thread::spawn(move || {
        let mut l = other.lock().unwrap();
        let waited = start.elapsed();
        // It sees what the first holder wrote before releasing.
        assert_eq!(l.state(), &sample());
        l.write(&State::new("web-01")).unwrap();
        waited
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut held = held;
    held.write(&sample()).unwrap();
    drop(held);
    let waited = waiter.join().unwrap();
    assert!(
        waited >= Duration::from_millis(300),
        "second lock taken after {waited:?}"
    );
    assert_eq!(file.load_readonly().unwrap(), State::new("web-01"));
}

#[test]
fn host_names_that_are_not_file_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in ["../etc", ".hidden", ""] {
        let e = StateFile::new(tmp.path(), bad).lock().unwrap_err();
        assert!(matches!(e, StoreError::BadHostName(_)), "{bad}: {e}");
    }
}

/// The fenced block after `<!-- example: NAME -->` in a doc.
fn doc_example(doc: &str, name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(doc);
    let text = std::fs::read_to_string(path).unwrap();
    let start = text
        .find(&format!("<!-- example: {name} -->"))
        .expect("marker");
    let rest = &text[start..];
    let body = &rest[rest.find("```").unwrap()..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

#[test]
fn docs_state_example_parses() {
    let tmp = tempfile::tempdir().unwrap();
    let example = doc_example("state.md", "state");
    std::fs::write(tmp.path().join("app-01.json"), &example).unwrap();
    let s = StateFile::new(tmp.path(), "app-01")
        .load_readonly()
        .unwrap();
    assert_eq!(s.reservations["ipv6/app"].value, "2001:db8:0:1::101");
    assert_eq!(s.provided["volume/nfs-media"].users, ["app"]);
    assert_eq!(s.holdings["app"].bindings.len(), 2);
}
