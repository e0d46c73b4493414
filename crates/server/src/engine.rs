//! The engine: image reference → digest → verdict, with a verdict cache keyed by (digest,
//! policy version, database version), single flight for identical concurrent work, and
//! inline scans bounded by a budget while the work itself runs to its end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_catalog::Catalog;
use portcullis_oci::{Credentials, Reference};
use portcullis_policy::{Policy, PolicySet};
use portcullis_scan::ScanResult;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::bounded::BoundedMap;
use crate::db::DbPool;
use crate::flight::{Flights, Landing};
use crate::metrics::{Metrics, label};
use crate::registry::{CredentialSource, RegistryAccess, pull_catalog, resolve_digest};

/// What the engine learned about one image.
#[derive(Debug, Clone)]
pub struct ImageCheck {
    /// The reference as written.
    pub image: String,
    /// The digest it resolved to.
    pub digest: Option<String>,
    /// The judged scan, or why there is none.
    pub outcome: Result<Arc<ScanResult>, String>,
}

/// The cache key of a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct VerdictKey {
    digest: String,
    policy: String,
    database: String,
}

/// Everything the engine needs, fixed at start.
#[derive(Debug)]
pub struct EngineSettings {
    /// The policies and their mappings.
    pub policies: PolicySet,
    /// Registry options.
    pub registry: RegistryAccess,
    /// Registry credentials from Secrets.
    pub credentials: CredentialSource,
    /// How long a tag's digest is reused.
    pub tag_ttl: Duration,
    /// Scans at once.
    pub scan_concurrency: usize,
    /// Verdicts kept.
    pub cache_size: usize,
}

/// Resolves, scans, judges and caches.
#[derive(Debug)]
pub struct Engine {
    db: Arc<DbPool>,
    policies: PolicySet,
    registry: RegistryAccess,
    credentials: CredentialSource,
    tag_ttl: Duration,
    metrics: Arc<Metrics>,
    verdicts: Mutex<BoundedMap<VerdictKey, Arc<ScanResult>>>,
    /// The latest scan of each digest (its catalog is re-matched when only the policy or
    /// the database changed, without pulling again).
    latest: Mutex<BoundedMap<String, Arc<ScanResult>>>,
    tags: Mutex<HashMap<String, (Instant, String)>>,
    resolving: Arc<Flights<String>>,
    scanning: Arc<Flights<Arc<ScanResult>>>,
    slots: Arc<Semaphore>,
}

impl Engine {
    /// An engine reading the database in `db`.
    pub fn new(db: Arc<DbPool>, settings: EngineSettings, metrics: Arc<Metrics>) -> Self {
        Self {
            db,
            policies: settings.policies,
            registry: settings.registry,
            credentials: settings.credentials,
            tag_ttl: settings.tag_ttl,
            metrics,
            verdicts: Mutex::new(BoundedMap::new(settings.cache_size)),
            latest: Mutex::new(BoundedMap::new(settings.cache_size)),
            tags: Mutex::new(HashMap::new()),
            resolving: Arc::default(),
            scanning: Arc::default(),
            slots: Arc::new(Semaphore::new(settings.scan_concurrency.max(1))),
        }
    }

    /// The database pool.
    pub fn db(&self) -> &Arc<DbPool> {
        &self.db
    }

    /// The policy set.
    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// The latest scan of `digest`, if any.
    pub fn latest(&self, digest: &str) -> Option<Arc<ScanResult>> {
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest.to_string())
            .cloned()
    }

    /// The policy for `reference`.
    pub fn policy_for(&self, reference: &Reference) -> Option<Policy> {
        self.policies.select(
            reference.registry(),
            reference.repository(),
            reference.tag(),
        )
    }

    /// Judge `image` for a workload in `namespace` with `pull_secrets`. Past `deadline`
    /// (`None`: no limit) the answer is an unknown outcome while the work goes on.
    pub async fn check(
        self: &Arc<Self>,
        image: &str,
        namespace: &str,
        pull_secrets: &[String],
        deadline: Option<Instant>,
    ) -> ImageCheck {
        let mut check = ImageCheck {
            image: image.to_string(),
            digest: None,
            outcome: Err(String::new()),
        };
        let reference = match Reference::parse(image) {
            Ok(r) => r,
            Err(e) => {
                check.outcome = Err(format!("invalid image reference: {e}"));
                return check;
            }
        };
        let Some(generation) = self.db.current() else {
            check.outcome = Err("no vulnerability database is loaded yet".to_string());
            return check;
        };
        let Some(policy) = self.policy_for(&reference) else {
            check.outcome = Err("no policy applies to this image".to_string());
            return check;
        };
        let cached_digest = self.cached_digest(&reference);
        let mut credentials: Option<Option<Credentials>> = None;
        let digest = match cached_digest {
            Some(digest) => digest,
            None => {
                let creds = self
                    .credentials
                    .find(reference.registry(), namespace, pull_secrets)
                    .await;
                credentials = Some(creds.clone());
                match self.resolve(&reference, creds, deadline).await {
                    Ok(digest) => digest,
                    Err(reason) => {
                        check.outcome = Err(reason);
                        return check;
                    }
                }
            }
        };
        check.digest = Some(digest.clone());
        let key = VerdictKey {
            digest: digest.clone(),
            policy: policy.version(),
            database: generation.version.clone(),
        };
        if let Some(hit) = self.cached_verdict(&key) {
            self.metrics
                .cache_lookups
                .get_or_create(&label("result", "hit"))
                .inc();
            check.outcome = Ok(hit);
            return check;
        }
        self.metrics
            .cache_lookups
            .get_or_create(&label("result", "miss"))
            .inc();
        let creds = match credentials {
            Some(c) => c,
            None => {
                self.credentials
                    .find(reference.registry(), namespace, pull_secrets)
                    .await
            }
        };
        let pinned = match digest.parse() {
            Ok(d) => reference.with_digest(d),
            Err(_) => reference.clone(),
        };
        let this = Arc::clone(self);
        let flight_key = format!("{}|{}|{}", key.digest, key.policy, key.database);
        let ticket = self.scanning.join(&flight_key, async move {
            this.scan(key, pinned, policy, creds, generation).await
        });
        check.outcome = match ticket.wait(deadline).await {
            Some(landing) => landing,
            None => Err(format!(
                "not scanned within the budget; the scan goes on and a retry will find its verdict"
            )),
        };
        check
    }

    fn cached_digest(&self, reference: &Reference) -> Option<String> {
        if let Some(digest) = reference.digest() {
            return Some(digest.to_string());
        }
        let tags = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        let (at, digest) = tags.get(&reference.to_string())?;
        (at.elapsed() < self.tag_ttl).then(|| digest.clone())
    }

    fn cached_verdict(&self, key: &VerdictKey) -> Option<Arc<ScanResult>> {
        self.verdicts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    async fn resolve(
        self: &Arc<Self>,
        reference: &Reference,
        creds: Option<Credentials>,
        deadline: Option<Instant>,
    ) -> Result<String, String> {
        let this = Arc::clone(self);
        let owned = reference.clone();
        let key = reference.to_string();
        let ticket = self.resolving.join(&key, async move {
            let options = this.registry.options(creds);
            let what = owned.clone();
            let digest = tokio::task::spawn_blocking(move || resolve_digest(&what, &options))
                .await
                .map_err(|e| format!("resolving: {e}"))??
                .to_string();
            this.tags
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(owned.to_string(), (Instant::now(), digest.clone()));
            Ok(digest)
        });
        match ticket.wait(deadline).await {
            Some(Ok(digest)) => Ok(digest),
            Some(Err(reason)) => Err(format!("registry unreachable or refused: {reason}")),
            None => Err("the registry did not answer within the budget".to_string()),
        }
    }

    async fn scan(
        self: Arc<Self>,
        key: VerdictKey,
        pinned: Reference,
        policy: Policy,
        creds: Option<Credentials>,
        generation: Arc<crate::db::Generation>,
    ) -> Landing<Arc<ScanResult>> {
        if let Some(hit) = self.cached_verdict(&key) {
            return Ok(hit);
        }
        let _slot = self.slots.acquire().await.map_err(|e| e.to_string())?;
        let started = std::time::Instant::now();
        let prior = self.latest(&key.digest);
        let (info, catalog) = match prior {
            Some(prior) => (
                prior.image.clone(),
                Catalog {
                    os: prior.os.clone(),
                    packages: prior.packages.clone(),
                    warnings: Vec::new(),
                },
            ),
            None => {
                let options = self.registry.options(creds);
                let pulled = tokio::task::spawn_blocking(move || pull_catalog(&pinned, &options))
                    .await
                    .map_err(|e| format!("scan: {e}"))?;
                match pulled {
                    Ok(pulled) => pulled,
                    Err(e) => {
                        self.metrics
                            .scans
                            .get_or_create(&label("result", "error"))
                            .inc();
                        return Err(e);
                    }
                }
            }
        };
        let matched = generation
            .run(move |db| {
                let mut result =
                    portcullis_scan::scan_catalog(&info, catalog, db).map_err(|e| e.to_string())?;
                portcullis_scan::judge(&mut result, &policy, unix_now());
                Ok::<_, String>(result)
            })
            .await
            .map_err(|e| e.to_string())?;
        let result = match matched {
            Ok(result) => Arc::new(result),
            Err(e) => {
                self.metrics
                    .scans
                    .get_or_create(&label("result", "error"))
                    .inc();
                return Err(e);
            }
        };
        self.metrics
            .scans
            .get_or_create(&label("result", "ok"))
            .inc();
        self.metrics
            .scan_seconds
            .observe(started.elapsed().as_secs_f64());
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.digest.clone(), Arc::clone(&result));
        self.verdicts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Arc::clone(&result));
        Ok(result)
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
