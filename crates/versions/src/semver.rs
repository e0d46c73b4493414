//! Strict SemVer 2.0 (<https://semver.org>), as crates.io uses it.
//!
//! `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`, no leading zeros in numbers or numeric
//! pre-release identifiers, no `v` prefix. Precedence: the three numbers by value, then a
//! version without pre-release above one with; pre-release identifiers left to right,
//! numeric ones by value and below alphanumeric ones, alphanumeric ones bytewise, a shorter
//! list below a longer one it prefixes. Build metadata is ignored.

use std::cmp::Ordering;
use std::ops::Range;

use crate::digits::{all_digits, cmp_digits, has_leading_zero};
use crate::{Error, Result, Scheme};

/// A parsed SemVer 2.0 version (also used for Go module versions).
#[derive(Debug, Clone)]
pub(crate) struct SemVersion {
    text: Box<str>,
    /// Major, minor and patch digits; an empty range reads as `0` (Go shorthand).
    core: [Range<usize>; 3],
    pre: Vec<Range<usize>>,
}

/// How strict the grammar is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grammar {
    /// SemVer 2.0 exactly.
    Strict,
    /// `golang.org/x/mod/semver`: `v` prefix (optional here), `vMAJOR` and `vMAJOR.MINOR`
    /// shorthands without pre-release or build.
    Go,
}

fn ident_ok(id: &[u8]) -> bool {
    !id.is_empty() && id.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// Parse a number without leading zeros starting at `pos`; returns its end.
fn number(b: &[u8], pos: usize) -> Option<usize> {
    let mut end = pos;
    while b.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    let digits = b.get(pos..end)?;
    (!digits.is_empty() && !has_leading_zero(digits)).then_some(end)
}

impl SemVersion {
    /// Parse `s` with `grammar`, naming `scheme` in errors.
    pub(crate) fn parse_with(s: &str, grammar: Grammar, scheme: Scheme) -> Result<Self> {
        crate::check_len(scheme, s)?;
        let bad = |reason: &str| Error::invalid(scheme, s, reason);
        let b = s.as_bytes();
        let mut pos = 0;
        if grammar == Grammar::Go && b.first() == Some(&b'v') {
            pos = 1;
        }
        let mut core = [pos..pos, pos..pos, pos..pos];
        for (k, slot) in core.iter_mut().enumerate() {
            if k > 0 {
                match b.get(pos) {
                    Some(b'.') => pos += 1,
                    None if grammar == Grammar::Go => {
                        return Ok(Self {
                            text: s.into(),
                            core: core.clone(),
                            pre: Vec::new(),
                        });
                    }
                    _ => return Err(bad("expected MAJOR.MINOR.PATCH")),
                }
            }
            let end = number(b, pos).ok_or_else(|| bad("bad number (empty or leading zero)"))?;
            *slot = pos..end;
            pos = end;
        }
        let mut pre = Vec::new();
        if b.get(pos) == Some(&b'-') {
            pos += 1;
            let end = b
                .iter()
                .skip(pos)
                .position(|&c| c == b'+')
                .map_or(b.len(), |p| p + pos);
            for id in b.get(pos..end).unwrap_or_default().split(|&c| c == b'.') {
                if !ident_ok(id) {
                    return Err(bad("empty or bad pre-release identifier"));
                }
                if all_digits(id) && has_leading_zero(id) {
                    return Err(bad("numeric pre-release identifier with a leading zero"));
                }
                let start = pos;
                pos += id.len();
                pre.push(start..pos);
                pos += 1;
            }
            pos = end;
        }
        if b.get(pos) == Some(&b'+') {
            let rest = b.get(pos + 1..).unwrap_or_default();
            if !rest.split(|&c| c == b'.').all(ident_ok) {
                return Err(bad("empty or bad build identifier"));
            }
            pos = b.len();
        }
        if pos != b.len() {
            return Err(bad("unexpected characters after the version"));
        }
        Ok(Self {
            text: s.into(),
            core,
            pre,
        })
    }

    /// Parse a strict SemVer 2.0 version.
    pub(crate) fn parse(s: &str) -> Result<Self> {
        Self::parse_with(s, Grammar::Strict, Scheme::Semver)
    }

    fn part(&self, r: &Range<usize>) -> &[u8] {
        self.text.as_bytes().get(r.clone()).unwrap_or_default()
    }
}

impl PartialEq for SemVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SemVersion {}

impl PartialOrd for SemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        for (x, y) in self.core.iter().zip(other.core.iter()) {
            let ord = cmp_digits(self.part(x), other.part(y));
            if ord != Ordering::Equal {
                return ord;
            }
        }
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            (false, false) => {}
        }
        for (x, y) in self.pre.iter().zip(other.pre.iter()) {
            let (x, y) = (self.part(x), other.part(y));
            let ord = match (all_digits(x), all_digits(y)) {
                (true, true) => cmp_digits(x, y),
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (false, false) => x.cmp(y),
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        self.pre.len().cmp(&other.pre.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        crate::compare(Scheme::Semver, a, b).unwrap()
    }

    #[test]
    fn semver_spec_examples() {
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for w in chain.windows(2) {
            assert_eq!(cmp(w[0], w[1]), Less, "{} < {}", w[0], w[1]);
        }
        assert_eq!(cmp("1.0.0+build.1", "1.0.0+build.2"), Equal);
        assert_eq!(cmp("1.0.0-0", "1.0.0-00a"), Less);
        assert_eq!(
            cmp("18446744073709551616.0.0", "18446744073709551615.0.0"),
            Greater
        );
    }

    #[test]
    fn strict_syntax() {
        for bad in [
            "v1.0.0",
            "1.0",
            "01.0.0",
            "1.0.0-01",
            "1.0.0-",
            "1.0.0+",
            "1.0.0-a..b",
            "1.0.0 ",
        ] {
            assert!(SemVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
