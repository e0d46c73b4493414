//! An index of the regular files in a tar archive, and reading them by seeking.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{Files, open_error};
use crate::error::{Error, ErrorKind, Result};

/// Most entries an image archive may hold.
const MAX_ARCHIVE_ENTRIES: u64 = 1_000_000;
/// Most symlinks followed to find one archive member.
const MAX_LINK_HOPS: u32 = 8;

#[derive(Debug, Clone)]
enum Member {
    File { offset: u64, size: u64 },
    Link(String),
}

/// The members of a tar archive by normalised path; reading one seeks to its data.
#[derive(Debug)]
pub(crate) struct ArchiveFiles {
    path: PathBuf,
    members: BTreeMap<String, Member>,
}

impl ArchiveFiles {
    /// Scan the archive at `path` once (seeking over data) and index its members.
    pub(crate) fn scan(path: &Path) -> Result<Self> {
        let what = path.display().to_string();
        let file = File::open(path).map_err(|e| open_error(&what, e))?;
        let mut archive = tar::Archive::new(BufReader::with_capacity(64 * 1024, file));
        let bad = |e: std::io::Error| {
            Error::new(
                ErrorKind::InvalidManifest,
                format!("{what}: not a readable tar archive: {e}"),
            )
            .with_source(e)
        };
        let mut members = BTreeMap::new();
        let mut count: u64 = 0;
        for entry in archive.entries_with_seek().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            count += 1;
            if count > MAX_ARCHIVE_ENTRIES {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    format!("{what}: more than {MAX_ARCHIVE_ENTRIES} entries"),
                ));
            }
            let name = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
            let member = match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => Member::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                },
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .unwrap_or_default();
                    let target = if entry.header().entry_type() == tar::EntryType::Link
                        || target.starts_with('/')
                    {
                        normalize(&target)
                    } else {
                        let parent = name.rsplit_once('/').map_or("", |(p, _)| p);
                        normalize(&format!("{parent}/{target}"))
                    };
                    Member::Link(target)
                }
                _ => continue,
            };
            members.insert(name, member);
        }
        Ok(Self {
            path: path.to_path_buf(),
            members,
        })
    }

    fn find(&self, name: &str) -> Result<(u64, u64)> {
        let mut current = normalize(name);
        for _ in 0..=MAX_LINK_HOPS {
            match self.members.get(&current) {
                Some(Member::File { offset, size }) => return Ok((*offset, *size)),
                Some(Member::Link(target)) => current = target.clone(),
                None => {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        format!("{}: not found", self.describe(name)),
                    ));
                }
            }
        }
        Err(Error::new(
            ErrorKind::InvalidManifest,
            format!("{}: too many links", self.describe(name)),
        ))
    }
}

impl Files for ArchiveFiles {
    fn open(&self, name: &str) -> Result<(Box<dyn Read + Send + '_>, u64)> {
        let (offset, size) = self.find(name)?;
        let what = self.describe(name);
        let mut file = File::open(&self.path).map_err(|e| open_error(&what, e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(what, e))?;
        Ok((Box::new(file.take(size)), size))
    }

    fn exists(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    fn describe(&self, name: &str) -> String {
        format!("{}: member '{name}'", self.path.display())
    }
}

/// Strip `./`, leading `/`, empty and `.` components; `..` pops (names are only lookups).
fn normalize(name: &str) -> String {
    crate::files::normalize_lexically(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_and_reads_members_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        let mut b = tar::Builder::new(File::create(&path).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, "./x/data.bin", &b"hello"[..])
            .unwrap();
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::Symlink);
        l.set_size(0);
        b.append_link(&mut l, "y/alias", "../x/data.bin").unwrap();
        b.into_inner().unwrap();
        let files = ArchiveFiles::scan(&path).unwrap();
        for name in ["x/data.bin", "y/alias"] {
            let (mut r, size) = files.open(name).unwrap();
            let mut s = String::new();
            r.read_to_string(&mut s).unwrap();
            assert_eq!((s.as_str(), size), ("hello", 5));
        }
        assert_eq!(
            files.open("nope").err().map(|e| e.kind()),
            Some(ErrorKind::NotFound)
        );
        std::fs::write(&path, b"not a tar at all, definitely not").unwrap();
        assert_eq!(
            ArchiveFiles::scan(&path).unwrap_err().kind(),
            ErrorKind::InvalidManifest
        );
    }
}
