//! What we know about an opened image: identity, platform, config and layers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{ParseError, ParseErrorKind};
use crate::platform::Platform;

/// Which kind of source an image came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// An OCI distribution registry.
    Registry,
    /// An OCI image layout directory.
    OciDir,
    /// A tar of an OCI image layout.
    OciArchive,
    /// A `docker save` archive.
    DockerArchive,
    /// An unpacked root filesystem directory.
    Dir,
    /// A root filesystem tarball.
    Tar,
}

/// One layer of an image, base first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerDescriptor {
    /// Digest of the layer blob as stored (compressed).
    pub digest: Digest,
    /// Size of the stored blob in bytes.
    pub size: u64,
    /// Media type of the blob.
    pub media_type: String,
    /// Digest of the uncompressed tar (from the config's `rootfs.diff_ids`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<Digest>,
}

/// The container health check from the image config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Healthcheck {
    /// The test, e.g. `["CMD-SHELL", "curl -f http://localhost/"]`; `["NONE"]` disables it.
    pub test: Vec<String>,
    /// Interval in nanoseconds, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    /// Timeout in nanoseconds, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Retries, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
}

/// The parts of the image config that policies and reports use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// `User` (empty or absent means root).
    pub user: Option<String>,
    /// `ExposedPorts` keys, e.g. `22/tcp`, sorted.
    pub exposed_ports: Vec<String>,
    /// `Healthcheck`, if any.
    pub healthcheck: Option<Healthcheck>,
    /// `Env` in order.
    pub env: Vec<String>,
    /// `Labels`.
    pub labels: BTreeMap<String, String>,
    /// `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    pub cmd: Vec<String>,
    /// `WorkingDir`.
    pub working_dir: Option<String>,
    /// `created`, as written.
    pub created: Option<String>,
    /// `os`.
    pub os: Option<String>,
    /// `architecture`.
    pub architecture: Option<String>,
    /// `variant`.
    pub variant: Option<String>,
    /// `rootfs.diff_ids`, base first.
    pub diff_ids: Vec<Digest>,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    config: Option<RawContainerConfig>,
    #[serde(default)]
    rootfs: Option<RawRootfs>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawContainerConfig {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    healthcheck: Option<RawHealthcheck>,
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    working_dir: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawHealthcheck {
    #[serde(default)]
    test: Option<Vec<String>>,
    #[serde(default)]
    interval: Option<i64>,
    #[serde(default)]
    timeout: Option<i64>,
    #[serde(default)]
    retries: Option<i64>,
}

#[derive(Deserialize)]
struct RawRootfs {
    #[serde(default)]
    diff_ids: Vec<Digest>,
}

impl ImageConfig {
    /// Parse an OCI or Docker image config document; `what` names it in errors.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Self, ParseError> {
        let raw: RawConfig = serde_json::from_slice(bytes).map_err(|e| {
            ParseError::new(
                ParseErrorKind::ImageConfig,
                format!("{what}: malformed image config: {e}"),
            )
        })?;
        let c = raw.config.unwrap_or(RawContainerConfig {
            user: None,
            exposed_ports: None,
            healthcheck: None,
            env: None,
            labels: None,
            entrypoint: None,
            cmd: None,
            working_dir: None,
        });
        Ok(Self {
            user: c.user.filter(|u| !u.is_empty()),
            exposed_ports: c
                .exposed_ports
                .map(|m| m.into_keys().collect())
                .unwrap_or_default(),
            healthcheck: c.healthcheck.map(|h| Healthcheck {
                test: h.test.unwrap_or_default(),
                interval: h.interval,
                timeout: h.timeout,
                retries: h.retries,
            }),
            env: c.env.unwrap_or_default(),
            labels: c.labels.unwrap_or_default(),
            entrypoint: c.entrypoint.unwrap_or_default(),
            cmd: c.cmd.unwrap_or_default(),
            working_dir: c.working_dir.filter(|w| !w.is_empty()),
            created: raw.created,
            os: raw.os,
            architecture: raw.architecture,
            variant: raw.variant,
            diff_ids: raw.rootfs.map(|r| r.diff_ids).unwrap_or_default(),
        })
    }

    /// The platform the config declares, if it declares one.
    pub fn platform(&self) -> Option<Platform> {
        Some(Platform {
            os: self.os.clone()?,
            architecture: self.architecture.clone()?,
            variant: self.variant.clone(),
        })
    }
}

/// Everything known about an opened image before its layers are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// The source as the user gave it, normalised (e.g. `docker.io/library/alpine:latest`,
    /// `oci-dir:/path:tag`).
    pub reference: String,
    /// The kind of source.
    pub source: SourceKind,
    /// The digest a registry would report for the reference: the index digest for a
    /// multi-platform image, else the manifest digest. `None` for root filesystems.
    pub digest: Option<Digest>,
    /// The digest of the platform-specific image manifest, when it differs from `digest`.
    pub manifest_digest: Option<Digest>,
    /// The digest of the image config (the image id), if there is a config.
    pub config_digest: Option<Digest>,
    /// The platform of the chosen image.
    pub platform: Option<Platform>,
    /// The image config.
    pub config: ImageConfig,
    /// Layers, base first.
    pub layers: Vec<LayerDescriptor>,
}

impl ImageInfo {
    /// An image known only by its reference and kind of source: no digests, platform,
    /// config or layers (a root filesystem, or before the manifest is read).
    pub fn new(reference: impl Into<String>, source: SourceKind) -> Self {
        Self {
            reference: reference.into(),
            source,
            digest: None,
            manifest_digest: None,
            config_digest: None,
            platform: None,
            config: ImageConfig::default(),
            layers: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_config() {
        let doc = br#"{"architecture":"amd64","os":"linux","config":{"User":"1000:1000","ExposedPorts":{"80/tcp":{},"22/tcp":{}},"Env":["PATH=/bin"],"Labels":{"a":"b"},"Healthcheck":{"Test":["CMD","true"],"Interval":30000000000}},"rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}}"#;
        let c = ImageConfig::parse(doc, "cfg").unwrap();
        assert_eq!(c.user.as_deref(), Some("1000:1000"));
        assert_eq!(c.exposed_ports, vec!["22/tcp", "80/tcp"]);
        assert_eq!(c.healthcheck.as_ref().unwrap().test, vec!["CMD", "true"]);
        assert_eq!(c.diff_ids.len(), 1);
        assert_eq!(c.platform().unwrap().to_string(), "linux/amd64");
        let minimal = ImageConfig::parse(br#"{"config":null}"#, "cfg").unwrap();
        assert_eq!(minimal.user, None);
        assert!(
            ImageConfig::parse(b"[1]", "cfg x")
                .unwrap_err()
                .to_string()
                .starts_with("cfg x: ")
        );
    }
}
