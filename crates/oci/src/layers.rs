//! Streaming layers: decompress, walk the tar once, apply whiteouts, keep wanted files.
//!
//! Each layer is read exactly once, front to back, without touching the disk. Compression
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
//! - Layers are read one after the other (decompression dominates, and the machine is
//!   small); bytes counted against `max_total_file_bytes` include files later replaced.
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
use std::sync::mpsc;

use flate2::bufread::MultiGzDecoder;

use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::files::{EntryInfo, FileContent, FileFilter, FileSet, FoundFile};
use crate::image::LayerDescriptor;
use crate::options::Limits;
use crate::{BlobStore, Progress};

/// Buffer size for reads from the store and from the decompressor.
const BUFFER_SIZE: usize = 256 * 1024;
/// Largest up-front allocation for one file's content; the vector grows beyond it if needed.
const MAX_PREALLOCATION: u64 = 1024 * 1024;
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
/// `seen` collects the path of every regular file and hard link.
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
    let mut merged = FileSet::default();
    let mut budget = limits.max_total_file_bytes;
    let mut unpacked = limits.max_total_layer_bytes;
    for (index, layer) in layers.iter().enumerate() {
        let mut reader = LayerReader {
            layer,
            filter,
            limits,
            lower: &mut merged,
            delta: FileSet::default(),
            budget: &mut budget,
            unpacked: &mut unpacked,
            absolute_reported: false,
            seen: &mut *seen,
        };
        reader.read(store, index, progress)?;
        let delta = reader.delta;
        merged.files.extend(delta.files);
        merged.symlinks.extend(delta.symlinks);
        merged.warnings.extend(delta.warnings);
        progress.layer_done(index);
    }
    Ok(merged)
}

/// Reads one layer: collects its own entries in `delta`, and removes what it hides from
/// `lower` (the merge of the layers below) as it goes.
struct LayerReader<'a> {
    layer: &'a LayerDescriptor,
    filter: &'a dyn FileFilter,
    limits: &'a Limits,
    lower: &'a mut FileSet,
    delta: FileSet,
    budget: &'a mut u64,
    /// Decompressed bytes the image's layers may still produce.
    unpacked: &'a mut u64,
    /// Whether an absolute entry path was already reported for this layer.
    absolute_reported: bool,
    /// Paths of regular files and hard links seen so far.
    seen: &'a mut SeenPaths,
}

/// Chunks of stored bytes in flight between the fetching thread and the reading one.
const PREFETCH_CHUNKS: usize = 4;

/// Read `source` in chunks and send them on, until its end, an error, or the receiver
/// hangs up (the reader stopped early).
fn pump(mut source: Box<dyn Read + Send + '_>, sender: &mpsc::SyncSender<io::Result<Vec<u8>>>) {
    loop {
        let mut chunk = vec![0u8; BUFFER_SIZE];
        match read_prefix(&mut source, &mut chunk) {
            Ok(0) => return,
            Ok(n) => {
                chunk.truncate(n);
                if sender.send(Ok(chunk)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = sender.send(Err(e));
                return;
            }
        }
    }
}

/// The reading end of [`pump`]: a `Read` over the chunks received.
struct ChannelReader {
    receiver: mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    offset: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(rest) = self.chunk.get(self.offset..)
                && !rest.is_empty()
            {
                let n = rest.len().min(buf.len());
                if let (Some(to), Some(from)) = (buf.get_mut(..n), rest.get(..n)) {
                    to.copy_from_slice(from);
                }
                self.offset += n;
                return Ok(n);
            }
            match self.receiver.recv() {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.offset = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The sender is gone: the end of the stream.
                Err(_) => return Ok(0),
            }
        }
    }
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
        // Fetching and digest verification run on a second thread, decompression and the
        // tar walk on this one: on two cores the stages overlap. The channel is bounded, so
        // at most PREFETCH_CHUNKS chunks are in flight.
        std::thread::scope(|scope| {
            let (sender, receiver) = mpsc::sync_channel(PREFETCH_CHUNKS);
            scope.spawn(move || pump(raw, &sender));
            let mut prefetched = ChannelReader {
                receiver,
                chunk: Vec::new(),
                offset: 0,
            };
            self.read_stream(&mut prefetched, index, progress)
        })
    }

    fn read_stream(
        &mut self,
        raw: &mut dyn Read,
        index: usize,
        progress: &dyn Progress,
    ) -> Result<()> {
        let what = self.layer.digest.clone();
        let mut counted = CountingReader {
            inner: raw,
            index,
            progress,
            what: &what,
        };
        if let Err(err) = self.read_tar(&mut counted, index) {
            // A corrupt stream (or a wrong diff_id) is better explained by a mismatch of the
            // blob digest, if there is one.
            if matches!(
                err.kind(),
                ErrorKind::InvalidLayer | ErrorKind::DigestMismatch
            ) && let Err(e) = io::copy(&mut counted, &mut io::sink())
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
        io::copy(&mut counted, &mut io::sink()).map_err(|e| self.fail(e))?;
        Ok(())
    }

    fn read_tar(&mut self, source: &mut dyn Read, index: usize) -> Result<()> {
        let mut buffered = BufReader::with_capacity(BUFFER_SIZE, source);
        let mut prefix = [0u8; 4];
        let got = read_prefix(&mut buffered, &mut prefix).map_err(|e| self.fail(e))?;
        let head = prefix.get(..got).unwrap_or(&[]);
        let compression = Compression::sniff(head);
        let stream = io::Cursor::new(head.to_vec()).chain(buffered);
        let decoded: Box<dyn Read + '_> = match compression {
            Compression::Gzip => Box::new(BufReader::with_capacity(
                BUFFER_SIZE,
                MultiGzDecoder::new(stream),
            )),
            Compression::Zstd => {
                let decoder =
                    zstd::stream::read::Decoder::with_buffer(stream).map_err(|e| self.fail(e))?;
                Box::new(BufReader::with_capacity(BUFFER_SIZE, decoder))
            }
            Compression::None => Box::new(stream),
        };
        let layer = self.layer;
        // An uncompressed layer is its own diff_id: the blob digest check covers it.
        let expected = layer
            .diff_id
            .as_ref()
            .filter(|d| !(compression == Compression::None && *d == &layer.digest));
        let mut unpacked = Unpacked::new(
            decoded,
            expected,
            *self.unpacked,
            self.limits.max_total_layer_bytes,
            &layer.digest,
        );
        let walked = self.walk(&mut tar::Archive::new(&mut unpacked));
        *self.unpacked = unpacked.remaining;
        walked.map_err(|e| unpacked.cap_error().unwrap_or(e))?;
        // Read what follows the tar's end too, so that the hash covers the whole stream.
        let drained = io::copy(&mut unpacked, &mut io::sink());
        *self.unpacked = unpacked.remaining;
        drained.map_err(|e| unpacked.cap_error().unwrap_or_else(|| self.fail(e)))?;
        unpacked.verify(index)
    }

    fn walk<R: Read>(&mut self, archive: &mut tar::Archive<R>) -> Result<()> {
        let entries = archive.entries().map_err(|e| self.fail(e))?;
        let mut count: u64 = 0;
        for entry in entries {
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
            self.delta.warnings.push(format!(
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
            remove_below(self.lower, parent);
            return Ok(());
        }
        if name.starts_with(AUFS_META_PREFIX) {
            return Ok(());
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() || hidden == "." || hidden == ".." {
                return Ok(()); // names nothing
            }
            let hidden_path = join(parent, hidden);
            remove_path(self.lower, &hidden_path);
            remove_below(self.lower, &hidden_path);
            return Ok(());
        }
        let header = entry.header();
        let mode = header.mode().unwrap_or(0);
        match header.entry_type() {
            tar::EntryType::Directory => {
                // A directory replaces a lower file or symlink, keeping lower children.
                remove_path(self.lower, &path);
                remove_path(&mut self.delta, &path);
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
        remove_path(self.lower, path);
        remove_below(self.lower, path);
        remove_path(&mut self.delta, path);
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
            FileContent::Skipped {
                size,
                reason: format!(
                    "larger than the per-file cap of {} bytes",
                    self.limits.max_file_size
                ),
            }
        } else if size > *self.budget {
            FileContent::Skipped {
                size,
                reason: format!(
                    "the cap of {} bytes for all files was reached",
                    self.limits.max_total_file_bytes
                ),
            }
        } else {
            let capacity = usize::try_from(size.min(MAX_PREALLOCATION)).unwrap_or(0);
            let mut data = Vec::with_capacity(capacity);
            entry
                .take(size)
                .read_to_end(&mut data)
                .map_err(|e| self.fail(e))?;
            if data.len() as u64 != size {
                return Err(Error::new(
                    ErrorKind::InvalidLayer,
                    format!(
                        "layer {}: entry '{}' is truncated",
                        self.digest(),
                        String::from_utf8_lossy(raw_path)
                    ),
                ));
            }
            let data = self.filter.reduce(&info, data);
            *self.budget = self.budget.saturating_sub(data.len() as u64);
            FileContent::Data(data)
        };
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
        Ok(())
    }

    fn hardlink(&mut self, path: String, mode: u32, target: &[u8], raw_path: &[u8]) -> Result<()> {
        let target = self.normalize(target, raw_path)?;
        let source = self
            .delta
            .files
            .get(&target)
            .or_else(|| self.lower.files.get(&target));
        let (size, mode) = source.map_or((0, mode), |f| (f.size, f.mode));
        let info = EntryInfo {
            path: &path,
            size,
            mode,
        };
        if !self.filter.wants(&info) {
            return Ok(());
        }
        let content = match source.map(|f| &f.content) {
            Some(FileContent::Data(data)) if (data.len() as u64) <= *self.budget => {
                *self.budget = self.budget.saturating_sub(data.len() as u64);
                FileContent::Data(data.clone())
            }
            Some(FileContent::Data(_)) => FileContent::Skipped {
                size,
                reason: format!(
                    "the cap of {} bytes for all files was reached",
                    self.limits.max_total_file_bytes
                ),
            },
            Some(skipped @ FileContent::Skipped { .. }) => skipped.clone(),
            None => {
                self.seen.missing_link_targets.insert(target.clone());
                let reason = format!("hard link to '{target}', whose content was not read");
                self.delta
                    .warnings
                    .push(format!("layer {}: '{path}': {reason}", self.digest()));
                FileContent::Skipped { size, reason }
            }
        };
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
fn read_prefix(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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

/// Remove the file or symlink at exactly `path`.
fn remove_path(set: &mut FileSet, path: &str) {
    set.files.remove(path);
    set.symlinks.remove(path);
}

/// Remove everything strictly below directory `dir` (`""` is the root).
fn remove_below(set: &mut FileSet, dir: &str) {
    if dir.is_empty() {
        set.files.clear();
        set.symlinks.clear();
        return;
    }
    remove_prefixed(&mut set.files, dir);
    remove_prefixed(&mut set.symlinks, dir);
}

fn remove_prefixed<V>(map: &mut BTreeMap<String, V>, dir: &str) {
    let start = format!("{dir}/");
    // '0' is the character after '/', so this range is exactly the paths under `dir/`.
    let end = format!("{dir}0");
    let doomed: Vec<String> = map.range(start..end).map(|(k, _)| k.clone()).collect();
    for key in doomed {
        map.remove(&key);
    }
}

mod unpacked;

use unpacked::Unpacked;

#[cfg(test)]
mod integrity_tests;
#[cfg(test)]
mod tests;
