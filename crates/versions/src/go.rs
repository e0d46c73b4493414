//! Go module versions, ordered like `golang.org/x/mod/semver.Compare`.
//!
//! SemVer 2.0 with a `v` prefix, plus the shorthands `vMAJOR` and `vMAJOR.MINOR` (read as
//! `.0.0` and `.0`; they take no pre-release or build). `+incompatible` is build metadata
//! and so ignored; pseudo-versions (`v0.0.0-20210101000000-abcdef123456`,
//! `v1.2.4-0.20210101000000-abcdef123456`) are pre-releases and order by their timestamp.
//!
//! The `v` is optional here, because OSV's Go records write versions without it (`1.2.3`,
//! and `0` for "from the beginning"); with or without it, the rest must be valid.

use crate::semver::{Grammar, SemVersion};
use crate::{Result, Scheme};

/// A parsed Go module version.
pub(crate) type GoVersion = SemVersion;

impl GoVersion {
    /// Parse a Go module version.
    pub(crate) fn parse_go(s: &str) -> Result<Self> {
        SemVersion::parse_with(s, Grammar::Go, Scheme::Go)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Scheme, compare};
    use std::cmp::Ordering::*;

    #[test]
    fn go_rules() {
        let c = |a, b| compare(Scheme::Go, a, b).unwrap();
        assert_eq!(c("v1", "v1.0.0"), Equal);
        assert_eq!(c("v1.2", "v1.2.0"), Equal);
        assert_eq!(c("1.2.3", "v1.2.3"), Equal);
        assert_eq!(c("0", "v0.0.0-20200101000000-abcdefabcdef"), Greater);
        assert_eq!(c("v2.0.0+incompatible", "v2.0.0"), Equal);
        assert_eq!(c("v1.2.4-0.20210101000000-abcdef123456", "v1.2.3"), Greater);
        assert_eq!(
            c("v1.2.4-0.20210101000000-abcdef123456", "v1.2.4-pre"),
            Less
        );
        assert_eq!(c("v1.19", "v1.2"), Greater);
        for bad in [
            "bad",
            "v1-pre",
            "v1.2-pre",
            "v1+meta",
            "v01.0.0",
            "vv1",
            "v1.0.0-01",
        ] {
            assert!(compare(Scheme::Go, bad, "v1").is_err(), "{bad:?}");
        }
    }
}
