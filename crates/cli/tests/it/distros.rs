//! Real distribution data end to end: images carrying a real rpm database (AlmaLinux 9, built
//! with Debian's `rpmbuild` and `rpm`) and a dpkg status (Ubuntu 22.04), pushed to a local
//! registry and scanned against a database imported from the real OSV exports of
//! `testdata/advisories/osv/{AlmaLinux,Ubuntu}/all.zip`. The expected findings come from
//! `distro_expected.py`, which reads the same `all.zip` with `rpm.labelCompare` and
//! `apt_pkg.version_compare`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_testkit::layout::TarBuilder;
use portcullis_testkit::registry::{Registry, RegistryKind};
use portcullis_testkit::{OciLayout, require_tool, run, temp_dir, testdata_dir};
use serde_json::Value;

use crate::portcullis;

/// A test data file, which must exist.
fn data(path: &str) -> PathBuf {
    let file = testdata_dir().join(path);
    assert!(file.is_file(), "test data {} is missing", file.display());
    file
}

/// A database imported from `zip` alone, in `dir`.
fn database(dir: &Path, zip: &Path) -> String {
    let db = dir.join("db.sqlite").display().to_string();
    let import = portcullis(&["--db", &db, "db", "import", zip.to_str().unwrap()], b"");
    assert_eq!(
        import.code,
        0,
        "importing {}: {}",
        zip.display(),
        import.stderr
    );
    db
}

/// A one-layer image `tag` in a new layout under `dir` holding `files`, pushed to `registry`
/// as `repo_tag`; returns the registry reference.
fn push_image(
    dir: &Path,
    files: &[(&str, Vec<u8>)],
    registry: &Registry,
    repo_tag: &str,
) -> String {
    let layout = OciLayout::new(dir.join("layout"));
    let l = layout.path().display().to_string();
    run("umoci", ["init", "--layout", &l]);
    run("umoci", ["new", "--image", &format!("{l}:img")]);
    let mut tar = TarBuilder::new();
    let mut dirs = BTreeSet::new();
    for (name, _) in files {
        let mut prefix = String::new();
        for part in name.split('/').collect::<Vec<_>>().split_last().unwrap().1 {
            prefix.push_str(part);
            prefix.push('/');
            dirs.insert(prefix.clone());
        }
    }
    for d in &dirs {
        tar = tar.dir(d);
    }
    for (name, bytes) in files {
        tar = tar.file(name, bytes);
    }
    layout.append_layer("img", &tar.finish());
    registry.push(&layout.skopeo_ref("img"), repo_tag, false);
    registry.reference(repo_tag)
}

/// `portcullis --db DB scan --insecure -f json REF`, parsed.
fn scan(db: &str, reference: &str) -> Value {
    let run = portcullis(
        &["--db", db, "scan", "--insecure", "-f", "json", reference],
        b"",
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

/// One expected or reported finding: package, id, advisories among the aliases, fixed version.
type Row = (String, String, Vec<String>, Option<String>);

/// The findings of a scan, with only the advisory aliases (`ALSA-`, `USN-`) kept.
fn reported(v: &Value, advisory_prefix: &str) -> BTreeSet<Row> {
    v["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let aliases = f["aliases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .filter(|a| a.starts_with(advisory_prefix))
                .collect();
            (
                f["package"]["name"].as_str().unwrap().to_string(),
                f["id"].as_str().unwrap().to_string(),
                aliases,
                f["fixed_version"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// The `impacts` `distro_expected.py` gives each AlmaLinux finding, by (package, id).
fn expected_impacts(dir: &Path, zip: &Path) -> BTreeMap<(String, String), Vec<String>> {
    distro_expected(dir, "rpm", "AlmaLinux:9", zip, ALMA_RPMS)
        .into_iter()
        .map(|v| {
            let key = (
                v["package"].as_str().unwrap().to_string(),
                v["id"].as_str().unwrap().to_string(),
            );
            let impacts = v["impacts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap().to_string())
                .collect();
            (key, impacts)
        })
        .collect()
}

/// What `distro_expected.py KIND ECOSYSTEM ZIP INSTALLED` says (see the script).
fn expected(
    dir: &Path,
    kind: &str,
    ecosystem: &str,
    zip: &Path,
    installed: &[(&str, &str, &str)],
) -> BTreeSet<Row> {
    distro_expected(dir, kind, ecosystem, zip, installed)
        .into_iter()
        .map(|v| {
            (
                v["package"].as_str().unwrap().to_string(),
                v["id"].as_str().unwrap().to_string(),
                v["advisories"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect(),
                v["fixed"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// The JSON lines `distro_expected.py KIND ECOSYSTEM ZIP INSTALLED` prints.
fn distro_expected(
    dir: &Path,
    kind: &str,
    ecosystem: &str,
    zip: &Path,
    installed: &[(&str, &str, &str)],
) -> Vec<Value> {
    let list = dir.join("installed.tsv");
    let text: String = installed
        .iter()
        .map(|(b, s, v)| format!("{b}\t{s}\t{v}\n"))
        .collect();
    std::fs::write(&list, text).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/distro_expected.py");
    let python = Path::new("/usr/bin/python3");
    assert!(
        python.is_file(),
        "the tests need /usr/bin/python3 with python3-rpm and python3-apt (apt-get install python3-rpm python3-apt)"
    );
    let out = Command::new(python)
        .arg(&script)
        .args([kind, ecosystem])
        .arg(zip)
        .arg(&list)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} failed (python3-rpm and python3-apt are needed): {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The installed rpms of the AlmaLinux image: (binary, source, [epoch:]version-release).
/// Binaries and sources of `almalinux-9-minimal.tsv`; versions just below one of the
/// advisories' fixes, or the inventory's own (newer than every advisory) for the negative
/// cases. openssl's epoch is 1, as AlmaLinux's.
const ALMA_RPMS: &[(&str, &str, &str)] = &[
    ("bash", "bash", "5.1.8-5.el9"),
    ("glibc", "glibc", "2.34-231.el9_7.9"),
    ("glibc-common", "glibc", "2.34-231.el9_7.9"),
    ("glibc-minimal-langpack", "glibc", "2.34-231.el9_7.9"),
    ("openssl-libs", "openssl", "1:3.5.5-3.el9_8"),
    ("curl-minimal", "curl", "7.76.1-40.el9_8.4"),
    ("libcurl-minimal", "curl", "7.76.1-40.el9_8.4"),
    ("krb5-libs", "krb5", "1.21.1-8.el9_6"),
    ("libxml2", "libxml2", "2.9.13-14.el9_8.1"),
    ("systemd-libs", "systemd", "252-67.el9_8.1.alma.1"),
    ("sqlite-libs", "sqlite", "3.34.1-11.el9_8"),
    ("zlib", "zlib", "1.2.11-40.el9"),
    ("almalinux-release", "almalinux-release", "9.8-1.el9"),
];

/// A spec per source rpm with each binary as a sub-package (so SOURCERPM is the source's),
/// built in module stream `module` (its `MODULARITYLABEL`) when given.
fn spec(source: &str, evr: &str, binaries: &[&str], module: Option<&str>) -> String {
    let (epoch, vr) = evr
        .split_once(':')
        .map_or((None, evr), |(e, vr)| (Some(e), vr));
    let (version, release) = vr.rsplit_once('-').unwrap();
    let mut s = format!(
        "Name: {source}\n{}{}Version: {version}\nRelease: {release}\nSummary: test\nLicense: MIT\nBuildArch: noarch\n%description\ntest\n",
        epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default(),
        module
            .map(|m| format!("ModularityLabel: {m}\n"))
            .unwrap_or_default()
    );
    for binary in binaries {
        if *binary == source {
            s.push_str("%files\n");
        } else {
            s.push_str(&format!(
                "%package -n {binary}\nSummary: test\n%description -n {binary}\ntest\n%files -n {binary}\n"
            ));
        }
    }
    s
}

/// An rpm database (`rpmdb.sqlite`, written by Debian's rpm) holding `rpms`.
fn rpm_database(dir: &Path, rpms: &[(&str, &str, &str)]) -> Vec<u8> {
    rpm_database_with_modules(dir, rpms, &[])
}

/// [`rpm_database`] with the sources of `modules` (source, `MODULARITYLABEL`) built as
/// module builds.
fn rpm_database_with_modules(
    dir: &Path,
    rpms: &[(&str, &str, &str)],
    modules: &[(&str, &str)],
) -> Vec<u8> {
    require_tool("rpmbuild");
    require_tool("rpm");
    let top = dir.join("rpmbuild");
    let mut sources: Vec<(&str, &str)> = rpms.iter().map(|(_, s, v)| (*s, *v)).collect();
    sources.sort();
    sources.dedup();
    for (source, evr) in sources {
        let binaries: Vec<&str> = rpms
            .iter()
            .filter(|(_, s, _)| *s == source)
            .map(|(b, _, _)| *b)
            .collect();
        let file = dir.join(format!("{source}.spec"));
        let module = modules.iter().find(|(s, _)| *s == source).map(|(_, m)| *m);
        std::fs::write(&file, spec(source, evr, &binaries, module)).unwrap();
        run(
            "rpmbuild",
            [
                "-bb".as_ref(),
                "--define".as_ref(),
                format!("_topdir {}", top.display()).as_ref(),
                file.as_os_str(),
            ],
        );
    }
    let built: Vec<PathBuf> = std::fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(built.len(), rpms.len(), "{built:?}");
    let root = dir.join("root");
    let mut args: Vec<std::ffi::OsString> = ["--root".into(), root.clone().into()].into();
    for a in [
        "--dbpath",
        "/var/lib/rpm",
        "--justdb",
        "--nodeps",
        "--noscripts",
        "-i",
    ] {
        args.push(a.into());
    }
    args.extend(built.into_iter().map(Into::into));
    run("rpm", args);
    let rpmdb = root.join("var/lib/rpm");
    // Everything must be in the main file: the image carries it alone.
    let wal = rpmdb.join("rpmdb.sqlite-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "rpm left a non-empty {}",
        wal.display()
    );
    let listed = run(
        "rpm",
        [
            "--root".as_ref(),
            root.as_os_str(),
            "--dbpath".as_ref(),
            "/var/lib/rpm".as_ref(),
            "-qa".as_ref(),
            "--qf".as_ref(),
            "%{NAME} %{SOURCERPM}\n".as_ref(),
        ],
    );
    assert_eq!(listed.lines().count(), rpms.len(), "{listed}");
    std::fs::read(rpmdb.join("rpmdb.sqlite")).unwrap()
}

#[test]
fn almalinux_9_rpm_database_has_exactly_the_alsa_findings() {
    let zip = data("advisories/osv/AlmaLinux/all.zip");
    let dir = temp_dir("cli-alma");
    let db = database(dir.path(), &zip);
    let rpmdb = rpm_database(dir.path(), ALMA_RPMS);
    let os_release = b"NAME=\"AlmaLinux\"\nVERSION=\"9.8 (Moss Jungle Cat)\"\nID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.8\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"AlmaLinux 9.8 (Moss Jungle Cat)\"\n";
    let registry = Registry::start(RegistryKind::PlainHttp);
    let reference = push_image(
        dir.path(),
        &[
            ("etc/os-release", os_release.to_vec()),
            ("var/lib/rpm/rpmdb.sqlite", rpmdb),
        ],
        &registry,
        "almalinux:9",
    );
    let v = scan(&db, &reference);
    assert_eq!(v["os_ecosystem"], "AlmaLinux:9");
    assert_eq!(v["os_supported"], true);
    let packages: BTreeSet<(String, String, String)> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["source_name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let installed: BTreeSet<(String, String, String)> = ALMA_RPMS
        .iter()
        .map(|(b, s, v)| (b.to_string(), s.to_string(), v.to_string()))
        .collect();
    assert_eq!(packages, installed);
    let want = expected(dir.path(), "rpm", "AlmaLinux:9", &zip, ALMA_RPMS);
    let got = reported(&v, "ALSA-");
    assert_eq!(got, want);
    // Every finding is a CVE carrying its ALSA; the three negative packages have none.
    assert!(
        got.iter()
            .all(|(_, id, advisories, _)| id.starts_with("CVE-") && !advisories.is_empty())
    );
    let affected: BTreeSet<&str> = got.iter().map(|(p, ..)| p.as_str()).collect();
    for clean in ["sqlite-libs", "zlib", "almalinux-release"] {
        assert!(!affected.contains(clean), "{clean}");
    }
    assert_eq!(v["summary"]["total"], got.len());
    assert_eq!(v["warnings"], serde_json::json!([]));
    // Red Hat's impact of a single-CVE ALSA rates its finding; with no NVD data imported,
    // the other findings have no rating.
    let impacts = expected_impacts(dir.path(), &zip);
    let mut rated = 0;
    for finding in v["vulnerabilities"].as_array().unwrap() {
        let key = (
            finding["package"]["name"].as_str().unwrap().to_string(),
            finding["id"].as_str().unwrap().to_string(),
        );
        let want = &impacts[&key];
        let severity = finding["severity"].as_str().unwrap();
        if want.is_empty() {
            assert_eq!(severity, "unknown", "{key:?}");
        } else {
            assert!(
                want.iter().any(|w| w == severity),
                "{key:?}: {severity} not in {want:?}"
            );
            assert_eq!(finding["severity_source"], "osv:AlmaLinux", "{key:?}");
            rated += 1;
        }
    }
    assert!(rated > 0);

    // The same packages against a database without AlmaLinux data, and on a distribution
    // no source covers: never clean, always said.
    let ubuntu_only = temp_dir("cli-alma-ubuntu-db");
    let other_db = database(ubuntu_only.path(), &data("advisories/osv/Ubuntu/all.zip"));
    let v = scan(&other_db, &reference);
    assert_eq!(v["os_ecosystem"], "AlmaLinux:9");
    assert_eq!(v["os_supported"], false);
    assert_eq!(v["vulnerabilities"], serde_json::json!([]));
    assert_eq!(
        v["warnings"],
        serde_json::json!([
            "almalinux-9.8: the database has no vulnerability data for ecosystem AlmaLinux:9 (source osv:AlmaLinux); the OS packages were not checked"
        ])
    );
    let fedora_dir = temp_dir("cli-fedora");
    let fedora = push_image(
        fedora_dir.path(),
        &[
            ("etc/os-release", b"ID=fedora\nVERSION_ID=40\n".to_vec()),
            (
                "var/lib/rpm/rpmdb.sqlite",
                rpm_database(fedora_dir.path(), ALMA_RPMS),
            ),
        ],
        &registry,
        "fedora:40",
    );
    let v = scan(&db, &fedora);
    assert_eq!(v["os_ecosystem"], Value::Null);
    assert_eq!(v["os_supported"], false);
    assert_eq!(v["vulnerabilities"], serde_json::json!([]));
    assert_eq!(
        v["warnings"],
        serde_json::json!([
            "fedora-40: no vulnerability source covers this distribution or release; the OS packages were not checked"
        ])
    );
}

/// The rpms of the UBI 9 image (binary, source, EVR): nodejs of RHEL 9's own build, nginx
/// of the `nginx:1.22` module stream ([`UBI_MODULES`]).
const UBI_RPMS: &[(&str, &str, &str)] = &[
    ("openssl-libs", "openssl", "1:3.0.7-25.el9"),
    ("nodejs", "nodejs", "1:16.20.2-4.el9_3"),
    ("nginx", "nginx", "1:1.22.1-3.module+el9.2.0+18447+4b6a3e9e"),
    ("zlib", "zlib", "1.2.11-40.el9"),
];

/// The module builds among [`UBI_RPMS`]: (source, `MODULARITYLABEL`).
const UBI_MODULES: &[(&str, &str)] = &[("nginx", "nginx:1.22:9020020230515:rhel9")];

/// Red Hat OSV fixture records: (advisory, CVE, stream, package, fixed EVR). Against
/// [`UBI_RPMS`] with the content sets baseos and appstream, by hand: RHSA-2024:9001 (baseos,
/// 27 > 25) applies; RHSA-2024:9002 is filed only under crb, not selected; RHSA-2024:9003 is
/// the nodejs:18 module's fix, not for RHEL's own nodejs; RHSA-2024:9004 is (8.el9_4 >
/// 4.el9_3); RHSA-2024:9005 is a non-modular nginx fix, not for the module build;
/// RHSA-2024:9006 is the nginx:1.22 module's (4 > 3); RHSA-2024:9007 is below zlib's EVR.
const RED_HAT_RECORDS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "RHSA-2024:9001",
        "CVE-2024-9001",
        "baseos",
        "openssl-libs",
        "1:3.0.7-27.el9",
    ),
    (
        "RHSA-2024:9002",
        "CVE-2024-9002",
        "crb",
        "openssl",
        "1:3.0.7-28.el9",
    ),
    (
        "RHSA-2024:9003",
        "CVE-2024-9003",
        "appstream",
        "nodejs",
        "1:18.20.2-2.module+el9.4.0+21731+46b5c8a7",
    ),
    (
        "RHSA-2024:9004",
        "CVE-2024-9004",
        "appstream",
        "nodejs",
        "1:16.20.2-8.el9_4",
    ),
    (
        "RHSA-2024:9005",
        "CVE-2024-9005",
        "appstream",
        "nginx",
        "1:1.24.0-1.el9",
    ),
    (
        "RHSA-2024:9006",
        "CVE-2024-9006",
        "appstream",
        "nginx",
        "1:1.22.1-4.module+el9.4.0+21720+0d1ab8b2",
    ),
    (
        "RHSA-2024:9007",
        "CVE-2024-9007",
        "baseos",
        "zlib",
        "1.2.11-39.el9",
    ),
];

/// [`RED_HAT_RECORDS`] as OSV files in `dir`, the way Red Hat's OSV export writes them.
fn red_hat_osv(dir: &Path) -> PathBuf {
    let out = dir.join("red-hat-osv");
    std::fs::create_dir_all(&out).unwrap();
    for (id, cve, stream, package, fixed) in RED_HAT_RECORDS {
        let record = serde_json::json!({
            "schema_version": "1.6.3",
            "id": id,
            "modified": "2024-06-01T00:00:00Z",
            "published": "2024-05-01T00:00:00Z",
            "related": [cve],
            "summary": format!("{package}: security update"),
            "affected": [{
                "package": {
                    "ecosystem": format!("Red Hat:enterprise_linux:9::{stream}"),
                    "name": package,
                    "purl": format!("pkg:rpm/redhat/{package}")
                },
                "ranges": [{
                    "type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"fixed": fixed}]
                }]
            }]
        });
        let name = format!("{}.json", id.replace(':', "_"));
        std::fs::write(out.join(name), record.to_string()).unwrap();
    }
    out
}

#[test]
fn ubi_9_content_sets_select_streams_and_module_builds_stay_apart() {
    let dir = temp_dir("cli-ubi");
    let db = database(dir.path(), &red_hat_osv(dir.path()));
    let rpmdb = rpm_database_with_modules(dir.path(), UBI_RPMS, UBI_MODULES);
    let os_release = b"NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.4 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\nPLATFORM_ID=\"platform:el9\"\n";
    // As UBI 9 ships it (`ubi9-container-9.4-…json`), content sets first.
    let manifest = br#"{"metadata":{"icm_version":1,"icm_spec":"https://raw.githubusercontent.com/containerbuildsystem/atomic-reactor/master/atomic_reactor/schemas/content_manifest.json","image_layer_index":0},"content_sets":["rhel-9-for-x86_64-baseos-rpms","rhel-9-for-x86_64-appstream-rpms"],"image_contents":[]}"#;
    let manifest_path = "root/buildinfo/content_manifests/ubi9-container-9.4-1123.json";
    let registry = Registry::start(RegistryKind::PlainHttp);
    let image = |name: &str, extra: Option<(&str, &[u8])>| {
        let sub = dir.path().join(name);
        let mut files = vec![
            ("etc/os-release", os_release.to_vec()),
            ("var/lib/rpm/rpmdb.sqlite", rpmdb.clone()),
        ];
        files.extend(extra.map(|(path, bytes)| (path, bytes.to_vec())));
        push_image(&sub, &files, &registry, &format!("ubi9:{name}"))
    };
    let row = |package: &str, n: u32, fixed: &str| {
        (
            package.to_string(),
            format!("CVE-2024-{n}"),
            vec![format!("RHSA-2024:{n}")],
            Some(fixed.to_string()),
        )
    };
    let selected = BTreeSet::from([
        row("openssl-libs", 9001, "1:3.0.7-27.el9"),
        row("nodejs", 9004, "1:16.20.2-8.el9_4"),
        row("nginx", 9006, "1:1.22.1-4.module+el9.4.0+21720+0d1ab8b2"),
    ]);

    let v = scan(&db, &image("manifest", Some((manifest_path, manifest))));
    assert_eq!(v["os_ecosystem"], "Red Hat:enterprise_linux:9");
    assert_eq!(v["os_supported"], true);
    assert_eq!(
        v["os"]["content_sets"],
        serde_json::json!([
            "rhel-9-for-x86_64-appstream-rpms",
            "rhel-9-for-x86_64-baseos-rpms"
        ])
    );
    assert_eq!(reported(&v, "RHSA-"), selected);
    assert_eq!(v["warnings"], serde_json::json!([]));

    // Without content manifests every stream is used: crb's fix counts too.
    let mut every_stream = selected.clone();
    every_stream.insert(row("openssl-libs", 9002, "1:3.0.7-28.el9"));
    let v = scan(&db, &image("plain", None));
    assert_eq!(v["os"]["content_sets"], serde_json::json!([]));
    assert_eq!(reported(&v, "RHSA-"), every_stream);
    assert_eq!(v["warnings"], serde_json::json!([]));

    // A broken manifest: a warning, and every stream.
    let broken_path = "root/buildinfo/content_manifests/broken.json";
    let v = scan(
        &db,
        &image(
            "broken",
            Some((broken_path, b"{\"content_sets\": [\"rhel-9-")),
        ),
    );
    assert_eq!(reported(&v, "RHSA-"), every_stream);
    let warnings = v["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.starts_with(&format!("{broken_path}: content manifest is not valid: "))
            && warning.ends_with("; every repository stream of the release is used"),
        "{warning}"
    );

    // A manifest over the 256 KiB read (valid JSON, padded): not parsed, said, every stream.
    let mut huge = br#"{"content_sets": ["rhel-9-for-x86_64-baseos-rpms"]}"#.to_vec();
    huge.resize(300_000, b' ');
    let v = scan(&db, &image("huge", Some((manifest_path, &huge))));
    assert_eq!(v["os"]["content_sets"], serde_json::json!([]));
    assert_eq!(reported(&v, "RHSA-"), every_stream);
    assert_eq!(
        v["warnings"],
        serde_json::json!([format!(
            "{manifest_path}: content manifest of 300000 bytes, more than the 262144 read; every repository stream of the release is used"
        )])
    );
}

/// Sources of the Ubuntu image installed below a fix (source, version): the others keep the
/// inventory's version (newer than every record of the test data).
const UBUNTU_OLDER: &[(&str, &str)] = &[
    ("openssl", "3.0.2-0ubuntu1.13"),
    ("glibc", "2.35-0ubuntu3.3"),
    ("util-linux", "2.37.2-4ubuntu3.2"),
];

/// A dpkg `status` of every binary of `ubuntu-22.04.tsv` (with [`UBUNTU_OLDER`] applied),
/// and its (binary, source, source version) list.
fn ubuntu_status() -> (String, Vec<(String, String, String)>) {
    let inventory = std::fs::read_to_string(data("pkgdb/inventories/ubuntu-22.04.tsv")).unwrap();
    let mut status = String::new();
    let mut installed = Vec::new();
    for line in inventory
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut cols = line.split('\t');
        let (source, listed, binaries) = (
            cols.next().unwrap(),
            cols.next().unwrap(),
            cols.next().unwrap(),
        );
        let version = UBUNTU_OLDER
            .iter()
            .find(|(s, _)| *s == source)
            .map_or(listed, |(_, v)| v);
        for binary in binaries.split(' ') {
            let (name_arch, binary_version) = binary.split_once('=').unwrap();
            let (name, arch) = name_arch.split_once(':').unwrap_or((name_arch, "all"));
            // An older source keeps the binary's epoch and suffix (bsdutils is 1:…).
            let binary_version = binary_version.replace(listed, version);
            status.push_str(&dpkg_entry(name, arch, source, version, &binary_version));
            installed.push((name.to_string(), source.to_string(), version.to_string()));
        }
    }
    (status, installed)
}

#[test]
fn ubuntu_22_04_dpkg_status_has_exactly_the_osv_findings() {
    let zip = data("advisories/osv/Ubuntu/all.zip");
    let dir = temp_dir("cli-ubuntu");
    let db = database(dir.path(), &zip);
    let (status, installed) = ubuntu_status();
    let os_release = b"PRETTY_NAME=\"Ubuntu 22.04.5 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.5 LTS (Jammy Jellyfish)\"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=jammy\n";
    let registry = Registry::start(RegistryKind::PlainHttp);
    let reference = push_image(
        dir.path(),
        &[
            ("etc/os-release", os_release.to_vec()),
            ("var/lib/dpkg/status", status.into_bytes()),
        ],
        &registry,
        "ubuntu:22.04",
    );
    let v = scan(&db, &reference);
    assert_eq!(v["os_ecosystem"], "Ubuntu:22.04:LTS");
    assert_eq!(v["os_supported"], true);
    assert_eq!(v["packages"].as_array().unwrap().len(), installed.len());
    let rows: Vec<(&str, &str, &str)> = installed
        .iter()
        .map(|(b, s, v)| (b.as_str(), s.as_str(), v.as_str()))
        .collect();
    let want = expected(dir.path(), "dpkg", "Ubuntu:22.04:LTS", &zip, &rows);
    let got = reported(&v, "USN-");
    assert_eq!(got, want);
    // The three older sources, and only they, are affected; bsdutils (epoch 1) by its source.
    let sources: BTreeSet<&str> = got
        .iter()
        .map(|(p, ..)| installed.iter().find(|(b, ..)| b == p).unwrap().1.as_str())
        .collect();
    assert_eq!(sources, BTreeSet::from(["glibc", "openssl", "util-linux"]));
    assert!(
        got.iter()
            .any(|(p, id, ..)| p == "bsdutils" && id == "CVE-2024-28085")
    );
    assert!(
        got.iter()
            .all(|(_, id, advisories, _)| id.starts_with("CVE-") && !advisories.is_empty())
    );
}

/// One installed package of a dpkg `status`.
fn dpkg_entry(name: &str, arch: &str, source: &str, source_version: &str, version: &str) -> String {
    format!(
        "Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: misc\n\
         Maintainer: Test <test@example.invalid>\nArchitecture: {arch}\n\
         Source: {source} ({source_version})\nVersion: {version}\nDescription: {name}\n\n"
    )
}

/// A dpkg `status` listing `packages` (binary, source, version; binary version = source's).
fn dpkg_status(packages: &[(&str, &str, &str)]) -> String {
    packages
        .iter()
        .map(|(name, source, version)| dpkg_entry(name, "amd64", source, version, version))
        .collect()
}

/// Debian 12 packages below the fixes of the multi-CVE advisories DSA-5439-1 (bind9),
/// DSA-5448-1 (linux) and DSA-5450-1 (firefox-esr), and one package no record names.
const DEBIAN_PACKAGES: &[(&str, &str, &str)] = &[
    ("bind9", "bind9", "1:9.18.12-1"),
    ("bind9-libs", "bind9", "1:9.18.12-1"),
    ("linux-image-6.1.0-9-amd64", "linux", "6.1.27-1"),
    ("firefox-esr", "firefox-esr", "102.12.0esr-1~deb12u1"),
    ("base-files", "base-files", "12.4"),
];

#[test]
fn debian_12_multi_cve_advisories_fold_into_their_cves() {
    let oval = data("advisories/debian/oval-definitions-bookworm.xml.bz2");
    let dir = temp_dir("cli-debian-dsa");
    let db = database(dir.path(), &oval);
    let registry = Registry::start(RegistryKind::PlainHttp);
    let reference = push_image(
        dir.path(),
        &[
            ("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n".to_vec()),
            (
                "var/lib/dpkg/status",
                dpkg_status(DEBIAN_PACKAGES).into_bytes(),
            ),
        ],
        &registry,
        "debian:12",
    );
    let v = scan(&db, &reference);
    assert_eq!(v["os_ecosystem"], "Debian:12");
    assert_eq!(v["os_supported"], true);
    let want = expected(dir.path(), "dpkg", "Debian:12", &oval, DEBIAN_PACKAGES);
    let got = reported(&v, "DSA-");
    assert_eq!(got, want);
    // No finding is a DSA of its own: each of its CVEs carries it, counted once.
    assert!(
        got.iter().all(|(_, id, ..)| id.starts_with("CVE-")),
        "{got:?}"
    );
    assert_eq!(v["summary"]["total"], got.len());
    for (package, dsa) in [
        ("bind9", "DSA-5439-1"),
        ("linux-image-6.1.0-9-amd64", "DSA-5448-1"),
        ("firefox-esr", "DSA-5450-1"),
    ] {
        assert!(
            got.iter()
                .any(|(p, _, advisories, _)| p == package && advisories.iter().any(|a| a == dsa)),
            "{package} {dsa}"
        );
    }
}
