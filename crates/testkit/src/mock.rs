//! An HTTP mock of the distribution API serving one image from an OCI layout, with
//! misbehaviours a real registry will not show: a manifest over 4 MiB, a blob that stops
//! mid-body.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::http::{Request, read_request, respond};
use crate::layout::{MANIFEST_MEDIA_TYPE, OciLayout};
use crate::sha256_hex;

/// How the mock misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MockBehaviour {
    /// Serve the image faithfully.
    Normal,
    /// Serve, for the tag, a well-formed manifest of `size` bytes (padded with an
    /// annotation), with `Content-Length` if `announce_length`, else close-delimited.
    OversizedManifest {
        /// Size of the manifest document in bytes.
        size: usize,
        /// Send a `Content-Length` header.
        announce_length: bool,
    },
    /// Serve manifest and config faithfully, but for layer blobs announce the full length,
    /// send `after_bytes`, then stall (up to 30 s, or until the mock is dropped).
    StallMidBlob {
        /// Bytes of the layer sent before stalling.
        after_bytes: usize,
    },
}

/// A running mock registry on 127.0.0.1; stops on drop.
#[derive(Debug)]
pub struct MockRegistry {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

struct Served {
    repo: String,
    tag: String,
    manifest: Vec<u8>,
    layout: OciLayout,
    layer_digests: Vec<String>,
    behaviour: MockBehaviour,
}

impl MockRegistry {
    /// Serve image `tag` of `layout` as `repo:tag` (plain HTTP, no auth).
    pub fn serve_image(
        layout: &OciLayout,
        tag: &str,
        repo: &str,
        behaviour: MockBehaviour,
    ) -> Self {
        let manifest = match &behaviour {
            MockBehaviour::OversizedManifest { size, .. } => oversized_manifest(layout, tag, *size),
            _ => layout.read_blob(&layout.digest(tag)),
        };
        let layer_digests = layout.manifest(tag)["layers"]
            .as_array()
            .map(|layers| {
                layers
                    .iter()
                    .filter_map(|l| l["digest"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let served = Arc::new(Served {
            repo: repo.to_string(),
            tag: tag.to_string(),
            manifest,
            layout: layout.clone(),
            layer_digests,
            behaviour,
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let stop = Arc::clone(&stop);
            let requests = Arc::clone(&requests);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let served = Arc::clone(&served);
                    let stop = Arc::clone(&stop);
                    let requests = Arc::clone(&requests);
                    std::thread::spawn(move || {
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                        if let Some(request) = read_request(&mut stream) {
                            requests
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(format!("{} {}", request.method, request.target));
                            handle(&mut stream, &request, &served, &stop);
                        }
                    });
                }
            })
        };
        Self {
            addr,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// `127.0.0.1:PORT/<repo_tag>`.
    pub fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.addr)
    }

    /// The requests received so far, as `METHOD TARGET`.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for MockRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn oversized_manifest(layout: &OciLayout, tag: &str, size: usize) -> Vec<u8> {
    let mut manifest = layout.manifest(tag);
    manifest["mediaType"] = json!(MANIFEST_MEDIA_TYPE);
    manifest["annotations"] = json!({"pad": ""});
    let base = serde_json::to_vec(&manifest).unwrap().len();
    manifest["annotations"]["pad"] = json!("x".repeat(size.saturating_sub(base)));
    let bytes = serde_json::to_vec(&manifest).unwrap();
    assert_eq!(bytes.len(), size.max(base));
    bytes
}

fn handle(stream: &mut TcpStream, request: &Request, served: &Served, stop: &AtomicBool) {
    let head = request.method == "HEAD";
    let path = request.path();
    if path == "/v2/" || path == "/v2" {
        respond(
            stream,
            200,
            &[("Content-Type", "application/json".into())],
            b"{}",
            head,
        );
        return;
    }
    let prefix = format!("/v2/{}/", served.repo);
    let Some(rest) = path.strip_prefix(&prefix) else {
        return not_found(stream, "NAME_UNKNOWN", head);
    };
    if let Some(reference) = rest.strip_prefix("manifests/") {
        let digest = format!("sha256:{}", sha256_hex(&served.manifest));
        if reference != served.tag && reference != digest {
            return not_found(stream, "MANIFEST_UNKNOWN", head);
        }
        let headers = [
            ("Content-Type", MANIFEST_MEDIA_TYPE.to_string()),
            ("Docker-Content-Digest", digest),
        ];
        if let MockBehaviour::OversizedManifest {
            announce_length: false,
            ..
        } = served.behaviour
        {
            let mut head_text = "HTTP/1.1 200 OK\r\nConnection: close\r\n".to_string();
            for (n, v) in headers {
                head_text.push_str(&format!("{n}: {v}\r\n"));
            }
            head_text.push_str("\r\n");
            let _ = stream.write_all(head_text.as_bytes());
            if !head {
                let _ = stream.write_all(&served.manifest);
            }
            return;
        }
        respond(stream, 200, &headers, &served.manifest, head);
        return;
    }
    if let Some(digest) = rest.strip_prefix("blobs/") {
        let Ok(blob) = std::fs::read(served.layout.blob_path(digest)) else {
            return not_found(stream, "BLOB_UNKNOWN", head);
        };
        let is_layer = served.layer_digests.iter().any(|d| d == digest);
        if let (MockBehaviour::StallMidBlob { after_bytes }, true, false) =
            (&served.behaviour, is_layer, head)
        {
            let sent = (*after_bytes).min(blob.len());
            let head_text = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nDocker-Content-Digest: {digest}\r\nContent-Length: {}\r\n\r\n",
                blob.len()
            );
            let _ = stream.write_all(head_text.as_bytes());
            let _ = stream.write_all(&blob[..sent]);
            let _ = stream.flush();
            let start = Instant::now();
            while !stop.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(50));
            }
            return;
        }
        respond(
            stream,
            200,
            &[
                ("Content-Type", "application/octet-stream".into()),
                ("Docker-Content-Digest", digest.to_string()),
            ],
            &blob,
            head,
        );
        return;
    }
    not_found(stream, "NAME_UNKNOWN", head);
}

fn not_found(stream: &mut TcpStream, code: &str, head: bool) {
    let body =
        json!({"errors": [{"code": code, "message": "not found", "detail": null}]}).to_string();
    respond(
        stream,
        404,
        &[("Content-Type", "application/json".into())],
        body.as_bytes(),
        head,
    );
}
