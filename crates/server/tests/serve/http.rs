//! Health, readiness, metrics, authentication, body limits and certificate reloads.

use std::time::Duration;

use crate::harness::{TestServer, base_config};

#[test]
fn health_readiness_and_metrics() {
    let server = TestServer::start(base_config(None), |_| {});
    assert_eq!(server.get("/healthz", None).status, 200);
    server.wait_ready();
    let ready = server.get("/readyz", None);
    assert_eq!((ready.status, ready.text().as_str()), (200, "ready\n"));
    let metrics = server.get("/metrics", None);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.text().contains("portcullis_database_loaded 1"),
        "{}",
        metrics.text()
    );
}

#[test]
fn not_ready_until_a_database_appears() {
    let dir = portcullis_testkit::temp_dir("serve-nodb");
    let path = dir.path().join("db.sqlite");
    let server = TestServer::start(base_config(Some(path.clone())), |_| {});
    let before = server.get("/readyz", None);
    assert_eq!(before.status, 503);
    assert_eq!(before.text(), "no vulnerability database loaded yet\n");
    assert_eq!(server.get("/healthz", None).status, 200);
    std::fs::copy(crate::harness::database(), &path).unwrap();
    server.wait_ready();
}

#[test]
fn the_api_answers_401_revealing_nothing() {
    let server = TestServer::start(base_config(None), |_| {});
    let mut bodies = Vec::new();
    for (method, path) in [
        ("GET", "/api/v1/policies"),
        ("GET", "/api/v1/audits"),
        ("GET", "/api/v1/scans/abc"),
        ("GET", "/api/v1/no-such-thing"),
        ("DELETE", "/api/v1/whitelists/x"),
    ] {
        // A valid token with whitespace around it is refused too.
        for token in [None, Some("wrong"), Some(""), Some(" token-one")] {
            let answer = server.request(method, path, token, b"");
            assert_eq!(answer.status, 401, "{method} {path} {token:?}");
            assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
            bodies.push(answer.text());
        }
    }
    bodies.dedup();
    assert_eq!(bodies, vec![r#"{"error":"unauthorized"}"#.to_string()]);
    assert_eq!(
        server.get("/api/v1/policies", Some("token-two")).status,
        200
    );
}

#[test]
fn bodies_over_3_mib_are_refused() {
    let server = TestServer::start(base_config(None), |_| {});
    let big = 3 * 1024 * 1024 + 1;
    let answer = server.announce("/api/v1/scans", Some("token-one"), big);
    assert_eq!(answer.status, 413);
    assert_eq!(
        answer.json()["error"],
        "request body larger than 3145728 bytes"
    );
    let answer = server.announce("/imagecheck", None, big);
    assert_eq!(answer.status, 413);
    // Exactly 3 MiB is read (and then found not to be JSON).
    let answer = server.post(
        "/api/v1/scans",
        Some("token-one"),
        &vec![b' '; 3 * 1024 * 1024],
    );
    assert_eq!(answer.status, 400);
}

#[test]
fn certificates_reload_when_the_files_change() {
    let server = TestServer::start(base_config(None), |_| {});
    assert_eq!(server.get("/healthz", None).peer_cn, "first");
    server.ca.issue("second", &server.cert, &server.key);
    let mut served = String::new();
    for _ in 0..100 {
        served = server.get("/healthz", None).peer_cn;
        if served == "second" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(served, "second");
    // A broken file keeps the current certificate: once a reload of it has failed, the
    // server still presents the second one.
    std::fs::write(&server.key, "not a key").unwrap();
    let failures = || -> u64 {
        server
            .get("/metrics", None)
            .text()
            .lines()
            .find_map(|l| l.strip_prefix("portcullis_tls_reload_failures_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    for _ in 0..300 {
        if failures() > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        failures() > 0,
        "no failed reload of the broken key was counted"
    );
    assert_eq!(server.get("/healthz", None).peer_cn, "second");
}

#[test]
fn unknown_paths_and_methods_answer_as_they_always_did() {
    let server = TestServer::start(base_config(None), |_| {});
    let token = Some("token-one");
    for (method, path, auth, status, message) in [
        ("GET", "/nope", None, 404, "not found"),
        ("GET", "/api/v1x", token, 404, "not found"),
        ("POST", "/healthz", None, 404, "not found"),
        ("DELETE", "/metrics", None, 404, "not found"),
        (
            "GET",
            "/imagecheck",
            None,
            405,
            "POST an AdmissionReview to /imagecheck",
        ),
        (
            "GET",
            "/api/v1/no-such-thing",
            token,
            404,
            "no such endpoint: GET /api/v1/no-such-thing",
        ),
        (
            "POST",
            "/api/v1/policies",
            token,
            404,
            "no such endpoint: POST /api/v1/policies",
        ),
        (
            "GET",
            "/api/v1",
            token,
            404,
            "no such endpoint: GET /api/v1",
        ),
        (
            "GET",
            "/api/v1/",
            token,
            404,
            "no such endpoint: GET /api/v1",
        ),
        ("GET", "/api/v1/scans/nope", token, 404, "no scan nope"),
        (
            "DELETE",
            "/api/v1/whitelists",
            token,
            400,
            "DELETE /api/v1/whitelists needs ?name=NAME or /whitelists/NAME",
        ),
    ] {
        let answer = server.request(method, path, auth, b"");
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.text());
        assert_eq!(answer.json()["error"], message, "{method} {path}");
    }
    // Empty segments are dropped, as the API always read its paths.
    for path in ["/api/v1/policies/", "/api/v1//policies"] {
        assert_eq!(server.get(path, token).status, 200, "{path}");
    }
}
