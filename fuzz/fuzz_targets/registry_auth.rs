#![no_main]
//! What a registry (or a user's docker config) says about authentication never panics: a
//! `WWW-Authenticate` header's challenges and the token URL built from them, a token
//! endpoint's JSON reply, and a `config.json` or `.dockercfg` with its credential lookup.
//! A token accepted is fit for an `Authorization` header.

use libfuzzer_sys::fuzz_target;
use portcullis_dockercfg::{Config, Layout};
use portcullis_oci::fuzzing::registry_auth;

fuzz_target!(|data: &[u8]| {
    let (_url, token) = registry_auth(data);
    if let Ok(token) = token {
        assert!(!token.is_empty());
        assert!(token.bytes().all(|b| b.is_ascii_graphic()), "{token:?}");
    }
    for layout in [Layout::ConfigJson, Layout::DockerCfg] {
        if let Ok(config) = Config::parse(data, layout, "config.json") {
            let _ = config.find("registry.example:5000");
            let _ = config.find("docker.io");
            let _ = config.helper_for("ghcr.io");
            let _ = config.credentials().count();
        }
    }
});
