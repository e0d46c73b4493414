//! Version comparison for the package ecosystems Portcullis matches against.
//!
//! One module per scheme, each following its canonical implementation exactly:
//! [`dpkg`] (dpkg's `verrevcmp`), [`apk`] (apk-tools `version.c`), [`rpm`] (`rpmvercmp` and
//! `labelCompare`), [`semver`] (SemVer 2.0 precedence), [`go`] (`golang.org/x/mod/semver`),
//! [`pep440`] (`packaging.version`), [`npm`] (node-semver, loose parsing) and [`maven`]
//! (Maven's `ComparableVersion`).
//!
//! Use [`compare`] for a one-off comparison, or [`parse`] once and compare the resulting
//! [`Version`] values many times. A string that is not a valid version in its scheme is an
//! [`Error`], never a panic and never a silent "equal". Inputs are capped at
//! [`MAX_VERSION_LEN`] bytes; numeric components of any length compare exactly.

pub mod apk;
mod digits;
pub mod dpkg;
pub mod error;
pub mod go;
pub mod maven;
pub mod npm;
pub mod pep440;
pub mod rpm;
pub mod semver;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

pub use error::{Error, ErrorKind, Result};

/// The longest version string accepted, in bytes.
pub const MAX_VERSION_LEN: usize = 256;

/// A version scheme: how the versions of one ecosystem are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// Debian and Ubuntu packages (`dpkg --compare-versions`).
    Dpkg,
    /// Alpine and Wolfi packages (apk-tools).
    Apk,
    /// RPM-based distributions (`rpmvercmp`, epoch:version-release).
    Rpm,
    /// Strict SemVer 2.0 precedence (crates.io); build metadata ignored.
    Semver,
    /// Go module versions (`golang.org/x/mod/semver`), pseudo-versions included.
    Go,
    /// Python packages (PEP 440, as `packaging.version` implements it).
    Pep440,
    /// npm packages (node-semver, loose parsing).
    Npm,
    /// Maven artifacts (`ComparableVersion`).
    Maven,
}

impl Scheme {
    /// Every scheme, in declaration order.
    pub const ALL: [Scheme; 8] = [
        Scheme::Dpkg,
        Scheme::Apk,
        Scheme::Rpm,
        Scheme::Semver,
        Scheme::Go,
        Scheme::Pep440,
        Scheme::Npm,
        Scheme::Maven,
    ];

    /// The lower-case name used by [`Display`](fmt::Display) and [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Apk => "apk",
            Scheme::Rpm => "rpm",
            Scheme::Semver => "semver",
            Scheme::Go => "go",
            Scheme::Pep440 => "pep440",
            Scheme::Npm => "npm",
            Scheme::Maven => "maven",
        }
    }

    /// The scheme for an OSV ecosystem name, with or without a release suffix
    /// (`"Alpine:v3.20"`, `"Debian:12"`, `"Ubuntu:22.04:LTS"`, `"Red Hat:enterprise_linux:9"`).
    ///
    /// Returns `None` for ecosystems without a comparator yet: RubyGems, NuGet, Packagist,
    /// Hex, Pub, and any name this crate does not know.
    pub fn for_ecosystem(ecosystem: &str) -> Option<Scheme> {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem).trim();
        match base {
            "Alpine" | "Wolfi" | "Chainguard" => Some(Scheme::Apk),
            "Debian" | "Ubuntu" => Some(Scheme::Dpkg),
            "Rocky Linux" | "AlmaLinux" | "Red Hat" | "openSUSE" | "SUSE" | "Mariner"
            | "Azure Linux" | "Photon OS" | "openEuler" | "Oracle Linux" | "Amazon Linux" => {
                Some(Scheme::Rpm)
            }
            "Go" => Some(Scheme::Go),
            "PyPI" => Some(Scheme::Pep440),
            "npm" => Some(Scheme::Npm),
            "crates.io" => Some(Scheme::Semver),
            "Maven" => Some(Scheme::Maven),
            _ => None,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scheme {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Scheme::ALL
            .into_iter()
            .find(|scheme| scheme.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::unknown_scheme(s))
    }
}

/// Reject inputs that are empty or longer than [`MAX_VERSION_LEN`].
pub(crate) fn check_len(scheme: Scheme, s: &str) -> Result<()> {
    if s.len() > MAX_VERSION_LEN {
        return Err(Error::too_long(scheme, s));
    }
    if s.is_empty() {
        return Err(Error::invalid(scheme, s, "empty version"));
    }
    Ok(())
}

/// A parsed version of one scheme: parse once, compare many times.
///
/// Versions of the same scheme are ordered by that scheme's rules; two versions that the
/// scheme considers equal (`1.0` and `1.0.0` in Maven) are `==`. Versions of different
/// schemes are never equal and order by [`Scheme`] first, so that `Ord` stays total.
#[derive(Debug, Clone)]
pub struct Version {
    original: Box<str>,
    parsed: Parsed,
}

#[derive(Debug, Clone)]
enum Parsed {
    Dpkg(dpkg::DpkgVersion),
    Apk(apk::ApkVersion),
    Rpm(rpm::RpmVersion),
    Semver(semver::SemVersion),
    Go(go::GoVersion),
    Pep440(pep440::Pep440Version),
    Npm(npm::NpmVersion),
    Maven(maven::MavenVersion),
}

impl Version {
    /// The scheme this version was parsed with.
    pub fn scheme(&self) -> Scheme {
        match self.parsed {
            Parsed::Dpkg(_) => Scheme::Dpkg,
            Parsed::Apk(_) => Scheme::Apk,
            Parsed::Rpm(_) => Scheme::Rpm,
            Parsed::Semver(_) => Scheme::Semver,
            Parsed::Go(_) => Scheme::Go,
            Parsed::Pep440(_) => Scheme::Pep440,
            Parsed::Npm(_) => Scheme::Npm,
            Parsed::Maven(_) => Scheme::Maven,
        }
    }

    /// The string this version was parsed from, unchanged.
    pub fn as_str(&self) -> &str {
        &self.original
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.original, &other.original);
        match (&self.parsed, &other.parsed) {
            (Parsed::Dpkg(x), Parsed::Dpkg(y)) => x.cmp_with(a, y, b),
            (Parsed::Apk(x), Parsed::Apk(y)) => x.cmp_with(a, y, b),
            (Parsed::Rpm(x), Parsed::Rpm(y)) => x.cmp_with(a, y, b),
            (Parsed::Semver(x), Parsed::Semver(y)) => x.cmp(y),
            (Parsed::Go(x), Parsed::Go(y)) => x.cmp(y),
            (Parsed::Pep440(x), Parsed::Pep440(y)) => x.cmp(y),
            (Parsed::Npm(x), Parsed::Npm(y)) => x.cmp(y),
            (Parsed::Maven(x), Parsed::Maven(y)) => x.cmp(y),
            _ => self.scheme().cmp(&other.scheme()),
        }
    }
}

/// Parse `s` as a version of `scheme`.
pub fn parse(scheme: Scheme, s: &str) -> Result<Version> {
    check_len(scheme, s)?;
    let parsed = match scheme {
        Scheme::Dpkg => Parsed::Dpkg(dpkg::DpkgVersion::parse(s)?),
        Scheme::Apk => Parsed::Apk(apk::ApkVersion::parse(s)?),
        Scheme::Rpm => Parsed::Rpm(rpm::RpmVersion::parse(s)?),
        Scheme::Semver => Parsed::Semver(semver::SemVersion::parse(s)?),
        Scheme::Go => Parsed::Go(go::GoVersion::parse_go(s)?),
        Scheme::Pep440 => Parsed::Pep440(pep440::Pep440Version::parse(s)?),
        Scheme::Npm => Parsed::Npm(npm::NpmVersion::parse(s)?),
        Scheme::Maven => Parsed::Maven(maven::MavenVersion::parse(s)?),
    };
    Ok(Version {
        original: s.into(),
        parsed,
    })
}

/// Compare two version strings of `scheme`. Fails if either is not a valid version.
pub fn compare(scheme: Scheme, a: &str, b: &str) -> Result<Ordering> {
    match scheme {
        // These two compare straight from the strings, without allocating.
        Scheme::Dpkg => dpkg::compare(a, b),
        Scheme::Rpm => rpm::compare(a, b),
        _ => Ok(parse(scheme, a)?.cmp(&parse(scheme, b)?)),
    }
}

/// Asserts that `compare(scheme, a, b)` gives the ordering each case names.
#[cfg(test)]
pub(crate) fn assert_orders(scheme: Scheme, cases: &[(&str, &str, Ordering)]) {
    for &(a, b, want) in cases {
        assert_eq!(
            compare(scheme, a, b).ok(),
            Some(want),
            "{scheme:?}: {a} vs {b}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecosystems_map_to_schemes() {
        assert_eq!(Scheme::for_ecosystem("Alpine:v3.20"), Some(Scheme::Apk));
        assert_eq!(Scheme::for_ecosystem("Alpine"), Some(Scheme::Apk));
        assert_eq!(Scheme::for_ecosystem("Debian:12"), Some(Scheme::Dpkg));
        assert_eq!(
            Scheme::for_ecosystem("Ubuntu:22.04:LTS"),
            Some(Scheme::Dpkg)
        );
        assert_eq!(Scheme::for_ecosystem("Rocky Linux:9"), Some(Scheme::Rpm));
        assert_eq!(Scheme::for_ecosystem("AlmaLinux:8"), Some(Scheme::Rpm));
        assert_eq!(
            Scheme::for_ecosystem("Red Hat:enterprise_linux:9::appstream"),
            Some(Scheme::Rpm)
        );
        assert_eq!(
            Scheme::for_ecosystem("openSUSE:Leap 15.5"),
            Some(Scheme::Rpm)
        );
        assert_eq!(
            Scheme::for_ecosystem("SUSE:Linux Enterprise Server 15"),
            Some(Scheme::Rpm)
        );
        assert_eq!(Scheme::for_ecosystem("Mariner:2.0"), Some(Scheme::Rpm));
        assert_eq!(Scheme::for_ecosystem("Go"), Some(Scheme::Go));
        assert_eq!(Scheme::for_ecosystem("PyPI"), Some(Scheme::Pep440));
        assert_eq!(Scheme::for_ecosystem("npm"), Some(Scheme::Npm));
        assert_eq!(Scheme::for_ecosystem("crates.io"), Some(Scheme::Semver));
        assert_eq!(Scheme::for_ecosystem("Maven"), Some(Scheme::Maven));
        for none in ["RubyGems", "NuGet", "Packagist", "Hex", "Pub", "", "alpine"] {
            assert_eq!(Scheme::for_ecosystem(none), None, "{none}");
        }
    }

    #[test]
    fn scheme_names_round_trip() {
        for scheme in Scheme::ALL {
            assert_eq!(scheme.to_string().parse::<Scheme>().unwrap(), scheme);
        }
        let err = "cobol".parse::<Scheme>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownScheme);
        assert!(err.to_string().contains("\"cobol\""));
    }

    #[test]
    fn errors_name_scheme_and_input() {
        let err = compare(Scheme::Semver, "1.0.0", "1.0").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(err.to_string().contains("semver"), "{err}");
        assert!(err.to_string().contains("\"1.0\""), "{err}");
        let long = "1".repeat(MAX_VERSION_LEN + 1);
        for scheme in Scheme::ALL {
            assert_eq!(parse(scheme, &long).unwrap_err().kind(), ErrorKind::TooLong);
            assert_eq!(parse(scheme, "").unwrap_err().kind(), ErrorKind::Invalid);
        }
    }

    #[test]
    fn different_schemes_are_never_equal() {
        let a = parse(Scheme::Dpkg, "1.0").unwrap();
        let b = parse(Scheme::Rpm, "1.0").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Less);
        assert_eq!(a.as_str(), "1.0");
        assert_eq!(b.scheme(), Scheme::Rpm);
    }
}
