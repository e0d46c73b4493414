//! Streaming layers: decompress, walk the tar once, apply whiteouts, keep wanted files.
//!
//! Each layer is read once, front to back, without touching the disk (a second time only if
//! the image reaches a cap while its layers are read concurrently, see below). Compression
//! is recognised by magic bytes (gzip, zstd, else plain tar), never trusted from the media
//! type. After the tar's end the decompressor and the stored stream are drained, so the
//! blob digest is always verified.
//!
//! Decisions worth knowing:
//! - Entry paths are normalised: leading `/` and `./` are stripped and `//` collapsed, so
//!   an absolute path names the same file under the image root (as container runtimes
//!   extract it). A `..` component anywhere in an entry path or a hard link target makes
//!   the layer hostile: [`ErrorKind::InvalidLayer`].
//! - Whiteouts (`.wh.<name>`), opaque markers (`.wh..wh..opq`) and every non-directory entry
//!   hide paths of LOWER layers only; the layer's own entries are kept whatever their tar
//!   order. A directory entry replaces a lower file or symlink at the same path.
//! - A hard link takes the content of its target if that was read (same or lower layer).
//!   If the link is wanted but its target was not read, the file is reported as
//!   [`FileContent::Skipped`] naming the target; the link resolver ([`crate::links`]) then
//!   makes a bounded further pass that also reads the target.
//! - The path of every regular file and hard link is remembered as a 64-bit hash
//!   ([`SeenPaths`]), so that the link resolver knows which symlink targets may exist.
//! - Up to [`Limits::layer_threads`] layers are decoded at once (default: the available
//!   parallelism, at most 4; `PORTCULLIS_LAYER_THREADS` or `layer_threads = 1` reads them
//!   one after the other). Each worker keeps its layer's own entries and records, in tar
//!   order, what depends on the layers below (hidden paths, hard links to lower files,
//!   budget decisions); the merge replays that in layer order on the merge of the layers
//!   below, so the outcome (files, whiteouts, hard links, warnings, errors, caps) is exactly
//!   that of reading the layers one after the other, which is still done for a single layer
//!   and whenever the replay cannot vouch for a layer (see [`concurrent`]). Within a layer,
//!   fetching, decompressing and the tar walk are three stages on three threads
//!   ([`pipeline`]; decompression stays on the walking thread with `layer_threads = 1`),
//!   so a single-layer image uses two cores too. Memory stays
//!   bounded: no layer is held, only wanted files (within `max_total_file_bytes`, shared by
//!   the workers) and, per layer, a path for each entry that hides lower paths.
//! - Bytes counted against `max_total_file_bytes` include files later replaced.
//! - An image may have at most `max_layers` layers, and its layers may decompress to at
//!   most `max_total_layer_bytes` in all (a layer listed twice counts twice): both are
//!   [`ErrorKind::TooLarge`].
//! - The decompressed stream of each layer is hashed as it is read (and drained to its end
//!   after the tar walk) and compared with the config's `rootfs.diff_ids[i]`: a mismatch is
//!   [`ErrorKind::DigestMismatch`] naming the layer. An uncompressed layer whose diff_id is
//!   its blob digest is not hashed twice (the blob digest is verified anyway).

use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, BufReader, Read};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::files::{EntryInfo, FileContent, FileFilter, FileSet, FoundFile};
use crate::image::LayerDescriptor;
use crate::options::Limits;
use crate::{BlobStore, Progress};

/// Buffer size for reads from the store and from the decompressor.
const BUFFER_SIZE: usize = 256 * 1024;
/// Basename prefix of a whiteout entry.
const WHITEOUT_PREFIX: &str = ".wh.";
/// Basename of an opaque-directory marker.
const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// Basename prefix of aufs metadata entries, which are ignored.
const AUFS_META_PREFIX: &str = ".wh..wh.";

/// How a stream is compressed, judged by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    /// No compression (or something unknown: the tar reader will judge).
    None,
    /// gzip (`1f 8b`).
    Gzip,
    /// zstd (`28 b5 2f fd`).
    Zstd,
}

impl Compression {
    /// Recognise the compression from the first bytes of a stream.
    pub(crate) fn sniff(prefix: &[u8]) -> Self {
        if prefix.starts_with(&[0x1f, 0x8b]) {
            Self::Gzip
        } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Self::Zstd
        } else {
            Self::None
        }
    }

    /// The OCI layer media type for a tar with this compression.
    pub(crate) fn oci_layer_media_type(self) -> &'static str {
        match self {
            Self::None => "application/vnd.oci.image.layer.v1.tar",
            Self::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Self::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// Hashes of the paths of every regular file and hard link met in any layer (never
/// forgotten, whiteouts or not): "may this path exist as a file?". Bounded by the number of
/// tar entries read (`max_entries_per_layer` per layer), 8 bytes (plus table overhead)
/// each. A hash collision only costs a needless extra pass.
///
/// It also notes the targets of wanted hard links whose content was not read
/// (`missing_link_targets`, at most one per wanted file), for the next pass to read.
#[derive(Debug, Default)]
pub(crate) struct SeenPaths {
    hashes: HashSet<u64>,
    /// Targets of wanted hard links whose content was not read.
    pub(crate) missing_link_targets: std::collections::BTreeSet<String>,
}

impl SeenPaths {
    fn hash(path: &str) -> u64 {
        let mut hasher = DefaultHasher::new();
        path.hash(&mut hasher);
        hasher.finish()
    }

    /// Remember `path`.
    pub(crate) fn insert(&mut self, path: &str) {
        self.hashes.insert(Self::hash(path));
    }

    /// May a regular file have existed at `path`?
    pub(crate) fn may_contain(&self, path: &str) -> bool {
        self.hashes.contains(&Self::hash(path))
    }
}

/// Read every layer once, base first, and return the wanted files of the merged filesystem.
/// `seen` collects the path of every regular file and hard link. With more than one thread
/// ([`layer_threads`]) layers are decoded concurrently and merged in order
/// ([`concurrent`]), with the same outcome.
pub(crate) fn read_layers(
    store: &dyn BlobStore,
    layers: &[LayerDescriptor],
    filter: &dyn FileFilter,
    limits: &Limits,
    progress: &dyn Progress,
    seen: &mut SeenPaths,
) -> Result<FileSet> {
    if layers.len() > limits.max_layers {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "the image has {} layers, more than the cap of {} layers per image",
                layers.len(),
                limits.max_layers
            ),
        ));
    }
    let mut state = Merged {
        files: FileSet::default(),
        budget: limits.max_total_file_bytes,
        unpacked: limits.max_total_layer_bytes,
    };
    let threads = layer_threads(limits, layers.len());
    let mut next = 0;
    if threads > 1 {
        next = concurrent::read_layers(
            store, layers, filter, limits, progress, seen, &mut state, threads,
        )?;
    }
    for (index, layer) in layers.iter().enumerate().skip(next) {
        read_one(
            store, layer, index, filter, limits, progress, seen, &mut state,
        )?;
    }
    Ok(state.files)
}

/// The merge of the layers read so far, and what the image may still use.
struct Merged {
    /// Wanted files and symlinks of the merged filesystem, and warnings.
    files: FileSet,
    /// Bytes of files that may still be kept (`max_total_file_bytes` at first).
    budget: u64,
    /// Decompressed bytes the layers may still produce (`max_total_layer_bytes` at first).
    unpacked: u64,
}

/// Read layer `index` on top of `state`, sequentially: the reference behaviour.
#[allow(clippy::too_many_arguments)]
fn read_one(
    store: &dyn BlobStore,
    layer: &LayerDescriptor,
    index: usize,
    filter: &dyn FileFilter,
    limits: &Limits,
    progress: &dyn Progress,
    seen: &mut SeenPaths,
    state: &mut Merged,
) -> Result<()> {
    let mut reader = LayerReader {
        layer,
        filter,
        limits,
        below: Below::Known {
            lower: &mut state.files,
            budget: &mut state.budget,
            unpacked: &mut state.unpacked,
        },
        delta: FileSet::default(),
        absolute_reported: false,
        seen,
    };
    reader.read(store, index, progress)?;
    let delta = reader.delta;
    state.files.files.extend(delta.files);
    state.files.symlinks.extend(delta.symlinks);
    state.files.warnings.extend(delta.warnings);
    progress.layer_done(index);
    Ok(())
}

/// Environment variable setting how many layers are decoded at once (`1`: one after the
/// other), when [`Limits::layer_threads`] is 0.
pub(crate) const LAYER_THREADS_ENV: &str = "PORTCULLIS_LAYER_THREADS";

/// Most layers decoded at once when the count is chosen automatically.
const MAX_AUTO_LAYER_THREADS: usize = 4;

/// How many layers to decode at once: [`Limits::layer_threads`] if set, else
/// [`LAYER_THREADS_ENV`] if set to a number, else the available parallelism capped at
/// [`MAX_AUTO_LAYER_THREADS`]; never more than the layers.
pub(crate) fn layer_threads(limits: &Limits, layers: usize) -> usize {
    let wanted = if limits.layer_threads > 0 {
        limits.layer_threads
    } else if let Some(n) = std::env::var(LAYER_THREADS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        n
    } else {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(MAX_AUTO_LAYER_THREADS)
    };
    wanted.min(layers).max(1)
}

/// Reads one layer: collects its own entries in `delta`, and removes what it hides from
/// the layers below as it goes (or notes it, for the merge, when they are not known yet).
struct LayerReader<'a> {
    layer: &'a LayerDescriptor,
    filter: &'a dyn FileFilter,
    limits: &'a Limits,
    below: Below<'a>,
    delta: FileSet,
    /// Whether an absolute entry path was already reported for this layer.
    absolute_reported: bool,
    /// Paths of regular files and hard links seen so far.
    seen: &'a mut SeenPaths,
}

/// What a layer reader knows of the layers below it.
enum Below<'a> {
    /// Sequential reading: their merge, edited as the layer hides paths, and the budgets.
    Known {
        /// The merge of the layers below.
        lower: &'a mut FileSet,
        /// Bytes of files that may still be kept.
        budget: &'a mut u64,
        /// Decompressed bytes the image's layers may still produce.
        unpacked: &'a mut u64,
    },
    /// Concurrent reading: nothing yet; what depends on them is recorded for the merge.
    Deferred(concurrent::Deferred<'a>),
}

/// Paths of the layers below that an entry hides.
#[derive(Debug)]
enum Hide {
    /// The file or symlink at exactly this path.
    Path(String),
    /// The file or symlink at this path and everything below it.
    Tree(String),
    /// Everything strictly below this directory (`""`: the root).
    Below(String),
}

/// Counts stored bytes for progress and tags errors of the store with our error type.
struct CountingReader<'a, R: ?Sized> {
    inner: &'a mut R,
    index: usize,
    progress: &'a dyn Progress,
    what: &'a Digest,
}

impl<R: Read + ?Sized> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                if n > 0 {
                    self.progress.layer_bytes(self.index, n as u64);
                }
                Ok(n)
            }
            Err(e) if carries_our_error(&e) => Err(e),
            Err(e) => Err(Error::io(format!("reading layer {}", self.what), e).into_io()),
        }
    }
}

fn carries_our_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Error>())
}

impl LayerReader<'_> {
    fn digest(&self) -> &Digest {
        &self.layer.digest
    }

    /// Record `path` as found in this layer (replacing what a lower layer had).
    fn keep_file(&mut self, path: String, mode: u32, size: u64, content: FileContent) {
        let layer = Some(self.layer_id());
        self.delta.files.insert(
            path.clone(),
            FoundFile {
                path,
                layer,
                mode,
                size,
                content,
            },
        );
    }

    /// The layer id recorded on found files: the diff_id if known, else the blob digest.
    fn layer_id(&self) -> Digest {
        self.layer
            .diff_id
            .clone()
            .unwrap_or_else(|| self.layer.digest.clone())
    }

    /// Turn an I/O error met while reading the layer into our error: errors of the store
    /// (digest mismatch, network) keep their kind; the rest is a malformed layer.
    fn fail(&self, e: io::Error) -> Error {
        if carries_our_error(&e) {
            if let Some(inner) = e.into_inner()
                && let Ok(ours) = inner.downcast::<Error>()
            {
                return *ours;
            }
            return Error::new(
                ErrorKind::InvalidLayer,
                format!("layer {}: unreadable", self.digest()),
            );
        }
        Error::new(
            ErrorKind::InvalidLayer,
            format!("layer {}: {e}", self.digest()),
        )
        .with_source(e)
    }

    fn read(&mut self, store: &dyn BlobStore, index: usize, progress: &dyn Progress) -> Result<()> {
        let raw = store.open_layer(self.layer)?;
        // Fetching (with the blob digest check) runs on a second thread, decompression on a
        // third (unless `layer_threads = 1`) and the tar walk on this one: on two cores the
        // stages overlap. See [`pipeline`] for the bound on what is in flight.
        std::thread::scope(|scope| {
            let (sender, mut fetched) = pipeline::channel();
            scope.spawn(move || pipeline::fetch(raw, sender));
            self.read_stream(&mut fetched, index, progress)
        })
    }

    fn read_stream(
        &mut self,
        raw: &mut (dyn Read + Send),
        index: usize,
        progress: &dyn Progress,
    ) -> Result<()> {
        let what = self.layer.digest.clone();
        let counted = CountingReader {
            inner: raw,
            index,
            progress,
            what: &what,
        };
        let mut stored = BufReader::with_capacity(BUFFER_SIZE, counted);
        let mut prefix = [0u8; 4];
        let got = read_prefix(&mut stored, &mut prefix).map_err(|e| self.fail(e))?;
        let head = prefix.get(..got).unwrap_or(&[]).to_vec();
        let compression = Compression::sniff(&head);
        let mut stream = io::Cursor::new(head).chain(stored);
        // Decompression gets a thread of its own unless one decoding thread was asked for
        // (`layer_threads = 1`).
        let offload = layer_threads(self.limits, usize::MAX) > 1;
        let read = match compression {
            Compression::None => self.read_tar(&mut stream, compression, index),
            Compression::Gzip | Compression::Zstd if !offload => {
                match pipeline::decoder(&mut stream, compression) {
                    Ok(decoded) => {
                        let mut buffered = BufReader::with_capacity(BUFFER_SIZE, decoded);
                        self.read_tar(&mut buffered, compression, index)
                    }
                    Err(e) => Err(self.fail(e)),
                }
            }
            Compression::Gzip | Compression::Zstd => std::thread::scope(|scope| {
                let (sender, mut decoded) = pipeline::channel();
                let compressed = &mut stream;
                let decoder =
                    scope.spawn(move || pipeline::decode(compressed, compression, sender));
                let read = self.read_tar(&mut decoded, compression, index);
                drop(decoded);
                match decoder.join() {
                    Ok(()) => read,
                    Err(_) => Err(Error::new(
                        ErrorKind::InvalidLayer,
                        format!("layer {}: the decompressing thread failed", self.digest()),
                    )),
                }
            }),
        };
        if let Err(err) = read {
            // A corrupt stream (or a wrong diff_id) is better explained by a mismatch of the
            // blob digest, if there is one.
            if matches!(
                err.kind(),
                ErrorKind::InvalidLayer | ErrorKind::DigestMismatch
            ) && let Err(e) = io::copy(&mut stream, &mut io::sink())
            {
                let drained = self.fail(e);
                if drained.kind() == ErrorKind::DigestMismatch {
                    return Err(drained);
                }
            }
            return Err(err);
        }
        // Whatever follows the compressed stream (or the tar) is read too, so that the
        // verifying reader reaches its end and checks the digest.
        io::copy(&mut stream, &mut io::sink()).map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Walk the decompressed tar stream of the layer, then read it to its end and check its
    /// `diff_id`.
    fn read_tar(
        &mut self,
        decoded: &mut dyn Read,
        compression: Compression,
        index: usize,
    ) -> Result<()> {
        let layer = self.layer;
        // An uncompressed layer is its own diff_id: the blob digest check covers it.
        let expected = layer
            .diff_id
            .as_ref()
            .filter(|d| !(compression == Compression::None && *d == &layer.digest));
        let cap = self.limits.max_total_layer_bytes;
        let decoded = Box::new(decoded);
        let mut unpacked = match &self.below {
            Below::Known { unpacked, .. } => {
                Unpacked::new(decoded, expected, **unpacked, cap, &layer.digest)
            }
            // Concurrently, each layer may use the whole cap, and all together too; the merge
            // checks the layer against what the layers below left.
            Below::Deferred(deferred) => Unpacked::new(decoded, expected, cap, cap, &layer.digest)
                .sharing(deferred.unpacked()),
        };
        let walked = self.walk(&mut tar::Archive::new(&mut unpacked));
        self.count_unpacked(&unpacked);
        walked.map_err(|e| unpacked.cap_error().unwrap_or(e))?;
        // Read what follows the tar's end too, so that the hash covers the whole stream.
        let drained = io::copy(&mut unpacked, &mut io::sink());
        self.count_unpacked(&unpacked);
        drained.map_err(|e| unpacked.cap_error().unwrap_or_else(|| self.fail(e)))?;
        unpacked.verify(index)
    }

    /// Note what `unpacked` used of the cap on decompressed bytes.
    fn count_unpacked(&mut self, unpacked: &Unpacked<'_>) {
        let cap = self.limits.max_total_layer_bytes;
        match &mut self.below {
            Below::Known { unpacked: left, .. } => **left = unpacked.remaining,
            Below::Deferred(deferred) => {
                deferred.used(cap.saturating_sub(unpacked.remaining), unpacked.over_cap());
            }
        }
    }

    fn walk<R: Read>(&mut self, archive: &mut tar::Archive<R>) -> Result<()> {
        let entries = archive.entries().map_err(|e| self.fail(e))?;
        let mut count: u64 = 0;
        for entry in entries {
            if let Below::Deferred(deferred) = &mut self.below
                && deferred.cancelled()
            {
                return Err(Error::new(
                    ErrorKind::InvalidLayer,
                    format!("layer {}: reading abandoned", self.digest()),
                ));
            }
            let mut entry = entry.map_err(|e| self.fail(e))?;
            count = count.saturating_add(1);
            if count > self.limits.max_entries_per_layer {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    format!(
                        "layer {}: more than {} entries",
                        self.digest(),
                        self.limits.max_entries_per_layer
                    ),
                ));
            }
            self.entry(&mut entry)?;
        }
        Ok(())
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw_path = entry.path_bytes().into_owned();
        let path = self.normalize(&raw_path, &raw_path)?;
        if path.is_empty() {
            return Ok(()); // the root directory itself (`/`, `./`), in most layers
        }
        if raw_path.first() == Some(&b'/') && !self.absolute_reported {
            self.absolute_reported = true;
            self.warn(format!(
                "layer {}: entry '{}' has an absolute path; read as '{path}' under the image root, as container runtimes do (later absolute entries of this layer are not reported)",
                self.digest(),
                String::from_utf8_lossy(&raw_path)
            ));
        }
        let (parent, name) = match path.rsplit_once('/') {
            Some((parent, name)) => (parent, name),
            None => ("", path.as_str()),
        };
        if name == OPAQUE_MARKER {
            self.hide(Hide::Below(parent.to_string()));
            return Ok(());
        }
        if name.starts_with(AUFS_META_PREFIX) {
            return Ok(());
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() || hidden == "." || hidden == ".." {
                return Ok(()); // names nothing
            }
            self.hide(Hide::Tree(join(parent, hidden)));
            return Ok(());
        }
        let header = entry.header();
        let mode = header.mode().unwrap_or(0);
        match header.entry_type() {
            tar::EntryType::Directory => {
                // A directory replaces a lower file or symlink, keeping lower children.
                self.forget(&path);
                self.hide(Hide::Path(path));
            }
            tar::EntryType::XGlobalHeader
            | tar::EntryType::XHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => {}
            kind => {
                self.replace(&path);
                match kind {
                    tar::EntryType::Regular
                    | tar::EntryType::Continuous
                    | tar::EntryType::GNUSparse => {
                        self.seen.insert(&path);
                        self.regular(entry, path, mode, &raw_path)?;
                    }
                    tar::EntryType::Symlink => {
                        let target = entry
                            .link_name_bytes()
                            .map(|t| String::from_utf8_lossy(&t).into_owned())
                            .unwrap_or_default();
                        self.delta.symlinks.insert(path, target);
                    }
                    tar::EntryType::Link => {
                        self.seen.insert(&path);
                        let target = entry.link_name_bytes().map(|t| t.into_owned());
                        self.hardlink(path, mode, target.as_deref().unwrap_or(b""), &raw_path)?;
                    }
                    _ => {} // devices, fifos: they only hide what was below
                }
            }
        }
        Ok(())
    }

    /// A non-directory entry at `path` hides the lower path and anything below it, and
    /// replaces an earlier entry of this layer at the same path.
    fn replace(&mut self, path: &str) {
        self.hide(Hide::Tree(path.to_string()));
        self.forget(path);
    }

    /// Hide paths of the layers below (or note it for the merge).
    fn hide(&mut self, hide: Hide) {
        match &mut self.below {
            Below::Known { lower, .. } => hide.apply(lower),
            Below::Deferred(deferred) => deferred.hide(hide),
        }
    }

    /// Drop this layer's own earlier entry at `path`.
    fn forget(&mut self, path: &str) {
        remove_path(&mut self.delta, path, &mut Removed::default());
        if let Below::Deferred(deferred) = &mut self.below {
            deferred.forget(path);
        }
    }

    /// Record a warning, in order.
    fn warn(&mut self, warning: String) {
        match &mut self.below {
            Below::Known { .. } => self.delta.warnings.push(warning),
            Below::Deferred(deferred) => deferred.warn(warning),
        }
    }

    /// May a file needing `need` bytes be kept? (Sequential: `need` fits the budget left;
    /// concurrent: `need` bytes are reserved from the shared budget.) Not kept is noted.
    fn reserve(&mut self, need: u64) -> bool {
        match &mut self.below {
            Below::Known { budget, .. } => need <= **budget,
            Below::Deferred(deferred) => deferred.reserve(need),
        }
    }

    /// A file reserved with `need` bytes was kept with `take` bytes.
    fn settle(&mut self, need: u64, take: u64) {
        match &mut self.below {
            Below::Known { budget, .. } => **budget = budget.saturating_sub(take),
            Below::Deferred(deferred) => deferred.settle(need, take),
        }
    }

    /// The cap of all files, for messages.
    fn budget_reason(&self) -> String {
        format!(
            "the cap of {} bytes for all files was reached",
            self.limits.max_total_file_bytes
        )
    }

    fn regular<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: String,
        mode: u32,
        raw_path: &[u8],
    ) -> Result<()> {
        let size = entry.size();
        let info = EntryInfo {
            path: &path,
            size,
            mode,
        };
        if !self.filter.wants(&info) {
            return Ok(());
        }
        let content = if size > self.limits.max_file_size {
            FileContent::over_file_cap(size, self.limits.max_file_size)
        } else if !self.reserve(size) {
            FileContent::Skipped {
                size,
                reason: self.budget_reason(),
            }
        } else {
            let mut counted = Counted::new(entry.take(size));
            let data = self
                .filter
                .read(&info, &mut counted)
                .and_then(|data| counted.finish().map(|()| data))
                .map_err(|e| self.fail(e))?;
            if counted.count != size {
                return Err(Error::new(
                    ErrorKind::InvalidLayer,
                    format!(
                        "layer {}: entry '{}' is truncated",
                        self.digest(),
                        String::from_utf8_lossy(raw_path)
                    ),
                ));
            }
            self.settle(size, data.len() as u64);
            FileContent::Data(data)
        };
        self.keep_file(path, mode, size, content);
        Ok(())
    }

    fn hardlink(&mut self, path: String, mode: u32, target: &[u8], raw_path: &[u8]) -> Result<()> {
        let target = self.normalize(target, raw_path)?;
        let delta = &self.delta;
        let (found, missing) = match &mut self.below {
            Below::Known { lower, budget, .. } => {
                let source = delta
                    .files
                    .get(&target)
                    .or_else(|| lower.files.get(&target));
                let take = &mut |need: u64| {
                    let fits = need <= **budget;
                    if fits {
                        **budget = budget.saturating_sub(need);
                    }
                    fits
                };
                let found = link_file(source, &path, &target, mode, self.filter, self.limits, take);
                (found, source.is_none())
            }
            Below::Deferred(deferred) => {
                let Some(source) = delta.files.get(&target) else {
                    // The target is in a lower layer (or is a link still to resolve): the
                    // merge resolves it, at this place of the tar order.
                    deferred.link(path, mode, target);
                    return Ok(());
                };
                let take = &mut |need: u64| {
                    let fits = deferred.reserve(need);
                    if fits {
                        deferred.settle(need, need);
                    }
                    fits
                };
                let found = link_file(
                    Some(source),
                    &path,
                    &target,
                    mode,
                    self.filter,
                    self.limits,
                    take,
                );
                (found, false)
            }
        };
        let Some(LinkFile {
            size,
            mode,
            content,
        }) = found
        else {
            return Ok(());
        };
        if missing {
            self.seen.missing_link_targets.insert(target);
            if let FileContent::Skipped { reason, .. } = &content {
                let warning = format!("layer {}: '{path}': {reason}", self.digest());
                self.warn(warning);
            }
        }
        self.keep_file(path, mode, size, content);
        Ok(())
    }

    /// Normalise an entry path or link target; `..` makes the layer hostile.
    fn normalize(&self, raw: &[u8], raw_entry: &[u8]) -> Result<String> {
        let text = String::from_utf8_lossy(raw);
        let mut parts: Vec<&str> = Vec::new();
        for part in text.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    let what = if raw == raw_entry {
                        String::new()
                    } else {
                        format!(" links to '{text}', which")
                    };
                    return Err(Error::new(
                        ErrorKind::InvalidLayer,
                        format!(
                            "layer {}: entry '{}'{what} has a '..' component",
                            self.digest(),
                            String::from_utf8_lossy(raw_entry)
                        ),
                    ));
                }
                p => parts.push(p),
            }
        }
        Ok(parts.join("/"))
    }
}

/// Read up to `buf.len()` bytes, fewer only at the end of the stream.
fn read_prefix<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

/// Files and symlinks removed from a merge, to put back if a concurrent layer's merge is
/// abandoned.
#[derive(Debug, Default)]
struct Removed {
    files: Vec<(String, FoundFile)>,
    symlinks: Vec<(String, String)>,
}

impl Removed {
    /// Put everything back into `set`.
    fn restore(self, set: &mut FileSet) {
        set.files.extend(self.files);
        set.symlinks.extend(self.symlinks);
    }
}

impl Hide {
    /// Remove the hidden paths from `set`, noting what was removed in `removed`.
    fn apply_noting(&self, set: &mut FileSet, removed: &mut Removed) {
        match self {
            Self::Path(path) => remove_path(set, path, removed),
            Self::Tree(path) => {
                remove_path(set, path, removed);
                remove_below(set, path, removed);
            }
            Self::Below(dir) => remove_below(set, dir, removed),
        }
    }

    /// Remove the hidden paths from `set`.
    fn apply(&self, set: &mut FileSet) {
        self.apply_noting(set, &mut Removed::default());
    }
}

/// Remove the file or symlink at exactly `path`.
fn remove_path(set: &mut FileSet, path: &str, removed: &mut Removed) {
    if let Some(entry) = set.files.remove_entry(path) {
        removed.files.push(entry);
    }
    if let Some(entry) = set.symlinks.remove_entry(path) {
        removed.symlinks.push(entry);
    }
}

/// Remove everything strictly below directory `dir` (`""` is the root).
fn remove_below(set: &mut FileSet, dir: &str, removed: &mut Removed) {
    if dir.is_empty() {
        removed.files.extend(std::mem::take(&mut set.files));
        removed.symlinks.extend(std::mem::take(&mut set.symlinks));
        return;
    }
    remove_prefixed(&mut set.files, dir, &mut removed.files);
    remove_prefixed(&mut set.symlinks, dir, &mut removed.symlinks);
}

fn remove_prefixed<V>(map: &mut BTreeMap<String, V>, dir: &str, removed: &mut Vec<(String, V)>) {
    let start = format!("{dir}/");
    // '0' is the character after '/', so this range is exactly the paths under `dir/`.
    let end = format!("{dir}0");
    let doomed: Vec<String> = map.range(start..end).map(|(k, _)| k.clone()).collect();
    for key in doomed {
        if let Some(entry) = map.remove_entry(&key) {
            removed.push(entry);
        }
    }
}

/// A hard link's file: size and mode of its target (or its own mode if the target is
/// unknown) and content.
struct LinkFile {
    size: u64,
    mode: u32,
    content: FileContent,
}

/// The file of a hard link at `path` to `target`, whose file is `source` if it was read;
/// `None` if the filter does not want it. `take(n)` asks the budget for `n` bytes (and
/// charges them if they fit).
fn link_file(
    source: Option<&FoundFile>,
    path: &str,
    target: &str,
    mode: u32,
    filter: &dyn FileFilter,
    limits: &Limits,
    take: &mut dyn FnMut(u64) -> bool,
) -> Option<LinkFile> {
    let (size, mode) = source.map_or((0, mode), |f| (f.size, f.mode));
    let info = EntryInfo { path, size, mode };
    if !filter.wants(&info) {
        return None;
    }
    let content = match source.map(|f| &f.content) {
        Some(FileContent::Data(data)) if take(data.len() as u64) => FileContent::Data(data.clone()),
        Some(FileContent::Data(_)) => FileContent::Skipped {
            size,
            reason: format!(
                "the cap of {} bytes for all files was reached",
                limits.max_total_file_bytes
            ),
        },
        Some(skipped @ FileContent::Skipped { .. }) => skipped.clone(),
        None => FileContent::Skipped {
            size,
            reason: format!("hard link to '{target}', whose content was not read"),
        },
    };
    Some(LinkFile {
        size,
        mode,
        content,
    })
}

mod concurrent;
mod pipeline;
mod unpacked;

use unpacked::Unpacked;

/// A reader that counts the bytes it passes on, so a file read by a [`FileFilter`] can be
/// told whole or truncated whatever the filter kept.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Counted<R> {
    fn new(inner: R) -> Self {
        Self { inner, count: 0 }
    }

    /// Skip whatever the filter did not read, counting it.
    fn finish(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(|_| ())
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod integrity_tests;
#[cfg(test)]
mod tests;
