//! `portcullis serve` as a process: flags and `PORTCULLIS_*` variables reach the server.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use crate::{http_exchange, listening_address, portcullis};

fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    http_exchange(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\r\n"),
    )
}

#[test]
fn serve_runs_with_flags_and_environment() {
    let dir = portcullis_testkit::temp_dir("cli-serve");
    let db = dir.path().join("absent.sqlite");
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["--db", db.to_str().unwrap(), "serve", "--plain-http"])
        .args(["--listen", "127.0.0.1:0", "--policy", "reject_high"])
        .env("PORTCULLIS_API_TOKENS", "tok-1,tok-2")
        .env("PORTCULLIS_DATABASE_UPDATE_INTERVAL", "0s")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let addr = listening_address(&mut stderr);
    assert_eq!(get(&addr, "/healthz", None), (200, "ok\n".to_string()));
    assert_eq!(get(&addr, "/readyz", None).0, 503);
    assert_eq!(get(&addr, "/api/v1/policies", None).0, 401);
    let (status, body) = get(&addr, "/api/v1/policies", Some("tok-2"));
    assert_eq!(status, 200);
    let policies: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(policies["default"], "reject_high");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn serve_wants_tls_files_or_plain_http() {
    let run = portcullis(&["serve", "--listen", "127.0.0.1:0"], b"");
    run.assert_exit(2, "--tls-cert");
}

/// A `portcullis serve --plain-http` process on 127.0.0.1 with `env`, and its address.
fn spawn_serve(env: &[(&str, &str)]) -> (std::process::Child, String) {
    let dir = portcullis_testkit::temp_dir("cli-serve-limits");
    let db = dir.path().join("absent.sqlite");
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command
        .args(["--db", db.to_str().unwrap(), "serve", "--plain-http"])
        .args(["--listen", "127.0.0.1:0"])
        .env("PORTCULLIS_DATABASE_UPDATE_INTERVAL", "0s")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let addr = listening_address(&mut stderr);
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
        drop(dir);
    });
    (child, addr)
}

/// VmRSS of process `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The value of metric line `name` (with labels) in `/metrics`, 0 when absent.
fn metric(addr: &str, name: &str) -> f64 {
    let (_, body) = get(addr, "/metrics", None);
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

/// Poll `condition` every 50 ms for at most `limit` seconds.
fn wait_for(what: &str, limit: u64, mut condition: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(limit),
            "{what}: not within {limit} s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// How many slow clients: `PORTCULLIS_SLOW_CLIENTS`, else 2,000, fewer if the open file
/// limit is lower (each client is one descriptor here and one in the server).
fn slow_clients() -> usize {
    let wanted = std::env::var("PORTCULLIS_SLOW_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse::<usize>().ok())
        })
        .unwrap_or(1024);
    wanted.min(limit.saturating_sub(200))
}

/// Connect (retrying while the backlog is full), announce a 3 MB body, then send one
/// byte a second, at most 20 (a bounded loop that ends by itself), until the server hangs up.
fn slow_client(addr: std::net::SocketAddr, connected: &std::sync::atomic::AtomicUsize) {
    // A full backlog drops the handshake: try again, at most 15 times.
    let Some(mut stream) = (0..15)
        .find_map(|_| TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).ok())
    else {
        return;
    };
    connected.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let head = "POST /imagecheck HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n\r\n";
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    for _ in 0..20 {
        if stream.write_all(b" ").is_err() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

#[test]
fn slow_bodies_leave_the_server_small_and_are_counted_as_timeouts() {
    let (mut child, addr) = spawn_serve(&[
        ("PORTCULLIS_REQUEST_TIMEOUT", "3s"),
        ("PORTCULLIS_MAX_CONNECTIONS", "256"),
    ]);
    let pid = child.id();
    for _ in 0..20 {
        assert_eq!(get(&addr, "/healthz", None).0, 200);
    }
    let idle = rss_kib(pid);
    let clients = slow_clients();
    let started = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sock: std::net::SocketAddr = addr.parse().unwrap();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (started, finished) = (started.clone(), finished.clone());
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    slow_client(sock, &started);
                    finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                })
                .unwrap()
        })
        .collect();
    // During: sample until every client has ended (each ends by itself within ~25 s).
    let mut peak = 0;
    wait_for("every slow client to end", 180, || {
        peak = peak.max(rss_kib(pid));
        finished.load(std::sync::atomic::Ordering::SeqCst) == clients
    });
    for t in threads {
        t.join().unwrap();
    }
    let connected = started.load(std::sync::atomic::Ordering::SeqCst);
    wait_for("connections to close", 60, || {
        metric(&addr, "portcullis_http_connections") <= 1.0
    });
    let timeouts = metric(&addr, "portcullis_http_refused_total{reason=\"timeout\"}");
    assert!(timeouts >= 1.0, "no body timed out");
    let after = rss_kib(pid);
    let (_, metrics) = get(&addr, "/metrics", None);
    assert!(!metrics.contains("reason=\"too_large\""), "{metrics}");
    child.kill().unwrap();
    child.wait().unwrap();
    eprintln!(
        "{clients} slow clients ({connected} connected, {timeouts} timed out): idle {idle} KiB, peak {peak} KiB, after {after} KiB"
    );
    assert!(
        peak <= idle + 50 * 1024,
        "peak {peak} KiB vs idle {idle} KiB"
    );
    assert!(
        after <= idle + 50 * 1024,
        "after {after} KiB vs idle {idle} KiB"
    );
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_exits_0() {
    let (mut child, addr) = spawn_serve(&[]);
    let mut stream = TcpStream::connect(&addr).unwrap();
    let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"namespace":"kube-system","operation":"CREATE","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"kube-system"},"spec":{"containers":[{"name":"c","image":"alpine:3.20"}]}}}}"#;
    write!(
        stream,
        "POST /imagecheck HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(&body[..10]).unwrap();
    // The request is in hand once the server counts its connection.
    wait_for("the connection to be served", 30, || {
        metric(&addr, "portcullis_http_connections") >= 2.0
    });
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // The listener closes: new connections are refused.
    wait_for("the listener to close", 30, || {
        TcpStream::connect(&addr).is_err()
    });
    stream.write_all(&body[10..]).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(raw.contains("\"allowed\":true"), "{raw}");
    assert!(raw.contains("\"uid\":\"u-1\""), "{raw}");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_body_cut_off_is_counted_as_aborted_not_too_large() {
    let (mut child, addr) = spawn_serve(&[]);
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"POST /imagecheck HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut raw = String::new();
    let _ = stream.read_to_string(&mut raw);
    wait_for("the aborted body to be counted", 30, || {
        metric(&addr, "portcullis_http_refused_total{reason=\"aborted\"}") == 1.0
    });
    let (_, metrics) = get(&addr, "/metrics", None);
    assert!(!metrics.contains("reason=\"too_large\""), "{metrics}");
    assert!(!metrics.contains("reason=\"timeout\""), "{metrics}");
    child.kill().unwrap();
    child.wait().unwrap();
}
