//! The Portcullis vulnerability database.
//!
//! - [`model`]: vulnerabilities, severities, affected entries, canonical ids.
//! - [`Database`]: the embedded SQLite store, read-only handle with [`Database::lookup`]
//!   (and [`Database::lookup_many`]), [`Database::records_for`] (and
//!   [`Database::records_for_many`]), [`Database::has_ecosystem`], [`Database::version`] and
//!   [`Database::status`].
//! - [`update_atomically`] and [`Builder`]: every change builds a new file next to the old
//!   one and renames it into place, holding the file's [`UpdateLock`] (`<db>.lock`; a second
//!   update fails at once with [`ErrorKind::Locked`]); [`Database::import_paths`] imports
//!   local files with formats detected by content ([`import`]).
//! - Readers never memory-map the file and refuse one changed in place
//!   ([`ErrorKind::Changed`]); [`Database::quick_check`] verifies a file before serving it.
//! - [`exploit`]: CISA's KEV catalog and FIRST's EPSS scores by CVE id
//!   ([`Database::exploitation_many`]).
//! - [`export`]: one checksummed file moving a whole database between machines.
//! - [`fetch`]: network sources with configurable base URLs, behind the [`fetch::Fetcher`]
//!   trait; [`schedule`]: the periodic updater.

pub mod artifact;
mod codec;
pub mod cvss2;
pub mod entries;
pub mod error;
pub mod exploit;
pub mod export;
pub mod fetch;
pub mod import;
pub mod model;
mod nvd_store;
pub mod schedule;
mod schema;
mod store;
pub mod time;

pub use entries::{EntryRef, EventRef, PackageEntries, RangeRef};
pub use error::{Error, ErrorKind, Result};
pub use exploit::{EpssScore, Exploitation, KevEntry};
pub use import::{ImportOptions, ImportProgress, ImportSummary};
pub use model::{
    AffectedEntry, Event, FixStatus, Range, RangeType, Record, Severity, SeverityKind,
    Vulnerability,
};
pub use schema::SCHEMA_VERSION;
pub use store::{
    Builder, Database, SourceMode, SourceStatus, Status, UpdateLock, default_path, lock_path,
    update_atomically,
};
