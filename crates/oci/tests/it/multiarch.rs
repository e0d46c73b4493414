//! Platform selection from an OCI index, in a layout and in a registry.

use portcullis_oci::{ErrorKind, ImageOptions, Platform};
use portcullis_testkit::images;
use portcullis_testkit::images::ImageName;

use crate::common::{
    Shared, amd64, arm64, assert_alpine_files, chain, local_options, open, open_err, options_for,
    read_alpine, registry,
};

fn with_platform(mut options: ImageOptions, platform: Platform) -> ImageOptions {
    options.platform = Some(platform);
    options
}

fn check(source: &str, options: &ImageOptions) {
    let images = images();
    let index_digest = images.digest(ImageName::Multiarch);
    for (platform, tag, version) in [
        (amd64(), ImageName::Alpine320, "3.20.3"),
        (arm64(), ImageName::Alpine39Arm64, "3.9.6"),
    ] {
        let image = open(source, &with_platform(options.clone(), platform.clone()));
        let info = image.info();
        assert_eq!(
            info.digest.as_ref().map(|d| d.to_string()),
            Some(index_digest.clone())
        );
        assert_eq!(
            info.manifest_digest.as_ref().map(|d| d.to_string()),
            Some(images.digest(tag))
        );
        assert_eq!(info.platform, Some(platform.clone()));
        assert_eq!(
            info.config.architecture.as_deref(),
            Some(platform.architecture.as_str())
        );
        assert_alpine_files(&read_alpine(&image), version);
    }
    let err = open_err(
        source,
        &with_platform(options.clone(), "linux/s390x".parse().unwrap()),
    );
    assert_eq!(err.kind(), ErrorKind::PlatformNotFound, "{}", chain(&err));
    let message = err.to_string();
    for wanted in ["linux/s390x", "linux/amd64", "linux/arm64"] {
        assert!(message.contains(wanted), "{message}");
    }
}

#[test]
fn multiarch_oci_dir() {
    check(
        &images().oci_dir_source(ImageName::Multiarch),
        &local_options(),
    );
}

#[test]
fn multiarch_registry() {
    let registry = registry(Shared::Plain);
    assert_eq!(
        registry.manifest_digest("multiarch:latest"),
        images().digest(ImageName::Multiarch)
    );
    check(
        &registry.reference("multiarch:latest"),
        &options_for(registry),
    );
}
