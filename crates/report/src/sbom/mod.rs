//! SBOM renderings of one image's inventory: [`SbomFormat::Table`], [`SbomFormat::Json`]
//! (our own, stable), [`SbomFormat::CycloneDx`] (1.6 JSON), [`SbomFormat::Spdx`] (2.3 JSON).

pub mod cyclonedx;
pub mod image;
pub mod json;
pub mod spdx;
pub mod table;

use std::io::Write;

use portcullis_types::{ImageInfo, Os, Package};

use crate::ToolInfo;
use crate::error::{Error, Result};
use crate::format::output_format;
use crate::ids;
use crate::timestamp::Timestamp;

/// Everything an SBOM is made from.
#[derive(Debug, Clone)]
pub struct Sbom<'a> {
    /// The image the packages were found in.
    pub image: &'a ImageInfo,
    /// The detected operating system, if any.
    pub os: Option<&'a Os>,
    /// The packages found (any order: renderings sort them).
    pub packages: &'a [Package],
    /// The tool named as the document's creator.
    pub tool: ToolInfo,
    /// The document's creation time; see [`Timestamp::for_image`].
    pub created: Option<Timestamp>,
}

impl<'a> Sbom<'a> {
    /// An SBOM made by Portcullis, timed by [`Timestamp::for_image`].
    pub fn new(image: &'a ImageInfo, os: Option<&'a Os>, packages: &'a [Package]) -> Self {
        Self {
            image,
            os,
            packages,
            tool: ToolInfo::portcullis(),
            created: Timestamp::for_image(image),
        }
    }

    /// The packages in output order (the derived `Package` order), exact duplicates removed.
    pub fn sorted_packages(&self) -> Vec<&'a Package> {
        let mut sorted: Vec<&Package> = self.packages.iter().collect();
        sorted.sort();
        sorted.dedup();
        sorted
    }

    /// A hash of everything in the document (our JSON rendering, the tool, the time),
    /// from which serial numbers and namespaces are derived.
    pub fn content_hash(&self) -> Result<[u8; 32]> {
        let mut doc = Vec::new();
        json::render(self, &mut doc)?;
        let created = self.created.map(Timestamp::to_rfc3339).unwrap_or_default();
        Ok(ids::content_hash(&[
            &doc,
            self.tool.name.as_bytes(),
            self.tool.version.as_bytes(),
            created.as_bytes(),
        ]))
    }
}

output_format! {
    /// The SBOM output formats.
    pub enum SbomFormat ("SBOM") {
        /// A table for people, readable at 100 columns.
        Table => "table",
        /// Portcullis's own JSON.
        Json => "json",
        /// CycloneDX 1.6 JSON.
        CycloneDx => "cyclonedx",
        /// SPDX 2.3 JSON.
        Spdx => "spdx",
    }
}

/// Render `sbom` as `format` to `out`.
pub fn render(sbom: &Sbom<'_>, format: SbomFormat, out: &mut dyn Write) -> Result<()> {
    match format {
        SbomFormat::Table => table::render(sbom, out),
        SbomFormat::Json => json::render(sbom, out),
        SbomFormat::CycloneDx => cyclonedx::render(sbom, out),
        SbomFormat::Spdx => spdx::render(sbom, out),
    }
}

/// Write `value` as pretty JSON followed by a newline.
pub(crate) fn write_json<T: serde::Serialize>(
    value: &T,
    what: &str,
    out: &mut dyn Write,
) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| Error::serialize(what, e))?;
    out.write_all(b"\n").map_err(|e| Error::io(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn format_names_round_trip() {
        for (format, name) in SbomFormat::ALL.iter().copied().zip(SbomFormat::NAMES) {
            assert_eq!(format.to_string(), *name);
            assert_eq!(name.parse::<SbomFormat>().unwrap(), format);
        }
        assert_eq!(
            "CycloneDX".parse::<SbomFormat>().unwrap(),
            SbomFormat::CycloneDx
        );
        let err = "xml".parse::<SbomFormat>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownFormat);
        assert!(err.to_string().contains("'xml'"));
    }
}
