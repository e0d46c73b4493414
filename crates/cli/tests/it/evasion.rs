//! `portcullis scan` of an Alpine 3.9.6 root filesystem whose `lib/apk/db/installed` was
//! tampered with (issue 19): links are followed, an unreadable database makes the image not
//! judgeable and `--policy reject_high` exits 1 naming the file.

use std::path::Path;

use serde_json::Value;

use crate::scan::{findings, json, minirootfs, scan_run};

const INSTALLED: &str = "lib/apk/db/installed";

/// Unpack the minirootfs into `dir/root`, let `edit` change it, and pack it again with GNU
/// tar (which writes hard links as link entries and a `./` root entry).
fn tampered(dir: &Path, edit: impl FnOnce(&Path)) -> String {
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let archive = portcullis_testkit::alpine_minirootfs("3.9.6");
    portcullis_testkit::run(
        "tar",
        [
            "-xzf",
            archive.to_str().unwrap(),
            "-C",
            root.to_str().unwrap(),
        ],
    );
    edit(&root);
    let out = dir.join("rootfs.tar");
    portcullis_testkit::run(
        "tar",
        [
            "-cf",
            out.to_str().unwrap(),
            "-C",
            root.to_str().unwrap(),
            ".",
        ],
    );
    format!("tar:{}", out.display())
}

fn scan_json(source: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "scan",
        source,
        "--format",
        "json",
        "--policy",
        "reject_high",
    ];
    args.extend_from_slice(extra);
    let run = scan_run(&args);
    (run.code, json(&run.stdout))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The policy results as `action trigger: message`.
fn results(v: &Value) -> Vec<String> {
    v["policy"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}: {}",
                r["action"].as_str().unwrap(),
                r["trigger"].as_str().unwrap(),
                r["message"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn linked_installed_database_is_read_through_the_link() {
    let (code, plain) = scan_json(&minirootfs("3.9.6"), &[]);
    assert_eq!(code, 1);
    assert_eq!(plain["packages"].as_array().unwrap().len(), 14);
    for kind in ["symlink", "hardlink"] {
        let dir = portcullis_testkit::temp_dir("cli-evasion");
        let source = tampered(dir.path(), |root| {
            let store = root.join("opt/store");
            std::fs::create_dir_all(&store).unwrap();
            std::fs::rename(root.join(INSTALLED), store.join("db")).unwrap();
            if kind == "symlink" {
                std::os::unix::fs::symlink("../../../opt/store/db", root.join(INSTALLED)).unwrap();
            } else {
                std::fs::hard_link(store.join("db"), root.join(INSTALLED)).unwrap();
            }
        });
        let (code, linked) = scan_json(&source, &[]);
        assert_eq!(code, 1, "{kind}");
        assert_eq!(linked["packages"].as_array().unwrap().len(), 14, "{kind}");
        assert_eq!(strings(&linked["errors"]), Vec::<String>::new(), "{kind}");
        assert_eq!(findings(&linked), findings(&plain), "{kind}");
        assert!(
            !strings(&linked["warnings"])
                .iter()
                .any(|w| w.contains("absolute path")),
            "{kind}: {}",
            linked["warnings"]
        );
    }
}

#[test]
fn unreadable_installed_database_stops_the_image() {
    // Over the cap: --max-file-size one byte below the database's size.
    let dir = portcullis_testkit::temp_dir("cli-evasion");
    let mut size = 0u64;
    let source = tampered(dir.path(), |root| {
        size = std::fs::metadata(root.join(INSTALLED)).unwrap().len();
    });
    let cap = (size - 1).to_string();
    let (code, over) = scan_json(&source, &["--max-file-size", &cap]);
    assert_eq!(code, 1);
    assert_eq!(over["packages"].as_array().unwrap().len(), 0);
    let errors = strings(&over["errors"]);
    let expected = format!(
        "{INSTALLED}: not read (larger than the per-file cap of {cap} bytes); its packages are unknown"
    );
    assert!(errors.contains(&expected), "{errors:?}");
    assert_eq!(over["policy"]["final_action"], "stop");
    let results = results(&over);
    assert!(
        results.iter().any(|r| r.starts_with(
            "stop vulnerability_data_unavailable: a package database could not be read completely"
        ) && r.contains(INSTALLED)),
        "{results:?}"
    );

    // Truncated in the middle of the 3rd stanza, before its version.
    let dir = portcullis_testkit::temp_dir("cli-evasion");
    let source = tampered(dir.path(), |root| {
        let text = std::fs::read_to_string(root.join(INSTALLED)).unwrap();
        let cut = text.match_indices("\nV:").nth(2).unwrap().0 + 1;
        std::fs::write(root.join(INSTALLED), &text[..cut]).unwrap();
    });
    let (code, truncated) = scan_json(&source, &[]);
    assert_eq!(code, 1);
    assert_eq!(truncated["packages"].as_array().unwrap().len(), 2);
    let errors = strings(&truncated["errors"]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!("{INSTALLED}: stanza 3 (line ")),
        "{errors:?}"
    );
    assert_eq!(truncated["policy"]["final_action"], "stop");
}
