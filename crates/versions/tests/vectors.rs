//! Test vectors taken from the canonical projects' own test suites, for the schemes
//! without a reference tool on this machine: apk-tools (`tests/data/apk-version.data.txt`),
//! Maven's `ComparableVersionTest` (Apache-2.0, apache/maven master,
//! `compat/maven-artifact/.../ComparableVersionTest.java`) and `golang.org/x/mod/semver`'s
//! `semver_test.go` (BSD-3-Clause). Fetched through the search tool; data only.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Ordering;

use portcullis_versions::{Scheme, compare, parse};

fn expect(scheme: Scheme, a: &str, b: &str, want: Ordering) {
    let got = compare(scheme, a, b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got, want, "{scheme}: {a} vs {b}");
    let back = compare(scheme, b, a).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, want.reverse(), "{scheme}: {b} vs {a}");
}

#[test]
fn apk_tools_vectors() {
    let data = include_str!("data/apk-version.data.txt");
    let (mut ordered, mut valid, mut invalid, mut fuzzy) = (0, 0, 0, 0);
    for line in data.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [v] => {
                if let Some(bad) = v.strip_prefix('!') {
                    assert!(
                        parse(Scheme::Apk, bad).is_err(),
                        "{bad:?} should be invalid"
                    );
                    invalid += 1;
                } else {
                    assert!(parse(Scheme::Apk, v).is_ok(), "{v:?} should be valid");
                    valid += 1;
                }
            }
            [a, op, b] => {
                let want = match *op {
                    "<" => Ordering::Less,
                    ">" => Ordering::Greater,
                    "=" => Ordering::Equal,
                    // Fuzzy (prefix) matching is a dependency operator, not an ordering.
                    _ => {
                        fuzzy += 1;
                        continue;
                    }
                };
                // apk-tools itself flags these rows' right-hand sides as invalid versions.
                if ["1.0bc", "23_foo"].contains(a) || ["1.0bc", "23_foo"].contains(b) {
                    assert!(compare(Scheme::Apk, a, b).is_err(), "{line}");
                    continue;
                }
                expect(Scheme::Apk, a, b, want);
                ordered += 1;
            }
            _ => panic!("bad fixture line {line:?}"),
        }
    }
    assert_eq!((ordered, valid, invalid, fuzzy), (713, 6, 25, 16));
}

#[test]
fn maven_comparable_version_vectors() {
    use Ordering::*;
    let qualifiers = [
        "1-alpha2snapshot",
        "1-alpha2",
        "1-alpha-123",
        "1-beta-2",
        "1-beta123",
        "1-m2",
        "1-m11",
        "1-rc",
        "1-cr2",
        "1-rc123",
        "1-SNAPSHOT",
        "1",
        "1-sp",
        "1-sp2",
        "1-sp123",
        "1-abc",
        "1-def",
        "1-pom-1",
        "1-1-snapshot",
        "1-1",
        "1-2",
        "1-123",
    ];
    let numbers = [
        "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c", "2.1-1",
        "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2", "11.m11", "11",
        "11.a", "11b", "11c", "11m",
    ];
    for list in [&qualifiers[..], &numbers[..]] {
        for (i, low) in list.iter().enumerate() {
            for high in &list[i + 1..] {
                expect(Scheme::Maven, low, high, Less);
            }
        }
    }
    let equal = [
        ("1", "1"),
        ("1", "1.0"),
        ("1", "1.0.0"),
        ("1.0", "1.0.0"),
        ("1", "1-0"),
        ("1", "1.0-0"),
        ("1.0", "1.0-0"),
        ("1a", "1-a"),
        ("1a", "1.0-a"),
        ("1a", "1.0.0-a"),
        ("1.0a", "1-a"),
        ("1.0.0a", "1-a"),
        ("1x", "1-x"),
        ("1x", "1.0-x"),
        ("1x", "1.0.0-x"),
        ("1.0x", "1-x"),
        ("1.0.0x", "1-x"),
        ("1cr", "1rc"),
        ("1a1", "1-alpha-1"),
        ("1b2", "1-beta-2"),
        ("1m3", "1-milestone-3"),
        ("1X", "1x"),
        ("1A", "1a"),
        ("1B", "1b"),
        ("1M", "1m"),
        ("1Cr", "1Rc"),
        ("1cR", "1rC"),
        ("1m3", "1Milestone3"),
        ("1m3", "1MileStone3"),
        ("1m3", "1MILESTONE3"),
        ("1ga", "1"),
        ("1release", "1"),
        ("1final", "1"),
        ("1Ga", "1"),
        ("1GA", "1"),
        ("1RELEASE", "1"),
        ("1RELeaSE", "1"),
        ("1Final", "1"),
        ("1FinaL", "1"),
        ("1FINAL", "1"),
        (
            "1-abcdefghijklmnopqrstuvwxyz",
            "1-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ),
        ("1.0.0-alpha1", "1.0.0-ALPHA1"),
        ("1.a", "1.A"),
        ("1.é", "1.É"),
    ];
    for (a, b) in equal {
        expect(Scheme::Maven, a, b, Equal);
    }
    let ordered = [
        ("1", "2"),
        ("1.5", "2"),
        ("1", "2.5"),
        ("1.0", "1.1"),
        ("1.1", "1.2"),
        ("1.0.0", "1.1"),
        ("1.0.1", "1.1"),
        ("1.1", "1.2.0"),
        ("1.0-alpha-1", "1.0"),
        ("1.0-alpha-1", "1.0-alpha-2"),
        ("1.0-alpha-1", "1.0-beta-1"),
        ("1.0-beta-1", "1.0-SNAPSHOT"),
        ("1.0-SNAPSHOT", "1.0"),
        ("1.0-alpha-1-SNAPSHOT", "1.0-alpha-1"),
        ("1.0", "1.0-1"),
        ("1.0-1", "1.0-2"),
        ("1.0.0", "1.0-1"),
        ("2.0-1", "2.0.1"),
        ("2.0.1-klm", "2.0.1-lmn"),
        ("2.0.1", "2.0.1-xyz"),
        ("2.0.1", "2.0.1-123"),
        ("2.0.1-xyz", "2.0.1-123"),
        ("0.7", "2"),
        ("0.2", "1.0.7"),
        ("é", "1"),
        ("J", "7"),
        ("c", "7"),
        ("\u{0668}", "1"),
        ("\u{0668}", "9"),
        ("aardvark", "zebra"),
        ("zebra", "ζέβρα"),
        // MNG-5568
        ("6.1.0rc3", "6.1.0"),
        ("6.1.0rc3", "6.1H.5-beta"),
        ("6.1.0", "6.1H.5-beta"),
        // MNG-6572
        ("20190126.230843", "1234567890.12345"),
        ("1234567890.12345", "123456789012345.1H.5-beta"),
        ("20190126.230843", "123456789012345.1H.5-beta"),
        (
            "123456789012345.1H.5-beta",
            "12345678901234567890.1H.5-beta",
        ),
        ("1234567890.12345", "12345678901234567890.1H.5-beta"),
        ("20190126.230843", "12345678901234567890.1H.5-beta"),
        // MNG-6964
        ("1-0.alpha", "1"),
        ("1-0.beta", "1"),
        ("1-0.alpha", "1-0.beta"),
        // MNG-7714
        ("1.0.final-redhat", "1.0-sp1-redhat"),
        ("1.0.final-redhat", "1.0-sp-1-redhat"),
        ("1.0.final-redhat", "1.0-sp.1-redhat"),
    ];
    for (a, b) in ordered {
        expect(Scheme::Maven, a, b, Less);
    }
    // MNG-7644: 1.0.0.X1 < 1.0.0-X2, and 2-X == 2.0.X == 2.0.0.X.
    for x in [
        "abc",
        "alpha",
        "a",
        "beta",
        "b",
        "def",
        "milestone",
        "m",
        "RC",
    ] {
        expect(
            Scheme::Maven,
            &format!("1.0.0.{x}1"),
            &format!("1.0.0-{x}2"),
            Less,
        );
        expect(Scheme::Maven, &format!("2-{x}"), &format!("2.0.{x}"), Equal);
        expect(
            Scheme::Maven,
            &format!("2-{x}"),
            &format!("2.0.0.{x}"),
            Equal,
        );
        expect(
            Scheme::Maven,
            &format!("2.0.{x}"),
            &format!("2.0.0.{x}"),
            Equal,
        );
    }
    // Leading zeros, lengths 1 to 19.
    for n in 1..=19 {
        let ones = format!("{}1", "0".repeat(n - 1));
        let zeros = "0".repeat(n);
        expect(Scheme::Maven, &ones, "1", Equal);
        expect(Scheme::Maven, &zeros, "0", Equal);
    }
}

#[test]
fn go_x_mod_semver_vectors() {
    // In order; "" marks an invalid version. Equal canonical forms compare equal.
    let tests = [
        ("bad", ""),
        ("v1-alpha.beta.gamma", ""),
        ("v1-pre", ""),
        ("v1+meta", ""),
        ("v1-pre+meta", ""),
        ("v1.2-pre", ""),
        ("v1.2+meta", ""),
        ("v1.2-pre+meta", ""),
        ("v1.0.0-alpha", "v1.0.0-alpha"),
        ("v1.0.0-alpha.1", "v1.0.0-alpha.1"),
        ("v1.0.0-alpha.beta", "v1.0.0-alpha.beta"),
        ("v1.0.0-beta", "v1.0.0-beta"),
        ("v1.0.0-beta.2", "v1.0.0-beta.2"),
        ("v1.0.0-beta.11", "v1.0.0-beta.11"),
        ("v1.0.0-rc.1", "v1.0.0-rc.1"),
        ("v1", "v1.0.0"),
        ("v1.0", "v1.0.0"),
        ("v1.0.0", "v1.0.0"),
        ("v1.2", "v1.2.0"),
        ("v1.2.0", "v1.2.0"),
        ("v1.2.3-456", "v1.2.3-456"),
        ("v1.2.3-456.789", "v1.2.3-456.789"),
        ("v1.2.3-456-789", "v1.2.3-456-789"),
        ("v1.2.3-456a", "v1.2.3-456a"),
        ("v1.2.3-pre", "v1.2.3-pre"),
        ("v1.2.3-pre+meta", "v1.2.3-pre"),
        ("v1.2.3-pre.1", "v1.2.3-pre.1"),
        ("v1.2.3-zzz", "v1.2.3-zzz"),
        ("v1.2.3", "v1.2.3"),
        ("v1.2.3+meta", "v1.2.3"),
        ("v1.2.3+meta-pre", "v1.2.3"),
        ("v1.2.3+meta-pre.sha.256a", "v1.2.3"),
    ];
    for (input, canonical) in tests {
        assert_eq!(
            parse(Scheme::Go, input).is_ok(),
            !canonical.is_empty(),
            "{input}"
        );
    }
    let valid: Vec<(usize, &str, &str)> = tests
        .iter()
        .enumerate()
        .filter(|(_, (_, c))| !c.is_empty())
        .map(|(i, (v, c))| (i, *v, *c))
        .collect();
    for &(i, a, ca) in &valid {
        for &(j, b, cb) in &valid {
            let want = if ca == cb { Ordering::Equal } else { i.cmp(&j) };
            assert_eq!(compare(Scheme::Go, a, b).unwrap(), want, "{a} vs {b}");
        }
    }
    // semver_test.go's extra rows. The stored copy lists ("v1.19", "v1.2", -1), but
    // Compare orders numbers by value (compareInt: length, then digits), so v1.19 > v1.2.
    let extra = [
        ("v1", "v1", Ordering::Equal),
        ("v2", "v1", Ordering::Greater),
        ("v1", "v2", Ordering::Less),
        ("v1.19", "v1.2", Ordering::Greater),
    ];
    for (a, b, want) in extra {
        assert_eq!(compare(Scheme::Go, a, b).unwrap(), want, "{a} vs {b}");
    }
}
