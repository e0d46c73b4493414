//! Issue 19: a registry that never answers and one that trickles bytes must not starve the
//! judging of a healthy new image, under `reject` and `allow`.
//!
//! The number of cold decisions checked is `PORTCULLIS_ISOLATION_ROUNDS` (default 10;
//! `bench/webhook.sh isolation` runs 50).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portcullis_config::{RegistryConfig, UnknownImageAction};
use portcullis_testkit::{ImageName, images, sha256_hex};
use serde_json::{Value, json};

use crate::admission::{POLICIES, Registries, admit, pod};
use crate::harness::{TestServer, base_config};

/// A registry on 127.0.0.1 that accepts connections and never answers; it keeps them
/// open until dropped.
struct Silent {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<JoinHandle<()>>,
}

impl Silent {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, accepted) = (Arc::clone(&stop), Arc::clone(&accepted));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        accepted.lock().unwrap().push(stream);
                    }
                }
            })
        };
        Self {
            addr,
            stop,
            accepted,
            thread: Some(thread),
        }
    }

    fn connections(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A registry on 127.0.0.1 serving the Alpine 3.20 test image under any repository and tag
/// (each repository gets its own manifest, hence its own digest); with `trickle`, layer
/// blobs trickle one byte every 200 ms until the registry is dropped.
pub struct Trickle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    blob_requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Trickle {
    pub fn start(trickle: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let blob_requests = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, blob_requests) = (Arc::clone(&stop), Arc::clone(&blob_requests));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (stop, blob_requests) = (Arc::clone(&stop), Arc::clone(&blob_requests));
                    std::thread::spawn(move || {
                        trickle_serve(stream, trickle, &stop, &blob_requests);
                    });
                }
            })
        };
        Self {
            addr,
            stop,
            blob_requests,
            thread: Some(thread),
        }
    }

    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    fn blob_requests(&self) -> usize {
        self.blob_requests.lock().unwrap().len()
    }
}

impl Drop for Trickle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The request target of one HTTP/1.1 request head, or `None` (not HTTP, or closed).
fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
        if head == [0x16] {
            // A TLS handshake (the insecure-registry probe): this registry is plain HTTP.
            return None;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut first = text.lines().next()?.split(' ');
    let _method = first.next()?;
    first.next().map(str::to_string)
}

fn reply(stream: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn trickle_serve(
    mut stream: TcpStream,
    trickle: bool,
    stop: &AtomicBool,
    blob_requests: &Mutex<Vec<String>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(target) = read_target(&mut stream) else {
        return;
    };
    let layout = images().layout();
    let tag = ImageName::Alpine320.tag();
    let media = "application/vnd.oci.image.manifest.v1+json".to_string();
    if target == "/v2/" || target == "/v2" {
        return reply(&mut stream, 200, &[], b"{}");
    }
    if let Some((repo, reference)) = target
        .strip_prefix("/v2/")
        .and_then(|t| t.split_once("/manifests/"))
    {
        let mut manifest = layout.manifest(tag);
        manifest["mediaType"] = json!(media);
        manifest["annotations"] = json!({"test.repository": repo});
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let digest = format!("sha256:{}", sha256_hex(&bytes));
        if reference.starts_with("sha256:") && reference != digest {
            return reply(&mut stream, 404, &[], b"{}");
        }
        return reply(
            &mut stream,
            200,
            &[("Content-Type", media), ("Docker-Content-Digest", digest)],
            &bytes,
        );
    }
    if let Some((_, digest)) = target.split_once("/blobs/") {
        let blob = layout.read_blob(digest);
        let is_config = layout.manifest(tag)["config"]["digest"] == digest;
        if is_config || !trickle {
            return reply(&mut stream, 200, &[], &blob);
        }
        blob_requests.lock().unwrap().push(target.clone());
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            blob.len()
        );
        let _ = stream.write_all(head.as_bytes());
        // One byte every 200 ms: never idle long enough for a read timeout. Bounded by
        // the blob's length and the registry's life.
        for byte in &blob {
            if stop.load(Ordering::SeqCst) || stream.write_all(&[*byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        return;
    }
    reply(&mut stream, 404, &[], b"{}");
}

fn rounds() -> usize {
    std::env::var("PORTCULLIS_ISOLATION_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

pub fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Poll `condition` every 20 ms for at most `limit`.
pub fn wait_for(what: &str, limit: Duration, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_healthy_image_is_judged_while_other_registries_hang() {
    // It measures this process's RSS growth: no other many-server test at the same time.
    let _alone = crate::harness::memory_sensitive();
    let registries = Registries::start();
    let silent = Silent::start();
    let trickle = Trickle::start(true);
    for action in [UnknownImageAction::Reject, UnknownImageAction::Allow] {
        let mut config = base_config(None);
        config.policy.id = None;
        config.policy.inline = Some(POLICIES.to_string());
        config.unknown_image_action = action;
        // A cold decision takes a few seconds in a debug build on a busy machine: a budget
        // with room for that (the probe's starved decisions took 62 s to 235 s).
        config.scan_budget = portcullis_config::Duration::from_secs(20);
        // Shorter than the defaults so the abandoned work ends soon after the test.
        config.resolve_timeout = portcullis_config::Duration::from_secs(10);
        config.scan_timeout = portcullis_config::Duration::from_secs(15);
        for host in [
            registries.stop.host_port(),
            silent.addr.to_string(),
            trickle.addr.to_string(),
        ] {
            config.registries.push(RegistryConfig {
                registry: host,
                secret: None,
                insecure: true,
            });
        }
        let server = Arc::new(TestServer::start(config.clone(), |_| {}));
        server.wait_ready();
        let rss_before = vm_rss_kib();

        // One review naming 1,000 images on the silent registry.
        let silent_images: Vec<String> = (0..1000)
            .map(|i| format!("{}/silent/app{i}:1", silent.addr))
            .collect();
        let silent_refs: Vec<&str> = silent_images.iter().map(String::as_str).collect();
        let silent_review = {
            let server = Arc::clone(&server);
            let object = pod("team-a", json!({}), &silent_refs, &[]);
            std::thread::spawn(move || admit(&server, "v1", &object))
        };
        // Two reviews naming two images each on the trickling registry.
        let trickle_reviews: Vec<JoinHandle<Value>> = (0..2)
            .map(|r| {
                let server = Arc::clone(&server);
                let images: Vec<String> = (0..2)
                    .map(|i| format!("{}/trickle/r{r}i{i}:1", trickle.addr))
                    .collect();
                std::thread::spawn(move || {
                    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
                    admit(&server, "v1", &pod("team-b", json!({}), &refs, &[]))
                })
            })
            .collect();
        // Both misbehaving registries are busy before the healthy image is asked about.
        wait_for(
            "silent registry connections",
            Duration::from_secs(60),
            || silent.connections() >= 4,
        );
        wait_for("trickled layer requests", Duration::from_secs(60), || {
            trickle.blob_requests() >= 1
        });

        let stop = registries.stop_image();
        for round in 0..rounds() {
            // A cold decision every time.
            server.app().engine.clear_caches();
            let answer = admit(&server, "v1", &pod("team-c", json!({}), &[&stop], &[]));
            let message = answer["status"]["message"].as_str().unwrap_or_default();
            assert_eq!(
                answer["allowed"], false,
                "{action:?} round {round}: {answer}"
            );
            assert!(
                message.contains("CVE-2020-28928") && !message.contains("not judged"),
                "{action:?} round {round}: {answer}"
            );
            // The misbehaving registries never hold more than their share of threads:
            // 4 each of 16 (the healthy scan has finished by now).
            assert!(
                server.app().engine.registry_threads_free() >= 8,
                "{action:?} round {round}: {} registry threads free",
                server.app().engine.registry_threads_free()
            );
        }

        let silent_answer = silent_review.join().unwrap();
        let expect_allowed = action == UnknownImageAction::Allow;
        assert_eq!(silent_answer["allowed"], expect_allowed, "{silent_answer}");
        for review in trickle_reviews {
            let answer = review.join().unwrap();
            assert_eq!(answer["allowed"], expect_allowed, "{answer}");
        }
        // Generous: 1,000 pending images cost far less than the 161 MB of the probe.
        let grown = vm_rss_kib().saturating_sub(rss_before);
        assert!(grown < 64 * 1024, "{action:?}: RSS grew by {grown} KiB");
        drop(server);
    }
}
