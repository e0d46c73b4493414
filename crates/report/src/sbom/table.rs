//! A table for people: a header naming the image, OS and package count, then one row per
//! package (NAME, VERSION, TYPE, and SOURCE when the source package differs), fitted to
//! 100 columns. Control characters are replaced so hostile names cannot drive a terminal.

use std::io::Write;

use portcullis_types::{Os, Package};

use super::Sbom;
use crate::error::{Error, Result};

/// The width the table fits in.
pub const WIDTH: usize = 100;
/// Widest NAME and VERSION columns; longer values are cut with `…`.
const MAX_NAME: usize = 40;
const MAX_VERSION: usize = 28;
const TYPE_WIDTH: usize = 6;

/// Replace control characters, so output is one safe line per value.
pub(crate) fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `text` cut to `width` characters, ending in `…` when cut.
pub(crate) fn fit(text: &str, width: usize) -> String {
    let text = clean(text);
    if text.chars().count() <= width {
        return text;
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

pub(crate) fn pad(text: &str, width: usize) -> String {
    let len = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(len)))
}

/// The SOURCE cell: the source package when it differs from the package.
fn source(p: &Package) -> String {
    let name = p.source_name.as_deref().filter(|s| !s.is_empty());
    let version = p.source_version.as_deref().filter(|v| *v != p.version);
    match (name, version) {
        (Some(n), Some(v)) => format!("{n} {v}"),
        (Some(n), None) if n != p.name => n.to_string(),
        (None, Some(v)) => format!("{} {v}", p.name),
        _ => String::new(),
    }
}

/// The OS for people: `Alpine Linux v3.20 (alpine 3.20.3)`, or `unknown`.
pub(crate) fn os_description(os: Option<&Os>) -> String {
    match os {
        Some(os) => {
            let name = os.pretty_name.clone().or_else(|| os.name.clone());
            let version = os.version_id.as_deref().unwrap_or("unknown version");
            match name {
                Some(name) => format!("{name} ({} {version})", os.id),
                None => format!("{} {version}", os.id),
            }
        }
        None => "unknown".to_string(),
    }
}

/// Write the table for `sbom`.
pub fn render(sbom: &Sbom<'_>, out: &mut dyn Write) -> Result<()> {
    let packages = sbom.sorted_packages();
    let mut text = String::new();
    text.push_str(&format!(
        "Image:    {}\n",
        fit(&sbom.image.reference, WIDTH - 10)
    ));
    if let Some(digest) = &sbom.image.digest {
        text.push_str(&format!("Digest:   {digest}\n"));
    }
    text.push_str(&format!(
        "OS:       {}\n",
        fit(&os_description(sbom.os), WIDTH - 10)
    ));
    let count = packages.len();
    text.push_str(&format!("Packages: {count}\n"));
    if count > 0 {
        let rows: Vec<[String; 4]> = packages
            .iter()
            .map(|p| {
                [
                    fit(&p.name, MAX_NAME),
                    fit(&p.version, MAX_VERSION),
                    p.ecosystem.purl_type().to_string(),
                    source(p),
                ]
            })
            .collect();
        let width = |i: usize, header: &str| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain([header.len()])
                .max()
                .unwrap_or(0)
        };
        let name_w = width(0, "NAME");
        let version_w = width(1, "VERSION");
        let type_w = width(2, "TYPE").max(TYPE_WIDTH);
        let has_source = rows.iter().any(|r| !r[3].is_empty());
        let source_w = WIDTH
            .saturating_sub(name_w + version_w + type_w + 6)
            .max(10);
        text.push('\n');
        let mut line = |cells: [&str; 4]| {
            let mut row = format!(
                "{}  {}  {}",
                pad(cells[0], name_w),
                pad(cells[1], version_w),
                pad(cells[2], type_w)
            );
            if has_source {
                row.push_str("  ");
                row.push_str(&fit(cells[3], source_w));
            }
            text.push_str(row.trim_end());
            text.push('\n');
        };
        line(["NAME", "VERSION", "TYPE", "SOURCE"]);
        for r in &rows {
            line([&r[0], &r[1], &r[2], &r[3]]);
        }
    }
    out.write_all(text.as_bytes())
        .map_err(|e| Error::io("SBOM table", e))
}
