//! `manifests`, `activate`, `status`, `deactivate` end to end against the mock Kubernetes API
//! server, and the activation wizard driven through a pseudo-terminal (tmux).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use portcullis_testkit::KubeMock;
use serde_json::{Value, json};

use crate::portcullis;

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
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(
            "CustomResourceDefinition/whitelistitems.security.portcullis.dev created\n"
        ),
        "{}",
        run.stdout
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
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("ValidatingWebhookConfiguration/portcullis deleted\n"),
        "{}",
        run.stdout
    );
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
