//! Matching real images against a database imported from `PORTCULLIS_TESTDATA`.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use portcullis_catalog::all_patterns;
use portcullis_catalog::{Catalog, Ecosystem, Extra, Package, catalog_all};
use portcullis_matcher::{FindingStatus, MatchOutput, Severity, match_packages};
use portcullis_oci::{Image, ImageOptions, ImageSource, Limits, PathPatterns};
use portcullis_vulndb::{Database, ImportOptions};

use portcullis_testkit::testdata_dir as testdata;

/// The Alpine v3.9 and v3.20 secdbs, the NVD records and the PyPI, crates.io and Go OSV
/// exports, imported once.
fn db_path() -> &'static Path {
    static DB: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let adv = testdata().join("advisories");
        let inputs = vec![
            adv.join("alpine-secdb/v3.9"),
            adv.join("alpine-secdb/v3.20"),
            adv.join("nvd"),
            adv.join("osv/PyPI/all.zip"),
            adv.join("osv/crates.io/all.zip"),
            adv.join("osv/Go/all.zip"),
        ];
        Database::import_paths(&path, &inputs, &ImportOptions::default()).unwrap();
        (dir, path)
    });
    path
}

/// Read the files the catalogers want out of a root filesystem tar.gz.
fn catalog_rootfs(name: &str) -> Catalog {
    let source = ImageSource::Tar {
        path: testdata().join("images/alpine").join(name),
    };
    let image = Image::open(&source, &ImageOptions::default()).unwrap();
    let patterns = PathPatterns::new(all_patterns()).unwrap();
    catalog_all(&image.read_files(&patterns, &Limits::default()).unwrap())
}

fn scan(name: &str) -> MatchOutput {
    let catalog = catalog_rootfs(name);
    assert_eq!(catalog.packages.len(), 14, "{name}");
    let db = Database::open(db_path()).unwrap();
    match_packages(catalog.os.as_ref(), &catalog.packages, &db).unwrap()
}

type Row = (
    &'static str,
    &'static str,
    &'static str,
    Severity,
    Option<f64>,
);

fn rows(out: &MatchOutput) -> Vec<(String, String, String, Severity, Option<f64>)> {
    out.findings
        .iter()
        .map(|f| {
            (
                f.package.name.clone(),
                f.id.clone(),
                f.fixed_version.clone().unwrap_or_default(),
                f.severity,
                f.cvss_score,
            )
        })
        .collect()
}

fn expect(rows: &[Row]) -> Vec<(String, String, String, Severity, Option<f64>)> {
    rows.iter()
        .map(|(p, id, fix, sev, score)| {
            (p.to_string(), id.to_string(), fix.to_string(), *sev, *score)
        })
        .collect()
}

/// Derivation, from `alpine-secdb/v3.9/main.json` (keys are origins) and the image's
/// `lib/apk/db/installed`, with apk version order:
/// - musl (origin of musl, musl-utils) at 1.1.20-r5; secfixes 1.1.15-r4 (older), 1.1.20-r5
///   (equal: fixed), 1.1.20-r6 CVE-2020-28928 (newer: affected).
/// - openssl (origin of libcrypto1.1, libssl1.1) at 1.1.1g-r0; secfixes up to 1.1.1g-r0
///   are fixed; newer: 1.1.1i-r0 CVE-2020-1971; 1.1.1j-r0 CVE-2021-23839, -23840, -23841;
///   1.1.1k-r0 CVE-2021-3449, -3450.
/// - busybox 1.29.3-r10: newest secfix is 1.29.3-r10 (fixed). No other origin has entries
///   newer than its version (zlib, apk-tools, pax-utils, ... have none in v3.9).
///
/// Severities: NVD's own CVSS v3.1 base scores from `nvd/CVE-*.json` (Alpine rates none).
#[test]
fn alpine_3_9_6_exactly_14() {
    use Severity::{High, Low, Medium};
    let out = scan("alpine-minirootfs-3.9.6-x86_64.tar.gz");
    assert_eq!(out.os_ecosystem.as_deref(), Some("Alpine:v3.9"));
    let openssl: [(&str, &str, Severity, f64); 6] = [
        ("CVE-2020-1971", "1.1.1i-r0", Medium, 5.9),
        ("CVE-2021-23839", "1.1.1j-r0", Low, 3.7),
        ("CVE-2021-23840", "1.1.1j-r0", High, 7.5),
        ("CVE-2021-23841", "1.1.1j-r0", Medium, 5.9),
        ("CVE-2021-3449", "1.1.1k-r0", Medium, 5.9),
        ("CVE-2021-3450", "1.1.1k-r0", High, 7.4),
    ];
    let mut want: Vec<Row> = Vec::new();
    for package in ["libcrypto1.1", "libssl1.1"] {
        // Output order within a package: severity (highest first), then id.
        let mut rows: Vec<Row> = openssl
            .iter()
            .map(|(id, fix, sev, score)| (package, *id, *fix, *sev, Some(*score)))
            .collect();
        rows.sort_by(|a, b| b.3.cmp(&a.3).then(a.1.cmp(b.1)));
        want.extend(rows);
    }
    for package in ["musl", "musl-utils"] {
        want.push((package, "CVE-2020-28928", "1.1.20-r6", Medium, Some(5.5)));
    }
    assert_eq!(rows(&out), expect(&want));
    assert_eq!(out.findings.len(), 14);
    for f in &out.findings {
        assert_eq!(f.status, FindingStatus::Fixed);
        assert_eq!(f.severity_source.as_deref(), Some("nvd"));
        assert_eq!(f.advisory_ecosystem, "Alpine:v3.9");
        assert_eq!(f.sources, ["alpine-secdb:v3.9/main"]);
        assert_eq!(f.package.ecosystem, Ecosystem::Apk);
        assert!(f.published.is_some(), "{}", f.id);
    }
    let musl = &out.findings[12];
    assert_eq!(musl.package.source_name.as_deref(), Some("musl"));
    assert_eq!(musl.published.as_deref(), Some("2020-11-24T18:15:12.207"));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
}

/// From `alpine-secdb/v3.20/main.json`: openssl (origin of libcrypto3, libssl3) at
/// 3.3.2-r0; 3.3.2-r0 CVE-2024-6119 is fixed (equal), 3.3.2-r1 CVE-2024-9143 is newer:
/// affected; the `0` entries mean "not affected". busybox 1.36.1-r29 equals its newest
/// secfix; zlib 1.3.1-r1, musl 1.2.5-r0 and apk-tools 2.14.4-r0 are newer than theirs.
/// NVD's record of CVE-2024-9143 has no metrics: severity unknown.
#[test]
fn alpine_3_20_3_exactly_cve_2024_9143() {
    let out = scan("alpine-minirootfs-3.20.3-x86_64.tar.gz");
    assert_eq!(out.os_ecosystem.as_deref(), Some("Alpine:v3.20"));
    assert_eq!(
        rows(&out),
        expect(&[
            (
                "libcrypto3",
                "CVE-2024-9143",
                "3.3.2-r1",
                Severity::Unknown,
                None
            ),
            (
                "libssl3",
                "CVE-2024-9143",
                "3.3.2-r1",
                Severity::Unknown,
                None
            ),
        ])
    );
    assert_eq!(out.findings[0].severity_source, None);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
}

fn lang(ecosystem: Ecosystem, name: &str, version: &str, purl: &str) -> Package {
    let location = format!("fixture/{name}");
    Package::new(
        ecosystem,
        name,
        version,
        &location,
        purl.into(),
        Extra::None,
    )
}

/// Expectations from reading the OSV records (`osv/<ecosystem>/all.zip`):
/// - PyPI Jinja2 2.10: PYSEC-2019-217 (fixed 2.10.1, alias CVE-2019-10906) and
///   PYSEC-2021-66 (fixed 2.11.3, CVE-2020-28493); PYSEC-2019-220 (< 2.8.1) and the 2014
///   ones (< 2.7.3) are older.
/// - PyPI urllib3 1.26.4: PYSEC-2021-108 (< 1.26.5, CVE-2021-33503), PYSEC-2023-192 (two
///   intervals, [0, 1.26.17), CVE-2023-43804), PYSEC-2023-212 ([0, 1.26.18), CVE-2023-45803);
///   PYSEC-2021-59 is [1.26.0, 1.26.4): fixed at exactly this version.
/// - crates.io smallvec 1.6.0: RUSTSEC-2021-0003 ([1.0.0, 1.6.1), CVE-2021-25900).
/// - crates.io time 0.1.43: RUSTSEC-2020-0071 ([0.0.0-0, 0.2.0), CVE-2020-26235);
///   RUSTSEC-2026-0009 starts at 0.3.6.
/// - Go golang.org/x/text v0.3.5: GO-2021-0113 (< 0.3.7, CVE-2021-38561), GO-2022-1059
///   (< 0.3.8, CVE-2022-32149), GO-2026-5970 (< 0.39.0, CVE-2026-56852); GO-2020-0015 is
///   fixed in 0.3.3.
/// - A Go main module at `(devel)` and a pkg:generic-less Maven jar match nothing.
#[test]
fn language_fixture_exact_osv_ids() {
    let packages = vec![
        lang(Ecosystem::Python, "Jinja2", "2.10", "pkg:pypi/jinja2@2.10"),
        lang(
            Ecosystem::Python,
            "urllib3",
            "1.26.4",
            "pkg:pypi/urllib3@1.26.4",
        ),
        lang(
            Ecosystem::Python,
            "urllib3",
            "2.2.3",
            "pkg:pypi/urllib3@2.2.3",
        ),
        lang(
            Ecosystem::Cargo,
            "smallvec",
            "1.6.0",
            "pkg:cargo/smallvec@1.6.0",
        ),
        lang(Ecosystem::Cargo, "time", "0.1.43", "pkg:cargo/time@0.1.43"),
        lang(
            Ecosystem::Go,
            "golang.org/x/text",
            "v0.3.5",
            "pkg:golang/golang.org/x/text@v0.3.5",
        ),
        lang(
            Ecosystem::Go,
            "example.com/app",
            "(devel)",
            "pkg:golang/example.com/app@(devel)",
        ),
    ];
    let db = Database::open(db_path()).unwrap();
    let out = match_packages(None, &packages, &db).unwrap();
    let mut got: Vec<(String, String, String, String, FindingStatus)> = out
        .findings
        .iter()
        .map(|f| {
            let record = f
                .aliases
                .iter()
                .find(|a| {
                    a.starts_with("PYSEC") || a.starts_with("RUSTSEC") || a.starts_with("GO-")
                })
                .cloned()
                .unwrap_or_default();
            (
                f.package.name.clone(),
                f.id.clone(),
                record,
                f.fixed_version.clone().unwrap_or_default(),
                f.status,
            )
        })
        .collect();
    got.sort();
    let fixed = FindingStatus::Fixed;
    let want: Vec<(String, String, String, String, FindingStatus)> = [
        ("Jinja2", "CVE-2019-10906", "PYSEC-2019-217", "2.10.1"),
        ("Jinja2", "CVE-2020-28493", "PYSEC-2021-66", "2.11.3"),
        (
            "golang.org/x/text",
            "CVE-2021-38561",
            "GO-2021-0113",
            "0.3.7",
        ),
        (
            "golang.org/x/text",
            "CVE-2022-32149",
            "GO-2022-1059",
            "0.3.8",
        ),
        (
            "golang.org/x/text",
            "CVE-2026-56852",
            "GO-2026-5970",
            "0.39.0",
        ),
        ("smallvec", "CVE-2021-25900", "RUSTSEC-2021-0003", "1.6.1"),
        ("time", "CVE-2020-26235", "RUSTSEC-2020-0071", "0.2.0"),
        ("urllib3", "CVE-2021-33503", "PYSEC-2021-108", "1.26.5"),
        ("urllib3", "CVE-2023-43804", "PYSEC-2023-192", "1.26.17"),
        ("urllib3", "CVE-2023-45803", "PYSEC-2023-212", "1.26.18"),
    ]
    .iter()
    .map(|(p, id, rec, fix)| {
        (
            p.to_string(),
            id.to_string(),
            rec.to_string(),
            fix.to_string(),
            fixed,
        )
    })
    .collect();
    assert_eq!(got, want);
    // The GHSA alias is merged into the same finding.
    let jinja = out
        .findings
        .iter()
        .find(|f| f.id == "CVE-2019-10906")
        .unwrap();
    assert_eq!(jinja.aliases, ["GHSA-462w-v97r-4m45", "PYSEC-2019-217"]);
    assert_eq!(jinja.advisory_ecosystem, "PyPI");
    assert_eq!(jinja.sources, ["osv:PyPI"]);
    assert_eq!(out.os_ecosystem, None);
}

#[test]
fn os_packages_of_another_distribution_never_match() {
    let mut catalog = catalog_rootfs("alpine-minirootfs-3.9.6-x86_64.tar.gz");
    let db = Database::open(db_path()).unwrap();
    // The same apk packages on an image that says it is Debian: no Alpine data applies.
    let mut os = catalog.os.clone().unwrap();
    os.id = "debian".into();
    os.family = portcullis_catalog::OsFamily::Debian;
    os.version_id = Some("12".into());
    let out = match_packages(Some(&os), &catalog.packages, &db).unwrap();
    assert!(out.findings.is_empty());
    assert_eq!(out.os_ecosystem.as_deref(), Some("Debian:12"));
    // Alpine 3.20's data does not apply to 3.9 packages either way round: with the v3.20
    // branch, 3.9.6's openssl 1.1.1g-r0 gets v3.20's findings instead, never both.
    catalog.os.as_mut().unwrap().version_id = Some("3.20.0".into());
    let out = match_packages(catalog.os.as_ref(), &catalog.packages, &db).unwrap();
    assert!(
        out.findings
            .iter()
            .all(|f| f.advisory_ecosystem == "Alpine:v3.20")
    );
    // No OS: OS packages are not matched at all.
    let out = match_packages(None, &catalog.packages, &db).unwrap();
    assert!(out.findings.is_empty());
}

/// A source that answers one query at a time (the trait's default batch methods) and
/// counts the calls.
struct OneByOne<'a> {
    db: &'a Database,
    affected: std::cell::Cell<usize>,
    records: std::cell::Cell<usize>,
}

impl portcullis_matcher::AdvisorySource for OneByOne<'_> {
    fn affected(
        &self,
        ecosystem: &str,
        package: &str,
    ) -> portcullis_matcher::Result<Vec<portcullis_vulndb::AffectedEntry>> {
        self.affected.set(self.affected.get() + 1);
        self.db.affected(ecosystem, package)
    }
    fn records(
        &self,
        id: &str,
    ) -> portcullis_matcher::Result<Vec<portcullis_vulndb::Vulnerability>> {
        self.records.set(self.records.get() + 1);
        self.db.records(id)
    }
}

/// A source that counts the batch calls the matcher makes.
struct Batches<'a> {
    db: &'a Database,
    calls: std::cell::RefCell<Vec<(&'static str, usize)>>,
}

impl portcullis_matcher::AdvisorySource for Batches<'_> {
    fn affected(
        &self,
        _: &str,
        _: &str,
    ) -> portcullis_matcher::Result<Vec<portcullis_vulndb::AffectedEntry>> {
        panic!("the matcher must use affected_many");
    }
    fn records(
        &self,
        _: &str,
    ) -> portcullis_matcher::Result<Vec<portcullis_vulndb::Vulnerability>> {
        panic!("the matcher must use records_many");
    }
    fn affected_many(
        &self,
        queries: &[(String, String)],
    ) -> portcullis_matcher::Result<portcullis_matcher::AffectedMap> {
        self.calls
            .borrow_mut()
            .push(("affected_many", queries.len()));
        self.db.affected_many(queries)
    }
    fn records_many(
        &self,
        ids: &[String],
    ) -> portcullis_matcher::Result<portcullis_matcher::RecordMap> {
        self.calls.borrow_mut().push(("records_many", ids.len()));
        self.db.records_many(ids)
    }
}

#[test]
fn batched_and_one_by_one_sources_agree() {
    use portcullis_matcher::AdvisorySource;
    let catalog = catalog_rootfs("alpine-minirootfs-3.9.6-x86_64.tar.gz");
    let db = Database::open(db_path()).unwrap();
    let batched = match_packages(catalog.os.as_ref(), &catalog.packages, &db).unwrap();
    let single = OneByOne {
        db: &db,
        affected: 0.into(),
        records: 0.into(),
    };
    let one_by_one = match_packages(catalog.os.as_ref(), &catalog.packages, &single).unwrap();
    assert_eq!(batched, one_by_one);
    // 14 packages from 9 origins; 7 distinct flaws (6 OpenSSL, 1 musl).
    let origins: std::collections::BTreeSet<_> = catalog
        .packages
        .iter()
        .map(|p| p.source_name.clone())
        .collect();
    assert_eq!(single.affected.get(), origins.len());
    assert_eq!(single.records.get(), 7);
    let counting = Batches {
        db: &db,
        calls: Vec::new().into(),
    };
    let counted = match_packages(catalog.os.as_ref(), &catalog.packages, &counting).unwrap();
    assert_eq!(counted, batched);
    assert_eq!(
        *counting.calls.borrow(),
        [("affected_many", origins.len()), ("records_many", 7)]
    );
    // The default batch methods answer every distinct query once.
    let queries = vec![
        ("Alpine:v3.9".to_string(), "musl".to_string()),
        ("Alpine:v3.9".to_string(), "musl".to_string()),
        ("Alpine:v3.9".to_string(), "nothing".to_string()),
    ];
    let by_default = single.affected_many(&queries).unwrap();
    assert_eq!(by_default.len(), 2);
    assert_eq!(by_default, db.affected_many(&queries).unwrap());
}
