//! Integration tests of the `portcullis-oci` public API against real registries
//! (Debian's `docker-registry`), images built with `umoci`/`skopeo`, and hostile fixtures.

// Test code: helpers outside #[test] functions may unwrap and panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod config;
mod diff_ids;
mod hostile;
mod layered;
mod links;
mod local_sources;
mod multiarch;
mod sources;
