//! `portcullis db import|update|status|export`.

use std::fmt::Write as _;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use portcullis_vulndb::fetch::{FetchOptions, HttpFetcher, Mirrors, NetworkSource, Updater};
use portcullis_vulndb::{Database, ImportOptions, ImportProgress, ImportSummary, Status};

use crate::args::{DbCommand, GlobalArgs, ImageArgs, InspectFormat, SourceArgs};
use crate::commands::image::image_options;
use crate::exit::Code;
use crate::output::write_output;
use crate::progress::PullBar;

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
            dry_run,
            ca_certs,
        } => update(&path, sources, ca_certs, *dry_run, global),
        DbCommand::Build {
            output,
            sources,
            ca_certs,
        } => build(output, sources, ca_certs, global),
        DbCommand::Push {
            reference,
            next_update,
            registry,
        } => push(&path, reference, *next_update, registry),
        DbCommand::Pull {
            reference,
            registry,
        } => pull(&path, reference, registry, global),
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

/// Where a missing database comes from on first use: `--db-repository` artifacts (tried in
/// order), else a build from the upstream sources.
#[derive(Debug, Clone, Copy)]
pub struct FirstUse<'a> {
    /// Sources, mirrors and database repositories.
    pub sources: &'a SourceArgs,
    /// Registry options for the database repositories.
    pub registry: &'a portcullis_oci::RegistryOptions,
}

/// Open the database; when there is none yet and `first_use` is given, get it first: pulled
/// from the first `--db-repository` that answers, else built from the default upstream
/// sources (as `db update` would). Either is announced on standard error.
pub fn open_or_build(
    path: &Path,
    first_use: Option<FirstUse<'_>>,
    global: &GlobalArgs,
) -> Result<Database> {
    let Some(first_use) = first_use else {
        return open_existing(path);
    };
    if path.exists() {
        refresh_if_due(path, &first_use, global);
        return open_existing(path);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let repositories = &first_use.sources.db_repositories;
    if !repositories.is_empty() {
        pull_first_answering(path, repositories, first_use.registry, global)?;
        return open_existing(path);
    }
    let fetch = first_use.sources;
    let sources = portcullis_vulndb::fetch::select_sources(&fetch.sources);
    if sources.is_empty() {
        bail!(
            "--source {}: matches none of the sources (see `portcullis db update --dry-run`)",
            fetch.sources.join(", ")
        );
    }
    if !global.quiet {
        eprintln!(
            "no vulnerability database at {} yet: building it from {} upstream sources (once; `db update` refreshes it, `--offline` skips this)",
            path.display(),
            sources.len()
        );
    }
    let summary = self::fetch(
        path,
        sources,
        fetch.mirrors(),
        &first_use.registry.ca_certs,
        global,
    )
    .context("building the vulnerability database on first use")?;
    if !global.quiet {
        let records: u64 = summary.sources.iter().map(|s| s.records).sum();
        eprintln!(
            "imported {records} records from {} sources into {}",
            summary.sources.len(),
            path.display()
        );
    }
    open_existing(path)
}

/// A database pulled from a `--db-repository` and past the `next_update` its artifact named is
/// pulled again (unless `--skip-db-update`); when that fails, the scan goes on with the
/// database in place, and says so.
fn refresh_if_due(path: &Path, first_use: &FirstUse<'_>, global: &GlobalArgs) {
    let repositories = &first_use.sources.db_repositories;
    if repositories.is_empty() || first_use.sources.skip_db_update {
        return;
    }
    let Some(provenance) = portcullis_dbshare::read_provenance(path) else {
        return;
    };
    let now = portcullis_policy::time::now();
    let due = provenance
        .next_update
        .as_deref()
        .and_then(portcullis_report::Timestamp::parse_rfc3339)
        .is_some_and(|at| at.unix() <= now);
    if !due {
        return;
    }
    let installed = Database::open(path).and_then(|db| db.version()).ok();
    for repository in repositories {
        if !global.quiet {
            eprintln!(
                "the vulnerability database at {} is past its next update ({}): pulling {repository}",
                path.display(),
                provenance.next_update.as_deref().unwrap_or("")
            );
        }
        let pulled = portcullis_oci::Reference::parse(repository)
            .map_err(portcullis_dbshare::Error::from)
            .and_then(|reference| {
                portcullis_dbshare::pull_unless_with_progress(
                    path,
                    &reference,
                    first_use.registry,
                    installed.as_deref(),
                    &PullBar::new(global.quiet),
                )
            });
        match pulled {
            Ok(portcullis_dbshare::Pull::Installed(pulled)) => {
                if !global.quiet {
                    eprintln!("installed content id {}", pulled.metadata.content_id);
                }
                return;
            }
            Ok(portcullis_dbshare::Pull::Unchanged { metadata, .. }) => {
                if !global.quiet {
                    eprintln!(
                        "{repository} holds the same database (next update {})",
                        metadata.next_update.as_deref().unwrap_or("not given")
                    );
                }
                return;
            }
            Err(err) => {
                tracing::warn!(%repository, error = %err, "database repository failed; trying the next");
            }
        }
    }
    eprintln!(
        "warning: no database repository answered; scanning with the database in place (built {})",
        provenance
            .built_at
            .as_deref()
            .unwrap_or("at an unknown time")
    );
}

/// Pull the database artifact from the first of `repositories` that gives a good one; each
/// failure is reported and the next one tried.
fn pull_first_answering(
    path: &Path,
    repositories: &[String],
    registry: &portcullis_oci::RegistryOptions,
    global: &GlobalArgs,
) -> Result<()> {
    let mut failures = Vec::new();
    for repository in repositories {
        if !global.quiet {
            eprintln!(
                "no vulnerability database at {} yet: pulling {repository}",
                path.display()
            );
        }
        let pulled = portcullis_oci::Reference::parse(repository)
            .map_err(portcullis_dbshare::Error::from)
            .and_then(|reference| {
                portcullis_dbshare::pull_with_progress(
                    path,
                    &reference,
                    registry,
                    &PullBar::new(global.quiet),
                )
            });
        match pulled {
            Ok(pulled) => {
                if !global.quiet {
                    eprintln!(
                        "installed {} (content id {})",
                        path.display(),
                        pulled.metadata.content_id
                    );
                }
                return Ok(());
            }
            Err(err) => {
                tracing::warn!(%repository, error = %err, "database repository failed; trying the next");
                failures.push(format!("{repository}: {err}"));
            }
        }
    }
    bail!(
        "no database repository gave a database ({})",
        failures.join("; ")
    )
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
        self.restyle(
            "{spinner} importing {pos}/{len} files {bar:30} {msg}",
            total,
        );
    }

    fn file_started(&self, file: &Path) {
        self.bar.set_message(file.display().to_string());
    }

    fn file_done(&self, _file: &Path) {
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
    if let [single] = inputs
        && is_export_file(single)
    {
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

fn update(
    path: &Path,
    args: &SourceArgs,
    ca_certs: &[PathBuf],
    dry_run: bool,
    global: &GlobalArgs,
) -> Result<Code> {
    let (filters, mirrors) = (&args.sources, args.mirrors());
    let sources = portcullis_vulndb::fetch::select_sources(filters);
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
    let summary = fetch(path, sources, mirrors, ca_certs, global)?;
    write_output(summary_table(path, &summary).as_bytes(), None)?;
    Ok(Code::Ok)
}

/// `db build -o FILE`: a full build from the sources into a fresh file, renamed over FILE
/// only once it is complete and verified.
fn build(
    output: &Path,
    args: &SourceArgs,
    ca_certs: &[PathBuf],
    global: &GlobalArgs,
) -> Result<Code> {
    let sources = portcullis_vulndb::fetch::select_build_sources(&args.sources);
    if sources.is_empty() {
        bail!(
            "--source {}: matches none of the sources (see `portcullis db update --dry-run`)",
            args.sources.join(", ")
        );
    }
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("-o: not a file name")?;
    let fresh = output.with_file_name(format!("{name}.build-{}", std::process::id()));
    let _ = std::fs::remove_file(&fresh);
    let summary = fetch(&fresh, sources, args.mirrors(), ca_certs, global);
    let summary = summary.and_then(|summary| {
        std::fs::rename(&fresh, output)
            .with_context(|| format!("replacing {}", output.display()))?;
        Ok(summary)
    });
    let _ = std::fs::remove_file(&fresh);
    let summary = summary?;
    write_output(summary_table(output, &summary).as_bytes(), None)?;
    Ok(Code::Ok)
}

/// `db push REF`: publish the database as an OCI artifact.
fn push(path: &Path, reference: &str, next_update: Duration, registry: &ImageArgs) -> Result<Code> {
    open_existing(path)?;
    let parsed = portcullis_oci::Reference::parse(reference)?;
    let options = image_options(registry)?;
    let next = portcullis_vulndb::time::format_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .saturating_add(next_update.as_secs()),
    );
    let pushed = portcullis_dbshare::push(path, &parsed, &options.registry, Some(next))
        .with_context(|| format!("pushing {} to {reference}", path.display()))?;
    let mut out = String::new();
    let _ = writeln!(out, "pushed {}@{}", parsed, pushed.digest);
    let _ = writeln!(out, "content id   {}", pushed.metadata.content_id);
    let _ = writeln!(
        out,
        "size         {} bytes compressed, {} bytes SQLite",
        pushed.layer_size, pushed.metadata.size
    );
    write_output(out.as_bytes(), None)?;
    Ok(Code::Ok)
}

/// `db pull REF`: fetch a database artifact, verify it and install it at `path`.
fn pull(path: &Path, reference: &str, registry: &ImageArgs, global: &GlobalArgs) -> Result<Code> {
    let parsed = portcullis_oci::Reference::parse(reference)?;
    let options = image_options(registry)?;
    let bar = PullBar::new(global.quiet);
    let pulled = portcullis_dbshare::pull_with_progress(path, &parsed, &options.registry, &bar)
        .with_context(|| {
            format!(
                "pulling {reference} into {} (the database is unchanged)",
                path.display()
            )
        })?;
    let mut out = String::new();
    let _ = writeln!(out, "pulled {}@{}", parsed, pulled.digest);
    let _ = writeln!(out, "content id   {}", pulled.metadata.content_id);
    let _ = writeln!(
        out,
        "built        {}",
        pulled.metadata.built_at.as_deref().unwrap_or("-")
    );
    let _ = writeln!(out, "installed    {}", path.display());
    write_output(out.as_bytes(), None)?;
    Ok(Code::Ok)
}

/// Fetch `sources` (trusting `ca_certs` besides the system roots) and import them into
/// `path` in one atomic update, with a spinner.
fn fetch(
    path: &Path,
    sources: Vec<NetworkSource>,
    mirrors: Mirrors,
    ca_certs: &[PathBuf],
    global: &GlobalArgs,
) -> Result<ImportSummary> {
    let mut updater = Updater::new(path, sources);
    updater.mirrors = mirrors;
    updater.fetcher = std::sync::Arc::new(HttpFetcher::with_options(FetchOptions {
        ca_certs: ca_certs.to_vec(),
        ..FetchOptions::default()
    })?);
    let bar = spinner(
        format!("fetching {} sources", updater.sources.len()),
        global.quiet,
    );
    let summary = updater.update();
    bar.finish_and_clear();
    summary.with_context(|| format!("updating {} (the database is unchanged)", path.display()))
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
