//! Remote engine mode: a replica that keeps no vulnerability database and asks a central
//! Portcullis (`POST /api/v1/engine/check`, bearer token over HTTPS) for each scan it
//! needs. The replica keeps its own verdict cache, single flight and budget, and judges the
//! central scan with its own policy; its cache key carries the central database's content
//! id, learnt from every answer and from `GET /api/v1/database` every `engine.interval`.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::Duration;

use portcullis_config::EngineConfig;
use portcullis_oci::{Credentials, RegistryOptions};
use portcullis_scan::ScanResult;
use serde::{Deserialize, Serialize};

use crate::check_error::{CheckError, CheckErrorKind};
use crate::error::{Error, ErrorKind, Result};

/// A failure the engine reported (or an answer it could not give).
fn engine_error(message: String) -> CheckError {
    CheckError::new(CheckErrorKind::Engine, message)
}

/// The largest answer read from the engine (a scan's findings), in bytes.
pub const MAX_ANSWER: u64 = 32 * 1024 * 1024;
/// The largest token file read.
const MAX_TOKEN: u64 = 4096;
/// The content id used before the engine told its own.
pub const UNKNOWN_DATABASE: &str = "remote:unknown";

/// What the replica asks the engine.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckRequest {
    /// The image reference.
    pub image: String,
    /// Registry credentials the replica found (pull secrets); never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Their password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Whether the registry may be reached over plain HTTP (marked insecure).
    #[serde(default)]
    pub plain_http: bool,
    /// How long the engine may take, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

/// The engine's answer: the digest, its database's content id, and the scan (no package
/// list; its decision is the engine's, which the replica replaces with its own).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckAnswer {
    /// The manifest digest the reference resolved to.
    pub digest: String,
    /// The content id of the database the findings came from.
    pub database: String,
    /// The scan.
    pub result: ScanResult,
}

/// The engine's database, as `GET /api/v1/database` tells it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseAnswer {
    /// Its content id.
    pub content_id: String,
    /// When it was built.
    #[serde(default)]
    pub built_at: Option<String>,
}

/// The client of the central engine.
pub struct RemoteEngine {
    base: String,
    token_file: Option<PathBuf>,
    agent: ureq::Agent,
    content_id: RwLock<String>,
}

impl std::fmt::Debug for RemoteEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteEngine")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl RemoteEngine {
    /// A client for `config.url` (`None` when it is unset).
    pub fn new(config: &EngineConfig) -> Result<Option<Self>> {
        let Some(url) = &config.url else {
            return Ok(None);
        };
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(Error::new(
                ErrorKind::Config,
                format!("engine.url: '{url}' is not an http(s) URL"),
            ));
        }
        let options = RegistryOptions {
            ca_certs: config.ca_bundle.iter().map(PathBuf::from).collect(),
            ..RegistryOptions::default()
        };
        let tls = portcullis_oci::registry::tls_config(&options, !config.insecure)
            .map_err(|e| Error::new(ErrorKind::Config, format!("engine.caBundle: {e}")))?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(format!("portcullis/{}", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(5)))
            .tls_config(tls)
            .build()
            .new_agent();
        Ok(Some(Self {
            base,
            token_file: config.token_file.as_ref().map(PathBuf::from),
            agent,
            content_id: RwLock::new(UNKNOWN_DATABASE.to_string()),
        }))
    }

    /// The engine's database content id as last learnt.
    pub fn content_id(&self) -> String {
        self.content_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Remember the engine's content id; true when it changed.
    pub fn observe(&self, content_id: &str) -> bool {
        let mut current = self.content_id.write().unwrap_or_else(|e| e.into_inner());
        if *current == content_id {
            return false;
        }
        *current = content_id.to_string();
        true
    }

    /// The bearer token, read from its file each time (a rotated Secret is picked up).
    fn token(&self) -> std::result::Result<Option<String>, String> {
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_TOKEN).read_to_string(&mut text))
            .map_err(|e| format!("engine token file {}: {e}", path.display()))?;
        Ok(Some(text.trim().to_string()).filter(|t| !t.is_empty()))
    }

    /// Ask the engine to scan `image` (blocking; run it off the async threads).
    pub fn check(
        &self,
        image: &str,
        credentials: Option<&Credentials>,
        plain_http: bool,
        timeout: Duration,
    ) -> std::result::Result<CheckAnswer, CheckError> {
        let request = CheckRequest {
            image: image.to_string(),
            username: credentials.map(|c| c.username.clone()),
            password: credentials.map(|c| c.password.clone()),
            plain_http,
            timeout_seconds: Some(timeout.as_secs().max(1)),
        };
        let body = serde_json::to_vec(&request)
            .map_err(|e| CheckError::new(CheckErrorKind::Engine, e.to_string()))?;
        let url = format!("{}/api/v1/engine/check", self.base);
        let mut builder = self
            .agent
            .post(&url)
            .config()
            .timeout_global(Some(timeout + Duration::from_secs(5)))
            .build()
            .header("Content-Type", "application/json");
        if let Some(token) = self.token().map_err(engine_error)? {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        let response = builder.send(&body[..]).map_err(|e| {
            CheckError::new(
                CheckErrorKind::Unreachable,
                format!("engine {} unreachable: {e}", self.base),
            )
        })?;
        let answer: CheckAnswer = read_json(response, &self.base)?;
        self.observe(&answer.database);
        Ok(answer)
    }

    /// Ask the engine which database it judges with (blocking).
    pub fn database(&self) -> std::result::Result<DatabaseAnswer, CheckError> {
        let url = format!("{}/api/v1/database", self.base);
        let mut builder = self
            .agent
            .get(&url)
            .config()
            .timeout_global(Some(Duration::from_secs(10)))
            .build();
        if let Some(token) = self.token().map_err(engine_error)? {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        let response = builder.call().map_err(|e| {
            CheckError::new(
                CheckErrorKind::Unreachable,
                format!("engine {} unreachable: {e}", self.base),
            )
        })?;
        let answer: DatabaseAnswer = read_json(response, &self.base)?;
        self.observe(&answer.content_id);
        Ok(answer)
    }
}

/// A 200 answer's JSON body, or the engine's error: its `kind` kept when it names one (a
/// registry's 401 stays `unauthorized`), else `engine`.
fn read_json<T: serde::de::DeserializeOwned>(
    mut response: ureq::http::Response<ureq::Body>,
    base: &str,
) -> std::result::Result<T, CheckError> {
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_vec()
        .map_err(|e| engine_error(format!("engine {base}: reading the answer: {e}")))?;
    if status != 200 {
        let body = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
        let message = body
            .as_ref()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
        let kind = body
            .as_ref()
            .and_then(|v| v["kind"].as_str())
            .and_then(CheckErrorKind::parse)
            .unwrap_or(CheckErrorKind::Engine);
        return Err(CheckError::new(
            kind,
            format!("engine {base} answered HTTP {status}: {message}"),
        ));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| engine_error(format!("engine {base}: not a valid answer: {e}")))
}
