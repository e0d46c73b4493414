//! Local sources: OCI layouts (directory or tar), docker archives, root filesystem tarballs
//! and directories.
//!
//! Archives are never extracted: they are scanned once into an index of entry offsets, and
//! blobs are read by seeking into the file.

mod archive;
mod docker_archive;
mod oci_layout;
mod rootfs;
#[cfg(test)]
mod test_support;

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};

pub(crate) use docker_archive::open_docker_archive;
pub(crate) use oci_layout::{open_oci_archive, open_oci_dir};
pub(crate) use rootfs::{dir_info, open_rootfs_tar, read_dir_files};

/// Named files of a layout or archive, by `/`-separated path relative to its root.
pub(crate) trait Files: Send + Sync + fmt::Debug {
    /// Open `name`; returns the reader and the file's size.
    fn open(&self, name: &str) -> Result<(Box<dyn Read + Send + '_>, u64)>;
    /// Does `name` exist?
    fn exists(&self, name: &str) -> bool;
    /// How to name `name` in messages.
    fn describe(&self, name: &str) -> String;
}

/// Read `name` whole, refusing anything larger than `cap` bytes.
pub(crate) fn read_small(files: &dyn Files, name: &str, cap: u64) -> Result<Vec<u8>> {
    let (reader, size) = files.open(name)?;
    if size > cap {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "{}: {size} bytes, more than the cap of {cap}",
                files.describe(name)
            ),
        ));
    }
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| Error::io(files.describe(name), e))?;
    if data.len() as u64 > cap {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("{}: more than the cap of {cap} bytes", files.describe(name)),
        ));
    }
    Ok(data)
}

/// Files of a directory (an OCI layout). Names are only ever built from fixed strings and
/// validated digests, never from document content.
#[derive(Debug)]
pub(crate) struct DirFiles {
    root: PathBuf,
}

impl DirFiles {
    pub(crate) fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }
}

impl Files for DirFiles {
    fn open(&self, name: &str) -> Result<(Box<dyn Read + Send + '_>, u64)> {
        let path = self.root.join(name);
        let file = File::open(&path).map_err(|e| open_error(&path.display().to_string(), e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::io(path.display().to_string(), e))?
            .len();
        Ok((Box::new(BufReader::with_capacity(64 * 1024, file)), size))
    }

    fn exists(&self, name: &str) -> bool {
        self.root.join(name).is_file()
    }

    fn describe(&self, name: &str) -> String {
        self.root.join(name).display().to_string()
    }
}

/// An I/O error opening `what`: missing files are [`ErrorKind::NotFound`].
pub(crate) fn open_error(what: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::new(ErrorKind::NotFound, format!("{what}: not found")).with_source(e)
    } else {
        Error::io(what.to_string(), e)
    }
}

/// The sha256 digest of everything `reader` yields.
pub(crate) fn sha256_of_reader(mut reader: impl Read) -> std::io::Result<Digest> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(buf.get(..n).unwrap_or(&[]));
    }
    let text = format!("sha256:{}", hex::encode(hasher.finalize()));
    Digest::parse(&text).map_err(|e| Error::from(e).into_io())
}
