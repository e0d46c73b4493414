//! How the scanned image itself is named in SBOMs.

use portcullis_types::{ImageInfo, Reference, SourceKind};

/// The image's Package URL (purl type `oci`), for images from a registry with a known
/// digest: `pkg:oci/<name>@sha256%3A...?arch=...&repository_url=<registry>/<repository>&tag=...`.
/// `None` for other sources, whose location is a local path.
pub fn oci_purl(image: &ImageInfo) -> Option<String> {
    if image.source != SourceKind::Registry {
        return None;
    }
    let digest = image.digest.as_ref()?;
    let reference = Reference::parse(&image.reference).ok()?;
    let repository = reference.repository();
    let name = repository.rsplit('/').next().unwrap_or(repository);
    let mut qualifiers = Vec::new();
    if let Some(platform) = &image.platform {
        qualifiers.push(format!("arch={}", encode(&platform.architecture)));
    }
    qualifiers.push(format!(
        "repository_url={}",
        encode(&format!("{}/{repository}", reference.registry()))
    ));
    if let Some(tag) = reference.tag() {
        qualifiers.push(format!("tag={}", encode(tag)));
    }
    Some(format!(
        "pkg:oci/{}@{}?{}",
        encode(&name.to_ascii_lowercase()),
        encode(digest.as_str()).replace(':', "%3A"),
        qualifiers.join("&")
    ))
}

/// Percent-encode everything but ASCII letters, digits and `.-_~/:`.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b".-_~/:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
                "pkg:oci/alpine@sha256%3A{}?arch=amd64&repository_url=127.0.0.1:5000/team/alpine&tag=3.20",
                Digest::sha256_of(b"x").hex()
            )
        );
        image.source = SourceKind::OciDir;
        assert_eq!(oci_purl(&image), None);
    }
}
