//! Debian OVAL definitions (`oval-definitions-<codename>.xml`, optionally bz2-compressed).
//!
//! One definition names a CVE (or, for `class="patch"`, a DSA) and one source package with
//! a `dpkginfo` test "package is earlier than EVR". Each definition becomes one affected
//! entry in `Debian:<release>` (from the definition's platform, `Debian GNU/Linux 12`), the
//! definitions of one id are grouped into one record, and each release is a snapshot source
//! `debian-oval:<release>`. An EVR of `0:0` is how Debian's generator writes "no fixed
//! version yet": such entries are [`FixStatus::NotFixed`]. A `0:` epoch is dropped from
//! fixed versions (`0:2.2-1` → `2.2-1`; dpkg treats them as equal). A file cut short (no
//! closing `</oval_definitions>`) is an error.

use std::collections::{BTreeMap, HashMap};

use quick_xml::events::Event;

use super::xml::{attr, each_event, push_text};
use super::{Parsed, Problem, first_line};
use crate::error::Result;
use crate::model::{AffectedEntry, FixStatus, Record, Vulnerability};

#[derive(Debug, Default)]
struct Definition {
    id: String,
    title: String,
    platform: String,
    product: String,
    description: String,
    references: Vec<(String, String)>,
    test_refs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    Title,
    Platform,
    Product,
    Description,
    ObjectName,
    Evr,
}

#[derive(Debug, Default)]
struct Doc {
    definitions: Vec<Definition>,
    /// test id -> (object id, state id)
    tests: HashMap<String, (String, String)>,
    /// object id -> package name
    objects: HashMap<String, String>,
    /// state id -> evr
    states: HashMap<String, String>,
}

fn read_doc(label: &str, bytes: &[u8]) -> Result<Doc> {
    let mut reader = DocReader::default();
    each_event(label, bytes, ("OVAL file", b"oval_definitions"), |event| {
        match *event {
            Event::Start(ref e) => reader.start(e, false),
            Event::Empty(ref e) => reader.start(e, true),
            ref event if reader.capture.is_some() && push_text(label, event, &mut reader.text)? => {
            }
            Event::End(ref e) => reader.end(e.local_name().as_ref()),
            _ => {}
        }
        Ok(())
    })?;
    Ok(reader.doc)
}

/// Where [`read_doc`] is in the document: the definition, test, object or state being read
/// and the text being captured.
#[derive(Debug, Default)]
struct DocReader {
    doc: Doc,
    current: Option<Definition>,
    /// (test id, object ref, state ref)
    test: Option<(String, String, String)>,
    object_id: Option<String>,
    state_id: Option<String>,
    capture: Option<Capture>,
    text: String,
}

impl DocReader {
    fn start(&mut self, e: &quick_xml::events::BytesStart<'_>, is_empty: bool) {
        match e.local_name().as_ref() {
            b"definition" => {
                self.current = Some(Definition {
                    id: attr(e, b"id").unwrap_or_default(),
                    ..Definition::default()
                });
            }
            b"title" if self.current.is_some() => self.capture = Some(Capture::Title),
            b"platform" if self.current.is_some() => self.capture = Some(Capture::Platform),
            b"product" if self.current.is_some() => self.capture = Some(Capture::Product),
            b"description" if self.current.is_some() => {
                self.capture = Some(Capture::Description);
            }
            b"reference" => {
                if let Some(def) = self.current.as_mut() {
                    def.references.push((
                        attr(e, b"ref_id").unwrap_or_default(),
                        attr(e, b"ref_url").unwrap_or_default(),
                    ));
                }
            }
            b"criterion" => {
                if let (Some(def), Some(test_ref)) = (self.current.as_mut(), attr(e, b"test_ref")) {
                    def.test_refs.push(test_ref);
                }
            }
            b"dpkginfo_test" => {
                self.test = Some((
                    attr(e, b"id").unwrap_or_default(),
                    String::new(),
                    String::new(),
                ));
            }
            b"object" => {
                if let (Some(t), Some(r)) = (self.test.as_mut(), attr(e, b"object_ref")) {
                    t.1 = r;
                }
            }
            b"state" => {
                if let (Some(t), Some(r)) = (self.test.as_mut(), attr(e, b"state_ref")) {
                    t.2 = r;
                }
            }
            b"dpkginfo_object" => self.object_id = attr(e, b"id"),
            b"dpkginfo_state" => self.state_id = attr(e, b"id"),
            b"name" if self.object_id.is_some() => self.capture = Some(Capture::ObjectName),
            b"evr" if self.state_id.is_some() => self.capture = Some(Capture::Evr),
            _ => {}
        }
        if self.capture.is_some() {
            self.text.clear();
            if is_empty {
                self.finish_capture();
            }
        }
    }

    fn end(&mut self, name: &[u8]) {
        match name {
            b"definition" => {
                if let Some(def) = self.current.take() {
                    self.doc.definitions.push(def);
                }
            }
            b"dpkginfo_test" => {
                if let Some((id, object, state)) = self.test.take() {
                    self.doc.tests.insert(id, (object, state));
                }
            }
            b"dpkginfo_object" => self.object_id = None,
            b"dpkginfo_state" => self.state_id = None,
            b"title" | b"platform" | b"product" | b"description" | b"name" | b"evr" => {
                self.finish_capture();
            }
            _ => {}
        }
    }

    /// Store the captured text where it belongs.
    fn finish_capture(&mut self) {
        let Some(kind) = self.capture.take() else {
            return;
        };
        let value = self.text.trim().to_owned();
        self.text.clear();
        let def = self.current.as_mut();
        match kind {
            Capture::Title => {
                if let Some(def) = def {
                    def.title = value;
                }
            }
            Capture::Platform => {
                if let Some(def) = def.filter(|d| d.platform.is_empty()) {
                    def.platform = value;
                }
            }
            Capture::Product => {
                if let Some(def) = def.filter(|d| d.product.is_empty()) {
                    def.product = value;
                }
            }
            Capture::Description => {
                if let Some(def) = def {
                    def.description = value;
                }
            }
            Capture::ObjectName => {
                if let Some(id) = &self.object_id {
                    self.doc.objects.insert(id.clone(), value);
                }
            }
            Capture::Evr => {
                if let Some(id) = &self.state_id {
                    self.doc.states.insert(id.clone(), value);
                }
            }
        }
    }
}

pub(crate) fn parse(label: &str, bytes: &[u8]) -> Result<Parsed> {
    let doc = read_doc(label, bytes)?;
    let mut parsed = Parsed::default();
    // release -> id -> record
    let mut releases: BTreeMap<String, BTreeMap<String, Record>> = BTreeMap::new();
    for def in &doc.definitions {
        let id = def
            .title
            .split_whitespace()
            .next()
            .map(str::to_owned)
            .or_else(|| def.references.first().map(|(id, _)| id.clone()))
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| def.id.clone());
        let problem = |message: String| Problem {
            file: label.to_owned(),
            record: Some(format!("{id} ({})", def.id)),
            message,
        };
        let Some(release) = def
            .platform
            .strip_prefix("Debian GNU/Linux ")
            .map(str::trim)
            .filter(|r| !r.is_empty())
        else {
            parsed
                .problems
                .push(problem(format!("unrecognised platform {:?}", def.platform)));
            continue;
        };
        let packages: Vec<(&String, &String)> = def
            .test_refs
            .iter()
            .filter_map(|t| doc.tests.get(t))
            .filter_map(|(object, state)| Some((doc.objects.get(object)?, doc.states.get(state)?)))
            .collect();
        if packages.is_empty() {
            parsed.problems.push(problem(
                "no dpkginfo test with a package and version".to_owned(),
            ));
            continue;
        }
        let source = format!("debian-oval:{release}");
        let record = releases
            .entry(release.to_owned())
            .or_default()
            .entry(id.clone())
            .or_insert_with(|| {
                let mut vuln = Vulnerability::new(id.clone(), &source);
                vuln.summary = first_line(&def.description);
                Record {
                    vuln,
                    affected: Vec::new(),
                }
            });
        for (ref_id, url) in &def.references {
            if !ref_id.is_empty() && ref_id != &id && !record.vuln.aliases.contains(ref_id) {
                record.vuln.aliases.push(ref_id.clone());
            }
            if !url.is_empty() && !record.vuln.references.contains(url) {
                record.vuln.references.push(url.clone());
            }
        }
        record.vuln.refresh_canonical_id();
        for (package, evr) in packages {
            let (status, fixed) = if evr == "0:0" {
                (FixStatus::NotFixed, None)
            } else {
                let version = evr.strip_prefix("0:").unwrap_or(evr);
                (FixStatus::Fixed, Some(version.to_owned()))
            };
            let entry = AffectedEntry::distro(
                &record.vuln,
                format!("Debian:{release}"),
                package.as_str(),
                status,
                fixed,
            );
            record.affected.push(entry);
        }
    }
    for (release, records) in releases {
        let mut records: Vec<Record> = records.into_values().collect();
        // Canonical ids may have changed as aliases accumulated.
        for record in &mut records {
            for entry in &mut record.affected {
                entry.canonical_id = record.vuln.canonical_id.clone();
            }
        }
        parsed.replace(format!("debian-oval:{release}"), records);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const SAMPLE: &str = r#"<?xml version='1.0' encoding='UTF-8'?>
<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5">
  <definitions>
    <definition id="oval:d:1" version="1" class="vulnerability">
      <metadata>
        <title>CVE-2020-1 glibc</title>
        <affected family="unix"><platform>Debian GNU/Linux 12</platform><product>glibc</product></affected>
        <reference source="CVE" ref_id="CVE-2020-1" ref_url="https://x/1"/>
        <description>A &amp; B &lt;bad&gt;</description>
      </metadata>
      <criteria><criterion test_ref="t:1" comment="Debian 12 is installed"/><criterion test_ref="t:3" comment="glibc is earlier than 2.2-1"/></criteria>
    </definition>
    <definition id="oval:d:2" version="1" class="vulnerability">
      <metadata>
        <title>CVE-2020-2 linux</title>
        <affected family="unix"><platform>Debian GNU/Linux 12</platform><product>linux</product></affected>
        <reference source="CVE" ref_id="CVE-2020-2" ref_url="https://x/2"/>
        <description></description>
      </metadata>
      <criteria><criterion test_ref="t:4"/></criteria>
    </definition>
  </definitions>
  <tests>
    <dpkginfo_test id="t:3"><object object_ref="o:3"/><state state_ref="s:2"/></dpkginfo_test>
    <dpkginfo_test id="t:4"><object object_ref="o:4"/><state state_ref="s:3"/></dpkginfo_test>
  </tests>
  <objects>
    <dpkginfo_object id="o:3"><name>glibc</name></dpkginfo_object>
    <dpkginfo_object id="o:4"><name>linux</name></dpkginfo_object>
  </objects>
  <states>
    <dpkginfo_state id="s:2"><evr datatype="debian_evr_string" operation="less than">0:2.2-1</evr></dpkginfo_state>
    <dpkginfo_state id="s:3"><evr datatype="debian_evr_string" operation="less than">0:0</evr></dpkginfo_state>
  </states>
</oval_definitions>
"#;

    #[test]
    fn parses_definitions() {
        let parsed = parse("oval.xml", SAMPLE.as_bytes()).unwrap();
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let batch = &parsed.batches[0];
        assert_eq!(batch.source, "debian-oval:12");
        assert_eq!(batch.records.len(), 2);
        let glibc = &batch.records[0];
        assert_eq!(glibc.vuln.id, "CVE-2020-1");
        assert_eq!(glibc.vuln.summary.as_deref(), Some("A & B <bad>"));
        assert_eq!(glibc.affected[0].package, "glibc");
        assert_eq!(glibc.affected[0].ecosystem, "Debian:12");
        assert_eq!(glibc.affected[0].fixed_version.as_deref(), Some("2.2-1"));
        let linux = &batch.records[1];
        assert_eq!(linux.affected[0].status, FixStatus::NotFixed);
        assert_eq!(linux.affected[0].fixed_version, None);
    }

    #[test]
    fn truncated_file_is_an_error() {
        let half = &SAMPLE[..SAMPLE.len() / 2];
        let err = parse("cut.xml", half.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("cut.xml"), "{err}");
    }
}
