//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keeps images with known vulnerabilities out of your Kubernetes cluster.
///
/// Portcullis reads container images from registries, OCI layouts, docker archives and
/// root filesystems, lists what is installed, and judges it.
#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Vulnerability database file [default: $XDG_CACHE_HOME/portcullis/db.sqlite].
    #[arg(long, global = true, env = "PORTCULLIS_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the admission webhook, the REST API and the scan engine over HTTPS.
    ///
    /// Configuration comes from `--config FILE` (YAML), then `PORTCULLIS_*` environment
    /// variables (one per key: `PORTCULLIS_SCAN_BUDGET`, `PORTCULLIS_TLS_CERT`, ...), then
    /// these flags.
    #[command(after_help = SERVE_LIMITS)]
    Serve(ServeArgs),
    /// Look at images: their manifest, config, layers and files.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage the vulnerability database.
    #[command(subcommand)]
    Db(DbCommand),
    /// List every package installed in an image (a software bill of materials).
    ///
    /// OS packages (apk, dpkg, rpm) and language packages, each with its purl, the file it
    /// was found in and the layer that added it. Output is sorted and byte-for-byte stable;
    /// timestamps come from SOURCE_DATE_EPOCH or the image's creation time, never the clock.
    Sbom {
        /// The image: a registry reference or oci-dir:, oci-archive:, docker-archive:, dir:, tar:.
        #[arg(value_name = "IMAGE")]
        image: String,
        #[command(flatten)]
        options: ImageArgs,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = SbomFormatArg::Table)]
        format: SbomFormatArg,
        /// Write to FILE instead of standard output.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// Also push the SBOM (cyclonedx or spdx) to the image's registry as an OCI referrer
        /// of the image manifest: through the referrers API, or the `sha256-<hex>` tag where
        /// the registry has none. Needs push rights.
        #[arg(long)]
        attach: bool,
    },
    /// Install Portcullis in the cluster, or update it, from a spec (stdin, -f, or a wizard).
    Activate(crate::commands::activate::ActivateArgs),
    /// Remove Portcullis from the cluster: the webhook first, then the rest.
    Deactivate(crate::commands::deactivate::DeactivateArgs),
    /// Show whether Portcullis is active, the spec in force, replicas, database age and
    /// certificate expiry.
    Status(crate::commands::status::StatusArgs),
    /// Print the objects `activate` would apply, as multi-document YAML (for GitOps).
    Manifests(crate::commands::manifests::ManifestsArgs),
    /// Scan an image for known vulnerabilities, and optionally judge it with a policy.
    ///
    /// Lists every vulnerable package with its fix, after the filters (--severity,
    /// --ignore-unfixed, --ignore-file, --vex). Exit codes: 0 when the policy says go (or
    /// warn without --fail-on-warn), 1 when it says stop, 2 on usage or runtime errors;
    /// without --policy, --exit-code N when findings remain.
    Scan(Box<ScanArgs>),
    /// Built-in and custom policies: list them, print one, or evaluate one on an image.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

/// `portcullis scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The image: a registry reference or oci-dir:, oci-archive:, docker-archive:, dir:, tar:.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    #[command(flatten)]
    pub options: ImageArgs,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ScanFormatArg::Table)]
    pub format: ScanFormatArg,
    /// Write to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit with N when findings remain after filtering (only without --policy).
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with = "policy")]
    pub exit_code: u8,
    /// Judge the image with a built-in policy (see `portcullis policy list`) or a YAML/JSON
    /// policy or policy set file.
    #[arg(long, value_name = "ID|FILE")]
    pub policy: Option<String>,
    /// Exit with 1 when the policy says warn.
    #[arg(long, requires = "policy")]
    pub fail_on_warn: bool,
    /// Never fetch: without a database, stop and say how to get one, instead of building it
    /// from the upstream sources first.
    #[arg(long)]
    pub offline: bool,
    #[command(flatten, next_help_heading = "Building the database on first use")]
    pub sources: SourceArgs,
}

/// The filters `scan` and `policy eval` share.
#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// Keep only these severities: a comma-separated list of critical, high, medium, low,
    /// negligible, unknown.
    #[arg(long, value_name = "LIST")]
    pub severity: Option<String>,
    /// Hide findings that have no fixed version.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// Ignore the findings listed in this YAML file (id, optional package and expiry date,
    /// and a reason); repeatable.
    #[arg(long = "ignore-file", value_name = "FILE")]
    pub ignore_files: Vec<PathBuf>,
    /// Suppress findings an OpenVEX document says are not_affected or fixed; repeatable.
    #[arg(long = "vex", value_name = "FILE")]
    pub vex: Vec<PathBuf>,
}

/// Scan output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormatArg {
    /// A readable table, grouped by package.
    Table,
    /// Portcullis JSON (documented in the README).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// CycloneDX 1.6 JSON with the vulnerabilities in the BOM.
    Cyclonedx,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// List the built-in policies.
    List,
    /// Print a built-in policy as a document to start a custom one from.
    Show {
        /// The built-in policy id.
        #[arg(value_name = "ID")]
        id: String,
        /// Document format.
        #[arg(long, short = 'f', value_enum, default_value_t = PolicyFormatArg::Yaml)]
        format: PolicyFormatArg,
    },
    /// Scan an image and judge it with a policy; prints the decision.
    ///
    /// Exit codes: 0 for go (and warn without --fail-on-warn), 1 for stop, 2 for errors.
    Eval {
        /// A built-in policy id or a YAML/JSON policy or policy set file.
        #[arg(long, value_name = "ID|FILE")]
        policy: String,
        /// The image to judge.
        #[arg(value_name = "IMAGE")]
        image: String,
        #[command(flatten)]
        options: Box<ImageArgs>,
        #[command(flatten)]
        filters: FilterArgs,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = InspectFormat::Table)]
        format: InspectFormat,
        /// Exit with 1 when the policy says warn.
        #[arg(long)]
        fail_on_warn: bool,
    },
}

/// Policy document formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyFormatArg {
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// The bounds of `portcullis serve`, printed by `serve --help` (config key [default]).
pub const SERVE_LIMITS: &str = "\
Limits (config key [default], also PORTCULLIS_<KEY>):
  scanConcurrency [2]             scans at once
  scanConcurrencyPerRegistry [1]  scans at once against one registry host
  maxInlineImages [8]             uncached images of one review judged inline; others follow unknownImageAction
  backgroundChecks [16]           background checks of images past maxInlineImages
  registryThreads [16]            threads doing registry I/O (not shared with database work)
  registryThreadsPerRegistry [4]  registry I/O threads for one registry host
  resolveTimeout [15s]            overall deadline of a tag resolution
  scanTimeout [2m]                overall deadline of one image pull and catalogue
  verdictCacheSize [1000]         verdicts kept (findings and decision, no package lists)
  tagCacheSize [10000]            tag -> digest entries kept, each for at most tagCacheTtl [30s]
  catalogCacheBytes [134217728]   estimated bytes of package catalogues kept
  auditStoreSize [1000]           audit records and manual scans kept
  maxConnections [256]            HTTP connections served at once; more wait in the backlog
  requestTimeout [10s]            TLS handshake and request head each, then the whole body
  drainTimeout [25s]              on SIGTERM, time to finish in-flight requests before exiting 0
  inventory.maxPods [20000]       running Pods tracked (with kubernetes: true)
  inventory.maxImages [5000]      distinct running image digests tracked
  inventory.topFindings [5]       findings named per PolicyReport result (reports stay under 512 KiB)
  rescan.concurrency [1]          running images re-judged at once (below scanConcurrency)
  rescan.interval [6h]            every running image re-judged this often; always on a database change
  scanLogSize [1000]              scans kept for GET /api/v1/scanlog
  leaderElection.leaseDuration [15s]  a dead leader's Lease is taken over after this (renewInterval [5s])
  notifications                   256 queued events per receiver, 8 attempts, dedup of 10000 keys
  request bodies                  at most 3 MiB";

/// Arguments of `portcullis serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The configuration file (YAML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The address to listen on [default: 0.0.0.0:8443].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The TLS certificate chain (PEM); reloaded when the file changes.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM); reloaded when the file changes.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP instead of HTTPS (only behind something that terminates TLS).
    #[arg(long)]
    pub plain_http: bool,
    /// The policy: a built-in id or a policy file.
    #[arg(long, value_name = "ID|FILE")]
    pub policy: Option<String>,
    /// A registry reached over plain HTTP or unverified TLS (repeatable).
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,
    /// An extra CA certificate (PEM) trusted for registries (repeatable; config `caCerts`).
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,
    /// Remote engine mode: a central Portcullis that does the scans (config `engine.url`);
    /// this replica then keeps no database.
    #[arg(long, value_name = "URL")]
    pub engine: Option<String>,
    /// A file holding the central engine's API token (config `engine.tokenFile`).
    #[arg(long, value_name = "FILE", requires = "engine")]
    pub engine_token_file: Option<PathBuf>,
    /// A CA certificate (PEM) trusted for the central engine (config `engine.caBundle`).
    #[arg(long, value_name = "FILE", requires = "engine")]
    pub engine_ca: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Import advisories from local files (air-gapped use), or a whole database exported
    /// with `db export`.
    ///
    /// Formats are detected by content: OSV `all.zip` exports or JSON files and directories,
    /// Alpine secdb JSON, Debian OVAL XML (optionally .bz2), Debian DSA/DLA lists, the Debian
    /// security tracker JSON, NVD 2.0 JSON. The import is atomic: on any error the database
    /// is left as it was.
    Import {
        /// Files or directories to import.
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
        /// Skip bad records (listing them) instead of failing the whole import.
        #[arg(long)]
        lenient: bool,
    },
    /// Fetch the configured network sources and import them in one atomic update.
    Update {
        #[command(flatten)]
        sources: SourceArgs,
        /// List the sources that would be fetched, and their URLs, without fetching.
        #[arg(long)]
        dry_run: bool,
        /// Trust this CA certificate (PEM) for the sources and mirrors, in addition to the
        /// system roots; repeatable.
        #[arg(long = "ca-cert", value_name = "FILE")]
        ca_certs: Vec<PathBuf>,
    },
    /// Build a new database from the upstream sources into FILE: the builder role, whose
    /// output `db push` publishes (`db update` changes a database in place instead). A build
    /// also reads every yearly NVD feed; updates read only `recent` and `modified`.
    Build {
        /// The database file to write (replaced atomically if it exists).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
        #[command(flatten)]
        sources: SourceArgs,
        /// Trust this CA certificate (PEM) for the sources and mirrors, in addition to the
        /// system roots; repeatable.
        #[arg(long = "ca-cert", value_name = "FILE")]
        ca_certs: Vec<PathBuf>,
    },
    /// Push the database to a registry as an OCI artifact, for `db pull` everywhere else.
    Push {
        /// Where to push: `registry/repository[:tag]` (the tag defaults to `latest`).
        #[arg(value_name = "REF")]
        reference: String,
        /// When clients should expect the next build (written into the artifact).
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
        next_update: std::time::Duration,
        #[command(flatten)]
        registry: ImageArgs,
    },
    /// Pull a database artifact from a registry, verify it and install it atomically.
    Pull {
        /// What to pull: `registry/repository[:tag|@digest]`.
        #[arg(value_name = "REF")]
        reference: String,
        #[command(flatten)]
        registry: ImageArgs,
    },
    /// Show the schema version, build time, and records per source.
    Status {
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = InspectFormat::Table)]
        format: InspectFormat,
    },
    /// Write the whole database to FILE as one checksummed file, for `db import FILE` on
    /// another (air-gapped) machine.
    Export {
        /// The export file to write.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// SBOM output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SbomFormatArg {
    /// A readable table.
    Table,
    /// Portcullis JSON: {"image", "os", "packages": [...]}.
    Json,
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Show an image's digest, platform, config and layers.
    ///
    /// IMAGE is a registry reference (alpine:3.20, ghcr.io/org/app@sha256:...) or one of
    /// oci-dir:PATH[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE, dir:PATH, tar:FILE.
    Inspect {
        /// The image to inspect.
        #[arg(value_name = "IMAGE")]
        image: String,
        #[command(flatten)]
        options: ImageArgs,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = InspectFormat::Table)]
        format: InspectFormat,
    },
    /// Read every layer once and list the files that match the patterns, as they are in
    /// the final filesystem (whiteouts applied).
    ///
    /// Without --pattern, lists the package databases (apk, dpkg, rpm) and OS release files.
    Files {
        /// The image to read.
        #[arg(value_name = "IMAGE")]
        image: String,
        #[command(flatten)]
        options: ImageArgs,
        /// Glob relative to the root (`**` crosses directories); repeatable.
        #[arg(long = "pattern", short = 'p', value_name = "GLOB")]
        patterns: Vec<String>,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = InspectFormat::Table)]
        format: InspectFormat,
    },
}

/// How to reach the image: the same options for every command that reads one.
#[derive(Debug, Clone, Args)]
pub struct ImageArgs {
    /// Allow plain HTTP or unverified TLS for the registry.
    #[arg(long)]
    pub insecure: bool,
    /// Trust this CA certificate (PEM) in addition to the system roots; repeatable.
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_certs: Vec<PathBuf>,
    /// Platform to pick from a multi-platform image [default: the host's].
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Registry user name (the password comes from --password-stdin).
    #[arg(long, short = 'u', requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the registry password or token from standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// Largest file read for cataloging, in bytes [default: 2 GiB]; a package database
    /// over it makes the image not judgeable.
    #[arg(long, value_name = "BYTES")]
    pub max_file_size: Option<u64>,
    /// Most layers an image may have [default: 128]; more is refused before any is read.
    #[arg(long, value_name = "N")]
    pub max_layers: Option<usize>,
    /// Most decompressed bytes of all layers of one image [default: 8 GiB].
    #[arg(long, value_name = "BYTES")]
    pub max_image_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InspectFormat {
    /// A readable table.
    Table,
    /// JSON.
    Json,
}

/// Which upstream sources to fetch, and from where: `db update`, and `scan` when it builds the
/// database on first use.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Only sources whose name starts with this (e.g. `osv:Go`, `alpine-secdb`, `debian`);
    /// repeatable, or comma-separated in the variable.
    #[arg(
        long = "source",
        value_name = "NAME",
        env = "PORTCULLIS_DB_SOURCES",
        value_delimiter = ','
    )]
    pub sources: Vec<String>,
    /// Base URL of an OSV mirror (`<url>/<ecosystem>/all.zip`).
    #[arg(long, value_name = "URL", env = "PORTCULLIS_OSV_MIRROR")]
    pub osv_mirror: Option<String>,
    /// Base URL of an Alpine secdb mirror (`<url>/<branch>/<repo>.json`).
    #[arg(long, value_name = "URL", env = "PORTCULLIS_ALPINE_MIRROR")]
    pub alpine_mirror: Option<String>,
    /// Base URL of a Debian OVAL mirror (`<url>/oval-definitions-<codename>.xml.bz2`).
    #[arg(long, value_name = "URL", env = "PORTCULLIS_DEBIAN_OVAL_MIRROR")]
    pub debian_oval_mirror: Option<String>,
    /// Base URL of a Debian security tracker mirror (`<url>/DSA/list`, `<url>/DLA/list`,
    /// `<url>/json`).
    #[arg(long, value_name = "URL", env = "PORTCULLIS_DEBIAN_TRACKER_MIRROR")]
    pub debian_tracker_mirror: Option<String>,
    /// Base URL of an NVD feed mirror (`<url>/nvdcve-2.0-<feed>.json.gz`).
    #[arg(long, value_name = "URL", env = "PORTCULLIS_NVD_MIRROR")]
    pub nvd_mirror: Option<String>,
    /// Base URL of a CISA KEV mirror (`<url>/known_exploited_vulnerabilities.json`).
    #[arg(long, value_name = "URL", env = "PORTCULLIS_KEV_MIRROR")]
    pub kev_mirror: Option<String>,
    /// Base URL of a FIRST EPSS mirror (`<url>/epss_scores-current.csv.gz`).
    #[arg(long, value_name = "URL", env = "PORTCULLIS_EPSS_MIRROR")]
    pub epss_mirror: Option<String>,
    /// Base URL of an Oracle ELSA OVAL mirror (`<url>/com.oracle.elsa-all.xml.bz2`).
    #[arg(long, value_name = "URL", env = "PORTCULLIS_ORACLE_MIRROR")]
    pub oracle_mirror: Option<String>,
    /// Base URL of an Amazon Linux repository mirror (`<url>/2/core/latest/x86_64/mirror.list`,
    /// `<url>/al2023/core/mirrors/latest/x86_64/mirror.list`, and the repositories they name).
    #[arg(long, value_name = "URL", env = "PORTCULLIS_AMAZON_MIRROR")]
    pub amazon_mirror: Option<String>,
    /// Base URL of a Photon OS CVE metadata mirror (`<url>/cve_data_photon<version>.json`).
    #[arg(long, value_name = "URL", env = "PORTCULLIS_PHOTON_MIRROR")]
    pub photon_mirror: Option<String>,
    /// Pull a missing database from this OCI artifact (`db push` made it) instead of building it
    /// from the sources, and pull it again once past the artifact's `next_update`;
    /// repeatable, tried in order (comma-separated in the variable).
    #[arg(
        long = "db-repository",
        value_name = "REF",
        env = "PORTCULLIS_DB_REPOSITORY",
        value_delimiter = ','
    )]
    pub db_repositories: Vec<String>,
    /// Keep the database as it is, even past the `next_update` its `--db-repository`
    /// artifact named (without this, such a database is pulled again before the scan).
    #[arg(long, env = "PORTCULLIS_SKIP_DB_UPDATE")]
    pub skip_db_update: bool,
}

impl SourceArgs {
    /// The mirrors: the defaults, with each given base URL in place.
    pub fn mirrors(&self) -> portcullis_vulndb::fetch::Mirrors {
        let mut mirrors = portcullis_vulndb::fetch::Mirrors::default();
        for (given, slot) in [
            (&self.osv_mirror, &mut mirrors.osv),
            (&self.alpine_mirror, &mut mirrors.alpine),
            (&self.debian_oval_mirror, &mut mirrors.debian_oval),
            (&self.debian_tracker_mirror, &mut mirrors.debian_tracker),
            (&self.nvd_mirror, &mut mirrors.nvd),
            (&self.kev_mirror, &mut mirrors.kev),
            (&self.epss_mirror, &mut mirrors.epss),
            (&self.oracle_mirror, &mut mirrors.oracle),
            (&self.amazon_mirror, &mut mirrors.amazon),
            (&self.photon_mirror, &mut mirrors.photon),
        ] {
            if let Some(url) = given {
                slot.clone_from(url);
            }
        }
        // A tracker mirror serves the JSON beside the lists: `<url>/json`.
        if let Some(url) = &self.debian_tracker_mirror {
            mirrors.debian_json.clone_from(url);
        }
        mirrors
    }
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    portcullis_config::parse_duration(text).map(portcullis_config::Duration::get)
}
