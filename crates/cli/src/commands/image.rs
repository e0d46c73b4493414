//! `portcullis image inspect` and `portcullis image files`.

use std::io::Read;

use anyhow::{Context, Result, bail};
use portcullis_oci::{
    Credentials, FileContent, FileSet, Image, ImageOptions, ImageSource, PathPatterns,
};
use serde::Serialize;

use crate::args::{GlobalArgs, ImageArgs, ImageCommand, InspectFormat};
use crate::exit::Code;
use crate::progress::LayerProgress;

pub fn run(cmd: &ImageCommand, global: &GlobalArgs) -> Result<Code> {
    match cmd {
        ImageCommand::Inspect {
            image,
            options,
            format,
        } => {
            let (_, opened) = open_image(image, options)?;
            let out = match format {
                InspectFormat::Json => portcullis_report::image::inspect_json(opened.info())?,
                InspectFormat::Table => portcullis_report::image::inspect_table(opened.info()),
            };
            write_stdout(&out)?;
        }
        ImageCommand::Files {
            image,
            options,
            patterns,
            format,
        } => {
            let (image_options, opened) = open_image(image, options)?;
            let patterns: Vec<String> = if patterns.is_empty() {
                portcullis_catalog::os_patterns()
                    .into_iter()
                    .map(str::to_string)
                    .collect()
            } else {
                patterns.clone()
            };
            let filter = PathPatterns::new(&patterns)?;
            let progress = LayerProgress::new(opened.info(), global.quiet);
            let files = opened.read_files_with_progress(&filter, &image_options.limits, &progress);
            progress.finish();
            let files = files
                .with_context(|| format!("reading the layers of {}", opened.info().reference))?;
            for warning in &files.warnings {
                tracing::warn!("{warning}");
            }
            let out = match format {
                InspectFormat::Json => to_json(&files_json(&files))?,
                InspectFormat::Table => files_table(&files),
            };
            write_stdout(&out)?;
        }
    }
    Ok(Code::Ok)
}

/// Parse the source and the shared image options, and open the image.
pub fn open_image(image: &str, args: &ImageArgs) -> Result<(ImageOptions, Image)> {
    let source = ImageSource::parse(image)?;
    let options = image_options(args)?;
    let opened = Image::open(&source, &options)?;
    Ok((options, opened))
}

/// Turn the shared command-line image options into library options.
pub fn image_options(args: &ImageArgs) -> Result<ImageOptions> {
    let mut options = ImageOptions::default();
    options.registry.insecure = args.insecure;
    options.registry.ca_certs.clone_from(&args.ca_certs);
    for ca in &args.ca_certs {
        if !ca.is_file() {
            bail!("--ca-cert {}: no such file", ca.display());
        }
    }
    if let Some(platform) = &args.platform {
        options.platform = Some(platform.parse()?);
    }
    if let Some(bytes) = args.max_file_size {
        options.limits.max_file_size = bytes;
    }
    if let Some(layers) = args.max_layers {
        options.limits.max_layers = layers;
    }
    if let Some(bytes) = args.max_image_bytes {
        options.limits.max_total_layer_bytes = bytes;
    }
    if let (Some(username), true) = (&args.username, args.password_stdin) {
        let mut password = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut password)
            .context("reading the password from standard input")?;
        let password = password.trim_end_matches(['\n', '\r']).to_string();
        if password.is_empty() {
            bail!("--password-stdin: standard input was empty");
        }
        options.registry.credentials = Some(Credentials {
            username: username.clone(),
            password,
        });
    }
    Ok(options)
}

fn write_stdout(text: &str) -> Result<()> {
    crate::output::write_output(text.as_bytes(), None)
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    let mut s = serde_json::to_string_pretty(value)?;
    s.push('\n');
    Ok(s)
}

#[derive(Serialize)]
struct FileJson<'a> {
    path: &'a str,
    size: u64,
    mode: String,
    layer: Option<&'a str>,
    read: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<&'a str>,
}

#[derive(Serialize)]
struct FilesJson<'a> {
    files: Vec<FileJson<'a>>,
    symlinks: &'a std::collections::BTreeMap<String, String>,
    warnings: &'a [String],
}

fn files_json(files: &FileSet) -> FilesJson<'_> {
    FilesJson {
        files: files
            .files
            .values()
            .map(|f| FileJson {
                path: &f.path,
                size: f.size,
                mode: format!("{:o}", f.mode),
                layer: f.layer.as_ref().map(|d| d.as_str()),
                read: matches!(f.content, FileContent::Data(_)),
                skipped: match &f.content {
                    FileContent::Skipped { reason, .. } => Some(reason),
                    FileContent::Data(_) => None,
                },
            })
            .collect(),
        symlinks: &files.symlinks,
        warnings: &files.warnings,
    }
}

fn files_table(files: &FileSet) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for f in files.files.values() {
        let layer = f
            .layer
            .as_ref()
            .map_or("-", |d| d.hex().get(..12).unwrap_or(d.hex()));
        let note = match &f.content {
            FileContent::Data(_) => String::new(),
            FileContent::Skipped { reason, .. } => format!("  (not read: {reason})"),
        };
        let _ = writeln!(
            s,
            "{:>9}  {}  {}{}",
            portcullis_report::image::human_bytes(f.size),
            layer,
            f.path,
            note
        );
    }
    let _ = writeln!(s, "{} files", files.files.len());
    s
}
