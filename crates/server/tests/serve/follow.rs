//! `database.repository`: servers that follow a database artifact in a real registry, through
//! a first reference that answers 503 and 429, converge on every new push, and refuse a
//! corrupted one while the old database keeps serving.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use portcullis_oci::{Credentials, Reference, RegistryOptions};
use portcullis_testkit::registry::{Registry, RegistryKind};

use crate::harness::{TestServer, alpine_secdb, base_config};

/// A server answering every request with 503, then 429, alternately; returns its address
/// and how many requests it answered.
fn failing_registry() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&answered);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let status = if n.is_multiple_of(2) {
                "503 Service Unavailable"
            } else {
                "429 Too Many Requests"
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
        }
    });
    (addr, answered)
}

/// A database of the Alpine secdb `branches` (main), and its content id.
fn database(dir: &Path, name: &str, branches: &[&str]) -> (PathBuf, String) {
    let path = dir.join(name);
    let inputs = alpine_secdb(branches);
    portcullis_vulndb::Database::import_paths(&path, &inputs, &Default::default()).unwrap();
    let id = portcullis_vulndb::Database::open(&path)
        .unwrap()
        .version()
        .unwrap();
    (path, id)
}

fn options(registry: &Registry) -> RegistryOptions {
    RegistryOptions {
        insecure_registries: vec![registry.host_port()],
        credentials: registry.credentials().map(|(u, p)| Credentials {
            username: u.to_string(),
            password: p.to_string(),
        }),
        docker_config_dir: Some("/nonexistent/portcullis-test".into()),
        ..RegistryOptions::default()
    }
}

fn version(server: &TestServer) -> Option<String> {
    server
        .app()
        .engine
        .db()
        .current()
        .map(|g| g.version.clone())
}

/// Poll until every server serves `id` (≤ 60 s).
fn wait_for(servers: &[TestServer], id: &str) {
    let start = Instant::now();
    while servers.iter().any(|s| version(s).as_deref() != Some(id)) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not every server serves {id}: {:?}",
            servers.iter().map(version).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_follower(dir: &Path, n: usize, repository: &str, mirror: &str) -> TestServer {
    let mut config = base_config(Some(dir.join(format!("replica-{n}.sqlite"))));
    config.database.repository = Some(repository.to_string());
    config.database.mirrors = vec![mirror.to_string()];
    config.database.insecure = true;
    config.database.interval = portcullis_config::Duration::from_millis(200);
    TestServer::start(config, |settings| {
        settings.registry.retry.initial_backoff = Duration::from_millis(10);
        settings.registry.retry.max_attempts = 2;
    })
}

#[test]
fn replicas_follow_the_artifact_through_failing_mirrors_and_converge() {
    let dir = portcullis_testkit::temp_dir("serve-follow");
    let (first, first_id) = database(dir.path(), "first.sqlite", &["v3.20"]);
    let (second, second_id) = database(dir.path(), "second.sqlite", &["v3.20", "v3.9"]);
    assert_ne!(first_id, second_id);
    let registry = Registry::start(RegistryKind::PlainHttp);
    let tag = registry.reference("portcullis/db:latest");
    let reference = Reference::parse(&tag).unwrap();
    portcullis_dbshare::push(&first, &reference, &options(&registry), None).unwrap();
    let (failing, answered) = failing_registry();
    let failing_ref = format!("{failing}/portcullis/db:latest");

    let servers: Vec<TestServer> = (0..3)
        .map(|n| start_follower(dir.path(), n, &failing_ref, &tag))
        .collect();
    for server in &servers {
        server.wait_ready();
    }
    wait_for(&servers, &first_id);
    assert!(
        answered.load(Ordering::SeqCst) >= 2,
        "the failing registry was not asked"
    );

    // The builder pushes a new database: every replica follows.
    portcullis_dbshare::push(&second, &reference, &options(&registry), None).unwrap();
    wait_for(&servers, &second_id);
    let metrics = servers[0].get("/metrics", None).text();
    assert!(
        metrics.contains(&format!(
            "portcullis_database_content{{content_id=\"{second_id}\"}} 1"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_database_pulls_total{result=\"pulled\"}"),
        "{metrics}"
    );
    // The database files are the artifact's, byte for byte in content.
    for n in 0..3 {
        let path = dir.path().join(format!("replica-{n}.sqlite"));
        let db = portcullis_vulndb::Database::open(&path).unwrap();
        assert_eq!(db.version().unwrap(), second_id);
    }

    // A push of the same content under a new manifest (another next_update): nothing is
    // downloaded but the manifest and config.
    portcullis_dbshare::push(
        &second,
        &reference,
        &options(&registry),
        Some("2030-01-01T00:00:00Z".into()),
    )
    .unwrap();
    let start = Instant::now();
    loop {
        let metrics = servers[1].get("/metrics", None).text();
        if metrics.contains("portcullis_database_pulls_total{result=\"same_content\"}") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{metrics}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(version(&servers[1]).as_deref(), Some(second_id.as_str()));
}

#[test]
fn a_corrupted_artifact_is_refused_and_the_old_database_keeps_serving() {
    let dir = portcullis_testkit::temp_dir("serve-follow-bad");
    let (first, first_id) = database(dir.path(), "first.sqlite", &["v3.20"]);
    let (second, _) = database(dir.path(), "second.sqlite", &["v3.20", "v3.9"]);
    let registry = Registry::start(RegistryKind::PlainHttp);
    let tag = registry.reference("portcullis/db:latest");
    let reference = Reference::parse(&tag).unwrap();
    portcullis_dbshare::push(&first, &reference, &options(&registry), None).unwrap();
    let server = start_follower(dir.path(), 0, &tag, &tag);
    server.wait_ready();
    wait_for(std::slice::from_ref(&server), &first_id);

    let pushed = portcullis_dbshare::push(&second, &reference, &options(&registry), None).unwrap();
    // The new layer's bytes no longer match its digest.
    let manifest: serde_json::Value =
        serde_json::from_slice(&registry.raw_manifest("portcullis/db:latest")).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    portcullis_testkit::hostile::corrupt_registry_blob(&registry, layer);
    let start = Instant::now();
    loop {
        let metrics = server.get("/metrics", None).text();
        if metrics.contains("portcullis_database_pull_error{error=") {
            // The stream is refused as it is read (zstd framing or digest, whichever fails
            // first), before anything is renamed into place.
            assert!(
                metrics.contains("corrupt") || metrics.contains("digest"),
                "{metrics}"
            );
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{metrics}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(version(&server).as_deref(), Some(first_id.as_str()));
    assert_eq!(server.get("/readyz", None).status, 200);
    assert_ne!(pushed.metadata.content_id, first_id);
}
