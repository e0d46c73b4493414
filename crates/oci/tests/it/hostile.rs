//! Hostile and broken input: each case fails with the right kind and a message naming
//! what failed, never a panic, never a secret.

use std::sync::OnceLock;
use std::time::Duration;

use portcullis_oci::{Error, ErrorKind, Image, ImageOptions, Limits, PathPatterns, RetryPolicy};
use portcullis_testkit::hostile::{ESCAPE_CONTENT, HostileImage, corrupt_registry_blob};
use portcullis_testkit::images::ImageName;
use portcullis_testkit::{MockBehaviour, MockRegistry, Registry, RegistryKind, images};

use crate::common::{
    BASIC_PASSWORD, BEARER_PASSWORD, Shared, alpine_patterns, chain, local_options, open, open_err,
    options_for, registry,
};

/// A plain registry holding every hostile image as `hostile:<tag>`.
fn hostile_registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let registry = Registry::start(RegistryKind::PlainHttp);
        let layout = images().layout();
        for image in HostileImage::ALL {
            registry.push(
                &layout.skopeo_ref(image.tag()),
                &format!("hostile:{}", image.tag()),
                false,
            );
        }
        registry
    })
}

fn read_err(image: &Image, patterns: &PathPatterns) -> Error {
    match image.read_files(patterns, &Limits::default()) {
        Ok(files) => panic!(
            "reading {} should fail, got {:?}",
            image.info().reference,
            files.files.keys().collect::<Vec<_>>()
        ),
        Err(e) => e,
    }
}

/// Both the layout and the registry copy of `image`.
fn sources(image: HostileImage) -> Vec<(String, ImageOptions)> {
    let registry = hostile_registry();
    vec![
        (images().layout().source(image.tag()), local_options()),
        (
            registry.reference(&format!("hostile:{}", image.tag())),
            options_for(registry),
        ),
    ]
}

#[test]
fn truncated_gzip_layer() {
    for (source, options) in sources(HostileImage::TruncatedGzip) {
        let image = open(&source, &options);
        let layer = image.info().layers[0].digest.to_string();
        let err = read_err(&image, &alpine_patterns());
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidLayer,
            "{source}: {}",
            chain(&err)
        );
        assert!(err.to_string().contains(&layer), "{source}: {err}");
    }
}

#[test]
fn parent_dir_entry() {
    for (source, options) in sources(HostileImage::DotDotPath) {
        let image = open(&source, &options);
        let err = read_err(&image, &PathPatterns::new(["etc/passwd"]).unwrap());
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidLayer,
            "{source}: {}",
            chain(&err)
        );
        let message = err.to_string();
        assert!(message.contains("../etc/passwd"), "{source}: {message}");
        assert!(
            message.contains(&image.info().layers[1].digest.to_string()),
            "{source}: {message}"
        );
    }
}

/// An absolute entry names the same file under the image root, as container runtimes
/// extract it (the layer reader's documented decision): it replaces the lower `etc/shadow`,
/// with a warning that names the layer and the entry.
#[test]
fn absolute_entry() {
    for (source, options) in sources(HostileImage::AbsolutePath) {
        let image = open(&source, &options);
        let files = image
            .read_files(
                &PathPatterns::new(["etc/shadow"]).unwrap(),
                &Limits::default(),
            )
            .unwrap_or_else(|e| panic!("{source}: {}", chain(&e)));
        let paths: Vec<&str> = files.files.keys().map(String::as_str).collect();
        assert_eq!(paths, vec!["etc/shadow"], "{source}");
        let shadow = &files.files["etc/shadow"];
        assert_eq!(shadow.data(), Some(ESCAPE_CONTENT), "{source}");
        assert_eq!(shadow.layer, image.info().layers[1].diff_id, "{source}");
        // ...and says so, naming the layer and the entry.
        assert_eq!(files.warnings.len(), 1, "{source}: {:?}", files.warnings);
        assert!(
            files.warnings[0].starts_with(&format!(
                "layer {}: entry '/etc/shadow' has an absolute path",
                image.info().layers[1].digest
            )),
            "{source}: {}",
            files.warnings[0]
        );
    }
}

#[test]
fn symlink_loop() {
    for (source, options) in sources(HostileImage::SymlinkLoop) {
        let image = open(&source, &options);
        let files = image
            .read_files(&alpine_patterns(), &Limits::default())
            .unwrap_or_else(|e| panic!("{source}: {}", chain(&e)));
        // The upper layer turned the regular file into a link into a loop: the wanted path is
        // reported as not read, naming the loop, so a cataloger cannot take it as absent.
        let found = files.files.get("etc/os-release");
        assert!(
            found.is_some_and(
                |f| matches!(&f.content, portcullis_oci::FileContent::Skipped { reason, .. }
                if reason.contains("too many levels of symbolic links"))
            ),
            "{source}: {found:?}"
        );
        assert_eq!(
            files.symlinks.get("etc/os-release").map(String::as_str),
            Some("a")
        );
        assert_eq!(files.symlinks.get("etc/a").map(String::as_str), Some("b"));
        assert_eq!(files.symlinks.get("etc/b").map(String::as_str), Some("a"));
        let err = files.resolve("etc/os-release", 40).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidLayer);
        assert!(err.to_string().contains("etc/os-release"), "{err}");
        // The rest of the image is still read.
        assert!(files.files.contains_key("lib/apk/db/installed"), "{source}");
    }
}

#[test]
fn corrupted_layer_blob_in_registry() {
    let registry = Registry::start(RegistryKind::PlainHttp);
    let images = images();
    registry.push(
        &images.skopeo_ref(ImageName::Alpine320),
        "alpine:3.20",
        false,
    );
    let layer = images.layout().manifest("alpine-3.20")["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    corrupt_registry_blob(&registry, &layer);
    let image = open(&registry.reference("alpine:3.20"), &options_for(&registry));
    let err = read_err(&image, &alpine_patterns());
    assert_eq!(err.kind(), ErrorKind::DigestMismatch, "{}", chain(&err));
    assert!(err.to_string().contains(&layer), "{err}");
}

#[test]
fn corrupted_config_blob_in_registry() {
    let registry = Registry::start(RegistryKind::PlainHttp);
    let images = images();
    registry.push(&images.skopeo_ref(ImageName::Alpine39), "alpine:3.9", false);
    let config = images.layout().manifest("alpine-3.9")["config"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    corrupt_registry_blob(&registry, &config);
    let err = open_err(&registry.reference("alpine:3.9"), &options_for(&registry));
    assert_eq!(err.kind(), ErrorKind::DigestMismatch, "{}", chain(&err));
    assert!(err.to_string().contains(&config), "{err}");
}

#[test]
fn oversized_manifest() {
    for announce_length in [true, false] {
        let mock = MockRegistry::serve_image(
            images().layout(),
            "alpine-3.20",
            "big",
            MockBehaviour::OversizedManifest {
                size: 5 * 1024 * 1024,
                announce_length,
            },
        );
        let mut options = local_options();
        options.registry.insecure_registries = vec![mock.host_port()];
        let reference = mock.reference("big:alpine-3.20");
        let err = open_err(&reference, &options);
        assert_eq!(err.kind(), ErrorKind::TooLarge, "{}", chain(&err));
        assert!(err.to_string().contains("big"), "{err}");
    }
}

#[test]
fn registry_stalls_mid_blob() {
    let mock = MockRegistry::serve_image(
        images().layout(),
        "alpine-3.20",
        "stall",
        MockBehaviour::StallMidBlob {
            after_bytes: 100_000,
        },
    );
    let mut options = local_options();
    options.registry.insecure_registries = vec![mock.host_port()];
    options.registry.read_timeout = Duration::from_secs(1);
    options.registry.retry = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let image = open(&mock.reference("stall:alpine-3.20"), &options);
    let err = read_err(&image, &alpine_patterns());
    assert_eq!(err.kind(), ErrorKind::Network, "{}", chain(&err));
    assert!(
        err.to_string()
            .contains(&image.info().layers[0].digest.to_string()),
        "{err}"
    );
}

#[test]
fn unknown_repository_and_tag() {
    let registry = registry(Shared::Plain);
    let options = options_for(registry);
    let err = open_err(&registry.reference("no-such-repo:1"), &options);
    assert_eq!(err.kind(), ErrorKind::NotFound, "{}", chain(&err));
    assert!(err.to_string().contains("no-such-repo"), "{err}");
    let err = open_err(&registry.reference("alpine:no-such-tag"), &options);
    assert_eq!(err.kind(), ErrorKind::NotFound, "{}", chain(&err));
    assert!(err.to_string().contains("no-such-tag"), "{err}");
}

fn assert_secret_free(err: &Error, secret: &str) {
    let mut texts = vec![err.to_string(), format!("{err:?}"), chain(err)];
    let mut current: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = current {
        texts.push(format!("{e:?}"));
        current = e.source();
    }
    for text in texts {
        assert!(!text.contains(secret), "secret leaked: {text}");
    }
}

#[test]
fn wrong_password() {
    for (kind, secret) in [
        (Shared::Basic, BASIC_PASSWORD),
        (Shared::Bearer, BEARER_PASSWORD),
    ] {
        let registry = registry(kind);
        let mut options = options_for(registry);
        let wrong = format!("wrong-{secret}");
        if let Some(credentials) = options.registry.credentials.as_mut() {
            credentials.password = wrong.clone();
        }
        let reference = registry.reference("alpine:3.20");
        let err = open_err(&reference, &options);
        assert_eq!(
            err.kind(),
            ErrorKind::Unauthorized,
            "{kind:?}: {}",
            chain(&err)
        );
        assert!(err.to_string().contains(&registry.host_port()), "{err}");
        assert_secret_free(&err, &wrong);
        assert_secret_free(&err, secret);
    }
}

#[test]
fn no_credentials_for_an_auth_registry() {
    for kind in [Shared::Basic, Shared::Bearer] {
        let registry = registry(kind);
        let mut options = options_for(registry);
        options.registry.credentials = None;
        // An empty docker config: no stored credentials either.
        options.registry.docker_config_dir = Some(images().scratch("empty-docker-config"));
        let err = open_err(&registry.reference("alpine:3.20"), &options);
        assert_eq!(
            err.kind(),
            ErrorKind::Unauthorized,
            "{kind:?}: {}",
            chain(&err)
        );
    }
}
