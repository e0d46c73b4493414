//! The webhook's TLS: a CA made at activation and a serving certificate it signs (rcgen),
//! and reading a certificate's expiry back (a small DER walk, no X.509 crate).

use base64::Engine as _;
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
        let (y, m, d) = civil_from_days(unix.div_euclid(DAY));
        (
            i32::try_from(y).unwrap_or(9999),
            u8::try_from(m).unwrap_or(1),
            u8::try_from(d).unwrap_or(1),
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
    let der = first_pem_certificate(pem)
        .ok_or_else(|| bad("no PEM CERTIFICATE block found".to_string()))?;
    not_after_der(&der).ok_or_else(|| bad("not a well-formed X.509 certificate".to_string()))
}

fn bad(message: String) -> Error {
    Error::new(ErrorKind::Certificate, format!("tls.crt: {message}"))
}

/// The DER bytes of each `CERTIFICATE` block of `pem`, in order.
pub fn pem_certificates(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let body_start = start + "-----BEGIN CERTIFICATE-----".len();
        let Some(len) = rest[body_start..].find("-----END CERTIFICATE-----") else {
            break;
        };
        let body: String = rest[body_start..body_start + len]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(body) {
            out.push(der);
        }
        rest = &rest[body_start + len..];
    }
    out
}

fn first_pem_certificate(pem: &str) -> Option<Vec<u8>> {
    pem_certificates(pem).into_iter().next()
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

/// One DER TLV: (tag, contents, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(count)?;
        rest = after;
        bytes.iter().try_fold(0usize, |acc, &b| {
            acc.checked_mul(256)?.checked_add(usize::from(b))
        })?
    };
    let (contents, after) = rest.split_at_checked(len)?;
    Some((tag, contents, after))
}

fn not_after_der(der: &[u8]) -> Option<i64> {
    let (_, certificate, _) = tlv(der)?;
    let (_, mut tbs, _) = tlv(certificate)?;
    // [0] version (optional), serial, signature algorithm, issuer, validity.
    let (tag, _, rest) = tlv(tbs)?;
    if tag == 0xa0 {
        tbs = rest;
        let (_, _, rest) = tlv(tbs)?; // serial
        tbs = rest;
    } else {
        tbs = rest; // that was the serial
    }
    let (_, _, rest) = tlv(tbs)?; // signature algorithm
    let (_, _, rest) = tlv(rest)?; // issuer
    let (_, validity, _) = tlv(rest)?;
    let (_, _, rest) = tlv(validity)?; // notBefore
    let (tag, time, _) = tlv(rest)?;
    parse_time(tag, std::str::from_utf8(time).ok()?)
}

/// UTCTime (`YYMMDDHHMMSSZ`, tag 0x17) or GeneralizedTime (`YYYYMMDDHHMMSSZ`, tag 0x18).
fn parse_time(tag: u8, text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = text.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        0x18 => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    if rest.len() != 10 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |i: usize| rest.get(i..i + 2).and_then(|s| s.parse::<i64>().ok());
    let days = days_from_civil(year, field(0)?, field(2)?);
    Some(days * DAY + field(4)? * 3600 + field(6)? * 60 + field(8)?)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) `days` after 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// `unix` seconds as an RFC 3339 UTC timestamp.
pub fn rfc3339(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(DAY));
    let s = unix.rem_euclid(DAY);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
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
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(parse_time(0x17, "491231235959Z"), Some(2_524_607_999));
        assert_eq!(parse_time(0x18, "20260528202640Z"), Some(NOW));
        assert_eq!(parse_time(0x18, "2026052820264Z"), None);
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
