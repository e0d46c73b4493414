//! `portcullis sbom`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use portcullis_oci::registry::{Artifact, Indexed};
use portcullis_oci::{ImageInfo, ImageOptions, Reference, SourceKind};
use portcullis_report::{Sbom, SbomFormat, Timestamp};

use crate::args::{GlobalArgs, ImageArgs, SbomFormatArg};
use crate::commands::inventory::inventory;
use crate::exit::Code;
use crate::output::write_output;

pub fn run(
    image: &str,
    args: &ImageArgs,
    format: SbomFormatArg,
    output: Option<&Path>,
    attach: bool,
    global: &GlobalArgs,
) -> Result<Code> {
    // The artifact type and the layer's file name of an attached SBOM.
    let attached = match (attach, format) {
        (false, _) => None,
        (true, SbomFormatArg::Cyclonedx) => {
            Some(("application/vnd.cyclonedx+json", "sbom.cdx.json"))
        }
        (true, SbomFormatArg::Spdx) => Some(("application/spdx+json", "sbom.spdx.json")),
        (true, _) => bail!("--attach needs --format cyclonedx or --format spdx"),
    };
    let (options, opened, catalog) = inventory(image, args, global)?;
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
    if let Some((artifact_type, title)) = attached {
        attach_sbom(
            opened.info(),
            &options,
            (artifact_type, title),
            &rendered,
            global.quiet,
        )?;
    }
    Ok(Code::Ok)
}

/// Push `content` as a referrer of the scanned image manifest, and say where it went.
fn attach_sbom(
    info: &ImageInfo,
    options: &ImageOptions,
    (artifact_type, title): (&str, &str),
    content: &[u8],
    quiet: bool,
) -> Result<()> {
    if info.source != SourceKind::Registry {
        bail!(
            "--attach needs a registry reference; {} is a local image",
            info.reference
        );
    }
    let reference = Reference::parse(&info.reference)?;
    let subject = info
        .manifest_digest
        .as_ref()
        .or(info.digest.as_ref())
        .with_context(|| format!("{}: the registry named no manifest digest", info.reference))?;
    let mut annotations = BTreeMap::new();
    if let Some(created) = Timestamp::for_image(info) {
        annotations.insert(
            "org.opencontainers.image.created".to_string(),
            created.to_rfc3339(),
        );
    }
    let artifact = Artifact {
        artifact_type,
        media_type: artifact_type,
        content,
        title: Some(title),
        annotations,
    };
    let attached =
        portcullis_oci::registry::attach(&reference, subject, &options.registry, &artifact)
            .with_context(|| format!("attaching the SBOM to {}", info.reference))?;
    let how = match &attached.indexed {
        Indexed::ByRegistry => "the registry's referrers API lists it".to_string(),
        Indexed::FallbackTag(tag) => format!("listed under the tag {tag}"),
    };
    if !quiet {
        eprintln!(
            "attached the SBOM to {} as {} ({how})",
            reference.with_digest(subject.clone()),
            attached.digest
        );
    }
    Ok(())
}
