//! The trusted roots of every outgoing TLS connection (registries, vulnerability feeds, a
//! central engine): the system's certificates plus extra CA files (`--ca-cert`, `caCerts`),
//! or no verification at all for what the user marked insecure.
//!
//! One place, so that a mirror or registry behind an internal CA is trusted the same way by
//! the image client and the feed fetcher.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// A CA file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read, or holds a malformed PEM block.
    #[error("CA certificate file {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The file holds no PEM certificate.
    #[error("CA certificate file {} holds no PEM certificate", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
}

/// The system's root certificates, loaded once per process.
pub fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for error in &loaded.errors {
            tracing::debug!(%error, "could not load some system root certificates");
        }
        tracing::debug!(
            count = loaded.certs.len(),
            "loaded system root certificates"
        );
        loaded.certs
    })
}

/// Every certificate of the PEM files `paths`; a file without one is an error.
pub fn read_ca_files(paths: &[PathBuf]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut certs = Vec::new();
    for path in paths {
        let unreadable = |source| Error::Unreadable {
            path: path.clone(),
            source,
        };
        let before = certs.len();
        for cert in CertificateDer::pem_file_iter(path).map_err(unreadable)? {
            certs.push(cert.map_err(unreadable)?);
        }
        if certs.len() == before {
            return Err(Error::NoCertificate { path: path.clone() });
        }
    }
    Ok(certs)
}

/// The ureq TLS configuration trusting the system's roots plus the certificates of
/// `ca_files`. If the system has none and no CA file is given, the bundled Mozilla roots are
/// used, so that public registries and feeds still work in minimal containers. With `verify`
/// false, certificates are not checked and no CA file is read (only for endpoints the user
/// marked insecure).
pub fn ureq_config(ca_files: &[PathBuf], verify: bool) -> Result<TlsConfig, Error> {
    if !verify {
        return Ok(TlsConfig::builder().disable_verification(true).build());
    }
    let extra = read_ca_files(ca_files)?;
    let system = system_roots();
    if system.is_empty() && extra.is_empty() {
        return Ok(TlsConfig::builder().root_certs(RootCerts::WebPki).build());
    }
    let roots: Vec<Certificate<'static>> = system
        .iter()
        .chain(extra.iter())
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&roots))
        .build())
}

/// Is this failure of a request a TLS failure (handshake, certificate, protocol)? Such a
/// failure repeats: callers do not retry it, and say it is about TLS.
pub fn is_tls_error(err: &ureq::Error) -> bool {
    match err {
        ureq::Error::Tls(_)
        | ureq::Error::Rustls(_)
        | ureq::Error::Pem(_)
        | ureq::Error::TlsRequired => true,
        ureq::Error::Io(e) => e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()),
        _ => false,
    }
}

impl Error {
    /// The CA file this error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Unreadable { path, .. } | Self::NoCertificate { path } => path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = ureq_config(std::slice::from_ref(&empty), true).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "CA certificate file {} holds no PEM certificate",
                empty.display()
            )
        );
        assert_eq!(err.path(), empty);
        let missing = dir.path().join("missing.pem");
        let err = ureq_config(std::slice::from_ref(&missing), true).unwrap_err();
        assert!(matches!(err, Error::Unreadable { .. }), "{err:?}");
        assert!(err.to_string().contains("missing.pem"), "{err}");
        // Unverified connections do not read CA files at all.
        assert!(
            ureq_config(&[missing], false)
                .unwrap()
                .disable_verification()
        );
    }
}
