//! The state store on a real filesystem: folder creation and mode, atomic
//! round trips, the exclusive lock, and corrupt / foreign / future files.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use berth_engine::state::{BindingSource, ContainerHolding, HeldBinding, Reservation, State};
use berth_engine::store::{StateFile, StoreError};
use berth_specs::Kind;
use serde_json::{json, Value};

fn sample() -> State {
    let mut s = State::new("web-01");
    s.holdings.insert(
        "app".into(),
        ContainerHolding {
            spec_digest: "fnv1a64:0".into(),
            bindings: vec![HeldBinding {
                kind: Kind::Ipv6,
                name: "app".into(),
                source: BindingSource::Pool,
                provide: "*".into(),
                exclusive: true,
                value: json!({"address": "2001:db8::100", "network": "net"}).into(),
            }],
        },
    );
    s.reservations.insert(
        "ipv6/app".into(),
        Reservation {
            kind: Kind::Ipv6,
            name: "app".into(),
            pool: "2001:db8::100/120".into(),
            value: "2001:db8::100".into(),
            holder: Some("app".into()),
            last_holder: None,
            last_digest: None,
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
    assert_eq!(
        names,
        [
            "web-01.db",
            "web-01.db-shm",
            "web-01.db-wal",
            "web-01.json.lock"
        ]
    );
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
    std::fs::write(file.json_path(), garbage).unwrap();

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
    assert_eq!(path, file.json_path());
    assert!(e.to_string().contains("web-01.json is corrupt"), "{e}");
    assert!(e.to_string().contains(".corrupt-"), "{e}");
    assert_eq!(std::fs::read(copy).unwrap(), garbage);
    assert_eq!(std::fs::read(file.json_path()).unwrap(), garbage);
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
    std::fs::write(file.json_path(), v.to_string()).unwrap();
    assert!(matches!(
        file.load_readonly(),
        Err(StoreError::Corrupt { .. })
    ));

    std::fs::write(file.json_path(), r#"{"berth_state": 7, "host": "web-01"}"#).unwrap();
    let e = file.lock().unwrap_err();
    assert!(matches!(e, StoreError::Version { found: 7, .. }), "{e}");

    let other = serde_json::to_string(&State::new("db-01")).unwrap();
    std::fs::write(file.json_path(), other).unwrap();
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

/// Writes `sample()` edited by `edit` and returns what both loads say; the
/// locked load must have kept a copy.
fn refused(edit: impl Fn(&mut Value)) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    let mut v = serde_json::to_value(sample()).unwrap();
    edit(&mut v);
    let bytes = serde_json::to_vec_pretty(&v).unwrap();
    std::fs::write(file.json_path(), &bytes).unwrap();
    let e = file.load_readonly().unwrap_err();
    let StoreError::Corrupt {
        reason, copy: None, ..
    } = &e
    else {
        panic!("{e}")
    };
    let reason = reason.clone();
    let e = file.lock().unwrap_err();
    let StoreError::Corrupt {
        copy: Some(copy), ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!(std::fs::read(copy).unwrap(), bytes);
    assert_eq!(std::fs::read(file.json_path()).unwrap(), bytes);
    reason
}

#[test]
fn the_sample_is_meaningful() {
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    std::fs::write(file.json_path(), serde_json::to_vec(&sample()).unwrap()).unwrap();
    assert_eq!(file.lock().unwrap().state(), &sample());
}

#[test]
fn a_reservation_value_that_is_not_an_address_is_corrupt() {
    let r = refused(|v| v["reservations"]["ipv6/app"]["value"] = json!("garbage"));
    assert_eq!(
        r,
        "`reservations.ipv6/app.value` is `garbage`, not an IPv6 address"
    );
}

#[test]
fn an_ipv6_value_in_an_ipv4_reservation_is_corrupt() {
    let r = refused(|v| {
        v["reservations"]["ipv6/app"]["kind"] = json!("ipv4");
        let r = v["reservations"]["ipv6/app"].take();
        v["reservations"] = json!({ "ipv4/app": r });
    });
    assert_eq!(
        r,
        "`reservations.ipv4/app.value` is `2001:db8::100`, not an IPv4 address"
    );
}

#[test]
fn a_port_reservation_out_of_range_is_corrupt() {
    let r = refused(|v| {
        v["holdings"] = json!({});
        v["reservations"] = json!({"port/web": {"kind": "port", "name": "web",
            "pool": "8000-8999", "value": "70000", "holder": null}});
    });
    assert_eq!(
        r,
        "`reservations.port/web.value` is `70000`, not a port (1-65535)"
    );
}

#[test]
fn a_holding_value_that_is_not_an_address_of_its_kind_is_corrupt() {
    let r = refused(|v| v["holdings"]["app"]["bindings"][0]["value"]["address"] = json!("garbage"));
    assert_eq!(
        r,
        "`holdings.app.bindings[0].value.address` is `garbage`, not an IPv6 address"
    );
    let r = refused(|v| {
        v["holdings"]["app"]["bindings"][0]["kind"] = json!("ipv4");
    });
    assert_eq!(
        r,
        "`holdings.app.bindings[0].value.address` is `2001:db8::100`, not an IPv4 address"
    );
}

#[test]
fn a_holding_key_that_is_not_a_container_name_is_corrupt() {
    let r = refused(|v| {
        let h = v["holdings"]["app"].take();
        v["holdings"] = json!({ "../../x": h });
    });
    assert_eq!(
        r,
        "holdings key `../../x` is not a container name (a container name is `[a-z0-9][a-z0-9_.-]{0,62}`)"
    );
}

#[test]
fn control_characters_anywhere_are_corrupt() {
    let r = refused(|v| v["holdings"]["app"]["spec_digest"] = json!("fnv\u{1b}[2J"));
    assert_eq!(
        r,
        "`holdings.app.spec_digest` holds the control character '\\u{1b}'; berth never writes one"
    );
    let r = refused(|v| {
        v["pending_releases"] = json!([{"kind": "volume", "name": "v",
        "run": ["/bin/p", "a\nb"], "provided": null, "users": []}])
    });
    assert_eq!(
        r,
        "`pending_releases[0].run[1]` holds the control character '\\n'; berth never writes one"
    );
}

#[test]
fn a_reservation_its_holder_does_not_hold_is_corrupt() {
    let r = refused(|v| v["reservations"]["ipv6/app"]["holder"] = json!("db"));
    assert_eq!(
        r,
        "`reservations.ipv6/app.holder` names `db`, which does not hold `2001:db8::100` (no pool binding of it in `holdings.db`)"
    );
    // Held, but another address.
    let r = refused(|v| {
        v["holdings"]["app"]["bindings"][0]["value"]["address"] = json!("2001:db8::101")
    });
    assert!(r.contains("names `app`, which does not hold"), "{r}");
}

#[test]
fn one_exclusive_value_held_by_two_containers_is_corrupt() {
    let r = refused(|v| {
        let h = v["holdings"]["app"].clone();
        v["holdings"]["db"] = h;
    });
    assert_eq!(
        r,
        "`holdings.db.bindings[0]` holds the exclusive ipv6 `app` ({\"address\":\"2001:db8::100\",\"network\":\"net\"}) that `app` holds too"
    );
    // Shared (non-exclusive) holdings are fine.
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    let mut s = sample();
    let shared = HeldBinding {
        kind: Kind::Volume,
        name: "data".into(),
        source: BindingSource::Provides,
        provide: "data".into(),
        exclusive: false,
        value: json!({"path": "/srv/data"}).into(),
    };
    for c in ["app", "db"] {
        s.holdings
            .entry(c.into())
            .or_default()
            .bindings
            .push(shared.clone());
    }
    std::fs::write(file.json_path(), serde_json::to_vec(&s).unwrap()).unwrap();
    assert_eq!(file.load_readonly().unwrap(), s);
}

#[test]
fn two_reservations_of_one_value_are_corrupt() {
    let r = refused(|v| {
        let mut r = v["reservations"]["ipv6/app"].clone();
        r["name"] = json!("db");
        r["holder"] = json!(null);
        v["reservations"]["ipv6/db"] = r;
    });
    assert_eq!(
        r,
        "`reservations.ipv6/app` and `reservations.ipv6/db` both reserve `2001:db8::100`"
    );
}

/// The holdings and the reservations are checked side by side: of several
/// faults, the one reported is still the first of the holdings, else the
/// first of the reservations in key order (its own fault, or a holder that
/// does not hold it).
#[test]
fn of_several_faults_the_first_is_reported() {
    let garbage = |v: &mut Value, key: &str| {
        let mut r = v["reservations"]["ipv6/app"].clone();
        r["name"] = json!(key);
        r["holder"] = json!(null);
        r["value"] = json!("garbage");
        v["reservations"][format!("ipv6/{key}")] = r;
    };
    let r = refused(|v| {
        v["holdings"]["app"]["bindings"][0]["value"]["address"] = json!("nonsense");
        garbage(v, "a");
    });
    assert_eq!(
        r,
        "`holdings.app.bindings[0].value.address` is `nonsense`, not an IPv6 address"
    );
    let r = refused(|v| {
        v["reservations"]["ipv6/app"]["holder"] = json!("db");
        garbage(v, "zz");
    });
    assert!(
        r.starts_with("`reservations.ipv6/app.holder` names `db`"),
        "{r}"
    );
    let r = refused(|v| {
        v["reservations"]["ipv6/app"]["holder"] = json!("db");
        garbage(v, "a");
    });
    assert_eq!(
        r,
        "`reservations.ipv6/a.value` is `garbage`, not an IPv6 address"
    );
    // A second pool after a valid one is checked too.
    let r = refused(|v| {
        let mut r = v["reservations"]["ipv6/app"].clone();
        r["name"] = json!("b");
        r["holder"] = json!(null);
        r["value"] = json!("2001:db8::101");
        r["pool"] = json!("10.0.0.0/24");
        v["reservations"]["ipv6/b"] = r;
    });
    assert_eq!(
        r,
        "`reservations.ipv6/b.pool` is `10.0.0.0/24`, not a ipv6 pool"
    );
}

#[test]
fn a_reservation_under_another_key_is_corrupt() {
    let r = refused(|v| {
        let r = v["reservations"]["ipv6/app"].take();
        v["reservations"] = json!({ "ipv6/other": r });
    });
    assert_eq!(
        r,
        "`reservations.ipv6/other` does not match its kind and name (`ipv6/app`)"
    );
}

#[test]
fn a_json_state_file_is_migrated_once_and_kept_as_a_backup() {
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    let bytes = serde_json::to_vec_pretty(&sample()).unwrap();
    std::fs::write(file.json_path(), &bytes).unwrap();
    // Read-only loads read the JSON file and migrate nothing.
    assert_eq!(file.load_readonly().unwrap(), sample());
    assert!(!file.path().exists());
    // The first locked load migrates it.
    assert_eq!(file.lock().unwrap().state(), &sample());
    assert!(!file.json_path().exists());
    assert_eq!(
        std::fs::read(tmp.path().join("web-01.json.bak")).unwrap(),
        bytes
    );
    assert_eq!(file.load_readonly().unwrap(), sample());
    assert_eq!(file.lock().unwrap().state(), &sample());
}

#[test]
fn writes_touch_only_the_rows_that_changed_and_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    let mut locked = file.lock().unwrap();
    locked.write(&sample()).unwrap();
    let mut next = sample();
    next.holdings.clear();
    for r in next.reservations.values_mut() {
        r.holder = None;
    }
    next.pending_releases = next.provided.values().cloned().collect();
    next.provided.clear();
    locked.write(&next).unwrap();
    drop(locked);
    assert_eq!(file.load_readonly().unwrap(), next);
    let mut locked = file.lock().unwrap();
    assert_eq!(locked.state(), &next);
    locked.write(&sample()).unwrap();
    drop(locked);
    assert_eq!(file.load_readonly().unwrap(), sample());
}

#[test]
fn a_store_that_is_not_a_database_or_holds_nonsense_is_corrupt_and_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    std::fs::write(file.path(), b"not a database, not at all, no".repeat(200)).unwrap();
    let e = file.load_readonly().unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { copy: None, .. }), "{e}");
    let e = file.lock().unwrap_err();
    assert!(
        matches!(e, StoreError::Corrupt { copy: Some(_), .. }),
        "{e}"
    );

    // A row edited by hand (sqlite3) into something berth never writes.
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    file.lock().unwrap().write(&sample()).unwrap();
    let conn = rusqlite::Connection::open(file.path()).unwrap();
    conn.execute(
        "UPDATE reservations SET value = 'garbage' WHERE key = 'ipv6/app'",
        [],
    )
    .unwrap();
    drop(conn);
    let e = file.load_readonly().unwrap_err();
    let StoreError::Corrupt { reason, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(
        reason,
        "`reservations.ipv6/app.value` is `garbage`, not an IPv6 address"
    );
    assert!(matches!(
        file.lock().unwrap_err(),
        StoreError::Corrupt { copy: Some(_), .. }
    ));
}

/// Every berth process is short-lived, and the first to open the store
/// re-reads its write-ahead log; left to SQLite's own checkpoints the log
/// grew with every command and every command read it all (issue 14). Writes
/// keep it bounded.
#[test]
fn the_write_ahead_log_stays_small_across_many_short_lived_writers() {
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    let mut wal = file.path().as_os_str().to_os_string();
    wal.push("-wal");
    let mut biggest = 0;
    for i in 0..300u32 {
        let mut locked = file.lock().unwrap();
        let mut s = locked.state().clone();
        let c = format!("c{i}");
        s.holdings.insert(
            c.clone(),
            ContainerHolding {
                spec_digest: format!("sha256:{i:064x}"),
                bindings: vec![HeldBinding {
                    kind: Kind::Ipv6,
                    name: c.clone(),
                    source: BindingSource::Pool,
                    provide: "*".into(),
                    exclusive: true,
                    value:
                        json!({"address": format!("2001:db8::{:x}", 0x100 + i), "network": "net"})
                            .into(),
                }],
            },
        );
        s.reservations.insert(
            format!("ipv6/{c}"),
            Reservation {
                kind: Kind::Ipv6,
                name: c.clone(),
                pool: "2001:db8::/64".into(),
                value: format!("2001:db8::{:x}", 0x100 + i),
                holder: Some(c),
                last_holder: None,
                last_digest: None,
            },
        );
        locked.write(&s).unwrap();
        drop(locked);
        biggest = biggest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    assert!(biggest <= 2 << 20, "the log reached {biggest} bytes");
    assert_eq!(file.load_readonly().unwrap().holdings.len(), 300);
}

/// docs/state.md's `sqlite3` examples, run against a store holding
/// [`sample`]: each exits 0 and the reservation query shows the address.
#[test]
fn the_documented_sqlite3_queries_run() {
    if std::process::Command::new("sqlite3")
        .arg("-version")
        .output()
        .is_err()
    {
        let msg = "the_documented_sqlite3_queries_run: SKIPPED, missing: sqlite3 (Debian package sqlite3)";
        // Under CI a missing tool is a failure (.ci/setup installs it).
        assert!(!berth_testkit::runtime::in_ci(), "{msg}");
        eprintln!("{msg}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    file.lock().unwrap().write(&sample()).unwrap();
    let text = doc_example("state.md", "sqlite3").replace("\\\n", " ");
    let mut outputs = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let argv = shlex::split(line).expect("a shell-quoted line");
        assert_eq!(argv[0], "sqlite3", "{line}");
        let argv: Vec<String> = argv
            .into_iter()
            .map(|a| a.replace("/var/lib/berth/web-01.db", file.path().to_str().unwrap()))
            .collect();
        let o = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        outputs.push(String::from_utf8(o.stdout).unwrap());
    }
    assert_eq!(outputs.len(), 4);
    assert!(outputs[0].contains("reservations"), "{}", outputs[0]);
    assert!(outputs[0].contains("held"), "{}", outputs[0]);
    assert_eq!(outputs[1].trim(), "app|2001:db8::100|app|");
    assert!(outputs[2].contains("app|"), "{}", outputs[2]);
}

/// `taken_runs` (the values a slice reads instead of every reservation of
/// its kind) is made the first time berth writes a store of the earlier
/// format, which slices read by scanning until then; a run longer than berth
/// ever writes is corruption, not an allocation without bound.
#[test]
fn taken_runs_are_made_for_an_earlier_store_and_a_huge_run_is_corrupt() {
    use berth_engine::store::{taken_runs_check, Scope};
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    file.lock().unwrap().write(&sample()).unwrap();
    let v = u128::from("2001:db8::100".parse::<std::net::Ipv6Addr>().unwrap());
    let want = vec![("ipv6".to_string(), v, v)];
    assert_eq!(
        taken_runs_check(file.path()).unwrap(),
        (want.clone(), want.clone())
    );

    let conn = rusqlite::Connection::open(file.path()).unwrap();
    conn.execute("DROP TABLE taken_runs", []).unwrap();
    drop(conn);
    let text = "berth: 1\ncontainer: other\nneeds:\n  - ipv6: other\n";
    let opts = berth_specs::load::LoadOptions::default();
    let loaded = berth_specs::load::load_str(std::path::Path::new("b.yaml"), text, &opts);
    let Some(berth_specs::Document::Need(spec)) = loaded.documents.into_iter().next() else {
        panic!("the spec loads")
    };
    let scope = Scope::of_specs(&[&spec]);
    let read = file.load_readonly_for(&scope).unwrap();
    assert_eq!(read.store_taken.get(&Kind::Ipv6), Some(&vec![v]));
    let mut next = sample();
    next.holdings.clear();
    next.reservations.values_mut().for_each(|r| r.holder = None);
    file.lock().unwrap().write(&next).unwrap();
    assert_eq!(taken_runs_check(file.path()).unwrap(), (want.clone(), want));
    assert_eq!(
        file.load_readonly_for(&scope)
            .unwrap()
            .store_taken
            .get(&Kind::Ipv6),
        Some(&vec![v])
    );

    let conn = rusqlite::Connection::open(file.path()).unwrap();
    conn.execute(
        "UPDATE taken_runs SET hi = ?1",
        [u128::MAX.to_be_bytes().to_vec()],
    )
    .unwrap();
    drop(conn);
    let e = file.load_readonly_for(&scope).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
}

/// A state with one of everything the view prints: pool, static exclusive,
/// shared and provider-made holdings (a custom kind's nested value among
/// them), held, released and purgeable reservations, provider records and
/// pending releases (one an intent, `provided: null`).
fn rich() -> State {
    let mut s = sample();
    let bind =
        |kind: Kind, name: &str, source, provide: &str, exclusive, value: Value| HeldBinding {
            kind,
            name: name.into(),
            source,
            provide: provide.into(),
            exclusive,
            value: value.into(),
        };
    s.holdings.insert(
        "db".into(),
        ContainerHolding {
            spec_digest: "sha256:00ff".into(),
            bindings: vec![
                bind(
                    Kind::Port,
                    "pg",
                    BindingSource::Pool,
                    "db-ports",
                    true,
                    json!({"host_port": 8001}),
                ),
                bind(
                    Kind::Volume,
                    "data",
                    BindingSource::Provides,
                    "data",
                    true,
                    json!({"path": "/srv/data", "exclusive": true}),
                ),
                bind(
                    Kind::Custom("example.com/gpu".into()),
                    "any",
                    BindingSource::Provider,
                    "*",
                    true,
                    json!({"env": {"B": "2", "A": "1"}, "mounts": [], "devices": ["/dev/x"]}),
                ),
                bind(
                    Kind::Network,
                    "net",
                    BindingSource::Provides,
                    "net",
                    false,
                    json!({"subnet6": "2001:db8::/64", "bridge": "br0"}),
                ),
            ],
        },
    );
    for (name, value, holder, last) in [
        ("pg", "8001", Some("db"), Some("db")),
        ("old", "8002", None, Some("gone")),
        ("free", "8003", None, None),
    ] {
        s.reservations.insert(
            format!("port/{name}"),
            Reservation {
                kind: Kind::Port,
                name: name.into(),
                pool: "8000-8099".into(),
                value: value.into(),
                holder: holder.map(Into::into),
                last_holder: last.map(Into::into),
                last_digest: last.map(|_| "sha256:00ff".into()),
            },
        );
    }
    let record = |kind: Kind, name: &str, provided: Value, users: &[&str]| {
        berth_engine::state::ProvidedRecord::new(
            kind,
            name.into(),
            vec!["bundled/gpu".into(), "--x".into()],
            provided,
            users.iter().map(|u| u.to_string()).collect(),
        )
    };
    let gpu = Kind::Custom("example.com/gpu".into());
    s.provided.insert(
        "example.com/gpu/any".into(),
        record(
            gpu.clone(),
            "any",
            json!({"env": {"B": "2", "A": "1"}, "mounts": [], "devices": ["/dev/x"]}),
            &["db"],
        ),
    );
    s.pending_releases.push(record(
        Kind::Volume,
        "v",
        json!({"path": "/srv/v"}),
        &["gone"],
    ));
    s.pending_releases
        .push(record(gpu, "intent", Value::Null, &["db"]));
    s
}

/// What `berth status --format json` printed before it serialized the state
/// directly: the whole state copied into a `serde_json::Value` (whose
/// objects sort their keys), `state_file` added, printed indented.
fn status_through_a_value_tree(s: &State, state_file: &str) -> String {
    let mut v = serde_json::to_value(s).unwrap();
    v["state_file"] = json!(state_file);
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn the_status_view_is_the_whole_state_in_sorted_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    let mut locked = file.lock().unwrap();
    locked.write(&rich()).unwrap();
    drop(locked);
    let loaded = file.load_readonly().unwrap();
    assert_eq!(loaded, rich());
    let path = file.path().display().to_string();
    let view = berth_engine::status_view::status_json(&loaded, &path);
    assert_eq!(view, status_through_a_value_tree(&loaded, &path));
    // An empty state, and the documented example (read from a JSON file).
    let empty = State::new("web-01");
    assert_eq!(
        berth_engine::status_view::status_json(&empty, "x.db"),
        status_through_a_value_tree(&empty, "x.db")
    );
    let docs = tempfile::tempdir().unwrap();
    std::fs::write(
        docs.path().join("app-01.json"),
        doc_example("state.md", "state"),
    )
    .unwrap();
    let example = StateFile::new(docs.path(), "app-01")
        .load_readonly()
        .unwrap();
    assert_eq!(
        berth_engine::status_view::status_json(&example, "app-01.db"),
        status_through_a_value_tree(&example, "app-01.db")
    );
}

/// A big view is rendered in chunks of 256 entries, batches of chunks on
/// all cores (holdings, reservations and provider records, around a chunk's
/// size and over several batches): the chunks join into the bytes the value
/// tree printed, names that need escaping included.
#[test]
fn a_big_status_view_is_the_value_tree_view() {
    let rich = rich();
    for n in [255, 256, 257, 3001, 9001] {
        let mut s = rich.clone();
        for i in 0..n {
            let name = if i % 97 == 5 {
                format!("c-{i}-\"é\\\u{7}")
            } else {
                format!("c-{i:05}")
            };
            s.holdings.insert(name.clone(), rich.holdings["db"].clone());
            let mut r = rich.reservations["port/pg"].clone();
            r.name = name.clone();
            s.reservations.insert(format!("port/{name}"), r);
            let mut p = rich.provided["example.com/gpu/any"].clone();
            p.users = vec![name.clone(), "db".into()];
            s.provided.insert(format!("example.com/gpu/{name}"), p);
        }
        assert_eq!(
            berth_engine::status_view::status_json(&s, "big.db"),
            status_through_a_value_tree(&s, "big.db"),
            "{n} entries a map"
        );
    }
}

/// A whole load of a big host parses its holdings on all cores: the row it
/// reports is still the first bad one in the table's order, every time, and
/// the load of the good rows is the state that was written.
#[test]
fn a_big_store_reports_its_first_bad_holding_every_time() {
    let tmp = tempfile::tempdir().unwrap();
    let file = StateFile::new(tmp.path(), "web-01");
    let mut s = State::new("web-01");
    for i in 0..2000 {
        s.holdings.insert(
            format!("c-{i:04}"),
            ContainerHolding {
                spec_digest: format!("fnv1a64:{i}"),
                bindings: vec![HeldBinding {
                    kind: Kind::Volume,
                    name: "shared".into(),
                    source: BindingSource::Provides,
                    provide: "shared".into(),
                    exclusive: false,
                    value: json!({"path": "/srv/shared"}).into(),
                }],
            },
        );
    }
    let mut locked = file.lock().unwrap();
    locked.write(&s).unwrap();
    drop(locked);
    assert_eq!(file.load_readonly().unwrap(), s);
    let db = rusqlite::Connection::open(file.path()).unwrap();
    for (c, bad) in [("c-1900", "[{]"), ("c-0700", "not json"), ("c-1300", "{}")] {
        db.execute(
            "UPDATE holdings SET bindings = ?1 WHERE container = ?2",
            [bad, c],
        )
        .unwrap();
    }
    drop(db);
    for _ in 0..20 {
        let e = file.load_readonly().unwrap_err();
        let StoreError::Corrupt { reason, .. } = &e else {
            panic!("{e}")
        };
        assert!(reason.starts_with("`holdings.c-0700.bindings`"), "{reason}");
    }
}
