//! Following links to wanted files as the container runtime would.
//!
//! A package database may be a symlink (absolute or relative, chained, through symlinked
//! directories such as `lib` -> `usr/lib`) or a hard link to a file elsewhere in the image,
//! whose content the first pass over the layers did not keep because its own path is not
//! wanted. After each pass:
//!
//! - every symlink whose own path is wanted, and every wanted literal path
//!   ([`FileFilter::literal_paths`]) below a symlinked directory, is resolved in the final
//!   filesystem ([`FileSet::resolve_path`]); so is the literal directory of a wanted glob
//!   ([`FileFilter::literal_dirs`], `var/lib/dpkg/status.d` of `var/lib/dpkg/status.d/*`),
//!   and the files matching the rest of the glob in the real directory are read too;
//! - a target that was read gives its content to the link's path (unless the target is
//!   wanted on its own, so its packages are not counted twice);
//! - a target that may exist but was not read, and the target of every wanted hard link
//!   whose content was not read, is added to the wanted paths and the layers are read
//!   again, at most [`MAX_PASSES`] times in all.
//!
//! A link that still cannot be resolved becomes a [`FileContent::Skipped`] file at the
//! link's path, naming the target and the reason: the file exists for the runtime but its
//! content is unknown, and catalogers fail closed on it. A symlink to nothing (dangling,
//! or to a directory) is, as for the runtime, no file at all.

use std::collections::BTreeSet;

use globset::{GlobBuilder, GlobMatcher};

use crate::error::Result;
use crate::files::{EntryInfo, FileContent, FileFilter, FileSet, FoundFile};
use crate::options::Limits;

/// Most passes over the layers for one read: the first, plus up to two more that read
/// only what links point to (a link to a link needs one pass per hop).
pub const MAX_PASSES: usize = 3;

/// What one pass over the image produced.
pub(crate) struct Pass<'a> {
    /// The files read.
    pub(crate) files: FileSet,
    /// May a regular file exist at this (fully resolved) path?
    pub(crate) may_exist: Box<dyn Fn(&str) -> bool + 'a>,
    /// Targets of wanted hard links whose content was not read.
    pub(crate) missing_link_targets: BTreeSet<String>,
}

/// Files of a real directory wanted because a symlinked directory leads there: the
/// directory and the rest of the glob, relative to it.
#[derive(Debug, Clone)]
struct DirTarget {
    resolved: String,
    rest: String,
    matcher: GlobMatcher,
}

impl DirTarget {
    fn new(resolved: String, rest: String) -> Option<Self> {
        let matcher = GlobBuilder::new(&rest)
            .literal_separator(true)
            .build()
            .ok()?
            .compile_matcher();
        Some(Self {
            resolved,
            rest,
            matcher,
        })
    }

    /// The part of `path` below the directory, if it matches the glob.
    fn suffix<'p>(&self, path: &'p str) -> Option<&'p str> {
        let suffix = if self.resolved.is_empty() {
            path
        } else {
            path.strip_prefix(self.resolved.as_str())?
                .strip_prefix('/')?
        };
        self.matcher.is_match(suffix).then_some(suffix)
    }
}

/// The caller's filter plus exact paths (and directory globs) wanted only as link
/// targets; their content is kept as it is (not reduced).
struct WithTargets<'a> {
    base: &'a dyn FileFilter,
    targets: &'a BTreeSet<String>,
    dirs: &'a [DirTarget],
}

impl WithTargets<'_> {
    fn is_target(&self, path: &str) -> bool {
        self.targets.contains(path) || self.dirs.iter().any(|d| d.suffix(path).is_some())
    }
}

impl FileFilter for WithTargets<'_> {
    fn wants(&self, entry: &EntryInfo<'_>) -> bool {
        self.is_target(entry.path) || self.base.wants(entry)
    }

    fn read(
        &self,
        entry: &EntryInfo<'_>,
        reader: &mut dyn std::io::Read,
    ) -> std::io::Result<Vec<u8>> {
        if self.is_target(entry.path) {
            crate::files::read_whole(entry, reader)
        } else {
            self.base.read(entry, reader)
        }
    }

    fn literal_paths(&self) -> Vec<String> {
        self.base.literal_paths()
    }
}

/// Is this path wanted for its name alone (never for being executable)?
fn wanted_by_name(filter: &dyn FileFilter, path: &str) -> bool {
    filter.wants(&EntryInfo {
        path,
        size: 0,
        mode: 0,
    })
}

/// Run `pass` with `filter`, then again (at most [`MAX_PASSES`] in all) while wanted links
/// point to files not read yet; return the files with every wanted link resolved or
/// reported.
pub(crate) fn read_following_links<'p>(
    filter: &dyn FileFilter,
    limits: &Limits,
    pass: &mut dyn FnMut(&dyn FileFilter) -> Result<Pass<'p>>,
) -> Result<FileSet> {
    let literal = filter.literal_paths();
    let literal_dirs = filter.literal_dirs();
    let mut targets: BTreeSet<String> = BTreeSet::new();
    let mut dirs: Vec<DirTarget> = Vec::new();
    let mut round = 0;
    loop {
        round += 1;
        let combined = WithTargets {
            base: filter,
            targets: &targets,
            dirs: &dirs,
        };
        let Pass {
            mut files,
            may_exist,
            missing_link_targets,
        } = pass(&combined)?;
        let mut needed: BTreeSet<String> = missing_link_targets
            .into_iter()
            .filter(|t| !targets.contains(t))
            .collect();
        let mut plan = Vec::new();
        for link in requests(&files, filter, &literal) {
            match files.resolve_path(&link, limits.max_symlink_hops) {
                Ok(target) if target == link => {}
                Ok(target) => {
                    if !files.files.contains_key(&target)
                        && !targets.contains(&target)
                        && may_exist(&target)
                    {
                        needed.insert(target.clone());
                    }
                    plan.push((link, Ok(target)));
                }
                Err(e) => plan.push((link, Err(e.to_string()))),
            }
        }
        let mut dir_plan = Vec::new();
        let mut needed_dirs = Vec::new();
        for (dir, rest) in below_symlinks(&files, &literal_dirs) {
            let pattern = format!("{dir}/{rest}");
            match files.resolve_path(&dir, limits.max_symlink_hops) {
                Ok(resolved) if resolved == dir => {}
                Ok(resolved) => {
                    let known = dirs
                        .iter()
                        .any(|d| d.resolved == resolved && d.rest == rest);
                    if !known && let Some(target) = DirTarget::new(resolved.clone(), rest.clone()) {
                        needed_dirs.push(target);
                    }
                    dir_plan.push((dir, rest, Ok(resolved)));
                }
                Err(e) => plan.push((pattern, Err(e.to_string()))),
            }
        }
        if (needed.is_empty() && needed_dirs.is_empty()) || round >= MAX_PASSES {
            apply_dirs(&mut files, filter, &dirs, dir_plan);
            apply(&mut files, filter, &targets, plan, &*may_exist);
            // Files read only as link targets are not files the caller asked for.
            files.files.retain(|path, f| {
                wanted_by_name(filter, path)
                    || filter.wants(&EntryInfo {
                        path,
                        size: f.size,
                        mode: f.mode,
                    })
            });
            return Ok(files);
        }
        tracing::debug!(
            round,
            targets = needed.len(),
            directories = needed_dirs.len(),
            "reading the layers again for link targets"
        );
        targets.extend(needed);
        dirs.extend(needed_dirs);
    }
}

/// The literal directories of wanted globs that are, or lie below, a symlink.
fn below_symlinks(files: &FileSet, literal_dirs: &[(String, String)]) -> Vec<(String, String)> {
    if files.symlinks.is_empty() {
        return Vec::new();
    }
    literal_dirs
        .iter()
        .filter(|(dir, _)| {
            files.symlinks.contains_key(dir)
                || dir
                    .match_indices('/')
                    .any(|(i, _)| files.symlinks.contains_key(dir.get(..i).unwrap_or("")))
        })
        .cloned()
        .collect()
}

/// Put the files of each real directory that a wanted symlinked directory leads to at their
/// path below the link.
fn apply_dirs(
    files: &mut FileSet,
    filter: &dyn FileFilter,
    dirs: &[DirTarget],
    plan: Vec<(String, String, std::result::Result<String, String>)>,
) {
    for (dir, rest, resolved) in plan {
        let Ok(resolved) = resolved else { continue };
        let Some(target) = dirs
            .iter()
            .find(|d| d.resolved == resolved && d.rest == rest)
        else {
            let pattern = format!("{dir}/{rest}");
            let why = format!(
                "'{dir}' links to the directory '{resolved}', which was not read within {MAX_PASSES} passes over the layers"
            );
            files
                .files
                .insert(pattern.clone(), unknown(pattern, 0, why));
            continue;
        };
        let found: Vec<FoundFile> = files
            .files
            .values()
            .filter_map(|f| {
                let suffix = target.suffix(&f.path)?;
                if wanted_by_name(filter, &f.path) {
                    return None; // catalogued at its own path
                }
                let path = format!("{dir}/{suffix}");
                Some(FoundFile { path, ..f.clone() })
            })
            .collect();
        for file in found {
            files.files.insert(file.path.clone(), file);
        }
    }
}

/// The wanted paths that are links or lie below a symlinked directory.
fn requests(files: &FileSet, filter: &dyn FileFilter, literal: &[String]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = files
        .symlinks
        .keys()
        .filter(|path| wanted_by_name(filter, path))
        .cloned()
        .collect();
    if files.symlinks.is_empty() {
        return out;
    }
    for path in literal {
        if files.files.contains_key(path) || out.contains(path) {
            continue;
        }
        let below_symlink = path
            .match_indices('/')
            .any(|(i, _)| files.symlinks.contains_key(path.get(..i).unwrap_or("")));
        if below_symlink {
            out.insert(path.clone());
        }
    }
    out
}

/// Put each link's content (or why it is unknown) at the link's path.
fn apply(
    files: &mut FileSet,
    filter: &dyn FileFilter,
    targets: &BTreeSet<String>,
    plan: Vec<(String, std::result::Result<String, String>)>,
    may_exist: &dyn Fn(&str) -> bool,
) {
    for (link, resolved) in plan {
        let target = match resolved {
            Ok(target) => target,
            Err(why) => {
                files.files.insert(link.clone(), unknown(link, 0, why));
                continue;
            }
        };
        let Some(found) = files.files.get(&target) else {
            if may_exist(&target) && !targets.contains(&target) {
                let why = format!(
                    "links to '{target}', which was not read within {MAX_PASSES} passes over the layers"
                );
                files.files.insert(link.clone(), unknown(link, 0, why));
            }
            // Otherwise nothing is there (a dangling link, a directory): no file, as for
            // the runtime.
            continue;
        };
        if wanted_by_name(filter, &target) {
            continue; // read and catalogued at its own path
        }
        // Cloned: several links may lead to the same target; a target read only for links
        // is dropped afterwards.
        let found = found.clone();
        let content = match found.content {
            FileContent::Data(data) => FileContent::Data(data),
            FileContent::Skipped { size, reason } => FileContent::Skipped {
                size,
                reason: format!("links to '{target}', which was not read: {reason}"),
            },
        };
        files.files.insert(
            link.clone(),
            FoundFile {
                path: link,
                layer: found.layer,
                mode: found.mode,
                size: found.size,
                content,
            },
        );
    }
}

fn unknown(path: String, size: u64, reason: String) -> FoundFile {
    FoundFile {
        path,
        layer: None,
        mode: 0,
        size,
        content: FileContent::Skipped { size, reason },
    }
}
