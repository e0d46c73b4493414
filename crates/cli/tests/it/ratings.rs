//! Severity ratings, KEV and EPSS on real data: every finding's rating, KEV entry and EPSS
//! score compared with what `expected_ratings.py` reads from the test data files, and the
//! `reject_exploited` policy and the "no severity rating" warning end to end.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use crate::{Run, imported_database, portcullis};

fn advisories() -> std::path::PathBuf {
    portcullis_testkit::testdata_dir().join("advisories")
}

/// A database imported once per test process from the Debian OVAL and DSA/DLA data, the
/// NVD records, the KEV catalog, the EPSS scores and the PyPI OSV export.
fn database() -> &'static str {
    static DB: OnceLock<(tempfile::TempDir, String)> = OnceLock::new();
    &DB.get_or_init(|| {
        let inputs: Vec<String> = ["debian", "nvd", "kev", "epss", "osv/PyPI"]
            .iter()
            .map(|p| advisories().join(p).display().to_string())
            .collect();
        imported_database("cli-ratings-db", &inputs)
    })
    .1
}

fn run(args: &[&str]) -> Run {
    let mut all = vec!["--db", database()];
    all.extend_from_slice(args);
    portcullis(&all, b"")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const DEBIAN_12: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
    VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

/// A `dir:` root holding the Debian 12 minbase dpkg status.
fn minbase_root() -> tempfile::TempDir {
    let root = portcullis_testkit::temp_dir("cli-ratings-minbase");
    let status = portcullis_testkit::testdata_dir().join("pkgdb/dpkg/status-debian12-minbase");
    write(
        &root.path().join("var/lib/dpkg/status"),
        &std::fs::read_to_string(status).unwrap(),
    );
    write(&root.path().join("etc/os-release"), DEBIAN_12);
    root
}

/// A `dir:` root with Pillow 9.5.0 installed (only its dist-info).
fn pillow_root() -> tempfile::TempDir {
    let root = portcullis_testkit::temp_dir("cli-ratings-pillow");
    write(
        &root
            .path()
            .join("usr/lib/python3/dist-packages/Pillow-9.5.0.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: Pillow\nVersion: 9.5.0\n",
    );
    root
}

/// What the Python script says for each line of CVE ids.
fn expected(lines: &[String]) -> BTreeMap<String, Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/expected_ratings.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(advisories())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.join("\n").as_bytes())
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success());
    serde_json::from_str(&out).unwrap()
}

/// The line of CVE ids of a finding: its id, then its CVE aliases.
fn cve_line(finding: &Value, related: &[&str]) -> String {
    let mut ids = vec![finding["id"].as_str().unwrap().to_string()];
    for alias in finding["aliases"].as_array().unwrap() {
        let alias = alias.as_str().unwrap();
        if alias.starts_with("CVE-") {
            ids.push(alias.to_string());
        }
    }
    let mut related: Vec<&str> = related.to_vec();
    related.sort_unstable();
    for id in related {
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
    }
    ids.join(" ")
}

fn scan_json(args: &[&str]) -> (Value, Run) {
    let r = run(args);
    let v = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", r.stdout, r.stderr));
    (v, r)
}

#[test]
fn every_minbase_finding_has_its_nvd_rating_kev_and_epss() {
    let root = minbase_root();
    let source = format!("dir:{}", root.path().display());
    let (v, r) = scan_json(&["scan", "-f", "json", &source]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let findings = v["vulnerabilities"].as_array().unwrap();
    assert!(!findings.is_empty(), "no findings: {}", r.stderr);
    let lines: Vec<String> = findings.iter().map(|f| cve_line(f, &[])).collect();
    let want = expected(&lines);
    let mut unrated = 0;
    for (finding, line) in findings.iter().zip(&lines) {
        let want = &want[line];
        let id = &finding["id"];
        assert_eq!(
            want["in_nvd"], true,
            "{id}: the test data has no NVD record"
        );
        match &want["rating"] {
            Value::Null => {
                unrated += 1;
                assert_eq!(finding["severity"], "unknown", "{id}");
                assert_eq!(finding["severity_source"], Value::Null, "{id}");
            }
            rating => {
                assert_eq!(finding["severity"], rating["severity"], "{id}");
                assert_eq!(finding["severity_source"], rating["source"], "{id}");
                assert_eq!(finding["cvss_score"], rating["score"], "{id}");
            }
        }
        assert_eq!(finding["kev"], want["kev"], "{id}");
        assert_eq!(finding["epss"], want["epss"], "{id}");
    }
    assert_eq!(v["summary"]["unknown"], unrated);

    // reject_critical meets the unrated findings: one WARN with their count, exactly when
    // there are some.
    let (v, _) = scan_json(&["scan", "-f", "json", "--policy", "reject_critical", &source]);
    let warnings: Vec<&str> = v["policy"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["trigger"] == "package" && r["action"] == "warn")
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    let message = match unrated {
        0 => None,
        1 => Some("1 finding has no severity rating".to_string()),
        n => Some(format!("{n} findings have no severity rating")),
    };
    assert_eq!(
        warnings,
        message.iter().map(String::as_str).collect::<Vec<_>>()
    );
}

/// The `related` ids of an OSV record in the PyPI export.
fn pypi_related(id: &str) -> Vec<String> {
    let file = std::fs::File::open(advisories().join("osv/PyPI/all.zip")).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut entry = zip.by_name(&format!("{id}.json")).unwrap();
    let mut text = String::new();
    entry.read_to_string(&mut text).unwrap();
    let record: Value = serde_json::from_str(&text).unwrap();
    record["related"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// `portcullis scan -f json --policy reject_exploited <source>`.
fn scan_reject_exploited(source: &str) -> (Value, Run) {
    scan_json(&["scan", "-f", "json", "--policy", "reject_exploited", source])
}

#[test]
fn pillow_9_5_is_known_exploited_and_reject_exploited_stops_it() {
    let root = pillow_root();
    let source = format!("dir:{}", root.path().display());
    let (v, r) = scan_reject_exploited(&source);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(v["policy"]["final_action"], "stop");
    let findings = v["vulnerabilities"].as_array().unwrap();
    let pysec = findings
        .iter()
        .find(|f| f["id"] == "PYSEC-2023-175")
        .unwrap_or_else(|| panic!("no PYSEC-2023-175 in {findings:?}"));
    let related = pypi_related("PYSEC-2023-175");
    assert!(related.iter().any(|r| r == "CVE-2023-4863"), "{related:?}");
    let related: Vec<&str> = related.iter().map(String::as_str).collect();
    let lines: Vec<String> = findings
        .iter()
        .map(|f| {
            let own = if f["id"] == "PYSEC-2023-175" {
                related.clone()
            } else {
                Vec::new()
            };
            cve_line(f, &own)
        })
        .collect();
    let want = expected(&lines);
    for (finding, line) in findings.iter().zip(&lines) {
        let want = &want[line];
        if finding["id"] == "PYSEC-2023-175" {
            assert_eq!(finding["kev"], want["kev"]);
            assert_eq!(finding["epss"], want["epss"]);
        } else if !want["kev"].is_null() {
            // Other records may also name CVEs through `related` (read here for
            // PYSEC-2023-175 alone), which come after the id and aliases.
            assert_eq!(finding["kev"], want["kev"], "{}", finding["id"]);
        }
    }
    assert_eq!(pysec["kev"]["cve"], "CVE-2023-4863");
    let results = v["policy"]["results"].as_array().unwrap();
    assert!(
        results.iter().any(|r| r["trigger"] == "kev"
            && r["action"] == "stop"
            && r["message"]
                .as_str()
                .unwrap()
                .starts_with("PYSEC-2023-175 in pillow 9.5.0: CVE-2023-4863 is in CISA's")),
        "{results:?}"
    );
    // The critical gate meets the PyPI findings no source rates: one WARN with their count.
    let unrated = findings
        .iter()
        .filter(|f| f["severity"] == "unknown")
        .count();
    let no_rating: Vec<&Value> = results
        .iter()
        .filter(|r| {
            r["message"]
                .as_str()
                .unwrap()
                .contains("no severity rating")
        })
        .collect();
    assert_eq!(no_rating.len(), usize::from(unrated > 0), "{results:?}");
    if unrated > 1 {
        assert_eq!(
            no_rating[0]["message"],
            format!("{unrated} findings have no severity rating")
        );
    }
    // The table marks it.
    let r = run(&["scan", &source]);
    let line = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("PYSEC-2023-175 "))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(line.contains(" KEV"), "{line}");
    assert!(r.stdout.contains("EXPLOIT"), "{}", r.stdout);

    // A clean root goes.
    let clean = portcullis_testkit::temp_dir("cli-ratings-clean");
    write(&clean.path().join("etc/os-release"), DEBIAN_12);
    write(&clean.path().join("var/lib/dpkg/status"), "");
    let clean_source = format!("dir:{}", clean.path().display());
    let (v, r) = scan_reject_exploited(&clean_source);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(v["policy"]["final_action"], "go", "{}", v["policy"]);
}

/// With the Debian security tracker's JSON imported, Debian's own urgency rates its
/// packages' findings before NVD does, and its no-DSA decisions become `wont_fix`. The
/// tracker entries here copy the tracker's shape and its decisions for two glibc CVEs that
/// NVD rates critical and medium (CVE-2019-1010022, disputed: unimportant; CVE-2010-4756:
/// no-DSA, postponed).
#[test]
fn the_debian_tracker_rates_before_nvd_and_says_what_will_not_be_fixed() {
    let dir = portcullis_testkit::temp_dir("cli-ratings-tracker");
    let tracker = dir.path().join("tracker.json");
    write(
        &tracker,
        r#"{"glibc": {
            "CVE-2019-1010022": {"description": "GNU Libc current is affected by: Mitigation bypass.", "scope": "local",
              "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "2.36-9+deb12u10"}, "urgency": "unimportant"}}},
            "CVE-2010-4756": {"description": "The glob implementation in the GNU C Library allows remote authenticated users to cause a denial of service.", "scope": "remote",
              "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "2.36-9+deb12u10"}, "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": "postponed"}}}
        }}"#,
    );
    let db = dir.path().join("db.sqlite").display().to_string();
    let inputs: Vec<String> = ["debian", "nvd"]
        .iter()
        .map(|p| advisories().join(p).display().to_string())
        .chain([tracker.display().to_string()])
        .collect();
    let mut args = vec!["--db", db.as_str(), "db", "import"];
    args.extend(inputs.iter().map(String::as_str));
    let imported = portcullis(&args, b"");
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    assert!(
        imported.stdout.contains("debian-tracker:12"),
        "{}",
        imported.stdout
    );

    let root = minbase_root();
    let image = format!("dir:{}", root.path().display());
    let scan = |db: &str| -> Value {
        let r = portcullis(&["--db", db, "scan", "-f", "json", &image], b"");
        assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
        serde_json::from_str(&r.stdout).unwrap()
    };
    let with_tracker = scan(&db);
    let without = scan(database());
    let find = |report: &Value, id: &str| -> Vec<Value> {
        report["vulnerabilities"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["id"] == id && v["package"]["source_name"] == "glibc")
            .cloned()
            .collect()
    };
    // NVD alone: its own ratings.
    let nvd = find(&without, "CVE-2019-1010022");
    assert!(!nvd.is_empty(), "glibc's packages carry CVE-2019-1010022");
    assert!(
        nvd.iter()
            .all(|v| v["severity"] == "critical" && v["severity_source"] == "nvd")
    );
    // With the tracker: Debian's.
    let disputed = find(&with_tracker, "CVE-2019-1010022");
    assert_eq!(disputed.len(), nvd.len());
    for v in &disputed {
        assert_eq!(v["severity"], "negligible", "{v}");
        assert_eq!(v["severity_source"], "debian-tracker:12", "{v}");
    }
    let postponed = find(&with_tracker, "CVE-2010-4756");
    assert!(!postponed.is_empty());
    for v in &postponed {
        assert_eq!(v["severity"], "low", "{v}");
        assert_eq!(v["status"], "wont_fix", "{v}");
        assert!(v["fixed_version"].is_null(), "{v}");
    }
}
