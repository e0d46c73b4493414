//! Recognising SPDX licence identifiers and expressions in licences as packages record them.
//!
//! Packages record licences in many ways (`MIT`, `MIT AND BSD-2-Clause`, `GPLv2+ and
//! LGPLv2+`, `BSD`). [`classify`] decides which are valid SPDX: a known licence identifier,
//! a valid expression (SPDX 2.3 Annex D; operators in upper case), or neither. The `spdx`
//! crate supplies the SPDX License List (licences and exceptions apart, so an exception is
//! only accepted after `WITH` and a licence never is) and parses the expression.
//! Identifiers are matched case-insensitively and written in their canonical case.

use spdx::identifiers::{EXCEPTIONS, LICENSES};
use spdx::lexer::{Lexer, Token};
use spdx::{Expression, ParseMode};

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

/// Classify one recorded licence string. `None` for an empty string.
pub fn classify(raw: &str) -> Option<License> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    Some(match normalise(raw) {
        Some(text) if license_name(&text).is_some() => License::Id(text),
        Some(text) => License::Expression(text),
        None => License::Name(raw.to_string()),
    })
}

/// Longest expression we try to parse; longer strings are kept as names.
const MAX_EXPRESSION: usize = 4096;
/// Deepest parenthesis nesting we accept.
const MAX_DEPTH: usize = 32;

/// SPDX 2.3 as written: deprecated identifiers (`GPL-2.0`, `LGPL-2.1+`) are still
/// identifiers, `+` is allowed after a GNU licence, and nothing outside the list is.
const MODE: ParseMode = ParseMode {
    allow_deprecated: true,
    allow_postfix_plus_on_gpl: true,
    ..ParseMode::STRICT
};

/// `raw` with identifiers in canonical case and single spaces between terms, when it is a
/// valid SPDX expression; `None` otherwise.
fn normalise(raw: &str) -> Option<String> {
    if raw.len() > MAX_EXPRESSION {
        return None;
    }
    // Lex with unknown words allowed, to find identifiers written in another case.
    let lexer = Lexer::new_mode(
        raw,
        ParseMode {
            allow_unknown: true,
            ..MODE
        },
    );
    let mut out = String::with_capacity(raw.len());
    let mut depth = 0usize;
    let mut after_open = true;
    for token in lexer {
        let token = token.ok()?;
        let text = raw.get(token.span.clone())?;
        let term = match token.token {
            Token::Spdx(id) => id.name,
            Token::Exception(exception) => exception.name,
            Token::Unknown(word) => license_name(word).or_else(|| exception_name(word))?,
            // Lower-case operators are taken for prose (`MIT and Zlib`).
            Token::And | Token::Or | Token::With
                if text.bytes().any(|b| b.is_ascii_lowercase()) =>
            {
                return None;
            }
            Token::And | Token::Or | Token::With => text,
            Token::LicenseRef { doc_ref, lic_ref }
                if !lic_ref.is_empty() && doc_ref.is_none_or(|d| !d.is_empty()) =>
            {
                text
            }
            // Empty references, and SPDX 3 `AdditionRef-` (not in SPDX 2.3).
            Token::LicenseRef { .. } | Token::AdditionRef { .. } => return None,
            Token::Plus => {
                out.push('+');
                continue;
            }
            Token::OpenParen => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return None;
                }
                "("
            }
            Token::CloseParen => {
                depth = depth.checked_sub(1)?;
                out.push(')');
                continue;
            }
        };
        if !after_open {
            out.push(' ');
        }
        out.push_str(term);
        after_open = term == "(";
    }
    // The crate's parser checks the grammar and where licences and exceptions may stand.
    Expression::parse_mode(&out, MODE).ok()?;
    Some(out)
}

/// The canonical form of a licence identifier, matched ignoring case.
fn license_name(id: &str) -> Option<&'static str> {
    LICENSES
        .iter()
        .find(|license| license.name.eq_ignore_ascii_case(id))
        .map(|license| license.name)
}

/// The canonical form of an exception identifier, matched ignoring case.
fn exception_name(id: &str) -> Option<&'static str> {
    EXCEPTIONS
        .iter()
        .find(|exception| exception.name.eq_ignore_ascii_case(id))
        .map(|exception| exception.name)
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
    fn licences_and_exceptions_stand_apart() {
        assert_eq!(
            classify("MIT WITH Classpath-exception-2.0"),
            expr("MIT WITH Classpath-exception-2.0")
        );
        assert_eq!(
            classify("gpl-2.0-or-later with classpath-exception-2.0"),
            name("gpl-2.0-or-later with classpath-exception-2.0")
        );
        assert_eq!(
            classify("gpl-2.0-or-later WITH classpath-exception-2.0"),
            expr("GPL-2.0-or-later WITH Classpath-exception-2.0")
        );
        for bad in [
            "Classpath-exception-2.0",
            "classpath-exception-2.0",
            "GPL-2.0-only WITH MIT",
            "MIT OR Classpath-exception-2.0",
            "MIT WITH Classpath-exception-2.0 WITH LLVM-exception",
            "MIT WITH AdditionRef-x",
            "MIT WITH LicenseRef-x",
            "DocumentRef-:LicenseRef-x",
        ] {
            assert_eq!(classify(bad), name(bad), "{bad}");
        }
    }

    #[test]
    fn deprecated_and_plus_forms() {
        assert_eq!(classify("GPL-2.0"), id("GPL-2.0"));
        assert_eq!(classify("gpl-2.0+"), id("GPL-2.0+"));
        assert_eq!(classify("GPL-2.0-only+"), expr("GPL-2.0-only+"));
        assert_eq!(classify("MIT +"), name("MIT +"));
    }

    #[test]
    fn hostile_input_is_a_name() {
        for text in [
            "é",
            "MIT é",
            "MIT AND é",
            "(((",
            ")))",
            "+",
            "MIT++",
            "WITH WITH",
            "MIT WITH (Classpath-exception-2.0)",
            "(MIT) WITH Classpath-exception-2.0",
            "MIT AND (BSD-2-Clause OR Zlib) WITH Classpath-exception-2.0",
            "LicenseRef-a:LicenseRef-b",
            "DocumentRef-a:",
            "MIT\u{0}",
            "MIT/Apache-2.0",
        ] {
            assert_eq!(classify(text), name(text), "{text}");
        }
        let long = "MIT OR ".repeat(1000) + "MIT";
        assert_eq!(classify(&long), name(&long));
    }
}
