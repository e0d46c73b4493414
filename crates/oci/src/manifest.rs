//! OCI and Docker schema 2 manifests and indexes (manifest lists), and platform selection.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::image::{ImageConfig, LayerDescriptor};
use crate::platform::Platform;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema 2 manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// The `Accept` header value for manifest requests, most preferred first.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(default)]
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Platform, in index entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type, in referrers index entries (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Schema version; must be 2.
    pub schema_version: u32,
    /// Media type, if the document states it.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, base first.
    pub layers: Vec<Descriptor>,
}

impl ImageManifest {
    /// The layers, each with its `diff_id` when `config` lists one per layer (else none has
    /// one).
    pub fn layer_descriptors(&self, config: &ImageConfig) -> Vec<LayerDescriptor> {
        let diff_ids =
            (config.diff_ids.len() == self.layers.len()).then_some(config.diff_ids.as_slice());
        self.layers
            .iter()
            .enumerate()
            .map(|(i, d)| LayerDescriptor {
                digest: d.digest.clone(),
                size: d.size,
                media_type: d.media_type.clone(),
                diff_id: diff_ids.and_then(|ids| ids.get(i).cloned()),
            })
            .collect()
    }
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Schema version; must be 2.
    pub schema_version: u32,
    /// Media type, if the document states it.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The entries.
    pub manifests: Vec<Descriptor>,
}

/// A parsed manifest document: either a single image or an index.
#[derive(Debug, Clone)]
pub enum Manifest {
    /// A single-platform image manifest.
    Image(ImageManifest),
    /// A multi-platform index or manifest list.
    Index(ImageIndex),
}

/// Is this media type an index or manifest list?
pub fn is_index_media_type(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

/// Is this media type an image manifest?
pub fn is_image_media_type(media_type: &str) -> bool {
    media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
}

impl Manifest {
    /// Parse a manifest document. `content_type` is the HTTP `Content-Type` (or the
    /// descriptor's media type) if known; the document's own `mediaType` and shape decide
    /// otherwise. `what` names the document in errors.
    pub fn parse(bytes: &[u8], content_type: Option<&str>, what: &str) -> Result<Self> {
        let bad = |why: String| Error::new(ErrorKind::InvalidManifest, format!("{what}: {why}"));
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let declared = value
            .get("mediaType")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let media_type = declared
            .as_deref()
            .or(content_type.map(|c| c.split(';').next().unwrap_or(c).trim()))
            .unwrap_or("");
        let schema = value
            .get("schemaVersion")
            .and_then(serde_json::Value::as_u64);
        if schema == Some(1) || media_type.contains("distribution.manifest.v1") {
            return Err(bad("Docker schema 1 manifests are not supported; push the image again with a current client".into()));
        }
        let is_index = is_index_media_type(media_type)
            || (media_type.is_empty() && value.get("manifests").is_some());
        let is_image = is_image_media_type(media_type)
            || (media_type.is_empty() && value.get("layers").is_some());
        if is_index {
            let index: ImageIndex =
                serde_json::from_value(value).map_err(|e| bad(format!("malformed index: {e}")))?;
            if index.schema_version != 2 {
                return Err(bad(format!(
                    "unsupported schemaVersion {}",
                    index.schema_version
                )));
            }
            Ok(Self::Index(index))
        } else if is_image {
            let manifest: ImageManifest = serde_json::from_value(value)
                .map_err(|e| bad(format!("malformed manifest: {e}")))?;
            if manifest.schema_version != 2 {
                return Err(bad(format!(
                    "unsupported schemaVersion {}",
                    manifest.schema_version
                )));
            }
            Ok(Self::Image(manifest))
        } else {
            Err(bad(format!(
                "unsupported media type '{media_type}' (expected an OCI or Docker schema 2 manifest or index)"
            )))
        }
    }
}

impl ImageIndex {
    /// Pick the entry for `wanted`. Entries that are attestations (`unknown/unknown`) are
    /// ignored. The error lists the platforms that are available.
    pub fn select(&self, wanted: &Platform, what: &str) -> Result<&Descriptor> {
        let candidates: Vec<&Descriptor> = self
            .manifests
            .iter()
            .filter(|d| {
                is_image_media_type(&d.media_type)
                    || is_index_media_type(&d.media_type)
                    || d.media_type.is_empty()
            })
            .collect();
        // Exact variant match first, then any entry that satisfies the request.
        let exact = candidates.iter().find(|d| {
            d.platform.as_ref().is_some_and(|p| {
                p.os == wanted.os
                    && p.architecture == wanted.architecture
                    && p.variant == wanted.variant
            })
        });
        if let Some(d) = exact {
            return Ok(d);
        }
        if let Some(d) = candidates
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| p.satisfies(wanted)))
        {
            return Ok(d);
        }
        let available: Vec<String> = candidates
            .iter()
            .filter_map(|d| d.platform.as_ref())
            .filter(|p| p.os != "unknown")
            .map(ToString::to_string)
            .collect();
        Err(Error::new(
            ErrorKind::PlatformNotFound,
            format!(
                "{what}: no image for platform {wanted}; available: {}",
                if available.is_empty() {
                    "none".to_string()
                } else {
                    available.join(", ")
                }
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn parses_image_manifest() {
        let doc = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{D1}","size":10}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{D2}","size":20}}]}}"#
        );
        match Manifest::parse(doc.as_bytes(), None, "m").unwrap() {
            Manifest::Image(m) => {
                assert_eq!(m.layers.len(), 1);
                assert_eq!(m.layers[0].size, 20);
            }
            Manifest::Index(_) => panic!("expected image"),
        }
    }

    #[test]
    fn selects_platform() {
        let doc = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{D1}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{D2}","size":1,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#
        );
        let Manifest::Index(index) = Manifest::parse(doc.as_bytes(), Some(OCI_INDEX), "i").unwrap()
        else {
            panic!("expected index")
        };
        assert_eq!(
            index
                .select(&"linux/arm64".parse().unwrap(), "i")
                .unwrap()
                .digest
                .as_str(),
            D2
        );
        assert_eq!(
            index
                .select(&"linux/amd64".parse().unwrap(), "i")
                .unwrap()
                .digest
                .as_str(),
            D1
        );
        let err = index
            .select(&"linux/s390x".parse().unwrap(), "idx")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PlatformNotFound);
        assert_eq!(
            err.to_string(),
            "idx: no image for platform linux/s390x; available: linux/amd64, linux/arm64/v8"
        );
    }

    #[test]
    fn rejects_garbage_and_schema1() {
        assert_eq!(
            Manifest::parse(b"{", None, "m").unwrap_err().kind(),
            ErrorKind::InvalidManifest
        );
        assert!(
            Manifest::parse(br#"{"schemaVersion":1,"fsLayers":[]}"#, None, "m")
                .unwrap_err()
                .to_string()
                .contains("schema 1")
        );
        assert!(Manifest::parse(br#"{"schemaVersion":2}"#, None, "m").is_err());
    }
}
