//! What the rpm distributions need beyond a name and a version: which Red Hat repository
//! streams an image's content sets select, and module builds kept apart from the rest.
//!
//! **Content sets.** Red Hat files each repository apart
//! (`Red Hat:enterprise_linux:9::appstream`, `::baseos`, ...). Images built by Red Hat (UBI
//! and everything built on it) name the repositories their rpms came from in content
//! manifests ([`portcullis_catalog::os::CONTENT_MANIFESTS`], read into
//! [`Os::content_sets`]); [`content_set_stream`] maps each content set to its stream and
//! [`select_streams`] keeps only those. Without manifests, every stream is used.
//!
//! **Modules.** A module build's release carries `.module+el8.9.0+…` (Red Hat, Rocky, Oracle)
//! or `.module_el8.9.0+…` (AlmaLinux), and such an rpm has a `MODULARITYLABEL`. A fix built
//! in a module stream says nothing about the non-modular package of the same name (and the
//! reverse): [`applies`] keeps an entry only for packages of its own kind.

use std::collections::BTreeSet;

use portcullis_catalog::{Ecosystem, Extra, Os, OsFamily, Package};
#[cfg(test)]
use portcullis_vulndb::{AffectedEntry, Event};
use portcullis_vulndb::{EntryRef, EventRef};

/// The repository stream (the `<stream>` of `Red Hat:enterprise_linux:<major>::<stream>`) of
/// a Red Hat content set of major release `major`, or `None` when it is not a Red Hat
/// Enterprise Linux repository of that release.
///
/// A content set is a RHEL or UBI repository when its first dash-separated word is `rhel`,
/// `ubi` or `codeready` and its release follows the word `rhel` or `ubi`
/// (`rhel-9-for-x86_64-baseos-rpms`, `ubi-8-for-aarch64-appstream-source-rpms`,
/// `codeready-builder-for-rhel-9-x86_64-rpms`); other products' repositories
/// (`rhocp-4.14-for-rhel-9-x86_64-rpms`, `rhel-7-server-extras-rpms`,
/// `rhel-server-rhscl-7-rpms`) are not RHEL streams. The stream is the first of these words
/// found:
///
/// | word(s) in the content set | stream |
/// |---|---|
/// | `baseos` | `baseos` |
/// | `appstream` | `appstream` |
/// | `codeready` (`codeready-builder`), `crb` | `crb` |
/// | `highavailability` | `highavailability` |
/// | `resilientstorage` | `resilientstorage` |
/// | `sap` and `solutions` | `sap_hana` |
/// | `sap` (`sap-netweaver`) | `sap` |
/// | `nfv` | `nfv` |
/// | `rt` | `realtime` |
/// | `supplementary` | `supplementary` |
/// | `server`, `workstation`, `client`, `computenode` (`hpc-node`) | the same (RHEL 7 and older) |
///
/// Approximated: EUS, AUS, E4S and TUS repositories (`rhel-9-for-x86_64-baseos-eus-rpms`)
/// map to the major release's stream (`baseos`), since the `Red Hat:rhel_eus:…` ecosystems
/// are not looked up; RHEL 7's `optional` repositories map to their variant (`server`).
pub fn content_set_stream(content_set: &str, major: &str) -> Option<&'static str> {
    let lower = content_set.trim().to_ascii_lowercase();
    let words: Vec<&str> = lower.split('-').collect();
    if !matches!(words.first(), Some(&("rhel" | "ubi" | "codeready"))) {
        return None;
    }
    let release = words
        .windows(2)
        .find(|pair| matches!(pair[0], "rhel" | "ubi"))
        .map(|pair| pair[1]);
    if release != Some(major) || words.contains(&"extras") {
        return None;
    }
    STREAM_WORDS
        .iter()
        .find(|(needed, _)| needed.iter().all(|word| words.contains(word)))
        .map(|(_, stream)| *stream)
}

/// The words of a content set that name its stream, first match wins (see
/// [`content_set_stream`]).
const STREAM_WORDS: &[(&[&str], &str)] = &[
    (&["baseos"], "baseos"),
    (&["appstream"], "appstream"),
    (&["codeready"], "crb"),
    (&["crb"], "crb"),
    (&["highavailability"], "highavailability"),
    (&["resilientstorage"], "resilientstorage"),
    (&["sap", "solutions"], "sap_hana"),
    (&["sap"], "sap"),
    (&["nfv"], "nfv"),
    (&["rt"], "realtime"),
    (&["supplementary"], "supplementary"),
    (&["server"], "server"),
    (&["workstation"], "workstation"),
    (&["client"], "client"),
    (&["computenode"], "computenode"),
    (&["hpc"], "computenode"),
];

/// The streams of `streams` (Red Hat ecosystems of `os`'s release, see
/// [`crate::ecosystem::os_stream_prefix`]) that `os`'s content sets select (see
/// [`content_set_stream`]). Unchanged when `os` is not Red Hat or has no content sets; when
/// none of its content sets is a stream of its release, unchanged and a warning says so.
pub fn select_streams(os: &Os, streams: Vec<String>, warnings: &mut Vec<String>) -> Vec<String> {
    if os.family != OsFamily::Rhel || os.content_sets.is_empty() {
        return streams;
    }
    let Some(major) = os.major_version() else {
        return streams;
    };
    let wanted: BTreeSet<&str> = os
        .content_sets
        .iter()
        .filter_map(|set| content_set_stream(set, major))
        .collect();
    if wanted.is_empty() {
        warnings.push(format!(
            "the content sets {} name no Red Hat Enterprise Linux {major} repository; every \
             repository stream of the release is used",
            os.content_sets.join(", ")
        ));
        return streams;
    }
    streams
        .into_iter()
        .filter(|stream| {
            stream
                .rsplit_once("::")
                .is_some_and(|(_, name)| wanted.contains(name))
        })
        .collect()
}

/// Is this rpm version (or release) a module build's (`.module+el8…`, `.module_el8…`)?
pub fn is_module_build(version: &str) -> bool {
    version.contains(".module+") || version.contains(".module_")
}

/// Whether `package` is a module build, for the distributions whose advisories tell module
/// builds apart by their release (Red Hat, AlmaLinux, Rocky Linux, Oracle Linux): its
/// `MODULARITYLABEL` or, without one, its release says. `None` for other packages.
pub fn installed_module_build(os: Option<&Os>, package: &Package) -> Option<bool> {
    let family = os?.family;
    if package.ecosystem != Ecosystem::Rpm
        || !matches!(
            family,
            OsFamily::Rhel | OsFamily::Almalinux | OsFamily::Rocky | OsFamily::Oracle
        )
    {
        return None;
    }
    let labelled = matches!(
        &package.extra,
        Extra::Rpm { modularity_label: Some(label), .. } if !label.trim().is_empty()
    );
    Some(labelled || is_module_build(&package.version))
}

/// Whether `entry`'s versions are module builds: `Some(true)` when every version it names
/// is, `Some(false)` when none is, `None` when it names none (every version affected) or
/// both kinds.
fn entry_module_build(entry: EntryRef<'_>) -> Option<bool> {
    let events = entry.ranges().flat_map(|r| r.events());
    let versions = events
        .filter_map(|event| match event {
            EventRef::Introduced(v) | EventRef::Limit(v) if v == "0" || v == "*" => None,
            EventRef::Introduced(v)
            | EventRef::Fixed(v)
            | EventRef::LastAffected(v)
            | EventRef::Limit(v) => Some(v),
        })
        .chain(entry.versions());
    let mut kinds = versions.map(is_module_build);
    let first = kinds.next()?;
    kinds.all(|kind| kind == first).then_some(first)
}

/// Does `entry` speak of packages of `installed`'s kind ([`installed_module_build`])? An
/// entry of module builds does not apply to a non-modular package, nor the reverse; an
/// entry naming no version, or both kinds, applies to both.
pub fn applies<'e>(installed: Option<bool>, entry: impl Into<EntryRef<'e>>) -> bool {
    let Some(installed) = installed else {
        return true;
    };
    match entry_module_build(entry.into()) {
        Some(entry) => installed == entry,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use portcullis_catalog::os::from_os_release;
    use portcullis_vulndb::{FixStatus, Vulnerability};

    use super::*;

    #[test]
    fn content_sets_to_streams() {
        let cases = [
            ("rhel-9-for-x86_64-baseos-rpms", Some("baseos")),
            ("rhel-9-for-aarch64-baseos-source-rpms", Some("baseos")),
            ("rhel-9-for-x86_64-appstream-rpms", Some("appstream")),
            ("rhel-9-for-x86_64-appstream-debug-rpms", Some("appstream")),
            ("ubi-9-for-x86_64-baseos-rpms", Some("baseos")),
            ("ubi-9-for-s390x-appstream-rpms", Some("appstream")),
            ("codeready-builder-for-rhel-9-x86_64-rpms", Some("crb")),
            ("codeready-builder-for-ubi-9-x86_64-rpms", Some("crb")),
            (
                "rhel-9-for-x86_64-highavailability-rpms",
                Some("highavailability"),
            ),
            (
                "rhel-9-for-x86_64-resilientstorage-rpms",
                Some("resilientstorage"),
            ),
            ("rhel-9-for-x86_64-sap-solutions-rpms", Some("sap_hana")),
            ("rhel-9-for-x86_64-sap-netweaver-rpms", Some("sap")),
            ("rhel-9-for-x86_64-nfv-rpms", Some("nfv")),
            ("rhel-9-for-x86_64-rt-rpms", Some("realtime")),
            (
                "rhel-9-for-x86_64-supplementary-rpms",
                Some("supplementary"),
            ),
            ("RHEL-9-FOR-X86_64-BASEOS-EUS-RPMS", Some("baseos")),
            // Another release, other products: not a stream of RHEL 9.
            ("rhel-8-for-x86_64-baseos-rpms", None),
            ("rhocp-4.14-for-rhel-9-x86_64-rpms", None),
            (
                "ansible-automation-platform-2.4-for-rhel-9-x86_64-rpms",
                None,
            ),
            ("rhel-9-for-x86_64-unknown-rpms", None),
            ("rhel-for-x86_64-baseos-rpms", None),
            ("", None),
        ];
        for (set, stream) in cases {
            assert_eq!(content_set_stream(set, "9"), stream, "{set}");
        }
        let rhel7 = [
            ("rhel-7-server-rpms", Some("server")),
            ("rhel-7-server-optional-rpms", Some("server")),
            ("rhel-7-workstation-rpms", Some("workstation")),
            ("rhel-7-hpc-node-rpms", Some("computenode")),
            ("rhel-7-server-extras-rpms", None),
            ("rhel-server-rhscl-7-rpms", None),
        ];
        for (set, stream) in rhel7 {
            assert_eq!(content_set_stream(set, "7"), stream, "{set}");
        }
    }

    fn rhel(content_sets: &[&str]) -> Os {
        let mut os = from_os_release("ID=rhel\nVERSION_ID=9.4\n", "etc/os-release").unwrap();
        os.content_sets = content_sets.iter().map(|s| s.to_string()).collect();
        os
    }

    #[test]
    fn content_sets_select_streams() {
        let all: Vec<String> = ["appstream", "baseos", "crb", "sap"]
            .iter()
            .map(|s| format!("Red Hat:enterprise_linux:9::{s}"))
            .collect();
        let mut warnings = Vec::new();
        let ubi = rhel(&[
            "rhel-9-for-x86_64-appstream-rpms",
            "rhel-9-for-x86_64-baseos-rpms",
        ]);
        assert_eq!(
            select_streams(&ubi, all.clone(), &mut warnings),
            [
                "Red Hat:enterprise_linux:9::appstream",
                "Red Hat:enterprise_linux:9::baseos"
            ]
        );
        assert!(warnings.is_empty());
        // No content sets: every stream.
        assert_eq!(select_streams(&rhel(&[]), all.clone(), &mut warnings), all);
        assert!(warnings.is_empty());
        // Content sets of nothing known: every stream, and a warning.
        let odd = rhel(&["rhocp-4.14-for-rhel-9-x86_64-rpms"]);
        assert_eq!(select_streams(&odd, all.clone(), &mut warnings), all);
        assert_eq!(
            warnings,
            [
                "the content sets rhocp-4.14-for-rhel-9-x86_64-rpms name no Red Hat Enterprise \
              Linux 9 repository; every repository stream of the release is used"
            ]
        );
        // Not Red Hat: untouched.
        let mut alma = from_os_release("ID=almalinux\nVERSION_ID=9.4\n", "x").unwrap();
        alma.content_sets = vec!["rhel-9-for-x86_64-baseos-rpms".into()];
        let alma_streams = vec!["AlmaLinux:9".to_string()];
        assert_eq!(
            select_streams(&alma, alma_streams.clone(), &mut Vec::new()),
            alma_streams
        );
    }

    fn entry(events: Vec<Event>) -> AffectedEntry {
        let vuln = Vulnerability::new("RHSA-1", "osv:Red Hat");
        let mut entry = AffectedEntry::distro(&vuln, "x", "nodejs", FixStatus::Fixed, None);
        entry.ranges[0].events = events;
        entry
    }

    #[test]
    fn module_builds_apply_to_module_builds() {
        let modular = "1:18.20.2-2.module+el9.4.0+21731+46b5c8a7";
        let alma_modular = "1:18.20.2-1.module_el9.4.0+105+bc2d7ab0";
        let plain = "1:16.20.2-8.el9_4";
        let fixed = |v: &str| entry(vec![Event::Introduced("0".into()), Event::Fixed(v.into())]);
        for (installed, fix, applies_) in [
            (Some(false), plain, true),
            (Some(false), modular, false),
            (Some(false), alma_modular, false),
            (Some(true), plain, false),
            (Some(true), modular, true),
            (Some(true), alma_modular, true),
            (None, modular, true),
            (None, plain, true),
        ] {
            assert_eq!(
                applies(installed, &fixed(fix)),
                applies_,
                "{installed:?} {fix}"
            );
        }
        // No version named (affected, no fix), or both kinds: applies to both.
        let unfixed = entry(vec![Event::Introduced("0".into())]);
        let mixed = entry(vec![
            Event::Introduced("0".into()),
            Event::Fixed(plain.into()),
            Event::Introduced(modular.into()),
        ]);
        for installed in [Some(true), Some(false)] {
            assert!(applies(installed, &unfixed));
            assert!(applies(installed, &mixed));
        }
    }

    #[test]
    fn installed_module_builds() {
        let os = |id: &str| from_os_release(&format!("ID={id}\nVERSION_ID=9\n"), "x").unwrap();
        let rpm = |version: &str, label: Option<&str>| Package {
            ecosystem: Ecosystem::Rpm,
            name: "nodejs".into(),
            version: version.into(),
            arch: None,
            location: "var/lib/rpm/rpmdb.sqlite".into(),
            source_name: None,
            source_version: None,
            licenses: vec![],
            purl: String::new(),
            layer: None,
            extra: Extra::Rpm {
                epoch: Some(1),
                version: "18".into(),
                release: "1".into(),
                modularity_label: label.map(str::to_string),
                source_rpm: None,
            },
        };
        let labelled = rpm("1:18.20.2-2.el9", Some("nodejs:18:9040020240508:rhel9"));
        let by_release = rpm("1:18.20.2-2.module+el9.4.0+21731+46b5c8a7", None);
        let plain = rpm("1:16.20.2-8.el9_4", None);
        let empty_label = rpm("1:16.20.2-8.el9_4", Some(""));
        for id in ["rhel", "almalinux", "rocky", "ol"] {
            let os = os(id);
            assert_eq!(installed_module_build(Some(&os), &labelled), Some(true));
            assert_eq!(installed_module_build(Some(&os), &by_release), Some(true));
            assert_eq!(installed_module_build(Some(&os), &plain), Some(false));
            assert_eq!(installed_module_build(Some(&os), &empty_label), Some(false));
        }
        for id in ["sles", "azurelinux", "fedora"] {
            assert_eq!(
                installed_module_build(Some(&os(id)), &labelled),
                None,
                "{id}"
            );
        }
        assert_eq!(installed_module_build(None, &labelled), None);
    }
}
