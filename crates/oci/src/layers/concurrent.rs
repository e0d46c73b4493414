//! Decoding layers concurrently, merged in layer order with exactly the sequential outcome.
//!
//! Up to `threads` workers take layers in order and read each one with a
//! [`LayerReader`] that does not know the layers below ([`Below::Deferred`]). A worker
//! keeps the layer's own entries (its delta: wanted files, symlinks, seen paths, hard links
//! resolved within the layer) and records, in tar order, the [`Step`]s whose effect depends
//! on the layers below: the paths it hides (whiteouts, opaque markers, replaced paths), the
//! budget of kept bytes each file needed, warnings, and hard links whose target is not in
//! the layer (so far). The main thread merges layer `i` as soon as layers `0..i` are
//! merged: it replays the steps on the merge of the lower layers, which is exactly the
//! state the sequential reader would have had, resolving each hard link at its place in the
//! tar order.
//!
//! The shared caps are replayed too. Workers reserve kept bytes from a shared atomic
//! budget (so all layers together never keep more than `max_total_file_bytes`) and count
//! decompressed bytes against a shared atomic (so a decompression bomb spread over layers
//! stops early). At the merge, every file's decision must match the sequential budget left
//! at that point, and the layer's decompressed bytes must fit what the layers below left;
//! an error of a worker is reported only if the layer got that far sequentially. On any
//! doubt (a cap reached, a decision that differs, a worker abandoned), the merge is undone
//! and this layer and all above it are read again sequentially: exact, and rare (only
//! images at a cap).
//!
//! Memory: no layer is held; a worker keeps its wanted files (counted in the budget) and
//! its steps (a path per hiding entry). Progress: stored bytes are reported as they are
//! read by each worker (a layer read again is reported again); `layer_done` comes in layer
//! order, at the merge.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;

use super::{Below, Hide, LayerReader, Merged, Removed, SeenPaths, link_file};
use crate::error::{Error, Result};
use crate::files::{FileContent, FileFilter, FileSet, FoundFile};
use crate::image::LayerDescriptor;
use crate::options::Limits;
use crate::{BlobStore, Progress};

/// What workers share.
struct Shared {
    /// Bytes of files all workers together may still keep.
    budget: AtomicU64,
    /// Decompressed bytes all workers together may still produce.
    unpacked: AtomicU64,
    /// The next layer to take.
    next: AtomicUsize,
    /// Layers above this index are not needed any more (a layer below failed).
    stop_above: AtomicUsize,
}

/// What a worker records of a layer for the merge, in tar order.
#[derive(Debug)]
enum Step {
    /// Paths of the layers below hidden by an entry.
    Hide(Hide),
    /// A file is read (or a link's content copied): it needed `need` bytes of the budget
    /// left. Recorded before the read, so that a read that fails is vouched for too.
    Fits { need: u64 },
    /// The file read took `take` bytes of the budget.
    Took { take: u64 },
    /// A file of `need` bytes was not kept, the budget being too small.
    Starved { need: u64 },
    /// A warning of the layer.
    Warning(String),
    /// A hard link whose target is not among the layer's own files (so far).
    Link(PendingLink),
}

/// A hard link to resolve at the merge.
#[derive(Debug)]
struct PendingLink {
    /// Numbers the layer's pending links.
    id: usize,
    path: String,
    /// The link entry's own mode.
    mode: u32,
    /// Normalised target path.
    target: String,
    /// The pending link of this layer that sat at `target` when this one was read.
    via: Option<usize>,
    /// Whether a later link goes through this one.
    referenced: bool,
}

/// The reader state of a layer read concurrently.
pub(super) struct Deferred<'a> {
    shared: &'a Shared,
    index: usize,
    steps: Vec<Step>,
    /// Pending links still in place: path to id.
    pending: HashMap<String, usize>,
    /// Step index of each pending link, by id.
    link_steps: Vec<usize>,
    /// Decompressed bytes of the layer read so far.
    used: u64,
    /// A cap was reached or the reading was abandoned: the merge cannot trust this.
    doubt: bool,
}

impl<'a> Deferred<'a> {
    /// Note `hide` for the merge (the base layer hides nothing).
    pub(super) fn hide(&mut self, hide: Hide) {
        if self.index > 0 {
            self.steps.push(Step::Hide(hide));
        }
    }

    /// The layer's own entry at `path` was replaced.
    pub(super) fn forget(&mut self, path: &str) {
        self.pending.remove(path);
    }

    /// Note a warning, in order with those of links.
    pub(super) fn warn(&mut self, warning: String) {
        self.steps.push(Step::Warning(warning));
    }

    /// Reserve `need` bytes from the shared budget; not kept is noted.
    pub(super) fn reserve(&mut self, need: u64) -> bool {
        let fits = self
            .shared
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(need)
            })
            .is_ok();
        self.steps.push(if fits {
            Step::Fits { need }
        } else {
            Step::Starved { need }
        });
        fits
    }

    /// A file reserved with `need` bytes keeps `take`: give back the rest.
    pub(super) fn settle(&mut self, need: u64, take: u64) {
        self.shared
            .budget
            .fetch_add(need.saturating_sub(take), Ordering::Relaxed);
        self.steps.push(Step::Took { take });
    }

    /// A hard link at `path` whose target is not among the layer's files.
    pub(super) fn link(&mut self, path: String, mode: u32, target: String) {
        let id = self.link_steps.len();
        let via = self.pending.get(&target).copied();
        if let Some(step) = via.and_then(|via| self.link_steps.get(via))
            && let Some(Step::Link(link)) = self.steps.get_mut(*step)
        {
            link.referenced = true;
        }
        self.link_steps.push(self.steps.len());
        self.pending.insert(path.clone(), id);
        self.steps.push(Step::Link(PendingLink {
            id,
            path,
            mode,
            target,
            via,
            referenced: false,
        }));
    }

    /// The shared count of decompressed bytes.
    pub(super) fn unpacked(&self) -> &'a AtomicU64 {
        &self.shared.unpacked
    }

    /// The layer decompressed `used` bytes so far; `over_cap`: a cap was reached.
    pub(super) fn used(&mut self, used: u64, over_cap: bool) {
        self.used = used;
        self.doubt |= over_cap;
    }

    /// Is the layer no longer needed? (Then the reading is abandoned, and doubtful.)
    pub(super) fn cancelled(&mut self) -> bool {
        if self.shared.stop_above.load(Ordering::Relaxed) < self.index {
            self.doubt = true;
        }
        self.doubt
    }
}

/// A layer read by a worker.
struct LayerRead {
    delta: FileSet,
    steps: Vec<Step>,
    pending: HashMap<String, usize>,
    used: u64,
    seen: SeenPaths,
}

/// What a worker made of a layer.
enum Outcome {
    /// Read to its end.
    Done(LayerRead),
    /// Failed, after the steps recorded.
    Failed(Error, LayerRead),
    /// Not to be trusted: read the layer again sequentially.
    Doubt,
}

/// What the merge made of a layer.
enum Merge {
    Applied,
    Failed(Error),
    Doubt,
}

/// Read `layers` with `threads` workers, merging each into `state` in order. Returns the
/// index of the first layer not merged (to be read sequentially), `layers.len()` if all
/// were.
#[allow(clippy::too_many_arguments)]
pub(super) fn read_layers(
    store: &dyn BlobStore,
    layers: &[LayerDescriptor],
    filter: &dyn FileFilter,
    limits: &Limits,
    progress: &dyn Progress,
    seen: &mut SeenPaths,
    state: &mut Merged,
    threads: usize,
) -> Result<usize> {
    let shared = Shared {
        budget: AtomicU64::new(state.budget),
        unpacked: AtomicU64::new(state.unpacked),
        next: AtomicUsize::new(0),
        stop_above: AtomicUsize::new(usize::MAX),
    };
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel::<(usize, Outcome)>();
        for _ in 0..threads {
            let sender = sender.clone();
            let shared = &shared;
            scope.spawn(move || {
                loop {
                    let index = shared.next.fetch_add(1, Ordering::Relaxed);
                    let Some(layer) = layers.get(index) else {
                        return;
                    };
                    if shared.stop_above.load(Ordering::Relaxed) < index {
                        return;
                    }
                    let outcome =
                        read_deferred(store, layer, index, filter, limits, progress, shared);
                    if matches!(outcome, Outcome::Failed(..)) {
                        shared.stop_above.fetch_min(index, Ordering::Relaxed);
                    }
                    if sender.send((index, outcome)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(sender);
        let mut waiting: BTreeMap<usize, Outcome> = BTreeMap::new();
        let mut next = 0;
        while let Some(layer) = layers.get(next) {
            let Some(outcome) = waiting.remove(&next) else {
                match receiver.recv() {
                    Ok((index, outcome)) => {
                        waiting.insert(index, outcome);
                        continue;
                    }
                    // Every worker stopped: read the rest sequentially.
                    Err(_) => break,
                }
            };
            match merge(state, seen, layer, outcome, filter, limits) {
                Merge::Applied => {
                    progress.layer_done(next);
                    next += 1;
                }
                Merge::Failed(error) => {
                    shared.stop_above.store(0, Ordering::Relaxed);
                    return Err(error);
                }
                Merge::Doubt => break,
            }
        }
        // Workers still reading layers at or above `next` stop at their next entry.
        shared.stop_above.fetch_min(next, Ordering::Relaxed);
        Ok(next)
    })
}

/// Read layer `index` without knowing the layers below.
fn read_deferred(
    store: &dyn BlobStore,
    layer: &LayerDescriptor,
    index: usize,
    filter: &dyn FileFilter,
    limits: &Limits,
    progress: &dyn Progress,
    shared: &Shared,
) -> Outcome {
    let mut seen = SeenPaths::default();
    let mut reader = LayerReader {
        layer,
        filter,
        limits,
        below: Below::Deferred(Deferred {
            shared,
            index,
            steps: Vec::new(),
            pending: HashMap::new(),
            link_steps: Vec::new(),
            used: 0,
            doubt: false,
        }),
        delta: FileSet::default(),
        absolute_reported: false,
        seen: &mut seen,
    };
    let result = reader.read(store, index, progress);
    let LayerReader { below, delta, .. } = reader;
    let Below::Deferred(deferred) = below else {
        return Outcome::Doubt;
    };
    if deferred.doubt {
        return Outcome::Doubt;
    }
    let read = LayerRead {
        delta,
        steps: deferred.steps,
        pending: deferred.pending,
        used: deferred.used,
        seen,
    };
    match result {
        Ok(()) => Outcome::Done(read),
        Err(error) => Outcome::Failed(error, read),
    }
}

/// Merge a layer read by a worker into `state` (the merge of the layers below), as the
/// sequential reader would have read it; on doubt, `state` is left as it was.
fn merge(
    state: &mut Merged,
    seen: &mut SeenPaths,
    layer: &LayerDescriptor,
    outcome: Outcome,
    filter: &dyn FileFilter,
    limits: &Limits,
) -> Merge {
    let (read, error) = match outcome {
        Outcome::Done(read) => (read, None),
        Outcome::Failed(error, read) => (read, Some(error)),
        Outcome::Doubt => return Merge::Doubt,
    };
    if read.used > state.unpacked {
        return Merge::Doubt;
    }
    let LayerRead {
        mut delta,
        steps,
        pending,
        used,
        seen: layer_seen,
    } = read;
    let layer_id = layer
        .diff_id
        .clone()
        .unwrap_or_else(|| layer.digest.clone());
    let mut removed = Removed::default();
    let mut budget = state.budget;
    let mut warnings = Vec::new();
    let mut missing = Vec::new();
    let mut resolved: HashMap<usize, FoundFile> = HashMap::new();
    let mut exact = true;
    for step in steps {
        match step {
            Step::Hide(hide) => hide.apply_noting(&mut state.files, &mut removed),
            Step::Fits { need } => {
                if need > budget {
                    exact = false;
                    break;
                }
            }
            Step::Took { take } => budget = budget.saturating_sub(take),
            Step::Starved { need } => {
                if need <= budget {
                    exact = false;
                    break;
                }
            }
            Step::Warning(warning) => warnings.push(warning),
            Step::Link(link) => {
                let source = link
                    .via
                    .and_then(|id| resolved.get(&id))
                    .or_else(|| state.files.files.get(&link.target));
                let found = link_file(
                    source,
                    &link.path,
                    &link.target,
                    link.mode,
                    filter,
                    limits,
                    &mut |need| {
                        let fits = need <= budget;
                        if fits {
                            budget = budget.saturating_sub(need);
                        }
                        fits
                    },
                );
                let unknown = source.is_none();
                let Some(found) = found else {
                    continue;
                };
                if unknown {
                    if let FileContent::Skipped { reason, .. } = &found.content {
                        warnings.push(format!("layer {}: '{}': {reason}", layer.digest, link.path));
                    }
                    missing.push(link.target.clone());
                }
                let file = FoundFile {
                    path: link.path.clone(),
                    layer: Some(layer_id.clone()),
                    mode: found.mode,
                    size: found.size,
                    content: found.content,
                };
                let in_place = pending.get(&link.path) == Some(&link.id);
                match (in_place, link.referenced) {
                    (true, true) => {
                        delta.files.insert(link.path, file.clone());
                        resolved.insert(link.id, file);
                    }
                    (true, false) => {
                        delta.files.insert(link.path, file);
                    }
                    (false, true) => {
                        resolved.insert(link.id, file);
                    }
                    (false, false) => {}
                }
            }
        }
    }
    if !exact {
        removed.restore(&mut state.files);
        return Merge::Doubt;
    }
    if let Some(error) = error {
        return Merge::Failed(error);
    }
    state.budget = budget;
    state.unpacked = state.unpacked.saturating_sub(used);
    seen.hashes.extend(layer_seen.hashes);
    seen.missing_link_targets.extend(missing);
    state.files.files.extend(delta.files);
    state.files.symlinks.extend(delta.symlinks);
    state.files.warnings.extend(warnings);
    Merge::Applied
}
