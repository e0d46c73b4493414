//! npm package versions, parsed and ordered like node-semver (`new SemVer(v, { loose: true })`
//! and `semver.compare`).
//!
//! Loose parsing accepts what npm accepts: surrounding whitespace, any run of `v`, `=` and
//! whitespace before the numbers (`v1.2.3`, `=1.2.3`), leading zeros (`01.2.3`), and a
//! pre-release without its `-` (`1.2.3beta`). As in node-semver, a pre-release identifier
//! made of digits is a number if it is below 2^53 - 1, and numbers compare as JavaScript
//! numbers do; major, minor and patch above 2^53 - 1 are rejected.

use std::cmp::Ordering;

use crate::{Error, Result, Scheme};

/// `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// One pre-release identifier, as node-semver stores it.
#[derive(Debug, Clone, PartialEq)]
enum Ident {
    /// A numeric identifier below `MAX_SAFE_INTEGER`, stored as a JavaScript number.
    Num(u64),
    /// Anything else, stored as a string (possibly all digits, if too large).
    Str(Box<str>),
}

impl Ident {
    /// The identifier as a JavaScript number, if `numeric.test()` holds for it.
    fn as_number(&self) -> Option<f64> {
        match self {
            // Exact: below 2^53.
            Ident::Num(n) => Some(*n as f64),
            Ident::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse::<f64>().ok()
            }
            Ident::Str(_) => None,
        }
    }
}

/// node-semver's `compareIdentifiers` for two identifiers that are not `===`.
fn compare_identifiers(a: &Ident, b: &Ident) -> Ordering {
    if let (Ident::Num(x), Ident::Num(y)) = (a, b) {
        return x.cmp(y);
    }
    match (a.as_number(), b.as_number()) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => match (a, b) {
            (Ident::Str(x), Ident::Str(y)) => {
                if x < y {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            // A `Num` always has a number; this arm is never reached.
            _ => Ordering::Equal,
        },
    }
}

/// A parsed npm version.
#[derive(Debug, Clone)]
pub(crate) struct NpmVersion {
    main: [u64; 3],
    pre: Vec<Ident>,
}

/// JavaScript's `\s` (and what `String.prototype.trim` removes).
fn js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

fn ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// `id(.id)*` with `id = [A-Za-z0-9-]+`, covering all of `s`.
fn dotted_idents(s: &str) -> bool {
    s.split('.')
        .all(|id| !id.is_empty() && id.bytes().all(ident_char))
}

/// Match `(-?PRERELEASE)?(+BUILD)?$` against `rest`; the pre-release text if it matches.
fn match_tail(rest: &str) -> Option<Option<&str>> {
    let (before_build, build) = match rest.find('+') {
        Some(p) => (rest.get(..p)?, Some(rest.get(p + 1..)?)),
        None => (rest, None),
    };
    if build.is_some_and(|b| !dotted_idents(b)) {
        return None;
    }
    if before_build.is_empty() {
        return Some(None);
    }
    if let Some(without_dash) = before_build.strip_prefix('-')
        && dotted_idents(without_dash)
    {
        return Some(Some(without_dash));
    }
    dotted_idents(before_build).then_some(Some(before_build))
}

fn number(digits: &str) -> Option<u64> {
    let stripped = digits.trim_start_matches('0');
    if stripped.len() > 16 {
        return None;
    }
    let n = if stripped.is_empty() {
        0
    } else {
        stripped.parse::<u64>().ok()?
    };
    (n <= MAX_SAFE_INTEGER).then_some(n)
}

impl NpmVersion {
    /// Parse like `new SemVer(s, { loose: true })`.
    pub(crate) fn parse(s: &str) -> Result<Self> {
        crate::check_len(Scheme::Npm, s)?;
        let bad = |reason: &str| Error::invalid(Scheme::Npm, s, reason);
        let t = s.trim_matches(js_space);
        let t = t.trim_start_matches(|c: char| c == 'v' || c == '=' || js_space(c));
        let digits_end = |x: &str| x.find(|c: char| !c.is_ascii_digit()).unwrap_or(x.len());
        let mut main = [0u64; 3];
        let mut rest = t;
        for slot in main.iter_mut().take(2) {
            let end = digits_end(rest);
            if end == 0 || rest.get(end..end + 1) != Some(".") {
                return Err(bad("expected MAJOR.MINOR.PATCH"));
            }
            *slot = number(rest.get(..end).unwrap_or_default())
                .ok_or_else(|| bad("number larger than 2^53 - 1"))?;
            rest = rest.get(end + 1..).unwrap_or_default();
        }
        let patch_end = digits_end(rest);
        if patch_end == 0 {
            return Err(bad("expected MAJOR.MINOR.PATCH"));
        }
        // A regular expression would backtrack into the patch digits: try the longest first.
        for k in (1..=patch_end).rev() {
            let (Some(patch), Some(tail)) = (rest.get(..k), rest.get(k..)) else {
                continue;
            };
            let Some(pre_text) = match_tail(tail) else {
                continue;
            };
            main[2] = number(patch).ok_or_else(|| bad("number larger than 2^53 - 1"))?;
            let pre = pre_text
                .map(|p| {
                    p.split('.')
                        .map(|id| {
                            if id.bytes().all(|b| b.is_ascii_digit())
                                && let Some(n) = number(id).filter(|&n| n < MAX_SAFE_INTEGER)
                            {
                                return Ident::Num(n);
                            }
                            Ident::Str(id.into())
                        })
                        .collect()
                })
                .unwrap_or_default();
            return Ok(Self { main, pre });
        }
        Err(bad("bad pre-release or build"))
    }
}

impl PartialEq for NpmVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for NpmVersion {}

impl PartialOrd for NpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.main.cmp(&other.main).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => return Ordering::Equal,
                (false, true) => return Ordering::Less,
                (true, false) => return Ordering::Greater,
                (false, false) => {}
            }
            let mut i = 0;
            loop {
                match (self.pre.get(i), other.pre.get(i)) {
                    (None, None) => return Ordering::Equal,
                    (Some(_), None) => return Ordering::Greater,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(a), Some(b)) if a == b => {}
                    // node-semver returns here even when the result is 0.
                    (Some(a), Some(b)) => return compare_identifiers(a, b),
                }
                i += 1;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        crate::compare(Scheme::Npm, a, b).unwrap()
    }

    #[test]
    fn loose_forms() {
        assert_eq!(cmp("v1.2.3", "1.2.3"), Equal);
        assert_eq!(cmp("=1.2.3", " 1.2.3 "), Equal);
        assert_eq!(cmp("01.02.03", "1.2.3"), Equal);
        assert_eq!(cmp("1.2.3beta", "1.2.3-beta"), Equal);
        assert_eq!(cmp("1.2.3-01", "1.2.3-1"), Equal);
        assert_eq!(cmp("1.2.31.5", "1.2.3-1.5"), Equal);
        assert_eq!(cmp("1.2.3-alpha.10", "1.2.3-alpha.9"), Greater);
        assert_eq!(cmp("1.2.3-alpha", "1.2.3"), Less);
        assert_eq!(cmp("1.2.3+build", "1.2.3"), Equal);
        for bad in [
            "1.2",
            "1.2.3.4",
            "a.b.c",
            "1.2.3-a..b",
            "9007199254740992.0.0",
        ] {
            assert!(NpmVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
