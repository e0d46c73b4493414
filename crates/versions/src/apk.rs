//! Alpine package versions, ordered like apk-tools (`src/version.c`).
//!
//! Grammar: `digits{.digits}[letter]{_suffix[digits]}[~hash][-rN]`.
//! Suffixes `_alpha` < `_beta` < `_pre` < `_rc` < (none) < `_cvs` < `_svn` < `_git` < `_hg`
//! < `_p`. Numbers compare by value, except that a dot-separated component with a leading
//! zero in either version (`1.05` vs `1.5`) compares as a string, byte by byte. Once one
//! version runs out of tokens, the longer one is newer unless its next token is a
//! pre-release suffix. A version apk would reject as invalid is an error here.

use std::cmp::Ordering;
use std::ops::Range;

use crate::digits::cmp_digits;
use crate::{Error, Result, Scheme};

/// Token kinds, in apk's order (the order matters when versions differ in length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
}

/// Suffix values; `None` (5) is the pivot between pre- and post-release suffixes.
const SUFFIX_NONE: u8 = 5;

fn suffix_value(word: &[u8]) -> Option<u8> {
    Some(match word {
        b"alpha" => 1,
        b"beta" => 2,
        b"pre" => 3,
        b"rc" => 4,
        b"cvs" => 6,
        b"svn" => 7,
        b"git" => 8,
        b"hg" => 9,
        b"p" => 10,
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    kind: Kind,
    /// Suffix value for `Kind::Suffix`, else 0.
    suffix: u8,
    /// Where the token's text sits in the version string.
    text: Range<usize>,
}

/// A parsed apk version: its tokens, as ranges into the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApkVersion {
    tokens: Vec<Token>,
}

fn span(s: &[u8], from: usize, pred: impl Fn(u8) -> bool) -> usize {
    let mut i = from;
    while s.get(i).is_some_and(|&c| pred(c)) {
        i += 1;
    }
    i
}

impl ApkVersion {
    /// Parse and validate `s` as apk-tools would.
    pub(crate) fn parse(s: &str) -> Result<Self> {
        crate::check_len(Scheme::Apk, s)?;
        let bad = |reason: &str| Error::invalid(Scheme::Apk, s, reason);
        let b = s.as_bytes();
        let mut tokens = Vec::with_capacity(8);
        let end = span(b, 0, |c| c.is_ascii_digit());
        if end == 0 {
            return Err(bad("does not start with a digit"));
        }
        tokens.push(Token {
            kind: Kind::InitialDigit,
            suffix: 0,
            text: 0..end,
        });
        let mut pos = end;
        let mut last = Kind::InitialDigit;
        while let Some(&c) = b.get(pos) {
            let token = match c {
                b'a'..=b'z' => {
                    if last > Kind::Digit {
                        return Err(bad("letter in an unexpected place"));
                    }
                    Token {
                        kind: Kind::Letter,
                        suffix: 0,
                        text: pos..pos + 1,
                    }
                }
                b'.' | b'0'..=b'9' => {
                    let start = if c == b'.' {
                        if last > Kind::Digit {
                            return Err(bad("'.' in an unexpected place"));
                        }
                        pos + 1
                    } else {
                        pos
                    };
                    let kind = match last {
                        Kind::InitialDigit | Kind::Digit => Kind::Digit,
                        Kind::Suffix => Kind::SuffixNo,
                        _ => return Err(bad("digits in an unexpected place")),
                    };
                    let end = span(b, start, |c| c.is_ascii_digit());
                    if end == start {
                        return Err(bad("'.' not followed by digits"));
                    }
                    Token {
                        kind,
                        suffix: 0,
                        text: start..end,
                    }
                }
                b'_' => {
                    if last > Kind::SuffixNo {
                        return Err(bad("suffix in an unexpected place"));
                    }
                    let end = span(b, pos + 1, |c| c.is_ascii_lowercase());
                    let word = b.get(pos + 1..end).unwrap_or_default();
                    let suffix = suffix_value(word).ok_or_else(|| bad("unknown suffix"))?;
                    Token {
                        kind: Kind::Suffix,
                        suffix,
                        text: pos + 1..end,
                    }
                }
                b'~' => {
                    if last >= Kind::CommitHash {
                        return Err(bad("'~' in an unexpected place"));
                    }
                    let end = span(b, pos + 1, |c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
                    if end == pos + 1 {
                        return Err(bad("'~' not followed by a hex commit hash"));
                    }
                    Token {
                        kind: Kind::CommitHash,
                        suffix: 0,
                        text: pos + 1..end,
                    }
                }
                b'-' => {
                    if last >= Kind::RevisionNo || b.get(pos + 1) != Some(&b'r') {
                        return Err(bad("'-' not starting a single '-rN' revision"));
                    }
                    let end = span(b, pos + 2, |c| c.is_ascii_digit());
                    if end == pos + 2 {
                        return Err(bad("'-r' not followed by digits"));
                    }
                    Token {
                        kind: Kind::RevisionNo,
                        suffix: 0,
                        text: pos + 2..end,
                    }
                }
                _ => return Err(bad("unexpected character")),
            };
            pos = token.text.end;
            last = token.kind;
            tokens.push(token);
        }
        Ok(Self { tokens })
    }

    /// Compare with `other`; `s` and `other_s` are the strings each was parsed from.
    pub(crate) fn cmp_with(&self, s: &str, other: &Self, other_s: &str) -> Ordering {
        let (a, b) = (s.as_bytes(), other_s.as_bytes());
        let mut i = 0;
        loop {
            let ta = self.tokens.get(i);
            let tb = other.tokens.get(i);
            let ka = ta.map_or(Kind::End, |t| t.kind);
            let kb = tb.map_or(Kind::End, |t| t.kind);
            match (ta, tb) {
                (Some(ta), Some(tb)) if ka == kb => {
                    let ord = token_cmp(ta, a, tb, b);
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                _ => {
                    if ka == kb {
                        return Ordering::Equal;
                    }
                    if ta.is_some_and(|t| t.kind == Kind::Suffix && t.suffix < SUFFIX_NONE) {
                        return Ordering::Less;
                    }
                    if tb.is_some_and(|t| t.kind == Kind::Suffix && t.suffix < SUFFIX_NONE) {
                        return Ordering::Greater;
                    }
                    return kb.cmp(&ka);
                }
            }
            i += 1;
        }
    }
}

fn token_cmp(ta: &Token, a: &[u8], tb: &Token, b: &[u8]) -> Ordering {
    let va = a.get(ta.text.clone()).unwrap_or_default();
    let vb = b.get(tb.text.clone()).unwrap_or_default();
    match ta.kind {
        Kind::Digit if va.first() == Some(&b'0') || vb.first() == Some(&b'0') => va.cmp(vb),
        Kind::Digit | Kind::InitialDigit | Kind::SuffixNo | Kind::RevisionNo => cmp_digits(va, vb),
        Kind::Suffix => ta.suffix.cmp(&tb.suffix),
        Kind::Letter | Kind::CommitHash | Kind::End => va.cmp(vb),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn apk_rules() {
        crate::assert_orders(
            Scheme::Apk,
            &[
                ("1.0_alpha", "1.0", Less),
                ("1.0_p1", "1.0", Greater),
                ("1.0-r1", "1.0", Greater),
                ("1.0", "1.0.1", Less),
                ("1.0a", "1.0", Greater),
                ("1.05", "1.5", Less),
                ("8.2.0015", "8.2.002", Less),
                ("1.0~abc-r1", "1.0~abd-r0", Less),
                (
                    "1.99999999999999999999999",
                    "1.99999999999999999999998",
                    Greater,
                ),
                ("1.1.1w-r1", "1.1.1w-r0", Greater),
            ],
        );
    }

    #[test]
    fn invalid_versions_are_errors() {
        for bad in [
            "", "a", "1.0bc", "1.0-r", "1.0-2", "1.0_foo", "1.0~", "1.0-r1.1", ".1", "1..2",
        ] {
            assert!(ApkVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
