//! The dashboard: filled through the same mock cluster and local registry as the
//! running-workloads tests, plus admissions; checked over HTTP here, then in Debian's
//! chromium by `tests/ui/browse.mjs` (Playwright, axe-core), which compares every number it
//! shows with the REST API, searches a CVE through to a workload, and takes a screenshot of
//! every page at 1280×800 and 390×844.

use std::path::PathBuf;
use std::process::Command;

use portcullis_testkit::kube::KubeMock;
use portcullis_testkit::{Registry, require_tool};
use serde_json::{Value, json};

use crate::admission::review;
use crate::running::{Cluster, pod, seed_cluster, wait_for};

/// Stop any finding, rated or not (the test data's secdb has no ratings).
const POLICY: &str = r#"
default_policy: stop_vulnerable
policies:
  - id: stop_vulnerable
    description: Stop images with any known vulnerability
    rules:
      - {gate: vulnerabilities, trigger: package, params: {severity: unknown, severity_comparison: ">="}, action: stop}
"#;

/// A pod name the cluster should never have held: markup, quotes and 300 characters.
fn hostile_name() -> String {
    format!(
        "<script>alert(\"pwned\")</script>'\"><img src=x onerror=alert(1)>{}",
        "x".repeat(300)
    )
}

fn seed_with_hostile(mock: &KubeMock, registry: &Registry) {
    seed_cluster(mock, registry);
    let repo = registry.reference("team/alpine:3.9");
    let id = format!(
        "{}@{}",
        repo.rsplit_once(':').unwrap().0,
        registry.manifest_digest("team/alpine:3.9")
    );
    mock.seed(
        "v1/pods",
        pod("team-c", &hostile_name(), None, &[("evil", repo, id)]),
    );
}

fn ui_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

#[test]
fn dashboard_pages_in_a_real_browser_match_the_api() {
    let _memory = crate::harness::memory_sensitive();
    let chromium = require_tool("chromium");
    let node = require_tool("node");
    assert!(
        ui_dir().join("node_modules/playwright-core").is_dir(),
        "run `npm ci --prefix crates/server/tests/ui` (scripts/test.sh does) for playwright-core and axe-core"
    );
    let cluster = Cluster::start_with(seed_with_hostile, |config| {
        config.policy.id = None;
        config.policy.inline = Some(POLICY.to_string());
    });
    // Every running image judged.
    let images = wait_for("4 running images judged", || {
        let images = cluster.get("/api/v1/images")["images"].clone();
        let all_judged = images
            .as_array()
            .is_some_and(|list| list.len() == 4 && list.iter().all(|i| !i["lastScan"].is_null()));
        (all_judged, images)
    });
    // Admissions: allowed, denied, and one from the hostile pod.
    let admit = |namespace: &str, name: &str, image: &str| -> Value {
        let mut object = pod(
            namespace,
            name,
            None,
            &[("c", image.to_string(), String::new())],
        );
        object.as_object_mut().unwrap().remove("status");
        let answer = cluster
            .server
            .post("/imagecheck", None, &review("v1", &object, "CREATE"));
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()["response"].clone()
    };
    let allowed = admit("team-a", "clean", &cluster.reference("team/configured:1"));
    assert_eq!(allowed["allowed"], true, "{allowed}");
    let denied = admit(
        "team-a",
        "vulnerable",
        &cluster.reference("team/alpine:3.9"),
    );
    assert_eq!(denied["allowed"], false, "{denied}");
    let hostile = admit(
        "team-b",
        &hostile_name(),
        &cluster.reference("team/alpine:3.9"),
    );
    assert_eq!(hostile["allowed"], false, "{hostile}");
    let audits = cluster.get("/api/v1/audits")["audits"].clone();
    assert_eq!(audits.as_array().unwrap().len(), 3, "{audits:#}");

    // Without a token: the login page, never data; with one, the page and its headers.
    let server = &cluster.server;
    let anonymous = server.get("/ui/images", None);
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.header("location"), Some("/ui/login"));
    assert!(anonymous.body.is_empty());
    let wrong = server.get("/ui/images", Some("not-a-token"));
    assert_eq!(wrong.status, 303);
    let workloads = server.get("/ui/workloads", Some("token-one"));
    assert_eq!(workloads.status, 200);
    assert_eq!(
        workloads.header("content-security-policy"),
        Some(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
    );
    let html = workloads.text();
    assert!(
        html.contains("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&#39;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    let audits_html = server.get("/ui/audits", Some("token-one")).text();
    assert!(!audits_html.contains("<script>alert"), "{audits_html}");
    assert_eq!(
        server.post("/ui/images", Some("token-one"), b"").status,
        405
    );
    assert_eq!(
        server
            .get("/ui/images/sha256:nope", Some("token-one"))
            .status,
        404
    );
    // Logging out needs the session's CSRF token.
    assert_eq!(server.post("/ui/logout", None, b"csrf=x").status, 403);

    // A CVE that affects a running workload: the first top finding of an image that runs.
    let search_id = images
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !i["workloads"].as_array().unwrap().is_empty())
        .find_map(|i| i["summary"]["top"].as_array()?.first()?.as_str())
        .and_then(|t| t.split(' ').next())
        .expect("a running image with findings")
        .to_string();

    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    let run = Command::new(node)
        .arg(ui_dir().join("browse.mjs"))
        .env("PORTCULLIS_URL", format!("https://{}", server.addr))
        .env("PORTCULLIS_TOKEN", "token-one")
        .env("OUT_DIR", &out)
        .env("HOSTILE", hostile_name())
        .env("SEARCH_ID", &search_id)
        .env("CHROMIUM", chromium)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "browse.mjs failed:\n{stderr}\n{stdout}"
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    assert_eq!(seen["images"], 4, "{seen}");
    assert_eq!(
        seen["workloads"],
        json!(
            cluster.get("/api/v1/workloads")["workloads"]
                .as_array()
                .unwrap()
                .len()
        )
    );
    assert_eq!(seen["admissions_denied"], 2, "{seen}");
    println!("screenshots in {}", out.display());
}
