//! Asking for files by path pattern, and the files found.
//!
//! Catalogers say which files they want ([`FileFilter`]); the layer reader hands back
//! only those ([`FileSet`]), with whiteouts applied and the layer that added each one.

use std::collections::BTreeMap;
use std::io::Read;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};

/// Facts about a tar entry or directory entry offered to a [`FileFilter`].
#[derive(Debug, Clone, Copy)]
pub struct EntryInfo<'a> {
    /// Path relative to the root, no leading `/` or `./`, `/`-separated, normalised.
    pub path: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// Unix mode bits (permission bits; `0o111` tells executables).
    pub mode: u32,
}

/// Decides which regular files are read and handed to catalogers.
pub trait FileFilter: Sync {
    /// Should this regular file's content be read?
    fn wants(&self, entry: &EntryInfo<'_>) -> bool;

    /// Read a wanted file's content from `reader` (at most `entry.size` bytes) and return
    /// the bytes to keep in its place ([`FoundFile::size`] stays the original size). The
    /// default keeps the whole file ([`read_whole`]). A filter that needs only a little of a
    /// big file (an executable's build info) reads it as it streams by instead and keeps
    /// that little, so the file is never held whole. Errors are those of `reader` (the layer
    /// is unreadable); whatever the reader stops short of is skipped by the caller, which
    /// also tells a truncated entry from a whole one.
    fn read(
        &self,
        entry: &EntryInfo<'_>,
        reader: &mut dyn std::io::Read,
    ) -> std::io::Result<Vec<u8>> {
        read_whole(entry, reader)
    }

    /// Wanted paths written without any glob character (`lib/apk/db/installed`). The image
    /// reader looks each one up through symlinked directories (`lib` -> `usr/lib`), as the
    /// runtime would. The default is none.
    fn literal_paths(&self) -> Vec<String> {
        Vec::new()
    }

    /// Wanted glob patterns that start with a literal directory, split into that directory
    /// and the rest (`var/lib/dpkg/status.d/*` gives `("var/lib/dpkg/status.d", "*")`).
    /// The image reader follows a symlinked directory there, as the runtime would. The
    /// default is none.
    fn literal_dirs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Content up to this size is allocated at once; a bigger one is allocated at its declared
/// size if the allocator grants it (never doubling a vector of tens of megabytes while
/// copying it, which held up to three times a big file), else grown as it is read. Pages of
/// an allocation are only resident once written, so a hostile header claiming more than it
/// sends costs address space, not memory.
const MAX_PREALLOCATION: u64 = 1024 * 1024;

/// Read all of a wanted file (at most `entry.size` bytes) into memory.
pub fn read_whole(
    entry: &EntryInfo<'_>,
    reader: &mut dyn std::io::Read,
) -> std::io::Result<Vec<u8>> {
    let size = entry.size;
    let capacity = usize::try_from(size.min(MAX_PREALLOCATION)).unwrap_or(0);
    let mut data = Vec::with_capacity(capacity);
    if let Ok(exact) = usize::try_from(size)
        && exact > capacity
    {
        // A refusal (no address space) leaves the vector to grow as it is read.
        let _ = data.try_reserve_exact(exact);
    }
    reader.take(size).read_to_end(&mut data)?;
    Ok(data)
}

/// The longest path or link target followed when resolving links (Linux's `PATH_MAX`);
/// with at most `max_symlink_hops` links per path, this bounds the work of one lookup.
pub const MAX_PATH_LEN: usize = 4096;

/// Is `pattern` free of glob metacharacters?
pub(crate) fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

/// A [`FileFilter`] from glob patterns (`**` crosses directories, `*` does not),
/// optionally also taking every executable file.
#[derive(Debug, Clone)]
pub struct PathPatterns {
    set: GlobSet,
    patterns: Vec<String>,
    executables: bool,
}

impl PathPatterns {
    /// Build from patterns relative to the root, e.g. `lib/apk/db/installed`,
    /// `**/*.dist-info/METADATA`.
    pub fn new<I, S>(patterns: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut builder = GlobSetBuilder::new();
        let mut kept = Vec::new();
        for pattern in patterns {
            let pattern = pattern.as_ref().trim_start_matches('/');
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidOptions,
                        format!("invalid file pattern '{pattern}': {e}"),
                    )
                })?;
            builder.add(glob);
            kept.push(pattern.to_string());
        }
        let set = builder.build().map_err(|e| {
            Error::new(
                ErrorKind::InvalidOptions,
                format!("invalid file patterns: {e}"),
            )
        })?;
        Ok(Self {
            set,
            patterns: kept,
            executables: false,
        })
    }

    /// Also want every file with an executable bit set (for Go and Rust binaries).
    #[must_use]
    pub fn with_executables(mut self, yes: bool) -> Self {
        self.executables = yes;
        self
    }

    /// The patterns, as given.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Does the path match one of the patterns?
    pub fn matches(&self, path: &str) -> bool {
        self.set.is_match(path)
    }
}

impl PathPatterns {
    /// The patterns that name one path each (no glob character), normalised.
    pub fn literal_paths(&self) -> Vec<String> {
        self.patterns
            .iter()
            .filter(|p| is_literal(p))
            .map(|p| normalize_lexically(p))
            .filter(|p| !p.is_empty())
            .collect()
    }
}

impl PathPatterns {
    /// The glob patterns that start with a literal directory, split into the directory and
    /// the rest (see [`FileFilter::literal_dirs`]).
    pub fn literal_dirs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for pattern in self.patterns.iter().filter(|p| !is_literal(p)) {
            let parts: Vec<&str> = pattern.split('/').collect();
            let literal = parts.iter().take_while(|p| is_literal(p)).count();
            if literal == 0 || literal >= parts.len() {
                continue;
            }
            let dir = normalize_lexically(&parts[..literal].join("/"));
            if !dir.is_empty() {
                out.push((dir, parts[literal..].join("/")));
            }
        }
        out
    }
}

impl FileFilter for PathPatterns {
    fn wants(&self, entry: &EntryInfo<'_>) -> bool {
        self.set.is_match(entry.path) || (self.executables && entry.mode & 0o111 != 0)
    }

    fn literal_paths(&self) -> Vec<String> {
        PathPatterns::literal_paths(self)
    }

    fn literal_dirs(&self) -> Vec<(String, String)> {
        PathPatterns::literal_dirs(self)
    }
}

/// The content of a found file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileContent {
    /// The whole file.
    Data(Vec<u8>),
    /// The file was larger than the per-file cap (or the total cap was reached); not read.
    Skipped {
        /// The file's size.
        size: u64,
        /// Why it was not read.
        reason: String,
    },
}

impl FileContent {
    /// A file of `size` bytes not read for being over the per-file cap of `cap` bytes.
    pub(crate) fn over_file_cap(size: u64, cap: u64) -> Self {
        Self::Skipped {
            size,
            reason: format!("larger than the per-file cap of {cap} bytes"),
        }
    }
}

/// A wanted file as it is in the final (merged) filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    /// Path relative to the root, normalised.
    pub path: String,
    /// The layer that added this version of the file: its diff_id if known, else the blob
    /// digest. `None` for a `dir:` source.
    pub layer: Option<Digest>,
    /// Unix mode bits.
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// The content.
    pub content: FileContent,
}

impl FoundFile {
    /// The content, if it was read.
    pub fn data(&self) -> Option<&[u8]> {
        match &self.content {
            FileContent::Data(d) => Some(d),
            FileContent::Skipped { .. } => None,
        }
    }
}

/// The wanted files of an image, with whiteouts applied, plus every symlink so that
/// lookups can follow them, and warnings about what could not be read.
#[derive(Debug, Clone, Default)]
pub struct FileSet {
    /// Regular files by normalised path.
    pub files: BTreeMap<String, FoundFile>,
    /// Symlinks by normalised path: target as written in the entry.
    pub symlinks: BTreeMap<String, String>,
    /// Non-fatal problems, each naming the layer and path.
    pub warnings: Vec<String>,
}

impl FileSet {
    /// Look up a file, following symlinks (absolute or relative, in any path component)
    /// within the image's filesystem. A loop or more than `max_hops` links is an error
    /// naming the path.
    pub fn resolve(&self, path: &str, max_hops: u32) -> Result<Option<&FoundFile>> {
        let resolved = self.resolve_path(path, max_hops)?;
        Ok(self.files.get(&resolved))
    }

    /// The path `path` names once every symlink in it is followed, component by component
    /// as the kernel does (a `..` after a symlink goes up from the link's target; `..` at
    /// the root stays at the root; an absolute target restarts at the image root). The
    /// result need not exist. A loop or more than `max_hops` links is an error naming the
    /// path.
    pub fn resolve_path(&self, path: &str, max_hops: u32) -> Result<String> {
        let too_long = || {
            Error::new(
                ErrorKind::InvalidLayer,
                format!(
                    "resolving '{path}': the path or a link target is longer than {MAX_PATH_LEN} bytes"
                ),
            )
        };
        if path.len() > MAX_PATH_LEN {
            return Err(too_long());
        }
        // Components still to walk, last one first.
        let mut pending: Vec<&str> = path.split('/').rev().collect();
        // The path walked so far, and where each of its components starts.
        let mut current = String::new();
        let mut starts: Vec<usize> = Vec::new();
        let mut hops = 0u32;
        while let Some(part) = pending.pop() {
            match part {
                "" | "." => continue,
                ".." => {
                    if let Some(start) = starts.pop() {
                        current.truncate(start.saturating_sub(1));
                    }
                    continue;
                }
                _ => {}
            }
            let start = if current.is_empty() {
                0
            } else {
                current.push('/');
                current.len()
            };
            current.push_str(part);
            starts.push(start);
            if current.len() > MAX_PATH_LEN {
                return Err(too_long());
            }
            let Some(target) = self.symlinks.get(&current) else {
                continue;
            };
            hops += 1;
            if hops > max_hops {
                return Err(Error::new(
                    ErrorKind::InvalidLayer,
                    format!(
                        "resolving '{path}': too many levels of symbolic links (a symlink loop?)"
                    ),
                ));
            }
            if target.len() > MAX_PATH_LEN {
                return Err(too_long());
            }
            // Replace the link by its target.
            starts.pop();
            current.truncate(start.saturating_sub(1));
            if target.starts_with('/') {
                current.clear();
                starts.clear();
            }
            pending.extend(target.split('/').rev());
        }
        Ok(current)
    }

    /// Files whose path matches `patterns`, in path order (symlinks are not followed).
    pub fn matching<'a>(
        &'a self,
        patterns: &'a PathPatterns,
    ) -> impl Iterator<Item = &'a FoundFile> + 'a {
        self.files
            .values()
            .filter(move |f| patterns.matches(&f.path))
    }
}

/// Normalise a path inside the image: strip leading `/` and `./`, resolve `.` and `..`
/// lexically without ever leaving the root.
pub fn normalize_lexically(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    out.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> FoundFile {
        FoundFile {
            path: path.into(),
            layer: None,
            mode: 0o644,
            size: 1,
            content: FileContent::Data(b"x".to_vec()),
        }
    }

    #[test]
    fn patterns() {
        let p = PathPatterns::new(["lib/apk/db/installed", "**/*.dist-info/METADATA"]).unwrap();
        let e = |path| EntryInfo {
            path,
            size: 1,
            mode: 0o644,
        };
        assert!(p.wants(&e("lib/apk/db/installed")));
        assert!(p.wants(&e("usr/lib/python3/site-packages/a-1.dist-info/METADATA")));
        assert!(!p.wants(&e("usr/lib/apk/db/installed")));
        let exe = EntryInfo {
            path: "usr/bin/x",
            size: 1,
            mode: 0o755,
        };
        assert!(!p.wants(&exe));
        assert!(p.clone().with_executables(true).wants(&exe));
        assert!(PathPatterns::new(["a/[b"]).is_err());
        let p = PathPatterns::new(["var/lib/dpkg/status.d/*", "**/x", "a/b", "c/*/d"]).unwrap();
        assert_eq!(p.literal_paths(), ["a/b"]);
        assert_eq!(
            p.literal_dirs(),
            [
                ("var/lib/dpkg/status.d".to_string(), "*".to_string()),
                ("c".to_string(), "*/d".to_string())
            ]
        );
    }

    #[test]
    fn resolves_symlinks_and_loops() {
        let mut set = FileSet::default();
        set.files
            .insert("usr/lib/os-release".into(), file("usr/lib/os-release"));
        set.symlinks
            .insert("etc/os-release".into(), "../usr/lib/os-release".into());
        set.symlinks.insert("lib".into(), "usr/lib".into());
        set.symlinks.insert("a".into(), "b".into());
        set.symlinks.insert("b".into(), "/a".into());
        assert_eq!(
            set.resolve("/etc/os-release", 40).unwrap().unwrap().path,
            "usr/lib/os-release"
        );
        assert_eq!(
            set.resolve("lib/os-release", 40).unwrap().unwrap().path,
            "usr/lib/os-release"
        );
        assert!(set.resolve("etc/missing", 40).unwrap().is_none());
        // `..` after a symlinked directory goes up from its target.
        set.symlinks.insert("d".into(), "usr/lib".into());
        assert_eq!(set.resolve_path("d/../x", 40).unwrap(), "usr/x");
        assert_eq!(
            set.resolve_path("../../d/os-release", 40).unwrap(),
            "usr/lib/os-release"
        );
        set.symlinks
            .insert("e".into(), "../../../usr/lib/os-release".into());
        assert_eq!(set.resolve_path("e", 40).unwrap(), "usr/lib/os-release");
        assert_eq!(set.resolve_path("x/../../d/./y/", 40).unwrap(), "usr/lib/y");
        let long = "a/".repeat(MAX_PATH_LEN);
        assert!(
            set.resolve_path(&long, 40)
                .unwrap_err()
                .to_string()
                .contains("longer than")
        );
        let err = set.resolve("a/x", 40).unwrap_err();
        assert!(err.to_string().contains("'a/x'"), "{err}");
    }

    #[test]
    fn normalizes() {
        assert_eq!(normalize_lexically("./etc//passwd"), "etc/passwd");
        assert_eq!(normalize_lexically("/../../etc/x/../y"), "etc/y");
    }
}
