//! Opening an image with a progress bar on a terminal, for `sbom` and `scan`.

use anyhow::Result;
use portcullis_catalog::Catalog;
use portcullis_oci::{Image, ImageOptions};
use portcullis_scan::ScanResult;
use portcullis_vulndb::Database;

use crate::args::{GlobalArgs, ImageArgs};
use crate::commands::image::open_image;
use crate::progress::LayerProgress;

/// Open the image and catalog it (`portcullis_scan::catalog_image`: every layer read once,
/// only the files the catalogers want). Returns the options the image was opened with too
/// (credentials read once, reused for a push).
pub fn inventory(
    image: &str,
    args: &ImageArgs,
    global: &GlobalArgs,
) -> Result<(ImageOptions, Image, Catalog)> {
    let (options, opened) = open_image(image, args)?;
    let progress = LayerProgress::new(opened.info(), global.quiet);
    let catalog = portcullis_scan::catalog_image(&opened, &options.limits, &progress);
    progress.finish();
    Ok((options, opened, catalog?))
}

/// Open the image and scan it against `db` (`portcullis_scan::scan_image`, the pipeline the
/// server runs too).
pub fn scan(
    image: &str,
    args: &ImageArgs,
    db: &Database,
    global: &GlobalArgs,
) -> Result<ScanResult> {
    let (options, opened) = open_image(image, args)?;
    let progress = LayerProgress::new(opened.info(), global.quiet);
    let result = portcullis_scan::scan_image(&opened, &options.limits, db, &progress);
    progress.finish();
    Ok(result?)
}
