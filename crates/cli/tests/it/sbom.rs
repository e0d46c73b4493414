//! `portcullis sbom`.

use serde_json::Value;

use crate::{portcullis, portcullis_in};

/// `(name, version)` of every `P:`/`V:` stanza of an apk database, read independently.
fn apk_db_packages(db: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(db);
    let mut out = Vec::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("P:") {
            name = Some(n.to_string());
        } else if let Some(v) = line.strip_prefix("V:") {
            out.push((name.take().unwrap(), v.to_string()));
        }
    }
    out.sort();
    out
}

#[test]
fn alpine_minirootfs_packages_are_exactly_the_apk_database() {
    for version in ["3.9.6", "3.20.3"] {
        let tarball = portcullis_testkit::alpine_minirootfs(version);
        let source = format!("tar:{}", tarball.display());
        let run = portcullis(&["sbom", "-f", "json", &source], b"");
        assert_eq!(run.code, 0, "{}", run.stderr);
        let v: Value = serde_json::from_str(&run.stdout).unwrap();
        let mut got: Vec<(String, String)> = v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["version"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        got.sort();
        let db =
            portcullis_testkit::images::minirootfs_file(version, "lib/apk/db/installed").unwrap();
        let expected = apk_db_packages(&db);
        assert_eq!(expected.len(), 14);
        assert_eq!(got, expected, "{version}");
        assert_eq!(v["os"]["id"], "alpine");
        assert_eq!(v["os"]["version_id"], version);
        let musl = v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "musl")
            .unwrap();
        assert_eq!(musl["type"], "apk");
        assert_eq!(musl["location"], "lib/apk/db/installed");
        let musl_version = expected
            .iter()
            .find(|(n, _)| n == "musl")
            .unwrap()
            .1
            .clone();
        assert_eq!(
            musl["purl"],
            format!("pkg:apk/alpine/musl@{musl_version}?arch=x86_64&distro={version}").as_str()
        );
    }
}

#[test]
fn table_snapshot_and_stable_output() {
    let tarball = portcullis_testkit::alpine_minirootfs("3.9.6");
    let source = format!("tar:{}", tarball.display());
    // Run where the tarball is, so the table names it the same way on every machine.
    let dir = tarball.parent().unwrap();
    let table = portcullis_in(
        dir,
        &["sbom", "tar:alpine-minirootfs-3.9.6-x86_64.tar.gz"],
        b"",
    );
    assert_eq!(table.code, 0, "{}", table.stderr);
    insta::assert_snapshot!("sbom_table_alpine_3_9_6", table.stdout);

    // Every format is byte-for-byte stable across runs, and -o writes the same bytes.
    let dir = portcullis_testkit::temp_dir("cli-sbom");
    for format in ["json", "cyclonedx", "spdx", "table"] {
        let first = portcullis(&["sbom", "-f", format, &source], b"");
        let second = portcullis(&["sbom", "-f", format, &source], b"");
        assert_eq!(first.code, 0, "{}", first.stderr);
        assert_eq!(first.stdout, second.stdout, "{format}");
        let file = dir.path().join(format!("sbom.{format}"));
        let written = portcullis(
            &["sbom", "-f", format, "-o", file.to_str().unwrap(), &source],
            b"",
        );
        assert_eq!(written.code, 0, "{}", written.stderr);
        assert!(written.stdout.is_empty());
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            first.stdout,
            "{format}"
        );
    }
    let cdx: Value =
        serde_json::from_str(&portcullis(&["sbom", "-f", "cyclonedx", &source], b"").stdout)
            .unwrap();
    assert_eq!(cdx["specVersion"], "1.6");
    let libraries = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "library")
        .count();
    assert_eq!(libraries, 14);
    let spdx: Value =
        serde_json::from_str(&portcullis(&["sbom", "-f", "spdx", &source], b"").stdout).unwrap();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
}

#[test]
fn sbom_of_a_missing_file_exits_2() {
    let run = portcullis(&["sbom", "tar:/nonexistent/rootfs.tar.gz"], b"");
    run.assert_exit(2, "/nonexistent/rootfs.tar.gz");
}
