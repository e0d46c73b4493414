//! The HTTP side of registry access: one client per repository, with authentication,
//! retries, redirects that never leak credentials, and size caps.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use ureq::http::Response;
use ureq::{Agent, Body};

use super::auth::{self, Challenge};
use super::tls;
use crate::digest::Digest;
use crate::digest::DigestExt;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::MANIFEST_ACCEPT;
use crate::options::{Credentials, RegistryOptions, RetryPolicy};
use crate::reference::Reference;

mod push;
pub(super) mod referrers;

/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 5;
/// Largest error or token reply body we read.
const MAX_SMALL_BODY: u64 = 1024 * 1024;
/// Longest `Retry-After` we accept from a server, before the retry budget applies.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Longest wait for a TLS handshake when probing whether an insecure registry speaks TLS.
const PROBE_READ_TIMEOUT: Duration = Duration::from_secs(5);

thread_local! {
    /// The deadline [`with_deadline`] set for clients connected on this thread.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Run `work` with an overall `deadline` for every [`RegistryClient`] it connects: each
/// request (headers and body, retries and their backoff included) and every blob read of
/// such a client fails with [`ErrorKind::Network`] once the deadline has passed, so a
/// registry that trickles bytes cannot hold the calling thread beyond it. The deadline is
/// captured at [`RegistryClient::connect`], so blob readers moved to other threads keep it.
pub fn with_deadline<T>(deadline: Option<Instant>, work: impl FnOnce() -> T) -> T {
    let previous = DEADLINE.with(|d| d.replace(deadline));
    let out = work();
    DEADLINE.with(|d| d.set(previous));
    out
}

fn deadline_error(what: &str) -> Error {
    Error::new(
        ErrorKind::Network,
        format!("{what}: the overall deadline for this registry operation passed"),
    )
}

/// A manifest document as fetched: its bytes, verified digest and declared media type.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The raw document.
    pub bytes: Vec<u8>,
    /// Its digest (the pinned one if the request named a digest, else its sha256).
    pub digest: Digest,
    /// The `Content-Type` the registry sent, without parameters.
    pub media_type: Option<String>,
}

/// A client for one repository of one registry (OCI distribution / Docker Registry v2).
///
/// [`RegistryClient::connect`] decides the scheme and authenticates; the fetch methods
/// retry transient failures, follow redirects (credentials go to the registry's own
/// origin only), cap sizes and verify digests.
pub struct RegistryClient {
    registry: String,
    repository: String,
    base: String,
    insecure: bool,
    /// For the registry's own host (no certificate verification if it is insecure).
    agent: Agent,
    /// For every other host: token realms and redirect targets.
    verifying_agent: Agent,
    options: RegistryOptions,
    credentials: Option<Credentials>,
    authorization: Mutex<Option<String>>,
    /// The overall deadline set by [`with_deadline`] when the client connected.
    deadline: Option<Instant>,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("registry", &self.registry)
            .field("repository", &self.repository)
            .field("base", &self.base)
            .field("insecure", &self.insecure)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// Scheme, host and port of a URL; the unit credentials are scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn parse(url: &str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        let authority = authority_of(rest);
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None if after.is_empty() => default_port,
                None => return None,
            };
            (host, port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().ok()?),
                None => (hostport, default_port),
            }
        };
        if host.is_empty() {
            return None;
        }
        Some(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn authority_of(after_scheme: &str) -> &str {
    let end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    after_scheme.get(..end).unwrap_or(after_scheme)
}

/// `scheme://authority/path` of a URL, dropping any query (presigned URLs carry secrets).
fn loggable(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// Resolve a `Location` header against the URL that sent it.
fn resolve_location(current: &str, location: &str) -> Option<String> {
    let location = location.trim();
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Some(location.to_string());
    }
    let (scheme, rest) = current.split_once("://")?;
    if let Some(net_path) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{net_path}"));
    }
    let authority = authority_of(rest);
    if location.starts_with('/') {
        return Some(format!("{scheme}://{authority}{location}"));
    }
    if location.contains("://") || location.is_empty() {
        return None;
    }
    let path = loggable(rest).get(authority.len()..).unwrap_or("");
    let dir = path
        .rfind('/')
        .map_or("/", |i| path.get(..=i).unwrap_or("/"));
    Some(format!("{scheme}://{authority}{dir}{location}"))
}

fn header<'a>(response: &'a Response<Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn retry_after(response: &Response<Body>) -> Option<Duration> {
    let seconds: u64 = header(response, "retry-after")?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// Does this failure of an `https://` request suggest the server speaks plain HTTP?
fn looks_like_plain_http(err: &ureq::Error) -> bool {
    match err {
        ureq::Error::Timeout(_) => true,
        ureq::Error::Io(e) => {
            portcullis_tls::is_tls_error(err)
                || matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::InvalidData
                )
        }
        other => portcullis_tls::is_tls_error(other),
    }
}

/// What one attempt of a request came to.
enum Attempt {
    /// A final response (any status that is not retried).
    Response(Response<Body>),
    /// A transient failure; retry after the delay the server asked for, if any.
    Retry(Error, Option<Duration>),
    /// A permanent failure.
    Fail(Error),
}

#[derive(Deserialize)]
struct RegistryErrors {
    #[serde(default)]
    errors: Vec<RegistryErrorEntry>,
}

#[derive(Deserialize)]
struct RegistryErrorEntry {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<serde_json::Value>,
}

fn json_text(value: Option<&serde_json::Value>) -> String {
    match value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The `(code, message)` pairs of a registry JSON error body; empty if it is not one.
fn parse_registry_errors(bytes: &[u8]) -> Vec<(String, String)> {
    serde_json::from_slice::<RegistryErrors>(bytes)
        .map(|e| {
            e.errors
                .iter()
                .map(|entry| {
                    (
                        json_text(entry.code.as_ref()),
                        json_text(entry.message.as_ref()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn build_agent(
    options: &RegistryOptions,
    tls: ureq::tls::TlsConfig,
    read_timeout: Duration,
) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(format!("portcullis/{}", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(options.connect_timeout))
        .timeout_per_read(Some(read_timeout))
        .timeout_per_write(Some(read_timeout))
        .tls_config(tls)
        .build()
        .new_agent()
}

impl RegistryClient {
    /// Connect to `reference`'s registry: pick the scheme (see below), find credentials
    /// (explicit, else the docker config), and ping `/v2/` to learn how to authenticate.
    ///
    /// The scheme is `https` with verified certificates. Only for a registry marked insecure
    /// in `options` is `https` tried without certificate verification first and, if the
    /// server does not speak TLS (handshake error, reset or no answer within 5 seconds),
    /// plain `http` used instead. No host is implicitly insecure, not even `localhost`.
    pub fn connect(reference: &Reference, options: &RegistryOptions) -> Result<Self> {
        let registry = reference.registry().to_string();
        let host = reference.api_host().to_string();
        let insecure = options.is_insecure(&registry) || options.is_insecure(&host);
        let verifying_agent = build_agent(
            options,
            tls::tls_config(options, true)?,
            options.read_timeout,
        );
        let agent = if insecure {
            build_agent(
                options,
                tls::tls_config(options, false)?,
                options.read_timeout,
            )
        } else {
            verifying_agent.clone()
        };
        let credentials = auth::find_credentials(&registry, options)?;
        let mut client = Self {
            registry,
            repository: reference.repository().to_string(),
            base: format!("https://{host}"),
            insecure,
            agent,
            verifying_agent,
            options: options.clone(),
            credentials,
            authorization: Mutex::new(
                options
                    .registry_token
                    .as_ref()
                    .map(|t| format!("Bearer {}", t.expose())),
            ),
            deadline: DEADLINE.with(Cell::get),
        };
        if insecure && client.speaks_plain_http(options)? {
            client.base = format!("http://{host}");
        }
        tracing::debug!(
            registry = %client.registry,
            base = %client.base,
            user = client.credentials.as_ref().map(|c| c.username.as_str()),
            "connecting to registry"
        );
        client.ping()?;
        Ok(client)
    }

    /// The registry as named in the reference, e.g. `docker.io`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository, e.g. `library/alpine`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The base URL requests go to, e.g. `https://registry-1.docker.io`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Probe an insecure registry: does `https` fail in a way that means plain HTTP?
    fn speaks_plain_http(&self, options: &RegistryOptions) -> Result<bool> {
        let probe = build_agent(
            options,
            tls::tls_config(options, false)?,
            options.read_timeout.min(PROBE_READ_TIMEOUT),
        );
        let url = format!("{}/v2/", self.base);
        match probe.get(&url).call() {
            Ok(_) => Ok(false),
            Err(err) if looks_like_plain_http(&err) => {
                tracing::debug!(registry = %self.registry, error = %err, "https failed; using plain http for this insecure registry");
                Ok(true)
            }
            Err(_) => Ok(false),
        }
    }

    fn ping(&self) -> Result<()> {
        let what = format!("registry {}", self.registry);
        let response = self.registry_get("/v2/", None, &what)?;
        // Anything but a transport failure or exhausted retries is fine here: the
        // repository-specific requests report their own errors.
        tracing::debug!(registry = %self.registry, status = response.status().as_u16(), "pinged registry");
        Ok(())
    }

    /// Fetch manifest `reference` (a tag or digest) of this repository, capped at
    /// `max_size` bytes. If `expected` is given the bytes must hash to it; a
    /// `Docker-Content-Digest` header must match too. `what` names the image in errors.
    pub fn fetch_manifest(
        &self,
        reference: &str,
        expected: Option<&Digest>,
        max_size: u64,
        what: &str,
    ) -> Result<FetchedManifest> {
        let path = format!("/v2/{}/manifests/{reference}", self.repository);
        let response = self.registry_get(&path, Some(MANIFEST_ACCEPT), what)?;
        if !response.status().is_success() {
            return Err(self.status_error(response, what, "repository or tag not found"));
        }
        let header_digest = header(&response, "docker-content-digest").map(str::to_string);
        let media_type = header(&response, "content-type")
            .map(|c| c.split(';').next().unwrap_or(c).trim().to_string())
            .filter(|c| !c.is_empty());
        let bytes = self.read_capped(response, max_size, what, "manifest")?;
        let described = format!("manifest of {what}");
        let digest = match expected {
            Some(expected) => {
                expected.verify(&bytes, &described)?;
                expected.clone()
            }
            None => Digest::sha256_of(&bytes),
        };
        if let Some(sent) = header_digest {
            match Digest::parse(sent.trim()) {
                Ok(sent) => sent.verify(
                    &bytes,
                    &format!("{described} (Docker-Content-Digest header)"),
                )?,
                Err(_) => tracing::debug!(what, "ignoring an invalid Docker-Content-Digest header"),
            }
        }
        tracing::debug!(what, %digest, size = bytes.len(), "fetched manifest");
        Ok(FetchedManifest {
            bytes,
            digest,
            media_type,
        })
    }

    /// Fetch a small blob (a config) into memory, capped at `max_size`, verifying its
    /// digest and `expected_size`.
    pub fn fetch_blob(
        &self,
        digest: &Digest,
        expected_size: Option<u64>,
        max_size: u64,
        what: &str,
    ) -> Result<Vec<u8>> {
        let response = self.blob_response(digest, what)?;
        let bytes = self.read_capped(response, max_size, what, "blob")?;
        if let Some(size) = expected_size
            && bytes.len() as u64 != size
        {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "{what}: got {} bytes, its descriptor declares {size}",
                    bytes.len()
                ),
            ));
        }
        digest.verify(&bytes, what)?;
        Ok(bytes)
    }

    /// Open a blob as a stream (never buffered whole). The reader checks the digest and
    /// `expected_size` at the end; a stall longer than the read timeout fails it with
    /// [`ErrorKind::Network`].
    pub fn open_blob(
        &self,
        digest: &Digest,
        expected_size: Option<u64>,
        what: &str,
    ) -> Result<Box<dyn Read + Send>> {
        let response = self.blob_response(digest, what)?;
        let body = NetworkReader {
            inner: response.into_body().into_reader(),
            what: what.to_string(),
            deadline: self.deadline,
        };
        Ok(Box::new(digest.verifying_reader(
            body,
            expected_size,
            what.to_string(),
        )))
    }

    fn blob_response(&self, digest: &Digest, what: &str) -> Result<Response<Body>> {
        let path = format!("/v2/{}/blobs/{digest}", self.repository);
        let response = self.registry_get(&path, None, what)?;
        if !response.status().is_success() {
            return Err(self.status_error(response, what, "blob not found"));
        }
        Ok(response)
    }

    fn current_authorization(&self) -> Option<String> {
        self.authorization
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_authorization(&self, value: String) {
        *self
            .authorization
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(value);
    }

    /// GET a registry path with retries; on a 401, authenticate from its challenge and
    /// try once more.
    fn registry_get(&self, path: &str, accept: Option<&str>, what: &str) -> Result<Response<Body>> {
        let url = format!("{}{path}", self.base);
        let origin = Origin::parse(&url);
        self.authorized(what, |authorization| {
            self.get_once(&url, accept, authorization, origin.as_ref(), what)
        })
    }

    /// Run `attempt` with retries and the current `Authorization`; on a 401, authenticate
    /// from its challenge and run it once more.
    fn authorized(
        &self,
        what: &str,
        mut attempt: impl FnMut(Option<&str>) -> Attempt,
    ) -> Result<Response<Body>> {
        let mut reauthenticated = false;
        loop {
            let authorization = self.current_authorization();
            let response = self.with_retries(what, || attempt(authorization.as_deref()))?;
            if response.status().as_u16() == 401 && !reauthenticated {
                reauthenticated = true;
                if self.authenticate(&response, authorization.as_deref(), what)? {
                    continue;
                }
            }
            return Ok(response);
        }
    }

    /// Answer a 401's challenge. Returns whether there is a new `Authorization` to try.
    fn authenticate(
        &self,
        response: &Response<Body>,
        used: Option<&str>,
        what: &str,
    ) -> Result<bool> {
        let challenges: Vec<Challenge> = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(auth::parse_challenges)
            .collect();
        let Some(challenge) = auth::preferred_challenge(&challenges) else {
            tracing::debug!(registry = %self.registry, "401 without a usable challenge");
            return Ok(false);
        };
        if challenge.scheme == "bearer" {
            let token = self.fetch_token(challenge, what)?;
            self.set_authorization(format!("Bearer {token}"));
            return Ok(true);
        }
        let Some(credentials) = &self.credentials else {
            return Ok(false);
        };
        let basic = auth::basic_authorization(credentials);
        if used == Some(basic.as_str()) {
            return Ok(false);
        }
        self.set_authorization(basic);
        Ok(true)
    }

    fn fetch_token(&self, challenge: &Challenge, what: &str) -> Result<String> {
        let url = auth::token_url(challenge, &self.repository).ok_or_else(|| {
            Error::new(
                ErrorKind::Registry,
                format!(
                    "{what}: registry {} sent a bearer challenge without a realm",
                    self.registry
                ),
            )
        })?;
        let realm = Origin::parse(&url).ok_or_else(|| {
            Error::new(
                ErrorKind::Registry,
                format!(
                    "{what}: registry {} named an invalid token realm '{}'",
                    self.registry,
                    loggable(&url)
                ),
            )
        })?;
        if realm.scheme == "http" && !self.insecure {
            return Err(Error::new(
                ErrorKind::Registry,
                format!(
                    "{what}: registry {} wants tokens from the plain-http realm {}; refusing (mark the registry insecure to allow it)",
                    self.registry,
                    loggable(&url)
                ),
            ));
        }
        let basic = self.credentials.as_ref().map(auth::basic_authorization);
        tracing::debug!(registry = %self.registry, realm = loggable(&url), with_credentials = basic.is_some(), "fetching bearer token");
        let response = self.with_retries(what, || {
            self.get_once(&url, None, basic.as_deref(), Some(&realm), what)
        })?;
        let status = response.status().as_u16();
        if status == 401 || status == 403 {
            return Err(
                self.unauthorized(what, &format!("(token endpoint answered HTTP {status})"))
            );
        }
        if !response.status().is_success() {
            return Err(self.status_error(response, what, "token endpoint not found"));
        }
        let bytes = self.read_capped(response, MAX_SMALL_BODY, what, "token reply")?;
        auth::parse_token_response(
            &bytes,
            &format!("{what}: token for registry {}", self.registry),
        )
    }

    /// The agent for a URL's origin: the registry's own (possibly unverified) one for the
    /// registry and other insecure hosts, else the verifying one.
    fn agent_for(&self, origin: Option<&Origin>) -> &Agent {
        let own = Origin::parse(&self.base);
        match origin {
            Some(o) if own.as_ref() == Some(o) => &self.agent,
            Some(o)
                if self.options.is_insecure(&o.host_port())
                    || self.options.is_insecure(&o.host) =>
            {
                &self.agent
            }
            _ => &self.verifying_agent,
        }
    }

    /// One attempt: GET `url`, following up to [`MAX_REDIRECTS`] redirects by hand.
    /// `authorization` is sent only to `auth_origin` (same scheme, host and port).
    fn get_once(
        &self,
        url: &str,
        accept: Option<&str>,
        authorization: Option<&str>,
        auth_origin: Option<&Origin>,
        what: &str,
    ) -> Attempt {
        let mut url = url.to_string();
        for hop in 0..=MAX_REDIRECTS {
            let origin = Origin::parse(&url);
            let Some(current) = origin.as_ref() else {
                return Attempt::Fail(Error::new(
                    ErrorKind::Registry,
                    format!("{what}: invalid URL {}", loggable(&url)),
                ));
            };
            let mut request = self
                .agent_for(origin.as_ref())
                .get(&url)
                .header("Accept-Encoding", "identity");
            if let Some(deadline) = self.deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Attempt::Fail(deadline_error(what));
                }
                request = request.config().timeout_global(Some(left)).build();
            }
            if let Some(accept) = accept {
                request = request.header("Accept", accept);
            }
            let same_origin = auth_origin == Some(current);
            if let (true, Some(authorization)) = (same_origin, authorization) {
                request = request.header("Authorization", authorization);
            }
            let response = match request.call() {
                Ok(response) => response,
                Err(err) => return self.transport_failure(err, current, what),
            };
            let status = response.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                if hop == MAX_REDIRECTS {
                    return Attempt::Fail(Error::new(
                        ErrorKind::Registry,
                        format!(
                            "{what}: more than {MAX_REDIRECTS} redirects from registry {}",
                            self.registry
                        ),
                    ));
                }
                let next = header(&response, "location")
                    .and_then(|location| resolve_location(&url, location));
                let Some(next) = next else {
                    return Attempt::Fail(Error::new(
                        ErrorKind::Registry,
                        format!(
                            "{what}: {} sent a redirect without a valid Location",
                            current.host_port()
                        ),
                    ));
                };
                let next_origin = Origin::parse(&next);
                let downgrade = current.scheme == "https"
                    && next_origin.as_ref().is_some_and(|o| o.scheme == "http");
                if downgrade && !self.insecure {
                    return Attempt::Fail(Error::new(
                        ErrorKind::Registry,
                        format!(
                            "{what}: refusing the redirect from https to plain http ({})",
                            loggable(&next)
                        ),
                    ));
                }
                tracing::debug!(
                    from = loggable(&url),
                    to = loggable(&next),
                    "following redirect"
                );
                url = next;
                continue;
            }
            if matches!(status, 429 | 500 | 502 | 503 | 504) {
                let delay = retry_after(&response);
                let error = self.status_error(response, what, "not found");
                return Attempt::Retry(error, delay);
            }
            return Attempt::Response(response);
        }
        // The loop always returns; this keeps the compiler content without a panic.
        Attempt::Fail(Error::new(
            ErrorKind::Registry,
            format!("{what}: too many redirects"),
        ))
    }

    fn transport_failure(&self, err: ureq::Error, origin: &Origin, what: &str) -> Attempt {
        let host = origin.host_port();
        if portcullis_tls::is_tls_error(&err) {
            let hint = if self.insecure {
                ""
            } else {
                " (trust its CA with an extra CA certificate, or mark the registry insecure)"
            };
            return Attempt::Fail(
                Error::new(
                    ErrorKind::Tls,
                    format!(
                        "{what}: TLS with {host} (registry {}) failed: {err}{hint}",
                        self.registry
                    ),
                )
                .with_source(err),
            );
        }
        let network = |detail: String| {
            Error::new(
                ErrorKind::Network,
                format!("{what}: registry {} ({host}): {detail}", self.registry),
            )
        };
        match err {
            ureq::Error::Timeout(which) => {
                Attempt::Retry(network(format!("timed out ({which})")), None)
            }
            ureq::Error::Io(e) => {
                let retry = matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::BrokenPipe
                        | io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::NotConnected
                        | io::ErrorKind::Interrupted
                );
                let error = network(format!("connection failed: {e}")).with_source(e);
                if retry {
                    Attempt::Retry(error, None)
                } else {
                    Attempt::Fail(error)
                }
            }
            ureq::Error::ConnectionFailed => {
                Attempt::Retry(network("connection failed".to_string()), None)
            }
            ureq::Error::HostNotFound => {
                Attempt::Fail(network("cannot resolve the host name".to_string()))
            }
            ureq::Error::LargeResponseHeader(size, limit) => Attempt::Fail(Error::new(
                ErrorKind::Registry,
                format!(
                    "{what}: registry {} sent response headers of {size} bytes, over the {limit}-byte limit",
                    self.registry
                ),
            )),
            ureq::Error::Protocol(e) => Attempt::Fail(Error::new(
                ErrorKind::Registry,
                format!(
                    "{what}: registry {} sent a malformed HTTP response: {e}",
                    self.registry
                ),
            )),
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => Attempt::Fail(Error::new(
                ErrorKind::Registry,
                format!("{what}: could not build a request to {host} (invalid URL or header)"),
            )),
            other => Attempt::Fail(network(other.to_string())),
        }
    }

    /// Run `attempt` until it gives a response, fails for good, or the retry policy is
    /// spent. A server's `Retry-After` replaces the computed backoff.
    fn with_retries(
        &self,
        what: &str,
        mut attempt: impl FnMut() -> Attempt,
    ) -> Result<Response<Body>> {
        let policy: &RetryPolicy = &self.options.retry;
        let max_attempts = policy.max_attempts.max(1);
        let start = Instant::now();
        let mut backoff = policy.initial_backoff;
        let mut attempts = 1u32;
        loop {
            let (error, asked) = match attempt() {
                Attempt::Response(response) => return Ok(response),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry(error, asked) => (error, asked),
            };
            let delay = asked.unwrap_or_else(|| backoff.min(policy.max_backoff));
            let out_of_time = start.elapsed().saturating_add(delay) > policy.max_total;
            if attempts >= max_attempts || out_of_time {
                if attempts == 1 && !out_of_time {
                    return Err(error);
                }
                let why = if out_of_time && asked.is_some() {
                    format!(
                        "; the registry asked to retry after {}s, beyond the retry budget",
                        delay.as_secs()
                    )
                } else {
                    String::new()
                };
                return Err(Error::new(
                    error.kind(),
                    format!("{error} (gave up after {attempts} attempts{why})"),
                ));
            }
            if self
                .deadline
                .is_some_and(|d| d.saturating_duration_since(Instant::now()) <= delay)
            {
                return Err(Error::new(
                    error.kind(),
                    format!("{error} (no time left for a retry before the overall deadline)"),
                ));
            }
            tracing::debug!(what, attempt = attempts, delay_ms = delay.as_millis() as u64, error = %error, "retrying");
            (policy.sleep)(delay);
            backoff = backoff.saturating_mul(2);
            attempts += 1;
        }
    }

    /// Read a body of at most `max_size` bytes (refusing early on `Content-Length`).
    fn read_capped(
        &self,
        response: Response<Body>,
        max_size: u64,
        what: &str,
        kind_of_document: &str,
    ) -> Result<Vec<u8>> {
        let too_large = || {
            Error::new(
                ErrorKind::TooLarge,
                format!("{what}: the {kind_of_document} is larger than the {max_size}-byte limit"),
            )
        };
        let declared =
            header(&response, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|len| len > max_size) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        response
            .into_body()
            .into_reader()
            .take(max_size.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| network_read_error(what, e))?;
        if bytes.len() as u64 > max_size {
            return Err(too_large());
        }
        Ok(bytes)
    }

    fn unauthorized(&self, what: &str, detail: &str) -> Error {
        let message = match &self.credentials {
            Some(c) => format!(
                "{what}: registry {} refused the credentials of user '{}' {detail}",
                self.registry, c.username
            ),
            None => format!(
                "{what}: registry {} requires authentication (or the repository does not exist) and no credentials were found for it {detail}",
                self.registry
            ),
        };
        Error::new(ErrorKind::Unauthorized, message.trim_end().to_string())
    }

    /// Turn a non-success response into an error, using the registry's JSON error body.
    fn status_error(&self, response: Response<Body>, what: &str, not_found: &str) -> Error {
        let status = response.status().as_u16();
        let mut body = Vec::new();
        // Best effort: the body only adds detail.
        let _ = response
            .into_body()
            .into_reader()
            .take(MAX_SMALL_BODY)
            .read_to_end(&mut body);
        let errors = parse_registry_errors(&body);
        let detail = errors
            .iter()
            .map(
                |(code, message)| match (code.is_empty(), message.is_empty()) {
                    (false, false) => format!("{code}: {message}"),
                    (false, true) => code.clone(),
                    _ => message.clone(),
                },
            )
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let detail = self.sanitise(&detail);
        let detail = if detail.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}, {detail}")
        };
        let code_is = |wanted: &[&str]| errors.iter().any(|(c, _)| wanted.contains(&c.as_str()));
        if status == 404 || code_is(&["MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"]) {
            return Error::new(
                ErrorKind::NotFound,
                format!(
                    "{what}: {not_found} in registry {} ({detail})",
                    self.registry
                ),
            );
        }
        if status == 401 || status == 403 {
            return self.unauthorized(what, &format!("({detail})"));
        }
        Error::new(
            ErrorKind::Registry,
            format!("{what}: registry {} answered {detail}", self.registry),
        )
    }

    /// Make text from a server safe to show: no control characters, bounded length, and
    /// never our password or token, even if a hostile server echoes them.
    fn sanitise(&self, text: &str) -> String {
        let mut out: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(300)
            .collect();
        let mut secrets: Vec<String> = Vec::new();
        if let Some(c) = &self.credentials {
            secrets.push(c.password.clone());
            secrets.push(auth::basic_authorization(c));
        }
        if let Some(a) = self.current_authorization() {
            secrets.push(a.split_once(' ').map_or(a.clone(), |(_, t)| t.to_string()));
        }
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            out = out.replace(secret.as_str(), "<redacted>");
        }
        out
    }
}

fn network_read_error(what: &str, err: io::Error) -> Error {
    if err.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return Error::io(what, err);
    }
    Error::new(
        ErrorKind::Network,
        format!("{what}: reading the response failed: {err}"),
    )
    .with_source(err)
}

/// A body reader whose failures become [`ErrorKind::Network`] errors naming the blob.
struct NetworkReader<R> {
    inner: R,
    what: String,
    deadline: Option<Instant>,
}

impl<R: Read> Read for NetworkReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(deadline_error(&self.what).into_io());
        }
        self.inner
            .read(buf)
            .map_err(|e| network_read_error(&self.what, e).into_io())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let o = Origin::parse("https://Example.com/v2/").unwrap();
        assert_eq!(
            (o.scheme.as_str(), o.host.as_str(), o.port),
            ("https", "example.com", 443)
        );
        let o = Origin::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!(o.port, 5000);
        assert_eq!(o.host_port(), "127.0.0.1:5000");
        let o = Origin::parse("https://[::1]:8443/x").unwrap();
        assert_eq!((o.host.as_str(), o.port), ("::1", 8443));
        assert_eq!(o.host_port(), "[::1]:8443");
        assert_eq!(
            Origin::parse("https://a.b:443/x"),
            Origin::parse("https://a.b/y?z")
        );
        assert_ne!(Origin::parse("http://a.b/"), Origin::parse("https://a.b/"));
        for bad in [
            "ftp://x",
            "https://",
            "https://h:port/",
            "nothing",
            "https://[::1",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn resolves_locations() {
        let cur = "https://r.io:5000/v2/a/blobs/sha256:1?x=y";
        for (location, resolved) in [
            ("https://cdn.example/b?sig=1", "https://cdn.example/b?sig=1"),
            ("//cdn.example/b", "https://cdn.example/b"),
            ("/other/path", "https://r.io:5000/other/path"),
            ("sibling", "https://r.io:5000/v2/a/blobs/sibling"),
        ] {
            assert_eq!(
                resolve_location(cur, location).as_deref(),
                Some(resolved),
                "{location}"
            );
        }
        assert_eq!(resolve_location(cur, ""), None);
        assert_eq!(resolve_location(cur, "ftp://x"), None);
    }

    #[test]
    fn registry_error_bodies() {
        assert_eq!(
            parse_registry_errors(
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}},{"code":5}]}"#
            ),
            vec![
                ("MANIFEST_UNKNOWN".to_string(), "manifest unknown".to_string()),
                ("5".to_string(), String::new())
            ]
        );
        assert!(parse_registry_errors(b"<html>").is_empty());
        assert!(parse_registry_errors(br#"{"errors":"x"}"#).is_empty());
    }
}
