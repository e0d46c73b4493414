//! Differential tests: our comparators against the canonical tools, on at least 10,000
//! pairs per scheme built from every version string in the shared test data plus
//! deterministic mutations. Each tool answers all pairs in one process.
//!
//! Tools (CI installs them; a missing one fails the test with the package to install):
//! - dpkg: `dpkg --compare-versions` on a sample, `apt_pkg.version_compare` (Debian
//!   package `python3-apt`, dpkg's algorithm) on all pairs: spawning dpkg 10,000 times
//!   would take minutes.
//! - rpm: `rpm.labelCompare` (Debian package `python3-rpm`).
//! - pep440: `packaging.version` (Debian package `python3-packaging`).
//! - npm, semver and go: node-semver from `tests/node` (`npm ci` there).
//!
//! All Python runs with Debian's `/usr/bin/python3`, which is where those packages live.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_versions::{Scheme, compare, parse};

const MIN_PAIRS: usize = 10_000;
const PYTHON: &str = "/usr/bin/python3";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn testdata() -> PathBuf {
    let dir = std::env::var_os("PORTCULLIS_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("../../testdata"));
    assert!(
        dir.join("README.md").is_file(),
        "test data not found at {} (set PORTCULLIS_TESTDATA)",
        dir.display()
    );
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Run a command and return stdout; fail with `install` when it cannot run.
fn run(cmd: &mut Command, install: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} ({e}); {install}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{install}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn require_python_module(module: &str, package: &str) {
    let ok = Command::new(PYTHON)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{PYTHON} cannot import {module}: install the Debian package {package} (apt-get install -y {package})"
    );
}

fn python_oracle(mode: &str, pairs: &[(String, String)]) -> (Vec<String>, String) {
    let file = write_pairs(mode, pairs);
    let script = manifest_dir().join("tests/oracle/python_oracle.py");
    let out = run(
        Command::new(PYTHON).arg(script).arg(mode).arg(&file),
        "install python3-rpm, python3-packaging and python3-apt",
    );
    split_answers(&out, pairs.len())
}

fn node_oracle(mode: &str, pairs: &[(String, String)]) -> (Vec<String>, String) {
    let semver = manifest_dir().join("tests/node/node_modules/semver/package.json");
    assert!(
        semver.is_file(),
        "node-semver missing: run `npm ci` in crates/versions/tests/node (needs node and npm)"
    );
    let file = write_pairs(&format!("node-{mode}"), pairs);
    let script = manifest_dir().join("tests/oracle/semver_oracle.js");
    let out = run(
        Command::new("node").arg(script).arg(mode).arg(&file),
        "install node (Debian package nodejs) and run `npm ci` in crates/versions/tests/node",
    );
    split_answers(&out, pairs.len())
}

fn write_pairs(name: &str, pairs: &[(String, String)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portcullis-versions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join(format!("{name}.tsv"));
    let mut text = String::new();
    for (a, b) in pairs {
        writeln!(text, "{a}\t{b}").expect("write");
    }
    std::fs::write(&file, text).expect("write pairs");
    file
}

fn split_answers(out: &str, n: usize) -> (Vec<String>, String) {
    let mut lines: Vec<String> = out.lines().map(str::to_owned).collect();
    let tool = lines.pop().unwrap_or_default();
    assert!(
        tool.starts_with("tool: "),
        "oracle output ends with {tool:?}"
    );
    assert_eq!(
        lines.len(),
        n,
        "oracle answered {} of {n} pairs",
        lines.len()
    );
    (lines, tool)
}

fn ours(scheme: Scheme, a: &str, b: &str) -> String {
    match compare(scheme, a, b) {
        Ok(Ordering::Less) => "-1".into(),
        Ok(Ordering::Equal) => "0".into(),
        Ok(Ordering::Greater) => "1".into(),
        Err(_) => "E".into(),
    }
}

/// Compare our answers with the oracle's; `E` answers count only when `check_validity`.
fn assert_agree(
    scheme: Scheme,
    pairs: &[(String, String)],
    answers: &[String],
    check_validity: bool,
    tool: &str,
) -> usize {
    let mut disagreements = Vec::new();
    let mut compared = 0;
    for ((a, b), theirs) in pairs.iter().zip(answers) {
        let mine = ours(scheme, a, b);
        if !check_validity && (mine == "E" || theirs == "E") {
            continue;
        }
        compared += 1;
        if &mine != theirs {
            disagreements.push(format!("{a:?} vs {b:?}: ours {mine}, {tool} {theirs}"));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{scheme}: {} disagreements with {tool}, first ones:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        compared >= MIN_PAIRS,
        "{scheme}: only {compared} pairs compared"
    );
    eprintln!("{scheme}: {compared} pairs agree with {tool}");
    compared
}

/// A small deterministic generator (no external randomness: reproducible failures).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items.get(self.below(items.len())).copied().unwrap_or("")
    }
}

/// Change one digit run of `v` (bump, zero, or pad with a leading zero).
fn tweak_number(v: &str, rng: &mut Rng) -> String {
    let runs: Vec<(usize, usize)> = {
        let b = v.as_bytes();
        let mut runs = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let s = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                runs.push((s, i));
            } else {
                i += 1;
            }
        }
        runs
    };
    if runs.is_empty() {
        return v.to_owned();
    }
    let (s, e) = runs[rng.below(runs.len())];
    let digits = &v[s..e];
    let new = match rng.below(4) {
        0 => match digits.parse::<u64>() {
            Ok(n) => (n + 1).to_string(),
            Err(_) => format!("{digits}1"),
        },
        1 => "0".to_owned(),
        2 => format!("0{digits}"),
        _ => match digits.parse::<u64>() {
            Ok(n) if n > 0 => (n - 1).to_string(),
            _ => "10".to_owned(),
        },
    };
    format!("{}{}{}", &v[..s], new, &v[e..])
}

/// Build at least `target` pairs: sorted neighbours, mutations, random partners.
fn make_pairs(
    corpus: &BTreeSet<String>,
    target: usize,
    seed: u64,
    mutate: &dyn Fn(&str, &mut Rng) -> String,
) -> Vec<(String, String)> {
    let all: Vec<&String> = corpus.iter().collect();
    assert!(!all.is_empty(), "empty corpus");
    let mut rng = Rng(seed);
    let mut pairs = Vec::new();
    for w in all.windows(2) {
        pairs.push((w[0].clone(), w[1].clone()));
    }
    let mut i = 0;
    while pairs.len() < target {
        let v = all[i % all.len()];
        let m = mutate(v, &mut rng);
        let other = all[rng.below(all.len())];
        match rng.below(3) {
            0 => pairs.push((v.clone(), m)),
            1 => pairs.push((m, other.clone())),
            _ => {
                let m2 = mutate(&m, &mut rng);
                pairs.push((m2, m));
            }
        }
        pairs.push((v.clone(), other.clone()));
        i += 1;
    }
    pairs
}

// ---------------------------------------------------------------- corpora

fn dpkg_corpus() -> BTreeSet<String> {
    let td = testdata();
    let mut set = BTreeSet::new();
    for f in ["status-debian12-host", "status-debian12-minbase"] {
        for line in read(&td.join("pkgdb/dpkg").join(f)).lines() {
            if let Some(v) = line.strip_prefix("Version: ") {
                set.insert(v.trim().to_owned());
            }
        }
    }
    for f in ["DSA.list", "DLA.list"] {
        for line in read(&td.join("advisories/debian").join(f)).lines() {
            if line.starts_with("\t[")
                && let Some(v) = line.split_whitespace().nth(3)
                && v.starts_with(|c: char| c.is_ascii_digit())
            {
                set.insert(v.to_owned());
            }
        }
    }
    set
}

fn osv_corpus(ecosystems: &[&str]) -> BTreeSet<String> {
    require_python_module("zipfile", "python3");
    let td = testdata();
    let script = manifest_dir().join("tests/oracle/python_oracle.py");
    let mut cmd = Command::new(PYTHON);
    cmd.arg(script).arg("versions");
    for e in ecosystems {
        cmd.arg(td.join("advisories/osv").join(e).join("all.zip"));
    }
    run(&mut cmd, "install python3")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn apk_corpus() -> BTreeSet<String> {
    let td = testdata().join("advisories/alpine-secdb");
    let mut set = BTreeSet::new();
    for branch in std::fs::read_dir(&td).expect("alpine-secdb") {
        let branch = branch.expect("entry").path();
        for repo in ["main.json", "community.json"] {
            let path = branch.join(repo);
            if !path.is_file() {
                continue;
            }
            let json: serde_json::Value = serde_json::from_str(&read(&path)).expect("secdb json");
            for pkg in json["packages"].as_array().into_iter().flatten() {
                if let Some(fixes) = pkg["pkg"]["secfixes"].as_object() {
                    set.extend(fixes.keys().cloned());
                }
            }
        }
    }
    set
}

// ---------------------------------------------------------------- tests

#[test]
fn dpkg_agrees_with_dpkg() {
    require_python_module("apt_pkg", "python3-apt");
    let corpus = dpkg_corpus();
    let invalid: Vec<&String> = corpus
        .iter()
        .filter(|v| parse(Scheme::Dpkg, v).is_err())
        .collect();
    assert!(
        invalid.is_empty(),
        "real dpkg versions rejected: {invalid:?}"
    );
    let mutate = |v: &str, rng: &mut Rng| -> String {
        match rng.below(8) {
            0 => format!("{v}~{}", rng.pick(&["rc1", "", "~", "beta2", "0"])),
            1 => format!(
                "{v}{}",
                rng.pick(&["+b1", "+deb12u1", ".1", "a", "-1", "+really1.0"])
            ),
            2 => format!("{}:{v}", rng.below(3)),
            3 => v.replacen('.', rng.pick(&["~", "+", ".0.", "a."]), 1),
            4 => v.replace('-', "~"),
            _ => tweak_number(v, rng),
        }
    };
    let pairs = make_pairs(&corpus, 12_000, 1, &mutate);
    let (answers, tool) = python_oracle("dpkg", &pairs);
    assert_agree(Scheme::Dpkg, &pairs, &answers, false, &tool);

    // dpkg itself, one process running the sample.
    let sample: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(a, b)| parse(Scheme::Dpkg, a).is_ok() && parse(Scheme::Dpkg, b).is_ok())
        .step_by(40)
        .collect();
    let file = write_pairs(
        "dpkg-sample",
        &sample.iter().map(|p| (*p).clone()).collect::<Vec<_>>(),
    );
    let script = "while IFS=\"$(printf '\\t')\" read -r a b; do \
        if dpkg --compare-versions \"$a\" lt \"$b\"; then echo -1; \
        elif dpkg --compare-versions \"$a\" eq \"$b\"; then echo 0; else echo 1; fi; done < \"$1\"";
    let out = run(
        Command::new("sh").args(["-c", script, "sh"]).arg(&file),
        "install dpkg",
    );
    let answers: Vec<String> = out.lines().map(str::to_owned).collect();
    assert_eq!(answers.len(), sample.len());
    let sample: Vec<(String, String)> = sample.into_iter().cloned().collect();
    let mut bad = Vec::new();
    for ((a, b), theirs) in sample.iter().zip(&answers) {
        let mine = ours(Scheme::Dpkg, a, b);
        if &mine != theirs {
            bad.push(format!("{a} vs {b}: ours {mine}, dpkg {theirs}"));
        }
    }
    assert!(
        bad.is_empty(),
        "disagreements with dpkg --compare-versions:\n{}",
        bad.join("\n")
    );
    eprintln!(
        "dpkg: {} sampled pairs agree with dpkg --compare-versions",
        sample.len()
    );
}

fn rpm_corpus() -> BTreeSet<String> {
    // No rpm database reader yet: realistic EVRs from the dpkg and apk corpora, reshaped
    // the way RPM packages spell versions, plus common RPM release patterns.
    let mut set = BTreeSet::new();
    let releases = [
        "1",
        "1.el9",
        "2.el9_2",
        "3.cm2",
        "150400.3.5",
        "0.rc1.fc39",
        "1.module+el8.6.0+123+abc",
    ];
    for (i, v) in dpkg_corpus().into_iter().chain(apk_corpus()).enumerate() {
        let upstream = v
            .split_once(':')
            .map_or(v.as_str(), |(_, u)| u)
            .rsplit_once('-')
            .map_or(v.as_str(), |(u, _)| u)
            .replace(['-', ':'], "_");
        let release = releases[i % releases.len()];
        set.insert(format!("{upstream}-{release}"));
        if i % 5 == 0 {
            set.insert(format!("{}:{upstream}-{release}", i % 3));
        }
        if i % 7 == 0 {
            set.insert(upstream.clone());
        }
    }
    set
}

#[test]
fn rpm_agrees_with_labelcompare() {
    require_python_module("rpm", "python3-rpm");
    let corpus = rpm_corpus();
    let mutate = |v: &str, rng: &mut Rng| -> String {
        match rng.below(9) {
            0 => v.replacen(
                '-',
                &format!(
                    "{}-",
                    rng.pick(&["~rc1", "^git1", "~", "^", "~~", "^20230101"])
                ),
                1,
            ),
            1 => format!("{v}{}", rng.pick(&["~1", "^1", ".a", "_1", "a", "+x"])),
            2 => format!("{}:{v}", rng.below(3)),
            3 => v.replacen('.', rng.pick(&["~", "^", "_", ".0.", "a"]), 1),
            4 => format!(
                "{}-{}",
                v.split('-').next().unwrap_or(v),
                rng.pick(&["1", "1.el9", "0"])
            ),
            _ => tweak_number(v, rng),
        }
    };
    let pairs = make_pairs(&corpus, 12_000, 2, &mutate);
    let (answers, tool) = python_oracle("rpm", &pairs);
    assert_agree(Scheme::Rpm, &pairs, &answers, false, &tool);
}

#[test]
fn pep440_agrees_with_packaging() {
    require_python_module("packaging", "python3-packaging");
    let corpus = osv_corpus(&["PyPI"]);
    let mutate = |v: &str, rng: &mut Rng| -> String {
        match rng.below(10) {
            0 => format!(
                "{v}{}",
                rng.pick(&[
                    "a1", "b2", "rc1", "-RC1", ".post1", ".dev0", "-1", "+local.1", "c", "pre2",
                    "preview", "r", "-dev"
                ])
            ),
            1 => format!("{}!{v}", rng.below(3)),
            2 => format!("v{v}"),
            3 => v.replacen('.', rng.pick(&["-", "_", "..", ".0."]), 1),
            4 => format!(
                "{v}{}",
                rng.pick(&[".post1.dev2", "a1.post1", "+ubuntu-1_2", "+1.a", " ", "x"])
            ),
            5 => v.to_uppercase(),
            _ => tweak_number(v, rng),
        }
    };
    let pairs = make_pairs(&corpus, 12_000, 3, &mutate);
    let (answers, tool) = python_oracle("pep440", &pairs);
    assert_agree(Scheme::Pep440, &pairs, &answers, true, &tool);
}

fn semver_mutate(v: &str, rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => format!(
            "{v}{}",
            rng.pick(&[
                "-alpha", "-alpha.1", "-0", "-rc.10", "-beta.2", "-1.2.3", "-x-y"
            ])
        ),
        1 => format!(
            "{v}{}",
            rng.pick(&["+build", "+incompatible", "+001", ".0"])
        ),
        2 => format!("{}{v}", rng.pick(&["v", "=", " ", "v=", "V"])),
        3 => v.replacen('.', rng.pick(&[".0", "..", "-"]), 1),
        4 => format!("{v}{}", rng.pick(&["a", "beta", ".01", "-01", "-"])),
        _ => tweak_number(v, rng),
    }
}

#[test]
fn npm_agrees_with_node_semver_loose() {
    let corpus = osv_corpus(&["crates.io", "Go"]);
    let pairs = make_pairs(&corpus, 12_000, 4, &semver_mutate);
    let (answers, tool) = node_oracle("loose", &pairs);
    assert_agree(Scheme::Npm, &pairs, &answers, true, &tool);
}

/// SemVer 2.0 precedence, against node-semver's strict mode where both accept the version
/// (node-semver also takes a `v` prefix and surrounding spaces, which SemVer 2.0 does not).
#[test]
fn semver_agrees_with_node_semver_strict() {
    let corpus = osv_corpus(&["crates.io"]);
    let pairs = make_pairs(&corpus, 14_000, 5, &semver_mutate);
    let (answers, tool) = node_oracle("strict", &pairs);
    assert_agree(Scheme::Semver, &pairs, &answers, false, &tool);
}

/// Go module versions: there is no standalone Go tool, but full-form Go versions follow
/// SemVer 2.0 precedence, so node-semver's strict mode is an independent reference.
#[test]
fn go_agrees_with_node_semver_strict() {
    let corpus = osv_corpus(&["Go"]);
    let rejected: Vec<&String> = corpus
        .iter()
        .filter(|v| parse(Scheme::Go, v).is_err())
        .collect();
    assert!(
        rejected.is_empty(),
        "real Go versions rejected: {rejected:?}"
    );
    let mutate = |v: &str, rng: &mut Rng| -> String {
        let m = semver_mutate(v, rng);
        match rng.below(3) {
            0 => format!("v{}", m.trim_start_matches(['v', '=', ' ', 'V'])),
            _ => m,
        }
    };
    let full: BTreeSet<String> = corpus.into_iter().filter(|v| v.contains('.')).collect();
    let pairs: Vec<(String, String)> = make_pairs(&full, 14_000, 6, &mutate)
        .into_iter()
        .filter(|(a, b)| {
            [a, b]
                .iter()
                .all(|v| v.matches('.').count() >= 2 || v.contains('-'))
        })
        .collect();
    let (answers, tool) = node_oracle("strict", &pairs);
    assert_agree(Scheme::Go, &pairs, &answers, false, &tool);
}

/// Every apk version in the Alpine secdb parses (apk has no reference tool here; see the
/// apk-tools vectors in `vectors.rs`).
#[test]
fn apk_secdb_versions_parse() {
    let corpus = apk_corpus();
    let rejected: Vec<&String> = corpus
        .iter()
        .filter(|v| parse(Scheme::Apk, v).is_err())
        .collect();
    assert_eq!(corpus.len(), 4200, "distinct fixed versions in the secdb");
    // apk-tools rejects these too: a letter followed by digits, `.-r`, `-N` without `r`.
    let expected = [
        "0.12.5.-r0",
        "0.8.21.r2",
        "1.0.4.-r0",
        "1.11-20-r0",
        "1.18.-r2",
        "1.7.5.-r1",
        "1.9.5p2-r0",
        "10.0.11-0",
        "10.2.22.r0",
        "10.2.24.r0",
        "2.15.r-r1",
        "2021-03-27-r5",
        "3.3.3p1-r3",
        "4.10-1-r1",
        "4.8.0.-r1",
        "57-1-r2",
        "6.6.2p1-r0",
        "6.6.4p1-r1",
        "6.6.4p1-r2",
        "6.7.1p1-r1",
    ];
    assert_eq!(rejected, expected);
}
