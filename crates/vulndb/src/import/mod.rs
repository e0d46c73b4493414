//! Importers: detect an input's format by its content and turn it into [`Record`]s.
//!
//! Formats: OSV (`all.zip` exports, single JSON records, directories of them), Alpine secdb
//! (`v3.X/{main,community}.json`), Debian OVAL (XML, optionally bz2- or gzip-compressed),
//! the Debian security tracker's DSA/DLA lists, Oracle Linux's ELSA OVAL (streamed),
//! Amazon Linux's `updateinfo.xml` (ALAS), Photon OS's CVE metadata, NVD API 2.0 JSON (single CVE records or
//! API/feed responses wrapping many), CISA's KEV catalog and FIRST's EPSS scores (CSV,
//! usually gzip-compressed). Files in a directory that match none (a JSON schema, a
//! licence) are skipped with a warning and listed in [`ImportSummary::skipped_files`].
//!
//! # Errors and atomicity
//!
//! An input that cannot be read as a whole (empty, truncated, unknown format, an unsafe zip
//! entry name, over a size cap) fails the import. A single bad record (malformed JSON inside
//! a zip, an unknown range type) fails the import too in strict mode, the default, after
//! every file has been read so the error lists all of them; in lenient mode
//! ([`ImportOptions::strict`] `false`, for unattended updates) the record is skipped and
//! listed in [`ImportSummary::problems`]. Imports run inside
//! [`update_atomically`](crate::update_atomically), so a failed import changes nothing.

mod alpine;
mod amazon;
mod debian_list;
mod debian_oval;
mod debian_tracker;
mod epss;
mod json_stream;
mod kev;
mod nvd;
mod oracle_oval;
mod osv;
mod photon;
pub(crate) mod xml;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::model::Record;
use crate::store::{Builder, SourceMode};

/// Caps and policy of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Fail the whole import on a single bad record (default `true`).
    pub strict: bool,
    /// The largest input file read, in bytes (default 512 MiB).
    pub max_file_size: u64,
    /// The largest decompressed content (a bz2/gzip stream, one zip entry), in bytes
    /// (default 1 GiB for streams, see [`ImportOptions::max_entry_size`] for zip entries).
    pub max_decompressed_size: u64,
    /// The largest zip entry, in bytes (default 16 MiB).
    pub max_entry_size: u64,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            strict: true,
            max_file_size: 512 << 20,
            max_decompressed_size: 1 << 30,
            max_entry_size: 16 << 20,
        }
    }
}

/// Told how an import advances, e.g. to draw a progress bar. Every method has an empty
/// default; `()` is the silent implementation.
pub trait ImportProgress {
    /// The number of input files, once, before the first is read.
    fn files(&self, _total: u64) {}
    /// `file` is about to be read, parsed and written.
    fn file_started(&self, _file: &Path) {}
    /// `file` has been read, parsed and written (or skipped as not recognised).
    fn file_done(&self, _file: &Path) {}
    /// Every record is written; the database is being indexed and verified.
    fn finishing(&self) {}
}

impl ImportProgress for () {}

/// The formats recognised by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// An OSV `all.zip` export.
    OsvZip,
    /// One OSV JSON record.
    OsvJson,
    /// An Alpine secdb branch file.
    AlpineSecdb,
    /// Debian OVAL definitions.
    DebianOval,
    /// Oracle Linux's ELSA OVAL definitions.
    OracleOval,
    /// A yum repository's `updateinfo.xml` (Amazon Linux's ALAS).
    AmazonUpdateinfo,
    /// Photon OS's CVE metadata (`cve_data_photon<version>.json`).
    PhotonCve,
    /// The Debian security tracker's DSA or DLA list.
    DebianAdvisoryList,
    /// The Debian security tracker's JSON (statuses and urgencies per release).
    DebianTracker,
    /// NVD API 2.0 JSON (one CVE, or a response/feed with many).
    Nvd,
    /// CISA's Known Exploited Vulnerabilities catalog (JSON).
    Kev,
    /// FIRST's EPSS scores (CSV).
    Epss,
}

/// One record (or file) that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file (and archive entry, as `file!entry`).
    pub file: String,
    /// The record id, when known.
    pub record: Option<String>,
    /// What was wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.record {
            Some(id) => write!(f, "{}: record {id}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// What one source received in an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceSummary {
    /// Source name.
    pub name: String,
    /// Records written in this import.
    pub records: u64,
    /// Affected entries written in this import.
    pub affected: u64,
    /// Input files that fed it.
    pub files: u64,
}

/// The outcome of an import: per source counts, and the records skipped (lenient mode).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Input files read.
    pub files: u64,
    /// Files in directories skipped because their format was not recognised.
    pub skipped_files: Vec<String>,
    /// Per source, sorted by name.
    pub sources: Vec<SourceSummary>,
    /// Records that could not be imported (only non-empty in lenient mode).
    pub problems: Vec<Problem>,
}

/// What a parser returns for one input file.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Records per (source, mode).
    pub batches: Vec<Batch>,
    /// Bad records.
    pub problems: Vec<Problem>,
    /// A KEV catalog (replaces the `kev` table).
    pub kev: Option<Vec<crate::exploit::KevEntry>>,
    /// EPSS scores (replace the `epss` table).
    pub epss: Option<epss::EpssData>,
}

impl Parsed {
    /// Add `records` as a batch that replaces all `source` held before.
    pub fn replace(&mut self, source: impl Into<String>, records: Vec<Record>) {
        self.batches.push(Batch {
            source: source.into(),
            mode: SourceMode::Replace,
            records,
        });
    }
}

/// Records of one source from one file.
#[derive(Debug)]
pub(crate) struct Batch {
    pub source: String,
    pub mode: SourceMode,
    pub records: Vec<Record>,
}

/// Import `paths` into `builder` (formats detected by content; directories walked in
/// name order).
pub(crate) fn import_paths(
    builder: &mut Builder<'_>,
    paths: &[PathBuf],
    options: &ImportOptions,
    progress: &dyn ImportProgress,
) -> Result<ImportSummary> {
    let mut files = Vec::new();
    for path in paths {
        let meta =
            fs::metadata(path).map_err(|e| Error::io(format!("{}: reading", path.display()), e))?;
        if meta.is_dir() {
            walk(path, &mut files)?;
        } else {
            files.push((path.clone(), true));
        }
    }
    let mut summary = ImportSummary::default();
    let mut per_source: BTreeMap<String, SourceSummary> = BTreeMap::new();
    // In strict mode the first bad record stops the writing; the remaining files are still
    // parsed so the error counts every problem. The build is then discarded as a whole.
    let mut failed = false;
    progress.files(files.len() as u64);
    for (file, explicit) in files {
        progress.file_started(&file);
        let bytes = read_capped(&file, options.max_file_size)?;
        let label = file.display().to_string();
        // The sources this file wrote to, so each counts the file once.
        let mut file_sources = BTreeSet::new();
        let result = parse_bytes_each(&label, &file, bytes, options, &mut |mut parsed| {
            summary.problems.append(&mut parsed.problems);
            failed |= options.strict && !summary.problems.is_empty();
            if failed {
                return Ok(());
            }
            write_parsed(builder, parsed, &mut per_source, &mut file_sources)
        });
        match result {
            Ok(()) => summary.files += 1,
            Err(err) if !explicit && err.kind() == ErrorKind::UnknownFormat => {
                tracing::warn!(file = %label, "skipping a file of unknown format");
                summary.skipped_files.push(label);
            }
            Err(err) => return Err(err),
        }
        progress.file_done(&file);
    }
    if failed {
        let problems = &summary.problems;
        let more = match problems.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{}{more}; nothing was imported", problems[0]),
        ));
    }
    summary.sources = per_source.into_values().collect();
    progress.finishing();
    Ok(summary)
}

/// The summary of source `name`, created empty.
fn source_entry<'m>(
    per_source: &'m mut BTreeMap<String, SourceSummary>,
    name: &str,
) -> &'m mut SourceSummary {
    per_source
        .entry(name.to_owned())
        .or_insert_with(|| SourceSummary {
            name: name.to_owned(),
            records: 0,
            affected: 0,
            files: 0,
        })
}

/// Write one file's parse into `builder`, counting it in `per_source`.
fn write_parsed(
    builder: &mut Builder<'_>,
    parsed: Parsed,
    per_source: &mut BTreeMap<String, SourceSummary>,
    file_sources: &mut BTreeSet<String>,
) -> Result<()> {
    // A snapshot (KEV, EPSS) replaces what an earlier file of this import gave.
    if let Some(entries) = &parsed.kev {
        builder.replace_kev(entries)?;
        let entry = source_entry(per_source, crate::exploit::KEV_SOURCE);
        entry.files += 1;
        entry.records = entries.len() as u64;
    }
    if let Some(data) = &parsed.epss {
        builder.replace_epss(&data.scores, data.date.as_deref())?;
        let entry = source_entry(per_source, crate::exploit::EPSS_SOURCE);
        entry.files += 1;
        entry.records = data.scores.len() as u64;
    }
    for batch in parsed.batches {
        builder.begin_source(&batch.source, batch.mode)?;
        let entry = source_entry(per_source, &batch.source);
        if file_sources.insert(batch.source.clone()) {
            entry.files += 1;
        }
        for record in &batch.records {
            builder.put(record)?;
            entry.records += 1;
            entry.affected += record.affected.len() as u64;
        }
    }
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, bool)>) -> Result<()> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| Error::io(format!("{}: listing", dir.display()), e))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io(format!("{}: listing", dir.display()), e))?;
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        let meta = fs::metadata(&path)
            .map_err(|e| Error::io(format!("{}: reading", path.display()), e))?;
        if meta.is_dir() {
            walk(&path, out)?;
        } else if meta.is_file() {
            out.push((path, false));
        }
    }
    Ok(())
}

fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let label = path.display().to_string();
    let file = fs::File::open(path).map_err(|e| Error::io(format!("{label}: opening"), e))?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(format!("{label}: reading"), e))?;
    if bytes.len() as u64 > cap {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("{label}: larger than the {cap}-byte cap"),
        ));
    }
    Ok(bytes)
}

/// Decompress a whole stream with a cap on the output.
pub(crate) fn read_all_capped(reader: impl Read, cap: u64, label: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{label}: corrupt or truncated compressed data: {e}"),
            )
        })?;
    if out.len() as u64 > cap {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("{label}: decompresses to more than {cap} bytes"),
        ));
    }
    Ok(out)
}

/// What a compressed input became.
enum Decompressed<'a> {
    /// To parse as it is decompressed: Oracle's ELSA OVAL (over 100 MB uncompressed) or an
    /// NVD feed (hundreds of megabytes a year).
    Stream(Format, xml::CappedReader<Box<dyn Read + 'a>>),
    /// Decompressed, to detect and parse.
    Bytes(Vec<u8>),
}

/// Decompress `bytes` (bzip2 or gzip; `None` when they are neither), or start to when they
/// are too large to hold decompressed (see [`Decompressed::Stream`]).
fn decompress<'a>(
    label: &str,
    bytes: &'a [u8],
    options: &ImportOptions,
) -> Result<Option<Decompressed<'a>>> {
    let Some(decoder) = decompressor(bytes) else {
        return Ok(None);
    };
    let mut head = Vec::new();
    // A head cut short by corrupt data is detected as nothing; the full read below
    // reports the corruption.
    let _ = decoder.take(8192).read_to_end(&mut head);
    let cap = options.max_decompressed_size;
    let Some(decoder) = decompressor(bytes) else {
        return Ok(None);
    };
    if let Some(format @ (Format::OracleOval | Format::Nvd)) = detect(&head) {
        let capped = xml::CappedReader::new(decoder, cap, label);
        return Ok(Some(Decompressed::Stream(format, capped)));
    }
    read_all_capped(decoder, cap, label).map(|b| Some(Decompressed::Bytes(b)))
}

/// A decompressor of `bytes` when they start like bzip2 or gzip.
fn decompressor(bytes: &[u8]) -> Option<Box<dyn Read + '_>> {
    if bytes.starts_with(b"BZh") {
        Some(Box::new(bzip2::read::MultiBzDecoder::new(bytes)))
    } else if bytes.starts_with(b"\x1f\x8b") {
        Some(Box::new(flate2::read::MultiGzDecoder::new(bytes)))
    } else {
        None
    }
}

/// Detect the format of `bytes` (already decompressed).
pub fn detect(bytes: &[u8]) -> Option<Format> {
    let text = trim_start(bytes);
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Some(Format::OsvZip);
    }
    if text.starts_with(b"<") {
        let head = &text[..text.len().min(8192)];
        if oracle_oval::looks_like_elsa(head) {
            return Some(Format::OracleOval);
        }
        if amazon::looks_like_updateinfo(head) {
            return Some(Format::AmazonUpdateinfo);
        }
        return contains(head, b"oval_definitions").then_some(Format::DebianOval);
    }
    if photon::looks_like_photon(text) {
        return Some(Format::PhotonCve);
    }
    if text.starts_with(b"[") && debian_list::looks_like_list(text) {
        return Some(Format::DebianAdvisoryList);
    }
    if (text.starts_with(b"#") || text.starts_with(b"cve,")) && epss::looks_like_epss(text) {
        return Some(Format::Epss);
    }
    if text.starts_with(b"{") {
        // An NVD feed names itself in its first keys: no need to read it whole twice.
        let head = &text[..text.len().min(4096)];
        if contains(head, b"\"NVD_CVE\"")
            && (contains(head, b"\"resultsPerPage\"") || contains(head, b"\"totalResults\""))
        {
            return Some(Format::Nvd);
        }
        // So does the Debian security tracker's: package, CVE id, `releases`.
        if head.starts_with(b"{\"")
            && (contains(head, b"{\"CVE-") || contains(head, b"{\"TEMP-"))
            && (contains(head, b"\"releases\": {") || contains(head, b"\"releases\":{"))
            && !contains(head, b"\"affected\"")
        {
            return Some(Format::DebianTracker);
        }
        let value: serde_json::Value = serde_json::from_slice(text).ok()?;
        return detect_json(&value);
    }
    None
}

fn detect_json(value: &serde_json::Value) -> Option<Format> {
    let object = value.as_object()?;
    if kev::looks_like_kev(object) {
        return Some(Format::Kev);
    }
    if debian_tracker::looks_like_tracker(object) {
        return Some(Format::DebianTracker);
    }
    if object.contains_key("packages") && object.contains_key("distroversion") {
        return Some(Format::AlpineSecdb);
    }
    if object.get("vulnerabilities").is_some_and(|v| v.is_array())
        && (object.get("format").and_then(|f| f.as_str()) == Some("NVD_CVE")
            || object.contains_key("resultsPerPage")
            || object.contains_key("totalResults"))
    {
        return Some(Format::Nvd);
    }
    if object.contains_key("id")
        && (object.contains_key("sourceIdentifier")
            || object.contains_key("vulnStatus")
            || object.contains_key("descriptions"))
    {
        return Some(Format::Nvd);
    }
    if object.contains_key("id")
        && (object.contains_key("affected")
            || object.contains_key("modified")
            || object.contains_key("schema_version"))
    {
        return Some(Format::OsvJson);
    }
    None
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Parse one input file's bytes (any supported format, optionally compressed) whole.
pub(crate) fn parse_bytes(
    label: &str,
    path: &Path,
    bytes: Vec<u8>,
    options: &ImportOptions,
) -> Result<Parsed> {
    let mut whole = Parsed::default();
    parse_bytes_each(label, path, bytes, options, &mut |mut part| {
        whole.batches.append(&mut part.batches);
        whole.problems.append(&mut part.problems);
        whole.kev = part.kev.or(whole.kev.take());
        whole.epss = part.epss.or(whole.epss.take());
        Ok(())
    })?;
    Ok(whole)
}

/// Parse one input file's bytes (any supported format, optionally compressed), handing the
/// result to `each`: in parts for an OSV export (see `osv::parse_zip_each`), else at once.
pub(crate) fn parse_bytes_each(
    label: &str,
    path: &Path,
    bytes: Vec<u8>,
    options: &ImportOptions,
    each: &mut dyn FnMut(Parsed) -> Result<()>,
) -> Result<()> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: empty file"),
        ));
    }
    let inflated = match decompress(label, &bytes, options)? {
        Some(Decompressed::Stream(Format::Nvd, reader)) => {
            return nvd::parse_each(label, reader, each);
        }
        Some(Decompressed::Stream(_, reader)) => {
            return each(oracle_oval::parse(label, std::io::BufReader::new(reader))?);
        }
        Some(Decompressed::Bytes(inflated)) => Some(inflated),
        None => None,
    };
    let bytes = inflated.unwrap_or(bytes);
    let format = detect(&bytes).ok_or_else(|| {
        Error::new(
            ErrorKind::UnknownFormat,
            format!(
                "{label}: unrecognised format (expected an OSV zip or JSON record, Alpine secdb JSON, \
                 Debian or Oracle OVAL XML, an updateinfo.xml, a DSA/DLA list, Photon CVE metadata, NVD JSON, the KEV catalog or an EPSS CSV)"
            ),
        )
    })?;
    let parsed = match format {
        Format::OsvZip => return osv::parse_zip_each(label, path, &bytes, options, each),
        Format::OsvJson => osv::parse_single(label, &bytes),
        Format::AlpineSecdb => alpine::parse(label, &bytes),
        Format::DebianOval => debian_oval::parse(label, &bytes),
        Format::OracleOval => oracle_oval::parse(label, bytes.as_slice()),
        Format::AmazonUpdateinfo => amazon::parse(label, &bytes),
        Format::PhotonCve => photon::parse(label, path, &bytes),
        Format::DebianAdvisoryList => debian_list::parse(label, &bytes),
        Format::DebianTracker => debian_tracker::parse(label, &bytes),
        Format::Nvd => return nvd::parse_each(label, bytes.as_slice(), each),
        Format::Kev => kev::parse(label, &bytes),
        Format::Epss => epss::parse(label, path, &bytes),
    }?;
    each(parsed)
}

/// Parse a CISA KEV catalog without a database (for fuzzing and tools): its valid entries
/// (unique CVE ids) and the problems of the others.
pub fn parse_kev_catalog(
    label: &str,
    bytes: &[u8],
) -> Result<(Vec<crate::exploit::KevEntry>, Vec<Problem>)> {
    let parsed = kev::parse(label, bytes)?;
    Ok((parsed.kev.unwrap_or_default(), parsed.problems))
}

/// Records per source name, as a parser gives them.
pub type SourceRecords = Vec<(String, Vec<Record>)>;

/// Parse one feed file's bytes as an import does, without a database (for fuzzing and
/// tools): the format is recognised from the content (any the import reads, bzip2 or gzip
/// compressed or not, an OSV zip export included) and `path` names it where the format
/// needs a name (Photon's release, EPSS's date). Its records per source, in the order the
/// parser gave them, and the problems of the rest; a KEV catalog or EPSS scores give no
/// record.
pub fn parse_feed(
    label: &str,
    path: &Path,
    bytes: Vec<u8>,
    options: &ImportOptions,
) -> Result<(SourceRecords, Vec<Problem>)> {
    parse_bytes(label, path, bytes, options).map(sources_of)
}

/// Parse NVD JSON 2.0 (one CVE, or an API response or feed with many) without a database
/// (for fuzzing and tools): its records and the problems of the rest.
pub fn parse_nvd(label: &str, bytes: &[u8]) -> Result<(Vec<Record>, Vec<Problem>)> {
    nvd::parse(label, bytes).map(records_of)
}

/// Every record of a parse, whatever its source, and its problems.
fn records_of(parsed: Parsed) -> (Vec<Record>, Vec<Problem>) {
    (
        parsed.batches.into_iter().flat_map(|b| b.records).collect(),
        parsed.problems,
    )
}

/// The records of a parse per source, and its problems.
fn sources_of(parsed: Parsed) -> (SourceRecords, Vec<Problem>) {
    (
        parsed
            .batches
            .into_iter()
            .map(|b| (b.source, b.records))
            .collect(),
        parsed.problems,
    )
}

/// Parse Oracle Linux's (uncompressed) ELSA OVAL without a database (for fuzzing and
/// tools): its records (source `oracle-oval`) and the problems of the other definitions.
pub fn parse_oracle_oval(label: &str, bytes: &[u8]) -> Result<(Vec<Record>, Vec<Problem>)> {
    oracle_oval::parse(label, bytes).map(records_of)
}

/// Parse an (uncompressed) Amazon Linux `updateinfo.xml` without a database (for fuzzing
/// and tools): its records per source (`alas:<release>`) and the problems of the rest.
pub fn parse_amazon_updateinfo(label: &str, bytes: &[u8]) -> Result<(SourceRecords, Vec<Problem>)> {
    amazon::parse(label, bytes).map(sources_of)
}

/// Parse Photon OS CVE metadata without a database (for fuzzing and tools); `file_name`
/// must name the release as upstream does (`cve_data_photon5.0.json`). Its records
/// (source `photon:<version>`) and the problems of the other entries.
pub fn parse_photon_cve(file_name: &str, bytes: &[u8]) -> Result<(Vec<Record>, Vec<Problem>)> {
    photon::parse(file_name, Path::new(file_name), bytes).map(records_of)
}

/// Parse the Debian security tracker's JSON without a database (for fuzzing and tools):
/// its records per source (`debian-tracker:<version>`) and the problems of the rest.
pub fn parse_debian_tracker(label: &str, bytes: &[u8]) -> Result<(SourceRecords, Vec<Problem>)> {
    debian_tracker::parse(label, bytes).map(sources_of)
}

/// Parse an (uncompressed) EPSS CSV without a database (for fuzzing and tools): the valid
/// scores as `(CVE id, score, percentile)` (unique ids, values in [0, 1]), the score date,
/// and the problems of the other lines.
#[allow(clippy::type_complexity)]
pub fn parse_epss_csv(
    label: &str,
    bytes: &[u8],
) -> Result<(Vec<(String, f64, f64)>, Option<String>, Vec<Problem>)> {
    let parsed = epss::parse(label, Path::new(label), bytes)?;
    let data = parsed.epss.unwrap_or_default();
    let scores = data
        .scores
        .iter()
        .map(|(key, score, percentile)| {
            (
                crate::exploit::cve_from_key(*key),
                *score as f64 / 1e9,
                *percentile as f64 / 1e9,
            )
        })
        .collect();
    Ok((scores, data.date, parsed.problems))
}

/// One fixed version of a binary rpm named by an advisory: ((ecosystem, package), EVR, the
/// arches it was built for, notes).
pub(crate) type RpmFix = ((String, String), String, BTreeSet<String>, BTreeSet<String>);

/// The affected entries of an rpm advisory: one per (ecosystem, package), fixed at the
/// lowest of its EVRs in rpm order (arches respun at a later revision would otherwise make
/// the others' fixed builds look vulnerable: the arch is not matched), its notes naming
/// the arches and, when they differ, each arch's EVR.
pub(crate) fn rpm_fix_entries(
    vuln: &crate::model::Vulnerability,
    fixes: impl IntoIterator<Item = RpmFix>,
) -> Vec<crate::model::AffectedEntry> {
    type Fixes = (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>);
    let mut packages: BTreeMap<(String, String), Fixes> = BTreeMap::new();
    for (key, evr, arches, notes) in fixes {
        let (by_evr, all_notes) = packages.entry(key).or_default();
        by_evr.entry(evr).or_default().extend(arches);
        all_notes.extend(notes);
    }
    let rpm = |a: &String, b: &String| {
        portcullis_versions::compare(portcullis_versions::Scheme::Rpm, a, b)
            .unwrap_or_else(|_| a.cmp(b))
    };
    let join = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
    packages
        .into_iter()
        .filter_map(|((ecosystem, package), (by_evr, notes))| {
            let lowest = by_evr.keys().min_by(|a, b| rpm(a, b))?.clone();
            let mut text: Vec<String> = notes.into_iter().collect();
            match by_evr.len() {
                1 => text.extend(
                    by_evr
                        .values()
                        .filter(|a| !a.is_empty())
                        .map(|a| format!("arch {}", join(a))),
                ),
                _ => {
                    let each: Vec<String> = by_evr
                        .iter()
                        .map(|(evr, arches)| match arches.is_empty() {
                            true => evr.clone(),
                            false => format!("{evr} ({})", join(arches)),
                        })
                        .collect();
                    text.push(format!(
                        "fixed per arch: {}; the lowest is used",
                        each.join("; ")
                    ));
                }
            }
            let mut entry = crate::model::AffectedEntry::distro(
                vuln,
                ecosystem,
                package,
                crate::model::FixStatus::Fixed,
                Some(lowest),
            );
            entry.notes = (!text.is_empty()).then(|| text.join("; "));
            Some(entry)
        })
        .collect()
}

/// The first line of `text`, trimmed and capped at 400 characters.
pub(crate) fn first_line(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(400).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(detect(b"PK\x03\x04rest"), Some(Format::OsvZip));
        assert_eq!(
            detect(b"  <?xml version='1.0'?><oval_definitions>"),
            Some(Format::DebianOval)
        );
        assert_eq!(
            detect(
                b"<oval_definitions><definitions><definition id=\"oval:com.oracle.elsa:def:1\">"
            ),
            Some(Format::OracleOval)
        );
        assert_eq!(
            detect(b"<?xml version=\"1.0\" ?>\n<updates>\n<update type=\"security\">"),
            Some(Format::AmazonUpdateinfo)
        );
        assert_eq!(
            detect(br#"[{"cve_id": "CVE-2024-1", "pkg": "curl", "res_ver": "NA"}]"#),
            Some(Format::PhotonCve)
        );
        assert_eq!(detect(b"<html></html>"), None);
        assert_eq!(
            detect(b"[29 Mar 2023] DSA-5380-1 xorg-server - security update\n"),
            Some(Format::DebianAdvisoryList)
        );
        assert_eq!(
            detect(br#"{"distroversion":"v3.9","packages":[]}"#),
            Some(Format::AlpineSecdb)
        );
        assert_eq!(
            detect(br#"{"id":"GO-1","modified":"x","affected":[]}"#),
            Some(Format::OsvJson)
        );
        assert_eq!(
            detect(br#"{"id":"CVE-1","sourceIdentifier":"x"}"#),
            Some(Format::Nvd)
        );
        assert_eq!(
            detect(br#"{"resultsPerPage":1,"vulnerabilities":[]}"#),
            Some(Format::Nvd)
        );
        // Told from their first keys, without reading the rest (here: not even valid JSON).
        assert_eq!(
            detect(br#"{"resultsPerPage":1,"format":"NVD_CVE","vulnerabilities":[{"#),
            Some(Format::Nvd)
        );
        assert_eq!(
            detect(br#"{"zlib":{"CVE-2023-1":{"scope":"local","releases":{"bookworm":{"#),
            Some(Format::DebianTracker)
        );
        assert_eq!(
            detect(br#"{"catalogVersion":"1","vulnerabilities":[]}"#),
            Some(Format::Kev)
        );
        assert_eq!(
            detect(br#"{"vulnerabilities":[{"cveID":"CVE-2023-4863"}]}"#),
            Some(Format::Kev)
        );
        assert_eq!(
            detect(b"#model_version:v1,score_date:2025-01-01\ncve,epss,percentile\n"),
            Some(Format::Epss)
        );
        assert_eq!(
            detect(b"cve,epss,percentile\nCVE-2023-4863,0.1,0.2\n"),
            Some(Format::Epss)
        );
        assert_eq!(detect(b"# just a comment\n"), None);
        assert_eq!(
            detect(br#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{}}"#),
            None
        );
        assert_eq!(detect(br#"{"hello":1}"#), None);
        assert_eq!(detect(b"hello"), None);
    }
}

/// Helpers of the importers' tests.
#[cfg(test)]
pub(crate) mod test_util {
    use crate::model::{FixStatus, Record};

    /// One affected entry as (record id, ecosystem, package, status, fixed version, notes).
    pub(crate) type Row = (
        String,
        String,
        String,
        FixStatus,
        Option<String>,
        Option<String>,
    );

    /// Every affected entry of `records`, in order.
    pub(crate) fn rows(records: &[Record]) -> Vec<Row> {
        records
            .iter()
            .flat_map(|r| &r.affected)
            .map(|e| {
                (
                    e.vuln_id.clone(),
                    e.ecosystem.clone(),
                    e.package.clone(),
                    e.status,
                    e.fixed_version.clone(),
                    e.notes.clone(),
                )
            })
            .collect()
    }

    /// A row of a fixed entry.
    pub(crate) fn fixed(id: &str, eco: &str, pkg: &str, version: &str, notes: Option<&str>) -> Row {
        (
            id.into(),
            eco.into(),
            pkg.into(),
            FixStatus::Fixed,
            Some(version.into()),
            notes.map(str::to_owned),
        )
    }

    /// A fixture of `crates/vulndb/tests/fixtures/distros`.
    pub(crate) fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/distros")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}
