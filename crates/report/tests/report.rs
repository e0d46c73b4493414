//! Integration tests of the SBOM renderings: snapshots of every format for a small
//! synthetic inventory, schema validation (CycloneDX 1.6, SPDX 2.3) with the committed
//! official schemas, determinism, escaping, and the real Alpine 3.20.3 root filesystem from
//! `PORTCULLIS_TESTDATA`.
//!
//! Schema validation runs `tests/validate_schema.py` with the system `python3` and its
//! `jsonschema` module (Debian package `python3-jsonschema`); the tests fail, naming it,
//! when either is missing.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use portcullis_catalog::all_patterns;
use portcullis_catalog::{Ecosystem, Extra, Os, OsFamily, Package, catalog_all};
use portcullis_oci::{
    Digest, FileSet, ImageConfig, ImageInfo, LayerDescriptor, Platform, SourceKind,
};
use portcullis_oci::{Image, ImageOptions, ImageSource, Limits, PathPatterns};
use portcullis_report::{Sbom, SbomFormat, Timestamp, ToolInfo, render};
use serde_json::Value;

mod scan;

// ---------------------------------------------------------------------------------------
// Fixtures

fn layer(n: u8) -> Digest {
    Digest::sha256_of(&[n])
}

fn image() -> ImageInfo {
    let mut config = ImageConfig {
        created: Some("2024-09-06T22:20:07.972381771Z".into()),
        os: Some("linux".into()),
        architecture: Some("amd64".into()),
        ..ImageConfig::default()
    };
    config.diff_ids = vec![layer(1), layer(2)];
    ImageInfo {
        reference: "docker.io/library/example:1.0".into(),
        source: SourceKind::Registry,
        digest: Some(Digest::sha256_of(b"index")),
        manifest_digest: Some(Digest::sha256_of(b"manifest")),
        config_digest: Some(Digest::sha256_of(b"config")),
        platform: Some(Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }),
        config,
        layers: vec![LayerDescriptor {
            digest: Digest::sha256_of(b"blob"),
            size: 4,
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            diff_id: Some(layer(1)),
        }],
    }
}

fn alpine_os() -> Os {
    Os {
        id: "alpine".into(),
        family: OsFamily::Alpine,
        id_like: Vec::new(),
        name: Some("Alpine Linux".into()),
        version: None,
        version_id: Some("3.20.3".into()),
        codename: None,
        pretty_name: Some("Alpine Linux v3.20".into()),
        source_file: "etc/os-release".into(),
        content_sets: vec![],
    }
}

#[allow(clippy::too_many_arguments)]
fn pkg(
    ecosystem: Ecosystem,
    name: &str,
    version: &str,
    source: Option<(&str, Option<&str>)>,
    license: &[&str],
    purl: &str,
    location: &str,
    arch: Option<&str>,
) -> Package {
    Package {
        ecosystem,
        name: name.into(),
        version: version.into(),
        arch: arch.map(Into::into),
        location: location.into(),
        source_name: source.map(|(n, _)| n.to_string()),
        source_version: source.and_then(|(_, v)| v.map(str::to_string)),
        licenses: license.iter().map(|l| l.to_string()).collect(),
        purl: purl.into(),
        layer: Some(layer(1)),
        extra: Extra::None,
    }
}

/// A small mixed inventory, deliberately out of order.
fn packages() -> Vec<Package> {
    let apk_db = "lib/apk/db/installed";
    let mut v = vec![
        pkg(
            Ecosystem::Java,
            "org.apache.logging.log4j:log4j-core",
            "2.14.1",
            None,
            &["Apache-2.0"],
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            "app/lib/log4j-core-2.14.1.jar",
            None,
        ),
        pkg(
            Ecosystem::Apk,
            "musl-utils",
            "1.2.5-r0",
            Some(("musl", None)),
            &["MIT AND BSD-2-Clause AND GPL-2.0-or-later"],
            "pkg:apk/alpine/musl-utils@1.2.5-r0?arch=x86_64&distro=3.20.3",
            apk_db,
            Some("x86_64"),
        ),
        pkg(
            Ecosystem::Apk,
            "musl",
            "1.2.5-r0",
            Some(("musl", None)),
            &["MIT"],
            "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=3.20.3",
            apk_db,
            Some("x86_64"),
        ),
        pkg(
            Ecosystem::Apk,
            "libstdc++",
            "13.2.1_git20240309-r0",
            Some(("gcc", None)),
            &["GPL-3.0-or-later WITH GCC-exception-3.1"],
            "pkg:apk/alpine/libstdc%2B%2B@13.2.1_git20240309-r0?arch=x86_64&distro=3.20.3",
            apk_db,
            Some("x86_64"),
        ),
        pkg(
            Ecosystem::Deb,
            "bsdutils",
            "1:2.38.1-5+b1",
            Some(("util-linux", Some("2.38.1-5"))),
            &[],
            "pkg:deb/debian/bsdutils@1:2.38.1-5%2Bb1?arch=amd64&distro=debian-12",
            "var/lib/dpkg/status",
            Some("amd64"),
        ),
        pkg(
            Ecosystem::Rpm,
            "openssl-libs",
            "1:3.0.7-27.el9",
            Some(("openssl", Some("3.0.7-27.el9"))),
            &["ASL 2.0"],
            "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4&epoch=1",
            "var/lib/rpm/rpmdb.sqlite",
            Some("x86_64"),
        ),
        pkg(
            Ecosystem::Python,
            "requests",
            "2.32.3",
            None,
            &["Apache 2.0"],
            "pkg:pypi/requests@2.32.3",
            "usr/lib/python3.12/site-packages/requests-2.32.3.dist-info/METADATA",
            None,
        ),
        pkg(
            Ecosystem::Npm,
            "@babel/core",
            "7.24.0",
            None,
            &["MIT"],
            "pkg:npm/%40babel/core@7.24.0",
            "app/node_modules/@babel/core/package.json",
            None,
        ),
    ];
    v[0].layer = Some(layer(2));
    v
}

fn sbom<'a>(image: &'a ImageInfo, os: Option<&'a Os>, packages: &'a [Package]) -> Sbom<'a> {
    Sbom {
        image,
        os,
        packages,
        tool: ToolInfo {
            name: "portcullis".into(),
            version: "0.1.0".into(),
        },
        // The image's `created`, not the environment's SOURCE_DATE_EPOCH.
        created: Timestamp::choose(None, image.config.created.as_deref()),
    }
}

fn rendered(sbom: &Sbom<'_>, format: SbomFormat) -> String {
    let mut out = Vec::new();
    render(sbom, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------------------------
// Schema validation through Python's jsonschema

fn validate(kind: &str, document: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/validate_schema.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(kind)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 for schema validation ({e}); install python3 and python3-jsonschema")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(document.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => {}
        Some(3) => panic!("schema validation needs python3-jsonschema: {stderr}"),
        _ => panic!("{kind} document is not valid against its schema:\n{stderr}\n{document}"),
    }
}

// ---------------------------------------------------------------------------------------
// Synthetic inventory

#[test]
fn snapshots_of_every_format() {
    let (image, os, packages) = (image(), alpine_os(), packages());
    let sbom = sbom(&image, Some(&os), &packages);
    insta::assert_snapshot!("table", rendered(&sbom, SbomFormat::Table));
    insta::assert_snapshot!("json", rendered(&sbom, SbomFormat::Json));
    insta::assert_snapshot!("cyclonedx", rendered(&sbom, SbomFormat::CycloneDx));
    insta::assert_snapshot!("spdx", rendered(&sbom, SbomFormat::Spdx));
}

#[test]
fn table_fits_100_columns() {
    let (image, os, packages) = (image(), alpine_os(), packages());
    let table = rendered(&sbom(&image, Some(&os), &packages), SbomFormat::Table);
    for line in table.lines() {
        assert!(line.chars().count() <= 100, "too wide: {line}");
    }
}

#[test]
fn own_json_has_the_documented_keys_in_order() {
    let (image, os, packages) = (image(), alpine_os(), packages());
    let json = rendered(&sbom(&image, Some(&os), &packages), SbomFormat::Json);
    // serde_json without preserve_order sorts keys, so check the text itself.
    let first = json.find("\"name\": \"@babel/core\"").unwrap();
    let entry = &json[first..];
    let keys = [
        "\"name\"",
        "\"version\"",
        "\"type\"",
        "\"source_name\"",
        "\"source_version\"",
        "\"purl\"",
        "\"location\"",
        "\"layer\"",
        "\"licenses\"",
        "\"arch\"",
    ];
    let positions: Vec<usize> = keys.iter().map(|k| entry.find(k).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    let top: Vec<usize> = ["\"image\"", "\"os\"", "\"packages\""]
        .iter()
        .map(|k| json.find(k).unwrap())
        .collect();
    assert!(top.windows(2).all(|w| w[0] < w[1]));

    let doc: Value = serde_json::from_str(&json).unwrap();
    let types: Vec<&str> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["apk", "apk", "apk", "deb", "rpm", "pypi", "npm", "maven"]
    );
    assert_eq!(doc["os"]["id"], "alpine");
    assert_eq!(doc["packages"][3]["version"], "1:2.38.1-5+b1");
    assert_eq!(doc["packages"][3]["source_name"], "util-linux");
    assert_eq!(doc["packages"][3]["source_version"], "2.38.1-5");

    let no_os = rendered(&sbom(&image, None, &packages), SbomFormat::Json);
    let doc: Value = serde_json::from_str(&no_os).unwrap();
    assert!(doc["os"].is_null());
}

#[test]
fn cyclonedx_is_valid_1_6() {
    let (image, os, packages) = (image(), alpine_os(), packages());
    let bom = rendered(&sbom(&image, Some(&os), &packages), SbomFormat::CycloneDx);
    validate("cyclonedx", &bom);
    let doc: Value = serde_json::from_str(&bom).unwrap();
    assert_eq!(doc["specVersion"], "1.6");
    let components = doc["components"].as_array().unwrap();
    assert_eq!(components.len(), 9);
    assert_eq!(components[0]["type"], "operating-system");
    let refs: BTreeSet<&str> = components
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs.len(), 9, "bom-refs are unique");
    let deb = components.iter().find(|c| c["name"] == "bsdutils").unwrap();
    assert_eq!(deb["version"], "1:2.38.1-5+b1");
    assert_eq!(
        doc["metadata"]["component"]["purl"],
        format!(
            "pkg:oci/example@sha256:{}?arch=amd64&repository_url=docker.io%2Flibrary%2Fexample&tag=1.0",
            Digest::sha256_of(b"index").hex()
        )
    );
    // An expression alone; invalid licences as names.
    let musl_utils = components
        .iter()
        .find(|c| c["name"] == "musl-utils")
        .unwrap();
    assert_eq!(
        musl_utils["licenses"],
        serde_json::json!([{"expression": "MIT AND BSD-2-Clause AND GPL-2.0-or-later"}])
    );
    let rpm = components
        .iter()
        .find(|c| c["name"] == "openssl-libs")
        .unwrap();
    assert_eq!(
        rpm["licenses"],
        serde_json::json!([{"license": {"name": "ASL 2.0"}}])
    );
}

#[test]
fn spdx_is_valid_2_3() {
    let (image, os, packages) = (image(), alpine_os(), packages());
    let text = rendered(&sbom(&image, Some(&os), &packages), SbomFormat::Spdx);
    validate("spdx", &text);
    let doc: Value = serde_json::from_str(&text).unwrap();
    check_spdx_references(&doc);
    let declared: Vec<(&str, &str)> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["licenseDeclared"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(declared.contains(&("openssl-libs", "LicenseRef-ASL-2.0")));
    assert!(declared.contains(&("requests", "LicenseRef-Apache-2.0")));
    assert!(declared.contains(&("bsdutils", "NOASSERTION")));
    assert!(declared.contains(&("libstdc++", "GPL-3.0-or-later WITH GCC-exception-3.1")));
    assert_eq!(doc["packages"].as_array().unwrap().len(), 10);
}

/// Every SPDXID is unique, every relationship names an existing element, every
/// `LicenseRef-` used is defined.
fn check_spdx_references(doc: &Value) {
    let mut ids = BTreeSet::new();
    ids.insert("SPDXRef-DOCUMENT".to_string());
    for p in doc["packages"].as_array().unwrap() {
        let id = p["SPDXID"].as_str().unwrap().to_string();
        assert!(
            id.strip_prefix("SPDXRef-")
                .unwrap()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'),
            "{id}"
        );
        assert!(ids.insert(id.clone()), "duplicate {id}");
    }
    for r in doc["relationships"].as_array().unwrap() {
        assert!(ids.contains(r["spdxElementId"].as_str().unwrap()));
        assert!(ids.contains(r["relatedSpdxElement"].as_str().unwrap()));
    }
    let defined: BTreeSet<&str> = doc["hasExtractedLicensingInfos"]
        .as_array()
        .map(|a| a.iter().map(|l| l["licenseId"].as_str().unwrap()).collect())
        .unwrap_or_default();
    for p in doc["packages"].as_array().unwrap() {
        for word in p["licenseDeclared"]
            .as_str()
            .unwrap()
            .split([' ', '(', ')'])
        {
            if word.starts_with("LicenseRef-") {
                assert!(defined.contains(word), "undefined {word}");
            }
        }
    }
}

#[test]
fn output_is_deterministic_and_order_independent() {
    let (image, os, packages) = (image(), alpine_os(), packages());
    let mut reversed = packages.clone();
    reversed.reverse();
    for &format in SbomFormat::ALL {
        let a = rendered(&sbom(&image, Some(&os), &packages), format);
        let b = rendered(&sbom(&image, Some(&os), &packages), format);
        let c = rendered(&sbom(&image, Some(&os), &reversed), format);
        assert_eq!(a, b, "{format}");
        assert_eq!(a, c, "{format}");
    }
    // Different content, different serial number and namespace.
    let fewer = &packages[1..];
    let bom_a: Value = serde_json::from_str(&rendered(
        &sbom(&image, Some(&os), &packages),
        SbomFormat::CycloneDx,
    ))
    .unwrap();
    let bom_b: Value = serde_json::from_str(&rendered(
        &sbom(&image, Some(&os), fewer),
        SbomFormat::CycloneDx,
    ))
    .unwrap();
    assert_ne!(bom_a["serialNumber"], bom_b["serialNumber"]);
}

#[test]
fn special_characters_survive_every_format() {
    let image = image();
    let mut p = packages();
    p.push(pkg(
        Ecosystem::Npm,
        "we\"ird\\name\u{1b}[31m",
        "1.0.0+build:1",
        None,
        &["(MIT OR Apache-2.0) AND Zlib", "Public Domain"],
        "pkg:npm/we%22ird%5Cname%1B%5B31m@1.0.0%2Bbuild:1",
        "app/node_modules/x/package.json",
        None,
    ));
    let sbom = sbom(&image, None, &p);
    for format in [SbomFormat::Json, SbomFormat::CycloneDx, SbomFormat::Spdx] {
        let doc: Value = serde_json::from_str(&rendered(&sbom, format)).unwrap();
        let text = doc.to_string();
        assert!(
            text.contains(r#"we\"ird\\name\u001b[31m"#),
            "{format}: {text}"
        );
    }
    let table = rendered(&sbom, SbomFormat::Table);
    assert!(!table.contains('\u{1b}'));
    assert!(table.contains("we\"ird\\name?[31m"));
    let spdx = rendered(&sbom, SbomFormat::Spdx);
    validate("spdx", &spdx);
    let doc: Value = serde_json::from_str(&spdx).unwrap();
    check_spdx_references(&doc);
    let weird = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["versionInfo"] == "1.0.0+build:1")
        .unwrap();
    assert_eq!(
        weird["licenseDeclared"],
        "((MIT OR Apache-2.0) AND Zlib) AND LicenseRef-Public-Domain"
    );
    validate("cyclonedx", &rendered(&sbom, SbomFormat::CycloneDx));
}

#[test]
fn rootfs_without_digest_os_or_time() {
    let image = ImageInfo::new("dir:/tmp/root", SourceKind::Dir);
    let sbom = Sbom {
        image: &image,
        os: None,
        packages: &[],
        tool: ToolInfo::portcullis(),
        created: None,
    };
    let bom = rendered(&sbom, SbomFormat::CycloneDx);
    validate("cyclonedx", &bom);
    let doc: Value = serde_json::from_str(&bom).unwrap();
    assert!(doc["metadata"].get("timestamp").is_none());
    assert_eq!(doc["components"], serde_json::json!([]));
    let spdx = rendered(&sbom, SbomFormat::Spdx);
    validate("spdx", &spdx);
    let doc: Value = serde_json::from_str(&spdx).unwrap();
    assert_eq!(doc["creationInfo"]["created"], "1970-01-01T00:00:00Z");
    let table = rendered(&sbom, SbomFormat::Table);
    assert_eq!(
        table,
        "Image:    dir:/tmp/root\nOS:       unknown\nPackages: 0\n"
    );
}

// ---------------------------------------------------------------------------------------
// Real data

use portcullis_testkit::testdata_dir as testdata;

/// The files the catalogers want out of a root filesystem tar.gz, as the reader would
/// hand them over.
fn fileset_from_rootfs(rel: &str) -> FileSet {
    let source = ImageSource::Tar {
        path: testdata().join(rel),
    };
    let image = Image::open(&source, &ImageOptions::default()).unwrap();
    let patterns = PathPatterns::new(all_patterns()).unwrap();
    image.read_files(&patterns, &Limits::default()).unwrap()
}

#[test]
fn alpine_3_20_3_rootfs_renders_valid_documents() {
    let files = fileset_from_rootfs("images/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz");
    let catalog = catalog_all(&files);
    assert_eq!(catalog.warnings, Vec::new());
    assert_eq!(catalog.packages.len(), 14);
    let image = ImageInfo::new(
        "tar:alpine-minirootfs-3.20.3-x86_64.tar.gz",
        SourceKind::Tar,
    );
    let sbom = Sbom {
        image: &image,
        os: catalog.os.as_ref(),
        packages: &catalog.packages,
        tool: ToolInfo::portcullis(),
        created: Timestamp::from_unix(1_700_000_000),
    };

    let bom = rendered(&sbom, SbomFormat::CycloneDx);
    validate("cyclonedx", &bom);
    let doc: Value = serde_json::from_str(&bom).unwrap();
    let components = doc["components"].as_array().unwrap();
    let libraries: Vec<&Value> = components
        .iter()
        .filter(|c| c["type"] == "library")
        .collect();
    assert_eq!(libraries.len(), 14);
    assert_eq!(components.len(), 15);
    assert_eq!(components[0]["name"], "alpine");
    assert_eq!(components[0]["version"], "3.20.3");
    let ca = libraries
        .iter()
        .find(|c| c["name"] == "ca-certificates-bundle")
        .unwrap();
    assert_eq!(
        ca["licenses"],
        serde_json::json!([{"expression": "MPL-2.0 AND MIT"}])
    );

    let spdx = rendered(&sbom, SbomFormat::Spdx);
    validate("spdx", &spdx);
    let doc: Value = serde_json::from_str(&spdx).unwrap();
    check_spdx_references(&doc);
    // The image, the OS and the 14 packages; every Alpine licence is valid SPDX.
    assert_eq!(doc["packages"].as_array().unwrap().len(), 16);
    assert!(doc.get("hasExtractedLicensingInfos").is_none());
    let names: BTreeSet<&str> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["primaryPackagePurpose"] == "LIBRARY")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "alpine-baselayout",
            "alpine-baselayout-data",
            "alpine-keys",
            "apk-tools",
            "busybox",
            "busybox-binsh",
            "ca-certificates-bundle",
            "libcrypto3",
            "libssl3",
            "musl",
            "musl-utils",
            "scanelf",
            "ssl_client",
            "zlib",
        ])
    );

    let table = rendered(&sbom, SbomFormat::Table);
    assert!(table.contains("Packages: 14\n"));
    assert!(table.lines().all(|l| l.chars().count() <= 100));
}
