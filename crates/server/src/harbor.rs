//! The Harbor scanner adapter (API v1.2): `GET /api/v1/metadata`, `POST /api/v1/scan` and
//! `GET /api/v1/scan/{id}/report`, under `/harbor` of the main listener (and at the root
//! of the adapter's own listener, when configured).
//!
//! A scan request is answered 202 at once. In the background the registry credentials Harbor
//! passed are proven by reading the artifact's manifest, and then, within
//! `harbor.scanConcurrency` (apart from admission), the engine judges the image (the same
//! verdict cache, single flight and scan slots as admission, so the findings are the same
//! as at admission and 50 requests for 5 images pull 5 images). The credentials live only
//! as long as that work: they are never logged and never stored in a report.
//!
//! Bounds: `harbor.maxQueued` requests waiting or running; `harbor.maxReports` reports,
//! each kept for `harbor.reportTtl`, with the package lists of SBOM reports within
//! `harbor.reportCacheBytes`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{MethodRouter, any, get, post};
use hyper::StatusCode;
use hyper::header::{HeaderMap, HeaderValue};
use portcullis_catalog::{Os, Package};
use portcullis_config::HarborConfig;
use portcullis_harbor::media::{self, AcceptError};
use portcullis_harbor::report::{Cvss, Details};
use portcullis_harbor::request::Artifact;
use portcullis_harbor::{ErrorBody, RegistryAuth, ReportType, RequestError, Scanner};
use portcullis_oci::ImageInfo;
use portcullis_scan::ScanResult;
use portcullis_vulndb::{SeverityKind, Vulnerability};
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;

use crate::bounded::BoundedMap;
use crate::engine::{GivenAccess, unix_now};
use crate::http::{HttpResponse, Tokens, constant_time_eq, respond};
use crate::metrics::label;
use crate::server::App;

/// Seconds Harbor is told to wait before asking for a report again.
pub const REFRESH_AFTER_SECONDS: u64 = 5;

/// Where one scan request is.
#[derive(Debug, Clone)]
enum JobState {
    /// Queued or running.
    Pending,
    /// Finished.
    Done(Arc<Finished>),
    /// Failed, with the reason.
    Failed(String),
}

/// A finished scan: what its reports are made from.
#[derive(Debug)]
struct Finished {
    result: Arc<ScanResult>,
    /// The package list, for SBOM reports (`None`: not asked for, or no longer kept).
    inventory: Option<(ImageInfo, Option<Os>, Vec<Package>)>,
    details: HashMap<String, Details>,
    generated_at: String,
}

#[derive(Debug, Clone)]
struct Job {
    created: Instant,
    artifact: Artifact,
    state: JobState,
}

/// The adapter's state: its jobs, its scan slots and its credentials.
#[derive(Debug)]
pub struct HarborState {
    config: HarborConfig,
    jobs: Mutex<BoundedMap<String, Job>>,
    slots: Arc<Semaphore>,
    queued: AtomicUsize,
    counter: AtomicU64,
    /// Basic credentials: the username and the SHA-256 of `username:password`.
    basic: Option<(String, [u8; 32])>,
}

impl HarborState {
    /// The adapter of `config`; the Basic password is read from its file now.
    pub fn new(config: &HarborConfig) -> crate::Result<Self> {
        let basic = match &config.basic_auth {
            None => None,
            Some(auth) => {
                let password = std::fs::read_to_string(&auth.password_file).map_err(|e| {
                    crate::Error::new(
                        crate::ErrorKind::Config,
                        format!("harbor.basicAuth.passwordFile {}: {e}", auth.password_file),
                    )
                })?;
                let password = password.trim_end_matches(['\r', '\n']);
                if auth.username.is_empty() || password.is_empty() {
                    return Err(crate::Error::new(
                        crate::ErrorKind::Config,
                        "harbor.basicAuth: the username and the password must not be empty",
                    ));
                }
                Some((
                    auth.username.clone(),
                    Sha256::digest(format!("{}:{password}", auth.username).as_bytes()).into(),
                ))
            }
        };
        Ok(Self {
            jobs: Mutex::new(BoundedMap::weighed(
                config.max_reports.max(1),
                config.report_cache_bytes,
            )),
            slots: Arc::new(Semaphore::new(config.scan_concurrency.max(1))),
            queued: AtomicUsize::new(0),
            counter: AtomicU64::new(0),
            basic,
            config: config.clone(),
        })
    }

    /// Whether any credential can reach the adapter.
    pub fn has_credentials(&self, tokens: &Tokens) -> bool {
        self.basic.is_some() || tokens.accepts_any()
    }

    fn admits(&self, tokens: &Tokens, request: &Request) -> bool {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        if let Some(key) = header("x-scanneradapter-api-key") {
            return tokens.accepts(key);
        }
        let Some(authorization) = header("authorization") else {
            return false;
        };
        if let Some(token) = authorization.strip_prefix("Bearer ") {
            return tokens.accepts(token);
        }
        let Some(encoded) = authorization.strip_prefix("Basic ") else {
            return false;
        };
        let Some((_, expected)) = &self.basic else {
            return false;
        };
        use base64::Engine as _;
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let offered: [u8; 32] = Sha256::digest(&decoded).into();
        constant_time_eq(expected, &offered)
    }

    fn new_id(&self, artifact: &Artifact) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let salt = artifact.digest.as_deref().unwrap_or("");
        let h = hex::encode(&crate::scans::unique_id(n, salt)[..16]);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    fn put(&self, id: &str, job: Job, weight: u64) {
        let ttl = self.config.report_ttl.get();
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.drop_oldest_while(|j| j.created.elapsed() >= ttl);
        jobs.insert_weighed(id.to_string(), job, weight);
    }

    fn get(&self, id: &str) -> Option<Job> {
        let ttl = self.config.report_ttl.get();
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.drop_oldest_while(|j| j.created.elapsed() >= ttl);
        jobs.get(&id.to_string()).cloned()
    }
}

/// An error document with `status`.
fn error(status: StatusCode, message: &str) -> HttpResponse {
    respond(status, media::ERROR, ErrorBody::new(message).to_bytes())
}

fn json_response(
    status: StatusCode,
    content_type: &'static str,
    body: &impl serde::Serialize,
) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => respond(status, content_type, bytes),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("encoding the answer: {e}"),
        ),
    }
}

/// The adapter's routes (`/api/v1/metadata`; nested under `/harbor` too), each behind
/// the adapter's credentials and counted in `portcullis_harbor_requests_total` by endpoint
/// and status (other paths as `other`). Empty path segments are dropped before routing.
pub fn service(app: &Arc<App>) -> crate::http::Normalized {
    let router = Router::new()
        .route(
            "/api/v1/metadata",
            endpoint(
                app,
                "metadata",
                get(|State(app): AppState| async move { metadata(&app) }).fallback(not_allowed),
            ),
        )
        .route(
            "/api/v1/scan",
            endpoint(app, "scan", post(accept_scan).fallback(not_allowed)),
        )
        .route(
            "/api/v1/scan/{id}/report",
            endpoint(app, "report", get(report_for).fallback(not_allowed)),
        );
    let other = any(|| async { error(StatusCode::NOT_FOUND, "not found") });
    crate::http::normalized(
        router
            .fallback_service(endpoint(app, "other", other).with_state(Arc::clone(app)))
            .with_state(Arc::clone(app)),
    )
}

type AppState = State<Arc<App>>;

/// `route` for the endpoint `name` (`other`: no endpoint): every answer, refusals
/// included, is counted.
fn endpoint(
    app: &Arc<App>,
    name: &'static str,
    route: MethodRouter<Arc<App>>,
) -> MethodRouter<Arc<App>> {
    route.layer(middleware::from_fn_with_state(
        (Arc::clone(app), name),
        counted_and_admitted,
    ))
}

/// Only requests with the adapter's credentials reach an endpoint; each answer is counted.
async fn counted_and_admitted(
    State((app, endpoint)): State<(Arc<App>, &'static str)>,
    request: Request,
    next: Next,
) -> Response {
    let response = if app.harbor.admits(&app.tokens, &request) {
        next.run(request).await
    } else {
        let mut response = error(StatusCode::UNAUTHORIZED, "unauthorized");
        response.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer, Basic realm=\"portcullis\""),
        );
        response.into_response()
    };
    app.metrics
        .harbor_requests
        .get_or_create(&vec![
            ("endpoint".to_string(), endpoint.to_string()),
            ("code".to_string(), response.status().as_u16().to_string()),
        ])
        .inc();
    response
}

async fn not_allowed() -> HttpResponse {
    error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

async fn report_for(
    State(app): AppState,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> HttpResponse {
    let accept = headers
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    report(&app, &id, accept, query.as_deref().unwrap_or(""))
}

fn metadata(app: &Arc<App>) -> HttpResponse {
    let generation = app.engine.db().current();
    let doc = portcullis_harbor::metadata::metadata(
        &Scanner::default(),
        generation.as_ref().and_then(|g| g.built_at.as_deref()),
        generation.as_ref().map(|g| g.version.as_str()),
    );
    json_response(StatusCode::OK, media::METADATA, &doc)
}

/// Releases a place of the queue when dropped.
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn accept_scan(State(app): AppState, request: Request) -> HttpResponse {
    let body = match app.read_body(request).await {
        Ok(b) => b,
        Err(e) => {
            let status = match e {
                crate::http::BodyError::TooLarge | crate::http::BodyError::Broken(_) => {
                    StatusCode::BAD_REQUEST
                }
                crate::http::BodyError::TimedOut(_) => StatusCode::REQUEST_TIMEOUT,
            };
            return error(status, &format!("reading the scan request: {}", e.reason()));
        }
    };
    let asked = match portcullis_harbor::request::parse(&body) {
        Ok(a) => a,
        Err(e) => {
            let status = match &e {
                RequestError::InvalidJson(_) => StatusCode::BAD_REQUEST,
                RequestError::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                RequestError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            };
            return error(status, &e.to_string());
        }
    };
    let harbor = &app.harbor;
    let limit = harbor.config.max_queued.max(1);
    if harbor
        .queued
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < limit).then_some(n + 1)
        })
        .is_err()
    {
        app.metrics
            .harbor_scans
            .get_or_create(&label("result", "refused"))
            .inc();
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "{limit} scan requests are already waiting or running (harbor.maxQueued); retry later"
            ),
        );
    }
    let id = harbor.new_id(&asked.artifact);
    harbor.put(
        &id,
        Job {
            created: Instant::now(),
            artifact: asked.artifact.clone(),
            state: JobState::Pending,
        },
        1,
    );
    tracing::info!(id = %id, image = %asked.reference, "harbor scan request accepted");
    let job_id = id.clone();
    tokio::spawn(async move {
        let _queued = Queued(&app.harbor.queued);
        run_scan(&app, &job_id, asked).await;
    });
    json_response(
        StatusCode::ACCEPTED,
        media::SCAN_RESPONSE,
        &serde_json::json!({ "id": id }),
    )
}

async fn run_scan(app: &Arc<App>, id: &str, asked: portcullis_harbor::ScanRequest) {
    let started = Instant::now();
    let portcullis_harbor::ScanRequest {
        reference,
        artifact,
        auth,
        plain_http,
        sbom,
        ..
    } = asked;
    let mut access = GivenAccess {
        plain_http,
        ..GivenAccess::default()
    };
    match auth {
        RegistryAuth::Anonymous => {}
        RegistryAuth::Basic(credentials) => access.credentials = Some(credentials),
        RegistryAuth::Bearer(token) => access.token = Some(token),
    }
    let outcome = scan(app, &reference, access, sbom).await;
    // The credentials went with `access`, dropped inside `scan`.
    let (state, weight, result) = match outcome {
        Ok(mut finished) => {
            let mut weight = finished
                .inventory
                .as_ref()
                .map_or(1, |(_, _, packages)| crate::engine::catalog_bytes(packages));
            if weight > app.harbor.config.report_cache_bytes {
                // A package list larger than the whole bound is not kept (its SBOM report
                // answers 500 and says why); the vulnerability report is.
                finished.inventory = None;
                weight = 1;
            }
            (JobState::Done(Arc::new(finished)), weight, "ok")
        }
        Err(reason) => {
            tracing::warn!(id = %id, image = %reference, reason = %reason, "harbor scan failed");
            (JobState::Failed(reason), 1, "error")
        }
    };
    app.metrics
        .harbor_scans
        .get_or_create(&label("result", result))
        .inc();
    app.metrics
        .harbor_scan_seconds
        .observe(started.elapsed().as_secs_f64());
    app.harbor.put(
        id,
        Job {
            created: Instant::now(),
            artifact,
            state,
        },
        weight,
    );
}

async fn scan(
    app: &Arc<App>,
    reference: &portcullis_oci::Reference,
    access: GivenAccess,
    sbom: bool,
) -> Result<Finished, String> {
    let engine = &app.engine;
    engine
        .verify_access(reference, &access)
        .await
        .map_err(|e| {
            format!("the registry did not serve {reference} with the credentials given: {e}")
        })?;
    // Access is proven (one manifest request on the registry threads); the judging, which
    // may pull and scan, takes one of the adapter's own slots.
    let Ok(_slot) = Arc::clone(&app.harbor.slots).acquire_owned().await else {
        return Err("the adapter is shutting down".to_string());
    };
    let image = reference.to_string();
    let check = engine
        .check_with(crate::engine::Trigger::Harbor, &image, access, None)
        .await;
    let result = check.outcome.map_err(|e| e.to_string())?;
    let digest = check.digest.unwrap_or_default();
    let inventory = if sbom {
        let full = engine.with_packages(&digest, Arc::clone(&result));
        (!full.packages.is_empty() || full.findings.is_empty())
            .then(|| (full.image.clone(), full.os.clone(), full.packages.clone()))
    } else {
        None
    };
    let ids: Vec<String> = result.findings.iter().map(|f| f.id.clone()).collect();
    let details = match engine.db().current() {
        Some(generation) => generation
            .run(move |db| {
                db.records_for_many(&ids)
                    .map(|records| {
                        records
                            .into_iter()
                            .map(|(id, records)| (id, details_of(&records)))
                            .collect::<HashMap<_, _>>()
                    })
                    .unwrap_or_default()
            })
            .await
            .unwrap_or_default(),
        None => HashMap::new(),
    };
    Ok(Finished {
        result,
        inventory,
        details,
        generated_at: portcullis_report::Timestamp::from_unix(unix_now())
            .map(portcullis_report::Timestamp::to_rfc3339)
            .unwrap_or_default(),
    })
}

/// Links, CWE ids, preferred CVSS metrics and their source from a vulnerability's records: NVD's
/// own metrics first, then the CNA's, then any advisory's; v3.1 before v3.0.
pub fn details_of(records: &[Vulnerability]) -> Details {
    let mut references = Vec::new();
    let mut cwe_ids: Vec<String> = Vec::new();
    for record in records {
        for cwe in &record.cwe_ids {
            if !cwe_ids.contains(cwe) {
                cwe_ids.push(cwe.clone());
            }
        }
        for reference in &record.references {
            if !references.contains(reference) {
                references.push(reference.clone());
            }
        }
    }
    // (rank, source label, statement): lower rank wins.
    let mut candidates = Vec::new();
    for record in records {
        for statement in &record.severities {
            let nvd = record.source == "nvd";
            let primary = statement
                .metric_type
                .as_deref()
                .map_or(statement.source == "nvd@nist.gov", |t| {
                    t.eq_ignore_ascii_case("Primary")
                });
            let (rank, source) = match (nvd, primary) {
                (true, true) => (0, "nvd".to_string()),
                (true, false) => (1, format!("nvd:cna:{}", statement.source)),
                (false, _) => (2, record.source.clone()),
            };
            candidates.push((rank, source, statement));
        }
    }
    let version_rank = |vector: &str| u8::from(vector.starts_with("CVSS:3.0"));
    let pick = |kind: SeverityKind| {
        candidates
            .iter()
            .filter(|(_, _, s)| s.kind == kind && (s.vector.is_some() || s.score.is_some()))
            .min_by_key(|(rank, _, s)| (*rank, version_rank(s.vector.as_deref().unwrap_or(""))))
    };
    let v3 = pick(SeverityKind::CvssV3);
    let v2 = pick(SeverityKind::CvssV2);
    let valid = |score: Option<f64>| score.filter(|s| s.is_finite() && (0.0..=10.0).contains(s));
    let cvss = Cvss {
        score_v3: v3.and_then(|(_, _, s)| valid(s.score)),
        vector_v3: v3.and_then(|(_, _, s)| s.vector.clone()),
        score_v2: v2.and_then(|(_, _, s)| valid(s.score)),
        vector_v2: v2.and_then(|(_, _, s)| s.vector.clone()),
    };
    Details {
        references,
        cvss,
        cwe_ids,
        cvss_source: v3.or(v2).map(|(_, source, _)| source.clone()),
    }
}

fn report(app: &Arc<App>, id: &str, accept: Option<&str>, query: &str) -> HttpResponse {
    let wanted = match media::negotiate(accept) {
        Ok(w) => w,
        Err(AcceptError::NotProduced(media_type)) => {
            return error(
                StatusCode::NOT_IMPLEMENTED,
                &format!(
                    "{media_type} is not produced; ask for {}, {} or {}",
                    media::HARBOR_VULNERABILITY_REPORT,
                    media::SECURITY_VULNERABILITY_REPORT,
                    media::SBOM_REPORT
                ),
            );
        }
        Err(AcceptError::Unknown(offered)) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("Accept: '{offered}' names no report this scanner produces"),
            );
        }
    };
    let sbom_format = if wanted == ReportType::Sbom {
        let asked = query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            // Percent-decoded; `+` stays `+` (media types contain it).
            (k == "sbom_media_type").then(|| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        });
        match asked
            .as_deref()
            .and_then(portcullis_harbor::report::sbom_format)
        {
            Some(format) => Some(format),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "an SBOM report needs ?sbom_media_type={} or {}",
                        media::SPDX_JSON,
                        media::CYCLONEDX_JSON
                    ),
                );
            }
        }
    } else {
        None
    };
    let Some(job) = app.harbor.get(id) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!(
                "no scan request {}",
                id.chars().take(80).collect::<String>()
            ),
        );
    };
    let finished = match job.state {
        JobState::Pending => {
            let mut response = respond(StatusCode::FOUND, media::ERROR, Vec::new());
            response.headers_mut().remove(hyper::header::CONTENT_TYPE);
            response
                .headers_mut()
                .insert("refresh-after", HeaderValue::from(REFRESH_AFTER_SECONDS));
            return response;
        }
        JobState::Failed(reason) => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, &reason);
        }
        JobState::Done(finished) => finished,
    };
    let scanner = Scanner::default();
    match sbom_format {
        None => {
            let report = portcullis_harbor::report::vulnerability_report(
                &finished.result,
                &job.artifact,
                &scanner,
                &finished.generated_at,
                &finished.details,
            );
            json_response(StatusCode::OK, wanted.media_type(), &report)
        }
        Some(format) => {
            let Some((image, os, packages)) = &finished.inventory else {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the package list of this scan is not kept (the request did not enable the sbom capability, or it was evicted); request a new scan",
                );
            };
            match portcullis_harbor::report::sbom_report(
                image,
                os.as_ref(),
                packages,
                format,
                &job.artifact,
                &scanner,
                &finished.generated_at,
            ) {
                Ok(doc) => json_response(StatusCode::OK, media::SBOM_REPORT, &doc),
                Err(e) => error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("rendering the SBOM: {e}"),
                ),
            }
        }
    }
}
