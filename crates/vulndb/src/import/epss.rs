//! FIRST's EPSS scores (`epss_scores-YYYY-MM-DD.csv.gz`, `epss_scores-current.csv.gz`):
//! `#` comment lines (FIRST's first one is `#model_version:...,score_date:...`), the header
//! `cve,epss,percentile`, then one `CVE-…,score,percentile` line per CVE. A full snapshot:
//! it replaces the `epss` table.
//!
//! The score date comes from the comment's `score_date:` (its first ten characters), else
//! from a `YYYY-MM-DD` in the file name. A line that is not three fields, a malformed CVE
//! id, a score or percentile that is not a number in [0, 1] (NaN, negative, 1.5) and a
//! repeated CVE id are problems naming the file and the line.

use std::collections::HashMap;
use std::path::Path;

use super::{Parsed, Problem};
use crate::error::{Error, ErrorKind, Result};
use crate::exploit::{cve_key, to_billionths};

const HEADER: &str = "cve,epss,percentile";

/// The parsed scores of one file.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct EpssData {
    /// (packed CVE key, score, percentile in billionths), unique keys, in file order.
    pub scores: Vec<(i64, i64, i64)>,
    /// The score date (`YYYY-MM-DD`), when known.
    pub date: Option<String>,
}

/// True when `text` (the start of a decompressed file) is an EPSS CSV: optional `#` lines,
/// then the header.
pub(crate) fn looks_like_epss(text: &[u8]) -> bool {
    let head = &text[..text.len().min(4096)];
    let head = String::from_utf8_lossy(head);
    head.lines()
        .map(str::trim)
        .find(|line| !line.starts_with('#') && !line.is_empty())
        .is_some_and(|line| line.eq_ignore_ascii_case(HEADER))
}

fn date_in(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(9)).find_map(|start| {
        let candidate = text.get(start..start + 10)?;
        super::kev::is_date(candidate).then(|| candidate.to_owned())
    })
}

pub(crate) fn parse(label: &str, path: &Path, bytes: &[u8]) -> Result<Parsed> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: EPSS CSV is not UTF-8: {e}"),
        )
    })?;
    let mut data = EpssData::default();
    let mut parsed = Parsed::default();
    let mut header_seen = false;
    let mut seen: HashMap<i64, usize> = HashMap::new();
    let problem = |line: usize, message: String| Problem {
        file: label.to_owned(),
        record: None,
        message: format!("line {line}: {message}"),
    };
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if data.date.is_none()
                && let Some((_, rest)) = comment.split_once("score_date:")
            {
                data.date = rest
                    .get(..10)
                    .filter(|d| super::kev::is_date(d))
                    .map(str::to_owned);
            }
            continue;
        }
        if !header_seen {
            if !line.eq_ignore_ascii_case(HEADER) {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("{label}: line {number}: expected the header {HEADER:?}"),
                ));
            }
            header_seen = true;
            seen.reserve(text.len() / 40);
            data.scores.reserve(text.len() / 40);
            continue;
        }
        let mut fields = line.split(',');
        let (Some(cve), Some(score), Some(percentile), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            parsed.problems.push(problem(
                number,
                format!(
                    "expected 3 fields (cve,epss,percentile), found {}",
                    line.split(',').count()
                ),
            ));
            continue;
        };
        let cve = cve.trim();
        let Some(key) = cve_key(cve) else {
            let shown: String = cve.chars().take(64).collect();
            parsed
                .problems
                .push(problem(number, format!("{shown:?} is not a CVE id")));
            continue;
        };
        let value = |name: &str, text: &str| -> std::result::Result<i64, String> {
            let shown: String = text.trim().chars().take(32).collect();
            text.trim()
                .parse::<f64>()
                .ok()
                .and_then(to_billionths)
                .ok_or_else(|| format!("{cve}: {name} {shown:?} is not a number between 0 and 1"))
        };
        let (score, percentile) = match (value("epss", score), value("percentile", percentile)) {
            (Ok(s), Ok(p)) => (s, p),
            (Err(message), _) | (_, Err(message)) => {
                parsed.problems.push(problem(number, message));
                continue;
            }
        };
        if let Some(first) = seen.insert(key, number) {
            seen.insert(key, first);
            parsed.problems.push(problem(
                number,
                format!("{cve}: duplicate CVE id (also on line {first})"),
            ));
            continue;
        }
        data.scores.push((key, score, percentile));
    }
    if !header_seen {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: no {HEADER:?} header"),
        ));
    }
    if data.date.is_none() {
        data.date = path
            .file_name()
            .and_then(|name| date_in(&name.to_string_lossy()));
    }
    parsed.epss = Some(data);
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<Parsed> {
        parse(
            "epss.csv",
            Path::new("/x/epss_scores-2026-08-16.csv.gz"),
            text.as_bytes(),
        )
    }

    #[test]
    fn reads_scores_and_date() {
        let parsed = run(
            "#model_version:v2025.03.14,score_date:2025-08-20T12:55:00Z\ncve,epss,percentile\n\
             CVE-2023-4863,0.935460000,0.998200000\nCVE-1999-0001,0.01,0.5\n",
        )
        .unwrap();
        assert!(parsed.problems.is_empty());
        let data = parsed.epss.unwrap();
        assert_eq!(data.date.as_deref(), Some("2025-08-20"));
        assert_eq!(
            data.scores,
            vec![
                (202_300_004_863, 935_460_000, 998_200_000),
                (199_900_000_001, 10_000_000, 500_000_000)
            ]
        );
        // Without score_date, the file name's date.
        let data = run("cve,epss,percentile\n").unwrap().epss.unwrap();
        assert_eq!(data.date.as_deref(), Some("2026-08-16"));
        assert!(data.scores.is_empty());
    }

    #[test]
    fn bad_lines_are_problems_naming_the_line() {
        let parsed = run(
            "cve,epss,percentile\nCVE-2023-4863,0.9,0.99\nCVE-2023-1,0.1,0.1\n\
             CVE-2023-0002,1.5,0.1\nCVE-2023-0003,NaN,0.1\nCVE-2023-0004,0.1,-0.2\n\
             CVE-2023-0005,0.1\nCVE-2023-4863,0.1,0.2\nCVE-2023-0006,0.1,0.2,x\n",
        )
        .unwrap();
        let problems: Vec<String> = parsed.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "epss.csv: line 3: \"CVE-2023-1\" is not a CVE id",
                "epss.csv: line 4: CVE-2023-0002: epss \"1.5\" is not a number between 0 and 1",
                "epss.csv: line 5: CVE-2023-0003: epss \"NaN\" is not a number between 0 and 1",
                "epss.csv: line 6: CVE-2023-0004: percentile \"-0.2\" is not a number between 0 and 1",
                "epss.csv: line 7: expected 3 fields (cve,epss,percentile), found 2",
                "epss.csv: line 8: CVE-2023-4863: duplicate CVE id (also on line 2)",
                "epss.csv: line 9: expected 3 fields (cve,epss,percentile), found 4",
            ]
        );
        assert_eq!(parsed.epss.unwrap().scores.len(), 1);
    }

    #[test]
    fn a_file_without_the_header_is_rejected() {
        let err = run("#c\nCVE-2023-4863,0.9,0.99\n").err().unwrap();
        assert_eq!(
            err.to_string(),
            "epss.csv: line 2: expected the header \"cve,epss,percentile\""
        );
        assert!(looks_like_epss(b"#x\n\ncve,epss,percentile\n"));
        assert!(!looks_like_epss(b"#x\ncve;epss;percentile\n"));
    }
}
