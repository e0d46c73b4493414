//! Lookup latency: `cargo bench -p portcullis-vulndb` imports the testdata advisories into a
//! temporary database, then times `Database::entries` for a few packages, reading every
//! field of every entry (ranges, events and versions included), and prints the median and
//! 99th percentile beside the target (plain `Instant`, no harness), with the medians of
//! `Database::entries` alone (fetch and check) and of the owned `Database::lookup`; then the batch calls the
//! matcher makes: `entries_many` for every package of the Alpine v3.20 secdb and
//! `records_for_many` (and `finding_records_many`, the matcher's) for every canonical id
//! found.
//!
//! `PORTCULLIS_TESTDATA=/path cargo bench -p portcullis-vulndb --bench lookup`; set
//! `PORTCULLIS_BENCH_DB=/abs/path.sqlite` to keep the import between runs (delete it when the
//! storage format changes) and `PORTCULLIS_BENCH_ONLY=linux` to time only the lookups whose
//! `ecosystem package` contains that text (no batches; e.g. to profile one).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use portcullis_vulndb::{Database, EventRef, ImportOptions, PackageEntries};

const ITERATIONS: usize = 20_000;

/// The target for every lookup's median (issue 17), in µs.
const LOOKUP_TARGET_US: u32 = 50;

/// The median and 99th percentile of `ITERATIONS` timings of `f`.
fn samples(
    mut f: impl FnMut() -> Result<(), Box<dyn std::error::Error>>,
) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    let mut samples: Vec<Duration> = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let start = Instant::now();
        f()?;
        samples.push(start.elapsed());
    }
    samples.sort();
    Ok((
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    ))
}

/// Read every field of every entry, ranges, events and versions included, as a matcher
/// would: a sum of lengths, so nothing is optimised away.
fn read_all(entries: &PackageEntries) -> usize {
    let mut n = 0;
    for e in entries {
        n += e.vuln_id.len() + e.canonical_id.len() + e.source.len() + e.package.len();
        n += e.ecosystem.len() + e.fixed_version.map_or(0, str::len) + e.notes.map_or(0, str::len);
        n += e.status as usize;
        for range in e.ranges() {
            n += range.repo.map_or(0, str::len);
            for event in range.events() {
                n += match event {
                    EventRef::Introduced(v)
                    | EventRef::Fixed(v)
                    | EventRef::LastAffected(v)
                    | EventRef::Limit(v) => v.len(),
                };
            }
        }
        n += e.versions().map(str::len).sum::<usize>();
    }
    n
}

fn testdata() -> PathBuf {
    match std::env::var_os("PORTCULLIS_TESTDATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let advisories = testdata().join("advisories");
    if !advisories.is_dir() {
        return Err(format!(
            "testdata not found at {} (set PORTCULLIS_TESTDATA)",
            advisories.display()
        )
        .into());
    }
    let dir = tempfile::tempdir()?;
    // PORTCULLIS_BENCH_DB: an existing import of all the testdata advisories, to skip the
    // import (e.g. to profile the lookups alone).
    let path = match std::env::var_os("PORTCULLIS_BENCH_DB") {
        Some(path) => PathBuf::from(path),
        None => dir.path().join("db.sqlite"),
    };
    if !path.exists() {
        let start = Instant::now();
        Database::import_paths(
            &path,
            std::slice::from_ref(&advisories),
            &ImportOptions::default(),
        )?;
        let import = start.elapsed();
        let size = std::fs::metadata(&path)?.len();
        println!(
            "import of all testdata advisories: {:.2} s, database {:.1} MiB",
            import.as_secs_f64(),
            size as f64 / (1024.0 * 1024.0)
        );
    }
    let db = Database::open(&path)?;
    let cases = [
        ("Alpine:v3.20", "openssl"),
        ("Alpine:v3.9", "musl"),
        ("Debian:12", "glibc"),
        ("Debian:12", "linux"),
        ("Go", "stdlib"),
        ("PyPI", "django"),
        ("crates.io", "no-such-crate"),
    ];
    println!(
        "{:<36} {:>8} {:>12} {:>12} {:>8}   {:>14} {:>12}",
        "lookup (borrowed, every field read)",
        "entries",
        "median",
        "p99",
        "target",
        "entries() only",
        "owned lookup"
    );
    let only = std::env::var("PORTCULLIS_BENCH_ONLY").ok();
    for (ecosystem, package) in cases {
        if let Some(only) = &only
            && !format!("{ecosystem} {package}").contains(only.as_str())
        {
            continue;
        }
        let entries = db.entries(ecosystem, package)?.len();
        let borrowed = samples(|| {
            let found = db.entries(ecosystem, package)?;
            std::hint::black_box(read_all(&found));
            Ok(())
        })?;
        let checked = samples(|| {
            std::hint::black_box(db.entries(ecosystem, package)?);
            Ok(())
        })?;
        let owned = samples(|| {
            std::hint::black_box(db.lookup(ecosystem, package)?);
            Ok(())
        })?;
        println!(
            "{:<36} {:>8} {:>9.1} µs {:>9.1} µs {:>5} µs   {:>11.1} µs {:>9.1} µs",
            format!("{ecosystem} {package}"),
            entries,
            borrowed.0.as_secs_f64() * 1e6,
            borrowed.1.as_secs_f64() * 1e6,
            LOOKUP_TARGET_US,
            checked.0.as_secs_f64() * 1e6,
            owned.0.as_secs_f64() * 1e6,
        );
    }
    if only.is_some() {
        return Ok(());
    }
    batches(&db, &advisories)
}

/// The median of `runs` timings of `f`.
fn median_of(
    runs: usize,
    mut f: impl FnMut() -> Result<(), Box<dyn std::error::Error>>,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        samples.push(start.elapsed());
    }
    samples.sort();
    Ok(samples[samples.len() / 2])
}

fn batches(db: &Database, advisories: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut names = Vec::new();
    for repo in ["main", "community"] {
        let text = std::fs::read(advisories.join(format!("alpine-secdb/v3.20/{repo}.json")))?;
        let doc: serde_json::Value = serde_json::from_slice(&text)?;
        for package in doc["packages"].as_array().into_iter().flatten() {
            if let Some(name) = package["pkg"]["name"].as_str() {
                names.push(("Alpine:v3.20".to_owned(), name.to_owned()));
            }
        }
    }
    let found = db.entries_many(&names)?;
    let entries: usize = found.values().map(PackageEntries::len).sum();
    let mut ids: Vec<String> = found
        .values()
        .flatten()
        .map(|e| e.canonical_id.to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    let records: usize = db.records_for_many(&ids)?.values().map(Vec::len).sum();
    let lookups = median_of(50, || {
        let found = db.entries_many(&names)?;
        std::hint::black_box(found.values().map(read_all).sum::<usize>());
        Ok(())
    })?;
    let singles = median_of(50, || {
        for (ecosystem, name) in &names {
            std::hint::black_box(read_all(&db.entries(ecosystem, name)?));
        }
        Ok(())
    })?;
    let by_id = median_of(20, || {
        std::hint::black_box(db.records_for_many(&ids)?);
        Ok(())
    })?;
    println!(
        "entries_many of {} Alpine:v3.20 packages ({entries} entries, every field read): median {:.2} ms (one by one: {:.2} ms)",
        names.len(),
        lookups.as_secs_f64() * 1e3,
        singles.as_secs_f64() * 1e3
    );
    let finding: usize = db.finding_records_many(&ids)?.values().map(Vec::len).sum();
    let for_findings = median_of(20, || {
        std::hint::black_box(db.finding_records_many(&ids)?);
        Ok(())
    })?;
    println!(
        "records_for_many of {} canonical ids ({records} records): median {:.2} ms",
        ids.len(),
        by_id.as_secs_f64() * 1e3
    );
    println!(
        "finding_records_many of the same ids ({finding} records, bare ones left out): median {:.2} ms",
        for_findings.as_secs_f64() * 1e3
    );
    Ok(())
}
