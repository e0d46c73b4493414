//! Import files into a database and print the summary, status and timing:
//! `cargo run --release -p portcullis-vulndb --example import -- DB PATH...`

use std::path::PathBuf;
use std::time::Instant;

use portcullis_vulndb::{Database, ImportOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let db = args.next().ok_or("usage: import DB PATH...")?;
    let inputs: Vec<PathBuf> = args.collect();
    let start = Instant::now();
    let summary = Database::import_paths(&db, &inputs, &ImportOptions::default())?;
    let elapsed = start.elapsed();
    let status = Database::open(&db)?.status()?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    println!("{}", serde_json::to_string_pretty(&status)?);
    let size = std::fs::metadata(&db)?.len();
    println!(
        "imported in {:.2} s; database {} bytes",
        elapsed.as_secs_f64(),
        size
    );
    Ok(())
}
