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

use crate::error::{Error, ErrorKind, Result};
use crate::import::{ImportOptions, ImportSummary};
use crate::store::Database;

/// Downloads one URL into `dest`, at most `max_bytes`; returns the bytes written.
pub trait Fetcher: Send + Sync + std::fmt::Debug {
    /// Fetch `url` into `dest`.
    fn fetch(&self, url: &str, dest: &mut dyn Write, max_bytes: u64) -> Result<u64>;
}

/// The production [`Fetcher`]: HTTPS (rustls) with a global timeout per request.
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    agent: ureq::Agent,
}

impl HttpFetcher {
    /// A fetcher whose requests time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent: config.into(),
        }
    }
}

impl Default for HttpFetcher {
    fn default() -> Self {
        Self::new(Duration::from_secs(300))
    }
}

impl Fetcher for HttpFetcher {
    fn fetch(&self, url: &str, dest: &mut dyn Write, max_bytes: u64) -> Result<u64> {
        let network = |e: ureq::Error| {
            let kind = match e {
                ureq::Error::BodyExceedsLimit(_) => ErrorKind::TooLarge,
                _ => ErrorKind::Network,
            };
            Error::new(kind, format!("{url}: {e}"))
        };
        let mut response = self.agent.get(url).call().map_err(network)?;
        let mut reader = response.body_mut().with_config().limit(max_bytes).reader();
        std::io::copy(&mut reader, dest).map_err(|e| {
            let kind = if e.to_string().contains("limit") {
                ErrorKind::TooLarge
            } else {
                ErrorKind::Network
            };
            Error::new(kind, format!("{url}: {e}"))
        })
    }
}

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
}

fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
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
/// The yearly feeds are not in [`default_sources`]: parsing one holds it whole in memory
/// (about 1.6 GB peak for 300,000 records in `bench/nvd-scale.sh`), more than a server pod
/// or a first scan should spend. Servers follow the builder's artifact instead.
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
            let url = source.url(&self.mirrors);
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
        assert_eq!(
            NetworkSource::Kev.url(&m),
            "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
        );
        assert_eq!(
            NetworkSource::Epss.url(&m),
            "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
        );
        let mirror = Mirrors {
            kev: "http://127.0.0.1:8080/kev/".into(),
            epss: "http://127.0.0.1:8080/epss".into(),
            ..Mirrors::default()
        };
        assert_eq!(
            NetworkSource::Kev.url(&mirror),
            "http://127.0.0.1:8080/kev/known_exploited_vulnerabilities.json"
        );
        assert_eq!(
            NetworkSource::Epss.url(&mirror),
            "http://127.0.0.1:8080/epss/epss_scores-current.csv.gz"
        );
    }
}
