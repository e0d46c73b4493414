//! Property tests for every scheme: parsing never panics, and comparison is a total order
//! (reflexive, antisymmetric, transitive) on whatever parses.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Ordering;

use portcullis_versions::{Scheme, parse};
use proptest::prelude::*;

/// Version-like strings: digits, separators and the letters and words schemes care about.
fn versionish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "0",
        "1",
        "2",
        "9",
        "10",
        "01",
        "00",
        "123456789012345678901234567890",
        ".",
        "-",
        "_",
        "+",
        "~",
        "^",
        ":",
        "!",
        "a",
        "b",
        "c",
        "p",
        "r",
        "v",
        "=",
        "rc",
        "alpha",
        "beta",
        "pre",
        "post",
        "dev",
        "git",
        "snapshot",
        "sp",
        "ga",
        "final",
        "cr",
        "m",
        "x",
        "A",
        "é",
        " ",
    ]);
    prop::collection::vec(atoms, 1..12).prop_map(|parts| parts.concat())
}

fn check_order(scheme: Scheme, a: &str, b: &str, c: &str) {
    let (Ok(x), Ok(y), Ok(z)) = (parse(scheme, a), parse(scheme, b), parse(scheme, c)) else {
        return;
    };
    assert_eq!(x.cmp(&x), Ordering::Equal, "{scheme} reflexive {a}");
    assert_eq!(
        x.cmp(&y),
        y.cmp(&x).reverse(),
        "{scheme} antisymmetric {a} {b}"
    );
    let (xy, yz, xz) = (x.cmp(&y), y.cmp(&z), x.cmp(&z));
    if xy != Ordering::Greater && yz != Ordering::Greater {
        let want = if xy == Ordering::Equal && yz == Ordering::Equal {
            Ordering::Equal
        } else {
            Ordering::Less
        };
        if xy == Ordering::Equal || yz == Ordering::Equal {
            assert_eq!(
                xz,
                if xy == Ordering::Equal { yz } else { xy },
                "{scheme} {a} {b} {c}"
            );
        } else {
            assert_eq!(xz, want, "{scheme} transitive {a} < {b} < {c}");
        }
    }
    assert_eq!(x.clone(), x, "{scheme} eq {a}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_any_string(s in ".{0,300}") {
        for scheme in Scheme::ALL {
            let _ = parse(scheme, &s);
        }
    }

    #[test]
    fn comparison_is_a_total_order(a in versionish(), b in versionish(), c in versionish()) {
        for scheme in Scheme::ALL {
            check_order(scheme, &a, &b, &c);
            check_order(scheme, &a, &a, &b);
        }
    }

    #[test]
    fn similar_versions_order_consistently(
        base in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}",
        s1 in prop::sample::select(vec!["", "-1", "~rc1", "a", "-r1", "_p1", "-alpha", "rc1", ".post1", "-SNAPSHOT", "+b1"]),
        s2 in prop::sample::select(vec!["", "-2", "~", "b", "-r0", "_alpha", "-beta.1", "a1", ".dev1", "-sp", "^1"]),
        s3 in prop::sample::select(vec!["", ".0", "-0", "~1", "c", "_rc2", "-rc.1", "b2", "+local", "-1-1", ".1"]),
    ) {
        let (a, b, c) = (format!("{base}{s1}"), format!("{base}{s2}"), format!("{base}{s3}"));
        for scheme in Scheme::ALL {
            check_order(scheme, &a, &b, &c);
        }
    }
}
