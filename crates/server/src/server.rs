//! Starting the server: configuration to a running HTTPS listener with its background
//! tasks (database loads and updates, certificate reloads, the whitelist reflector).
//!
//! The listeners: [`accept_loop`] (the connection limit, TLS, hyper's HTTP/1 with
//! `set_nodelay`, a bounded read buffer and the head deadline) serves the `axum::Router` of
//! [`main_router`] (or, on the Harbor adapter's own listener, [`harbor_router`]); a
//! `GracefulShutdown` drains them when the server stops.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use portcullis_config::{PolicyConfig, ServerConfig};
use portcullis_oci::RegistryOptions;
use portcullis_policy::{Format, PolicySet};
use portcullis_vulndb::fetch::{FetchOptions, HttpFetcher, Mirrors, NetworkSource, Updater};
use portcullis_vulndb::schedule::{ScheduleConfig, Scheduler};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;

use crate::audits::AuditLog;
use crate::db::DbPool;
use crate::engine::{Engine, EngineSettings};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{HttpResponse, Tokens, error, respond};
use crate::metrics::{Metrics, label};
use crate::registry::{CredentialSource, RegistryAccess};
use crate::scans::ScanStore;
use crate::tls::CertReloader;
use crate::whitelist::{WhitelistItem, WhitelistState};

/// The largest read buffer of one HTTP connection (hyper's minimum is 8 KiB): a request
/// head must fit; bodies stream through it.
const MAX_READ_BUFFER: usize = 16 * 1024;

/// Network sources and mirrors for scheduled database updates.
#[derive(Debug, Clone)]
pub struct Updates {
    /// What to fetch.
    pub sources: Vec<NetworkSource>,
    /// Where from.
    pub mirrors: Mirrors,
}

impl Updates {
    /// What `database` configures: the default sources its `sources` prefixes select, under
    /// its one-base `mirror` (or upstream).
    pub fn from_config(database: &portcullis_config::DatabaseConfig) -> Self {
        Self {
            sources: portcullis_vulndb::fetch::select_sources(&database.sources),
            mirrors: database
                .mirror
                .as_deref()
                .map_or_else(Mirrors::default, Mirrors::under),
        }
    }
}

/// Everything `start` needs besides the configuration file.
pub struct Settings {
    /// The configuration (file, environment and flags already merged).
    pub config: ServerConfig,
    /// A Kubernetes client to use when `config.kubernetes` is set (else one is made from
    /// the in-cluster configuration or kubeconfig).
    pub kube: Option<kube::Client>,
    /// Base registry options (timeouts, extra CA certificates).
    pub registry: RegistryOptions,
    /// Scheduled updates; `None` (or an interval of `0s`) disables them.
    pub updates: Option<Updates>,
    /// How often the certificate files are checked for changes.
    pub tls_reload_interval: Duration,
    /// How often the database file is checked for a new version (besides after updates).
    pub db_reload_interval: Duration,
    /// This replica's identity in leader election (default: `$HOSTNAME`, the Pod name).
    pub identity: Option<String>,
    /// The configuration file `config` was read from: watched for a changed `policy`
    /// section (and policy file), which is loaded without a restart.
    pub config_path: Option<PathBuf>,
    /// How often the configuration file (and the policy file it names) is checked.
    pub policy_reload_interval: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.config.listen)
            .field("kube", &self.kube.is_some())
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Settings for `config` with default registry options, no updates, a 2 s certificate
    /// check, a 30 s database check and no configuration file (a 5 s check once one is set).
    pub fn new(config: ServerConfig) -> Self {
        let registry = RegistryOptions {
            connect_timeout: Duration::from_secs(3),
            read_timeout: Duration::from_secs(30),
            ..RegistryOptions::default()
        };
        Self {
            config,
            kube: None,
            registry,
            updates: None,
            tls_reload_interval: Duration::from_secs(2),
            db_reload_interval: Duration::from_secs(30),
            identity: None,
            config_path: None,
            policy_reload_interval: Duration::from_secs(5),
        }
    }
}

/// The state every request handler shares.
pub struct App {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Accepted API tokens.
    pub tokens: Tokens,
    /// Audit records.
    pub audits: AuditLog,
    /// Manual scans.
    pub scans: ScanStore,
    /// The release whitelist.
    pub whitelist: WhitelistState,
    /// The Kubernetes client, when enabled.
    pub kube: Option<kube::Client>,
    /// Portcullis's own namespace.
    pub namespace: String,
    /// The configuration in force.
    pub config: ServerConfig,
    /// Which namespaces are judged.
    pub selection: portcullis_webhook::Selection,
    /// The Harbor scanner adapter.
    pub harbor: crate::harbor::HarborState,
    /// The inventory of what runs and its rescans (with `kubernetes` and
    /// `inventory.enabled`).
    pub running: Option<Arc<crate::running::Rescanner>>,
    /// The notification receivers.
    pub notifier: Arc<crate::notify::Notifier>,
    /// The dashboard's login sessions (at most [`crate::ui::MAX_SESSIONS`]).
    pub ui_sessions: crate::ui::Sessions,
    /// The whitelist compiled from [`App::whitelist`].
    compiled_whitelist: RwLock<Arc<portcullis_webhook::Whitelist>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Read a request body within `requestTimeout` (see [`crate::http::read_body`]),
    /// counting a refusal in `portcullis_http_refused_total`.
    pub async fn read_body<B>(
        &self,
        request: Request<B>,
    ) -> std::result::Result<bytes::Bytes, crate::http::BodyError>
    where
        B: hyper::body::Body<Data = bytes::Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let read = crate::http::read_body(request, self.config.request_timeout.get()).await;
        if let Err(e) = &read {
            self.metrics
                .refused
                .get_or_create(&label("reason", e.reason()))
                .inc();
        }
        read
    }

    /// Why a whitelist entry cannot be added (a regexp that does not compile), if it cannot.
    pub fn whitelist_problem(&self, name: &str, regexp: Option<&str>) -> Option<String> {
        let entry = WhitelistItem {
            name: name.to_string(),
            reason: String::new(),
            regexp: regexp.map(str::to_string),
            creator: None,
            origin: "api".to_string(),
        };
        let (_, warnings) = portcullis_webhook::Whitelist::new(vec![entry]);
        warnings.into_iter().next()
    }

    /// Recompile the whitelist after a change; bad regexps are logged and skipped.
    pub fn rebuild_whitelist(&self) {
        let entries = self.whitelist.items();
        let (compiled, warnings) = portcullis_webhook::Whitelist::new(entries);
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        *self
            .compiled_whitelist
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(compiled);
    }

    /// The whitelist entry matching `release`, if any.
    pub fn whitelist_find(&self, release: &str) -> Option<portcullis_webhook::WhitelistEntry> {
        let compiled = Arc::clone(
            &self
                .compiled_whitelist
                .read()
                .unwrap_or_else(|e| e.into_inner()),
        );
        compiled.find(release).cloned()
    }
}

/// A running server. Dropping it does not stop it; call [`RunningServer::shutdown`].
pub struct RunningServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The address of the Harbor adapter's own listener, when configured.
    pub harbor_addr: Option<SocketAddr>,
    /// The shared state.
    pub app: Arc<App>,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
    harbor_accept: Option<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
    /// The leader election, ended (releasing the Lease) before the other tasks.
    elector: Option<JoinHandle<()>>,
    scheduler: Option<Scheduler>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// Stop accepting connections, let the connections in use finish their requests
    /// (at most `drainTimeout`), and end the background tasks.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Some(elector) = self.elector {
            // Release the Lease (bounded: a stuck API server does not hold the shutdown).
            let _ = tokio::time::timeout(Duration::from_secs(5), elector).await;
        }
        let _ = self.accept.await;
        if let Some(harbor) = self.harbor_accept {
            let _ = harbor.await;
        }
        for task in &self.background {
            task.abort();
        }
        if let Some(scheduler) = self.scheduler {
            let _ = tokio::task::spawn_blocking(move || scheduler.stop()).await;
        }
    }
}

impl RunningServer {
    /// Stop at once, as a crash would: no drain, no Lease release (for tests of what other
    /// replicas do when one dies).
    pub fn kill(self) {
        self.accept.abort();
        for task in self.background.iter().chain(&self.elector) {
            task.abort();
        }
        if let Some(scheduler) = self.scheduler {
            std::thread::spawn(move || scheduler.stop());
        }
    }
}

/// Load the policy set the configuration names (inline document, else file, else id).
pub fn load_policies(policy: &PolicyConfig) -> Result<PolicySet> {
    let config_error = |what: String| Error::new(ErrorKind::Config, what);
    if let Some(text) = &policy.inline {
        return portcullis_policy::parse_document(text, Format::detect(text))
            .map(|d| d.into_set())
            .map_err(|e| config_error(format!("policy (inline): {e}")));
    }
    if let Some(file) = &policy.file {
        return portcullis_policy::read_document(std::path::Path::new(file))
            .map(|d| d.into_set())
            .map_err(|e| config_error(format!("policy: {e}")));
    }
    let id = policy.id.as_deref().unwrap_or("allow_all_and_warn");
    portcullis_policy::builtin_or_error(id).map_err(|e| config_error(format!("policy: {e}")))?;
    Ok(PolicySet {
        policies: Vec::new(),
        mappings: Vec::new(),
        default_policy: id.to_string(),
    })
}

/// Start serving: bind, load the database in the background (`/readyz` says when), and
/// accept connections until [`RunningServer::shutdown`].
pub async fn start(settings: Settings) -> Result<RunningServer> {
    let config = settings.config.clone();
    let policies = load_policies(&config.policy)?;
    let selection = portcullis_webhook::Selection::new(&config.webhook, &config.namespace)
        .map_err(|e| Error::new(ErrorKind::Config, format!("webhook: {e}")))?;
    let db_path = database_path(&config)?;
    let kube = kube_client(&config, &settings).await?;
    let parts = Parts {
        metrics: Arc::new(Metrics::default()),
        remote: crate::remote::RemoteEngine::new(&config.engine)?.map(Arc::new),
        pool: Arc::new(DbPool::new(
            db_path.clone(),
            config.scan_concurrency.saturating_add(1),
        )),
        kube,
    };
    let (metrics, kube) = (Arc::clone(&parts.metrics), parts.kube.clone());
    let engine = new_engine(&settings, policies, &parts);
    let notifier = Arc::new(crate::notify::Notifier::start(
        &config.notifications,
        Arc::clone(&metrics),
    ));
    let (leading_tx, leading) = watch::channel(!config.leader_election.enabled);
    let running = match (&kube, config.inventory.enabled) {
        (Some(client), true) => Some(new_rescanner(
            &config, client, leading, &engine, &notifier, &metrics,
        )),
        _ => None,
    };
    let app = Arc::new(App {
        notifier: Arc::clone(&notifier),
        running: running.clone(),
        engine,
        metrics: Arc::clone(&metrics),
        tokens: Tokens::new(&config.api_tokens),
        audits: AuditLog::new(config.audit_store_size, kube.clone(), Arc::clone(&metrics)),
        scans: ScanStore::new(config.audit_store_size),
        whitelist: WhitelistState::new(&config.whitelist),
        kube: kube.clone(),
        namespace: config.namespace.clone(),
        config: config.clone(),
        selection,
        harbor: crate::harbor::HarborState::new(&config.harbor)?,
        ui_sessions: crate::ui::Sessions::default(),
        compiled_whitelist: RwLock::new(Arc::default()),
    });
    if config.harbor.enabled && !app.harbor.has_credentials(&app.tokens) {
        tracing::warn!(
            "the Harbor scanner adapter is enabled but neither apiTokens nor harbor.basicAuth is set: it refuses every request"
        );
    }
    app.rebuild_whitelist();

    let acceptor = tls_acceptor(&config)?;
    let (listener, addr) = bind(&config.listen, "listening").await?;
    let (stop, stopped) = watch::channel(false);
    let mut background = Vec::new();
    let db_changed = Arc::new(Notify::new());
    let scheduler = database_tasks(
        &settings,
        &db_path,
        &parts,
        (&notifier, &db_changed),
        &mut background,
    )?;
    if let Some((reloader, _)) = &acceptor {
        background.push(tokio::spawn(reload_certificates(
            Arc::clone(reloader),
            settings.tls_reload_interval,
            Arc::clone(&metrics),
        )));
    }
    if let Some(path) = &settings.config_path {
        background.push(tokio::spawn(reload_policies(
            PolicyWatch::new(path.clone(), &config),
            Arc::clone(&app.engine),
            settings.policy_reload_interval,
            Arc::clone(&metrics),
        )));
    }
    let elector = match kube {
        Some(client) => cluster_tasks(
            client,
            (&app, running.as_ref()),
            &settings,
            (leading_tx, &stop),
            &mut background,
        ),
        None => None,
    };
    let tls_acceptor = acceptor.map(|(_, a)| a);
    let mut harbor_addr = None;
    let mut harbor_accept = None;
    if let Some(listen) = config
        .harbor
        .listen
        .as_ref()
        .filter(|_| config.harbor.enabled)
    {
        let (harbor_listener, bound) = bind(listen, "harbor.listen: listening").await?;
        harbor_addr = Some(bound);
        harbor_accept = Some(tokio::spawn(accept_loop(
            harbor_listener,
            tls_acceptor.clone(),
            harbor_router(&app),
            Arc::clone(&app),
            stopped.clone(),
        )));
        tracing::info!(addr = ?harbor_addr, "Harbor scanner adapter listening");
    }
    let accept = tokio::spawn(accept_loop(
        listener,
        tls_acceptor,
        main_router(&app),
        Arc::clone(&app),
        stopped,
    ));
    tracing::info!(%addr, tls = !config.plain_http, "portcullis serve listening");
    Ok(RunningServer {
        addr,
        harbor_addr,
        harbor_accept,
        app,
        stop,
        accept,
        background,
        elector,
        scheduler,
    })
}

/// `database.path`, else the default cache location.
fn database_path(config: &ServerConfig) -> Result<PathBuf> {
    match &config.database.path {
        Some(p) => Ok(PathBuf::from(p)),
        None => portcullis_vulndb::default_path().ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "database.path: not set and no cache directory to default to",
            )
        }),
    }
}

/// The cluster client when `kubernetes` is on: the one the settings give (tests), else one
/// from the in-cluster or kubeconfig environment.
async fn kube_client(config: &ServerConfig, settings: &Settings) -> Result<Option<kube::Client>> {
    match (config.kubernetes, settings.kube.clone()) {
        (false, _) => Ok(None),
        (true, Some(client)) => Ok(Some(client)),
        (true, None) => portcullis_k8s::client::connect()
            .await
            .map(Some)
            .map_err(|e| Error::new(ErrorKind::Kubernetes, e.to_string())),
    }
}

/// What the server's parts share, made once in [`start`].
struct Parts {
    /// The database handles.
    pool: Arc<DbPool>,
    /// The Prometheus metrics.
    metrics: Arc<Metrics>,
    /// The central engine, in remote engine mode.
    remote: Option<Arc<crate::remote::RemoteEngine>>,
    /// The cluster, when `kubernetes` is on.
    kube: Option<kube::Client>,
}

/// The engine: policies, registry access (the settings' options plus `caCerts`), credentials
/// from the cluster, and every cache and concurrency bound of the configuration.
fn new_engine(settings: &Settings, policies: PolicySet, parts: &Parts) -> Arc<Engine> {
    let config = &settings.config;
    let mut registry = settings.registry.clone();
    registry
        .ca_certs
        .extend(config.ca_certs.iter().map(PathBuf::from));
    Arc::new(Engine::new(
        Arc::clone(&parts.pool),
        EngineSettings {
            policies,
            registry: RegistryAccess::new(registry, &config.registries),
            credentials: CredentialSource::new(
                parts.kube.clone(),
                &config.namespace,
                config.registries.clone(),
            ),
            tag_ttl: config.tag_cache_ttl.get(),
            tag_cache_size: config.tag_cache_size,
            scan_concurrency: config.scan_concurrency,
            scan_concurrency_per_registry: config.scan_concurrency_per_registry,
            registry_threads: config.registry_threads,
            registry_threads_per_registry: config.registry_threads_per_registry,
            resolve_timeout: config.resolve_timeout.get(),
            scan_timeout: config.scan_timeout.get(),
            background_checks: config.background_checks,
            cache_size: config.verdict_cache_size,
            catalog_cache_bytes: config.catalog_cache_bytes,
            scan_log_size: config.scan_log_size,
            remote: parts.remote.clone(),
        },
        Arc::clone(&parts.metrics),
    ))
}

/// The inventory of what runs and its rescans (`inventory.enabled` with a cluster).
fn new_rescanner(
    config: &ServerConfig,
    client: &kube::Client,
    leading: watch::Receiver<bool>,
    engine: &Arc<Engine>,
    notifier: &Arc<crate::notify::Notifier>,
    metrics: &Arc<Metrics>,
) -> Arc<crate::running::Rescanner> {
    Arc::new(crate::running::Rescanner {
        leading,
        failed: std::sync::Mutex::new(crate::bounded::BoundedMap::new(config.inventory.max_pods)),
        notifier: Arc::clone(notifier),
        inventory: Arc::new(crate::inventory::Inventory::new(
            config.inventory.max_pods,
            config.inventory.max_images,
            config.inventory.top_findings,
        )),
        engine: Arc::clone(engine),
        metrics: Arc::clone(metrics),
        reports: config.inventory.reports.then(|| client.clone()),
        concurrency: config.rescan.concurrency,
        interval: config.rescan.interval.get(),
    })
}

/// The TLS acceptor (and its certificate reloader), unless `plainHttp`.
fn tls_acceptor(
    config: &ServerConfig,
) -> Result<Option<(Arc<CertReloader>, tokio_rustls::TlsAcceptor)>> {
    if config.plain_http {
        return Ok(None);
    }
    let tls = config.tls.as_ref().ok_or_else(|| {
        Error::new(
            ErrorKind::Config,
            "tls: a certificate and key are required (--tls-cert, --tls-key), or --plain-http",
        )
    })?;
    let reloader = Arc::new(CertReloader::new(&tls.cert, &tls.key)?);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(reloader.server_config()?));
    Ok(Some((reloader, acceptor)))
}

/// Bind `listen`; `what` starts the error message.
async fn bind(listen: &str, what: &str) -> Result<(TcpListener, SocketAddr)> {
    let failed = |e: std::io::Error| Error::new(ErrorKind::Io, format!("{what} on {listen}: {e}"));
    let listener = TcpListener::bind(listen).await.map_err(failed)?;
    let addr = listener.local_addr().map_err(failed)?;
    Ok((listener, addr))
}

/// Keep the database current: follow the central engine (remote engine mode), else load
/// each new file, follow a database artifact (`database.repository`), or schedule updates
/// from the sources. Tasks go into `background`; the update scheduler is returned.
fn database_tasks(
    settings: &Settings,
    db_path: &std::path::Path,
    parts: &Parts,
    (notifier, db_changed): (&Arc<crate::notify::Notifier>, &Arc<Notify>),
    background: &mut Vec<JoinHandle<()>>,
) -> Result<Option<Scheduler>> {
    let config = &settings.config;
    let (pool, metrics) = (&parts.pool, &parts.metrics);
    if let Some(remote) = &parts.remote {
        // Remote engine mode: no local database; learn the engine's content id.
        background.push(tokio::spawn(follow_engine(
            Arc::clone(remote),
            config.engine.interval.get(),
        )));
        return Ok(None);
    }
    background.push(tokio::spawn(keep_database_loaded(
        Arc::clone(pool),
        Arc::clone(metrics),
        Arc::clone(db_changed),
        settings.db_reload_interval,
    )));
    if config.database.repository.is_some() {
        let follow = follow_settings(config, settings, parts.kube.clone())?;
        background.push(tokio::spawn(crate::follow::run(
            follow,
            Arc::clone(pool),
            Arc::clone(db_changed),
            Arc::clone(metrics),
            Arc::clone(notifier),
        )));
        return Ok(None);
    }
    match &settings.updates {
        Some(updates)
            if !config.database.update_interval.get().is_zero() && !updates.sources.is_empty() =>
        {
            Ok(Some(schedule_updates(
                db_path,
                updates,
                config,
                Arc::clone(db_changed),
                Arc::clone(metrics),
                (Arc::clone(notifier), Arc::clone(pool)),
            )?))
        }
        _ => Ok(None),
    }
}

/// What needs the cluster: the `WhiteListItem` reflector, and with the inventory the Pod
/// watch, the rescan loop and the leader election (returned, ended first on shutdown).
fn cluster_tasks(
    client: kube::Client,
    (app, running): (&Arc<App>, Option<&Arc<crate::running::Rescanner>>),
    settings: &Settings,
    (leading_tx, stop): (watch::Sender<bool>, &watch::Sender<bool>),
    background: &mut Vec<JoinHandle<()>>,
) -> Option<JoinHandle<()>> {
    let config = &settings.config;
    let watched = Arc::clone(app);
    let (_store, driver) = portcullis_k8s::whitelist::reflect(client.clone(), move |items| {
        watched.whitelist.set_resources(
            items
                .iter()
                .filter_map(|i| portcullis_webhook::Whitelist::from_resource(i))
                .collect(),
        );
        watched.rebuild_whitelist();
    });
    background.push(tokio::spawn(driver));
    let rescanner = running?;
    let owners = Arc::new(crate::running::Owners::new(
        client.clone(),
        config.inventory.max_pods,
    ));
    let scope = crate::running::Scope {
        selection: app.selection.clone(),
        own: config.namespace.clone(),
    };
    background.push(tokio::spawn(crate::running::watch_pods(
        client.clone(),
        Arc::clone(&rescanner.inventory),
        owners,
        scope,
    )));
    background.push(tokio::spawn(crate::running::rescan_loop(Arc::clone(
        rescanner,
    ))));
    if !config.leader_election.enabled {
        // Keep the sender alive: the rescan loop ends when it is dropped.
        background.push(tokio::spawn(async move {
            leading_tx.closed().await;
        }));
        return None;
    }
    let identity = settings
        .identity
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| format!("portcullis-{}", std::process::id()));
    let elector = crate::leader::Elector::new(
        client,
        crate::leader::LeaseSettings {
            namespace: config.namespace.clone(),
            name: config.leader_election.lease_name.clone(),
            identity,
            lease_duration: config.leader_election.lease_duration.get(),
            renew_interval: config.leader_election.renew_interval.get(),
        },
    );
    Some(tokio::spawn(elector.run(leading_tx, stop.subscribe())))
}

/// The artifact references to follow (`database.repository`, then `database.mirrors`), with
/// their registry options and the credentials of `database.secretName`.
fn follow_settings(
    config: &ServerConfig,
    settings: &Settings,
    kube: Option<kube::Client>,
) -> Result<crate::follow::Follow> {
    let database = &config.database;
    let mut references = Vec::new();
    for text in database.repository.iter().chain(&database.mirrors) {
        let reference = portcullis_oci::Reference::parse(text).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("database.repository/mirrors: {e}"),
            )
        })?;
        references.push(reference);
    }
    let mut options = settings.registry.clone();
    options
        .ca_certs
        .extend(config.ca_certs.iter().map(PathBuf::from));
    if options.docker_config_dir.is_none() {
        options.docker_config_dir = Some(PathBuf::from("/nonexistent/portcullis-docker-config"));
    }
    let mut registries = Vec::new();
    for reference in &references {
        let registry = reference.registry().to_string();
        if database.insecure {
            options.insecure_registries.push(registry.clone());
        }
        if !registries
            .iter()
            .any(|r: &portcullis_config::RegistryConfig| r.registry == registry)
        {
            registries.push(portcullis_config::RegistryConfig {
                registry,
                secret: database.secret_name.clone(),
                insecure: database.insecure,
            });
        }
    }
    Ok(crate::follow::Follow {
        references,
        options,
        credentials: CredentialSource::new(kube, &config.namespace, registries),
        interval: database.interval.get().max(Duration::from_secs(1)),
    })
}

async fn keep_database_loaded(
    pool: Arc<DbPool>,
    metrics: Arc<Metrics>,
    changed: Arc<Notify>,
    every: Duration,
) {
    loop {
        let loader = Arc::clone(&pool);
        match tokio::task::spawn_blocking(move || loader.load()).await {
            Ok(Ok(swapped)) => {
                metrics.db_loaded.set(1);
                if swapped {
                    metrics
                        .db_updates
                        .get_or_create(&label("result", "loaded"))
                        .inc();
                    if let Some(generation) = pool.current() {
                        metrics.db_content.clear();
                        metrics
                            .db_content
                            .get_or_create(&label("content_id", &generation.version))
                            .set(1);
                        let built = generation
                            .built_at
                            .as_deref()
                            .and_then(portcullis_report::Timestamp::parse_rfc3339);
                        metrics.db_built.set(built.map_or(0, |t| t.unix()));
                    }
                }
            }
            Ok(Err(e)) => {
                metrics
                    .db_updates
                    .get_or_create(&label("result", "load_failed"))
                    .inc();
                tracing::warn!(error = %e, "loading the vulnerability database (the previous one, if any, keeps serving)");
            }
            Err(e) => tracing::warn!(error = %e, "loading the vulnerability database"),
        }
        let wait = if pool.current().is_some() {
            every
        } else {
            every.min(Duration::from_secs(5))
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = changed.notified() => {}
        }
    }
}

fn schedule_updates(
    db_path: &std::path::Path,
    updates: &Updates,
    config: &ServerConfig,
    changed: Arc<Notify>,
    metrics: Arc<Metrics>,
    (notifier, pool): (Arc<crate::notify::Notifier>, Arc<DbPool>),
) -> Result<Scheduler> {
    let interval = config.database.update_interval.get();
    let schedule = ScheduleConfig {
        interval,
        jitter: (interval / 12).min(Duration::from_secs(300)),
        retry_after_failure: Duration::from_secs(300).min(interval),
        // A fresh install has no database yet: fetch one at once.
        run_at_start: !db_path.exists(),
    };
    let mut updater = Updater::new(db_path, updates.sources.clone());
    updater.mirrors = updates.mirrors.clone();
    // Mirrors behind an internal CA are trusted as registries are (`caCerts`).
    updater.fetcher = Arc::new(
        HttpFetcher::with_options(FetchOptions {
            ca_certs: config.ca_certs.iter().map(PathBuf::from).collect(),
            ..FetchOptions::default()
        })
        .map_err(|e| crate::Error::new(crate::ErrorKind::Config, e.to_string()))?,
    );
    Scheduler::start(schedule, move || {
        let outcome = updater.update();
        let result = if outcome.is_ok() {
            "updated"
        } else {
            "update_failed"
        };
        if let Err(e) = &outcome {
            let database = pool.current().map(|g| g.version.clone());
            notifier.emit(crate::notify::Event {
                event: "database_stale".to_string(),
                at: crate::engine::unix_now(),
                message: format!(
                    "the vulnerability database could not be updated (the current one keeps serving): {e}"
                ),
                database,
                ..crate::notify::Event::default()
            });
        }
        metrics
            .db_updates
            .get_or_create(&label("result", result))
            .inc();
        changed.notify_one();
        outcome.map(|_| ())
    })
    .map_err(|e| Error::new(ErrorKind::Config, e.to_string()))
}

async fn reload_certificates(reloader: Arc<CertReloader>, every: Duration, metrics: Arc<Metrics>) {
    loop {
        tokio::time::sleep(every).await;
        let current = Arc::clone(&reloader);
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || current.reload()).await {
            metrics.tls_reload_failures.inc();
            tracing::warn!(error = %e, "reloading the TLS certificate (the current one stays)");
        }
    }
}

/// The configuration file as last read: what changed in it since.
#[derive(Debug)]
struct PolicyWatch {
    path: PathBuf,
    /// The hash of the file and of the policy file it names.
    hash: Option<[u8; 32]>,
    /// The file as last read (with the `PORTCULLIS_*` variables applied).
    read: Option<ServerConfig>,
    /// The policy in force came from the file (not from `--policy`).
    governs: bool,
}

/// What a changed configuration file asks for.
#[derive(Debug)]
enum PolicyChange {
    /// Nothing (or nothing readable) changed.
    None,
    /// The policy changed: load this.
    Policy(PolicyConfig),
    /// The file cannot be read as a configuration.
    Unreadable(String),
}

impl PolicyWatch {
    fn new(path: PathBuf, in_force: &ServerConfig) -> Self {
        let mut watch = Self {
            path,
            hash: None,
            read: None,
            governs: true,
        };
        // The baseline: what the file says now.
        let _ = watch.check();
        watch.governs = watch
            .read
            .as_ref()
            .is_none_or(|read| read.policy == in_force.policy);
        if !watch.governs {
            tracing::info!(
                path = %watch.path.display(),
                "the policy is set by a flag: changes to the configuration file's policy are not loaded"
            );
        }
        watch
    }

    fn read_config(&self) -> std::result::Result<(ServerConfig, [u8; 32]), String> {
        use sha2::Digest;
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        let mut hasher = sha2::Sha256::new();
        hasher.update(text.as_bytes());
        let mut config = ServerConfig::from_yaml(&text, &self.path.display().to_string())
            .map_err(|e| e.to_string())?;
        config
            .apply_env(std::env::vars())
            .map_err(|e| e.to_string())?;
        if let Some(file) = &config.policy.file {
            // A missing policy file is reported when it is loaded.
            hasher.update([0]);
            hasher.update(std::fs::read(file).unwrap_or_default());
        }
        Ok((config, hasher.finalize().into()))
    }

    /// Read the file if it changed since the last check.
    fn check(&mut self) -> PolicyChange {
        let (config, hash) = match self.read_config() {
            Ok(read) => read,
            Err(e) => {
                // Reported once per content.
                use sha2::Digest;
                let hash: [u8; 32] = sha2::Sha256::digest(e.as_bytes()).into();
                if self.hash == Some(hash) {
                    return PolicyChange::None;
                }
                self.hash = Some(hash);
                return PolicyChange::Unreadable(e);
            }
        };
        if self.hash == Some(hash) {
            return PolicyChange::None;
        }
        self.hash = Some(hash);
        let previous = self.read.replace(config.clone());
        let Some(previous) = previous else {
            return PolicyChange::Policy(config.policy);
        };
        let mut rest = config.clone();
        rest.policy = previous.policy.clone();
        if rest != previous {
            tracing::warn!(
                path = %self.path.display(),
                "the configuration file changed beyond its policy: those changes take effect at the next restart"
            );
        }
        // A changed policy file counts as a change of the policy section.
        PolicyChange::Policy(config.policy)
    }
}

async fn reload_policies(
    mut watch: PolicyWatch,
    engine: Arc<Engine>,
    every: Duration,
    metrics: Arc<Metrics>,
) {
    loop {
        tokio::time::sleep(every).await;
        let (back, change) = match tokio::task::spawn_blocking(move || {
            let change = watch.check();
            (watch, change)
        })
        .await
        {
            Ok(done) => done,
            Err(_) => return,
        };
        watch = back;
        match change {
            PolicyChange::None => {}
            PolicyChange::Unreadable(e) => {
                metrics.policy_reload_failures.inc();
                tracing::warn!(error = %e, "reading the changed configuration file (the policy in force stays)");
            }
            PolicyChange::Policy(_) if !watch.governs => {}
            PolicyChange::Policy(policy) => {
                match tokio::task::spawn_blocking(move || load_policies(&policy)).await {
                    Ok(Ok(set)) => {
                        if *engine.policies() != set {
                            tracing::info!(default = %set.default_policy, "the changed policy now judges");
                            engine.replace_policies(set);
                            metrics.policy_reloads.inc();
                        }
                    }
                    Ok(Err(e)) => {
                        metrics.policy_reload_failures.inc();
                        tracing::warn!(error = %e, "loading the changed policy (the policy in force stays)");
                    }
                    Err(_) => return,
                }
            }
        }
    }
}

/// Serve `router` on `listener` until `stopped`, then drain.
///
/// The accept loop stays here rather than in `axum::serve`, which has neither TLS nor a
/// connection limit (and neither has axum's `Router`; tower's concurrency limit bounds
/// requests, not connections): at most `maxConnections` connections are served, a
/// semaphore's permit each, and further ones wait in the listen backlog until one ends.
/// Each connection is hyper's HTTP/1 over the `Router` and is watched by a
/// [`GracefulShutdown`]: once stopped, the listener closes, every connection finishes the
/// request in hand and closes, and those still busy after `drainTimeout` are ended.
async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    app: Arc<App>,
    mut stopped: watch::Receiver<bool>,
) {
    let places = Arc::new(Semaphore::new(app.config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    // The connections' tasks, to end those the drain leaves.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let place = tokio::select! {
            place = Arc::clone(&places).acquire_owned() => match place {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stopped.changed() => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => break,
        };
        let (stream, _peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let watcher = graceful.watcher();
        connections.spawn(async move {
            let _place = place;
            app.metrics.connections.inc();
            let timeout = app.config.request_timeout.get();
            serve_connection(stream, acceptor, router, timeout, watcher).await;
            app.metrics.connections.dec();
        });
    }
    drop(listener);
    let drain = app.config.drain_timeout.get();
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            left = connections.len(),
            "connections still busy after the drain timeout; closing them"
        );
        connections.shutdown().await;
    }
    // Drained: the tasks end with their connections (dropping the set would abort them).
    while connections.join_next().await.is_some() {}
}

/// Serve one connection: TLS handshake and request heads within `timeout`, bodies within
/// it again (see [`crate::http::read_body`]); once `watcher`'s shutdown begins, the request
/// in hand is finished and the connection closed.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    timeout: Duration,
    watcher: Watcher,
) {
    let service = TowerToHyperService::new(router);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .max_buf_size(MAX_READ_BUFFER);
    let served = match acceptor {
        Some(acceptor) => match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => {
                watcher
                    .watch(http.serve_connection(TokioIo::new(tls), service))
                    .await
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => return,
        },
        None => {
            watcher
                .watch(http.serve_connection(TokioIo::new(stream), service))
                .await
        }
    };
    if let Err(e) = served {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Remote engine mode: ask the engine for its database content id every `interval` (and
/// at once), so verdicts cached under an older one stop being used.
async fn follow_engine(remote: Arc<crate::remote::RemoteEngine>, interval: Duration) {
    let interval = interval.max(Duration::from_secs(1));
    loop {
        let asked = Arc::clone(&remote);
        match tokio::task::spawn_blocking(move || asked.database()).await {
            Ok(Ok(answer)) => {
                tracing::debug!(content_id = %answer.content_id, "engine database");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "asking the engine for its database"),
            Err(e) => tracing::warn!(error = %e, "asking the engine for its database"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// The main listener's routes: `/healthz`, `/readyz`, `/metrics`, `POST /imagecheck`, the
/// API under `/api/v1` ([`crate::api`]), the dashboard under `/ui` ([`crate::ui`]) and, when
/// enabled, the Harbor adapter under `/harbor` ([`crate::harbor`]). Anything else, and
/// another method on the first three, is a JSON 404.
fn main_router(app: &Arc<App>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/imagecheck",
            post(imagecheck).fallback(|| async {
                error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "POST an AdmissionReview to /imagecheck",
                )
            }),
        )
        .merge(crate::ui::router())
        .method_not_allowed_fallback(not_found);
    router = router.nest_service("/api/v1", crate::api::service(app));
    if app.config.harbor.enabled {
        router = router.nest_service("/harbor", crate::harbor::service(app));
    }
    router.fallback(not_found).with_state(Arc::clone(app))
}

/// The Harbor adapter's own listener: `/healthz` and the adapter, at the root and under
/// `/harbor` (every other request is the adapter's to answer).
fn harbor_router(app: &Arc<App>) -> Router {
    let harbor = crate::harbor::service(app);
    Router::new()
        .route("/healthz", get(healthz).fallback_service(harbor.clone()))
        .nest_service("/harbor", harbor.clone())
        .fallback_service(harbor)
}

async fn healthz() -> HttpResponse {
    respond(StatusCode::OK, "text/plain", "ok\n")
}

async fn readyz(State(app): State<Arc<App>>) -> HttpResponse {
    if app.engine.db().current().is_some() || app.engine.is_remote() {
        respond(StatusCode::OK, "text/plain", "ready\n")
    } else {
        respond(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "no vulnerability database loaded yet\n",
        )
    }
}

async fn metrics(State(app): State<Arc<App>>) -> HttpResponse {
    respond(
        StatusCode::OK,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        app.metrics.render(),
    )
}

async fn imagecheck(State(app): State<Arc<App>>, request: axum::extract::Request) -> HttpResponse {
    crate::admission::handle(&app, request).await
}

async fn not_found() -> HttpResponse {
    error(StatusCode::NOT_FOUND, "not found")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::{PolicyChange, PolicyWatch};
    use portcullis_config::ServerConfig;

    fn write(path: &std::path::Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_watch_sees_policy_changes_policy_file_changes_and_unreadable_files_once() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yaml");
        let policy = dir.path().join("policy.yaml");
        write(
            &policy,
            "default_policy: one\npolicies: [{id: one, rules: []}]\n",
        );
        let text = format!("policy:\n  file: {}\n", policy.display());
        write(&config, &text);
        let in_force = ServerConfig::from_yaml(&text, "test").unwrap();
        let mut watch = PolicyWatch::new(config.clone(), &in_force);
        assert!(watch.governs);
        assert!(matches!(watch.check(), PolicyChange::None));
        // The policy file changed, the configuration did not.
        write(
            &policy,
            "default_policy: two\npolicies: [{id: two, rules: []}]\n",
        );
        assert!(matches!(watch.check(), PolicyChange::Policy(p) if p.file.is_some()));
        assert!(matches!(watch.check(), PolicyChange::None));
        // Another section changed: the policy is loaded again (and found the same).
        write(&config, &format!("{text}listen: 127.0.0.1:9443\n"));
        assert!(matches!(watch.check(), PolicyChange::Policy(_)));
        // Unreadable: reported once.
        write(&config, "policy: [not, a, map]\n");
        assert!(matches!(watch.check(), PolicyChange::Unreadable(_)));
        assert!(matches!(watch.check(), PolicyChange::None));
        write(&config, "policy:\n  id: reject_high\n");
        assert!(
            matches!(watch.check(), PolicyChange::Policy(p) if p.id.as_deref() == Some("reject_high"))
        );
    }

    #[test]
    fn a_policy_set_by_a_flag_is_not_governed_by_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yaml");
        write(&config, "policy:\n  id: reject_high\n");
        let mut in_force = ServerConfig::default();
        in_force.policy.id = Some("reject_critical".to_string());
        let watch = PolicyWatch::new(config, &in_force);
        assert!(!watch.governs);
    }
}
