//! Deterministic identifiers: content hashes, hash-derived UUIDs, sanitised id strings.

use sha2::{Digest as _, Sha256};

/// SHA-256 of `parts`, each length-prefixed so that boundaries count.
pub fn content_hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// A UUID built from the first 16 bytes of `hash`, marked as an RFC 9562 version 8
/// ("custom") UUID with the RFC 4122 variant, in lowercase hyphenated form.
pub fn uuid_from_hash(hash: &[u8; 32]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    // 32 ASCII hex digits: the slices below are in bounds.
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Lowercase hex of the first `n` bytes of `hash` (at most 32).
pub fn short_hex(hash: &[u8; 32], n: usize) -> String {
    hash.iter().take(n).map(|x| format!("{x:02x}")).collect()
}

/// Keep ASCII letters, digits, `.` and `-`; every other run of characters becomes one `-`.
/// Leading and trailing `-` are dropped; an empty result becomes `unknown`. Used for SPDX
/// ids (`SPDXRef-...`, `LicenseRef-...`), whose id strings allow only those characters.
pub fn sanitize_id(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut dash = false;
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c);
            dash = false;
        } else if !dash {
            out.push('-');
            dash = true;
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "unknown".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_version_8_and_rfc_variant() {
        let h = content_hash(&[b"abc"]);
        let u = uuid_from_hash(&h);
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'8');
        assert!(matches!(u.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_eq!(u, uuid_from_hash(&content_hash(&[b"abc"])));
        assert_ne!(u, uuid_from_hash(&content_hash(&[b"ab", b"c"])));
    }

    #[test]
    fn sanitizes() {
        assert_eq!(sanitize_id("@types/node"), "types-node");
        assert_eq!(sanitize_id("libstdc++6"), "libstdc-6");
        assert_eq!(sanitize_id("GPLv2+ and LGPLv2+"), "GPLv2-and-LGPLv2");
        assert_eq!(sanitize_id("+++"), "unknown");
        assert_eq!(sanitize_id("a.b-c"), "a.b-c");
    }
}
