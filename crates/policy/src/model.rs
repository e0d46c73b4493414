//! Policies: rules (gate + trigger + parameters + action), whitelists, and policy sets with
//! mappings.

use std::collections::BTreeMap;
use std::fmt;

use portcullis_types::Severity;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use portcullis_types::decision::Action;

/// How a finding's severity is compared with a rule's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparison {
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `=`
    Equal,
    /// `<=`
    LessOrEqual,
    /// `<`
    Less,
}

impl Comparison {
    /// Every comparison.
    pub const ALL: [Comparison; 5] = [
        Self::Greater,
        Self::GreaterOrEqual,
        Self::Equal,
        Self::LessOrEqual,
        Self::Less,
    ];

    /// The operator as written (`>`, `>=`, `=`, `<=`, `<`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Greater => ">",
            Self::GreaterOrEqual => ">=",
            Self::Equal => "=",
            Self::LessOrEqual => "<=",
            Self::Less => "<",
        }
    }

    /// Parse an operator (`==` is accepted for `=`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "==" => Some(Self::Equal),
            other => Self::ALL.into_iter().find(|c| c.as_str() == other),
        }
    }

    /// Whether `value <op> threshold` holds.
    pub fn holds(self, value: Severity, threshold: Severity) -> bool {
        match self {
            Self::Greater => value > threshold,
            Self::GreaterOrEqual => value >= threshold,
            Self::Equal => value == threshold,
            Self::LessOrEqual => value <= threshold,
            Self::Less => value < threshold,
        }
    }
}

/// A port a rule refers to: a number, optionally limited to one protocol.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSpec {
    /// The port number.
    pub port: u16,
    /// `tcp`, `udp` or `sctp`; `None` matches any protocol.
    pub protocol: Option<String>,
}

impl PortSpec {
    /// Whether an `ExposedPorts` key (`22/tcp`, `53/udp`, `8080`) is this port.
    pub fn matches(&self, exposed: &str) -> bool {
        let (number, protocol) = match exposed.split_once('/') {
            Some((n, p)) => (n, p),
            None => (exposed, "tcp"),
        };
        number.trim().parse::<u16>().ok() == Some(self.port)
            && self
                .protocol
                .as_deref()
                .is_none_or(|want| want.eq_ignore_ascii_case(protocol.trim()))
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.protocol {
            Some(p) => write!(f, "{}/{p}", self.port),
            None => write!(f, "{}", self.port),
        }
    }
}

/// What a severity rule does with findings that have no severity rating at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UnknownSeverity {
    /// Judge them as usual (unknown is the lowest severity) and add a WARN result with
    /// their count (`3 findings have no severity rating`) when the rule would not catch
    /// them: missing data is never silent. The default.
    #[default]
    Warn,
    /// Judge them as critical.
    AsCritical,
    /// Judge them as high.
    AsHigh,
    /// Judge them as usual, without the WARN.
    Ignore,
}

impl UnknownSeverity {
    /// Every choice.
    pub const ALL: [Self; 4] = [Self::Warn, Self::AsCritical, Self::AsHigh, Self::Ignore];

    /// The document name (`warn`, `as_critical`, `as_high`, `ignore`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warn => "warn",
            Self::AsCritical => "as_critical",
            Self::AsHigh => "as_high",
            Self::Ignore => "ignore",
        }
    }

    /// Parse a document name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|u| u.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// A probability threshold in [0, 1] (EPSS score or percentile), kept exactly as
/// billionths so policies compare, hash and print without rounding surprises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Probability(u32);

impl Probability {
    /// From a number in [0, 1]; `None` for anything else (NaN, negative, above 1).
    pub fn new(value: f64) -> Option<Self> {
        (value.is_finite() && (0.0..=1.0).contains(&value))
            .then(|| Self((value * 1e9).round() as u32))
    }

    /// The value.
    pub fn value(self) -> f64 {
        f64::from(self.0) / 1e9
    }

    /// Whether `x >= self`.
    pub fn reached_by(self, x: f64) -> bool {
        x.is_finite() && (x * 1e9).round() >= f64::from(self.0)
    }
}

impl Serialize for Probability {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.value())
    }
}

impl fmt::Display for Probability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value())
    }
}

/// What a rule checks: its gate, trigger and parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// `dockerfile` / `exposed_ports`: the image exposes one of `ports`.
    ExposedPorts {
        /// The ports that trigger the rule.
        ports: Vec<PortSpec>,
    },
    /// `dockerfile` / `no_healthcheck`: the image has no HEALTHCHECK (or `NONE`).
    NoHealthcheck,
    /// `dockerfile` / `effective_user`: the container runs as root (no `User`, `root`, `0`,
    /// `0:0`, `root:<group>`, `0:<gid>`, ...).
    EffectiveUserRoot,
    /// `vulnerabilities` / `package`: a (non-whitelisted) finding matches.
    VulnerablePackage {
        /// The severity threshold.
        severity: Severity,
        /// How a finding's severity compares with the threshold (default `>=`).
        comparison: Comparison,
        /// `Some(true)`: only findings with a fix; `Some(false)`: only those without.
        fix_available: Option<bool>,
        /// Only fixed findings whose fix has been public at least this many days trigger.
        max_days_since_fix: Option<u32>,
        /// What findings without any severity rating count as.
        unknown_severity: UnknownSeverity,
    },
    /// `vulnerabilities` / `kev`: a (non-whitelisted) finding is in CISA's Known Exploited
    /// Vulnerabilities catalog.
    Kev {
        /// `Some(true)`: only findings with a fix; `Some(false)`: only those without.
        fix_available: Option<bool>,
    },
    /// `vulnerabilities` / `epss`: a (non-whitelisted) finding's EPSS score reaches
    /// `min_score` and its percentile reaches `min_percentile` (each when set; at least one
    /// is).
    Epss {
        /// The lowest score that triggers.
        min_score: Option<Probability>,
        /// The lowest percentile that triggers.
        min_percentile: Option<Probability>,
    },
    /// `vulnerabilities` / `stale_feed_data`: a vulnerability source is older than
    /// `max_days` days.
    StaleFeedData {
        /// The allowed age in days (default 2).
        max_days: u32,
    },
    /// `vulnerabilities` / `vulnerability_data_unavailable`: there is no vulnerability data
    /// for the image's OS.
    VulnerabilityDataUnavailable,
    /// `always` / `always`: always triggers.
    Always,
}

/// A parameter value as written in a policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// A string.
    Text(String),
    /// A whole number.
    Number(u32),
    /// A boolean.
    Bool(bool),
    /// A probability (EPSS thresholds).
    Probability(Probability),
}

impl Trigger {
    /// The gate name (`dockerfile`, `vulnerabilities`, `always`).
    pub fn gate(&self) -> &'static str {
        match self {
            Self::ExposedPorts { .. } | Self::NoHealthcheck | Self::EffectiveUserRoot => {
                "dockerfile"
            }
            Self::VulnerablePackage { .. }
            | Self::Kev { .. }
            | Self::Epss { .. }
            | Self::StaleFeedData { .. }
            | Self::VulnerabilityDataUnavailable => "vulnerabilities",
            Self::Always => "always",
        }
    }

    /// The trigger name within its gate.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ExposedPorts { .. } => "exposed_ports",
            Self::NoHealthcheck => "no_healthcheck",
            Self::EffectiveUserRoot => "effective_user",
            Self::VulnerablePackage { .. } => "package",
            Self::Kev { .. } => "kev",
            Self::Epss { .. } => "epss",
            Self::StaleFeedData { .. } => "stale_feed_data",
            Self::VulnerabilityDataUnavailable => "vulnerability_data_unavailable",
            Self::Always => "always",
        }
    }

    /// The parameters in their document form.
    pub fn params(&self) -> BTreeMap<&'static str, ParamValue> {
        let mut out = BTreeMap::new();
        match self {
            Self::ExposedPorts { ports } => {
                let list: Vec<String> = ports.iter().map(ToString::to_string).collect();
                out.insert("ports", ParamValue::Text(list.join(",")));
            }
            Self::VulnerablePackage {
                severity,
                comparison,
                fix_available,
                max_days_since_fix,
                unknown_severity,
            } => {
                out.insert("severity", ParamValue::Text(severity.as_str().into()));
                if *unknown_severity != UnknownSeverity::Warn {
                    out.insert(
                        "unknown_severity",
                        ParamValue::Text(unknown_severity.as_str().into()),
                    );
                }
                out.insert(
                    "severity_comparison",
                    ParamValue::Text(comparison.as_str().into()),
                );
                if let Some(fix) = fix_available {
                    out.insert("fix_available", ParamValue::Bool(*fix));
                }
                if let Some(days) = max_days_since_fix {
                    out.insert("max_days_since_fix", ParamValue::Number(*days));
                }
            }
            Self::StaleFeedData { max_days } => {
                out.insert("max_days", ParamValue::Number(*max_days));
            }
            Self::Kev { fix_available } => {
                if let Some(fix) = fix_available {
                    out.insert("fix_available", ParamValue::Bool(*fix));
                }
            }
            Self::Epss {
                min_score,
                min_percentile,
            } => {
                if let Some(p) = min_score {
                    out.insert("min_score", ParamValue::Probability(*p));
                }
                if let Some(p) = min_percentile {
                    out.insert("min_percentile", ParamValue::Probability(*p));
                }
            }
            Self::NoHealthcheck
            | Self::EffectiveUserRoot
            | Self::VulnerabilityDataUnavailable
            | Self::Always => {}
        }
        out
    }
}

/// One rule: when the trigger fires, the result carries `action`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    /// Gate, trigger and parameters.
    pub trigger: Trigger,
    /// What a match means.
    pub action: Action,
}

impl Rule {
    /// A rule.
    pub fn new(trigger: Trigger, action: Action) -> Self {
        Self { trigger, action }
    }
}

/// A vulnerability that the policy does not hold against an image.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct WhitelistEntry {
    /// A vulnerability id; matches a finding's id or any of its aliases.
    pub id: String,
    /// Only for this package (binary or source name), when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The entry stops applying at this moment: `YYYY-MM-DD` (00:00 UTC that day) or an
    /// RFC 3339 timestamp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Why it is acceptable.
    pub reason: String,
}

/// A policy: rules and a whitelist, identified by `id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Policy {
    /// The id (`reject_high`, or a custom one).
    pub id: String,
    /// What it is for.
    pub description: String,
    /// The rules, in order.
    pub rules: Vec<Rule>,
    /// Whitelisted vulnerabilities.
    pub whitelist: Vec<WhitelistEntry>,
}

/// The document form of a rule.
#[derive(Debug, Serialize)]
pub(crate) struct RuleDoc {
    pub gate: &'static str,
    pub trigger: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<&'static str, ParamValue>,
    pub action: Action,
}

/// The document form of a policy.
#[derive(Debug, Serialize)]
pub(crate) struct PolicyDoc<'a> {
    pub id: &'a str,
    pub description: &'a str,
    pub rules: Vec<RuleDoc>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub whitelist: &'a [WhitelistEntry],
}

impl Policy {
    pub(crate) fn doc(&self) -> PolicyDoc<'_> {
        PolicyDoc {
            id: &self.id,
            description: &self.description,
            rules: self
                .rules
                .iter()
                .map(|rule| RuleDoc {
                    gate: rule.trigger.gate(),
                    trigger: rule.trigger.name(),
                    params: rule.trigger.params(),
                    action: rule.action,
                })
                .collect(),
            whitelist: &self.whitelist,
        }
    }

    /// A stable content hash of the policy (`sha256:<hex>` of its canonical compact JSON):
    /// the same rules, whitelist, id and description give the same version, whatever the
    /// formatting, comments or parameter spelling of the document it came from.
    pub fn version(&self) -> String {
        let bytes = serde_json::to_vec(&self.doc()).unwrap_or_default();
        format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
    }
}

/// Chooses a policy for images whose registry, repository and tag match the globs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Mapping {
    /// Registry glob (`docker.io`, `*.example.com`, `*`).
    pub registry: String,
    /// Repository glob (`library/*`, `*`); `*` crosses `/`.
    pub repository: String,
    /// Tag glob (`v1.*`, `*`). An image referenced by digest alone has tag `""`, which
    /// only `*` (or an empty glob) matches.
    pub tag: String,
    /// The policy to use: an id from the set or a built-in.
    pub policy: String,
}

impl Mapping {
    /// Whether this mapping applies to the image.
    pub fn matches(&self, registry: &str, repository: &str, tag: &str) -> bool {
        glob_matches(&self.registry, registry)
            && glob_matches(&self.repository, repository)
            && glob_matches(&self.tag, tag)
    }
}

/// Compile a mapping glob; errors are reported by the document parser.
pub(crate) fn compile_glob(pattern: &str) -> Result<globset::GlobMatcher, globset::Error> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
}

fn glob_matches(pattern: &str, value: &str) -> bool {
    compile_glob(pattern).is_ok_and(|m| m.is_match(value))
}

/// Several policies with mappings that choose one per image.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicySet {
    /// Custom policies (built-ins need not be listed).
    pub policies: Vec<Policy>,
    /// Mappings, tried in order; the first match wins.
    pub mappings: Vec<Mapping>,
    /// The policy for images no mapping matches.
    pub default_policy: String,
}

/// The document form of a policy set.
#[derive(Debug, Serialize)]
pub(crate) struct PolicySetDoc<'a> {
    pub default_policy: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub mappings: &'a [Mapping],
    pub policies: Vec<PolicyDoc<'a>>,
}

impl PolicySet {
    pub(crate) fn doc(&self) -> PolicySetDoc<'_> {
        PolicySetDoc {
            default_policy: &self.default_policy,
            mappings: &self.mappings,
            policies: self.policies.iter().map(Policy::doc).collect(),
        }
    }

    /// The id of the policy for an image: the first mapping that matches, else the default.
    pub fn select_id(&self, registry: &str, repository: &str, tag: Option<&str>) -> &str {
        let tag = tag.unwrap_or("");
        self.mappings
            .iter()
            .find(|m| m.matches(registry, repository, tag))
            .map_or(self.default_policy.as_str(), |m| m.policy.as_str())
    }

    /// The policy for an image (see [`PolicySet::select_id`]), from this set or the
    /// built-ins. `None` only if the id is unknown, which parsing prevents.
    pub fn select(&self, registry: &str, repository: &str, tag: Option<&str>) -> Option<Policy> {
        self.policy(self.select_id(registry, repository, tag))
    }

    /// A policy of this set, or a built-in, by id (the set's own win).
    pub fn policy(&self, id: &str) -> Option<Policy> {
        self.policies
            .iter()
            .find(|p| p.id == id)
            .cloned()
            .or_else(|| crate::bundles::builtin(id))
    }
}
