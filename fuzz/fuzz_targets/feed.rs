#![no_main]
//! Any feed file, as `db import` reads it, never panics: format detection, bzip2 and gzip
//! decompression under a cap, and every parser behind them (OSV JSON and zip exports,
//! Alpine secdb, Debian and Oracle OVAL, DSA/DLA lists, the Debian tracker, Amazon
//! updateinfo, Photon, NVD, KEV, EPSS). What it accepts has a named source and ids, and
//! every problem names the file (or an entry or a line of it).
//!
//! The first byte picks the file name, which some formats read (Photon's release, EPSS's
//! date); the rest is the file.

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use portcullis_vulndb::ImportOptions;
use portcullis_vulndb::import::parse_feed;

const NAMES: [&str; 4] = [
    "feed.json",
    "cve_data_photon5.0.json",
    "epss_scores-2025-01-01.csv",
    "all.zip",
];

fuzz_target!(|data: &[u8]| {
    let Some((first, bytes)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(*first) % NAMES.len()];
    let options = ImportOptions {
        strict: false,
        max_file_size: 1 << 20,
        max_decompressed_size: 16 << 20,
        max_entry_size: 1 << 20,
    };
    let Ok((sources, problems)) = parse_feed(name, Path::new(name), bytes.to_vec(), &options)
    else {
        return;
    };
    for (source, records) in &sources {
        assert!(!source.is_empty());
        for record in records {
            assert!(!record.vuln.id.is_empty());
            assert!(!record.vuln.source.is_empty());
        }
    }
    // The file, an entry of it (`all.zip!entry.json`) or a line of it (`DSA.list:3`).
    for problem in &problems {
        let rest = problem.file.strip_prefix(name);
        assert!(
            rest.is_some_and(|r| r.is_empty() || r.starts_with('!') || r.starts_with(':')),
            "{problem}"
        );
    }
});
