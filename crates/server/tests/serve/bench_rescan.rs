//! The rescan figures of issue 14 (`bench/rescan.sh` runs this; ignored by the test suite):
//! a simulated inventory of `PORTCULLIS_BENCH_PODS` Pods (2,000) running
//! `PORTCULLIS_BENCH_IMAGES` distinct images (300) from a local registry, then a database
//! swap: prints the time to re-judge every image, the process's peak RSS, and the
//! admission latencies (p50, p99) measured while that rescan runs, and the time the dashboard's
//! pages take over that inventory. It asserts no timing.

use std::time::{Duration, Instant};

use portcullis_testkit::kube::KubeMock;
use portcullis_testkit::{ImageName, Registry, RegistryKind, images};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::harness::{TestServer, alpine_secdb, base_config};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Push `count` distinct images (the Alpine 3.20 layer with a config label `bench=i`) as
/// `bench/app:v{i}` through the registry API; returns their manifest digests.
fn push_variants(registry: &Registry, count: usize) -> Vec<String> {
    registry.push(
        &images().skopeo_ref(ImageName::Alpine320),
        "bench/app:base",
        false,
    );
    let base = format!("http://{}/v2/bench/app", registry.host_port());
    let manifest: Value = serde_json::from_slice(&registry.raw_manifest("bench/app:base")).unwrap();
    let media_type = manifest["mediaType"]
        .as_str()
        .unwrap_or("application/vnd.oci.image.manifest.v1+json")
        .to_string();
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let agent = ureq::Agent::new_with_defaults();
    let config_bytes = agent
        .get(&format!("{base}/blobs/{config_digest}"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_vec()
        .unwrap();
    let config: Value = serde_json::from_slice(&config_bytes).unwrap();
    let mut digests = Vec::new();
    for i in 0..count {
        let mut variant = config.clone();
        variant["config"]["Labels"] = json!({"bench": i.to_string()});
        let bytes = serde_json::to_vec(&variant).unwrap();
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        let started = agent
            .post(&format!("{base}/blobs/uploads/"))
            .send_empty()
            .unwrap();
        let location = started.headers()["location"].to_str().unwrap().to_string();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("http://{}{location}", registry.host_port())
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        agent
            .put(&format!("{location}{separator}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .send(&bytes[..])
            .unwrap();
        let mut m = manifest.clone();
        m["config"]["digest"] = json!(digest);
        m["config"]["size"] = json!(bytes.len());
        let m = serde_json::to_vec(&m).unwrap();
        agent
            .put(&format!("{base}/manifests/v{i}"))
            .header("Content-Type", &media_type)
            .send(&m[..])
            .unwrap();
        digests.push(format!("sha256:{}", hex::encode(Sha256::digest(&m))));
    }
    digests
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

#[test]
#[ignore = "benchmark: run by bench/rescan.sh"]
fn rescan_bench() {
    let pods = env_number("PORTCULLIS_BENCH_PODS", 2_000);
    let count = env_number("PORTCULLIS_BENCH_IMAGES", 300);
    let registry = Registry::start(RegistryKind::PlainHttp);
    let started = Instant::now();
    let digests = push_variants(&registry, count);
    eprintln!(
        "pushed {count} images in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mock = KubeMock::start();
    for p in 0..pods {
        let i = p % count;
        let namespace = format!("team-{:02}", p % 20);
        let image = registry.reference(&format!("bench/app:v{i}"));
        let id = format!("{}/bench/app@{}", registry.host_port(), digests[i]);
        mock.seed(
            "v1/pods",
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("pod-{p}"), "namespace": namespace},
                "spec": {"containers": [{"name": "app", "image": image}]},
                "status": {"phase": "Running", "containerStatuses": [
                    {"name": "app", "image": image, "imageID": id, "ready": true, "restartCount": 0}
                ]}
            }),
        );
    }
    let dir = portcullis_testkit::temp_dir("bench-rescan");
    let db = dir.path().join("db.sqlite");
    let build = |branches: &[&str]| {
        let inputs = alpine_secdb(branches);
        let tmp = db.with_extension("new");
        portcullis_vulndb::Database::import_paths(&tmp, &inputs, &Default::default()).unwrap();
        std::fs::rename(&tmp, &db).unwrap();
    };
    build(&["v3.9"]);
    let mut config = base_config(Some(db.clone()));
    config.kubernetes = true;
    config.namespace = "portcullis-system".to_string();
    config.rescan.concurrency = 2;
    config.rescan.interval = portcullis_config::Duration::from_secs(0);
    config.inventory.reports = true;
    config.registries.push(portcullis_config::RegistryConfig {
        registry: registry.host_port(),
        secret: None,
        insecure: true,
    });
    let server = TestServer::start(config, |settings| {
        settings.kube = Some(mock.client());
    });
    server.wait_ready();
    let running = std::sync::Arc::clone(server.app().running.as_ref().unwrap());
    let judged_with = |version: &str| {
        running
            .inventory
            .images()
            .values()
            .filter(|s| s.database.as_deref() == Some(version))
            .count()
    };
    let first = server.app().engine.db().current().unwrap().version.clone();
    let started = Instant::now();
    while judged_with(&first) < count {
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "first pass too slow"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "first pass (pull and catalogue {count} images, {pods} pods): {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The swap, with admissions of running images going on meanwhile.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let admissions = {
        let stop = std::sync::Arc::clone(&stop);
        let (addr, ca) = (server.addr, server.ca.pem.clone());
        let images: Vec<String> = (0..count)
            .map(|i| registry.reference(&format!("bench/app:v{i}")))
            .collect();
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let pod =
                    crate::admission::pod("team-00", json!({}), &[&images[n % images.len()]], &[]);
                let body = crate::admission::review("v1", &pod, "CREATE");
                let t = Instant::now();
                let answer = crate::harness::https(
                    addr,
                    &ca,
                    "POST",
                    "/imagecheck",
                    None,
                    crate::harness::Body::Bytes(&body),
                );
                latencies.push((t, t.elapsed().as_secs_f64()));
                assert_eq!(answer.status, 200);
                n += 1;
            }
            latencies
        })
    };
    build(&["v3.9", "v3.20"]);
    let second = loop {
        let v = server.app().engine.db().current().unwrap().version.clone();
        if v != first {
            break v;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let swapped = Instant::now();
    while judged_with(&second) < count {
        assert!(
            swapped.elapsed() < Duration::from_secs(600),
            "rescan too slow"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let rescan = swapped.elapsed().as_secs_f64();
    let done = Instant::now();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let all = admissions.join().unwrap();
    let total = all.len();
    // Only the admissions that started while the rescan ran.
    let mut latencies: Vec<f64> = all
        .into_iter()
        .filter(|(at, _)| *at >= swapped && *at <= done)
        .map(|(_, l)| l)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let rematches = server
        .app()
        .engine
        .scan_log()
        .iter()
        .filter(|s| s.database == second && s.work == "rematch")
        .count();
    eprintln!(
        "rescan after the database swap: {rescan:.2} s for {count} images ({rematches} re-matches, no pull)"
    );
    eprintln!(
        "admission during the rescan: {} requests (of {total}), p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        percentile(&latencies, 0.5) * 1000.0,
        percentile(&latencies, 0.99) * 1000.0
    );
    // The dashboard's heaviest pages over this inventory, each asked 5 times (a fresh TLS
    // connection per request, so this is an upper bound of the server time).
    for path in ["/ui/workloads", "/ui/images", "/ui/"] {
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                let answer = server.get(path, Some("token-one"));
                assert_eq!(answer.status, 200, "{path}");
                t.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let size = server.get(path, Some("token-one")).body.len();
        eprintln!(
            "dashboard {path}: median {:.0} ms, max {:.0} ms, {} KB (target <= 300 ms)",
            percentile(&times, 0.5) * 1000.0,
            times[times.len() - 1] * 1000.0,
            size / 1024
        );
    }
    eprintln!(
        "peak RSS of the test process (server, mock API server, client): {:.0} MB",
        peak_rss_mb()
    );
}
