//! End-to-end tests of the `portcullis` binary against real registries (Debian's
//! `docker-registry`), images built with `umoci`/`skopeo`, and the shared test data.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod container;
mod db;
mod db_swap;
mod distros;
mod evasion;
mod harbor;
mod image;
mod lifecycle;
mod policy;
mod ratings;
mod sbom;
mod scan;
mod serve;

use std::io::Write;
use std::process::{Command, Stdio};

/// The address `portcullis serve` listens on, from the line saying so on its standard error
/// (`stderr`, read up to that line).
pub fn listening_address(stderr: &mut impl std::io::BufRead) -> String {
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
    addr
}

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Assert that the run exited with `code` and said `needle` on standard error.
    pub fn assert_exit(&self, code: i32, needle: &str) {
        assert_eq!(self.code, code, "{}", self.stderr);
        assert!(self.stderr.contains(needle), "{}", self.stderr);
    }

    /// Assert that the run exited with `code` and said `needle` on standard output.
    pub fn assert_stdout(&self, code: i32, needle: &str) {
        assert_eq!(self.code, code, "{}", self.stderr);
        assert!(self.stdout.contains(needle), "{}", self.stdout);
    }

    /// Assert that the run exited with `code` and its standard output starts with `prefix`.
    pub fn assert_stdout_starts(&self, code: i32, prefix: &str) {
        assert_eq!(self.code, code, "{}", self.stderr);
        assert!(self.stdout.starts_with(prefix), "{}", self.stdout);
    }
}

/// A fresh database (in a directory named after `what`) with `inputs` imported.
pub fn imported_database(what: &str, inputs: &[String]) -> (tempfile::TempDir, String) {
    let dir = portcullis_testkit::temp_dir(what);
    let db = dir.path().join("db.sqlite").display().to_string();
    let mut args = vec!["--db", db.as_str(), "db", "import"];
    args.extend(inputs.iter().map(String::as_str));
    let run = portcullis(&args, b"");
    assert_eq!(run.code, 0, "importing the test data: {}", run.stderr);
    (dir, db)
}

/// Send `request`, a whole HTTP/1.1 request asking `Connection: close`, to `addr`: the
/// answer's status and body.
pub fn http_exchange(addr: &str, request: &str) -> (u16, String) {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Run `portcullis ARGS` with `stdin` as standard input, an empty docker config, and no
/// colours or progress.
pub fn portcullis(args: &[&str], stdin: &[u8]) -> Run {
    portcullis_in(&std::env::current_dir().unwrap(), args, stdin)
}

/// [`portcullis`], run in the directory `cwd`.
pub fn portcullis_in(cwd: &std::path::Path, args: &[&str], stdin: &[u8]) -> Run {
    let docker_config = portcullis_testkit::temp_dir("cli-docker-config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .current_dir(cwd)
        .args(args)
        .env("DOCKER_CONFIG", docker_config.path())
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}
