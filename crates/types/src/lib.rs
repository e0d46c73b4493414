//! The plain data types every Portcullis crate shares, as `kube-core` is to kube-rs.
//!
//! Data flows one way through the workspace: an image ([`ImageInfo`]) gives packages
//! ([`Package`], [`Os`]), matching gives findings ([`Finding`]), a policy gives a
//! [`Decision`], and a [`ScanResult`] carries them all to a report or an answer. These types
//! are plain serde values with no I/O, so the crates that only judge or render them
//! (`policy`, `report`, `webhook`, `lifecycle`) build without SQLite, HTTP, tar or zstd.

pub mod decision;
pub mod digest;
pub mod error;
pub mod finding;
pub mod image;
pub mod os;
pub mod package;
pub mod platform;
pub mod purl;
pub mod reference;
pub mod result;

pub use decision::{Action, DbFreshness, Decision, RuleResult, SourceFreshness};
pub use digest::Digest;
pub use error::{ParseError, ParseErrorKind};
pub use finding::{
    Finding, FindingEpss, FindingKev, FindingPackage, FindingStatus, Severity, sort_findings,
};
pub use image::{Healthcheck, ImageConfig, ImageInfo, LayerDescriptor, SourceKind};
pub use os::{Os, OsFamily};
pub use package::{Ecosystem, Extra, Package};
pub use platform::Platform;
pub use reference::Reference;
pub use result::{DatabaseInfo, DatabaseSource, ScanResult};
