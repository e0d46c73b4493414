//! Registry authentication: `WWW-Authenticate` challenges, bearer tokens, and credentials
//! from the docker config file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use percent_encoding::utf8_percent_encode;
use portcullis_types::purl::NOT_UNRESERVED;
use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};
use crate::options::{Credentials, RegistryOptions};

/// Largest docker config file we read.
const MAX_DOCKER_CONFIG_SIZE: u64 = 4 * 1024 * 1024;

/// One challenge of a `WWW-Authenticate` header, e.g. `Bearer realm="…",service="…"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The scheme, lower-cased (`basic`, `bearer`, …).
    pub scheme: String,
    /// The parameters, names lower-cased.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// The value of parameter `name` (lower-case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Parse a `WWW-Authenticate` header value into its challenges (RFC 7235). Never fails:
/// unparseable pieces are skipped.
pub(crate) fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut scanner = Scanner {
        bytes: header.as_bytes(),
        pos: 0,
    };
    let mut challenges = Vec::new();
    loop {
        scanner.skip_while(|b| b == b',' || is_space(b));
        if scanner.at_end() {
            break;
        }
        let scheme = scanner.token();
        if scheme.is_empty() {
            // Not a token character: skip it to make progress.
            scanner.pos += 1;
            continue;
        }
        let mut params = BTreeMap::new();
        loop {
            scanner.skip_while(is_space);
            let start = scanner.pos;
            let name = scanner.token();
            scanner.skip_while(is_space);
            if name.is_empty() || scanner.peek() != Some(b'=') {
                // The start of the next challenge (or a token68 we do not use).
                scanner.pos = start;
                if !name.is_empty() && scanner.peek_after_token_is_token68_end() {
                    scanner.skip_while(is_token68_char);
                    scanner.skip_while(|b| b == b'=');
                }
                break;
            }
            scanner.pos += 1; // '='
            scanner.skip_while(is_space);
            let value = if scanner.peek() == Some(b'"') {
                scanner.quoted_string()
            } else {
                scanner.bare_value()
            };
            params.insert(name.to_ascii_lowercase(), value);
            scanner.skip_while(is_space);
            match scanner.peek() {
                Some(b',') => scanner.pos += 1,
                None => break,
                Some(_) => {
                    // Garbage after a value: skip to the next comma.
                    scanner.skip_while(|b| b != b',');
                }
            }
        }
        challenges.push(Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params,
        });
    }
    challenges
}

/// Pick the challenge we answer: Bearer (with a realm) before Basic.
pub(crate) fn preferred_challenge(challenges: &[Challenge]) -> Option<&Challenge> {
    challenges
        .iter()
        .find(|c| c.scheme == "bearer" && c.param("realm").is_some_and(|r| !r.is_empty()))
        .or_else(|| challenges.iter().find(|c| c.scheme == "basic"))
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    is_tchar(b) || b == b'/'
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_while(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> String {
        let start = self.pos;
        self.skip_while(f);
        String::from_utf8_lossy(self.bytes.get(start..self.pos).unwrap_or_default()).into_owned()
    }

    fn token(&mut self) -> String {
        self.take_while(is_tchar)
    }

    /// An unquoted value; lenient: everything up to a comma or white space.
    fn bare_value(&mut self) -> String {
        self.take_while(|b| b != b',' && !is_space(b))
    }

    /// A token68 (`abc/+=`) ends with '=' padding followed by the end or a comma.
    fn peek_after_token_is_token68_end(&self) -> bool {
        let mut i = self.pos;
        while self.bytes.get(i).is_some_and(|&b| is_token68_char(b)) {
            i += 1;
        }
        let mut saw_eq = false;
        while self.bytes.get(i) == Some(&b'=') {
            saw_eq = true;
            i += 1;
        }
        saw_eq && matches!(self.bytes.get(i), None | Some(b','))
    }

    /// A quoted string starting at the opening quote; handles `\"` escapes; an
    /// unterminated string runs to the end.
    fn quoted_string(&mut self) -> String {
        self.pos += 1; // opening quote
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(escaped) = self.peek() {
                        out.push(escaped);
                        self.pos += 1;
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The `Authorization` value for Basic credentials.
pub(crate) fn basic_authorization(credentials: &Credentials) -> String {
    let raw = format!("{}:{}", credentials.username, credentials.password);
    format!("Basic {}", BASE64.encode(raw))
}

/// The token URL for `realm`, asking for pull access to `repository`.
pub(crate) fn token_url(challenge: &Challenge, repository: &str) -> Option<String> {
    let realm = challenge.param("realm")?;
    let mut url = realm.to_string();
    url.push(if realm.contains('?') { '&' } else { '?' });
    if let Some(service) = challenge.param("service") {
        url.push_str("service=");
        url.push_str(&percent_encode(service));
        url.push('&');
    }
    // The challenge's own scope when it names this repository (a push asks for
    // `pull,push`), else read access.
    let pull = format!("repository:{repository}:pull");
    let scope = challenge
        .param("scope")
        .filter(|scope| scope.starts_with(&format!("repository:{repository}:")))
        .unwrap_or(&pull);
    url.push_str("scope=");
    url.push_str(&percent_encode(scope));
    Some(url)
}

fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// Extract the token from a token endpoint's JSON reply (`token` or `access_token`).
pub(crate) fn parse_token_response(bytes: &[u8], what: &str) -> Result<String> {
    let bad = |why: &str| Error::new(ErrorKind::Registry, format!("{what}: {why}"));
    let reply: TokenResponse = serde_json::from_slice(bytes)
        .map_err(|e| bad(&format!("the token endpoint sent malformed JSON: {e}")))?;
    let token = reply
        .token
        .filter(|t| !t.is_empty())
        .or(reply.access_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| bad("the token endpoint sent no token"))?;
    if token
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || !b.is_ascii())
    {
        return Err(bad(
            "the token endpoint sent a token with invalid characters",
        ));
    }
    Ok(token)
}

/// The credentials for `registry`: explicit ones first, then the docker config file.
pub(crate) fn find_credentials(
    registry: &str,
    options: &RegistryOptions,
) -> Result<Option<Credentials>> {
    if let Some(credentials) = &options.credentials {
        return Ok(Some(credentials.clone()));
    }
    let Some(dir) = docker_config_dir(options) else {
        return Ok(None);
    };
    let path = dir.join("config.json");
    credentials_from_file(&path, registry)
}

/// Where `config.json` lives: the option, else `$DOCKER_CONFIG`, else `~/.docker`.
pub(crate) fn docker_config_dir(options: &RegistryOptions) -> Option<PathBuf> {
    if let Some(dir) = &options.docker_config_dir {
        return Some(dir.clone());
    }
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".docker"))
}

fn credentials_from_file(path: &Path, registry: &str) -> Result<Option<Credentials>> {
    use std::io::Read as _;
    let what = path.display().to_string();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading docker config {what}"), e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_DOCKER_CONFIG_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(format!("reading docker config {what}"), e))?;
    if bytes.len() as u64 > MAX_DOCKER_CONFIG_SIZE {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("docker config {what} is larger than {MAX_DOCKER_CONFIG_SIZE} bytes"),
        ));
    }
    let config = parse_config(&bytes, &what)?;
    Ok(resolve_config(&config, registry, &what))
}

/// Find `registry`'s stored credentials in a docker `config.json` document (see
/// [`portcullis_dockercfg::Config::find`]); `what` names the file. Helpers are not run.
#[cfg(test)]
fn parse_docker_config(bytes: &[u8], registry: &str, what: &str) -> Result<Option<Credentials>> {
    let config = parse_config(bytes, what)?;
    Ok(config.find(registry).map(to_credentials))
}

fn parse_config(bytes: &[u8], what: &str) -> Result<portcullis_dockercfg::Config> {
    portcullis_dockercfg::Config::parse(
        bytes,
        portcullis_dockercfg::Layout::ConfigJson,
        &format!("docker config {what}"),
    )
    .map_err(|e| Error::new(ErrorKind::InvalidOptions, e.to_string()))
}

fn to_credentials(found: &portcullis_dockercfg::Credential) -> Credentials {
    Credentials {
        username: found.username.clone(),
        password: found.password.clone(),
    }
}

/// The credentials `config` gives `registry` ([`portcullis_dockercfg::Config::resolve`]: a
/// stored entry, else its credential helper). A helper that is missing or fails is reported
/// as a warning, and the registry is then tried without credentials.
fn resolve_config(
    config: &portcullis_dockercfg::Config,
    registry: &str,
    what: &str,
) -> Option<Credentials> {
    match config.resolve(registry, &[]) {
        Ok(found) => found.as_ref().map(to_credentials),
        Err(e) => {
            tracing::warn!(
                "docker config {what}: {e}; continuing without credentials for {registry}"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(scheme: &str, params: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.to_string(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn parses_real_world_challenges() {
        let table: Vec<(&str, Vec<Challenge>)> = vec![
            // Docker Hub
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
                vec![challenge(
                    "bearer",
                    &[
                        ("realm", "https://auth.docker.io/token"),
                        ("service", "registry.docker.io"),
                        ("scope", "repository:library/alpine:pull"),
                    ],
                )],
            ),
            // ghcr.io
            (
                r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull""#,
                vec![challenge(
                    "bearer",
                    &[
                        ("realm", "https://ghcr.io/token"),
                        ("service", "ghcr.io"),
                        ("scope", "repository:user/image:pull"),
                    ],
                )],
            ),
            // quay.io
            (
                r#"Bearer realm="https://quay.io/v2/auth",service="quay.io""#,
                vec![challenge(
                    "bearer",
                    &[("realm", "https://quay.io/v2/auth"), ("service", "quay.io")],
                )],
            ),
            // Harbor
            (
                r#"Bearer realm="https://harbor.example.com/service/token",service="harbor-registry""#,
                vec![challenge(
                    "bearer",
                    &[
                        ("realm", "https://harbor.example.com/service/token"),
                        ("service", "harbor-registry"),
                    ],
                )],
            ),
            // distribution with htpasswd
            (
                r#"Basic realm="Registry Realm""#,
                vec![challenge("basic", &[("realm", "Registry Realm")])],
            ),
            // ECR
            (
                r#"Basic realm="https://1.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com""#,
                vec![challenge(
                    "basic",
                    &[
                        ("realm", "https://1.dkr.ecr.us-east-1.amazonaws.com/"),
                        ("service", "ecr.amazonaws.com"),
                    ],
                )],
            ),
            // Several challenges, odd spacing and case, a comma inside a quoted scope,
            // escapes, and an unquoted value.
            (
                r#"Basic realm="a \"b\"" ,  BEARER Realm = "https://t/x?y=1" , Service=svc, scope="repository:a/b:pull,push""#,
                vec![
                    challenge("basic", &[("realm", r#"a "b""#)]),
                    challenge(
                        "bearer",
                        &[
                            ("realm", "https://t/x?y=1"),
                            ("service", "svc"),
                            ("scope", "repository:a/b:pull,push"),
                        ],
                    ),
                ],
            ),
            // token68 then another challenge
            (
                "Negotiate abc+/==, Basic realm=x",
                vec![
                    challenge("negotiate", &[]),
                    challenge("basic", &[("realm", "x")]),
                ],
            ),
            ("", vec![]),
            (
                r#"Bearer realm="unterminated"#,
                vec![challenge("bearer", &[("realm", "unterminated")])],
            ),
        ];
        for (header, expected) in table {
            assert_eq!(parse_challenges(header), expected, "{header}");
        }
    }

    #[test]
    fn garbage_challenges_do_not_panic() {
        for header in [
            "=",
            "\"",
            ",,,",
            "Bearer =",
            "Bearer a=",
            "Bearer a=\"\\",
            "é=é",
            "a b c d",
        ] {
            let _ = parse_challenges(header);
        }
    }

    proptest::proptest! {
        #[test]
        fn challenge_parser_never_panics(s in "\\PC{0,120}") {
            let _ = parse_challenges(&s);
        }
    }

    #[test]
    fn prefers_bearer() {
        let c = parse_challenges(r#"Basic realm="x", Bearer realm="https://t",service="s""#);
        assert_eq!(preferred_challenge(&c).unwrap().scheme, "bearer");
        let c = parse_challenges(r#"Basic realm="x""#);
        assert_eq!(preferred_challenge(&c).unwrap().scheme, "basic");
        assert!(preferred_challenge(&parse_challenges("Digest realm=x")).is_none());
    }

    #[test]
    fn builds_token_urls() {
        let c = challenge(
            "bearer",
            &[
                ("realm", "https://auth.docker.io/token"),
                ("service", "registry.docker.io"),
            ],
        );
        assert_eq!(
            token_url(&c, "library/alpine").unwrap(),
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Falpine%3Apull"
        );
        let c = challenge("bearer", &[("realm", "https://h/t?a=b")]);
        assert_eq!(
            token_url(&c, "x").unwrap(),
            "https://h/t?a=b&scope=repository%3Ax%3Apull"
        );
    }

    #[test]
    fn parses_token_replies() {
        assert_eq!(
            parse_token_response(br#"{"token":"abc"}"#, "t").unwrap(),
            "abc"
        );
        assert_eq!(
            parse_token_response(br#"{"access_token":"xyz","expires_in":300}"#, "t").unwrap(),
            "xyz"
        );
        assert_eq!(
            parse_token_response(br#"{"token":"","access_token":"xyz"}"#, "t").unwrap(),
            "xyz"
        );
        for bad in [
            &b"{}"[..],
            b"nope",
            br#"{"token":"a\nb"}"#,
            br#"{"token":5}"#,
        ] {
            assert_eq!(
                parse_token_response(bad, "t").unwrap_err().kind(),
                ErrorKind::Registry
            );
        }
    }

    #[test]
    fn basic_header() {
        let c = Credentials {
            username: "user".into(),
            password: "pass".into(),
        };
        assert_eq!(basic_authorization(&c), "Basic dXNlcjpwYXNz");
    }

    #[test]
    fn docker_config_auth_base64() {
        // "alice:s3cr:et" (a password may contain ':')
        let doc = br#"{"auths":{"https://index.docker.io/v1/":{"auth":"YWxpY2U6czNjcjpldA=="},"ghcr.io":{"username":"bob","password":"pw"}}}"#;
        let hub = parse_docker_config(doc, "docker.io", "cfg")
            .unwrap()
            .unwrap();
        assert_eq!(hub.username, "alice");
        assert_eq!(hub.password, "s3cr:et");
        let ghcr = parse_docker_config(doc, "ghcr.io", "cfg").unwrap().unwrap();
        assert_eq!(ghcr.username, "bob");
        assert_eq!(ghcr.password, "pw");
        assert_eq!(parse_docker_config(doc, "quay.io", "cfg").unwrap(), None);
    }

    #[test]
    fn docker_config_keys_and_tokens() {
        let doc = br#"{"auths":{"https://registry.example.com":{"username":"u","password":"p"},"registry-1.docker.io":{"identitytoken":"tok"},"localhost:5000":{}},"credsStore":"desktop"}"#;
        let c = parse_docker_config(doc, "registry.example.com", "cfg")
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p"));
        let c = parse_docker_config(doc, "docker.io", "cfg")
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("<token>", "tok")
        );
        assert_eq!(
            parse_docker_config(doc, "localhost:5000", "cfg").unwrap(),
            None
        );
        assert_eq!(parse_docker_config(b"{}", "x", "cfg").unwrap(), None);
    }

    #[test]
    fn docker_config_errors_name_the_file_not_the_secret() {
        let err =
            parse_docker_config(br#"{"auths":{"r":{"auth":"!!!"}}}"#, "r", "/c.json").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidOptions);
        assert_eq!(
            err.to_string(),
            "docker config /c.json: the entry for 'r' has an 'auth' value that is not valid base64"
        );
        let err = parse_docker_config(b"[", "r", "/c.json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("docker config /c.json is malformed")
        );
    }

    #[test]
    fn reads_docker_config_from_dir() {
        let dir = tempfile::tempdir().unwrap();
        let options = RegistryOptions {
            docker_config_dir: Some(dir.path().to_path_buf()),
            ..RegistryOptions::default()
        };
        assert_eq!(find_credentials("r.io", &options).unwrap(), None);
        std::fs::write(
            dir.path().join("config.json"),
            br#"{"auths":{"r.io":{"username":"u","password":"p"}}}"#,
        )
        .unwrap();
        let c = find_credentials("r.io", &options).unwrap().unwrap();
        assert_eq!(c.username, "u");
        let explicit = RegistryOptions {
            credentials: Some(Credentials {
                username: "x".into(),
                password: "y".into(),
            }),
            ..options
        };
        assert_eq!(
            find_credentials("r.io", &explicit)
                .unwrap()
                .unwrap()
                .username,
            "x"
        );
    }
}
