//! Oracle Linux, Amazon Linux and Photon OS end to end: the importers' fixtures
//! (`crates/vulndb/tests/fixtures/distros`) imported into a temporary database, an OS and
//! its rpm packages matched against it, exact findings.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use portcullis_catalog::os::from_os_release;
use portcullis_catalog::{Ecosystem, Extra, Package};
use portcullis_matcher::{FindingStatus, Severity, match_packages};
use portcullis_vulndb::{Database, ImportOptions};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vulndb/tests/fixtures/distros")
        .join(name)
}

/// A database of `fixtures`, imported leniently (each fixture has hostile entries, which
/// are skipped and listed); also returns the problems.
fn database(fixtures: &[&str]) -> (tempfile::TempDir, Database, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let inputs: Vec<PathBuf> = fixtures.iter().map(|f| fixture(f)).collect();
    let options = ImportOptions {
        strict: false,
        ..ImportOptions::default()
    };
    let summary = Database::import_paths(&path, &inputs, &options).unwrap();
    let problems = summary.problems.iter().map(|p| p.message.clone()).collect();
    (dir, Database::open(&path).unwrap(), problems)
}

fn rpm(name: &str, source: &str, version: &str) -> Package {
    let location = "var/lib/rpm/rpmdb.sqlite";
    let mut package = Package::new(
        Ecosystem::Rpm,
        name,
        version,
        location,
        String::new(),
        Extra::None,
    );
    package.arch = Some("x86_64".into());
    package.source_name = Some(source.into());
    package.source_version = Some(version.into());
    package
}

type Row = (
    String,
    Vec<String>,
    String,
    Option<String>,
    FindingStatus,
    Severity,
);

/// (id, aliases, package, fixed version, status, severity) of every finding of `packages`
/// on the OS of `os_release`.
fn findings(db: &Database, os_release: &str, packages: &[Package]) -> (Option<String>, Vec<Row>) {
    let os = from_os_release(os_release, "etc/os-release").unwrap();
    let out = match_packages(Some(&os), packages, db).unwrap();
    let rows = out
        .findings
        .iter()
        .map(|f| {
            (
                f.id.clone(),
                f.aliases.clone(),
                f.package.name.clone(),
                f.fixed_version.clone(),
                f.status,
                f.severity,
            )
        })
        .collect();
    (out.os_ecosystem, rows)
}

fn row(id: &str, aliases: &[&str], package: &str, fixed: Option<&str>, severity: Severity) -> Row {
    let status = if fixed.is_some() {
        FindingStatus::Fixed
    } else {
        FindingStatus::NotFixed
    };
    (
        id.into(),
        aliases.iter().map(|a| a.to_string()).collect(),
        package.into(),
        fixed.map(str::to_owned),
        status,
        severity,
    )
}

#[test]
fn oracle_linux_elsa_advisories_fold_into_their_cves() {
    let (_dir, db, problems) = database(&["com.oracle.elsa-sample.xml"]);
    assert_eq!(problems.len(), 2, "{problems:?}");
    let ol9 = "NAME=\"Oracle Linux Server\"\nID=\"ol\"\nVERSION_ID=\"9.3\"\n";
    let evr = "1:3.0.7-25.0.1.el9_3";
    // openssl-libs is named by ELSA-2024-0101 under its own and its source's name: once.
    let (ecosystem, rows) = findings(
        &db,
        ol9,
        &[
            rpm("openssl-libs", "openssl", "1:3.0.7-24.0.1.el9"),
            rpm("openssl", "openssl", "1:3.0.7-25.0.1.el9_3"),
            rpm("bash", "bash", "5.1.8-6.el9"),
        ],
    );
    assert_eq!(ecosystem.as_deref(), Some("Oracle Linux:9"));
    assert_eq!(
        rows,
        vec![
            row(
                "CVE-2024-1001",
                &["ELSA-2024-0101"],
                "openssl-libs",
                Some(evr),
                Severity::High
            ),
            row(
                "CVE-2024-1002",
                &["ELSA-2024-0101"],
                "openssl-libs",
                Some(evr),
                Severity::High
            ),
        ]
    );
    // Oracle Linux 8: the standard glibc build is judged against its own EVR, never the
    // Ksplice build's epoch 2.
    let ol8 = "ID=\"ol\"\nVERSION_ID=\"8.9\"\n";
    let (_, rows) = findings(&db, ol8, &[rpm("glibc", "glibc", "2.28-236.el8")]);
    assert_eq!(
        rows,
        vec![row(
            "CVE-2024-2001",
            &["ELSA-2024-0102"],
            "glibc",
            Some("0:2.28-236.0.1.el8_9"),
            Severity::Low
        )]
    );
    let (_, rows) = findings(&db, ol8, &[rpm("glibc", "glibc", "2.28-236.0.1.el8_9")]);
    assert_eq!(rows, vec![]);
    // chrony was respun on aarch64 (0:4.1-1.0.4.el7): x86_64's fixed build is not reported.
    let ol7 = "ID=ol\nVERSION_ID=7.9\n";
    let (_, rows) = findings(&db, ol7, &[rpm("chrony", "chrony", "4.1-1.0.1.el7")]);
    assert_eq!(rows, vec![]);
    let (_, rows) = findings(&db, ol7, &[rpm("chrony", "chrony", "4.1-1.el7")]);
    assert_eq!(
        rows,
        vec![row(
            "CVE-2024-2101",
            &["ELSA-2024-0103"],
            "chrony",
            Some("0:4.1-1.0.1.el7"),
            Severity::Medium
        )]
    );
    // Oracle Linux 7's bash, and nothing from Oracle Linux 6's.
    let (_, rows) = findings(
        &db,
        "ID=ol\nVERSION_ID=7.9\n",
        &[rpm("bash", "bash", "4.2.45-5.el7")],
    );
    assert_eq!(
        rows,
        vec![row(
            "CVE-2014-5001",
            &["ELSA-2014-0001"],
            "bash",
            Some("0:4.2.45-5.el7_0.4"),
            Severity::Medium
        )]
    );
}

#[test]
fn amazon_linux_alas_advisories_fold_into_their_cves() {
    let (_dir, db, problems) = database(&["amazon-2-updateinfo.xml", "amazon-2023-updateinfo.xml"]);
    assert_eq!(problems.len(), 2, "{problems:?}");
    let al2 = "NAME=\"Amazon Linux\"\nVERSION=\"2\"\nID=\"amzn\"\nVERSION_ID=\"2\"\n";
    let curl = "0:8.3.0-1.amzn2.0.5";
    let (ecosystem, rows) = findings(
        &db,
        al2,
        &[
            rpm("libcurl", "curl", "8.3.0-1.amzn2.0.4"),
            rpm("openssl11-libs", "openssl11", "1:1.1.1g-3.amzn2.0.1"),
            // Only a kernel topic advisory names it: not matched.
            rpm("kernel", "kernel", "5.10.100-1.amzn2"),
            // Only AL2023's advisory names it.
            rpm("glibc", "glibc", "2.26-60.amzn2"),
        ],
    );
    assert_eq!(ecosystem.as_deref(), Some("Amazon Linux:2"));
    assert_eq!(
        rows,
        vec![
            row(
                "CVE-2024-3001",
                &["ALAS2-2024-2001"],
                "libcurl",
                Some(curl),
                Severity::High
            ),
            row(
                "CVE-2024-3002",
                &["ALAS2-2024-2001"],
                "libcurl",
                Some(curl),
                Severity::High
            ),
            row(
                "CVE-2024-3003",
                &["ALAS2-2024-2002"],
                "openssl11-libs",
                Some("1:1.1.1g-3.amzn2.0.2"),
                Severity::Medium
            ),
        ]
    );
    let al2023 = "NAME=\"Amazon Linux\"\nID=\"amzn\"\nVERSION_ID=\"2023\"\n";
    let (ecosystem, rows) = findings(
        &db,
        al2023,
        &[
            rpm("glibc-minimal-langpack", "glibc", "2.34-99.amzn2023.0.1"),
            rpm("libcurl", "curl", "8.3.0-1.amzn2.0.4"),
        ],
    );
    assert_eq!(ecosystem.as_deref(), Some("Amazon Linux:2023"));
    assert_eq!(
        rows,
        vec![row(
            "CVE-2024-3101",
            &["ALAS2023-2024-0500"],
            "glibc-minimal-langpack",
            Some("0:2.34-100.amzn2023.0.5"),
            Severity::Critical
        )]
    );
}

#[test]
fn photon_os_cve_metadata_matches_by_source_rpm() {
    let (_dir, db, problems) = database(&["cve_data_photon5.0.json"]);
    assert_eq!(problems.len(), 3, "{problems:?}");
    let photon = "NAME=\"VMware Photon OS\"\nVERSION=\"5.0\"\nID=photon\nVERSION_ID=5.0\n";
    let (ecosystem, rows) = findings(
        &db,
        photon,
        &[
            rpm("curl-libs", "curl", "8.6.0-1.ph5"),
            rpm("linux", "linux", "6.1.10-1.ph5"),
            rpm("libxml2", "libxml2", "2.11.7-1.ph5"),
        ],
    );
    assert_eq!(ecosystem.as_deref(), Some("Photon OS:5.0"));
    assert_eq!(
        rows,
        vec![
            row(
                "CVE-2024-4002",
                &[],
                "curl-libs",
                Some("8.7.1-1.ph5"),
                Severity::Medium
            ),
            row("CVE-2024-4003", &[], "linux", None, Severity::High),
        ]
    );
    // Another release's image is not judged by Photon 5.0's data.
    let (ecosystem, rows) = findings(
        &db,
        "ID=photon\nVERSION_ID=4.0\n",
        &[rpm("curl-libs", "curl", "8.6.0-1.ph4")],
    );
    assert_eq!(
        (ecosystem.as_deref(), rows),
        (Some("Photon OS:4.0"), vec![])
    );
}
