//! Which advisory ecosystem and package key an installed package is looked up under.
//!
//! OS packages match only their own distribution's release, by source package name:
//! Alpine by apk origin in `Alpine:v<major>.<minor>`, Debian by source name in
//! `Debian:<major>`, Ubuntu in `Ubuntu:<version>[:LTS]`, and the rpm distributions OSV
//! publishes (`Rocky Linux:<major>`, `AlmaLinux:<major>`, `Mariner:<version>`, `Azure
//! Linux:<version>`, `Photon OS:<version>`, `openSUSE:Leap <version>`, and `Oracle
//! Linux:<major>`, `Amazon Linux:<2|2023>` of the ELSA and ALAS importers) by source rpm name
//! **and** binary rpm name ([`queries_for`]): AlmaLinux's and Rocky's records name binary
//! rpms (`openssl-libs`), Red Hat's either. Nothing else: no CPEs, no name guessing across distributions. Language packages match
//! OSV by ecosystem and name (PyPI names are PEP 503-normalised by the database, Go by
//! module path, Maven as `group:artifact`).

use packageurl::PackageUrl;
use portcullis_catalog::{Ecosystem, Extra, Os, OsFamily, Package};

/// Where to look a package up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    /// The advisory ecosystem (`Alpine:v3.20`, `Debian:12`, `PyPI`, ...).
    pub ecosystem: String,
    /// The package key (source package for distributions).
    pub package: String,
    /// The version to evaluate (the source version for Debian and Ubuntu).
    pub version: String,
}

/// The advisory ecosystem of `os`'s own packages, or `None` when there is no data source
/// for it (or not enough version information).
pub fn os_ecosystem(os: &Os) -> Option<String> {
    let version = os.version_id.as_deref().filter(|v| !v.is_empty());
    let major = os.major_version();
    match os.family {
        OsFamily::Alpine => os.alpine_branch().map(|b| format!("Alpine:{b}")),
        OsFamily::Wolfi => Some("Wolfi".into()),
        OsFamily::Chainguard => Some("Chainguard".into()),
        OsFamily::Debian => major
            .filter(|m| m.bytes().all(|b| b.is_ascii_digit()))
            .map(|m| format!("Debian:{m}")),
        OsFamily::Ubuntu => version.map(|v| {
            if is_ubuntu_lts(v) {
                format!("Ubuntu:{v}:LTS")
            } else {
                format!("Ubuntu:{v}")
            }
        }),
        OsFamily::Rocky => major.map(|m| format!("Rocky Linux:{m}")),
        OsFamily::Almalinux => major.map(|m| format!("AlmaLinux:{m}")),
        // CBL-Mariner 2 is Azure Linux 2: OSV files both as `Azure Linux:<major>`.
        OsFamily::Mariner | OsFamily::Azurelinux => major.map(|m| format!("Azure Linux:{m}")),
        // Oracle's ELSA OVAL and Amazon's ALAS (`oracle-oval`, `alas:<release>`) file by
        // major release; Amazon Linux 1 (`2018.03`) is `Amazon Linux:1`.
        OsFamily::Oracle => major
            .filter(|m| m.bytes().all(|b| b.is_ascii_digit()))
            .map(|m| format!("Oracle Linux:{m}")),
        OsFamily::Amazon => major
            .and_then(amazon_release)
            .map(|r| format!("Amazon Linux:{r}")),
        // Photon's CVE metadata (`photon:<version>`) and OSV file by `VERSION_ID` (`5.0`).
        OsFamily::Photon => version.map(|v| format!("Photon OS:{v}")),
        OsFamily::OpensuseLeap => version.map(|v| format!("openSUSE:Leap {v}")),
        OsFamily::OpensuseTumbleweed => Some("openSUSE:Tumbleweed".into()),
        // Red Hat files each repository apart (`Red Hat:enterprise_linux:9::appstream`,
        // `::baseos`, ...): this is the family of them, see [`os_streams`].
        OsFamily::Rhel => major
            .filter(|m| m.bytes().all(|b| b.is_ascii_digit()))
            .map(|m| format!("Red Hat:enterprise_linux:{m}")),
        // SUSE files packages under the product or module that ships them (`SUSE:Linux
        // Enterprise Module for Basesystem 15 SP5`, `... Server 15 SP5-LTSS`): this names the
        // service pack, see [`os_streams`].
        // SLE Micro files packages under the release itself (`SUSE:Linux Enterprise Micro
        // 5.5`, `SUSE:Linux Micro 6.0`).
        OsFamily::Sles if os.id == "sle-micro" => {
            version.map(|v| format!("SUSE:Linux Enterprise Micro {v}"))
        }
        OsFamily::Sles if os.id == "sl-micro" => version.map(|v| format!("SUSE:Linux Micro {v}")),
        OsFamily::Sles => version
            .and_then(sles_release)
            .map(|r| format!("SUSE:Linux Enterprise Server {r}")),
        _ => None,
    }
}

/// Amazon Linux's release from the first part of `VERSION_ID`: `2`, `2023` (`2023.4.2024…`
/// from `system-release`), and `1` for the Amazon Linux AMI's `2018.03`.
fn amazon_release(major: &str) -> Option<&str> {
    match major.parse::<u32>().ok()? {
        2 => Some("2"),
        2011..=2018 => Some("1"),
        2022.. => Some(major),
        _ => None,
    }
}

/// `15 SP5` from SLES's `VERSION_ID` `15.5` (`15` stays `15`).
fn sles_release(version: &str) -> Option<String> {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    match version.split_once('.') {
        Some((major, "0")) if digits(major) => Some(major.to_string()),
        Some((major, sp)) if digits(major) && digits(sp) => Some(format!("{major} SP{sp}")),
        None if digits(version) => Some(version.to_string()),
        _ => None,
    }
}

/// For an OS ecosystem of [`os_ecosystem`] whose data is filed under several ecosystems, the
/// prefix every one of them starts with (the database is asked which exist); `None` when the
/// OS ecosystem is the only one.
///
/// - `Red Hat:enterprise_linux:<major>`: every repository stream of that major release
///   (`Red Hat:enterprise_linux:<major>::appstream`, `::baseos`, `::crb`, ...). The rpm
///   database does not record which repository a package came from, so all are used unless
///   the image's content manifests name its repositories
///   ([`crate::rpm::select_streams`]); the EUS/AUS/E4S streams of minor releases
///   (`Red Hat:rhel_eus:9.2::...`) are not.
/// - `SUSE:Linux Enterprise Server <major> SP<n>`: every SUSE product and module of that
///   service pack (see [`os_stream_matches`]), since base packages are filed under the module
///   that ships them.
pub fn os_stream_prefix(os_ecosystem: &str) -> Option<String> {
    if os_ecosystem.starts_with("Red Hat:enterprise_linux:") {
        Some(format!("{os_ecosystem}::"))
    } else if os_ecosystem.starts_with("SUSE:Linux Enterprise Server ") {
        Some("SUSE:".to_string())
    } else {
        None
    }
}

/// True when `candidate` (an ecosystem under [`os_stream_prefix`]) belongs to
/// `os_ecosystem`: any Red Hat stream of the prefix; a SUSE product or module of the same
/// release, with or without a support suffix (`15 SP5`, `15 SP5-LTSS`).
pub fn os_stream_matches(os_ecosystem: &str, candidate: &str) -> bool {
    let Some(prefix) = os_stream_prefix(os_ecosystem) else {
        return candidate == os_ecosystem;
    };
    if !candidate.starts_with(&prefix) {
        return false;
    }
    match os_ecosystem.strip_prefix("SUSE:Linux Enterprise Server ") {
        Some(release) => {
            let name = candidate.trim_start_matches("SUSE:");
            name.ends_with(&format!(" {release}")) || name.contains(&format!(" {release}-"))
        }
        None => true,
    }
}

/// Ubuntu LTS releases are the `.04` releases of even years.
fn is_ubuntu_lts(version: &str) -> bool {
    let mut parts = version.split('.');
    let year = parts.next().and_then(|y| y.parse::<u32>().ok());
    matches!((year, parts.next()), (Some(y), Some("04")) if y % 2 == 0)
}

/// The package format an OS family's packages come in.
fn os_format(family: OsFamily) -> Option<Ecosystem> {
    match family {
        OsFamily::Alpine | OsFamily::Wolfi | OsFamily::Chainguard => Some(Ecosystem::Apk),
        OsFamily::Debian | OsFamily::Ubuntu => Some(Ecosystem::Deb),
        OsFamily::Other => None,
        _ => Some(Ecosystem::Rpm),
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// Where to look `package` up, given the image's OS. `None` when it cannot be matched
/// (an OS package with no OS, or of another distribution's format; a Maven artifact
/// without a group).
pub fn query_for(package: &Package, os: Option<&Os>) -> Option<Query> {
    let name = package.name.as_str();
    let version = package.version.clone();
    let lang = |ecosystem: &str, package: String| {
        Some(Query {
            ecosystem: ecosystem.to_string(),
            package,
            version: version.clone(),
        })
    };
    match package.ecosystem {
        Ecosystem::Python => lang("PyPI", name.to_string()),
        Ecosystem::Npm => lang("npm", name.to_string()),
        Ecosystem::Cargo => lang("crates.io", name.to_string()),
        Ecosystem::Go => lang("Go", name.to_string()),
        Ecosystem::Java => maven_name(package).and_then(|n| lang("Maven", n)),
        Ecosystem::Apk | Ecosystem::Deb | Ecosystem::Rpm => {
            let os = os?;
            if os_format(os.family) != Some(package.ecosystem) {
                return None;
            }
            let ecosystem = os_ecosystem(os)?;
            let (key, version) = match package.ecosystem {
                Ecosystem::Apk => {
                    let origin = match &package.extra {
                        Extra::Apk { origin, .. } => non_empty(origin.as_deref()),
                        _ => None,
                    };
                    let key = origin
                        .or(non_empty(package.source_name.as_deref()))
                        .unwrap_or(name);
                    (key.to_string(), version)
                }
                Ecosystem::Deb => (
                    non_empty(package.source_name.as_deref())
                        .unwrap_or(name)
                        .to_string(),
                    non_empty(package.source_version.as_deref()).map_or(version, str::to_string),
                ),
                _ => (
                    non_empty(package.source_name.as_deref())
                        .unwrap_or(name)
                        .to_string(),
                    version,
                ),
            };
            Some(Query {
                ecosystem,
                package: key,
                version,
            })
        }
    }
}

/// Every place `package` is looked up: [`query_for`], plus, for an rpm whose binary name
/// differs from its source rpm's name, the same ecosystem under the binary name (rpm
/// advisories name source or binary packages). Empty when it cannot be matched.
pub fn queries_for(package: &Package, os: Option<&Os>) -> Vec<Query> {
    let Some(first) = query_for(package, os) else {
        return Vec::new();
    };
    let binary =
        (package.ecosystem == Ecosystem::Rpm && first.package != package.name).then(|| Query {
            ecosystem: first.ecosystem.clone(),
            package: package.name.clone(),
            version: first.version.clone(),
        });
    std::iter::once(first).chain(binary).collect()
}

/// `group:artifact` from a Maven purl (`pkg:maven/org.example/lib@1.0`), percent-decoded.
fn maven_name(package: &Package) -> Option<String> {
    let purl: PackageUrl<'static> = package.purl.parse().ok()?;
    if purl.ty() != "maven" {
        return None;
    }
    let group = purl.namespace().filter(|group| !group.is_empty())?;
    Some(format!("{group}:{}", purl.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(id: &str, version: &str) -> Os {
        let text = format!("ID={id}\nVERSION_ID={version}\n");
        portcullis_catalog::os::from_os_release(&text, "etc/os-release").unwrap()
    }

    fn package(ecosystem: Ecosystem, name: &str, source: Option<&str>, purl: &str) -> Package {
        let mut package = Package::new(ecosystem, name, "1.0-1", "x", purl.into(), Extra::None);
        package.source_name = source.map(str::to_string);
        package.source_version = Some("1.0-1+src".into());
        package
    }

    #[test]
    fn os_ecosystems() {
        assert_eq!(
            os_ecosystem(&os("alpine", "3.9.6")).as_deref(),
            Some("Alpine:v3.9")
        );
        assert_eq!(
            os_ecosystem(&os("debian", "12")).as_deref(),
            Some("Debian:12")
        );
        assert_eq!(
            os_ecosystem(&os("ubuntu", "22.04")).as_deref(),
            Some("Ubuntu:22.04:LTS")
        );
        assert_eq!(
            os_ecosystem(&os("ubuntu", "23.10")).as_deref(),
            Some("Ubuntu:23.10")
        );
        assert_eq!(
            os_ecosystem(&os("rocky", "9.3")).as_deref(),
            Some("Rocky Linux:9")
        );
        assert_eq!(
            os_ecosystem(&os("mariner", "2.0")).as_deref(),
            Some("Azure Linux:2")
        );
        assert_eq!(
            os_ecosystem(&os("azurelinux", "3.0")).as_deref(),
            Some("Azure Linux:3")
        );
        assert_eq!(
            os_ecosystem(&os("almalinux", "9.8")).as_deref(),
            Some("AlmaLinux:9")
        );
        assert_eq!(
            os_ecosystem(&os("opensuse-leap", "15.5")).as_deref(),
            Some("openSUSE:Leap 15.5")
        );
        assert_eq!(
            os_ecosystem(&os("opensuse-tumbleweed", "20240801")).as_deref(),
            Some("openSUSE:Tumbleweed")
        );
        assert_eq!(
            os_ecosystem(&os("rhel", "9.4")).as_deref(),
            Some("Red Hat:enterprise_linux:9")
        );
        assert_eq!(
            os_ecosystem(&os("sles", "15.5")).as_deref(),
            Some("SUSE:Linux Enterprise Server 15 SP5")
        );
        assert_eq!(
            os_ecosystem(&os("sles", "15")).as_deref(),
            Some("SUSE:Linux Enterprise Server 15")
        );
        assert_eq!(os_ecosystem(&os("sles", "x.5")), None);
        let table = [
            ("ol", "9.3", "Oracle Linux:9"),
            ("ol", "8", "Oracle Linux:8"),
            ("amzn", "2", "Amazon Linux:2"),
            ("amzn", "2023", "Amazon Linux:2023"),
            ("amzn", "2023.4.20240401", "Amazon Linux:2023"),
            ("amzn", "2018.03", "Amazon Linux:1"),
            ("photon", "5.0", "Photon OS:5.0"),
            ("photon", "3.0", "Photon OS:3.0"),
            ("sle-micro", "5.5", "SUSE:Linux Enterprise Micro 5.5"),
            ("sl-micro", "6.0", "SUSE:Linux Micro 6.0"),
        ];
        for (id, version, want) in table {
            assert_eq!(
                os_ecosystem(&os(id, version)).as_deref(),
                Some(want),
                "{id} {version}"
            );
        }
        assert_eq!(os_ecosystem(&os("amzn", "7")), None);
        assert_eq!(os_ecosystem(&os("ol", "x")), None);
        assert_eq!(os_ecosystem(&os("centos", "7")), None);
        assert_eq!(os_ecosystem(&os("plan9", "4")), None);
    }

    #[test]
    fn queries() {
        let debian = os("debian", "12");
        let mut apk = package(Ecosystem::Apk, "musl-utils", None, "");
        apk.extra = Extra::Apk {
            origin: Some("musl".into()),
            commit: None,
        };
        // An apk package on Debian is never matched.
        assert_eq!(query_for(&apk, Some(&debian)), None);
        assert_eq!(query_for(&apk, None), None);
        let q = query_for(&apk, Some(&os("alpine", "3.20.3"))).unwrap();
        assert_eq!(
            (q.ecosystem.as_str(), q.package.as_str(), q.version.as_str()),
            ("Alpine:v3.20", "musl", "1.0-1")
        );
        let deb = package(Ecosystem::Deb, "libssl3", Some("openssl"), "");
        let q = query_for(&deb, Some(&debian)).unwrap();
        assert_eq!(
            (q.ecosystem.as_str(), q.package.as_str(), q.version.as_str()),
            ("Debian:12", "openssl", "1.0-1+src")
        );
        let jar = package(
            Ecosystem::Java,
            "log4j-core",
            None,
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
        );
        assert_eq!(
            query_for(&jar, None).unwrap().package,
            "org.apache.logging.log4j:log4j-core"
        );
        let bare = package(Ecosystem::Java, "x", None, "pkg:maven/x@1");
        assert_eq!(query_for(&bare, None), None);
        let encoded = package(
            Ecosystem::Java,
            "x",
            None,
            "pkg:maven/org.ex%61mple/a%2Bb@1",
        );
        assert_eq!(
            query_for(&encoded, None).unwrap().package,
            "org.example:a+b"
        );
        let broken = package(Ecosystem::Java, "x", None, "pkg:maven/org%FF/x@1");
        assert_eq!(query_for(&broken, None), None);
        let py = package(Ecosystem::Python, "jinja2", None, "pkg:pypi/jinja2@1");
        assert_eq!(query_for(&py, Some(&debian)).unwrap().ecosystem, "PyPI");
    }

    #[test]
    fn streams_of_red_hat_and_suse() {
        let rhel = "Red Hat:enterprise_linux:9";
        assert_eq!(
            os_stream_prefix(rhel).as_deref(),
            Some("Red Hat:enterprise_linux:9::")
        );
        assert!(os_stream_matches(
            rhel,
            "Red Hat:enterprise_linux:9::appstream"
        ));
        assert!(os_stream_matches(
            rhel,
            "Red Hat:enterprise_linux:9::baseos"
        ));
        assert!(!os_stream_matches(
            rhel,
            "Red Hat:enterprise_linux:8::baseos"
        ));
        assert!(!os_stream_matches(rhel, "Red Hat:rhel_eus:9.2::baseos"));
        let sles = "SUSE:Linux Enterprise Server 15 SP5";
        assert_eq!(os_stream_prefix(sles).as_deref(), Some("SUSE:"));
        assert!(os_stream_matches(sles, sles));
        assert!(os_stream_matches(
            sles,
            "SUSE:Linux Enterprise Server 15 SP5-LTSS"
        ));
        assert!(os_stream_matches(
            sles,
            "SUSE:Linux Enterprise Module for Basesystem 15 SP5"
        ));
        assert!(!os_stream_matches(
            sles,
            "SUSE:Linux Enterprise Module for Basesystem 15 SP50"
        ));
        assert!(!os_stream_matches(
            sles,
            "SUSE:Linux Enterprise Server 15 SP4"
        ));
        assert!(!os_stream_matches(
            sles,
            "SUSE:Linux Enterprise Server 12 SP5"
        ));
        assert_eq!(os_stream_prefix("AlmaLinux:9"), None);
        assert!(os_stream_matches("AlmaLinux:9", "AlmaLinux:9"));
    }

    #[test]
    fn rpm_queries_name_source_and_binary() {
        let alma = os("almalinux", "9.3");
        let key = |q: &Query| (q.ecosystem.clone(), q.package.clone(), q.version.clone());
        let libs = package(Ecosystem::Rpm, "openssl-libs", Some("openssl"), "");
        let got: Vec<_> = queries_for(&libs, Some(&alma)).iter().map(key).collect();
        let want = |p: &str| {
            (
                "AlmaLinux:9".to_string(),
                p.to_string(),
                "1.0-1".to_string(),
            )
        };
        assert_eq!(got, vec![want("openssl"), want("openssl-libs")]);
        // Binary and source of the same name: one query.
        let same = package(Ecosystem::Rpm, "openssl", Some("openssl"), "");
        let got: Vec<_> = queries_for(&same, Some(&alma)).iter().map(key).collect();
        assert_eq!(got, vec![want("openssl")]);
        // dpkg stays by source name only.
        let deb = package(Ecosystem::Deb, "libssl3", Some("openssl"), "");
        assert_eq!(queries_for(&deb, Some(&os("debian", "12"))).len(), 1);
        assert!(queries_for(&libs, None).is_empty());
    }
}
