//! `portcullis scan`: exact findings against a database imported from the shared test data,
//! with the expected sets computed here from the advisory files themselves.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use portcullis_testkit::images::{ImageName, images};
use portcullis_testkit::registry::{Registry, RegistryKind};
use serde_json::Value;

use crate::{Run, imported_database, portcullis};

/// A database imported once per test process from the Alpine v3.9 and v3.20 secdb, the
/// OSV exports and the NVD records of the test data.
pub fn database() -> &'static str {
    static DB: OnceLock<(tempfile::TempDir, String)> = OnceLock::new();
    &DB.get_or_init(|| {
        let advisories = portcullis_testkit::testdata_dir().join("advisories");
        let inputs: Vec<String> = ["alpine-secdb/v3.9", "alpine-secdb/v3.20", "osv", "nvd"]
            .iter()
            .map(|p| {
                let path = advisories.join(p);
                assert!(path.exists(), "test data {} is missing", path.display());
                path.display().to_string()
            })
            .collect();
        imported_database("cli-scan-db", &inputs)
    })
    .1
}

/// `portcullis --db DB ARGS`.
pub fn scan_run(args: &[&str]) -> Run {
    let mut all = vec!["--db", database()];
    all.extend_from_slice(args);
    portcullis(&all, b"")
}

pub fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// `tar:` source of an Alpine mini root filesystem.
pub fn minirootfs(version: &str) -> String {
    format!(
        "tar:{}",
        portcullis_testkit::alpine_minirootfs(version).display()
    )
}

/// `(package name, id)` of every vulnerability in a scan's JSON output.
pub fn findings(v: &Value) -> BTreeSet<(String, String)> {
    v["vulnerabilities"]
        .as_array()
        .unwrap_or_else(|| panic!("no vulnerabilities list in {v}"))
        .iter()
        .map(|f| {
            (
                f["package"]["name"].as_str().unwrap().to_string(),
                f["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A loose apk version order, enough for the packages of the mini root filesystems:
/// numbers and letter runs in turn, then the `-rN` release.
fn apk_cmp(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (Vec<(u64, String)>, u64) {
        let (main, release) = match v.rsplit_once("-r") {
            Some((m, r)) if r.bytes().all(|b| b.is_ascii_digit()) => (m, r.parse().unwrap()),
            _ => (v, 0),
        };
        let mut tokens = Vec::new();
        for part in main.split(['.', '_']) {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            let rest: String = part.chars().skip(digits.len()).collect();
            tokens.push((digits.parse().unwrap_or(0), rest));
        }
        (tokens, release)
    }
    let (ta, ra) = split(a);
    let (tb, rb) = split(b);
    ta.cmp(&tb).then(ra.cmp(&rb))
}

/// `(name, version, origin)` of every package in the minirootfs's apk database.
fn apk_installed(version: &str) -> Vec<(String, String, String)> {
    let db = portcullis_testkit::images::minirootfs_file(version, "lib/apk/db/installed")
        .expect("lib/apk/db/installed in the minirootfs");
    let mut out = Vec::new();
    for stanza in String::from_utf8_lossy(&db).split("\n\n") {
        let field = |key: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::to_string)
        };
        if let (Some(name), Some(v)) = (field("P:"), field("V:")) {
            let origin = field("o:").unwrap_or_else(|| name.clone());
            out.push((name, v, origin));
        }
    }
    out
}

/// The findings the Alpine secdb of `branch` implies for the minirootfs `version`: every id
/// listed under a fixed version newer than the installed one, for the package's origin.
fn secdb_expected(version: &str, branch: &str) -> BTreeSet<(String, String)> {
    let dir = portcullis_testkit::testdata_dir().join(format!("advisories/alpine-secdb/{branch}"));
    let mut fixes: BTreeMap<String, Vec<(String, Vec<String>)>> = BTreeMap::new();
    for repo in ["main.json", "community.json"] {
        let path = dir.join(repo);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("test data {} is missing: {e}", path.display()));
        let doc: Value = serde_json::from_str(&text).unwrap();
        for package in doc["packages"].as_array().unwrap() {
            let name = package["pkg"]["name"].as_str().unwrap().to_string();
            let Some(secfixes) = package["pkg"]["secfixes"].as_object() else {
                continue;
            };
            for (fixed, ids) in secfixes {
                let ids = ids
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .flat_map(str::split_whitespace)
                    .map(str::to_string)
                    .collect();
                fixes
                    .entry(name.clone())
                    .or_default()
                    .push((fixed.clone(), ids));
            }
        }
    }
    let mut expected = BTreeSet::new();
    for (name, installed, origin) in apk_installed(version) {
        for (fixed, ids) in fixes.get(&origin).into_iter().flatten() {
            if fixed != "0" && apk_cmp(&installed, fixed) == Ordering::Less {
                expected.extend(ids.iter().map(|id| (name.clone(), id.clone())));
            }
        }
    }
    expected
}

fn pairs(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
        .collect()
}

/// The 14 known findings of Alpine 3.9.6 with the v3.9 secdb.
fn alpine39_known() -> BTreeSet<(String, String)> {
    let mut known = pairs(&[("musl", "CVE-2020-28928"), ("musl-utils", "CVE-2020-28928")]);
    for id in [
        "CVE-2020-1971",
        "CVE-2021-23839",
        "CVE-2021-23840",
        "CVE-2021-23841",
        "CVE-2021-3449",
        "CVE-2021-3450",
    ] {
        known.insert(("libcrypto1.1".into(), id.into()));
        known.insert(("libssl1.1".into(), id.into()));
    }
    known
}

#[test]
fn alpine_3_9_tar_has_exactly_the_secdb_findings() {
    let expected = secdb_expected("3.9.6", "v3.9");
    assert_eq!(expected, alpine39_known(), "the independent computation");
    let run = scan_run(&["scan", "-f", "json", &minirootfs("3.9.6")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run.stdout);
    assert_eq!(findings(&v), expected);
    assert_eq!(v["vulnerabilities"].as_array().unwrap().len(), 14);
    let musl = v["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["package"]["name"] == "musl")
        .unwrap();
    assert_eq!(musl["fixed_version"], "1.1.20-r6");
    assert_eq!(musl["status"], "fixed");
    assert_eq!(musl["package"]["version"], "1.1.20-r5");
    assert_eq!(musl["package"]["type"], "apk");
    assert_eq!(musl["package"]["source_name"], "musl");
    assert_eq!(v["packages"].as_array().unwrap().len(), 14);
    assert!(v["policy"].is_null(), "{}", v["policy"]);
}

#[test]
fn alpine_3_9_from_a_registry_has_the_same_findings() {
    let registry = Registry::start(RegistryKind::PlainHttp);
    registry.push(
        &images().skopeo_ref(ImageName::Alpine39),
        "alpine:3.9",
        false,
    );
    let reference = registry.reference("alpine:3.9");
    let run = scan_run(&["scan", "--insecure", "-f", "json", &reference]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run.stdout);
    assert_eq!(findings(&v), secdb_expected("3.9.6", "v3.9"));
    assert_eq!(findings(&v), alpine39_known());
    assert_eq!(v["image"]["reference"], reference.as_str());
    assert_eq!(
        v["image"]["digest"],
        registry.manifest_digest("alpine:3.9").as_str()
    );
}

#[test]
fn alpine_3_20_has_exactly_cve_2024_9143() {
    let expected = secdb_expected("3.20.3", "v3.20");
    let known = pairs(&[
        ("libcrypto3", "CVE-2024-9143"),
        ("libssl3", "CVE-2024-9143"),
    ]);
    assert_eq!(expected, known, "the independent computation");
    let run = scan_run(&["scan", "-f", "json", &minirootfs("3.20.3")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(findings(&json(&run.stdout)), known);
}

// ---- language packages ----

/// Version order for OSV SEMVER ranges (and plain dotted versions): numeric release, a
/// pre-release before its release, pre-release identifiers compared as SemVer says.
fn semver_cmp(a: &str, b: &str) -> Ordering {
    fn parts(v: &str) -> (Vec<u64>, Option<Vec<String>>) {
        let v = v.trim_start_matches('v');
        let v = v.split('+').next().unwrap();
        let (release, pre) = match v.split_once('-') {
            Some((r, p)) => (r, Some(p.split('.').map(str::to_string).collect())),
            None => (v, None),
        };
        let mut numbers: Vec<u64> = release.split('.').map(|n| n.parse().unwrap_or(0)).collect();
        numbers.resize(3.max(numbers.len()), 0);
        (numbers, pre)
    }
    let ((ra, pa), (rb, pb)) = (parts(a), parts(b));
    ra.cmp(&rb).then_with(|| match (pa, pb) {
        (None, None) => Ordering::Equal,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(x), Some(y)) => {
            for (i, j) in x.iter().zip(&y) {
                let o = match (i.parse::<u64>(), j.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => i.cmp(j),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
    })
}

/// Whether OSV `events` (introduced/fixed/last_affected, in order) cover `version`.
fn in_range(events: &[Value], version: &str) -> bool {
    let mut affected = false;
    let mut sorted: Vec<(&str, &str)> = events
        .iter()
        .flat_map(|e| e.as_object().unwrap().iter())
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
        .collect();
    sorted.sort_by(|x, y| {
        let key = |v: &str| {
            if v == "0" {
                "0.0.0-0".to_string()
            } else {
                v.to_string()
            }
        };
        semver_cmp(&key(x.1), &key(y.1))
    });
    for (kind, at) in sorted {
        let at = if at == "0" { "0.0.0-0" } else { at };
        match kind {
            "introduced" if semver_cmp(version, at) != Ordering::Less => affected = true,
            "fixed" if semver_cmp(version, at) != Ordering::Less => affected = false,
            "last_affected" if semver_cmp(version, at) == Ordering::Greater => affected = false,
            _ => {}
        }
    }
    affected
}

/// The ids of the records in `ecosystem/all.zip` that affect `name` at `version`: listed in
/// `versions`, or (SEMVER ranges) in a range. Withdrawn records are left out.
fn osv_expected(ecosystem: &str, name: &str, version: &str) -> BTreeSet<String> {
    let path =
        portcullis_testkit::testdata_dir().join(format!("advisories/osv/{ecosystem}/all.zip"));
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("test data {} is missing: {e}", path.display()));
    let mut archive = zip::ZipArchive::new(file).unwrap();
    let normalise = |n: &str| n.to_lowercase().replace(['_', '.'], "-");
    let mut out = BTreeSet::new();
    for i in 0..archive.len() {
        let mut text = String::new();
        archive
            .by_index(i)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let record: Value = serde_json::from_str(&text).unwrap();
        if record.get("withdrawn").is_some_and(|w| !w.is_null()) {
            continue;
        }
        for affected in record["affected"].as_array().into_iter().flatten() {
            let package = affected["package"]["name"].as_str().unwrap_or("");
            if normalise(package) != normalise(name) {
                continue;
            }
            let listed = affected["versions"]
                .as_array()
                .is_some_and(|vs| vs.iter().any(|v| v.as_str() == Some(version)));
            let ranged = affected["ranges"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| {
                    r["type"] == "SEMVER"
                        && in_range(
                            r["events"].as_array().unwrap(),
                            version.trim_start_matches('v'),
                        )
                });
            if listed || ranged {
                out.insert(record["id"].as_str().unwrap().to_string());
            }
        }
    }
    out
}

/// Build a Go binary that depends on golang.org/x/text v0.3.5 (vendored, so offline).
/// `false` when PORTCULLIS_SKIP_GO is set.
fn build_go_binary(out: &Path) -> bool {
    portcullis_testkit::go::build(
        &[
            (
                "go.mod",
                "module example.com/app\n\ngo 1.19\n\nrequire golang.org/x/text v0.3.5\n",
            ),
            (
                "main.go",
                "package main\n\nimport \"golang.org/x/text/language\"\n\nfunc main() { println(language.Tag()) }\n",
            ),
            (
                "vendor/golang.org/x/text/language/language.go",
                "package language\n\nfunc Tag() string { return \"en\" }\n",
            ),
            (
                "vendor/modules.txt",
                "# golang.org/x/text v0.3.5\n## explicit\ngolang.org/x/text/language\n",
            ),
        ],
        "-mod=vendor",
        out,
    )
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn language_fixture_has_exactly_the_osv_findings() {
    let root = portcullis_testkit::temp_dir("cli-scan-lang");
    let r = root.path();
    let site = r.join("usr/lib/python3/site-packages");
    write(
        &site.join("Jinja2-2.10.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.10\n",
    );
    write(
        &site.join("PyYAML-5.1.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: PyYAML\nVersion: 5.1\n",
    );
    write(
        &r.join("app/Cargo.lock"),
        "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"smallvec\", \"time\"]\n\n\
         [[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
         [[package]]\nname = \"time\"\nversion = \"0.1.45\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
    );
    let with_go = build_go_binary(&r.join("usr/local/bin/app"));

    let mut packages: Vec<(&str, &str, String, String)> = vec![
        ("PyPI", "PYSEC-", "jinja2".into(), "2.10".into()),
        ("PyPI", "PYSEC-", "pyyaml".into(), "5.1".into()),
        ("crates.io", "RUSTSEC-", "smallvec".into(), "1.6.0".into()),
        ("crates.io", "RUSTSEC-", "time".into(), "0.1.45".into()),
    ];
    if with_go {
        packages.push(("Go", "GO-", "golang.org/x/text".into(), "v0.3.5".into()));
        packages.push((
            "Go",
            "GO-",
            "stdlib".into(),
            portcullis_testkit::go::toolchain_version(),
        ));
    }

    let run = scan_run(&["scan", "-f", "json", &format!("dir:{}", r.display())]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run.stdout);
    let all = v["vulnerabilities"].as_array().unwrap();
    let mut total = 0;
    for (ecosystem, prefix, name, version) in &packages {
        let expected = osv_expected(ecosystem, name, version);
        assert!(
            !expected.is_empty(),
            "{name} {version} should be vulnerable"
        );
        let mine: Vec<&Value> = all
            .iter()
            .filter(|f| {
                f["package"]["name"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(name)
            })
            .collect();
        let got: BTreeSet<String> = mine
            .iter()
            .flat_map(|f| {
                std::iter::once(&f["id"])
                    .chain(f["aliases"].as_array().unwrap())
                    .filter_map(Value::as_str)
                    .filter(|id| id.starts_with(prefix))
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(got, expected, "{ecosystem} {name} {version}");
        assert_eq!(
            mine.len(),
            expected.len(),
            "one finding per record for {name}"
        );
        assert!(
            mine.iter()
                .all(|f| f["package"]["version"] == version.as_str())
        );
        total += mine.len();
    }
    assert_eq!(all.len(), total, "no findings on other packages");
    // The literal ids, as verified by hand against the exports.
    let literal = |name: &str| -> BTreeSet<String> {
        all.iter()
            .filter(|f| f["package"]["name"] == name)
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    let set = |ids: &[&str]| {
        ids.iter()
            .map(|s| (*s).to_string())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        literal("jinja2"),
        set(&["CVE-2019-10906", "CVE-2020-28493"])
    );
    assert_eq!(
        literal("pyyaml"),
        set(&["CVE-2019-20477", "CVE-2020-14343", "CVE-2020-1747"])
    );
    assert_eq!(literal("smallvec"), set(&["CVE-2021-25900"]));
    assert_eq!(literal("time"), set(&["CVE-2020-26235"]));
    if with_go {
        assert_eq!(
            literal("golang.org/x/text"),
            set(&["CVE-2021-38561", "CVE-2022-32149", "CVE-2026-56852"])
        );
    }
}

// ---- filters ----

fn temp_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn scan_json(args: &[&str]) -> (Value, Run) {
    let run = scan_run(args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    (json(&run.stdout), run)
}

#[test]
fn severity_and_unfixed_filters() {
    let source = minirootfs("3.9.6");
    let (all, _) = scan_json(&["scan", "-f", "json", &source]);
    let high: BTreeSet<(String, String)> = all["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "high")
        .map(|f| {
            (
                f["package"]["name"].as_str().unwrap().to_string(),
                f["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(!high.is_empty());
    let (v, run) = scan_json(&["scan", "-f", "json", "--severity", "HIGH", &source]);
    assert_eq!(findings(&v), high);
    let hidden = 14 - high.len();
    assert!(
        run.stderr
            .contains(&format!("{hidden} findings hidden by --severity")),
        "{}",
        run.stderr
    );
    // Every finding of this image has a fix: --ignore-unfixed keeps all 14.
    let (v, run) = scan_json(&["scan", "-f", "json", "--ignore-unfixed", &source]);
    assert_eq!(findings(&v), alpine39_known());
    assert!(!run.stderr.contains("hidden"), "{}", run.stderr);

    let bad = scan_run(&["scan", "--severity", "critical,hgih", &source]);
    bad.assert_exit(2, "unknown severity 'hgih'");
}

#[test]
fn ignore_file_and_vex() {
    let dir = portcullis_testkit::temp_dir("cli-scan-filters");
    let ignore = temp_file(
        dir.path(),
        "ignore.yaml",
        "ignore:\n\
         \x20 - id: CVE-2020-28928\n    package: pkg:apk/alpine/musl\n    reason: wcsnrtombs is not used\n\
         \x20 - id: CVE-2021-3450\n    package: openssl\n    expires: 2099-12-31\n    reason: no X509_V_FLAG_X509_STRICT\n\
         \x20 - id: CVE-2021-3449\n    expires: 2000-01-01\n    reason: expired long ago\n",
    );
    let vex = temp_file(
        dir.path(),
        "app.vex.json",
        r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex", "author": "test",
            "timestamp": "2024-01-01T00:00:00Z", "version": 1, "statements": [
          {"vulnerability": {"name": "CVE-2020-28928"}, "products": [{"@id": "pkg:apk/alpine/musl-utils"}],
           "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
          {"vulnerability": {"name": "CVE-2020-1971"}, "products": ["pkg:apk/alpine/libssl1.1@1.1.1g-r0"],
           "status": "under_investigation"}
        ]}"#,
    );
    let source = minirootfs("3.9.6");
    let (v, run) = scan_json(&[
        "scan",
        "-f",
        "json",
        "--ignore-file",
        &ignore,
        "--vex",
        &vex,
        &source,
    ]);
    let mut expected = alpine39_known();
    for gone in [
        ("musl", "CVE-2020-28928"),
        ("musl-utils", "CVE-2020-28928"),
        ("libcrypto1.1", "CVE-2021-3450"),
        ("libssl1.1", "CVE-2021-3450"),
    ] {
        assert!(expected.remove(&(gone.0.to_string(), gone.1.to_string())));
    }
    assert_eq!(findings(&v), expected);
    assert!(
        run.stderr
            .contains("3 findings ignored (ignore file), 1 finding suppressed by VEX"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("entry 3 (CVE-2021-3449) expired on 2000-01-01"),
        "{}",
        run.stderr
    );

    // Broken filter files: exit 2, naming the file and the entry.
    let bad = temp_file(
        dir.path(),
        "bad.yaml",
        "ignore:\n  - {id: CVE-1, reason: r}\n  - {id: CVE-2}\n",
    );
    let run = scan_run(&["scan", "--ignore-file", &bad, &source]);
    run.assert_exit(2, &format!("{bad}: entry 2: missing reason"));
    let bad_vex = temp_file(
        dir.path(),
        "bad.json",
        r#"{"statements": [{"vulnerability": "CVE-1"}]}"#,
    );
    let run = scan_run(&["scan", "--vex", &bad_vex, &source]);
    run.assert_exit(2, &format!("{bad_vex}: statement 1: missing status"));
    let run = scan_run(&["scan", "--vex", "/nonexistent/vex.json", &source]);
    run.assert_exit(2, "/nonexistent/vex.json");
}

// ---- exit codes ----

#[test]
fn exit_codes_without_a_policy() {
    let source = minirootfs("3.9.6");
    assert_eq!(scan_run(&["scan", &source]).code, 0);
    assert_eq!(scan_run(&["scan", "--exit-code", "3", &source]).code, 3);
    // No critical findings: nothing remains, so --exit-code does not apply.
    let run = scan_run(&[
        "scan",
        "--exit-code",
        "3",
        "--severity",
        "critical",
        &source,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Usage errors are 2.
    for args in [
        &["scan", "--exit-code", "300", &source][..],
        &["scan", "--fail-on-warn", &source],
        &["scan", "--format", "xml", &source],
        &["scan", "--no-such-flag", &source],
        &["scan"],
        &[
            "scan",
            "--policy",
            "reject_high",
            "--exit-code",
            "3",
            &source,
        ],
    ] {
        let run = scan_run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    }
}

#[test]
fn exit_codes_with_a_policy() {
    let source = minirootfs("3.9.6");
    // High findings: reject_high stops; reject_critical warns (no HEALTHCHECK in a
    // root filesystem tarball); deny_all stops; allow_all_and_warn warns.
    for (policy, action, code, code_fail_on_warn) in [
        ("reject_high", "stop", 1, 1),
        ("reject_critical", "warn", 0, 1),
        ("allow_all_and_warn", "warn", 0, 1),
        ("deny_all", "stop", 1, 1),
    ] {
        let run = scan_run(&["scan", "-f", "json", "--policy", policy, &source]);
        assert_eq!(run.code, code, "{policy}: {}", run.stderr);
        let v = json(&run.stdout);
        assert_eq!(v["policy"]["id"], policy);
        assert_eq!(v["policy"]["final_action"], action, "{policy}");
        let run = scan_run(&["scan", "--policy", policy, "--fail-on-warn", &source]);
        assert_eq!(run.code, code_fail_on_warn, "{policy}: {}", run.stderr);
    }
    // Filters run before the policy: without the high findings reject_high only warns.
    let run = scan_run(&[
        "scan",
        "--policy",
        "reject_high",
        "--severity",
        "medium,low",
        &source,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    let run = scan_run(&["scan", "--policy", "no_such_policy", &source]);
    run.assert_exit(2, "--policy no_such_policy: 'no_such_policy' is neither a built-in policy (allow_all_and_warn, reject_critical, reject_high, block_root, deny_all, reject_exploited) nor a policy file");
}

#[test]
fn custom_policy_file_and_whitelist() {
    let dir = portcullis_testkit::temp_dir("cli-scan-policy");
    let policy = temp_file(
        dir.path(),
        "policy.yaml",
        "id: no_fixable\ndescription: Stop anything fixable.\nrules:\n\
         \x20 - gate: vulnerabilities\n    trigger: package\n\
         \x20   params: {severity: unknown, severity_comparison: \">=\", fix_available: true}\n    action: stop\n",
    );
    let source = minirootfs("3.20.3");
    let run = scan_run(&["scan", "-f", "json", "--policy", &policy, &source]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let v = json(&run.stdout);
    assert_eq!(v["policy"]["id"], "no_fixable");
    assert_eq!(v["policy"]["final_action"], "stop");
    let results = v["policy"]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(results.iter().all(|r| r["gate"] == "vulnerabilities"));

    // The same, whitelisting CVE-2024-9143 in JSON: go.
    let whitelisted = temp_file(
        dir.path(),
        "policy.json",
        r#"{"id": "no_fixable", "rules": [{"gate": "vulnerabilities", "trigger": "package",
            "params": {"severity": "unknown", "severity_comparison": ">=", "fix_available": true}, "action": "stop"}],
            "whitelist": [{"id": "CVE-2024-9143", "reason": "accepted"}]}"#,
    );
    let run = scan_run(&["scan", "-f", "json", "--policy", &whitelisted, &source]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(json(&run.stdout)["policy"]["final_action"], "go");

    let broken = temp_file(dir.path(), "broken.yaml", "id: x\nrules:\n  - gate: nope\n");
    let run = scan_run(&["scan", "--policy", &broken, &source]);
    run.assert_exit(2, "broken.yaml");
}

#[test]
fn policy_set_mappings_choose_by_repository() {
    let dir = portcullis_testkit::temp_dir("cli-scan-policy-set");
    let set = temp_file(
        dir.path(),
        "set.yaml",
        "default_policy: allow_all_and_warn\nmappings:\n\
         \x20 - {registry: '*', repository: 'app', tag: '*', policy: deny_all}\npolicies: []\n",
    );
    let registry = Registry::start(RegistryKind::PlainHttp);
    registry.push(&images().skopeo_ref(ImageName::Alpine320), "app:1", false);
    registry.push(&images().skopeo_ref(ImageName::Alpine320), "other:1", false);
    for (repo_tag, policy, code) in [
        ("app:1", "deny_all", 1),
        ("other:1", "allow_all_and_warn", 0),
    ] {
        let reference = registry.reference(repo_tag);
        let run = scan_run(&[
            "scan",
            "--insecure",
            "-f",
            "json",
            "--policy",
            &set,
            &reference,
        ]);
        assert_eq!(run.code, code, "{repo_tag}: {}", run.stderr);
        assert_eq!(json(&run.stdout)["policy"]["id"], policy);
    }
}

// ---- formats and output ----

#[test]
fn formats_and_output_file() {
    let source = minirootfs("3.9.6");
    let sarif = scan_run(&["scan", "-f", "sarif", &source]);
    assert_eq!(sarif.code, 0, "{}", sarif.stderr);
    let sarif = json(&sarif.stdout);
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 14);

    let cdx = scan_run(&["scan", "-f", "cyclonedx", &source]);
    assert_eq!(cdx.code, 0, "{}", cdx.stderr);
    let cdx = json(&cdx.stdout);
    assert_eq!(cdx["bomFormat"], "CycloneDX");
    let ids: BTreeSet<&str> = cdx["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = [
        "CVE-2020-28928",
        "CVE-2020-1971",
        "CVE-2021-23839",
        "CVE-2021-23840",
        "CVE-2021-23841",
        "CVE-2021-3449",
        "CVE-2021-3450",
    ]
    .into();
    assert_eq!(ids, expected);

    let table = scan_run(&["scan", &source]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    for (name, id) in alpine39_known() {
        assert!(
            table.stdout.contains(&name) && table.stdout.contains(&id),
            "{}",
            table.stdout
        );
    }

    // -o writes the same bytes as standard output, and JSON is stable across runs.
    let dir = portcullis_testkit::temp_dir("cli-scan-out");
    let file = dir.path().join("scan.json");
    let first = scan_run(&["scan", "-f", "json", &source]);
    let written = scan_run(&["scan", "-f", "json", "-o", file.to_str().unwrap(), &source]);
    assert_eq!(written.code, 0, "{}", written.stderr);
    assert!(written.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first.stdout);
}

#[test]
fn the_first_scan_builds_the_database_from_the_sources() {
    let dir = portcullis_testkit::temp_dir("cli-scan-first");
    // A folder that does not exist yet, as on a fresh machine.
    let db = dir.path().join("cache/portcullis/db.sqlite");
    let testdata = portcullis_testkit::testdata_dir();
    let mirror = crate::db::Mirror::serve(&testdata.join("advisories/alpine-secdb"));
    let url = mirror.url();
    let image = minirootfs("3.20.3");
    let args = [
        "--db",
        db.to_str().unwrap(),
        "scan",
        "-f",
        "json",
        "--source",
        "alpine-secdb:v3.20",
        "--alpine-mirror",
        &url,
        &image,
    ];
    let run = portcullis(&args, b"");
    run.assert_exit(
        0,
        &format!(
            "no vulnerability database at {} yet: building it from 2 upstream sources",
            db.display()
        ),
    );
    let expected = secdb_expected("3.20.3", "v3.20");
    assert_eq!(findings(&json(&run.stdout)), expected);
    assert_eq!(expected.len(), 2);
    let status = json(
        &portcullis(
            &["--db", db.to_str().unwrap(), "db", "status", "-f", "json"],
            b"",
        )
        .stdout,
    );
    let names: Vec<&str> = status["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["alpine-secdb:v3.20/community", "alpine-secdb:v3.20/main"]
    );

    // The second scan uses the database as it is: the mirror is gone, and nothing is fetched.
    drop(mirror);
    let again = portcullis(&args, b"");
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(!again.stderr.contains("building it"), "{}", again.stderr);
    assert_eq!(again.stdout, run.stdout);
}

/// `portcullis --db DB scan ARGS`, DB being `file` in a fresh directory (named after `what`)
/// where no database is yet; the directory is returned to keep it.
fn scan_without_db(
    what: &str,
    file: &str,
    args: &[&str],
) -> (tempfile::TempDir, std::path::PathBuf, Run) {
    let dir = portcullis_testkit::temp_dir(what);
    let db = dir.path().join(file);
    let mut all = vec!["--db", db.to_str().unwrap(), "scan"];
    all.extend_from_slice(args);
    let run = portcullis(&all, b"");
    (dir, db, run)
}

#[test]
fn a_failed_first_build_leaves_no_database() {
    // Port 1 on loopback: nothing listens, the connection is refused.
    let (_dir, db, run) = scan_without_db(
        "cli-scan-first-fail",
        "db.sqlite",
        &[
            "--source",
            "alpine-secdb:v3.20/main",
            "--alpine-mirror",
            "http://127.0.0.1:1",
            &minirootfs("3.20.3"),
        ],
    );
    run.assert_exit(2, "building the vulnerability database on first use");
    assert!(run.stderr.contains("127.0.0.1:1"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(!db.exists());
}

#[test]
fn offline_without_a_database_says_how_to_get_one() {
    let (_dir, db, run) = scan_without_db(
        "cli-scan-nodb",
        "missing.sqlite",
        &["--offline", &minirootfs("3.9.6")],
    );
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim(),
        format!(
            "error: no vulnerability database at {}: run `portcullis db update`, or `portcullis db import PATH...` with local advisory files",
            db.display()
        )
    );
    assert!(run.stdout.is_empty());
}
