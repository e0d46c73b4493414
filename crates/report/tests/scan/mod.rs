//! The scan renderings (`portcullis_report::scan`): snapshots of every format for a small
//! synthetic scan result (two packages, findings of every status and several severities,
//! a decision with STOP and WARN results) and for an empty one, the 100-column table, the
//! documented JSON keys, SARIF 2.1.0 and CycloneDX 1.6 schema validation, determinism.

use std::collections::BTreeSet;

use portcullis_report::scan::{self, ScanFormat};
use portcullis_report::{Sbom, Timestamp, ToolInfo};
use portcullis_types::{Action, Decision, RuleResult};
use portcullis_types::{DatabaseInfo, DatabaseSource, ScanResult};
use portcullis_types::{Ecosystem, Extra, Package};
use portcullis_types::{Finding, FindingPackage, FindingStatus, Severity};
use serde_json::Value;

use super::{alpine_os, image, layer, validate};

const APK_DB: &str = "lib/apk/db/installed";
const REQUESTS_METADATA: &str =
    "usr/lib/python3.12/site-packages/requests-2.19.0.dist-info/METADATA";
const MUSL_PURL: &str = "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=3.20.3";
const REQUESTS_PURL: &str = "pkg:pypi/requests@2.19.0";

fn packages() -> Vec<Package> {
    vec![
        Package {
            ecosystem: Ecosystem::Python,
            name: "requests".into(),
            version: "2.19.0".into(),
            arch: None,
            location: REQUESTS_METADATA.into(),
            source_name: None,
            source_version: None,
            licenses: vec!["Apache-2.0".into()],
            purl: REQUESTS_PURL.into(),
            layer: Some(layer(2)),
            extra: Extra::None,
        },
        Package {
            ecosystem: Ecosystem::Apk,
            name: "musl".into(),
            version: "1.2.5-r0".into(),
            arch: Some("x86_64".into()),
            location: APK_DB.into(),
            source_name: Some("musl".into()),
            source_version: None,
            licenses: vec!["MIT".into()],
            purl: MUSL_PURL.into(),
            layer: Some(layer(1)),
            extra: Extra::None,
        },
    ]
}

fn musl() -> FindingPackage {
    FindingPackage {
        name: "musl".into(),
        version: "1.2.5-r0".into(),
        ecosystem: Ecosystem::Apk,
        source_name: Some("musl".into()),
        location: APK_DB.into(),
        purl: MUSL_PURL.into(),
    }
}

fn requests() -> FindingPackage {
    FindingPackage {
        name: "requests".into(),
        version: "2.19.0".into(),
        ecosystem: Ecosystem::Python,
        source_name: None,
        location: REQUESTS_METADATA.into(),
        purl: REQUESTS_PURL.into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn finding(
    id: &str,
    aliases: &[&str],
    package: FindingPackage,
    status: FindingStatus,
    fixed: Option<&str>,
    severity: Severity,
    severity_source: Option<&str>,
    cvss: Option<f64>,
    summary: Option<&str>,
) -> Finding {
    let os = package.ecosystem == Ecosystem::Apk;
    Finding {
        id: id.into(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        package,
        fixed_version: fixed.map(Into::into),
        status,
        severity,
        severity_source: severity_source.map(Into::into),
        cvss_score: cvss,
        summary: summary.map(Into::into),
        published: Some("2024-02-29T12:00:00Z".into()),
        advisory_ecosystem: if os { "Alpine:v3.20" } else { "PyPI" }.into(),
        sources: vec![
            if os {
                "alpine-secdb:v3.20/main"
            } else {
                "osv:PyPI"
            }
            .into(),
        ],
        kev: None,
        epss: None,
    }
}

/// Findings of every status and several severities, deliberately out of order; the first
/// is in CISA's KEV catalog and has an EPSS score.
fn findings() -> Vec<Finding> {
    let mut all = findings_without_exploitation();
    all[0].kev = Some(portcullis_types::FindingKev {
        cve: "CVE-2025-26519".into(),
        date_added: "2025-03-01".into(),
        due_date: "2025-03-22".into(),
        known_ransomware_use: "Unknown".into(),
    });
    all[0].epss = Some(portcullis_types::FindingEpss {
        cve: "CVE-2025-26519".into(),
        score: 0.2345,
        percentile: 0.9678,
        date: Some("2026-08-16".into()),
    });
    all
}

fn findings_without_exploitation() -> Vec<Finding> {
    use FindingStatus::{Fixed, NotFixed, WontFix};
    vec![
        finding(
            "CVE-2025-26519",
            &[],
            musl(),
            Fixed,
            Some("1.2.5-r1"),
            Severity::High,
            Some("nvd@nist.gov"),
            Some(8.1),
            Some(
                "musl libc 0.9.13 through 1.2.5 before 1.2.6 has an out-of-bounds write bug in EUC-KR decoding",
            ),
        ),
        finding(
            "GHSA-9wx4-h78v-vm56",
            &[],
            requests(),
            Fixed,
            Some("2.32.0"),
            Severity::Medium,
            Some("osv:PyPI"),
            Some(5.6),
            Some(
                "Requests `Session` object does not verify requests after making first request with verify=False",
            ),
        ),
        finding(
            "CVE-2099-0002",
            &[],
            musl(),
            WontFix,
            None,
            Severity::Low,
            Some("alpine-secdb"),
            None,
            None,
        ),
        finding(
            "CVE-2018-18074",
            &["GHSA-x84v-xcm2-53pg", "PYSEC-2018-28"],
            requests(),
            Fixed,
            Some("2.20.0"),
            Severity::Critical,
            Some("nvd@nist.gov"),
            Some(9.8),
            Some(
                "The Requests package through 2.19.1 sends an HTTP Authorization header to an http URI upon receiving a same-hostname https-to-http redirect",
            ),
        ),
        finding(
            "CVE-2099-0001",
            &[],
            musl(),
            NotFixed,
            None,
            Severity::Medium,
            Some("alpine-secdb"),
            Some(7.5),
            Some("A synthetic flaw | with <markup> and a\ttab"),
        ),
        finding(
            "PYSEC-2099-1",
            &[],
            requests(),
            NotFixed,
            None,
            Severity::Unknown,
            None,
            None,
            None,
        ),
    ]
}

fn decision() -> Decision {
    Decision {
        policy_id: "reject_critical".into(),
        final_action: Action::Stop,
        results: vec![
            RuleResult {
                gate: "vulnerabilities".into(),
                trigger: "package".into(),
                action: Action::Stop,
                message: "CVE-2018-18074 (critical) in requests 2.19.0".into(),
            },
            RuleResult {
                gate: "dockerfile".into(),
                trigger: "instruction".into(),
                action: Action::Warn,
                message: "the image has no HEALTHCHECK, so the orchestrator cannot tell when the \
                          service inside it stops answering; add one to the Dockerfile"
                    .into(),
            },
        ],
    }
}

fn database() -> DatabaseInfo {
    DatabaseInfo {
        built_at: Some("2024-10-01T00:00:00Z".into()),
        sources: vec![
            DatabaseSource {
                name: "osv:PyPI".into(),
                records: 12,
                updated_at: "2024-09-30T23:00:00Z".into(),
            },
            DatabaseSource {
                name: "alpine-secdb:v3.20/main".into(),
                records: 34,
                updated_at: "2024-09-30T22:00:00Z".into(),
            },
        ],
    }
}

fn result() -> ScanResult {
    ScanResult {
        image: image(),
        os: Some(alpine_os()),
        os_ecosystem: Some("Alpine:v3.20".into()),
        os_supported: true,
        packages: packages(),
        findings: findings(),
        warnings: vec![
            "usr/lib/python3.12/site-packages/broken.dist-info/METADATA: no Version".into(),
        ],
        errors: Vec::new(),
        decision: Some(decision()),
        database: database(),
    }
}

/// [`result`] with no findings, warnings or decision.
fn empty_result() -> ScanResult {
    ScanResult {
        findings: Vec::new(),
        warnings: Vec::new(),
        decision: None,
        ..result()
    }
}

fn rendered(result: &ScanResult, format: ScanFormat) -> String {
    let mut out = Vec::new();
    scan::render(result, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The CycloneDX rendering with the image's own time, whatever SOURCE_DATE_EPOCH says.
fn cyclonedx(result: &ScanResult) -> String {
    let sbom = Sbom {
        image: &result.image,
        os: result.os.as_ref(),
        packages: &result.packages,
        tool: ToolInfo::portcullis(),
        created: Timestamp::choose(None, result.image.config.created.as_deref()),
    };
    let bom = scan::cyclonedx::bom_with(result, &sbom).unwrap();
    serde_json::to_string_pretty(&bom).unwrap() + "\n"
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// `result` in every format matches the snapshots `{prefix}_table`, `_json`, `_sarif` and
/// `_cyclonedx`.
fn assert_snapshots(prefix: &str, result: &ScanResult) {
    insta::assert_snapshot!(
        format!("{prefix}_table"),
        rendered(result, ScanFormat::Table)
    );
    insta::assert_snapshot!(format!("{prefix}_json"), rendered(result, ScanFormat::Json));
    insta::assert_snapshot!(
        format!("{prefix}_sarif"),
        rendered(result, ScanFormat::Sarif)
    );
    insta::assert_snapshot!(format!("{prefix}_cyclonedx"), cyclonedx(result));
}

#[test]
fn snapshots_of_every_format() {
    assert_snapshots("scan", &result());
}

#[test]
fn snapshots_of_an_empty_result() {
    assert_snapshots("scan_empty", &empty_result());
}

#[test]
fn render_cyclonedx_matches_the_bom() {
    if std::env::var_os("SOURCE_DATE_EPOCH").is_some() {
        return; // The rendering then carries that time instead of the image's.
    }
    let result = result();
    assert_eq!(rendered(&result, ScanFormat::CycloneDx), cyclonedx(&result));
}

#[test]
fn table_groups_by_package_and_sorts_by_severity() {
    let table = rendered(&result(), ScanFormat::Table);
    let ids: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("  ID "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.contains('-') && w.chars().any(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(
        ids,
        [
            "CVE-2025-26519",
            "CVE-2099-0001",
            "CVE-2099-0002",
            "CVE-2018-18074",
            "GHSA-9wx4-h78v-vm56",
            "PYSEC-2099-1"
        ]
    );
    let headers: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("musl ") || l.starts_with("requests "))
        .collect();
    assert_eq!(
        headers,
        [
            "musl 1.2.5-r0 (apk)",
            "requests 2.19.0 (pypi) in usr/lib/python3.12/site-packages/requests-2.19.0.dist-info/METADATA"
        ]
    );
    assert!(table.contains(
        "6 vulnerabilities: 1 critical, 1 high, 2 medium, 1 low, 0 negligible, 1 unknown; 3 fixable"
    ));
    assert!(table.contains("Policy reject_critical: STOP\n  STOP  vulnerabilities/package: "));
    let empty = rendered(&empty_result(), ScanFormat::Table);
    assert!(empty.contains("\nNo vulnerabilities found.\n"));
    assert!(!empty.contains("Policy"));
}

#[test]
fn table_fits_100_columns_even_with_long_values() {
    let mut result = result();
    let long = "x".repeat(300);
    result.findings[0].id = format!("CVE-{long}");
    result.findings[0].package.name = long.clone();
    result.findings[0].fixed_version = Some(long.clone());
    result.findings[1].summary = Some(format!("{long} \u{1b}[31m red"));
    result.image.reference = format!("registry.example/{long}:1");
    result.warnings.push(format!("{long} {long}"));
    if let Some(d) = result.decision.as_mut() {
        d.results[0].message = format!("{long} and {long}");
    }
    for r in [result, self::result(), empty_result()] {
        let table = rendered(&r, ScanFormat::Table);
        for line in table.lines() {
            assert!(line.chars().count() <= 100, "too wide: {line}");
            assert!(
                !line.chars().any(char::is_control),
                "control character: {line:?}"
            );
        }
    }
}

#[test]
fn json_has_the_documented_shape() {
    let text = rendered(&result(), ScanFormat::Json);
    assert!(text.ends_with("}\n"));
    // Top-level keys in the documented order.
    let top: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  \"") && !l.starts_with("   "))
        .filter_map(|l| l.trim_start().strip_prefix('"')?.split('"').next())
        .collect();
    assert_eq!(
        top,
        [
            "image",
            "os",
            "os_ecosystem",
            "os_supported",
            "packages",
            "vulnerabilities",
            "policy",
            "database",
            "summary",
            "warnings",
            "errors"
        ]
    );
    let doc = json(&text);
    assert_eq!(doc, scan::to_json_value(&result()));
    assert_eq!(doc["image"]["reference"], "docker.io/library/example:1.0");
    assert!(
        doc["image"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(doc["packages"].as_array().unwrap().len(), 2);
    let vulns = doc["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 6);
    for v in vulns {
        for key in [
            "id",
            "aliases",
            "package",
            "fixed_version",
            "status",
            "severity",
            "severity_source",
            "cvss_score",
        ] {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
        for key in ["name", "version", "type", "source_name"] {
            assert!(
                v["package"].get(key).is_some(),
                "package.{key} missing in {v}"
            );
        }
    }
    let first = &vulns[0];
    assert_eq!(first["id"], "CVE-2025-26519");
    assert_eq!(first["package"]["type"], "apk");
    assert_eq!(first["package"]["source_name"], "musl");
    assert_eq!(first["fixed_version"], "1.2.5-r1");
    assert_eq!(first["status"], "fixed");
    assert_eq!(first["severity"], "high");
    assert_eq!(first["severity_source"], "nvd@nist.gov");
    assert_eq!(first["cvss_score"], 8.1);
    let critical = vulns.iter().find(|v| v["id"] == "CVE-2018-18074").unwrap();
    assert_eq!(
        critical["aliases"],
        serde_json::json!(["GHSA-x84v-xcm2-53pg", "PYSEC-2018-28"])
    );
    assert_eq!(critical["package"]["type"], "pypi");
    let unfixed = vulns.iter().find(|v| v["id"] == "PYSEC-2099-1").unwrap();
    assert_eq!(unfixed["status"], "not_fixed");
    assert_eq!(unfixed["fixed_version"], Value::Null);
    assert_eq!(unfixed["severity"], "unknown");
    assert_eq!(unfixed["cvss_score"], Value::Null);
    assert_eq!(
        doc["policy"],
        serde_json::json!({
            "id": "reject_critical",
            "final_action": "stop",
            "results": [
                {"gate": "vulnerabilities", "trigger": "package", "action": "stop",
                 "message": "CVE-2018-18074 (critical) in requests 2.19.0"},
                {"gate": "dockerfile", "trigger": "instruction", "action": "warn",
                 "message": decision().results[1].message},
            ]
        })
    );
    assert_eq!(doc["database"]["built_at"], "2024-10-01T00:00:00Z");
    let sources: Vec<&str> = doc["database"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["alpine-secdb:v3.20/main", "osv:PyPI"]);
    assert_eq!(doc["summary"]["total"], 6);
    assert_eq!(doc["summary"]["fixable"], 3);

    let empty = json(&rendered(&empty_result(), ScanFormat::Json));
    assert_eq!(empty["policy"], Value::Null);
    assert_eq!(empty["vulnerabilities"], serde_json::json!([]));
}

#[test]
fn output_is_deterministic_and_order_independent() {
    let a = result();
    let mut b = result();
    b.findings.reverse();
    b.findings.push(b.findings[0].clone()); // an exact duplicate is dropped
    b.packages.reverse();
    b.database.sources.reverse();
    for &format in ScanFormat::ALL {
        let first = rendered(&a, format);
        assert_eq!(first, rendered(&a, format), "{format}");
        assert_eq!(first, rendered(&b, format), "{format}");
    }
}

#[test]
fn sarif_is_valid_2_1_0_and_fit_for_github() {
    let text = rendered(&result(), ScanFormat::Sarif);
    validate("sarif", &text);
    validate("sarif", &rendered(&empty_result(), ScanFormat::Sarif));
    let doc = json(&text);
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "portcullis");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        driver["informationUri"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let rules = driver["rules"].as_array().unwrap();
    let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        rule_ids,
        [
            "CVE-2018-18074",
            "CVE-2025-26519",
            "CVE-2099-0001",
            "CVE-2099-0002",
            "GHSA-9wx4-h78v-vm56",
            "PYSEC-2099-1"
        ]
    );
    let severity = |id: &str| {
        rules.iter().find(|r| r["id"] == id).unwrap()["properties"]["security-severity"].clone()
    };
    assert_eq!(severity("CVE-2018-18074"), "9.8");
    assert_eq!(severity("CVE-2099-0001"), "7.5");
    assert_eq!(severity("CVE-2099-0002"), "2.0"); // low, no CVSS score
    assert_eq!(severity("PYSEC-2099-1"), Value::Null); // unknown, no score
    for r in rules {
        assert!(!r["help"]["text"].as_str().unwrap().is_empty());
        assert!(!r["help"]["markdown"].as_str().unwrap().is_empty());
        assert!(
            r["properties"]["tags"]
                .as_array()
                .unwrap()
                .contains(&"security".into())
        );
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    let mut fingerprints = BTreeSet::new();
    for r in results {
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], r["ruleId"]);
        let location = &r["locations"][0]["physicalLocation"];
        assert!(location.get("region").is_none());
        let uri = location["artifactLocation"]["uri"].as_str().unwrap();
        assert!(!uri.starts_with('/'), "{uri}");
        assert!([APK_DB, REQUESTS_METADATA].contains(&uri), "{uri}");
        let fp = r["partialFingerprints"]["portcullisPackageVulnerability/v1"]
            .as_str()
            .unwrap();
        assert_eq!(fp.len(), 32);
        fingerprints.insert(fp.to_string());
    }
    assert_eq!(fingerprints.len(), 6);
    let levels: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r["ruleId"].as_str().unwrap(), r["level"].as_str().unwrap()))
        .collect();
    assert_eq!(
        levels,
        [
            ("CVE-2025-26519", "error"),
            ("CVE-2099-0001", "warning"),
            ("CVE-2099-0002", "note"),
            ("CVE-2018-18074", "error"),
            ("GHSA-9wx4-h78v-vm56", "warning"),
            ("PYSEC-2099-1", "note")
        ]
    );
    assert_eq!(
        results[0]["message"]["text"],
        "musl 1.2.5-r0 (apk) is affected by CVE-2025-26519 (high, CVSS 8.1); fixed in 1.2.5-r1."
    );
    assert_eq!(
        results[2]["message"]["text"],
        "musl 1.2.5-r0 (apk) is affected by CVE-2099-0002 (low); will not be fixed."
    );
}

#[test]
fn sarif_fingerprint_survives_a_version_change() {
    let a = json(&rendered(&result(), ScanFormat::Sarif));
    let mut changed = result();
    for f in &mut changed.findings {
        f.package.version = "9.9.9".into();
    }
    let b = json(&rendered(&changed, ScanFormat::Sarif));
    assert_eq!(
        a["runs"][0]["results"][0]["partialFingerprints"],
        b["runs"][0]["results"][0]["partialFingerprints"]
    );
}

#[test]
fn cyclonedx_is_valid_1_6_with_vulnerabilities() {
    let text = cyclonedx(&result());
    validate("cyclonedx", &text);
    validate("cyclonedx", &cyclonedx(&empty_result()));
    let doc = json(&text);
    let refs: BTreeSet<&str> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["bom-ref"].as_str())
        .collect();
    let vulns = doc["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 6);
    for v in vulns {
        for a in v["affects"].as_array().unwrap() {
            assert!(refs.contains(a["ref"].as_str().unwrap()), "dangling {a}");
        }
    }
    let get = |id: &str| vulns.iter().find(|v| v["id"] == id).unwrap();
    let critical = get("CVE-2018-18074");
    assert_eq!(critical["source"]["name"], "NVD");
    assert_eq!(
        critical["ratings"],
        serde_json::json!([{"source": {"name": "nvd@nist.gov"}, "score": 9.8,
                            "severity": "critical", "method": "other"}])
    );
    assert_eq!(critical["references"].as_array().unwrap().len(), 2);
    assert_eq!(critical["recommendation"], "Upgrade requests to 2.20.0.");
    assert_eq!(
        critical["affects"],
        serde_json::json!([{"ref": REQUESTS_PURL, "versions": [
            {"version": "2.19.0", "status": "affected"},
            {"version": "2.20.0", "status": "unaffected"}]}])
    );
    assert!(critical.get("analysis").is_none());
    // A distro rating that differs from the CVSS band gives two ratings.
    assert_eq!(
        get("CVE-2099-0001")["ratings"],
        serde_json::json!([
            {"source": {"name": "alpine-secdb"}, "severity": "medium", "method": "other"},
            {"score": 7.5, "severity": "high", "method": "other"}])
    );
    assert_eq!(
        get("CVE-2099-0002")["analysis"],
        serde_json::json!({"response": ["will_not_fix"],
                           "detail": "musl 1.2.5-r0 (apk): will not be fixed."})
    );
    assert_eq!(
        get("PYSEC-2099-1")["analysis"],
        serde_json::json!({"detail": "requests 2.19.0 (pypi): no fixed version yet."})
    );
    // The serial differs from the plain SBOM's.
    let r = result();
    let sbom = Sbom {
        image: &r.image,
        os: r.os.as_ref(),
        packages: &r.packages,
        tool: ToolInfo::portcullis(),
        created: Timestamp::choose(None, r.image.config.created.as_deref()),
    };
    let plain = portcullis_report::sbom::cyclonedx::bom(&sbom).unwrap();
    assert_ne!(doc["serialNumber"], plain.serial_number.as_str());
    assert_ne!(
        doc["serialNumber"],
        json(&cyclonedx(&empty_result()))["serialNumber"]
    );
}
