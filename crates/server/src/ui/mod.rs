//! The read-only dashboard under `/ui/`: server-rendered HTML that works without
//! JavaScript (a small embedded script only sorts and filters tables), assets embedded in
//! the binary, the API's bearer tokens or a login session, and every cluster or image value
//! escaped.
//!
//! Routes: `/ui/` (overview), `/ui/images`, `/ui/images/{digest}`, `/ui/workloads`,
//! `/ui/search?q=ID`, `/ui/audits`, `/ui/policies`, `/ui/login` (GET form, POST `token`),
//! `/ui/logout` (POST with `csrf`), `/ui/static/app.{css,js}`.

mod html;
mod pages;
mod session;
mod view;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::routing::get;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

pub use session::{MAX_SESSIONS, SESSION_TTL, Sessions};

use crate::http::HttpResponse;
use crate::server::App;

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

/// The content security policy of every dashboard page: nothing inline, nothing foreign.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The dashboard's routes: the assets, the login and logout forms, and the pages (GET of
/// any other path under `/ui/`, `/ui/logout` included, rendered by [`pages::render`]). A
/// method a path does not take gets 405 with `Allow: GET`.
pub fn router() -> Router<Arc<App>> {
    let css = || async { asset("text/css; charset=utf-8", CSS) };
    let js = || async { asset("text/javascript; charset=utf-8", JS) };
    let login_form = || async { html(StatusCode::OK, pages::login(None)) };
    Router::new()
        .route(
            "/ui",
            get(|| async { redirect("/ui/", None) }).fallback(not_allowed),
        )
        .route("/ui/", get(page).fallback(not_allowed))
        .route("/ui/{*page}", get(page).fallback(not_allowed))
        .route("/ui/static/app.css", get(css).fallback(not_allowed))
        .route("/ui/static/app.js", get(js).fallback(not_allowed))
        .route(
            "/ui/login",
            get(login_form).post(login).fallback(not_allowed),
        )
        .route("/ui/logout", get(page).post(logout).fallback(not_allowed))
}

/// GET (or HEAD) a page: with a login session or a bearer token, else to the login form.
async fn page(State(app): State<Arc<App>>, request: Request) -> HttpResponse {
    let session = app.ui_sessions.find(&request);
    if session.is_none() && !app.tokens.admits(&request) {
        return redirect("/ui/login", None);
    }
    let csrf = session.as_ref().map(|(_, s)| s.csrf.as_str());
    let uri = request.uri();
    let (status, body) = pages::render(&app, uri.path(), uri.query().unwrap_or(""), csrf);
    html(status, body)
}

async fn not_allowed() -> HttpResponse {
    let mut response = html(
        StatusCode::METHOD_NOT_ALLOWED,
        pages::message("Not allowed", "The dashboard is read-only."),
    );
    response
        .headers_mut()
        .insert(hyper::header::ALLOW, HeaderValue::from_static("GET"));
    response
}

/// POST `/ui/login`: a valid `token` field gets a session cookie and the overview.
async fn login(State(app): State<Arc<App>>, request: Request) -> HttpResponse {
    let body = match app.read_body(request).await {
        Ok(b) => b,
        Err(e) => return e.response(),
    };
    let token = session::form_field(&body, "token").unwrap_or_default();
    if !app.tokens.accepts(&token) {
        app.metrics
            .refused
            .get_or_create(&crate::metrics::label("reason", "unauthorized"))
            .inc();
        return html(
            StatusCode::UNAUTHORIZED,
            pages::login(Some("That token is not accepted.")),
        );
    }
    match app.ui_sessions.create() {
        Some((id, _)) => redirect("/ui/", Some(&session::set_cookie(&id))),
        None => html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::message("Unavailable", "No session could be created; try again."),
        ),
    }
}

/// POST `/ui/logout`: ends the session when the form's `csrf` matches it.
async fn logout(State(app): State<Arc<App>>, request: Request) -> HttpResponse {
    let found = app.ui_sessions.find(&request);
    let body = match app.read_body(request).await {
        Ok(b) => b,
        Err(e) => return e.response(),
    };
    let csrf = session::form_field(&body, "csrf");
    match found {
        Some((id, session)) if csrf.as_deref() == Some(session.csrf.as_str()) => {
            app.ui_sessions.remove(&id);
            redirect("/ui/login", Some(&session::set_cookie("")))
        }
        _ => html(
            StatusCode::FORBIDDEN,
            pages::message("Forbidden", "The logout form was not this session's."),
        ),
    }
}

fn with_security_headers(mut response: HttpResponse) -> HttpResponse {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    with_security_headers(crate::http::respond(
        status,
        "text/html; charset=utf-8",
        body,
    ))
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    with_security_headers(crate::http::respond(
        StatusCode::OK,
        content_type,
        Bytes::from_static(body.as_bytes()),
    ))
}

/// A `303 See Other` to `location`, setting `cookie` when given.
fn redirect(location: &'static str, cookie: Option<&str>) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    headers.insert(hyper::header::LOCATION, HeaderValue::from_static(location));
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert(hyper::header::SET_COOKIE, value);
    }
    with_security_headers(response)
}
