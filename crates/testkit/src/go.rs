//! Go test binaries built offline with the Debian Go toolchain (`apt-get install golang-go`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Build the Go module whose files are `files` (path relative to the module root, contents)
/// into `out`, offline (`GOPROXY=off`, no cgo, trimmed paths, the toolchain installed) with
/// `GOFLAGS` set to `goflags` (e.g. `-mod=vendor`). `false` when `PORTCULLIS_SKIP_GO` is set;
/// panics, saying what to install, when Go is missing, and when the build fails.
pub fn build(files: &[(&str, &str)], goflags: &str, out: &Path) -> bool {
    if std::env::var_os("PORTCULLIS_SKIP_GO").is_some() {
        eprintln!("PORTCULLIS_SKIP_GO is set: the Go part of this test is skipped");
        return false;
    }
    let src = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let path = src.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    let cache = cache_dir();
    let status = Command::new("go")
        .current_dir(src.path())
        .env("GOCACHE", &cache)
        .env("GOPATH", cache.join("gopath"))
        .env("GOPROXY", "off")
        .env("GOFLAGS", goflags)
        .env("CGO_ENABLED", "0")
        .env("GOTOOLCHAIN", "local")
        .args(["build", "-buildvcs=false", "-trimpath", "-o"])
        .arg(out)
        .arg(".")
        .status();
    match status {
        Ok(s) => assert!(s.success(), "go build failed"),
        Err(e) => panic!(
            "the Go toolchain is needed to build the Go test binary ({e}); install it \
             (apt-get install golang-go) or set PORTCULLIS_SKIP_GO=1"
        ),
    }
    true
}

/// Where [`build`] keeps Go's build cache.
pub fn cache_dir() -> PathBuf {
    std::env::temp_dir().join("portcullis-go-cache")
}

/// The installed toolchain's version without its `go` prefix (`1.19.8`), from
/// `go env GOVERSION`: what a binary it builds records.
pub fn toolchain_version() -> String {
    let out = Command::new("go")
        .env("GOTOOLCHAIN", "local")
        .args(["env", "GOVERSION"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .trim_start_matches("go")
        .to_string()
}
