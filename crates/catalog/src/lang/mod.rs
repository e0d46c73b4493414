//! Language package catalogers: one module per ecosystem.
//!
//! - [`python`]: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` and `*.egg-info` files;
//! - [`npm`]: `node_modules/**/package.json` and `package-lock.json` (v1 to v3);
//! - [`rust`]: `Cargo.lock`, and the cargo-auditable `.dep-v0` section of binaries;
//! - [`golang`]: the `.go.buildinfo` of Go binaries;
//! - [`java`]: jar, war, ear (and Jenkins jpi/hpi) archives, nested ones included;
//! - [`binary`]: the one cataloger that opens executables, once each, for Go and Rust;
//!   [`sieve`] reads them as they stream by;
//! - [`zipstream`]: zip archives read by their local headers as they stream by (big jars).
//!
//! Every parser is a public function on bytes, so it can be fuzzed on its own.

pub mod binary;
pub mod golang;
pub mod java;
pub mod npm;
pub mod python;
pub mod rust;
pub mod sieve;
pub mod zipstream;

/// A trimmed, non-empty string.
fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
}
