//! How the scanned image itself is named in SBOMs.

use portcullis_types::{ImageInfo, Reference, SourceKind, purl};

/// The image's Package URL (purl type `oci`), for images from a registry with a known
/// digest: `pkg:oci/<name>@sha256:...?arch=...&repository_url=<registry>%2F<repository>&tag=...`
/// in the canonical form of the purl spec (its `oci` type tests write the digest's colon
/// as is and encode the slashes of `repository_url`). `None` for other sources, whose
/// location is a local path.
pub fn oci_purl(image: &ImageInfo) -> Option<String> {
    if image.source != SourceKind::Registry {
        return None;
    }
    let digest = image.digest.as_ref()?;
    let reference = Reference::parse(&image.reference).ok()?;
    let repository = reference.repository();
    let name = repository.rsplit('/').next().unwrap_or(repository);
    Some(purl::build(
        "oci",
        None,
        &name.to_ascii_lowercase(),
        Some(digest.as_str()),
        &[
            (
                "arch",
                image.platform.as_ref().map(|p| p.architecture.clone()),
            ),
            (
                "repository_url",
                Some(format!("{}/{repository}", reference.registry())),
            ),
            ("tag", reference.tag().map(str::to_string)),
        ],
    ))
}

/// The image's name for documents: its reference as normalised by the image reader.
pub fn display_name(image: &ImageInfo) -> &str {
    &image.reference
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_types::{Digest, ImageConfig, Platform};

    #[test]
    fn registry_images_get_an_oci_purl() {
        let mut image = ImageInfo {
            reference: "127.0.0.1:5000/team/alpine:3.20".into(),
            source: SourceKind::Registry,
            digest: Some(Digest::sha256_of(b"x")),
            manifest_digest: None,
            config_digest: None,
            platform: Some(Platform {
                os: "linux".into(),
                architecture: "amd64".into(),
                variant: None,
            }),
            config: ImageConfig::default(),
            layers: Vec::new(),
        };
        let purl = oci_purl(&image).unwrap();
        assert_eq!(
            purl,
            format!(
                "pkg:oci/alpine@sha256:{}?arch=amd64&repository_url=127.0.0.1:5000%2Fteam%2Falpine&tag=3.20",
                Digest::sha256_of(b"x").hex()
            )
        );
        image.source = SourceKind::OciDir;
        assert_eq!(oci_purl(&image), None);
    }
}
