//! NVD API 2.0 JSON: single CVE records (`nvd/CVE-*.json`, the layout of NVD's JSON 2.0
//! feed mirrors) or API responses/feeds wrapping many in `vulnerabilities[].cve`.
//!
//! Used for severity enrichment: records go to the `nvd` source (upserted by CVE id) with
//! their CVSS metrics and no affected entries; a consumer finds them by canonical id.
//! `Rejected` CVEs are marked withdrawn.
//!
//! Only what matching, policies and reports use is kept: the CVSS v4.0, v3.1, v3.0 and v2
//! metrics (vector, score, rating, who gave it and whether NVD's own or the CNA's), CWE ids,
//! the published and modified dates and the description's first line. References,
//! configurations and the rest of the record are skipped while parsing, never stored.
//!
//! A feed is read as it is decompressed, an item at a time ([`JsonWindow`]): each item of the
//! `vulnerabilities` array is framed, then read into borrowed, typed fields, so a malformed
//! item becomes a [`Problem`] naming it while its neighbours are kept, and a yearly feed of
//! hundreds of megabytes is never held whole. Records are handed on [`BATCH`] at a time.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io::Read;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, Visitor};

use super::json_stream::JsonWindow;
use super::{Batch, Parsed, Problem};
use crate::error::Result;
use crate::model::{Record, Severity, SeverityKind, Vulnerability};
use crate::store::SourceMode;

use crate::nvd_store::SOURCE;

/// One item of `vulnerabilities`.
#[derive(Deserialize)]
struct Item<'a> {
    #[serde(borrow)]
    cve: Cve<'a>,
}

/// Only the `id` of a record, to name it when the rest is malformed.
#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ItemId<'a> {
    #[serde(borrow, default)]
    cve: Option<IdOnly<'a>>,
}

#[derive(Deserialize)]
struct Cve<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    published: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "lastModified")]
    last_modified: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "vulnStatus")]
    vuln_status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    descriptions: Vec<Description<'a>>,
    #[serde(borrow, default)]
    metrics: Option<Metrics<'a>>,
    #[serde(borrow, default)]
    weaknesses: Vec<Weakness<'a>>,
}

#[derive(Deserialize)]
struct Weakness<'a> {
    #[serde(borrow, default)]
    description: Vec<Description<'a>>,
}

#[derive(Deserialize)]
struct Description<'a> {
    #[serde(borrow, default)]
    lang: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

/// The metric lists NVD publishes, newest CVSS version first.
#[derive(Deserialize)]
struct Metrics<'a> {
    #[serde(borrow, default, rename = "cvssMetricV40")]
    v40: Vec<Metric<'a>>,
    #[serde(borrow, default, rename = "cvssMetricV31")]
    v31: Vec<Metric<'a>>,
    #[serde(borrow, default, rename = "cvssMetricV30")]
    v30: Vec<Metric<'a>>,
    #[serde(borrow, default, rename = "cvssMetricV2")]
    v2: Vec<Metric<'a>>,
}

#[derive(Deserialize)]
struct Metric<'a> {
    #[serde(borrow, default)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "type")]
    metric_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "cvssData")]
    data: Option<CvssData<'a>>,
    /// CVSS v2 gives the rating beside `cvssData`.
    #[serde(borrow, default, rename = "baseSeverity")]
    base_severity: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct CvssData<'a> {
    #[serde(borrow, default, rename = "vectorString")]
    vector: Option<Cow<'a, str>>,
    #[serde(default, rename = "baseScore", deserialize_with = "lenient_score")]
    base_score: Option<f64>,
    #[serde(borrow, default, rename = "baseSeverity")]
    base_severity: Option<Cow<'a, str>>,
}

/// A score given as a number from 0 to 10; anything else (a string, 11.0, a negative number,
/// an object) reads as no score, so the score computed from the vector is used instead.
fn lenient_score<'de, D: de::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<f64>, D::Error> {
    struct Score;
    impl<'de> Visitor<'de> for Score {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a CVSS base score")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
            Ok((v.is_finite() && (0.0..=10.0).contains(&v)).then_some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
            Ok((v <= 10).then_some(v as f64))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
            Ok((0..=10).contains(&v).then_some(v as f64))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    deserializer.deserialize_any(Score)
}

/// Records handed on at a time.
const BATCH: usize = 1000;

/// Parse NVD JSON 2.0 whole: one CVE record, or a feed or API response with many.
pub(crate) fn parse(label: &str, bytes: &[u8]) -> Result<Parsed> {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    parse_each(label, bytes, &mut |mut part| {
        problems.append(&mut part.problems);
        records.extend(part.batches.into_iter().flat_map(|b| b.records));
        Ok(())
    })?;
    let mut parsed = Parsed {
        problems,
        ..Parsed::default()
    };
    parsed.batches.push(batch(records));
    Ok(parsed)
}

/// Parse NVD JSON 2.0 from `reader` (already decompressed), handing its records and problems
/// to `each` as they come, [`BATCH`] records at a time. A feed is held one item at a time; a
/// document without `vulnerabilities` (one CVE record) is read whole.
pub(crate) fn parse_each(
    label: &str,
    reader: impl Read,
    each: &mut dyn FnMut(Parsed) -> Result<()>,
) -> Result<()> {
    let mut window = JsonWindow::new(reader, label, "NVD JSON");
    let mut feed = Feed::new(label, each);
    let mut items_seen = false;
    window.expect(b'{', "an object")?;
    if window.peek()? == Some(b'}') {
        window.expect(b'}', "'}'")?;
    } else {
        loop {
            let key = window.key()?;
            window.expect(b':', "':'")?;
            if key == "vulnerabilities" && window.peek()? != Some(b'n') {
                if items_seen {
                    return Err(window.invalid("a second list of vulnerabilities"));
                }
                items_seen = true;
                window.unpin();
                window.expect(b'[', "the array of vulnerabilities")?;
                if window.peek()? == Some(b']') {
                    window.expect(b']', "']'")?;
                } else {
                    loop {
                        window.value(|raw| feed.item(raw))??;
                        if !window.separator(b']')? {
                            break;
                        }
                    }
                }
            } else {
                window.value(|_| ())?;
            }
            if !window.separator(b'}')? {
                break;
            }
        }
    }
    window.end()?;
    if let Some(bytes) = window.whole() {
        // No list of items: the document is one CVE record.
        match serde_json::from_slice::<Cve<'_>>(bytes) {
            Ok(cve) => feed.keep(cve),
            Err(e) => feed.problems.push(Problem {
                file: label.to_owned(),
                record: Some(
                    serde_json::from_slice::<IdOnly<'_>>(bytes)
                        .ok()
                        .and_then(|r| r.id)
                        .map_or_else(|| "#0".to_owned(), Cow::into_owned),
                ),
                message: format!("malformed NVD CVE record: {e}"),
            }),
        }
    }
    feed.flush()
}

/// The batch of `records` for the `nvd` source.
fn batch(records: Vec<Record>) -> Batch {
    Batch {
        source: SOURCE.to_owned(),
        mode: SourceMode::Upsert,
        records,
    }
}

/// The items of one feed as they are read: the records kept so far (handed on a batch at a
/// time), the problems, and the CVE ids seen (a later duplicate is skipped).
struct Feed<'a> {
    label: &'a str,
    each: &'a mut dyn FnMut(Parsed) -> Result<()>,
    records: Vec<Record>,
    problems: Vec<Problem>,
    /// The entry index of each CVE id kept, by [`crate::exploit::cve_key`].
    seen: HashMap<i64, usize>,
    /// The index of the next entry.
    index: usize,
}

impl<'a> Feed<'a> {
    fn new(label: &'a str, each: &'a mut dyn FnMut(Parsed) -> Result<()>) -> Self {
        Self {
            label,
            each,
            records: Vec::new(),
            problems: Vec::new(),
            seen: HashMap::new(),
            index: 0,
        }
    }

    /// Read one raw item of `vulnerabilities`.
    fn item(&mut self, raw: &str) -> Result<()> {
        match serde_json::from_str::<Item<'_>>(raw) {
            Ok(item) => self.keep(item.cve),
            Err(e) => self.problems.push(Problem {
                file: self.label.to_owned(),
                record: Some(item_id(raw, self.index)),
                message: format!("malformed NVD CVE record: {e}"),
            }),
        }
        self.index += 1;
        if self.records.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Keep `cve` as entry `self.index` unless its id is not a CVE id or was seen before.
    fn keep(&mut self, cve: Cve<'_>) {
        let id = cve.id.trim();
        let index = self.index;
        let problem = match crate::exploit::cve_key(id) {
            None => format!("entry {index}: not a CVE id; this entry is skipped"),
            Some(key) => match self.seen.get(&key) {
                Some(first) => format!(
                    "entry {index}: duplicate CVE id (also entry {first}); this entry is skipped"
                ),
                None => {
                    self.seen.insert(key, index);
                    self.records.push(convert(cve));
                    return;
                }
            },
        };
        self.problems.push(Problem {
            file: self.label.to_owned(),
            record: Some(id.to_owned()),
            message: problem,
        });
    }

    /// Hand on the records and problems gathered since the last call.
    fn flush(&mut self) -> Result<()> {
        let part = Parsed {
            problems: std::mem::take(&mut self.problems),
            batches: vec![batch(std::mem::take(&mut self.records))],
            ..Parsed::default()
        };
        (self.each)(part)
    }
}

/// The CVE id of a malformed item, or its position (`#3`).
fn item_id(raw: &str, index: usize) -> String {
    serde_json::from_str::<ItemId<'_>>(raw)
        .ok()
        .and_then(|item| item.cve)
        .and_then(|cve| cve.id)
        .map_or_else(|| format!("#{index}"), Cow::into_owned)
}

fn convert(cve: Cve<'_>) -> Record {
    let mut vuln = Vulnerability::new(cve.id.trim(), SOURCE);
    vuln.summary = cve
        .descriptions
        .iter()
        .find(|d| d.lang == "en")
        .or_else(|| cve.descriptions.first())
        .and_then(|d| one_line(&d.value));
    vuln.published = cve.published.map(Cow::into_owned);
    vuln.modified = cve.last_modified.map(Cow::into_owned);
    if cve.vuln_status.as_deref() == Some("Rejected") {
        vuln.withdrawn = vuln.modified.clone().or_else(|| Some(String::new()));
    }
    vuln.cwe_ids = crate::model::cwe_ids(
        cve.weaknesses
            .iter()
            .flat_map(|w| w.description.iter().map(|d| d.value.as_ref())),
    );
    if let Some(metrics) = cve.metrics {
        // A fixed order: v4.0, v3.1, v3.0, v2.
        let lists = [
            (metrics.v40, false),
            (metrics.v31, false),
            (metrics.v30, false),
            (metrics.v2, true),
        ];
        for (list, v2) in lists {
            vuln.severities
                .extend(list.into_iter().filter_map(|m| severity(m, v2)));
        }
    }
    Record {
        vuln,
        affected: Vec::new(),
    }
}

/// The longest summary kept, in characters.
const SUMMARY_CHARS: usize = 240;

/// A description's one-line summary: its first sentence, at most [`SUMMARY_CHARS`] characters
/// (cut at a word, with `…`). Lines ending in `:` (the Linux kernel's "the following
/// vulnerability has been resolved:") are joined with the next one.
fn one_line(text: &str) -> Option<String> {
    let mut line = String::new();
    for part in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(part);
        if !part.ends_with(':') || line.len() > SUMMARY_CHARS {
            break;
        }
    }
    if line.is_empty() {
        return None;
    }
    // The first sentence: up to a `. ` followed by a capital letter.
    let bytes = line.as_bytes();
    let end = (1..bytes.len().saturating_sub(2))
        .find(|&i| {
            bytes[i] == b'.'
                && bytes[i + 1] == b' '
                && bytes[i + 2].is_ascii_uppercase()
                && bytes[i - 1].is_ascii_lowercase()
        })
        .map_or(line.len(), |i| i + 1);
    line.truncate(end);
    if line.chars().count() <= SUMMARY_CHARS {
        return Some(line);
    }
    let cut: String = line.chars().take(SUMMARY_CHARS - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > SUMMARY_CHARS / 2 => &cut[..space],
        _ => &cut,
    };
    Some(format!("{}…", cut.trim_end_matches([',', ';', ' '])))
}

/// One metric as a [`Severity`]: NVD's own base score when it gives a valid one (the severity
/// rule reports the metric as published), else the score computed from the vector.
fn severity(metric: Metric<'_>, v2: bool) -> Option<Severity> {
    let data = metric.data?;
    let vector = data.vector?;
    let who = metric.source.as_deref().unwrap_or(SOURCE);
    let mut severity = match data.base_score {
        Some(score) => Severity::scored(who, &vector, score),
        None => Severity::from_vector(who, &vector),
    };
    if v2 {
        severity.kind = SeverityKind::CvssV2;
    }
    severity.rating = data
        .base_severity
        .or(metric.base_severity)
        .map(Cow::into_owned);
    severity.metric_type = metric.metric_type.map(Cow::into_owned);
    Some(severity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cve(id: &str, score: &str) -> String {
        format!(
            r#"{{"cve":{{"id":"{id}","published":"2023-09-12T15:15:24.327","descriptions":[{{"lang":"en","value":"A flaw. More."}}],
            "metrics":{{"cvssMetricV31":[{{"source":"nvd@nist.gov","type":"Primary","cvssData":{{"vectorString":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H","baseScore":{score},"baseSeverity":"CRITICAL"}}}}]}}}}}}"#
        )
    }

    #[test]
    fn hostile_feed_entries_are_problems_naming_file_and_entry() {
        let items = [
            cve("CVE-2023-0001", "9.8"),
            cve("CVE-2023-0001", "9.8"),
            cve("GHSA-xxxx", "9.8"),
            cve("CVE-2023-0002", "11.0"),
            cve("CVE-2023-0003", "-1"),
            cve("CVE-2023-0004", "\"9.8\""),
            r#"{"cve":{"id":"CVE-2023-0005","descriptions":"not a list"}}"#.to_owned(),
            r#"{"nocve":1}"#.to_owned(),
        ];
        let feed = format!(
            r#"{{"format":"NVD_CVE","resultsPerPage":8,"vulnerabilities":[{}]}}"#,
            items.join(",")
        );
        let parsed = parse("feed.json", feed.as_bytes()).unwrap();
        let problems: Vec<String> = parsed.problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert_eq!(
            problems[0],
            "feed.json: record CVE-2023-0001: entry 1: duplicate CVE id (also entry 0); this entry is skipped"
        );
        assert_eq!(
            problems[1],
            "feed.json: record GHSA-xxxx: entry 2: not a CVE id; this entry is skipped"
        );
        assert!(
            problems[2].starts_with("feed.json: record CVE-2023-0005: malformed NVD CVE record")
        );
        assert!(problems[3].starts_with("feed.json: record #7: malformed NVD CVE record"));
        // Absurd scores are not taken: the score computed from the vector is.
        let scores: Vec<(String, Option<f64>)> = parsed.batches[0]
            .records
            .iter()
            .map(|r| (r.vuln.id.clone(), r.vuln.severities[0].score))
            .collect();
        assert_eq!(
            scores,
            [
                ("CVE-2023-0001".to_owned(), Some(9.8)),
                ("CVE-2023-0002".to_owned(), Some(9.8)),
                ("CVE-2023-0003".to_owned(), Some(9.8)),
                ("CVE-2023-0004".to_owned(), Some(9.8)),
            ]
        );
        // A truncated feed is an error naming the file.
        let err = parse("cut.json", &feed.as_bytes()[..feed.len() / 2]).unwrap_err();
        assert!(
            err.to_string().starts_with("cut.json: malformed NVD JSON"),
            "{err}"
        );
    }

    #[test]
    fn summaries_are_one_sentence_of_at_most_240_characters() {
        assert_eq!(
            one_line("A flaw in x allows y. Users should upgrade. Or not.").as_deref(),
            Some("A flaw in x allows y.")
        );
        assert_eq!(
            one_line("In the Linux kernel, the following vulnerability has been resolved:\n\nnet: fix a leak\n\nThe leak was bad.").as_deref(),
            Some("In the Linux kernel, the following vulnerability has been resolved: net: fix a leak")
        );
        assert_eq!(
            one_line("Version 1.2. Then e.g. this").as_deref(),
            Some("Version 1.2. Then e.g. this")
        );
        let long = "word ".repeat(100);
        let summary = one_line(&long).unwrap();
        assert_eq!(summary.chars().count(), 235);
        assert!(summary.ends_with("word…"));
        assert_eq!(one_line(" \n "), None);
        let wide = "é".repeat(300);
        assert_eq!(one_line(&wide).unwrap().chars().count(), 240);
    }
}
