//! Comparing runs of ASCII digits of any length without converting them to integers.

use std::cmp::Ordering;

/// `s` without its leading `'0'`s (an all-zero run becomes empty).
pub(crate) fn strip_zeros(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b'0').unwrap_or(s.len());
    s.get(start..).unwrap_or_default()
}

/// Compare two runs of ASCII digits by numeric value, whatever their length.
pub(crate) fn cmp_digits(a: &[u8], b: &[u8]) -> Ordering {
    let (a, b) = (strip_zeros(a), strip_zeros(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Whether `s` is non-empty and all ASCII digits.
pub(crate) fn all_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// Whether `s` is a digit run with a superfluous leading zero (`"01"`, but not `"0"`).
pub(crate) fn has_leading_zero(s: &[u8]) -> bool {
    s.len() > 1 && s.first() == Some(&b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_runs_compare_by_value() {
        assert_eq!(cmp_digits(b"0010", b"9"), Ordering::Greater);
        assert_eq!(cmp_digits(b"000", b""), Ordering::Equal);
        assert_eq!(
            cmp_digits(
                b"123456789012345678901234567890",
                b"123456789012345678901234567891"
            ),
            Ordering::Less
        );
    }
}
