//! Portcullis's own SBOM JSON:
//! `{"image": {"reference", "digest"}, "os": {...} | null, "packages": [{"name", "version",
//! "type", "source_name", "source_version", "purl", "location", "layer", "licenses",
//! "arch"}]}`. Keys are always present (`null` when unknown), in this order.

use std::io::Write;

use portcullis_types::{Os, Package};
use serde::Serialize;

use super::{Sbom, write_json};
use crate::error::Result;

/// The document.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    /// The image.
    pub image: ImageRef<'a>,
    /// The detected OS, as the catalog describes it.
    pub os: Option<&'a Os>,
    /// The packages, sorted.
    pub packages: Vec<PackageEntry<'a>>,
}

/// Which image this is.
#[derive(Debug, Serialize)]
pub struct ImageRef<'a> {
    /// The normalised reference.
    pub reference: &'a str,
    /// The image digest (index or manifest), if the source has one.
    pub digest: Option<&'a str>,
}

/// One package.
#[derive(Debug, Serialize)]
pub struct PackageEntry<'a> {
    /// Name.
    pub name: &'a str,
    /// Version, in the ecosystem's scheme.
    pub version: &'a str,
    /// Ecosystem, as the purl type (`apk`, `deb`, `rpm`, `pypi`, `npm`, `cargo`, `golang`,
    /// `maven`).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Source package name.
    pub source_name: Option<&'a str>,
    /// Source package version.
    pub source_version: Option<&'a str>,
    /// Package URL.
    pub purl: &'a str,
    /// File it was found in.
    pub location: &'a str,
    /// Layer (diff_id) that added `location`.
    pub layer: Option<&'a str>,
    /// Licences as recorded.
    pub licenses: &'a [String],
    /// Architecture.
    pub arch: Option<&'a str>,
}

impl<'a> PackageEntry<'a> {
    /// The entry for `p`.
    pub fn new(p: &'a Package) -> Self {
        Self {
            name: &p.name,
            version: &p.version,
            kind: p.ecosystem.purl_type(),
            source_name: p.source_name.as_deref(),
            source_version: p.source_version.as_deref(),
            purl: &p.purl,
            location: &p.location,
            layer: p.layer.as_ref().map(|d| d.as_str()),
            licenses: &p.licenses,
            arch: p.arch.as_deref(),
        }
    }
}

/// The document for `sbom`.
pub fn document<'a>(sbom: &Sbom<'a>) -> Document<'a> {
    Document {
        image: ImageRef {
            reference: &sbom.image.reference,
            digest: sbom.image.digest.as_ref().map(|d| d.as_str()),
        },
        os: sbom.os,
        packages: sbom
            .sorted_packages()
            .into_iter()
            .map(PackageEntry::new)
            .collect(),
    }
}

/// Write our JSON for `sbom`.
pub fn render(sbom: &Sbom<'_>, out: &mut dyn Write) -> Result<()> {
    write_json(&document(sbom), "SBOM JSON", out)
}
