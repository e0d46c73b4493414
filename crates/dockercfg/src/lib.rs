//! Docker registry credentials, read one way for every caller: a docker `config.json`
//! (`auths` with `auth`, `username`/`password` or `identitytoken`; `credHelpers`;
//! `credsStore`), the legacy `.dockercfg` map, and credential helpers
//! (`docker-credential-<name> get`, the protocol of docker's credential-helpers project).
//!
//! The image client uses it for `~/.docker/config.json`; the Kubernetes side for
//! `kubernetes.io/dockerconfigjson` and `kubernetes.io/dockercfg` Secrets. Errors never quote a
//! secret.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

/// The largest docker config accepted.
pub const MAX_CONFIG_LEN: usize = 4 * 1024 * 1024;
/// The largest answer read from a credential helper.
pub const MAX_HELPER_OUTPUT: u64 = 64 * 1024;
/// How long a credential helper may take.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(20);

/// What went wrong reading credentials.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The document is not a docker config.
    #[error("{what} is malformed: {why}")]
    Malformed {
        /// The file or Secret.
        what: String,
        /// Why (never quoting the content).
        why: String,
    },
    /// One entry's credentials cannot be decoded.
    #[error("{what}: the entry for '{key}' {why}")]
    BadEntry {
        /// The file or Secret.
        what: String,
        /// The entry's key.
        key: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The document is too large.
    #[error("{what} is larger than {MAX_CONFIG_LEN} bytes")]
    TooLarge {
        /// The file or Secret.
        what: String,
    },
    /// A credential helper is named but not found.
    #[error("credential helper docker-credential-{helper} is not on PATH")]
    HelperNotFound {
        /// The helper's name.
        helper: String,
    },
    /// A credential helper ran and failed.
    #[error("credential helper docker-credential-{helper}: {why}")]
    Helper {
        /// The helper's name.
        helper: String,
        /// What happened.
        why: String,
        /// The I/O error, if one.
        #[source]
        source: Option<std::io::Error>,
    },
}

/// A user name and password (or identity token) for one registry. `Debug` hides the
/// password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The registry, normalised (see [`normalize_registry`]).
    pub registry: String,
    /// The user name (`<token>` for an identity token).
    pub username: String,
    /// The password, token or identity token.
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The registry a config key stands for: scheme and path dropped, host lowercased, Docker
/// Hub's aliases (`index.docker.io`, `registry-1.docker.io`, `registry.hub.docker.com`)
/// folded into `docker.io`.
pub fn normalize_registry(key: &str) -> String {
    let key = key.trim();
    let without_scheme = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = without_scheme
        .split('/')
        .next()
        .unwrap_or(without_scheme)
        .to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        _ => host,
    }
}

/// Which layout a document has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `config.json`: `{"auths": {...}, "credHelpers": {...}, "credsStore": "..."}`.
    ConfigJson,
    /// The legacy `.dockercfg`: the `auths` map itself.
    DockerCfg,
}

#[derive(Deserialize, Default)]
struct RawEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawConfig {
    #[serde(default)]
    auths: BTreeMap<String, RawEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
}

/// A parsed docker config.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Stored credentials, in key order (an exact key is preferred by [`Config::find`]).
    entries: Vec<(String, Credential)>,
    /// The default helper for registries without an entry.
    creds_store: Option<String>,
    /// Helpers by registry (normalised).
    cred_helpers: BTreeMap<String, String>,
}

impl Config {
    /// Parse `bytes` of `layout`; `what` names the file or Secret in errors.
    pub fn parse(bytes: &[u8], layout: Layout, what: &str) -> Result<Self, Error> {
        if bytes.len() > MAX_CONFIG_LEN {
            return Err(Error::TooLarge {
                what: what.to_string(),
            });
        }
        let malformed = |e: serde_json::Error| Error::Malformed {
            what: what.to_string(),
            why: format!("{} at line {} column {}", kind(&e), e.line(), e.column()),
        };
        let raw: RawConfig = match layout {
            Layout::ConfigJson => serde_json::from_slice(bytes).map_err(malformed)?,
            Layout::DockerCfg => RawConfig {
                auths: serde_json::from_slice(bytes).map_err(malformed)?,
                ..RawConfig::default()
            },
        };
        let mut entries = Vec::new();
        for (key, entry) in &raw.auths {
            if let Some(credential) = decode_entry(key, entry, what)? {
                entries.push((key.clone(), credential));
            }
        }
        Ok(Self {
            entries,
            creds_store: raw.creds_store.filter(|s| !s.trim().is_empty()),
            cred_helpers: raw
                .cred_helpers
                .into_iter()
                .filter(|(_, helper)| !helper.trim().is_empty())
                .map(|(registry, helper)| (normalize_registry(&registry), helper))
                .collect(),
        })
    }

    /// Every stored credential (helpers are not asked).
    pub fn credentials(&self) -> impl Iterator<Item = &Credential> {
        self.entries.iter().map(|(_, c)| c)
    }

    /// The stored credential for `registry`: an entry whose key is exactly `registry`
    /// first, then the first (in key order) that normalises to it.
    pub fn find(&self, registry: &str) -> Option<&Credential> {
        let wanted = normalize_registry(registry);
        self.entries
            .iter()
            .find(|(key, _)| key == registry)
            .or_else(|| self.entries.iter().find(|(_, c)| c.registry == wanted))
            .map(|(_, c)| c)
    }

    /// The credential helper for `registry`: its `credHelpers` entry, else `credsStore`.
    pub fn helper_for(&self, registry: &str) -> Option<&str> {
        self.cred_helpers
            .get(&normalize_registry(registry))
            .or(self.creds_store.as_ref())
            .map(String::as_str)
    }

    /// The credential for `registry`: a stored one, else the helper's (run from `dirs`, or
    /// `PATH` when empty). `Ok(None)` when neither has any.
    pub fn resolve(&self, registry: &str, dirs: &[PathBuf]) -> Result<Option<Credential>, Error> {
        if let Some(found) = self.find(registry) {
            return Ok(Some(found.clone()));
        }
        match self.helper_for(registry) {
            Some(helper) => run_helper(helper, registry, dirs, HELPER_TIMEOUT),
            None => Ok(None),
        }
    }
}

fn kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "not a docker config",
        serde_json::error::Category::Eof => "truncated",
    }
}

/// An entry's credential: `auth` (base64 `user:password`) over `username`/`password`; an
/// `identitytoken` as the password, with the entry's user name or `<token>`.
fn decode_entry(key: &str, entry: &RawEntry, what: &str) -> Result<Option<Credential>, Error> {
    let bad = |why: &'static str| Error::BadEntry {
        what: what.to_string(),
        key: key.to_string(),
        why,
    };
    let mut username = entry.username.clone().unwrap_or_default();
    let mut password = entry.password.clone().unwrap_or_default();
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.trim().is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad("has an 'auth' value that is not valid base64"))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| bad("has an 'auth' value that is not valid UTF-8"))?;
        let (user, pass) = decoded
            .split_once(':')
            .ok_or_else(|| bad("has an 'auth' value that is not user:password"))?;
        username = user.to_string();
        password = pass.to_string();
    }
    if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        if username.is_empty() {
            username = "<token>".to_string();
        }
        password = token.to_string();
    }
    if username.is_empty() && password.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credential {
        registry: normalize_registry(key),
        username,
        password,
    }))
}

/// The server URL a helper is asked about: Docker Hub is stored under its v1 index URL.
fn helper_server(registry: &str) -> String {
    match normalize_registry(registry).as_str() {
        "docker.io" => "https://index.docker.io/v1/".to_string(),
        other => other.to_string(),
    }
}

/// Where `docker-credential-<helper>` is: the first of `dirs` (or `PATH`) holding it.
fn find_helper(helper: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    let program = format!("docker-credential-{helper}");
    if helper.contains(['/', '\\']) || helper.is_empty() {
        return None;
    }
    let search: Vec<PathBuf> = if dirs.is_empty() {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default()
    } else {
        dirs.to_vec()
    };
    search
        .into_iter()
        .map(|dir| dir.join(&program))
        .find(|path| is_executable(path))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Run `docker-credential-<helper> get` for `registry` (from `dirs`, or `PATH` when empty),
/// at most `timeout`. `Ok(None)` when the helper has no credentials for it ("credentials not
/// found in native keychain").
pub fn run_helper(
    helper: &str,
    registry: &str,
    dirs: &[PathBuf],
    timeout: Duration,
) -> Result<Option<Credential>, Error> {
    let failed = |why: String, source: Option<std::io::Error>| Error::Helper {
        helper: helper.to_string(),
        why,
        source,
    };
    let program = find_helper(helper, dirs).ok_or_else(|| Error::HelperNotFound {
        helper: helper.to_string(),
    })?;
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed("could not be started".to_string(), Some(e)))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input is answered by its output alone.
        let _ = stdin.write_all(helper_server(registry).as_bytes());
    }
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut err = Vec::new();
        if let Some(s) = stdout {
            let _ = s.take(MAX_HELPER_OUTPUT).read_to_end(&mut out);
        }
        if let Some(s) = stderr {
            let _ = s.take(MAX_HELPER_OUTPUT).read_to_end(&mut err);
        }
        let _ = sender.send((out, err));
    });
    let Ok((out, err)) = receiver.recv_timeout(timeout) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(failed(format!("no answer within {timeout:?}"), None));
    };
    let status = child
        .wait()
        .map_err(|e| failed("could not be waited for".to_string(), Some(e)))?;
    if !status.success() {
        let message = String::from_utf8_lossy(&out).to_string() + &String::from_utf8_lossy(&err);
        if message
            .to_ascii_lowercase()
            .contains("credentials not found")
        {
            return Ok(None);
        }
        let first_line: String = message
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        return Err(failed(format!("failed ({status}): {first_line}"), None));
    }
    let answer: HelperAnswer = serde_json::from_slice(&out).map_err(|e| {
        failed(
            format!("answered something other than its JSON ({})", kind(&e)),
            None,
        )
    })?;
    if answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credential {
        registry: normalize_registry(registry),
        username: if answer.username.is_empty() {
            "<token>".to_string()
        } else {
            answer.username
        },
        password: answer.secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH_AMY: &str = "YW15OnB3"; // amy:pw

    #[test]
    fn config_json_entries_tokens_and_helpers() {
        let doc = format!(
            r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{AUTH_AMY}"}},
                           "Registry.Local:5000": {{"username": "bob", "password": "s"}},
                           "ghcr.io": {{"identitytoken": "tok"}},
                           "empty.io": {{}}}},
                "credHelpers": {{"123.dkr.ecr.us-east-1.amazonaws.com": "ecr-login", "gcr.io": ""}},
                "credsStore": "desktop"}}"#
        );
        let config = Config::parse(doc.as_bytes(), Layout::ConfigJson, "config.json").unwrap();
        let all: Vec<(&str, &str, &str)> = config
            .credentials()
            .map(|c| {
                (
                    c.registry.as_str(),
                    c.username.as_str(),
                    c.password.as_str(),
                )
            })
            .collect();
        assert_eq!(
            all,
            [
                ("registry.local:5000", "bob", "s"),
                ("ghcr.io", "<token>", "tok"),
                ("docker.io", "amy", "pw"),
            ]
        );
        assert_eq!(config.find("registry-1.docker.io").unwrap().username, "amy");
        assert_eq!(config.find("docker.io").unwrap().password, "pw");
        assert!(config.find("quay.io").is_none());
        assert_eq!(
            config.helper_for("123.dkr.ecr.us-east-1.amazonaws.com"),
            Some("ecr-login")
        );
        // An empty helper name is ignored: the store applies.
        assert_eq!(config.helper_for("gcr.io"), Some("desktop"));
        assert_eq!(config.helper_for("quay.io"), Some("desktop"));
    }

    #[test]
    fn legacy_dockercfg_is_the_map_itself() {
        let doc = format!(
            r#"{{"https://registry.local:5000": {{"auth": "{AUTH_AMY}", "email": "a@b"}}}}"#
        );
        let config = Config::parse(doc.as_bytes(), Layout::DockerCfg, ".dockercfg").unwrap();
        assert_eq!(config.find("registry.local:5000").unwrap().username, "amy");
    }

    #[test]
    fn errors_name_the_document_and_entry_never_the_secret() {
        let e = Config::parse(
            br#"{"auths": {"r.io": {"auth": "c2VjcmV0"}}}"#,
            Layout::ConfigJson,
            "Secret pull",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Secret pull: the entry for 'r.io' has an 'auth' value that is not user:password"
        );
        let e = Config::parse(
            b"{\"auths\": [\"hunter2\"]}",
            Layout::ConfigJson,
            "config.json",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("config.json is malformed: not a docker config"),
            "{e}"
        );
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let big = vec![b' '; MAX_CONFIG_LEN + 1];
        assert!(matches!(
            Config::parse(&big, Layout::ConfigJson, "x"),
            Err(Error::TooLarge { .. })
        ));
    }

    #[cfg(unix)]
    fn helper(dir: &Path, name: &str, script: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join(format!("docker-credential-{name}"));
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn helpers_are_run_with_the_server_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = [dir.path().to_path_buf()];
        // Echoes the server it was asked about as the user name.
        helper(
            dir.path(),
            "echo",
            r#"read server; printf '{"ServerURL":"%s","Username":"%s","Secret":"pw"}' "$server" "$server""#,
        );
        helper(
            dir.path(),
            "none",
            "echo 'credentials not found in native keychain'; exit 1",
        );
        helper(dir.path(), "broken", "echo 'boom' >&2; exit 3");
        helper(dir.path(), "garbage", "echo not-json");
        let got = run_helper("echo", "index.docker.io", &dirs, HELPER_TIMEOUT)
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                got.registry.as_str(),
                got.username.as_str(),
                got.password.as_str()
            ),
            ("docker.io", "https://index.docker.io/v1/", "pw")
        );
        let got = run_helper("echo", "r.example:5000", &dirs, HELPER_TIMEOUT)
            .unwrap()
            .unwrap();
        assert_eq!(got.username, "r.example:5000");
        assert_eq!(
            run_helper("none", "r.io", &dirs, HELPER_TIMEOUT).unwrap(),
            None
        );
        let e = run_helper("broken", "r.io", &dirs, HELPER_TIMEOUT).unwrap_err();
        assert_eq!(
            e.to_string(),
            "credential helper docker-credential-broken: failed (exit status: 3): boom"
        );
        let e = run_helper("garbage", "r.io", &dirs, HELPER_TIMEOUT).unwrap_err();
        assert!(
            e.to_string()
                .contains("answered something other than its JSON"),
            "{e}"
        );
        let e = run_helper("missing", "r.io", &dirs, HELPER_TIMEOUT).unwrap_err();
        assert_eq!(
            e.to_string(),
            "credential helper docker-credential-missing is not on PATH"
        );
        assert!(matches!(
            run_helper("../x", "r.io", &dirs, HELPER_TIMEOUT),
            Err(Error::HelperNotFound { .. })
        ));
        // A stored entry wins over the helper; without one the helper answers.
        let config = Config::parse(
            br#"{"auths": {"a.io": {"username": "u", "password": "p"}}, "credsStore": "echo"}"#,
            Layout::ConfigJson,
            "config.json",
        )
        .unwrap();
        assert_eq!(
            config.resolve("a.io", &dirs).unwrap().unwrap().username,
            "u"
        );
        assert_eq!(
            config.resolve("b.io", &dirs).unwrap().unwrap().username,
            "b.io"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_helper_that_hangs_is_stopped_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        helper(dir.path(), "hang", "exec sleep 600");
        let dirs = [dir.path().to_path_buf()];
        let e = run_helper("hang", "r.io", &dirs, Duration::from_millis(200)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "credential helper docker-credential-hang: no answer within 200ms"
        );
    }
}
