//! The engine: image reference → digest → verdict, with a verdict cache keyed by (digest,
//! policy version, database version), single flight for identical concurrent work, and
//! inline scans bounded by a budget while the work itself runs to its end or to its
//! overall deadline.
//!
//! Isolation: registry I/O runs on its own bounded threads ([`RegistryThreads`]), scans
//! take a slot of a [`HostLimit`] (a fair queue per registry host under the global limit),
//! and every registry operation has an overall deadline after which it is abandoned and
//! its place freed.
//!
//! Memory: every cache is bounded (see [`EngineSettings`]); verdicts keep findings and the
//! decision, never the package list, which only the byte-bounded catalogue cache keeps.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use portcullis_catalog::{Catalog, Os, Package};
use portcullis_oci::{Credentials, Digest, ImageInfo, ImageOptions, Reference, RegistryToken};
use portcullis_policy::{Policy, PolicySet};
use portcullis_scan::ScanResult;
use portcullis_types::error::Chain;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::bounded::BoundedMap;
use crate::check_error::{CheckError, CheckErrorKind};
use crate::db::{DbPool, Generation};
use crate::flight::{Flights, Landing};
use crate::limits::{HostLimit, RegistryThreads};
use crate::metrics::{Metrics, label};
use crate::registry::{
    CredentialSource, RegistryAccess, fetch_manifest_digest, pull_catalog, resolve_digest,
};
use crate::remote::RemoteEngine;

/// What the engine learned about one image.
#[derive(Debug, Clone)]
pub struct ImageCheck {
    /// The reference as written.
    pub image: String,
    /// The digest it resolved to.
    pub digest: Option<String>,
    /// The judged scan (without its package list), or why there is none.
    pub outcome: Result<Arc<ScanResult>, CheckError>,
}

/// Why a scan ran: what the scan log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// An admission review.
    Admission,
    /// The inventory of what runs (a database change, a new digest, the rescan interval).
    Rescan,
    /// `POST /api/v1/scans`.
    Api,
    /// A Harbor scan request.
    Harbor,
    /// A replica in remote engine mode (`POST /api/v1/engine/check`).
    Remote,
}

/// Registry access a caller brings along (Harbor's scan requests), used instead of the
/// cluster's pull secrets. `Debug` shows no secret.
#[derive(Clone, Default)]
pub struct GivenAccess {
    /// Username and password for the registry (and its token service).
    pub credentials: Option<Credentials>,
    /// A registry token sent as it is.
    pub token: Option<RegistryToken>,
    /// Whether the registry may be reached over plain HTTP.
    pub plain_http: bool,
}

impl std::fmt::Debug for GivenAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GivenAccess")
            .field("credentials", &self.credentials.is_some())
            .field("token", &self.token.is_some())
            .field("plain_http", &self.plain_http)
            .finish()
    }
}

/// Where the registry credentials of one check come from.
enum Access {
    /// A workload's pull secrets, then the configured registry Secrets.
    Cluster {
        namespace: String,
        pull_secrets: Vec<String>,
    },
    /// The caller's.
    Given(GivenAccess),
}

/// One scan the engine did (a pull and match, or a re-match of a cached catalogue).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanLogEntry {
    /// When it ended (seconds since the Unix epoch).
    pub at: i64,
    /// What asked for it (the first asker, when several joined one scan).
    pub trigger: Trigger,
    /// The reference scanned, pinned to its digest.
    pub image: String,
    /// The manifest digest.
    pub digest: String,
    /// The database content id it was matched against.
    pub database: String,
    /// `pull` (image pulled and catalogued) or `rematch` (cached catalogue matched again).
    pub work: &'static str,
    /// `ok` or `error`.
    pub result: &'static str,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The kind of failure (`unauthorized`, `not_found`, `unreachable`, `timeout`,
    /// `too_large`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// How long it took.
    pub duration_seconds: f64,
}

/// The cache key of a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct VerdictKey {
    digest: String,
    policy: String,
    database: String,
}

/// A pulled image's catalogue, kept to re-judge it without pulling again.
#[derive(Debug)]
struct StoredCatalog {
    info: ImageInfo,
    os: Option<Os>,
    packages: Vec<Package>,
    /// Package databases that could not be read completely: a re-match stays not judgeable.
    errors: Vec<String>,
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
    /// Most tag → digest entries kept.
    pub tag_cache_size: usize,
    /// Scans at once.
    pub scan_concurrency: usize,
    /// Scans at once against one registry host.
    pub scan_concurrency_per_registry: usize,
    /// Threads doing registry I/O at once.
    pub registry_threads: usize,
    /// Registry I/O threads for one registry host.
    pub registry_threads_per_registry: usize,
    /// Overall deadline of one tag resolution.
    pub resolve_timeout: Duration,
    /// Overall deadline of one scan (slot wait, pull, catalogue).
    pub scan_timeout: Duration,
    /// Background checks running or waiting at once.
    pub background_checks: usize,
    /// Verdicts kept (also the number of per-digest summaries kept).
    pub cache_size: usize,
    /// Estimated bytes of package catalogues kept.
    pub catalog_cache_bytes: u64,
    /// Scan log entries kept (the oldest are dropped).
    pub scan_log_size: usize,
    /// A central engine doing the scans (remote engine mode), instead of the local database.
    pub remote: Option<Arc<RemoteEngine>>,
}

/// The answer to a lookup that needs no registry work, or what the work needs.
enum Prepared {
    Done(ImageCheck),
    /// The verdict for the digest a tag last resolved to, past `tagCacheTtl`: answered at
    /// once while the tag is resolved again in the background (a registry round trip never
    /// stalls the admissions of an image already judged).
    Stale(ImageCheck, Pending),
    Pending(Pending),
}

struct Pending {
    check: ImageCheck,
    reference: Reference,
    policy: Arc<Policy>,
    policy_version: String,
    /// The local database (`None` in remote engine mode).
    generation: Option<Arc<Generation>>,
    /// The content id verdicts are cached under: the local database's or the engine's.
    database: String,
}

/// The scan log: at most `capacity` entries, oldest dropped first.
#[derive(Debug)]
struct ScanLog {
    capacity: usize,
    entries: VecDeque<ScanLogEntry>,
}

/// A policy set with every policy of it and every built-in, with its version, computed
/// once per set.
#[derive(Debug)]
struct LoadedPolicies {
    set: Arc<PolicySet>,
    versions: HashMap<String, (Arc<Policy>, String)>,
}

impl LoadedPolicies {
    fn new(set: PolicySet) -> Self {
        let mut versions = HashMap::new();
        let ids = set.policies.iter().map(|p| p.id.clone()).chain(
            portcullis_policy::BUILTIN_IDS
                .iter()
                .map(|id| (*id).to_string()),
        );
        for id in ids {
            if let Some(policy) = set.policy(&id) {
                let version = policy.version();
                versions.insert(id, (Arc::new(policy), version));
            }
        }
        Self {
            set: Arc::new(set),
            versions,
        }
    }
}

/// Resolves, scans, judges and caches.
#[derive(Debug)]
pub struct Engine {
    db: Arc<DbPool>,
    /// The policy set in force with the versions of its policies, swapped whole when the
    /// configuration file's `policy` section changes.
    policies: RwLock<Arc<LoadedPolicies>>,
    registry: RegistryAccess,
    credentials: CredentialSource,
    tag_ttl: Duration,
    resolve_timeout: Duration,
    scan_timeout: Duration,
    metrics: Arc<Metrics>,
    /// Verdicts by (digest, policy, database); bounded by `cache_size` entries.
    verdicts: Mutex<BoundedMap<VerdictKey, Arc<ScanResult>>>,
    /// The latest scan summary of each digest (for the REST API); `cache_size` entries.
    latest: Mutex<BoundedMap<String, Arc<ScanResult>>>,
    /// Package catalogues by digest, re-matched when only the policy or the database
    /// changed; bounded by `catalog_cache_bytes` (estimated).
    catalogs: Mutex<BoundedMap<String, Arc<StoredCatalog>>>,
    /// Tag → (resolved at, digest); `tag_cache_size` entries, each for `tag_ttl`.
    tags: Mutex<BoundedMap<String, (Instant, String)>>,
    checking: Arc<Flights<(String, Arc<ScanResult>)>>,
    scanning: Arc<Flights<Arc<ScanResult>>>,
    /// Scan slots: `scan_concurrency`, `scan_concurrency_per_registry` per host.
    slots: HostLimit,
    /// Blocking threads for registry I/O.
    threads: RegistryThreads,
    /// Background checks of images past a review's inline cap.
    background: Arc<Semaphore>,
    /// The scans done, newest last; `scan_log_size` entries.
    scan_log: Mutex<ScanLog>,
    /// The central engine, in remote engine mode.
    remote: Option<Arc<RemoteEngine>>,
}

impl Engine {
    /// An engine reading the database in `db`.
    pub fn new(db: Arc<DbPool>, settings: EngineSettings, metrics: Arc<Metrics>) -> Self {
        Self {
            db,
            policies: RwLock::new(Arc::new(LoadedPolicies::new(settings.policies))),
            registry: settings.registry,
            credentials: settings.credentials,
            tag_ttl: settings.tag_ttl,
            resolve_timeout: settings.resolve_timeout,
            scan_timeout: settings.scan_timeout,
            metrics,
            verdicts: Mutex::new(BoundedMap::new(settings.cache_size)),
            latest: Mutex::new(BoundedMap::new(settings.cache_size)),
            catalogs: Mutex::new(BoundedMap::weighed(
                settings.cache_size,
                settings.catalog_cache_bytes,
            )),
            tags: Mutex::new(BoundedMap::new(settings.tag_cache_size)),
            checking: Arc::default(),
            scanning: Arc::default(),
            slots: HostLimit::new(
                settings.scan_concurrency,
                settings.scan_concurrency_per_registry,
            ),
            threads: RegistryThreads::new(
                settings.registry_threads,
                settings.registry_threads_per_registry,
            ),
            background: Arc::new(Semaphore::new(settings.background_checks)),
            scan_log: Mutex::new(ScanLog {
                capacity: settings.scan_log_size.max(1),
                entries: VecDeque::new(),
            }),
            remote: settings.remote,
        }
    }

    /// The scans done (at most `scanLogSize`), newest first.
    pub fn scan_log(&self) -> Vec<ScanLogEntry> {
        self.scan_log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .iter()
            .rev()
            .cloned()
            .collect()
    }

    fn log_scan(&self, entry: ScanLogEntry) {
        let mut log = self.scan_log.lock().unwrap_or_else(|e| e.into_inner());
        log.entries.push_back(entry);
        while log.entries.len() > log.capacity {
            log.entries.pop_front();
        }
    }

    /// Whether a central engine scans for this one (remote engine mode).
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// The content id verdicts are judged with now: the local database's, or the central
    /// engine's in remote engine mode.
    pub fn database_version(&self) -> Option<String> {
        match &self.remote {
            Some(remote) => Some(remote.content_id()),
            None => self.db.current().map(|g| g.version.clone()),
        }
    }

    /// The database pool.
    pub fn db(&self) -> &Arc<DbPool> {
        &self.db
    }

    /// The policy set in force.
    pub fn policies(&self) -> Arc<PolicySet> {
        Arc::clone(&self.loaded_policies().set)
    }

    fn loaded_policies(&self) -> Arc<LoadedPolicies> {
        Arc::clone(&self.policies.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Judge with `set` from now on (checks already running finish with the set they
    /// started with). Verdicts are cached by policy version, so cached verdicts of the old
    /// set are not reused for policies that changed.
    pub fn replace_policies(&self, set: PolicySet) {
        let loaded = Arc::new(LoadedPolicies::new(set));
        *self.policies.write().unwrap_or_else(|e| e.into_inner()) = loaded;
    }

    /// The latest scan summary of `digest` (findings and decision, no package list).
    pub fn latest(&self, digest: &str) -> Option<Arc<ScanResult>> {
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest.to_string())
            .cloned()
    }

    /// Every digest's latest scan summary held (at most the verdict cache size), newest
    /// first: the images judged at admission, by the API or by a rescan.
    pub fn latest_all(&self) -> Vec<(String, Arc<ScanResult>)> {
        let latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = latest
            .iter()
            .map(|(d, r)| (d.clone(), Arc::clone(r)))
            .collect();
        all.reverse();
        all
    }

    /// `result` (of the image resolved to `digest`) with its package list, when that
    /// catalogue is still cached.
    pub fn with_packages(&self, digest: &str, result: Arc<ScanResult>) -> Arc<ScanResult> {
        let stored = self
            .catalogs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest.to_string())
            .cloned();
        match stored {
            Some(stored) if result.packages.is_empty() => {
                let mut full = (*result).clone();
                full.packages = stored.packages.clone();
                Arc::new(full)
            }
            _ => result,
        }
    }

    /// Forget every cached tag, verdict, summary and catalogue (the next check of any image
    /// is a cold one). Work in flight is not affected.
    pub fn clear_caches(&self) {
        self.tags.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.verdicts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.catalogs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Entries in the (tag, verdict, catalogue) caches and the catalogue bytes held.
    pub fn cache_sizes(&self) -> (usize, usize, usize, u64) {
        let catalogs = self.catalogs.lock().unwrap_or_else(|e| e.into_inner());
        (
            self.tags.lock().unwrap_or_else(|e| e.into_inner()).len(),
            self.verdicts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .len(),
            catalogs.len(),
            catalogs.weight(),
        )
    }

    /// Registry I/O threads free right now.
    pub fn registry_threads_free(&self) -> usize {
        self.threads.available()
    }

    /// The policy for `reference`, with its version.
    pub fn policy_for(&self, reference: &Reference) -> Option<(Arc<Policy>, String)> {
        let loaded = self.loaded_policies();
        let id = loaded.set.select_id(
            reference.registry(),
            reference.repository(),
            reference.tag(),
        );
        if let Some(known) = loaded.versions.get(id) {
            return Some(known.clone());
        }
        let policy = loaded.set.policy(id)?;
        let version = policy.version();
        Some((Arc::new(policy), version))
    }

    fn prepare(&self, image: &str) -> Prepared {
        let mut check = ImageCheck {
            image: image.to_string(),
            digest: None,
            outcome: Err(CheckError::new(CheckErrorKind::Scan, "")),
        };
        let reference = match Reference::parse(image) {
            Ok(r) => r,
            Err(e) => {
                check.outcome = Err(CheckError::new(
                    CheckErrorKind::InvalidImage,
                    format!("invalid image reference: {e}"),
                ));
                return Prepared::Done(check);
            }
        };
        let (generation, database) = match (&self.remote, self.db.current()) {
            (Some(remote), _) => (None, remote.content_id()),
            (None, Some(generation)) => {
                let version = generation.version.clone();
                (Some(generation), version)
            }
            (None, None) => {
                check.outcome = Err(no_database());
                return Prepared::Done(check);
            }
        };
        let Some((policy, policy_version)) = self.policy_for(&reference) else {
            check.outcome = Err(CheckError::new(
                CheckErrorKind::NoPolicy,
                "no policy applies to this image",
            ));
            return Prepared::Done(check);
        };
        // One lookup of the tag: fresh (a hit answers), or stale (its verdict answers while
        // the tag is resolved again), or unknown.
        let known = self.known_digest(&reference).and_then(|(digest, fresh)| {
            let key = VerdictKey {
                digest: digest.clone(),
                policy: policy_version.clone(),
                database: database.clone(),
            };
            Some((digest, fresh, self.cached_verdict(&key)?))
        });
        let stale = match known {
            Some((digest, true, hit)) => {
                self.count_lookup("hit");
                check.digest = Some(digest);
                check.outcome = Ok(hit);
                return Prepared::Done(check);
            }
            Some((digest, false, hit)) => Some((digest, hit)),
            None => None,
        };
        let pending = Pending {
            check: check.clone(),
            reference,
            policy,
            policy_version,
            generation,
            database,
        };
        match stale {
            Some((digest, hit)) => {
                check.digest = Some(digest);
                check.outcome = Ok(hit);
                Prepared::Stale(check, pending)
            }
            None => Prepared::Pending(pending),
        }
    }

    /// [`Engine::prepare`], a stale tag refreshed in the background: the work still to do
    /// with its access, or the answer (a fresh or stale verdict, or a refusal).
    fn prepare_or_refresh(
        self: &Arc<Self>,
        image: &str,
        access: Access,
        trigger: Trigger,
    ) -> std::result::Result<(Pending, Access), ImageCheck> {
        match self.prepare(image) {
            Prepared::Done(check) => Err(check),
            Prepared::Stale(check, pending) => {
                self.refresh(pending, access, trigger);
                Err(check)
            }
            Prepared::Pending(pending) => Ok((pending, access)),
        }
    }

    /// Resolve a stale tag again in the background, if a background place is free (else a
    /// later admission tries again); concurrent refreshes of one tag join one flight.
    fn refresh(self: &Arc<Self>, pending: Pending, access: Access, trigger: Trigger) {
        self.count_lookup("stale");
        if let Ok(permit) = Arc::clone(&self.background).try_acquire_owned() {
            drop(self.start(pending, access, Some(permit), trigger));
        }
    }

    /// The answer for `image` if it needs no registry work: a cached verdict, or an
    /// immediate refusal (invalid reference, no database, no policy).
    pub fn cached(&self, image: &str) -> Option<ImageCheck> {
        match self.prepare(image) {
            Prepared::Done(check) => Some(check),
            // Refreshing needs the caller's registry access: `check` does it.
            Prepared::Stale(..) | Prepared::Pending(_) => None,
        }
    }

    fn start(
        self: &Arc<Self>,
        pending: Pending,
        access: Access,
        hold: Option<tokio::sync::OwnedSemaphorePermit>,
        trigger: Trigger,
    ) -> crate::flight::Ticket<(String, Arc<ScanResult>)> {
        let Pending {
            reference,
            policy,
            policy_version,
            generation,
            database,
            ..
        } = pending;
        let flight_key = format!("{reference}|{policy_version}|{database}");
        let this = Arc::clone(self);
        self.checking.join(&flight_key, async move {
            let _hold = hold;
            this.resolve_and_scan(
                reference,
                access,
                (policy, policy_version),
                (generation, database),
                trigger,
            )
            .await
        })
    }

    /// Judge `image` for a workload in `namespace` with `pull_secrets`. Past `deadline`
    /// (`None`: no limit) the answer is an unknown outcome while the work (resolution and
    /// scan, each with its own overall deadline) goes on in the background, so a retry
    /// finds the verdict cached.
    pub async fn check(
        self: &Arc<Self>,
        image: &str,
        namespace: &str,
        pull_secrets: &[String],
        deadline: Option<Instant>,
    ) -> ImageCheck {
        self.check_for(Trigger::Admission, image, namespace, pull_secrets, deadline)
            .await
    }

    /// [`Engine::check`] for `trigger` (what the scan log records if a scan runs).
    pub async fn check_for(
        self: &Arc<Self>,
        trigger: Trigger,
        image: &str,
        namespace: &str,
        pull_secrets: &[String],
        deadline: Option<Instant>,
    ) -> ImageCheck {
        let access = Access::Cluster {
            namespace: namespace.to_string(),
            pull_secrets: pull_secrets.to_vec(),
        };
        match self.prepare_or_refresh(image, access, trigger) {
            Ok((pending, access)) => self.run(pending, access, deadline, trigger).await,
            Err(answer) => answer,
        }
    }

    /// Judge `image` with registry access given by the caller (Harbor passes its own
    /// credentials), not found in the cluster. Otherwise as [`Engine::check`].
    pub async fn check_with(
        self: &Arc<Self>,
        trigger: Trigger,
        image: &str,
        access: GivenAccess,
        deadline: Option<Instant>,
    ) -> ImageCheck {
        match self.prepare_or_refresh(image, Access::Given(access), trigger) {
            Ok((pending, access)) => self.run(pending, access, deadline, trigger).await,
            Err(answer) => answer,
        }
    }

    /// Check that `access` may read `reference`'s manifest, by fetching it (one request,
    /// on the registry threads, within the resolve timeout). A cached verdict is shared by
    /// everyone who may read the image; this is how a caller proves it may.
    pub async fn verify_access(
        &self,
        reference: &Reference,
        access: &GivenAccess,
    ) -> Result<String, CheckError> {
        let options = self.registry.given_options(access, reference.registry());
        self.digest_within_resolve_timeout(reference, "reading the manifest of", move |r| {
            fetch_manifest_digest(r, &options)
        })
        .await
    }

    /// Ask `reference`'s registry for a digest with `ask` on a registry thread, within
    /// `resolveTimeout`; `what` (followed by the reference) names the work in errors.
    async fn digest_within_resolve_timeout<F>(
        &self,
        reference: &Reference,
        what: &str,
        ask: F,
    ) -> Result<String, CheckError>
    where
        F: FnOnce(&Reference) -> Result<Digest, CheckError> + Send + 'static,
    {
        let owned = reference.clone();
        let deadline = Instant::now() + self.resolve_timeout;
        self.threads
            .run(
                reference.registry(),
                deadline,
                &format!("{what} {reference}"),
                move || ask(&owned).map(|d| d.to_string()),
            )
            .await
    }

    async fn run(
        self: &Arc<Self>,
        pending: Pending,
        access: Access,
        deadline: Option<Instant>,
        trigger: Trigger,
    ) -> ImageCheck {
        let image = pending.check.image.clone();
        let mut check = pending.check.clone();
        self.count_lookup("miss");
        let ticket = self.start(pending, access, None, trigger);
        match ticket.wait(deadline).await {
            Some(Ok((digest, result))) => {
                check.digest = Some(digest);
                check.outcome = Ok(result);
            }
            Some(Err(reason)) => check.outcome = Err(reason),
            None => {
                check.digest = self.cached_digest_any(&image);
                check.outcome = Err(CheckError::new(
                    CheckErrorKind::Timeout,
                    "not judged within the budget; the scan goes on and a retry will find its verdict",
                ));
            }
        }
        check
    }

    /// Answer `image` without judging it inline: a cached verdict if there is one, else an
    /// unknown outcome, with a background check started if one of the bounded background
    /// places is free.
    pub fn check_later(
        self: &Arc<Self>,
        image: &str,
        namespace: &str,
        pull_secrets: &[String],
        why: &str,
    ) -> ImageCheck {
        let access = Access::Cluster {
            namespace: namespace.to_string(),
            pull_secrets: pull_secrets.to_vec(),
        };
        let (pending, access) = match self.prepare_or_refresh(image, access, Trigger::Admission) {
            Ok(work) => work,
            Err(answer) => return answer,
        };
        self.count_lookup("miss");
        let mut check = pending.check.clone();
        let queued = match Arc::clone(&self.background).try_acquire_owned() {
            Ok(permit) => {
                drop(self.start(pending, access, Some(permit), Trigger::Admission));
                "a background check is queued"
            }
            Err(_) => {
                self.metrics.background_refused.inc();
                "the background queue is full; a retry will queue it"
            }
        };
        check.digest = self.cached_digest_any(image);
        check.outcome = Err(CheckError::new(
            CheckErrorKind::Timeout,
            format!("not judged inline: {why}; {queued}"),
        ));
        check
    }

    fn count_lookup(&self, result: &str) {
        self.metrics.cache_lookups.inc(result);
    }

    fn cached_digest(&self, reference: &Reference) -> Option<String> {
        if let Some(digest) = reference.digest() {
            return Some(digest.to_string());
        }
        let tags = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        let (at, digest) = tags.get(&reference.to_string())?;
        (at.elapsed() < self.tag_ttl).then(|| digest.clone())
    }

    /// The digest `reference` names or its tag resolved to less than two TTLs ago, and whether
    /// it is fresh (a digest reference, or resolved within the TTL); a stale one is old enough
    /// to resolve again and young enough to answer with meanwhile.
    fn known_digest(&self, reference: &Reference) -> Option<(String, bool)> {
        if let Some(digest) = reference.digest() {
            return Some((digest.to_string(), true));
        }
        let tags = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        let (at, digest) = tags.get(&reference.to_string())?;
        let age = at.elapsed();
        (age < self.tag_ttl.saturating_mul(2)).then(|| (digest.clone(), age < self.tag_ttl))
    }

    /// The digest last resolved for `image`, if still kept.
    fn cached_digest_any(&self, image: &str) -> Option<String> {
        let reference = Reference::parse(image).ok()?;
        if let Some(digest) = reference.digest() {
            return Some(digest.to_string());
        }
        let tags = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        tags.get(&reference.to_string()).map(|(_, d)| d.clone())
    }

    fn remember_tag(&self, reference: &Reference, digest: &str) {
        let ttl = self.tag_ttl;
        let mut tags = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        // Kept for a second TTL, in which a stale entry answers while it is resolved again.
        tags.drop_oldest_while(|(at, _)| at.elapsed() >= ttl.saturating_mul(2));
        if !ttl.is_zero() {
            tags.insert(reference.to_string(), (Instant::now(), digest.to_string()));
        }
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
        access: Access,
        (policy, policy_version): (Arc<Policy>, String),
        (generation, database): (Option<Arc<Generation>>, String),
        trigger: Trigger,
    ) -> Landing<(String, Arc<ScanResult>)> {
        let options = match access {
            Access::Cluster {
                namespace,
                pull_secrets,
            } => {
                let creds = self
                    .credentials
                    .find(reference.registry(), &namespace, &pull_secrets)
                    .await;
                self.registry.options(creds)
            }
            Access::Given(given) => self.registry.given_options(&given, reference.registry()),
        };
        let Some(generation) = generation else {
            return match self.remote.clone() {
                Some(remote) => {
                    self.remote_scan(
                        remote,
                        reference,
                        options,
                        (policy, policy_version),
                        trigger,
                    )
                    .await
                }
                None => Err(no_database()),
            };
        };
        let digest = match self.cached_digest(&reference) {
            Some(digest) => digest,
            None => {
                let options = options.clone();
                let resolved = self
                    .digest_within_resolve_timeout(&reference, "resolving", move |r| {
                        resolve_digest(r, &options)
                    })
                    .await
                    .inspect_err(|e| self.count_failure(e))?;
                self.remember_tag(&reference, &resolved);
                resolved
            }
        };
        let key = VerdictKey {
            digest: digest.clone(),
            policy: policy_version,
            database,
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
            this.scan(key, pinned, policy, options, generation, trigger)
                .await
        });
        match ticket.wait(None).await {
            Some(Ok(result)) => Ok((digest, result)),
            Some(Err(e)) => Err(e),
            None => Err(CheckError::new(CheckErrorKind::Scan, "scan abandoned")),
        }
    }

    /// Remote engine mode: the central engine resolves and scans `reference` (with the
    /// credentials found here); the answer is judged with this replica's `policy` and
    /// cached under the engine's content id.
    async fn remote_scan(
        self: Arc<Self>,
        remote: Arc<RemoteEngine>,
        reference: Reference,
        options: ImageOptions,
        (policy, policy_version): (Arc<Policy>, String),
        trigger: Trigger,
    ) -> Landing<(String, Arc<ScanResult>)> {
        let started = std::time::Instant::now();
        let timeout = self.resolve_timeout + self.scan_timeout;
        let plain_http = options.registry.is_insecure(reference.registry());
        let credentials = options.registry.credentials.clone();
        let image = reference.to_string();
        let asked = image.clone();
        let answer = self
            .threads
            .run(
                "engine",
                Instant::now() + timeout,
                &format!("asking the engine about {reference}"),
                move || remote.check(&asked, credentials.as_ref(), plain_http, timeout),
            )
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                self.metrics
                    .scans
                    .get_or_create(&label("result", "error"))
                    .inc();
                self.count_failure(&e);
                return Err(e);
            }
        };
        let crate::remote::CheckAnswer {
            digest,
            database,
            mut result,
        } = answer;
        if Digest::parse(&digest).is_err() {
            return Err(CheckError::new(
                CheckErrorKind::Engine,
                format!("the engine answered an invalid digest for {reference}"),
            ));
        }
        self.remember_tag(&reference, &digest);
        result.decision = None;
        portcullis_scan::judge(&mut result, &policy, unix_now());
        let result = Arc::new(result);
        self.metrics
            .scans
            .get_or_create(&label("result", "ok"))
            .inc();
        self.log_scan(ScanLogEntry {
            at: unix_now(),
            trigger,
            image: format!("{image}@{digest}"),
            digest: digest.clone(),
            database: database.clone(),
            work: "remote",
            result: "ok",
            error: None,
            reason: None,
            duration_seconds: started.elapsed().as_secs_f64(),
        });
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(digest.clone(), Arc::clone(&result));
        let key = VerdictKey {
            digest: digest.clone(),
            policy: policy_version,
            database,
        };
        self.verdicts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Arc::clone(&result));
        Ok((digest, result))
    }

    fn scan_failed(&self, reason: CheckError) -> Landing<Arc<ScanResult>> {
        self.metrics
            .scans
            .get_or_create(&label("result", "error"))
            .inc();
        self.count_failure(&reason);
        Err(reason)
    }

    /// Count an image that could not be judged, by reason
    /// (`portcullis_check_errors_total{reason}`).
    fn count_failure(&self, reason: &CheckError) {
        self.metrics
            .check_errors
            .get_or_create(&label("reason", reason.kind().as_str()))
            .inc();
    }

    /// [`Engine::scan_unlogged`], recorded in the scan log when it did work.
    async fn scan(
        self: Arc<Self>,
        key: VerdictKey,
        pinned: Reference,
        policy: Arc<Policy>,
        options: ImageOptions,
        generation: Arc<Generation>,
        trigger: Trigger,
    ) -> Landing<Arc<ScanResult>> {
        let started = std::time::Instant::now();
        let image = pinned.to_string();
        let (digest, database) = (key.digest.clone(), key.database.clone());
        let mut work = None;
        let landed = Arc::clone(&self)
            .scan_unlogged(key, pinned, policy, options, generation, &mut work)
            .await;
        if let Some(work) = work {
            self.log_scan(ScanLogEntry {
                at: unix_now(),
                trigger,
                image,
                digest,
                database,
                work,
                result: if landed.is_ok() { "ok" } else { "error" },
                error: landed.as_ref().err().map(ToString::to_string),
                reason: landed.as_ref().err().map(|e| e.kind().as_str()),
                duration_seconds: started.elapsed().as_secs_f64(),
            });
        }
        landed
    }

    /// Pull (or take the cached catalogue of) `pinned`, match and judge it; `work` tells
    /// which was done (`None`: a cached verdict, or no scan slot).
    async fn scan_unlogged(
        self: Arc<Self>,
        key: VerdictKey,
        pinned: Reference,
        policy: Arc<Policy>,
        options: ImageOptions,
        generation: Arc<Generation>,
        work: &mut Option<&'static str>,
    ) -> Landing<Arc<ScanResult>> {
        if let Some(hit) = self.cached_verdict(&key) {
            return Ok(hit);
        }
        let deadline = Instant::now() + self.scan_timeout;
        let host = pinned.registry().to_string();
        let Some(_slot) = self.slots.acquire(&host, deadline).await else {
            return self.scan_failed(CheckError::new(
                CheckErrorKind::Timeout,
                format!(
                    "no scan slot for registry {host} became free within the scan timeout ({:?})",
                    self.scan_timeout
                ),
            ));
        };
        let started = std::time::Instant::now();
        let stored = self
            .catalogs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key.digest)
            .cloned();
        *work = Some(if stored.is_some() { "rematch" } else { "pull" });
        let (info, catalog) = match stored {
            Some(stored) => (
                stored.info.clone(),
                Catalog {
                    os: stored.os.clone(),
                    packages: stored.packages.clone(),
                    warnings: portcullis_scan::error_warnings(&stored.errors),
                },
            ),
            None => {
                let what = format!("scanning {pinned}");
                let pulled = self
                    .threads
                    .run(&host, deadline, &what, move || {
                        pull_catalog(&pinned, &options)
                    })
                    .await;
                match pulled {
                    Ok(pulled) => pulled,
                    Err(e) => return self.scan_failed(e),
                }
            }
        };
        let matched = generation
            .run(move |db| {
                let mut result = portcullis_scan::scan_catalog(&info, catalog, db)
                    .map_err(|e| CheckError::new(CheckErrorKind::Scan, Chain(&e).to_string()))?;
                portcullis_scan::judge(&mut result, &policy, unix_now());
                Ok::<_, CheckError>(result)
            })
            .await
            .map_err(|e| CheckError::new(CheckErrorKind::Scan, Chain(&e).to_string()))?;
        let mut result = match matched {
            Ok(result) => result,
            Err(e) => return self.scan_failed(e),
        };
        self.metrics
            .scans
            .get_or_create(&label("result", "ok"))
            .inc();
        self.metrics
            .scan_seconds
            .observe(started.elapsed().as_secs_f64());
        let packages = std::mem::take(&mut result.packages);
        let weight = catalog_bytes(&packages);
        let stored = StoredCatalog {
            info: result.image.clone(),
            os: result.os.clone(),
            packages,
            errors: result.errors.clone(),
        };
        self.catalogs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert_weighed(key.digest.clone(), Arc::new(stored), weight);
        let result = Arc::new(result);
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

/// An estimate of the heap bytes a package list holds.
pub(crate) fn catalog_bytes(packages: &[Package]) -> u64 {
    let strings = |p: &Package| {
        p.name.len()
            + p.version.len()
            + p.location.len()
            + p.purl.len()
            + p.arch.as_ref().map_or(0, String::len)
            + p.source_name.as_ref().map_or(0, String::len)
            + p.source_version.as_ref().map_or(0, String::len)
            + p.licenses.iter().map(|l| l.len() + 24).sum::<usize>()
    };
    let total: usize = packages
        .iter()
        .map(|p| std::mem::size_of::<Package>() + strings(p) + 64)
        .sum();
    u64::try_from(total).unwrap_or(u64::MAX)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The refusal when no database is loaded.
fn no_database() -> CheckError {
    CheckError::new(
        CheckErrorKind::NoDatabase,
        "no vulnerability database is loaded yet",
    )
}
