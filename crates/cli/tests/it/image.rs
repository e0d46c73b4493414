//! `portcullis image inspect` and `portcullis image files`.

use portcullis_testkit::images::{ImageName, images};
use portcullis_testkit::registry::{Registry, RegistryKind};
use serde_json::Value;

use crate::portcullis;

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// The JSON of a successful `portcullis image inspect <args>`.
fn inspect_json(args: &[&str]) -> Value {
    let run = portcullis(&[&["image", "inspect"], args].concat(), b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    json(&run.stdout)
}

#[test]
fn inspect_plain_http_registry_as_json() {
    let registry = Registry::start(RegistryKind::PlainHttp);
    let imgs = images();
    registry.push(&imgs.skopeo_ref(ImageName::Configured), "app:1", false);
    let reference = registry.reference("app:1");
    let v = inspect_json(&["--insecure", "--format", "json", &reference]);
    assert_eq!(v["reference"], reference.as_str());
    assert_eq!(v["source"], "registry");
    assert_eq!(v["digest"], registry.manifest_digest("app:1").as_str());
    assert_eq!(v["platform"], "linux/amd64");
    assert_eq!(v["config"]["user"], "1000");
    assert_eq!(
        v["config"]["exposed_ports"],
        serde_json::json!(["22/tcp", "8080/tcp"])
    );
    assert_eq!(v["config"]["healthcheck"]["test"][0], "CMD-SHELL");
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(
        layers[0]["media_type"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert!(layers[0]["digest"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn inspect_tls_basic_auth_with_password_stdin() {
    let registry = Registry::start(RegistryKind::basic("alice", "s3cret-pa55"));
    registry.push(
        &images().skopeo_ref(ImageName::Alpine320),
        "alpine:3.20",
        false,
    );
    let reference = registry.reference("alpine:3.20");
    let ca = registry
        .ca_cert_pem_path()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let args = [
        "image",
        "inspect",
        "--ca-cert",
        &ca,
        "--username",
        "alice",
        "--password-stdin",
        "-f",
        "json",
        &reference,
    ];
    let ok = portcullis(&args, b"s3cret-pa55\n");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(
        json(&ok.stdout)["digest"],
        registry.manifest_digest("alpine:3.20").as_str()
    );

    // A wrong password: exit code 2, a clear message naming the registry, and no password.
    let bad = portcullis(&args, b"wrong-guess\n");
    assert_eq!(bad.code, 2);
    assert!(bad.stdout.is_empty());
    assert!(bad.stderr.starts_with("error: "), "{}", bad.stderr);
    assert!(bad.stderr.contains(&registry.host_port()), "{}", bad.stderr);
    assert!(bad.stderr.contains("alice"), "{}", bad.stderr);
    assert!(!bad.stderr.contains("wrong-guess"), "{}", bad.stderr);
    assert!(!bad.stderr.contains("s3cret"), "{}", bad.stderr);

    // Without --ca-cert the test CA is not trusted.
    let untrusted = portcullis(&["image", "inspect", &reference], b"");
    untrusted.assert_exit(2, &registry.host_port());
}

#[test]
fn inspect_multiarch_by_platform() {
    let registry = Registry::start(RegistryKind::PlainHttp);
    registry.push(&images().skopeo_ref(ImageName::Multiarch), "multi:1", true);
    let reference = registry.reference("multi:1");
    let index_digest = registry.manifest_digest("multi:1");
    for (platform, expected_arch) in [("linux/amd64", "amd64"), ("linux/arm64", "arm64")] {
        let v = inspect_json(&[
            "--insecure",
            "--platform",
            platform,
            "-f",
            "json",
            &reference,
        ]);
        assert_eq!(v["digest"], index_digest.as_str());
        assert_eq!(v["platform"], format!("linux/{expected_arch}").as_str());
        assert_ne!(v["manifest_digest"], Value::Null);
    }
    let missing = portcullis(
        &[
            "image",
            "inspect",
            "--insecure",
            "--platform",
            "linux/s390x",
            &reference,
        ],
        b"",
    );
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("no image for platform linux/s390x; available: linux/amd64, linux/arm64"),
        "{}",
        missing.stderr
    );
}

#[test]
fn inspect_table_reads_well() {
    let imgs = images();
    let source = imgs.oci_dir_source(ImageName::Configured);
    let run = portcullis(&["image", "inspect", &source], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], format!("Reference    {source}"));
    assert_eq!(
        lines[1],
        format!("Digest       {}", imgs.digest(ImageName::Configured))
    );
    assert_eq!(lines[2], "Platform     linux/amd64");
    assert_eq!(lines[3], "User         1000");
    assert_eq!(lines[4], "Ports        22/tcp, 8080/tcp");
    assert!(
        lines[5].starts_with("Healthcheck  CMD-SHELL "),
        "{}",
        lines[5]
    );
    assert!(lines[6].starts_with("Layers       1 ("), "{}", lines[6]);
    assert!(lines[7].starts_with("   1  sha256:"), "{}", lines[7]);
    assert!(
        lines.iter().all(|l| l.chars().count() <= 100),
        "{}",
        run.stdout
    );
}

#[test]
fn files_from_every_local_source() {
    let imgs = images();
    let tarball = portcullis_testkit::alpine_minirootfs("3.20.3");
    let sources = [
        imgs.oci_dir_source(ImageName::Alpine320),
        format!(
            "oci-archive:{}",
            imgs.oci_archive(ImageName::Alpine320).display()
        ),
        format!(
            "docker-archive:{}",
            imgs.docker_archive(ImageName::Alpine320).display()
        ),
        format!("dir:{}", imgs.rootfs_dir("3.20.3").display()),
        format!("tar:{}", tarball.display()),
    ];
    let expected_db =
        portcullis_testkit::images::minirootfs_file("3.20.3", "lib/apk/db/installed").unwrap();
    for source in &sources {
        let run = portcullis(&["image", "files", "-f", "json", source], b"");
        assert_eq!(run.code, 0, "{source}: {}", run.stderr);
        let v = json(&run.stdout);
        let paths: Vec<&str> = v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "etc/alpine-release",
                "etc/os-release",
                "lib/apk/db/installed"
            ],
            "{source}"
        );
        let db = &v["files"][2];
        assert_eq!(db["size"], expected_db.len() as u64, "{source}");
        assert_eq!(db["read"], true, "{source}");
        assert_eq!(v["warnings"], serde_json::json!([]), "{source}");
    }
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["image", "inspect", "Not/Valid"],
            "invalid image reference 'Not/Valid': repository names must be lowercase",
        ),
        (
            &["image", "inspect", "oci-dir:/nonexistent/layout"],
            "/nonexistent/layout",
        ),
        (
            &["image", "inspect", "--platform", "linux", "tar:/x"],
            "invalid platform 'linux'",
        ),
        (
            &[
                "image",
                "inspect",
                "--ca-cert",
                "/nonexistent.pem",
                "alpine",
            ],
            "--ca-cert /nonexistent.pem: no such file",
        ),
        (
            &["image", "inspect", "127.0.0.1:1/nothing:here"],
            "127.0.0.1:1",
        ),
    ];
    for (args, expected) in cases {
        let run = portcullis(args, b"");
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
    }
    // Usage errors are exit code 2 too (clap).
    let usage = portcullis(&["image", "inspect", "--username", "u", "alpine"], b"");
    usage.assert_exit(2, "--password-stdin");
}

#[test]
fn layer_caps_refuse_an_image_with_a_clear_error() {
    let imgs = images();
    let source = imgs.oci_dir_source(ImageName::Alpine320);
    let run = portcullis(&["image", "files", "--max-layers", "0", &source], b"");
    run.assert_exit(
        2,
        "the image has 1 layers, more than the cap of 0 layers per image",
    );
    // The minirootfs layer decompresses to more than 1 MiB.
    let run = portcullis(
        &["image", "files", "--max-image-bytes", "1048576", &source],
        b"",
    );
    run.assert_exit(2, "1048576");
    let run = portcullis(&["image", "files", "--max-layers", "1", &source], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// `portcullis image inspect` with `DOCKER_CONFIG` and `PATH` set for one run.
fn inspect_with_docker_config(
    config: &std::path::Path,
    bin: &std::path::Path,
    ca: &str,
    reference: &str,
) -> crate::Run {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["image", "inspect", "--ca-cert", ca, "-f", "json", reference])
        .env("DOCKER_CONFIG", config)
        .env("PATH", path)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    crate::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// ECR, GCR and ACR users log in through credential helpers: `credHelpers` (per registry)
/// and `credsStore` (the default) run `docker-credential-<name> get` with the server on
/// stdin, as docker does. A missing helper is said, not silently skipped.
#[test]
fn credential_helpers_from_the_docker_config_are_run() {
    use std::os::unix::fs::PermissionsExt as _;
    let registry = Registry::start(RegistryKind::basic("ci", "s3cret"));
    registry.push(&images().skopeo_ref(ImageName::Configured), "app:1", false);
    let reference = registry.reference("app:1");
    let ca = registry.ca_cert_pem_path().unwrap().display().to_string();
    let dir = portcullis_testkit::temp_dir("cli-credential-helper");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let asked = dir.path().join("asked");
    let helper = bin.join("docker-credential-portcullistest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 9\ncat > '{}'\nprintf '{{\"ServerURL\":\"x\",\"Username\":\"ci\",\"Secret\":\"s3cret\"}}'\n",
            asked.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().join("docker");
    std::fs::create_dir_all(&config).unwrap();
    for document in [
        format!(
            r#"{{"credHelpers": {{"{}": "portcullistest"}}}}"#,
            registry.host_port()
        ),
        r#"{"credsStore": "portcullistest"}"#.to_string(),
    ] {
        std::fs::write(config.join("config.json"), &document).unwrap();
        let _ = std::fs::remove_file(&asked);
        let run = inspect_with_docker_config(&config, &bin, &ca, &reference);
        assert_eq!(run.code, 0, "{document}: {}", run.stderr);
        assert_eq!(
            json(&run.stdout)["digest"],
            registry.manifest_digest("app:1").as_str()
        );
        assert_eq!(
            std::fs::read_to_string(&asked).unwrap(),
            registry.host_port(),
            "the helper is asked about the registry"
        );
    }
    // A helper that is not installed: said on stderr, then refused by the registry.
    std::fs::write(
        config.join("config.json"),
        r#"{"credsStore": "not-installed"}"#,
    )
    .unwrap();
    let run = inspect_with_docker_config(&config, &bin, &ca, &reference);
    run.assert_exit(
        2,
        &format!(
            "credential helper docker-credential-not-installed is not on PATH; continuing without credentials for {}",
            registry.host_port()
        ),
    );
    assert!(
        run.stderr.contains("requires authentication"),
        "{}",
        run.stderr
    );
}
