//! A changed policy in the configuration file judges without a restart; a broken one is
//! counted and the policy in force stays.

use std::path::Path;
use std::time::{Duration, Instant};

use portcullis_config::ServerConfig;

use crate::harness::{TestServer, base_config};

const FIRST: &str = "default_policy: first\npolicies:\n  - id: first\n    rules: []\n";
const SECOND: &str = "default_policy: second\npolicies:\n  - id: second\n    rules:\n      - {gate: always, trigger: always, action: warn}\n";

/// The configuration file with `policy` inline, as the kubelet updates a ConfigMap volume:
/// the new content in a new directory, then one rename of the `..data` symlink.
fn write_config(dir: &Path, generation: u32, config: &ServerConfig) {
    let data = dir.join(format!("..v{generation}"));
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("config.yaml"), config.to_yaml()).unwrap();
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(&data, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    let link = dir.join("config.yaml");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(dir.join("..data/config.yaml"), &link).unwrap();
    }
}

fn with_policy(text: &str) -> ServerConfig {
    let mut config = base_config(None);
    config.policy.id = None;
    config.policy.inline = Some(text.to_string());
    config
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: not within 30 s");
}

#[test]
fn a_changed_policy_judges_without_a_restart_and_a_broken_one_is_counted() {
    let dir = portcullis_testkit::temp_dir("policy-reload");
    write_config(dir.path(), 1, &with_policy(FIRST));
    let path = dir.path().join("config.yaml");
    let server = TestServer::start(with_policy(FIRST), |settings| {
        settings.config_path = Some(path.clone());
        settings.policy_reload_interval = Duration::from_millis(50);
    });
    let default = || {
        server.get("/api/v1/policies", Some("token-one")).json()["default"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let metric = |name: &str| -> u64 {
        server
            .get("/metrics", None)
            .text()
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(default(), "first");

    write_config(dir.path(), 2, &with_policy(SECOND));
    wait_until("the second policy judging", || default() == "second");
    let listed = server.get("/api/v1/policies", Some("token-one")).json();
    let ids: Vec<&str> = listed["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(ids.contains(&"second"), "{listed}");
    assert!(!ids.contains(&"first"), "{listed}");
    assert_eq!(metric("portcullis_policy_reloads_total "), 1);

    // A policy that does not load: counted, and the second one keeps judging.
    write_config(
        dir.path(),
        3,
        &with_policy("default_policy: missing\npolicies: [{id: broken, rules: [{gate: nope}]}]\n"),
    );
    wait_until("the broken policy counted", || {
        metric("portcullis_policy_reload_failures_total ") == 1
    });
    assert_eq!(default(), "second");
    assert_eq!(metric("portcullis_policy_reloads_total "), 1);
}
