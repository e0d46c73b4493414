//! One scan, the same from the CLI and the server.
//!
//! [`scan_image`] reads an opened image's layers once, catalogs its packages, matches them
//! against the vulnerability database and returns a [`ScanResult`]; [`judge`] then runs a
//! policy over it. Filters that drop findings (severity, unfixed, ignore files, VEX) run
//! between the two, so the policy sees what the user asked to see.

mod doc;
mod error;
pub mod filter;
pub mod ignore;
mod purl;
mod result;
pub mod vex;

pub use doc::{MAX_FILTER_DOCUMENT_LEN, MAX_FILTER_ITEMS};
pub use error::{Error, ErrorKind, Result};
pub use filter::{
    FilterSummary, Filters, SuppressedBy, Suppression, apply_filters, parse_severity_list,
};
pub use ignore::{IgnoreEntry, IgnoreFile};
pub use result::{DatabaseInfo, DatabaseSource, ScanResult};
pub use vex::{VexDocument, VexStatement, VexStatus};

use portcullis_catalog::{Catalog, CatalogFilter};
use portcullis_matcher::match_packages;
use portcullis_oci::{Image, ImageInfo, Limits, Progress};
use portcullis_policy::{Policy, PolicyInput};
use portcullis_vulndb::Database;

/// Read `image` (every layer once, only the files the catalogers want), catalog it and
/// match its packages against `db`. Unevaluable entries become warnings in the result;
/// package databases that could not be read completely become
/// [`ScanResult::errors`], which make the image not judgeable (not a scan failure).
pub fn scan_image(
    image: &Image,
    limits: &Limits,
    db: &Database,
    progress: &dyn Progress,
) -> Result<ScanResult> {
    let catalog = catalog_image(image, limits, progress)?;
    scan_catalog(image.info(), catalog, db)
}

/// Read `image`'s layers and catalog them (the first half of [`scan_image`]).
pub fn catalog_image(image: &Image, limits: &Limits, progress: &dyn Progress) -> Result<Catalog> {
    let filter = CatalogFilter::new().map_err(|e| Error::image(&image.info().reference, e))?;
    let files = image
        .read_files_with_progress(&filter, limits, progress)
        .map_err(|e| Error::image(&image.info().reference, e))?;
    let mut catalog = portcullis_catalog::catalog_all(&files);
    let mut warnings: Vec<_> = files.warnings.iter().map(ToString::to_string).collect();
    warnings.extend(catalog.warnings.iter().map(ToString::to_string));
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    catalog.packages.sort();
    Ok(catalog)
}

/// Match an already catalogued image against `db` (the second half of [`scan_image`]).
pub fn scan_catalog(info: &ImageInfo, catalog: Catalog, db: &Database) -> Result<ScanResult> {
    let matched = match_packages(catalog.os.as_ref(), &catalog.packages, db)
        .map_err(|e| Error::database(db, e))?;
    let os_supported = match &matched.os_ecosystem {
        // Streams are only listed when the database has them.
        Some(_) if !matched.os_streams.is_empty() => true,
        Some(ecosystem) => db
            .has_ecosystem(ecosystem)
            .map_err(|e| Error::database(db, e))?,
        // No OS packages to match (scratch, distroless static) counts as supported; an OS
        // we know nothing about does not.
        None => catalog.os.is_none(),
    };
    // Not `status()`: its row counts cost tens of milliseconds on a full database.
    let built_at = db.built_at().map_err(|e| Error::database(db, e))?;
    let sources = db.sources().map_err(|e| Error::database(db, e))?;
    let (errors, warnings): (Vec<_>, Vec<_>) = catalog.warnings.iter().partition(|w| w.is_error());
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let mut warnings: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    warnings.extend(matched.warnings);
    if let Some(os) = catalog.os.as_ref().filter(|_| !os_supported) {
        let warning = unsupported_os_warning(os, matched.os_ecosystem.as_deref());
        tracing::warn!("{warning}");
        warnings.push(warning);
    }
    for error in &errors {
        tracing::error!("not judgeable: {error}");
    }
    tracing::info!(
        packages = catalog.packages.len(),
        findings = matched.findings.len(),
        "scanned {}",
        info.reference
    );
    Ok(ScanResult {
        image: info.clone(),
        os: catalog.os,
        os_ecosystem: matched.os_ecosystem,
        os_supported,
        packages: catalog.packages,
        findings: matched.findings,
        warnings,
        errors,
        decision: None,
        database: result::database_info(built_at, &sources),
    })
}

/// What a scan of an OS without vulnerability data says: which release, and which
/// ecosystem (and OSV export) is missing from the database, or that no source covers it.
pub fn unsupported_os_warning(os: &portcullis_catalog::Os, ecosystem: Option<&str>) -> String {
    let release = os.distro_qualifier();
    match ecosystem {
        Some(ecosystem) => {
            let (export, version) = ecosystem.split_once(':').unwrap_or((ecosystem, ""));
            let source = match export {
                "Oracle Linux" => "oracle-oval".to_owned(),
                "Amazon Linux" => format!("alas:{version}"),
                "Photon OS" => format!("photon:{version}"),
                _ => format!("osv:{export}"),
            };
            format!(
                "{release}: the database has no vulnerability data for ecosystem {ecosystem} \
                 (source {source}); the OS packages were not checked"
            )
        }
        None => format!(
            "{release}: no vulnerability source covers this distribution or release; the OS \
             packages were not checked"
        ),
    }
}

/// The catalog behind a previous scan (its OS, packages, and the errors that made it not
/// judgeable), to match it again against another database without reading the image.
/// Keeps the errors: an image whose package list was incomplete stays not judgeable.
pub fn prior_catalog(result: &ScanResult) -> Catalog {
    Catalog {
        os: result.os.clone(),
        packages: result.packages.clone(),
        warnings: error_warnings(&result.errors),
    }
}

/// A scan result's `errors` back as error-level catalog warnings, so that re-matching a
/// stored catalogue keeps the image not judgeable.
pub fn error_warnings(errors: &[String]) -> Vec<portcullis_catalog::Warning> {
    errors
        .iter()
        .map(|e| match e.split_once(": ") {
            Some((location, message)) => portcullis_catalog::Warning::error(location, message),
            None => portcullis_catalog::Warning::error("", e.as_str()),
        })
        .collect()
}

/// Run `policy` over `result` (its findings as they are now) and store the decision.
pub fn judge(result: &mut ScanResult, policy: &Policy, now: i64) {
    let freshness = result.database.freshness();
    let decision = portcullis_policy::evaluate(
        policy,
        &PolicyInput {
            image: &result.image,
            findings: &result.findings,
            database: Some(&freshness),
            os_supported: result.os_supported,
            package_errors: &result.errors,
            now,
        },
    );
    result.decision = Some(decision);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_os_warnings_name_the_default_source() {
        let os = |id: &str, version: &str| {
            portcullis_catalog::os::from_os_release(
                &format!("ID={id}\nVERSION_ID={version}\n"),
                "etc/os-release",
            )
            .expect("os-release")
        };
        let cases = [
            ("ol", "9.3", "Oracle Linux:9", "oracle-oval"),
            ("amzn", "2023", "Amazon Linux:2023", "alas:2023"),
            ("photon", "5.0", "Photon OS:5.0", "photon:5.0"),
            ("almalinux", "9.8", "AlmaLinux:9", "osv:AlmaLinux"),
        ];
        for (id, version, ecosystem, source) in cases {
            assert_eq!(
                unsupported_os_warning(&os(id, version), Some(ecosystem)),
                format!(
                    "{id}-{version}: the database has no vulnerability data for ecosystem \
                     {ecosystem} (source {source}); the OS packages were not checked"
                )
            );
        }
    }
}
