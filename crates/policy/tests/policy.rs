//! Policy integration tests: every bundle against representative inputs, documents,
//! whitelists, mappings.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use portcullis_policy::*;
use portcullis_testkit::findings::apk_finding;
use portcullis_types::{Digest, Healthcheck, ImageConfig, ImageInfo, SourceKind};
use portcullis_types::{Finding, FindingStatus, Severity};

/// 2024-11-19T07:06:40Z
const NOW: i64 = 1_732_000_000;

fn image(user: Option<&str>, ports: &[&str], healthcheck: Option<&[&str]>) -> ImageInfo {
    ImageInfo {
        reference: "docker.io/library/test:1".into(),
        source: SourceKind::Registry,
        digest: None,
        manifest_digest: None,
        config_digest: Some(Digest::sha256_of(b"config")),
        platform: None,
        config: ImageConfig {
            user: user.map(str::to_string),
            exposed_ports: ports.iter().map(|p| p.to_string()).collect(),
            healthcheck: healthcheck.map(|test| Healthcheck {
                test: test.iter().map(|t| t.to_string()).collect(),
                interval: None,
                timeout: None,
                retries: None,
            }),
            ..ImageConfig::default()
        },
        layers: Vec::new(),
    }
}

fn rootfs_image() -> ImageInfo {
    let mut info = image(None, &[], None);
    info.source = SourceKind::Tar;
    info.config_digest = None;
    info
}

fn finding(id: &str, package: &str, severity: Severity, fixed: Option<&str>) -> Finding {
    let mut finding = apk_finding(id, package, "1.0-r0", severity, fixed, "v3.20");
    finding.aliases = vec![format!("GHSA-{}", id.to_lowercase())];
    finding.package.source_name = Some(format!("{package}-src"));
    finding.severity_source = Some("nvd@nist.gov".into());
    finding.published = Some("2024-10-01T00:00:00Z".into());
    finding
}

fn db(updated: &str) -> DbFreshness {
    DbFreshness {
        built_at: Some(updated.into()),
        sources: vec![
            SourceFreshness {
                name: "alpine-secdb:v3.20/main".into(),
                updated_at: updated.into(),
            },
            SourceFreshness {
                name: "nvd".into(),
                updated_at: "2024-11-19T00:00:00Z".into(),
            },
        ],
    }
}

struct Case {
    name: &'static str,
    image: ImageInfo,
    findings: Vec<Finding>,
    db: Option<DbFreshness>,
    os_supported: bool,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "clean",
            image: image(Some("1000:1000"), &["8080/tcp"], Some(&["CMD", "true"])),
            findings: vec![finding(
                "CVE-2024-0001",
                "zlib",
                Severity::Low,
                Some("1.1-r0"),
            )],
            db: Some(db("2024-11-18T07:06:40Z")),
            os_supported: true,
        },
        Case {
            name: "risky",
            image: image(None, &["22/tcp", "80/tcp"], None),
            findings: vec![
                finding(
                    "CVE-2024-0002",
                    "openssl",
                    Severity::Critical,
                    Some("3.3.2-r1"),
                ),
                finding("CVE-2024-0003", "musl", Severity::High, None),
                finding("CVE-2024-0004", "busybox", Severity::Medium, Some("1.2-r0")),
                finding("CVE-2024-0005", "zlib", Severity::Low, None),
            ],
            db: Some(db("2024-11-16T07:06:39Z")),
            os_supported: false,
        },
        Case {
            name: "rootfs",
            image: rootfs_image(),
            findings: vec![finding("CVE-2024-0006", "musl", Severity::Medium, None)],
            db: None,
            os_supported: true,
        },
        Case {
            name: "high",
            image: image(Some("0:0"), &["2222/tcp"], Some(&["NONE"])),
            findings: vec![finding(
                "CVE-2024-0007",
                "curl",
                Severity::High,
                Some("8.0-r0"),
            )],
            db: Some(db("2024-11-18T00:00:00Z")),
            os_supported: true,
        },
    ]
}

fn run(policy: &Policy, case: &Case) -> Decision {
    evaluate(
        policy,
        &PolicyInput {
            image: &case.image,
            findings: &case.findings,
            database: case.db.as_ref(),
            os_supported: case.os_supported,
            package_errors: &[],
            now: NOW,
        },
    )
}

#[test]
fn bundles_final_actions() {
    use Action::{Go, Stop, Warn};
    // (bundle, [clean, risky, rootfs, high])
    let expected: [(&str, [Action; 4]); 5] = [
        ("allow_all_and_warn", [Go, Warn, Warn, Warn]),
        ("reject_critical", [Go, Stop, Warn, Warn]),
        ("reject_high", [Go, Stop, Warn, Stop]),
        ("block_root", [Go, Stop, Warn, Stop]),
        ("deny_all", [Stop, Stop, Stop, Stop]),
    ];
    let cases = cases();
    for (id, actions) in expected {
        let policy = builtin(id).unwrap();
        for (case, want) in cases.iter().zip(actions) {
            let decision = run(&policy, case);
            assert_eq!(decision.final_action, want, "{id} on {}", case.name);
            assert_eq!(decision.policy_id, id);
        }
    }
}

/// A package database that could not be read makes every bundle that looks at
/// vulnerabilities refuse to say GO: STOP where data is required, WARN where vulnerabilities
/// only warn.
#[test]
fn unreadable_package_database_fails_closed_in_every_bundle() {
    use Action::{Stop, Warn};
    let errors = vec![
        "lib/apk/db/installed: not read (larger than the per-file cap of 1024 bytes); its packages are unknown"
            .to_string(),
        "var/lib/dpkg/status: stanza 3 (line 20): missing Version; skipped".to_string(),
    ];
    let clean = &cases()[0];
    let input = PolicyInput {
        image: &clean.image,
        findings: &clean.findings,
        database: clean.db.as_ref(),
        os_supported: true,
        package_errors: &errors,
        now: NOW,
    };
    let expected = [
        ("allow_all_and_warn", Warn),
        ("reject_critical", Stop),
        ("reject_high", Stop),
        ("block_root", Warn),
        ("deny_all", Stop),
    ];
    for (id, want) in expected {
        let decision = evaluate(&builtin(id).unwrap(), &input);
        assert_eq!(decision.final_action, want, "{id}");
    }
    // A custom policy with no vulnerability rule still never answers GO for such an image.
    let custom = parse_document("id: ports-only\nrules: []\n", Format::Yaml)
        .unwrap()
        .into_set();
    let custom = custom.policy("ports-only").unwrap();
    let decision = evaluate(&custom, &input);
    assert_eq!(decision.final_action, Warn);
    assert_eq!(
        lines(&decision),
        [
            "warn vulnerabilities/not_judgeable: a package database could not be read completely, so the image cannot be judged: lib/apk/db/installed: not read (larger than the per-file cap of 1024 bytes); its packages are unknown (and 1 more)"
        ]
    );
    let judgeable = PolicyInput {
        package_errors: &[],
        ..input
    };
    assert_eq!(evaluate(&custom, &judgeable).final_action, Action::Go);
    let decision = evaluate(&builtin("reject_high").unwrap(), &input);
    assert_eq!(
        lines(&decision),
        [
            "stop vulnerabilities/package: the image's packages are not all known, so vulnerable packages may be missed: lib/apk/db/installed: not read (larger than the per-file cap of 1024 bytes); its packages are unknown (and 1 more)",
            "stop vulnerabilities/vulnerability_data_unavailable: a package database could not be read completely, so the image cannot be judged: lib/apk/db/installed: not read (larger than the per-file cap of 1024 bytes); its packages are unknown (and 1 more)",
        ]
    );
}

/// The input of `image` with `findings` on a supported OS, without package errors.
fn input<'a>(
    image: &'a ImageInfo,
    findings: &'a [Finding],
    database: Option<&'a DbFreshness>,
    now: i64,
) -> PolicyInput<'a> {
    PolicyInput {
        image,
        findings,
        database,
        os_supported: true,
        package_errors: &[],
        now,
    }
}

fn lines(decision: &Decision) -> Vec<String> {
    decision
        .results
        .iter()
        .map(|r| format!("{} {}/{}: {}", r.action, r.gate, r.trigger, r.message))
        .collect()
}

#[test]
fn bundle_results_exact() {
    let cases = cases();
    // (policy, case, the lines of its decision).
    let expected: &[(&str, &str, &[&str])] = &[
        (
            "reject_critical",
            "risky",
            &[
                "stop dockerfile/exposed_ports: the image exposes port 22/tcp",
                "stop vulnerabilities/package: CVE-2024-0002 in openssl 1.0-r0: severity critical >= critical; fixed in 3.3.2-r1",
                "stop vulnerabilities/stale_feed_data: vulnerability data from alpine-secdb:v3.20/main is 3 days old (updated 2024-11-16T07:06:39Z; the limit is 2 days)",
                "stop vulnerabilities/vulnerability_data_unavailable: no vulnerability data is available for the image's operating system",
                "warn dockerfile/no_healthcheck: the image has no HEALTHCHECK",
            ],
        ),
        (
            "allow_all_and_warn",
            "risky",
            &[
                "warn dockerfile/exposed_ports: the image exposes port 22/tcp",
                "warn dockerfile/no_healthcheck: the image has no HEALTHCHECK",
                "warn vulnerabilities/package: CVE-2024-0002 in openssl 1.0-r0: severity critical > medium; fixed in 3.3.2-r1",
                "warn vulnerabilities/package: CVE-2024-0003 in musl 1.0-r0: severity high > medium; no fix available",
                "warn vulnerabilities/stale_feed_data: vulnerability data from alpine-secdb:v3.20/main is 3 days old (updated 2024-11-16T07:06:39Z; the limit is 2 days)",
                "warn vulnerabilities/vulnerability_data_unavailable: no vulnerability data is available for the image's operating system",
            ],
        ),
        (
            "reject_high",
            "risky",
            &[
                "stop vulnerabilities/package: CVE-2024-0002 in openssl 1.0-r0: severity critical >= high; fixed in 3.3.2-r1",
                "stop vulnerabilities/package: CVE-2024-0003 in musl 1.0-r0: severity high >= high; no fix available",
                "stop vulnerabilities/stale_feed_data: vulnerability data from alpine-secdb:v3.20/main is 3 days old (updated 2024-11-16T07:06:39Z; the limit is 2 days)",
                "stop vulnerabilities/vulnerability_data_unavailable: no vulnerability data is available for the image's operating system",
                "warn dockerfile/exposed_ports: the image exposes port 22/tcp",
                "warn dockerfile/no_healthcheck: the image has no HEALTHCHECK",
            ],
        ),
        (
            "block_root",
            "risky",
            &[
                "stop dockerfile/effective_user: the container runs as root (no User is set)",
                "stop dockerfile/exposed_ports: the image exposes port 22/tcp",
                "warn dockerfile/no_healthcheck: the image has no HEALTHCHECK",
                "warn vulnerabilities/package: CVE-2024-0002 in openssl 1.0-r0: severity critical > medium; fixed in 3.3.2-r1",
                "warn vulnerabilities/package: CVE-2024-0003 in musl 1.0-r0: severity high > medium; no fix available",
            ],
        ),
        (
            "block_root",
            "rootfs",
            &[
                "warn dockerfile/effective_user: cannot be evaluated: the image has no config (root filesystem source)",
                "warn dockerfile/exposed_ports: cannot be evaluated: the image has no config (root filesystem source)",
                "warn dockerfile/no_healthcheck: cannot be evaluated: the image has no config (root filesystem source)",
            ],
        ),
        (
            "block_root",
            "high",
            &[
                "stop dockerfile/effective_user: the container runs as root (User '0:0')",
                "warn dockerfile/no_healthcheck: the image's HEALTHCHECK is disabled (NONE)",
                "warn vulnerabilities/package: CVE-2024-0007 in curl 1.0-r0: severity high > medium; fixed in 8.0-r0",
            ],
        ),
        (
            "deny_all",
            "clean",
            &["stop always/always: this policy stops every image"],
        ),
        ("reject_high", "clean", &[]),
    ];
    for (policy, case, want) in expected {
        let case = cases.iter().find(|c| c.name == *case).unwrap();
        assert_eq!(
            lines(&run(&builtin(policy).unwrap(), case)),
            *want,
            "{policy} on {}",
            case.name
        );
    }
    assert_eq!(
        lines(&run(&builtin("reject_critical").unwrap(), &cases[2]))[2],
        "warn vulnerabilities/stale_feed_data: cannot be evaluated: no vulnerability database was used"
    );
}

#[test]
fn decision_json_snapshot() {
    let cases = cases();
    let mut all = Vec::new();
    for policy in builtins() {
        for case in &cases {
            all.push(serde_json::json!({"case": case.name, "decision": run(&policy, case)}));
        }
    }
    insta::assert_json_snapshot!("bundle_decisions", all);
}

#[test]
fn decision_json_shape() {
    let cases = cases();
    let decision = run(&builtin("deny_all").unwrap(), &cases[0]);
    assert_eq!(
        serde_json::to_string(&decision).unwrap(),
        r#"{"id":"deny_all","final_action":"stop","results":[{"gate":"always","trigger":"always","action":"stop","message":"this policy stops every image"}]}"#
    );
}

#[test]
fn show_parse_round_trip() {
    for id in BUILTIN_IDS {
        let policy = builtin(id).unwrap();
        for format in [Format::Yaml, Format::Json] {
            let text = show(id, format).unwrap();
            let parsed = parse_policy(&text, format).unwrap();
            assert_eq!(parsed, policy, "{id} {format:?}:\n{text}");
            assert_eq!(parsed.version(), policy.version());
            // The detected format reads it too.
            assert_eq!(parse_policy(&text, Format::detect(&text)).unwrap(), policy);
        }
    }
    assert_eq!(
        show("reject_high", Format::Yaml).unwrap(),
        "\
id: reject_high
description: Stop images with high or critical vulnerabilities, or stale or missing vulnerability data; warn about port 22 and no HEALTHCHECK.
rules:
- gate: dockerfile
  trigger: exposed_ports
  params:
    ports: '22'
  action: warn
- gate: dockerfile
  trigger: no_healthcheck
  action: warn
- gate: vulnerabilities
  trigger: stale_feed_data
  params:
    max_days: 2
  action: stop
- gate: vulnerabilities
  trigger: vulnerability_data_unavailable
  action: stop
- gate: vulnerabilities
  trigger: package
  params:
    severity: high
    severity_comparison: '>='
  action: stop
"
    );
    let err = show("nope", Format::Json).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownPolicy);
    assert!(err.to_string().contains("reject_critical"), "{err}");
}

#[test]
fn versions_are_stable_and_distinct() {
    let versions: Vec<String> = builtins().iter().map(Policy::version).collect();
    let mut unique = versions.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), BUILTIN_IDS.len());
    for v in &versions {
        assert!(v.starts_with("sha256:") && v.len() == 71, "{v}");
    }
    // Formatting, comments, key order and spelling of parameters do not change the version.
    let a = parse_policy(
        "id: p\nrules:\n- {gate: dockerfile, trigger: exposed_ports, params: {ports: 22}, action: STOP}\n",
        Format::Yaml,
    )
    .unwrap();
    let b = parse_policy(
        r#"{"rules":[{"action":"stop","params":{"ports":"22"},"trigger":"exposed_ports","gate":"dockerfile"}],"id":"p"} "#,
        Format::Json,
    )
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.version(), b.version());
    let mut c = a.clone();
    c.rules[0].action = Action::Warn;
    assert_ne!(a.version(), c.version());
}

fn parse_err(text: &str) -> String {
    let err = parse_document(text, Format::detect(text)).unwrap_err();
    err.to_string()
}

#[test]
fn errors_name_fields() {
    let rules = |third: &str| {
        format!(
            "id: p\nrules:\n- {{gate: always, trigger: always, action: stop}}\n- {{gate: dockerfile, trigger: no_healthcheck, action: warn}}\n- {third}\n"
        )
    };
    let cases: &[(&str, &str)] = &[
        (
            "{gate: vulnerabilities, trigger: package, params: {severity: hgih}, action: stop}",
            "rules[2].params.severity: unknown severity 'hgih' (expected one of: unknown, negligible, low, medium, high, critical)",
        ),
        (
            "{gate: vulnerability, trigger: package, action: stop}",
            "rules[2].gate: unknown gate 'vulnerability' (expected one of: always, dockerfile, vulnerabilities)",
        ),
        (
            "{gate: dockerfile, trigger: ports, action: stop}",
            "rules[2].trigger: unknown trigger 'ports' for gate 'dockerfile' (expected one of: exposed_ports, no_healthcheck, effective_user)",
        ),
        (
            "{gate: dockerfile, trigger: no_healthcheck, params: {x: 1}, action: stop}",
            "rules[2].params.x: unknown parameter (trigger 'dockerfile/no_healthcheck' takes no parameters)",
        ),
        (
            "{gate: vulnerabilities, trigger: package, params: {severity: high, fixed: true}, action: stop}",
            "rules[2].params.fixed: unknown parameter (expected one of: severity, severity_comparison, fix_available, max_days_since_fix, unknown_severity)",
        ),
        (
            "{gate: vulnerabilities, trigger: package, params: {severity: high, severity_comparison: '>>'}, action: stop}",
            "rules[2].params.severity_comparison: unknown comparison '>>' (expected one of: >, >=, =, <=, <)",
        ),
        (
            "{gate: vulnerabilities, trigger: package, params: {severity: high, max_days_since_fix: -3}, action: stop}",
            "rules[2].params.max_days_since_fix: expected a whole number of days (0 or more), found -3",
        ),
        (
            "{gate: vulnerabilities, trigger: package, params: {severity: high, fix_available: maybe}, action: stop}",
            "rules[2].params.fix_available: expected true or false, found 'maybe'",
        ),
        (
            "{gate: vulnerabilities, trigger: package, action: stop}",
            "rules[2].params.severity: missing required parameter",
        ),
        (
            "{gate: dockerfile, trigger: exposed_ports, params: {ports: '22,99999'}, action: stop}",
            "rules[2].params.ports: invalid port '99999' (expected 1-65535, optionally /tcp, /udp or /sctp)",
        ),
        (
            "{gate: always, trigger: always, action: block}",
            "rules[2].action: unknown action 'block' (expected go, warn or stop)",
        ),
        (
            "{gate: always, trigger: always}",
            "rules[2].action: missing required field",
        ),
        (
            "{gate: always, trigger: always, action: stop, when: now}",
            "rules[2].when: unknown field (expected one of: gate, trigger, params, action)",
        ),
        ("[]", "rules[2]: expected a mapping, found a list"),
    ];
    for (rule, want) in cases {
        assert_eq!(parse_err(&rules(rule)), *want, "{rule}");
    }
    assert_eq!(
        parse_err("id: p\nrules: []\nwhitelist:\n- {id: CVE-1, expires: 2024-02-30}\n"),
        "whitelist[0].expires: invalid date '2024-02-30' (expected YYYY-MM-DD or an RFC 3339 timestamp)"
    );
    assert_eq!(parse_err("rules: []\n"), "id: missing required field");
    assert_eq!(
        parse_err("id: p\nrules: []\nname: x\n"),
        "name: unknown field (expected one of: id, description, rules, whitelist)"
    );
    assert_eq!(
        parse_err(
            r#"{"id": "p", "rules": [{"gate": "always", "trigger": "always", "action": 1}]}"#
        ),
        "rules[0].action: expected a string, found a number"
    );
    let syntax = parse_document("id: [unclosed\n", Format::Yaml).unwrap_err();
    assert_eq!(syntax.kind(), ErrorKind::Syntax);
    assert!(syntax.to_string().starts_with("invalid YAML: "), "{syntax}");
    let syntax = parse_document("{\"id\": }", Format::Json).unwrap_err();
    assert_eq!(syntax.kind(), ErrorKind::Syntax);
    assert!(syntax.to_string().starts_with("invalid JSON: "), "{syntax}");
    let big = format!(
        "id: p\nrules: []\ndescription: '{}'\n",
        "x".repeat(MAX_DOCUMENT_LEN)
    );
    assert_eq!(
        parse_document(&big, Format::Yaml).unwrap_err().kind(),
        ErrorKind::TooLarge
    );
    // Sets name their fields too.
    assert_eq!(
        parse_err(
            "default_policy: reject_high\nmappings:\n- {repository: 'a/[', policy: reject_high}\n"
        ),
        "mappings[0].repository: invalid glob 'a/[': error parsing glob 'a/[': unclosed character class; missing ']'"
    );
    assert_eq!(
        parse_err("default_policy: reject_high\nmappings:\n- {policy: mine}\n"),
        "mappings[0].policy: unknown policy 'mine'"
    );
    assert_eq!(
        parse_err("default_policy: x\npolicies: []\n"),
        "default_policy: unknown policy 'x'"
    );
    assert_eq!(
        parse_err(
            "default_policy: a\npolicies:\n- {id: a, rules: []}\n- {id: a, rules: [{gate: always}]}\n"
        ),
        "policies[1].rules[0].trigger: missing required field"
    );
    assert_eq!(
        parse_err("default_policy: a\npolicies:\n- {id: a, rules: []}\n- {id: a, rules: []}\n"),
        "policies[1].id: duplicate policy id 'a'"
    );
}

#[test]
fn whitelist_applies_until_expiry() {
    let text = "\
id: wl
rules:
- {gate: vulnerabilities, trigger: package, params: {severity: high}, action: stop}
whitelist:
- {id: CVE-2024-0002, reason: forever}
- {id: GHSA-cve-2024-0003, package: musl-src, expires: 2024-11-20, reason: by alias and source name}
- {id: CVE-2024-0008, package: other, reason: other package}
- {id: CVE-2024-0008, expires: 2024-11-19, reason: expired at midnight}
";
    let policy = parse_policy(text, Format::Yaml).unwrap();
    let image = image(Some("app"), &[], Some(&["CMD", "true"]));
    let findings = vec![
        finding("CVE-2024-0002", "openssl", Severity::Critical, Some("2")),
        finding("CVE-2024-0003", "musl", Severity::High, None),
        finding("CVE-2024-0008", "curl", Severity::High, None),
    ];
    let at = |now: i64| lines(&evaluate(&policy, &input(&image, &findings, None, now)));
    assert_eq!(
        at(NOW),
        [
            "stop vulnerabilities/package: CVE-2024-0008 in curl 1.0-r0: severity high >= high; no fix available (whitelist entry for CVE-2024-0008 expired 2024-11-19)"
        ]
    );
    // One second before the 2024-11-20 expiry the alias entry still applies; at midnight not.
    let midnight = 1_732_060_800;
    assert_eq!(at(midnight - 1).len(), 1);
    assert_eq!(
        at(midnight)[0],
        "stop vulnerabilities/package: CVE-2024-0003 in musl 1.0-r0: severity high >= high; no fix available (whitelist entry for GHSA-cve-2024-0003 expired 2024-11-20)"
    );
    // Before CVE-2024-0008's expiry nothing triggers.
    assert!(at(1_731_974_400 - 1).is_empty());
}

#[test]
fn vulnerability_params() {
    let policy = |params: &str| {
        parse_policy(
            &format!("id: v\nrules:\n- {{gate: vulnerabilities, trigger: package, params: {params}, action: stop}}\n"),
            Format::Yaml,
        )
        .unwrap()
    };
    let image = image(Some("app"), &[], Some(&["CMD", "true"]));
    let mut old_fix = finding("CVE-2024-0010", "a", Severity::Critical, Some("2"));
    old_fix.published = Some("2024-09-01T00:00:00Z".into()); // 79 days before NOW
    let mut new_fix = finding("CVE-2024-0011", "b", Severity::Critical, Some("2"));
    new_fix.published = Some("2024-11-10T00:00:00Z".into()); // 9 days
    let mut undated = finding("CVE-2024-0012", "c", Severity::Critical, Some("2"));
    undated.published = None;
    let unfixed = finding("CVE-2024-0013", "d", Severity::Critical, None);
    let mut wontfix = finding("CVE-2024-0014", "e", Severity::Low, None);
    wontfix.status = FindingStatus::WontFix;
    let findings = vec![old_fix, new_fix, undated, unfixed, wontfix];
    let ids = |p: &Policy| {
        evaluate(p, &input(&image, &findings, None, NOW))
            .results
            .iter()
            .map(|r| format!("{} {}", r.action, r.message.split(' ').next().unwrap_or("")))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&policy(
            "{severity: critical, fix_available: true, max_days_since_fix: 30}"
        )),
        ["stop CVE-2024-0010", "warn cannot"]
    );
    assert_eq!(
        ids(&policy("{severity: critical, fix_available: false}")),
        ["stop CVE-2024-0013"]
    );
    assert_eq!(
        ids(&policy("{severity: low, severity_comparison: '='}")),
        ["stop CVE-2024-0014"]
    );
    assert_eq!(
        ids(&policy("{severity: medium, severity_comparison: '<'}")),
        ["stop CVE-2024-0014"]
    );
    assert_eq!(ids(&policy("{severity: critical}")).len(), 4);
    let unevaluable = evaluate(
        &policy("{severity: critical, fix_available: true, max_days_since_fix: 30}"),
        &input(&image, &findings, None, NOW),
    );
    assert_eq!(
        unevaluable.results[1].message,
        "cannot be evaluated: CVE-2024-0012 in c 1.0-r0: severity critical >= critical: the date of the fix is unknown, so max_days_since_fix 30 cannot be checked"
    );
    assert_eq!(unevaluable.final_action, Action::Stop);
}

#[test]
fn ports_and_stale_feed() {
    let policy = parse_policy(
        "id: p\nrules:\n- {gate: dockerfile, trigger: exposed_ports, params: {ports: [22, 53/udp]}, action: warn}\n- {gate: vulnerabilities, trigger: stale_feed_data, params: {max_days: 7}, action: stop}\n",
        Format::Yaml,
    )
    .unwrap();
    let image = image(
        Some("app"),
        &["22/udp", "53/tcp", "53/udp", "8022/tcp"],
        None,
    );
    let bad_db = DbFreshness {
        built_at: None,
        sources: vec![
            SourceFreshness {
                name: "osv:PyPI".into(),
                updated_at: "yesterday".into(),
            },
            SourceFreshness {
                name: "nvd".into(),
                updated_at: "2024-11-01".into(),
            },
        ],
    };
    let decision = evaluate(&policy, &input(&image, &[], Some(&bad_db), NOW));
    assert_eq!(
        lines(&decision),
        [
            "stop vulnerabilities/stale_feed_data: vulnerability data from nvd is 18 days old (updated 2024-11-01; the limit is 7 days)",
            "warn dockerfile/exposed_ports: the image exposes port 22/udp",
            "warn dockerfile/exposed_ports: the image exposes port 53/udp",
            "warn vulnerabilities/stale_feed_data: cannot be evaluated: source osv:PyPI has an unreadable update time 'yesterday'",
        ]
    );
}

#[test]
fn mappings_choose_policies() {
    let text = r#"
default_policy: allow_all_and_warn
mappings:
  - {registry: docker.io, repository: "library/*", tag: "*", policy: reject_high}
  - {registry: "*.example.com", repository: "prod/**", tag: "v[0-9]*", policy: strict}
  - {registry: "*.example.com", policy: block_root}
policies:
  - id: strict
    description: everything stops
    rules:
      - {gate: always, trigger: always, action: stop}
"#;
    let set = parse_document(text, Format::Yaml).unwrap().into_set();
    let table: &[(&str, &str, Option<&str>, &str)] = &[
        ("docker.io", "library/alpine", Some("3.20"), "reject_high"),
        ("docker.io", "library/alpine", None, "reject_high"),
        (
            "docker.io",
            "bitnami/redis",
            Some("7"),
            "allow_all_and_warn",
        ),
        ("ghcr.io", "library/alpine", Some("3"), "allow_all_and_warn"),
        ("r.example.com", "prod/api/server", Some("v1.2"), "strict"),
        ("r.example.com", "prod/api", Some("latest"), "block_root"),
        ("r.example.com", "dev/api", Some("v1"), "block_root"),
        ("example.com", "prod/api", Some("v1"), "allow_all_and_warn"),
    ];
    for (registry, repository, tag, want) in table {
        assert_eq!(
            set.select_id(registry, repository, *tag),
            *want,
            "{registry}/{repository}:{tag:?}"
        );
        assert_eq!(set.select(registry, repository, *tag).unwrap().id, *want);
    }
    // A set round-trips through both formats.
    for format in [Format::Yaml, Format::Json] {
        let again = parse_document(&set_to_string(&set, format).unwrap(), format)
            .unwrap()
            .into_set();
        assert_eq!(again, set);
    }
    // A single policy is a set with itself as the default.
    let single = parse_document("id: only\nrules: []\n", Format::Yaml)
        .unwrap()
        .into_set();
    assert_eq!(single.select_id("a", "b", None), "only");
    assert!(parse_policy(text, Format::Yaml).is_err());
}

fn exploited_finding(
    id: &str,
    kev: Option<&str>,
    epss: Option<(f64, f64)>,
    fixed: Option<&str>,
) -> Finding {
    let mut f = finding(id, "pillow", Severity::High, fixed);
    f.kev = kev.map(|cve| portcullis_types::FindingKev {
        cve: cve.into(),
        date_added: "2023-09-13".into(),
        due_date: "2023-10-04".into(),
        known_ransomware_use: "Unknown".into(),
    });
    f.epss = epss.map(|(score, percentile)| portcullis_types::FindingEpss {
        cve: "CVE-2023-4863".into(),
        score,
        percentile,
        date: Some("2026-08-16".into()),
    });
    f
}

fn exploitation_db() -> DbFreshness {
    let mut db = db("2024-11-19T00:00:00Z");
    for name in ["kev", "epss"] {
        db.sources.push(SourceFreshness {
            name: name.into(),
            updated_at: "2024-11-19T00:00:00Z".into(),
        });
    }
    db
}

fn judge(policy: &Policy, findings: Vec<Finding>, db: Option<DbFreshness>) -> Decision {
    evaluate(
        policy,
        &input(
            &image(Some("app"), &[], Some(&["CMD", "true"])),
            &findings,
            db.as_ref(),
            NOW,
        ),
    )
}

#[test]
fn reject_exploited_stops_kev_and_likely_exploitation_and_warns_on_critical() {
    let policy = builtin("reject_exploited").unwrap();
    let findings = vec![
        exploited_finding(
            "PYSEC-2023-175",
            Some("CVE-2023-4863"),
            None,
            Some("10.0.1"),
        ),
        exploited_finding("CVE-2024-0010", None, Some((0.5, 0.97)), None),
        exploited_finding("CVE-2024-0011", None, Some((0.499_999, 0.97)), None),
        finding("CVE-2024-0012", "zlib", Severity::Critical, None),
    ];
    let decision = judge(&policy, findings, Some(exploitation_db()));
    assert_eq!(decision.final_action, Action::Stop);
    assert_eq!(
        lines(&decision),
        [
            "stop vulnerabilities/epss: CVE-2024-0010 in pillow 1.0-r0: EPSS of 2026-08-16 for CVE-2023-4863: score 0.5 >= 0.5; no fix available",
            "stop vulnerabilities/kev: PYSEC-2023-175 in pillow 1.0-r0: CVE-2023-4863 is in CISA's Known Exploited Vulnerabilities catalog (added 2023-09-13, due 2023-10-04, ransomware use Unknown); fixed in 10.0.1",
            "warn vulnerabilities/package: CVE-2024-0012 in zlib 1.0-r0: severity critical >= critical; no fix available",
        ]
    );
    // Nothing exploited, nothing critical: GO.
    let clean = vec![exploited_finding(
        "CVE-2024-0011",
        None,
        Some((0.1, 0.5)),
        None,
    )];
    let decision = judge(&policy, clean.clone(), Some(exploitation_db()));
    assert_eq!(decision.final_action, Action::Go, "{:?}", decision.results);
    // Without KEV and EPSS data the rules say they cannot judge: never a silent GO.
    assert_eq!(
        lines(&judge(&policy, clean, Some(db("2024-11-19T00:00:00Z")))),
        [
            "warn vulnerabilities/epss: cannot be evaluated: the vulnerability database has no FIRST's EPSS scores (source 'epss'; run `portcullis db update`)",
            "warn vulnerabilities/kev: cannot be evaluated: the vulnerability database has no CISA's KEV catalog (source 'kev'; run `portcullis db update`)",
        ]
    );
}

#[test]
fn kev_and_epss_triggers_take_their_parameters() {
    let policy = parse_policy(
        "id: p\nrules:\n\
         - {gate: vulnerabilities, trigger: kev, params: {fix_available: true}, action: stop}\n\
         - {gate: vulnerabilities, trigger: epss, params: {min_percentile: 0.95}, action: warn}\n",
        Format::Yaml,
    )
    .unwrap();
    let findings = vec![
        exploited_finding("CVE-2024-0020", Some("CVE-2024-0020"), None, None),
        exploited_finding("CVE-2024-0021", Some("CVE-2024-0021"), None, Some("2.0")),
        exploited_finding("CVE-2024-0022", None, Some((0.01, 0.95)), None),
        exploited_finding("CVE-2024-0023", None, Some((0.9, 0.949)), None),
    ];
    let mut whitelisted = policy.clone();
    whitelisted.whitelist.push(WhitelistEntry {
        id: "CVE-2024-0021".into(),
        package: None,
        expires: None,
        reason: "test".into(),
    });
    assert_eq!(
        lines(&judge(&policy, findings.clone(), Some(exploitation_db()))),
        [
            "stop vulnerabilities/kev: CVE-2024-0021 in pillow 1.0-r0: CVE-2024-0021 is in CISA's Known Exploited Vulnerabilities catalog (added 2023-09-13, due 2023-10-04, ransomware use Unknown); fixed in 2.0",
            "warn vulnerabilities/epss: CVE-2024-0022 in pillow 1.0-r0: EPSS of 2026-08-16 for CVE-2023-4863: percentile 0.95 >= 0.95; no fix available",
        ]
    );
    assert_eq!(
        judge(&whitelisted, findings, Some(exploitation_db())).final_action,
        Action::Warn
    );
    // Round trip through the document form.
    let text = policy_to_string(&policy, Format::Yaml).unwrap();
    assert_eq!(parse_policy(&text, Format::Yaml).unwrap(), policy);
    assert!(text.contains("min_percentile: 0.95"), "{text}");
    // Bad parameters name the field.
    for (doc, message) in [
        (
            "{gate: vulnerabilities, trigger: epss, action: stop}",
            "rules[0].params: trigger 'vulnerabilities/epss' needs min_score or min_percentile",
        ),
        (
            "{gate: vulnerabilities, trigger: epss, params: {min_score: 1.5}, action: stop}",
            "rules[0].params.min_score: expected a number between 0 and 1, found 1.5",
        ),
        (
            "{gate: vulnerabilities, trigger: epss, params: {min_score: -0.1}, action: stop}",
            "rules[0].params.min_score: expected a number between 0 and 1, found -0.1",
        ),
        (
            "{gate: vulnerabilities, trigger: kev, params: {severity: high}, action: stop}",
            "rules[0].params.severity: unknown parameter (expected one of: fix_available)",
        ),
        (
            "{gate: vulnerabilities, trigger: package, params: {severity: high, unknown_severity: maybe}, action: stop}",
            "rules[0].params.unknown_severity: unknown choice 'maybe' (expected one of: warn, as_critical, as_high, ignore)",
        ),
    ] {
        let err = parse_policy(&format!("id: p\nrules:\n- {doc}\n"), Format::Yaml).unwrap_err();
        assert!(err.to_string().contains(message), "{err} / {message}");
    }
}

#[test]
fn unrated_findings_are_never_silent() {
    let unknown = |id: &str| finding(id, "libfoo", Severity::Unknown, None);
    let findings = vec![
        unknown("CVE-2024-0030"),
        unknown("CVE-2024-0031"),
        unknown("CVE-2024-0032"),
        finding("CVE-2024-0033", "zlib", Severity::Critical, None),
    ];
    // The seed bundles warn with the count.
    let decision = judge(
        &builtin("reject_critical").unwrap(),
        findings.clone(),
        Some(db("2024-11-19T00:00:00Z")),
    );
    assert_eq!(
        lines(&decision),
        [
            "stop vulnerabilities/package: CVE-2024-0033 in zlib 1.0-r0: severity critical >= critical; no fix available",
            "warn vulnerabilities/package: 3 findings have no severity rating",
        ]
    );
    // One finding: singular. None: no warning.
    let one = judge(
        &builtin("reject_high").unwrap(),
        vec![unknown("CVE-2024-0030")],
        Some(db("2024-11-19T00:00:00Z")),
    );
    assert_eq!(
        lines(&one),
        ["warn vulnerabilities/package: 1 finding has no severity rating"]
    );
    let none = judge(
        &builtin("reject_high").unwrap(),
        vec![finding("CVE-2024-0034", "zlib", Severity::Low, None)],
        Some(db("2024-11-19T00:00:00Z")),
    );
    assert!(none.results.is_empty(), "{:?}", none.results);
    // Custom rules: as_critical, as_high, ignore; a rule that catches unknown anyway; a
    // whitelisted unrated finding does not count.
    let rule = |extra: &str| {
        parse_policy(
            &format!(
                "id: p\nrules:\n- {{gate: vulnerabilities, trigger: package, params: {{severity: high{extra}}}, action: stop}}\n"
            ),
            Format::Yaml,
        )
        .unwrap()
    };
    let two = vec![unknown("CVE-2024-0030"), unknown("CVE-2024-0031")];
    let d = judge(&rule(", unknown_severity: as_critical"), two.clone(), None);
    assert_eq!(
        lines(&d),
        [
            "stop vulnerabilities/package: CVE-2024-0030 in libfoo 1.0-r0: severity unknown (judged as critical) >= high; no fix available",
            "stop vulnerabilities/package: CVE-2024-0031 in libfoo 1.0-r0: severity unknown (judged as critical) >= high; no fix available",
        ]
    );
    let d = judge(&rule(", unknown_severity: as_high"), two.clone(), None);
    assert_eq!(d.final_action, Action::Stop);
    assert_eq!(d.results.len(), 2);
    let d = judge(&rule(", unknown_severity: ignore"), two.clone(), None);
    assert!(d.results.is_empty(), "{:?}", d.results);
    let d = judge(
        &rule(", severity_comparison: '>=', unknown_severity: warn"),
        two.clone(),
        None,
    );
    assert_eq!(
        lines(&d),
        ["warn vulnerabilities/package: 2 findings have no severity rating"]
    );
    let catches_all = parse_policy(
        "id: p\nrules:\n- {gate: vulnerabilities, trigger: package, params: {severity: unknown}, action: warn}\n",
        Format::Yaml,
    )
    .unwrap();
    let d = judge(&catches_all, two.clone(), None);
    assert_eq!(d.results.len(), 2);
    assert!(lines(&d).iter().all(|l| !l.contains("no severity rating")));
    let mut listed = rule("");
    listed.whitelist.push(WhitelistEntry {
        id: "CVE-2024-0030".into(),
        package: None,
        expires: None,
        reason: "test".into(),
    });
    assert_eq!(
        lines(&judge(&listed, two, None)),
        ["warn vulnerabilities/package: 1 finding has no severity rating"]
    );
    // The seed bundles' documents are unchanged: no unknown_severity parameter.
    for id in [
        "allow_all_and_warn",
        "reject_critical",
        "reject_high",
        "block_root",
    ] {
        let text = show(id, Format::Yaml).unwrap();
        assert!(!text.contains("unknown_severity"), "{text}");
    }
}

/// Policy files as `--policy` and the server's `policy.file` read them: capped, named in
/// every error, a built-in id winning over a file of the same name.
#[test]
fn policy_files_are_read_capped_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("mine.yaml");
    std::fs::write(
        &good,
        "id: mine\nrules:\n  - {gate: always, trigger: always, action: warn}\n",
    )
    .unwrap();
    let set = load_set(good.to_str().unwrap()).unwrap();
    assert_eq!(set.default_policy, "mine");
    assert_eq!(load_set("deny_all").unwrap().default_policy, "deny_all");
    let missing = load_set("no_such_thing").unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::UnknownPolicy);
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, vec![b'#'; MAX_DOCUMENT_LEN + 1]).unwrap();
    let e = read_document(&big).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    assert_eq!(
        e.to_string(),
        format!(
            "policy file {}: larger than the {MAX_DOCUMENT_LEN} bytes allowed",
            big.display()
        )
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{").unwrap();
    let e = read_document(&bad).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Syntax);
    assert!(
        e.to_string()
            .starts_with(&format!("policy file {}: invalid JSON", bad.display())),
        "{e}"
    );
}
