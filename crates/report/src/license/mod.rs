//! Recognising SPDX licence identifiers and expressions in licences as packages record them.
//!
//! Packages record licences in many ways (`MIT`, `MIT AND BSD-2-Clause`, `GPLv2+ and
//! LGPLv2+`, `BSD`). [`classify`] decides which are valid SPDX: a known identifier, a valid
//! expression over known identifiers (SPDX 2.3 Annex D; operators in upper case), or neither.
//! Identifiers are matched case-insensitively and written in their canonical case.
//!
//! Known limit: licence and exception identifiers come from one list, so an exception
//! identifier is accepted where a licence is expected (and the other way round).

mod spdx_ids;

use std::cmp::Ordering;

/// What a recorded licence string is, in SPDX terms.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum License {
    /// A single SPDX licence identifier, canonical case (`MIT`, `GPL-2.0-or-later`).
    Id(String),
    /// A valid SPDX licence expression, normalised (`MIT AND (BSD-2-Clause OR Zlib)`).
    Expression(String),
    /// Anything else, trimmed, as recorded.
    Name(String),
}

/// The canonical form of an SPDX licence or exception identifier, matched ignoring case.
pub fn canonical_id(id: &str) -> Option<&'static str> {
    spdx_ids::IDS
        .binary_search_by(|known| cmp_ignore_case(known, id))
        .ok()
        .and_then(|i| spdx_ids::IDS.get(i).copied())
}

fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// Classify one recorded licence string. `None` for an empty string.
pub fn classify(raw: &str) -> Option<License> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if let Some(id) = canonical_id(raw) {
        return Some(License::Id(id.to_string()));
    }
    match parse_expression(raw) {
        Some(Expr::Simple(id)) if canonical_id(&id).is_some() => Some(License::Id(id)),
        Some(expr) => Some(License::Expression(expr.to_string())),
        None => Some(License::Name(raw.to_string())),
    }
}

/// Longest expression we try to parse; longer strings are kept as names.
const MAX_EXPRESSION: usize = 4096;
/// Deepest parenthesis nesting we follow.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    /// A licence id (maybe with `+`) or a `LicenseRef-`/`DocumentRef-` reference.
    Simple(String),
    /// `licence WITH exception`.
    With(String, String),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Paren(Box<Expr>),
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Simple(id) => f.write_str(id),
            Self::With(id, exception) => write!(f, "{id} WITH {exception}"),
            Self::And(a, b) => write!(f, "{a} AND {b}"),
            Self::Or(a, b) => write!(f, "{a} OR {b}"),
            Self::Paren(inner) => write!(f, "({inner})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Open,
    Close,
    Word(&'a str),
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if c == '(' || c == ')' || c.is_whitespace() {
            if let Some(s) = start.take() {
                tokens.extend(text.get(s..i).map(Token::Word));
            }
            match c {
                '(' => tokens.push(Token::Open),
                ')' => tokens.push(Token::Close),
                _ => {}
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        tokens.extend(text.get(s..).map(Token::Word));
    }
    tokens
}

fn parse_expression(text: &str) -> Option<Expr> {
    if text.len() > MAX_EXPRESSION {
        return None;
    }
    let tokens = tokenize(text);
    let mut parser = Parser { tokens, pos: 0 };
    let expr = parser.or(0)?;
    (parser.pos == parser.tokens.len()).then_some(expr)
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
}

impl Parser<'_> {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Word(w)) if *w == word)
    }

    fn or(&mut self, depth: usize) -> Option<Expr> {
        let mut left = self.and(depth)?;
        while self.peek_word("OR") {
            self.pos += 1;
            let right = self.and(depth)?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Some(left)
    }

    fn and(&mut self, depth: usize) -> Option<Expr> {
        let mut left = self.with(depth)?;
        while self.peek_word("AND") {
            self.pos += 1;
            let right = self.with(depth)?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Some(left)
    }

    fn with(&mut self, depth: usize) -> Option<Expr> {
        match self.tokens.get(self.pos)? {
            Token::Open => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                let inner = self.or(depth + 1)?;
                if self.tokens.get(self.pos) != Some(&Token::Close) {
                    return None;
                }
                self.pos += 1;
                Some(Expr::Paren(Box::new(inner)))
            }
            Token::Close => None,
            Token::Word(word) => {
                let id = simple(word)?;
                self.pos += 1;
                if self.peek_word("WITH") {
                    self.pos += 1;
                    let Some(Token::Word(exception)) = self.tokens.get(self.pos) else {
                        return None;
                    };
                    let exception = canonical_id(exception)?;
                    self.pos += 1;
                    return Some(Expr::With(id, exception.to_string()));
                }
                Some(Expr::Simple(id))
            }
        }
    }
}

/// A simple expression: a known id (optionally `+`), `LicenseRef-x` or
/// `DocumentRef-x:LicenseRef-y`.
fn simple(word: &str) -> Option<String> {
    if matches!(word, "AND" | "OR" | "WITH") {
        return None;
    }
    if let Some(id) = canonical_id(word) {
        return Some(id.to_string());
    }
    if let Some(base) = word.strip_suffix('+') {
        return canonical_id(base).map(|id| format!("{id}+"));
    }
    let reference = match word.split_once(':') {
        Some((document, license)) => {
            is_ref(document, "DocumentRef-").then_some(())?;
            license
        }
        None => word,
    };
    is_ref(reference, "LicenseRef-").then(|| word.to_string())
}

fn is_ref(word: &str, prefix: &str) -> bool {
    word.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Option<License> {
        Some(License::Id(s.into()))
    }
    fn expr(s: &str) -> Option<License> {
        Some(License::Expression(s.into()))
    }
    fn name(s: &str) -> Option<License> {
        Some(License::Name(s.into()))
    }

    #[test]
    fn classifies() {
        assert_eq!(classify("MIT"), id("MIT"));
        assert_eq!(classify(" mit "), id("MIT"));
        assert_eq!(classify("(MIT)"), expr("(MIT)"));
        assert_eq!(classify("Apache-2.0"), id("Apache-2.0"));
        assert_eq!(
            classify("MIT AND BSD-2-Clause AND GPL-2.0-or-later"),
            expr("MIT AND BSD-2-Clause AND GPL-2.0-or-later")
        );
        assert_eq!(
            classify("(mit OR apache-2.0) AND  zlib"),
            expr("(MIT OR Apache-2.0) AND Zlib")
        );
        assert_eq!(
            classify("GPL-2.0-only WITH Classpath-exception-2.0"),
            expr("GPL-2.0-only WITH Classpath-exception-2.0")
        );
        assert_eq!(classify("LGPL-2.1+"), id("LGPL-2.1+"));
        assert_eq!(classify("apache-1.1+"), expr("Apache-1.1+"));
        assert_eq!(classify("LicenseRef-foo.1"), expr("LicenseRef-foo.1"));
        assert_eq!(
            classify("DocumentRef-x:LicenseRef-y OR MIT"),
            expr("DocumentRef-x:LicenseRef-y OR MIT")
        );
        assert_eq!(classify(""), None);
        for bad in [
            "GPLv2+ and LGPLv2+",
            "BSD",
            "MIT BSD-2-Clause",
            "MIT and Zlib",
            "MIT AND",
            "(MIT",
            "MIT)",
            "MIT WITH",
            "WITH MIT",
            "LicenseRef-",
            "LicenseRef-a_b",
            "Public Domain",
        ] {
            assert_eq!(classify(bad), name(bad), "{bad}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}MIT{}", "(".repeat(2000), ")".repeat(2000));
        assert_eq!(classify(&deep), Some(License::Name(deep.clone())));
    }

    #[test]
    fn id_list_is_sorted_for_binary_search() {
        assert!(
            spdx_ids::IDS
                .windows(2)
                .all(|w| cmp_ignore_case(w[0], w[1]) == Ordering::Less)
        );
    }
}
