//! Maven versions, ordered like `org.apache.maven.artifact.versioning.ComparableVersion`
//! (apache/maven master).
//!
//! A version is a list of items: numbers, qualifiers, letter+number combinations (`rc1`)
//! and nested lists. `.` separates items in a list; `-`, and a change between letters and
//! digits, starts a nested list. Known qualifiers, case-insensitive, in order: `alpha`
//! (`a` before a digit), `beta` (`b`), `milestone` (`m`), `rc` = `cr`, `snapshot`, the
//! release (`""`, `ga`, `final`, `release`), `sp`; unknown qualifiers come after them in
//! lexical order. Trailing zeros and release qualifiers are dropped (`1.0` = `1` = `1-ga`).
//! Non-ASCII digits are not digits here (Maven's `Character.isDigit` in two places would
//! accept them; no real version uses them).

use std::cmp::Ordering;

use crate::digits::{cmp_digits, strip_zeros};
use crate::{Error, Result, Scheme};

/// A qualifier's sort key: a known index (release = 5) or an unknown string after them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Qualifier {
    Known(u8),
    Unknown(Box<str>),
}

const RELEASE: u8 = 5;

impl Qualifier {
    fn new(value: &str, followed_by_digit: bool) -> Self {
        let value = match (followed_by_digit, value) {
            (true, "a") => "alpha",
            (true, "b") => "beta",
            (true, "m") => "milestone",
            (_, "cr") => "rc",
            (_, v) => v,
        };
        match value {
            "alpha" => Qualifier::Known(0),
            "beta" => Qualifier::Known(1),
            "milestone" => Qualifier::Known(2),
            "rc" => Qualifier::Known(3),
            "snapshot" => Qualifier::Known(4),
            "" | "ga" | "final" | "release" => Qualifier::Known(RELEASE),
            "sp" => Qualifier::Known(6),
            other => Qualifier::Unknown(other.into()),
        }
    }

    /// Java's `String.compareTo` of the comparable forms: known indexes as digits before
    /// `"7-" + unknown`, unknown strings by UTF-16 code units.
    fn cmp_key(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Qualifier::Known(a), Qualifier::Known(b)) => a.cmp(b),
            (Qualifier::Known(_), Qualifier::Unknown(_)) => Ordering::Less,
            (Qualifier::Unknown(_), Qualifier::Known(_)) => Ordering::Greater,
            (Qualifier::Unknown(a), Qualifier::Unknown(b)) => {
                a.encode_utf16().cmp(b.encode_utf16())
            }
        }
    }

    fn cmp_null(&self) -> Ordering {
        self.cmp_key(&Qualifier::Known(RELEASE))
    }
}

#[derive(Debug, Clone)]
enum Item {
    /// Digits with leading zeros stripped (empty is zero).
    Num(Box<str>),
    Str(Qualifier),
    Combo(Qualifier, Box<str>),
    List(Vec<Item>),
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Num(d) => d.is_empty(),
            Item::Str(_) | Item::Combo(..) => false,
            Item::List(l) => l.is_empty(),
        }
    }

    fn num(digits: &str) -> Item {
        let stripped = strip_zeros(digits.as_bytes());
        Item::Num(String::from_utf8_lossy(stripped).into())
    }

    /// `Item.compareTo(null)`.
    fn cmp_null(&self) -> Ordering {
        match self {
            Item::Num(d) if d.is_empty() => Ordering::Equal,
            Item::Num(_) => Ordering::Greater,
            Item::Str(q) => q.cmp_null(),
            Item::Combo(q, d) => q.cmp_null().then_with(|| num_cmp_null(d)),
            Item::List(l) => l
                .iter()
                .map(Item::cmp_null)
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal),
        }
    }

    /// `Item.compareTo(item)`.
    fn cmp_item(&self, other: &Item) -> Ordering {
        use Item::*;
        match (self, other) {
            (Num(a), Num(b)) => cmp_digits(a.as_bytes(), b.as_bytes()),
            (Num(_), _) => Ordering::Greater,
            (Str(_) | Combo(..), Num(_)) => Ordering::Less,
            (Str(a), Str(b)) => a.cmp_key(b),
            (Str(a), Combo(bq, bd)) => {
                let r = a.cmp_key(bq);
                if r != Ordering::Equal {
                    r
                } else if a.cmp_null() == Ordering::Equal {
                    num_cmp_null(bd).reverse()
                } else {
                    Ordering::Less
                }
            }
            (Combo(aq, ad), Str(b)) => {
                let r = aq.cmp_key(b);
                if r != Ordering::Equal {
                    r
                } else if aq.cmp_null() == Ordering::Equal {
                    num_cmp_null(ad)
                } else {
                    Ordering::Greater
                }
            }
            (Combo(aq, ad), Combo(bq, bd)) => aq
                .cmp_key(bq)
                .then_with(|| cmp_digits(ad.as_bytes(), bd.as_bytes())),
            (Str(_) | Combo(..), List(_)) => other.cmp_item(self).reverse(),
            (List(_), Num(_)) => Ordering::Less,
            (List(l), Str(_) | Combo(..)) => {
                let mut r = match l.first() {
                    None => other.cmp_null().reverse(),
                    Some(first) => first.cmp_item(other),
                };
                let mut k = 1;
                while r == Ordering::Equal {
                    let Some(item) = l.get(k) else { break };
                    r = item.cmp_null();
                    k += 1;
                }
                r
            }
            (List(a), List(b)) => cmp_lists(a, b),
        }
    }
}

/// `ListItem.compareTo(ListItem)`.
fn cmp_lists(a: &[Item], b: &[Item]) -> Ordering {
    {
        {
            {
                let n = a.len().max(b.len());
                for k in 0..n {
                    let r = match (a.get(k), b.get(k)) {
                        (None, None) => Ordering::Equal,
                        (None, Some(y)) => y.cmp_null().reverse(),
                        (Some(x), None) => x.cmp_null(),
                        (Some(x), Some(y)) => x.cmp_item(y),
                    };
                    if r != Ordering::Equal {
                        return r;
                    }
                }
                Ordering::Equal
            }
        }
    }
}

fn num_cmp_null(d: &str) -> Ordering {
    if d.is_empty() {
        Ordering::Equal
    } else {
        Ordering::Greater
    }
}

/// A parsed Maven version.
#[derive(Debug, Clone)]
pub(crate) struct MavenVersion {
    items: Vec<Item>,
}

/// Lists under construction: an arena, so that nesting needs no pointers.
#[derive(Default)]
struct Builder {
    lists: Vec<Vec<Node>>,
}

enum Node {
    Item(Item),
    List(usize),
}

impl Builder {
    fn new_list(&mut self, parent: usize) -> usize {
        let id = self.lists.len();
        self.lists.push(Vec::new());
        if let Some(p) = self.lists.get_mut(parent) {
            p.push(Node::List(id));
        }
        id
    }

    fn push(&mut self, list: usize, item: Item) {
        if let Some(l) = self.lists.get_mut(list) {
            l.push(Node::Item(item));
        }
    }

    fn is_empty(&self, list: usize) -> bool {
        self.lists.get(list).is_none_or(Vec::is_empty)
    }

    fn take(&mut self, list: usize) -> Vec<Item> {
        let nodes = self
            .lists
            .get_mut(list)
            .map(std::mem::take)
            .unwrap_or_default();
        nodes
            .into_iter()
            .map(|n| match n {
                Node::Item(i) => i,
                Node::List(id) => Item::List(self.take(id)),
            })
            .collect()
    }
}

/// `ListItem.normalize()`, applied to a list whose sub-lists are already normalised.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        let Some(item) = list.get(i) else { continue };
        if item.is_null() {
            let remove = match list.get(i + 1) {
                None => true,
                Some(Item::Str(_)) => true,
                Some(Item::List(next)) => {
                    matches!(next.first(), Some(Item::Combo(..) | Item::Str(_)))
                }
                Some(_) => false,
            };
            if remove {
                list.remove(i);
            }
        }
    }
    if list.len() == 1
        && let Some(Item::List(inner)) = list.first_mut()
    {
        let inner = std::mem::take(inner);
        *list = inner;
    }
}

/// Normalise every list bottom-up (children before parents, as Maven's stack does).
fn normalize_all(items: &mut Vec<Item>) {
    for item in items.iter_mut() {
        if let Item::List(l) = item {
            normalize_all(l);
        }
    }
    normalize(items);
}

fn parse_item(is_combination: bool, is_digit: bool, buf: &str) -> Item {
    if is_combination {
        let buf: String = buf.chars().filter(|&c| c != '-').collect();
        let index = buf.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
        let (s, d) = buf.split_at(index);
        let Item::Num(d) = Item::num(d) else {
            return Item::Str(Qualifier::new(&buf, false));
        };
        Item::Combo(Qualifier::new(s, true), d)
    } else if is_digit {
        Item::num(buf)
    } else {
        Item::Str(Qualifier::new(buf, false))
    }
}

impl MavenVersion {
    /// Parse like `new ComparableVersion(s)`.
    pub(crate) fn parse(s: &str) -> Result<Self> {
        crate::check_len(Scheme::Maven, s)?;
        if s.chars().any(char::is_control) {
            return Err(Error::invalid(Scheme::Maven, s, "control character"));
        }
        let version = s.to_lowercase();
        let v = version.as_str();
        let mut b = Builder::default();
        let root = b.new_list(usize::MAX);
        let mut list = root;
        let mut is_digit = false;
        let mut is_combination = false;
        let mut start = 0;
        let chars: Vec<(usize, char)> = v.char_indices().collect();
        for (k, &(i, c)) in chars.iter().enumerate() {
            let sub = |from: usize, to: usize| v.get(from..to).unwrap_or_default();
            if c == '.' {
                if i == start {
                    b.push(list, Item::Num("".into()));
                } else {
                    b.push(list, parse_item(is_combination, is_digit, sub(start, i)));
                }
                is_combination = false;
                start = i + 1;
            } else if c == '-' {
                if i == start {
                    b.push(list, Item::Num("".into()));
                } else {
                    if !is_digit && chars.get(k + 1).is_some_and(|&(_, n)| n.is_ascii_digit()) {
                        is_combination = true;
                        continue;
                    }
                    b.push(list, parse_item(is_combination, is_digit, sub(start, i)));
                }
                start = i + 1;
                if !b.is_empty(list) {
                    list = b.new_list(list);
                }
                is_combination = false;
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    is_combination = true;
                    if !b.is_empty(list) {
                        list = b.new_list(list);
                    }
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    b.push(list, parse_item(is_combination, true, sub(start, i)));
                    start = i;
                    list = b.new_list(list);
                    is_combination = false;
                }
                is_digit = false;
            }
        }
        if v.len() > start {
            if !is_digit && !b.is_empty(list) {
                list = b.new_list(list);
            }
            b.push(
                list,
                parse_item(is_combination, is_digit, v.get(start..).unwrap_or_default()),
            );
        }
        let mut items = b.take(root);
        normalize_all(&mut items);
        Ok(Self { items })
    }
}

impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MavenVersion {}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_lists(&self.items, &other.items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        crate::compare(Scheme::Maven, a, b).unwrap()
    }

    #[test]
    fn maven_basics() {
        assert_eq!(cmp("1", "1.0.0"), Equal);
        assert_eq!(cmp("1-SNAPSHOT", "1"), Less);
        assert_eq!(cmp("1.0-alpha-1", "1.0-beta-1"), Less);
        assert_eq!(cmp("1-sp", "1"), Greater);
        assert_eq!(cmp("2.0.1-xyz", "2.0.1-123"), Less);
        assert_eq!(cmp("1a1", "1-alpha-1"), Equal);
    }
}
