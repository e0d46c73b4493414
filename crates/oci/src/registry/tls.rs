//! TLS settings for registry connections: system roots plus extra CA files, or no
//! verification at all for registries the user marked insecure.

use std::sync::OnceLock;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use crate::error::{Error, ErrorKind, Result};
use crate::options::RegistryOptions;

/// The system's root certificates, loaded once per process.
fn system_roots() -> &'static [CertificateDer<'static>] {
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

/// Read every certificate of the PEM files in `options.ca_certs`.
pub(crate) fn extra_roots(options: &RegistryOptions) -> Result<Vec<CertificateDer<'static>>> {
    let mut certs = Vec::new();
    for path in &options.ca_certs {
        let shown = path.display();
        let iter = CertificateDer::pem_file_iter(path).map_err(|e| {
            Error::new(
                ErrorKind::InvalidOptions,
                format!("CA certificate file {shown}: {e}"),
            )
        })?;
        let before = certs.len();
        for cert in iter {
            certs.push(cert.map_err(|e| {
                Error::new(
                    ErrorKind::InvalidOptions,
                    format!("CA certificate file {shown}: {e}"),
                )
            })?);
        }
        if certs.len() == before {
            return Err(Error::new(
                ErrorKind::InvalidOptions,
                format!("CA certificate file {shown} holds no PEM certificate"),
            ));
        }
    }
    Ok(certs)
}

/// The TLS configuration for a registry. With `verify` false, certificates are not checked
/// (only for registries the user marked insecure). Otherwise the trusted roots are the
/// system's plus `ca_certs`; if the system has none and no extra CA is given, the bundled
/// Mozilla roots are used so that public registries still work in minimal containers.
pub fn tls_config(options: &RegistryOptions, verify: bool) -> Result<TlsConfig> {
    if !verify {
        return Ok(TlsConfig::builder().disable_verification(true).build());
    }
    let extra = extra_roots(options)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let options = RegistryOptions {
            ca_certs: vec![empty.clone()],
            ..RegistryOptions::default()
        };
        let err = tls_config(&options, true).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidOptions);
        assert_eq!(
            err.to_string(),
            format!(
                "CA certificate file {} holds no PEM certificate",
                empty.display()
            )
        );
        let missing = RegistryOptions {
            ca_certs: vec![dir.path().join("missing.pem")],
            ..RegistryOptions::default()
        };
        let err = tls_config(&missing, true).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");
        // Insecure registries do not read CA files at all.
        assert!(tls_config(&options, false).unwrap().disable_verification());
    }
}
