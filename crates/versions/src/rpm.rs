//! RPM versions, ordered like `rpmvercmp` and python3-rpm's `labelCompare`.
//!
//! Strings are `[E:]V[-R]`: the epoch is the digits before a `:`, the release everything
//! after the last `-`. As in `labelCompare((e, v, r), (e, v, r))`, a missing epoch is `0`
//! and a missing release sorts before any release (`1.0` < `1.0-1`, not a wildcard).
//!
//! `rpmvercmp` splits both strings into alternating runs of ASCII digits and ASCII letters,
//! skipping every other byte as a separator. `~` sorts before anything, even the end
//! (`1.0~rc1` < `1.0`); `^` sorts after the end but before any further run
//! (`1.0` < `1.0^git1` < `1.0.1`). A digit run is newer than a letter run; digit runs
//! compare by value, of any length; letter runs compare bytewise.

use std::cmp::Ordering;
use std::ops::Range;

use crate::digits::cmp_digits;
use crate::{Error, Result, Scheme};

/// A parsed RPM EVR: where epoch, version and release sit in the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RpmVersion {
    epoch: Option<Range<usize>>,
    version: Range<usize>,
    release: Option<Range<usize>>,
}

fn invalid(s: &str, reason: &str) -> Error {
    Error::invalid(Scheme::Rpm, s, reason)
}

impl RpmVersion {
    /// Parse an `[E:]V[-R]` string.
    pub(crate) fn parse(s: &str) -> Result<Self> {
        crate::check_len(Scheme::Rpm, s)?;
        if s.bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(invalid(s, "whitespace or control character"));
        }
        let (epoch, rest_start) = match s.find(':') {
            Some(colon) => {
                let e = s.get(..colon).unwrap_or_default();
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid(s, "epoch is not a number"));
                }
                (Some(0..colon), colon + 1)
            }
            None => (None, 0),
        };
        let rest = s.get(rest_start..).unwrap_or_default();
        if rest.contains(':') {
            return Err(invalid(s, "more than one ':'"));
        }
        let (version, release) = match rest.rfind('-') {
            Some(h) => (
                rest_start..rest_start + h,
                Some(rest_start + h + 1..s.len()),
            ),
            None => (rest_start..s.len(), None),
        };
        if version.is_empty() {
            return Err(invalid(s, "empty version"));
        }
        if release.as_ref().is_some_and(|r| r.is_empty()) {
            return Err(invalid(s, "empty release after '-'"));
        }
        Ok(Self {
            epoch,
            version,
            release,
        })
    }

    /// Compare with `other`; `s` and `other_s` are the strings each was parsed from.
    pub(crate) fn cmp_with(&self, s: &str, other: &Self, other_s: &str) -> Ordering {
        let (a, b) = (s.as_bytes(), other_s.as_bytes());
        let ea = self.epoch.clone().and_then(|r| a.get(r)).unwrap_or(b"0");
        let eb = other.epoch.clone().and_then(|r| b.get(r)).unwrap_or(b"0");
        cmp_digits(ea, eb)
            .then_with(|| {
                rpmvercmp(
                    a.get(self.version.clone()).unwrap_or_default(),
                    b.get(other.version.clone()).unwrap_or_default(),
                )
            })
            .then_with(|| {
                let ra = self.release.clone().and_then(|r| a.get(r));
                let rb = other.release.clone().and_then(|r| b.get(r));
                match (ra, rb) {
                    (None, None) => Ordering::Equal,
                    (Some(_), None) => Ordering::Greater,
                    (None, Some(_)) => Ordering::Less,
                    (Some(x), Some(y)) => rpmvercmp(x, y),
                }
            })
    }
}

/// Compare two `[E:]V[-R]` strings without allocating.
pub fn compare(a: &str, b: &str) -> Result<Ordering> {
    let va = RpmVersion::parse(a)?;
    let vb = RpmVersion::parse(b)?;
    Ok(va.cmp_with(a, &vb, b))
}

/// rpm's `rpmvercmp` over one version or release string.
pub fn rpmvercmp(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let sep =
        |c: Option<&u8>| c.is_some_and(|&c| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^');
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while sep(a.get(i)) {
            i += 1;
        }
        while sep(b.get(j)) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else {
            break;
        };
        let numeric = ca.is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let (si, sj) = (i, j);
        while a.get(i).is_some_and(class) {
            i += 1;
        }
        while b.get(j).is_some_and(class) {
            j += 1;
        }
        if sj == j {
            // Different kinds of run: the digit run is newer.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (ra, rb) = (
            a.get(si..i).unwrap_or_default(),
            b.get(sj..j).unwrap_or_default(),
        );
        let ord = if numeric {
            cmp_digits(ra, rb)
        } else {
            ra.cmp(rb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    match (i < a.len(), j < b.len()) {
        (false, false) => Ordering::Equal,
        (true, _) => Ordering::Greater,
        (false, true) => Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        compare(a, b).unwrap()
    }

    #[test]
    fn rpmvercmp_rules() {
        assert_eq!(cmp("1.0", "1.0"), Equal);
        assert_eq!(cmp("1.0~rc1", "1.0"), Less);
        assert_eq!(cmp("1.0^git1", "1.0"), Greater);
        assert_eq!(cmp("1.0^git1", "1.0.1"), Less);
        assert_eq!(cmp("1.0^", "1.0"), Greater);
        assert_eq!(cmp("1.a", "1.1"), Less);
        assert_eq!(cmp("1.001", "1.1"), Equal);
        assert_eq!(cmp("1_0", "1.0"), Equal);
        assert_eq!(cmp("2.0", "1:1.0"), Less);
        assert_eq!(cmp("0:2.0", "2.0"), Equal);
        assert_eq!(cmp("1.0", "1.0-1"), Less);
        assert_eq!(cmp("1.0-1.el9", "1.0-1.el9_2"), Less);
        assert_eq!(cmp("1.0-2-3", "1.0-2-4"), Less);
    }

    #[test]
    fn bad_syntax_is_an_error() {
        for bad in ["", ":1.0", "a:1.0", "1:2:3", "1.0-", "-1", "1 0", "1:"] {
            assert!(compare(bad, "1.0").is_err(), "{bad:?}");
        }
    }
}
