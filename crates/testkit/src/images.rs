//! Test images built once per test process with `umoci` and `skopeo` from the Alpine mini
//! root filesystems in the shared test data.
//!
//! One OCI layout holds every image, by tag:
//! - `alpine-3.20`, `alpine-3.9`: one layer each, config as `umoci` writes it (amd64, no User).
//! - `configured`: `alpine-3.20` with User `1000`, ExposedPorts `22/tcp` and `8080/tcp`, an
//!   Env, a label, Entrypoint, Cmd, WorkingDir (all via `umoci config`) and a Healthcheck
//!   (patched into the config by hand: `umoci config` has no healthcheck option).
//! - `layered`: `alpine-3.20` plus two layers, see [`ImageName::Layered`].
//! - `alpine-3.9-arm64`: `alpine-3.9` with config architecture `arm64`.
//! - `multiarch`: an OCI index with `linux/amd64` = `alpine-3.20` and `linux/arm64` =
//!   `alpine-3.9-arm64`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use flate2::read::GzDecoder;
use serde_json::json;
use tempfile::TempDir;

use crate::layout::{INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, OciLayout, TarBuilder};
use crate::{alpine_minirootfs, run};

/// The test images, by tag in [`TestImages::layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ImageName {
    /// Alpine 3.20.3, one layer.
    Alpine320,
    /// Alpine 3.9.6, one layer.
    Alpine39,
    /// Alpine 3.9.6 whose config says `arm64`.
    Alpine39Arm64,
    /// Alpine 3.20.3 with a full config (User 1000, ports, healthcheck...).
    Configured,
    /// Alpine 3.20.3 plus two layers:
    /// layer 2 (made by `umoci repack` from an edited rootfs): `etc/.wh.motd` (file deleted),
    /// `etc/.wh.profile.d` (directory deleted), `etc/alpine-release` replaced by `3.20.99\n`;
    /// layer 3 (crafted): `etc/apk/.wh..wh..opq` (opaque) with a new `etc/apk/world`
    /// (`busybox\nportcullis\n`) and `etc/profile.d/portcullis.sh` (re-created after deletion).
    /// `umoci` never writes opaque markers (it whites out each removed child), so layer 3 is
    /// written by hand.
    Layered,
    /// A two-platform index (linux/amd64 = 3.20.3, linux/arm64 = 3.9.6).
    Multiarch,
}

impl ImageName {
    /// The tag in the layout.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Alpine320 => "alpine-3.20",
            Self::Alpine39 => "alpine-3.9",
            Self::Alpine39Arm64 => "alpine-3.9-arm64",
            Self::Configured => "configured",
            Self::Layered => "layered",
            Self::Multiarch => "multiarch",
        }
    }
}

/// Content of `etc/apk/world` in the `layered` image.
pub const LAYERED_APK_WORLD: &[u8] = b"busybox\nportcullis\n";
/// Content of `etc/profile.d/portcullis.sh` in the `layered` image.
pub const LAYERED_PROFILE_SCRIPT: &[u8] = b"export PORTCULLIS=1\n";

/// The images of one test process (built on first use).
#[derive(Debug)]
pub struct TestImages {
    dir: TempDir,
    layout: OciLayout,
    exports: Mutex<BTreeMap<(String, &'static str), PathBuf>>,
}

/// The test images, built once per process.
pub fn images() -> &'static TestImages {
    static IMAGES: OnceLock<TestImages> = OnceLock::new();
    IMAGES.get_or_init(TestImages::build)
}

impl TestImages {
    fn build() -> Self {
        let dir = crate::temp_dir("images");
        let layout = OciLayout::new(dir.path().join("layout"));
        let l = layout.path().display().to_string();
        run("umoci", ["init", "--layout", &l]);

        for (name, version) in [
            (ImageName::Alpine320, "3.20.3"),
            (ImageName::Alpine39, "3.9.6"),
        ] {
            let image = format!("{l}:{}", name.tag());
            run("umoci", ["new", "--image", &image]);
            let bundle = dir.path().join(format!("bundle-{}", name.tag()));
            run(
                "umoci",
                [
                    "unpack",
                    "--rootless",
                    "--image",
                    &image,
                    &path_str(&bundle),
                ],
            );
            run(
                "tar",
                [
                    "-C",
                    &path_str(&bundle.join("rootfs")),
                    "-xzf",
                    &path_str(&alpine_minirootfs(version)),
                ],
            );
            run("umoci", ["repack", "--image", &image, &path_str(&bundle)]);
            std::fs::remove_dir_all(&bundle).unwrap();
        }

        build_configured(&layout);
        build_layered(&layout, dir.path());
        build_multiarch(&layout);
        crate::hostile::build(&layout, ImageName::Alpine320.tag());
        Self {
            dir,
            layout,
            exports: Mutex::new(BTreeMap::new()),
        }
    }

    /// The layout holding every image.
    pub fn layout(&self) -> &OciLayout {
        &self.layout
    }

    /// `oci-dir:LAYOUT:TAG` for `image`.
    pub fn oci_dir_source(&self, image: ImageName) -> String {
        self.layout.source(image.tag())
    }

    /// `oci:LAYOUT:TAG` (skopeo's name) for `image`.
    pub fn skopeo_ref(&self, image: ImageName) -> String {
        self.layout.skopeo_ref(image.tag())
    }

    /// The digest `index.json` gives `image` (manifest, or index for `multiarch`).
    pub fn digest(&self, image: ImageName) -> String {
        self.layout.digest(image.tag())
    }

    /// `image` saved as an OCI archive with ref name = its tag (`skopeo copy ... oci-archive:`).
    pub fn oci_archive(&self, image: ImageName) -> PathBuf {
        self.export(image, "oci-archive", |file| {
            format!("oci-archive:{}:{}", file.display(), image.tag())
        })
    }

    /// `image` saved as a docker archive tagged `alpine:TAG` (`skopeo copy ... docker-archive:`).
    pub fn docker_archive(&self, image: ImageName) -> PathBuf {
        self.export(image, "docker-archive", |file| {
            format!("docker-archive:{}:alpine:{}", file.display(), image.tag())
        })
    }

    /// Any export: `dest` turns the output file into a skopeo destination.
    fn export(
        &self,
        image: ImageName,
        kind: &'static str,
        dest: impl FnOnce(&Path) -> String,
    ) -> PathBuf {
        let mut exports = self.exports.lock().unwrap_or_else(|e| e.into_inner());
        let key = (image.tag().to_string(), kind);
        if let Some(path) = exports.get(&key) {
            return path.clone();
        }
        let file = self.dir.path().join(format!("{}.{kind}.tar", image.tag()));
        run(
            "skopeo",
            [
                "--insecure-policy".to_string(),
                "copy".to_string(),
                self.skopeo_ref(image),
                dest(&file),
            ],
        );
        exports.insert(key, file.clone());
        file
    }

    /// A directory holding the unpacked Alpine mini root filesystem `version`.
    pub fn rootfs_dir(&self, version: &str) -> PathBuf {
        let mut exports = self.exports.lock().unwrap_or_else(|e| e.into_inner());
        let key = (version.to_string(), "rootfs-dir");
        if let Some(path) = exports.get(&key) {
            return path.clone();
        }
        let dir = self.dir.path().join(format!("rootfs-{version}"));
        std::fs::create_dir_all(&dir).unwrap();
        run(
            "tar",
            [
                "-C",
                &path_str(&dir),
                "-xzf",
                &path_str(&alpine_minirootfs(version)),
            ],
        );
        exports.insert(key, dir.clone());
        dir
    }

    /// A scratch directory that lives as long as the images.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let d = self.dir.path().join("scratch").join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}

fn build_configured(layout: &OciLayout) {
    let l = layout.path().display().to_string();
    run(
        "umoci",
        [
            "config",
            "--image",
            &format!("{l}:{}", ImageName::Alpine320.tag()),
            "--tag",
            ImageName::Configured.tag(),
            "--config.user",
            "1000",
            "--config.exposedports",
            "22/tcp",
            "--config.exposedports",
            "8080/tcp",
            "--config.env",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--config.env",
            "PORTCULLIS=test",
            "--config.label",
            "org.opencontainers.image.title=configured",
            "--config.entrypoint",
            "/bin/sh",
            "--config.cmd",
            "-c",
            "--config.cmd",
            "sleep 1",
            "--config.workingdir",
            "/srv",
        ],
    );
    layout.edit_config(ImageName::Configured.tag(), |config| {
        config["config"]["Healthcheck"] = json!({
            "Test": ["CMD-SHELL", "wget -q -O- http://127.0.0.1:8080/ || exit 1"],
            "Interval": 30_000_000_000_i64,
            "Timeout": 5_000_000_000_i64,
            "Retries": 3
        });
    });
}

fn build_layered(layout: &OciLayout, work: &Path) {
    let l = layout.path().display().to_string();
    let bundle = work.join("bundle-layered");
    run(
        "umoci",
        [
            "unpack",
            "--rootless",
            "--image",
            &format!("{l}:{}", ImageName::Alpine320.tag()),
            &path_str(&bundle),
        ],
    );
    let rootfs = bundle.join("rootfs");
    std::fs::remove_file(rootfs.join("etc/motd")).unwrap();
    std::fs::remove_dir_all(rootfs.join("etc/profile.d")).unwrap();
    std::fs::write(rootfs.join("etc/alpine-release"), b"3.20.99\n").unwrap();
    run(
        "umoci",
        [
            "repack",
            "--image",
            &format!("{l}:{}", ImageName::Layered.tag()),
            &path_str(&bundle),
        ],
    );
    std::fs::remove_dir_all(&bundle).unwrap();
    let upper = TarBuilder::new()
        .dir("etc/")
        .dir("etc/apk/")
        .file("etc/apk/.wh..wh..opq", b"")
        .file("etc/apk/world", LAYERED_APK_WORLD)
        .dir("etc/profile.d/")
        .file("etc/profile.d/portcullis.sh", LAYERED_PROFILE_SCRIPT)
        .finish();
    layout.append_layer(ImageName::Layered.tag(), &upper);
}

fn build_multiarch(layout: &OciLayout) {
    let l = layout.path().display().to_string();
    run(
        "umoci",
        [
            "config",
            "--image",
            &format!("{l}:{}", ImageName::Alpine39.tag()),
            "--tag",
            ImageName::Alpine39Arm64.tag(),
            "--architecture",
            "arm64",
        ],
    );
    let entry = |image: ImageName, arch: &str| {
        let mut d = layout.descriptor(image.tag());
        d.as_object_mut().unwrap().remove("annotations");
        d["mediaType"] = json!(MANIFEST_MEDIA_TYPE);
        d["platform"] = json!({"os": "linux", "architecture": arch});
        d
    };
    let index = json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [entry(ImageName::Alpine320, "amd64"), entry(ImageName::Alpine39Arm64, "arm64")]
    });
    let (digest, size) = layout.write_json_blob(&index);
    layout.set_descriptor(
        ImageName::Multiarch.tag(),
        json!({"mediaType": INDEX_MEDIA_TYPE, "digest": digest, "size": size}),
    );
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// The bytes of `path` (e.g. `lib/apk/db/installed`) in the Alpine mini root filesystem
/// `version`, read straight from the tarball: the expected value for tests.
pub fn minirootfs_file(version: &str, path: &str) -> Option<Vec<u8>> {
    let file = std::fs::File::open(alpine_minirootfs(version)).unwrap();
    let mut archive = tar::Archive::new(GzDecoder::new(file));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        if name.trim_start_matches("./") == path && entry.header().entry_type().is_file() {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            return Some(data);
        }
    }
    None
}

/// Regular-file paths under `prefix` in the mini root filesystem `version`, sorted.
pub fn minirootfs_files_under(version: &str, prefix: &str) -> Vec<String> {
    let file = std::fs::File::open(alpine_minirootfs(version)).unwrap();
    let mut archive = tar::Archive::new(GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        let name = name.trim_start_matches("./").to_string();
        if name.starts_with(prefix) && entry.header().entry_type().is_file() {
            out.push(name);
        }
    }
    out.sort();
    out
}
