//! CycloneDX 1.6 JSON.
//!
//! Our own serde structs for the subset we emit (the `cyclonedx-bom` crate stops at 1.5).
//! - `serialNumber`: `urn:uuid:` + a version 8 UUID from a hash of the content, so the
//!   same inventory always gets the same serial number.
//! - `metadata.timestamp`: see [`crate::Timestamp`]; left out when unknown.
//! - `metadata.component`: the image (`container`), with an `oci` purl for registry images.
//! - `components`: the OS (`operating-system`) first, then every package (`library`), with
//!   purl, licences (SPDX id, SPDX expression, or name) and `portcullis:*` properties for
//!   location, layer, source package and architecture.
//! - `dependencies`: the image depends on the OS and every package.

use std::collections::BTreeMap;
use std::io::Write;

use portcullis_types::{Os, Package};
use serde::Serialize;

use super::{Sbom, image, write_json};
use crate::error::Result;
use crate::ids;
use crate::license::{self, License};

/// The schema URL for `$schema`.
const SCHEMA: &str = "http://cyclonedx.org/schema/bom-1.6.schema.json";
/// The `bom-ref` of the image when it has no purl.
const IMAGE_REF: &str = "image";

/// A CycloneDX 1.6 BOM (the subset we write).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bom {
    /// `$schema`.
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    /// Always `CycloneDX`.
    pub bom_format: &'static str,
    /// Always `1.6`.
    pub spec_version: &'static str,
    /// `urn:uuid:...`.
    pub serial_number: String,
    /// Always 1.
    pub version: u32,
    /// Metadata.
    pub metadata: Metadata,
    /// OS and packages.
    pub components: Vec<Component>,
    /// The image's dependency on its components.
    pub dependencies: Vec<Dependency>,
}

/// `metadata`.
#[derive(Debug, Serialize)]
pub struct Metadata {
    /// Creation time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The tool that made the BOM.
    pub tools: Tools,
    /// The image.
    pub component: Component,
}

/// `metadata.tools`.
#[derive(Debug, Serialize)]
pub struct Tools {
    /// Tools as components.
    pub components: Vec<Component>,
}

/// A component.
#[derive(Debug, Serialize)]
pub struct Component {
    /// `application`, `container`, `operating-system` or `library`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Unique reference within the BOM.
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    pub bom_ref: Option<String>,
    /// Name.
    pub name: String,
    /// Version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Licences.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<LicenseChoice>,
    /// Package URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// `portcullis:*` name/value pairs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// One entry of `licenses`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum LicenseChoice {
    /// `{"license": {...}}`.
    License {
        /// The licence.
        license: LicenseEntry,
    },
    /// `{"expression": "..."}` (must be the only entry).
    Expression {
        /// An SPDX expression.
        expression: String,
    },
}

/// `license`: an SPDX id or a free-form name.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum LicenseEntry {
    /// `{"id": "MIT"}`.
    Id {
        /// SPDX id.
        id: String,
    },
    /// `{"name": "GPLv2+"}`.
    Name {
        /// Name as recorded.
        name: String,
    },
}

/// A name/value property.
#[derive(Debug, Serialize)]
pub struct Property {
    /// Name, `portcullis:...`.
    pub name: &'static str,
    /// Value.
    pub value: String,
}

/// A `dependencies` entry.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    /// The dependent's `bom-ref`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// What it depends on.
    pub depends_on: Vec<String>,
}

/// The licences of `recorded`: one expression alone if there is exactly one expression
/// (CycloneDX allows an expression only as the sole entry), else ids and names (an
/// expression among several becomes a name).
fn licenses(recorded: &[String]) -> Vec<LicenseChoice> {
    let classified: Vec<License> = recorded
        .iter()
        .filter_map(|l| license::classify(l))
        .collect();
    if let [License::Expression(expression)] = classified.as_slice() {
        return vec![LicenseChoice::Expression {
            expression: expression.clone(),
        }];
    }
    classified
        .into_iter()
        .map(|l| LicenseChoice::License {
            license: match l {
                License::Id(id) => LicenseEntry::Id { id },
                License::Expression(name) | License::Name(name) => LicenseEntry::Name { name },
            },
        })
        .collect()
}

fn os_component(os: &Os) -> Component {
    Component {
        kind: "operating-system",
        bom_ref: Some(format!(
            "os:{}@{}",
            os.id,
            os.version_id.as_deref().unwrap_or("unknown")
        )),
        name: os.id.clone(),
        version: os.version_id.clone(),
        description: os.pretty_name.clone(),
        licenses: Vec::new(),
        purl: None,
        properties: Vec::new(),
    }
}

fn package_component(p: &Package, bom_ref: String) -> Component {
    let mut properties = Vec::new();
    let mut push = |name: &'static str, value: Option<&str>| {
        if let Some(value) = value {
            properties.push(Property {
                name,
                value: value.to_string(),
            });
        }
    };
    push("portcullis:type", Some(p.ecosystem.purl_type()));
    push("portcullis:location", Some(&p.location));
    push("portcullis:layer", p.layer.as_ref().map(|d| d.as_str()));
    push("portcullis:source_name", p.source_name.as_deref());
    push("portcullis:source_version", p.source_version.as_deref());
    push("portcullis:arch", p.arch.as_deref());
    Component {
        kind: "library",
        bom_ref: Some(bom_ref),
        name: p.name.clone(),
        version: Some(p.version.clone()),
        description: None,
        licenses: licenses(&p.licenses),
        purl: Some(p.purl.clone()),
        properties,
    }
}

/// Unique `bom-ref`s: the purl, with `#2`, `#3`, ... on repeats (a package found twice).
fn bom_refs(packages: &[&Package]) -> Vec<String> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    packages
        .iter()
        .map(|p| {
            let count = seen.entry(&p.purl).or_insert(0);
            *count += 1;
            if *count == 1 {
                p.purl.clone()
            } else {
                format!("{}#{count}", p.purl)
            }
        })
        .collect()
}

/// The BOM for `sbom`.
pub fn bom(sbom: &Sbom<'_>) -> Result<Bom> {
    let packages = sbom.sorted_packages();
    let serial_number = format!("urn:uuid:{}", ids::uuid_from_hash(&sbom.content_hash()?));
    let image_purl = image::oci_purl(sbom.image);
    let image_ref = image_purl.clone().unwrap_or_else(|| IMAGE_REF.to_string());
    let mut components = Vec::with_capacity(packages.len() + 1);
    components.extend(sbom.os.map(os_component));
    let refs = bom_refs(&packages);
    for (p, r) in packages.iter().zip(refs) {
        components.push(package_component(p, r));
    }
    let depends_on = components
        .iter()
        .filter_map(|c| c.bom_ref.clone())
        .collect();
    Ok(Bom {
        schema: SCHEMA,
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number,
        version: 1,
        metadata: Metadata {
            timestamp: sbom.created.map(|t| t.to_rfc3339()),
            tools: Tools {
                components: vec![Component {
                    kind: "application",
                    bom_ref: None,
                    name: sbom.tool.name.clone(),
                    version: Some(sbom.tool.version.clone()),
                    description: None,
                    licenses: Vec::new(),
                    purl: None,
                    properties: Vec::new(),
                }],
            },
            component: Component {
                kind: "container",
                bom_ref: Some(image_ref.clone()),
                name: image::display_name(sbom.image).to_string(),
                version: sbom.image.digest.as_ref().map(|d| d.to_string()),
                description: None,
                licenses: Vec::new(),
                purl: image_purl,
                properties: Vec::new(),
            },
        },
        components,
        dependencies: vec![Dependency {
            reference: image_ref,
            depends_on,
        }],
    })
}

/// Write CycloneDX 1.6 JSON for `sbom`.
pub fn render(sbom: &Sbom<'_>, out: &mut dyn Write) -> Result<()> {
    write_json(&bom(sbom)?, "CycloneDX BOM", out)
}
