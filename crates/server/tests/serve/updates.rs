//! Scheduled database updates: a fresh install fetches its database at once and becomes
//! ready; requests are answered meanwhile.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use portcullis_server::Updates;
use portcullis_vulndb::fetch::{Mirrors, NetworkSource};

use crate::harness::{TestServer, base_config};

/// Serve `body` for every GET on 127.0.0.1; returns the base URL and a request counter.
fn file_server(body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&served);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            counter.fetch_add(1, Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (url, served)
}

#[test]
fn a_fresh_install_fetches_its_database_and_becomes_ready() {
    let secdb = portcullis_testkit::testdata_dir().join("advisories/alpine-secdb/v3.20/main.json");
    let (url, served) = file_server(std::fs::read(&secdb).unwrap());
    let dir = portcullis_testkit::temp_dir("serve-update");
    let path = dir.path().join("db.sqlite");
    let mut config = base_config(Some(path.clone()));
    config.database.update_interval = portcullis_config::Duration::from_secs(3600);
    let server = TestServer::start(config, |settings| {
        settings.updates = Some(Updates {
            sources: vec![NetworkSource::AlpineSecdb {
                branch: "v3.20".into(),
                repo: "main".into(),
            }],
            mirrors: Mirrors {
                alpine: url.clone(),
                ..Mirrors::default()
            },
        });
    });
    assert_eq!(server.get("/healthz", None).status, 200);
    server.wait_ready();
    assert_eq!(served.load(Ordering::SeqCst), 1);
    assert!(path.is_file());
    let metrics = server.get("/metrics", None).text();
    assert!(
        metrics.contains(r#"portcullis_database_updates_total{result="updated"} 1"#),
        "{metrics}"
    );
}
