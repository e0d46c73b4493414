//! Matching installed packages against the vulnerability database.
//!
//! [`match_packages`] takes the packages of one image (and its OS) and an
//! [`AdvisorySource`] (the SQLite [`portcullis_vulndb::Database`], or a [`MemorySource`])
//! and returns one [`Finding`] per (package, vulnerability):
//!
//! - OS packages match only their own distribution release, by source package
//!   ([`ecosystem`]); language packages match OSV by ecosystem and normalised name.
//! - Red Hat images are looked up in the repository streams their content manifests name,
//!   and on the rpm distributions with modules a module build's fix applies only to module
//!   builds, a non-modular fix only to non-modular packages ([`rpm`]).
//! - Versions are compared with the ecosystem's comparator, with OSV range semantics
//!   (introduced, fixed, last_affected, limit, explicit versions); GIT ranges never match;
//!   unparseable versions skip the range with a warning.
//! - Records of one flaw share a canonical id (the CVE when the flaw has exactly one, else
//!   the record's own id; see [`portcullis_vulndb::model`]). The finding's `id` is that
//!   canonical id and every other id (GHSA, PYSEC, GO, RUSTSEC, the distro's) is an alias.
//! - Severity: the distribution's rating, else NVD's own metric, else the CNA's, else the
//!   advisory's (see `severity.rs` for the exact rule), with its source.
//! - Exploitation: each finding carries the CISA KEV entry and the highest EPSS score of
//!   the CVE ids it carries (its id, its aliases, and the CVEs its records list as
//!   `related`), looked up in one batch per scan.

pub mod ecosystem;
pub mod error;
pub mod finding;
mod matching;
mod range;
pub mod rpm;
mod severity;
pub mod source;

pub use ecosystem::{Query, os_ecosystem, queries_for, query_for};
pub use error::{Error, ErrorKind, Result};
pub use finding::{
    Finding, FindingEpss, FindingKev, FindingPackage, FindingStatus, Severity, sort_findings,
};
pub use matching::{MatchOutput, match_packages};
pub use source::{AdvisorySource, AffectedMap, MemorySource, RecordMap};
