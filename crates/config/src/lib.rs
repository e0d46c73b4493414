//! The configuration of `portcullis serve` (YAML).
//!
//! The installer (`portcullis activate`/`manifests`) writes it into a ConfigMap; the server
//! reads it. Every field has a default, so an empty file is a valid configuration.

mod duration;
mod env;

pub use duration::{Duration, parse_duration};
pub use env::ENV_PREFIX;

use serde::{Deserialize, Serialize};

/// The largest configuration file accepted.
pub const MAX_CONFIG_LEN: usize = 1024 * 1024;

/// What `portcullis serve` reads from `--config FILE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The address to listen on (`0.0.0.0:8443`).
    pub listen: String,
    /// The TLS certificate and key; required unless `plain_http` is set.
    pub tls: Option<TlsConfig>,
    /// Serve plain HTTP instead of HTTPS (for tests and sidecar TLS only).
    pub plain_http: bool,
    /// The namespace Portcullis runs in; never judged.
    pub namespace: String,
    /// The vulnerability database.
    pub database: DatabaseConfig,
    /// The policy that judges images.
    pub policy: PolicyConfig,
    /// Which workloads the admission webhook judges.
    pub webhook: WebhookConfig,
    /// What happens to an image that cannot be judged within the budget.
    pub unknown_image_action: UnknownImageAction,
    /// The time allowed for an inline scan of an unknown image (`8s`).
    pub scan_budget: Duration,
    /// Registries and the Kubernetes Secrets holding their credentials.
    pub registries: Vec<RegistryConfig>,
    /// Releases allowed regardless of their images (besides `WhiteListItem` resources).
    pub whitelist: Vec<WhitelistConfig>,
    /// Bearer tokens accepted by the REST API. Empty means the REST API is disabled.
    pub api_tokens: Vec<String>,
    /// Whether to watch `WhiteListItem`s and write `Audit`s through the Kubernetes API.
    pub kubernetes: bool,
    /// How long a tag's resolved digest is reused before asking the registry again (`30s`);
    /// for one more TTL its verdict still answers while the tag is resolved again in the
    /// background. `0s` resolves on every request.
    pub tag_cache_ttl: Duration,
    /// Most image scans running at once (`2`).
    pub scan_concurrency: usize,
    /// Most image scans running at once against one registry host (`1`); kept below
    /// `scanConcurrency` so that no one registry can hold every scan slot. Scans past it
    /// wait in that registry's own first-come queue.
    pub scan_concurrency_per_registry: usize,
    /// Most distinct images of one admission review that are not cached and get judged
    /// inline (`8`); the others follow `unknownImageAction` and are queued for a
    /// background check within `backgroundChecks`.
    pub max_inline_images: usize,
    /// Most background checks (resolution and scan) of images past `maxInlineImages`
    /// running or waiting at once (`16`); more are not queued.
    pub background_checks: usize,
    /// Most threads doing blocking registry I/O at once (`16`), separate from the
    /// database threads.
    pub registry_threads: usize,
    /// Most registry I/O threads for one registry host (`4`).
    pub registry_threads_per_registry: usize,
    /// Overall deadline to resolve one tag to a digest, waiting for a thread included
    /// (`15s`).
    pub resolve_timeout: Duration,
    /// Overall deadline to pull and catalogue one image, waiting for a scan slot included
    /// (`2m`); a stuck scan is abandoned then and its slot freed.
    pub scan_timeout: Duration,
    /// Most verdicts kept in memory (`1000`); a verdict holds the findings and decision,
    /// never the package list.
    pub verdict_cache_size: usize,
    /// Most tag → digest entries kept (`10000`), each for at most `tagCacheTtl`.
    pub tag_cache_size: usize,
    /// Most bytes (estimated) of package catalogues kept to re-judge an image without
    /// pulling it again when only the policy or database changed (`128Mi` = 134217728).
    pub catalog_cache_bytes: u64,
    /// Most audit records kept in memory for `GET /api/v1/audits`.
    pub audit_store_size: usize,
    /// Most HTTP connections served at once (`256`); more wait in the listen backlog.
    pub max_connections: usize,
    /// Time allowed for a request's headers, and again for its whole body after them
    /// (`10s`); a slower request is answered 408 and its connection closed.
    pub request_timeout: Duration,
    /// On SIGTERM, how long in-flight requests may take to finish before exiting (`25s`).
    pub drain_timeout: Duration,
    /// Extra CA certificates (PEM files) trusted for registries, their token services and
    /// the vulnerability feed mirrors, besides the system roots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ca_certs: Vec<String>,
    /// The Harbor scanner adapter.
    pub harbor: HarborConfig,
    /// The inventory of what runs (Pods watched when `kubernetes` is set), and the
    /// PolicyReports written from it.
    pub inventory: InventoryConfig,
    /// Background re-judging of the images that run.
    pub rescan: RescanConfig,
    /// Most scans kept for `GET /api/v1/scanlog` (`1000`), newest first.
    pub scan_log_size: usize,
    /// With several replicas, which one rescans and writes reports.
    pub leader_election: LeaderElectionConfig,
    /// Webhooks told about events (new findings in running images, verdict changes,
    /// denied admissions, a database that could not be updated).
    pub notifications: Vec<NotificationConfig>,
    /// A central Portcullis that scans for this replica (remote engine mode): with
    /// `engine.url` set, this replica keeps no database and forwards the scans it needs.
    #[serde(skip_serializing_if = "EngineConfig::is_off")]
    pub engine: EngineConfig,
}

/// A central Portcullis doing the scans (the seed's external engine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Its base URL (`https://portcullis.central.example:8443`); unset: scan locally.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A file holding one of its API tokens (a mounted Secret), re-read at each request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// CA certificates (a PEM file) trusted for its TLS certificate, besides the system's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    /// Do not verify its TLS certificate.
    #[serde(skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// How often its database content id is asked for (`1m`), so cached verdicts of an
    /// older database stop being used.
    pub interval: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            url: None,
            token_file: None,
            ca_bundle: None,
            insecure: false,
            interval: Duration::from_secs(60),
        }
    }
}

impl EngineConfig {
    /// Whether scans are local (no `url`) and nothing else was set.
    pub fn is_off(&self) -> bool {
        *self == Self::default()
    }
}

/// One notification receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationConfig {
    /// Its name (in logs and metrics).
    pub name: String,
    /// Where events are POSTed (`https://…`).
    pub url: String,
    /// The file holding the HMAC-SHA256 key (a mounted Secret); `json` bodies are signed
    /// with it in `X-Portcullis-Signature: sha256=HEX`. Read at each delivery.
    #[serde(default)]
    pub secret_file: Option<String>,
    /// The events sent: `new_findings`, `verdict_changed`, `admission_denied`,
    /// `database_stale`; empty means all.
    #[serde(default)]
    pub events: Vec<String>,
    /// `new_findings` only for findings at or above this severity (`low`, `medium`,
    /// `high`, `critical`; default: any).
    #[serde(default)]
    pub min_severity: Option<String>,
    /// `json` (the versioned, signed body) or `slack` (an incoming-webhook body).
    #[serde(default = "default_notification_format")]
    pub format: String,
}

fn default_notification_format() -> String {
    "json".to_string()
}

/// Leader election over a `coordination.k8s.io/v1` Lease in Portcullis's namespace: only
/// the leader rescans running images and writes PolicyReports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LeaderElectionConfig {
    /// Whether replicas elect a leader (`true`); `false`: every replica does the work.
    pub enabled: bool,
    /// The Lease's name (`portcullis-rescan`).
    pub lease_name: String,
    /// How long a Lease not renewed stays held (`15s`): the longest a dead leader's work
    /// waits for a new leader.
    pub lease_duration: Duration,
    /// How often the leader renews, and followers try, the Lease (`5s`).
    pub renew_interval: Duration,
}

impl Default for LeaderElectionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            lease_name: "portcullis-rescan".to_string(),
            lease_duration: Duration::from_secs(15),
            renew_interval: Duration::from_secs(5),
        }
    }
}

/// The inventory of running Pods (needs `kubernetes: true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct InventoryConfig {
    /// Whether Pods are watched and their images rescanned (`true`).
    pub enabled: bool,
    /// Most Pods tracked (`20000`); Pods past it are left out (and counted in a warning).
    pub max_pods: usize,
    /// Most distinct running image digests tracked (`5000`); digests past it are left out.
    pub max_images: usize,
    /// Whether `wgpolicyk8s.io/v1alpha2` PolicyReports (one per namespace) and a
    /// ClusterPolicyReport are written (`true`).
    pub reports: bool,
    /// Findings named in each report result's message (`5`); reports keep counts and these
    /// only, and stay under 512 KiB.
    pub top_findings: usize,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_pods: 20_000,
            max_images: 5_000,
            reports: true,
            top_findings: 5,
        }
    }
}

/// Re-judging what runs: on every database change, for every new digest, and every
/// `interval`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RescanConfig {
    /// Rescans running at once (`1`); kept below `scanConcurrency` so admission always
    /// finds a scan slot.
    pub concurrency: usize,
    /// How often every running image is re-judged even without a database change (`6h`);
    /// `0s` only rescans on database changes and new digests.
    pub interval: Duration,
}

impl Default for RescanConfig {
    fn default() -> Self {
        Self {
            concurrency: 1,
            interval: Duration::from_secs(6 * 3600),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8443".to_string(),
            tls: None,
            plain_http: false,
            namespace: "portcullis-system".to_string(),
            database: DatabaseConfig::default(),
            policy: PolicyConfig::default(),
            webhook: WebhookConfig::default(),
            unknown_image_action: UnknownImageAction::Reject,
            scan_budget: Duration::from_secs(8),
            registries: Vec::new(),
            whitelist: Vec::new(),
            api_tokens: Vec::new(),
            kubernetes: false,
            tag_cache_ttl: Duration::from_secs(30),
            scan_concurrency: 2,
            scan_concurrency_per_registry: 1,
            max_inline_images: 8,
            background_checks: 16,
            registry_threads: 16,
            registry_threads_per_registry: 4,
            resolve_timeout: Duration::from_secs(15),
            scan_timeout: Duration::from_secs(120),
            verdict_cache_size: 1_000,
            tag_cache_size: 10_000,
            catalog_cache_bytes: 128 * 1024 * 1024,
            audit_store_size: 1_000,
            max_connections: 256,
            request_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(25),
            ca_certs: Vec::new(),
            harbor: HarborConfig::default(),
            inventory: InventoryConfig::default(),
            rescan: RescanConfig::default(),
            scan_log_size: 1_000,
            leader_election: LeaderElectionConfig::default(),
            notifications: Vec::new(),
            engine: EngineConfig::default(),
        }
    }
}

/// The Harbor pluggable scanner adapter (API v1.2), served under `/harbor` of the main
/// listener, and on a listener of its own when `listen` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct HarborConfig {
    /// Whether the adapter is served (`true`). Requests need an API token (as
    /// `Authorization: Bearer` or `X-ScannerAdapter-API-Key`) or the `basicAuth`
    /// credentials; with neither configured every request is refused.
    pub enabled: bool,
    /// A listener of its own (`0.0.0.0:8444`), with the same TLS, that serves only the
    /// adapter (at `/api/v1/...` and `/harbor/api/v1/...`) and `/healthz`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Basic credentials accepted besides the API tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuthConfig>,
    /// Adapter scans running at once (`1`), apart from admission: with the default
    /// `scanConcurrency` of 2, admission always keeps a scan slot of its own.
    pub scan_concurrency: usize,
    /// Scan requests accepted but not finished, at most (`100`); more are answered 500.
    pub max_queued: usize,
    /// Reports kept, at most (`1000`); the oldest go first.
    pub max_reports: usize,
    /// How long a report is kept (`1h`).
    pub report_ttl: Duration,
    /// Estimated bytes of package lists kept for SBOM reports (`64Mi` = 67108864).
    pub report_cache_bytes: u64,
}

impl Default for HarborConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: None,
            basic_auth: None,
            scan_concurrency: 1,
            max_queued: 100,
            max_reports: 1_000,
            report_ttl: Duration::from_secs(3600),
            report_cache_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A username and the file holding its password (a mounted Secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BasicAuthConfig {
    /// The username.
    pub username: String,
    /// The file whose content (trailing newline removed) is the password.
    pub password_file: String,
}

/// Certificate and key files (PEM); both are reloaded when they change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain file.
    pub cert: String,
    /// The private key file.
    pub key: String,
}

/// The vulnerability database and its updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// The SQLite file; `None` means the default location.
    pub path: Option<String>,
    /// How often to update from the network sources (`1h`); `0s` disables updates.
    pub update_interval: Duration,
    /// The network sources to update from (names as `portcullis db update --source`);
    /// empty means all.
    pub sources: Vec<String>,
    /// A mirror base URL replacing the public sources' hosts.
    pub mirror: Option<String>,
    /// A database artifact to follow (`registry/repository:tag`, as `db push` published
    /// it) instead of building from the sources: checked with one `HEAD` every `interval`,
    /// pulled when its digest changed, swapped in once verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Artifacts tried in order when `repository` fails (network error, 429, 5xx, or a bad
    /// artifact).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<String>,
    /// How often `repository` is checked (`5m`).
    pub interval: Duration,
    /// Plain HTTP or unverified TLS for the registries of `repository` and `mirrors`.
    #[serde(skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// A Secret in Portcullis's namespace (dockerconfigjson or basic-auth) with the
    /// credentials of those registries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            path: None,
            update_interval: Duration::from_secs(3600),
            sources: Vec::new(),
            mirror: None,
            repository: None,
            mirrors: Vec::new(),
            interval: Duration::from_secs(300),
            insecure: false,
            secret_name: None,
        }
    }
}

/// The policy: a built-in id, a file, or an inline document (YAML or JSON text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// A built-in bundle id (`reject_critical`).
    pub id: Option<String>,
    /// A policy file.
    pub file: Option<String>,
    /// A policy document, inline.
    pub inline: Option<String>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            id: Some("allow_all_and_warn".to_string()),
            file: None,
            inline: None,
        }
    }
}

/// Namespace selection of the admission webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Whether admission requests are judged at all (false: every request is allowed).
    pub enabled: bool,
    /// Whether `namespaces` lists the namespaces judged or the ones left alone.
    pub selector: Selector,
    /// Namespace names or globs (`*`, `team-*`).
    pub namespaces: Vec<String>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            selector: Selector::Include,
            namespaces: vec!["*".to_string()],
        }
    }
}

/// How `namespaces` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Selector {
    /// Judge only the listed namespaces.
    Include,
    /// Judge every namespace but the listed ones.
    Exclude,
}

/// What to do with an image that could not be judged in time or at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownImageAction {
    /// Deny the request (the scan goes on in the background).
    Reject,
    /// Allow it with a warning (the scan goes on in the background).
    Allow,
}

/// One registry and where its credentials are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryConfig {
    /// The registry host (`ghcr.io`, `registry.local:5000`).
    pub registry: String,
    /// A Secret in Portcullis's namespace, of type dockerconfigjson or basic-auth.
    #[serde(default)]
    pub secret: Option<String>,
    /// Plain HTTP or unverified TLS.
    #[serde(default)]
    pub insecure: bool,
}

/// One whitelisted release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WhitelistConfig {
    /// The release name matched exactly.
    pub name: String,
    /// Why it is allowed.
    pub reason: String,
    /// An anchored regular expression matched against release names.
    #[serde(default)]
    pub regexp: Option<String>,
    /// Who added it.
    #[serde(default)]
    pub creator: Option<String>,
}

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct Error {
    source_name: String,
    message: String,
}

impl Error {
    /// The file (or `-`) the error is about.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }
}

impl ServerConfig {
    /// Parse YAML (or JSON) text; `source_name` names it in errors.
    pub fn from_yaml(text: &str, source_name: &str) -> Result<Self, Error> {
        let error = |message: String| Error {
            source_name: source_name.to_string(),
            message,
        };
        if text.len() > MAX_CONFIG_LEN {
            return Err(error(format!(
                "larger than {MAX_CONFIG_LEN} bytes ({} bytes)",
                text.len()
            )));
        }
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        yaml_serde::from_str(text).map_err(|e| error(e.to_string()))
    }

    /// The configuration as YAML.
    pub fn to_yaml(&self) -> String {
        yaml_serde::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_default() {
        assert_eq!(
            ServerConfig::from_yaml("", "x").unwrap(),
            ServerConfig::default()
        );
    }

    #[test]
    fn round_trips_through_yaml() {
        let mut config = ServerConfig::default();
        config.registries.push(RegistryConfig {
            registry: "ghcr.io".to_string(),
            secret: Some("ghcr-pull".to_string()),
            insecure: false,
        });
        config.scan_budget = Duration::from_secs(5);
        let text = config.to_yaml();
        assert!(text.contains("scanBudget: 5s"), "{text}");
        assert_eq!(ServerConfig::from_yaml(&text, "x").unwrap(), config);
    }

    #[test]
    fn reads_the_limits() {
        let config = ServerConfig::from_yaml(
            "maxInlineImages: 3\nscanConcurrencyPerRegistry: 2\nregistryThreads: 9\nresolveTimeout: 4s\nscanTimeout: 1m\ntagCacheSize: 7\ncatalogCacheBytes: 1000\nmaxConnections: 5\nrequestTimeout: 2s\ndrainTimeout: 3s\n",
            "x",
        )
        .unwrap();
        assert_eq!(config.max_inline_images, 3);
        assert_eq!(config.scan_concurrency_per_registry, 2);
        assert_eq!(config.registry_threads, 9);
        assert_eq!(config.registry_threads_per_registry, 4);
        assert_eq!(config.resolve_timeout, Duration::from_secs(4));
        assert_eq!(config.scan_timeout, Duration::from_secs(60));
        assert_eq!(config.tag_cache_size, 7);
        assert_eq!(config.catalog_cache_bytes, 1000);
        assert_eq!(config.max_connections, 5);
        assert_eq!(config.request_timeout, Duration::from_secs(2));
        assert_eq!(config.drain_timeout, Duration::from_secs(3));
    }

    #[test]
    fn reads_the_inventory_and_rescan_keys() {
        let config = ServerConfig::from_yaml(
            "inventory:\n  maxPods: 10\n  maxImages: 4\n  reports: false\n  topFindings: 2\nrescan:\n  concurrency: 3\n  interval: 0s\nscanLogSize: 7\n",
            "x",
        )
        .unwrap();
        assert!(config.inventory.enabled);
        assert_eq!(config.inventory.max_pods, 10);
        assert_eq!(config.inventory.max_images, 4);
        assert!(!config.inventory.reports);
        assert_eq!(config.inventory.top_findings, 2);
        assert_eq!(config.rescan.concurrency, 3);
        assert_eq!(config.rescan.interval, Duration::from_secs(0));
        assert_eq!(config.scan_log_size, 7);
        assert!(config.leader_election.enabled);
        assert_eq!(
            config.leader_election.lease_duration,
            Duration::from_secs(15)
        );
        assert!(ServerConfig::from_yaml("rescan:\n  concurrency: 1\n  every: 2s\n", "x").is_err());
    }

    #[test]
    fn unknown_keys_name_the_file() {
        let err =
            ServerConfig::from_yaml("listen: ':1'\nlisten_typo: 2\n", "/etc/p.yaml").unwrap_err();
        assert!(err.to_string().starts_with("/etc/p.yaml: "), "{err}");
        assert!(err.to_string().contains("listen_typo"), "{err}");
    }

    #[test]
    fn reads_a_full_file() {
        let config = ServerConfig::from_yaml(
            "listen: 127.0.0.1:9443\ntls: {cert: /t/tls.crt, key: /t/tls.key}\nunknownImageAction: allow\nscanBudget: 2500ms\nwebhook: {selector: exclude, namespaces: [team-*]}\ndatabase: {updateInterval: 30m}\n",
            "x",
        )
        .unwrap();
        assert_eq!(config.unknown_image_action, UnknownImageAction::Allow);
        assert_eq!(config.scan_budget, Duration::from_millis(2500));
        assert_eq!(config.webhook.selector, Selector::Exclude);
        assert!(config.webhook.enabled);
        assert_eq!(config.database.update_interval, Duration::from_secs(1800));
    }
}
