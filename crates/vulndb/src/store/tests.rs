//! Tests of the store: reads, builds, swaps, locks and damaged files.

use super::*;
use crate::model::{Event, FixStatus, Range, RangeType, Record};

fn record(id: &str, source: &str, aliases: &[&str], affected: &[(&str, &str)]) -> Record {
    let mut vuln = Vulnerability::new(id, source);
    vuln.aliases = aliases.iter().map(|a| (*a).to_owned()).collect();
    vuln.refresh_canonical_id();
    let affected = affected
        .iter()
        .map(|(ecosystem, package)| {
            if ecosystem.starts_with("Alpine") {
                AffectedEntry::distro(
                    &vuln,
                    *ecosystem,
                    *package,
                    FixStatus::Fixed,
                    Some("1.2-r1".to_owned()),
                )
            } else {
                let mut entry =
                    AffectedEntry::distro(&vuln, *ecosystem, *package, FixStatus::Fixed, None);
                entry.ranges = vec![Range {
                    kind: RangeType::Ecosystem,
                    repo: None,
                    events: vec![Event::Introduced("1.0".into()), Event::Fixed("1.1".into())],
                }];
                entry.versions = vec!["1.0".into(), "1.0.1".into()];
                entry.fixed_version = Some("1.1".into());
                entry
            }
        })
        .collect();
    Record { vuln, affected }
}

fn sample() -> Vec<Record> {
    vec![
        record(
            "CVE-2024-1",
            "s1",
            &[],
            &[("Alpine:v3.9", "musl"), ("PyPI", "Django")],
        ),
        record("GHSA-x", "s2", &["CVE-2024-1"], &[("PyPI", "django")]),
        record("CVE-2024-3", "s1", &[], &[("Alpine:v3.9", "busybox")]),
    ]
}

fn build(path: &Path, records: &[Record], mode: SourceMode) {
    update_atomically(path, |builder| {
        for source in ["s1", "s2"] {
            builder.begin_source(source, mode)?;
        }
        for r in records {
            builder.put(r)?;
        }
        Ok(())
    })
    .unwrap();
}

fn ids(entries: &[AffectedEntry]) -> Vec<(&str, &str)> {
    entries
        .iter()
        .map(|e| (e.canonical_id.as_str(), e.vuln_id.as_str()))
        .collect()
}

#[test]
fn database_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Database>();
}

#[test]
fn lookup_many_matches_single_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    build(&path, &sample(), SourceMode::Replace);
    let db = Database::open(&path).unwrap();
    let queries = [
        ("Alpine:v3.9", "musl"),
        ("PyPI", "Django"),
        ("PyPI", "django"),
        ("Alpine:v3.9", "nothing"),
        ("Go", "x"),
        ("Alpine:v3.9", "musl"),
    ];
    let found = db.lookup_many(&queries).unwrap();
    assert_eq!(found.len(), 5);
    for (ecosystem, package) in queries {
        let key = (ecosystem.to_owned(), package.to_owned());
        assert_eq!(found[&key], db.lookup(ecosystem, package).unwrap());
    }
    let django = &found[&("PyPI".to_owned(), "Django".to_owned())];
    assert_eq!(
        ids(django),
        [("CVE-2024-1", "CVE-2024-1"), ("CVE-2024-1", "GHSA-x")]
    );
    assert_eq!(django[0].versions, ["1.0", "1.0.1"]);
    assert_eq!(django[0].ecosystem, "PyPI");
    let musl = &found[&("Alpine:v3.9".to_owned(), "musl".to_owned())];
    assert_eq!(ids(musl), [("CVE-2024-1", "CVE-2024-1")]);
    assert_eq!(
        musl[0].ranges[0].events,
        [Event::Introduced("0".into()), Event::Fixed("1.2-r1".into())]
    );
    assert!(found[&("Go".to_owned(), "x".to_owned())].is_empty());
    let none: [(&str, &str); 0] = [];
    assert!(db.lookup_many(&none).unwrap().is_empty());
}

#[test]
fn records_for_many_groups_by_canonical_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    build(&path, &sample(), SourceMode::Replace);
    let db = Database::open(&path).unwrap();
    let found = db
        .records_for_many(&["CVE-2024-3", "CVE-2024-1", "nothing", "CVE-2024-1"])
        .unwrap();
    assert_eq!(found.len(), 3);
    let one: Vec<(&str, &str)> = found["CVE-2024-1"]
        .iter()
        .map(|r| (r.source.as_str(), r.id.as_str()))
        .collect();
    assert_eq!(one, [("s1", "CVE-2024-1"), ("s2", "GHSA-x")]);
    assert_eq!(found["CVE-2024-1"], db.records_for("CVE-2024-1").unwrap());
    assert_eq!(found["CVE-2024-3"].len(), 1);
    assert!(found["nothing"].is_empty());
}

#[test]
fn ecosystems_with_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let streams = [
        ("Red Hat:enterprise_linux:9::baseos", "openssl"),
        ("Red Hat:enterprise_linux:9::appstream", "openssl"),
        ("Red Hat:enterprise_linux:9::appstream", "curl"),
        ("Red Hat:enterprise_linux:8::baseos", "openssl"),
        ("Red Hat:enterprise_linux:90::baseos", "openssl"),
    ];
    let mut records = sample();
    records.push(record("CVE-2024-9", "s2", &[], &streams));
    build(&path, &records, SourceMode::Replace);
    let db = Database::open(&path).unwrap();
    assert_eq!(
        db.ecosystems_with_prefix("Red Hat:enterprise_linux:9::")
            .unwrap(),
        [
            "Red Hat:enterprise_linux:9::appstream",
            "Red Hat:enterprise_linux:9::baseos"
        ]
    );
    assert_eq!(
        db.ecosystems_with_prefix("Alpine:").unwrap(),
        ["Alpine:v3.9"]
    );
    assert!(db.ecosystems_with_prefix("SUSE:").unwrap().is_empty());
}

#[test]
fn has_ecosystem_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    build(&path, &sample(), SourceMode::Replace);
    let db = Database::open(&path).unwrap();
    assert!(db.has_ecosystem("Alpine:v3.9").unwrap());
    assert!(db.has_ecosystem("PyPI").unwrap());
    assert!(!db.has_ecosystem("Alpine:v3.20").unwrap());
    assert!(!db.has_ecosystem("Alpine").unwrap());
    let version = db.version().unwrap();
    assert_eq!(version, format!("sha256:{}", db.content_hash().unwrap()));
    assert_eq!(version.len(), "sha256:".len() + 64);
    drop(db);

    // Same content built again (another file, another time): same version.
    let other = dir.path().join("other.sqlite");
    build(&other, &sample(), SourceMode::Replace);
    assert_eq!(Database::open(&other).unwrap().version().unwrap(), version);
    // Re-importing the same records changes nothing.
    build(&path, &sample(), SourceMode::Upsert);
    assert_eq!(Database::open(&path).unwrap().version().unwrap(), version);
    // Changed content: a new version.
    build(&path, &sample()[..1], SourceMode::Replace);
    assert_ne!(Database::open(&path).unwrap().version().unwrap(), version);
}

#[test]
fn updates_rebuild_the_packages_they_touch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    build(&path, &sample(), SourceMode::Replace);
    // Upsert: CVE-2024-1 now affects only busybox; musl loses its only entry.
    let moved = record("CVE-2024-1", "s1", &[], &[("Alpine:v3.9", "busybox")]);
    build(&path, &[moved], SourceMode::Upsert);
    let db = Database::open(&path).unwrap();
    assert!(db.lookup("Alpine:v3.9", "musl").unwrap().is_empty());
    assert_eq!(
        ids(&db.lookup("Alpine:v3.9", "busybox").unwrap()),
        [("CVE-2024-1", "CVE-2024-1"), ("CVE-2024-3", "CVE-2024-3")]
    );
    assert_eq!(
        ids(&db.lookup("PyPI", "django").unwrap()),
        [("CVE-2024-1", "GHSA-x")]
    );
    drop(db);
    // Replace s2 with nothing: django is gone, and so is PyPI.
    update_atomically(&path, |builder| {
        builder.begin_source("s2", SourceMode::Replace)
    })
    .unwrap();
    let db = Database::open(&path).unwrap();
    assert!(db.lookup("PyPI", "django").unwrap().is_empty());
    assert!(!db.has_ecosystem("PyPI").unwrap());
    let rows: i64 = db
        .connection()
        .query_row("SELECT COUNT(*) FROM packages", [], |row| row.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}

/// Overwrite the page-type byte of `table`'s root page with 0 (no valid b-tree page
/// has it): the file still opens, but every query of that table fails.
pub(crate) fn break_root_page(path: &Path, table: &str) {
    let conn = Connection::open(path).unwrap();
    let root: i64 = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = ?1",
            [table],
            |row| row.get(0),
        )
        .unwrap();
    drop(conn);
    let mut bytes = fs::read(path).unwrap();
    let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65536,
        n => usize::from(n),
    };
    // Page 1 starts with the 100-byte file header.
    let offset = (root as usize - 1) * page_size + if root == 1 { 100 } else { 0 };
    assert!(matches!(bytes[offset], 0x02 | 0x05 | 0x0a | 0x0d));
    bytes[offset] = 0;
    fs::write(path, bytes).unwrap();
}

#[test]
fn quick_check_finds_a_broken_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    build(&path, &sample(), SourceMode::Replace);
    Database::open(&path).unwrap().quick_check().unwrap();
    break_root_page(&path, "packages");
    let db = Database::open(&path).unwrap();
    // Still opens and answers what lives elsewhere, but fails every lookup.
    assert!(db.version().is_ok());
    assert!(db.lookup("Alpine:v3.9", "musl").is_err());
    let err = db.quick_check().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{}: integrity check failed (the file is corrupt; rebuild or re-download it): ",
            path.display()
        )),
        "{text}"
    );
}

#[test]
fn a_file_changed_in_place_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    build(&path, &sample(), SourceMode::Replace);
    let db = Database::open(&path).unwrap();
    let size = fs::metadata(&path).unwrap().len();
    assert_eq!(db.lookup("Alpine:v3.9", "musl").unwrap().len(), 1);
    // What `cp new old` does first: truncate the file the handle reads.
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let expected = format!(
        "{}: the database file was changed in place while open ({size} bytes when opened, 0 now); \
         replace a database by writing a new file in the same directory and renaming it over the old one",
        path.display()
    );
    for err in [
        db.lookup("Alpine:v3.9", "busybox").unwrap_err(),
        db.lookup_many(&[("PyPI", "django")]).unwrap_err(),
        db.records_for("CVE-2024-1").unwrap_err(),
        db.version().unwrap_err(),
        db.status().unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Changed);
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn a_renamed_over_file_leaves_open_handles_working() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    build(&path, &sample(), SourceMode::Replace);
    let db = Database::open(&path).unwrap();
    build(&path, &sample()[..1], SourceMode::Replace);
    assert_eq!(
        ids(&db.lookup("PyPI", "django").unwrap()),
        [("CVE-2024-1", "CVE-2024-1"), ("CVE-2024-1", "GHSA-x")]
    );
}

#[test]
fn a_held_lock_makes_an_update_fail_at_once_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    build(&path, &sample(), SourceMode::Replace);
    let before = fs::read(&path).unwrap();
    let held = UpdateLock::try_acquire(&path).unwrap();
    assert_eq!(lock_path(&path), dir.path().join("db.sqlite.lock"));
    let err = update_atomically(&path, |builder| {
        builder.begin_source("s1", SourceMode::Replace)
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Locked);
    assert_eq!(
        err.to_string(),
        format!(
            "{}: another update of this database is in progress (it holds {}); \
             nothing was changed, try again when it has finished",
            path.display(),
            dir.path().join("db.sqlite.lock").display()
        )
    );
    assert_eq!(fs::read(&path).unwrap(), before);
    drop(held);
    update_atomically(&path, |builder| {
        builder.begin_source("s1", SourceMode::Replace)
    })
    .unwrap();
    assert!(
        Database::open(&path)
            .unwrap()
            .lookup("Alpine:v3.9", "musl")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn stale_temporary_files_are_removed_only_under_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    build(&path, &sample(), SourceMode::Replace);
    let names = [
        "db.sqlite.tmp-4242",
        "db.sqlite.tmp-1",
        "db.sqlite.tmp-x1",
        "db.sqlite.tmp-",
        "other.sqlite.tmp-4242",
        "db.sqlite.lock",
    ];
    for name in names {
        fs::write(dir.path().join(name), b"left over").unwrap();
    }
    let listing = || {
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    // Another update holds the lock: nothing is touched.
    let held = UpdateLock::try_acquire(&path).unwrap();
    assert!(update_atomically(&path, |_| Ok(())).is_err());
    assert_eq!(listing().len(), names.len() + 1);
    drop(held);
    update_atomically(&path, |_| Ok(())).unwrap();
    assert_eq!(
        listing(),
        [
            "db.sqlite",
            "db.sqlite.lock",
            "db.sqlite.tmp-",
            "db.sqlite.tmp-x1",
            "other.sqlite.tmp-4242"
        ]
    );
}

#[test]
fn corrupt_package_blob_is_an_error_naming_the_package() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    build(&path, &sample(), SourceMode::Replace);
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE packages SET entries = x'05ff' WHERE package_key = 'musl'",
        [],
    )
    .unwrap();
    drop(conn);
    let db = Database::open(&path).unwrap();
    let err = db.lookup("Alpine:v3.9", "musl").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    assert!(
        err.to_string().ends_with(
            "entries of Alpine:v3.9/musl: corrupt stored data: count larger than the blob"
        ),
        "{err}"
    );
}
