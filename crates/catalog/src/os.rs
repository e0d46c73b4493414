//! Operating system detection from `os-release` and the distributions' own release files.

use portcullis_oci::FileSet;
use serde::Deserialize;

use crate::warning::{Warning, Warnings};

/// The files OS detection reads.
pub const PATTERNS: &[&str] = &[
    "etc/os-release",
    "usr/lib/os-release",
    "etc/alpine-release",
    "etc/debian_version",
    "etc/redhat-release",
    "etc/system-release",
    "etc/oracle-release",
    "etc/centos-release",
    "etc/photon-release",
    CONTENT_MANIFESTS,
];

/// Red Hat's content manifests, shipped by UBI and other Red Hat built images: JSON objects
/// whose `content_sets` array names the repositories (content sets) the image's rpms came
/// from, e.g. `rhel-9-for-x86_64-baseos-rpms`. Each image layer built by Red Hat adds one.
pub const CONTENT_MANIFESTS: &str = "root/buildinfo/content_manifests/*.json";
/// The directory of [`CONTENT_MANIFESTS`].
const CONTENT_MANIFEST_DIR: &str = "root/buildinfo/content_manifests/";
/// Content manifests larger than this are not parsed (real ones are a few kilobytes); the
/// image reader drops the content of bigger ones as soon as it is read (see
/// [`is_oversized_content_manifest`]).
pub const MAX_CONTENT_MANIFEST: usize = 256 * 1024;

/// Symlink hops followed when resolving a release file.
const MAX_HOPS: u32 = 40;
/// Release files larger than this are not parsed.
const MAX_RELEASE_FILE: usize = 64 * 1024;

pub use portcullis_types::os::{Os, OsFamily};

/// Debian release numbers and their codenames.
const DEBIAN_CODENAMES: &[(&str, &str)] = &[
    ("7", "wheezy"),
    ("8", "jessie"),
    ("9", "stretch"),
    ("10", "buster"),
    ("11", "bullseye"),
    ("12", "bookworm"),
    ("13", "trixie"),
    ("14", "forky"),
];

/// The codename of a Debian major release (`12` or `12.5` -> `bookworm`; `sid` -> `sid`).
pub fn debian_codename(version: &str) -> Option<&'static str> {
    let version = version.trim();
    if version.starts_with("sid") || version == "unstable" {
        return Some("sid");
    }
    let major = version.split('.').next().unwrap_or(version);
    DEBIAN_CODENAMES
        .iter()
        .find(|(number, _)| *number == major)
        .map(|(_, name)| *name)
}

/// Read a release file (following symlinks). Problems become warnings.
fn read_text(files: &FileSet, path: &str, report: &mut Warnings) -> Option<(String, String)> {
    match files.resolve(path, MAX_HOPS) {
        Ok(Some(file)) => match file.data() {
            Some(data) if data.len() <= MAX_RELEASE_FILE => Some((
                file.path.clone(),
                String::from_utf8_lossy(data).into_owned(),
            )),
            // The OS decides which advisories apply: not knowing it is an error.
            Some(data) => {
                report.push(Warning::error(
                    path,
                    format!(
                        "release file of {} bytes, more than the {MAX_RELEASE_FILE} allowed; the OS is unknown",
                        data.len()
                    ),
                ));
                None
            }
            None => {
                let why = match &file.content {
                    portcullis_oci::FileContent::Skipped { reason, .. } => reason.as_str(),
                    portcullis_oci::FileContent::Data(_) => "",
                };
                report.push(Warning::error(
                    path,
                    format!("release file not read ({why}); the OS is unknown"),
                ));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            report.push(Warning::error(path, e.to_string()));
            None
        }
    }
}

/// Parse os-release `KEY=value` lines (values may be quoted with `"` or `'`).
pub fn parse_os_release(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        out.push((key.trim().to_string(), unquote(value.trim())));
    }
    out
}

fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if let (Some(&first), Some(&last)) = (bytes.first(), bytes.last())
        && value.len() >= 2
        && first == last
        && (first == b'"' || first == b'\'')
    {
        let inner = value.get(1..value.len() - 1).unwrap_or("");
        if first == b'\'' {
            return inner.to_string();
        }
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else {
                out.push(c);
            }
        }
        return out;
    }
    value.to_string()
}

fn non_empty(value: String) -> Option<String> {
    if value.is_empty() { None } else { Some(value) }
}

/// Build an [`Os`] from os-release content.
pub fn from_os_release(text: &str, source_file: &str) -> Option<Os> {
    let fields = parse_os_release(text);
    let get = |key: &str| {
        fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| non_empty(v.clone()))
    };
    let id = get("ID")?;
    let mut os = Os::new(&id, source_file);
    os.id_like = get("ID_LIKE")
        .map(|l| {
            l.split_whitespace()
                .map(|s| s.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    os.name = get("NAME");
    os.version = get("VERSION");
    os.version_id = get("VERSION_ID");
    os.codename = get("VERSION_CODENAME");
    os.pretty_name = get("PRETTY_NAME");
    Some(os)
}

/// Parse a `redhat-release` / `system-release` / `oracle-release` / `centos-release` line
/// such as `Rocky Linux release 8.9 (Green Obsidian)`, `Amazon Linux release 2 (Karoo)`, or
/// the first line of `photon-release` (`VMware Photon OS 5.0`).
pub fn from_redhat_release(text: &str, source_file: &str) -> Option<Os> {
    let line = text.lines().next()?.trim();
    let lower = line.to_ascii_lowercase();
    let id = if lower.starts_with("red hat") {
        "rhel"
    } else if lower.starts_with("centos") {
        "centos"
    } else if lower.starts_with("rocky") {
        "rocky"
    } else if lower.starts_with("almalinux") {
        "almalinux"
    } else if lower.starts_with("oracle") {
        "ol"
    } else if lower.starts_with("fedora") {
        "fedora"
    } else if lower.starts_with("amazon") {
        "amzn"
    } else if lower.starts_with("vmware photon") {
        "photon"
    } else {
        return None;
    };
    let mut os = Os::new(id, source_file);
    // `VMware Photon OS 5.0` has no ` release `: the version is the last word.
    let after = match lower.split_once(" release ") {
        Some((_, after)) => after,
        None if id == "photon" => lower
            .rsplit(' ')
            .next()
            .filter(|v| v.bytes().next().is_some_and(|b| b.is_ascii_digit()))?,
        None => return None,
    };
    let version = after.split_whitespace().next()?.to_string();
    os.version_id = Some(version.clone());
    os.version = Some(version);
    if let (Some(open), Some(close)) = (line.find('('), line.rfind(')'))
        && open < close
    {
        os.codename = line.get(open + 1..close).map(str::to_string);
    }
    os.pretty_name = Some(line.to_string());
    os.name = line.split(" release ").next().map(str::to_string);
    if id == "photon" {
        os.name = Some("VMware Photon OS".to_owned());
    }
    Some(os)
}

/// Detect the OS of the files: `os-release` first, then the distributions' own files.
pub fn detect(files: &FileSet, report: &mut Warnings) -> Option<Os> {
    let os_release = read_text(files, "etc/os-release", report)
        .or_else(|| read_text(files, "usr/lib/os-release", report));
    let mut os = os_release.and_then(|(path, text)| {
        let found = from_os_release(&text, &path);
        if found.is_none() {
            report.push(Warning::new(&path, "os-release has no ID"));
        }
        found
    });
    if os.is_none()
        && let Some((path, text)) = read_text(files, "etc/alpine-release", report)
    {
        let mut alpine = Os::new("alpine", &path);
        alpine.version_id = non_empty(text.trim().to_string());
        alpine.name = Some("Alpine Linux".into());
        os = Some(alpine);
    }
    let debian_version = read_text(files, "etc/debian_version", report);
    if os.is_none()
        && let Some((path, text)) = &debian_version
    {
        let mut debian = Os::new("debian", path);
        debian.name = Some("Debian GNU/Linux".into());
        let v = text.trim();
        if v.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            debian.version_id = v.split('.').next().map(str::to_string);
        }
        os = Some(debian);
    }
    if os.is_none() {
        for path in [
            "etc/oracle-release",
            "etc/centos-release",
            "etc/redhat-release",
            "etc/system-release",
            "etc/photon-release",
        ] {
            if let Some((path, text)) = read_text(files, path, report)
                && let Some(found) = from_redhat_release(&text, &path)
            {
                os = Some(found);
                break;
            }
        }
    }
    let mut os = os?;
    if os.family == OsFamily::Debian {
        if let Some((_, text)) = &debian_version {
            let v = text.trim();
            // A point release (`12.5`) is more precise than os-release's `12`.
            if v.bytes().next().is_some_and(|b| b.is_ascii_digit()) && v.contains('.') {
                os.version = Some(v.to_string());
            }
            if os.codename.is_none() {
                // `bookworm/sid` on testing.
                if let Some((name, _)) = v.split_once('/') {
                    os.codename = non_empty(name.to_string());
                }
            }
        }
        if os.codename.is_none() {
            let from_number = os
                .version_id
                .as_deref()
                .and_then(debian_codename)
                .map(str::to_string);
            os.codename = from_number;
        }
    }
    os.content_sets = read_content_sets(files, report);
    tracing::debug!(id = %os.id, version_id = ?os.version_id, content_sets = ?os.content_sets, "detected OS");
    Some(os)
}

/// Is `path` one of the [`CONTENT_MANIFESTS`]?
pub fn is_content_manifest(path: &str) -> bool {
    path.strip_prefix(CONTENT_MANIFEST_DIR)
        .is_some_and(|name| name.ends_with(".json") && !name.contains('/'))
}

/// Is this a content manifest too big to parse ([`MAX_CONTENT_MANIFEST`])? The catalog
/// filter keeps none of such a file's bytes.
pub fn is_oversized_content_manifest(path: &str, size: u64) -> bool {
    is_content_manifest(path) && usize::try_from(size).map_or(true, |s| s > MAX_CONTENT_MANIFEST)
}

/// The part of a content manifest that is read.
#[derive(Deserialize)]
struct ContentManifest {
    #[serde(default)]
    content_sets: Vec<String>,
}

/// The content sets of every content manifest in `files`, sorted, each once. One manifest
/// that cannot be read (too big, not JSON, not read by the image reader) leaves the list
/// incomplete: then a warning names it and nothing is returned, so that every repository
/// stream is used.
pub fn read_content_sets(files: &FileSet, report: &mut Warnings) -> Vec<String> {
    let mut sets = Vec::new();
    let mut complete = true;
    let fallback = "every repository stream of the release is used";
    for file in files
        .files
        .values()
        .filter(|f| is_content_manifest(&f.path))
    {
        let problem = match &file.content {
            _ if is_oversized_content_manifest(&file.path, file.size) => format!(
                "content manifest of {} bytes, more than the {MAX_CONTENT_MANIFEST} read",
                file.size
            ),
            portcullis_oci::FileContent::Skipped { reason, .. } => {
                format!("content manifest not read ({reason})")
            }
            portcullis_oci::FileContent::Data(data) => {
                match serde_json::from_slice::<ContentManifest>(data) {
                    Ok(manifest) => {
                        sets.extend(manifest.content_sets);
                        continue;
                    }
                    Err(e) => format!("content manifest is not valid: {e}"),
                }
            }
        };
        report.push(Warning::new(&file.path, format!("{problem}; {fallback}")));
        complete = false;
    }
    if !complete {
        return Vec::new();
    }
    sets.retain(|s| !s.trim().is_empty());
    sets.sort();
    sets.dedup();
    sets
}

#[cfg(test)]
/// An OS with just an id and version id, for tests.
pub(crate) fn os_for_test(id: &str, version_id: &str) -> Os {
    let mut os = Os::new(id, "etc/os-release");
    os.version_id = Some(version_id.to_string());
    os
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codenames_and_branches() {
        assert_eq!(debian_codename("12"), Some("bookworm"));
        assert_eq!(debian_codename("12.5"), Some("bookworm"));
        assert_eq!(debian_codename("7"), Some("wheezy"));
        assert_eq!(debian_codename("14"), Some("forky"));
        assert_eq!(debian_codename("sid"), Some("sid"));
        assert_eq!(debian_codename("6"), None);
        let mut os = Os::new("alpine", "etc/os-release");
        os.version_id = Some("3.20.3".into());
        assert_eq!(os.alpine_branch().as_deref(), Some("v3.20"));
        os.version_id = Some("3.21_alpha20240923".into());
        assert_eq!(os.alpine_branch().as_deref(), Some("edge"));
        os.version_id = Some("garbage".into());
        assert_eq!(os.alpine_branch(), None);
    }

    #[test]
    fn unquotes() {
        let f = parse_os_release("A=\"x \\\"y\\\"\"\nB='z'\n# c\nC=plain\nbad\n");
        assert_eq!(
            f,
            vec![
                ("A".into(), "x \"y\"".into()),
                ("B".into(), "z".into()),
                ("C".into(), "plain".into())
            ]
        );
    }

    #[test]
    fn redhat_release() {
        let os = from_redhat_release("Rocky Linux release 8.9 (Green Obsidian)\n", "x").unwrap();
        assert_eq!(os.id, "rocky");
        assert_eq!(os.version_id.as_deref(), Some("8.9"));
        assert_eq!(os.codename.as_deref(), Some("Green Obsidian"));
        assert!(from_redhat_release("Something else", "x").is_none());
    }

    fn files(entries: &[(&str, &str)]) -> FileSet {
        let mut set = FileSet::default();
        for (path, text) in entries {
            set.files.insert(
                path.to_string(),
                portcullis_oci::FoundFile {
                    path: path.to_string(),
                    layer: None,
                    mode: 0o644,
                    size: text.len() as u64,
                    content: portcullis_oci::FileContent::Data(text.as_bytes().to_vec()),
                },
            );
        }
        set
    }

    /// An OS as (id, family, version_id).
    type Facts = (String, OsFamily, Option<String>);

    /// The [`Facts`] detected from `entries`.
    fn detected(entries: &[(&str, &str)]) -> Facts {
        let mut warnings = Warnings::default();
        let os = detect(&files(entries), &mut warnings).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        (os.id, os.family, os.version_id)
    }

    fn want(id: &str, family: OsFamily, version: &str) -> Facts {
        (id.to_string(), family, Some(version.to_string()))
    }

    /// os-release files written after the fields each distribution documents.
    #[test]
    fn os_release_of_the_rpm_distributions() {
        let cases: &[(&str, Facts)] = &[
            (
                "NAME=\"Oracle Linux Server\"\nVERSION=\"9.3\"\nID=\"ol\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.3\"\nPLATFORM_ID=\"platform:el9\"\n",
                want("ol", OsFamily::Oracle, "9.3"),
            ),
            (
                "NAME=\"Amazon Linux\"\nVERSION=\"2\"\nID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\nPRETTY_NAME=\"Amazon Linux 2\"\n",
                want("amzn", OsFamily::Amazon, "2"),
            ),
            (
                "NAME=\"Amazon Linux\"\nVERSION=\"2023\"\nID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\nPLATFORM_ID=\"platform:al2023\"\n",
                want("amzn", OsFamily::Amazon, "2023"),
            ),
            (
                "NAME=\"VMware Photon OS\"\nVERSION=\"5.0\"\nID=photon\nVERSION_ID=5.0\nPRETTY_NAME=\"VMware Photon OS/Linux\"\n",
                want("photon", OsFamily::Photon, "5.0"),
            ),
            (
                "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.4 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\n",
                want("rhel", OsFamily::Rhel, "9.4"),
            ),
            (
                "NAME=\"CentOS Stream\"\nVERSION=\"9\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"9\"\n",
                want("centos", OsFamily::Centos, "9"),
            ),
            (
                "NAME=\"SLES\"\nVERSION=\"15-SP5\"\nVERSION_ID=\"15.5\"\nID=\"sles\"\nID_LIKE=\"suse\"\n",
                want("sles", OsFamily::Sles, "15.5"),
            ),
            (
                "NAME=\"SLE Micro\"\nVERSION=\"5.5\"\nVERSION_ID=\"5.5\"\nID=\"sle-micro\"\nID_LIKE=\"suse\"\n",
                want("sle-micro", OsFamily::Sles, "5.5"),
            ),
            (
                "NAME=\"openSUSE Leap\"\nVERSION=\"15.5\"\nID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\nVERSION_ID=\"15.5\"\n",
                want("opensuse-leap", OsFamily::OpensuseLeap, "15.5"),
            ),
            (
                "NAME=\"openSUSE Tumbleweed\"\nID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\nVERSION_ID=\"20240801\"\n",
                want(
                    "opensuse-tumbleweed",
                    OsFamily::OpensuseTumbleweed,
                    "20240801",
                ),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(&detected(&[("etc/os-release", text)]), expected, "{text}");
            // usr/lib/os-release is read when etc/os-release is missing.
            assert_eq!(
                &detected(&[("usr/lib/os-release", text)]),
                expected,
                "{text}"
            );
        }
    }

    /// Images without os-release: the distributions' own release files.
    #[test]
    fn release_files_without_os_release() {
        let cases = [
            (
                "etc/oracle-release",
                "Oracle Linux Server release 8.9\n",
                want("ol", OsFamily::Oracle, "8.9"),
            ),
            (
                "etc/system-release",
                "Amazon Linux release 2 (Karoo)\n",
                want("amzn", OsFamily::Amazon, "2"),
            ),
            (
                "etc/system-release",
                "Amazon Linux release 2023.4.20240401 (Amazon Linux)\n",
                want("amzn", OsFamily::Amazon, "2023.4.20240401"),
            ),
            (
                "etc/system-release",
                "Amazon Linux AMI release 2018.03\n",
                want("amzn", OsFamily::Amazon, "2018.03"),
            ),
            (
                "etc/photon-release",
                "VMware Photon OS 4.0\nPHOTON_BUILD_NUMBER=1526e30ba\n",
                want("photon", OsFamily::Photon, "4.0"),
            ),
            (
                "etc/centos-release",
                "CentOS Stream release 9\n",
                want("centos", OsFamily::Centos, "9"),
            ),
        ];
        for (path, text, expected) in cases {
            assert_eq!(detected(&[(path, text)]), expected, "{path}: {text}");
        }
        // os-release wins over a release file.
        assert_eq!(
            detected(&[
                ("etc/os-release", "ID=ol\nVERSION_ID=9.4\n"),
                ("etc/oracle-release", "Oracle Linux Server release 8.9\n"),
            ]),
            want("ol", OsFamily::Oracle, "9.4")
        );
        assert!(from_redhat_release("VMware Photon OS\n", "x").is_none());
    }

    const UBI9_RELEASE: &str = "ID=\"rhel\"\nVERSION_ID=\"9.4\"\n";

    /// The OS and warnings detected from `entries`.
    fn detect_all(entries: &[(&str, &str)]) -> (Os, Warnings) {
        let mut warnings = Warnings::default();
        let os = detect(&files(entries), &mut warnings).unwrap();
        (os, warnings)
    }

    #[test]
    fn content_manifests_name_the_content_sets() {
        // The shape UBI images ship (`ubi9-minimal-container-9.4-949.json`), and a second
        // manifest added by a layered build, sharing one set.
        let base = r#"{"metadata":{"icm_version":1,"icm_spec":"https://raw.githubusercontent.com/containerbuildsystem/atomic-reactor/master/atomic_reactor/schemas/content_manifest.json","image_layer_index":0},"content_sets":["rhel-9-for-x86_64-baseos-rpms","rhel-9-for-x86_64-appstream-rpms"],"image_contents":[]}"#;
        let layered = r#"{"content_sets":["rhel-9-for-x86_64-appstream-rpms","codeready-builder-for-rhel-9-x86_64-rpms"]}"#;
        let (os, warnings) = detect_all(&[
            ("etc/os-release", UBI9_RELEASE),
            (
                "root/buildinfo/content_manifests/ubi9-minimal-container-9.4-949.json",
                base,
            ),
            ("root/buildinfo/content_manifests/app-1.0-1.json", layered),
            // Not a manifest: another directory, another extension.
            (
                "root/buildinfo/Dockerfile-ubi9-minimal-9.4-949",
                "{\"content_sets\":[\"x\"]}",
            ),
            (
                "root/buildinfo/content_manifests/notes.txt",
                "{\"content_sets\":[\"y\"]}",
            ),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            os.content_sets,
            [
                "codeready-builder-for-rhel-9-x86_64-rpms",
                "rhel-9-for-x86_64-appstream-rpms",
                "rhel-9-for-x86_64-baseos-rpms"
            ]
        );
        // Without manifests: none.
        let (os, warnings) = detect_all(&[("etc/os-release", UBI9_RELEASE)]);
        assert!(warnings.is_empty() && os.content_sets.is_empty());
    }

    #[test]
    fn unreadable_content_manifests_fall_back_to_no_content_sets() {
        let good = r#"{"content_sets":["rhel-9-for-x86_64-baseos-rpms"]}"#;
        let good_path = "root/buildinfo/content_manifests/a.json";
        let bad_path = "root/buildinfo/content_manifests/b.json";
        for bad in [
            "{\"content_sets\":[\"rhel-9-for-x86_64-baseos-rpms\"",
            "{\"content_sets\":[1, 2]}",
            "42",
            "\u{0}\u{ff}",
        ] {
            let (os, warnings) = detect_all(&[
                ("etc/os-release", UBI9_RELEASE),
                (good_path, good),
                (bad_path, bad),
            ]);
            assert!(os.content_sets.is_empty(), "{bad}");
            assert_eq!(warnings.len(), 1, "{bad}: {warnings:?}");
            assert_eq!(warnings[0].location, bad_path);
            assert!(!warnings[0].is_error());
            assert!(
                warnings[0]
                    .message
                    .starts_with("content manifest is not valid: ")
                    && warnings[0]
                        .message
                        .ends_with("; every repository stream of the release is used"),
                "{}",
                warnings[0].message
            );
        }
        // Too big: the filter kept no bytes, the recorded size says why.
        let mut set = files(&[("etc/os-release", UBI9_RELEASE), (good_path, good)]);
        let size = (MAX_CONTENT_MANIFEST + 1) as u64;
        assert!(is_oversized_content_manifest(bad_path, size));
        assert!(!is_oversized_content_manifest(
            bad_path,
            MAX_CONTENT_MANIFEST as u64
        ));
        assert!(!is_oversized_content_manifest(
            "root/buildinfo/big.json",
            size
        ));
        set.files.insert(
            bad_path.to_string(),
            portcullis_oci::FoundFile {
                path: bad_path.to_string(),
                layer: None,
                mode: 0o644,
                size,
                content: portcullis_oci::FileContent::Data(Vec::new()),
            },
        );
        let mut warnings = Warnings::default();
        let os = detect(&set, &mut warnings).unwrap();
        assert!(os.content_sets.is_empty());
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            warnings[0].message,
            format!(
                "content manifest of {size} bytes, more than the 262144 read; every repository stream of the release is used"
            )
        );
    }

    #[test]
    fn content_sets_are_always_written_and_may_be_missing_when_read() {
        let mut os = crate::os::os_for_test("rhel", "9.4");
        let json = serde_json::to_value(&os).unwrap();
        assert_eq!(json["content_sets"], serde_json::json!([]));
        os.content_sets = vec!["rhel-9-for-x86_64-baseos-rpms".into()];
        let json = serde_json::to_value(&os).unwrap();
        assert_eq!(
            json["content_sets"],
            serde_json::json!(["rhel-9-for-x86_64-baseos-rpms"])
        );
        // A document of an older release has no `content_sets`.
        let mut old = json.clone();
        old.as_object_mut().unwrap().remove("content_sets");
        let read: Os = serde_json::from_value(old).unwrap();
        assert!(read.content_sets.is_empty());
        assert_eq!(read.id, "rhel");
    }

    #[test]
    fn content_manifest_paths() {
        assert!(is_content_manifest(
            "root/buildinfo/content_manifests/x.json"
        ));
        assert!(!is_content_manifest(
            "root/buildinfo/content_manifests/sub/x.json"
        ));
        assert!(!is_content_manifest(
            "root/buildinfo/content_manifests/x.json.bak"
        ));
        assert!(!is_content_manifest(
            "usr/root/buildinfo/content_manifests/x.json"
        ));
        let patterns = crate::path_patterns().unwrap();
        assert!(patterns.matches("root/buildinfo/content_manifests/x.json"));
        assert!(!patterns.matches("root/buildinfo/content_manifests/sub/x.json"));
    }
}
