//! A package's affected entries as a lookup returns them, borrowed rather than decoded.
//!
//! [`Database::entries`](crate::Database::entries) copies the package's blob out of the
//! store, checks it once (every table index and string boundary; see the `codec` module)
//! and returns it as [`PackageEntries`]: no allocation per entry. Its
//! [`PackageEntries::iter`] hands out [`EntryRef`] views whose strings are slices of the
//! blob, read by position (fixed-width tables: nothing is parsed again); ranges and
//! versions are read only when their iterators are walked. [`EntryRef::to_entry`] (or
//! [`PackageEntries::to_vec`]) makes owned [`AffectedEntry`] values for callers that keep
//! them.
//!
//! An [`AffectedEntry`] has the same view ([`AffectedEntry::view`]), so code that reads
//! entries takes an [`EntryRef`] and serves both.

use crate::codec::{Corrupt, PackageBlob};
use crate::model::{AffectedEntry, Event, FixStatus, Range, RangeType};

/// The affected entries of one package in one ecosystem, in lookup order (sorted by
/// canonical id, record id and source).
#[derive(Debug, Clone)]
pub struct PackageEntries {
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    /// A checked package blob.
    Blob {
        ecosystem: String,
        blob: PackageBlob,
    },
    /// Owned entries (from an in-memory source).
    Owned(Vec<AffectedEntry>),
}

impl Default for PackageEntries {
    fn default() -> Self {
        Self {
            inner: Inner::Owned(Vec::new()),
        }
    }
}

impl From<Vec<AffectedEntry>> for PackageEntries {
    fn from(entries: Vec<AffectedEntry>) -> Self {
        Self {
            inner: Inner::Owned(entries),
        }
    }
}

impl PartialEq for PackageEntries {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl PackageEntries {
    /// Check a stored package blob of `ecosystem` and keep a copy of it.
    pub(crate) fn from_blob(bytes: &[u8], ecosystem: &str) -> Result<Self, Corrupt> {
        Ok(Self {
            inner: Inner::Blob {
                blob: PackageBlob::parse(bytes)?,
                ecosystem: ecosystem.to_owned(),
            },
        })
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        match &self.inner {
            Inner::Blob { blob, .. } => blob.len(),
            Inner::Owned(entries) => entries.len(),
        }
    }

    /// True when there is no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries, in lookup order, borrowed.
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: match &self.inner {
                Inner::Blob { ecosystem, blob } => IterInner::Blob {
                    blob,
                    ecosystem,
                    defaults: blob.defaults(),
                    at: blob.first_entry(),
                    left: blob.len(),
                },
                Inner::Owned(entries) => IterInner::Owned(entries.iter()),
            },
        }
    }

    /// The entries as owned values.
    pub fn to_vec(&self) -> Vec<AffectedEntry> {
        self.iter().map(|e| e.to_entry()).collect()
    }
}

impl<'a> IntoIterator for &'a PackageEntries {
    type Item = EntryRef<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The iterator of [`PackageEntries::iter`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    inner: IterInner<'a>,
}

#[derive(Debug, Clone)]
enum IterInner<'a> {
    Blob {
        blob: &'a PackageBlob,
        ecosystem: &'a str,
        /// The default source and package name.
        defaults: (&'a str, &'a str),
        /// Where the next entry starts in the blob.
        at: usize,
        /// The entries left.
        left: usize,
    },
    Owned(std::slice::Iter<'a, AffectedEntry>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = EntryRef<'a>;

    // Inlined into the caller's loop, so the entry need not go through memory.
    #[inline(always)]
    fn next(&mut self) -> Option<EntryRef<'a>> {
        match &mut self.inner {
            IterInner::Blob {
                blob,
                ecosystem,
                defaults,
                at,
                left,
            } => {
                *left = left.checked_sub(1)?;
                // The blob was checked throughout when it was read: every index in it is
                // valid.
                let (raw, next) = blob.entry(*at);
                *at = next;
                Some(EntryRef {
                    vuln_id: raw.vuln_id,
                    canonical_id: raw.canonical_id,
                    source: raw.source.unwrap_or(defaults.0),
                    ecosystem,
                    package: raw.package.unwrap_or(defaults.1),
                    status: FixStatus::from_code(i64::from(raw.status)).unwrap_or(FixStatus::Fixed),
                    fixed_version: raw.fixed_version,
                    notes: raw.notes,
                    ranges: if raw.derived {
                        RangesSource::Derived
                    } else {
                        RangesSource::Blob(blob, raw.ranges)
                    },
                    versions: VersionsSource::Blob(blob, raw.versions),
                })
            }
            IterInner::Owned(entries) => entries.next().map(AffectedEntry::view),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            IterInner::Blob { left, .. } => (*left, Some(*left)),
            IterInner::Owned(entries) => entries.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// One affected entry, borrowed: the fields of [`AffectedEntry`], with its ranges and
/// versions behind iterators.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    /// The record's own id.
    pub vuln_id: &'a str,
    /// The record's canonical id.
    pub canonical_id: &'a str,
    /// The source of the record.
    pub source: &'a str,
    /// The ecosystem, with the release for distributions.
    pub ecosystem: &'a str,
    /// The package name, as the source wrote it.
    pub package: &'a str,
    /// Fix status.
    pub status: FixStatus,
    /// The fixed version(s) for display (see [`AffectedEntry::fixed_version`]).
    pub fixed_version: Option<&'a str>,
    /// Free text the source attached.
    pub notes: Option<&'a str>,
    pub(crate) ranges: RangesSource<'a>,
    pub(crate) versions: VersionsSource<'a>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum RangesSource<'a> {
    /// Derived from the status and fixed version (see [`AffectedEntry::distro`]).
    Derived,
    /// A span of a checked blob's range table.
    Blob(&'a PackageBlob, (u32, u32)),
    Owned(&'a [Range]),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum VersionsSource<'a> {
    /// A span of a checked blob's version table.
    Blob(&'a PackageBlob, (u32, u32)),
    Owned(&'a [String]),
}

impl PartialEq for EntryRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        (
            self.vuln_id,
            self.canonical_id,
            self.source,
            self.ecosystem,
            self.package,
            self.status,
            self.fixed_version,
            self.notes,
        ) == (
            other.vuln_id,
            other.canonical_id,
            other.source,
            other.ecosystem,
            other.package,
            other.status,
            other.fixed_version,
            other.notes,
        ) && self.ranges().eq(other.ranges())
            && self.versions().eq(other.versions())
    }
}

impl<'a> From<&'a AffectedEntry> for EntryRef<'a> {
    fn from(entry: &'a AffectedEntry) -> Self {
        entry.view()
    }
}

impl<'a> From<&EntryRef<'a>> for EntryRef<'a> {
    fn from(entry: &EntryRef<'a>) -> Self {
        *entry
    }
}

impl AffectedEntry {
    /// This entry as an [`EntryRef`].
    pub fn view(&self) -> EntryRef<'_> {
        EntryRef {
            vuln_id: &self.vuln_id,
            canonical_id: &self.canonical_id,
            source: &self.source,
            ecosystem: &self.ecosystem,
            package: &self.package,
            status: self.status,
            fixed_version: self.fixed_version.as_deref(),
            notes: self.notes.as_deref(),
            ranges: RangesSource::Owned(&self.ranges),
            versions: VersionsSource::Owned(&self.versions),
        }
    }
}

impl<'a> EntryRef<'a> {
    /// The affected version ranges.
    #[inline]
    pub fn ranges(&self) -> Ranges<'a> {
        Ranges {
            inner: match self.ranges {
                RangesSource::Derived => RangesInner::Derived {
                    status: self.status,
                    fixed: self.fixed_version,
                    done: false,
                },
                RangesSource::Blob(blob, (next, end)) => RangesInner::Blob { blob, next, end },
                RangesSource::Owned(ranges) => RangesInner::Owned(ranges.iter()),
            },
        }
    }

    /// The explicitly listed affected versions.
    #[inline]
    pub fn versions(&self) -> Versions<'a> {
        Versions {
            inner: match self.versions {
                VersionsSource::Blob(blob, (next, end)) => VersionsInner::Blob { blob, next, end },
                VersionsSource::Owned(versions) => VersionsInner::Owned(versions.iter()),
            },
        }
    }

    /// True when the entry lists explicit versions.
    pub fn has_versions(&self) -> bool {
        match self.versions {
            VersionsSource::Blob(_, (start, end)) => start < end,
            VersionsSource::Owned(versions) => !versions.is_empty(),
        }
    }

    /// The entry as an owned value.
    pub fn to_entry(&self) -> AffectedEntry {
        AffectedEntry {
            vuln_id: self.vuln_id.to_owned(),
            canonical_id: self.canonical_id.to_owned(),
            source: self.source.to_owned(),
            ecosystem: self.ecosystem.to_owned(),
            package: self.package.to_owned(),
            ranges: self.ranges().map(|r| r.to_range()).collect(),
            versions: self.versions().map(str::to_owned).collect(),
            status: self.status,
            fixed_version: self.fixed_version.map(str::to_owned),
            notes: self.notes.map(str::to_owned),
        }
    }
}

/// The iterator of [`EntryRef::ranges`].
#[derive(Debug, Clone)]
pub struct Ranges<'a> {
    inner: RangesInner<'a>,
}

#[derive(Debug, Clone)]
enum RangesInner<'a> {
    Derived {
        status: FixStatus,
        fixed: Option<&'a str>,
        done: bool,
    },
    Blob {
        blob: &'a PackageBlob,
        next: u32,
        end: u32,
    },
    Owned(std::slice::Iter<'a, Range>),
}

impl<'a> Iterator for Ranges<'a> {
    type Item = RangeRef<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<RangeRef<'a>> {
        match &mut self.inner {
            RangesInner::Derived {
                status,
                fixed,
                done,
            } => {
                if *done || *status == FixStatus::NotAffected {
                    return None;
                }
                *done = true;
                let fixed = if *status == FixStatus::Fixed {
                    *fixed
                } else {
                    None
                };
                Some(RangeRef {
                    kind: RangeType::Ecosystem,
                    repo: None,
                    events: EventsSource::Derived(fixed),
                })
            }
            RangesInner::Blob { blob, next, end } => {
                if *next >= *end {
                    return None;
                }
                // Checked when the blob was read (see `Iter::next`).
                let (kind, repo, events) = blob.range(*next);
                *next += 1;
                Some(RangeRef {
                    kind,
                    repo,
                    events: EventsSource::Blob(blob, events),
                })
            }
            RangesInner::Owned(ranges) => ranges.next().map(|range| RangeRef {
                kind: range.kind,
                repo: range.repo.as_deref(),
                events: EventsSource::Owned(&range.events),
            }),
        }
    }
}

/// One version range, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct RangeRef<'a> {
    /// How its versions are ordered.
    pub kind: RangeType,
    /// The repository of a GIT range.
    pub repo: Option<&'a str>,
    events: EventsSource<'a>,
}

#[derive(Debug, Clone, Copy)]
enum EventsSource<'a> {
    /// `introduced 0`, then `fixed X` when there is a fix.
    Derived(Option<&'a str>),
    /// A span of a checked blob's event table.
    Blob(&'a PackageBlob, (u32, u32)),
    Owned(&'a [Event]),
}

impl PartialEq for RangeRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.kind, self.repo) == (other.kind, other.repo) && self.events().eq(other.events())
    }
}

impl<'a> RangeRef<'a> {
    /// The events, in the source's order.
    #[inline]
    pub fn events(&self) -> Events<'a> {
        Events {
            inner: match self.events {
                EventsSource::Derived(fixed) => EventsInner::Derived { fixed, next: 0 },
                EventsSource::Blob(blob, (next, end)) => EventsInner::Blob { blob, next, end },
                EventsSource::Owned(events) => EventsInner::Owned(events.iter()),
            },
        }
    }

    /// The range as an owned value.
    pub fn to_range(&self) -> Range {
        Range {
            kind: self.kind,
            repo: self.repo.map(str::to_owned),
            events: self.events().map(|e| e.to_event()).collect(),
        }
    }
}

/// The iterator of [`RangeRef::events`].
#[derive(Debug, Clone)]
pub struct Events<'a> {
    inner: EventsInner<'a>,
}

#[derive(Debug, Clone)]
enum EventsInner<'a> {
    Derived {
        fixed: Option<&'a str>,
        next: u8,
    },
    Blob {
        blob: &'a PackageBlob,
        next: u32,
        end: u32,
    },
    Owned(std::slice::Iter<'a, Event>),
}

impl<'a> Iterator for Events<'a> {
    type Item = EventRef<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<EventRef<'a>> {
        match &mut self.inner {
            EventsInner::Derived { fixed, next } => {
                let event = match (*next, *fixed) {
                    (0, _) => EventRef::Introduced("0"),
                    (1, Some(fixed)) => EventRef::Fixed(fixed),
                    _ => return None,
                };
                *next += 1;
                Some(event)
            }
            EventsInner::Blob { blob, next, end } => {
                if *next >= *end {
                    return None;
                }
                // Checked when the blob was read (see `Iter::next`).
                let (tag, version) = blob.event(*next);
                *next += 1;
                Some(match tag {
                    0 => EventRef::Introduced(version),
                    1 => EventRef::Fixed(version),
                    2 => EventRef::LastAffected(version),
                    _ => EventRef::Limit(version),
                })
            }
            EventsInner::Owned(events) => events.next().map(|event| match event {
                Event::Introduced(v) => EventRef::Introduced(v),
                Event::Fixed(v) => EventRef::Fixed(v),
                Event::LastAffected(v) => EventRef::LastAffected(v),
                Event::Limit(v) => EventRef::Limit(v),
            }),
        }
    }
}

/// One event of a range, borrowed (see [`Event`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRef<'a> {
    /// The first affected version (`0` means every version before the next event).
    Introduced(&'a str),
    /// The first version no longer affected.
    Fixed(&'a str),
    /// The last affected version.
    LastAffected(&'a str),
    /// An upper limit on the range (exclusive).
    Limit(&'a str),
}

impl EventRef<'_> {
    /// The event as an owned value.
    pub fn to_event(self) -> Event {
        match self {
            Self::Introduced(v) => Event::Introduced(v.to_owned()),
            Self::Fixed(v) => Event::Fixed(v.to_owned()),
            Self::LastAffected(v) => Event::LastAffected(v.to_owned()),
            Self::Limit(v) => Event::Limit(v.to_owned()),
        }
    }
}

/// The iterator of [`EntryRef::versions`].
#[derive(Debug, Clone)]
pub struct Versions<'a> {
    inner: VersionsInner<'a>,
}

#[derive(Debug, Clone)]
enum VersionsInner<'a> {
    Blob {
        blob: &'a PackageBlob,
        next: u32,
        end: u32,
    },
    Owned(std::slice::Iter<'a, String>),
}

impl<'a> Iterator for Versions<'a> {
    type Item = &'a str;

    #[inline(always)]
    fn next(&mut self) -> Option<&'a str> {
        match &mut self.inner {
            VersionsInner::Blob { blob, next, end } => {
                if *next >= *end {
                    return None;
                }
                // Checked when the blob was read (see `Iter::next`).
                let version = blob.version(*next);
                *next += 1;
                Some(version)
            }
            VersionsInner::Owned(versions) => versions.next().map(String::as_str),
        }
    }
}
