//! Registry access for the engine: credentials (pod pull secrets, configured registry
//! Secrets), digest resolution, and pulling an image's catalog.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use portcullis_catalog::Catalog;
use portcullis_config::RegistryConfig;
use portcullis_k8s::credentials::{self, RegistryCredential};
use portcullis_oci::registry::RegistryClient;
use portcullis_oci::{
    Credentials, Digest, Image, ImageInfo, ImageOptions, ImageSource, NoProgress, Reference,
    RegistryOptions,
};

use crate::bounded::BoundedMap;
use crate::check_error::{CheckError, CheckErrorKind};

/// How long Secrets read from the API are reused.
const SECRET_TTL: Duration = Duration::from_secs(60);

/// A Secret by namespace and name.
type SecretKey = (String, String);

/// Reads registry credentials from Kubernetes Secrets, with a short cache.
pub struct CredentialSource {
    client: Option<kube::Client>,
    own_namespace: String,
    registries: Vec<RegistryConfig>,
    /// Secrets read in the last [`SECRET_TTL`], at most [`MAX_CACHED_SECRETS`].
    cache: Mutex<BoundedMap<SecretKey, (Instant, Vec<RegistryCredential>)>>,
}

/// The most pull Secrets whose credentials are cached (the oldest read is dropped first).
pub const MAX_CACHED_SECRETS: usize = 1000;

impl std::fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialSource")
            .field("kubernetes", &self.client.is_some())
            .field("own_namespace", &self.own_namespace)
            .field("registries", &self.registries)
            .finish_non_exhaustive()
    }
}

impl CredentialSource {
    /// Credentials come from `client` (none without one): pull secrets in the workload's
    /// namespace, and the `registries` Secrets in `own_namespace`.
    pub fn new(
        client: Option<kube::Client>,
        own_namespace: &str,
        registries: Vec<RegistryConfig>,
    ) -> Self {
        Self {
            client,
            own_namespace: own_namespace.to_string(),
            registries,
            cache: Mutex::new(BoundedMap::new(MAX_CACHED_SECRETS)),
        }
    }

    /// The credential for `registry`: the first pull secret of the pod that has one, else
    /// the configured Secret of that registry. Unreadable Secrets are logged and skipped.
    pub async fn find(
        &self,
        registry: &str,
        namespace: &str,
        pull_secrets: &[String],
    ) -> Option<Credentials> {
        let client = self.client.as_ref()?;
        for name in pull_secrets {
            let creds = self.secret(client, namespace, name, None).await;
            if let Some(found) = credentials::find(&creds, registry) {
                return Some(to_oci(found));
            }
        }
        let wanted = credentials::normalize_registry(registry);
        for entry in &self.registries {
            if credentials::normalize_registry(&entry.registry) != wanted {
                continue;
            }
            let Some(secret) = &entry.secret else {
                continue;
            };
            let creds = self
                .secret(client, &self.own_namespace, secret, Some(&entry.registry))
                .await;
            if let Some(found) = credentials::find(&creds, registry) {
                return Some(to_oci(found));
            }
        }
        None
    }

    async fn secret(
        &self,
        client: &kube::Client,
        namespace: &str,
        name: &str,
        registry: Option<&str>,
    ) -> Vec<RegistryCredential> {
        let key = (namespace.to_string(), name.to_string());
        if let Some((at, creds)) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            && at.elapsed() < SECRET_TTL
        {
            return creds.clone();
        }
        match credentials::read(client, namespace, name, registry).await {
            Ok(creds) => {
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                cache.drop_oldest_while(|(at, _)| at.elapsed() >= SECRET_TTL);
                cache.insert(key, (Instant::now(), creds.clone()));
                creds
            }
            Err(e) => {
                tracing::warn!(error = %e, "registry credentials");
                Vec::new()
            }
        }
    }
}

fn to_oci(found: &RegistryCredential) -> Credentials {
    Credentials {
        username: found.username.clone(),
        password: found.password.clone(),
    }
}

/// How the engine reaches registries.
#[derive(Debug, Clone)]
pub struct RegistryAccess {
    base: RegistryOptions,
}

impl RegistryAccess {
    /// From base options (timeouts, CA certificates) plus the insecure registries listed.
    pub fn new(mut base: RegistryOptions, registries: &[RegistryConfig]) -> Self {
        base.insecure_registries.extend(
            registries
                .iter()
                .filter(|r| r.insecure)
                .map(|r| r.registry.clone()),
        );
        if base.docker_config_dir.is_none() {
            // Never the server's own ~/.docker: credentials come from Secrets only.
            base.docker_config_dir = Some(PathBuf::from("/nonexistent/portcullis-docker-config"));
        }
        Self { base }
    }

    /// Options for one image with access given by the caller: its credentials or token,
    /// and plain HTTP allowed for `registry` when the caller says so.
    pub fn given_options(
        &self,
        access: &crate::engine::GivenAccess,
        registry: &str,
    ) -> ImageOptions {
        let mut options = self.options(access.credentials.clone());
        options.registry.registry_token.clone_from(&access.token);
        if access.plain_http {
            options
                .registry
                .insecure_registries
                .push(registry.to_string());
        }
        options
    }

    /// Options for one image with `credentials`.
    pub fn options(&self, credentials: Option<Credentials>) -> ImageOptions {
        let mut registry = self.base.clone();
        registry.credentials = credentials;
        ImageOptions {
            registry,
            ..ImageOptions::default()
        }
    }
}

/// Fetch `reference`'s manifest (by digest when pinned, else by tag) and return its digest
/// (blocking). A pinned reference must name a manifest the registry serves: this is how
/// access is proven even when the verdict is cached.
pub fn fetch_manifest_digest(
    reference: &Reference,
    options: &ImageOptions,
) -> Result<Digest, CheckError> {
    let what = reference.to_string();
    let client = RegistryClient::connect(reference, &options.registry)
        .map_err(|e| CheckError::from_oci(&e, ""))?;
    let fetched = client
        .fetch_manifest(
            &reference.manifest_reference(),
            None,
            options.limits.max_manifest_size,
            &what,
        )
        .map_err(|e| CheckError::from_oci(&e, ""))?;
    if let Some(pinned) = reference.digest()
        && fetched.digest != *pinned
    {
        return Err(CheckError::new(
            CheckErrorKind::Scan,
            format!(
                "{reference}: the registry served a manifest of digest {}",
                fetched.digest
            ),
        ));
    }
    Ok(fetched.digest)
}

/// Ask the registry which digest `reference`'s tag points at (blocking).
pub fn resolve_digest(reference: &Reference, options: &ImageOptions) -> Result<Digest, CheckError> {
    match reference.digest() {
        Some(digest) => Ok(digest.clone()),
        None => fetch_manifest_digest(reference, options),
    }
}

/// Pull `reference` (pinned to a digest) and catalog its packages (blocking).
pub fn pull_catalog(
    reference: &Reference,
    options: &ImageOptions,
) -> Result<(ImageInfo, Catalog), CheckError> {
    let image = Image::open(&ImageSource::Registry(reference.clone()), options)
        .map_err(|e| CheckError::from_oci(&e, ""))?;
    let catalog = portcullis_scan::catalog_image(&image, &options.limits, &NoProgress)
        .map_err(|e| CheckError::new(CheckErrorKind::Scan, e.to_string()))?;
    Ok((image.info().clone(), catalog))
}
