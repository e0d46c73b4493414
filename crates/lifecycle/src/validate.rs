//! The rules of the activation spec. [`validate`] reports every problem at once, each naming
//! its field (`webhookConfig.namespaces[1]`, `releaseWhiteList[0].regexp`).

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use portcullis_policy::{BUILTIN_IDS, Format, PolicySet, parse_document, parse_policy};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::spec::{NotificationSpec, RegistrySpec, Spec, WhitelistItemSpec};

/// The most namespaces, whitelist items or registries one spec may list (each).
pub const MAX_ITEMS: usize = 1000;
/// The largest compiled whitelist regexp, in bytes.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// The namespace that is never judged.
pub const KUBE_SYSTEM: &str = "kube-system";

/// One broken rule: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field, as a path (`registries[0].secretId`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Default)]
pub(crate) struct Problems(pub(crate) Vec<Problem>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            field: field.into(),
            message: message.into(),
        });
    }
}

/// Check `spec` for an install into `namespace`; every problem is returned at once in an
/// [`crate::ErrorKind::Invalid`] error.
pub fn validate(spec: &Spec, namespace: &str) -> Result<()> {
    let mut problems = Problems::default();
    check_policy(spec, &mut problems);
    check_webhook(spec, namespace, &mut problems);
    check_whitelist(&spec.release_white_list, &mut problems);
    if let Some(registry) = &spec.registry {
        check_registry(registry, "registry", &mut problems);
    }
    if spec.registries.len() > MAX_ITEMS {
        problems.add("registries", format!("more than {MAX_ITEMS} entries"));
    }
    for (i, registry) in spec.registries.iter().enumerate().take(MAX_ITEMS) {
        check_registry(registry, &format!("registries[{i}]"), &mut problems);
    }
    check_notifications(&spec.notifications, &mut problems);
    if let Some(image) = &spec.image {
        check_image(image, &mut problems);
    }
    if let Some(engine) = spec.engine.as_ref().filter(|e| e.enabled) {
        let url = engine.url.as_str();
        if url.is_empty() {
            problems.add("engine.url", "required when the engine is enabled");
        } else if !(url.starts_with("https://") || url.starts_with("http://"))
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            problems.add("engine.url", format!("'{url}' is not an http(s) URL"));
        }
        if let Some(secret) = &engine.secret_id
            && !is_dns_subdomain(secret)
        {
            problems.add(
                "engine.secretId",
                format!("'{secret}' is not a valid Secret name"),
            );
        }
    }
    if !matches!(spec.unknown_image_action.as_str(), "reject" | "allow") {
        problems.add(
            "unknownImageAction",
            format!(
                "'{}' is neither 'reject' nor 'allow'",
                spec.unknown_image_action
            ),
        );
    }
    if let Some(database) = &spec.database {
        let repository = database.repository.as_str();
        if repository.is_empty() {
            problems.add("database.repository", "required");
        } else if repository.contains("://")
            || !repository.contains('/')
            || repository.chars().any(char::is_whitespace)
        {
            problems.add(
                "database.repository",
                format!(
                    "'{repository}' must be registry/repository[:tag], without a scheme (e.g. registry.local:5000/portcullis/db:latest)"
                ),
            );
        }
        if let Some(secret) = &database.secret_id
            && !is_dns_subdomain(secret)
        {
            problems.add(
                "database.secretId",
                format!("'{secret}' is not a valid Secret name"),
            );
        }
    }
    if let Some(builder) = &spec.builder {
        if spec.database.is_none() {
            problems.add(
                "builder",
                "needs database.repository (where the built database is pushed)",
            );
        }
        if let Err(e) = check_cron(&builder.schedule) {
            problems.add(
                "builder.schedule",
                format!(
                    "'{}' is not a 5-field cron expression (minute hour day-of-month month day-of-week, e.g. '0 */6 * * *'): {e}",
                    builder.schedule
                ),
            );
        }
    }
    match portcullis_config::parse_duration(&spec.update_interval).map(|d| d.get()) {
        Err(_) => problems.add(
            "updateInterval",
            format!(
                "'{}' is not a duration like 1h, 30m or 1h30m",
                spec.update_interval
            ),
        ),
        Ok(d) if d < Duration::from_secs(60) || d > Duration::from_secs(7 * 24 * 3600) => {
            problems.add(
                "updateInterval",
                format!("'{}' is outside 1m to 168h", spec.update_interval),
            );
        }
        Ok(_) => {}
    }
    if problems.0.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(problems.0))
    }
}

fn check_policy(spec: &Spec, problems: &mut Problems) {
    let policy = &spec.policy;
    let custom_enabled = policy.custom_policy.as_ref().is_some_and(|c| c.enabled);
    let custom = check_policies(&spec.policies, problems);
    let custom_ids: Vec<&str> = custom.policies.iter().map(|p| p.id.as_str()).collect();
    match policy.policy_id.as_deref() {
        None | Some("") if !custom_enabled => problems.add(
            "policy.policyId",
            "required unless customPolicy.enabled is set",
        ),
        Some(id) if !id.is_empty() && !BUILTIN_IDS.contains(&id) && !custom_ids.contains(&id) => {
            problems.add(
                "policy.policyId",
                if custom_ids.is_empty() {
                    format!(
                        "'{id}' is not a built-in policy (one of {})",
                        BUILTIN_IDS.join(", ")
                    )
                } else {
                    format!(
                        "'{id}' is neither a built-in policy ({}) nor one of `policies` ({})",
                        BUILTIN_IDS.join(", "),
                        custom_ids.join(", ")
                    )
                },
            );
        }
        _ => {}
    }
    if custom_enabled {
        match policy
            .custom_policy
            .as_ref()
            .and_then(|c| c.policy.as_ref())
        {
            None | Some(Value::Null) => problems.add(
                "policy.customPolicy.policy",
                "required when customPolicy.enabled is set",
            ),
            Some(document) => {
                if let Err(e) = custom_policy(document) {
                    problems.add("policy.customPolicy.policy", e.to_string());
                }
            }
        }
    }
}

/// Every policy and mapping of `policies` (policy or policy-set documents) in one set, each
/// document's problems named by its index: unparsable documents, ids given twice or taken by
/// a built-in, and mappings to unknown policies. The set's default is left empty.
pub(crate) fn check_policies(documents: &[Value], problems: &mut Problems) -> PolicySet {
    let mut set = PolicySet {
        policies: Vec::new(),
        mappings: Vec::new(),
        default_policy: String::new(),
    };
    for (i, document) in documents.iter().enumerate().take(MAX_ITEMS) {
        let field = format!("policies[{i}]");
        let parsed = match document {
            Value::String(text) => parse_document(text, Format::detect(text)),
            other => parse_document(&other.to_string(), Format::Json),
        };
        let parsed = match parsed {
            Ok(parsed) => parsed.into_set(),
            Err(e) => {
                problems.add(field, e.to_string());
                continue;
            }
        };
        for policy in parsed.policies {
            if BUILTIN_IDS.contains(&policy.id.as_str()) {
                problems.add(
                    field.clone(),
                    format!("id '{}' is a built-in policy's; choose another", policy.id),
                );
            } else if set.policies.iter().any(|p| p.id == policy.id) {
                problems.add(
                    field.clone(),
                    format!("id '{}' is given more than once", policy.id),
                );
            } else {
                set.policies.push(policy);
            }
        }
        set.mappings.extend(parsed.mappings);
    }
    for mapping in &set.mappings {
        if set.policy(&mapping.policy).is_none() {
            problems.add(
                "policies",
                format!(
                    "a mapping names policy '{}', which is neither built in nor in `policies`",
                    mapping.policy
                ),
            );
        }
    }
    set
}

/// Parse a custom policy given as an object or as YAML/JSON text.
pub fn custom_policy(document: &Value) -> portcullis_policy::Result<portcullis_policy::Policy> {
    match document {
        Value::String(text) => parse_policy(text, Format::detect(text)),
        other => parse_policy(&other.to_string(), Format::Json),
    }
}

fn check_webhook(spec: &Spec, namespace: &str, problems: &mut Problems) {
    let webhook = &spec.webhook_config;
    let exclude = match webhook.selector.as_str() {
        "include" => false,
        "exclude" => true,
        other => {
            problems.add(
                "webhookConfig.selector",
                format!("'{other}' is neither 'include' nor 'exclude'"),
            );
            false
        }
    };
    if webhook.enabled && webhook.namespaces.is_empty() {
        problems.add(
            "webhookConfig.namespaces",
            "must not be empty when the webhook is enabled (use [\"*\"] for every namespace)",
        );
    }
    if webhook.namespaces.len() > MAX_ITEMS {
        problems.add(
            "webhookConfig.namespaces",
            format!("more than {MAX_ITEMS} entries"),
        );
    }
    let has_star = webhook.namespaces.iter().any(|n| n == "*");
    if has_star && webhook.namespaces.len() > 1 {
        problems.add(
            "webhookConfig.namespaces",
            "'*' cannot be combined with other names",
        );
    }
    if has_star && exclude {
        problems.add(
            "webhookConfig.namespaces",
            "excluding '*' would judge nothing; disable the webhook instead",
        );
    }
    for (i, name) in webhook.namespaces.iter().enumerate().take(MAX_ITEMS) {
        let field = format!("webhookConfig.namespaces[{i}]");
        if name == KUBE_SYSTEM || name == namespace {
            problems.add(
                field,
                format!("'{name}' may not be listed: it is never judged"),
            );
        } else if name != "*" && !is_namespace_glob(name) {
            problems.add(
                field,
                format!("'{name}' is not a namespace name or glob (lower-case letters, digits, '-', '*'; at most 63)"),
            );
        }
    }
    if !matches!(webhook.failure_policy.as_str(), "Fail" | "Ignore") {
        problems.add(
            "webhookConfig.failurePolicy",
            format!(
                "'{}' is neither 'Fail' nor 'Ignore'",
                webhook.failure_policy
            ),
        );
    }
    if !(1..=30).contains(&webhook.timeout_seconds) {
        problems.add(
            "webhookConfig.timeoutSeconds",
            format!("{} is outside 1 to 30", webhook.timeout_seconds),
        );
    }
}

fn check_whitelist(items: &[WhitelistItemSpec], problems: &mut Problems) {
    if items.len() > MAX_ITEMS {
        problems.add("releaseWhiteList", format!("more than {MAX_ITEMS} entries"));
    }
    let mut seen = BTreeSet::new();
    for (i, item) in items.iter().enumerate().take(MAX_ITEMS) {
        let field = |name: &str| format!("releaseWhiteList[{i}].{name}");
        if item.name.is_empty() {
            problems.add(field("name"), "required");
        } else if !is_dns_subdomain(&item.name) {
            problems.add(
                field("name"),
                format!("'{}' is not a valid object name (lower-case letters, digits, '-', '.'; at most 253)", item.name),
            );
        } else if !seen.insert(item.name.as_str()) {
            problems.add(field("name"), format!("'{}' is listed twice", item.name));
        }
        if item.reason.trim().is_empty() {
            problems.add(field("reason"), "required");
        }
        if let Some(regexp) = &item.regexp
            && let Err(e) = anchored_regex(regexp)
        {
            problems.add(field("regexp"), format!("does not compile: {e}"));
        }
    }
}

/// Compile `pattern` anchored at both ends, as the server matches release names.
pub fn anchored_regex(pattern: &str) -> std::result::Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

fn check_notifications(list: &[NotificationSpec], problems: &mut Problems) {
    if list.len() > MAX_ITEMS {
        problems.add("notifications", format!("more than {MAX_ITEMS} entries"));
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, n) in list.iter().enumerate().take(MAX_ITEMS) {
        let field = format!("notifications[{i}]");
        if n.name.is_empty() {
            problems.add(format!("{field}.name"), "required");
        } else if !is_dns_subdomain(&n.name) || n.name.contains('.') {
            problems.add(
                format!("{field}.name"),
                format!("'{}' is not a DNS label", n.name),
            );
        } else if !names.insert(n.name.as_str()) {
            problems.add(format!("{field}.name"), format!("'{}' repeated", n.name));
        }
        if !(n.url.starts_with("https://") || n.url.starts_with("http://")) {
            problems.add(
                format!("{field}.url"),
                format!("'{}' is not an http(s) URL", n.url),
            );
        }
        if let Some(secret) = &n.secret_name
            && !is_dns_subdomain(secret)
        {
            problems.add(
                format!("{field}.secretName"),
                format!("'{secret}' is not a valid Secret name"),
            );
        }
        if n.secret_key.is_empty()
            || !n
                .secret_key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            problems.add(
                format!("{field}.secretKey"),
                format!("'{}' is not a valid Secret key", n.secret_key),
            );
        }
        for event in &n.events {
            if !matches!(
                event.as_str(),
                "new_findings" | "verdict_changed" | "admission_denied" | "database_stale"
            ) {
                problems.add(
                    format!("{field}.events"),
                    format!(
                        "'{event}' is none of new_findings, verdict_changed, admission_denied, database_stale"
                    ),
                );
            }
        }
        if let Some(min) = &n.min_severity
            && !matches!(
                min.as_str(),
                "unknown" | "negligible" | "low" | "medium" | "high" | "critical"
            )
        {
            problems.add(
                format!("{field}.minSeverity"),
                format!("'{min}' is not a severity (low, medium, high, critical)"),
            );
        }
        if !matches!(n.format.as_str(), "json" | "slack") {
            problems.add(
                format!("{field}.format"),
                format!("'{}' is neither 'json' nor 'slack'", n.format),
            );
        }
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Check the shape of a 5-field cron expression as a CronJob takes it: each field a list of
/// `*`, `N` or `N-M`, each maybe `/STEP`, within the field's range (month and weekday names
/// allowed, `?` for either day field).
pub fn check_cron(expression: &str) -> std::result::Result<(), String> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("{} fields", fields.len()));
    }
    let limits: [(&str, u32, u32, &[&str]); 5] = [
        ("minute", 0, 59, &[]),
        ("hour", 0, 23, &[]),
        ("day of month", 1, 31, &[]),
        ("month", 1, 12, &MONTHS),
        ("day of week", 0, 7, &DAYS),
    ];
    for (i, (field, (name, low, high, names))) in fields.iter().zip(limits).enumerate() {
        let value = |text: &str| -> std::result::Result<u32, String> {
            if let Some(at) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
                // Month names count from 1, day names from 0.
                return Ok(u32::try_from(at).unwrap_or(0) + u32::from(i == 3));
            }
            let n: u32 = text
                .parse()
                .map_err(|_| format!("{name}: '{text}' is not a number"))?;
            if n < low || n > high {
                return Err(format!("{name}: {n} is outside {low}-{high}"));
            }
            Ok(n)
        };
        for item in field.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (item, None),
            };
            if let Some(step) = step {
                match step.parse::<u32>() {
                    Ok(n) if n > 0 => {}
                    _ => return Err(format!("{name}: '{step}' is not a step")),
                }
            }
            if range == "*" || (range == "?" && (i == 2 || i == 4)) {
                continue;
            }
            match range.split_once('-') {
                Some((from, to)) => {
                    if value(from)? > value(to)? {
                        return Err(format!("{name}: '{range}' runs backwards"));
                    }
                }
                None => {
                    value(range)?;
                }
            }
        }
    }
    Ok(())
}

fn check_registry(registry: &RegistrySpec, field: &str, problems: &mut Problems) {
    if registry.registry.is_empty() {
        problems.add(format!("{field}.registry"), "required");
    } else if registry.registry.contains("://") || registry.registry.contains('/') {
        problems.add(
            format!("{field}.registry"),
            format!(
                "'{}' must be host[:port], without a scheme or path",
                registry.registry
            ),
        );
    }
    if registry.secret_id.is_empty() {
        problems.add(
            format!("{field}.secretId"),
            "required: the Secret (dockerconfigjson or basic-auth) in the install namespace",
        );
    } else if !is_dns_subdomain(&registry.secret_id) {
        problems.add(
            format!("{field}.secretId"),
            format!("'{}' is not a valid Secret name", registry.secret_id),
        );
    }
}

/// A Kubernetes object name (RFC 1123 subdomain).
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_namespace_glob(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'*')
}

/// Whether a namespace entry is a glob rather than an exact name.
pub fn is_glob(name: &str) -> bool {
    name.contains('*')
}

/// The longest image reference accepted.
const MAX_IMAGE_LEN: usize = 1024;

/// An image reference as a container runtime takes it: `registry/repository[:tag][@digest]`,
/// no scheme, no whitespace.
fn check_image(image: &str, problems: &mut Problems) {
    let why = if image.is_empty() {
        Some("required when given".to_string())
    } else if image.len() > MAX_IMAGE_LEN {
        Some(format!("longer than {MAX_IMAGE_LEN} characters"))
    } else if image.contains("://") {
        Some(format!(
            "'{image}' has a URL scheme; give registry/repository[:tag]"
        ))
    } else if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("contains whitespace or control characters".to_string())
    } else if image.starts_with(['-', '/', ':', '@']) || image.ends_with(['/', ':', '@']) {
        Some(format!("'{image}' is not an image reference"))
    } else if let Some((_, digest)) = image.split_once('@')
        && !(digest.starts_with("sha256:") && digest.len() == 71)
    {
        Some(format!("'{digest}' is not a sha256 digest"))
    } else {
        None
    };
    if let Some(why) = why {
        problems.add("image", why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_dns_subdomain("my-release.v2"));
        assert!(!is_dns_subdomain("My_Release"));
        assert!(!is_dns_subdomain("-x"));
        assert!(!is_dns_subdomain(""));
        assert!(is_namespace_glob("team-*"));
        assert!(!is_namespace_glob("Team"));
    }
}
