//! What one scan produced.

use serde::{Deserialize, Serialize};

use crate::decision::{DbFreshness, Decision, SourceFreshness};
use crate::finding::Finding;
use crate::image::ImageInfo;
use crate::os::Os;
use crate::package::Package;

/// Everything one scan found: the image, its OS and packages, the findings, and (once a
/// policy ran) the decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanResult {
    /// The image as opened: reference, digests, platform, config, layers.
    pub image: ImageInfo,
    /// The detected operating system.
    pub os: Option<Os>,
    /// The advisory ecosystem of the OS packages (`Alpine:v3.20`), when there is one.
    pub os_ecosystem: Option<String>,
    /// Whether the database has vulnerability data for the image's OS.
    pub os_supported: bool,
    /// Every package, sorted.
    pub packages: Vec<Package>,
    /// One finding per (package, vulnerability), in output order.
    pub findings: Vec<Finding>,
    /// What could not be read or evaluated, each naming its file, package or record.
    pub warnings: Vec<String>,
    /// What leaves the package list incomplete (a package database or manifest not read
    /// completely: over a cap, an unresolvable link, truncated, corrupt), each naming the
    /// file and the reason. When there is any, the image is not judgeable: every policy
    /// rule on vulnerability data or vulnerable packages hits (see [`ScanResult::judgeable`]).
    pub errors: Vec<String>,
    /// The policy decision, once a policy judged the result.
    pub decision: Option<Decision>,
    /// The database the findings came from.
    pub database: DatabaseInfo,
}

impl ScanResult {
    /// Are the image's packages all known, so that its findings can be trusted?
    pub fn judgeable(&self) -> bool {
        self.errors.is_empty()
    }
}

/// The database a scan used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    /// When the database file was built (RFC 3339).
    pub built_at: Option<String>,
    /// Every source with its record count and update time.
    pub sources: Vec<DatabaseSource>,
}

/// One source of the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseSource {
    /// The source name (`alpine-secdb:v3.20/main`).
    pub name: String,
    /// Its record count.
    pub records: u64,
    /// When it was last updated (RFC 3339).
    pub updated_at: String,
}

impl DatabaseInfo {
    /// What the policy's stale-feed rule looks at.
    pub fn freshness(&self) -> DbFreshness {
        DbFreshness {
            built_at: self.built_at.clone(),
            sources: self
                .sources
                .iter()
                .map(|s| SourceFreshness {
                    name: s.name.clone(),
                    updated_at: s.updated_at.clone(),
                })
                .collect(),
        }
    }
}
