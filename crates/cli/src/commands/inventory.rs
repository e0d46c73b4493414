//! Image → packages: the first half of every scan, shared by `sbom` and `scan`.

use anyhow::{Context, Result};
use portcullis_catalog::Catalog;
use portcullis_oci::{Image, ImageOptions};

use crate::args::{GlobalArgs, ImageArgs};
use crate::commands::image::open_image;
use crate::progress::LayerProgress;

/// Open the image, read only the files the catalogers want (every layer once), and
/// catalog them. Warnings about unreadable files are logged, not fatal. Returns the options
/// the image was opened with too (credentials read once, reused for a push).
pub fn inventory(
    image: &str,
    args: &ImageArgs,
    global: &GlobalArgs,
) -> Result<(ImageOptions, Image, Catalog)> {
    let (options, opened) = open_image(image, args)?;
    let filter = portcullis_catalog::CatalogFilter::new()?;
    let progress = LayerProgress::new(opened.info(), global.quiet);
    let files = opened.read_files_with_progress(&filter, &options.limits, &progress);
    progress.finish();
    let files =
        files.with_context(|| format!("reading the layers of {}", opened.info().reference))?;
    for warning in &files.warnings {
        tracing::warn!("{warning}");
    }
    let catalog = portcullis_catalog::catalog_all(&files);
    for warning in &catalog.warnings {
        tracing::warn!("{warning}");
    }
    tracing::info!(
        packages = catalog.packages.len(),
        os = catalog.os.as_ref().map(|o| o.id.as_str()),
        "catalogued {}",
        opened.info().reference
    );
    Ok((options, opened, catalog))
}
