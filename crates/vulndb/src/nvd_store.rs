//! NVD records in a table of their own, sized for the full feed (about 300,000 CVEs).
//!
//! NVD records carry no affected entries and are only read by CVE id, for their ratings. The
//! `nvd` table keys them by the CVE id packed into an integer ([`cve_key`]), which is the
//! table's rowid: no second index. Each row keeps the dates, the one-line summary, the CWE ids
//! (comma-separated) and the metrics in a compact text form (one per line; see
//! [`encode_metrics`]) instead of the JSON of other sources. References and the rest of the
//! record are never stored. Readers get ordinary [`Vulnerability`] values with source `nvd`.

use rusqlite::{Connection, params};

use crate::exploit::{cve_from_key, cve_key};
use crate::model::{Severity, SeverityKind, Vulnerability};

/// The source name of NVD records.
pub(crate) const SOURCE: &str = "nvd";

/// The table (created by schema migration 5). The time columns have no declared type, so
/// SQLite keeps a packed time as an integer (a TEXT column would turn it into its digits).
pub(crate) const TABLE_SQL: &str = "CREATE TABLE nvd (
        cve INTEGER PRIMARY KEY,
        published,
        modified,
        withdrawn,
        summary TEXT,
        cwes TEXT NOT NULL,
        metrics TEXT NOT NULL
    );";

/// SQL giving the CVE id (text) of the `nvd` row in scope, the inverse of the packing.
pub(crate) const ID_SQL: &str =
    "('CVE-' || (nvd.cve / 100000000) || '-' || printf('%04d', nvd.cve % 100000000))";

/// The columns [`from_row`] reads, in order.
pub(crate) const COLUMNS: &str = "cve, published, modified, withdrawn, summary, cwes, metrics";

/// The `source` NVD gives its own metrics; stored as an empty field.
const NVD_OWN: &str = "nvd@nist.gov";

/// Insert or replace `vuln` (an NVD record). `false` when its id is not a CVE id.
pub(crate) fn put(conn: &Connection, vuln: &Vulnerability) -> rusqlite::Result<bool> {
    let Some(key) = cve_key(&vuln.id) else {
        return Ok(false);
    };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO nvd (cve, published, modified, withdrawn, summary, cwes, metrics) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        key,
        time_value(vuln.published.as_deref()),
        time_value(vuln.modified.as_deref()),
        time_value(vuln.withdrawn.as_deref()),
        vuln.summary,
        vuln.cwe_ids.join(","),
        encode_metrics(&vuln.severities),
    ])?;
    Ok(true)
}

/// The record of one `nvd` row selected with [`COLUMNS`].
pub(crate) fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Vulnerability> {
    let mut vuln = Vulnerability::new(cve_from_key(row.get(0)?), SOURCE);
    vuln.published = time_of(row.get_ref(1)?);
    vuln.modified = time_of(row.get_ref(2)?);
    vuln.withdrawn = time_of(row.get_ref(3)?);
    vuln.summary = row.get(4)?;
    let cwes: String = row.get(5)?;
    vuln.cwe_ids = cwes
        .split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    let metrics: String = row.get(6)?;
    vuln.severities = decode_metrics(&metrics);
    Ok(vuln)
}

/// A timestamp as stored: NVD's own form (`2023-09-12T15:15:24.327`) as the integer of its
/// digits (`20230912151524327`, 8 bytes instead of 23), anything else as the text given.
fn time_value(time: Option<&str>) -> Option<rusqlite::types::Value> {
    use rusqlite::types::Value;
    let time = time?;
    let b = time.as_bytes();
    let shaped = b.len() == 23
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            _ => c.is_ascii_digit(),
        });
    if !shaped {
        return Some(Value::Text(time.to_owned()));
    }
    let digits: String = time.chars().filter(char::is_ascii_digit).collect();
    Some(match digits.parse::<i64>() {
        Ok(n) => Value::Integer(n),
        Err(_) => Value::Text(time.to_owned()),
    })
}

/// The inverse of [`time_value`].
fn time_of(value: rusqlite::types::ValueRef<'_>) -> Option<String> {
    use rusqlite::types::ValueRef;
    match value {
        // The time columns have no affinity, so a packed time stays an integer of 17 digits.
        ValueRef::Integer(n) if (0..100_000_000_000_000_000).contains(&n) => {
            let d = format!("{n:017}");
            Some(format!(
                "{}-{}-{}T{}:{}:{}.{}",
                &d[0..4],
                &d[4..6],
                &d[6..8],
                &d[8..10],
                &d[10..12],
                &d[12..14],
                &d[14..17]
            ))
        }
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        _ => None,
    }
}

/// The number of NVD records.
pub(crate) fn count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM nvd", [], |row| row.get(0))
}

/// Metrics as text: one line each, `source TAB kind TAB score TAB rating TAB type TAB vector`,
/// where NVD's own source is empty, the kind is `2`, `3`, `4` or `V`, and the type `P`
/// (Primary), `S` (Secondary) or as given. Tabs and line breaks inside values become spaces.
pub(crate) fn encode_metrics(severities: &[Severity]) -> String {
    let mut out = String::new();
    for severity in severities {
        if !out.is_empty() {
            out.push('\n');
        }
        let source = match severity.source.as_str() {
            NVD_OWN => "",
            other => other,
        };
        let kind = match severity.kind {
            SeverityKind::CvssV2 => "2",
            SeverityKind::CvssV3 => "3",
            SeverityKind::CvssV4 => "4",
            SeverityKind::Vendor => "V",
        };
        let score = severity.score.map(|s| s.to_string()).unwrap_or_default();
        let metric_type = match severity.metric_type.as_deref() {
            Some("Primary") => "P",
            Some("Secondary") => "S",
            Some(other) => other,
            None => "",
        };
        let fields = [
            source,
            kind,
            &score,
            severity.rating.as_deref().unwrap_or(""),
            metric_type,
            severity.vector.as_deref().unwrap_or(""),
        ];
        for (i, field) in fields.into_iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            out.extend(field.chars().map(|c| match c {
                '\t' | '\n' | '\r' => ' ',
                c => c,
            }));
        }
    }
    out
}

/// The inverse of [`encode_metrics`]; a line that does not have six fields is skipped.
pub(crate) fn decode_metrics(text: &str) -> Vec<Severity> {
    let mut out = Vec::new();
    for line in text.split('\n').filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [source, kind, score, rating, metric_type, vector] = fields[..] else {
            continue;
        };
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        out.push(Severity {
            source: match source {
                "" => NVD_OWN.to_owned(),
                other => other.to_owned(),
            },
            kind: match kind {
                "2" => SeverityKind::CvssV2,
                "4" => SeverityKind::CvssV4,
                "V" => SeverityKind::Vendor,
                _ => SeverityKind::CvssV3,
            },
            vector: some(vector),
            score: score.parse::<f64>().ok().filter(|s| s.is_finite()),
            rating: some(rating),
            metric_type: match metric_type {
                "P" => Some("Primary".to_owned()),
                "S" => Some("Secondary".to_owned()),
                other => some(other),
            },
        });
    }
    out
}

/// The packed keys of the CVE ids among `ids`.
pub(crate) fn keys_of<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<i64> {
    ids.into_iter().filter_map(cve_key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_round_trip() {
        let mut own =
            Severity::scored(NVD_OWN, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8);
        own.rating = Some("CRITICAL".into());
        own.metric_type = Some("Primary".into());
        let mut cna = Severity::scored("cna@example.org", "CVSS:4.0/AV:N/AC:L/AT:N", 8.7);
        cna.metric_type = Some("Secondary".into());
        let mut v2 = Severity::from_vector(NVD_OWN, "AV:N/AC:L/Au:N/C:P/I:P/A:P");
        v2.rating = Some("HIGH".into());
        v2.metric_type = Some("Odd\ttype".into());
        let unscored = Severity {
            score: None,
            ..Severity::vendor("x", "moderate")
        };
        let encoded = encode_metrics(&[own.clone(), cna.clone(), v2.clone(), unscored.clone()]);
        assert_eq!(
            encoded.lines().next(),
            Some("\t3\t9.8\tCRITICAL\tP\tCVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
        );
        v2.metric_type = Some("Odd type".into());
        assert_eq!(decode_metrics(&encoded), [own, cna, v2, unscored]);
        assert_eq!(decode_metrics(""), []);
        assert_eq!(decode_metrics("only\ttwo"), []);
    }

    #[test]
    fn times_round_trip_packed_or_as_text() {
        use rusqlite::types::{Value, ValueRef};
        let back = |t: &str| match time_value(Some(t)).unwrap() {
            Value::Integer(n) => (true, time_of(ValueRef::Integer(n)).unwrap()),
            Value::Text(s) => (false, time_of(ValueRef::Text(s.as_bytes())).unwrap()),
            _ => unreachable!(),
        };
        assert_eq!(
            back("2023-09-12T15:15:24.327"),
            (true, "2023-09-12T15:15:24.327".into())
        );
        assert_eq!(
            back("0001-01-01T00:00:00.000"),
            (true, "0001-01-01T00:00:00.000".into())
        );
        assert_eq!(
            back("2023-09-12T15:15:24Z"),
            (false, "2023-09-12T15:15:24Z".into())
        );
        assert_eq!(
            back("2023-09-12T15:15:24.32x"),
            (false, "2023-09-12T15:15:24.32x".into())
        );
        assert_eq!(time_value(None), None);
    }

    #[test]
    fn a_record_round_trips_with_its_times_stored_as_integers() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(TABLE_SQL).unwrap();
        let mut vuln = Vulnerability::new("CVE-2023-4863", SOURCE);
        vuln.published = Some("2023-09-12T15:15:24.327".into());
        vuln.modified = Some("2024-01-01T00:00:00Z".into());
        vuln.summary = Some("Heap buffer overflow in libwebp.".into());
        vuln.cwe_ids = vec!["CWE-787".into()];
        let mut metric =
            Severity::scored(NVD_OWN, "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8);
        metric.rating = Some("HIGH".into());
        vuln.severities = vec![metric];
        assert!(put(&conn, &vuln).unwrap());
        let types: (String, String) = conn
            .query_row(
                "SELECT typeof(published), typeof(modified) FROM nvd",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(types, ("integer".to_owned(), "text".to_owned()));
        let back = conn
            .query_row(&format!("SELECT {COLUMNS} FROM nvd"), [], from_row)
            .unwrap();
        assert_eq!(back, vuln);
        assert!(!put(&conn, &Vulnerability::new("GHSA-1", SOURCE)).unwrap());
    }

    #[test]
    fn the_id_sql_inverts_the_packing() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(TABLE_SQL).unwrap();
        for id in ["CVE-2023-4863", "CVE-1999-0001", "CVE-2024-12345678"] {
            conn.execute(
                "INSERT INTO nvd (cve, cwes, metrics) VALUES (?1, '', '')",
                [cve_key(id).unwrap()],
            )
            .unwrap();
            let back: String = conn
                .query_row(
                    &format!("SELECT {ID_SQL} FROM nvd WHERE cve = ?1"),
                    [cve_key(id).unwrap()],
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(back, id);
        }
    }
}
