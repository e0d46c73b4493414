//! Unit tests of the filters, with exact results.

use portcullis_matcher::{Finding, Severity};
use portcullis_oci::{ImageInfo, SourceKind};
use portcullis_testkit::findings::apk_finding;

use super::*;
use crate::{DatabaseInfo, ScanResult, VexStatus};

/// 2024-06-15 00:00:00 UTC.
const NOW: i64 = 1_718_409_600;

fn finding(
    id: &str,
    aliases: &[&str],
    name: &str,
    source: &str,
    severity: Severity,
    fixed: bool,
) -> Finding {
    let fixed = fixed.then_some("1.0-r1");
    let mut finding = apk_finding(id, name, "1.0-r0", severity, fixed, "v3.20");
    finding.aliases = aliases.iter().map(|a| (*a).to_string()).collect();
    finding.package.source_name = Some(source.into());
    finding.package.purl = format!("pkg:apk/alpine/{name}@1.0-r0?arch=x86_64&distro=3.20.3");
    finding
}

fn result() -> ScanResult {
    ScanResult {
        image: ImageInfo::new("tar:rootfs.tar", SourceKind::Tar),
        os: None,
        os_ecosystem: None,
        os_supported: true,
        packages: Vec::new(),
        findings: vec![
            finding(
                "CVE-2024-0001",
                &["GHSA-aaaa"],
                "libcrypto3",
                "openssl",
                Severity::Critical,
                true,
            ),
            finding(
                "CVE-2024-0001",
                &["GHSA-aaaa"],
                "libssl3",
                "openssl",
                Severity::Critical,
                true,
            ),
            finding("CVE-2024-0002", &[], "musl", "musl", Severity::High, false),
            finding("CVE-2024-0003", &[], "musl", "musl", Severity::Medium, true),
            finding("CVE-2024-0004", &[], "zlib", "zlib", Severity::Low, true),
            finding(
                "CVE-2024-0005",
                &[],
                "zlib",
                "zlib",
                Severity::Unknown,
                false,
            ),
        ],
        warnings: Vec::new(),
        errors: Vec::new(),
        decision: None,
        database: DatabaseInfo::default(),
    }
}

/// [`result`] after `filters`, applied at `NOW`, and their summary.
fn filtered(filters: &Filters) -> (ScanResult, FilterSummary) {
    let mut r = result();
    let summary = apply_filters(&mut r, filters, NOW);
    (r, summary)
}

fn kept(result: &ScanResult) -> Vec<(String, String)> {
    result
        .findings
        .iter()
        .map(|f| (f.id.clone(), f.package.name.clone()))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
        .collect()
}

#[test]
fn no_filters_keep_everything() {
    let (r, summary) = filtered(&Filters::default());
    assert_eq!(r.findings.len(), 6);
    assert_eq!(summary, FilterSummary::default());
    assert_eq!(summary.describe(), None);
}

#[test]
fn severity_list() {
    assert_eq!(
        parse_severity_list("critical, HIGH,moderate").unwrap(),
        BTreeSet::from([Severity::Critical, Severity::High, Severity::Medium])
    );
    let err = parse_severity_list("critical,hgih").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Filter);
    assert_eq!(
        err.to_string(),
        "unknown severity 'hgih' (expected a comma-separated list of unknown, negligible, low, medium, high, critical)"
    );
    assert!(parse_severity_list(" , ").is_err());

    let filters = Filters {
        severities: Some(parse_severity_list("critical,high").unwrap()),
        ..Filters::default()
    };
    let (r, summary) = filtered(&filters);
    assert_eq!(
        kept(&r),
        pairs(&[
            ("CVE-2024-0001", "libcrypto3"),
            ("CVE-2024-0001", "libssl3"),
            ("CVE-2024-0002", "musl")
        ])
    );
    assert_eq!(summary.count(SuppressedBy::Severity), 3);
    assert_eq!(summary.suppressed[0].detail, "severity medium");
    assert_eq!(
        summary.describe().unwrap(),
        "3 findings hidden by --severity"
    );
}

#[test]
fn ignore_unfixed() {
    let filters = Filters {
        ignore_unfixed: true,
        ..Filters::default()
    };
    let (r, summary) = filtered(&filters);
    assert_eq!(r.findings.len(), 4);
    let dropped: Vec<&str> = summary.suppressed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(dropped, ["CVE-2024-0002", "CVE-2024-0005"]);
    assert_eq!(summary.suppressed[0].detail, "no fixed version (not_fixed)");
    assert_eq!(
        summary.describe().unwrap(),
        "2 findings without a fix hidden (--ignore-unfixed)"
    );
}

const IGNORE: &str = "\
ignore:
  - id: ghsa-aaaa          # an alias, any case
    package: openssl       # the source package covers libcrypto3 and libssl3
    reason: not reachable
  - id: CVE-2024-0003
    package: pkg:apk/alpine/musl@1.0-r0
    expires: 2030-01-01
    reason: accepted until 2030
  - id: CVE-2024-0004
    expires: 2024-06-15
    reason: expired today
  - id: CVE-2024-0005
    package: pkg:apk/alpine/zlib@2.0-r0
    reason: another version
";

#[test]
fn ignore_file_entries_with_expiry_and_packages() {
    let file = IgnoreFile::parse("ignore.yaml", IGNORE.as_bytes()).unwrap();
    assert_eq!(file.entries.len(), 4);
    assert_eq!(
        file.entries[1].package.as_deref(),
        Some("pkg:apk/alpine/musl@1.0-r0")
    );
    assert_eq!(file.entries[1].expires.as_deref(), Some("2030-01-01"));
    let filters = Filters {
        ignore_files: vec![file],
        ..Filters::default()
    };
    let (r, summary) = filtered(&filters);
    assert_eq!(
        kept(&r),
        pairs(&[
            ("CVE-2024-0002", "musl"),
            ("CVE-2024-0004", "zlib"),
            ("CVE-2024-0005", "zlib")
        ])
    );
    assert_eq!(summary.count(SuppressedBy::IgnoreFile), 3);
    assert_eq!(
        summary.suppressed[0].detail,
        "ignore.yaml: entry 1: not reachable"
    );
    assert_eq!(
        summary.suppressed[2].detail,
        "ignore.yaml: entry 2: accepted until 2030"
    );
    let expected_warning =
        "ignore.yaml: entry 3 (CVE-2024-0004) expired on 2024-06-15; it no longer ignores anything";
    assert_eq!(summary.warnings, [expected_warning]);
    assert_eq!(r.warnings, [expected_warning]);
    assert_eq!(
        summary.describe().unwrap(),
        "3 findings ignored (ignore file)"
    );

    // The day before, entry 3 still applies.
    let mut r = result();
    let summary = apply_filters(&mut r, &filters, NOW - 1);
    assert_eq!(summary.count(SuppressedBy::IgnoreFile), 4);
    assert!(summary.warnings.is_empty());
}

#[test]
fn ignore_file_forms_and_errors() {
    // A bare list, and an empty document.
    let list = IgnoreFile::parse("i.yaml", b"- {id: CVE-1, reason: r}\n").unwrap();
    assert_eq!(list.entries.len(), 1);
    assert_eq!(list.entries[0].number, 1);
    assert!(IgnoreFile::parse("i.yaml", b"").unwrap().entries.is_empty());
    assert!(
        IgnoreFile::parse("i.yaml", b"ignore:\n")
            .unwrap()
            .entries
            .is_empty()
    );

    let cases: [(&str, &str); 11] = [
        (
            "ignore:\n  - {id: CVE-1, reason: r}\n  - {id: CVE-2, reason: r}\n  - {id: CVE-3}\n",
            "ignore.yaml: entry 3: missing reason",
        ),
        ("- {reason: r}\n", "ignore.yaml: entry 1: missing id"),
        (
            "- {id: '  ', reason: r}\n",
            "ignore.yaml: entry 1: empty id",
        ),
        (
            "- {id: 5, reason: r}\n",
            "ignore.yaml: entry 1: id: expected a string, found a number",
        ),
        (
            "- {id: CVE-1, reason: r, expires: 2024-02-30}\n",
            "ignore.yaml: entry 1: expires: invalid date '2024-02-30' (expected YYYY-MM-DD)",
        ),
        (
            "- {id: CVE-1, reason: r, package: 'pkg:apk'}\n",
            "ignore.yaml: entry 1: package: invalid purl 'pkg:apk'",
        ),
        (
            "- {id: CVE-1, reason: r, pakage: musl}\n",
            "ignore.yaml: entry 1: unknown field 'pakage' (expected id, package, expires, reason)",
        ),
        (
            "- CVE-1\n",
            "ignore.yaml: entry 1: expected a mapping, found a string",
        ),
        (
            "ignores: []\n",
            "ignore.yaml: unknown field 'ignores' (expected 'ignore', a list of entries)",
        ),
        (
            "ignore: 3\n",
            "ignore.yaml: ignore: expected a list, found a number",
        ),
        (
            "42\n",
            "ignore.yaml: expected a mapping with 'ignore' or a list, found a number",
        ),
    ];
    for (text, message) in cases {
        let err = IgnoreFile::parse("ignore.yaml", text.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Filter);
        assert_eq!(err.to_string(), message, "{text}");
    }
    for text in [
        &b"ignore: [\n"[..],
        b"\xff\xfe",
        b"{a: *b}",
        b"- !!binary AAA",
    ] {
        let err = IgnoreFile::parse("ignore.yaml", text).unwrap_err();
        assert!(err.to_string().starts_with("ignore.yaml: "), "{err}");
    }
}

const VEX: &str = r#"{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/1",
  "author": "Example",
  "timestamp": "2024-06-01T00:00:00Z",
  "version": 1,
  "statements": [
    {
      "vulnerability": {"name": "CVE-2024-0001", "aliases": ["GHSA-aaaa"]},
      "products": [{"@id": "pkg:apk/alpine/libssl3?arch=x86_64"}],
      "status": "not_affected",
      "justification": "vulnerable_code_not_in_execute_path"
    },
    {
      "vulnerability": {"name": "GHSA-aaaa"},
      "products": [{"@id": "pkg:oci/app@sha256:1234", "subcomponents": [{"@id": "pkg:apk/alpine/libcrypto3@1.0-r0"}]}],
      "status": "under_investigation"
    },
    {
      "vulnerability": "CVE-2024-0002",
      "products": ["pkg:apk/alpine/musl@1.0-r0"],
      "status": "fixed"
    },
    {
      "vulnerability": {"name": "CVE-2024-0003"},
      "products": ["pkg:apk/alpine/musl@1.0-r0"],
      "status": "not_affected",
      "justification": "component_not_present"
    },
    {
      "vulnerability": {"name": "CVE-2024-0003"},
      "products": ["pkg:apk/alpine/musl"],
      "status": "affected"
    },
    {
      "vulnerability": {"name": "CVE-2024-0004"},
      "products": [{"@id": "pkg:oci/app"}],
      "status": "not_affected",
      "justification": "inline_mitigations_already_exist"
    }
  ]
}"#;

#[test]
fn vex_statements_suppress_and_keep() {
    let doc = VexDocument::parse("app.vex.json", VEX.as_bytes()).unwrap();
    assert_eq!(doc.statements.len(), 6);
    assert_eq!(
        doc.statements[1].products,
        [
            "pkg:oci/app@sha256:1234",
            "pkg:apk/alpine/libcrypto3@1.0-r0"
        ]
    );
    assert_eq!(doc.statements[2].status, VexStatus::Fixed);
    let filters = Filters {
        vex: vec![doc],
        ..Filters::default()
    };
    let (r, summary) = filtered(&filters);
    // libcrypto3 is under investigation, CVE-2024-0003 is overridden by the later
    // `affected`, CVE-2024-0005 has no statement.
    assert_eq!(
        kept(&r),
        pairs(&[
            ("CVE-2024-0001", "libcrypto3"),
            ("CVE-2024-0003", "musl"),
            ("CVE-2024-0005", "zlib")
        ])
    );
    let details: Vec<&str> = summary
        .suppressed
        .iter()
        .map(|s| s.detail.as_str())
        .collect();
    assert_eq!(
        details,
        [
            "app.vex.json: statement 1: not_affected (vulnerable_code_not_in_execute_path)",
            "app.vex.json: statement 3: fixed",
            "app.vex.json: statement 6: not_affected (inline_mitigations_already_exist)",
        ]
    );
    assert_eq!(summary.describe().unwrap(), "3 findings suppressed by VEX");
}

#[test]
fn vex_whole_image_product_needs_the_image_digest() {
    let doc = VexDocument::parse(
        "v.json",
        br#"{"statements":[{"vulnerability":"CVE-2024-0004","products":["pkg:oci/app@sha256%3Aabababababababababababababababababababababababababababababababab"],"status":"not_affected"}]}"#,
    )
    .unwrap();
    let filters = Filters {
        vex: vec![doc],
        ..Filters::default()
    };
    let mut r = result();
    assert!(apply_filters(&mut r, &filters, NOW).suppressed.is_empty());
    let mut r = result();
    r.image.digest = Some(
        "sha256:abababababababababababababababababababababababababababababababab"
            .parse()
            .unwrap(),
    );
    assert_eq!(
        apply_filters(&mut r, &filters, NOW).count(SuppressedBy::Vex),
        1
    );
}

#[test]
fn vex_errors_name_the_file_and_statement() {
    let cases: [(&str, &str); 8] = [
        (
            "[]",
            "v.json: expected an OpenVEX document (a JSON object), found a list",
        ),
        ("{}", "v.json: missing statements"),
        (
            r#"{"statements": {}}"#,
            "v.json: statements: expected a list, found a mapping",
        ),
        (
            r#"{"statements": [{"vulnerability": "CVE-1", "products": ["pkg:apk/a/b"], "status": "fixed"}, {"products": [], "status": "fixed"}]}"#,
            "v.json: statement 2: missing vulnerability",
        ),
        (
            r#"{"statements": [{"vulnerability": "CVE-1", "products": ["pkg:apk/a/b"], "status": "gone"}]}"#,
            "v.json: statement 1: unknown status 'gone' (expected not_affected, affected, fixed or under_investigation)",
        ),
        (
            r#"{"statements": [{"vulnerability": "CVE-1", "status": "fixed"}]}"#,
            "v.json: statement 1: missing products",
        ),
        (
            r#"{"statements": [{"vulnerability": "CVE-1", "products": [7], "status": "fixed"}]}"#,
            "v.json: statement 1: products[0]: expected a purl or a mapping, found a number",
        ),
        (
            r#"{"statements": [{"vulnerability": {"aliases": []}, "products": [], "status": "fixed"}]}"#,
            "v.json: statement 1: vulnerability: missing name",
        ),
    ];
    for (text, message) in cases {
        let err = VexDocument::parse("v.json", text.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Filter);
        assert_eq!(err.to_string(), message, "{text}");
    }
    let err = VexDocument::parse("v.json", b"{\"statements\": [").unwrap_err();
    assert!(
        err.to_string().starts_with("v.json: invalid JSON: "),
        "{err}"
    );
}

#[test]
fn first_filter_wins_and_summary_counts_each() {
    let filters = Filters {
        severities: Some(BTreeSet::from([Severity::Critical])),
        ignore_unfixed: true,
        ignore_files: vec![IgnoreFile::parse("i.yaml", b"- {id: CVE-2024-0002, reason: r}\n").unwrap()],
        vex: vec![VexDocument::parse(
            "v.json",
            br#"{"statements":[{"vulnerability":"CVE-2024-0005","products":["pkg:apk/alpine/zlib"],"status":"not_affected"}]}"#,
        )
        .unwrap()],
    };
    let (r, summary) = filtered(&filters);
    assert_eq!(r.findings.len(), 2);
    let by: Vec<(&str, SuppressedBy)> = summary
        .suppressed
        .iter()
        .map(|s| (s.id.as_str(), s.by))
        .collect();
    assert_eq!(
        by,
        [
            ("CVE-2024-0002", SuppressedBy::IgnoreFile),
            ("CVE-2024-0003", SuppressedBy::Severity),
            ("CVE-2024-0004", SuppressedBy::Severity),
            ("CVE-2024-0005", SuppressedBy::Vex),
        ]
    );
    assert_eq!(
        summary.describe().unwrap(),
        "1 finding ignored (ignore file), 1 finding suppressed by VEX, 2 findings hidden by --severity"
    );
}

#[test]
fn yaml_alias_bomb_is_refused_quickly() {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 9].join(", ")));
    }
    bomb.push_str("ignore: *a9\n");
    let err = IgnoreFile::parse("bomb.yaml", bomb.as_bytes()).unwrap_err();
    assert!(err.to_string().starts_with("bomb.yaml: "), "{err}");
}
