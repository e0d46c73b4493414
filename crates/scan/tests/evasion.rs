//! Package-database evasion fails closed (issue 19): a database that is a symlink or a hard
//! link is read through the link, and one that cannot be read completely (over the cap,
//! truncated, corrupt) makes the image not judgeable, which every built-in policy that
//! looks at vulnerabilities refuses to pass.
//!
//! Each case is a root filesystem tar built here from real data: the Alpine 3.9.6 mini root
//! filesystem, the dpkg status of a Debian minbase root, the three rpm databases of the
//! shared test data, a Python METADATA and an npm lock file. Expected package counts come
//! from the data files themselves (stanzas with `P:`, `Package:` stanzas installed, lines of
//! the independent rpm listings, lock entries), never from this code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use portcullis_catalog::Catalog;
use portcullis_oci::{Image, ImageOptions, ImageSource, Limits, NoProgress};
use portcullis_policy::{Action, builtin};
use portcullis_scan::{ScanResult, catalog_image, judge, scan_catalog};
use portcullis_testkit::layout::TarBuilder;
use portcullis_vulndb::{Database, ImportOptions};

/// Where the real content sits when the database is a link to it.
const STORE_DIR: &str = "opt/store";
const STORE: &str = "opt/store/real-db";

/// How the package database is put in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// A regular file.
    Plain,
    /// A symlink with an absolute target.
    SymlinkAbsolute,
    /// A relative symlink with too many `..` (clamped at the root), through a symlinked
    /// directory.
    SymlinkRelative,
    /// A tar hard link to the real file, written earlier in the same layer.
    Hardlink,
}

const LINKS: [Variant; 3] = [
    Variant::SymlinkAbsolute,
    Variant::SymlinkRelative,
    Variant::Hardlink,
];

fn catalog_data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../catalog/tests/data")
        .join(rel)
}

/// The tar bytes of `entries` without the two end blocks, so tars can be concatenated.
fn unterminated(builder: TarBuilder) -> Vec<u8> {
    let mut bytes = builder.finish();
    bytes.truncate(bytes.len() - 1024);
    bytes
}

/// Entries putting `content` at `db_path` as `variant` says.
fn db_entries(db_path: &str, content: &[u8], variant: Variant) -> Vec<u8> {
    let b = TarBuilder::new();
    let b = match variant {
        Variant::Plain => b.file(db_path, content),
        Variant::SymlinkAbsolute => b
            .dir(STORE_DIR)
            .file(STORE, content)
            .symlink(db_path, &format!("/{STORE}")),
        Variant::SymlinkRelative => {
            let depth = db_path.matches('/').count();
            b.dir(STORE_DIR)
                .file(STORE, content)
                .symlink("opt/alias", "store")
                .symlink(
                    db_path,
                    &format!("{}opt/alias/real-db", "../".repeat(depth + 3)),
                )
        }
        Variant::Hardlink => b
            .dir(STORE_DIR)
            .file(STORE, content)
            .hardlink(db_path, STORE),
    };
    unterminated(b)
}

/// The Alpine 3.9.6 mini root filesystem as a plain tar, without `lib/apk/db/installed`,
/// and that file's content.
fn alpine_base() -> &'static (Vec<u8>, Vec<u8>) {
    static BASE: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    BASE.get_or_init(|| {
        let gz = std::fs::read(portcullis_testkit::alpine_minirootfs("3.9.6")).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz.as_slice()));
        let mut out = tar::Builder::new(Vec::new());
        let mut installed = None;
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            if path.trim_start_matches("./") == "lib/apk/db/installed" {
                installed = Some(data);
                continue;
            }
            let header = entry.header().clone();
            out.append(&header, data.as_slice()).unwrap();
        }
        let mut bytes = out.into_inner().unwrap();
        bytes.truncate(bytes.len() - 1024);
        (
            bytes,
            installed.expect("the minirootfs has lib/apk/db/installed"),
        )
    })
}

/// A root filesystem tar: `base` entries, then the database entries.
fn rootfs(base: &[u8], db: &[u8]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    bytes.extend_from_slice(db);
    bytes.extend_from_slice(&[0u8; 1024]);
    bytes
}

fn open_tar(tar: &[u8], dir: &Path, name: &str) -> Image {
    let path = dir.join(name);
    std::fs::write(&path, tar).unwrap();
    Image::open(&ImageSource::Tar { path }, &ImageOptions::default()).unwrap()
}

fn catalog(tar: &[u8], limits: &Limits) -> Catalog {
    let dir = portcullis_testkit::temp_dir("scan-evasion");
    let image = open_tar(tar, dir.path(), "rootfs.tar");
    catalog_image(&image, limits, &NoProgress).unwrap()
}

fn errors(catalog: &Catalog) -> Vec<String> {
    catalog.errors().map(ToString::to_string).collect()
}

/// A database of the Alpine v3.9 secdb and the NVD records, imported once per test process.
fn database() -> Database {
    static DB: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let path = &DB
        .get_or_init(|| {
            let dir = portcullis_testkit::temp_dir("scan-evasion-db");
            let path = dir.path().join("db.sqlite");
            let advisories = portcullis_testkit::testdata_dir().join("advisories");
            let inputs = [advisories.join("alpine-secdb/v3.9"), advisories.join("nvd")];
            Database::import_paths(&path, &inputs, &ImportOptions::default()).unwrap();
            (dir, path)
        })
        .1;
    Database::open(path).unwrap()
}

/// Scan `tar` against the test database (no policy yet).
fn scan(tar: &[u8], limits: &Limits) -> ScanResult {
    let dir = portcullis_testkit::temp_dir("scan-evasion");
    let image = open_tar(tar, dir.path(), "rootfs.tar");
    let catalog = catalog_image(&image, limits, &NoProgress).unwrap();
    scan_catalog(image.info(), catalog, &database()).unwrap()
}

/// A time at which the test database is fresh, so the stale-feed rule stays quiet.
fn fresh_now(result: &ScanResult) -> i64 {
    result
        .database
        .sources
        .iter()
        .filter_map(|s| portcullis_policy::time::parse_timestamp(&s.updated_at))
        .chain(
            result
                .database
                .built_at
                .as_deref()
                .and_then(portcullis_policy::time::parse_timestamp),
        )
        .max()
        .expect("the database records when it was updated")
}

fn decisions(result: &ScanResult) -> Vec<(String, Action)> {
    let now = fresh_now(result);
    portcullis_policy::BUILTIN_IDS
        .iter()
        .map(|id| {
            let mut judged = result.clone();
            judge(&mut judged, &builtin(id).unwrap(), now);
            (id.to_string(), judged.decision.unwrap().final_action)
        })
        .collect()
}

/// What every built-in policy says of an image that cannot be judged: never GO.
fn not_judgeable_decisions() -> Vec<(String, Action)> {
    [
        ("allow_all_and_warn", Action::Warn),
        ("reject_critical", Action::Stop),
        ("reject_high", Action::Stop),
        ("block_root", Action::Warn),
        ("deny_all", Action::Stop),
        ("reject_exploited", Action::Stop),
    ]
    .iter()
    .map(|(id, a)| (id.to_string(), *a))
    .collect()
}

/// The number of apk stanzas with a package name, counted from the file.
fn apk_count(db: &[u8]) -> usize {
    String::from_utf8_lossy(db)
        .lines()
        .filter(|l| l.starts_with("P:"))
        .count()
}

#[test]
fn alpine_installed_through_links_reads_the_same_packages() {
    let (base, installed) = alpine_base();
    assert_eq!(apk_count(installed), 14);
    let plain = scan(
        &rootfs(
            base,
            &db_entries("lib/apk/db/installed", installed, Variant::Plain),
        ),
        &Limits::default(),
    );
    assert_eq!(plain.packages.len(), 14);
    assert!(plain.errors.is_empty(), "{:?}", plain.errors);
    let high = plain
        .findings
        .iter()
        .filter(|f| f.severity == portcullis_matcher::Severity::High)
        .count();
    assert_eq!(high, 4);
    for variant in LINKS {
        let linked = scan(
            &rootfs(
                base,
                &db_entries("lib/apk/db/installed", installed, variant),
            ),
            &Limits::default(),
        );
        assert_eq!(linked.packages.len(), 14, "{variant:?}");
        assert!(linked.errors.is_empty(), "{variant:?}: {:?}", linked.errors);
        let names = |r: &ScanResult| -> Vec<(String, String)> {
            r.packages
                .iter()
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect()
        };
        assert_eq!(names(&linked), names(&plain), "{variant:?}");
        assert_eq!(linked.findings.len(), plain.findings.len(), "{variant:?}");
        assert_eq!(
            linked
                .packages
                .iter()
                .map(|p| p.location.as_str())
                .collect::<std::collections::BTreeSet<_>>(),
            ["lib/apk/db/installed"].into(),
            "{variant:?}"
        );
        assert_eq!(decisions(&linked), decisions(&plain), "{variant:?}");
    }
}

#[test]
fn alpine_installed_over_the_cap_or_corrupt_is_not_judgeable() {
    let (base, installed) = alpine_base();
    let tar = rootfs(
        base,
        &db_entries("lib/apk/db/installed", installed, Variant::Plain),
    );
    let limits = Limits {
        max_file_size: installed.len() as u64 - 1,
        ..Limits::default()
    };
    let over = scan(&tar, &limits);
    assert_eq!(over.packages.len(), 0);
    // The executables are over this small cap too; each is named.
    let (db_errors, others): (Vec<&String>, Vec<&String>) = over
        .errors
        .iter()
        .partition(|e| e.starts_with("lib/apk/db/installed: "));
    assert_eq!(
        db_errors,
        [&format!(
            "lib/apk/db/installed: not read (larger than the per-file cap of {} bytes); its packages are unknown",
            installed.len() - 1
        )]
    );
    assert!(
        others
            .iter()
            .all(|e| e.contains(": executable not read (larger than the per-file cap")),
        "{others:?}"
    );
    assert!(!over.judgeable());
    assert_eq!(decisions(&over), not_judgeable_decisions());
    // Matched again from the previous result (as the server does for a new database),
    // the image stays not judgeable.
    let again = scan_catalog(
        &over.image,
        portcullis_scan::prior_catalog(&over),
        &database(),
    )
    .unwrap();
    assert_eq!(again.errors, over.errors);
    assert_eq!(decisions(&again), not_judgeable_decisions());

    // Truncated just before the `V:` line of the 5th stanza: 4 whole packages, then a
    // stanza without a version.
    let cut = installed
        .windows(3)
        .enumerate()
        .filter(|(_, w)| *w == b"\nV:")
        .nth(4)
        .map(|(i, _)| i + 1)
        .unwrap();
    let truncated = scan(
        &rootfs(
            base,
            &db_entries("lib/apk/db/installed", &installed[..cut], Variant::Plain),
        ),
        &Limits::default(),
    );
    assert_eq!(truncated.packages.len(), 4);
    assert_eq!(truncated.errors.len(), 1, "{:?}", truncated.errors);
    assert!(
        truncated.errors[0].contains("stanza 5") && truncated.errors[0].contains("missing version"),
        "{}",
        truncated.errors[0]
    );
    assert_eq!(decisions(&truncated), not_judgeable_decisions());
}

/// A link that points outside what can be resolved (a loop) is not judgeable either.
#[test]
fn alpine_installed_symlink_loop_is_not_judgeable() {
    let (base, _) = alpine_base();
    let loop_entries = unterminated(
        TarBuilder::new()
            .symlink("lib/apk/db/installed", "/opt/a")
            .symlink("opt/a", "b")
            .symlink("opt/b", "/lib/apk/db/installed"),
    );
    let result = scan(&rootfs(base, &loop_entries), &Limits::default());
    assert_eq!(result.packages.len(), 0);
    assert_eq!(result.errors.len(), 1, "{:?}", result.errors);
    assert!(
        result.errors[0].starts_with("lib/apk/db/installed: not read (resolving 'lib/apk/db/installed': too many levels of symbolic links"),
        "{}",
        result.errors[0]
    );
    assert_eq!(decisions(&result), not_judgeable_decisions());
}

/// `(database path in the image, content, expected package count)` for every other format.
fn formats() -> Vec<(&'static str, Vec<u8>, usize)> {
    let testdata = portcullis_testkit::testdata_dir().join("pkgdb");
    let status = std::fs::read(testdata.join("dpkg/status-debian12-minbase")).unwrap();
    // Installed stanzas, counted from the file: `Status: install ok installed`.
    let dpkg = String::from_utf8_lossy(&status)
        .lines()
        .filter(|l| *l == "Status: install ok installed")
        .count();
    assert_eq!(dpkg, 88);
    let listed = |name: &str| {
        std::fs::read_to_string(catalog_data(name))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count()
    };
    let lock = std::fs::read(catalog_data("lang/root/app/package-lock.json")).unwrap();
    let lock_json: serde_json::Value = serde_json::from_slice(&lock).unwrap();
    let lock_count = lock_json["packages"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !k.is_empty())
        .count();
    assert_eq!(lock_count, 1);
    vec![
        ("var/lib/dpkg/status", status.clone(), dpkg),
        ("var/lib/dpkg/status.d/minbase", status, dpkg),
        (
            "var/lib/rpm/rpmdb.sqlite",
            std::fs::read(testdata.join("rpm/mariner2-rpmdb.sqlite")).unwrap(),
            listed("mariner2-rpmdb.txt"),
        ),
        (
            "var/lib/rpm/Packages.db",
            std::fs::read(testdata.join("rpm/sle15-Packages.db")).unwrap(),
            listed("sle15-Packages.txt"),
        ),
        (
            "var/lib/rpm/Packages",
            std::fs::read(testdata.join("rpm/libuuid-Packages.bdb")).unwrap(),
            listed("libuuid-Packages.txt"),
        ),
        (
            "usr/lib/python3/dist-packages/packaging-23.0.dist-info/METADATA",
            std::fs::read(catalog_data(
                "lang/root/usr/lib/python3/dist-packages/packaging-23.0.dist-info/METADATA",
            ))
            .unwrap(),
            1,
        ),
        ("app/package-lock.json", lock, lock_count),
    ]
}

#[test]
fn every_format_through_links_reads_the_same_packages() {
    let counts: Vec<usize> = formats().iter().map(|f| f.2).collect();
    assert_eq!(counts, [88, 88, 129, 35, 1, 1, 1]);
    for (path, content, expected) in formats() {
        for variant in [Variant::Plain].into_iter().chain(LINKS) {
            let found = catalog(
                &rootfs(&[], &db_entries(path, &content, variant)),
                &Limits::default(),
            );
            assert_eq!(found.packages.len(), expected, "{path} {variant:?}");
            assert!(
                found.packages.iter().all(|p| p.location == path),
                "{path} {variant:?}"
            );
            assert_eq!(errors(&found), Vec::<String>::new(), "{path} {variant:?}");
        }
    }
}

#[test]
fn every_format_over_the_cap_is_not_judgeable() {
    for (path, content, _) in formats() {
        let limits = Limits {
            max_file_size: content.len() as u64 - 1,
            ..Limits::default()
        };
        for variant in [Variant::Plain].into_iter().chain(LINKS) {
            let found = catalog(&rootfs(&[], &db_entries(path, &content, variant)), &limits);
            assert_eq!(found.packages.len(), 0, "{path} {variant:?}");
            let errors = errors(&found);
            assert_eq!(errors.len(), 1, "{path} {variant:?}: {errors:?}");
            assert!(
                errors[0].starts_with(&format!("{path}: not read (")),
                "{path} {variant:?}: {}",
                errors[0]
            );
            assert!(
                errors[0].contains(&format!(
                    "larger than the per-file cap of {} bytes",
                    content.len() - 1
                )),
                "{path} {variant:?}: {}",
                errors[0]
            );
        }
    }
}

/// Truncated to half its size (rpm, lock file) or cut just before a version line (dpkg,
/// METADATA): some packages cannot be read, and that is an error naming the file.
#[test]
fn every_format_truncated_or_corrupt_is_not_judgeable() {
    for (path, content, expected) in formats() {
        let cut = match path {
            p if p.contains("dpkg") => find_nth(&content, b"\nVersion:", 10) + 1,
            p if p.ends_with("METADATA") => find_nth(&content, b"\nVersion:", 0) + 1,
            _ => content.len() / 2,
        };
        let found = catalog(
            &rootfs(&[], &db_entries(path, &content[..cut], Variant::Plain)),
            &Limits::default(),
        );
        assert!(
            found.packages.len() < expected,
            "{path}: {}",
            found.packages.len()
        );
        let errors = errors(&found);
        assert!(!errors.is_empty(), "{path}: no error");
        assert!(
            errors.iter().all(|e| e.starts_with(&format!("{path}: "))),
            "{path}: {errors:?}"
        );
    }
}

fn find_nth(haystack: &[u8], needle: &[u8], n: usize) -> usize {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .nth(n)
        .map(|(i, _)| i)
        .unwrap()
}

/// The distroless `status.d` directory as a symlink to a directory elsewhere.
#[test]
fn dpkg_status_d_through_a_symlinked_directory() {
    let (path, content, expected) = formats().remove(1);
    assert_eq!(path, "var/lib/dpkg/status.d/minbase");
    let entries = unterminated(
        TarBuilder::new()
            .dir("srv/status")
            .file("srv/status/minbase", &content)
            .symlink("var/lib/dpkg/status.d", "../../../srv/status"),
    );
    let found = catalog(&rootfs(&[], &entries), &Limits::default());
    assert_eq!(found.packages.len(), expected);
    assert!(found.packages.iter().all(|p| p.location == path));
    assert_eq!(errors(&found), Vec::<String>::new());
}

/// A hard link to a file of a lower layer, in an OCI image of two layers.
#[test]
fn hard_link_to_a_lower_layer_is_followed() {
    let (base, installed) = alpine_base();
    let dir = portcullis_testkit::temp_dir("scan-evasion-layout");
    let lower = rootfs(
        base,
        &unterminated(TarBuilder::new().dir(STORE_DIR).file(STORE, installed)),
    );
    let upper = TarBuilder::new()
        .hardlink("lib/apk/db/installed", STORE)
        .finish();
    let layout = portcullis_testkit::layout::OciLayout::new(dir.path().join("layout"));
    let l = layout.path().display().to_string();
    portcullis_testkit::run("umoci", ["init", "--layout", &l]);
    portcullis_testkit::run("umoci", ["new", "--image", &format!("{l}:v1")]);
    layout.append_layer("v1", &lower);
    layout.append_layer("v1", &upper);
    let image = Image::open(
        &ImageSource::parse(&layout.source("v1")).unwrap(),
        &ImageOptions::default(),
    )
    .unwrap();
    let found = catalog_image(&image, &Limits::default(), &NoProgress).unwrap();
    assert_eq!(found.packages.len(), 14);
    assert_eq!(errors(&found), Vec::<String>::new());
}
