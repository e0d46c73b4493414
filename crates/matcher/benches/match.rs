//! Matching speed against a database of every advisory in `PORTCULLIS_TESTDATA`: 1,000
//! Alpine 3.20 packages (every v3.20 secdb origin, at its newest fix or outdated), and 1,000
//! Debian 12 packages from the testdata dpkg status files (the 720 of
//! `status-debian12-host`, the 88 of `status-debian12-minbase`, then host packages again up
//! to 1,000, as in an image that carries a second root filesystem). Prints the median of 30
//! runs (each on a freshly opened database, so nothing is cached between runs) and the time
//! spent in the two batched database calls.
//!
//! `PORTCULLIS_TESTDATA=/path cargo bench -p portcullis-matcher --bench match`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use portcullis_catalog::{Ecosystem, Extra, Os, Package};
use std::cell::Cell;

use portcullis_matcher::{AdvisorySource, AffectedMap, RecordMap, match_packages};
use portcullis_versions::{Scheme, compare, parse};
use portcullis_vulndb::{AffectedEntry, Database, ImportOptions, Vulnerability};

/// The target for matching 1,000 packages (issue 17), in ms.
const MATCH_TARGET_MS: u32 = 10;

/// Times the database calls, to show where matching spends its time.
struct Timed<'a> {
    db: &'a Database,
    affected: Cell<Duration>,
    records: Cell<Duration>,
}

impl Timed<'_> {
    fn time<T>(&self, cell: &Cell<Duration>, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        cell.set(cell.get() + start.elapsed());
        out
    }
}

impl AdvisorySource for Timed<'_> {
    fn affected(&self, e: &str, p: &str) -> portcullis_matcher::Result<Vec<AffectedEntry>> {
        self.time(&self.affected, || self.db.affected(e, p))
    }
    fn records(&self, id: &str) -> portcullis_matcher::Result<Vec<Vulnerability>> {
        self.time(&self.records, || self.db.records(id))
    }
    fn affected_many(&self, q: &[(String, String)]) -> portcullis_matcher::Result<AffectedMap> {
        self.time(&self.affected, || self.db.affected_many(q))
    }
    fn records_many(&self, ids: &[String]) -> portcullis_matcher::Result<RecordMap> {
        self.time(&self.records, || self.db.records_many(ids))
    }
}

use portcullis_testkit::testdata_dir as testdata;

/// Every origin in the v3.20 secdb, then numbered fillers, to 1,000 packages. With
/// `vulnerable_every = n`, every n-th package is at an old version (affected by most of its
/// entries) and the rest at their newest secfix (affected by none): a realistic image has a
/// few vulnerable packages among many up-to-date ones.
fn packages(adv: &Path, vulnerable_every: usize) -> Vec<Package> {
    let mut origins: Vec<(String, String)> = Vec::new();
    for repo in ["main", "community"] {
        let text = std::fs::read(adv.join(format!("alpine-secdb/v3.20/{repo}.json"))).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&text).unwrap();
        for p in doc["packages"].as_array().unwrap() {
            let name = p["pkg"]["name"].as_str().unwrap().to_string();
            let newest = p["pkg"]["secfixes"]
                .as_object()
                .unwrap()
                .keys()
                .filter(|v| v.as_str() != "0")
                .filter(|v| parse(Scheme::Apk, v).is_ok())
                .max_by(|a, b| compare(Scheme::Apk, a, b).unwrap())
                .cloned()
                .unwrap_or_else(|| "1.0.0-r0".into());
            origins.push((name, newest));
        }
    }
    origins.sort();
    origins.dedup_by(|a, b| a.0 == b.0);
    let mut i = 0;
    while origins.len() < 1000 {
        origins.push((format!("filler-{i}"), "1.0.0-r0".into()));
        i += 1;
    }
    origins.truncate(1000);
    origins
        .into_iter()
        .enumerate()
        .map(|(i, (name, newest))| {
            let version = if i % vulnerable_every == 0 {
                "1.0.0-r0".to_string()
            } else {
                newest
            };
            Package {
                ecosystem: Ecosystem::Apk,
                version: version.clone(),
                arch: Some("x86_64".into()),
                location: "lib/apk/db/installed".into(),
                source_name: Some(name.clone()),
                source_version: None,
                licenses: vec![],
                purl: format!("pkg:apk/alpine/{name}@{version}"),
                layer: None,
                extra: Extra::Apk {
                    origin: Some(name.clone()),
                    commit: None,
                },
                name,
            }
        })
        .collect()
}

/// 1,000 Debian 12 packages from the testdata dpkg status files (see the module docs).
fn debian_packages(os: &Os) -> Vec<Package> {
    let dir = testdata().join("pkgdb/dpkg");
    let read = |name: &str| {
        let data = std::fs::read(dir.join(name)).unwrap();
        portcullis_catalog::dpkg::parse_status(&data, "var/lib/dpkg/status", Some(os)).0
    };
    let host = read("status-debian12-host");
    let minbase = read("status-debian12-minbase");
    assert_eq!((host.len(), minbase.len()), (720, 88));
    let mut all: Vec<Package> = host.iter().chain(&minbase).cloned().collect();
    all.extend(host.iter().take(1000 - all.len()).cloned());
    all
}

fn main() {
    let adv = testdata().join("advisories");
    let dir = tempfile::tempdir().unwrap();
    // PORTCULLIS_BENCH_DB: an existing import of all the testdata advisories, to skip the
    // import (e.g. to profile the matching alone).
    let db_path = match std::env::var_os("PORTCULLIS_BENCH_DB") {
        Some(path) => PathBuf::from(path),
        None => {
            let path = dir.path().join("db.sqlite");
            let inputs = std::slice::from_ref(&adv);
            Database::import_paths(&path, inputs, &ImportOptions::default()).unwrap();
            path
        }
    };
    let alpine =
        portcullis_catalog::os::from_os_release("ID=alpine\nVERSION_ID=3.20.3\n", "etc/os-release")
            .unwrap();
    // PORTCULLIS_BENCH_ONLY: run only the cases whose label contains it (e.g. `Debian`).
    let only = std::env::var("PORTCULLIS_BENCH_ONLY").unwrap_or_default();
    for (label, every) in [
        ("Alpine 3.20, realistic: 1 in 20 packages outdated", 20),
        ("Alpine 3.20, worst case: every package outdated", 1),
    ] {
        if label.contains(&only) {
            run(label, &db_path, &alpine, &packages(&adv, every));
        }
    }
    if !"Debian 12".contains(&only) && !only.is_empty() {
        return;
    }
    let debian =
        portcullis_catalog::os::from_os_release("ID=debian\nVERSION_ID=12\n", "etc/os-release")
            .unwrap();
    let debian_packages = debian_packages(&debian);
    run(
        "Debian 12, testdata dpkg status files",
        &db_path,
        &debian,
        &debian_packages,
    );
}

fn run(label: &str, db_path: &Path, os: &Os, packages: &[Package]) {
    let mut times: Vec<Duration> = Vec::new();
    let mut findings = 0;
    let mut db_time = (Duration::ZERO, Duration::ZERO);
    for _ in 0..30 {
        let db = Database::open(db_path).unwrap();
        let timed = Timed {
            db: &db,
            affected: Cell::new(Duration::ZERO),
            records: Cell::new(Duration::ZERO),
        };
        let start = Instant::now();
        let out = match_packages(Some(os), packages, &timed).unwrap();
        times.push(start.elapsed());
        findings = out.findings.len();
        db_time = (timed.affected.get(), timed.records.get());
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "match {} packages ({label}): {findings} findings, median {:.2} ms (min {:.2}, max {:.2}; last run {:.2} ms in lookups, {:.2} ms in records; target ≤ {MATCH_TARGET_MS} ms)",
        packages.len(),
        median.as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0,
        db_time.0.as_secs_f64() * 1000.0,
        db_time.1.as_secs_f64() * 1000.0,
    );
}
