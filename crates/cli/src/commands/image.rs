//! `portcullis image inspect` and `portcullis image files`.

use std::io::Read;

use anyhow::{Context, Result, bail};
use portcullis_oci::{
    Credentials, FileContent, FileSet, Image, ImageInfo, ImageOptions, ImageSource, PathPatterns,
};
use serde::Serialize;

use crate::args::{GlobalArgs, ImageArgs, ImageCommand, InspectFormat};
use crate::exit::Code;
use crate::progress::LayerProgress;

/// Files `image files` lists when no pattern is given: package databases and OS release files.
const DEFAULT_PATTERNS: &[&str] = &[
    "etc/os-release",
    "usr/lib/os-release",
    "etc/alpine-release",
    "etc/debian_version",
    "etc/redhat-release",
    "lib/apk/db/installed",
    "var/lib/dpkg/status",
    "var/lib/dpkg/status.d/*",
    "var/lib/rpm/rpmdb.sqlite",
    "var/lib/rpm/Packages.db",
    "var/lib/rpm/Packages",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/Packages.db",
    "usr/lib/sysimage/rpm/Packages",
];

pub fn run(cmd: &ImageCommand, global: &GlobalArgs) -> Result<Code> {
    match cmd {
        ImageCommand::Inspect {
            image,
            options,
            format,
        } => {
            let (_, opened) = open_image(image, options)?;
            let out = match format {
                InspectFormat::Json => to_json(&InspectJson::from(opened.info()))?,
                InspectFormat::Table => inspect_table(opened.info()),
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
                DEFAULT_PATTERNS.iter().map(|p| (*p).to_string()).collect()
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
struct InspectJson<'a> {
    reference: &'a str,
    source: portcullis_oci::SourceKind,
    digest: Option<&'a str>,
    manifest_digest: Option<&'a str>,
    config_digest: Option<&'a str>,
    platform: Option<String>,
    config: ConfigJson<'a>,
    layers: Vec<LayerJson<'a>>,
}

#[derive(Serialize)]
struct ConfigJson<'a> {
    user: Option<&'a str>,
    exposed_ports: &'a [String],
    healthcheck: Option<&'a portcullis_oci::Healthcheck>,
    env: &'a [String],
    labels: &'a std::collections::BTreeMap<String, String>,
    entrypoint: &'a [String],
    cmd: &'a [String],
    working_dir: Option<&'a str>,
    created: Option<&'a str>,
}

#[derive(Serialize)]
struct LayerJson<'a> {
    digest: &'a str,
    size: u64,
    media_type: &'a str,
    diff_id: Option<&'a str>,
}

impl<'a> From<&'a ImageInfo> for InspectJson<'a> {
    fn from(info: &'a ImageInfo) -> Self {
        let c = &info.config;
        Self {
            reference: &info.reference,
            source: info.source,
            digest: info.digest.as_ref().map(|d| d.as_str()),
            manifest_digest: info.manifest_digest.as_ref().map(|d| d.as_str()),
            config_digest: info.config_digest.as_ref().map(|d| d.as_str()),
            platform: info.platform.as_ref().map(ToString::to_string),
            config: ConfigJson {
                user: c.user.as_deref(),
                exposed_ports: &c.exposed_ports,
                healthcheck: c.healthcheck.as_ref(),
                env: &c.env,
                labels: &c.labels,
                entrypoint: &c.entrypoint,
                cmd: &c.cmd,
                working_dir: c.working_dir.as_deref(),
                created: c.created.as_deref(),
            },
            layers: info
                .layers
                .iter()
                .map(|l| LayerJson {
                    digest: l.digest.as_str(),
                    size: l.size,
                    media_type: &l.media_type,
                    diff_id: l.diff_id.as_ref().map(|d| d.as_str()),
                })
                .collect(),
        }
    }
}

fn inspect_table(info: &ImageInfo) -> String {
    use std::fmt::Write as _;
    let c = &info.config;
    let mut s = String::new();
    let none = "-";
    let total: u64 = info.layers.iter().map(|l| l.size).sum();
    let _ = writeln!(s, "Reference    {}", info.reference);
    let _ = writeln!(
        s,
        "Digest       {}",
        info.digest.as_ref().map_or(none, |d| d.as_str())
    );
    if let Some(m) = &info.manifest_digest {
        let _ = writeln!(s, "Manifest     {m}");
    }
    let _ = writeln!(
        s,
        "Platform     {}",
        info.platform
            .as_ref()
            .map_or_else(|| none.to_string(), ToString::to_string)
    );
    let user = match c.user.as_deref() {
        None => "(not set: root)".to_string(),
        Some(u) => u.to_string(),
    };
    let _ = writeln!(s, "User         {user}");
    let ports = if c.exposed_ports.is_empty() {
        none.to_string()
    } else {
        c.exposed_ports.join(", ")
    };
    let _ = writeln!(s, "Ports        {ports}");
    let health = match &c.healthcheck {
        None => "(none)".to_string(),
        Some(h) => h.test.join(" "),
    };
    let _ = writeln!(s, "Healthcheck  {health}");
    let _ = writeln!(
        s,
        "Layers       {} ({})",
        info.layers.len(),
        human_bytes(total)
    );
    for (i, layer) in info.layers.iter().enumerate() {
        let kind = layer
            .media_type
            .rsplit(['.', '/'])
            .next()
            .unwrap_or(&layer.media_type);
        let _ = writeln!(
            s,
            "  {:>2}  {}  {:>9}  {}",
            i + 1,
            layer.digest,
            human_bytes(layer.size),
            kind
        );
    }
    s
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
            human_bytes(f.size),
            layer,
            f.path,
            note
        );
    }
    let _ = writeln!(s, "{} files", files.files.len());
    s
}

/// 1536 -> "1.5 KiB".
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
