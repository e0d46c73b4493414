//! The built-in policies.

use portcullis_types::Severity;

use crate::model::{
    Action, Comparison, Policy, PortSpec, Probability, Rule, Trigger, UnknownSeverity,
};

/// The ids of the built-in policies, in listing order.
pub const BUILTIN_IDS: [&str; 6] = [
    "allow_all_and_warn",
    "reject_critical",
    "reject_high",
    "block_root",
    "deny_all",
    "reject_exploited",
];

/// The EPSS score at which `reject_exploited` stops an image.
pub const REJECT_EXPLOITED_MIN_EPSS: f64 = 0.5;

/// The default stale-feed limit in days.
pub const DEFAULT_MAX_FEED_AGE_DAYS: u32 = 2;

fn port_22() -> Trigger {
    Trigger::ExposedPorts {
        ports: vec![PortSpec {
            port: 22,
            protocol: None,
        }],
    }
}

fn severity(severity: Severity, comparison: Comparison) -> Trigger {
    Trigger::VulnerablePackage {
        severity,
        comparison,
        fix_available: None,
        max_days_since_fix: None,
        unknown_severity: UnknownSeverity::Warn,
    }
}

fn stale() -> Trigger {
    Trigger::StaleFeedData {
        max_days: DEFAULT_MAX_FEED_AGE_DAYS,
    }
}

fn policy(id: &str, description: &str, rules: Vec<Rule>) -> Policy {
    Policy {
        id: id.to_string(),
        description: description.to_string(),
        rules,
        whitelist: Vec::new(),
    }
}

/// A built-in policy by id.
pub fn builtin(id: &str) -> Option<Policy> {
    use Action::{Stop, Warn};
    let p = match id {
        "allow_all_and_warn" => policy(
            id,
            "Allow every image; warn about port 22, no HEALTHCHECK, stale or missing \
             vulnerability data, and vulnerabilities above medium.",
            vec![
                Rule::new(port_22(), Warn),
                Rule::new(Trigger::NoHealthcheck, Warn),
                Rule::new(stale(), Warn),
                Rule::new(Trigger::VulnerabilityDataUnavailable, Warn),
                Rule::new(severity(Severity::Medium, Comparison::Greater), Warn),
            ],
        ),
        "reject_critical" => policy(
            id,
            "Stop images with critical vulnerabilities, port 22, or stale or missing \
             vulnerability data; warn about no HEALTHCHECK.",
            vec![
                Rule::new(port_22(), Stop),
                Rule::new(Trigger::NoHealthcheck, Warn),
                Rule::new(stale(), Stop),
                Rule::new(Trigger::VulnerabilityDataUnavailable, Stop),
                Rule::new(
                    severity(Severity::Critical, Comparison::GreaterOrEqual),
                    Stop,
                ),
            ],
        ),
        "reject_high" => policy(
            id,
            "Stop images with high or critical vulnerabilities, or stale or missing \
             vulnerability data; warn about port 22 and no HEALTHCHECK.",
            vec![
                Rule::new(port_22(), Warn),
                Rule::new(Trigger::NoHealthcheck, Warn),
                Rule::new(stale(), Stop),
                Rule::new(Trigger::VulnerabilityDataUnavailable, Stop),
                Rule::new(severity(Severity::High, Comparison::GreaterOrEqual), Stop),
            ],
        ),
        "block_root" => policy(
            id,
            "Stop images that run as root or expose port 22; warn about no HEALTHCHECK \
             and vulnerabilities above medium.",
            vec![
                Rule::new(port_22(), Stop),
                Rule::new(Trigger::EffectiveUserRoot, Stop),
                Rule::new(Trigger::NoHealthcheck, Warn),
                Rule::new(severity(Severity::Medium, Comparison::Greater), Warn),
            ],
        ),
        "deny_all" => policy(
            id,
            "Stop every image.",
            vec![Rule::new(Trigger::Always, Stop)],
        ),
        "reject_exploited" => policy(
            id,
            "Stop images with a vulnerability known to be exploited (CISA KEV) or likely to be \
             (EPSS score 0.5 or more); warn about critical vulnerabilities.",
            vec![
                Rule::new(
                    Trigger::Kev {
                        fix_available: None,
                    },
                    Stop,
                ),
                Rule::new(
                    Trigger::Epss {
                        min_score: Probability::new(REJECT_EXPLOITED_MIN_EPSS),
                        min_percentile: None,
                    },
                    Stop,
                ),
                Rule::new(
                    severity(Severity::Critical, Comparison::GreaterOrEqual),
                    Warn,
                ),
            ],
        ),
        _ => return None,
    };
    Some(p)
}

/// Every built-in policy, in [`BUILTIN_IDS`] order.
pub fn builtins() -> Vec<Policy> {
    BUILTIN_IDS.iter().filter_map(|id| builtin(id)).collect()
}
