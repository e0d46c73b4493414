//! Integration tests: real testdata imports, exact counts checked against an independent
//! Python count, idempotency, lookups, export/import, bad input, kill -9, network updates
//! from 127.0.0.1.

// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use portcullis_testkit::sleep::{record_sleep, slept};
use portcullis_vulndb::fetch::{
    FetchOptions, Fetcher, HttpFetcher, Mirrors, NetworkSource, Updater,
};
use portcullis_vulndb::{Database, ErrorKind, FixStatus, ImportOptions, SeverityKind};

use portcullis_testkit::testdata_dir as testdata;

fn advisories() -> PathBuf {
    testdata().join("advisories")
}

/// One full import of the testdata advisories, shared by the tests that only read it.
struct Fixture {
    _dir: tempfile::TempDir,
    db: PathBuf,
    summary: portcullis_vulndb::ImportSummary,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite");
        let summary =
            Database::import_paths(&db, &[advisories()], &ImportOptions::default()).unwrap();
        Fixture {
            _dir: dir,
            db,
            summary,
        }
    })
}

#[derive(serde::Deserialize)]
struct PythonCounts {
    osv: BTreeMap<String, u64>,
    alpine: BTreeMap<String, u64>,
    oval_definitions: u64,
    nvd: u64,
    kev: u64,
    epss: u64,
    files: u64,
    skipped: Vec<String>,
}

fn python_counts() -> PythonCounts {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/count_testdata.py");
    let output = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(advisories())
        .output()
        .expect("running /usr/bin/python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `parse_feed` (what the feed fuzz target drives) reads a file as the import does: an OSV
/// zip export is one source with every record of the export, the Alpine secdb file one
/// source per repository, and the KEV catalog no record at all.
#[test]
fn parse_feed_reads_a_file_as_the_import_does() {
    use portcullis_vulndb::import::parse_feed;
    let expected = python_counts();
    let options = ImportOptions::default();
    let read = |rel: &str| {
        let path = advisories().join(rel);
        let bytes = std::fs::read(&path).unwrap();
        parse_feed(rel, &path, bytes, &options).unwrap()
    };

    let (sources, problems) = read("osv/crates.io/all.zip");
    assert!(problems.is_empty(), "{problems:?}");
    let names: Vec<&str> = sources.iter().map(|(s, _)| s.as_str()).collect();
    assert!(names.iter().all(|s| *s == "osv:crates.io"), "{names:?}");
    let records: usize = sources.iter().map(|(_, r)| r.len()).sum();
    assert_eq!(records as u64, expected.osv["crates.io"]);
    assert_eq!(records, 1206);

    let (sources, problems) = read("alpine-secdb/v3.20/main.json");
    assert!(problems.is_empty(), "{problems:?}");
    let names: Vec<&str> = sources.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(names, ["alpine-secdb:v3.20/main"]);

    let (sources, problems) = read("kev/known_exploited_vulnerabilities.json");
    assert!(sources.is_empty() && problems.is_empty());

    let error = parse_feed("x.json", Path::new("x.json"), b"{}".to_vec(), &options).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnknownFormat);
    assert!(
        error.to_string().starts_with("x.json: unrecognised format"),
        "{error}"
    );
}

#[test]
fn counts_match_an_independent_python_count() {
    let expected = python_counts();
    // The numbers the issue states, so the Python count itself is checked too.
    assert_eq!(expected.osv["Go"], 4291);
    assert_eq!(expected.osv["crates.io"], 1206);
    assert_eq!(expected.osv["PyPI"], 2661);
    assert_eq!(expected.oval_definitions, 25_932);

    let fx = fixture();
    let db = Database::open(&fx.db).unwrap();
    let status = db.status().unwrap();
    let records: BTreeMap<&str, u64> = status
        .sources
        .iter()
        .map(|s| (s.name.as_str(), s.records))
        .collect();
    for (ecosystem, count) in &expected.osv {
        assert_eq!(
            records[format!("osv:{ecosystem}").as_str()],
            *count,
            "{ecosystem}"
        );
    }
    let mut alpine: BTreeMap<String, u64> = BTreeMap::new();
    let mut oval = 0;
    for (source, ecosystem, count) in db.affected_counts().unwrap() {
        if source.starts_with("alpine-secdb:") {
            let branch = ecosystem.strip_prefix("Alpine:").unwrap().to_owned();
            *alpine.entry(branch).or_default() += count;
        }
        if source == "debian-oval:12" {
            assert_eq!(ecosystem, "Debian:12");
            oval += count;
        }
    }
    assert_eq!(alpine, expected.alpine);
    assert_eq!(oval, expected.oval_definitions);
    assert_eq!(records["nvd"], expected.nvd);
    assert_eq!(records["kev"], expected.kev);
    assert_eq!(records["epss"], expected.epss);
    // The numbers the test data's README states.
    assert_eq!(
        (expected.nvd, expected.kev, expected.epss),
        (104, 1404, 360_142)
    );
    assert_eq!(status.schema_version, portcullis_vulndb::SCHEMA_VERSION);
    assert!(fx.summary.problems.is_empty());
    // The KEV catalog's JSON schema and licence are skipped, not imported or errors.
    let skipped: Vec<String> = fx
        .summary
        .skipped_files
        .iter()
        .map(|f| {
            Path::new(f)
                .strip_prefix(advisories())
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(skipped, expected.skipped);
    assert_eq!(fx.summary.files, expected.files);
    // 41 secdb, 3 Debian, 104 NVD, 5 OSV zips, the KEV catalog and the EPSS scores.
    assert_eq!(fx.summary.files, 41 + 3 + 104 + 5 + 1 + 1);
    assert_eq!(
        status.affected,
        fx.summary.sources.iter().map(|s| s.affected).sum::<u64>()
    );
}

#[test]
fn status_json_has_the_documented_shape() {
    let status = Database::open(&fixture().db).unwrap().status().unwrap();
    let json = serde_json::to_value(&status).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "affected",
            "built_at",
            "schema_version",
            "sources",
            "vulnerabilities"
        ]
    );
    let source = &json["sources"][0];
    let keys: Vec<&String> = source.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["name", "records", "updated_at"]);
}

#[test]
fn lookups_give_the_known_facts() {
    let db = Database::open(&fixture().db).unwrap();
    let musl = db.lookup("Alpine:v3.9", "musl").unwrap();
    let entry = musl
        .iter()
        .find(|e| e.vuln_id == "CVE-2020-28928")
        .expect("CVE-2020-28928 for musl in v3.9");
    assert_eq!(entry.fixed_version.as_deref(), Some("1.1.20-r6"));
    assert_eq!(entry.status, FixStatus::Fixed);
    assert_eq!(entry.source, "alpine-secdb:v3.9/main");
    assert_eq!(entry.package, "musl");

    let openssl = db.lookup("Alpine:v3.20", "openssl").unwrap();
    let entry = openssl
        .iter()
        .find(|e| e.vuln_id == "CVE-2024-9143")
        .expect("CVE-2024-9143 for openssl in v3.20");
    assert_eq!(entry.fixed_version.as_deref(), Some("3.3.2-r1"));
    // Sorted by canonical id and unique per record.
    let ids: Vec<&str> = openssl.iter().map(|e| e.canonical_id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);

    let glibc = db.lookup("Debian:12", "glibc").unwrap();
    let entry = glibc.iter().find(|e| e.vuln_id == "CVE-1999-0199").unwrap();
    assert_eq!(entry.fixed_version.as_deref(), Some("2.2-1"));
    assert_eq!(entry.source, "debian-oval:12");
    assert!(
        db.lookup("Debian:12", "no-such-package")
            .unwrap()
            .is_empty()
    );

    // NVD enrichment by canonical id.
    let records = db.records_for("CVE-2020-28928").unwrap();
    let nvd = records.iter().find(|r| r.source == "nvd").unwrap();
    let v31 = nvd
        .severities
        .iter()
        .find(|s| s.kind == SeverityKind::CvssV3)
        .unwrap();
    assert_eq!(v31.score, Some(5.5));
    assert_eq!(
        v31.vector.as_deref(),
        Some("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H")
    );
    assert!(records.iter().any(|r| r.source == "alpine-secdb:v3.9/main"));
}

#[test]
fn osv_lookups_keep_ranges_and_aliases() {
    let db = Database::open(&fixture().db).unwrap();
    // Go modification times are placeholders, stored as unknown.
    let go = db.records_for("GO-2020-0001").unwrap();
    assert!(
        go.is_empty(),
        "GO-2020-0001 has a CVE alias, so it is grouped under it"
    );
    let stdlib = db.lookup("Go", "stdlib").unwrap();
    assert!(!stdlib.is_empty());
    assert!(stdlib.iter().all(|e| !e.ranges.is_empty()));
    let record = db.records_for(&stdlib[0].canonical_id).unwrap();
    let go_record = record.iter().find(|r| r.source == "osv:Go").unwrap();
    assert_eq!(go_record.modified, None);
    // PyPI names are normalised for lookup.
    let a = db.lookup("PyPI", "Django").unwrap();
    let b = db.lookup("PyPI", "django").unwrap();
    assert!(!a.is_empty());
    assert_eq!(a, b);
    // GIT ranges are kept.
    assert!(
        a.iter()
            .flat_map(|e| &e.ranges)
            .any(|r| r.kind == portcullis_vulndb::RangeType::Git)
    );
}

#[test]
fn second_import_changes_nothing() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    std::fs::copy(&fx.db, &db).unwrap();
    let before = Database::open(&db).unwrap();
    let (hash, status) = (before.content_hash().unwrap(), before.status().unwrap());
    drop(before);
    Database::import_paths(&db, &[advisories()], &ImportOptions::default()).unwrap();
    let after = Database::open(&db).unwrap();
    assert_eq!(after.content_hash().unwrap(), hash);
    let status_after = after.status().unwrap();
    assert_eq!(status_after.vulnerabilities, status.vulnerabilities);
    assert_eq!(status_after.affected, status.affected);
    let counts = |s: &portcullis_vulndb::Status| {
        s.sources
            .iter()
            .map(|x| (x.name.clone(), x.records))
            .collect::<Vec<_>>()
    };
    assert_eq!(counts(&status_after), counts(&status));
}

#[test]
fn export_and_import_round_trip_with_checksum() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("db.export");
    let source = Database::open(&fx.db).unwrap();
    let header = source.export(&export).unwrap();
    assert_eq!(header.schema_version, portcullis_vulndb::SCHEMA_VERSION);
    let target = dir.path().join("other/db.sqlite");
    let status = Database::import_export_file(&target, &export).unwrap();
    assert_eq!(status.affected, source.status().unwrap().affected);
    let hash = source.content_hash().unwrap();
    assert_eq!(
        Database::open(&target).unwrap().content_hash().unwrap(),
        hash
    );

    // A flipped byte in the payload is caught and the target is left alone.
    let mut bytes = std::fs::read(&export).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 0x55;
    let corrupt = dir.path().join("corrupt.export");
    std::fs::write(&corrupt, &bytes).unwrap();
    let err = Database::import_export_file(&target, &corrupt).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChecksumMismatch, "{err}");
    assert!(err.to_string().contains("corrupt.export"), "{err}");
    // Truncated.
    let truncated = dir.path().join("truncated.export");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = Database::import_export_file(&target, &truncated).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChecksumMismatch, "{err}");
    // Not an export at all.
    let err = Database::import_export_file(&target, fx.db.as_path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert_eq!(
        Database::open(&target).unwrap().content_hash().unwrap(),
        hash
    );
    let mut leftovers: Vec<_> = std::fs::read_dir(dir.path().join("other"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    leftovers.sort();
    // The update lock file stays (removing it would race with its next user).
    assert_eq!(
        leftovers,
        vec![
            std::ffi::OsString::from("db.sqlite"),
            std::ffi::OsString::from("db.sqlite.lock")
        ]
    );
}

/// A small database to damage: one Alpine branch.
fn small_db(dir: &Path) -> (PathBuf, String) {
    let db = dir.join("db.sqlite");
    let input = advisories().join("alpine-secdb/v3.9/main.json");
    Database::import_paths(&db, &[input], &ImportOptions::default()).unwrap();
    let hash = Database::open(&db).unwrap().content_hash().unwrap();
    (db, hash)
}

fn write_zip(path: &Path, entries: &[(&str, &str)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, content) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(content.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

const GOOD_RECORD: &str = r#"{"id":"GO-2099-0001","modified":"2099-01-01T00:00:00Z","aliases":["CVE-2099-1"],
  "affected":[{"package":{"ecosystem":"Go","name":"example.com/m"},
  "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.3"}]}]}]}"#;
const BAD_RANGE_RECORD: &str = r#"{"id":"GO-2099-0002","modified":"2099-01-01T00:00:00Z",
  "affected":[{"package":{"ecosystem":"Go","name":"example.com/n"},
  "ranges":[{"type":"CALVER","events":[{"introduced":"0"}]}]}]}"#;

fn assert_untouched(db: &Path, hash: &str) {
    let database = Database::open(db).unwrap();
    assert_eq!(database.content_hash().unwrap(), hash);
    let musl = database.lookup("Alpine:v3.9", "musl").unwrap();
    assert!(musl.iter().any(|e| e.vuln_id == "CVE-2020-28928"));
}

#[test]
fn a_large_export_replaces_its_source_once_and_keeps_every_record() {
    // 2,500 records: written in parts of 1,000, the first replacing the source.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let old = dir.path().join("old.zip");
    write_zip(&old, &[("GO-2099-0001.json", GOOD_RECORD)]);
    Database::import_paths(&db, &[old], &ImportOptions::default()).unwrap();
    let records: Vec<(String, String)> = (0..2500)
        .map(|i| {
            let id = format!("GO-2100-{i:04}");
            let json = GOOD_RECORD
                .replace("GO-2099-0001", &id)
                .replace("CVE-2099-1", &format!("CVE-2100-{}", 10000 + i));
            (format!("{id}.json"), json)
        })
        .collect();
    let entries: Vec<(&str, &str)> = records
        .iter()
        .map(|(n, j)| (n.as_str(), j.as_str()))
        .collect();
    let new = dir.path().join("all.zip");
    write_zip(&new, &entries);
    let summary = Database::import_paths(&db, &[new], &ImportOptions::default()).unwrap();
    assert_eq!(summary.files, 1);
    assert_eq!(summary.sources.len(), 1);
    assert_eq!(summary.sources[0].name, "osv:Go");
    assert_eq!(summary.sources[0].files, 1);
    assert_eq!(summary.sources[0].records, 2500);
    let database = Database::open(&db).unwrap();
    let status = database.status().unwrap();
    let go = status.sources.iter().find(|s| s.name == "osv:Go").unwrap();
    assert_eq!(go.records, 2500);
    let entries = database.lookup("Go", "example.com/m").unwrap();
    assert_eq!(entries.len(), 2500);
    assert!(entries.iter().all(|e| e.vuln_id.starts_with("GO-2100-")));
}

#[test]
fn malformed_json_inside_a_zip() {
    let dir = tempfile::tempdir().unwrap();
    let (db, hash) = small_db(dir.path());
    let zip_path = dir.path().join("all.zip");
    write_zip(
        &zip_path,
        &[
            ("GO-2099-0001.json", GOOD_RECORD),
            ("GO-2099-0003.json", "{\"id\": \"GO-2099-0003\", "),
        ],
    );
    let err = Database::import_paths(
        &db,
        std::slice::from_ref(&zip_path),
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let message = err.to_string();
    assert!(message.contains("all.zip!GO-2099-0003.json"), "{message}");
    assert!(message.contains("GO-2099-0003"), "{message}");
    assert_untouched(&db, &hash);

    // Lenient mode imports the good record and reports the bad one.
    let lenient = ImportOptions {
        strict: false,
        ..ImportOptions::default()
    };
    let summary = Database::import_paths(&db, &[zip_path], &lenient).unwrap();
    assert_eq!(summary.problems.len(), 1);
    assert_eq!(summary.problems[0].record.as_deref(), Some("GO-2099-0003"));
    assert_eq!(summary.sources[0].name, "osv:Go");
    assert_eq!(summary.sources[0].records, 1);
    let found = Database::open(&db)
        .unwrap()
        .lookup("Go", "example.com/m")
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].canonical_id, "CVE-2099-1");
}

#[test]
fn zip_with_parent_dir_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (db, hash) = small_db(dir.path());
    let zip_path = dir.path().join("evil.zip");
    write_zip(
        &zip_path,
        &[
            ("GO-2099-0001.json", GOOD_RECORD),
            ("../escape.json", GOOD_RECORD),
        ],
    );
    let err = Database::import_paths(&db, &[zip_path], &ImportOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnsafePath);
    let message = err.to_string();
    assert!(
        message.contains("evil.zip") && message.contains("../escape.json"),
        "{message}"
    );
    assert_untouched(&db, &hash);
}

#[test]
fn oval_cut_in_half() {
    let dir = tempfile::tempdir().unwrap();
    let (db, hash) = small_db(dir.path());
    // The real compressed file cut in half: a truncated bz2 stream.
    let bz2 = std::fs::read(advisories().join("debian/oval-definitions-bookworm.xml.bz2")).unwrap();
    let cut_bz2 = dir.path().join("oval-cut.xml.bz2");
    std::fs::write(&cut_bz2, &bz2[..bz2.len() / 2]).unwrap();
    let err = Database::import_paths(&db, &[cut_bz2], &ImportOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("oval-cut.xml.bz2"), "{err}");
    // The XML itself cut in half: well-formed so far, but no closing element.
    let mut xml = Vec::new();
    bzip2::read::MultiBzDecoder::new(bz2.as_slice())
        .take(20 << 20)
        .read_to_end(&mut xml)
        .unwrap();
    let cut_xml = dir.path().join("oval-cut.xml");
    std::fs::write(&cut_xml, &xml[..xml.len() / 2]).unwrap();
    let err = Database::import_paths(&db, &[cut_xml], &ImportOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let message = err.to_string();
    assert!(message.contains("oval-cut.xml"), "{message}");
    assert!(
        message.contains("truncated") || message.contains("malformed"),
        "{message}"
    );
    assert_untouched(&db, &hash);
}

#[test]
fn unknown_range_type() {
    let dir = tempfile::tempdir().unwrap();
    let (db, hash) = small_db(dir.path());
    let file = dir.path().join("GO-2099-0002.json");
    std::fs::write(&file, BAD_RANGE_RECORD).unwrap();
    let good = dir.path().join("GO-2099-0001.json");
    std::fs::write(&good, GOOD_RECORD).unwrap();
    let err = Database::import_paths(
        &db,
        &[good.clone(), file.clone()],
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let message = err.to_string();
    assert!(message.contains("GO-2099-0002.json"), "{message}");
    assert!(message.contains("record GO-2099-0002"), "{message}");
    assert!(message.contains("CALVER"), "{message}");
    assert_untouched(&db, &hash);
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let (db, hash) = small_db(dir.path());
    let file = dir.path().join("empty.json");
    std::fs::write(&file, "").unwrap();
    let err = Database::import_paths(&db, &[file], &ImportOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("empty.json: empty file"), "{err}");
    let unknown = dir.path().join("notes.txt");
    std::fs::write(&unknown, "hello").unwrap();
    let err = Database::import_paths(&db, &[unknown], &ImportOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownFormat);
    assert!(err.to_string().contains("notes.txt"), "{err}");
    assert_untouched(&db, &hash);
}

const CHILD_ENV: &str = "PORTCULLIS_VULNDB_KILL_TEST_DB";

/// Runs only as the child of `kill_9_during_import_leaves_the_old_database`.
#[test]
fn child_import_for_kill_test() {
    let Some(db) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    Database::import_paths(Path::new(&db), &[advisories()], &ImportOptions::default()).unwrap();
}

#[test]
fn kill_9_during_import_leaves_the_old_database() {
    let dir = tempfile::tempdir().unwrap();
    let (db, hash) = small_db(dir.path());
    let before = Database::open(&db)
        .unwrap()
        .lookup("Alpine:v3.9", "musl")
        .unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_import_for_kill_test", "--test-threads=1"])
        .env(CHILD_ENV, &db)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let temp = db.with_file_name(format!("db.sqlite.tmp-{}", child.id()));
    // Kill it mid-write: once its temporary copy holds more than the old database's pages.
    let old_len = std::fs::metadata(&db).unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::metadata(&temp).map_or(true, |m| m.len() <= old_len) {
        assert!(Instant::now() < deadline, "the child never started writing");
        assert!(child.try_wait().unwrap().is_none(), "the child ended early");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the child finished before it could be killed"
    );
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    let database = Database::open(&db).unwrap();
    assert_eq!(database.content_hash().unwrap(), hash);
    assert_eq!(database.lookup("Alpine:v3.9", "musl").unwrap(), before);
    drop(database);
    // The next update removes the dead process's temporary file.
    assert!(temp.exists());
    Database::import_paths(
        &db,
        &[advisories().join("alpine-secdb/v3.9/main.json")],
        &ImportOptions::default(),
    )
    .unwrap();
    assert!(!temp.exists());
    assert_eq!(Database::open(&db).unwrap().content_hash().unwrap(), hash);
}

/// Read one HTTP request head from `stream` and return its target.
fn request_path(stream: &mut std::net::TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&request);
    text.split_whitespace().nth(1).unwrap_or("").to_owned()
}

/// Serve `routes` (path -> body) over HTTP on 127.0.0.1 for `requests` requests.
fn serve(routes: Vec<(String, Vec<u8>)>, requests: usize) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        for _ in 0..requests {
            let (mut stream, _) = listener.accept().unwrap();
            let path = request_path(&mut stream);
            let response = match routes.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(body);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            stream.write_all(&response).unwrap();
        }
    });
    (base, handle)
}

#[test]
fn network_update_from_a_local_mirror() {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("all.zip");
    write_zip(&zip_path, &[("GO-2099-0001.json", GOOD_RECORD)]);
    let secdb = std::fs::read(advisories().join("alpine-secdb/v3.9/main.json")).unwrap();
    let (base, server) = serve(
        vec![
            (
                "/osv/Go/all.zip".to_owned(),
                std::fs::read(&zip_path).unwrap(),
            ),
            ("/alpine/v3.9/main.json".to_owned(), secdb),
        ],
        3,
    );
    let db = dir.path().join("db.sqlite");
    let mut updater = Updater::new(
        &db,
        vec![
            NetworkSource::Osv {
                ecosystem: "Go".into(),
            },
            NetworkSource::AlpineSecdb {
                branch: "v3.9".into(),
                repo: "main".into(),
            },
        ],
    );
    updater.mirrors = Mirrors {
        osv: format!("{base}/osv"),
        alpine: format!("{base}/alpine"),
        ..Mirrors::default()
    };
    updater.fetcher = Arc::new(HttpFetcher::new(Duration::from_secs(30)));
    let summary = updater.update().unwrap();
    let names: Vec<&str> = summary.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["alpine-secdb:v3.9/main", "osv:Go"]);
    let database = Database::open(&db).unwrap();
    assert_eq!(database.lookup("Go", "example.com/m").unwrap().len(), 1);
    let hash = database.content_hash().unwrap();
    drop(database);

    // A missing file on the mirror fails the update and leaves the database alone.
    updater.sources = vec![NetworkSource::DebianDsa];
    updater.mirrors.debian_tracker = format!("{base}/nothing");
    let err = updater.update().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert!(err.to_string().contains("/nothing/DSA/list"), "{err}");
    assert_eq!(Database::open(&db).unwrap().content_hash().unwrap(), hash);
    server.join().unwrap();
}

/// Oracle's bzip2 OVAL, Amazon Linux 2's mirror list -> repomd.xml -> gzip updateinfo, and
/// Photon's JSON, fetched from a mirror on 127.0.0.1 (the mirror list names Amazon's CDN,
/// read under the mirror) and imported in one update.
#[test]
fn oracle_amazon_and_photon_update_from_a_local_mirror() {
    let fixture = |name: &str| {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/distros")
                .join(name),
        )
        .unwrap()
    };
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(&fixture("com.oracle.elsa-sample.xml"))
        .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&fixture("amazon-2-updateinfo.xml")).unwrap();
    let repo = "/amazon/2/core/2.0/x86_64/0123abcd";
    let repomd = "<?xml version=\"1.0\"?>\n<repomd><data type=\"updateinfo\"><location href=\"repodata/abc-updateinfo.xml.gz\"/></data></repomd>\n";
    let (base, server) = serve(
        vec![
            (
                "/oracle/com.oracle.elsa-all.xml.bz2".to_owned(),
                bz.finish().unwrap(),
            ),
            (
                "/amazon/2/core/latest/x86_64/mirror.list".to_owned(),
                b"https://cdn.amazonlinux.com/2/core/2.0/x86_64/0123abcd/\n".to_vec(),
            ),
            (
                format!("{repo}/repodata/repomd.xml"),
                repomd.as_bytes().to_vec(),
            ),
            (
                format!("{repo}/repodata/abc-updateinfo.xml.gz"),
                gz.finish().unwrap(),
            ),
            (
                "/photon/cve_data_photon5.0.json".to_owned(),
                fixture("cve_data_photon5.0.json"),
            ),
        ],
        5,
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let mut updater = Updater::new(
        &db,
        vec![
            NetworkSource::OracleOval,
            NetworkSource::AmazonLinux {
                release: "2".into(),
            },
            NetworkSource::Photon {
                version: "5.0".into(),
            },
        ],
    );
    updater.mirrors = Mirrors {
        oracle: format!("{base}/oracle"),
        amazon: format!("{base}/amazon"),
        photon: format!("{base}/photon"),
        ..Mirrors::default()
    };
    updater.fetcher = Arc::new(HttpFetcher::new(Duration::from_secs(30)));
    let summary = updater.update().unwrap();
    server.join().unwrap();
    let counts: Vec<(&str, u64, u64)> = summary
        .sources
        .iter()
        .map(|s| (s.name.as_str(), s.records, s.affected))
        .collect();
    assert_eq!(
        counts,
        [
            ("alas:2", 2, 3),
            ("oracle-oval", 4, 7),
            ("photon:5.0", 4, 5)
        ]
    );
    // The hostile entries of each fixture are skipped and listed (lenient update).
    assert_eq!(summary.problems.len(), 2 + 2 + 3, "{:?}", summary.problems);
    let database = Database::open(&db).unwrap();
    let fixed = |eco: &str, package: &str| -> Vec<(String, Option<String>)> {
        database
            .lookup(eco, package)
            .unwrap()
            .into_iter()
            .map(|e| (e.vuln_id, e.fixed_version))
            .collect()
    };
    assert_eq!(
        fixed("Oracle Linux:9", "openssl-libs"),
        [(
            "ELSA-2024-0101".to_owned(),
            Some("1:3.0.7-25.0.1.el9_3".to_owned())
        )]
    );
    assert_eq!(
        fixed("Amazon Linux:2", "libcurl"),
        [(
            "ALAS2-2024-2001".to_owned(),
            Some("0:8.3.0-1.amzn2.0.5".to_owned())
        )]
    );
    assert_eq!(
        fixed("Photon OS:5.0", "linux"),
        [("CVE-2024-4003".to_owned(), None)]
    );
}

/// A scheduled update (as `portcullis serve` runs one) that starts while another update
/// holds the database's lock fails at once, changing nothing; triggered again once the
/// lock is free, it lands.
#[test]
fn a_scheduled_update_never_runs_over_another() {
    use portcullis_vulndb::UpdateLock;
    use portcullis_vulndb::schedule::{ScheduleConfig, Scheduler};

    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("all.zip");
    write_zip(&zip_path, &[("GO-2099-0001.json", GOOD_RECORD)]);
    let (base, server) = serve(
        vec![(
            "/osv/Go/all.zip".to_owned(),
            std::fs::read(&zip_path).unwrap(),
        )],
        2,
    );
    let db = dir.path().join("db.sqlite");
    let mut updater = Updater::new(
        &db,
        vec![NetworkSource::Osv {
            ecosystem: "Go".into(),
        }],
    );
    updater.mirrors.osv = format!("{base}/osv");
    updater.fetcher = Arc::new(HttpFetcher::new(Duration::from_secs(30)));
    // Another update (a manual `db import`) is in progress.
    let held = UpdateLock::try_acquire(&db).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let config = ScheduleConfig {
        interval: Duration::from_secs(3600),
        jitter: Duration::ZERO,
        retry_after_failure: Duration::from_secs(3600),
        run_at_start: true,
    };
    let scheduler = Scheduler::start(config, move || {
        let outcome = updater.update().map(|_| ());
        let _ = tx.send(
            outcome
                .as_ref()
                .copied()
                .map_err(|e| (e.kind(), e.to_string())),
        );
        outcome
    })
    .unwrap();
    let (kind, message) = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap()
        .unwrap_err();
    assert_eq!(kind, ErrorKind::Locked);
    assert_eq!(
        message,
        format!(
            "{}: another update of this database is in progress (it holds {}.lock); \
             nothing was changed, try again when it has finished",
            db.display(),
            db.display()
        )
    );
    assert!(!db.exists());
    drop(held);
    scheduler.trigger();
    rx.recv_timeout(Duration::from_secs(60)).unwrap().unwrap();
    let database = Database::open(&db).unwrap();
    assert_eq!(database.lookup("Go", "example.com/m").unwrap().len(), 1);
    scheduler.stop();
    server.join().unwrap();
}

#[test]
fn batch_lookups_and_probes_on_the_testdata() {
    let db = Database::open(&fixture().db).unwrap();
    let queries = [
        ("Alpine:v3.9", "musl"),
        ("Alpine:v3.20", "openssl"),
        ("Debian:12", "glibc"),
        ("Go", "stdlib"),
        ("PyPI", "Django"),
        ("crates.io", "no-such-crate"),
    ];
    let found = db.lookup_many(&queries).unwrap();
    assert_eq!(found.len(), queries.len());
    for (ecosystem, package) in queries {
        let single = db.lookup(ecosystem, package).unwrap();
        assert_eq!(found[&(ecosystem.to_owned(), package.to_owned())], single);
    }
    let records = db
        .records_for_many(&["CVE-2020-28928", "CVE-2024-9143"])
        .unwrap();
    assert_eq!(
        records["CVE-2020-28928"],
        db.records_for("CVE-2020-28928").unwrap()
    );
    assert!(
        records["CVE-2024-9143"]
            .iter()
            .any(|r| r.source == "alpine-secdb:v3.20/main")
    );
    assert!(db.has_ecosystem("Alpine:v3.9").unwrap());
    assert!(db.has_ecosystem("Debian:12").unwrap());
    assert!(!db.has_ecosystem("Alpine:v3.1").unwrap());
    assert!(!db.has_ecosystem("Ubuntu:22.04").unwrap());
    assert_eq!(
        db.version().unwrap(),
        format!("sha256:{}", db.content_hash().unwrap())
    );
}

#[derive(Default)]
struct RecordedProgress(std::sync::Mutex<Vec<String>>);

impl portcullis_vulndb::ImportProgress for RecordedProgress {
    fn files(&self, total: u64) {
        self.0.lock().unwrap().push(format!("files {total}"));
    }
    fn file_started(&self, file: &Path) {
        let name = file.file_name().unwrap().to_string_lossy();
        self.0.lock().unwrap().push(format!("start {name}"));
    }
    fn file_done(&self, file: &Path) {
        let name = file.file_name().unwrap().to_string_lossy();
        self.0.lock().unwrap().push(format!("done {name}"));
    }
    fn finishing(&self) {
        self.0.lock().unwrap().push("finishing".into());
    }
}

#[test]
fn import_reports_progress_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    std::fs::write(inputs.join("a.json"), GOOD_RECORD).unwrap();
    std::fs::write(inputs.join("b.txt"), "not an advisory").unwrap();
    std::fs::write(
        inputs.join("c.json"),
        GOOD_RECORD
            .replace("GO-2099-0001", "GO-2099-0003")
            .replace("CVE-2099-1", "CVE-2099-3"),
    )
    .unwrap();
    let progress = RecordedProgress::default();
    let summary = Database::import_paths_with_progress(
        dir.path().join("db.sqlite"),
        &[inputs],
        &ImportOptions::default(),
        &progress,
    )
    .unwrap();
    assert_eq!(summary.files, 2);
    assert_eq!(summary.skipped_files.len(), 1);
    assert_eq!(
        progress.0.into_inner().unwrap(),
        [
            "files 3",
            "start a.json",
            "done a.json",
            "start b.txt",
            "done b.txt",
            "start c.json",
            "done c.json",
            "finishing"
        ]
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn kev_and_epss_answer_with_the_files_values() {
    let fx = fixture();
    let db = Database::open(&fx.db).unwrap();
    // CVE-2023-4863 (libwebp) as the catalog file has it, read here with serde_json.
    let catalog: serde_json::Value = serde_json::from_slice(
        &std::fs::read(advisories().join("kev/known_exploited_vulnerabilities.json")).unwrap(),
    )
    .unwrap();
    let entry = catalog["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["cveID"] == "CVE-2023-4863")
        .unwrap();
    let found = db
        .exploitation_many(&["CVE-2023-4863", "GHSA-not-a-cve", "CVE-1999-0001"])
        .unwrap();
    let kev = &found.kev["CVE-2023-4863"];
    assert_eq!(kev.date_added, entry["dateAdded"].as_str().unwrap());
    assert_eq!(kev.due_date, entry["dueDate"].as_str().unwrap());
    assert_eq!(
        kev.known_ransomware_use,
        entry["knownRansomwareCampaignUse"].as_str().unwrap()
    );
    assert_eq!(found.kev.len(), 1);
    // The EPSS line of CVE-2023-4863, read here from the gzip file.
    let mut csv = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(advisories().join("epss/epss_scores-2026-08-16.csv.gz")).unwrap(),
    )
    .read_to_string(&mut csv)
    .unwrap();
    let line = csv
        .lines()
        .find(|l| l.starts_with("CVE-2023-4863,"))
        .unwrap();
    let fields: Vec<&str> = line.split(',').collect();
    let score = &found.epss["CVE-2023-4863"];
    assert_eq!(score.score, fields[1].parse::<f64>().unwrap());
    assert_eq!(score.percentile, fields[2].parse::<f64>().unwrap());
    assert_eq!(found.epss_date.as_deref(), Some("2026-08-16"));
    assert_eq!(
        found.epss.contains_key("CVE-1999-0001"),
        csv.lines().any(|l| l.starts_with("CVE-1999-0001,"))
    );
    // Records keep OSV's `related`.
    let pysec = db.records_for("PYSEC-2023-175").unwrap();
    assert_eq!(pysec[0].related, ["CVE-2023-4863", "CVE-2023-5129"]);
}

#[test]
fn hostile_kev_and_epss_inputs_are_rejected_naming_file_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (db, hash) = small_db(dir.path());
    let strict = ImportOptions::default();
    let lenient = ImportOptions {
        strict: false,
        ..ImportOptions::default()
    };
    let good = r#"{"cveID":"CVE-2023-4863","dateAdded":"2023-09-13","dueDate":"2023-10-04","knownRansomwareCampaignUse":"Unknown"}"#;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.csv.gz",
            {
                let real =
                    std::fs::read(advisories().join("epss/epss_scores-2026-08-16.csv.gz")).unwrap();
                real[..real.len() / 2].to_vec()
            },
            "truncated.csv.gz: corrupt or truncated compressed data",
        ),
        (
            "broken.csv",
            b"#score_date:2026-01-01\ncve,epss,percentile\nCVE-2023-4863,0.9,0.99\nCVE-2023-4864;0.1;0.2\n"
                .to_vec(),
            "broken.csv: line 4: expected 3 fields (cve,epss,percentile), found 1",
        ),
        (
            "absurd.csv.gz",
            gzip(b"cve,epss,percentile\nCVE-2023-4863,1.5,0.99\n"),
            "absurd.csv.gz: line 2: CVE-2023-4863: epss \"1.5\" is not a number between 0 and 1",
        ),
        (
            "nan.csv",
            b"cve,epss,percentile\nCVE-2023-4863,0.5,NaN\n".to_vec(),
            "nan.csv: line 2: CVE-2023-4863: percentile \"NaN\" is not a number between 0 and 1",
        ),
        (
            "negative.csv",
            b"cve,epss,percentile\nCVE-2023-4863,-0.01,0.5\n".to_vec(),
            "negative.csv: line 2: CVE-2023-4863: epss \"-0.01\" is not a number between 0 and 1",
        ),
        (
            "twice.csv",
            b"cve,epss,percentile\nCVE-2023-4863,0.1,0.5\nCVE-2023-4863,0.2,0.6\n".to_vec(),
            "twice.csv: line 3: CVE-2023-4863: duplicate CVE id (also on line 2)",
        ),
        (
            "kev-missing.json",
            format!(
                r#"{{"catalogVersion":"x","vulnerabilities":[{good},{{"cveID":"CVE-2024-1111","dateAdded":"2024-01-01","knownRansomwareCampaignUse":"Known"}}]}}"#
            )
            .into_bytes(),
            "kev-missing.json: record CVE-2024-1111: entry 2: missing field dueDate",
        ),
        (
            "kev-twice.json",
            format!(r#"{{"catalogVersion":"x","vulnerabilities":[{good},{good}]}}"#).into_bytes(),
            "kev-twice.json: record CVE-2023-4863: entry 2: duplicate CVE id (also entry 1)",
        ),
    ];
    for (name, bytes, message) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let err = Database::import_paths(&db, std::slice::from_ref(&path), &strict).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name}: {err}");
        assert!(
            err.to_string()
                .contains(&format!("{}/{message}", dir.path().display())),
            "{name}: {err}"
        );
        assert_untouched(&db, &hash);
        // Lenient mode skips the bad line or entry (a truncated file still fails whole).
        match Database::import_paths(&db, &[path], &lenient) {
            Ok(summary) => {
                assert_eq!(summary.problems.len(), 1, "{name}");
                let db = Database::open(&db).unwrap();
                let found = db.exploitation_many(&["CVE-2023-4863"]).unwrap();
                assert_eq!(
                    found.kev.len() + found.epss.len(),
                    usize::from(
                        !name.starts_with("absurd")
                            && !name.starts_with("nan")
                            && !name.starts_with("negative")
                    ),
                    "{name}"
                );
            }
            Err(err) => assert!(name.starts_with("truncated"), "{name}: {err}"),
        }
        // Back to the small database for the next case.
        std::fs::remove_file(&db).unwrap();
        let (_, again) = small_db(dir.path());
        assert_eq!(again, hash);
    }
}

#[test]
fn rating_coverage_counts_the_rated_cves_of_each_source() {
    let db = Database::open(&fixture().db).unwrap();
    let coverage = db.rating_coverage().unwrap();
    // NVD: every record is a CVE; rated when it has a CVSS metric (read here from the files).
    let (mut cves, mut rated) = (0, 0);
    for entry in std::fs::read_dir(advisories().join("nvd")).unwrap() {
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        cves += 1;
        let metrics = record["metrics"].as_object().cloned().unwrap_or_default();
        if metrics.iter().any(|(key, list)| {
            key.starts_with("cvssMetric") && !list.as_array().unwrap().is_empty()
        }) {
            rated += 1;
        }
    }
    let nvd = coverage.iter().find(|c| c.source == "nvd").unwrap();
    assert_eq!((nvd.cves, nvd.rated), (cves, rated));
    for c in &coverage {
        assert!(c.rated <= c.cves, "{c:?}");
    }
    // KEV and EPSS have no records, so no line.
    assert!(
        coverage
            .iter()
            .all(|c| c.source != "kev" && c.source != "epss")
    );
}

#[test]
fn nvd_records_keep_their_cwe_ids() {
    let db = Database::open(&fixture().db).unwrap();
    let (mut with_cwe, mut checked) = (0, 0);
    for entry in std::fs::read_dir(advisories().join("nvd")).unwrap() {
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        let id = record["id"].as_str().unwrap();
        // From the file: every `CWE-<n>` of `weaknesses[].description[].value`, numeric order.
        let mut expected: Vec<String> = record["weaknesses"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|w| w["description"].as_array().cloned().unwrap_or_default())
            .filter_map(|d| d["value"].as_str().map(str::to_string))
            .filter(|v| v.starts_with("CWE-"))
            .collect();
        expected.sort_by_key(|v| v[4..].parse::<u32>().unwrap());
        expected.dedup();
        let records = db.records_for(id).unwrap();
        let Some(stored) = records.iter().find(|r| r.source == "nvd" && r.id == id) else {
            continue;
        };
        checked += 1;
        if !expected.is_empty() {
            with_cwe += 1;
        }
        assert_eq!(stored.cwe_ids, expected, "{id}");
    }
    assert_eq!(checked, 104);
    assert!(with_cwe > 50, "{with_cwe} of 104 NVD records name a CWE");
    let musl = db.records_for("CVE-2020-28928").unwrap();
    let nvd = musl.iter().find(|r| r.source == "nvd").unwrap();
    assert_eq!(nvd.cwe_ids, ["CWE-787"]);
}

/// A [`portcullis_vulndb::fetch::Fetcher`] serving files from memory, recording every URL.
#[derive(Debug, Default)]
struct MemoryFetcher {
    files: std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>,
    fetched: std::sync::Mutex<Vec<String>>,
}

impl MemoryFetcher {
    fn put(&self, url: &str, bytes: Vec<u8>) {
        self.files.lock().unwrap().insert(url.to_owned(), bytes);
    }

    fn take_fetched(&self) -> Vec<String> {
        std::mem::take(&mut *self.fetched.lock().unwrap())
    }
}

impl portcullis_vulndb::fetch::Fetcher for MemoryFetcher {
    fn fetch(&self, url: &str, dest: &mut dyn Write, _max: u64) -> portcullis_vulndb::Result<u64> {
        self.fetched.lock().unwrap().push(url.to_owned());
        match self.files.lock().unwrap().get(url) {
            Some(bytes) => {
                dest.write_all(bytes).unwrap();
                Ok(bytes.len() as u64)
            }
            None => Err(portcullis_vulndb::Error::new(
                ErrorKind::Network,
                format!("{url}: 404"),
            )),
        }
    }
}

/// The real NVD records of the test data whose id starts with `prefix`, sorted by id.
fn nvd_records(prefix: &str) -> Vec<(String, serde_json::Value)> {
    let mut records: Vec<(String, serde_json::Value)> = std::fs::read_dir(advisories().join("nvd"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .map(|p| {
            let record: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            (record["id"].as_str().unwrap().to_owned(), record)
        })
        .collect();
    records.sort_by(|a, b| a.0.cmp(&b.0));
    records
}

/// An NVD JSON 2.0 feed of `records`, gzipped, and its `.meta` (as NVD writes it: CRLF,
/// upper-case SHA-256 of the uncompressed JSON).
fn nvd_feed(records: &[(String, serde_json::Value)]) -> (Vec<u8>, String) {
    use sha2::Digest as _;
    let doc = serde_json::json!({
        "resultsPerPage": records.len(),
        "startIndex": 0,
        "totalResults": records.len(),
        "format": "NVD_CVE",
        "version": "2.0",
        "timestamp": "2026-12-01T00:00:00.000",
        "vulnerabilities": records.iter().map(|(_, r)| serde_json::json!({"cve": r})).collect::<Vec<_>>(),
    });
    let json = serde_json::to_vec(&doc).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&json).unwrap();
    let gz = gz.finish().unwrap();
    let sha = hex::encode(sha2::Sha256::digest(&json)).to_uppercase();
    let meta = format!(
        "lastModifiedDate:2026-12-01T03:00:01-05:00\r\nsize:{}\r\nzipSize:0\r\ngzSize:{}\r\nsha256:{sha}\r\n",
        json.len(),
        gz.len()
    );
    (gz, meta)
}

/// Yearly NVD feeds are downloaded only when their `.meta` changed; a `.meta` that lies
/// about the content, or a truncated feed, fails the update and leaves the database alone.
#[test]
fn nvd_feeds_are_downloaded_only_when_their_meta_changed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let base = "http://mirror.test/nvd";
    let fetcher = Arc::new(MemoryFetcher::default());
    let y2020 = nvd_records("CVE-2020-");
    let y2021 = nvd_records("CVE-2021-");
    assert_eq!(
        (y2020.len(), y2021.len()),
        (12, 10),
        "the test data's NVD records"
    );
    let half = &y2021[..5];
    let serve = |feed: &str, records: &[(String, serde_json::Value)]| {
        let (gz, meta) = nvd_feed(records);
        fetcher.put(&format!("{base}/nvdcve-2.0-{feed}.json.gz"), gz);
        fetcher.put(&format!("{base}/nvdcve-2.0-{feed}.meta"), meta.into_bytes());
    };
    serve("2020", &y2020);
    serve("2021", half);
    let mut updater = Updater::new(
        &db,
        vec![
            NetworkSource::Nvd {
                feed: "2020".into(),
            },
            NetworkSource::Nvd {
                feed: "2021".into(),
            },
        ],
    );
    updater.mirrors = Mirrors {
        nvd: base.to_owned(),
        ..Mirrors::default()
    };
    updater.fetcher = fetcher.clone();
    let nvd_count = |db: &Path| {
        Database::open(db)
            .unwrap()
            .status()
            .unwrap()
            .sources
            .iter()
            .find(|s| s.name == "nvd")
            .map_or(0, |s| s.records)
    };

    // First build: both feeds, every record.
    updater.update().unwrap();
    assert_eq!(nvd_count(&db), 17);
    let feeds = |fetched: &[String]| fetched.iter().filter(|u| u.ends_with(".json.gz")).count();
    assert_eq!(feeds(&fetcher.take_fetched()), 2);
    let hash = Database::open(&db).unwrap().content_hash().unwrap();
    assert_eq!(
        Database::open(&db)
            .unwrap()
            .feed_digest("nvd:2020")
            .unwrap()
            .map(|d| d.len()),
        Some(64)
    );

    // Nothing changed: two .meta reads, no feed, the same content.
    let summary = updater.update().unwrap();
    assert!(summary.sources.is_empty(), "{summary:?}");
    let fetched = fetcher.take_fetched();
    assert_eq!(fetched.len(), 2, "{fetched:?}");
    assert_eq!(feeds(&fetched), 0);
    assert_eq!(Database::open(&db).unwrap().content_hash().unwrap(), hash);

    // The 2021 feed grew: only it is downloaded, and applied as an upsert.
    serve("2021", &y2021);
    updater.update().unwrap();
    let fetched = fetcher.take_fetched();
    assert_eq!(
        fetched
            .iter()
            .filter(|u| u.ends_with(".json.gz"))
            .collect::<Vec<_>>(),
        [&format!("{base}/nvdcve-2.0-2021.json.gz")]
    );
    assert_eq!(nvd_count(&db), 22);
    let hash = Database::open(&db).unwrap().content_hash().unwrap();

    // A .meta that lies about the content: refused, naming the feed; nothing imported.
    let (gz, _) = nvd_feed(&y2020[..3]);
    let (_, other_meta) = nvd_feed(&y2020[..4]);
    fetcher.put(&format!("{base}/nvdcve-2.0-2020.json.gz"), gz.clone());
    fetcher.put(
        &format!("{base}/nvdcve-2.0-2020.meta"),
        other_meta.into_bytes(),
    );
    let err = updater.update().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChecksumMismatch, "{err}");
    assert!(err.to_string().contains("nvdcve-2.0-2020.json.gz"), "{err}");
    assert_eq!(Database::open(&db).unwrap().content_hash().unwrap(), hash);

    // A truncated feed: refused, naming the file; nothing imported.
    let (full, meta) = nvd_feed(&y2020[..3]);
    fetcher.put(
        &format!("{base}/nvdcve-2.0-2020.json.gz"),
        full[..full.len() / 2].to_vec(),
    );
    fetcher.put(&format!("{base}/nvdcve-2.0-2020.meta"), meta.into_bytes());
    let err = updater.update().unwrap_err();
    assert!(err.to_string().contains("gzip"), "{err}");
    assert_eq!(Database::open(&db).unwrap().content_hash().unwrap(), hash);

    // A .meta without a valid sha256 line.
    fetcher.put(
        &format!("{base}/nvdcve-2.0-2020.meta"),
        b"lastModifiedDate:x\r\nsha256:zz\r\n".to_vec(),
    );
    let err = updater.update().unwrap_err();
    assert!(err.to_string().contains("nvdcve-2.0-2020.meta"), "{err}");
    assert_eq!(Database::open(&db).unwrap().content_hash().unwrap(), hash);
}

#[test]
fn a_full_build_reads_every_yearly_nvd_feed_then_recent_and_modified() {
    let updates: Vec<String> = portcullis_vulndb::fetch::default_sources()
        .iter()
        .map(NetworkSource::name)
        .filter(|n| n.starts_with("nvd:"))
        .collect();
    assert_eq!(updates, ["nvd:recent", "nvd:modified"]);
    let nvd: Vec<String> = portcullis_vulndb::fetch::build_sources()
        .iter()
        .map(NetworkSource::name)
        .filter(|n| n.starts_with("nvd:"))
        .collect();
    assert_eq!(nvd.first().map(String::as_str), Some("nvd:2002"));
    let n = nvd.len();
    assert_eq!(&nvd[n - 2..], ["nvd:recent", "nvd:modified"]);
    // 2002 to this year, each once.
    assert!(n >= 2 + 25, "{nvd:?}");
}

/// Answer one connection each with the raw HTTP responses `script`, in order; the handle
/// gives back the request paths.
fn serve_script(script: Vec<String>) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut paths = Vec::new();
        for response in script {
            let (mut stream, _) = listener.accept().unwrap();
            paths.push(request_path(&mut stream));
            stream.write_all(response.as_bytes()).unwrap();
        }
        paths
    });
    (base, handle)
}

fn answer(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn recording_fetcher(ca_certs: Vec<PathBuf>) -> HttpFetcher {
    HttpFetcher::with_options(FetchOptions {
        timeout: Duration::from_secs(30),
        ca_certs,
        sleep: record_sleep,
        ..FetchOptions::default()
    })
    .unwrap()
}

/// Transient answers are retried with exponential backoff from 1 s, or after the server's
/// `Retry-After`; lasting ones are not; the delays are the injected clock's, never slept.
#[test]
fn the_fetcher_retries_transient_failures_with_backoff() {
    let fetcher = recording_fetcher(Vec::new());
    let s = |d| Duration::from_secs(d);

    let (base, server) = serve_script(vec![
        answer("503 Service Unavailable", "Retry-After: 7\r\n", ""),
        answer("500 Internal Server Error", "", ""),
        answer("200 OK", "", "feed"),
    ]);
    let mut body = Vec::new();
    let bytes = fetcher
        .fetch(&format!("{base}/f"), &mut body, 1 << 20)
        .unwrap();
    assert_eq!((bytes, body.as_slice()), (4, &b"feed"[..]));
    assert_eq!(slept(), [s(7), s(2)]);
    assert_eq!(server.join().unwrap(), ["/f", "/f", "/f"]);

    // Four attempts in all: three delays, doubling.
    let (base, server) = serve_script(vec![answer("502 Bad Gateway", "", ""); 4]);
    let err = fetcher
        .fetch(&format!("{base}/g"), &mut Vec::new(), 1 << 20)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert_eq!(
        err.to_string(),
        format!("{base}/g: http status: 502 (gave up after 4 attempts)")
    );
    assert_eq!(slept(), [s(1), s(2), s(4)]);
    assert_eq!(server.join().unwrap().len(), 4);

    // Not found is not retried.
    let (base, server) = serve_script(vec![answer("404 Not Found", "", "")]);
    let err = fetcher
        .fetch(&format!("{base}/h"), &mut Vec::new(), 1 << 20)
        .unwrap_err();
    assert_eq!(err.to_string(), format!("{base}/h: http status: 404"));
    assert!(slept().is_empty());
    server.join().unwrap();

    // A Retry-After beyond two minutes fails at once.
    let (base, server) = serve_script(vec![answer(
        "429 Too Many Requests",
        "Retry-After: 3600\r\n",
        "",
    )]);
    let err = fetcher
        .fetch(&format!("{base}/i"), &mut Vec::new(), 1 << 20)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{base}/i: http status: 429 (the server asked to retry after more than 120s)")
    );
    assert!(slept().is_empty());
    server.join().unwrap();

    // A body over the limit is too large, from the error itself, and not retried.
    let (base, server) = serve_script(vec![answer("200 OK", "", &"x".repeat(100))]);
    let err = fetcher
        .fetch(&format!("{base}/j"), &mut Vec::new(), 10)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    assert!(slept().is_empty());
    server.join().unwrap();
}

/// A mirror behind a private CA is trusted through `ca_certs` (the `--ca-cert` of the registry
/// client), and refused without it, at once: an untrusted certificate is not retried.
#[test]
fn the_fetcher_trusts_extra_ca_files() {
    let registry = portcullis_testkit::Registry::start(portcullis_testkit::RegistryKind::Tls);
    let url = format!("https://{}/v2/", registry.host_port());
    let ca = registry.ca_cert_pem_path().unwrap().to_path_buf();

    let mut body = Vec::new();
    recording_fetcher(vec![ca.clone()])
        .fetch(&url, &mut body, 1 << 20)
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&body).trim(), "{}");

    let err = recording_fetcher(Vec::new())
        .fetch(&url, &mut Vec::new(), 1 << 20)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.to_string().starts_with(&url), "{err}");
    assert!(slept().is_empty());

    let bad = tempfile::NamedTempFile::new().unwrap();
    let err = HttpFetcher::with_options(FetchOptions {
        ca_certs: vec![bad.path().to_path_buf()],
        ..FetchOptions::default()
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidOptions);
    assert_eq!(
        err.to_string(),
        format!(
            "CA certificate file {} holds no PEM certificate",
            bad.path().display()
        )
    );
}

/// A gzipped feed larger than a batch is read an item at a time: every unique CVE is kept,
/// a duplicate id is skipped however far from its first entry (across batches), a malformed
/// item is a problem naming it, and a feed cut short fails the import and leaves the
/// database as it was.
#[test]
fn a_gzipped_nvd_feed_is_read_an_item_at_a_time() {
    let templates = nvd_records("CVE-");
    assert_eq!(templates.len(), 104, "testdata/advisories/nvd changed");
    let id = |i: usize| format!("CVE-2099-{}", 10_000 + i);
    let mut items: Vec<(String, serde_json::Value)> = (0..2_600)
        .map(|i| {
            let mut record = templates[i % templates.len()].1.clone();
            record["id"] = id(i).into();
            (id(i), record)
        })
        .collect();
    items[2_100].1["id"] = id(5).into();
    items[1_500].1["descriptions"] = "not a list".into();
    let (gz, _) = nvd_feed(&items);
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("nvdcve-2.0-2099.json.gz");
    std::fs::write(&feed, &gz).unwrap();
    let db = dir.path().join("db.sqlite");
    let lenient = ImportOptions {
        strict: false,
        ..ImportOptions::default()
    };
    let summary = Database::import_paths(&db, std::slice::from_ref(&feed), &lenient).unwrap();

    let nvd = summary.sources.iter().find(|s| s.name == "nvd").unwrap();
    assert_eq!((nvd.records, nvd.files), (2_598, 1));
    let problems: Vec<String> = summary.problems.iter().map(ToString::to_string).collect();
    let label = feed.display().to_string();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].starts_with(&format!(
            "{label}: record CVE-2099-11500: malformed NVD CVE record: invalid type: string \"not a list\""
        )),
        "{problems:#?}"
    );
    assert_eq!(
        problems[1],
        format!(
            "{label}: record CVE-2099-10005: entry 2100: duplicate CVE id (also entry 5); this entry is skipped"
        )
    );
    let database = Database::open(&db).unwrap();
    let first = database.records_for(&id(5)).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(
        first[0].published.as_deref(),
        templates[5].1["published"].as_str()
    );
    assert!(database.records_for(&id(1_500)).unwrap().is_empty());
    assert_eq!(database.records_for(&id(2_599)).unwrap().len(), 1);
    let hash = database.content_hash().unwrap();
    drop(database);

    let capped = ImportOptions {
        max_decompressed_size: 100_000,
        ..ImportOptions::default()
    };
    let err = Database::import_paths(&db, std::slice::from_ref(&feed), &capped).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    assert_eq!(
        err.to_string(),
        format!("{label}: decompresses to more than 100000 bytes")
    );
    std::fs::write(&feed, &gz[..gz.len() / 2]).unwrap();
    let err = Database::import_paths(&db, &[feed], &lenient).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("{label}: corrupt or truncated compressed data: ")),
        "{err}"
    );
    assert_eq!(Database::open(&db).unwrap().content_hash().unwrap(), hash);
}
