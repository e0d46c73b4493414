//! `portcullis db import|update|status|export`.

use std::fmt::Write as _;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use portcullis_vulndb::fetch::{Mirrors, NetworkSource, Updater};
use portcullis_vulndb::{Database, ImportOptions, ImportProgress, ImportSummary, Status};

use crate::args::{DbCommand, GlobalArgs, InspectFormat};
use crate::exit::Code;
use crate::output::write_output;

/// The database file: `--db`/`PORTCULLIS_DB`, else the cache default.
pub fn db_path(global: &GlobalArgs) -> Result<PathBuf> {
    match &global.db {
        Some(path) => Ok(path.clone()),
        None => portcullis_vulndb::default_path()
            .context("no database location: set --db PATH, PORTCULLIS_DB, XDG_CACHE_HOME or HOME"),
    }
}

pub fn run(cmd: &DbCommand, global: &GlobalArgs) -> Result<Code> {
    let path = db_path(global)?;
    match cmd {
        DbCommand::Import { paths, lenient } => import(&path, paths, *lenient, global),
        DbCommand::Update {
            sources,
            osv_mirror,
            alpine_mirror,
            debian_oval_mirror,
            kev_mirror,
            epss_mirror,
            dry_run,
        } => {
            let mut mirrors = Mirrors::default();
            if let Some(url) = osv_mirror {
                mirrors.osv.clone_from(url);
            }
            if let Some(url) = alpine_mirror {
                mirrors.alpine.clone_from(url);
            }
            if let Some(url) = debian_oval_mirror {
                mirrors.debian_oval.clone_from(url);
            }
            if let Some(url) = kev_mirror {
                mirrors.kev.clone_from(url);
            }
            if let Some(url) = epss_mirror {
                mirrors.epss.clone_from(url);
            }
            update(&path, sources, mirrors, *dry_run, global)
        }
        DbCommand::Status { format } => {
            let db = open_existing(&path)?;
            let status = db
                .status()
                .with_context(|| format!("reading {}", path.display()))?;
            let coverage = db
                .rating_coverage()
                .with_context(|| format!("reading {}", path.display()))?;
            let out = match format {
                InspectFormat::Json => format!(
                    "{}\n",
                    serde_json::to_string_pretty(&status_json(&status, &coverage)?)?
                ),
                InspectFormat::Table => status_table(&path, &status, &coverage),
            };
            write_output(out.as_bytes(), None)?;
            Ok(Code::Ok)
        }
        DbCommand::Export { file } => {
            let db = open_existing(&path)?;
            let header = db
                .export(file)
                .with_context(|| format!("exporting {} to {}", path.display(), file.display()))?;
            eprintln!(
                "exported {} ({} bytes, sha256 {}) to {}",
                path.display(),
                header.size,
                header.sha256,
                file.display()
            );
            Ok(Code::Ok)
        }
    }
}

/// Open the database, or explain in one sentence how to get one.
pub fn open_existing(path: &Path) -> Result<Database> {
    if !path.exists() {
        bail!(
            "no vulnerability database at {}: run `portcullis db update`, or `portcullis db import PATH...` with local advisory files",
            path.display()
        );
    }
    Database::open(path)
        .with_context(|| format!("opening the vulnerability database {}", path.display()))
}

fn spinner(message: String, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// The progress of `db import` on a terminal: files read, then records written, then the
/// final indexing and verification. Hidden with `-q` or when stderr is not a terminal.
struct ImportBar {
    bar: ProgressBar,
}

impl ImportBar {
    fn new(quiet: bool) -> Self {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        };
        Self { bar }
    }

    fn restyle(&self, template: &str, length: u64) {
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style);
        }
        self.bar.set_length(length);
        self.bar.set_position(0);
    }
}

impl ImportProgress for ImportBar {
    fn files(&self, total: u64) {
        self.restyle("{spinner} reading {pos}/{len} files {bar:30} {msg}", total);
    }

    fn file_started(&self, file: &Path) {
        self.bar.set_message(file.display().to_string());
    }

    fn file_done(&self, _file: &Path) {
        self.bar.inc(1);
    }

    fn writing(&self, records: u64) {
        self.restyle("{spinner} writing {pos}/{len} records {bar:30}", records);
        self.bar.set_message("");
    }

    fn record_written(&self) {
        self.bar.inc(1);
    }

    fn finishing(&self) {
        self.restyle("{spinner} indexing and verifying the database {elapsed}", 0);
    }
}

fn is_export_file(path: &Path) -> bool {
    let magic = portcullis_vulndb::export::EXPORT_MAGIC.as_bytes();
    let mut head = vec![0u8; magic.len()];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head == magic)
}

fn import(path: &Path, inputs: &[PathBuf], lenient: bool, global: &GlobalArgs) -> Result<Code> {
    for input in inputs {
        if !input.exists() {
            bail!("{}: no such file or directory", input.display());
        }
    }
    if let [single] = inputs {
        if is_export_file(single) {
            let bar = spinner(
                format!("importing the database export {}", single.display()),
                global.quiet,
            );
            let status = Database::import_export_file(path, single);
            bar.finish_and_clear();
            let status = status.with_context(|| format!("importing {}", single.display()))?;
            let coverage = Database::open(path)
                .and_then(|db| db.rating_coverage())
                .with_context(|| format!("reading {}", path.display()))?;
            write_output(status_table(path, &status, &coverage).as_bytes(), None)?;
            return Ok(Code::Ok);
        }
    }
    let options = ImportOptions {
        strict: !lenient,
        ..ImportOptions::default()
    };
    let progress = ImportBar::new(global.quiet);
    let summary = Database::import_paths_with_progress(path, inputs, &options, &progress);
    progress.bar.finish_and_clear();
    let summary = summary.with_context(|| {
        format!(
            "importing into {} (the database is unchanged)",
            path.display()
        )
    })?;
    write_output(summary_table(path, &summary).as_bytes(), None)?;
    Ok(Code::Ok)
}

/// The sources `db update` fetches by default.
pub(crate) fn default_sources() -> Vec<NetworkSource> {
    let mut sources: Vec<NetworkSource> = [
        "Go",
        "PyPI",
        "crates.io",
        "npm",
        "Maven",
        "Alpine",
        "Debian",
        "Ubuntu",
    ]
    .into_iter()
    .map(|ecosystem| NetworkSource::Osv {
        ecosystem: ecosystem.to_string(),
    })
    .collect();
    for minor in 16..=21 {
        for repo in ["main", "community"] {
            sources.push(NetworkSource::AlpineSecdb {
                branch: format!("v3.{minor}"),
                repo: repo.to_string(),
            });
        }
    }
    for codename in ["bullseye", "bookworm", "trixie"] {
        sources.push(NetworkSource::DebianOval {
            codename: codename.to_string(),
        });
    }
    sources.push(NetworkSource::DebianDsa);
    sources.push(NetworkSource::DebianDla);
    sources.push(NetworkSource::Nvd {
        feed: "modified".to_string(),
    });
    sources.push(NetworkSource::Kev);
    sources.push(NetworkSource::Epss);
    sources
}

fn update(
    path: &Path,
    filters: &[String],
    mirrors: Mirrors,
    dry_run: bool,
    global: &GlobalArgs,
) -> Result<Code> {
    let sources: Vec<NetworkSource> = default_sources()
        .into_iter()
        .filter(|s| filters.is_empty() || filters.iter().any(|f| s.name().starts_with(f.as_str())))
        .collect();
    if sources.is_empty() {
        bail!(
            "--source {}: matches none of the sources (see `portcullis db update --dry-run`)",
            filters.join(", ")
        );
    }
    if dry_run {
        let mut out = String::new();
        for source in &sources {
            let _ = writeln!(out, "{:<28} {}", source.name(), source.url(&mirrors));
        }
        write_output(out.as_bytes(), None)?;
        return Ok(Code::Ok);
    }
    let mut updater = Updater::new(path, sources);
    updater.mirrors = mirrors;
    let bar = spinner(
        format!("fetching {} sources", updater.sources.len()),
        global.quiet,
    );
    let summary = updater.update();
    bar.finish_and_clear();
    let summary = summary
        .with_context(|| format!("updating {} (the database is unchanged)", path.display()))?;
    write_output(summary_table(path, &summary).as_bytes(), None)?;
    Ok(Code::Ok)
}

fn summary_table(path: &Path, summary: &ImportSummary) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<32} {:>10} {:>10} {:>6}",
        "SOURCE", "RECORDS", "AFFECTED", "FILES"
    );
    for source in &summary.sources {
        let _ = writeln!(
            s,
            "{:<32} {:>10} {:>10} {:>6}",
            source.name, source.records, source.affected, source.files
        );
    }
    for problem in &summary.problems {
        let _ = writeln!(s, "skipped: {problem}");
    }
    for skipped in &summary.skipped_files {
        let _ = writeln!(s, "not recognised, skipped: {skipped}");
    }
    let records: u64 = summary.sources.iter().map(|s| s.records).sum();
    let _ = writeln!(
        s,
        "imported {records} records from {} files into {}",
        summary.files,
        path.display()
    );
    s
}

/// The status as JSON, each source with `cves` and `rated_cves` (how many of its CVE ids
/// have a severity rating; `null` for sources without CVE records, such as KEV and EPSS).
fn status_json(
    status: &Status,
    coverage: &[portcullis_vulndb::exploit::RatingCoverage],
) -> Result<serde_json::Value> {
    let mut value = serde_json::to_value(status)?;
    if let Some(sources) = value.get_mut("sources").and_then(|s| s.as_array_mut()) {
        for source in sources {
            let name = source.get("name").and_then(|n| n.as_str()).unwrap_or("");
            let found = coverage.iter().find(|c| c.source == name);
            if let Some(object) = source.as_object_mut() {
                object.insert("cves".into(), found.map(|c| c.cves).into());
                object.insert("rated_cves".into(), found.map(|c| c.rated).into());
            }
        }
    }
    Ok(value)
}

fn status_table(
    path: &Path,
    status: &Status,
    coverage: &[portcullis_vulndb::exploit::RatingCoverage],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Database         {}", path.display());
    let _ = writeln!(s, "Schema version   {}", status.schema_version);
    let _ = writeln!(
        s,
        "Built            {}",
        status.built_at.as_deref().unwrap_or("-")
    );
    let _ = writeln!(s, "Vulnerabilities  {}", status.vulnerabilities);
    let _ = writeln!(s, "Affected entries {}", status.affected);
    let _ = writeln!(
        s,
        "\n{:<32} {:>10} {:>8}  UPDATED",
        "SOURCE", "RECORDS", "RATED"
    );
    for source in &status.sources {
        // The share of the source's CVE ids that have a severity rating.
        let rated = coverage
            .iter()
            .find(|c| c.source == source.name && c.cves > 0)
            .map_or_else(
                || "-".to_string(),
                |c| format!("{}%", c.rated * 100 / c.cves),
            );
        let _ = writeln!(
            s,
            "{:<32} {:>10} {:>8}  {}",
            source.name, source.records, rated, source.updated_at
        );
    }
    s
}
