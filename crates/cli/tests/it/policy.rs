//! `portcullis policy list|show|eval`.

use serde_json::Value;

use crate::portcullis;
use crate::scan::{json, minirootfs, scan_run};

/// The built-in policies, in the order `policy list` lists them.
use portcullis_policy::BUILTIN_IDS as IDS;

#[test]
fn list_shows_the_six_built_ins() {
    let run = portcullis(&["policy", "list"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{}", run.stdout);
    assert!(lines[0].starts_with("ID"));
    for (line, id) in lines[1..].iter().zip(IDS) {
        let (first, description) = line.split_once(' ').unwrap();
        assert_eq!(first, id);
        assert!(!description.trim().is_empty());
    }
    assert!(lines[5].ends_with("Stop every image."), "{}", lines[5]);
}

#[test]
fn show_prints_a_document_that_reads_back() {
    for id in IDS {
        let run = portcullis(&["policy", "show", id, "--format", "json"], b"");
        assert_eq!(run.code, 0, "{}", run.stderr);
        let v: Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(v["id"], id);
        assert!(!v["rules"].as_array().unwrap().is_empty());
        let yaml = portcullis(&["policy", "show", id], b"");
        assert_eq!(yaml.code, 0, "{}", yaml.stderr);
        assert!(
            yaml.stdout.contains(&format!("id: {id}")),
            "{}",
            yaml.stdout
        );
    }
    // A shown policy, edited and saved, is a valid --policy file.
    let dir = portcullis_testkit::temp_dir("cli-policy-show");
    let file = dir.path().join("mine.yaml");
    let shown = portcullis(&["policy", "show", "deny_all"], b"");
    std::fs::write(&file, shown.stdout.replace("deny_all", "my_deny_all")).unwrap();
    let run = scan_run(&[
        "policy",
        "eval",
        "--policy",
        file.to_str().unwrap(),
        "-f",
        "json",
        &minirootfs("3.20.3"),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(json(&run.stdout)["policy"]["id"], "my_deny_all");

    let run = portcullis(&["policy", "show", "reject_everything"], b"");
    run.assert_exit(2, "unknown policy 'reject_everything'");
}

#[test]
fn eval_prints_the_decision_with_exit_codes() {
    let source = minirootfs("3.9.6");
    let run = scan_run(&["policy", "eval", "--policy", "reject_high", &source]);
    run.assert_stdout(1, "Policy    reject_high\nDecision  STOP\n");
    assert!(run.stdout.contains("CVE-2021-3450"), "{}", run.stdout);

    let run = scan_run(&[
        "policy",
        "eval",
        "--policy",
        "reject_critical",
        "-f",
        "json",
        &source,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run.stdout);
    assert_eq!(v["policy"]["id"], "reject_critical");
    assert_eq!(v["policy"]["final_action"], "warn");
    let results = v["policy"]["results"].as_array().unwrap();
    // A root filesystem has no config: the two Dockerfile rules cannot be evaluated, which
    // counts as WARN.
    let triggers: Vec<(&str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["trigger"].as_str().unwrap(),
                r["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        triggers,
        [("exposed_ports", "warn"), ("no_healthcheck", "warn")]
    );

    let run = scan_run(&[
        "policy",
        "eval",
        "--policy",
        "reject_critical",
        "--fail-on-warn",
        &source,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    // Filters apply here too.
    let run = scan_run(&[
        "policy",
        "eval",
        "--policy",
        "reject_high",
        "--severity",
        "low",
        &source,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Missing --policy is a usage error.
    assert_eq!(scan_run(&["policy", "eval", &source]).code, 2);
}
