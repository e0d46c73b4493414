//! A token server for the registry's `auth: token:` mode: checks basic credentials and
//! issues ES256 JWTs with an `x5c` header, as Docker's distribution expects.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;

use crate::http::{read_request, respond};

/// The `service` (token audience) the test registry is configured with.
pub(crate) const SERVICE: &str = "portcullis-test";
/// The token issuer the test registry trusts.
pub(crate) const ISSUER: &str = "portcullis-test-issuer";

/// A running token server; stops on drop.
#[derive(Debug)]
pub(crate) struct TokenServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    issued: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

struct Signer {
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
    user: String,
    password: String,
    serial: AtomicU64,
}

impl TokenServer {
    /// Start on a free port; `cert_der`/`pkcs8` sign the tokens.
    /// It serves HTTPS with `tls` (clients refuse to send credentials to a plain-HTTP realm).
    pub fn start(
        cert_der: Vec<u8>,
        pkcs8: &[u8],
        tls: Arc<rustls::ServerConfig>,
        user: &str,
        password: &str,
    ) -> Self {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng).unwrap();
        let signer = Signer {
            key,
            cert_der,
            user: user.to_string(),
            password: password.to_string(),
            serial: AtomicU64::new(0),
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let issued = Arc::new(AtomicU64::new(0));
        let thread = {
            let stop = Arc::clone(&stop);
            let issued = Arc::clone(&issued);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let Ok(conn) = rustls::ServerConnection::new(Arc::clone(&tls)) else {
                        continue;
                    };
                    let mut tls_stream = rustls::StreamOwned::new(conn, stream);
                    serve(&mut tls_stream, &signer, &issued);
                    tls_stream.conn.send_close_notify();
                    let _ = tls_stream.flush();
                }
            })
        };
        Self {
            addr,
            stop,
            issued,
            thread: Some(thread),
        }
    }

    /// `https://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("https://{}/token", self.addr)
    }

    /// How many tokens were issued so far.
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::SeqCst)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve<S: Read + Write>(stream: &mut S, signer: &Signer, issued: &AtomicU64) {
    let Some(request) = read_request(stream) else {
        return;
    };
    if request.path() != "/token" {
        respond(stream, 404, &[], b"not found", false);
        return;
    }
    let authorized = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .map(|raw| raw == format!("{}:{}", signer.user, signer.password).into_bytes())
        .unwrap_or(false);
    if !authorized {
        respond(
            stream,
            401,
            &[(
                "WWW-Authenticate",
                "Basic realm=\"portcullis-test\"".to_string(),
            )],
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#,
            false,
        );
        return;
    }
    let access: Vec<_> = request
        .query_values("scope")
        .iter()
        .flat_map(|s| s.split(' ').map(str::to_string).collect::<Vec<_>>())
        .filter_map(|scope| {
            let mut parts = scope.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            let granted: Vec<&str> = actions
                .split(',')
                .filter(|a| matches!(*a, "pull" | "push" | "delete"))
                .collect();
            Some(json!({"type": kind, "name": name, "actions": granted}))
        })
        .collect();
    let token = sign_token(signer, &access);
    issued.fetch_add(1, Ordering::SeqCst);
    let body = json!({"token": token, "access_token": token, "expires_in": 300}).to_string();
    respond(
        stream,
        200,
        &[("Content-Type", "application/json".to_string())],
        body.as_bytes(),
        false,
    );
}

fn sign_token(signer: &Signer, access: &[serde_json::Value]) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let header = json!({"alg": "ES256", "typ": "JWT", "x5c": [STANDARD.encode(&signer.cert_der)]});
    let claims = json!({
        "iss": ISSUER,
        "sub": signer.user,
        "aud": SERVICE,
        "exp": now + 300,
        "nbf": now.saturating_sub(60),
        "iat": now,
        "jti": format!("portcullis-{now}-{}", signer.serial.fetch_add(1, Ordering::SeqCst)),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = signer
        .key
        .sign(&SystemRandom::new(), signing_input.as_bytes())
        .unwrap();
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    )
}
