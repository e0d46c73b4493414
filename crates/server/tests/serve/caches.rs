//! Issue 19: the tag map, the verdict cache and the catalogue cache stay within their
//! bounds however many distinct images are judged.

use portcullis_config::RegistryConfig;
use serde_json::json;

use crate::admission::{POLICIES, admit, pod};
use crate::harness::{TestServer, base_config};
use crate::isolation::{Trickle, vm_rss_kib};

#[test]
fn caches_stay_within_their_bounds() {
    let registry = Trickle::start(false);
    let mut config = base_config(None);
    config.policy.id = None;
    config.policy.inline = Some(POLICIES.to_string());
    config.registries.push(RegistryConfig {
        registry: registry.host_port(),
        secret: None,
        insecure: true,
    });
    config.tag_cache_size = 12;
    config.verdict_cache_size = 5;
    // Room for a catalogue or two of the small Alpine 3.20 image.
    config.catalog_cache_bytes = 16 * 1024;
    config.scan_budget = portcullis_config::Duration::from_secs(60);
    let server = TestServer::start(config, |_| {});
    server.wait_ready();
    let rss_before = vm_rss_kib();
    // 5 reviews of 6 images each: 30 distinct tags, 30 distinct digests, all judged.
    for review in 0..5 {
        let images: Vec<String> = (0..6)
            .map(|i| format!("{}/app{review}x{i}/web:v{i}", registry.host_port()))
            .collect();
        let refs: Vec<&str> = images.iter().map(String::as_str).collect();
        let answer = admit(&server, "v1", &pod("team-a", json!({}), &refs, &[]));
        assert_eq!(answer["allowed"], true, "{answer}");
        assert!(!answer.to_string().contains("not judged"), "{answer}");
    }
    let (tags, verdicts, catalogs, bytes) = server.app().engine.cache_sizes();
    assert_eq!(tags, 12);
    assert_eq!(verdicts, 5);
    assert!(catalogs <= 5, "{catalogs} catalogues");
    assert!(bytes <= 16 * 1024, "{bytes} catalogue bytes");
    let grown = vm_rss_kib().saturating_sub(rss_before);
    assert!(grown < 64 * 1024, "RSS grew by {grown} KiB");
}
