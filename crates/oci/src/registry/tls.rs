//! TLS settings for registry connections: `portcullis-tls`'s roots (the system's plus extra
//! CA files), or no verification at all for registries the user marked insecure.

use ureq::tls::TlsConfig;

use crate::error::{Error, ErrorKind, Result};
use crate::options::RegistryOptions;

/// The TLS configuration for a registry. With `verify` false, certificates are not checked
/// (only for registries the user marked insecure). Otherwise the trusted roots are the
/// system's plus `ca_certs`; if the system has none and no extra CA is given, the bundled
/// Mozilla roots are used so that public registries still work in minimal containers.
/// A CA file that cannot be used is [`ErrorKind::InvalidOptions`], naming the file.
pub fn tls_config(options: &RegistryOptions, verify: bool) -> Result<TlsConfig> {
    portcullis_tls::ureq_config(&options.ca_certs, verify)
        .map_err(|e| Error::new(ErrorKind::InvalidOptions, e.to_string()).with_source(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_file_errors_are_invalid_options() {
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
        // Insecure registries do not read CA files at all.
        assert!(tls_config(&options, false).unwrap().disable_verification());
    }
}
