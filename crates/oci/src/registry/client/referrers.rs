//! OCI 1.1 referrers: attach an artifact (an SBOM, a signature) to a manifest as its
//! `subject`, and list what refers to a manifest.
//!
//! A registry that implements the referrers API answers the manifest upload with an
//! `OCI-Subject` header and indexes the artifact itself. For one that does not (Debian's
//! `docker-registry` 2.8, older Harbor and ECR), the distribution spec's fallback applies:
//! the client keeps an image index under the tag `<alg>-<hex>` of the subject and adds each
//! artifact to it. Listing tries `GET /v2/<name>/referrers/<digest>` first, then that tag.

use serde::{Deserialize, Serialize};

use super::RegistryClient;
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{Descriptor, OCI_INDEX, OCI_MANIFEST};

/// The media type of the empty config (`{}`) artifacts carry (OCI image spec 1.1).
pub const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
/// The largest referrers index read, in bytes.
pub const MAX_REFERRERS_INDEX: u64 = 4 << 20;
/// The most artifacts kept in one fallback index (the oldest beyond this are dropped).
pub const MAX_FALLBACK_ENTRIES: usize = 1000;

/// One artifact to attach.
#[derive(Debug, Clone)]
pub struct Artifact<'a> {
    /// Its `artifactType` (`application/vnd.cyclonedx+json`).
    pub artifact_type: &'a str,
    /// The media type of its one layer (usually the same as the artifact type).
    pub media_type: &'a str,
    /// The layer's content.
    pub content: &'a [u8],
    /// The layer's `org.opencontainers.image.title` (a file name), if any.
    pub title: Option<&'a str>,
    /// The manifest's annotations (`org.opencontainers.image.created`, …).
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// How the registry learnt of an attached artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Indexed {
    /// The registry's referrers API indexes it (it answered with `OCI-Subject`).
    ByRegistry,
    /// Added to the fallback index under this tag (`sha256-<hex>`).
    FallbackTag(String),
}

/// The result of [`RegistryClient::attach_artifact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// The artifact manifest's digest.
    pub digest: Digest,
    /// How it can be found from its subject.
    pub indexed: Indexed,
}

/// An image index as the referrers API and the fallback tag hold it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReferrersIndex {
    schema_version: u32,
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

impl ReferrersIndex {
    fn empty() -> Self {
        Self {
            schema_version: 2,
            media_type: OCI_INDEX.to_string(),
            manifests: Vec::new(),
        }
    }

    fn parse(bytes: &[u8], what: &str) -> Result<Self> {
        let index: Self = serde_json::from_slice(bytes).map_err(|e| {
            Error::new(
                ErrorKind::InvalidManifest,
                format!("{what}: not an image index"),
            )
            .with_source(e)
        })?;
        if index.schema_version != 2
            || (!index.media_type.is_empty() && index.media_type != OCI_INDEX)
        {
            return Err(Error::new(
                ErrorKind::InvalidManifest,
                format!(
                    "{what}: expected an OCI image index (schemaVersion 2), got media type '{}'",
                    index.media_type
                ),
            ));
        }
        Ok(index)
    }
}

/// The descriptors of a referrers index; for the fuzz target.
pub(crate) fn parse_referrers_index(bytes: &[u8], what: &str) -> Result<Vec<Descriptor>> {
    ReferrersIndex::parse(bytes, what).map(|index| index.manifests)
}

/// The fallback tag of `subject`: `sha256:ab…` → `sha256-ab…`.
pub fn fallback_tag(subject: &Digest) -> String {
    format!("{}-{}", subject.algorithm(), subject.hex())
}

/// The descriptor of the empty config, `{}`.
fn empty_config() -> (Descriptor, &'static [u8]) {
    const EMPTY: &[u8] = b"{}";
    (
        Descriptor {
            media_type: EMPTY_CONFIG.to_string(),
            digest: Digest::sha256_of(EMPTY),
            size: EMPTY.len() as u64,
            platform: None,
            artifact_type: None,
            annotations: Default::default(),
        },
        EMPTY,
    )
}

impl RegistryClient {
    /// Upload `artifact` as an OCI 1.1 artifact manifest whose `subject` is `subject` (a
    /// manifest of this repository), and make it findable from the subject: by the
    /// registry's referrers API where it has one, else through the fallback tag.
    pub fn attach_artifact(
        &self,
        subject: &Descriptor,
        artifact: &Artifact<'_>,
        what: &str,
    ) -> Result<Attached> {
        let (config, config_bytes) = empty_config();
        self.push_small_blob(&config.digest, config_bytes, &format!("{what}: config"))?;
        let layer_digest = Digest::sha256_of(artifact.content);
        self.push_small_blob(&layer_digest, artifact.content, &format!("{what}: content"))?;
        let mut layer = serde_json::json!({
            "mediaType": artifact.media_type,
            "digest": layer_digest,
            "size": artifact.content.len(),
        });
        if let Some(title) = artifact.title {
            layer["annotations"] = serde_json::json!({ "org.opencontainers.image.title": title });
        }
        let mut manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact.artifact_type,
            "config": config,
            "layers": [layer],
            "subject": {
                "mediaType": subject.media_type,
                "digest": subject.digest,
                "size": subject.size,
            },
        });
        if !artifact.annotations.is_empty() {
            manifest["annotations"] = serde_json::json!(artifact.annotations);
        }
        let bytes = serde_json::to_vec(&manifest).map_err(|e| {
            Error::new(
                ErrorKind::InvalidManifest,
                format!("{what}: encoding the manifest"),
            )
            .with_source(e)
        })?;
        let digest = Digest::sha256_of(&bytes);
        let (_, has_subject) = self.put_manifest(
            digest.as_str(),
            OCI_MANIFEST,
            &bytes,
            &format!("{what}: manifest"),
        )?;
        if has_subject {
            return Ok(Attached {
                digest,
                indexed: Indexed::ByRegistry,
            });
        }
        let descriptor = Descriptor {
            media_type: OCI_MANIFEST.to_string(),
            digest: digest.clone(),
            size: bytes.len() as u64,
            platform: None,
            artifact_type: Some(artifact.artifact_type.to_string()),
            annotations: artifact.annotations.clone(),
        };
        let tag = self.add_to_fallback(&subject.digest, descriptor, what)?;
        Ok(Attached {
            digest,
            indexed: Indexed::FallbackTag(tag),
        })
    }

    /// Add `descriptor` to the fallback index of `subject` (read, add, write back).
    fn add_to_fallback(
        &self,
        subject: &Digest,
        descriptor: Descriptor,
        what: &str,
    ) -> Result<String> {
        let tag = fallback_tag(subject);
        let described = format!("{what}: referrers index {tag}");
        let mut index = match self.fetch_manifest(&tag, None, MAX_REFERRERS_INDEX, &described) {
            Ok(found) => ReferrersIndex::parse(&found.bytes, &described)?,
            Err(e) if e.kind() == ErrorKind::NotFound => ReferrersIndex::empty(),
            Err(e) => return Err(e),
        };
        if index
            .manifests
            .iter()
            .any(|d| d.digest == descriptor.digest)
        {
            return Ok(tag);
        }
        index.manifests.push(descriptor);
        if index.manifests.len() > MAX_FALLBACK_ENTRIES {
            let excess = index.manifests.len() - MAX_FALLBACK_ENTRIES;
            index.manifests.drain(..excess);
        }
        index.media_type = OCI_INDEX.to_string();
        let bytes = serde_json::to_vec(&index).map_err(|e| {
            Error::new(ErrorKind::InvalidManifest, format!("{described}: encoding")).with_source(e)
        })?;
        self.put_manifest(&tag, OCI_INDEX, &bytes, &described)?;
        Ok(tag)
    }

    /// The artifacts referring to manifest `subject`, optionally only those of
    /// `artifact_type`: from the referrers API, else from the fallback tag; empty when
    /// there are none.
    pub fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
        what: &str,
    ) -> Result<Vec<Descriptor>> {
        let path = format!("/v2/{}/referrers/{subject}", self.repository);
        let described = format!("{what}: referrers of {subject}");
        let response = self.registry_get(&path, Some(OCI_INDEX), &described)?;
        let is_index = super::header(&response, "content-type")
            .is_some_and(|c| c.split(';').next().unwrap_or(c).trim() == OCI_INDEX);
        let index = if response.status().as_u16() == 200 && is_index {
            let bytes = self.read_capped(response, MAX_REFERRERS_INDEX, &described, "index")?;
            ReferrersIndex::parse(&bytes, &described)?
        } else {
            // 404 (no API) or a non-index answer: the spec's fallback tag.
            let tag = fallback_tag(subject);
            let described = format!("{what}: referrers index {tag}");
            match self.fetch_manifest(&tag, None, MAX_REFERRERS_INDEX, &described) {
                Ok(found) => ReferrersIndex::parse(&found.bytes, &described)?,
                Err(e) if e.kind() == ErrorKind::NotFound => ReferrersIndex::empty(),
                Err(e) => return Err(e),
            }
        };
        Ok(index
            .manifests
            .into_iter()
            .filter(|d| artifact_type.is_none_or(|t| d.artifact_type.as_deref() == Some(t)))
            .collect())
    }

    /// Upload a blob held in memory.
    fn push_small_blob(&self, digest: &Digest, bytes: &[u8], what: &str) -> Result<()> {
        let owned = bytes.to_vec();
        self.push_blob(
            digest,
            bytes.len() as u64,
            &mut || {
                Ok(Box::new(std::io::Cursor::new(owned.clone())) as Box<dyn std::io::Read + Send>)
            },
            what,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_tag_replaces_the_colon() {
        let d = Digest::sha256_of(b"x");
        assert_eq!(fallback_tag(&d), format!("sha256-{}", d.hex()));
    }

    #[test]
    fn index_parsing_refuses_other_documents() {
        assert!(ReferrersIndex::parse(br#"{"schemaVersion":2,"manifests":[]}"#, "x").is_ok());
        let e = ReferrersIndex::parse(
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
            "idx",
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidManifest);
        assert!(
            e.to_string()
                .starts_with("idx: expected an OCI image index"),
            "{e}"
        );
        assert!(ReferrersIndex::parse(b"[", "x").is_err());
        assert!(ReferrersIndex::parse(br#"{"schemaVersion":1}"#, "x").is_err());
    }

    #[test]
    fn empty_config_is_the_well_known_blob() {
        let (d, bytes) = empty_config();
        assert_eq!(bytes, b"{}");
        assert_eq!(
            d.digest.as_str(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
