//! The webhook's TLS: a CA made at activation and a serving certificate it signs (rcgen),
//! and reading a certificate's expiry back (PEM by `rustls-pki-types`, X.509 by `x509-parser`,
//! dates by `jiff`).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::error::{Error, ErrorKind, Result};

/// Days a generated CA is valid.
pub const CA_DAYS: i64 = 3650;
/// Days a generated serving certificate is valid.
pub const CERT_DAYS: i64 = 365;
/// A certificate expiring within this many days is renewed by `activate`.
pub const RENEW_WITHIN_DAYS: i64 = 30;
const DAY: i64 = 86_400;

/// PEM text of the serving certificate, its key, and the CA bundle the API server trusts.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsMaterial {
    /// CA certificates (PEM), newest first; goes into the webhook's `caBundle` and `ca.crt`.
    pub ca_bundle: String,
    /// The serving certificate (PEM), `tls.crt`.
    pub cert: String,
    /// The serving key (PEM, PKCS#8), `tls.key`.
    pub key: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("ca_bundle", &self.ca_bundle)
            .field("cert", &self.cert)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The DNS names the Service `service` in `namespace` is reached by.
pub fn service_dns_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
        format!("{service}.{namespace}"),
        service.to_string(),
    ]
}

/// Make a new CA and a serving certificate for `service.namespace.svc`, valid from the day
/// of `now` (Unix seconds) for [`CERT_DAYS`] (the CA for [`CA_DAYS`]).
pub fn generate(service: &str, namespace: &str, now: i64) -> Result<TlsMaterial> {
    generate_with_days(service, namespace, now, CERT_DAYS)
}

/// [`generate`] with a serving certificate valid for `days` (tests make near-expiry ones).
pub fn generate_with_days(
    service: &str,
    namespace: &str,
    now: i64,
    days: i64,
) -> Result<TlsMaterial> {
    let fail = |what: &str, e: rcgen::Error| {
        Error::new(
            ErrorKind::Certificate,
            format!("generating the {what} for {service}.{namespace}.svc: {e}"),
        )
    };
    let ca_key = KeyPair::generate().map_err(|e| fail("CA key", e))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| fail("CA", e))?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("portcullis CA ({namespace})"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    set_validity(&mut ca_params, now, CA_DAYS);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(|e| fail("CA", e))?;
    let issuer = Issuer::new(ca_params, ca_key);

    let key = KeyPair::generate().map_err(|e| fail("serving key", e))?;
    let mut params = CertificateParams::new(service_dns_names(service, namespace))
        .map_err(|e| fail("serving certificate", e))?;
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{service}.{namespace}.svc"));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    set_validity(&mut params, now, days);
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| fail("serving certificate", e))?;
    Ok(TlsMaterial {
        ca_bundle: ca_cert.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// Set the validity of `params` to midnight UTC of the day of `from` for `days` days.
fn set_validity(params: &mut CertificateParams, from: i64, days: i64) {
    let ymd = |unix: i64| {
        let date = jiff::Timestamp::from_second(unix)
            .unwrap_or(jiff::Timestamp::MAX)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        (
            i32::from(date.year()),
            u8::try_from(date.month()).unwrap_or(1),
            u8::try_from(date.day()).unwrap_or(1),
        )
    };
    let (y, m, d) = ymd(from);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = ymd(from.saturating_add(days.saturating_mul(DAY)));
    params.not_after = rcgen::date_time_ymd(y, m, d);
}

/// Whether a certificate expiring at `not_after` must be renewed at `now` (both Unix seconds).
pub fn needs_renewal(not_after: i64, now: i64) -> bool {
    not_after.saturating_sub(now) < RENEW_WITHIN_DAYS.saturating_mul(DAY)
}

/// The `notAfter` (Unix seconds) of the first certificate in `pem`.
pub fn not_after(pem: &str) -> Result<i64> {
    let der = pem_certificates(pem)
        .into_iter()
        .next()
        .ok_or_else(|| bad("no PEM CERTIFICATE block found".to_string()))?;
    not_after_der(&der).ok_or_else(|| bad("not a well-formed X.509 certificate".to_string()))
}

fn bad(message: String) -> Error {
    Error::new(ErrorKind::Certificate, format!("tls.crt: {message}"))
}

/// The DER bytes of each well-formed `CERTIFICATE` block of `pem`, in order.
pub fn pem_certificates(pem: &str) -> Vec<Vec<u8>> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .map_while(std::result::Result::ok)
        .map(|der| der.to_vec())
        .collect()
}

/// The PEM text of each certificate block of `pem`, in order.
pub fn pem_blocks(pem: &str) -> Vec<String> {
    let end = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let Some(len) = rest[start..].find(end) else {
            break;
        };
        let stop = start + len + end.len();
        out.push(format!("{}\n", &rest[start..stop]));
        rest = &rest[stop..];
    }
    out
}

/// The `notAfter` of a DER certificate, as Unix seconds.
fn not_after_der(der: &[u8]) -> Option<i64> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(certificate.validity().not_after.timestamp())
}

/// `unix` seconds as an RFC 3339 UTC timestamp (`2026-05-28T20:26:40Z`).
pub fn rfc3339(unix: i64) -> String {
    match jiff::Timestamp::from_second(unix) {
        Ok(time) => time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => unix.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_780_000_000; // 2026-05-28T20:26:40Z

    #[test]
    fn generated_certificate_expiry_reads_back() {
        let tls = generate("portcullis", "portcullis-system", NOW).unwrap();
        let day = NOW - NOW.rem_euclid(DAY);
        assert_eq!(not_after(&tls.cert).unwrap(), day + CERT_DAYS * DAY);
        assert_eq!(not_after(&tls.ca_bundle).unwrap(), day + CA_DAYS * DAY);
        assert!(tls.key.contains("PRIVATE KEY"));
        assert!(!format!("{tls:?}").contains("PRIVATE KEY"));
        assert!(!needs_renewal(not_after(&tls.cert).unwrap(), NOW));
        let short = generate_with_days("portcullis", "ns", NOW, 10).unwrap();
        assert!(needs_renewal(not_after(&short.cert).unwrap(), NOW));
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(NOW), "2026-05-28T20:26:40Z");
        assert_eq!(rfc3339(951_868_800), "2000-03-01T00:00:00Z");
    }

    #[test]
    fn garbage_never_panics() {
        assert!(not_after("").is_err());
        assert!(not_after("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----").is_err());
        for len in 0..64 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            assert_eq!(not_after_der(&bytes), None);
        }
    }
}
