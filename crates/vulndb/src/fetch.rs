//! Network sources: what to download, from which (configurable) base URL, and the
//! [`Updater`] that downloads them and imports them atomically.
//!
//! Downloading goes through the [`Fetcher`] trait so updates can be tested without a network
//! (tests serve files from 127.0.0.1); [`HttpFetcher`] is the production implementation
//! (ureq with rustls). Every download lands in a temporary directory next to the database
//! and is imported by content like a local file, in lenient mode by default so that one bad
//! upstream record does not block every update (it is listed in the summary).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::utf8_percent_encode;
use portcullis_types::purl::NOT_UNRESERVED;

use crate::error::{Error, ErrorKind, Result};
use crate::import::{ImportOptions, ImportSummary};
use crate::store::Database;

/// Downloads one URL into `dest`, at most `max_bytes`; returns the bytes written.
pub trait Fetcher: Send + Sync + std::fmt::Debug {
    /// Fetch `url` into `dest`.
    fn fetch(&self, url: &str, dest: &mut dyn Write, max_bytes: u64) -> Result<u64>;
}

/// How [`HttpFetcher`] connects and retries.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The time one request may take, body included.
    pub timeout: Duration,
    /// Extra CA certificates (PEM files) trusted besides the system's roots: the same
    /// `--ca-cert` / `caCerts` the registry client trusts, for mirrors behind an internal CA.
    pub ca_certs: Vec<PathBuf>,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The delay before the first retry; it doubles each time, up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Cap on one computed delay. A server's `Retry-After` is taken instead, up to
    /// [`MAX_RETRY_AFTER`].
    pub max_backoff: Duration,
    /// How a delay is waited out (`std::thread::sleep`; tests record it instead).
    pub sleep: fn(Duration),
}

/// The longest `Retry-After` a feed server may ask for; longer requests fail at once.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            ca_certs: Vec::new(),
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            sleep: std::thread::sleep,
        }
    }
}

/// The production [`Fetcher`]: HTTPS (rustls, the system's roots plus `ca_certs`) with a
/// global timeout per request. Connection failures, time-outs and the answers 408, 429, 500,
/// 502, 503 and 504 are retried with exponential backoff (or after the server's
/// `Retry-After`), as long as no byte of the body was written.
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    agent: ureq::Agent,
    options: FetchOptions,
}

/// One failed attempt: the error, and whether (and after how long, if the server said)
/// another attempt may succeed.
struct Failure {
    error: Error,
    retry: Option<Option<Duration>>,
}

impl HttpFetcher {
    /// A fetcher whose requests time out after `timeout`, trusting the system's roots.
    pub fn new(timeout: Duration) -> Self {
        let options = FetchOptions {
            timeout,
            ..FetchOptions::default()
        };
        // Without CA files there is nothing that can fail to load.
        let tls = portcullis_tls::ureq_config(&[], true).unwrap_or_else(|_| {
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::WebPki)
                .build()
        });
        Self::with_tls(options, tls)
    }

    /// A fetcher with `options`; a CA file that cannot be used is
    /// [`ErrorKind::InvalidOptions`], naming the file.
    pub fn with_options(options: FetchOptions) -> Result<Self> {
        let tls = portcullis_tls::ureq_config(&options.ca_certs, true)
            .map_err(|e| Error::new(ErrorKind::InvalidOptions, e.to_string()).with_source(e))?;
        Ok(Self::with_tls(options, tls))
    }

    fn with_tls(options: FetchOptions, tls: ureq::tls::TlsConfig) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(options.timeout))
            .http_status_as_error(false)
            .tls_config(tls)
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent: config.into(),
            options,
        }
    }

    fn attempt(&self, url: &str, dest: &mut dyn Write, max_bytes: u64) -> Result<u64, Failure> {
        let fail = |kind, message: String, retry| Failure {
            error: Error::new(kind, format!("{url}: {message}")),
            retry,
        };
        let mut response = self.agent.get(url).call().map_err(|e| {
            // A request that cannot be built, a malformed answer or a certificate that is
            // not trusted will fail the same way again.
            let lasting = portcullis_tls::is_tls_error(&e)
                || matches!(
                    e,
                    ureq::Error::BadUri(_) | ureq::Error::Http(_) | ureq::Error::Protocol(_)
                );
            fail(
                ErrorKind::Network,
                e.to_string(),
                (!lasting).then_some(None),
            )
        })?;
        let status = response.status();
        if !status.is_success() {
            let retry = matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
                .then(|| retry_after(&response));
            return Err(fail(
                ErrorKind::Network,
                format!("http status: {}", status.as_u16()),
                retry,
            ));
        }
        let mut reader = response.body_mut().with_config().limit(max_bytes).reader();
        let mut written = CountingWriter {
            inner: dest,
            count: 0,
        };
        std::io::copy(&mut reader, &mut written).map_err(|e| {
            let too_large = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<ureq::Error>())
                .is_some_and(|inner| matches!(inner, ureq::Error::BodyExceedsLimit(_)));
            let kind = if too_large {
                ErrorKind::TooLarge
            } else {
                ErrorKind::Network
            };
            // A body cut short before its first byte reached `dest` can be fetched again.
            let retry = (!too_large && written.count == 0).then_some(None);
            fail(kind, e.to_string(), retry)
        })
    }
}

impl Default for HttpFetcher {
    fn default() -> Self {
        Self::new(FetchOptions::default().timeout)
    }
}

impl Fetcher for HttpFetcher {
    fn fetch(&self, url: &str, dest: &mut dyn Write, max_bytes: u64) -> Result<u64> {
        let options = &self.options;
        let max_attempts = options.max_attempts.max(1);
        let mut backoff = options.initial_backoff;
        let mut attempts = 1;
        loop {
            let failure = match self.attempt(url, dest, max_bytes) {
                Ok(bytes) => return Ok(bytes),
                Err(failure) => failure,
            };
            let error = failure.error;
            let Some(asked) = failure.retry else {
                return Err(error);
            };
            if asked.is_some_and(|delay| delay > MAX_RETRY_AFTER) {
                return Err(Error::new(
                    error.kind(),
                    format!(
                        "{error} (the server asked to retry after more than {}s)",
                        MAX_RETRY_AFTER.as_secs()
                    ),
                ));
            }
            if attempts >= max_attempts {
                if attempts == 1 {
                    return Err(error);
                }
                return Err(Error::new(
                    error.kind(),
                    format!("{error} (gave up after {attempts} attempts)"),
                ));
            }
            let delay = asked.unwrap_or(backoff.min(options.max_backoff));
            tracing::warn!(%url, attempt = attempts, delay_ms = delay.as_millis() as u64, "{error}; retrying");
            (options.sleep)(delay);
            backoff = backoff.saturating_mul(2);
            attempts += 1;
        }
    }
}

/// A server's `Retry-After` in seconds (the HTTP-date form is not used by feed servers).
fn retry_after(response: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    value.trim().parse().ok().map(Duration::from_secs)
}

/// Counts what passes to `inner`.
struct CountingWriter<'a> {
    inner: &'a mut dyn Write,
    count: u64,
}

impl Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Amazon Linux's CDN, the default [`Mirrors::amazon`].
const AMAZON_CDN: &str = "https://cdn.amazonlinux.com";

/// Base URLs of the upstream sources; point them at a mirror for clusters without
/// internet access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirrors {
    /// OSV's bucket: `<osv>/<ecosystem>/all.zip`.
    pub osv: String,
    /// Alpine secdb: `<alpine>/<branch>/<repo>.json`.
    pub alpine: String,
    /// Debian OVAL: `<debian_oval>/oval-definitions-<codename>.xml.bz2`.
    pub debian_oval: String,
    /// Debian security tracker data: `<debian_tracker>/DSA/list`, `<debian_tracker>/DLA/list`.
    pub debian_tracker: String,
    /// The Debian security tracker's JSON: `<debian_json>/json`.
    pub debian_json: String,
    /// NVD JSON 2.0 feeds: `<nvd>/nvdcve-2.0-<feed>.json.gz`.
    pub nvd: String,
    /// CISA's KEV catalog: `<kev>/known_exploited_vulnerabilities.json`.
    pub kev: String,
    /// FIRST's EPSS scores: `<epss>/epss_scores-current.csv.gz`.
    pub epss: String,
    /// Oracle Linux's ELSA OVAL: `<oracle>/com.oracle.elsa-all.xml.bz2`.
    pub oracle: String,
    /// Amazon Linux's repositories: `<amazon>/2/core/latest/x86_64/mirror.list` and
    /// `<amazon>/al2023/core/mirrors/latest/x86_64/mirror.list`, the repository each names
    /// (its `repodata/repomd.xml`, then the `updateinfo` file that names). Repository URLs
    /// in a mirror list under the default base are read under this one.
    pub amazon: String,
    /// Photon OS CVE metadata: `<photon>/cve_data_photon<version>.json`.
    pub photon: String,
}

impl Mirrors {
    /// Every source mirrored under one base URL: `<base>/osv`, `<base>/alpine`,
    /// `<base>/debian-oval`, `<base>/debian-tracker` (the lists and the JSON), `<base>/nvd`,
    /// `<base>/kev`, `<base>/epss`, `<base>/oracle`, `<base>/amazon`, `<base>/photon` (the
    /// server's `database.mirror`).
    pub fn under(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            osv: format!("{base}/osv"),
            alpine: format!("{base}/alpine"),
            debian_oval: format!("{base}/debian-oval"),
            debian_tracker: format!("{base}/debian-tracker"),
            debian_json: format!("{base}/debian-tracker"),
            nvd: format!("{base}/nvd"),
            kev: format!("{base}/kev"),
            epss: format!("{base}/epss"),
            oracle: format!("{base}/oracle"),
            amazon: format!("{base}/amazon"),
            photon: format!("{base}/photon"),
        }
    }
}

impl Default for Mirrors {
    fn default() -> Self {
        Self {
            osv: "https://osv-vulnerabilities.storage.googleapis.com".to_owned(),
            alpine: "https://secdb.alpinelinux.org".to_owned(),
            debian_oval: "https://www.debian.org/security/oval".to_owned(),
            debian_tracker:
                "https://salsa.debian.org/security-tracker-team/security-tracker/-/raw/master/data"
                    .to_owned(),
            debian_json: "https://security-tracker.debian.org/tracker/data".to_owned(),
            nvd: "https://nvd.nist.gov/feeds/json/cve/2.0".to_owned(),
            kev: "https://www.cisa.gov/sites/default/files/feeds".to_owned(),
            epss: "https://epss.empiricalsecurity.com".to_owned(),
            oracle: "https://linux.oracle.com/security/oval".to_owned(),
            amazon: AMAZON_CDN.to_owned(),
            photon: "https://packages.vmware.com/photon/photon_cve_metadata".to_owned(),
        }
    }
}

/// One upstream source to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkSource {
    /// An OSV ecosystem export (`Go`, `PyPI`, `Alpine`, `Debian`, `Rocky Linux`, …).
    Osv {
        /// The OSV ecosystem name.
        ecosystem: String,
    },
    /// One Alpine secdb file.
    AlpineSecdb {
        /// The branch (`v3.20`, `edge`).
        branch: String,
        /// The repository (`main`, `community`).
        repo: String,
    },
    /// Debian OVAL definitions of one release.
    DebianOval {
        /// The code name (`bookworm`).
        codename: String,
    },
    /// The Debian Security Advisory list.
    DebianDsa,
    /// The Debian LTS Advisory list.
    DebianDla,
    /// The Debian security tracker's JSON: statuses, urgencies and no-DSA decisions.
    DebianTracker,
    /// One NVD JSON 2.0 feed (`modified`, `recent`, `2024`, …).
    Nvd {
        /// The feed name.
        feed: String,
    },
    /// CISA's Known Exploited Vulnerabilities catalog.
    Kev,
    /// FIRST's current EPSS scores.
    Epss,
    /// Oracle Linux's ELSA OVAL (every release).
    OracleOval,
    /// The ALAS `updateinfo` of one Amazon Linux release's core repository (x86_64).
    AmazonLinux {
        /// The release: `2` or `2023`.
        release: String,
    },
    /// Photon OS CVE metadata of one release.
    Photon {
        /// The release (`5.0`).
        version: String,
    },
}

fn encode_path_segment(segment: &str) -> String {
    utf8_percent_encode(segment, NOT_UNRESERVED).to_string()
}

impl NetworkSource {
    /// A short name for messages and `--source` selection (`osv:Go`, `alpine:v3.20/main`).
    pub fn name(&self) -> String {
        match self {
            Self::Osv { ecosystem } => format!("osv:{ecosystem}"),
            Self::AlpineSecdb { branch, repo } => format!("alpine-secdb:{branch}/{repo}"),
            Self::DebianOval { codename } => format!("debian-oval:{codename}"),
            Self::DebianDsa => "debian-dsa".to_owned(),
            Self::DebianDla => "debian-dla".to_owned(),
            Self::DebianTracker => "debian-tracker".to_owned(),
            Self::Nvd { feed } => format!("nvd:{feed}"),
            Self::Kev => "kev".to_owned(),
            Self::Epss => "epss".to_owned(),
            Self::OracleOval => "oracle-oval".to_owned(),
            Self::AmazonLinux { release } => format!("alas:{release}"),
            Self::Photon { version } => format!("photon:{version}"),
        }
    }

    /// The URL to fetch under `mirrors`.
    pub fn url(&self, mirrors: &Mirrors) -> String {
        let base = |b: &str| b.trim_end_matches('/').to_owned();
        match self {
            Self::Osv { ecosystem } => {
                format!(
                    "{}/{}/all.zip",
                    base(&mirrors.osv),
                    encode_path_segment(ecosystem)
                )
            }
            Self::AlpineSecdb { branch, repo } => format!(
                "{}/{}/{}.json",
                base(&mirrors.alpine),
                encode_path_segment(branch),
                encode_path_segment(repo)
            ),
            Self::DebianOval { codename } => format!(
                "{}/oval-definitions-{}.xml.bz2",
                base(&mirrors.debian_oval),
                encode_path_segment(codename)
            ),
            Self::DebianDsa => format!("{}/DSA/list", base(&mirrors.debian_tracker)),
            Self::DebianDla => format!("{}/DLA/list", base(&mirrors.debian_tracker)),
            Self::DebianTracker => format!("{}/json", base(&mirrors.debian_json)),
            Self::Nvd { feed } => format!(
                "{}/nvdcve-2.0-{}.json.gz",
                base(&mirrors.nvd),
                encode_path_segment(feed)
            ),
            Self::Kev => format!(
                "{}/known_exploited_vulnerabilities.json",
                base(&mirrors.kev)
            ),
            Self::Epss => format!("{}/epss_scores-current.csv.gz", base(&mirrors.epss)),
            Self::OracleOval => format!("{}/com.oracle.elsa-all.xml.bz2", base(&mirrors.oracle)),
            // The mirror list; [`Updater`] follows it to the repository's updateinfo.
            Self::AmazonLinux { release } => {
                let release = encode_path_segment(release);
                let path = if release == "2" {
                    "2/core/latest".to_owned()
                } else {
                    format!("al{release}/core/mirrors/latest")
                };
                format!("{}/{path}/x86_64/mirror.list", base(&mirrors.amazon))
            }
            Self::Photon { version } => format!(
                "{}/cve_data_photon{}.json",
                base(&mirrors.photon),
                encode_path_segment(version)
            ),
        }
    }

    /// The `.meta` file of an NVD feed (`sha256`, `lastModifiedDate`, sizes): what tells
    /// whether the feed changed without downloading it.
    pub fn meta_url(&self, mirrors: &Mirrors) -> Option<String> {
        match self {
            Self::Nvd { feed } => Some(format!(
                "{}/nvdcve-2.0-{}.meta",
                mirrors.nvd.trim_end_matches('/'),
                encode_path_segment(feed)
            )),
            _ => None,
        }
    }

    fn file_name(&self, index: usize) -> String {
        if let Self::Photon { version } = self {
            // The Photon importer reads the release from the upstream file name.
            let version: String = version
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            return format!("{index:03}-cve_data_photon{version}.json");
        }
        let name: String = self
            .name()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("{index:03}-{name}")
    }
}

/// The sources fetched by default: by `portcullis db update`, by the first `portcullis scan`
/// on a machine without a database, and by the server's scheduled updates.
pub fn default_sources() -> Vec<NetworkSource> {
    let mut sources: Vec<NetworkSource> = [
        "Go",
        "PyPI",
        "crates.io",
        "npm",
        "Maven",
        "Alpine",
        "Debian",
        "Ubuntu",
        "Red Hat",
        "AlmaLinux",
        "Rocky Linux",
        "SUSE",
        "openSUSE",
        "Wolfi",
        "Chainguard",
        "Azure Linux",
    ]
    .into_iter()
    .map(|ecosystem| NetworkSource::Osv {
        ecosystem: ecosystem.to_owned(),
    })
    .collect();
    for minor in 16..=21 {
        for repo in ["main", "community"] {
            sources.push(NetworkSource::AlpineSecdb {
                branch: format!("v3.{minor}"),
                repo: repo.to_owned(),
            });
        }
    }
    for codename in ["bullseye", "bookworm", "trixie"] {
        sources.push(NetworkSource::DebianOval {
            codename: codename.to_owned(),
        });
    }
    sources.push(NetworkSource::DebianDsa);
    sources.push(NetworkSource::DebianDla);
    sources.push(NetworkSource::DebianTracker);
    sources.push(NetworkSource::OracleOval);
    for release in ["2", "2023"] {
        sources.push(NetworkSource::AmazonLinux {
            release: release.to_owned(),
        });
    }
    for version in ["3.0", "4.0", "5.0"] {
        sources.push(NetworkSource::Photon {
            version: version.to_owned(),
        });
    }
    // NVD's `recent` and `modified` feeds, applied as upserts; each is downloaded only when
    // its `.meta` changed since the last update. The yearly feeds are the builder's
    // ([`build_sources`]).
    for feed in ["recent", "modified"] {
        sources.push(NetworkSource::Nvd {
            feed: feed.to_owned(),
        });
    }
    sources.push(NetworkSource::Kev);
    sources.push(NetworkSource::Epss);
    sources
}

/// The sources of a full build (`portcullis db build`, the builder role): every yearly NVD
/// feed from 2002 to this year, then [`default_sources`] (whose `recent` and `modified` feeds
/// come after the yearly ones, so the newest record of a CVE wins).
///
/// The yearly feeds are not in [`default_sources`]: reading all of them downloads about
/// 25 files and writes every CVE (300,000 records: 9 s and 190 MB peak in
/// `bench/nvd-scale.sh`), more than a first scan or every server replica should spend. Servers
/// follow the builder's artifact instead.
pub fn build_sources() -> Vec<NetworkSource> {
    let mut sources: Vec<NetworkSource> = (2002..=current_year())
        .map(|year| NetworkSource::Nvd {
            feed: year.to_string(),
        })
        .collect();
    sources.extend(default_sources());
    sources
}

/// The current year (UTC).
fn current_year() -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    crate::time::format_unix(now)
        .get(..4)
        .and_then(|y| y.parse().ok())
        .unwrap_or(2026)
}

/// What an NVD feed's `.meta` file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedMeta {
    /// The SHA-256 of the uncompressed JSON (lower-case hex).
    pub sha256: String,
    /// `lastModifiedDate`, as written.
    pub last_modified: Option<String>,
}

/// Parse an NVD `.meta` file (`key:value` lines); `label` names it in errors. The `sha256`
/// line is required and must be 64 hex digits.
pub fn parse_feed_meta(label: &str, text: &str) -> Result<FeedMeta> {
    let mut sha256 = None;
    let mut last_modified = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "sha256" => sha256 = Some(value.trim().to_ascii_lowercase()),
            "lastModifiedDate" => last_modified = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let sha256 = sha256.ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: no sha256 line in the feed's .meta"),
        )
    })?;
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{label}: sha256 '{}' is not 64 hex digits",
                sha256.chars().take(80).collect::<String>()
            ),
        ));
    }
    Ok(FeedMeta {
        sha256,
        last_modified,
    })
}

/// The SHA-256 (hex) of the gunzipped content of `path`.
fn gunzipped_sha256(path: &Path) -> Result<String> {
    use sha2::Digest as _;
    let file =
        fs::File::open(path).map_err(|e| Error::io(format!("{}: opening", path.display()), e))?;
    let mut decoder = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = std::io::Read::read(&mut decoder, &mut buf).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{}: not a complete gzip stream: {e}", path.display()),
            )
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The [`build_sources`] whose [`NetworkSource::name`] starts with one of `prefixes`; all of
/// them when `prefixes` is empty.
pub fn select_build_sources(prefixes: &[String]) -> Vec<NetworkSource> {
    build_sources()
        .into_iter()
        .filter(|s| {
            prefixes.is_empty() || prefixes.iter().any(|p| s.name().starts_with(p.as_str()))
        })
        .collect()
}

/// The [`default_sources`] whose [`NetworkSource::name`] starts with one of `prefixes`; all of
/// them when `prefixes` is empty.
pub fn select_sources(prefixes: &[String]) -> Vec<NetworkSource> {
    default_sources()
        .into_iter()
        .filter(|s| {
            prefixes.is_empty() || prefixes.iter().any(|p| s.name().starts_with(p.as_str()))
        })
        .collect()
}

/// Fetches configured sources and imports them into one database atomically.
#[derive(Debug, Clone)]
pub struct Updater {
    /// The database to update.
    pub db_path: PathBuf,
    /// What to fetch.
    pub sources: Vec<NetworkSource>,
    /// Where from.
    pub mirrors: Mirrors,
    /// How.
    pub fetcher: Arc<dyn Fetcher>,
    /// Import policy (lenient by default for unattended updates).
    pub options: ImportOptions,
    /// The largest download accepted per source, in bytes (default 1 GiB).
    pub max_download: u64,
}

impl Updater {
    /// An updater for `db_path` with default mirrors, the HTTP fetcher and lenient imports.
    pub fn new(db_path: impl Into<PathBuf>, sources: Vec<NetworkSource>) -> Self {
        Self {
            db_path: db_path.into(),
            sources,
            mirrors: Mirrors::default(),
            fetcher: Arc::new(HttpFetcher::default()),
            options: ImportOptions {
                strict: false,
                ..ImportOptions::default()
            },
            max_download: 1 << 30,
        }
    }

    /// Fetch every source, then import them all in one atomic update. If any download
    /// fails, nothing is imported and the database is untouched.
    pub fn update(&self) -> Result<ImportSummary> {
        if self.sources.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidOptions,
                format!("{}: no sources to update", self.db_path.display()),
            ));
        }
        let dir = download_dir(&self.db_path);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("{}: creating", dir.display()), e))?;
        let result = self.fetch_and_import(&dir);
        let _ = fs::remove_dir_all(&dir);
        result
    }

    fn fetch_and_import(&self, dir: &Path) -> Result<ImportSummary> {
        // What the database in place holds of each feed with a `.meta`.
        let known = Database::open(&self.db_path).ok();
        let mut files = Vec::with_capacity(self.sources.len());
        let mut digests = Vec::new();
        for (index, source) in self.sources.iter().enumerate() {
            let name = source.name();
            let meta = match source.meta_url(&self.mirrors) {
                Some(meta_url) => {
                    let mut text = Vec::new();
                    self.fetcher.fetch(&meta_url, &mut text, 64 * 1024)?;
                    let meta = parse_feed_meta(&meta_url, &String::from_utf8_lossy(&text))?;
                    let held = known
                        .as_ref()
                        .and_then(|db| db.feed_digest(&name).ok().flatten());
                    if held.as_deref() == Some(meta.sha256.as_str()) {
                        tracing::info!(source = %name, "unchanged since the last update (its .meta); not downloaded");
                        continue;
                    }
                    Some(meta)
                }
                None => None,
            };
            let url = self.resolve(source)?;
            let path = dir.join(source.file_name(index));
            let mut file = fs::File::create(&path)
                .map_err(|e| Error::io(format!("{}: creating", path.display()), e))?;
            tracing::info!(source = %name, %url, "fetching");
            let bytes = self.fetcher.fetch(&url, &mut file, self.max_download)?;
            drop(file);
            tracing::info!(source = %name, bytes, "fetched");
            if let Some(meta) = meta {
                let actual = gunzipped_sha256(&path)?;
                if actual != meta.sha256 {
                    return Err(Error::new(
                        ErrorKind::ChecksumMismatch,
                        format!(
                            "{url}: content SHA-256 {actual} differs from its .meta ({}); nothing was imported",
                            meta.sha256
                        ),
                    ));
                }
                digests.push((name, meta.sha256));
            }
            files.push(path);
        }
        if files.is_empty() {
            tracing::info!(db = %self.db_path.display(), "every source is unchanged; the database stays as it is");
            return Ok(ImportSummary::default());
        }
        let options = self.options.clone();
        Database::update_atomically(&self.db_path, move |builder| {
            let summary = builder.import_paths(&files, &options)?;
            for (name, sha256) in &digests {
                builder.set_feed_digest(name, sha256)?;
            }
            Ok(summary)
        })
    }
}

impl Updater {
    /// The URL of `source`'s data: [`NetworkSource::url`], or for Amazon Linux the
    /// `updateinfo` that the mirror list's repository's `repodata/repomd.xml` names.
    fn resolve(&self, source: &NetworkSource) -> Result<String> {
        let NetworkSource::AmazonLinux { .. } = source else {
            return Ok(source.url(&self.mirrors));
        };
        let list_url = source.url(&self.mirrors);
        let mut list = Vec::new();
        self.fetcher.fetch(&list_url, &mut list, 64 * 1024)?;
        let repo =
            mirror_list_repository(&list_url, &String::from_utf8_lossy(&list), &self.mirrors)?;
        let repomd_url = format!("{repo}/repodata/repomd.xml");
        let mut repomd = Vec::new();
        self.fetcher.fetch(&repomd_url, &mut repomd, 4 << 20)?;
        let href = updateinfo_location(&repomd_url, &repomd)?;
        Ok(format!("{repo}/{href}"))
    }
}

/// The repository (base URL, no trailing `/`) of an Amazon Linux mirror list: its first
/// URL; a relative one is read beside the list, and one under Amazon's CDN under
/// [`Mirrors::amazon`] when that points elsewhere.
pub fn mirror_list_repository(list_url: &str, text: &str, mirrors: &Mirrors) -> Result<String> {
    let invalid = |what: &str| Error::new(ErrorKind::InvalidInput, format!("{list_url}: {what}"));
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| invalid("the mirror list names no repository"))?;
    if line.len() > 2048 || line.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("the mirror list's first line is not a URL"));
    }
    let line = line.trim_end_matches('/');
    let url = if line.starts_with("https://") || line.starts_with("http://") {
        line.to_owned()
    } else if line.contains("://") || line.starts_with('/') || line.split('/').any(|p| p == "..") {
        return Err(invalid("the mirror list's first line is not a URL"));
    } else {
        let dir = list_url.rsplit_once('/').map_or(list_url, |(dir, _)| dir);
        format!("{dir}/{line}")
    };
    let mirror = mirrors.amazon.trim_end_matches('/');
    match url.strip_prefix(AMAZON_CDN) {
        Some(rest) if mirror != AMAZON_CDN && rest.starts_with('/') => {
            Ok(format!("{mirror}{rest}"))
        }
        _ => Ok(url),
    }
}

/// The `href` of the `updateinfo` entry of a `repomd.xml` (relative to the repository; a
/// path that would leave it is refused).
pub fn updateinfo_location(label: &str, repomd: &[u8]) -> Result<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(repomd);
    let mut buf = Vec::new();
    let mut in_updateinfo = false;
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{label}: malformed repomd.xml: {e}"),
            )
            .with_source(e)
        })?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => match e.local_name().as_ref() {
                b"data" => {
                    in_updateinfo =
                        crate::import::xml::attr(e, b"type").as_deref() == Some("updateinfo");
                }
                b"location" if in_updateinfo => {
                    let href = crate::import::xml::attr(e, b"href").unwrap_or_default();
                    let safe = !href.is_empty()
                        && href.len() <= 1024
                        && !href.contains("://")
                        && !href.starts_with('/')
                        && !href.split('/').any(|p| p == "..")
                        && !href
                            .chars()
                            .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#');
                    if !safe {
                        return Err(Error::new(
                            ErrorKind::InvalidInput,
                            format!(
                                "{label}: the updateinfo location {:?} is not a path in the repository",
                                href.chars().take(120).collect::<String>()
                            ),
                        ));
                    }
                    return Ok(href);
                }
                _ => {}
            },
            Event::End(ref e) if e.local_name().as_ref() == b"data" => in_updateinfo = false,
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Err(Error::new(
        ErrorKind::InvalidInput,
        format!("{label}: repomd.xml names no updateinfo"),
    ))
}

fn download_dir(db_path: &Path) -> PathBuf {
    let name = db_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "db.sqlite".to_owned());
    db_path.with_file_name(format!("{name}.download-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_base_mirror_layout() {
        let m = Mirrors::under("https://mirror.local/feeds/");
        let base = "https://mirror.local/feeds";
        assert_eq!(m.osv, format!("{base}/osv"));
        assert_eq!(m.debian_tracker, format!("{base}/debian-tracker"));
        assert_eq!(m.debian_json, m.debian_tracker);
        assert_eq!(m.photon, format!("{base}/photon"));
        assert_eq!(
            NetworkSource::Kev.url(&m),
            format!("{base}/kev/known_exploited_vulnerabilities.json")
        );
    }

    #[test]
    fn default_sources_include_every_distribution_export() {
        let m = Mirrors {
            osv: "http://127.0.0.1:9/osv".into(),
            ..Mirrors::default()
        };
        let osv: Vec<(String, String)> = default_sources()
            .iter()
            .filter(|s| matches!(s, NetworkSource::Osv { .. }))
            .map(|s| (s.name(), s.url(&m)))
            .collect();
        let want: Vec<(String, String)> = [
            ("Go", "Go"),
            ("PyPI", "PyPI"),
            ("crates.io", "crates.io"),
            ("npm", "npm"),
            ("Maven", "Maven"),
            ("Alpine", "Alpine"),
            ("Debian", "Debian"),
            ("Ubuntu", "Ubuntu"),
            ("Red Hat", "Red%20Hat"),
            ("AlmaLinux", "AlmaLinux"),
            ("Rocky Linux", "Rocky%20Linux"),
            ("SUSE", "SUSE"),
            ("openSUSE", "openSUSE"),
            ("Wolfi", "Wolfi"),
            ("Chainguard", "Chainguard"),
            ("Azure Linux", "Azure%20Linux"),
        ]
        .iter()
        .map(|(e, path)| {
            (
                format!("osv:{e}"),
                format!("http://127.0.0.1:9/osv/{path}/all.zip"),
            )
        })
        .collect();
        assert_eq!(osv, want);
        let names: Vec<String> = select_sources(&["osv:Red".into()])
            .iter()
            .map(NetworkSource::name)
            .collect();
        assert_eq!(names, ["osv:Red Hat"]);
    }

    #[test]
    fn urls() {
        let m = Mirrors::default();
        let osv = NetworkSource::Osv {
            ecosystem: "Rocky Linux".into(),
        };
        assert_eq!(
            osv.url(&m),
            "https://osv-vulnerabilities.storage.googleapis.com/Rocky%20Linux/all.zip"
        );
        let mirror = Mirrors {
            osv: "http://127.0.0.1:8080/osv/".into(),
            ..Mirrors::default()
        };
        let go = NetworkSource::Osv {
            ecosystem: "Go".into(),
        };
        assert_eq!(go.url(&mirror), "http://127.0.0.1:8080/osv/Go/all.zip");
        let alpine = NetworkSource::AlpineSecdb {
            branch: "v3.20".into(),
            repo: "main".into(),
        };
        assert_eq!(
            alpine.url(&m),
            "https://secdb.alpinelinux.org/v3.20/main.json"
        );
        assert_eq!(
            NetworkSource::DebianOval {
                codename: "bookworm".into()
            }
            .url(&m),
            "https://www.debian.org/security/oval/oval-definitions-bookworm.xml.bz2"
        );
        assert!(NetworkSource::DebianDsa.url(&m).ends_with("/data/DSA/list"));
        let mirror = Mirrors {
            kev: "http://127.0.0.1:8080/kev/".into(),
            epss: "http://127.0.0.1:8080/epss".into(),
            ..Mirrors::default()
        };
        for (source, default, mirrored) in [
            (
                NetworkSource::Kev,
                "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
                "http://127.0.0.1:8080/kev/known_exploited_vulnerabilities.json",
            ),
            (
                NetworkSource::Epss,
                "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz",
                "http://127.0.0.1:8080/epss/epss_scores-current.csv.gz",
            ),
        ] {
            assert_eq!(source.url(&m), default);
            assert_eq!(source.url(&mirror), mirrored);
        }
    }

    #[test]
    fn oracle_amazon_and_photon_sources_are_defaults_and_mirrorable() {
        let names: Vec<String> = default_sources()
            .iter()
            .map(NetworkSource::name)
            .filter(|n| {
                ["oracle", "alas", "photon"]
                    .iter()
                    .any(|p| n.starts_with(p))
            })
            .collect();
        assert_eq!(
            names,
            [
                "oracle-oval",
                "alas:2",
                "alas:2023",
                "photon:3.0",
                "photon:4.0",
                "photon:5.0"
            ]
        );
        let urls = |m: &Mirrors| -> Vec<String> {
            default_sources()
                .iter()
                .filter(|s| {
                    matches!(
                        s,
                        NetworkSource::OracleOval
                            | NetworkSource::AmazonLinux { .. }
                            | NetworkSource::Photon { .. }
                    )
                })
                .map(|s| s.url(m))
                .collect()
        };
        assert_eq!(
            urls(&Mirrors::default()),
            [
                "https://linux.oracle.com/security/oval/com.oracle.elsa-all.xml.bz2",
                "https://cdn.amazonlinux.com/2/core/latest/x86_64/mirror.list",
                "https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/mirror.list",
                "https://packages.vmware.com/photon/photon_cve_metadata/cve_data_photon3.0.json",
                "https://packages.vmware.com/photon/photon_cve_metadata/cve_data_photon4.0.json",
                "https://packages.vmware.com/photon/photon_cve_metadata/cve_data_photon5.0.json",
            ]
        );
        let mirror = Mirrors {
            oracle: "http://127.0.0.1:8080/oracle/".into(),
            amazon: "http://127.0.0.1:8080/amazon".into(),
            photon: "http://127.0.0.1:8080/photon".into(),
            ..Mirrors::default()
        };
        assert!(
            urls(&mirror)
                .iter()
                .all(|u| u.starts_with("http://127.0.0.1:8080/") && u.matches("//").count() == 1),
            "{:?}",
            urls(&mirror)
        );
        assert_eq!(
            urls(&mirror)[..2],
            [
                "http://127.0.0.1:8080/oracle/com.oracle.elsa-all.xml.bz2",
                "http://127.0.0.1:8080/amazon/2/core/latest/x86_64/mirror.list",
            ]
        );
        // The Photon importer finds the release in the downloaded file's name.
        let photon = NetworkSource::Photon {
            version: "5.0".into(),
        };
        assert_eq!(photon.file_name(7), "007-cve_data_photon5.0.json");
    }

    #[test]
    fn amazon_mirror_lists_and_repomd() {
        let list = "https://cdn.amazonlinux.com/2/core/latest/x86_64/mirror.list";
        let cdn = Mirrors::default();
        let text = "https://cdn.amazonlinux.com/2/core/2.0/x86_64/6b0225ccc542f3834c95733dcf321ab9f1e77e6ca6817469771a8af7c49efe6c/\n";
        assert_eq!(
            mirror_list_repository(list, text, &cdn).unwrap(),
            "https://cdn.amazonlinux.com/2/core/2.0/x86_64/6b0225ccc542f3834c95733dcf321ab9f1e77e6ca6817469771a8af7c49efe6c"
        );
        let mirror = Mirrors {
            amazon: "http://127.0.0.1:9/amazon/".into(),
            ..Mirrors::default()
        };
        let mirrored = "http://127.0.0.1:9/amazon/2/core/latest/x86_64/mirror.list";
        assert_eq!(
            mirror_list_repository(mirrored, text, &mirror).unwrap(),
            "http://127.0.0.1:9/amazon/2/core/2.0/x86_64/6b0225ccc542f3834c95733dcf321ab9f1e77e6ca6817469771a8af7c49efe6c"
        );
        assert_eq!(
            mirror_list_repository(mirrored, "# comment\n\nrepo/x86_64\n", &mirror).unwrap(),
            "http://127.0.0.1:9/amazon/2/core/latest/x86_64/repo/x86_64"
        );
        for bad in [
            "",
            "# only\n",
            "../../etc\n",
            "/abs\n",
            "file:///etc/passwd\n",
            "a b\n",
        ] {
            let err = mirror_list_repository(list, bad, &cdn).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
            assert!(err.to_string().starts_with(list), "{err}");
        }
        let repomd = br#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1712000000</revision>
  <data type="primary"><location href="repodata/primary.sqlite.gz"/></data>
  <data type="updateinfo">
    <checksum type="sha256">00</checksum>
    <location href="repodata/updateinfo.xml.gz"/>
  </data>
</repomd>"#;
        assert_eq!(
            updateinfo_location("repomd.xml", repomd).unwrap(),
            "repodata/updateinfo.xml.gz"
        );
        for bad in [
            &b"<repomd><data type='primary'><location href='p.gz'/></data></repomd>"[..],
            b"<repomd><data type='updateinfo'><location href='../../x'/></data></repomd>",
            b"<repomd><data type='updateinfo'><location href='http://evil/x'/></data></repomd>",
            b"<repomd><data type='updateinfo'><location href='/etc/x'/></data></repomd>",
            b"<repomd><data type='updateinfo'><location",
        ] {
            let err = updateinfo_location("repomd.xml", bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().starts_with("repomd.xml: "), "{err}");
        }
    }
}
