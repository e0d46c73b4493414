//! The detected operating system of an image.

use serde::{Deserialize, Serialize};

/// The distribution family, from `ID` (and `ID_LIKE` as a fallback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OsFamily {
    /// Alpine Linux.
    Alpine,
    /// Wolfi.
    Wolfi,
    /// Chainguard OS.
    Chainguard,
    /// Debian.
    Debian,
    /// Ubuntu.
    Ubuntu,
    /// Red Hat Enterprise Linux (and UBI).
    Rhel,
    /// CentOS (Linux and Stream).
    Centos,
    /// Rocky Linux.
    Rocky,
    /// AlmaLinux.
    Almalinux,
    /// Oracle Linux.
    Oracle,
    /// Fedora.
    Fedora,
    /// Amazon Linux.
    Amazon,
    /// SUSE Linux Enterprise Server (and SLE Micro, BCI).
    Sles,
    /// openSUSE Leap.
    OpensuseLeap,
    /// openSUSE Tumbleweed.
    OpensuseTumbleweed,
    /// CBL-Mariner.
    Mariner,
    /// Azure Linux (Mariner 3 and later).
    Azurelinux,
    /// Photon OS.
    Photon,
    /// Something else; see [`Os::id`].
    Other,
}

impl OsFamily {
    /// The family of an os-release `ID` (`ol` and `oracle` are Oracle, ...).
    pub fn from_id(id: &str) -> Self {
        match id {
            "alpine" => Self::Alpine,
            "wolfi" => Self::Wolfi,
            "chainguard" => Self::Chainguard,
            "debian" => Self::Debian,
            "ubuntu" => Self::Ubuntu,
            "rhel" | "redhat" => Self::Rhel,
            "centos" => Self::Centos,
            "rocky" => Self::Rocky,
            "almalinux" => Self::Almalinux,
            "ol" | "oracle" => Self::Oracle,
            "fedora" => Self::Fedora,
            "amzn" | "amazon" => Self::Amazon,
            "sles" | "sled" | "sle-micro" | "sl-micro" | "sles_sap" | "suse" => Self::Sles,
            "opensuse-leap" | "opensuse" => Self::OpensuseLeap,
            "opensuse-tumbleweed" => Self::OpensuseTumbleweed,
            "mariner" => Self::Mariner,
            "azurelinux" => Self::Azurelinux,
            "photon" => Self::Photon,
            _ => Self::Other,
        }
    }
}

/// A detected operating system.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Os {
    /// The lowercase `ID` (`alpine`, `debian`, `rhel`, `sles`, ...).
    pub id: String,
    /// The family `id` belongs to.
    pub family: OsFamily,
    /// `ID_LIKE` entries.
    pub id_like: Vec<String>,
    /// `NAME`, e.g. `Alpine Linux`.
    pub name: Option<String>,
    /// `VERSION`, e.g. `12 (bookworm)`; for Debian the point release from
    /// `etc/debian_version` when that is more precise.
    pub version: Option<String>,
    /// `VERSION_ID`, e.g. `3.20.3`, `12`, `15.5`.
    pub version_id: Option<String>,
    /// `VERSION_CODENAME`, or derived (Debian numbers map to their codenames).
    pub codename: Option<String>,
    /// `PRETTY_NAME`.
    pub pretty_name: Option<String>,
    /// The file the facts came from.
    pub source_file: String,
    /// Red Hat content sets (repositories) named by the image's content manifests
    /// (`root/buildinfo/content_manifests/*.json`), sorted, each once; empty when the image has none or one could
    /// not be read (then nothing is known about the repositories). Absent in documents
    /// written before it existed: read as empty.
    #[serde(default)]
    pub content_sets: Vec<String>,
}

impl Os {
    /// An OS known only by its `ID` (trimmed, lowercased) and the file that named it.
    pub fn new(id: &str, source_file: &str) -> Self {
        let id = id.trim().to_ascii_lowercase();
        Self {
            family: OsFamily::from_id(&id),
            id,
            id_like: Vec::new(),
            name: None,
            version: None,
            version_id: None,
            codename: None,
            pretty_name: None,
            source_file: source_file.to_string(),
            content_sets: Vec::new(),
        }
    }

    /// The Alpine secdb branch: `3.20.3` -> `v3.20`; edge (and `_alpha` versions) -> `edge`.
    /// `None` for other distributions or without a version.
    pub fn alpine_branch(&self) -> Option<String> {
        if self.family != OsFamily::Alpine {
            return None;
        }
        let pretty_edge = self
            .pretty_name
            .as_deref()
            .is_some_and(|p| p.contains("edge"));
        let version = self.version_id.as_deref()?;
        if pretty_edge || version.contains("_alpha") || version == "edge" {
            return Some("edge".to_string());
        }
        let mut parts = version.split('.');
        let major = parts.next().filter(|p| is_number(p))?;
        let minor = parts.next().filter(|p| is_number(p))?;
        Some(format!("v{major}.{minor}"))
    }

    /// The first component of `version_id` (`12`, `8`, `15`).
    pub fn major_version(&self) -> Option<&str> {
        self.version_id
            .as_deref()
            .and_then(|v| v.split('.').next())
            .filter(|m| !m.is_empty())
    }

    /// `id-version_id` as used in purl `distro` qualifiers (`debian-12`, `rhel-9.4`).
    pub fn distro_qualifier(&self) -> String {
        match &self.version_id {
            Some(v) => format!("{}-{v}", self.id),
            None => self.id.clone(),
        }
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}
