//! CVSS v2 base scores (the `cvss` crate scores v3 and v4 only).

/// The CVSS v2 base score of `vector` (`AV:N/AC:L/Au:N/C:P/I:P/A:P`, optionally in
/// parentheses or with a `CVSS:2.0/` prefix); `None` if a base metric is missing or invalid.
pub fn base_score(vector: &str) -> Option<f64> {
    let vector = vector.trim().trim_start_matches('(').trim_end_matches(')');
    let vector = vector.strip_prefix("CVSS:2.0/").unwrap_or(vector);
    let (mut av, mut ac, mut au, mut c, mut i, mut a) = (None, None, None, None, None, None);
    for part in vector.split('/') {
        let (name, value) = part.split_once(':')?;
        let impact = |v: &str| match v {
            "N" => Some(0.0),
            "P" => Some(0.275),
            "C" => Some(0.660),
            _ => None,
        };
        match name {
            "AV" => {
                av = match value {
                    "L" => Some(0.395),
                    "A" => Some(0.646),
                    "N" => Some(1.0),
                    _ => return None,
                }
            }
            "AC" => {
                ac = match value {
                    "H" => Some(0.35),
                    "M" => Some(0.61),
                    "L" => Some(0.71),
                    _ => return None,
                }
            }
            "Au" => {
                au = match value {
                    "M" => Some(0.45),
                    "S" => Some(0.56),
                    "N" => Some(0.704),
                    _ => return None,
                }
            }
            "C" => c = Some(impact(value)?),
            "I" => i = Some(impact(value)?),
            "A" => a = Some(impact(value)?),
            // Temporal and environmental metrics do not change the base score.
            _ => {}
        }
    }
    let (av, ac, au, c, i, a) = (av?, ac?, au?, c?, i?, a?);
    let impact = 10.41 * (1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a));
    let exploitability = 20.0 * av * ac * au;
    let f = if impact == 0.0 { 0.0 } else { 1.176 };
    let score: f64 = ((0.6 * impact) + (0.4 * exploitability) - 1.5) * f;
    Some((score * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_scores() {
        assert_eq!(base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P"), Some(7.5));
        assert_eq!(base_score("AV:N/AC:L/Au:N/C:C/I:C/A:C"), Some(10.0));
        assert_eq!(base_score("AV:L/AC:L/Au:N/C:N/I:N/A:P"), Some(2.1));
        assert_eq!(base_score("AV:N/AC:M/Au:N/C:N/I:P/A:N"), Some(4.3));
        assert_eq!(base_score("AV:N/AC:L/Au:N/C:N/I:N/A:N"), Some(0.0));
        assert_eq!(base_score("AV:N/AC:L"), None);
        assert_eq!(base_score("AV:X/AC:L/Au:N/C:N/I:N/A:N"), None);
    }
}
