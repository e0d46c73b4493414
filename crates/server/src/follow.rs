//! Following a database artifact (`database.repository`): every `database.interval`, one
//! `HEAD` of the artifact's manifest; when its digest changed, the artifact is pulled by that
//! digest, verified (digests, schema, integrity, content id) and renamed over the database
//! file, and the pool loads it. When the artifact holds the content already loaded, only its
//! manifest and config are read. A failing reference (network, 429, 5xx, a bad artifact)
//! falls back to the next of `database.mirrors`; the database in place keeps serving.
//!
//! Replicas following the same tag converge on the same content id, which is part of every
//! verdict's cache key.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use portcullis_oci::{Digest, Reference, RegistryOptions};
use tokio::sync::Notify;

use crate::db::DbPool;
use crate::metrics::{Metrics, label};
use crate::registry::CredentialSource;

/// Where and how to follow.
#[derive(Debug)]
pub struct Follow {
    /// The artifact, then its fallbacks, in order.
    pub references: Vec<Reference>,
    /// Registry options (timeouts, CAs, insecure registries).
    pub options: RegistryOptions,
    /// Credentials from `database.secretName`.
    pub credentials: CredentialSource,
    /// Time between checks.
    pub interval: Duration,
}

/// What one check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// The digest is the one already followed.
    Unchanged,
    /// A new digest holding the content already loaded.
    SameContent(Digest),
    /// A new database was installed.
    Pulled(Digest),
}

/// Check forever (the task is aborted at shutdown).
pub async fn run(
    follow: Follow,
    pool: Arc<DbPool>,
    changed: Arc<Notify>,
    metrics: Arc<Metrics>,
    notifier: Arc<crate::notify::Notifier>,
) {
    let mut followed: Option<Digest> = None;
    loop {
        match check(&follow, &pool, followed.as_ref()).await {
            Ok((reference, outcome)) => {
                metrics.db_pull_error.clear();
                let result = match &outcome {
                    Checked::Unchanged => "unchanged",
                    Checked::SameContent(_) => "same_content",
                    Checked::Pulled(_) => "pulled",
                };
                metrics
                    .db_pulls
                    .get_or_create(&label("result", result))
                    .inc();
                match outcome {
                    Checked::Unchanged => {}
                    Checked::SameContent(digest) => followed = Some(digest),
                    Checked::Pulled(digest) => {
                        tracing::info!(%reference, %digest, "pulled a new vulnerability database");
                        followed = Some(digest);
                        changed.notify_one();
                    }
                }
            }
            Err(failures) => {
                metrics
                    .db_pulls
                    .get_or_create(&label("result", "failed"))
                    .inc();
                let message = failures.join("; ");
                tracing::warn!(error = %message, "following the database artifact failed; the database in place keeps serving");
                metrics.db_pull_error.clear();
                metrics
                    .db_pull_error
                    .get_or_create(&label(
                        "error",
                        &message.chars().take(300).collect::<String>(),
                    ))
                    .set(1);
                // Once per content id (the notifier deduplicates on it).
                notifier.emit(crate::notify::Event {
                    event: "database_stale".to_string(),
                    at: crate::engine::unix_now(),
                    message: format!(
                        "the database artifact could not be followed (the current database keeps serving): {message}"
                    ),
                    database: pool.current().map(|g| g.version.clone()),
                    ..crate::notify::Event::default()
                });
            }
        }
        tokio::time::sleep(follow.interval).await;
    }
}

/// One check through the references in order; the first that answers decides. Errors name
/// every reference tried.
pub async fn check(
    follow: &Follow,
    pool: &DbPool,
    followed: Option<&Digest>,
) -> Result<(Reference, Checked), Vec<String>> {
    let mut failures = Vec::new();
    for reference in &follow.references {
        let mut options = follow.options.clone();
        options.credentials = follow.credentials.find(reference.registry(), "", &[]).await;
        match check_one(reference, options, pool, followed).await {
            Ok(outcome) => return Ok((reference.clone(), outcome)),
            Err(e) => {
                tracing::debug!(%reference, error = %e, "database artifact check failed; trying the next");
                failures.push(format!("{reference}: {e}"));
            }
        }
    }
    Err(failures)
}

async fn check_one(
    reference: &Reference,
    options: RegistryOptions,
    pool: &DbPool,
    followed: Option<&Digest>,
) -> Result<Checked, String> {
    let head = {
        let (reference, options) = (reference.clone(), options.clone());
        tokio::task::spawn_blocking(move || {
            portcullis_dbshare::current_digest(&reference, &options)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?
    };
    if followed == Some(&head) {
        return Ok(Checked::Unchanged);
    }
    let installed = pool.current().map(|g| g.version.clone());
    let db_path: PathBuf = pool.path().to_path_buf();
    let pinned = reference.with_digest(head.clone());
    let pulled = tokio::task::spawn_blocking(move || {
        portcullis_dbshare::pull_unless(&db_path, &pinned, &options, installed.as_deref())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    Ok(match pulled {
        portcullis_dbshare::Pull::Unchanged { digest, .. } => Checked::SameContent(digest),
        portcullis_dbshare::Pull::Installed(pulled) => Checked::Pulled(pulled.digest),
    })
}
