//! The [`Package`] type shared by every cataloger.

use crate::digest::Digest;
use serde::{Deserialize, Serialize};

/// The packaging ecosystem a package belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// Alpine (and Wolfi, Chainguard) apk packages.
    Apk,
    /// Debian and Ubuntu dpkg packages.
    Deb,
    /// RPM packages (RHEL and its rebuilds, Fedora, SUSE, Mariner, Amazon Linux).
    Rpm,
    /// Python distributions.
    Python,
    /// npm packages.
    Npm,
    /// Rust crates.
    Cargo,
    /// Go modules.
    Go,
    /// Java (Maven) artifacts.
    Java,
}

impl Ecosystem {
    /// The purl type for this ecosystem.
    pub fn purl_type(self) -> &'static str {
        match self {
            Self::Apk => "apk",
            Self::Deb => "deb",
            Self::Rpm => "rpm",
            Self::Python => "pypi",
            Self::Npm => "npm",
            Self::Cargo => "cargo",
            Self::Go => "golang",
            Self::Java => "maven",
        }
    }

    /// A short lowercase name (`apk`, `deb`, ...), as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apk => "apk",
            Self::Deb => "deb",
            Self::Rpm => "rpm",
            Self::Python => "python",
            Self::Npm => "npm",
            Self::Cargo => "cargo",
            Self::Go => "go",
            Self::Java => "java",
        }
    }
}

impl std::fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Format-specific facts about a package.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum Extra {
    /// Nothing beyond the common fields.
    #[default]
    None,
    /// apk: the origin (source package, what the Alpine secdb is keyed by) and the aports
    /// commit it was built from.
    Apk {
        /// `o:` origin.
        origin: Option<String>,
        /// `c:` commit.
        commit: Option<String>,
    },
    /// rpm: the parts of the EVR and the module the package belongs to.
    Rpm {
        /// EPOCH, when the header has one.
        epoch: Option<u32>,
        /// VERSION alone.
        version: String,
        /// RELEASE alone.
        release: String,
        /// MODULARITYLABEL (`name:stream:version:context`).
        modularity_label: Option<String>,
        /// SOURCERPM as written (`name-version-release.src.rpm`).
        source_rpm: Option<String>,
    },
    /// Python: the project name exactly as `Name:` spells it (the package name is the
    /// PEP 503-normalised form).
    Python {
        /// `Name:` as written.
        name: String,
    },
    /// Rust crates (from `Cargo.lock` or a cargo-auditable binary).
    Cargo {
        /// Where the crate came from (`registry+https://...`, `git+...`, or for auditable
        /// data `crates.io`, `git`, `local`, ...); `None` for path and workspace crates of a
        /// lock file.
        source: Option<String>,
        /// The lock file checksum, when recorded.
        checksum: Option<String>,
    },
    /// Go modules from a binary's build info.
    Go {
        /// The Go toolchain that built the binary (`go1.19.8`).
        go_version: String,
        /// The binary's main module (its version is often `(devel)`).
        main_module: bool,
        /// The `h1:` module sum, when recorded.
        sum: Option<String>,
        /// For a replaced module, the original `path@version` (the package is the replacement).
        replaces: Option<String>,
    },
    /// Java archives.
    Java {
        /// The Maven groupId, when known.
        group_id: Option<String>,
        /// Where name and version came from: `pom.properties`, `MANIFEST.MF` or `file name`.
        evidence: String,
    },
}

/// One installed package.
///
/// The derived order (ecosystem, name, version, arch, location, ...) is the output order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Package {
    /// The ecosystem.
    #[serde(rename = "type")]
    pub ecosystem: Ecosystem,
    /// The package name as the ecosystem spells it.
    pub name: String,
    /// The full version in the ecosystem's own scheme (for rpm `[epoch:]version-release`,
    /// for dpkg with its epoch).
    pub version: String,
    /// The architecture, where the format records one.
    pub arch: Option<String>,
    /// The file it was found in, relative to the root.
    pub location: String,
    /// The source package name (apk origin, dpkg `Source:`, rpm SOURCERPM name).
    pub source_name: Option<String>,
    /// The source package version.
    pub source_version: Option<String>,
    /// Licence expressions or names as recorded.
    pub licenses: Vec<String>,
    /// The canonical Package URL.
    pub purl: String,
    /// The layer (diff_id) that added `location`, when known.
    pub layer: Option<Digest>,
    /// Format-specific facts.
    pub extra: Extra,
}

impl Package {
    /// The `ecosystem` package `name` `version` found at `location`, with its purl and
    /// format-specific facts: no architecture, source package, licences or layer yet.
    pub fn new(
        ecosystem: Ecosystem,
        name: &str,
        version: &str,
        location: &str,
        purl: String,
        extra: Extra,
    ) -> Self {
        Self {
            ecosystem,
            name: name.to_string(),
            version: version.to_string(),
            arch: None,
            location: location.to_string(),
            source_name: None,
            source_version: None,
            licenses: Vec::new(),
            purl,
            layer: None,
            extra,
        }
    }
}
