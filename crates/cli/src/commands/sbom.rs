//! `portcullis sbom`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use portcullis_report::{Sbom, SbomFormat};

use crate::args::{GlobalArgs, ImageArgs, SbomFormatArg};
use crate::commands::inventory::inventory;
use crate::exit::Code;
use crate::output::write_output;

pub fn run(
    image: &str,
    args: &ImageArgs,
    format: SbomFormatArg,
    output: Option<&Path>,
    global: &GlobalArgs,
) -> Result<Code> {
    let (opened, catalog) = inventory(image, args, global)?;
    let sbom = Sbom::new(opened.info(), catalog.os.as_ref(), &catalog.packages);
    let format = match format {
        SbomFormatArg::Table => SbomFormat::Table,
        SbomFormatArg::Json => SbomFormat::Json,
        SbomFormatArg::Cyclonedx => SbomFormat::CycloneDx,
        SbomFormatArg::Spdx => SbomFormat::Spdx,
    };
    let mut rendered = Vec::new();
    portcullis_report::render(&sbom, format, &mut rendered).context("rendering the SBOM")?;
    if !rendered.ends_with(b"\n") {
        rendered.write_all(b"\n")?;
    }
    write_output(&rendered, output)?;
    Ok(Code::Ok)
}
