//! Image source strings: a registry reference or `TRANSPORT:PATH`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Result};
use crate::reference::Reference;

/// Where to read an image from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// A registry reference (the default when no transport prefix is given;
    /// `registry:` and `docker://` prefixes are accepted too).
    Registry(Reference),
    /// `oci-dir:PATH[:TAG]`: an OCI image layout directory.
    OciDir {
        /// The layout directory.
        path: PathBuf,
        /// The `org.opencontainers.image.ref.name` to pick, if several.
        tag: Option<String>,
    },
    /// `oci-archive:FILE`: a tar of an OCI image layout.
    OciArchive {
        /// The archive.
        path: PathBuf,
        /// The ref name to pick, if several.
        tag: Option<String>,
    },
    /// `docker-archive:FILE`: a `docker save` / `skopeo copy ... docker-archive:` tar.
    DockerArchive {
        /// The archive.
        path: PathBuf,
    },
    /// `dir:PATH`: an unpacked root filesystem.
    Dir {
        /// The root directory.
        path: PathBuf,
    },
    /// `tar:FILE`: a root filesystem tarball, gzip, zstd or plain.
    Tar {
        /// The tarball.
        path: PathBuf,
    },
}

impl ImageSource {
    /// Parse a source string such as `alpine:3.20`, `oci-dir:./layout:v1` or `tar:rootfs.tar.gz`.
    pub fn parse(input: &str) -> Result<Self> {
        let empty_path = |transport: &str| {
            Error::new(
                ErrorKind::InvalidReference,
                format!("invalid image source '{input}': '{transport}:' needs a path"),
            )
        };
        let (transport, rest) = match input.split_once(':') {
            Some((t, r)) if KNOWN_TRANSPORTS.contains(&t) => (t, r),
            _ => {
                if let Some(rest) = input.strip_prefix("docker://") {
                    return Ok(Self::Registry(Reference::parse(rest)?));
                }
                return Ok(Self::Registry(Reference::parse(input)?));
            }
        };
        if transport == "registry" || transport == "docker" {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            return Ok(Self::Registry(Reference::parse(rest)?));
        }
        if rest.is_empty() {
            return Err(empty_path(transport));
        }
        Ok(match transport {
            "oci-dir" | "oci" => {
                let (path, tag) = split_path_tag(rest);
                if path.is_empty() {
                    return Err(empty_path(transport));
                }
                Self::OciDir {
                    path: PathBuf::from(path),
                    tag,
                }
            }
            "oci-archive" => {
                let (path, tag) = split_path_tag(rest);
                if path.is_empty() {
                    return Err(empty_path(transport));
                }
                Self::OciArchive {
                    path: PathBuf::from(path),
                    tag,
                }
            }
            "docker-archive" => Self::DockerArchive {
                path: PathBuf::from(rest),
            },
            "dir" => Self::Dir {
                path: PathBuf::from(rest),
            },
            _ => Self::Tar {
                path: PathBuf::from(rest),
            },
        })
    }
}

const KNOWN_TRANSPORTS: &[&str] = &[
    "registry",
    "docker",
    "oci-dir",
    "oci",
    "oci-archive",
    "docker-archive",
    "dir",
    "tar",
];

/// `PATH:TAG` where TAG is the part after the last ':' if it has no '/'.
fn split_path_tag(rest: &str) -> (&str, Option<String>) {
    match rest.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') && !tag.is_empty() && !path.is_empty() => {
            (path, Some(tag.to_string()))
        }
        _ => (rest, None),
    }
}

impl fmt::Display for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Registry(r) => write!(f, "{r}"),
            Self::OciDir { path, tag } | Self::OciArchive { path, tag } => {
                let transport = if matches!(self, Self::OciDir { .. }) {
                    "oci-dir"
                } else {
                    "oci-archive"
                };
                write!(f, "{transport}:{}", path.display())?;
                if let Some(tag) = tag {
                    write!(f, ":{tag}")?;
                }
                Ok(())
            }
            Self::DockerArchive { path } => write!(f, "docker-archive:{}", path.display()),
            Self::Dir { path } => write!(f, "dir:{}", path.display()),
            Self::Tar { path } => write!(f, "tar:{}", path.display()),
        }
    }
}

impl FromStr for ImageSource {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_transports() {
        assert_eq!(
            ImageSource::parse("oci-dir:/tmp/layout:v1").unwrap(),
            ImageSource::OciDir {
                path: "/tmp/layout".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            ImageSource::parse("oci-dir:/tmp/layout").unwrap(),
            ImageSource::OciDir {
                path: "/tmp/layout".into(),
                tag: None
            }
        );
        assert_eq!(
            ImageSource::parse("docker-archive:a.tar").unwrap(),
            ImageSource::DockerArchive {
                path: "a.tar".into()
            }
        );
        assert_eq!(
            ImageSource::parse("dir:/").unwrap(),
            ImageSource::Dir { path: "/".into() }
        );
        assert_eq!(
            ImageSource::parse("tar:x.tar.gz").unwrap(),
            ImageSource::Tar {
                path: "x.tar.gz".into()
            }
        );
        assert_eq!(
            ImageSource::parse("localhost:5000/a:1")
                .unwrap()
                .to_string(),
            "localhost:5000/a:1"
        );
        assert_eq!(
            ImageSource::parse("docker://alpine").unwrap().to_string(),
            "docker.io/library/alpine:latest"
        );
        assert_eq!(
            ImageSource::parse("oci-dir:/tmp/layout:v1")
                .unwrap()
                .to_string(),
            "oci-dir:/tmp/layout:v1"
        );
        assert!(
            ImageSource::parse("tar:")
                .unwrap_err()
                .to_string()
                .contains("needs a path")
        );
    }
}
