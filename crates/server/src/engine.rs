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
use crate::db::{DbPool, Generation};
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
    checking: Arc<Flights<(String, Arc<ScanResult>)>>,
    scanning: Arc<Flights<Arc<ScanResult>>>,
    slots: Arc<Semaphore>,
    /// Every policy of the set and every built-in, with its version, computed once.
    versions: HashMap<String, (Arc<Policy>, String)>,
}

impl Engine {
    /// An engine reading the database in `db`.
    pub fn new(db: Arc<DbPool>, settings: EngineSettings, metrics: Arc<Metrics>) -> Self {
        let mut versions = HashMap::new();
        let ids = settings
            .policies
            .policies
            .iter()
            .map(|p| p.id.clone())
            .chain(
                portcullis_policy::BUILTIN_IDS
                    .iter()
                    .map(|id| (*id).to_string()),
            );
        for id in ids {
            if let Some(policy) = settings.policies.policy(&id) {
                let version = policy.version();
                versions.insert(id, (Arc::new(policy), version));
            }
        }
        Self {
            versions,
            db,
            policies: settings.policies,
            registry: settings.registry,
            credentials: settings.credentials,
            tag_ttl: settings.tag_ttl,
            metrics,
            verdicts: Mutex::new(BoundedMap::new(settings.cache_size)),
            latest: Mutex::new(BoundedMap::new(settings.cache_size)),
            tags: Mutex::new(HashMap::new()),
            checking: Arc::default(),
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

    /// The policy for `reference`, with its version.
    pub fn policy_for(&self, reference: &Reference) -> Option<(Arc<Policy>, String)> {
        let id = self.policies.select_id(
            reference.registry(),
            reference.repository(),
            reference.tag(),
        );
        if let Some(known) = self.versions.get(id) {
            return Some(known.clone());
        }
        let policy = self.policies.policy(id)?;
        let version = policy.version();
        Some((Arc::new(policy), version))
    }

    /// Judge `image` for a workload in `namespace` with `pull_secrets`. Past `deadline`
    /// (`None`: no limit) the answer is an unknown outcome while the work (resolution and
    /// scan) goes on in the background, so a retry finds the verdict cached.
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
        let Some((policy, policy_version)) = self.policy_for(&reference) else {
            check.outcome = Err("no policy applies to this image".to_string());
            return check;
        };
        if let Some(digest) = self.cached_digest(&reference) {
            let key = VerdictKey {
                digest: digest.clone(),
                policy: policy_version.clone(),
                database: generation.version.clone(),
            };
            if let Some(hit) = self.cached_verdict(&key) {
                self.count_lookup("hit");
                check.digest = Some(digest);
                check.outcome = Ok(hit);
                return check;
            }
        }
        self.count_lookup("miss");
        let flight_key = format!("{reference}|{policy_version}|{}", generation.version);
        let this = Arc::clone(self);
        let namespace = namespace.to_string();
        let pull_secrets = pull_secrets.to_vec();
        let ticket = self.checking.join(&flight_key, async move {
            this.resolve_and_scan(
                reference,
                namespace,
                pull_secrets,
                (policy, policy_version),
                generation,
            )
            .await
        });
        match ticket.wait(deadline).await {
            Some(Ok((digest, result))) => {
                check.digest = Some(digest);
                check.outcome = Ok(result);
            }
            Some(Err(reason)) => check.outcome = Err(reason),
            None => {
                check.digest = self.cached_digest_any(image);
                check.outcome = Err(
                    "not judged within the budget; the scan goes on and a retry will find its verdict"
                        .to_string(),
                );
            }
        }
        check
    }

    fn count_lookup(&self, result: &str) {
        self.metrics
            .cache_lookups
            .get_or_create(&label("result", result))
            .inc();
    }

    fn cached_digest(&self, reference: &Reference) -> Option<String> {
        if let Some(digest) = reference.digest() {
            return Some(digest.to_string());
        }
        let tags = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        let (at, digest) = tags.get(&reference.to_string())?;
        (at.elapsed() < self.tag_ttl).then(|| digest.clone())
    }

    /// The digest last resolved for `image`, however old.
    fn cached_digest_any(&self, image: &str) -> Option<String> {
        let reference = Reference::parse(image).ok()?;
        if let Some(digest) = reference.digest() {
            return Some(digest.to_string());
        }
        let tags = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        tags.get(&reference.to_string()).map(|(_, d)| d.clone())
    }

    fn cached_verdict(&self, key: &VerdictKey) -> Option<Arc<ScanResult>> {
        self.verdicts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    async fn resolve_and_scan(
        self: Arc<Self>,
        reference: Reference,
        namespace: String,
        pull_secrets: Vec<String>,
        (policy, policy_version): (Arc<Policy>, String),
        generation: Arc<Generation>,
    ) -> Landing<(String, Arc<ScanResult>)> {
        let creds = self
            .credentials
            .find(reference.registry(), &namespace, &pull_secrets)
            .await;
        let digest = match self.cached_digest(&reference) {
            Some(digest) => digest,
            None => {
                let options = self.registry.options(creds.clone());
                let owned = reference.clone();
                let resolved =
                    tokio::task::spawn_blocking(move || resolve_digest(&owned, &options))
                        .await
                        .map_err(|e| format!("resolving {reference}: {e}"))?
                        .map_err(|e| format!("registry unreachable or refused: {e}"))?
                        .to_string();
                self.tags
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(reference.to_string(), (Instant::now(), resolved.clone()));
                resolved
            }
        };
        let key = VerdictKey {
            digest: digest.clone(),
            policy: policy_version,
            database: generation.version.clone(),
        };
        if let Some(hit) = self.cached_verdict(&key) {
            return Ok((digest, hit));
        }
        let pinned = match digest.parse() {
            Ok(d) => reference.with_digest(d),
            Err(_) => reference.clone(),
        };
        let this = Arc::clone(&self);
        let scan_key = format!("{}|{}|{}", key.digest, key.policy, key.database);
        let ticket = self.scanning.join(&scan_key, async move {
            this.scan(key, pinned, policy, creds, generation).await
        });
        match ticket.wait(None).await {
            Some(Ok(result)) => Ok((digest, result)),
            Some(Err(e)) => Err(e),
            None => Err("scan abandoned".to_string()),
        }
    }

    async fn scan(
        self: Arc<Self>,
        key: VerdictKey,
        pinned: Reference,
        policy: Arc<Policy>,
        creds: Option<Credentials>,
        generation: Arc<Generation>,
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
