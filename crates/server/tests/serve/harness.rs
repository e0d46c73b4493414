//! Test harness: certificates from a throw-away CA, a vulnerability database from the
//! shared testdata, a running server in its own runtime, and a blocking HTTPS client that
//! also reports the certificate it was served.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use portcullis_config::{ServerConfig, TlsConfig};
use portcullis_server::{RunningServer, Settings};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tempfile::TempDir;

/// A CA and the server certificates it signs.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate (PEM).
    pub pem: String,
}

impl Ca {
    pub fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "serve test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        Self {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Write a server certificate for 127.0.0.1 named `cn` to `cert`/`key`.
    pub fn issue(&self, cn: &str, cert: &Path, key: &Path) {
        let server_key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let signed = params.signed_by(&server_key, &self.issuer).unwrap();
        // Write-then-rename, as a Secret volume update does.
        let tmp_cert = cert.with_extension("tmp");
        let tmp_key = key.with_extension("tmpkey");
        std::fs::write(&tmp_cert, signed.pem()).unwrap();
        std::fs::write(&tmp_key, server_key.serialize_pem()).unwrap();
        std::fs::rename(&tmp_key, key).unwrap();
        std::fs::rename(&tmp_cert, cert).unwrap();
    }
}

/// The Alpine secdb files (main) of `branches` in the shared testdata, each checked to be there.
pub fn alpine_secdb(branches: &[&str]) -> Vec<PathBuf> {
    let data = portcullis_testkit::testdata_dir().join("advisories/alpine-secdb");
    let inputs: Vec<PathBuf> = branches
        .iter()
        .map(|b| data.join(format!("{b}/main.json")))
        .collect();
    for input in &inputs {
        assert!(
            input.is_file(),
            "test data file {} is missing",
            input.display()
        );
    }
    inputs
}

/// A database built once per process from the Alpine secdb (v3.9, v3.20 main) and the NVD
/// records of the shared testdata.
pub fn database() -> PathBuf {
    static DB: OnceLock<(TempDir, PathBuf)> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = portcullis_testkit::temp_dir("serve-db");
        let path = dir.path().join("db.sqlite");
        let inputs = alpine_secdb(&["v3.9", "v3.20"]);
        portcullis_vulndb::Database::import_paths(&path, &inputs, &Default::default()).unwrap();
        (dir, path)
    })
    .1
    .clone()
}

/// The whitelists the API lists: (name, origin).
pub fn whitelist_names(server: &TestServer) -> Vec<(String, String)> {
    server.get("/api/v1/whitelists", Some("token-one")).json()["whitelists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap().to_string(),
                w["origin"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A running server with its runtime, TLS files and CA.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub runtime: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    pub ca: Ca,
    pub _dir: TempDir,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The configuration tests start from: TLS on 127.0.0.1:0, the test database, one token.
pub fn base_config(db: Option<PathBuf>) -> ServerConfig {
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".to_string(),
        ..ServerConfig::default()
    };
    config.database.path = Some(db.unwrap_or_else(database).display().to_string());
    config.database.update_interval = portcullis_config::Duration::from_secs(0);
    config.api_tokens = vec!["token-one".to_string(), "token-two".to_string()];
    config
}

impl TestServer {
    /// Start with `config` (TLS files are filled in) and `adjust` for the settings (called
    /// inside the server's runtime, so it may make a kube client).
    pub fn start(mut config: ServerConfig, adjust: impl FnOnce(&mut Settings)) -> Self {
        let dir = portcullis_testkit::temp_dir("serve");
        let ca = Ca::new();
        let cert = dir.path().join("tls.crt");
        let key = dir.path().join("tls.key");
        ca.issue("first", &cert, &key);
        config.tls = Some(TlsConfig {
            cert: cert.display().to_string(),
            key: key.display().to_string(),
        });
        let mut settings = Settings::new(config);
        settings.tls_reload_interval = Duration::from_millis(100);
        settings.db_reload_interval = Duration::from_millis(200);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        {
            let _entered = runtime.enter();
            adjust(&mut settings);
        }
        let server = runtime
            .block_on(portcullis_server::start(settings))
            .unwrap();
        Self {
            addr: server.addr,
            server: Some(server),
            runtime,
            ca,
            _dir: dir,
            cert,
            key,
        }
    }

    /// The shared state.
    pub fn app(&self) -> &Arc<portcullis_server::App> {
        &self.server.as_ref().unwrap().app
    }

    /// Wait (≤ 30 s) until `/readyz` answers 200.
    pub fn wait_ready(&self) {
        for _ in 0..300 {
            if self.get("/readyz", None).status == 200 {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server not ready within 30 s");
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.request("GET", path, token, &[])
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &[u8]) -> Answer {
        self.request("POST", path, token, body)
    }

    pub fn request(&self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Answer {
        https(
            self.addr,
            &self.ca.pem,
            method,
            path,
            token,
            Body::Bytes(body),
        )
    }

    /// A request announcing `length` bytes of body and sending none before the answer.
    pub fn announce(&self, path: &str, token: Option<&str>, length: usize) -> Answer {
        https(
            self.addr,
            &self.ca.pem,
            "POST",
            path,
            token,
            Body::Announced(length),
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// One HTTP answer and the certificate the server presented.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub peer_cn: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn client_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// What a request sends as its body.
pub enum Body<'a> {
    /// These bytes.
    Bytes(&'a [u8]),
    /// A `Content-Length` and no bytes (the answer is read first).
    Announced(usize),
}

/// One request over a fresh TLS connection (verified against `ca_pem`).
pub fn https(
    addr: SocketAddr,
    ca_pem: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Body<'_>,
) -> Answer {
    let (length, body) = match body {
        Body::Bytes(b) => (b.len(), b),
        Body::Announced(n) => (n, &[][..]),
    };
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(client_config(ca_pem), name).unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    tls.write_all(head.as_bytes()).unwrap();
    tls.write_all(body).unwrap();
    tls.flush().unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw);
    let peer_cn = tls
        .conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|c| common_name(c.as_ref()))
        .unwrap_or_default();
    parse_answer(&raw, peer_cn)
}

fn common_name(der: &[u8]) -> String {
    // The CN is the last printable string in a certificate this simple: find the OID 2.5.4.3.
    let oid = [0x06, 0x03, 0x55, 0x04, 0x03];
    let mut found = String::new();
    let mut i = 0;
    while i + oid.len() + 2 < der.len() {
        if der[i..i + oid.len()] == oid {
            let len = der[i + oid.len() + 1] as usize;
            let start = i + oid.len() + 2;
            if start + len <= der.len() {
                found = String::from_utf8_lossy(&der[start..start + len]).into_owned();
            }
        }
        i += 1;
    }
    found
}

fn parse_answer(raw: &[u8], peer_cn: String) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
        peer_cn,
    }
}

/// Held by the test that measures this process's memory growth and by the tests that run
/// several servers at once, so that one's allocations do not count in the other's figure.
pub fn memory_sensitive() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
