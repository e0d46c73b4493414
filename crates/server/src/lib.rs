//! `portcullis serve`: the admission webhook, the REST API and the scan engine over HTTPS.

mod bounded;
pub mod db;
pub mod engine;
mod error;
mod flight;
pub mod metrics;
pub mod registry;
pub mod tls;

pub use error::{Error, ErrorKind, Result};
