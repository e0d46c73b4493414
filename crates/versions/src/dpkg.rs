//! Debian package versions, ordered like `dpkg --compare-versions`.
//!
//! `[epoch:]upstream[-revision]`: the epoch is everything before the first `:`, the revision
//! everything after the last `-`, so the upstream part may itself contain `-` (when there is
//! a revision) and `:` (when there is an epoch). Upstream and revision are compared with
//! dpkg's `verrevcmp`: alternating non-digit and digit runs; in non-digit runs `~` sorts
//! before everything (even the end of the string), letters before non-letters; digit runs
//! compare by numeric value, of any length.
//!
//! dpkg only warns about versions that do not start with a digit or contain characters
//! outside `[A-Za-z0-9.+~-:]`; this module rejects them.

use std::cmp::Ordering;
use std::ops::Range;

use crate::digits::cmp_digits;
use crate::{Error, Result, Scheme};

/// A parsed dpkg version: the epoch and where upstream and revision sit in the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DpkgVersion {
    epoch: u32,
    upstream: Range<usize>,
    revision: Range<usize>,
}

fn invalid(s: &str, reason: &str) -> Error {
    Error::invalid(Scheme::Dpkg, s, reason)
}

impl DpkgVersion {
    /// Parse `s` (leading and trailing whitespace is ignored, as dpkg does).
    pub(crate) fn parse(s: &str) -> Result<Self> {
        crate::check_len(Scheme::Dpkg, s)?;
        let start = s.len() - s.trim_start().len();
        let end = s.trim_end().len();
        let body = s.get(start..end).unwrap_or_default();
        if body.is_empty() {
            return Err(invalid(s, "version string is empty"));
        }
        if body.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(invalid(s, "version string has embedded spaces"));
        }
        let (epoch, version_start) = match body.find(':') {
            Some(colon) => {
                let digits = body.get(..colon).unwrap_or_default();
                if digits.is_empty() {
                    return Err(invalid(s, "epoch in version is empty"));
                }
                if !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid(s, "epoch in version is not number"));
                }
                let epoch = digits
                    .parse::<u32>()
                    .ok()
                    .filter(|&e| e <= i32::MAX as u32)
                    .ok_or_else(|| invalid(s, "epoch in version is too big"))?;
                if colon + 1 == body.len() {
                    return Err(invalid(s, "nothing after colon in version number"));
                }
                (epoch, colon + 1)
            }
            None => (0, 0),
        };
        let rest = body.get(version_start..).unwrap_or_default();
        let (upstream, revision) = match rest.rfind('-') {
            Some(hyphen) => {
                if hyphen + 1 == rest.len() {
                    return Err(invalid(s, "revision number is empty"));
                }
                (0..hyphen, hyphen + 1..rest.len())
            }
            None => (0..rest.len(), rest.len()..rest.len()),
        };
        let up = rest.get(upstream.clone()).unwrap_or_default();
        let rev = rest.get(revision.clone()).unwrap_or_default();
        if up.is_empty() {
            return Err(invalid(s, "version number is empty"));
        }
        if !up.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(invalid(s, "version number does not start with digit"));
        }
        if !up
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-+~:".contains(&b))
        {
            return Err(invalid(s, "invalid character in version number"));
        }
        if !rev
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b))
        {
            return Err(invalid(s, "invalid character in revision number"));
        }
        let offset = start + version_start;
        Ok(Self {
            epoch,
            upstream: upstream.start + offset..upstream.end + offset,
            revision: revision.start + offset..revision.end + offset,
        })
    }

    /// Compare with `other`; `s` and `other_s` are the strings each was parsed from.
    pub(crate) fn cmp_with(&self, s: &str, other: &Self, other_s: &str) -> Ordering {
        let a = s.as_bytes();
        let b = other_s.as_bytes();
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| {
                verrevcmp(
                    a.get(self.upstream.clone()).unwrap_or_default(),
                    b.get(other.upstream.clone()).unwrap_or_default(),
                )
            })
            .then_with(|| {
                verrevcmp(
                    a.get(self.revision.clone()).unwrap_or_default(),
                    b.get(other.revision.clone()).unwrap_or_default(),
                )
            })
    }
}

/// Compare two dpkg version strings without allocating.
pub fn compare(a: &str, b: &str) -> Result<Ordering> {
    let va = DpkgVersion::parse(a)?;
    let vb = DpkgVersion::parse(b)?;
    Ok(va.cmp_with(a, &vb, b))
}

/// dpkg's weight of one character of a non-digit run; `None` is the end of the string.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` over an upstream version or a revision.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let non_digit = |s: &[u8], k: usize| s.get(k).is_some_and(|c| !c.is_ascii_digit());
    while i < a.len() || j < b.len() {
        while non_digit(a, i) || non_digit(b, j) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        let a_start = i;
        while a.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let b_start = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        let ord = cmp_digits(
            a.get(a_start..i).unwrap_or_default(),
            b.get(b_start..j).unwrap_or_default(),
        );
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        compare(a, b).unwrap()
    }

    #[test]
    fn tilde_sorts_first_and_letters_before_symbols() {
        assert_eq!(cmp("1.0~rc1", "1.0"), Less);
        assert_eq!(cmp("1.0~~", "1.0~"), Less);
        assert_eq!(cmp("1.0a", "1.0+"), Less);
        assert_eq!(cmp("1.0", "1.0a"), Less);
        assert_eq!(cmp("1.0-1", "1.0"), Greater);
        assert_eq!(cmp("1.0-0", "1.0"), Equal);
        assert_eq!(cmp("1:0.1", "2.0"), Greater);
        assert_eq!(cmp("0:1.0", "1.0"), Equal);
        assert_eq!(cmp("1.01", "1.1"), Equal);
        assert_eq!(cmp("1.0-1-2", "1.0-1-1"), Greater);
        assert_eq!(cmp("1:2:3-4", "1:2:3-5"), Less);
        assert_eq!(
            cmp(
                "1.123456789012345678901234567890",
                "1.123456789012345678901234567889"
            ),
            Greater
        );
    }

    #[test]
    fn bad_syntax_is_an_error() {
        for bad in [
            "", " ", "a1.0", "1.0-", ":1.0", "1:", "x:1.0", "1 0", "1.0_1", "1.0-a_b", "-1",
        ] {
            assert!(compare(bad, "1.0").is_err(), "{bad:?}");
        }
        assert!(compare("99999999999:1.0", "1.0").is_err());
    }
}
