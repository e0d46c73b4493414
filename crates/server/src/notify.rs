//! Notifications: events POSTed to the configured webhooks, at least once.
//!
//! Events: `new_findings` (a running image that had a verdict got findings it did not have,
//! at or above the receiver's `minSeverity`), `verdict_changed` (a running image's policy
//! action changed), `admission_denied`, `database_stale` (a scheduled update failed; the
//! previous database keeps serving).
//!
//! Each event is deduplicated by (event, digest, database content id) in a map of
//! [`DEDUP_CAPACITY`] keys, then queued to every receiver that wants it: one bounded queue
//! of [`QUEUE_CAPACITY`] events and one delivery task per receiver, so a slow receiver never
//! delays another one nor anything else (a full queue drops the event and counts it).
//! Delivery retries with exponential backoff ([`RETRY_BASE`] doubled up to
//! [`RETRY_MAX_DELAY`], [`MAX_ATTEMPTS`] attempts) on a blocking thread with a 10 s timeout.
//!
//! Body format `json`, version 1 (`"version": 1`): `{version, id, event, at, digest?,
//! database?, image?, namespace?, workloads, severity?, findings, message}`, signed with
//! HMAC-SHA256 over the exact body bytes with the key in `secretFile`, sent as
//! `X-Portcullis-Signature: sha256=HEX`, with `X-Portcullis-Event` and
//! `X-Portcullis-Delivery` (the `id`, the same on every retry). Format `slack`:
//! `{"text": message}` for an incoming webhook.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_config::NotificationConfig;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use crate::bounded::BoundedMap;
use crate::inventory::{WorkloadRef, severity_rank};
use crate::metrics::Metrics;

/// Events queued per receiver at most.
pub const QUEUE_CAPACITY: usize = 256;
/// Event keys remembered for deduplication.
pub const DEDUP_CAPACITY: usize = 10_000;
/// The first retry delay.
pub const RETRY_BASE: Duration = Duration::from_millis(250);
/// The longest retry delay.
pub const RETRY_MAX_DELAY: Duration = Duration::from_secs(60);
/// Attempts per event and receiver.
pub const MAX_ATTEMPTS: u32 = 8;

/// The event kinds.
pub const EVENTS: [&str; 4] = [
    "new_findings",
    "verdict_changed",
    "admission_denied",
    "database_stale",
];

/// One event, as the `json` body carries it (plus `version` and `id`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Event {
    /// One of [`EVENTS`].
    pub event: String,
    /// Seconds since the Unix epoch.
    pub at: i64,
    /// The image digest, when about one image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The database content id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The image reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The namespace (admission events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The workloads concerned.
    pub workloads: Vec<WorkloadRef>,
    /// The highest severity of `findings`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// The findings concerned (`id (severity, package)`), at most 20.
    pub findings: Vec<String>,
    /// One line for humans.
    pub message: String,
    /// A discriminator for deduplication besides (event, digest, database): e.g. the
    /// workload of a denied admission.
    #[serde(skip)]
    pub subject: String,
}

impl Event {
    /// The deduplication key: (event, digest, database content id, subject).
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.event,
            self.digest.as_deref().unwrap_or(""),
            self.database.as_deref().unwrap_or(""),
            self.subject
        )
    }

    /// The delivery id: a hash of the key.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.key().as_bytes())[..16])
    }
}

/// The `json` body of `event` (version 1).
pub fn json_body(event: &Event) -> Vec<u8> {
    let mut value = serde_json::to_value(event).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("version".to_string(), serde_json::json!(1));
        map.insert("id".to_string(), serde_json::json!(event.id()));
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

/// `sha256=HEX` of HMAC-SHA256(`key`, `body`).
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    format!(
        "sha256={}",
        hex::encode(ring::hmac::sign(&key, body).as_ref())
    )
}

struct Receiver {
    config: NotificationConfig,
    queue: mpsc::Sender<Event>,
}

/// The receivers and the deduplication memory.
pub struct Notifier {
    receivers: Vec<Receiver>,
    seen: Mutex<BoundedMap<String, ()>>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("receivers", &self.receivers.len())
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier for `configs`, starting one delivery task per receiver (call inside a
    /// Tokio runtime). Receivers with an unknown format or event are logged and skipped.
    pub fn start(configs: &[NotificationConfig], metrics: Arc<Metrics>) -> Self {
        let mut receivers = Vec::new();
        for config in configs {
            if config.format != "json" && config.format != "slack" {
                tracing::warn!(receiver = %config.name, format = %config.format, "notification format must be json or slack; receiver skipped");
                continue;
            }
            if let Some(bad) = config.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
                tracing::warn!(receiver = %config.name, event = %bad, "unknown notification event; receiver skipped");
                continue;
            }
            let (queue, events) = mpsc::channel(QUEUE_CAPACITY);
            tokio::spawn(deliver_all(config.clone(), events, Arc::clone(&metrics)));
            receivers.push(Receiver {
                config: config.clone(),
                queue,
            });
        }
        Self {
            receivers,
            seen: Mutex::new(BoundedMap::new(DEDUP_CAPACITY)),
            metrics,
        }
    }

    /// Whether any receiver is configured.
    pub fn is_active(&self) -> bool {
        !self.receivers.is_empty()
    }

    /// Queue `event` for every receiver that wants it, unless an event with the same key
    /// was queued before. Never blocks.
    pub fn emit(&self, event: Event) {
        if self.receivers.is_empty() {
            return;
        }
        {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            let key = event.key();
            if seen.get(&key).is_some() {
                return;
            }
            seen.insert(key, ());
        }
        for receiver in &self.receivers {
            if !wants(&receiver.config, &event) {
                continue;
            }
            if receiver.queue.try_send(event.clone()).is_err() {
                self.metrics
                    .notifications
                    .get_or_create(&vec![
                        ("receiver".to_string(), receiver.config.name.clone()),
                        ("result".to_string(), "dropped".to_string()),
                    ])
                    .inc();
                tracing::warn!(receiver = %receiver.config.name, "notification queue full; event dropped");
            }
        }
    }
}

/// Whether `config` wants `event` (its events, and its minimum severity for findings).
fn wants(config: &NotificationConfig, event: &Event) -> bool {
    if !config.events.is_empty() && !config.events.contains(&event.event) {
        return false;
    }
    match (&config.min_severity, event.event.as_str()) {
        (Some(min), "new_findings") => event
            .severity
            .as_deref()
            .is_some_and(|s| severity_rank(s) >= severity_rank(min)),
        _ => true,
    }
}

async fn deliver_all(
    config: NotificationConfig,
    mut events: mpsc::Receiver<Event>,
    metrics: Arc<Metrics>,
) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    while let Some(event) = events.recv().await {
        let labels = |result: &str| {
            vec![
                ("receiver".to_string(), config.name.clone()),
                ("result".to_string(), result.to_string()),
            ]
        };
        let mut delay = RETRY_BASE;
        let mut delivered = false;
        for attempt in 1..=MAX_ATTEMPTS {
            let (config2, agent2, event2) = (config.clone(), agent.clone(), event.clone());
            let sent = tokio::task::spawn_blocking(move || send(&agent2, &config2, &event2))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            match sent {
                Ok(()) => {
                    delivered = true;
                    break;
                }
                Err(reason) => {
                    metrics
                        .notifications
                        .get_or_create(&labels("retried"))
                        .inc();
                    tracing::warn!(receiver = %config.name, attempt, %reason, "notification not delivered");
                    if attempt < MAX_ATTEMPTS {
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(RETRY_MAX_DELAY);
                    }
                }
            }
        }
        let result = if delivered { "delivered" } else { "failed" };
        metrics.notifications.get_or_create(&labels(result)).inc();
    }
}

/// One POST of `event` to `config.url`.
fn send(agent: &ureq::Agent, config: &NotificationConfig, event: &Event) -> Result<(), String> {
    let body = match config.format.as_str() {
        "slack" => serde_json::to_vec(&serde_json::json!({ "text": format!("[portcullis] {}: {}", event.event, event.message) }))
            .unwrap_or_default(),
        _ => json_body(event),
    };
    let mut request = agent
        .post(&config.url)
        .header("Content-Type", "application/json")
        .header("X-Portcullis-Event", &event.event)
        .header("X-Portcullis-Delivery", &event.id());
    if let Some(file) = &config.secret_file {
        let key = std::fs::read(file).map_err(|e| format!("reading the HMAC key {file}: {e}"))?;
        let key = trim_ascii(&key);
        request = request.header("X-Portcullis-Signature", &signature(key, &body));
    }
    request
        .send(&body[..])
        .map(|_| ())
        .map_err(|e| portcullis_types::error::Chain(&e).to_string())
}

/// A mounted key usually ends with a newline: not part of the key.
fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_bodies() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let event = Event {
            event: "new_findings".to_string(),
            digest: Some("sha256:1".to_string()),
            database: Some("db1".to_string()),
            ..Event::default()
        };
        let body: serde_json::Value = serde_json::from_slice(&json_body(&event)).unwrap();
        assert_eq!(body["version"], 1);
        assert_eq!(body["id"], event.id());
        assert_eq!(trim_ascii(b"key\n"), b"key");
    }

    #[test]
    fn receivers_filter_events_and_severities() {
        let config = NotificationConfig {
            name: "x".into(),
            url: "http://127.0.0.1:1".into(),
            secret_file: None,
            events: vec!["new_findings".into()],
            min_severity: Some("high".into()),
            format: "json".into(),
        };
        let mut event = Event {
            event: "new_findings".into(),
            severity: Some("medium".into()),
            ..Event::default()
        };
        assert!(!wants(&config, &event));
        event.severity = Some("critical".into());
        assert!(wants(&config, &event));
        event.event = "verdict_changed".into();
        assert!(!wants(&config, &event));
    }
}
