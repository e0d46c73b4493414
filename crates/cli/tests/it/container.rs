//! `scripts/build-image.sh`: our own container image, built from the debug binary
//! (`PORTCULLIS_BIN`). It is reproducible, runs under `chroot` as root and as 65532, holds
//! exactly the files it should, lists its libraries' Debian packages and passes `block_root`.
//! Pushed to a local registry (TLS, htpasswd), it is scanned there, gets its CycloneDX SBOM
//! attached as an OCI referrer, and is the image `activate` deploys.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use portcullis_testkit::{
    KubeMock, OciLayout, Registry, RegistryKind, repo_root, require_tool, temp_dir,
};
use serde_json::{Value, json};

use crate::portcullis;

/// The `SOURCE_DATE_EPOCH` the tests build with, and the same instant as RFC 3339.
const EPOCH: i64 = 1_700_000_000;
const CREATED: &str = "2023-11-14T22:13:20Z";

/// Run the script into `out`; returns its last stdout line (the manifest digest).
fn build(out: &Path) -> String {
    require_tool("umoci");
    let script = repo_root().join("scripts/build-image.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(out)
        .env("PORTCULLIS_BIN", env!("CARGO_BIN_EXE_portcullis"))
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{} failed ({}):\n{stdout}{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().last().unwrap_or("").to_string()
}

/// The image built once per test process, its digest, and its unpacked root filesystem.
struct Built {
    _dir: tempfile::TempDir,
    layout: OciLayout,
    digest: String,
    rootfs: PathBuf,
}

fn image() -> &'static Built {
    static IMAGE: OnceLock<Built> = OnceLock::new();
    IMAGE.get_or_init(|| {
        require_root();
        let dir = temp_dir("cli-container");
        let out = dir.path().join("image");
        let digest = build(&out);
        let layout = OciLayout::new(&out);
        let bundle = dir.path().join("bundle");
        let image_ref = format!("{}:latest", out.display());
        portcullis_testkit::run(
            "umoci",
            [
                "unpack".as_ref(),
                "--image".as_ref(),
                image_ref.as_ref(),
                bundle.as_os_str(),
            ],
        );
        Built {
            _dir: dir,
            layout,
            digest,
            rootfs: bundle.join("rootfs"),
        }
    })
}

/// The image tests unpack as root and `chroot`: say so instead of skipping.
fn require_root() {
    let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
    assert_eq!(
        uid.trim(),
        "0",
        "the container image tests must run as root (umoci unpack keeps owners, chroot needs \
         CAP_SYS_CHROOT); CI runs them as root"
    );
}

/// The absolute paths `ldd` names for the test binary (libraries and the loader).
fn ldd_paths() -> Vec<String> {
    let out = portcullis_testkit::run("ldd", [env!("CARGO_BIN_EXE_portcullis")]);
    let mut paths: Vec<String> = out
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [_, "=>", path, ..] if path.starts_with('/') => Some(path.to_string()),
                [path, ..] if path.starts_with('/') => Some(path.to_string()),
                _ => None,
            }
        })
        .collect();
    paths.sort();
    paths.dedup();
    assert!(!paths.is_empty(), "ldd names no libraries:\n{out}");
    paths
}

/// `dpkg-query ARGS` on the host; `None` when it fails.
fn dpkg_query(args: &[&str]) -> Option<String> {
    let out = Command::new("dpkg-query").args(args).output().unwrap();
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap())
}

/// The host's Debian packages (name, without `:arch`) owning the `ldd` paths, with versions.
fn library_packages() -> BTreeMap<String, String> {
    let mut names = BTreeSet::new();
    for path in ldd_paths() {
        let real = std::fs::canonicalize(&path).unwrap();
        let owner = dpkg_query(&["-S", &path])
            .or_else(|| dpkg_query(&["-S", real.to_str().unwrap()]))
            .unwrap_or_else(|| panic!("no Debian package owns {path}"));
        let (packages, _) = owner.trim().split_once(": ").unwrap();
        for package in packages.split(", ") {
            names.insert(package.to_string());
        }
    }
    names
        .into_iter()
        .map(|package| {
            let version = dpkg_query(&["-W", "-f=${Version}", &package]).unwrap();
            let name = package.split(':').next().unwrap().to_string();
            (name, version)
        })
        .collect()
}

/// Every path in `root` (relative, `/`-separated), with its metadata.
fn walk(root: &Path) -> BTreeMap<String, std::fs::Metadata> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            let rel = entry
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if meta.is_dir() {
                stack.push(entry.path());
            }
            out.insert(rel, meta);
        }
    }
    out
}

#[test]
fn building_twice_gives_the_same_digest_and_index() {
    let dir = temp_dir("cli-container-twice");
    let (a, b) = (dir.path().join("a"), dir.path().join("elsewhere/b"));
    let digest_a = build(&a);
    let digest_b = build(&b);
    assert!(digest_a.starts_with("sha256:"), "last line: {digest_a}");
    assert_eq!(digest_a, digest_b);
    assert_eq!(
        std::fs::read(a.join("index.json")).unwrap(),
        std::fs::read(b.join("index.json")).unwrap()
    );
    let layout = OciLayout::new(&a);
    assert_eq!(layout.digest("latest"), digest_a);
    let manifest_bytes = layout.read_blob(&digest_a);
    assert_eq!(
        format!("sha256:{}", portcullis_testkit::sha256_hex(&manifest_bytes)),
        digest_a
    );
    // The same blobs, byte for byte, in both layouts.
    let blobs = |root: &Path| -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(root.join("blobs/sha256"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(blobs(&a), blobs(&b));
    assert_eq!(blobs(&a).len(), 3, "one manifest, one config, one layer");
}

#[test]
fn config_is_non_root_with_entrypoint_port_and_labels() {
    let built = image();
    let config = built.layout.config("latest");
    let revision = String::from_utf8(
        Command::new("git")
            .arg("-C")
            .arg(repo_root())
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let mut labels = json!({
        "org.opencontainers.image.created": CREATED,
        "org.opencontainers.image.licenses": "Apache-2.0",
        "org.opencontainers.image.source": "https://example.invalid/portcullis",
        "org.opencontainers.image.title": "portcullis",
        "org.opencontainers.image.version": env!("CARGO_PKG_VERSION"),
    });
    if !revision.trim().is_empty() {
        labels["org.opencontainers.image.revision"] = json!(revision.trim());
    }
    assert_eq!(
        config["config"],
        json!({
            "User": "65532:65532",
            "ExposedPorts": {"8443/tcp": {}},
            "Env": ["PATH=/usr/local/bin"],
            "Entrypoint": ["/usr/local/bin/portcullis"],
            "Cmd": ["serve"],
            "Labels": labels,
        })
    );
    assert_eq!(config["created"], CREATED);
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(
        config["history"],
        json!([{
            "created": CREATED,
            "created_by": "scripts/build-image.sh",
            "comment": format!("portcullis {}", env!("CARGO_PKG_VERSION")),
        }])
    );
    let manifest = built.layout.manifest("latest");
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    assert_eq!(built.layout.digest("latest"), built.digest);
}

#[test]
fn rootfs_holds_exactly_the_binary_libraries_and_files_with_fixed_owners_and_times() {
    let built = image();
    let entries = walk(&built.rootfs);
    for (path, meta) in &entries {
        assert_eq!((meta.uid(), meta.gid()), (0, 0), "owner of {path}");
        assert_eq!(meta.mtime(), EPOCH, "mtime of {path}");
    }
    let files: BTreeSet<String> = entries
        .iter()
        .filter(|(_, m)| m.is_file())
        .map(|(p, _)| p.clone())
        .collect();
    let mut expected: BTreeSet<String> = [
        "usr/local/bin/portcullis",
        "etc/passwd",
        "etc/group",
        "etc/ssl/certs/ca-certificates.crt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let os_release = std::fs::canonicalize("/etc/os-release").unwrap();
    expected.insert(os_release.to_str().unwrap()[1..].to_string());
    for path in ldd_paths() {
        let real = std::fs::canonicalize(&path).unwrap();
        let rel = real.to_str().unwrap()[1..].to_string();
        assert_eq!(
            std::fs::read(built.rootfs.join(&rel)).unwrap(),
            std::fs::read(&real).unwrap(),
            "{rel} is the host's {path}"
        );
        expected.insert(rel);
    }
    for package in library_packages().keys() {
        expected.insert(format!("var/lib/dpkg/status.d/{package}"));
    }
    assert_eq!(files, expected);
    for shell in [
        "bin/sh",
        "usr/bin/sh",
        "bin/bash",
        "usr/bin/dpkg",
        "usr/bin/apt",
    ] {
        assert!(
            std::fs::symlink_metadata(built.rootfs.join(shell)).is_err(),
            "/{shell} in the image"
        );
    }
    let tmp = &entries["tmp"];
    assert!(tmp.is_dir());
    assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);
    assert_eq!(
        std::fs::read_to_string(built.rootfs.join("etc/passwd")).unwrap(),
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n"
    );
    assert_eq!(
        std::fs::read_to_string(built.rootfs.join("etc/group")).unwrap(),
        "root:x:0:\nnonroot:x:65532:\n"
    );
    assert_eq!(
        std::fs::read(built.rootfs.join("etc/ssl/certs/ca-certificates.crt")).unwrap(),
        std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap()
    );
}

/// `chroot [--userspec=USER] ROOTFS /usr/local/bin/portcullis ARGS`: (exit code, stdout).
fn chroot(user: Option<&str>, args: &[&str]) -> (i32, String) {
    require_root();
    let mut cmd = Command::new(require_tool("chroot"));
    if let Some(user) = user {
        cmd.arg(format!("--userspec={user}"));
    }
    let out = cmd
        .arg(&image().rootfs)
        .arg("/usr/local/bin/portcullis")
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "stderr of chroot portcullis {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn runs_under_chroot_as_root_and_as_nonroot() {
    let version = format!("portcullis {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(chroot(None, &["--version"]), (0, version.clone()));
    assert_eq!(chroot(Some("65532:65532"), &["--version"]), (0, version));
    let (code, help) = chroot(Some("65532:65532"), &["serve", "--help"]);
    assert_eq!(code, 0);
    let host = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--help"])
        .env_clear()
        .output()
        .unwrap();
    assert!(host.status.success());
    assert_eq!(help, String::from_utf8(host.stdout).unwrap());
    assert!(help.starts_with("Run the admission webhook"), "{help}");
}

#[test]
fn sbom_lists_the_debian_packages_of_the_libraries() {
    let built = image();
    let source = built.layout.source("latest");
    let run = portcullis(&["sbom", &source, "-f", "json"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sbom: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(sbom["image"]["digest"], built.digest.as_str());
    let listed: BTreeMap<String, String> = sbom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let name = p["name"].as_str().unwrap().to_string();
            assert_eq!(p["type"], "deb", "{p}");
            assert_eq!(
                p["location"],
                format!("var/lib/dpkg/status.d/{name}").as_str(),
                "{p}"
            );
            (name, p["version"].as_str().unwrap().to_string())
        })
        .collect();
    let expected = library_packages();
    assert!(expected.contains_key("libc6"), "{expected:?}");
    assert_eq!(listed, expected);
}

#[test]
fn scanning_it_under_block_root_and_reject_critical_is_never_stop() {
    let built = image();
    let dir = temp_dir("cli-container-db");
    let db = import_test_db(dir.path());
    let db = db.as_str();
    let source = built.layout.source("latest");
    // `scan SOURCE --policy POLICY -f json [extra]`: (exit code, report).
    let scan = |policy: &str, extra: &[&str]| -> (i32, Value) {
        let mut args = vec![
            "--db", db, "scan", &source, "--policy", policy, "-f", "json",
        ];
        args.extend(extra);
        let run = portcullis(&args, b"");
        let report = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
        (run.code, report)
    };
    let (code, report) = scan("block_root", &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["os_supported"], true, "Debian 12 data was imported");
    assert_eq!(report["policy"]["id"], "block_root");
    let actions: BTreeSet<&str> = report["policy"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(!actions.contains("stop"), "{}", report["policy"]);
    // No HEALTHCHECK in an OCI config: the one warning every run has.
    assert_eq!(report["policy"]["final_action"], "warn");
    assert!(
        report["policy"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["trigger"] == "no_healthcheck")
    );

    // reject_critical stops on glibc's one critical finding: CVE-2019-1010022, unfixed in
    // Debian, NVD 9.8 (Debian's tracker, not in the test data, rates it `unimportant`, which
    // `db update` data would apply). Without the unfixed ones it warns, about the missing
    // HEALTHCHECK only.
    let (code, report) = scan("reject_critical", &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["policy"]["final_action"], "stop");
    let critical: Vec<(&str, &str, &Value)> = report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["severity"] == "critical")
        .map(|v| {
            (
                v["id"].as_str().unwrap(),
                v["severity_source"].as_str().unwrap(),
                &v["fixed_version"],
            )
        })
        .collect();
    assert_eq!(critical, [("CVE-2019-1010022", "nvd", &Value::Null)]);
    let (code, report) = scan("reject_critical", &["--ignore-unfixed"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["policy"]["final_action"], "warn");
    let triggers: Vec<&str> = report["policy"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(triggers, ["no_healthcheck"]);
}

/// A database with the Debian 12, Alpine and NVD data the image is judged with.
fn import_test_db(dir: &Path) -> String {
    let db = dir.join("db.sqlite").to_str().unwrap().to_string();
    let advisories = portcullis_testkit::testdata_dir().join("advisories");
    let alpine = advisories.join("alpine-secdb/v3.20/main.json");
    let debian = advisories.join("debian/oval-definitions-bookworm.xml.bz2");
    let nvd = advisories.join("nvd");
    let import = portcullis(
        &[
            "--db",
            &db,
            "db",
            "import",
            alpine.to_str().unwrap(),
            debian.to_str().unwrap(),
            nvd.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(import.code, 0, "{}", import.stderr);
    db
}

/// The manifest or index the registry serves for `repo_ref` (`repo:tag`, `repo@digest`), as
/// JSON, read with `skopeo inspect --raw`.
fn inspect_raw(registry: &Registry, repo_ref: &str) -> Value {
    serde_json::from_slice(&registry.raw_manifest(repo_ref)).unwrap()
}

/// The whole path a user takes: push the image with skopeo to a registry with TLS and
/// htpasswd, scan it there (never STOP under `block_root`), attach its SBOM as a referrer
/// (read back through the registry's tag fallback with skopeo, byte for byte), and activate
/// Portcullis with that image reference in the spec.
#[test]
fn pushed_image_is_scanned_gets_its_sbom_attached_and_is_what_activate_deploys() {
    let built = image();
    let registry = Registry::start(RegistryKind::basic("ci", "s3cret"));
    registry.push(&built.layout.skopeo_ref("latest"), "portcullis:test", false);
    assert_eq!(registry.manifest_digest("portcullis:test"), built.digest);
    let reference = registry.reference("portcullis:test");
    let ca = registry.ca_cert_pem_path().unwrap().display().to_string();
    let auth = ["--ca-cert", &ca, "--username", "ci", "--password-stdin"];

    let dir = temp_dir("cli-container-registry");
    let db = import_test_db(dir.path());
    let mut args = vec![
        "--db",
        &db,
        "scan",
        &reference,
        "--policy",
        "block_root",
        "-f",
        "json",
    ];
    args.extend(auth);
    let run = portcullis(&args, b"s3cret\n");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["image"]["digest"], built.digest.as_str());
    assert_eq!(
        report["policy"]["final_action"], "warn",
        "{}",
        report["policy"]
    );

    // The SBOM, attached twice: the same bytes give the same artifact, listed once.
    let mut args = vec!["sbom", &reference, "-f", "cyclonedx", "--attach"];
    args.extend(auth);
    let first = portcullis(&args, b"s3cret\n");
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = portcullis(&args, b"s3cret\n");
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(first.stdout, second.stdout);
    let fallback_tag = format!("sha256-{}", built.digest.strip_prefix("sha256:").unwrap());
    // docker-registry 2.8 has no referrers API: the fallback tag holds the index.
    let index = inspect_raw(&registry, &format!("portcullis:{fallback_tag}"));
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{index}");
    assert_eq!(entries[0]["artifactType"], "application/vnd.cyclonedx+json");
    assert_eq!(
        entries[0]["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let artifact_digest = entries[0]["digest"].as_str().unwrap();
    let line = format!(
        "attached the SBOM to {}@{} as {artifact_digest} (listed under the tag {fallback_tag})\n",
        reference, built.digest
    );
    assert_eq!(first.stderr, line);

    let artifact = inspect_raw(&registry, &format!("portcullis@{artifact_digest}"));
    assert_eq!(artifact["artifactType"], "application/vnd.cyclonedx+json");
    assert_eq!(
        artifact["config"],
        json!({
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "size": 2,
        })
    );
    let manifest_size = registry.raw_manifest("portcullis:test").len();
    assert_eq!(
        artifact["subject"],
        json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": built.digest,
            "size": manifest_size,
        })
    );
    let layers = artifact["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    let sbom = first.stdout.as_bytes();
    let sbom_digest = format!("sha256:{}", portcullis_testkit::sha256_hex(sbom));
    assert_eq!(layers[0]["digest"], sbom_digest.as_str());
    assert_eq!(layers[0]["size"], sbom.len());
    assert_eq!(layers[0]["mediaType"], "application/vnd.cyclonedx+json");
    assert_eq!(
        std::fs::read(registry.blob_data_path(&sbom_digest)).unwrap(),
        sbom,
        "the registry holds the SBOM the command printed"
    );
    let cyclonedx: Value = serde_json::from_slice(sbom).unwrap();
    assert_eq!(cyclonedx["bomFormat"], "CycloneDX");

    // A local image cannot take a referrer; a table is not an SBOM document.
    let local = portcullis(
        &[
            "sbom",
            &built.layout.source("latest"),
            "-f",
            "cyclonedx",
            "--attach",
        ],
        b"",
    );
    local.assert_exit(2, "--attach needs a registry reference");
    let table = portcullis(&["sbom", &reference, "--attach"], b"");
    assert_eq!(
        (table.code, table.stderr.as_str()),
        (
            2,
            "error: --attach needs --format cyclonedx or --format spdx\n"
        )
    );

    // activate deploys the pushed image, pinned by digest, from the spec's `image`.
    let pinned = registry.reference(&format!("portcullis@{}", built.digest));
    let mock = KubeMock::start();
    for name in ["default", "kube-system", "portcullis-system"] {
        mock.seed(
            "v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        );
    }
    mock.on_write_set_status("apps/v1/deployments", |d| {
        let n = d["spec"]["replicas"].as_i64().unwrap_or(1);
        Some(json!({"observedGeneration": d["metadata"]["generation"], "replicas": n, "updatedReplicas": n, "readyReplicas": n}))
    });
    let kubeconfig = mock.write_kubeconfig(&dir.path().join("kubeconfig"));
    let spec = json!({"policy": {"policyId": "block_root"}, "image": pinned});
    let run = portcullis(
        &[
            "activate",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--json",
        ],
        spec.to_string().as_bytes(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let deployment = mock
        .get("apps/v1/deployments", "portcullis-system", "portcullis")
        .unwrap();
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["image"], pinned.as_str());
    // The kubelet can check runAsNonRoot: the image's user is numeric (65532), and the
    // arguments go to its entrypoint.
    assert_eq!(containers[0]["securityContext"]["runAsNonRoot"], true);
    assert_eq!(containers[0]["args"][0], "serve");
    assert_eq!(
        built.layout.config("latest")["config"]["User"],
        "65532:65532"
    );
    let status = portcullis(
        &[
            "status",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--json",
        ],
        b"",
    );
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["spec"]["image"], pinned.as_str());
}
