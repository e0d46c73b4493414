//! OpenVEX documents (<https://github.com/openvex/spec>): statements that a vulnerability
//! does or does not affect given products.
//!
//! Read from each statement: `vulnerability` (an object with `name`, `@id` and `aliases`,
//! or a bare string as in OpenVEX 0.0.1), `products` (purl strings, or objects whose `@id`,
//! `identifiers.purl` and `subcomponents` hold purls), `status` and `justification`.
//! A product purl matches a package purl on type, namespace, name and (if it has one)
//! version; qualifiers are ignored. A product that is the image itself (`pkg:oci/...`, with
//! no subcomponents) covers every package when its version is the image's digest or absent.
//! For each finding the last matching statement wins: `not_affected` and `fixed` suppress
//! it, `affected` and `under_investigation` keep it. Unknown fields are ignored, as the
//! format allows extensions.

use std::path::Path;

use portcullis_matcher::Finding;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::doc::{self, error, list, optional_string, required_string};
use crate::error::Result;
use crate::purl::{self, PurlKey};

/// A statement's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VexStatus {
    /// The product is not affected: suppresses the finding.
    NotAffected,
    /// The product is affected: keeps the finding.
    Affected,
    /// The vulnerability is fixed in the product: suppresses the finding.
    Fixed,
    /// Not known yet: keeps the finding.
    UnderInvestigation,
}

impl VexStatus {
    /// The OpenVEX spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAffected => "not_affected",
            Self::Affected => "affected",
            Self::Fixed => "fixed",
            Self::UnderInvestigation => "under_investigation",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "not_affected" => Self::NotAffected,
            "affected" => Self::Affected,
            "fixed" => Self::Fixed,
            "under_investigation" => Self::UnderInvestigation,
            _ => return None,
        })
    }

    /// Whether this status removes the finding.
    pub fn suppresses(self) -> bool {
        matches!(self, Self::NotAffected | Self::Fixed)
    }
}

/// One parsed OpenVEX document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexDocument {
    /// The file as named on the command line (used in messages).
    pub name: String,
    /// The statements, in document order.
    pub statements: Vec<VexStatement>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexStatement {
    /// Its 1-based position in the document.
    pub number: usize,
    /// The vulnerability id.
    pub vulnerability: String,
    /// Other ids of the same vulnerability.
    pub aliases: Vec<String>,
    /// The product and subcomponent purls it is about.
    pub products: Vec<String>,
    /// What it says.
    pub status: VexStatus,
    /// Why (`vulnerable_code_not_in_execute_path`, ...), when given.
    pub justification: Option<String>,
    /// The free-text impact statement, when given.
    pub impact_statement: Option<String>,
    keys: Vec<ProductKey>,
}

/// A product purl; `whole_image` when it is an `oci` product without subcomponents.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProductKey {
    key: PurlKey,
    whole_image: bool,
}

impl VexDocument {
    /// Read and parse the OpenVEX JSON document at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        doc::load(path, Self::parse)
    }

    /// Parse an OpenVEX JSON document's bytes; `name` is used in error messages.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Self> {
        doc::check_len(name, bytes)?;
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| error(name, format!("invalid JSON: {e}")))?;
        let map = value.as_object().ok_or_else(|| {
            error(
                name,
                format!(
                    "expected an OpenVEX document (a JSON object), found {}",
                    doc::type_name(&value)
                ),
            )
        })?;
        let statements = map
            .get("statements")
            .ok_or_else(|| error(name, "missing statements"))?;
        let statements = list(statements, "statements").map_err(|e| error(name, e))?;
        Ok(Self {
            name: name.to_string(),
            statements: doc::read_numbered(name, statements, "statement", VexStatement::read)?,
        })
    }

    /// The last statement of this document about `finding`, if any.
    pub fn statement_for(
        &self,
        finding: &Finding,
        image_digests: &[String],
    ) -> Option<&VexStatement> {
        self.statements
            .iter()
            .rev()
            .find(|s| s.matches(finding, image_digests))
    }
}

impl VexStatement {
    fn read(value: &Value, number: usize) -> std::result::Result<Self, String> {
        let map = doc::mapping(value)?;
        let (vulnerability, aliases) = read_vulnerability(map)?;
        let status_text = required_string(map, "status")?;
        let status = VexStatus::parse(&status_text).ok_or_else(|| {
            format!(
                "unknown status '{status_text}' (expected not_affected, affected, fixed or under_investigation)"
            )
        })?;
        let products_value = map.get("products").ok_or("missing products")?;
        let mut keys = Vec::new();
        let mut products = Vec::new();
        for (index, product) in list(products_value, "products")?.iter().enumerate() {
            read_product(product, &mut products, &mut keys, true)
                .map_err(|e| format!("products[{index}]: {e}"))?;
        }
        Ok(Self {
            number,
            vulnerability,
            aliases,
            products,
            status,
            justification: optional_string(map, "justification")?,
            impact_statement: optional_string(map, "impact_statement")?,
            keys,
        })
    }

    /// Whether this statement is about `finding` (its vulnerability and its package, or the
    /// whole image whose digests are `image_digests`).
    pub fn matches(&self, finding: &Finding, image_digests: &[String]) -> bool {
        let same_flaw = std::iter::once(&self.vulnerability)
            .chain(&self.aliases)
            .any(|id| has_id_ignoring_case(finding, id));
        if !same_flaw {
            return false;
        }
        let installed = purl::parse(&finding.package.purl);
        self.keys.iter().any(|product| {
            if product.whole_image {
                product
                    .key
                    .version
                    .as_ref()
                    .is_none_or(|v| image_digests.iter().any(|d| d == v))
            } else {
                installed
                    .as_ref()
                    .is_some_and(|installed| product.key.matches(installed))
            }
        })
    }
}

/// Whether `id` is the finding's id or one of its aliases, ignoring ASCII case.
pub(crate) fn has_id_ignoring_case(finding: &Finding, id: &str) -> bool {
    finding.id.eq_ignore_ascii_case(id)
        || finding.aliases.iter().any(|a| a.eq_ignore_ascii_case(id))
}

fn read_vulnerability(
    map: &Map<String, Value>,
) -> std::result::Result<(String, Vec<String>), String> {
    match map.get("vulnerability") {
        None | Some(Value::Null) => Err("missing vulnerability".to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok((s.trim().to_string(), Vec::new())),
        Some(Value::Object(v)) => {
            let name = match optional_string(v, "name").map_err(|e| format!("vulnerability.{e}"))? {
                Some(name) => name,
                None => optional_string(v, "@id")
                    .map_err(|e| format!("vulnerability.{e}"))?
                    .ok_or("vulnerability: missing name")?,
            };
            let mut aliases = Vec::new();
            if let Some(list_value) = v.get("aliases").filter(|a| !a.is_null()) {
                for alias in list(list_value, "vulnerability.aliases")? {
                    match alias.as_str() {
                        Some(a) if !a.trim().is_empty() => aliases.push(a.trim().to_string()),
                        _ => {
                            return Err(format!(
                                "vulnerability.aliases: expected non-empty strings, found {}",
                                doc::type_name(alias)
                            ));
                        }
                    }
                }
            }
            Ok((name, aliases))
        }
        Some(other) => Err(format!(
            "vulnerability: expected a mapping or a string, found {}",
            doc::type_name(other)
        )),
    }
}

/// Collect the purls of a product (and its subcomponents, one level deep) into `products`
/// and `keys`. Identifiers that are not purls (an image digest URI) are kept as text only.
fn read_product(
    value: &Value,
    products: &mut Vec<String>,
    keys: &mut Vec<ProductKey>,
    top_level: bool,
) -> std::result::Result<(), String> {
    let (ids, subcomponents): (Vec<String>, &[Value]) = match value {
        Value::String(s) => (vec![s.trim().to_string()], &[]),
        Value::Object(map) => {
            let mut ids = Vec::new();
            if let Some(id) = optional_string(map, "@id")? {
                ids.push(id);
            }
            if let Some(identifiers) = map.get("identifiers").and_then(Value::as_object)
                && let Some(purl) =
                    optional_string(identifiers, "purl").map_err(|e| format!("identifiers.{e}"))?
            {
                ids.push(purl);
            }
            let subs = match map.get("subcomponents") {
                None | Some(Value::Null) => &[][..],
                Some(v) if top_level => list(v, "subcomponents")?,
                Some(_) => return Err("subcomponents may not be nested".to_string()),
            };
            (ids, subs)
        }
        other => {
            return Err(format!(
                "expected a purl or a mapping, found {}",
                doc::type_name(other)
            ));
        }
    };
    if ids.is_empty() && subcomponents.is_empty() {
        return Err("no @id, identifiers.purl or subcomponents".to_string());
    }
    for id in ids {
        if let Some(key) = purl::parse(&id) {
            // An image with subcomponents is about those, not every package in it.
            let is_image = key.purl_type == "oci";
            if !is_image || subcomponents.is_empty() {
                keys.push(ProductKey {
                    key,
                    whole_image: is_image,
                });
            }
        }
        products.push(id);
    }
    for (index, sub) in subcomponents.iter().enumerate() {
        read_product(sub, products, keys, false)
            .map_err(|e| format!("subcomponents[{index}]: {e}"))?;
    }
    if products.len() > doc::MAX_FILTER_ITEMS {
        return Err(format!("more than {} products", doc::MAX_FILTER_ITEMS));
    }
    Ok(())
}
