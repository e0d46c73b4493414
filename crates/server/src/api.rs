//! REST API v1 (bearer tokens): scans, image vulnerabilities, policies, audits, whitelists,
//! and the views of what runs (workloads, images, the scan log).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{delete, get, post};
use hyper::{Method, StatusCode, Uri};
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use portcullis_k8s::{WhiteListItem, WhiteListItemSpec};
use serde::Deserialize;
use serde_json::json;

use crate::http::{HttpResponse, error, json, unauthorized};
use crate::inventory::{WorkloadRef, severity_rank};
use crate::scans::ScanStatus;
use crate::server::App;
use crate::whitelist::WhitelistItem;

type AppState = State<Arc<App>>;

/// The API's routes (nested at `/api/v1`, so `/scans` is `/api/v1/scans`), every one behind the bearer
/// tokens: an unauthenticated request gets the same 401 whatever it asks, an authenticated
/// one for no route (or with another method) a 404 naming it. Empty path segments are
/// dropped before routing (`/api/v1/scans/` is `/api/v1/scans`).
pub fn service(app: &Arc<App>) -> crate::http::Normalized {
    let router = Router::new()
        .route("/scans", post(start_scan))
        .route("/scans/{id}", get(scan))
        .route("/images/{digest}/vulnerabilities", get(vulnerabilities))
        .route("/images/{digest}/workloads", get(image_workloads))
        .route("/images", get(images))
        .route("/workloads", get(workloads))
        .route("/scanlog", get(scan_log))
        .route("/policies", get(policies))
        .route("/database", get(database))
        .route("/engine/check", post(engine_check))
        .route("/audits", get(audits))
        .route(
            "/whitelists",
            get(whitelists)
                .post(add_whitelist)
                .delete(remove_whitelist_named),
        )
        .route("/whitelists/{name}", delete(remove_whitelist_at))
        .fallback(no_such_endpoint)
        .method_not_allowed_fallback(no_such_endpoint)
        .layer(middleware::from_fn_with_state(Arc::clone(app), authorized))
        .with_state(Arc::clone(app));
    crate::http::normalized(router)
}

/// Only requests with an accepted bearer token reach the API.
async fn authorized(State(app): AppState, request: Request, next: Next) -> Response {
    if !app.tokens.admits(&request) {
        app.metrics
            .refused
            .get_or_create(&crate::metrics::label("reason", "unauthorized"))
            .inc();
        return unauthorized().into_response();
    }
    next.run(request).await
}

/// The 404 naming what was asked (`uri` is the path under `/api/v1`).
async fn no_such_endpoint(method: Method, uri: Uri) -> HttpResponse {
    let under = uri.path().trim_end_matches('/');
    error(
        StatusCode::NOT_FOUND,
        &format!("no such endpoint: {method} /api/v1{under}"),
    )
}

async fn scan(State(app): AppState, Path(id): Path<String>) -> HttpResponse {
    match app.scans.get(&id) {
        Some(entry) => json(StatusCode::OK, &entry),
        None => error(StatusCode::NOT_FOUND, &format!("no scan {id}")),
    }
}

async fn scan_log(State(app): AppState) -> HttpResponse {
    json(StatusCode::OK, &json!({ "scans": app.engine.scan_log() }))
}

async fn audits(State(app): AppState) -> HttpResponse {
    json(StatusCode::OK, &json!({ "audits": app.audits.list() }))
}

async fn whitelists(State(app): AppState) -> HttpResponse {
    json(
        StatusCode::OK,
        &json!({ "whitelists": app.whitelist.items() }),
    )
}

/// `DELETE /whitelists?name=NAME`.
async fn remove_whitelist_named(State(app): AppState, RawQuery(query): RawQuery) -> HttpResponse {
    match query_value(query.as_deref().unwrap_or(""), "name") {
        Some(name) => remove_whitelist(&app, &name).await,
        None => error(
            StatusCode::BAD_REQUEST,
            "DELETE /api/v1/whitelists needs ?name=NAME or /whitelists/NAME",
        ),
    }
}

/// `DELETE /whitelists/NAME`.
async fn remove_whitelist_at(State(app): AppState, Path(name): Path<String>) -> HttpResponse {
    remove_whitelist(&app, &name).await
}

async fn database(State(app): AppState) -> HttpResponse {
    match app.engine.db().current() {
        Some(current) => json(
            StatusCode::OK,
            &crate::remote::DatabaseAnswer {
                content_id: current.version.clone(),
                built_at: current.built_at.clone(),
            },
        ),
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no vulnerability database is loaded yet",
        ),
    }
}

fn no_inventory() -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        "the inventory of running workloads is off (it needs kubernetes: true and inventory.enabled)",
    )
}

/// The views' rows grouped by digest: references and workloads.
fn workload_json(w: &WorkloadRef) -> serde_json::Value {
    json!({"namespace": w.namespace, "kind": w.kind, "name": w.name})
}

async fn images(State(app): AppState) -> HttpResponse {
    let Some(running) = &app.running else {
        return no_inventory();
    };
    let top = running.inventory.top_findings;
    let mut by_digest: BTreeMap<String, (BTreeSet<String>, BTreeSet<WorkloadRef>)> =
        BTreeMap::new();
    let rows = running.rows();
    let mut states = BTreeMap::new();
    for row in rows {
        let Some(digest) = row.digest else { continue };
        let entry = by_digest.entry(digest.clone()).or_default();
        entry.0.insert(row.image);
        entry.1.insert(row.workload);
        if let Some(state) = row.state {
            states.insert(digest, state);
        }
    }
    let images: Vec<_> = by_digest
        .into_iter()
        .map(|(digest, (references, workloads))| {
            let state = states.remove(&digest).unwrap_or_default();
            json!({
                "digest": digest,
                "references": references,
                "workloads": workloads.iter().map(workload_json).collect::<Vec<_>>(),
                "summary": state.summary(top),
                "lastScan": state.last_scan,
                "database": state.database,
            })
        })
        .collect();
    json(
        StatusCode::OK,
        &json!({ "images": images, "leading": *running.leading.borrow() }),
    )
}

async fn image_workloads(State(app): AppState, Path(digest): Path<String>) -> HttpResponse {
    let Some(running) = &app.running else {
        return no_inventory();
    };
    let workloads: BTreeSet<WorkloadRef> = running
        .rows()
        .into_iter()
        .filter(|r| r.digest.as_deref() == Some(digest.as_str()))
        .map(|r| r.workload)
        .collect();
    if workloads.is_empty() {
        return error(
            StatusCode::NOT_FOUND,
            &format!("{digest}: no running workload runs it"),
        );
    }
    json(
        StatusCode::OK,
        &json!({
            "digest": digest,
            "workloads": workloads.iter().map(workload_json).collect::<Vec<_>>(),
        }),
    )
}

async fn workloads(State(app): AppState, RawQuery(query): RawQuery) -> HttpResponse {
    let query = query.as_deref().unwrap_or("");
    let Some(running) = &app.running else {
        return no_inventory();
    };
    let namespace = query_value(query, "namespace");
    let minimum = match query_value(query, "severity") {
        None => 0,
        Some(s) => match severity_rank(&s) {
            0 => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "severity: one of unknown, negligible, low, medium, high, critical",
                );
            }
            n => n,
        },
    };
    let top = running.inventory.top_findings;
    let mut grouped: BTreeMap<WorkloadRef, Vec<serde_json::Value>> = BTreeMap::new();
    let mut highest: BTreeMap<WorkloadRef, String> = BTreeMap::new();
    for row in running.rows() {
        if namespace
            .as_deref()
            .is_some_and(|ns| ns != row.workload.namespace)
        {
            continue;
        }
        let state = row.state.unwrap_or_default();
        let summary = state.summary(top);
        let worst = highest
            .entry(row.workload.clone())
            .or_insert_with(|| "none".to_string());
        if severity_rank(&summary.highest) > severity_rank(worst) {
            *worst = summary.highest.clone();
        }
        grouped.entry(row.workload).or_default().push(json!({
            "container": row.container,
            "image": row.image,
            "digest": row.digest,
            "summary": summary,
            "lastScan": state.last_scan,
            "database": state.database,
        }));
    }
    let workloads: Vec<_> = grouped
        .into_iter()
        .filter(|(w, _)| {
            minimum == 0 || highest.get(w).is_some_and(|h| severity_rank(h) >= minimum)
        })
        .map(|(w, containers)| {
            json!({
                "namespace": w.namespace,
                "kind": w.kind,
                "name": w.name,
                "highest": highest.get(&w),
                "containers": containers,
            })
        })
        .collect();
    json(
        StatusCode::OK,
        &json!({ "workloads": workloads, "leading": *running.leading.borrow() }),
    )
}

fn query_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key && !v.is_empty()).then(|| v.to_string())
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanRequest {
    image: String,
}

async fn start_scan(State(app): AppState, request: Request) -> HttpResponse {
    let body = match app.read_body(request).await {
        Ok(b) => b,
        Err(e) => return e.response(),
    };
    let asked: ScanRequest = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("expected {{\"image\": \"REFERENCE\"}}: {e}"),
            );
        }
    };
    if asked.image.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "image: empty");
    }
    let entry = app.scans.start(&asked.image);
    let answer = json(StatusCode::ACCEPTED, &entry);
    tokio::spawn(async move {
        let own = app.namespace.clone();
        let check = app
            .engine
            .check_for(crate::engine::Trigger::Api, &entry.image, &own, &[], None)
            .await;
        let mut done = entry;
        done.digest = check.digest;
        match check.outcome {
            Ok(result) => {
                let result = match &done.digest {
                    Some(digest) => app.engine.with_packages(digest, result),
                    None => result,
                };
                done.status = ScanStatus::Done;
                done.report = Some(crate::report::to_json(&result));
            }
            Err(reason) => {
                done.status = ScanStatus::Failed;
                done.reason = Some(reason.kind().as_str());
                done.error = Some(reason.to_string());
            }
        }
        app.scans.put(done);
    });
    answer
}

async fn vulnerabilities(State(app): AppState, Path(digest): Path<String>) -> HttpResponse {
    match app.engine.latest(&digest) {
        Some(result) => json(
            StatusCode::OK,
            &json!({
                "digest": digest,
                "image": result.image.reference,
                "vulnerabilities": result.findings,
            }),
        ),
        None => error(
            StatusCode::NOT_FOUND,
            &format!("{digest}: not scanned by this server"),
        ),
    }
}

async fn policies(State(app): AppState) -> HttpResponse {
    let set = app.engine.policies();
    let mut ids: Vec<String> = set.policies.iter().map(|p| p.id.clone()).collect();
    for id in portcullis_policy::BUILTIN_IDS {
        if !ids.iter().any(|i| i == id) {
            ids.push((*id).to_string());
        }
    }
    let policies: Vec<_> = ids
        .iter()
        .filter_map(|id| set.policy(id))
        .map(|p| json!({"id": p.id, "description": p.description, "version": p.version()}))
        .collect();
    json(
        StatusCode::OK,
        &json!({
            "default": set.default_policy,
            "mappings": set.mappings,
            "policies": policies,
        }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewWhitelist {
    name: String,
    reason: String,
    #[serde(default)]
    regexp: Option<String>,
    #[serde(default)]
    creator: Option<String>,
}

async fn add_whitelist(State(app): AppState, request: Request) -> HttpResponse {
    let body = match app.read_body(request).await {
        Ok(b) => b,
        Err(e) => return e.response(),
    };
    let asked: NewWhitelist = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("expected {{\"name\", \"reason\", \"regexp\"?}}: {e}"),
            );
        }
    };
    if asked.name.trim().is_empty() || asked.reason.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "name and reason are required");
    }
    if let Some(message) = app.whitelist_problem(&asked.name, asked.regexp.as_deref()) {
        return error(StatusCode::BAD_REQUEST, &message);
    }
    let item = WhitelistItem {
        name: asked.name.clone(),
        reason: asked.reason.clone(),
        regexp: asked.regexp.clone(),
        creator: asked.creator.clone(),
        origin: String::new(),
    };
    if let Some(client) = &app.kube {
        let api: kube::Api<WhiteListItem> = kube::Api::all(client.clone());
        let resource = WhiteListItem {
            metadata: ObjectMeta {
                name: Some(asked.name.clone()),
                ..ObjectMeta::default()
            },
            spec: WhiteListItemSpec {
                reason: asked.reason,
                creator: asked.creator,
                regexp: asked.regexp,
            },
        };
        if let Err(e) = api.create(&PostParams::default(), &resource).await {
            return match e {
                kube::Error::Api(status) if status.code == 409 => error(
                    StatusCode::CONFLICT,
                    &format!("WhiteListItem {} exists", item.name),
                ),
                other => error(
                    StatusCode::BAD_GATEWAY,
                    &format!("creating WhiteListItem {}: {other}", item.name),
                ),
            };
        }
        let mut shown = item;
        shown.origin = format!("WhiteListItem/{}", shown.name);
        return json(StatusCode::CREATED, &shown);
    }
    app.whitelist.add_local(item.clone());
    app.rebuild_whitelist();
    let mut shown = item;
    shown.origin = "api".to_string();
    json(StatusCode::CREATED, &shown)
}

async fn remove_whitelist(app: &Arc<App>, name: &str) -> HttpResponse {
    if app.whitelist.in_config(name) {
        return error(
            StatusCode::CONFLICT,
            &format!("{name}: defined in the configuration file; remove it there"),
        );
    }
    if let Some(client) = &app.kube {
        let api: kube::Api<WhiteListItem> = kube::Api::all(client.clone());
        return match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => json(StatusCode::OK, &json!({"deleted": name})),
            Err(kube::Error::Api(status)) if status.code == 404 => {
                error(StatusCode::NOT_FOUND, &format!("no whitelist entry {name}"))
            }
            Err(e) => error(
                StatusCode::BAD_GATEWAY,
                &format!("deleting WhiteListItem {name}: {e}"),
            ),
        };
    }
    if app.whitelist.remove_local(name) {
        app.rebuild_whitelist();
        json(StatusCode::OK, &json!({"deleted": name}))
    } else {
        error(StatusCode::NOT_FOUND, &format!("no whitelist entry {name}"))
    }
}

/// The longest a replica may ask the engine to work on one image.
const MAX_ENGINE_TIMEOUT: u64 = 300;

/// `POST /api/v1/engine/check`: scan an image for a replica in remote engine mode, with the
/// registry credentials it found, once it proved (with them) that it may read the image.
async fn engine_check(State(app): AppState, request: Request) -> HttpResponse {
    let body = match app.read_body(request).await {
        Ok(b) => b,
        Err(e) => return e.response(),
    };
    let asked: crate::remote::CheckRequest = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("expected {{\"image\": \"REFERENCE\", ...}}: {e}"),
            );
        }
    };
    if app.engine.is_remote() {
        return error(
            StatusCode::CONFLICT,
            "this server is itself in remote engine mode",
        );
    }
    let reference = match portcullis_oci::Reference::parse(&asked.image) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("invalid image reference: {e}"),
            );
        }
    };
    let access = crate::engine::GivenAccess {
        credentials: match (asked.username, asked.password) {
            (Some(username), Some(password)) => {
                Some(portcullis_oci::Credentials { username, password })
            }
            _ => None,
        },
        token: None,
        plain_http: asked.plain_http,
    };
    if let Err(e) = app.engine.verify_access(&reference, &access).await {
        return check_error(&e);
    }
    let timeout = asked
        .timeout_seconds
        .unwrap_or(MAX_ENGINE_TIMEOUT)
        .min(MAX_ENGINE_TIMEOUT);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(timeout);
    let check = app
        .engine
        .check_with(
            crate::engine::Trigger::Remote,
            &asked.image,
            access,
            Some(deadline),
        )
        .await;
    let (Some(digest), Ok(result)) = (check.digest, check.outcome.clone()) else {
        let reason = check
            .outcome
            .err()
            .unwrap_or_else(|| crate::CheckError::new(crate::CheckErrorKind::Scan, "no digest"));
        return check_error(&reason);
    };
    let database = app.engine.database_version().unwrap_or_default();
    json(
        StatusCode::OK,
        &crate::remote::CheckAnswer {
            digest,
            database,
            result: (*result).clone(),
        },
    )
}

/// A 422 naming why an image could not be judged: `{"error": message, "kind": kind}` (the
/// kind lets a replica in remote engine mode keep it).
fn check_error(reason: &crate::CheckError) -> HttpResponse {
    json(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({"error": reason.message(), "kind": reason.kind().as_str()}),
    )
}
