//! Prometheus metrics.

use std::sync::OnceLock;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

/// Every metric the server exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Admission requests by action (`go`, `warn`, `stop`, `unknown`, ...).
    pub admissions: KnownLabels,
    /// Time to answer an admission request.
    pub admission_seconds: Histogram,
    /// Image scans by result (`ok`, `error`).
    pub scans: Family<Labels, Counter>,
    /// Images that could not be judged, by reason (`unauthorized`, `not_found`,
    /// `unreachable`, `timeout`, `too_large`, `engine`, `scan`).
    pub check_errors: Family<Labels, Counter>,
    /// Time of one image scan.
    pub scan_seconds: Histogram,
    /// Verdict cache lookups by result (`hit`, `miss`).
    pub cache_lookups: KnownLabels,
    /// Audit writes to the Kubernetes API that failed.
    pub audit_failures: Counter,
    /// Database loads and updates by result.
    pub db_updates: Family<Labels, Counter>,
    /// 1 once a database is loaded.
    pub db_loaded: Gauge,
    /// HTTP requests refused (`too_large`, `aborted`, `timeout`, `bad_request`,
    /// `unauthorized`).
    pub refused: Family<Labels, Counter>,
    /// Images past a review's inline cap not queued because the background queue was full.
    pub background_refused: Counter,
    /// HTTP connections being served.
    pub connections: Gauge,
    /// Harbor adapter requests by endpoint (`metadata`, `scan`, `report`, `other`) and
    /// status code.
    pub harbor_requests: Family<Labels, Counter>,
    /// Harbor adapter scans by result (`ok`, `error`, `refused`).
    pub harbor_scans: Family<Labels, Counter>,
    /// Time of one Harbor adapter scan, queueing included.
    pub harbor_scan_seconds: Histogram,
    /// Checks of the followed database artifact by result (`unchanged`, `same_content`,
    /// `pulled`, `failed`).
    pub db_pulls: Family<Labels, Counter>,
    /// 1 with the last error of following the database artifact; no series after a
    /// success.
    pub db_pull_error: Family<Labels, Gauge>,
    /// 1 with the content id of the database serving.
    pub db_content: Family<Labels, Gauge>,
    /// When the database serving was built (Unix seconds): its age is `time() - this`.
    pub db_built: Gauge,
    /// Changed certificate files that could not be loaded (the current certificate stays).
    pub tls_reload_failures: Counter,
    /// Changed policies that could not be loaded (the policy set in force stays).
    pub policy_reload_failures: Counter,
    /// Changed policies now judging.
    pub policy_reloads: Counter,
    /// Distinct running image digests by their highest finding severity (`none` without
    /// findings).
    pub running_images: Family<Labels, Gauge>,
    /// Running workloads by the highest finding severity of their images (only those with
    /// findings).
    pub running_workloads_with_findings: Family<Labels, Gauge>,
    /// Time of one rescan pass over the running images.
    pub rescan_seconds: Histogram,
    /// PolicyReport writes that failed.
    pub report_failures: Counter,
    /// Notification deliveries by receiver and result (`delivered`, `retried`, `failed`,
    /// `dropped`).
    pub notifications: Family<Labels, Counter>,
}

/// A counter family with one label whose usual values are resolved once each: counting
/// one of them (on the admission path) neither builds nor hashes a label set. Other values
/// still count, through the family.
#[derive(Debug)]
pub struct KnownLabels {
    family: Family<Labels, Counter>,
    label: &'static str,
    known: &'static [&'static str],
    resolved: Box<[OnceLock<Counter>]>,
}

impl KnownLabels {
    fn new(label: &'static str, known: &'static [&'static str]) -> Self {
        Self {
            family: Family::default(),
            label,
            known,
            resolved: known.iter().map(|_| OnceLock::new()).collect(),
        }
    }

    /// Count one with the label set to `value`.
    pub fn inc(&self, value: &str) {
        let resolve = || self.family.get_or_create(&label(self.label, value)).clone();
        match self.known.iter().position(|known| *known == value) {
            Some(i) => self.resolved[i].get_or_init(resolve).inc(),
            None => resolve().inc(),
        };
    }
}

/// A label set with one label.
pub fn label(name: &str, value: &str) -> Labels {
    vec![(name.to_string(), value.to_string())]
}

impl Default for Metrics {
    fn default() -> Self {
        let mut metrics = Self {
            registry: Registry::with_prefix("portcullis"),
            admissions: KnownLabels::new(
                "action",
                &[
                    "go",
                    "warn",
                    "stop",
                    "skipped",
                    "whitelisted",
                    "unknown",
                    "not_judged",
                ],
            ),
            admission_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            scans: Family::default(),
            check_errors: Family::default(),
            scan_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            cache_lookups: KnownLabels::new("result", &["hit", "miss", "stale"]),
            audit_failures: Counter::default(),
            db_updates: Family::default(),
            db_loaded: Gauge::default(),
            refused: Family::default(),
            background_refused: Counter::default(),
            connections: Gauge::default(),
            harbor_requests: Family::default(),
            harbor_scans: Family::default(),
            harbor_scan_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            db_pulls: Family::default(),
            db_pull_error: Family::default(),
            db_content: Family::default(),
            db_built: Gauge::default(),
            tls_reload_failures: Counter::default(),
            policy_reload_failures: Counter::default(),
            policy_reloads: Counter::default(),
            running_images: Family::default(),
            running_workloads_with_findings: Family::default(),
            rescan_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 16)),
            report_failures: Counter::default(),
            notifications: Family::default(),
        };
        // The exposition lists metrics in the order they are registered.
        metrics.register_reloads_and_database();
        metrics.register_harbor();
        metrics.register_running();
        metrics.register_serving();
        metrics
    }
}

impl Metrics {
    /// Registers the reload failures of policies and certificates and the state of the
    /// followed database artifact.
    fn register_reloads_and_database(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "policy_reload_failures",
            "Changed policies in the configuration file that could not be loaded (the policy set in force stays)",
            self.policy_reload_failures.clone(),
        );
        registry.register(
            "policy_reloads",
            "Changed policies in the configuration file now judging",
            self.policy_reloads.clone(),
        );
        registry.register(
            "tls_reload_failures",
            "Changed certificate files that could not be loaded (the current certificate stays)",
            self.tls_reload_failures.clone(),
        );
        registry.register(
            "database_pulls",
            "Checks of the followed database artifact by result",
            self.db_pulls.clone(),
        );
        registry.register(
            "database_pull_error",
            "1 with the last error of following the database artifact (none after a success)",
            self.db_pull_error.clone(),
        );
        registry.register(
            "database_content",
            "1 with the content id of the vulnerability database serving",
            self.db_content.clone(),
        );
        registry.register(
            "database_built_timestamp_seconds",
            "When the vulnerability database serving was built (its age is time() minus this)",
            self.db_built.clone(),
        );
    }

    /// Registers the Harbor scanner adapter metrics.
    fn register_harbor(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "harbor_requests",
            "Harbor scanner adapter requests by endpoint and status code",
            self.harbor_requests.clone(),
        );
        registry.register(
            "harbor_scans",
            "Harbor scanner adapter scans by result",
            self.harbor_scans.clone(),
        );
        registry.register(
            "harbor_scan_duration_seconds",
            "Time of one Harbor scanner adapter scan, queueing included",
            self.harbor_scan_seconds.clone(),
        );
    }

    /// Registers the metrics of the work on what runs: notifications, the inventory,
    /// rescans and PolicyReports.
    fn register_running(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "notifications",
            "Notification deliveries by receiver and result",
            self.notifications.clone(),
        );
        registry.register(
            "running_images",
            "Distinct running image digests by highest finding severity",
            self.running_images.clone(),
        );
        registry.register(
            "running_workloads_with_findings",
            "Running workloads by the highest finding severity of their images",
            self.running_workloads_with_findings.clone(),
        );
        registry.register(
            "rescan_duration_seconds",
            "Time of one rescan pass over the running images",
            self.rescan_seconds.clone(),
        );
        registry.register(
            "policy_report_write_failures",
            "PolicyReport writes that failed",
            self.report_failures.clone(),
        );
    }

    /// Registers the metrics of serving requests: admissions, the scans and cache lookups
    /// behind them, Audit writes, the database loaded, and HTTP connections and refusals.
    fn register_serving(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "background_checks_refused",
            "Images past a review's inline cap not queued: the background queue was full",
            self.background_refused.clone(),
        );
        registry.register(
            "http_connections",
            "HTTP connections being served",
            self.connections.clone(),
        );
        registry.register(
            "admission_requests",
            "Admission requests by action",
            self.admissions.family.clone(),
        );
        registry.register(
            "admission_duration_seconds",
            "Time to answer an admission request",
            self.admission_seconds.clone(),
        );
        registry.register("scans", "Image scans by result", self.scans.clone());
        registry.register(
            "check_errors",
            "Images that could not be judged, by reason",
            self.check_errors.clone(),
        );
        registry.register(
            "scan_duration_seconds",
            "Time of one image scan",
            self.scan_seconds.clone(),
        );
        registry.register(
            "verdict_cache_lookups",
            "Verdict cache lookups by result",
            self.cache_lookups.family.clone(),
        );
        registry.register(
            "audit_write_failures",
            "Audit writes that failed",
            self.audit_failures.clone(),
        );
        registry.register(
            "database_updates",
            "Database loads and updates by result",
            self.db_updates.clone(),
        );
        registry.register(
            "database_loaded",
            "1 once a vulnerability database is loaded",
            self.db_loaded.clone(),
        );
        registry.register(
            "http_refused",
            "HTTP requests refused by reason",
            self.refused.clone(),
        );
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
