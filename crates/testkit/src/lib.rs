//! Test support for Portcullis: real registries (Debian's `docker-registry`), test images
//! built with `umoci` and `skopeo`, hostile fixtures, an HTTP mock of the distribution API and
//! an HTTP mock of the Kubernetes API ([`KubeMock`]).
//!
//! Everything here is test support: it panics with a clear message instead of returning
//! errors, so a broken environment shows up as a failed test that says what to install.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cmd;
pub mod findings;
pub mod go;
pub mod hostile;
mod http;
pub mod images;
pub mod kube;
pub mod layout;
pub mod mock;
pub mod registry;
pub mod sleep;
mod tls;
mod token;

use std::path::PathBuf;

pub use cmd::{run, sha256_hex};
pub use http::Request as HttpRequest;
pub use images::{ImageName, TestImages, images};
pub use kube::{KubeMock, KubeRequest};
pub use layout::OciLayout;
pub use mock::{MockBehaviour, MockRegistry};
pub use registry::{Registry, RegistryKind};

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared real-world test data: `$PORTCULLIS_TESTDATA`, else `<repo root>/testdata`.
///
/// Panics, naming the path and the variable, when the folder is missing.
pub fn testdata_dir() -> PathBuf {
    let (dir, from_env) = match std::env::var_os("PORTCULLIS_TESTDATA") {
        Some(v) if !v.is_empty() => (PathBuf::from(v), true),
        _ => (repo_root().join("testdata"), false),
    };
    if !dir.is_dir() {
        panic!(
            "test data folder {} is missing ({}); set PORTCULLIS_TESTDATA to a copy of the testdata folder",
            dir.display(),
            if from_env {
                "taken from PORTCULLIS_TESTDATA"
            } else {
                "default <repo root>/testdata, PORTCULLIS_TESTDATA unset"
            }
        );
    }
    dir
}

/// The Alpine mini root filesystem tarball for `version` (`3.9.6` or `3.20.3`).
pub fn alpine_minirootfs(version: &str) -> PathBuf {
    let path = testdata_dir().join(format!(
        "images/alpine/alpine-minirootfs-{version}-x86_64.tar.gz"
    ));
    if !path.is_file() {
        panic!("test data file {} is missing", path.display());
    }
    path
}

/// A temporary directory `$TMPDIR/portcullis-<what>-<pid>-XXXX`. Directories of this kind
/// left by test processes that are gone (a `static` is never dropped) are removed first.
pub fn temp_dir(what: &str) -> tempfile::TempDir {
    let prefix = format!("portcullis-{what}-");
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            let pid = rest.split('-').next().unwrap_or("");
            if !pid.is_empty()
                && pid.bytes().all(|b| b.is_ascii_digit())
                && !PathBuf::from("/proc").join(pid).exists()
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    tempfile::Builder::new()
        .prefix(&format!("{prefix}{}-", std::process::id()))
        .tempdir()
        .unwrap()
}

/// The Debian package that ships each tool the harness runs.
const TOOL_PACKAGES: &[(&str, &str)] = &[
    ("umoci", "umoci"),
    ("skopeo", "skopeo"),
    ("rpm", "rpm"),
    ("rpmbuild", "rpm"),
    ("docker-registry", "docker-registry"),
    ("htpasswd", "apache2-utils"),
    ("tar", "tar"),
];

/// Panic with "install Debian package X" unless `name` is on `PATH` (or in `/usr/bin`).
pub fn require_tool(name: &str) -> PathBuf {
    if let Some(found) = find_tool(name) {
        return found;
    }
    let package = TOOL_PACKAGES
        .iter()
        .find(|(tool, _)| *tool == name)
        .map_or(name, |(_, pkg)| pkg);
    panic!(
        "the tests need the tool '{name}': install Debian package {package} (apt-get install {package})"
    );
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "install Debian package definitely-not-a-tool")]
    fn missing_tool_names_a_package() {
        require_tool("definitely-not-a-tool");
    }

    #[test]
    fn finds_the_testdata() {
        assert!(alpine_minirootfs("3.20.3").is_file());
    }
}
