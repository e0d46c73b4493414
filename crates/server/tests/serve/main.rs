//! `portcullis serve` over real TLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admission;
mod engine;
mod harness;
mod http;
mod kubernetes;
mod updates;
