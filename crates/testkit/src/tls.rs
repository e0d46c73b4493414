//! A throw-away CA and a server certificate for 127.0.0.1 and localhost, made with rcgen.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// PEM files of a test CA and a server certificate it signed, written in a directory.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    /// The CA certificate (PEM).
    pub ca_cert: PathBuf,
    /// The server certificate (PEM), for 127.0.0.1 and localhost.
    pub server_cert: PathBuf,
    /// The server's private key (PEM, PKCS#8).
    pub server_key: PathBuf,
}

/// Generate a CA and a server certificate into `dir`.
pub(crate) fn generate(dir: &Path) -> TlsFiles {
    let ca_key = KeyPair::generate().unwrap();
    let ca_params = ca_params(
        "portcullis test CA",
        vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ],
    );
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "portcullis test registry");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = params.signed_by(&server_key, &issuer).unwrap();

    let files = TlsFiles {
        ca_cert: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
    };
    std::fs::write(&files.ca_cert, ca_cert.pem()).unwrap();
    std::fs::write(&files.server_cert, server_cert.pem()).unwrap();
    std::fs::write(&files.server_key, server_key.serialize_pem()).unwrap();
    files
}

/// A self-signed P-256 certificate for signing tokens: (cert DER, cert PEM, PKCS#8 key DER).
pub(crate) fn token_signing_cert() -> (Vec<u8>, String, Vec<u8>) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let params = ca_params(
        "portcullis-test-issuer",
        vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
        ],
    );
    let cert = params.self_signed(&key).unwrap();
    (cert.der().to_vec(), cert.pem(), key.serialize_der())
}

/// The parameters of a CA certificate (no subject alternative names) named `common_name`.
fn ca_params(common_name: &str, key_usages: Vec<KeyUsagePurpose>) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = key_usages;
    params
}

/// A rustls server config serving the certificate and key in `files`.
pub(crate) fn server_config(files: &TlsFiles) -> std::sync::Arc<rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&files.server_cert)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(&files.server_key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    std::sync::Arc::new(config)
}
