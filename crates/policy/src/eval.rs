//! Evaluating a policy against an image and its findings.

use portcullis_types::{
    DbFreshness, Decision, Finding, FindingStatus, ImageInfo, RuleResult, Severity,
};

use crate::model::{
    Action, Comparison, Policy, Probability, Rule, Trigger, UnknownSeverity, WhitelistEntry,
};
use crate::time::{self, DAY};
use crate::user::is_root_user;

/// Everything a policy looks at.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    /// The image (its config: user, exposed ports, health check).
    pub image: &'a ImageInfo,
    /// The findings of the scan.
    pub findings: &'a [Finding],
    /// The database freshness; `None` when no database was used.
    pub database: Option<&'a DbFreshness>,
    /// Whether the database has vulnerability data for the image's OS (true for images
    /// with no OS packages to match).
    pub os_supported: bool,
    /// What leaves the image's package list incomplete (package databases not read
    /// completely), each naming the file and the reason. When there is any, the image
    /// cannot be judged on its vulnerabilities, so the rules on vulnerability data and on
    /// vulnerable packages hit with their own action (fail closed).
    pub package_errors: &'a [String],
    /// The evaluation time, in seconds since the Unix epoch.
    pub now: i64,
}

struct Results<'r> {
    rule: &'r Rule,
    out: Vec<RuleResult>,
}

impl Results<'_> {
    fn hit(&mut self, message: impl Into<String>) {
        self.push(self.rule.action, message.into());
    }

    fn cannot_evaluate(&mut self, why: impl std::fmt::Display) {
        self.push(Action::Warn, format!("cannot be evaluated: {why}"));
    }

    fn push(&mut self, action: Action, message: String) {
        self.out.push(RuleResult {
            gate: self.rule.trigger.gate().to_string(),
            trigger: self.rule.trigger.name().to_string(),
            action,
            message,
        });
    }
}

/// Evaluate `policy` against `input`.
pub fn evaluate(policy: &Policy, input: &PolicyInput<'_>) -> Decision {
    let mut results = Vec::new();
    for rule in &policy.rules {
        let mut r = Results {
            rule,
            out: Vec::new(),
        };
        evaluate_rule(policy, rule, input, &mut r);
        results.append(&mut r.out);
    }
    results.sort_by(|a, b| {
        b.action
            .cmp(&a.action)
            .then_with(|| a.gate.cmp(&b.gate))
            .then_with(|| a.trigger.cmp(&b.trigger))
            .then_with(|| a.message.cmp(&b.message))
    });
    results.dedup();
    // An image whose package databases were not all read is never a GO, whatever the
    // policy's rules: its vulnerabilities are unknown.
    if !input.package_errors.is_empty() && results.iter().all(|r| r.action == Action::Go) {
        results.push(RuleResult {
            gate: "vulnerabilities".to_string(),
            trigger: "not_judgeable".to_string(),
            action: Action::Warn,
            message: format!(
                "a package database could not be read completely, so the image cannot be \
                 judged: {}",
                describe_errors(input.package_errors)
            ),
        });
    }
    let final_action = results.iter().map(|r| r.action).max().unwrap_or(Action::Go);
    Decision {
        policy_id: policy.id.clone(),
        final_action,
        results,
    }
}

fn evaluate_rule(policy: &Policy, rule: &Rule, input: &PolicyInput<'_>, r: &mut Results<'_>) {
    match &rule.trigger {
        Trigger::ExposedPorts { .. } | Trigger::NoHealthcheck | Trigger::EffectiveUserRoot => {
            config_rule(&rule.trigger, input.image, r);
        }
        Trigger::VulnerablePackage {
            severity,
            comparison,
            fix_available,
            max_days_since_fix,
            unknown_severity,
        } => vulnerable_rule(
            policy,
            (*severity, *comparison),
            *fix_available,
            *max_days_since_fix,
            *unknown_severity,
            input,
            r,
        ),
        Trigger::Kev { fix_available } => kev_rule(policy, *fix_available, input, r),
        Trigger::Epss {
            min_score,
            min_percentile,
        } => epss_rule(policy, *min_score, *min_percentile, input, r),
        Trigger::StaleFeedData { max_days } => stale_feed(*max_days, input, r),
        Trigger::VulnerabilityDataUnavailable => {
            if !input.os_supported {
                r.hit("no vulnerability data is available for the image's operating system");
            }
            if !input.package_errors.is_empty() {
                r.hit(format!(
                    "a package database could not be read completely, so the image cannot be \
                     judged: {}",
                    describe_errors(input.package_errors)
                ));
            }
        }
        Trigger::Always => r.hit("this policy stops every image"),
    }
}

/// The rules on the image config: exposed ports, healthcheck, user.
fn config_rule(trigger: &Trigger, image: &ImageInfo, r: &mut Results<'_>) {
    if image.config_digest.is_none() {
        r.cannot_evaluate("the image has no config (root filesystem source)");
        return;
    }
    let config = &image.config;
    match trigger {
        Trigger::ExposedPorts { ports } => {
            for exposed in &config.exposed_ports {
                if ports.iter().any(|p| p.matches(exposed)) {
                    r.hit(format!("the image exposes port {exposed}"));
                }
            }
        }
        Trigger::NoHealthcheck => match &config.healthcheck {
            None => r.hit("the image has no HEALTHCHECK"),
            Some(h) if h.test.first().is_some_and(|t| t == "NONE") => {
                r.hit("the image's HEALTHCHECK is disabled (NONE)");
            }
            Some(h) if h.test.is_empty() => r.hit("the image's HEALTHCHECK has no test"),
            Some(_) => {}
        },
        Trigger::EffectiveUserRoot => {
            let user = config.user.as_deref();
            if is_root_user(user) {
                match user.map(str::trim).filter(|u| !u.is_empty()) {
                    Some(u) => r.hit(format!("the container runs as root (User '{u}')")),
                    None => r.hit("the container runs as root (no User is set)"),
                }
            }
        }
        _ => {}
    }
}

/// `vulnerable_package`: each finding at or past the severity, and a warning counting the
/// unrated ones.
fn vulnerable_rule(
    policy: &Policy,
    (severity, comparison): (Severity, Comparison),
    fix_available: Option<bool>,
    max_days_since_fix: Option<u32>,
    unknown_severity: UnknownSeverity,
    input: &PolicyInput<'_>,
    r: &mut Results<'_>,
) {
    not_all_known(input, "vulnerable", r);
    let mut unrated = 0usize;
    for finding in input.findings {
        let judged_as = match (finding.severity, unknown_severity) {
            (Severity::Unknown, UnknownSeverity::AsCritical) => Severity::Critical,
            (Severity::Unknown, UnknownSeverity::AsHigh) => Severity::High,
            (other, _) => other,
        };
        if finding.severity == Severity::Unknown
            && unknown_severity == UnknownSeverity::Warn
            && !comparison.holds(Severity::Unknown, severity)
            && fix_matches(finding, fix_available)
            && !matches!(whitelisted(policy, finding, input.now), Listed::Yes)
        {
            unrated += 1;
        }
        vulnerable_package(
            policy,
            finding,
            judged_as,
            (severity, comparison),
            fix_available,
            max_days_since_fix,
            input.now,
            r,
        );
    }
    match unrated {
        0 => {}
        1 => r.push(Action::Warn, "1 finding has no severity rating".to_string()),
        n => r.push(
            Action::Warn,
            format!("{n} findings have no severity rating"),
        ),
    }
}

/// `kev`: each finding in CISA's Known Exploited Vulnerabilities catalog.
fn kev_rule(
    policy: &Policy,
    fix_available: Option<bool>,
    input: &PolicyInput<'_>,
    r: &mut Results<'_>,
) {
    not_all_known(input, "exploited", r);
    if !has_source(input, KEV_SOURCE, r) {
        return;
    }
    for finding in input.findings {
        let Some(kev) = &finding.kev else {
            continue;
        };
        let what = format!(
            "{} in {}: {} is in CISA's Known Exploited Vulnerabilities catalog \
             (added {}, due {}, ransomware use {})",
            finding.id,
            package_label(finding),
            kev.cve,
            kev.date_added,
            kev.due_date,
            kev.known_ransomware_use
        );
        exploited(policy, finding, what, fix_available, input.now, r);
    }
}

/// `epss`: each finding whose EPSS score or percentile reaches the minimum.
fn epss_rule(
    policy: &Policy,
    min_score: Option<Probability>,
    min_percentile: Option<Probability>,
    input: &PolicyInput<'_>,
    r: &mut Results<'_>,
) {
    not_all_known(input, "likely exploited", r);
    if !has_source(input, EPSS_SOURCE, r) {
        return;
    }
    for finding in input.findings {
        let Some(epss) = &finding.epss else {
            continue;
        };
        let score_ok = min_score.is_none_or(|m| m.reached_by(epss.score));
        let percentile_ok = min_percentile.is_none_or(|m| m.reached_by(epss.percentile));
        if !(score_ok && percentile_ok) {
            continue;
        }
        let mut limits = Vec::new();
        if let Some(m) = min_score {
            limits.push(format!("score {} >= {m}", epss.score));
        }
        if let Some(m) = min_percentile {
            limits.push(format!("percentile {} >= {m}", epss.percentile));
        }
        let date = epss
            .date
            .as_deref()
            .map(|d| format!(" of {d}"))
            .unwrap_or_default();
        let what = format!(
            "{} in {}: EPSS{date} for {}: {}",
            finding.id,
            package_label(finding),
            epss.cve,
            limits.join(", ")
        );
        exploited(policy, finding, what, None, input.now, r);
    }
}

/// An image whose package databases were not all read may hide `what` packages: the rule
/// hits, so no rule that looks for packages can pass such an image.
fn not_all_known(input: &PolicyInput<'_>, what: &str, r: &mut Results<'_>) {
    if !input.package_errors.is_empty() {
        r.hit(format!(
            "the image's packages are not all known, so {what} packages may be missed: {}",
            describe_errors(input.package_errors)
        ));
    }
}

/// The first error, and how many more there are.
fn describe_errors(errors: &[String]) -> String {
    let first = errors.first().map_or("", String::as_str);
    match errors.len() {
        0 | 1 => first.to_string(),
        n => format!("{first} (and {} more)", n - 1),
    }
}

/// The database source names of the exploitation data.
const KEV_SOURCE: &str = "kev";
const EPSS_SOURCE: &str = "epss";

/// Whether the database has `source`; when it does not (or no database was used), the rule
/// cannot be evaluated and says so: an absent catalog must not read as "nothing exploited".
fn has_source(input: &PolicyInput<'_>, source: &str, r: &mut Results<'_>) -> bool {
    let Some(db) = input.database else {
        r.cannot_evaluate("no vulnerability database was used");
        return false;
    };
    if db.sources.iter().any(|s| s.name == source) {
        return true;
    }
    let what = match source {
        KEV_SOURCE => "CISA's KEV catalog",
        _ => "FIRST's EPSS scores",
    };
    r.cannot_evaluate(format!(
        "the vulnerability database has no {what} (source '{source}'; run `portcullis db update`)"
    ));
    false
}

fn fix_matches(finding: &Finding, fix_available: Option<bool>) -> bool {
    let fixed = finding.status == FindingStatus::Fixed;
    fix_available.is_none_or(|want| want == fixed)
}

fn fix_words(finding: &Finding) -> String {
    match finding.status {
        FindingStatus::Fixed => match &finding.fixed_version {
            Some(v) => format!("fixed in {v}"),
            None => "fixed".to_string(),
        },
        FindingStatus::NotFixed => "no fix available".to_string(),
        FindingStatus::WontFix => "the distribution will not fix it".to_string(),
    }
}

/// A KEV or EPSS hit for `finding` (described by `what`), unless filtered or whitelisted.
fn exploited(
    policy: &Policy,
    finding: &Finding,
    what: String,
    fix_available: Option<bool>,
    now: i64,
    r: &mut Results<'_>,
) {
    if !fix_matches(finding, fix_available) {
        return;
    }
    let Some(note) = whitelist_note(policy, finding, now) else {
        return;
    };
    r.hit(format!("{what}; {}{note}", fix_words(finding)));
}

fn package_label(finding: &Finding) -> String {
    format!("{} {}", finding.package.name, finding.package.version)
}

/// `None` when a whitelist entry in force covers the finding; else the note for its
/// message (naming an expired entry that covers it, or empty).
fn whitelist_note(policy: &Policy, finding: &Finding, now: i64) -> Option<String> {
    match whitelisted(policy, finding, now) {
        Listed::Yes => None,
        Listed::Expired(entry) => Some(format!(
            " (whitelist entry for {} expired {})",
            entry.id,
            entry.expires.as_deref().unwrap_or("")
        )),
        Listed::No => Some(String::new()),
    }
}

/// What the whitelist says about a finding.
enum Listed<'w> {
    /// An entry in force covers it.
    Yes,
    /// Only expired entries cover it.
    Expired(&'w WhitelistEntry),
    /// No entry covers it.
    No,
}

fn whitelisted<'w>(policy: &'w Policy, finding: &Finding, now: i64) -> Listed<'w> {
    let mut expired = None;
    for entry in &policy.whitelist {
        if !finding.has_id(&entry.id) {
            continue;
        }
        if let Some(package) = &entry.package {
            let p = &finding.package;
            if p.name != *package && p.source_name.as_deref() != Some(package.as_str()) {
                continue;
            }
        }
        // An unparseable date cannot pass validation; treat it as expired to be safe.
        match entry.expires.as_deref().map(time::parse_timestamp) {
            None => return Listed::Yes,
            Some(Some(until)) if now < until => return Listed::Yes,
            Some(_) => expired = expired.or(Some(entry)),
        }
    }
    expired.map_or(Listed::No, Listed::Expired)
}

#[allow(clippy::too_many_arguments)]
fn vulnerable_package(
    policy: &Policy,
    finding: &Finding,
    judged_as: Severity,
    (threshold, comparison): (Severity, Comparison),
    fix_available: Option<bool>,
    max_days_since_fix: Option<u32>,
    now: i64,
    r: &mut Results<'_>,
) {
    if !comparison.holds(judged_as, threshold) {
        return;
    }
    if !fix_matches(finding, fix_available) {
        return;
    }
    let Some(note) = whitelist_note(policy, finding, now) else {
        return;
    };
    let severity = if judged_as == finding.severity {
        finding.severity.to_string()
    } else {
        format!("unknown (judged as {judged_as})")
    };
    let what = format!(
        "{} in {}: severity {severity} {} {}",
        finding.id,
        package_label(finding),
        comparison.as_str(),
        threshold
    );
    if let (Some(days), true) = (max_days_since_fix, finding.status == FindingStatus::Fixed) {
        let published = finding.published.as_deref().and_then(time::parse_timestamp);
        let Some(published) = published else {
            r.cannot_evaluate(format!(
                "{what}: the date of the fix is unknown, so max_days_since_fix {days} cannot be checked{note}"
            ));
            return;
        };
        let age_days = now.saturating_sub(published) / DAY;
        if age_days < i64::from(days) {
            return;
        }
    }
    r.hit(format!("{what}; {}{note}", fix_words(finding)));
}

fn stale_feed(max_days: u32, input: &PolicyInput<'_>, r: &mut Results<'_>) {
    let Some(db) = input.database else {
        r.cannot_evaluate("no vulnerability database was used");
        return;
    };
    let mut dated: Vec<(&str, &str)> = db
        .sources
        .iter()
        .map(|s| (s.name.as_str(), s.updated_at.as_str()))
        .collect();
    if dated.is_empty() {
        match &db.built_at {
            Some(built) => dated.push(("database", built.as_str())),
            None => {
                r.cannot_evaluate("the database records no update time");
                return;
            }
        }
    }
    let limit = i64::from(max_days).saturating_mul(DAY);
    for (name, when) in dated {
        let Some(at) = time::parse_timestamp(when) else {
            r.cannot_evaluate(format!(
                "source {name} has an unreadable update time '{when}'"
            ));
            continue;
        };
        let age = input.now.saturating_sub(at);
        if age > limit {
            r.hit(format!(
                "vulnerability data from {name} is {} days old (updated {when}; the limit is {max_days} days)",
                age / DAY
            ));
        }
    }
}
