//! `portcullis db import|update|status|export`.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::{Run, portcullis};

fn advisories() -> std::path::PathBuf {
    portcullis_testkit::testdata_dir().join("advisories")
}

fn status_json(db: &str) -> Value {
    let run = portcullis(&["--db", db, "db", "status", "--format", "json"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

fn records(status: &Value, source: &str) -> u64 {
    status["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == source)
        .unwrap_or_else(|| panic!("no source {source} in {status}"))["records"]
        .as_u64()
        .unwrap()
}

#[test]
fn import_status_export_and_import_again() {
    let (dir, db) = temp_db("cli-db", "db.sqlite");
    let db = db.as_str();
    let advisories = advisories();
    let run = portcullis(
        &["--db", db, "db", "import", advisories.to_str().unwrap()],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    // 115,686 advisory records from 153 files (OSV, Alpine secdb, Debian OVAL and DSA/DLA,
    // 104 NVD records), plus the KEV catalog (1,404 entries, one file) and the EPSS scores
    // (360,142 CVEs, one file); the KEV schema and licence are skipped. The per-source
    // numbers are checked against a Python count in crates/vulndb/tests.
    let total = 115_686 + 1_404 + 360_142;
    assert!(
        run.stdout
            .contains(&format!("imported {total} records from 155 files")),
        "{}",
        run.stdout
    );

    let status = status_json(db);
    let keys: Vec<&str> = status
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "affected",
            "built_at",
            "schema_version",
            "sources",
            "vulnerabilities"
        ]
    );
    assert_eq!(records(&status, "osv:Go"), 4291);
    assert_eq!(records(&status, "osv:crates.io"), 1206);
    assert_eq!(records(&status, "osv:PyPI"), 2661);
    assert_eq!(records(&status, "osv:AlmaLinux"), 108);
    assert_eq!(records(&status, "osv:Ubuntu"), 6);
    assert_eq!(records(&status, "nvd"), 104);
    assert_eq!(records(&status, "kev"), 1404);
    assert_eq!(records(&status, "epss"), 360_142);
    // Each source says how many of its CVE ids have a rating (exact numbers: vulndb tests).
    let nvd = status["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "nvd")
        .unwrap();
    assert_eq!(nvd["cves"], 104);
    assert!(nvd["rated_cves"].as_u64().unwrap() <= 104);
    // 131,388 before, plus one entry per `affected` item of the AlmaLinux (2,488) and Ubuntu
    // (27) records; KEV and EPSS add none.
    assert_eq!(status["affected"], 131_388 + 2_488 + 27);
    // 38,204 before, plus the 108 ALSA and 5 USN ids; CVE-2024-0727 and every new NVD record
    // name a CVE the Debian and Alpine data already know.
    assert_eq!(status["vulnerabilities"], 38_204 + 108 + 5);

    // A bad input fails the whole import and leaves the database as it was.
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, b"").unwrap();
    let bad = portcullis(&["--db", db, "db", "import", empty.to_str().unwrap()], b"");
    bad.assert_exit(2, "empty.json");
    assert!(
        bad.stderr.contains("the database is unchanged"),
        "{}",
        bad.stderr
    );
    assert_eq!(status_json(db), status);

    // Export, then import the export into a new file: the same database.
    let export = dir.path().join("db.export");
    let run = portcullis(&["--db", db, "db", "export", export.to_str().unwrap()], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let copy = dir.path().join("copy.sqlite");
    let copy = copy.to_str().unwrap();
    let run = portcullis(
        &["--db", copy, "db", "import", export.to_str().unwrap()],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(status_json(copy), status);

    // A damaged export is refused, and the target is untouched.
    let mut bytes = std::fs::read(&export).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0xff;
    std::fs::write(&export, &bytes).unwrap();
    let run = portcullis(
        &["--db", copy, "db", "import", export.to_str().unwrap()],
        b"",
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(status_json(copy), status);
}

#[test]
fn status_without_a_database_says_how_to_get_one() {
    let dir = portcullis_testkit::temp_dir("cli-db-none");
    let db = dir.path().join("missing.sqlite");
    let run = portcullis(&["--db", db.to_str().unwrap(), "db", "status"], b"");
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim_end(),
        format!(
            "error: no vulnerability database at {}: run `portcullis db update`, or `portcullis db import PATH...` with local advisory files",
            db.display()
        )
    );
}

/// A static file server on 127.0.0.1 (Python's http.server), stopped on drop.
pub struct Mirror(Child, pub u16);

impl Mirror {
    /// The base URL it serves.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.1)
    }

    /// A mirror of the test data advisories `feed` (`osv`, `alpine-secdb`) and its URL.
    pub fn of_advisories(feed: &str) -> (Self, String) {
        let mirror = Self::serve(&advisories().join(feed));
        let url = mirror.url();
        (mirror, url)
    }

    pub fn serve(dir: &std::path::Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mirror = Self(
            Command::new("python3")
                .args([
                    "-m",
                    "http.server",
                    "--bind",
                    "127.0.0.1",
                    &port.to_string(),
                ])
                .current_dir(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
            port,
        );
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return mirror;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the mirror did not start on port {port}");
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A path named `file` in a new temporary directory named after `what`.
fn temp_db(what: &str, file: &str) -> (tempfile::TempDir, String) {
    let dir = portcullis_testkit::temp_dir(what);
    let path = dir.path().join(file).to_str().unwrap().to_string();
    (dir, path)
}

/// `built.sqlite` in a new temporary directory named after `what`, with the test data
/// advisories `input` imported.
fn built_db(what: &str, input: &str) -> (tempfile::TempDir, String) {
    let (dir, built) = temp_db(what, "built.sqlite");
    let input = advisories().join(input);
    let run = portcullis(
        &["--db", &built, "db", "import", input.to_str().unwrap()],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    (dir, built)
}

/// `portcullis --db <db> db update <args>`.
fn db_update(db: &str, args: &[&str]) -> Run {
    portcullis(&[&["--db", db, "db", "update"], args].concat(), b"")
}

#[test]
fn update_from_a_local_osv_mirror() {
    let (_dir, db) = temp_db("cli-db-update", "db.sqlite");
    let db = db.as_str();
    let (_mirror, url) = Mirror::of_advisories("osv");

    let dry = db_update(
        db,
        &["--source", "osv:Go", "--osv-mirror", &url, "--dry-run"],
    );
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(
        dry.stdout.trim_end(),
        format!("osv:Go                       {url}/Go/all.zip")
    );

    let run = db_update(
        db,
        &[
            "--source",
            "osv:Go",
            "--source",
            "osv:crates.io",
            "--osv-mirror",
            &url,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let status = status_json(db);
    assert_eq!(records(&status, "osv:Go"), 4291);
    assert_eq!(records(&status, "osv:crates.io"), 1206);
    assert_eq!(status["sources"].as_array().unwrap().len(), 2);

    // A source the mirror does not have: the update fails and changes nothing.
    let run = db_update(db, &["--source", "osv:npm", "--osv-mirror", &url]);
    run.assert_exit(2, "npm/all.zip");
    assert_eq!(status_json(db), status);

    let none = db_update(db, &["--source", "nothing", "--dry-run"]);
    none.assert_exit(2, "--source nothing: matches none of the sources");
}

#[test]
fn build_push_and_pull_through_a_registry() {
    use portcullis_testkit::registry::{Registry, RegistryKind};
    let (dir, built) = temp_db("cli-db-share", "built.sqlite");
    let built = built.as_str();
    let (_mirror, url) = Mirror::of_advisories("alpine-secdb");
    let run = portcullis(
        &[
            "db",
            "build",
            "-o",
            built,
            "--source",
            "alpine-secdb:v3.20",
            "--alpine-mirror",
            &url,
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let built_status = status_json(built);
    assert_eq!(built_status["sources"].as_array().unwrap().len(), 2);

    let registry = Registry::start(RegistryKind::basic("builder", "s3cret-pass"));
    let ca = registry
        .ca_cert_pem_path()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let reference = registry.reference("portcullis/db:latest");
    // `db push` and `db pull` as the builder, with the test CA.
    let as_builder = |db: &str, verb: &str| {
        let args = [
            "--db",
            db,
            "db",
            verb,
            &reference,
            "--ca-cert",
            &ca,
            "-u",
            "builder",
            "--password-stdin",
        ];
        portcullis(&args, b"s3cret-pass\n")
    };
    let push = as_builder(built, "push");
    push.assert_stdout_starts(0, &format!("pushed {reference}@sha256:"));

    let pulled = dir.path().join("elsewhere/db.sqlite");
    let pulled = pulled.to_str().unwrap();
    let pull = as_builder(pulled, "pull");
    assert_eq!(pull.code, 0, "{}", pull.stderr);
    let mut pulled_status = status_json(pulled);
    let mut expected = built_status.clone();
    for status in [&mut pulled_status, &mut expected] {
        status.as_object_mut().unwrap().remove("built_at");
    }
    assert_eq!(pulled_status, expected);

    // Without the CA the pull fails on TLS, names the registry, and changes nothing.
    let bad = portcullis(&["--db", pulled, "db", "pull", &reference], b"");
    bad.assert_exit(2, "TLS");
    assert!(
        bad.stderr.contains("the database is unchanged"),
        "{}",
        bad.stderr
    );
}

#[test]
fn the_first_scan_pulls_from_the_first_database_repository_that_answers() {
    use portcullis_testkit::registry::{Registry, RegistryKind};
    let (dir, built) = built_db("cli-db-repository", "alpine-secdb/v3.20");
    let built = built.as_str();
    let registry = Registry::start(RegistryKind::PlainHttp);
    let good = registry.reference("portcullis/db:1");
    let push = portcullis(&["--db", built, "db", "push", "--insecure", &good], b"");
    assert_eq!(push.code, 0, "{}", push.stderr);

    // The first repository has no such tag; the second one answers.
    let missing = registry.reference("portcullis/none:1");
    let db = dir.path().join("fresh/db.sqlite");
    let db = db.to_str().unwrap();
    let image = crate::scan::minirootfs("3.20.3");
    let repositories = format!("{missing},{good}");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    let out = command
        .args(["--db", db, "scan", "--insecure", "-f", "json", &image])
        .env("PORTCULLIS_DB_REPOSITORY", &repositories)
        .env("DOCKER_CONFIG", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&format!("pulling {missing}")), "{stderr}");
    assert!(stderr.contains(&format!("pulling {good}")), "{stderr}");
    assert!(stderr.contains("installed"), "{stderr}");
    let mut expected = status_json(built);
    let mut got = status_json(db);
    for status in [&mut expected, &mut got] {
        status.as_object_mut().unwrap().remove("built_at");
    }
    assert_eq!(got, expected);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        crate::scan::findings(&report),
        [
            ("libcrypto3", "CVE-2024-9143"),
            ("libssl3", "CVE-2024-9143")
        ]
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect()
    );
}

/// A database pulled from a `--db-repository` is pulled again once past the `next_update`
/// its artifact named, unless `--skip-db-update`; an unreachable repository leaves the scan
/// on the database in place, with a warning.
#[test]
fn a_database_past_its_next_update_is_pulled_again() {
    use portcullis_testkit::registry::{Registry, RegistryKind};
    let dir = portcullis_testkit::temp_dir("cli-db-next-update");
    let build = |name: &str, branches: &[&str]| {
        let path = dir.path().join(name).display().to_string();
        let mut args = vec![
            "--db".to_string(),
            path.clone(),
            "db".into(),
            "import".into(),
        ];
        for branch in branches {
            let input = advisories().join(format!("alpine-secdb/{branch}"));
            assert!(input.exists(), "test data {} is missing", input.display());
            args.push(input.display().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = portcullis(&args, b"");
        assert_eq!(run.code, 0, "{}", run.stderr);
        path
    };
    let first = build("first.sqlite", &["v3.20"]);
    let second = build("second.sqlite", &["v3.20", "v3.9"]);
    let registry = Registry::start(RegistryKind::PlainHttp);
    let reference = registry.reference("portcullis/db:latest");
    // Due at once: next_update = push time + 0 s.
    let push = |db: &str| {
        let run = portcullis(
            &[
                "--db",
                db,
                "db",
                "push",
                "--insecure",
                "--next-update",
                "0s",
                &reference,
            ],
            b"",
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
    };
    push(&first);
    let db = dir.path().join("local/db.sqlite");
    let db = db.to_str().unwrap();
    let image = crate::scan::minirootfs("3.20.3");
    let scan = |extra: &[&str]| {
        let mut args = vec!["--db", db, "scan", "--insecure", "-f", "json"];
        args.extend_from_slice(extra);
        args.push(&image);
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
        let out = command
            .args(&args)
            .env("PORTCULLIS_DB_REPOSITORY", &reference)
            .env("DOCKER_CONFIG", dir.path())
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        stderr
    };
    let content_id = |path: &str| -> String {
        let record = std::fs::read(format!("{path}.artifact.json")).unwrap();
        let record: Value = serde_json::from_slice(&record).unwrap();
        record["content_id"].as_str().unwrap().to_string()
    };
    let version = |path: &str| {
        format!(
            "sha256:{}",
            portcullis_vulndb::Database::open(path)
                .unwrap()
                .content_hash()
                .unwrap()
        )
    };
    let (first_id, second_id) = (version(&first), version(&second));
    assert_ne!(first_id, second_id);

    // First use: pulled, with its provenance recorded.
    let stderr = scan(&[]);
    assert!(stderr.contains("installed"), "{stderr}");
    assert_eq!(content_id(db), first_id);
    // Due, but the repository holds the same content: only its manifest and config are read.
    let stderr = scan(&[]);
    assert!(stderr.contains("holds the same database"), "{stderr}");

    push(&second);
    // --skip-db-update: the database stays.
    let stderr = scan(&["--skip-db-update"]);
    assert!(!stderr.contains("pulling"), "{stderr}");
    assert_eq!(version(db), first_id);
    // Past next_update: the new one is pulled before the scan.
    let stderr = scan(&[]);
    assert!(stderr.contains("past its next update"), "{stderr}");
    assert!(
        stderr.contains(&format!("installed content id {second_id}")),
        "{stderr}"
    );
    assert_eq!(version(db), second_id);
    assert_eq!(content_id(db), second_id);

    // The registry gone: a warning, and the scan goes on with the database in place.
    drop(registry);
    let stderr = scan(&[]);
    assert!(
        stderr.contains("no database repository answered"),
        "{stderr}"
    );
    assert_eq!(version(db), second_id);
}

/// `db pull` draws a byte progress bar over the artifact's layer on a terminal (a pty from
/// util-linux `script`), and nothing when stderr is not one.
#[test]
fn db_pull_shows_progress_only_on_a_terminal() {
    use portcullis_testkit::registry::{Registry, RegistryKind};
    let Some(script) = which_script() else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    let (dir, built) = built_db("cli-db-pull-progress", "alpine-secdb/v3.9/main.json");
    let built = built.as_str();
    let registry = Registry::start(RegistryKind::PlainHttp);
    let reference = registry.reference("portcullis/db:latest");
    let push = portcullis(
        &["--db", built, "db", "push", &reference, "--insecure"],
        b"",
    );
    assert_eq!(push.code, 0, "{}", push.stderr);

    let piped = dir.path().join("piped.sqlite");
    let pull = portcullis(
        &[
            "--db",
            piped.to_str().unwrap(),
            "db",
            "pull",
            &reference,
            "--insecure",
        ],
        b"",
    );
    assert_eq!(pull.code, 0, "{}", pull.stderr);
    assert!(
        !pull.stderr.contains("pulling the database"),
        "{}",
        pull.stderr
    );

    let on_tty = dir.path().join("tty.sqlite");
    let command = format!(
        "{} --db {} db pull {reference} --insecure",
        env!("CARGO_BIN_EXE_portcullis"),
        on_tty.display()
    );
    let docker_config = portcullis_testkit::temp_dir("cli-docker-config");
    let out = std::process::Command::new(script)
        .args(["-qec", &command, "/dev/null"])
        .env("DOCKER_CONFIG", docker_config.path())
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("pulling the database"), "{shown}");
    assert!(on_tty.is_file());
}

fn which_script() -> Option<std::path::PathBuf> {
    ["/usr/bin/script", "/bin/script"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
}
