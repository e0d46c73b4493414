//! The Harbor scanner adapter of a real `portcullis serve`, driven as Harbor drives it,
//! against a TLS registry with htpasswd authentication. Every answer is checked against the
//! adapter's OpenAPI document (`testdata/specs/`) by `scripts/check-openapi.py`, and the
//! findings are compared with `portcullis scan --format json` of the same image.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use portcullis_testkit::images::{ImageName, images};
use portcullis_testkit::registry::{Registry, RegistryKind};
use serde_json::{Value, json};

use crate::portcullis;
use crate::scan::database;

const TOKEN: &str = "harbor-adapter-token";
const ROBOT: &str = "robot$harbor";
const ROBOT_PASSWORD: &str = "r0bot-Secret-77";
const VULN: &str = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0";
const VULN_1_1: &str = "application/vnd.security.vulnerability.report; version=1.1";
const SBOM: &str = "application/vnd.security.sbom.report+json; version=1.0";
const ERROR: &str = "application/vnd.scanner.adapter.error+json; version=1.0";

/// One HTTP answer.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A running `portcullis serve` and every adapter answer it gave, for the OpenAPI check.
struct Adapter {
    child: Child,
    addr: String,
    /// The adapter's own listener, when configured.
    harbor_addr: Option<String>,
    stderr: Arc<Mutex<String>>,
    recorded: Vec<Value>,
    _dir: tempfile::TempDir,
}

impl Adapter {
    /// `portcullis serve --plain-http` with the test database, trusting `ca`, with API
    /// token [`TOKEN`] and Basic credentials `harbor:basic-pass` for the adapter.
    fn start(ca: &Path, extra_env: &[(&str, &str)]) -> Self {
        Self::start_with(ca, extra_env, "")
    }

    /// [`Adapter::start`] with `harbor_extra` appended to the `harbor:` section.
    fn start_with(ca: &Path, extra_env: &[(&str, &str)], harbor_extra: &str) -> Self {
        let dir = portcullis_testkit::temp_dir("cli-harbor");
        let password_file = dir.path().join("basic-password");
        std::fs::write(&password_file, "basic-pass\n").unwrap();
        let config = dir.path().join("config.yaml");
        std::fs::write(
            &config,
            format!(
                "apiTokens: [{TOKEN}]\nresolveTimeout: 3s\nharbor:\n  basicAuth:\n    username: harbor\n    passwordFile: {}\n{harbor_extra}",
                password_file.display()
            ),
        )
        .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        command
            .args(["--db", database(), "serve", "--plain-http"])
            .args(["--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--ca-cert")
            .arg(ca)
            .env("PORTCULLIS_DATABASE_UPDATE_INTERVAL", "0s")
            .env("RUST_LOG", "debug")
            .stderr(Stdio::piped())
            .stdout(Stdio::null());
        for (name, value) in extra_env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let log = Arc::new(Mutex::new(String::new()));
        let mut addr = String::new();
        let mut line = String::new();
        while stderr.read_line(&mut line).unwrap() > 0 {
            log.lock().unwrap().push_str(&line);
            if let Some(rest) = line.trim().strip_prefix("portcullis serve: listening on ") {
                addr = rest.split(' ').next().unwrap().to_string();
                break;
            }
            line.clear();
        }
        assert!(
            !addr.is_empty(),
            "no listening line: {}",
            log.lock().unwrap()
        );
        let mut harbor_addr = None;
        if harbor_extra.contains("listen:") {
            line.clear();
            while stderr.read_line(&mut line).unwrap() > 0 {
                log.lock().unwrap().push_str(&line);
                if let Some(rest) = line
                    .trim()
                    .strip_prefix("portcullis serve: Harbor scanner adapter listening on ")
                {
                    harbor_addr = Some(rest.to_string());
                    break;
                }
                line.clear();
            }
            assert!(harbor_addr.is_some(), "no Harbor listening line");
        }
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match stderr.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        sink.lock()
                            .unwrap()
                            .push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            }
        });
        let adapter = Self {
            child,
            addr,
            harbor_addr,
            stderr: log,
            recorded: Vec::new(),
            _dir: dir,
        };
        adapter.wait_ready();
        adapter
    }

    fn wait_ready(&self) {
        let start = Instant::now();
        while self.raw("GET", "/readyz", &[], b"").status != 200 {
            assert!(start.elapsed() < Duration::from_secs(60), "not ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One request; `headers` are sent as given.
    fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        request(&self.addr, method, path, headers, body)
    }

    /// A request to the adapter (under `/harbor`), recorded for the OpenAPI check.
    fn call(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let answer = self.raw(method, &format!("/harbor{path}"), headers, body);
        self.recorded.push(json!({
            "method": method,
            "path": path,
            "status": answer.status,
            "headers": answer.headers.iter().map(|(n, v)| (n.to_lowercase(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "body": answer.body,
        }));
        answer
    }

    fn post_scan(&mut self, request: &Value) -> Answer {
        let body = serde_json::to_vec(request).unwrap();
        self.call(
            "POST",
            "/api/v1/scan",
            &[
                ("Authorization", &format!("Bearer {TOKEN}")),
                (
                    "Content-Type",
                    "application/vnd.scanner.adapter.scan.request+json; version=1.1",
                ),
            ],
            &body,
        )
    }

    fn report(&mut self, id: &str, accept: &str, query: &str) -> Answer {
        self.call(
            "GET",
            &format!("/api/v1/scan/{id}/report{query}"),
            &[
                ("Authorization", &format!("Bearer {TOKEN}")),
                ("Accept", accept),
            ],
            b"",
        )
    }

    /// Poll a report through 302s (each with `Refresh-After`) to its final answer.
    fn final_report(&mut self, id: &str, accept: &str, query: &str) -> Answer {
        let start = Instant::now();
        loop {
            let answer = self.report(id, accept, query);
            if answer.status != 302 {
                return answer;
            }
            assert_eq!(answer.header("Refresh-After"), Some("5"), "{answer:?}");
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "report {id} still pending after 120 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Check every recorded answer against the OpenAPI document.
    fn check_openapi(&self) {
        let file = self._dir.path().join("answers.json");
        std::fs::write(&file, serde_json::to_vec_pretty(&self.recorded).unwrap()).unwrap();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let spec = portcullis_testkit::testdata_dir()
            .join("specs/harbor-scanner-adapter-openapi-v1.2.yaml");
        assert!(spec.is_file(), "test data {} is missing", spec.display());
        let out = Command::new("python3")
            .arg(root.join("scripts/check-openapi.py"))
            .arg(&spec)
            .arg(&file)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "answers that break the contract:\n{report}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            report.contains(&format!("{} answers checked", self.recorded.len())),
            "{report}"
        );
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request to `addr` over a fresh connection; `headers` are sent as given.
fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn scan_request(registry: &str, authorization: &str, repository: &str, digest: &str) -> Value {
    json!({
        "registry": { "url": format!("https://{registry}"), "authorization": authorization },
        "artifact": {
            "repository": repository,
            "digest": digest,
            "tag": "3.9",
            "mime_type": "application/vnd.oci.image.manifest.v1+json",
        },
    })
}

/// `(id, package, version, fix version, severity)` of `portcullis scan --format json`.
fn scan_findings(report: &Value) -> Vec<(String, String, String, Option<String>, String)> {
    report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let severity = f["severity"].as_str().unwrap();
            let mut harbor = severity[..1].to_uppercase();
            harbor.push_str(&severity[1..]);
            (
                f["id"].as_str().unwrap().to_string(),
                f["package"]["name"].as_str().unwrap().to_string(),
                f["package"]["version"].as_str().unwrap().to_string(),
                f["fixed_version"].as_str().map(str::to_string),
                harbor,
            )
        })
        .collect()
}

/// The same tuple from Harbor's report.
fn harbor_findings(report: &Value) -> Vec<(String, String, String, Option<String>, String)> {
    report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["id"].as_str().unwrap().to_string(),
                v["package"].as_str().unwrap().to_string(),
                v["version"].as_str().unwrap().to_string(),
                v["fix_version"].as_str().map(str::to_string),
                v["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn harbor_flow_matches_portcullis_scan_and_the_contract() {
    let registry = Registry::start(RegistryKind::basic(ROBOT, ROBOT_PASSWORD));
    registry.push(
        &images().skopeo_ref(ImageName::Alpine39),
        "library/alpine:3.9",
        false,
    );
    let digest = registry.manifest_digest("library/alpine:3.9");
    let ca = registry.ca_cert_pem_path().unwrap().to_path_buf();
    let mut adapter = Adapter::start(&ca, &[]);
    let bearer = format!("Bearer {TOKEN}");

    // Metadata: the scanner, both capabilities, and the database's build time.
    let metadata = adapter.call(
        "GET",
        "/api/v1/metadata",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(metadata.status, 200, "{}", metadata.body);
    assert_eq!(
        metadata.header("Content-Type"),
        Some("application/vnd.scanner.adapter.metadata+json; version=1.1")
    );
    let doc = metadata.json();
    assert_eq!(doc["scanner"]["name"], "Portcullis");
    assert_eq!(doc["capabilities"][0]["type"], "vulnerability");
    assert_eq!(
        doc["capabilities"][0]["produces_mime_types"],
        json!([VULN, VULN_1_1])
    );
    assert_eq!(doc["capabilities"][1]["produces_mime_types"], json!([SBOM]));
    let built_at = doc["properties"]["harbor.scanner-adapter/vulnerability-database-updated-at"]
        .as_str()
        .unwrap();
    assert!(
        built_at.ends_with('Z') && built_at.len() == 20,
        "{built_at}"
    );

    // The three ways Harbor authenticates, and a wrong token.
    let api_key = adapter.call(
        "GET",
        "/api/v1/metadata",
        &[("X-ScannerAdapter-API-Key", TOKEN)],
        b"",
    );
    assert_eq!(api_key.status, 200);
    let basic_ok = adapter.call(
        "GET",
        "/api/v1/metadata",
        &[("Authorization", &basic("harbor", "basic-pass"))],
        b"",
    );
    assert_eq!(basic_ok.status, 200);
    for wrong in [
        "Bearer not-the-token".to_string(),
        basic("harbor", "wrong"),
        String::new(),
    ] {
        let refused = adapter.call("GET", "/api/v1/metadata", &[("Authorization", &wrong)], b"");
        assert_eq!(refused.status, 401, "{wrong}");
        assert_eq!(refused.header("Content-Type"), Some(ERROR));
    }

    // The scan, with the robot credentials Harbor passes.
    let host = registry.host_port();
    let accepted = adapter.post_scan(&scan_request(
        &host,
        &basic(ROBOT, ROBOT_PASSWORD),
        "library/alpine",
        &digest,
    ));
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    assert_eq!(
        accepted.header("Content-Type"),
        Some("application/vnd.scanner.adapter.scan.response+json; version=1.0")
    );
    let id = accepted.json()["id"].as_str().unwrap().to_string();
    let report = adapter.final_report(&id, VULN, "");
    assert_eq!(report.status, 200, "{}", report.body);
    assert_eq!(report.header("Content-Type"), Some(VULN));
    let harbor = report.json();
    assert_eq!(harbor["artifact"]["digest"], digest.as_str());
    assert_eq!(harbor["artifact"]["repository"], "library/alpine");
    assert_eq!(harbor["scanner"]["name"], "Portcullis");

    // The same image through `portcullis scan`: identical findings, in the same order.
    let image = format!("{host}/library/alpine@{digest}");
    let cli = portcullis(
        &[
            "--db",
            database(),
            "scan",
            "--ca-cert",
            ca.to_str().unwrap(),
            "--username",
            ROBOT,
            "--password-stdin",
            "-f",
            "json",
            &image,
        ],
        format!("{ROBOT_PASSWORD}\n").as_bytes(),
    );
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    let cli: Value = serde_json::from_str(&cli.stdout).unwrap();
    let expected = scan_findings(&cli);
    assert_eq!(expected.len(), 14, "{expected:?}");
    assert_eq!(harbor_findings(&harbor), expected);
    // Overall severity: the highest one.
    let scale = ["Unknown", "Negligible", "Low", "Medium", "High", "Critical"];
    let highest = expected
        .iter()
        .map(|f| scale.iter().position(|s| *s == f.4).unwrap())
        .max()
        .unwrap();
    assert_eq!(harbor["severity"], scale[highest]);
    // CVE-2020-28928 (musl): NVD's own CVSS 3.1 metric, a link to NVD, the fix.
    let musl = harbor["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "CVE-2020-28928" && v["package"] == "musl")
        .unwrap();
    assert_eq!(musl["fix_version"], "1.1.20-r6");
    assert_eq!(musl["preferred_cvss"]["score_v3"], 5.5);
    assert_eq!(
        musl["preferred_cvss"]["vector_v3"],
        "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H"
    );
    assert_eq!(
        musl["links"][0],
        "https://nvd.nist.gov/vuln/detail/CVE-2020-28928"
    );
    assert_eq!(musl["vendor_attributes"]["severity_source"], "nvd");
    // NVD's weakness of CVE-2020-28928 (`weaknesses` of its record).
    assert_eq!(musl["cwe_ids"], json!(["CWE-787"]));

    // The 1.1 media type: the same document.
    let same = adapter.final_report(&id, VULN_1_1, "");
    assert_eq!(same.status, 200);
    assert_eq!(same.header("Content-Type"), Some(VULN_1_1));
    assert_eq!(harbor_findings(&same.json()), expected);

    // SBOMs in both formats, with the 14 apk packages of Alpine 3.9.6.
    let spdx = adapter.final_report(&id, SBOM, "?sbom_media_type=application%2Fspdx%2Bjson");
    assert_eq!(spdx.status, 200, "{}", spdx.body);
    let spdx = spdx.json();
    assert_eq!(spdx["media_type"], "application/spdx+json");
    assert_eq!(spdx["sbom"]["spdxVersion"], "SPDX-2.3");
    let apk_packages = spdx["sbom"]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["externalRefs"].as_array().is_some_and(|r| {
                r.iter().any(|r| {
                    r["referenceLocator"]
                        .as_str()
                        .is_some_and(|l| l.starts_with("pkg:apk/"))
                })
            })
        })
        .count();
    assert_eq!(apk_packages, 14);
    let cdx = adapter.final_report(&id, SBOM, "?sbom_media_type=application/vnd.cyclonedx+json");
    assert_eq!(cdx.status, 200, "{}", cdx.body);
    let cdx = cdx.json();
    assert_eq!(cdx["media_type"], "application/vnd.cyclonedx+json");
    assert_eq!(cdx["sbom"]["bomFormat"], "CycloneDX");

    // Bad report requests: no SBOM format, an unknown Accept, the raw report, an unknown id.
    assert_eq!(adapter.report(&id, SBOM, "").status, 400);
    assert_eq!(
        adapter
            .report(&id, SBOM, "?sbom_media_type=text/plain")
            .status,
        400
    );
    let html = adapter.report(&id, "text/html", "");
    assert_eq!(html.status, 400);
    assert_eq!(html.header("Content-Type"), Some(ERROR));
    assert!(html.json()["error"]["message"].is_string());
    assert_eq!(
        adapter
            .report(&id, "application/vnd.scanner.adapter.vuln.report.raw", "")
            .status,
        501
    );
    assert_eq!(
        adapter
            .report("3fa85f64-5717-4562-b3fc-2c963f66afa6", VULN, "")
            .status,
        404
    );

    // Bad scan requests: not JSON (400), no digest (422), an index (501).
    let not_json = adapter.call(
        "POST",
        "/api/v1/scan",
        &[("Authorization", &bearer)],
        b"{\"registry\": ",
    );
    assert_eq!(not_json.status, 400);
    let mut no_digest = scan_request(&host, "", "library/alpine", &digest);
    no_digest["artifact"]
        .as_object_mut()
        .unwrap()
        .remove("digest");
    assert_eq!(adapter.post_scan(&no_digest).status, 422);
    let mut index = scan_request(&host, "", "library/alpine", &digest);
    index["artifact"]["mime_type"] = json!("application/vnd.oci.image.index.v1+json");
    assert_eq!(adapter.post_scan(&index).status, 501);

    // Wrong registry credentials: the scan fails with the spec's 500 and error body, even
    // though the verdict of that digest is cached, and the password is nowhere.
    let wrong = adapter.post_scan(&scan_request(
        &host,
        &basic(ROBOT, "not-the-password"),
        "library/alpine",
        &digest,
    ));
    assert_eq!(wrong.status, 202);
    let wrong_id = wrong.json()["id"].as_str().unwrap().to_string();
    let failed = adapter.final_report(&wrong_id, VULN, "");
    assert_eq!(failed.status, 500, "{}", failed.body);
    assert_eq!(failed.header("Content-Type"), Some(ERROR));
    let message = failed.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains(&host), "{message}");
    assert!(!message.contains("not-the-password"), "{message}");

    // A registry that never answers: the report is pending (302) until the resolve
    // timeout (3 s here) fails it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_host = silent.local_addr().unwrap().to_string();
    let stalled = adapter.post_scan(&scan_request(&silent_host, "", "library/alpine", &digest));
    assert_eq!(stalled.status, 202);
    let stalled_id = stalled.json()["id"].as_str().unwrap().to_string();
    let pending = adapter.report(&stalled_id, VULN, "");
    assert_eq!(pending.status, 302, "{}", pending.body);
    assert_eq!(pending.header("Refresh-After"), Some("5"));
    assert_eq!(adapter.final_report(&stalled_id, VULN, "").status, 500);
    drop(silent);

    // Hostile requests generated from a fixed seed: never a status outside the spec.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let template = serde_json::to_vec(&scan_request(&host, "", "library/alpine", &digest)).unwrap();
    for round in 0..150 {
        let mut body = template.clone();
        for _ in 0..(1 + next() % 4) {
            let at = (next() as usize) % body.len();
            match next() % 3 {
                0 => body[at] = (next() % 256) as u8,
                1 => {
                    body.remove(at);
                }
                _ => body.insert(at, b"\"{}[],:0\\"[(next() % 9) as usize]),
            }
        }
        let answer = adapter.call("POST", "/api/v1/scan", &[("Authorization", &bearer)], &body);
        assert!(
            [202, 400, 422, 501].contains(&answer.status),
            "round {round}: {} for {:?}",
            answer.status,
            String::from_utf8_lossy(&body)
        );
    }

    adapter.check_openapi();

    // Metrics per endpoint.
    let metrics = adapter.raw("GET", "/metrics", &[], b"").body;
    assert!(
        metrics.contains("portcullis_harbor_requests_total{endpoint=\"report\",code=\"200\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("portcullis_harbor_scans_total{result=\"ok\"}"));

    // The registry password never reached the log, in clear or in base64.
    let log = adapter.log();
    assert!(log.contains("harbor scan request accepted"), "{log}");
    for secret in [
        ROBOT_PASSWORD.to_string(),
        basic(ROBOT, ROBOT_PASSWORD),
        "not-the-password".to_string(),
        "basic-pass".to_string(),
    ] {
        assert!(!log.contains(&secret), "the log shows {secret}");
    }
}

/// 50 concurrent scan requests for 5 images: every report equals its image's, and the
/// registry serves each image's layer exactly once (the rest are verdict-cache hits).
#[test]
fn concurrent_requests_pull_each_image_once() {
    let registry = Registry::start_logged(RegistryKind::basic(ROBOT, ROBOT_PASSWORD));
    let sources = [
        ImageName::Alpine39,
        ImageName::Alpine320,
        ImageName::Configured,
        ImageName::Layered,
        ImageName::Alpine39Arm64,
    ];
    let mut digests = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let repo = format!("project/app{i}:1");
        registry.push(&images().skopeo_ref(*source), &repo, false);
        digests.push((format!("project/app{i}"), registry.manifest_digest(&repo)));
    }
    let ca = registry.ca_cert_pem_path().unwrap().to_path_buf();
    let mut adapter = Adapter::start(&ca, &[("PORTCULLIS_HARBOR_SCAN_CONCURRENCY", "2")]);
    let host = registry.host_port();
    let before = registry.blob_downloads();
    let auth = basic(ROBOT, ROBOT_PASSWORD);
    let ids: Vec<(usize, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|n| {
                let (repo, digest) = digests[n % 5].clone();
                let request = scan_request(&host, &auth, &repo, &digest);
                let adapter = &adapter;
                scope.spawn(move || {
                    let answer = adapter.raw(
                        "POST",
                        "/harbor/api/v1/scan",
                        &[("Authorization", &format!("Bearer {TOKEN}"))],
                        &serde_json::to_vec(&request).unwrap(),
                    );
                    assert_eq!(answer.status, 202, "{}", answer.body);
                    (n % 5, answer.json()["id"].as_str().unwrap().to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut per_image: Vec<Option<Value>> = vec![None; 5];
    for (image, id) in &ids {
        let report = adapter.final_report(id, VULN, "");
        assert_eq!(report.status, 200, "{}", report.body);
        let findings = json!(harbor_findings(&report.json()));
        match &per_image[*image] {
            None => per_image[*image] = Some(findings),
            Some(first) => assert_eq!(first, &findings, "image {image}"),
        }
    }
    let layers: usize = (0..sources.len())
        .map(|i| {
            let manifest: Value =
                serde_json::from_slice(&registry.raw_manifest(&format!("project/app{i}:1")))
                    .unwrap();
            manifest["layers"].as_array().unwrap().len()
        })
        .sum();
    let pulled = registry.blob_downloads() - before;
    // Each image: its config blob and each layer, once.
    assert_eq!(
        pulled,
        layers + sources.len(),
        "blob downloads; registry log:\n{}",
        registry.stderr()
    );
    adapter.recorded.clear();
}

/// `harbor.listen`: a listener that serves only the adapter (at the root and under
/// `/harbor`), never the admission endpoint or the REST API.
#[test]
fn the_adapter_listener_serves_only_the_adapter() {
    let registry = Registry::start(RegistryKind::basic(ROBOT, ROBOT_PASSWORD));
    let ca = registry.ca_cert_pem_path().unwrap().to_path_buf();
    let adapter = Adapter::start_with(&ca, &[], "  listen: 127.0.0.1:0\n");
    let own = adapter.harbor_addr.clone().unwrap();
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    for path in ["/api/v1/metadata", "/harbor/api/v1/metadata"] {
        let answer = request(&own, "GET", path, &auth, b"");
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    }
    assert_eq!(request(&own, "GET", "/healthz", &[], b"").status, 200);
    assert_eq!(
        request(&own, "GET", "/api/v1/metadata", &[], b"").status,
        401
    );
    for (method, path) in [
        ("POST", "/imagecheck"),
        ("GET", "/api/v1/policies"),
        ("GET", "/metrics"),
    ] {
        let answer = request(&own, method, path, &auth, b"{}");
        assert_eq!(answer.status, 404, "{method} {path}: {}", answer.body);
    }
    // The main listener still serves it under /harbor.
    assert_eq!(
        adapter
            .raw("GET", "/harbor/api/v1/metadata", &auth, b"")
            .status,
        200
    );
}

/// A registry token service (`Bearer` challenge): Harbor may pass a registry token
/// (`Bearer ...`) instead of robot credentials; it is sent as it is, and a scan with it
/// matches one with the credentials.
#[test]
fn a_registry_token_passed_by_harbor_is_used_as_it_is() {
    let registry = Registry::start(RegistryKind::bearer(ROBOT, ROBOT_PASSWORD));
    registry.push(
        &images().skopeo_ref(ImageName::Alpine320),
        "library/alpine:3.20",
        false,
    );
    let digest = registry.manifest_digest("library/alpine:3.20");
    let ca = registry.ca_cert_pem_path().unwrap().to_path_buf();
    let host = registry.host_port();
    // The token service named by the registry's challenge, asked as Harbor's core would.
    let challenge = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-D", "-", "--cacert"])
        .arg(&ca)
        .arg(format!("https://{host}/v2/"))
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&challenge.stdout).into_owned();
    let param = |name: &str| {
        let line = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
            .unwrap_or_else(|| panic!("no challenge in {headers}"));
        let start = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        line[start..].split('"').next().unwrap().to_string()
    };
    let token_url = format!(
        "{}?service={}&scope=repository:library/alpine:pull",
        param("realm"),
        param("service")
    );
    let issued = Command::new("curl")
        .args(["-fsS", "--cacert"])
        .arg(&ca)
        .args(["-u", &format!("{ROBOT}:{ROBOT_PASSWORD}"), &token_url])
        .output()
        .unwrap();
    assert!(
        issued.status.success(),
        "{}",
        String::from_utf8_lossy(&issued.stderr)
    );
    let token: Value = serde_json::from_slice(&issued.stdout).unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let before = registry.tokens_issued();

    let mut adapter = Adapter::start(&ca, &[]);
    let with_token = adapter.post_scan(&scan_request(
        &host,
        &format!("Bearer {token}"),
        "library/alpine",
        &digest,
    ));
    assert_eq!(with_token.status, 202, "{}", with_token.body);
    let id = with_token.json()["id"].as_str().unwrap().to_string();
    let report = adapter.final_report(&id, VULN, "");
    assert_eq!(report.status, 200, "{}", report.body);
    let findings = harbor_findings(&report.json());
    // Alpine 3.20.3: CVE-2024-9143 in libcrypto3 and libssl3 (see scan.rs).
    let ids: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f.1.as_str(), f.0.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("libcrypto3", "CVE-2024-9143"),
            ("libssl3", "CVE-2024-9143")
        ]
    );
    // The token was enough: the adapter asked the token service for nothing.
    assert_eq!(registry.tokens_issued(), before);
    // A forged token is refused by the registry: the scan fails.
    let forged = adapter.post_scan(&scan_request(
        &host,
        "Bearer not.a.token",
        "library/alpine",
        &digest,
    ));
    let forged_id = forged.json()["id"].as_str().unwrap().to_string();
    assert_eq!(adapter.final_report(&forged_id, VULN, "").status, 500);
    adapter.check_openapi();
}
