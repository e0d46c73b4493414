//! Python package versions (PEP 440), parsed and ordered like `packaging.version.Version`.
//!
//! `[v][N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]` with every spelling `packaging`
//! normalises: case-insensitive, `alpha`/`beta`/`c`/`pre`/`preview`, `-`, `_` or `.`
//! separators or none, implicit numbers (`1.0a` = `1.0a0`), `1.0-1` = `1.0.post1`,
//! `rev`/`r` = `post`, surrounding whitespace. Ordering is `packaging`'s `_cmpkey`: epoch,
//! release without trailing zeros, pre-release (a dev release with neither pre nor post
//! sorts before every pre-release), post, dev, then the local label (absent first; numeric
//! segments above alphanumeric ones). Numbers of any length compare exactly.

use std::cmp::Ordering;
use std::ops::Range;

use crate::digits::cmp_digits;
use crate::{Error, Result, Scheme};

/// Pre-release kinds in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PreKind {
    Alpha,
    Beta,
    Rc,
}

/// A pre-release: its kind and where its number sits.
type PreRelease = (PreKind, Range<usize>);

/// A parsed PEP 440 version; numbers are ranges of digits in `text` (empty means 0).
#[derive(Debug, Clone)]
pub(crate) struct Pep440Version {
    text: Box<str>,
    epoch: Range<usize>,
    release: Vec<Range<usize>>,
    pre: Option<PreRelease>,
    post: Option<Range<usize>>,
    dev: Option<Range<usize>>,
    local: Option<Vec<Range<usize>>>,
}

/// Python's `str.isspace()`, which is what `\s` matches in a `str` pattern.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn is_sep(b: Option<&u8>) -> bool {
    matches!(b, Some(b'-' | b'_' | b'.'))
}

fn digits_end(b: &[u8], pos: usize) -> usize {
    let mut i = pos;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

fn word_at(b: &[u8], pos: usize, word: &str) -> bool {
    b.get(pos..pos + word.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

/// The choices `[-_.]?LABEL[-_.]?([0-9]+)?` offers at `pos`, in the regex's order of trial.
/// Each is (end, label index, digits).
fn labelled(b: &[u8], pos: usize, labels: &[&str]) -> Vec<(usize, usize, Range<usize>)> {
    let mut out = Vec::new();
    let seps = if is_sep(b.get(pos)) {
        vec![pos + 1, pos]
    } else {
        vec![pos]
    };
    for p1 in seps {
        for (li, label) in labels.iter().enumerate() {
            if !word_at(b, p1, label) {
                continue;
            }
            let p2 = p1 + label.len();
            let seps2 = if is_sep(b.get(p2)) {
                vec![p2 + 1, p2]
            } else {
                vec![p2]
            };
            for p3 in seps2 {
                let end = digits_end(b, p3);
                if end > p3 {
                    out.push((end, li, p3..end));
                }
                out.push((p3, li, p3..p3));
            }
        }
    }
    out
}

const PRE_LABELS: [&str; 8] = ["a", "b", "c", "rc", "alpha", "beta", "pre", "preview"];
const POST_LABELS: [&str; 3] = ["post", "rev", "r"];

fn pre_kind(label: usize) -> PreKind {
    match PRE_LABELS.get(label) {
        Some(&"a" | &"alpha") => PreKind::Alpha,
        Some(&"b" | &"beta") => PreKind::Beta,
        _ => PreKind::Rc,
    }
}

/// Whether `b[pos..]` is `+[a-z0-9]+([-_.][a-z0-9]+)*` exactly; the segment ranges if so.
fn local_at(b: &[u8], pos: usize) -> Option<Vec<Range<usize>>> {
    if b.get(pos) != Some(&b'+') {
        return None;
    }
    let mut segs = Vec::new();
    let mut start = pos + 1;
    loop {
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            end += 1;
        }
        if end == start {
            return None;
        }
        segs.push(start..end);
        match b.get(end) {
            None => return Some(segs),
            Some(c) if is_sep(Some(c)) => start = end + 1,
            Some(_) => return None,
        }
    }
}

impl Pep440Version {
    /// Parse like `packaging.version.Version(s)`.
    pub(crate) fn parse(s: &str) -> Result<Self> {
        crate::check_len(Scheme::Pep440, s)?;
        let bad = |reason: &str| Error::invalid(Scheme::Pep440, s, reason);
        let body = s.trim_matches(py_space);
        let offset = body.as_ptr() as usize - s.as_ptr() as usize;
        let b = body.as_bytes();
        let mut pos = usize::from(matches!(b.first(), Some(b'v' | b'V')));
        let mut epoch = pos..pos;
        let e_end = digits_end(b, pos);
        if e_end > pos && b.get(e_end) == Some(&b'!') {
            epoch = pos..e_end;
            pos = e_end + 1;
        }
        let mut release = Vec::new();
        loop {
            let end = digits_end(b, pos);
            if end == pos {
                return Err(bad("expected a release number"));
            }
            release.push(pos..end);
            pos = end;
            if b.get(pos) == Some(&b'.') && b.get(pos + 1).is_some_and(u8::is_ascii_digit) {
                pos += 1;
            } else {
                break;
            }
        }
        let mut pres: Vec<(usize, Option<PreRelease>)> = labelled(b, pos, &PRE_LABELS)
            .into_iter()
            .map(|(end, li, n)| (end, Some((pre_kind(li), n))))
            .collect();
        pres.push((pos, None));
        for (p_pre, pre) in pres {
            let mut posts: Vec<(usize, Option<Range<usize>>)> = Vec::new();
            if b.get(p_pre) == Some(&b'-') {
                let end = digits_end(b, p_pre + 1);
                if end > p_pre + 1 {
                    posts.push((end, Some(p_pre + 1..end)));
                }
            }
            posts.extend(
                labelled(b, p_pre, &POST_LABELS)
                    .into_iter()
                    .map(|(end, _, n)| (end, Some(n))),
            );
            posts.push((p_pre, None));
            for (p_post, post) in posts {
                let mut devs: Vec<(usize, Option<Range<usize>>)> = labelled(b, p_post, &["dev"])
                    .into_iter()
                    .map(|(end, _, n)| (end, Some(n)))
                    .collect();
                devs.push((p_post, None));
                for (p_dev, dev) in devs {
                    let local = if p_dev == b.len() {
                        None
                    } else if let Some(segs) = local_at(b, p_dev) {
                        Some(segs)
                    } else {
                        continue;
                    };
                    let shift = |r: &Range<usize>| r.start + offset..r.end + offset;
                    return Ok(Self {
                        text: s.into(),
                        epoch: shift(&epoch),
                        release: release.iter().map(shift).collect(),
                        pre: pre.map(|(k, r)| (k, shift(&r))),
                        post: post.as_ref().map(shift),
                        dev: dev.as_ref().map(shift),
                        local: local.map(|segs| segs.iter().map(shift).collect()),
                    });
                }
            }
        }
        Err(bad("not a PEP 440 version"))
    }

    fn part(&self, r: &Range<usize>) -> &[u8] {
        self.text.as_bytes().get(r.clone()).unwrap_or_default()
    }

    /// `packaging`'s pre-release key: -inf, a value, or +inf.
    fn pre_key(&self) -> (i8, Option<(PreKind, &[u8])>) {
        match &self.pre {
            None if self.post.is_none() && self.dev.is_some() => (-1, None),
            None => (1, None),
            Some((kind, n)) => (0, Some((*kind, self.part(n)))),
        }
    }
}

impl PartialEq for Pep440Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pep440Version {}

impl PartialOrd for Pep440Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pep440Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let ord = cmp_digits(self.part(&self.epoch), other.part(&other.epoch));
        if ord != Ordering::Equal {
            return ord;
        }
        // Comparing with zero padding is comparing with trailing zeros removed.
        let n = self.release.len().max(other.release.len());
        for k in 0..n {
            let x = self.release.get(k).map_or(&b""[..], |r| self.part(r));
            let y = other.release.get(k).map_or(&b""[..], |r| other.part(r));
            let ord = cmp_digits(x, y);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        let (pa, pb) = (self.pre_key(), other.pre_key());
        let ord = pa.0.cmp(&pb.0).then_with(|| match (pa.1, pb.1) {
            (Some((ka, na)), Some((kb, nb))) => ka.cmp(&kb).then_with(|| cmp_digits(na, nb)),
            _ => Ordering::Equal,
        });
        if ord != Ordering::Equal {
            return ord;
        }
        let ord = match (&self.post, &other.post) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => cmp_digits(self.part(x), other.part(y)),
        };
        if ord != Ordering::Equal {
            return ord;
        }
        let ord = match (&self.dev, &other.dev) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => cmp_digits(self.part(x), other.part(y)),
        };
        if ord != Ordering::Equal {
            return ord;
        }
        match (&self.local, &other.local) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => {
                for (sx, sy) in x.iter().zip(y.iter()) {
                    let (sx, sy) = (self.part(sx), other.part(sy));
                    let (nx, ny) = (
                        sx.iter().all(u8::is_ascii_digit),
                        sy.iter().all(u8::is_ascii_digit),
                    );
                    let ord = match (nx, ny) {
                        (true, true) => cmp_digits(sx, sy),
                        (true, false) => Ordering::Greater,
                        (false, true) => Ordering::Less,
                        (false, false) => sx
                            .iter()
                            .map(u8::to_ascii_lowercase)
                            .cmp(sy.iter().map(u8::to_ascii_lowercase)),
                    };
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                x.len().cmp(&y.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        crate::compare(Scheme::Pep440, a, b).unwrap()
    }

    #[test]
    fn pep440_order() {
        let chain = [
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.1.dev1",
            "1!0.1",
        ];
        for w in chain.windows(2) {
            assert_eq!(cmp(w[0], w[1]), Less, "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn normalised_spellings() {
        assert_eq!(cmp("1.0-RC1", "1.0rc1"), Equal);
        assert_eq!(cmp("1.0c1", "1.0rc1"), Equal);
        assert_eq!(cmp("1.0.preview.2", "1.0rc2"), Equal);
        assert_eq!(cmp("v1.0", "1.0.0"), Equal);
        assert_eq!(cmp("1.0-1", "1.0.post1"), Equal);
        assert_eq!(cmp("1.0r", "1.0.post0"), Equal);
        assert_eq!(cmp(" 1.0a ", "1.0a0"), Equal);
        assert_eq!(cmp("1.0+ABC", "1.0+abc"), Equal);
        assert_eq!(cmp("1.0_dev-3", "1.0.dev3"), Equal);
        for bad in [
            "", "a", "1.0+", "1.0+a..b", "1.0.", "1.0 a", "1.0-", "1!", "1.0x",
        ] {
            assert!(Pep440Version::parse(bad).is_err(), "{bad:?}");
        }
    }
}
