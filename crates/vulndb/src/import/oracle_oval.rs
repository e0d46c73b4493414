//! Oracle Linux's ELSA OVAL file (`com.oracle.elsa-all.xml.bz2`, OVAL 5).
//!
//! Each `class="patch"` definition is one ELSA (`ELSA-2024-1234`, from its `elsa`
//! reference, else the first word of its title) naming its CVEs (`CVE` references and the
//! advisory's `<cve>` entries), Oracle's severity (`<severity>`) and criteria that combine
//! "Oracle Linux N is installed", "Oracle Linux arch is A" and `rpminfo` tests "PKG is
//! earlier than EPOCH:VERSION-RELEASE" (states with `evr` and `operation="less than"`).
//! Every ELSA becomes one record (id the ELSA, its CVEs in `related`, the severity a vendor
//! rating of source `oracle-oval`) with an entry per binary package and release in
//! `Oracle Linux:<major>`, fixed at the EVR as written (`1:3.0.7-27.0.1.el9`). The release
//! of a package test is the "is installed" criterion above it (else the definition's only
//! `Oracle Linux N` platform).
//!
//! Approximations: the arch restriction is not matched: a package is fixed at the lowest
//! of its arches' EVRs (Oracle respins an arch at a later revision now and then; the
//! entry's `notes` list the arches, and each arch's EVR when they differ); a module restriction ("Module
//! nodejs:18 is enabled") is kept in `notes` only, so a package of another stream with a
//! lower version is reported; Ksplice userspace builds (EVRs containing `ksplice`, e.g.
//! `2:2.28-236.0.1.ksplice1.el8`) are skipped, since their epoch would make every standard
//! build look vulnerable; UEK kernels are kept under their own names (`kernel-uek`).
//!
//! The file is read as a stream of XML events (it is over 100 MB uncompressed): what is
//! kept is the definitions' ids, CVEs and criteria (not the signature and Ksplice-flavour
//! ones), then only the tests, objects and states they name. A file cut short (no closing `</oval_definitions>`) is an error; a definition with
//! no ELSA id, no release or no usable package test is a [`Problem`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::BufRead;

use quick_xml::events::Event;

use super::xml::{attr, each_event, push_text};
use super::{Parsed, Problem};
use crate::error::Result;
use crate::model::{Record, Severity, Vulnerability};

/// The source name of the records.
pub(crate) const SOURCE: &str = "oracle-oval";

/// True when the head of an OVAL document is Oracle's ELSA file.
pub(crate) fn looks_like_elsa(head: &[u8]) -> bool {
    super::contains(head, b"oval_definitions") && super::contains(head, b"oval:com.oracle.elsa:")
}

/// What a criterion's comment says about the criteria around it.
#[derive(Debug, Default)]
enum Marker {
    #[default]
    None,
    /// `Oracle Linux 9 is installed`.
    Release(String),
    /// `Module nodejs:18 is enabled`.
    Module(String),
}

#[derive(Debug, Default)]
struct Criterion {
    /// The test id, without the `oval:com.oracle.elsa:` every id starts with.
    test_ref: String,
    marker: Marker,
    /// The ids of the enclosing `<criteria>`, outermost first.
    frames: Vec<u32>,
}

#[derive(Debug, Default)]
struct Definition {
    oval_id: String,
    title: String,
    platforms: Vec<String>,
    elsa: Option<String>,
    cves: BTreeSet<String>,
    urls: Vec<String>,
    severity: Option<String>,
    issued: Option<String>,
    criteria: Vec<Criterion>,
}

#[derive(Debug, Default)]
struct State {
    /// The EVR of a `less than` comparison.
    evr: Option<String>,
    arch: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    Title,
    Platform,
    Severity,
    Cve,
    ObjectName,
    Evr,
    Arch,
}

#[derive(Debug, Default)]
struct Doc {
    definitions: Vec<Definition>,
    /// test id -> (object id, state id)
    tests: HashMap<String, (String, String)>,
    /// object id -> package name
    objects: HashMap<String, String>,
    states: HashMap<String, State>,
    /// Once the definitions are read, the tests their criteria name (the others are not
    /// kept); once the tests are read, the objects and states those name.
    wanted_tests: Option<HashSet<String>>,
    wanted_objects: Option<HashSet<String>>,
    wanted_states: Option<HashSet<String>>,
}

/// Is `id` wanted (everything is, until the wanted set is known)?
fn wanted(set: &Option<HashSet<String>>, id: &str) -> bool {
    set.as_ref().is_none_or(|set| set.contains(id))
}

#[derive(Debug, Default)]
struct Cursor {
    def: Option<Definition>,
    frames: Vec<u32>,
    next_frame: u32,
    test: Option<(String, String, String)>,
    object_id: Option<String>,
    state_id: Option<String>,
    capture: Option<Capture>,
    text: String,
}

impl Cursor {
    fn start(&mut self, e: &quick_xml::events::BytesStart<'_>, is_empty: bool, doc: &mut Doc) {
        let in_def = self.def.is_some();
        match e.local_name().as_ref() {
            b"definition" => {
                self.def = Some(Definition {
                    oval_id: attr(e, b"id").unwrap_or_default(),
                    ..Definition::default()
                });
                self.frames.clear();
            }
            b"title" if in_def => self.capture = Some(Capture::Title),
            b"platform" if in_def => self.capture = Some(Capture::Platform),
            b"severity" if in_def => self.capture = Some(Capture::Severity),
            b"cve" if in_def => self.capture = Some(Capture::Cve),
            b"issued" => {
                if let Some(def) = self.def.as_mut() {
                    def.issued = attr(e, b"date").filter(|d| !d.is_empty());
                }
            }
            b"reference" => {
                if let Some(def) = self.def.as_mut() {
                    let source = attr(e, b"source").unwrap_or_default();
                    let id = attr(e, b"ref_id").unwrap_or_default().trim().to_owned();
                    if source.eq_ignore_ascii_case("elsa") && !id.is_empty() {
                        def.elsa.get_or_insert(id);
                    } else if source.eq_ignore_ascii_case("CVE") && id.starts_with("CVE-") {
                        def.cves.insert(id);
                    }
                    if let Some(url) = attr(e, b"ref_url").filter(|u| !u.is_empty())
                        && !def.urls.contains(&url)
                    {
                        def.urls.push(url);
                    }
                }
            }
            b"criteria" if in_def && !is_empty => {
                self.next_frame += 1;
                self.frames.push(self.next_frame);
            }
            b"criterion" => {
                let comment = attr(e, b"comment").unwrap_or_default();
                // Signature and Ksplice-flavour tests say nothing this importer uses: not
                // kept (the file has one of each per package and arch).
                let unused =
                    comment.contains(" is signed with ") || comment.ends_with(" is ksplice-based");
                if let (Some(def), Some(test_ref), false) =
                    (self.def.as_mut(), attr(e, b"test_ref"), unused)
                {
                    def.criteria.push(Criterion {
                        test_ref: short(test_ref),
                        marker: marker(&comment),
                        frames: self.frames.clone(),
                    });
                }
            }
            b"rpminfo_test" => {
                self.test = Some((
                    short(attr(e, b"id").unwrap_or_default()),
                    String::new(),
                    String::new(),
                ))
            }
            b"object" => {
                if let (Some(t), Some(r)) = (self.test.as_mut(), attr(e, b"object_ref")) {
                    t.1 = short(r);
                }
            }
            b"state" => {
                if let (Some(t), Some(r)) = (self.test.as_mut(), attr(e, b"state_ref")) {
                    t.2 = short(r);
                }
            }
            b"rpminfo_object" => self.object_id = attr(e, b"id").map(short),
            b"rpminfo_state" => self.state_id = attr(e, b"id").map(short),
            b"name" if self.object_id.is_some() => self.capture = Some(Capture::ObjectName),
            b"evr" if self.state_id.is_some() => {
                let less_than = attr(e, b"operation")
                    .is_some_and(|op| op.trim().eq_ignore_ascii_case("less than"));
                if less_than {
                    self.capture = Some(Capture::Evr);
                }
            }
            b"arch" if self.state_id.is_some() => self.capture = Some(Capture::Arch),
            _ => {}
        }
        if self.capture.is_some() {
            self.text.clear();
            if is_empty {
                self.finish_capture(doc);
            }
        }
    }

    fn end(&mut self, name: &[u8], doc: &mut Doc) {
        match name {
            b"definition" => {
                if let Some(def) = self.def.take() {
                    doc.definitions.push(def);
                }
            }
            b"criteria" => {
                self.frames.pop();
            }
            b"rpminfo_test" => {
                if let Some((id, object, state)) = self.test.take()
                    && wanted(&doc.wanted_tests, &id)
                {
                    doc.tests.insert(id, (object, state));
                }
            }
            b"definitions" => {
                let tests = doc.definitions.iter().flat_map(|d| &d.criteria);
                doc.wanted_tests = Some(tests.map(|c| c.test_ref.clone()).collect());
            }
            b"tests" => {
                doc.wanted_objects = Some(doc.tests.values().map(|t| t.0.clone()).collect());
                doc.wanted_states = Some(doc.tests.values().map(|t| t.1.clone()).collect());
            }
            b"rpminfo_object" => self.object_id = None,
            b"rpminfo_state" => self.state_id = None,
            b"title" | b"platform" | b"severity" | b"cve" | b"name" | b"evr" | b"arch" => {
                self.finish_capture(doc)
            }
            _ => {}
        }
    }

    fn finish_capture(&mut self, doc: &mut Doc) {
        let Some(kind) = self.capture.take() else {
            return;
        };
        let value = self.text.trim().to_owned();
        self.text.clear();
        if value.is_empty() {
            return;
        }
        match (kind, self.def.as_mut()) {
            (Capture::Title, Some(def)) => def.title = value,
            (Capture::Platform, Some(def)) => def.platforms.push(value),
            (Capture::Severity, Some(def)) => def.severity = Some(value),
            (Capture::Cve, Some(def)) if value.starts_with("CVE-") => {
                def.cves.insert(value);
            }
            (Capture::ObjectName, _) => {
                if let Some(id) = &self.object_id
                    && wanted(&doc.wanted_objects, id)
                {
                    doc.objects.insert(id.clone(), value);
                }
            }
            (Capture::Evr, _) => {
                if let Some(id) = &self.state_id
                    && wanted(&doc.wanted_states, id)
                {
                    doc.states.entry(id.clone()).or_default().evr = Some(value);
                }
            }
            (Capture::Arch, _) => {
                if let Some(id) = &self.state_id
                    && wanted(&doc.wanted_states, id)
                {
                    doc.states.entry(id.clone()).or_default().arch = Some(value);
                }
            }
            _ => {}
        }
    }
}

fn read_doc<R: BufRead>(label: &str, input: R) -> Result<Doc> {
    let mut doc = Doc::default();
    let mut cursor = Cursor::default();
    each_event(label, input, ("OVAL file", b"oval_definitions"), |event| {
        match *event {
            Event::Start(ref e) => cursor.start(e, false, &mut doc),
            Event::Empty(ref e) => cursor.start(e, true, &mut doc),
            ref event if cursor.capture.is_some() && push_text(label, event, &mut cursor.text)? => {
            }
            Event::End(ref e) => cursor.end(e.local_name().as_ref(), &mut doc),
            _ => {}
        }
        Ok(())
    })?;
    Ok(doc)
}

/// An OVAL id without the prefix every id of Oracle's file has (memory: the file has
/// hundreds of thousands of them).
fn short(id: String) -> String {
    match id.strip_prefix("oval:com.oracle.elsa:") {
        Some(rest) => rest.to_owned(),
        None => id,
    }
}

/// The [`Marker`] of a criterion comment.
fn marker(comment: &str) -> Marker {
    let comment = comment.trim();
    if let Some(release) = installed_release(comment) {
        return Marker::Release(release.to_owned());
    }
    match comment
        .strip_prefix("Module ")
        .and_then(|m| m.strip_suffix(" is enabled"))
    {
        Some(module) => Marker::Module(module.to_owned()),
        None => Marker::None,
    }
}

/// `9` from a criterion comment `Oracle Linux 9 is installed`.
fn installed_release(comment: &str) -> Option<&str> {
    let rest = comment.strip_prefix("Oracle Linux ")?;
    let (release, tail) = rest.split_once(' ')?;
    (tail.trim() == "is installed" && is_number(release)).then_some(release)
}

/// `9` from a platform `Oracle Linux 9`.
fn platform_release(platform: &str) -> Option<&str> {
    let release = platform.trim().strip_prefix("Oracle Linux ")?.trim();
    is_number(release).then_some(release)
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The deepest criterion of `criteria` enclosing `target` (same or outer `<criteria>`)
/// for which `value` gives something.
fn enclosing<'a, T>(
    criteria: &'a [Criterion],
    target: &Criterion,
    value: impl Fn(&'a Criterion) -> Option<T>,
) -> Option<T> {
    criteria
        .iter()
        .filter(|c| target.frames.starts_with(&c.frames))
        .filter_map(|c| value(c).map(|v| (c.frames.len(), v)))
        .max_by_key(|(depth, _)| *depth)
        .map(|(_, v)| v)
}

/// One package of one definition: (ecosystem, package, EVR) -> (arches, notes).
type Entries = BTreeMap<(String, String, String), (BTreeSet<String>, BTreeSet<String>)>;

fn definition_entries(doc: &Doc, def: &Definition) -> std::result::Result<Entries, String> {
    let only_platform = match def.platforms.as_slice() {
        [one] => platform_release(one),
        _ => None,
    };
    let resolve = |c: &Criterion| {
        let (object, state) = doc.tests.get(&c.test_ref)?;
        Some((doc.objects.get(object), doc.states.get(state)?))
    };
    let mut entries = Entries::new();
    let mut skipped_ksplice = 0usize;
    for criterion in &def.criteria {
        let Some((Some(package), State { evr: Some(evr), .. })) = resolve(criterion) else {
            continue;
        };
        if evr.to_ascii_lowercase().contains("ksplice") {
            skipped_ksplice += 1;
            continue;
        }
        let release = enclosing(&def.criteria, criterion, |c| match &c.marker {
            Marker::Release(release) => Some(release.as_str()),
            _ => None,
        })
        .or(only_platform)
        .ok_or_else(|| format!("no Oracle Linux release for package {package}"))?;
        let arch = enclosing(&def.criteria, criterion, |c| {
            resolve(c).and_then(|(_, state)| state.arch.clone())
        });
        let module = enclosing(&def.criteria, criterion, |c| match &c.marker {
            Marker::Module(module) => Some(module.clone()),
            _ => None,
        });
        let (arches, notes) = entries
            .entry((
                format!("Oracle Linux:{release}"),
                package.clone(),
                evr.clone(),
            ))
            .or_default();
        arches.extend(arch);
        notes.extend(module.map(|m| format!("module {m}")));
    }
    if entries.is_empty() {
        return Err(if skipped_ksplice > 0 {
            tracing::debug!(definition = %def.oval_id, "only Ksplice packages; skipped");
            String::new()
        } else {
            "no rpminfo test with a package and an EVR it is earlier than".to_owned()
        });
    }
    Ok(entries)
}

/// Parse an ELSA OVAL document streamed from `input`.
pub(crate) fn parse<R: BufRead>(label: &str, input: R) -> Result<Parsed> {
    let doc = read_doc(label, input)?;
    let mut parsed = Parsed::default();
    let mut records: BTreeMap<String, (Record, Entries)> = BTreeMap::new();
    for def in &doc.definitions {
        let from_title = def
            .title
            .split_whitespace()
            .next()
            .map(|w| w.trim_end_matches(':').to_owned());
        let id = def.elsa.clone().or(from_title).unwrap_or_default();
        let problem = |message: String| Problem {
            file: label.to_owned(),
            record: Some(if !id.starts_with("ELSA-") {
                def.oval_id.clone()
            } else {
                format!("{id} ({})", def.oval_id)
            }),
            message,
        };
        if !id.starts_with("ELSA-") || id.len() > 64 {
            parsed.problems.push(problem(format!(
                "no ELSA id (title {:?})",
                def.title.chars().take(80).collect::<String>()
            )));
            continue;
        }
        let entries = match definition_entries(&doc, def) {
            Ok(entries) => entries,
            Err(message) if message.is_empty() => continue,
            Err(message) => {
                parsed.problems.push(problem(message));
                continue;
            }
        };
        let (record, all) = records.entry(id.clone()).or_insert_with(|| {
            let vuln = Vulnerability::new(id.clone(), SOURCE);
            (
                Record {
                    vuln,
                    affected: Vec::new(),
                },
                Entries::new(),
            )
        });
        let vuln = &mut record.vuln;
        if vuln.summary.is_none() && !def.title.is_empty() {
            vuln.summary = super::first_line(&def.title);
        }
        vuln.published = vuln.published.take().or_else(|| def.issued.clone());
        vuln.related.extend(def.cves.iter().cloned());
        vuln.related.sort();
        vuln.related.dedup();
        for url in &def.urls {
            if !vuln.references.contains(url) {
                vuln.references.push(url.clone());
            }
        }
        if let Some(rating) = &def.severity
            && vuln.severities.is_empty()
        {
            vuln.severities
                .push(Severity::vendor(SOURCE, rating.clone()));
        }
        for (key, (arches, notes)) in entries {
            let (a, n) = all.entry(key).or_default();
            a.extend(arches);
            n.extend(notes);
        }
    }
    let records = records
        .into_values()
        .map(|(mut record, entries)| {
            let fixes = entries
                .into_iter()
                .map(|((ecosystem, package, evr), (arches, notes))| {
                    ((ecosystem, package), evr, arches, notes)
                });
            record.affected = super::rpm_fix_entries(&record.vuln, fixes);
            record
        })
        .collect();
    parsed.replace(SOURCE, records);
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::error::ErrorKind;
    use crate::import::test_util::{fixed, fixture, rows};
    use crate::import::{ImportOptions, parse_bytes};
    use crate::model::SeverityKind;
    use crate::store::SourceMode;

    const NAME: &str = "com.oracle.elsa-sample.xml";

    #[test]
    fn elsa_definitions_become_records_per_binary_and_release() {
        let parsed = parse(NAME, fixture(NAME).as_slice()).unwrap();
        assert_eq!(parsed.batches.len(), 1);
        let batch = &parsed.batches[0];
        assert_eq!(
            (batch.source.as_str(), batch.mode),
            (SOURCE, SourceMode::Replace)
        );
        let evr = "1:3.0.7-25.0.1.el9_3";
        let arches = Some("arch aarch64, x86_64");
        assert_eq!(
            rows(&batch.records),
            vec![
                fixed(
                    "ELSA-2014-0001",
                    "Oracle Linux:6",
                    "bash",
                    "0:4.1.2-15.el6_5.2",
                    None
                ),
                fixed(
                    "ELSA-2014-0001",
                    "Oracle Linux:7",
                    "bash",
                    "0:4.2.45-5.el7_0.4",
                    None
                ),
                fixed("ELSA-2024-0101", "Oracle Linux:9", "openssl", evr, arches),
                fixed(
                    "ELSA-2024-0101",
                    "Oracle Linux:9",
                    "openssl-libs",
                    evr,
                    arches
                ),
                // The Ksplice build of glibc is left out.
                fixed(
                    "ELSA-2024-0102",
                    "Oracle Linux:8",
                    "glibc",
                    "0:2.28-236.0.1.el8_9",
                    None
                ),
                fixed(
                    "ELSA-2024-0102",
                    "Oracle Linux:8",
                    "nodejs",
                    "1:18.19.0-1.module+el8.9.0+90001+aaaa1111",
                    Some("module nodejs:18")
                ),
                fixed(
                    "ELSA-2024-0103",
                    "Oracle Linux:7",
                    "chrony",
                    "0:4.1-1.0.1.el7",
                    Some(
                        "fixed per arch: 0:4.1-1.0.1.el7 (x86_64); 0:4.1-1.0.4.el7 (aarch64); \
                         the lowest is used"
                    )
                ),
            ]
        );
        let facts: Vec<_> = batch
            .records
            .iter()
            .map(|r| {
                let v = &r.vuln;
                let severity = &v.severities[0];
                assert_eq!(
                    (severity.kind, severity.source.as_str()),
                    (SeverityKind::Vendor, SOURCE)
                );
                (
                    v.id.as_str(),
                    v.canonical_id.as_str(),
                    v.related.clone(),
                    v.aliases.clone(),
                    severity.rating.clone().unwrap_or_default(),
                    v.published.clone().unwrap_or_default(),
                )
            })
            .collect();
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            facts,
            vec![
                (
                    "ELSA-2014-0001",
                    "ELSA-2014-0001",
                    strings(&["CVE-2014-5001"]),
                    vec![],
                    "MODERATE".into(),
                    "2014-09-25".into()
                ),
                (
                    "ELSA-2024-0101",
                    "ELSA-2024-0101",
                    strings(&["CVE-2024-1001", "CVE-2024-1002"]),
                    vec![],
                    "IMPORTANT".into(),
                    "2024-01-10".into()
                ),
                (
                    "ELSA-2024-0102",
                    "ELSA-2024-0102",
                    strings(&["CVE-2024-2001"]),
                    vec![],
                    "LOW".into(),
                    "2024-02-01".into()
                ),
                (
                    "ELSA-2024-0103",
                    "ELSA-2024-0103",
                    strings(&["CVE-2024-2101"]),
                    vec![],
                    "MODERATE".into(),
                    "2024-02-15".into()
                ),
            ]
        );
        let openssl = &batch.records[1].vuln;
        assert_eq!(
            openssl.summary.as_deref(),
            Some("ELSA-2024-0101:  openssl security update (IMPORTANT)")
        );
        assert!(
            openssl
                .references
                .contains(&"https://linux.oracle.com/errata/ELSA-2024-0101.html".to_owned())
        );
        let problems: Vec<(Option<&str>, &str)> = parsed
            .problems
            .iter()
            .map(|p| (p.record.as_deref(), p.message.as_str()))
            .collect();
        assert_eq!(
            problems,
            vec![
                (
                    Some("oval:com.oracle.elsa:def:99990001"),
                    "no ELSA id (title \"not an advisory <script>\")"
                ),
                (
                    Some("ELSA-2024-9999 (oval:com.oracle.elsa:def:20249999)"),
                    "no rpminfo test with a package and an EVR it is earlier than"
                ),
            ]
        );
        assert!(parsed.problems.iter().all(|p| p.file == NAME));
    }

    #[test]
    fn a_bzip2_file_is_streamed_and_capped() {
        let xml = fixture(NAME);
        let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        encoder.write_all(&xml).unwrap();
        let bz2 = encoder.finish().unwrap();
        let options = ImportOptions::default();
        let label = "com.oracle.elsa-all.xml.bz2";
        let parsed =
            parse_bytes(label, std::path::Path::new(label), bz2.clone(), &options).unwrap();
        assert_eq!(parsed.batches[0].records.len(), 4);
        let small = ImportOptions {
            max_decompressed_size: xml.len() as u64 - 1,
            ..ImportOptions::default()
        };
        let err = parse_bytes(label, std::path::Path::new(label), bz2, &small).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
        assert!(err.to_string().contains(label), "{err}");
    }

    #[test]
    fn truncated_or_hostile_input_is_an_error_not_a_panic() {
        let xml = fixture(NAME);
        let text = String::from_utf8(xml.clone()).unwrap();
        let cut = &text[..text.find("<tests>").unwrap()];
        let err = parse("cut.xml", cut.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(
            err.to_string().contains("cut.xml: truncated OVAL file"),
            "{err}"
        );
        let err = parse("half.xml", &xml[..xml.len() / 2]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().starts_with("half.xml: "), "{err}");
        for bad in [
            &b"<oval_definitions><definitions><definition id='oval:com.oracle.elsa:def:1'><criteria></definition>"[..],
            b"<oval_definitions></states></oval_definitions>",
            b"<oval_definitions><definitions><definition><metadata><title>ELSA-1 &bogus;",
            b"\xff\xfe<\x00",
        ] {
            let _ = parse("bad.xml", bad);
        }
        // Deeply nested criteria stay bounded by the input.
        let mut deep = String::from(
            "<oval_definitions><definitions><definition id='d'><metadata><title>ELSA-2024-1 x</title></metadata>",
        );
        deep.push_str(&"<criteria>".repeat(10_000));
        deep.push_str(&"</criteria>".repeat(10_000));
        deep.push_str("</definition></definitions></oval_definitions>");
        let parsed = parse("deep.xml", deep.as_bytes()).unwrap();
        assert_eq!(parsed.problems.len(), 1);
    }
}
