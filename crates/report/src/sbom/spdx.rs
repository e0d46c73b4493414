//! SPDX 2.3 JSON.
//!
//! - `documentNamespace`: `https://portcullis.dev/spdx/<image name>-<uuid>`, the UUID
//!   derived from a hash of the content (no randomness: same input, same namespace).
//! - `creationInfo.created`: see [`crate::Timestamp`]; the Unix epoch when unknown
//!   (the field is required).
//! - Packages: the image (`CONTAINER`), the OS (`OPERATING_SYSTEM`), then every package;
//!   `filesAnalyzed: false`, `downloadLocation`/`licenseConcluded` `NOASSERTION`,
//!   `licenseDeclared` a valid SPDX expression: recorded licences that are not valid SPDX
//!   become `LicenseRef-...` ids explained in `hasExtractedLicensingInfos`; several licences
//!   are joined with `AND`; none gives `NOASSERTION`.
//! - Relationships: the document DESCRIBES the image; the image CONTAINS the OS and each
//!   package.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use portcullis_types::Package;
use serde::Serialize;

use super::{Sbom, image, write_json};
use crate::error::Result;
use crate::ids;
use crate::license::{self, License};
use crate::timestamp::Timestamp;

/// Where document namespaces live.
pub const NAMESPACE_BASE: &str = "https://portcullis.dev/spdx/";
/// The SPDX License List version our identifier list comes from.
const LICENSE_LIST_VERSION: &str = "3.28";
const NOASSERTION: &str = "NOASSERTION";
const IMAGE_ID: &str = "SPDXRef-Image";
const OS_ID: &str = "SPDXRef-OperatingSystem";

/// An SPDX 2.3 document (the subset we write).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    /// `SPDX-2.3`.
    pub spdx_version: &'static str,
    /// `CC0-1.0`.
    pub data_license: &'static str,
    /// `SPDXRef-DOCUMENT`.
    #[serde(rename = "SPDXID")]
    pub spdx_id: &'static str,
    /// The image name.
    pub name: String,
    /// Unique URI of this document.
    pub document_namespace: String,
    /// Who and when.
    pub creation_info: CreationInfo,
    /// The image, the OS, the packages.
    pub packages: Vec<SpdxPackage>,
    /// Texts of the `LicenseRef-`s used.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub has_extracted_licensing_infos: Vec<ExtractedLicense>,
    /// DESCRIBES and CONTAINS.
    pub relationships: Vec<Relationship>,
}

/// `creationInfo`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreationInfo {
    /// Creation time.
    pub created: String,
    /// `Tool: portcullis-<version>`.
    pub creators: Vec<String>,
    /// SPDX License List version used.
    pub license_list_version: &'static str,
}

/// A package.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpdxPackage {
    /// Unique id.
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    /// Name.
    pub name: String,
    /// Version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_info: Option<String>,
    /// `NOASSERTION`.
    pub download_location: &'static str,
    /// Always false: we list packages, not their files.
    pub files_analyzed: bool,
    /// `NOASSERTION`.
    pub license_concluded: &'static str,
    /// A valid SPDX expression or `NOASSERTION`.
    pub license_declared: String,
    /// Where it was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_info: Option<String>,
    /// Source package and architecture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The purl.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_refs: Vec<ExternalRef>,
    /// `CONTAINER`, `OPERATING_SYSTEM`, `LIBRARY`.
    pub primary_package_purpose: &'static str,
}

/// An external reference (a purl).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalRef {
    /// `PACKAGE-MANAGER`.
    pub reference_category: &'static str,
    /// `purl`.
    pub reference_type: &'static str,
    /// The purl.
    pub reference_locator: String,
}

/// A `LicenseRef-` and the text it stands for.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtractedLicense {
    /// `LicenseRef-...`.
    pub license_id: String,
    /// The licence as recorded.
    pub extracted_text: String,
    /// Same as the text.
    pub name: String,
}

/// A relationship.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    /// From.
    pub spdx_element_id: String,
    /// `DESCRIBES` or `CONTAINS`.
    pub relationship_type: &'static str,
    /// To.
    pub related_spdx_element: String,
}

/// A recorded licence in SPDX-document terms: expressions that use their own
/// `LicenseRef-`s (not defined in this document) count as names.
fn classify(recorded: &str) -> Option<License> {
    match license::classify(recorded)? {
        License::Expression(e) if e.contains("Ref-") => {
            Some(License::Name(recorded.trim().to_string()))
        }
        other => Some(other),
    }
}

/// `LicenseRef-` ids for every recorded licence that is not valid SPDX, unique per text.
fn license_refs(packages: &[&Package]) -> BTreeMap<String, String> {
    let names: BTreeSet<String> = packages
        .iter()
        .flat_map(|p| p.licenses.iter())
        .filter_map(|l| match classify(l) {
            Some(License::Name(name)) => Some(name),
            _ => None,
        })
        .collect();
    let mut used = BTreeSet::new();
    let mut refs = BTreeMap::new();
    for name in names {
        let id = unique_id(&mut used, format!("LicenseRef-{}", ids::sanitize_id(&name)));
        refs.insert(name, id);
    }
    refs
}

/// `base`, or `base-2`, `base-3`, ... if taken: the first id not in `used`, then marked used.
fn unique_id(used: &mut BTreeSet<String>, base: String) -> String {
    let mut id = base.clone();
    let mut n = 1u32;
    while used.contains(&id) {
        n = n.saturating_add(1);
        id = format!("{base}-{n}");
    }
    used.insert(id.clone());
    id
}

/// `licenseDeclared` for `recorded`.
fn declared(recorded: &[String], refs: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = recorded
        .iter()
        .filter_map(|l| classify(l))
        .filter_map(|l| match l {
            License::Id(id) => Some(id),
            License::Expression(e) => Some(e),
            License::Name(name) => refs.get(&name).cloned(),
        })
        .collect();
    match parts.as_slice() {
        [] => NOASSERTION.to_string(),
        [one] => one.clone(),
        many => many
            .iter()
            .map(|p| {
                if p.contains(' ') {
                    format!("({p})")
                } else {
                    p.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" AND "),
    }
}

/// Unique SPDX ids: `SPDXRef-Package-<type>-<name>-<hash of purl and location>`.
fn package_ids(packages: &[&Package]) -> Vec<String> {
    let mut used = BTreeSet::new();
    packages
        .iter()
        .map(|p| {
            let hash = ids::content_hash(&[p.purl.as_bytes(), p.location.as_bytes()]);
            let base = format!(
                "SPDXRef-Package-{}-{}-{}",
                p.ecosystem.purl_type(),
                ids::sanitize_id(&p.name),
                ids::short_hex(&hash, 8)
            );
            unique_id(&mut used, base)
        })
        .collect()
}

fn purl_ref(purl: String) -> ExternalRef {
    ExternalRef {
        reference_category: "PACKAGE-MANAGER",
        reference_type: "purl",
        reference_locator: purl,
    }
}

fn package(p: &Package, spdx_id: String, refs: &BTreeMap<String, String>) -> SpdxPackage {
    let source_info = match &p.layer {
        Some(layer) => format!("found in {} (layer {layer})", p.location),
        None => format!("found in {}", p.location),
    };
    let mut comment = Vec::new();
    match (&p.source_name, &p.source_version) {
        (Some(name), Some(version)) => comment.push(format!("source package: {name} {version}")),
        (Some(name), None) => comment.push(format!("source package: {name}")),
        _ => {}
    }
    if let Some(arch) = &p.arch {
        comment.push(format!("arch: {arch}"));
    }
    SpdxPackage {
        spdx_id,
        name: p.name.clone(),
        version_info: Some(p.version.clone()),
        download_location: NOASSERTION,
        files_analyzed: false,
        license_concluded: NOASSERTION,
        license_declared: declared(&p.licenses, refs),
        source_info: Some(source_info),
        comment: (!comment.is_empty()).then(|| comment.join("; ")),
        external_refs: vec![purl_ref(p.purl.clone())],
        primary_package_purpose: "LIBRARY",
    }
}

fn contains(from: &str, to: &str) -> Relationship {
    Relationship {
        spdx_element_id: from.to_string(),
        relationship_type: "CONTAINS",
        related_spdx_element: to.to_string(),
    }
}

/// The document for `sbom`.
pub fn document(sbom: &Sbom<'_>) -> Result<Document> {
    let packages = sbom.sorted_packages();
    let hash = sbom.content_hash()?;
    let name = image::display_name(sbom.image).to_string();
    let refs = license_refs(&packages);
    let mut spdx_packages = vec![SpdxPackage {
        spdx_id: IMAGE_ID.to_string(),
        name: name.clone(),
        version_info: sbom.image.digest.as_ref().map(|d| d.to_string()),
        download_location: NOASSERTION,
        files_analyzed: false,
        license_concluded: NOASSERTION,
        license_declared: NOASSERTION.to_string(),
        source_info: None,
        comment: None,
        external_refs: image::oci_purl(sbom.image)
            .into_iter()
            .map(purl_ref)
            .collect(),
        primary_package_purpose: "CONTAINER",
    }];
    let mut relationships = vec![Relationship {
        spdx_element_id: "SPDXRef-DOCUMENT".to_string(),
        relationship_type: "DESCRIBES",
        related_spdx_element: IMAGE_ID.to_string(),
    }];
    if let Some(os) = sbom.os {
        spdx_packages.push(SpdxPackage {
            spdx_id: OS_ID.to_string(),
            name: os.id.clone(),
            version_info: os.version_id.clone(),
            download_location: NOASSERTION,
            files_analyzed: false,
            license_concluded: NOASSERTION,
            license_declared: NOASSERTION.to_string(),
            source_info: Some(format!("found in {}", os.source_file)),
            comment: os.pretty_name.clone(),
            external_refs: Vec::new(),
            primary_package_purpose: "OPERATING_SYSTEM",
        });
        relationships.push(contains(IMAGE_ID, OS_ID));
    }
    for (p, id) in packages.iter().zip(package_ids(&packages)) {
        relationships.push(contains(IMAGE_ID, &id));
        spdx_packages.push(package(p, id, &refs));
    }
    Ok(Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        document_namespace: format!(
            "{NAMESPACE_BASE}{}-{}",
            ids::sanitize_id(&name),
            ids::uuid_from_hash(&hash)
        ),
        name,
        creation_info: CreationInfo {
            created: sbom.created.unwrap_or(Timestamp::EPOCH).to_rfc3339(),
            creators: vec![format!("Tool: {}-{}", sbom.tool.name, sbom.tool.version)],
            license_list_version: LICENSE_LIST_VERSION,
        },
        packages: spdx_packages,
        has_extracted_licensing_infos: refs
            .into_iter()
            .map(|(text, id)| ExtractedLicense {
                license_id: id,
                extracted_text: text.clone(),
                name: text,
            })
            .collect(),
        relationships,
    })
}

/// Write SPDX 2.3 JSON for `sbom`.
pub fn render(sbom: &Sbom<'_>, out: &mut dyn Write) -> Result<()> {
    write_json(&document(sbom)?, "SPDX document", out)
}
