//! Root filesystems: a tarball (`tar:`) read as one pseudo-layer, or a directory (`dir:`).

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{open_error, sha256_of_reader};
use crate::BlobStore;
use crate::digest::DigestExt;
use crate::error::{Error, ErrorKind, Result};
use crate::files::{EntryInfo, FileContent, FileFilter, FileSet, FoundFile};
use crate::image::{ImageConfig, ImageInfo, LayerDescriptor, SourceKind};
use crate::layers::Compression;
use crate::options::{ImageOptions, Limits};

/// Deepest directory nesting walked in a `dir:` source.
const MAX_DEPTH: usize = 256;

/// Open a root filesystem tarball as an image of one layer whose digest is the file's sha256.
pub(crate) fn open_rootfs_tar(
    path: &Path,
    options: &ImageOptions,
) -> Result<(ImageInfo, Box<dyn BlobStore>)> {
    let _ = options;
    let what = path.display().to_string();
    let file = File::open(path).map_err(|e| open_error(&what, e))?;
    let size = file.metadata().map_err(|e| Error::io(&*what, e))?.len();
    let mut prefix = [0u8; 4];
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut got = 0;
    while got < prefix.len() {
        let n = reader
            .read(prefix.get_mut(got..).unwrap_or(&mut []))
            .map_err(|e| Error::io(&*what, e))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let head = prefix.get(..got).unwrap_or(&[]);
    let compression = Compression::sniff(head);
    let digest = sha256_of_reader(head.chain(reader)).map_err(|e| Error::io(&*what, e))?;
    let info = ImageInfo {
        reference: format!("tar:{what}"),
        source: SourceKind::Tar,
        digest: None,
        manifest_digest: None,
        config_digest: None,
        platform: None,
        config: ImageConfig::default(),
        layers: vec![LayerDescriptor {
            digest,
            size,
            media_type: compression.oci_layer_media_type().to_string(),
            diff_id: None,
        }],
    };
    Ok((
        info,
        Box::new(FileStore {
            path: path.to_path_buf(),
        }),
    ))
}

/// Serves the one layer of a `tar:` source from its file.
#[derive(Debug)]
struct FileStore {
    path: PathBuf,
}

impl BlobStore for FileStore {
    fn open_layer(&self, layer: &LayerDescriptor) -> Result<Box<dyn Read + Send + '_>> {
        let what = self.path.display().to_string();
        let file = File::open(&self.path).map_err(|e| open_error(&what, e))?;
        Ok(Box::new(layer.digest.verifying_reader(
            file,
            Some(layer.size),
            format!("layer {} ({what})", layer.digest),
        )))
    }
}

/// Describe an unpacked root filesystem directory (it has no config and no layers).
pub(crate) fn dir_info(path: &Path) -> Result<ImageInfo> {
    let what = path.display().to_string();
    let meta = fs::metadata(path).map_err(|e| open_error(&what, e))?;
    if !meta.is_dir() {
        return Err(Error::new(
            ErrorKind::InvalidOptions,
            format!("{what}: not a directory"),
        ));
    }
    Ok(ImageInfo::new(format!("dir:{what}"), SourceKind::Dir))
}

/// Walk `root` without following symlinks; read the regular files `filter` wants and record
/// every symlink. Unreadable files and directories become warnings.
pub(crate) fn read_dir_files(
    root: &Path,
    filter: &dyn FileFilter,
    limits: &Limits,
) -> Result<FileSet> {
    dir_info(root)?;
    let mut walk = Walk {
        filter,
        limits,
        set: FileSet::default(),
        budget: limits.max_total_file_bytes,
        visited: HashSet::new(),
    };
    walk.dir(root, "", 0);
    Ok(walk.set)
}

struct Walk<'a> {
    filter: &'a dyn FileFilter,
    limits: &'a Limits,
    set: FileSet,
    budget: u64,
    visited: HashSet<(u64, u64)>,
}

impl Walk<'_> {
    fn warn(&mut self, rel: &str, why: impl std::fmt::Display) {
        let shown = if rel.is_empty() { "." } else { rel };
        self.set.warnings.push(format!("'{shown}': {why}"));
    }

    fn dir(&mut self, dir: &Path, rel: &str, depth: usize) {
        if depth > MAX_DEPTH {
            self.warn(
                rel,
                format!("deeper than {MAX_DEPTH} directories; not read"),
            );
            return;
        }
        match fs::symlink_metadata(dir) {
            Ok(meta) => {
                if !self.visited.insert((meta.dev(), meta.ino())) {
                    self.warn(rel, "directory already visited (a bind mount?); skipped");
                    return;
                }
            }
            Err(e) => return self.warn(rel, e),
        }
        let mut names = match fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| match e {
                    Ok(e) => Some(e.file_name()),
                    Err(_) => None,
                })
                .collect::<Vec<_>>(),
            Err(e) => return self.warn(rel, e),
        };
        names.sort();
        for name in names {
            let name_text = name.to_string_lossy();
            let child_rel = if rel.is_empty() {
                name_text.into_owned()
            } else {
                format!("{rel}/{name_text}")
            };
            let child = dir.join(&name);
            let meta = match fs::symlink_metadata(&child) {
                Ok(m) => m,
                Err(e) => {
                    self.warn(&child_rel, e);
                    continue;
                }
            };
            let kind = meta.file_type();
            if kind.is_dir() {
                self.dir(&child, &child_rel, depth + 1);
            } else if kind.is_symlink() {
                match fs::read_link(&child) {
                    Ok(target) => {
                        self.set
                            .symlinks
                            .insert(child_rel, target.to_string_lossy().into_owned());
                    }
                    Err(e) => self.warn(&child_rel, e),
                }
            } else if kind.is_file() {
                self.file(&child, child_rel, meta.len(), meta.permissions().mode());
            }
        }
    }

    fn file(&mut self, path: &Path, rel: String, size: u64, mode: u32) {
        let mode = mode & 0o7777;
        let info = EntryInfo {
            path: &rel,
            size,
            mode,
        };
        if !self.filter.wants(&info) {
            return;
        }
        let content = if size > self.limits.max_file_size {
            FileContent::over_file_cap(size, self.limits.max_file_size)
        } else if size > self.budget {
            FileContent::Skipped {
                size,
                reason: format!(
                    "the cap of {} bytes for all files was reached",
                    self.limits.max_total_file_bytes
                ),
            }
        } else {
            // Read at most `size` bytes, even if the file grows meanwhile.
            let read = File::open(path)
                .and_then(|f| self.filter.read(&info, &mut BufReader::new(f.take(size))));
            match read {
                Ok(data) => {
                    self.budget = self.budget.saturating_sub(data.len() as u64);
                    FileContent::Data(data)
                }
                Err(e) => {
                    self.warn(&rel, &e);
                    FileContent::Skipped {
                        size,
                        reason: format!("unreadable: {e}"),
                    }
                }
            }
        };
        self.set.files.insert(
            rel.clone(),
            FoundFile {
                path: rel,
                layer: None,
                mode,
                size,
                content,
            },
        );
    }
}

#[cfg(test)]
mod tests;
