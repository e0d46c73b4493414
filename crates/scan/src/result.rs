//! What one scan produced: the types live in `portcullis-types`.

use portcullis_vulndb::SourceStatus;

pub use portcullis_types::result::{DatabaseInfo, DatabaseSource, ScanResult};

/// The [`DatabaseInfo`] of a database's build time and sources.
pub(crate) fn database_info(built_at: Option<String>, sources: &[SourceStatus]) -> DatabaseInfo {
    DatabaseInfo {
        built_at,
        sources: sources
            .iter()
            .map(|s| DatabaseSource {
                name: s.name.clone(),
                records: s.records,
                updated_at: s.updated_at.clone(),
            })
            .collect(),
    }
}
