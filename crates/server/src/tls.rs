//! HTTPS certificates read from files and reloaded when the files change.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, ErrorKind, Result};

/// The largest certificate or key file read.
const MAX_PEM_LEN: u64 = 1024 * 1024;

/// Serves the certificate in `cert`/`key`, swapping in a new one when the files change.
pub struct CertReloader {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    fingerprint: Mutex<[u8; 32]>,
}

impl fmt::Debug for CertReloader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertReloader")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let error = |e: std::io::Error| {
        Error::new(
            ErrorKind::Config,
            format!("{}: reading: {e}", path.display()),
        )
    };
    let file = std::fs::File::open(path).map_err(error)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(error)?;
    if bytes.len() as u64 > MAX_PEM_LEN {
        return Err(Error::new(
            ErrorKind::Config,
            format!("{}: larger than {MAX_PEM_LEN} bytes", path.display()),
        ));
    }
    Ok(bytes)
}

impl CertReloader {
    /// Read the certificate chain and key (PEM); fails naming the file that is wrong.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Result<Self> {
        let cert = cert.into();
        let key = key.into();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (loaded, fingerprint) = load(&cert, &key, &provider)?;
        Ok(Self {
            cert,
            key,
            provider,
            current: RwLock::new(Arc::new(loaded)),
            fingerprint: Mutex::new(fingerprint),
        })
    }

    /// Re-read the files; swap the certificate in if their content changed and is valid.
    /// Returns whether it was swapped. On error the current certificate stays.
    pub fn reload(&self) -> Result<bool> {
        let (loaded, fingerprint) = load(&self.cert, &self.key, &self.provider)?;
        let mut current = self.fingerprint.lock().unwrap_or_else(|e| e.into_inner());
        if *current == fingerprint {
            return Ok(false);
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
        *current = fingerprint;
        tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
        Ok(true)
    }

    /// A rustls server configuration resolving certificates through `self`.
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::new(ErrorKind::Config, format!("TLS: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl ResolvesServerCert for CertReloader {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|e| e.into_inner()),
        ))
    }
}

fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<(CertifiedKey, [u8; 32])> {
    let cert_pem = read_capped(cert)?;
    let key_pem = read_capped(key)?;
    let config_error = |path: &Path, what: String| {
        Error::new(ErrorKind::Config, format!("{}: {what}", path.display()))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| config_error(cert, format!("not a PEM certificate chain ({e})")))?;
    if chain.is_empty() {
        return Err(config_error(cert, "no certificate in the file".to_string()));
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| config_error(key, format!("not a PEM private key ({e})")))?;
    let signing = provider
        .key_provider
        .load_private_key(private)
        .map_err(|e| config_error(key, format!("unusable private key ({e})")))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| config_error(key, format!("does not match {} ({e})", cert.display())))?;
    let mut hasher = Sha256::new();
    hasher.update(&cert_pem);
    hasher.update([0]);
    hasher.update(&key_pem);
    Ok((certified, hasher.finalize().into()))
}
