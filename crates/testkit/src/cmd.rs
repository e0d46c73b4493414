//! Running external tools and hashing.

use std::ffi::OsStr;
use std::process::Command;

use sha2::{Digest as _, Sha256};

use crate::require_tool;

/// Run `program` with `args`; panic with its stderr when it fails. Returns its stdout.
pub fn run<I, S>(program: &str, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let exe = require_tool(program);
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let output = Command::new(&exe)
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    if !output.status.success() {
        panic!(
            "{program} {:?} failed ({}):\n{}{}",
            args,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
