//! `portcullis serve` over real TLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admission;
mod bench_rescan;
mod caches;
mod engine;
mod follow;
mod harness;
mod http;
mod isolation;
mod kubernetes;
mod policy_reload;
mod remote;
mod running;
mod ui;
mod updates;
