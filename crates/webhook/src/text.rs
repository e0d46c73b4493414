//! Bounding text that ends up in responses and audit objects.

/// The marker appended where text was cut.
const ELLIPSIS: char = '…';

/// `text` cut to at most `max_chars` characters, ending in `…` when it was cut.
pub(crate) fn truncate_chars(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    out.push(ELLIPSIS);
    out
}

/// `text` cut to at most `max_bytes` bytes (on a character boundary), ending in `…` when it
/// was cut.
pub(crate) fn truncate_bytes(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let budget = max_bytes.saturating_sub(ELLIPSIS.len_utf8());
    let mut end = budget.min(text.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = text.get(..end).unwrap_or_default().to_string();
    if out.len() + ELLIPSIS.len_utf8() <= max_bytes {
        out.push(ELLIPSIS);
    }
    out
}

/// The last non-empty line of `text`, trimmed (regex errors end with the useful one).
pub(crate) fn last_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cuts_with_a_marker() {
        assert_eq!(truncate_chars("abcdef", 4), "abc…");
        assert_eq!(truncate_chars("abcd", 4), "abcd");
        assert_eq!(truncate_bytes("abcdef", 6), "abcdef");
        assert_eq!(truncate_bytes("abcdefgh", 6), "abc…");
        assert_eq!(truncate_bytes("ééé", 5), "é…");
        assert_eq!(truncate_bytes("ééé", 4), "…");
        assert_eq!(
            last_line("regex parse error:\n    (\n    ^\nerror: unclosed group\n"),
            "error: unclosed group"
        );
    }

    proptest! {
        #[test]
        fn never_exceeds_the_bound(text in ".{0,64}", max in 0usize..40) {
            prop_assert!(truncate_bytes(&text, max).len() <= max);
            prop_assert!(truncate_chars(&text, max.max(1)).chars().count() <= max.max(1));
        }
    }
}
