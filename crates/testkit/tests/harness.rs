//! The harness itself works: images build, every registry kind starts and takes a push,
//! the mock serves what it should.

// Test code: helpers outside #[test] functions may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;

use portcullis_testkit::hostile::HostileImage;
use portcullis_testkit::images::{ImageName, minirootfs_file};
use portcullis_testkit::{MockBehaviour, MockRegistry, Registry, RegistryKind, images, run};

fn tar_listing(blob: &std::path::Path) -> Vec<String> {
    run("tar", ["-tzf".as_ref(), blob.as_os_str()])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn images_are_built_as_documented() {
    let images = images();
    let layout = images.layout();
    assert_eq!(
        layout.manifest("alpine-3.20")["layers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let layered = layout.manifest("layered");
    let layers = layered["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    let mut upper = tar_listing(&layout.blob_path(layers[1]["digest"].as_str().unwrap()));
    upper.sort();
    assert_eq!(
        upper,
        vec![
            "etc/",
            "etc/.wh.motd",
            "etc/.wh.profile.d",
            "etc/alpine-release"
        ]
    );
    let top = tar_listing(&layout.blob_path(layers[2]["digest"].as_str().unwrap()));
    assert_eq!(
        top,
        vec![
            "etc/",
            "etc/apk/",
            "etc/apk/.wh..wh..opq",
            "etc/apk/world",
            "etc/profile.d/",
            "etc/profile.d/portcullis.sh"
        ]
    );
    let config = layout.config("configured");
    assert_eq!(config["config"]["User"], "1000");
    assert_eq!(config["config"]["Healthcheck"]["Retries"], 3);
    assert_eq!(layout.config("alpine-3.9-arm64")["architecture"], "arm64");
    let index: serde_json::Value =
        serde_json::from_slice(&layout.read_blob(&images.digest(ImageName::Multiarch))).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
    let dotdot = layout.manifest(HostileImage::DotDotPath.tag());
    let blob = dotdot["layers"][1]["digest"].as_str().unwrap();
    assert_eq!(tar_listing(&layout.blob_path(blob)), vec!["../etc/passwd"]);
    let abs = layout.manifest(HostileImage::AbsolutePath.tag());
    let blob = abs["layers"][1]["digest"].as_str().unwrap();
    assert_eq!(tar_listing(&layout.blob_path(blob)), vec!["/etc/shadow"]);
    let installed = minirootfs_file("3.20.3", "lib/apk/db/installed").unwrap();
    let packages = String::from_utf8(installed).unwrap();
    assert_eq!(packages.lines().filter(|l| l.starts_with("P:")).count(), 14);
}

#[test]
fn exports_exist() {
    let images = images();
    let oci = images.oci_archive(ImageName::Alpine320);
    let docker = images.docker_archive(ImageName::Alpine320);
    assert!(oci.is_file() && docker.is_file());
    let listing = run("tar", ["-tf".as_ref(), docker.as_os_str()]);
    assert!(listing.lines().any(|l| l == "manifest.json"), "{listing}");
    assert!(
        images
            .rootfs_dir("3.20.3")
            .join("lib/apk/db/installed")
            .is_file()
    );
}

fn push_and_inspect(kind: RegistryKind) -> Registry {
    let images = images();
    let registry = Registry::start(kind);
    registry.push(
        &images.skopeo_ref(ImageName::Alpine320),
        "alpine:3.20",
        false,
    );
    assert_eq!(
        registry.manifest_digest("alpine:3.20"),
        images.digest(ImageName::Alpine320)
    );
    registry
}

#[test]
fn plain_http_registry() {
    let registry = push_and_inspect(RegistryKind::PlainHttp);
    assert!(registry.ca_cert_pem_path().is_none());
    let digest = images().digest(ImageName::Alpine320);
    assert!(registry.blob_data_path(&digest).is_file());
}

#[test]
fn tls_registry() {
    let registry = push_and_inspect(RegistryKind::Tls);
    assert!(registry.ca_cert_pem_path().unwrap().is_file());
}

#[test]
fn basic_auth_registry() {
    let registry = push_and_inspect(RegistryKind::basic("alice", "s3cret-basic"));
    assert_eq!(registry.credentials(), Some(("alice", "s3cret-basic")));
}

#[test]
fn bearer_registry() {
    let registry = push_and_inspect(RegistryKind::bearer("bob", "s3cret-bearer"));
    assert!(registry.tokens_issued() > 0, "{}", registry.stderr());
}

#[test]
fn multiarch_push() {
    let images = images();
    let registry = Registry::start(RegistryKind::PlainHttp);
    registry.push(
        &images.skopeo_ref(ImageName::Multiarch),
        "multi:latest",
        true,
    );
    assert_eq!(
        registry.manifest_digest("multi:latest"),
        images.digest(ImageName::Multiarch)
    );
}

fn http_get(host_port: &str, target: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(host_port).unwrap();
    write!(s, "GET {target} HTTP/1.1\r\nHost: {host_port}\r\n\r\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, out[split + 4..].to_vec())
}

#[test]
fn mock_serves_and_misbehaves() {
    let images = images();
    let layout = images.layout();
    let mock = MockRegistry::serve_image(layout, "alpine-3.20", "alpine", MockBehaviour::Normal);
    let (status, body) = http_get(&mock.host_port(), "/v2/alpine/manifests/alpine-3.20");
    assert_eq!(status, 200);
    assert_eq!(body, layout.read_blob(&images.digest(ImageName::Alpine320)));
    assert_eq!(http_get(&mock.host_port(), "/v2/nope/manifests/x").0, 404);

    let big = MockRegistry::serve_image(
        layout,
        "alpine-3.20",
        "alpine",
        MockBehaviour::OversizedManifest {
            size: 5 * 1024 * 1024,
            announce_length: true,
        },
    );
    let (status, body) = http_get(&big.host_port(), "/v2/alpine/manifests/alpine-3.20");
    assert_eq!((status, body.len()), (200, 5 * 1024 * 1024));
    assert_eq!(
        big.requests(),
        vec!["GET /v2/alpine/manifests/alpine-3.20".to_string()]
    );
}

/// The auth registries really check: skopeo with a wrong password is refused.
#[test]
fn auth_registries_refuse_wrong_password() {
    for kind in [
        RegistryKind::basic("alice", "right"),
        RegistryKind::bearer("bob", "right"),
    ] {
        let registry = Registry::start(kind);
        registry.push(
            &images().skopeo_ref(ImageName::Alpine320),
            "alpine:3.20",
            false,
        );
        let status = std::process::Command::new("skopeo")
            .arg("inspect")
            .arg("--raw")
            .arg(format!(
                "--cert-dir={}",
                registry
                    .ca_cert_pem_path()
                    .unwrap()
                    .parent()
                    .unwrap()
                    .join("certs.d")
                    .display()
            ))
            .arg("--creds=alice:wrong")
            .arg(format!("docker://{}", registry.reference("alpine:3.20")))
            .output()
            .unwrap();
        assert!(!status.status.success(), "{:?}", registry.kind());
        assert!(
            String::from_utf8_lossy(&status.stderr).contains("unauthorized")
                || String::from_utf8_lossy(&status.stderr).contains("401"),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
}
