//! `manifests`, `activate`, `status`, `deactivate` end to end against the mock Kubernetes API
//! server, and the activation wizard driven through a pseudo-terminal (tmux).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use portcullis_testkit::KubeMock;
use serde_json::{Value, json};

use crate::{listening_address, portcullis};

fn spec_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../lifecycle/tests/specs")
        .join(name)
}

fn documents(yaml: &str) -> Vec<Value> {
    portcullis_lifecycle::manifests::parse_yaml_documents(yaml).unwrap()
}

/// A mock cluster with a few namespaces, whose Deployments are ready once written.
fn cluster() -> KubeMock {
    let mock = KubeMock::start();
    for name in [
        "default",
        "kube-system",
        "portcullis-system",
        "team-a",
        "team-b",
    ] {
        mock.seed(
            "v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}}),
        );
    }
    mock.on_write_set_status("apps/v1/deployments", |d| {
        let n = d["spec"]["replicas"].as_i64().unwrap_or(1);
        Some(json!({"observedGeneration": d["metadata"]["generation"], "replicas": n, "updatedReplicas": n, "readyReplicas": n}))
    });
    mock
}

#[test]
fn manifests_prints_every_object_with_fresh_tls() {
    let run = portcullis(
        &["manifests", "-f", spec_path("full.json").to_str().unwrap()],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let docs = documents(&run.stdout);
    assert_eq!(docs.len(), 15);
    let secret = docs.iter().find(|d| d["kind"] == "Secret").unwrap();
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let vwc = docs.last().unwrap();
    assert_eq!(
        vwc["webhooks"][0]["clientConfig"]["caBundle"],
        secret["data"]["ca.crt"]
    );
}

#[test]
fn manifests_reports_every_problem_of_a_spec_on_stdin() {
    let run = portcullis(
        &["manifests", "-f", "-"],
        br#"{"spec": {"policy": {"policyId": "nope"}, "webhookConfig": {"selector": "all", "namespaces": ["*", "kube-system"]}}}"#,
    );
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "error: the spec has 4 problem(s):\n  policy.policyId: 'nope' is not a built-in policy (one of allow_all_and_warn, reject_critical, reject_high, block_root, deny_all, reject_exploited)\n  webhookConfig.selector: 'all' is neither 'include' nor 'exclude'\n  webhookConfig.namespaces: '*' cannot be combined with other names\n  webhookConfig.namespaces[1]: 'kube-system' may not be listed: it is never judged\n"
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn activate_status_deactivate_through_the_binary() {
    let mock = cluster();
    let dir = portcullis_testkit::temp_dir("cli-lifecycle");
    let kubeconfig = mock.write_kubeconfig(&dir.path().join("kubeconfig"));
    let kc = kubeconfig.to_str().unwrap();
    let minimal = std::fs::read(spec_path("minimal.json")).unwrap();
    let run = portcullis(
        &[
            "activate",
            "--kubeconfig",
            kc,
            "--image",
            "example/portcullis:1",
        ],
        &minimal,
    );
    run.assert_stdout_starts(
        0,
        "CustomResourceDefinition/whitelistitems.security.portcullis.dev created\n",
    );
    assert!(
        run.stdout
            .ends_with("Portcullis is active in namespace portcullis-system (2 replicas ready).\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\nValidatingWebhookConfiguration/portcullis created\n"),
        "{}",
        run.stdout
    );
    let again = portcullis(
        &[
            "activate",
            "--kubeconfig",
            kc,
            "--image",
            "example/portcullis:1",
            "--json",
        ],
        &minimal,
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    let report: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(report["certificate"], "kept");
    assert!(
        report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["change"] == "unchanged")
    );

    let status = portcullis(&["status", "--kubeconfig", kc, "--json"], b"");
    assert_eq!(status.code, 0, "{}", status.stderr);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["active"], true);
    assert_eq!(status["readyReplicas"], 2);
    assert_eq!(status["spec"]["policy"]["policyId"], "allow_all_and_warn");

    let run = portcullis(&["deactivate", "--kubeconfig", kc], b"");
    run.assert_stdout_starts(0, "ValidatingWebhookConfiguration/portcullis deleted\n");
    let status = portcullis(&["status", "--kubeconfig", kc], b"");
    assert!(
        status.stdout.contains("active:        no\n"),
        "{}",
        status.stdout
    );
}

struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(portcullis_testkit::require_tool("tmux"))
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "wizard"])
    }

    /// Wait until the screen shows `text`, then send `keys` (tmux key names); the screen
    /// as it was before the keys.
    fn answer(&self, text: &str, keys: &[&str]) -> String {
        self.answer_nth(text, 1, keys)
    }

    /// [`Tmux::answer`], waiting until `text` shows `n` times.
    fn answer_nth(&self, text: &str, n: usize, keys: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let screen = loop {
            let screen = self.screen();
            if screen.matches(text).count() >= n {
                break screen;
            }
            assert!(
                Instant::now() < deadline,
                "the wizard never showed {text:?} {n} time(s):\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut args = vec!["send-keys", "-t", "wizard"];
        args.extend_from_slice(keys);
        self.run(&args);
        screen
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

fn wait_for_file(path: &Path, tmux: &Tmux) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "the wizard did not finish:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn wizard_on_a_terminal_builds_and_applies_a_spec() {
    let mock = cluster();
    let dir = portcullis_testkit::temp_dir("cli-wizard");
    let kubeconfig = mock.write_kubeconfig(&dir.path().join("kubeconfig"));
    let out = dir.path().join("stdout");
    let done = dir.path().join("done");
    let command = format!(
        "'{}' activate --kubeconfig '{}' --image example/portcullis:1 > '{}'; echo $? > '{}'",
        env!("CARGO_BIN_EXE_portcullis"),
        kubeconfig.display(),
        out.display(),
        done.display()
    );
    let tmux = Tmux {
        socket: dir.path().join("tmux.sock"),
    };
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "wizard",
        "-x",
        "160",
        "-y",
        "50",
        "sh",
        "-c",
        &command,
    ]);
    tmux.answer("Policy bundle", &["Down", "Down", "Enter"]);
    tmux.answer("Enable the admission webhook?", &["y"]);
    tmux.answer(
        "Which namespaces does the webhook judge?",
        &["Down", "Enter"],
    );
    // kube-system and the install namespace are hidden: default, team-a, team-b.
    let screen = tmux.answer("team-b", &["Down", "Down", "Space", "Enter"]);
    assert!(
        screen.contains("default") && screen.contains("team-a"),
        "{screen}"
    );
    assert!(
        !screen.contains("kube-system") && !screen.contains("portcullis-system"),
        "{screen}"
    );
    tmux.answer("Add a whitelisted release?", &["y"]);
    tmux.answer("Release name", &["legacy", "Enter"]);
    tmux.answer("Reason", &["vendor image", "Enter"]);
    tmux.answer(
        "Regexp matching more release names",
        &["legacy-.*", "Enter"],
    );
    tmux.answer_nth("Add a whitelisted release?", 2, &["n"]);
    tmux.answer("Add registry credentials?", &["n"]);
    tmux.answer("Activate with this spec?", &["y"]);
    let code = wait_for_file(&done, &tmux);
    let stdout = std::fs::read_to_string(&out).unwrap();
    assert_eq!(code, "0\n", "{stdout}\n{}", tmux.screen());
    let config_map = mock
        .get("v1/configmaps", "portcullis-system", "portcullis-config")
        .unwrap();
    let spec = portcullis_lifecycle::parse_spec(config_map["data"]["spec.json"].as_str().unwrap())
        .unwrap();
    assert_eq!(spec.policy.policy_id.as_deref(), Some("reject_high"));
    assert_eq!(spec.webhook_config.selector, "exclude");
    assert_eq!(spec.webhook_config.namespaces, ["team-b"]);
    assert_eq!(spec.release_white_list.len(), 1);
    assert_eq!(spec.release_white_list[0].name, "legacy");
    assert_eq!(
        spec.release_white_list[0].regexp.as_deref(),
        Some("legacy-.*")
    );
    assert!(
        mock.get(
            "security.portcullis.dev/v1alpha1/whitelistitems",
            "",
            "legacy"
        )
        .is_some()
    );
    assert!(
        stdout
            .ends_with("Portcullis is active in namespace portcullis-system (2 replicas ready).\n"),
        "{stdout}"
    );
}

/// The seed's first example: `{"policy": {"policyId": "<UUID>"}}` with that policy among the
/// spec's `policies`. `activate` accepts it, the ConfigMap carries it, and a server started
/// from that ConfigMap lists it and judges with it.
#[test]
fn the_seeds_uuid_policy_activates_and_judges() {
    use portcullis_testkit::images::{ImageName, images};
    use portcullis_testkit::registry::{Registry, RegistryKind};
    use std::io::{BufReader, Read, Write};

    const UUID: &str = "97b33e2c-3b57-4a3f-a12b-a8c0daa472a0";
    let mock = cluster();
    let dir = portcullis_testkit::temp_dir("cli-uuid-policy");
    let kubeconfig = mock.write_kubeconfig(&dir.path().join("kubeconfig"));
    let spec = json!({
        "policy": {"policyId": UUID},
        "policies": [{
            "id": UUID,
            "description": "Stop high and critical vulnerabilities",
            "rules": [{
                "gate": "vulnerabilities",
                "trigger": "package",
                "params": {"severity": "high", "severity_comparison": ">="},
                "action": "stop"
            }]
        }]
    });
    let run = portcullis(
        &[
            "activate",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--image",
            "example/portcullis:1",
        ],
        spec.to_string().as_bytes(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let map = mock
        .get("v1/configmaps", "portcullis-system", "portcullis-config")
        .expect("the ConfigMap");
    let text = map["data"]["config.yaml"].as_str().unwrap();
    let mut config = portcullis_config::ServerConfig::from_yaml(text, "ConfigMap").unwrap();
    assert!(config.policy.inline.as_deref().unwrap().contains(UUID));

    // The same configuration, served here: plain HTTP, the test database, no cluster.
    let registry = Registry::start(RegistryKind::PlainHttp);
    registry.push(
        &images().skopeo_ref(ImageName::Alpine39),
        "library/alpine:3.9",
        false,
    );
    config.listen = "127.0.0.1:0".into();
    config.tls = None;
    config.plain_http = true;
    config.kubernetes = false;
    config.database.path = Some(crate::scan::database().to_string());
    config.database.update_interval = portcullis_config::Duration::from_secs(0);
    config.api_tokens = vec!["uuid-token".into()];
    config.registries = vec![portcullis_config::RegistryConfig {
        registry: registry.host_port(),
        secret: None,
        insecure: true,
    }];
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, config.to_yaml()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--config", file.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let addr = listening_address(&mut stderr);
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
    });
    let call = |method: &str, path: &str, body: &str| -> (u16, Value) {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer uuid-token\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
        let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    };
    let start = Instant::now();
    while call("GET", "/readyz", "").0 != 200 {
        assert!(start.elapsed() < Duration::from_secs(60), "not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, policies) = call("GET", "/api/v1/policies", "");
    assert_eq!(status, 200);
    assert_eq!(policies["default"], UUID);
    assert!(
        policies["policies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == UUID),
        "{policies}"
    );
    let image = registry.reference("library/alpine:3.9");
    let (status, started) = call(
        "POST",
        "/api/v1/scans",
        &json!({"image": image}).to_string(),
    );
    assert_eq!(status, 202, "{started}");
    let id = started["id"].as_str().unwrap().to_string();
    let report = loop {
        let (_, scan) = call("GET", &format!("/api/v1/scans/{id}"), "");
        if scan["status"] != "pending" {
            break scan;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{scan}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(report["status"], "done", "{report}");
    let report = &report["report"];
    assert_eq!(report["policy"]["id"], UUID, "{report}");
    // The policy's one rule, applied to the findings as they are rated.
    let high = report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["severity"] == "high" || v["severity"] == "critical");
    assert!(high, "Alpine 3.9.6 has high-rated OpenSSL flaws: {report}");
    assert_eq!(report["policy"]["final_action"], "stop", "{report}");
    child.kill().unwrap();
    child.wait().unwrap();
}
