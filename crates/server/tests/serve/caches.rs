//! Issue 19: the tag map, the verdict cache and the catalogue cache stay within their
//! bounds however many distinct images are judged.

use portcullis_config::RegistryConfig;
use serde_json::json;

use crate::admission::{POLICIES, admit, pod};
use crate::harness::{TestServer, base_config};
use crate::isolation::{Trickle, vm_rss_kib};

/// The test configuration with the admission tests' policies and `registry` as an insecure
/// registry.
fn config_for(registry: &Trickle) -> portcullis_config::ServerConfig {
    let mut config = base_config(None);
    config.policy.id = None;
    config.policy.inline = Some(POLICIES.to_string());
    config.registries.push(RegistryConfig {
        registry: registry.host_port(),
        secret: None,
        insecure: true,
    });
    config
}

#[test]
fn caches_stay_within_their_bounds() {
    let _alone = crate::harness::memory_sensitive();
    let registry = Trickle::start(false);
    let mut config = config_for(&registry);
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

/// Past `tagCacheTtl`, a judged tag answers at once with its last verdict while it is
/// resolved again in the background (a registry round trip never stalls the admissions of a
/// judged image: the tail of issue 17), for one more TTL only; after that it is resolved
/// inline again. The registry is gone after the first judgement, so nothing but the cache
/// can answer.
#[test]
fn a_stale_tag_answers_from_its_verdict_for_one_more_ttl() {
    let registry = Trickle::start(false);
    let mut config = config_for(&registry);
    config.tag_cache_ttl = portcullis_config::Duration::from_secs(1);
    config.scan_budget = portcullis_config::Duration::from_secs(60);
    let server = TestServer::start(config, |_| {});
    server.wait_ready();
    let image = format!("{}/app/web:v1", registry.host_port());
    let answer = admit(&server, "v1", &pod("team-a", json!({}), &[&image], &[]));
    assert_eq!(answer["allowed"], true, "{answer}");
    assert!(!answer.to_string().contains("not judged"), "{answer}");
    drop(registry);
    let engine = &server.app().engine;
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "waiting for {what}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    // Within the TTL the verdict is a plain hit; past it, no longer (the tag is stale).
    assert!(engine.cached(&image).is_some());
    until("the tag to go stale", &|| engine.cached(&image).is_none());

    let answer = admit(&server, "v1", &pod("team-a", json!({}), &[&image], &[]));
    assert_eq!(answer["allowed"], true, "{answer}");
    assert!(!answer.to_string().contains("not judged"), "{answer}");
    let metrics = server.get("/metrics", None).text();
    assert!(
        metrics.contains("portcullis_verdict_cache_lookups_total{result=\"stale\"} 1"),
        "{metrics}"
    );

    // Past a second TTL the stale entry is no answer: resolving the tag inline fails.
    until("the stale entry to expire", &|| {
        let answer = admit(&server, "v1", &pod("team-a", json!({}), &[&image], &[]));
        answer.to_string().contains("not judged") || answer["allowed"] == false
    });
}
