//! Local sources: OCI layouts, archives, root filesystem tarballs and directories. (Being written.)

use std::path::Path;

use crate::BlobStore;
use crate::error::{Error, ErrorKind, Result};
use crate::files::{FileFilter, FileSet};
use crate::image::ImageInfo;
use crate::options::{ImageOptions, Limits};

fn not_yet(what: &Path) -> Error {
    Error::new(
        ErrorKind::InvalidOptions,
        format!("{}: not built yet", what.display()),
    )
}

pub(crate) fn open_oci_dir(
    path: &Path,
    tag: Option<&str>,
    options: &ImageOptions,
) -> Result<(ImageInfo, Box<dyn BlobStore>)> {
    let _ = (tag, options);
    Err(not_yet(path))
}

pub(crate) fn open_oci_archive(
    path: &Path,
    tag: Option<&str>,
    options: &ImageOptions,
) -> Result<(ImageInfo, Box<dyn BlobStore>)> {
    let _ = (tag, options);
    Err(not_yet(path))
}

pub(crate) fn open_docker_archive(
    path: &Path,
    options: &ImageOptions,
) -> Result<(ImageInfo, Box<dyn BlobStore>)> {
    let _ = options;
    Err(not_yet(path))
}

pub(crate) fn open_rootfs_tar(
    path: &Path,
    options: &ImageOptions,
) -> Result<(ImageInfo, Box<dyn BlobStore>)> {
    let _ = options;
    Err(not_yet(path))
}

pub(crate) fn dir_info(path: &Path) -> Result<ImageInfo> {
    Err(not_yet(path))
}

pub(crate) fn read_dir_files(
    root: &Path,
    filter: &dyn FileFilter,
    limits: &Limits,
) -> Result<FileSet> {
    let _ = (filter, limits);
    Err(not_yet(root))
}
