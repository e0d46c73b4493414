//! Options shared by every command that reads an image.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::platform::Platform;

/// How to read an image: platform choice, registry access, and size caps.
#[derive(Debug, Clone, Default)]
pub struct ImageOptions {
    /// The platform to pick from a multi-platform index; `None` means the host's.
    pub platform: Option<Platform>,
    /// Registry access settings.
    pub registry: RegistryOptions,
    /// Size caps for hostile input.
    pub limits: Limits,
}

/// Registry access: TLS, credentials, timeouts and retries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Allow plain HTTP or unverified TLS for every registry.
    pub insecure: bool,
    /// Registries (`host[:port]`) for which plain HTTP or unverified TLS is allowed.
    pub insecure_registries: Vec<String>,
    /// Extra CA certificates (PEM files) trusted in addition to the system roots.
    pub ca_certs: Vec<PathBuf>,
    /// Explicit credentials; they take precedence over the docker config file.
    pub credentials: Option<Credentials>,
    /// A registry access token issued elsewhere (Harbor hands its scanners one), sent as
    /// `Authorization: Bearer` from the first request on.
    pub registry_token: Option<RegistryToken>,
    /// Directory holding `config.json`; defaults to `$DOCKER_CONFIG` or `~/.docker`.
    pub docker_config_dir: Option<PathBuf>,
    /// Timeout to establish a connection.
    pub connect_timeout: Duration,
    /// Longest silence while reading a response body before giving up.
    pub read_timeout: Duration,
    /// Retry policy for 429, 5xx and connection failures.
    pub retry: RetryPolicy,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            insecure: false,
            insecure_registries: Vec::new(),
            ca_certs: Vec::new(),
            credentials: None,
            registry_token: None,
            docker_config_dir: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

impl RegistryOptions {
    /// Is `registry` (`host[:port]`) allowed to be plain HTTP or unverified TLS?
    pub fn is_insecure(&self, registry: &str) -> bool {
        self.insecure || self.insecure_registries.iter().any(|r| r == registry)
    }
}

/// Retries with exponential backoff, bounded in count and in total time.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry; it doubles each time.
    pub initial_backoff: Duration,
    /// Cap on one delay.
    pub max_backoff: Duration,
    /// Cap on the total time spent on one request, retries included.
    pub max_total: Duration,
    /// How a delay is waited out (`std::thread::sleep`; tests record it instead).
    pub sleep: fn(Duration),
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_total: Duration::from_secs(60),
            sleep: std::thread::sleep,
        }
    }
}

/// A username and password (or identity token). `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A bearer token for a registry. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryToken(String);

impl RegistryToken {
    /// Wrap `token`.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself, for the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RegistryToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RegistryToken(<redacted>)")
    }
}

/// The default per-file cap: 2 GiB. Real package databases reach about 1 GiB (a dpkg
/// `status` of a million packages) and 100 MiB (rpm databases); the file is held in memory
/// while it is parsed, one at a time for executables.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 2 * 1024 * 1024 * 1024;

/// The default cap on all files read for one image: 4 GiB.
pub const DEFAULT_MAX_TOTAL_FILE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Size caps applied to everything read from outside.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest manifest or index document.
    pub max_manifest_size: u64,
    /// Largest image config document.
    pub max_config_size: u64,
    /// Largest file handed to a cataloger; larger ones are reported, not read (and a
    /// package database not read makes the scan not judgeable). Default
    /// [`DEFAULT_MAX_FILE_SIZE`].
    pub max_file_size: u64,
    /// Total bytes of files handed to catalogers for one image (executables count as the
    /// little kept of them). Default [`DEFAULT_MAX_TOTAL_FILE_BYTES`].
    pub max_total_file_bytes: u64,
    /// Most tar entries in one layer.
    pub max_entries_per_layer: u64,
    /// Most symlinks followed when resolving one path.
    pub max_symlink_hops: u32,
    /// Most layers in one image (default 128); more is [`ErrorKind::TooLarge`] before any
    /// layer is read.
    ///
    /// [`ErrorKind::TooLarge`]: crate::ErrorKind::TooLarge
    pub max_layers: usize,
    /// Total decompressed bytes of all layers of one image (default 8 GiB), counted as they
    /// stream (a layer listed twice counts twice); more is [`ErrorKind::TooLarge`].
    ///
    /// [`ErrorKind::TooLarge`]: crate::ErrorKind::TooLarge
    pub max_total_layer_bytes: u64,
    /// How many layers of an image are decoded at once: 0 (the default) chooses
    /// automatically (the `PORTCULLIS_LAYER_THREADS` environment variable if set, else the
    /// available parallelism, at most 4); 1 reads them one after the other. Unless it is 1,
    /// each layer is also decompressed on a thread of its own, beside its tar walk. The
    /// files found are the same either way.
    pub layer_threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_manifest_size: 4 * 1024 * 1024,
            max_config_size: 8 * 1024 * 1024,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            max_total_file_bytes: DEFAULT_MAX_TOTAL_FILE_BYTES,
            max_entries_per_layer: 2_000_000,
            max_symlink_hops: 40,
            max_layers: 128,
            max_total_layer_bytes: 8 << 30,
            layer_threads: 0,
        }
    }
}
