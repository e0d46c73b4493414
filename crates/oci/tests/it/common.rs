//! Shared registries (one per kind per process) and expectations.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use portcullis_oci::{
    Credentials, Error, FileSet, Image, ImageOptions, ImageSource, Limits, PathPatterns, Platform,
    RegistryOptions,
};
use portcullis_testkit::images::{ImageName, minirootfs_file};
use portcullis_testkit::{Registry, RegistryKind, images};

pub const BASIC_USER: &str = "alice";
pub const BASIC_PASSWORD: &str = "basic-Pa55-7f2c91";
pub const BEARER_USER: &str = "bob";
pub const BEARER_PASSWORD: &str = "bearer-Pa55-c04e3a";

/// The registry kinds the tests share.
#[derive(Debug, Clone, Copy)]
pub enum Shared {
    Plain,
    Tls,
    Basic,
    Bearer,
}

/// A registry of `kind`, started once per process, holding `alpine:3.20`, `alpine:3.9`,
/// `configured:latest`, `layered:latest` and `multiarch:latest` (every platform).
pub fn registry(kind: Shared) -> &'static Registry {
    static PLAIN: OnceLock<Registry> = OnceLock::new();
    static TLS: OnceLock<Registry> = OnceLock::new();
    static BASIC: OnceLock<Registry> = OnceLock::new();
    static BEARER: OnceLock<Registry> = OnceLock::new();
    let (cell, registry_kind) = match kind {
        Shared::Plain => (&PLAIN, RegistryKind::PlainHttp),
        Shared::Tls => (&TLS, RegistryKind::Tls),
        Shared::Basic => (&BASIC, RegistryKind::basic(BASIC_USER, BASIC_PASSWORD)),
        Shared::Bearer => (&BEARER, RegistryKind::bearer(BEARER_USER, BEARER_PASSWORD)),
    };
    cell.get_or_init(|| {
        let registry = Registry::start(registry_kind);
        let images = images();
        registry.push(
            &images.skopeo_ref(ImageName::Alpine320),
            "alpine:3.20",
            false,
        );
        registry.push(&images.skopeo_ref(ImageName::Alpine39), "alpine:3.9", false);
        registry.push(
            &images.skopeo_ref(ImageName::Configured),
            "configured:latest",
            false,
        );
        registry.push(
            &images.skopeo_ref(ImageName::Layered),
            "layered:latest",
            false,
        );
        registry.push(
            &images.skopeo_ref(ImageName::Multiarch),
            "multiarch:latest",
            true,
        );
        registry
    })
}

/// Options that reach `registry`: insecure for plain HTTP, its CA for TLS, its credentials.
pub fn options_for(registry: &Registry) -> ImageOptions {
    let mut registry_options = RegistryOptions::default();
    match registry.ca_cert_pem_path() {
        None => registry_options.insecure_registries = vec![registry.host_port()],
        Some(ca) => registry_options.ca_certs = vec![ca.to_path_buf()],
    }
    registry_options.credentials = registry.credentials().map(|(user, password)| Credentials {
        username: user.to_string(),
        password: password.to_string(),
    });
    ImageOptions {
        platform: Some(amd64()),
        registry: registry_options,
        limits: Limits::default(),
    }
}

/// Options for local sources, platform linux/amd64.
pub fn local_options() -> ImageOptions {
    ImageOptions {
        platform: Some(amd64()),
        ..ImageOptions::default()
    }
}

pub fn amd64() -> Platform {
    "linux/amd64".parse().unwrap()
}

pub fn arm64() -> Platform {
    "linux/arm64".parse().unwrap()
}

/// Open `source` (a source string), panicking with the error.
pub fn open(source: &str, options: &ImageOptions) -> Image {
    let parsed = ImageSource::parse(source).unwrap();
    Image::open(&parsed, options).unwrap_or_else(|e| panic!("opening {source}: {}", chain(&e)))
}

/// Open `source`, expecting an error.
pub fn open_err(source: &str, options: &ImageOptions) -> Error {
    let parsed = ImageSource::parse(source).unwrap();
    match Image::open(&parsed, options) {
        Ok(image) => panic!("opening {source} should fail, got {:?}", image.info()),
        Err(e) => e,
    }
}

/// The error, its Display and every source's Display, for message assertions.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut current = error.source();
    while let Some(e) = current {
        out.push_str(" <- ");
        out.push_str(&e.to_string());
        current = e.source();
    }
    out
}

/// The patterns every source test reads.
pub fn alpine_patterns() -> PathPatterns {
    PathPatterns::new([
        "lib/apk/db/installed",
        "etc/alpine-release",
        "etc/os-release",
    ])
    .unwrap()
}

/// Read the Alpine files of `image`.
pub fn read_alpine(image: &Image) -> FileSet {
    image
        .read_files(&alpine_patterns(), &Limits::default())
        .unwrap_or_else(|e| panic!("reading {}: {}", image.info().reference, chain(&e)))
}

/// `files` holds exactly the Alpine `version` files, byte for byte: 14 packages, the release.
pub fn assert_alpine_files(files: &FileSet, version: &str) {
    let paths: Vec<&str> = files.files.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        vec![
            "etc/alpine-release",
            "etc/os-release",
            "lib/apk/db/installed"
        ]
    );
    for path in &paths {
        let expected = minirootfs_file(version, path).unwrap();
        let found = &files.files[*path];
        assert_eq!(found.data(), Some(expected.as_slice()), "{path}");
        assert_eq!(found.size, expected.len() as u64, "{path}");
    }
    let installed =
        String::from_utf8(files.files["lib/apk/db/installed"].data().unwrap().to_vec()).unwrap();
    assert_eq!(
        installed.lines().filter(|l| l.starts_with("P:")).count(),
        14
    );
    assert_eq!(
        files.files["etc/alpine-release"].data(),
        Some(format!("{version}\n").as_bytes())
    );
    assert!(files.warnings.is_empty(), "{:?}", files.warnings);
}

/// Run `program ARGS` in `cwd`, failing the test if it cannot be run or fails.
pub fn run(program: &str, args: &[&str], cwd: &Path) {
    let output = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (is it installed?): {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// In `dir`, an OCI layout `L` whose image `t` is the root filesystem tarball `rootfs`, made
/// with umoci (its bundle left in `B`).
pub fn umoci_layout(dir: &Path, rootfs: &Path) {
    run("umoci", &["init", "--layout", "L"], dir);
    run("umoci", &["new", "--image", "L:t"], dir);
    run(
        "umoci",
        &["unpack", "--rootless", "--image", "L:t", "B"],
        dir,
    );
    run(
        "tar",
        &["-C", "B/rootfs", "-xzf", rootfs.to_str().unwrap()],
        dir,
    );
    run("umoci", &["repack", "--image", "L:t", "B"], dir);
}
