//! The engine against registries: single flight, budgets, unreachable registries, the
//! scans API.

use std::sync::Arc;
use std::time::Duration;

use portcullis_config::{RegistryConfig, ServerConfig};
use portcullis_testkit::{ImageName, MockBehaviour, MockRegistry, images};

use crate::harness::{TestServer, base_config, whitelist_names};

fn insecure(config: &mut ServerConfig, host: &str) {
    config.registries.push(RegistryConfig {
        registry: host.to_string(),
        secret: None,
        insecure: true,
    });
}

fn count(requests: &[String], wanted: &str) -> usize {
    requests.iter().filter(|r| r.as_str() == wanted).count()
}

#[test]
fn one_hundred_concurrent_checks_of_a_new_image_pull_it_once() {
    let layout = images().layout();
    let tag = ImageName::Alpine320.tag();
    let mock = MockRegistry::serve_image(layout, tag, "team/alpine", MockBehaviour::Normal);
    let mut config = base_config(None);
    insecure(&mut config, &mock.host_port());
    let server = TestServer::start(config, |_| {});
    server.wait_ready();
    let engine = Arc::clone(&server.app().engine);
    let image = mock.reference(&format!("team/alpine:{tag}"));
    let checks = server.runtime.block_on(async {
        let all = (0..100).map(|_| {
            let engine = Arc::clone(&engine);
            let image = image.clone();
            async move { engine.check(&image, "default", &[], None).await }
        });
        futures_util::future::join_all(all).await
    });
    let digest = layout.digest(tag);
    for check in &checks {
        assert_eq!(check.digest.as_deref(), Some(digest.as_str()));
        let result = check.outcome.as_ref().unwrap();
        assert!(result.findings.iter().any(|f| f.id == "CVE-2024-9143"));
    }
    let requests = mock.requests();
    assert_eq!(
        count(&requests, &format!("GET /v2/team/alpine/manifests/{tag}")),
        1,
        "{requests:#?}"
    );
    assert_eq!(
        count(
            &requests,
            &format!("GET /v2/team/alpine/manifests/{digest}")
        ),
        1,
        "{requests:#?}"
    );
    let manifest = layout.manifest(tag);
    let mut blobs = vec![manifest["config"]["digest"].as_str().unwrap().to_string()];
    for layer in manifest["layers"].as_array().unwrap() {
        blobs.push(layer["digest"].as_str().unwrap().to_string());
    }
    for blob in &blobs {
        assert_eq!(
            count(&requests, &format!("GET /v2/team/alpine/blobs/{blob}")),
            1,
            "{requests:#?}"
        );
    }
    // A later check is answered from the caches: no request at all.
    let before = mock.requests().len();
    let again = server
        .runtime
        .block_on(engine.check(&image, "default", &[], None));
    assert!(again.outcome.is_ok());
    assert_eq!(mock.requests().len(), before);
}

#[test]
fn past_the_budget_the_scan_goes_on_and_a_retry_finds_it() {
    let layout = images().layout();
    let tag = ImageName::Alpine39.tag();
    let mock = MockRegistry::serve_image(layout, tag, "slow/alpine", MockBehaviour::Normal);
    let mut config = base_config(None);
    insecure(&mut config, &mock.host_port());
    let server = TestServer::start(config, |_| {});
    server.wait_ready();
    let engine = Arc::clone(&server.app().engine);
    let image = mock.reference(&format!("slow/alpine:{tag}"));
    // A deadline already passed: nothing can be judged in time.
    let first = server.runtime.block_on(engine.check(
        &image,
        "default",
        &[],
        Some(tokio::time::Instant::now()),
    ));
    let first = first.outcome.unwrap_err();
    assert_eq!(first.kind(), portcullis_server::CheckErrorKind::Timeout);
    assert_eq!(
        first.message(),
        "not judged within the budget; the scan goes on and a retry will find its verdict"
    );
    let mut judged = None;
    for _ in 0..600 {
        let retry = server.runtime.block_on(engine.check(
            &image,
            "default",
            &[],
            Some(tokio::time::Instant::now()),
        ));
        if let Ok(result) = retry.outcome {
            judged = Some(result);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let judged = judged.expect("the background scan never finished");
    assert!(judged.findings.iter().any(|f| f.id == "CVE-2020-28928"));
    let requests = mock.requests();
    assert_eq!(
        count(&requests, &format!("GET /v2/slow/alpine/manifests/{tag}")),
        1,
        "{requests:#?}"
    );
}

#[test]
fn an_unreachable_registry_is_an_unknown_outcome() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let mut config = base_config(None);
    insecure(&mut config, &closed.to_string());
    let server = TestServer::start(config, |s| {
        s.registry.retry.max_attempts = 1;
    });
    server.wait_ready();
    let engine = Arc::clone(&server.app().engine);
    let check = server.runtime.block_on(engine.check(
        &format!("{closed}/gone/app:1"),
        "default",
        &[],
        None,
    ));
    let reason = check.outcome.unwrap_err();
    assert_eq!(
        reason.kind(),
        portcullis_server::CheckErrorKind::Unreachable,
        "{reason}"
    );
    assert!(reason.message().contains(&closed.to_string()), "{reason}");
    assert_eq!(check.digest, None);
}

#[test]
fn the_scans_api_returns_the_json_report() {
    let layout = images().layout();
    let tag = ImageName::Alpine320.tag();
    let mock = MockRegistry::serve_image(layout, tag, "api/alpine", MockBehaviour::Normal);
    let mut config = base_config(None);
    insecure(&mut config, &mock.host_port());
    let server = TestServer::start(config, |_| {});
    server.wait_ready();
    let image = mock.reference(&format!("api/alpine:{tag}"));
    let body = serde_json::json!({ "image": image }).to_string();
    let started = server.post("/api/v1/scans", Some("token-one"), body.as_bytes());
    assert_eq!(started.status, 202, "{}", started.text());
    let id = started.json()["id"].as_str().unwrap().to_string();
    assert_eq!(started.json()["status"], "pending");
    let mut done = serde_json::Value::Null;
    for _ in 0..600 {
        let answer = server.get(&format!("/api/v1/scans/{id}"), Some("token-one"));
        assert_eq!(answer.status, 200);
        done = answer.json();
        if done["status"] != "pending" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(done["status"], "done", "{done}");
    let digest = layout.digest(tag);
    assert_eq!(done["digest"], digest.as_str());
    let report = done["report"].to_string();
    assert!(report.contains("CVE-2024-9143"), "{report}");
    let vulns = server.get(
        &format!("/api/v1/images/{digest}/vulnerabilities"),
        Some("token-one"),
    );
    assert_eq!(vulns.status, 200);
    let found = vulns.json();
    let ids: Vec<&str> = found["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"CVE-2024-9143"), "{ids:?}");
    let missing = server.get("/api/v1/scans/nope", Some("token-one"));
    assert_eq!(missing.status, 404);
    let policies = server.get("/api/v1/policies", Some("token-one")).json();
    assert_eq!(policies["default"], "allow_all_and_warn");
    assert_eq!(
        policies["policies"].as_array().unwrap().len(),
        portcullis_policy::BUILTIN_IDS.len()
    );
}

#[test]
fn whitelists_are_added_listed_and_removed_without_a_cluster() {
    let mut config = base_config(None);
    config.whitelist.push(portcullis_config::WhitelistConfig {
        name: "from-config".into(),
        reason: "vendor".into(),
        regexp: None,
        creator: None,
    });
    let server = TestServer::start(config, |_| {});
    let token = Some("token-one");
    let added = server.post(
        "/api/v1/whitelists",
        token,
        br#"{"name":"legacy","reason":"migrating","regexp":"legacy-.*"}"#,
    );
    assert_eq!(added.status, 201, "{}", added.text());
    assert_eq!(
        whitelist_names(&server),
        vec![
            ("from-config".to_string(), "config".to_string()),
            ("legacy".to_string(), "api".to_string())
        ]
    );
    assert_eq!(
        server
            .request("DELETE", "/api/v1/whitelists/from-config", token, b"")
            .status,
        409
    );
    assert_eq!(
        server
            .request("DELETE", "/api/v1/whitelists/legacy", token, b"")
            .status,
        200
    );
    assert_eq!(
        server
            .request("DELETE", "/api/v1/whitelists?name=legacy", token, b"")
            .status,
        404
    );
    let bad = server.post("/api/v1/whitelists", token, br#"{"name":"x"}"#);
    assert_eq!(bad.status, 400);
}
