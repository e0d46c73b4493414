//! The activation spec: what `portcullis activate` installs, in the shape of the product it
//! replaces, so its users can move over unchanged.
//!
//! ```json
//! {
//!   "policy": {"policyId": "allow_all_and_warn", "customPolicy": {"enabled": false}},
//!   "webhookConfig": {"enabled": true, "selector": "include", "namespaces": ["*"]},
//!   "registry": {"registry": "ghcr.io", "secretId": "ghcr-pull", "insecure": false},
//!   "registries": [],
//!   "releaseWhiteList": [{"name": "monitoring", "reason": "vendor chart", "regexp": "monitoring-.*"}],
//!   "image": "registry.example/portcullis:v0.1.0",
//!   "engine": {"enabled": false, "url": "https://portcullis.central.example:8443",
//!              "secretId": "engine-token", "insecure": false},
//!   "unknownImageAction": "reject",
//!   "updateInterval": "1h",
//!   "notifications": [{"name": "hook", "url": "https://hooks.example/p", "secretName": "notify-hmac",
//!                      "secretKey": "hmac-key", "events": ["new_findings"], "minSeverity": "high",
//!                      "format": "json"}]
//! }
//! ```
//!
//! A wrapping `{"spec": {...}}` is accepted too. Enumerated fields are kept as strings here so
//! that [`crate::validate`] can report a bad value with every other problem at once.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};

/// The largest spec accepted, in bytes.
pub const MAX_SPEC_LEN: usize = 1024 * 1024;

/// The whole activation spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// Which policy judges images.
    #[serde(default)]
    pub policy: PolicySpec,
    /// Whether and where the admission webhook judges workloads.
    #[serde(default)]
    pub webhook_config: WebhookSpec,
    /// One registry with credentials (the older single-entry form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistrySpec>,
    /// Registries with credentials.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registries: Vec<RegistrySpec>,
    /// Releases allowed whatever their images hold; each becomes a `WhiteListItem`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub release_white_list: Vec<WhitelistItemSpec>,
    /// `reject` (the default) or `allow`: what to do when an image cannot be judged in time.
    #[serde(default = "default_unknown_image_action")]
    pub unknown_image_action: String,
    /// How often the vulnerability database is updated (`1h`, `30m`, `1h30m`).
    #[serde(default = "default_update_interval")]
    pub update_interval: String,
    /// Custom policies (policy or policy-set documents as `portcullis policy show` prints
    /// them, as objects or YAML/JSON text); `policy.policyId` may name any of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Value>,
    /// A database artifact (`db push`) the server follows instead of building from the
    /// upstream sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseSpec>,
    /// Webhooks told about new findings, verdict changes, denied admissions and failed
    /// database updates; each HMAC key is a Secret mounted into the server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<NotificationSpec>,
    /// A CronJob that builds the database from the upstream sources and pushes it to
    /// `database.repository` (the builder of a fleet's database artifact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<BuilderSpec>,
    /// A central Portcullis that does the scans (remote engine mode, the seed's
    /// `customAnchore` shape): the replicas keep no database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineSpec>,
    /// The Portcullis container image to run (`registry/repository[:tag][@digest]`), e.g. one
    /// built with `scripts/build-image.sh` and pushed to your registry; `--image` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// A central Portcullis scanning for this cluster's replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngineSpec {
    /// Whether the replicas forward their scans to it.
    #[serde(default)]
    pub enabled: bool,
    /// Its base URL (`https://portcullis.central.example:8443`).
    #[serde(default)]
    pub url: String,
    /// A Secret in the install namespace whose key `token` is one of its API tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<String>,
    /// Do not verify its TLS certificate.
    #[serde(default)]
    pub insecure: bool,
}

/// Where the engine token Secret is mounted (its key `token` is read).
pub const ENGINE_SECRET_DIR: &str = "/etc/portcullis/engine";

impl Spec {
    /// The engine token's Secret, when the engine is enabled and has one.
    pub fn engine_secret(&self) -> Option<&str> {
        self.engine
            .as_ref()
            .filter(|e| e.enabled)
            .and_then(|e| e.secret_id.as_deref())
    }

    /// The server's `engine` configuration (off unless enabled).
    pub fn engine_config(&self) -> portcullis_config::EngineConfig {
        match self.engine.as_ref().filter(|e| e.enabled) {
            Some(engine) => portcullis_config::EngineConfig {
                url: Some(engine.url.clone()),
                token_file: self
                    .engine_secret()
                    .map(|_| format!("{ENGINE_SECRET_DIR}/token")),
                insecure: engine.insecure,
                ..portcullis_config::EngineConfig::default()
            },
            None => portcullis_config::EngineConfig::default(),
        }
    }
}

/// The database builder CronJob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BuilderSpec {
    /// When it runs: a 5-field cron expression (`0 */6 * * *`).
    pub schedule: String,
}

/// Where the server gets its vulnerability database: an OCI artifact published by
/// `portcullis db push` (in the cluster's own registry, for an air-gapped fleet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatabaseSpec {
    /// The artifact, `registry/repository[:tag]`.
    pub repository: String,
    /// A Secret (dockerconfigjson or basic-auth) in the install namespace with the registry's
    /// credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<String>,
    /// Plain HTTP or unverified TLS for that registry.
    #[serde(default)]
    pub insecure: bool,
}

/// One notification receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationSpec {
    /// Its name (a DNS label; unique).
    #[serde(default)]
    pub name: String,
    /// Where events are POSTed (`https://…`).
    #[serde(default)]
    pub url: String,
    /// A Secret in the install namespace holding the HMAC-SHA256 key under `secretKey`;
    /// mounted read-only at `/etc/portcullis/notifications/<secretName>/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// The key of the Secret holding the HMAC key (`hmac-key`).
    #[serde(default = "default_secret_key")]
    pub secret_key: String,
    /// `new_findings`, `verdict_changed`, `admission_denied`, `database_stale`; empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// `new_findings` only at or above this severity (`low` … `critical`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<String>,
    /// `json` (signed, versioned) or `slack`.
    #[serde(default = "default_format")]
    pub format: String,
}

fn default_secret_key() -> String {
    "hmac-key".to_string()
}

fn default_format() -> String {
    "json".to_string()
}

impl NotificationSpec {
    /// Where the server reads the HMAC key, when there is a Secret.
    pub fn secret_file(&self) -> Option<String> {
        self.secret_name
            .as_ref()
            .map(|secret| format!("{}/{secret}/{}", NOTIFICATION_SECRETS_DIR, self.secret_key))
    }
}

/// Where notification Secrets are mounted, one folder per Secret.
pub const NOTIFICATION_SECRETS_DIR: &str = "/etc/portcullis/notifications";

impl Default for Spec {
    fn default() -> Self {
        Self {
            policy: PolicySpec::default(),
            webhook_config: WebhookSpec::default(),
            registry: None,
            registries: Vec::new(),
            release_white_list: Vec::new(),
            unknown_image_action: default_unknown_image_action(),
            update_interval: default_update_interval(),
            policies: Vec::new(),
            database: None,
            notifications: Vec::new(),
            builder: None,
            engine: None,
            image: None,
        }
    }
}

impl Spec {
    /// Every registry entry: `registry` first, then `registries`.
    pub fn all_registries(&self) -> impl Iterator<Item = &RegistrySpec> {
        self.registry.iter().chain(&self.registries)
    }

    /// The spec as pretty JSON (the form `status` shows and the ConfigMap keeps).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The policy part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySpec {
    /// A built-in policy id; required unless `customPolicy.enabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// A custom policy document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_policy: Option<CustomPolicySpec>,
}

impl Default for PolicySpec {
    fn default() -> Self {
        Self {
            policy_id: Some("allow_all_and_warn".to_string()),
            custom_policy: None,
        }
    }
}

impl PolicySpec {
    /// The custom policy in force, when one is enabled.
    pub fn enabled_custom(&self) -> Option<&Value> {
        self.custom_policy
            .as_ref()
            .filter(|c| c.enabled)
            .and_then(|c| c.policy.as_ref())
    }
}

/// A custom policy: the policy document (an object, or its YAML/JSON text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomPolicySpec {
    /// Use this policy instead of `policyId`.
    #[serde(default)]
    pub enabled: bool,
    /// The policy document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Value>,
}

/// The admission webhook part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookSpec {
    /// Install the ValidatingWebhookConfiguration.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `include`: judge only `namespaces`; `exclude`: judge all but `namespaces`.
    #[serde(default = "default_selector")]
    pub selector: String,
    /// Namespace names or globs (`team-*`); `*` alone means every namespace.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// `Fail` (the default) or `Ignore`: what the API server does when the webhook is down.
    #[serde(default = "default_failure_policy")]
    pub failure_policy: String,
    /// How long the API server waits for an answer (1 to 30 seconds, default 10).
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: i32,
}

impl Default for WebhookSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            selector: default_selector(),
            namespaces: vec!["*".to_string()],
            failure_policy: default_failure_policy(),
            timeout_seconds: default_timeout_seconds(),
        }
    }
}

/// A registry and the Secret holding its credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistrySpec {
    /// `host[:port]`.
    #[serde(default)]
    pub registry: String,
    /// A Secret (dockerconfigjson or basic-auth) in the install namespace.
    #[serde(default)]
    pub secret_id: String,
    /// Plain HTTP or unverified TLS.
    #[serde(default)]
    pub insecure: bool,
}

/// A release allowed whatever its images hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WhitelistItemSpec {
    /// The release name (and the `WhiteListItem` name).
    #[serde(default)]
    pub name: String,
    /// Why it is allowed.
    #[serde(default)]
    pub reason: String,
    /// An anchored regular expression matching further release names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<String>,
}

fn yes() -> bool {
    true
}
fn default_selector() -> String {
    "include".to_string()
}
fn default_failure_policy() -> String {
    "Fail".to_string()
}
fn default_timeout_seconds() -> i32 {
    10
}
fn default_unknown_image_action() -> String {
    "reject".to_string()
}
fn default_update_interval() -> String {
    "1h".to_string()
}

/// Parse a spec from JSON or YAML text (JSON is YAML), unwrapping `{"spec": {...}}`.
///
/// Only syntax and field types are checked here; run [`crate::validate()`] for the rules.
pub fn parse_spec(text: &str) -> Result<Spec> {
    if text.len() > MAX_SPEC_LEN {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "the spec is {} bytes, more than the {MAX_SPEC_LEN} allowed",
                text.len()
            ),
        ));
    }
    let value: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text)
            .map_err(|e| Error::new(ErrorKind::Syntax, format!("spec: invalid JSON: {e}")))?
    } else {
        yaml_serde::from_str(text)
            .map_err(|e| Error::new(ErrorKind::Syntax, format!("spec: invalid YAML: {e}")))?
    };
    let value = match value {
        Value::Object(mut map) if map.len() == 1 && map.contains_key("spec") => {
            map.remove("spec").unwrap_or(Value::Null)
        }
        Value::Null => Value::Object(serde_json::Map::new()),
        other => other,
    };
    if !value.is_object() {
        return Err(Error::new(
            ErrorKind::Syntax,
            "spec: expected an object at the top level",
        ));
    }
    serde_json::from_value(value).map_err(|e| Error::new(ErrorKind::Syntax, format!("spec: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_and_bare_specs_are_the_same() {
        let bare = parse_spec(r#"{"policy": {"policyId": "reject_high"}}"#).unwrap();
        let wrapped = parse_spec(r#"{"spec": {"policy": {"policyId": "reject_high"}}}"#).unwrap();
        assert_eq!(bare, wrapped);
        assert_eq!(bare.policy.policy_id.as_deref(), Some("reject_high"));
        assert_eq!(bare.webhook_config, WebhookSpec::default());
        assert_eq!(bare.unknown_image_action, "reject");
    }

    #[test]
    fn yaml_is_accepted() {
        let spec = parse_spec("policy:\n  policyId: deny_all\nupdateInterval: 30m\n").unwrap();
        assert_eq!(spec.policy.policy_id.as_deref(), Some("deny_all"));
        assert_eq!(spec.update_interval, "30m");
    }

    #[test]
    fn unknown_fields_and_wrong_types_name_the_field() {
        let err = parse_spec(r#"{"webhookconfig": {}}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Syntax);
        assert!(
            err.to_string().contains("unknown field `webhookconfig`"),
            "{err}"
        );
        let err = parse_spec(r#"{"webhookConfig": {"enabled": "yes"}}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid type: string \"yes\", expected a boolean"),
            "{err}"
        );
        let err = parse_spec("[1]").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Syntax);
    }

    #[test]
    fn oversized_spec_is_refused() {
        let text = format!("{{\"updateInterval\": \"{}\"}}", "x".repeat(MAX_SPEC_LEN));
        assert_eq!(parse_spec(&text).unwrap_err().kind(), ErrorKind::TooLarge);
    }
}
