//! Whether a version is inside an affected entry: OSV range semantics.
//!
//! Events of a range are sorted by version (`introduced: "0"` first) and walked: at or
//! above an `introduced` the version is affected, at or above a `fixed` or above a
//! `last_affected` it is not; at or above any `limit` it is not. Explicit `versions` lists
//! match by version equality. GIT ranges never match a package version. A range with a
//! version the scheme cannot parse is skipped with a warning: an unparseable version is
//! never taken as "equal".

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeSet;

use portcullis_versions::{Scheme, Version, parse};
#[cfg(test)]
use portcullis_vulndb::{AffectedEntry, Event};
use portcullis_vulndb::{EntryRef, EventRef, RangeType};

/// The outcome for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The version is not in the entry.
    NotAffected,
    /// The version is affected; `fixed` is the version that ends the affected interval it
    /// is in, when that interval ends with a fix.
    Affected { fixed: Option<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Introduced,
    Fixed,
    LastAffected,
    Limit,
}

/// One event with its parsed version (`None` is the start, `introduced: "0"`).
struct Parsed<'a> {
    kind: Kind,
    text: &'a str,
    version: Option<Version>,
}

fn cmp_bound(a: &Option<Version>, b: &Option<Version>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(y),
    }
}

/// The scheme for a range of `kind` in an ecosystem whose scheme is `ecosystem_scheme`.
fn range_scheme(kind: RangeType, ecosystem_scheme: Scheme) -> Option<Scheme> {
    match kind {
        RangeType::Git => None,
        RangeType::Ecosystem => Some(ecosystem_scheme),
        // Go and npm versions are SemVer supersets (a `v` prefix, loose forms).
        RangeType::Semver => Some(match ecosystem_scheme {
            Scheme::Go | Scheme::Npm | Scheme::Semver => ecosystem_scheme,
            _ => Scheme::Semver,
        }),
    }
}

/// The installed version: its text, and its parse in the ecosystem's scheme (parsed once
/// per package, not once per range).
pub(crate) struct Installed<'a> {
    pub text: &'a str,
    pub scheme: Scheme,
    pub parsed: std::result::Result<Version, portcullis_versions::Error>,
    /// Why the version could not be compared with some ranges, and the flaws whose ranges
    /// were skipped for it: one warning per package ([`Installed::skipped`]), not one per
    /// range.
    incomparable: Option<(portcullis_versions::Error, BTreeSet<String>)>,
}

impl<'a> Installed<'a> {
    pub(crate) fn new(text: &'a str, scheme: Scheme) -> Self {
        Self {
            text,
            scheme,
            parsed: parse(scheme, text),
            incomparable: None,
        }
    }

    /// The one warning for every range skipped because the version could not be compared
    /// with it, naming the first flaws.
    pub(crate) fn skipped(&self) -> Option<String> {
        const NAMED: usize = 5;
        let (error, ids) = self.incomparable.as_ref()?;
        let mut named: Vec<&str> = ids.iter().take(NAMED).map(String::as_str).collect();
        if ids.len() > NAMED {
            named.push("…");
        }
        Some(format!(
            "installed version not comparable ({error}); the ranges of {} flaw(s) skipped: {}",
            ids.len(),
            named.join(", ")
        ))
    }

    fn in_scheme(
        &self,
        scheme: Scheme,
    ) -> std::result::Result<Cow<'_, Version>, portcullis_versions::Error> {
        if scheme == self.scheme {
            self.parsed
                .as_ref()
                .map(Cow::Borrowed)
                .map_err(Clone::clone)
        } else {
            parse(scheme, self.text).map(Cow::Owned)
        }
    }
}

/// Evaluate the installed version against `entry`. Problems go to `warnings`, each naming
/// the entry.
pub(crate) fn evaluate<'e>(
    entry: impl Into<EntryRef<'e>>,
    installed: &mut Installed<'_>,
    warnings: &mut Vec<String>,
) -> Verdict {
    let entry = entry.into();
    let scheme = installed.scheme;
    let mut affected_fix: Option<Option<String>> = None;
    let mut all_fixes: Vec<(Version, &str)> = Vec::new();
    for range in entry.ranges() {
        let Some(range_scheme) = range_scheme(range.kind, scheme) else {
            continue;
        };
        let version = match installed.in_scheme(range_scheme) {
            Ok(v) => v,
            Err(e) => {
                let (_, ids) = installed
                    .incomparable
                    .get_or_insert_with(|| (e, BTreeSet::new()));
                ids.insert(entry.vuln_id.to_string());
                continue;
            }
        };
        let mut events = Vec::new();
        let mut bad = None;
        for event in range.events() {
            let (kind, text) = match event {
                EventRef::Introduced(v) => (Kind::Introduced, v),
                EventRef::Fixed(v) => (Kind::Fixed, v),
                EventRef::LastAffected(v) => (Kind::LastAffected, v),
                EventRef::Limit(v) => (Kind::Limit, v),
            };
            let parsed = if kind == Kind::Introduced && text == "0" {
                None
            } else if kind == Kind::Limit && text == "*" {
                continue;
            } else {
                match parse(range_scheme, text) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        bad = Some(e);
                        break;
                    }
                }
            };
            events.push(Parsed {
                kind,
                text,
                version: parsed,
            });
        }
        if let Some(e) = bad {
            warnings.push(format!(
                "{} {}/{}: range skipped: {e}",
                entry.vuln_id, entry.ecosystem, entry.package
            ));
            continue;
        }
        events.sort_by(|a, b| cmp_bound(&a.version, &b.version));
        for e in &events {
            if let (Kind::Fixed, Some(v)) = (e.kind, &e.version) {
                all_fixes.push((v.clone(), e.text));
            }
        }
        if let Some(fixed) = walk(&events, &version) {
            // Prefer an interval that ends with a fix if several ranges match.
            if affected_fix.as_ref().is_none_or(Option::is_none) {
                affected_fix = Some(fixed);
            }
        }
    }
    if let Some(fixed) = affected_fix {
        return Verdict::Affected { fixed };
    }
    if in_versions_list(entry, installed) {
        let fixed = installed.parsed.as_ref().ok().and_then(|v| {
            all_fixes
                .iter()
                .filter(|(f, _)| f > v)
                .min_by(|a, b| a.0.cmp(&b.0))
                .map(|(_, text)| text.to_string())
        });
        return Verdict::Affected { fixed };
    }
    Verdict::NotAffected
}

/// Walk sorted events; `Some(fixed)` when `version` is affected.
fn walk(events: &[Parsed<'_>], version: &Version) -> Option<Option<String>> {
    let mut affected = false;
    let at_or_above = |bound: &Option<Version>| bound.as_ref().is_none_or(|b| version >= b);
    for e in events {
        match e.kind {
            Kind::Introduced if at_or_above(&e.version) => affected = true,
            Kind::Fixed if at_or_above(&e.version) => affected = false,
            Kind::LastAffected if e.version.as_ref().is_some_and(|b| version > b) => {
                affected = false;
            }
            _ => {}
        }
    }
    let over_limit = events
        .iter()
        .any(|e| e.kind == Kind::Limit && e.version.as_ref().is_some_and(|b| version >= b));
    if !affected || over_limit {
        return None;
    }
    // The interval ends at the first event above the version.
    let next = events
        .iter()
        .find(|e| e.version.as_ref().is_some_and(|b| b > version));
    Some(match next {
        Some(e) if e.kind == Kind::Fixed => Some(e.text.to_string()),
        _ => None,
    })
}

fn in_versions_list(entry: EntryRef<'_>, installed: &Installed<'_>) -> bool {
    if !entry.has_versions() {
        return false;
    }
    if entry.versions().any(|v| v == installed.text) {
        return true;
    }
    let Ok(version) = &installed.parsed else {
        return false;
    };
    entry
        .versions()
        .any(|v| parse(installed.scheme, v).is_ok_and(|listed| listed == *version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_vulndb::{FixStatus, Range};

    fn entry(kind: RangeType, events: &[(&str, &str)], versions: &[&str]) -> AffectedEntry {
        let events = events
            .iter()
            .map(|(k, v)| {
                let v = v.to_string();
                match *k {
                    "introduced" => Event::Introduced(v),
                    "fixed" => Event::Fixed(v),
                    "last_affected" => Event::LastAffected(v),
                    _ => Event::Limit(v),
                }
            })
            .collect();
        AffectedEntry {
            vuln_id: "X-1".into(),
            canonical_id: "X-1".into(),
            source: "test".into(),
            ecosystem: "PyPI".into(),
            package: "p".into(),
            ranges: vec![Range {
                kind,
                repo: None,
                events,
            }],
            versions: versions.iter().map(|v| v.to_string()).collect(),
            status: FixStatus::Fixed,
            fixed_version: None,
            notes: None,
        }
    }

    fn check(e: &AffectedEntry, scheme: Scheme, version: &str) -> (Verdict, usize) {
        let mut warnings = Vec::new();
        let mut installed = Installed::new(version, scheme);
        let v = evaluate(e, &mut installed, &mut warnings);
        (
            v,
            warnings.len() + usize::from(installed.skipped().is_some()),
        )
    }

    fn yes(fixed: Option<&str>) -> (Verdict, usize) {
        (
            Verdict::Affected {
                fixed: fixed.map(str::to_string),
            },
            0,
        )
    }
    const NO: (Verdict, usize) = (Verdict::NotAffected, 0);

    #[test]
    fn osv_ranges() {
        use RangeType::Ecosystem as E;
        let p = Scheme::Pep440;
        // Two intervals, events out of order in the source.
        let e = entry(
            E,
            &[
                ("fixed", "2.0.3"),
                ("introduced", "2.0"),
                ("fixed", "1.5"),
                ("introduced", "0"),
            ],
            &[],
        );
        assert_eq!(check(&e, p, "0.1"), yes(Some("1.5")));
        assert_eq!(check(&e, p, "1.4.9"), yes(Some("1.5")));
        assert_eq!(check(&e, p, "1.5"), NO);
        assert_eq!(check(&e, p, "1.9"), NO);
        assert_eq!(check(&e, p, "2.0"), yes(Some("2.0.3")));
        assert_eq!(check(&e, p, "2.0.3"), NO);
        // last_affected is inclusive and gives no fix.
        let e = entry(E, &[("introduced", "1.0"), ("last_affected", "1.2")], &[]);
        assert_eq!(check(&e, p, "0.9"), NO);
        assert_eq!(check(&e, p, "1.2"), yes(None));
        assert_eq!(check(&e, p, "1.2.1"), NO);
        // Open-ended.
        let e = entry(E, &[("introduced", "0")], &[]);
        assert_eq!(check(&e, p, "99"), yes(None));
        // limit caps the range.
        let e = entry(E, &[("introduced", "1.0"), ("limit", "2.0")], &[]);
        assert_eq!(check(&e, p, "1.5"), yes(None));
        assert_eq!(check(&e, p, "2.0"), NO);
        // An unparseable event skips the range with a warning, never "equal".
        let e = entry(E, &[("introduced", "0"), ("fixed", "not a version!")], &[]);
        assert_eq!(check(&e, p, "1.0"), (Verdict::NotAffected, 1));
        // An unparseable installed version too.
        let e = entry(E, &[("introduced", "0"), ("fixed", "2")], &[]);
        assert_eq!(check(&e, p, "(devel)"), (Verdict::NotAffected, 1));
        // GIT ranges never match.
        let e = entry(
            RangeType::Git,
            &[("introduced", "0"), ("fixed", "abc")],
            &[],
        );
        assert_eq!(check(&e, p, "1.0"), NO);
        // Explicit versions, compared by the scheme; the fix is the next fixed event.
        let e = entry(
            RangeType::Git,
            &[("introduced", "0"), ("fixed", "abc")],
            &["1.0", "1.1"],
        );
        assert_eq!(check(&e, p, "1.1.0"), yes(None));
        assert_eq!(check(&e, p, "1.2"), NO);
        let mut e = entry(E, &[("introduced", "0"), ("fixed", "bad!")], &["1.0"]);
        e.ranges.push(
            entry(E, &[("introduced", "5"), ("fixed", "5.1")], &[])
                .ranges
                .remove(0),
        );
        assert_eq!(
            check(&e, p, "1.0"),
            (
                Verdict::Affected {
                    fixed: Some("5.1".into())
                },
                1
            )
        );
    }

    #[test]
    fn semver_ranges_in_go() {
        let e = entry(
            RangeType::Semver,
            &[("introduced", "0"), ("fixed", "1.2.3")],
            &[],
        );
        assert_eq!(check(&e, Scheme::Go, "v1.2.2"), yes(Some("1.2.3")));
        assert_eq!(check(&e, Scheme::Go, "v1.2.3"), NO);
        assert_eq!(
            check(&e, Scheme::Go, "v0.0.0-20200101000000-abcdefabcdef"),
            yes(Some("1.2.3"))
        );
    }

    #[test]
    fn apk_distro_entry() {
        let e = entry(
            RangeType::Ecosystem,
            &[("introduced", "0"), ("fixed", "1.1.20-r6")],
            &[],
        );
        assert_eq!(check(&e, Scheme::Apk, "1.1.20-r5"), yes(Some("1.1.20-r6")));
        assert_eq!(check(&e, Scheme::Apk, "1.1.20-r6"), NO);
        assert_eq!(check(&e, Scheme::Apk, "1.1.24-r0"), NO);
    }
}
