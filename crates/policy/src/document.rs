//! Reading and writing policy documents (YAML or JSON, one schema).
//!
//! A document is either one policy:
//!
//! ```yaml
//! id: my_policy
//! description: Stop fixable criticals older than 30 days.
//! rules:
//!   - gate: vulnerabilities
//!     trigger: package
//!     params: {severity: critical, severity_comparison: ">=", fix_available: true, max_days_since_fix: 30}
//!     action: stop
//!   - gate: vulnerabilities
//!     trigger: package
//!     params: {severity: high, unknown_severity: as_high}   # warn (default), as_critical, as_high, ignore
//!     action: stop
//!   - {gate: vulnerabilities, trigger: kev, params: {fix_available: true}, action: stop}
//!   - {gate: vulnerabilities, trigger: epss, params: {min_score: 0.5}, action: stop}   # or min_percentile
//! whitelist:
//!   - {id: CVE-2020-28928, package: musl, expires: 2025-06-30, reason: not reachable}
//! ```
//!
//! or a policy set: `default_policy`, `mappings` (`registry`, `repository`, `tag` globs and a
//! `policy` id) and `policies` (a list of the above). Unknown fields, gates, triggers and
//! parameters are errors naming the field (`rules[2].params.severity: unknown severity 'hgih'`).

use std::collections::BTreeSet;
use std::path::Path;

use portcullis_types::Severity;
use serde_json::{Map, Value};

use crate::bundles;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{
    Action, Comparison, Mapping, Policy, PolicySet, PortSpec, Probability, Rule, Trigger,
    UnknownSeverity, WhitelistEntry, compile_glob,
};
use crate::time;

/// The largest policy document accepted, in bytes.
pub const MAX_DOCUMENT_LEN: usize = 1024 * 1024;
/// The most rules, whitelist entries, mappings or policies one document may hold (each).
pub const MAX_ITEMS: usize = 10_000;
/// The longest id accepted.
const MAX_ID_LEN: usize = 256;

/// A document format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// YAML 1.2.
    Yaml,
    /// JSON.
    Json,
}

impl Format {
    /// The format a file name implies (`.json` is JSON, `.yaml` / `.yml` YAML).
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "json" => Some(Self::Json),
            "yaml" | "yml" => Some(Self::Yaml),
            _ => None,
        }
    }

    /// Guess from content: JSON when it starts with `{`, else YAML.
    pub fn detect(text: &str) -> Self {
        if text.trim_start().starts_with('{') {
            Self::Json
        } else {
            Self::Yaml
        }
    }
}

/// What a document holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyDocument {
    /// One policy.
    Policy(Policy),
    /// Several policies with mappings.
    Set(PolicySet),
}

impl PolicyDocument {
    /// A set view: a single policy becomes a set with it as the default.
    pub fn into_set(self) -> PolicySet {
        match self {
            Self::Set(set) => set,
            Self::Policy(policy) => PolicySet {
                default_policy: policy.id.clone(),
                mappings: Vec::new(),
                policies: vec![policy],
            },
        }
    }
}

/// Parse a document (a policy or a policy set) in `format`.
pub fn parse_document(text: &str, format: Format) -> Result<PolicyDocument> {
    if text.len() > MAX_DOCUMENT_LEN {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "policy document is {} bytes, more than the {MAX_DOCUMENT_LEN} allowed",
                text.len()
            ),
        ));
    }
    let value: Value = match format {
        Format::Json => serde_json::from_str(text)
            .map_err(|e| Error::new(ErrorKind::Syntax, format!("invalid JSON: {e}")))?,
        Format::Yaml => yaml_serde::from_str(text)
            .map_err(|e| Error::new(ErrorKind::Syntax, format!("invalid YAML: {e}")))?,
    };
    let map = object(&value, "")?;
    if map.contains_key("policies") || map.contains_key("mappings") {
        read_set(map).map(PolicyDocument::Set)
    } else {
        read_policy(map, "").map(PolicyDocument::Policy)
    }
}

/// Read and parse the policy document file `path` (policy or policy set), at most
/// [`MAX_DOCUMENT_LEN`] bytes; the format comes from its extension, else its content.
/// Errors name the file.
pub fn read_document(path: &std::path::Path) -> Result<PolicyDocument> {
    use std::io::Read as _;
    let shown = path.display();
    let cap = u64::try_from(MAX_DOCUMENT_LEN).unwrap_or(u64::MAX);
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(cap.saturating_add(1)).read_to_string(&mut text))
        .map_err(|e| Error::new(ErrorKind::Io, format!("policy file {shown}: {e}")))?;
    if text.len() > MAX_DOCUMENT_LEN {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("policy file {shown}: larger than the {MAX_DOCUMENT_LEN} bytes allowed"),
        ));
    }
    let format = Format::from_path(path).unwrap_or_else(|| Format::detect(&text));
    parse_document(&text, format)
        .map_err(|e| Error::new(e.kind(), format!("policy file {shown}: {e}")))
}

/// The policy set `spec` names, as `--policy` and the server's `policy` take it: a built-in
/// id first, else a policy file (see [`read_document`]).
pub fn load_set(spec: &str) -> Result<PolicySet> {
    if crate::builtin(spec).is_some() {
        return Ok(PolicySet {
            policies: Vec::new(),
            mappings: Vec::new(),
            default_policy: spec.to_string(),
        });
    }
    let path = std::path::Path::new(spec);
    if !path.is_file() {
        return Err(Error::new(
            ErrorKind::UnknownPolicy,
            format!(
                "'{spec}' is neither a built-in policy ({}) nor a policy file",
                crate::BUILTIN_IDS.join(", ")
            ),
        ));
    }
    read_document(path).map(PolicyDocument::into_set)
}

/// Parse a document that must hold exactly one policy.
pub fn parse_policy(text: &str, format: Format) -> Result<Policy> {
    match parse_document(text, format)? {
        PolicyDocument::Policy(policy) => Ok(policy),
        PolicyDocument::Set(_) => Err(Error::invalid(
            "",
            "expected a single policy, found a policy set (with `policies`/`mappings`)",
        )),
    }
}

/// Write a policy in `format` (the form [`parse_policy`] reads back identically).
pub fn policy_to_string(policy: &Policy, format: Format) -> Result<String> {
    render(&policy.doc(), format)
}

/// Write a policy set in `format`.
pub fn set_to_string(set: &PolicySet, format: Format) -> Result<String> {
    render(&set.doc(), format)
}

/// A built-in policy in `format`, for users to start from.
pub fn show(id: &str, format: Format) -> Result<String> {
    let policy = bundles::builtin(id).ok_or_else(|| unknown_policy(id))?;
    policy_to_string(&policy, format)
}

pub(crate) fn unknown_policy(id: &str) -> Error {
    Error::new(
        ErrorKind::UnknownPolicy,
        format!(
            "unknown policy '{id}' (built-in policies: {})",
            bundles::BUILTIN_IDS.join(", ")
        ),
    )
}

fn render<T: serde::Serialize>(doc: &T, format: Format) -> Result<String> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(doc)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(|e| e.to_string()),
        Format::Yaml => yaml_serde::to_string(doc).map_err(|e| e.to_string()),
    };
    text.map_err(|e| Error::new(ErrorKind::Invalid, format!("cannot write policy: {e}")))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn object<'v>(value: &'v Value, path: &str) -> Result<&'v Map<String, Value>> {
    value.as_object().ok_or_else(|| {
        Error::invalid(
            path,
            format!("expected a mapping, found {}", type_name(value)),
        )
    })
}

fn list<'v>(value: &'v Value, path: &str) -> Result<&'v [Value]> {
    let items = value.as_array().ok_or_else(|| {
        Error::invalid(path, format!("expected a list, found {}", type_name(value)))
    })?;
    if items.len() > MAX_ITEMS {
        return Err(Error::invalid(
            path,
            format!("{} items, more than the {MAX_ITEMS} allowed", items.len()),
        ));
    }
    Ok(items)
}

fn check_fields(map: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<()> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(Error::invalid(
                &join(path, key),
                format!("unknown field (expected one of: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

fn string(value: &Value, path: &str) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(Error::invalid(
            path,
            format!("expected a string, found {}", type_name(other)),
        )),
    }
}

fn required<'v>(map: &'v Map<String, Value>, path: &str, key: &str) -> Result<&'v Value> {
    map.get(key)
        .ok_or_else(|| Error::invalid(&join(path, key), "missing required field"))
}

fn optional_string(map: &Map<String, Value>, path: &str, key: &str) -> Result<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => string(v, &join(path, key)).map(Some),
    }
}

fn id(value: &Value, path: &str) -> Result<String> {
    let s = string(value, path)?;
    let s = s.trim().to_string();
    if s.is_empty() {
        return Err(Error::invalid(path, "must not be empty"));
    }
    if s.len() > MAX_ID_LEN || s.chars().any(char::is_control) {
        return Err(Error::invalid(
            path,
            format!("must be at most {MAX_ID_LEN} characters without control characters"),
        ));
    }
    Ok(s)
}

fn read_set(map: &Map<String, Value>) -> Result<PolicySet> {
    check_fields(map, "", &["default_policy", "mappings", "policies"])?;
    let mut policies: Vec<Policy> = Vec::new();
    if let Some(value) = map.get("policies") {
        for (i, item) in list(value, "policies")?.iter().enumerate() {
            let path = format!("policies[{i}]");
            let policy = read_policy(object(item, &path)?, &path)?;
            if policies.iter().any(|p| p.id == policy.id) {
                return Err(Error::invalid(
                    &join(&path, "id"),
                    format!("duplicate policy id '{}'", policy.id),
                ));
            }
            policies.push(policy);
        }
    }
    let known = |id: &str| policies.iter().any(|p| p.id == id) || bundles::builtin(id).is_some();
    let default_policy = id(required(map, "", "default_policy")?, "default_policy")?;
    if !known(&default_policy) {
        return Err(Error::invalid(
            "default_policy",
            format!("unknown policy '{default_policy}'"),
        ));
    }
    let mut mappings = Vec::new();
    if let Some(value) = map.get("mappings") {
        for (i, item) in list(value, "mappings")?.iter().enumerate() {
            let path = format!("mappings[{i}]");
            let m = object(item, &path)?;
            check_fields(m, &path, &["registry", "repository", "tag", "policy"])?;
            let glob = |key: &str| -> Result<String> {
                let pattern = optional_string(m, &path, key)?.unwrap_or_else(|| "*".into());
                compile_glob(&pattern).map_err(|e| {
                    Error::invalid(&join(&path, key), format!("invalid glob '{pattern}': {e}"))
                })?;
                Ok(pattern)
            };
            let (registry, repository, tag) =
                (glob("registry")?, glob("repository")?, glob("tag")?);
            let policy_path = join(&path, "policy");
            let policy = id(required(m, &path, "policy")?, &policy_path)?;
            if !known(&policy) {
                return Err(Error::invalid(
                    &policy_path,
                    format!("unknown policy '{policy}'"),
                ));
            }
            mappings.push(Mapping {
                registry,
                repository,
                tag,
                policy,
            });
        }
    }
    Ok(PolicySet {
        policies,
        mappings,
        default_policy,
    })
}

fn read_policy(map: &Map<String, Value>, path: &str) -> Result<Policy> {
    check_fields(map, path, &["id", "description", "rules", "whitelist"])?;
    let policy_id = id(required(map, path, "id")?, &join(path, "id"))?;
    let description = optional_string(map, path, "description")?.unwrap_or_default();
    let mut rules = Vec::new();
    let rules_path = join(path, "rules");
    for (i, item) in list(required(map, path, "rules")?, &rules_path)?
        .iter()
        .enumerate()
    {
        rules.push(read_rule(item, &format!("{rules_path}[{i}]"))?);
    }
    let mut whitelist = Vec::new();
    if let Some(value) = map.get("whitelist") {
        let wl_path = join(path, "whitelist");
        for (i, item) in list(value, &wl_path)?.iter().enumerate() {
            whitelist.push(read_whitelist_entry(item, &format!("{wl_path}[{i}]"))?);
        }
    }
    Ok(Policy {
        id: policy_id,
        description,
        rules,
        whitelist,
    })
}

fn read_whitelist_entry(value: &Value, path: &str) -> Result<WhitelistEntry> {
    let map = object(value, path)?;
    check_fields(map, path, &["id", "package", "expires", "reason"])?;
    let vuln_id = id(required(map, path, "id")?, &join(path, "id"))?;
    let package = match map.get("package") {
        None | Some(Value::Null) => None,
        Some(v) => Some(id(v, &join(path, "package"))?),
    };
    let expires = optional_string(map, path, "expires")?;
    if let Some(date) = &expires
        && time::parse_timestamp(date).is_none()
    {
        return Err(Error::invalid(
            &join(path, "expires"),
            format!("invalid date '{date}' (expected YYYY-MM-DD or an RFC 3339 timestamp)"),
        ));
    }
    let reason = optional_string(map, path, "reason")?.unwrap_or_default();
    Ok(WhitelistEntry {
        id: vuln_id,
        package,
        expires,
        reason,
    })
}

/// The parameters each trigger takes: (gate, trigger, allowed params).
const TRIGGERS: &[(&str, &str, &[&str])] = &[
    ("dockerfile", "exposed_ports", &["ports"]),
    ("dockerfile", "no_healthcheck", &[]),
    ("dockerfile", "effective_user", &[]),
    (
        "vulnerabilities",
        "package",
        &[
            "severity",
            "severity_comparison",
            "fix_available",
            "max_days_since_fix",
            "unknown_severity",
        ],
    ),
    ("vulnerabilities", "kev", &["fix_available"]),
    ("vulnerabilities", "epss", &["min_score", "min_percentile"]),
    ("vulnerabilities", "stale_feed_data", &["max_days"]),
    ("vulnerabilities", "vulnerability_data_unavailable", &[]),
    ("always", "always", &[]),
];

fn read_rule(value: &Value, path: &str) -> Result<Rule> {
    let map = object(value, path)?;
    check_fields(map, path, &["gate", "trigger", "params", "action"])?;
    let (gate, trigger, allowed) = read_gate_and_trigger(map, path)?;
    let params = Params::of_rule(map, path, (&gate, &trigger), allowed)?;
    let trigger = match trigger.as_str() {
        "exposed_ports" => Trigger::ExposedPorts {
            ports: read_ports(params.required("ports")?, &params.path("ports"))?,
        },
        "no_healthcheck" => Trigger::NoHealthcheck,
        "effective_user" => Trigger::EffectiveUserRoot,
        "package" => read_package_trigger(&params)?,
        "kev" => Trigger::Kev {
            fix_available: params.read("fix_available", boolean)?,
        },
        "epss" => {
            let min_score = params.read("min_score", probability)?;
            let min_percentile = params.read("min_percentile", probability)?;
            if min_score.is_none() && min_percentile.is_none() {
                return Err(Error::invalid(
                    &params.base,
                    "trigger 'vulnerabilities/epss' needs min_score or min_percentile",
                ));
            }
            Trigger::Epss {
                min_score,
                min_percentile,
            }
        }
        "stale_feed_data" => Trigger::StaleFeedData {
            max_days: params
                .read("max_days", number)?
                .unwrap_or(bundles::DEFAULT_MAX_FEED_AGE_DAYS),
        },
        "vulnerability_data_unavailable" => Trigger::VulnerabilityDataUnavailable,
        _ => Trigger::Always,
    };
    let action_path = join(path, "action");
    let action_text = string(required(map, path, "action")?, &action_path)?;
    let action = Action::parse(&action_text).ok_or_else(|| {
        Error::invalid(
            &action_path,
            format!("unknown action '{action_text}' (expected go, warn or stop)"),
        )
    })?;
    Ok(Rule { trigger, action })
}

/// A rule's gate and trigger, both known, and the parameters the trigger takes.
fn read_gate_and_trigger(
    map: &Map<String, Value>,
    path: &str,
) -> Result<(String, String, &'static [&'static str])> {
    let gate_path = join(path, "gate");
    let gate = string(required(map, path, "gate")?, &gate_path)?;
    let gates: BTreeSet<&str> = TRIGGERS.iter().map(|(g, _, _)| *g).collect();
    if !gates.contains(gate.as_str()) {
        return Err(Error::invalid(
            &gate_path,
            format!(
                "unknown gate '{gate}' (expected one of: {})",
                gates.into_iter().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let trigger_path = join(path, "trigger");
    let trigger = string(required(map, path, "trigger")?, &trigger_path)?;
    let Some((_, _, allowed)) = TRIGGERS
        .iter()
        .find(|(g, t, _)| *g == gate && *t == trigger)
    else {
        let names: Vec<&str> = TRIGGERS
            .iter()
            .filter(|(g, _, _)| *g == gate)
            .map(|(_, t, _)| *t)
            .collect();
        return Err(Error::invalid(
            &trigger_path,
            format!(
                "unknown trigger '{trigger}' for gate '{gate}' (expected one of: {})",
                names.join(", ")
            ),
        ));
    };
    Ok((gate, trigger, allowed))
}

/// A rule's `params`, each known to its trigger; a `null` value counts as absent.
struct Params<'v> {
    map: &'v Map<String, Value>,
    /// The path of `params` in the document.
    base: String,
}

impl<'v> Params<'v> {
    fn of_rule(
        rule: &'v Map<String, Value>,
        path: &str,
        (gate, trigger): (&str, &str),
        allowed: &[&str],
    ) -> Result<Self> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        let base = join(path, "params");
        let map = match rule.get("params") {
            None | Some(Value::Null) => EMPTY.get_or_init(Map::new),
            Some(v) => object(v, &base)?,
        };
        if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            let expected = if allowed.is_empty() {
                format!("trigger '{gate}/{trigger}' takes no parameters")
            } else {
                format!("expected one of: {}", allowed.join(", "))
            };
            return Err(Error::invalid(
                &join(&base, key),
                format!("unknown parameter ({expected})"),
            ));
        }
        Ok(Self { map, base })
    }

    fn path(&self, key: &str) -> String {
        join(&self.base, key)
    }

    fn get(&self, key: &str) -> Option<&'v Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn required(&self, key: &str) -> Result<&'v Value> {
        self.get(key)
            .ok_or_else(|| Error::invalid(&self.path(key), "missing required parameter"))
    }

    /// The parameter `key` read with `parse`, if given.
    fn read<T>(&self, key: &str, parse: fn(&Value, &str) -> Result<T>) -> Result<Option<T>> {
        self.get(key).map(|v| parse(v, &self.path(key))).transpose()
    }

    /// The parameter `key` as one of `names` (`parse` of its text), if given; `what` names
    /// the kind of value in the error.
    fn choice<T>(
        &self,
        key: &str,
        what: &str,
        names: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let path = self.path(key);
        let text = string(value, &path)?;
        parse(&text).map(Some).ok_or_else(|| {
            Error::invalid(
                &path,
                format!(
                    "unknown {what} '{text}' (expected one of: {})",
                    names.join(", ")
                ),
            )
        })
    }
}

/// The `vulnerabilities/package` trigger: a severity threshold and its comparison, and the
/// optional fix, age and unknown-severity conditions.
fn read_package_trigger(params: &Params<'_>) -> Result<Trigger> {
    let names: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    let severity = params
        .choice("severity", "severity", &names, |text| {
            Severity::ALL
                .into_iter()
                .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
        })?
        .ok_or_else(|| Error::invalid(&params.path("severity"), "missing required parameter"))?;
    let comparisons: Vec<&str> = Comparison::ALL.iter().map(|c| c.as_str()).collect();
    let choices: Vec<&str> = UnknownSeverity::ALL.iter().map(|u| u.as_str()).collect();
    Ok(Trigger::VulnerablePackage {
        severity,
        comparison: params
            .choice(
                "severity_comparison",
                "comparison",
                &comparisons,
                Comparison::parse,
            )?
            .unwrap_or(Comparison::GreaterOrEqual),
        fix_available: params.read("fix_available", boolean)?,
        max_days_since_fix: params.read("max_days_since_fix", number)?,
        unknown_severity: params
            .choice(
                "unknown_severity",
                "choice",
                &choices,
                UnknownSeverity::parse,
            )?
            .unwrap_or(UnknownSeverity::Warn),
    })
}

fn boolean(value: &Value, path: &str) -> Result<bool> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(Error::invalid(
            path,
            format!("expected true or false, found {}", describe(other)),
        )),
    }
}

fn number(value: &Value, path: &str) -> Result<u32> {
    let parsed = match value {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse::<u32>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| {
        Error::invalid(
            path,
            format!(
                "expected a whole number of days (0 or more), found {}",
                describe(value)
            ),
        )
    })
}

fn probability(value: &Value, path: &str) -> Result<Probability> {
    let parsed = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    parsed.and_then(Probability::new).ok_or_else(|| {
        Error::invalid(
            path,
            format!(
                "expected a number between 0 and 1, found {}",
                describe(value)
            ),
        )
    })
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{s}'"),
        Value::Number(n) => n.to_string(),
        other => type_name(other).to_string(),
    }
}

fn read_ports(value: &Value, path: &str) -> Result<Vec<PortSpec>> {
    let items: Vec<String> = match value {
        Value::Number(n) => vec![n.to_string()],
        Value::String(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
        Value::Array(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().take(MAX_ITEMS).enumerate() {
                match item {
                    Value::Number(n) => out.push(n.to_string()),
                    other => out.push(string(other, &format!("{path}[{i}]"))?.trim().to_string()),
                }
            }
            out
        }
        other => {
            return Err(Error::invalid(
                path,
                format!(
                    "expected a port list such as \"22,2222/tcp\", found {}",
                    type_name(other)
                ),
            ));
        }
    };
    let mut ports = Vec::new();
    for item in items {
        let (number, protocol) = match item.split_once('/') {
            Some((n, p)) => (n, Some(p.to_ascii_lowercase())),
            None => (item.as_str(), None),
        };
        let port = number.trim().parse::<u16>().ok().filter(|p| *p > 0);
        let protocol_ok = protocol
            .as_deref()
            .is_none_or(|p| matches!(p, "tcp" | "udp" | "sctp"));
        match port {
            Some(port) if protocol_ok => ports.push(PortSpec { port, protocol }),
            _ => {
                return Err(Error::invalid(
                    path,
                    format!(
                        "invalid port '{item}' (expected 1-65535, optionally /tcp, /udp or /sctp)"
                    ),
                ));
            }
        }
    }
    if ports.is_empty() {
        return Err(Error::invalid(path, "no ports given"));
    }
    Ok(ports)
}
