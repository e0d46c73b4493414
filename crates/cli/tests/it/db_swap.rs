//! Database files under concurrent change: update locks, leftovers of killed updates, and
//! a served file changed in place.

use std::collections::BTreeSet;
use std::io::BufReader;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portcullis_testkit::{ImageName, MockBehaviour, MockRegistry, images};
use serde_json::Value;

use crate::{http_exchange, listening_address, portcullis};

fn advisories() -> std::path::PathBuf {
    portcullis_testkit::testdata_dir().join("advisories")
}

fn sources(db: &str) -> BTreeSet<String> {
    let run = portcullis(&["--db", db, "db", "status", "--format", "json"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let status: Value = serde_json::from_str(&run.stdout).unwrap();
    status["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

fn import_child(db: &str, input: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["--db", db, "-q", "db", "import", input.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn lock_message(db: &str) -> String {
    format!(
        "{db}: another update of this database is in progress (it holds {db}.lock); \
         nothing was changed, try again when it has finished"
    )
}

#[test]
fn concurrent_imports_never_lose_an_update() {
    let dir = portcullis_testkit::temp_dir("cli-db-lock");
    let db = dir.path().join("db.sqlite");
    let db = db.to_str().unwrap();
    let alpine = advisories().join("alpine-secdb/v3.9/main.json");
    let crates = advisories().join("osv/crates.io");

    // Deterministic: while another holder has the lock, an import fails at once with
    // exit code 2, names the database and its lock file, and creates nothing.
    let lock = std::fs::File::create(format!("{db}.lock")).unwrap();
    lock.lock().unwrap();
    let run = portcullis(&["--db", db, "db", "import", alpine.to_str().unwrap()], b"");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "error: importing into {db} (the database is unchanged): {}\n",
            lock_message(db)
        )
    );
    assert!(!Path::new(db).exists());
    drop(lock);

    // Two imports started at once: each either lands, or fails with the lock message
    // and exit code 2; the database holds exactly the sources of those that landed.
    let children = [
        (import_child(db, &alpine), "alpine-secdb:v3.9/main"),
        (import_child(db, &crates), "osv:crates.io"),
    ];
    let mut landed = BTreeSet::new();
    for (child, source) in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        match out.status.code() {
            Some(0) => {
                landed.insert(source.to_string());
            }
            Some(2) => assert!(stderr.contains(&lock_message(db)), "{stderr}"),
            other => panic!("import of {source} ended with {other:?}: {stderr}"),
        }
    }
    assert!(!landed.is_empty());
    assert_eq!(sources(db), landed);
}

#[test]
fn a_temporary_file_left_by_a_killed_import_is_removed_by_the_next() {
    let dir = portcullis_testkit::temp_dir("cli-db-temp");
    let db = dir.path().join("db.sqlite");
    let alpine = advisories().join("alpine-secdb/v3.9/main.json");
    // What a killed import leaves (its process id is long gone), and files that are not ours.
    let left = dir.path().join("db.sqlite.tmp-4194304");
    std::fs::write(&left, vec![0u8; 1 << 20]).unwrap();
    let foreign = [
        dir.path().join("db.sqlite.tmp-backup"),
        dir.path().join("other.sqlite.tmp-4194304"),
    ];
    for file in &foreign {
        std::fs::write(file, b"keep me").unwrap();
    }
    let run = portcullis(
        &[
            "--db",
            db.to_str().unwrap(),
            "db",
            "import",
            alpine.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!left.exists());
    for file in &foreign {
        assert_eq!(std::fs::read(file).unwrap(), b"keep me");
    }
}

fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    http_exchange(
        addr,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer tok\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// Fail if the server process has ended (e.g. killed by SIGBUS: exit status 135 from a shell).
fn assert_alive(server: &mut Child) {
    if let Some(status) = server.try_wait().unwrap() {
        panic!("the server died: {status}");
    }
}

/// Poll `GET /api/v1/scans/ID` until the scan is no longer pending (bounded).
fn finished_scan(server: &mut Child, addr: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert_alive(server);
        let (status, body) = request(addr, "GET", &format!("/api/v1/scans/{id}"), "");
        assert_eq!(status, 200, "{body}");
        let scan: Value = serde_json::from_str(&body).unwrap();
        if scan["status"] != "pending" {
            return scan;
        }
        assert!(Instant::now() < deadline, "scan {id} never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_served_database_truncated_in_place_gives_errors_not_a_crash() {
    let dir = portcullis_testkit::temp_dir("cli-db-truncate");
    let db = dir.path().join("db.sqlite");
    let db_str = db.to_str().unwrap();
    let run = portcullis(
        &[
            "--db",
            db_str,
            "db",
            "import",
            advisories().join("alpine-secdb/v3.20").to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let layout = images().layout();
    let tag = ImageName::Alpine320.tag();
    let mock = MockRegistry::serve_image(layout, tag, "team/alpine", MockBehaviour::Normal);
    let mut served = Served(
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["--db", db_str, "serve", "--plain-http"])
            .args(["--listen", "127.0.0.1:0", "--policy", "reject_high"])
            .args(["--insecure-registry", &mock.host_port()])
            .env("PORTCULLIS_API_TOKENS", "tok")
            .env("PORTCULLIS_DATABASE_UPDATE_INTERVAL", "0s")
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(served.0.stderr.take().unwrap());
    let addr = listening_address(&mut stderr);
    // Keep draining stderr so that the server never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while request(&addr, "GET", "/readyz", "").0 != 200 {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(20));
    }

    // What `cp new.sqlite db.sqlite` does first: truncate the served file in place.
    let size = std::fs::metadata(&db).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(8192)
        .unwrap();

    // A scan of an image never seen queries the database.
    let image = mock.reference(&format!("team/alpine:{tag}"));
    let (status, body) = request(
        &addr,
        "POST",
        "/api/v1/scans",
        &format!(r#"{{"image":"{image}"}}"#),
    );
    assert_eq!(status, 202, "{body}");
    let started: Value = serde_json::from_str(&body).unwrap();
    let scan = finished_scan(&mut served.0, &addr, started["id"].as_str().unwrap());
    assert_eq!(scan["status"], "failed", "{scan}");
    let error = scan["error"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "{db_str}: the database file was changed in place while open ({size} bytes when opened, 8192 now)"
        )),
        "{error}"
    );
    // Still alive and answering; the generation it loaded stays (the truncated file does
    // not load), so it still says ready.
    assert_alive(&mut served.0);
    assert_eq!(request(&addr, "GET", "/healthz", "").0, 200);
    assert_eq!(request(&addr, "GET", "/readyz", "").0, 200);
    assert_eq!(request(&addr, "GET", "/api/v1/policies", "").0, 200);
    assert_alive(&mut served.0);
}
