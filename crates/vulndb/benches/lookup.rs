//! Lookup latency: `cargo bench -p portcullis-vulndb` imports the testdata advisories into a
//! temporary database, then times `Database::lookup` for a few packages and prints the
//! median and 99th percentile (plain `Instant`, no harness).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use portcullis_vulndb::{Database, ImportOptions};

const ITERATIONS: usize = 20_000;

fn testdata() -> PathBuf {
    match std::env::var_os("PORTCULLIS_TESTDATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
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
    let path = dir.path().join("db.sqlite");
    let start = Instant::now();
    Database::import_paths(&path, &[advisories], &ImportOptions::default())?;
    let import = start.elapsed();
    let size = std::fs::metadata(&path)?.len();
    println!(
        "import of all testdata advisories: {:.2} s, database {:.1} MiB",
        import.as_secs_f64(),
        size as f64 / (1024.0 * 1024.0)
    );
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
        "{:<28} {:>8} {:>12} {:>12}",
        "lookup", "entries", "median", "p99"
    );
    for (ecosystem, package) in cases {
        let entries = db.lookup(ecosystem, package)?.len();
        let mut samples: Vec<Duration> = Vec::with_capacity(ITERATIONS);
        for _ in 0..ITERATIONS {
            let start = Instant::now();
            let found = db.lookup(ecosystem, package)?;
            samples.push(start.elapsed());
            std::hint::black_box(found);
        }
        samples.sort();
        let median = samples[samples.len() / 2];
        let p99 = samples[samples.len() * 99 / 100];
        println!(
            "{:<28} {:>8} {:>9.1} µs {:>9.1} µs",
            format!("{ecosystem} {package}"),
            entries,
            median.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
    Ok(())
}
