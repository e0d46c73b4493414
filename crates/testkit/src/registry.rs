//! A real registry: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1, plain HTTP,
//! TLS, TLS with basic auth (htpasswd, bcrypt) or TLS with bearer tokens from our token server.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::http::{free_port, probe_v2};
use crate::token::{ISSUER, SERVICE, TokenServer};
use crate::{require_tool, run, tls};

/// How the registry is reached and authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryKind {
    /// Plain HTTP, no authentication.
    PlainHttp,
    /// HTTPS with a certificate from a throw-away CA, no authentication.
    Tls,
    /// HTTPS with basic authentication (htpasswd, bcrypt).
    TlsBasicAuth {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// HTTPS with bearer tokens (ES256 JWTs) from a token server that takes these basic
    /// credentials.
    TlsBearer {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
}

impl RegistryKind {
    /// `TlsBasicAuth` with the given credentials.
    pub fn basic(user: &str, password: &str) -> Self {
        Self::TlsBasicAuth {
            user: user.into(),
            password: password.into(),
        }
    }

    /// `TlsBearer` with the given credentials.
    pub fn bearer(user: &str, password: &str) -> Self {
        Self::TlsBearer {
            user: user.into(),
            password: password.into(),
        }
    }

    fn credentials(&self) -> Option<(&str, &str)> {
        match self {
            Self::TlsBasicAuth { user, password } | Self::TlsBearer { user, password } => {
                Some((user, password))
            }
            Self::PlainHttp | Self::Tls => None,
        }
    }
}

/// A running `docker-registry serve`; killed on drop, its storage removed.
#[derive(Debug)]
pub struct Registry {
    kind: RegistryKind,
    port: u16,
    child: Child,
    dir: TempDir,
    ca_cert: Option<PathBuf>,
    cert_dir: Option<PathBuf>,
    token_server: Option<TokenServer>,
}

impl Registry {
    /// Start a registry of `kind` on a free port of 127.0.0.1 and wait (≤ 10 s) until
    /// `GET /v2/` answers. Panics with the registry's stderr if it does not come up.
    pub fn start(kind: RegistryKind) -> Self {
        Self::start_with(kind, false)
    }

    /// [`Registry::start`] with the access log on: every request is a line of
    /// [`Registry::stderr`] (`"GET /v2/... HTTP/1.1" 200 ...`), for counting pulls.
    pub fn start_logged(kind: RegistryKind) -> Self {
        Self::start_with(kind, true)
    }

    fn start_with(kind: RegistryKind, access_log: bool) -> Self {
        let exe = require_tool("docker-registry");
        let dir = crate::temp_dir("registry");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let tls = (kind != RegistryKind::PlainHttp).then(|| tls::generate(dir.path()));
        let cert_dir = tls.as_ref().map(|t| {
            let d = dir.path().join("certs.d");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::copy(&t.ca_cert, d.join("ca.crt")).unwrap();
            d
        });

        let mut auth = String::new();
        let mut token_server = None;
        match &kind {
            RegistryKind::TlsBasicAuth { user, password } => {
                let line = run("htpasswd", ["-Bbn", user.as_str(), password.as_str()]);
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, line.trim_end().to_string() + "\n").unwrap();
                auth = format!(
                    "auth:\n  htpasswd:\n    realm: portcullis-test\n    path: {}\n",
                    path.display()
                );
            }
            RegistryKind::TlsBearer { user, password } => {
                let (cert_der, cert_pem, pkcs8) = tls::token_signing_cert();
                let bundle = dir.path().join("token-signer.pem");
                std::fs::write(&bundle, cert_pem).unwrap();
                let server_tls = tls::server_config(tls.as_ref().unwrap());
                let server = TokenServer::start(cert_der, &pkcs8, server_tls, user, password);
                auth = format!(
                    "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
                    server.realm(),
                    bundle.display()
                );
                token_server = Some(server);
            }
            RegistryKind::PlainHttp | RegistryKind::Tls => {}
        }

        let stderr_path = dir.path().join("registry.stderr");
        let mut last_error = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let tls_section = tls.as_ref().map_or(String::new(), |t| {
                format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    t.server_cert.display(),
                    t.server_key.display()
                )
            });
            let config = format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: {}\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: portcullis-test-secret\n{tls_section}{auth}",
                !access_log,
                storage.display()
            );
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).unwrap();
            // Through a small shell guard: the registry is killed as soon as our end of
            // the guard's stdin closes, i.e. on drop or when the test process exits (a
            // registry in a `static` is never dropped).
            // The access log goes to stdout: with it on, both streams share the file.
            let log = File::create(&stderr_path).unwrap();
            let child = Command::new("sh")
                .arg("-c")
                .arg(GUARD_SCRIPT)
                .arg(&exe)
                .arg(&config_path)
                .stdin(Stdio::piped())
                .stdout(if access_log {
                    Stdio::from(log.try_clone().unwrap())
                } else {
                    Stdio::null()
                })
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
            let mut child = child;
            match wait_ready(
                &mut child,
                port,
                tls.as_ref().map(|t| t.ca_cert.as_path()),
                &stderr_path,
            ) {
                Ok(()) => {
                    return Self {
                        kind,
                        port,
                        child,
                        ca_cert: tls.as_ref().map(|t| t.ca_cert.clone()),
                        cert_dir,
                        token_server,
                        dir,
                    };
                }
                Err(message) => {
                    stop(&mut child);
                    if !message.contains("address already in use") {
                        panic!("{message}");
                    }
                    last_error = message;
                }
            }
        }
        panic!("{last_error}");
    }

    /// Successful blob downloads (`GET .../blobs/...` answered 200) so far; needs
    /// [`Registry::start_logged`].
    pub fn blob_downloads(&self) -> usize {
        self.stderr()
            .lines()
            .filter(|l| l.contains("\"GET /v2/") && l.contains("/blobs/") && l.contains("\" 200 "))
            .count()
    }

    /// What the registry printed on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.stderr")).unwrap_or_default()
    }

    /// The kind this registry was started as.
    pub fn kind(&self) -> &RegistryKind {
        &self.kind
    }

    /// `127.0.0.1:PORT`.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT/<repo_tag>`, a reference to an image in this registry.
    pub fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.host_port())
    }

    /// The CA certificate (PEM) that signed the registry's certificate; `None` for plain HTTP.
    pub fn ca_cert_pem_path(&self) -> Option<&Path> {
        self.ca_cert.as_deref()
    }

    /// The registry's filesystem storage root.
    pub fn storage_root(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Where the registry stores the blob with `digest` (`sha256:HEX`).
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.storage_root().join(format!(
            "docker/registry/v2/blobs/sha256/{}/{hex}/data",
            &hex[..2]
        ))
    }

    /// The user and password the registry accepts, if it wants any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.kind.credentials()
    }

    /// How many tokens the bearer token server issued (0 for other kinds).
    pub fn tokens_issued(&self) -> u64 {
        self.token_server.as_ref().map_or(0, TokenServer::issued)
    }

    /// skopeo options to reach this registry; `prefix` is `src` or `dest`.
    pub fn skopeo_options(&self, prefix: &str) -> Vec<String> {
        let mut args = Vec::new();
        match &self.cert_dir {
            None => args.push(format!("--{prefix}-tls-verify=false")),
            Some(dir) => args.push(format!("--{prefix}-cert-dir={}", dir.display())),
        }
        if let Some((user, password)) = self.credentials() {
            args.push(format!("--{prefix}-creds={user}:{password}"));
        }
        args
    }

    /// Push `source` (a skopeo source such as `oci:/layout:tag`) as `repo:tag`; `all`
    /// copies every platform of an index.
    pub fn push(&self, source: &str, repo_tag: &str, all: bool) {
        let mut args = vec!["--insecure-policy".to_string(), "copy".to_string()];
        if all {
            args.push("--all".to_string());
        }
        args.extend(self.skopeo_options("dest"));
        args.push(source.to_string());
        args.push(format!("docker://{}", self.reference(repo_tag)));
        run("skopeo", &args);
    }

    /// The raw manifest (or index) bytes the registry serves for `repo_tag`, via skopeo.
    pub fn raw_manifest(&self, repo_tag: &str) -> Vec<u8> {
        let mut args = vec!["inspect".to_string(), "--raw".to_string()];
        args.extend(self.inspect_options());
        args.push(format!("docker://{}", self.reference(repo_tag)));
        run("skopeo", &args).into_bytes()
    }

    /// `sha256:HEX` of the manifest the registry serves for `repo_tag`.
    pub fn manifest_digest(&self, repo_tag: &str) -> String {
        format!("sha256:{}", crate::sha256_hex(&self.raw_manifest(repo_tag)))
    }

    fn inspect_options(&self) -> Vec<String> {
        // `skopeo inspect` takes the unprefixed forms.
        self.skopeo_options("src")
            .into_iter()
            .map(|a| a.replacen("--src-", "--", 1))
            .collect()
    }
}

/// Wait (≤ 10 s) until `GET /v2/` answers 200 or 401.
fn wait_ready(
    child: &mut Child,
    port: u16,
    ca: Option<&Path>,
    stderr: &Path,
) -> Result<(), String> {
    let limit = Duration::from_secs(10);
    let start = Instant::now();
    let stderr_text = || std::fs::read_to_string(stderr).unwrap_or_default();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "docker-registry exited ({status}) before answering on 127.0.0.1:{port}; stderr:\n{}",
                stderr_text()
            ));
        }
        if let Some(code) = probe_v2(port, ca)
            && (code == 200 || code == 401)
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "docker-registry did not answer GET /v2/ on 127.0.0.1:{port} within {limit:?}; stderr:\n{}",
        stderr_text()
    ))
}

/// Runs `$0 serve $1`, exits when it exits, and kills it when stdin reaches end of file.
const GUARD_SCRIPT: &str = r#"exec 3<&0
"$0" serve "$1" </dev/null &
pid=$!
{ read -r _line <&3; kill "$pid" 2>/dev/null; } &
wait "$pid""#;

/// Close the guard's stdin (it kills the registry) and reap it.
fn stop(child: &mut Child) {
    drop(child.stdin.take());
    let _ = child.wait();
}

impl Drop for Registry {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
