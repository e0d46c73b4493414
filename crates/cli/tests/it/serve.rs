//! `portcullis serve` as a process: flags and `PORTCULLIS_*` variables reach the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use crate::portcullis;

fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
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
    let mut addr = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.trim().strip_prefix("portcullis serve: listening on ") {
            addr = rest.split(' ').next().unwrap().to_string();
            break;
        }
        line.clear();
    }
    assert!(!addr.is_empty(), "no listening line on stderr");
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
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--tls-cert"), "{}", run.stderr);
}
