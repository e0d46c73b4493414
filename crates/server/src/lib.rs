//! `portcullis serve`: the admission webhook, the REST API and the scan engine over HTTPS.
//!
//! [`start`] turns a [`Settings`] (the configuration file merged with the environment and
//! flags) into a [`RunningServer`]: HTTPS with certificates reloaded when their files
//! change, `POST /imagecheck`, REST API v1 behind bearer tokens, `/metrics`, `/healthz`
//! and `/readyz`, scheduled database updates that swap in a verified database, and (with
//! the Kubernetes API enabled) a `WhiteListItem` reflector, `Audit` objects, and the
//! inventory of running Pods, rescanned on database changes and reported as
//! `PolicyReport`s, and a read-only dashboard under `/ui/`.
//!
//! HTTP: an accept loop of ours (TLS, the `maxConnections` limit, which axum has not) serves
//! each connection with hyper's HTTP/1 over an `axum::Router` (every route, the API's bearer
//! tokens as middleware); `hyper-util`'s `GracefulShutdown` drains the connections on stop.
//! Bodies are read by [`http::read_body`] (the 3 MiB cap and the `requestTimeout` deadline for
//! the whole body).

mod admission;
mod api;
pub mod audits;
mod bounded;
pub mod check_error;
pub mod db;
pub mod engine;
mod error;
mod flight;
pub mod follow;
pub mod harbor;
pub mod http;
pub mod inventory;
pub mod leader;
mod limits;
pub mod metrics;
pub mod notify;
pub mod policyreport;
pub mod registry;
pub mod remote;
mod report;
pub mod running;
pub mod scans;
mod server;
pub mod tls;
pub mod ui;
pub mod whitelist;

pub use check_error::{CheckError, CheckErrorKind};
pub use error::{Error, ErrorKind, Result};
pub use server::{App, RunningServer, Settings, Updates, load_policies, start};
