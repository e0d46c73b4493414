//! Integration tests of portcullis-lifecycle.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cluster;
mod helm;
mod manifests;
mod validate;

use std::path::PathBuf;

/// A spec fixture from `tests/specs`.
pub fn spec_text(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/specs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
