//! The decompressed tar stream of one layer: counted against the image's cap on
//! decompressed bytes, and hashed to be compared with the config's `diff_id`.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::digest::{Digest, Hasher};
use crate::error::{Error, ErrorKind, Result};

/// Wraps a layer's decompressed stream. Every byte read through it counts against
/// `remaining` (the image's cap on decompressed bytes) and feeds the `diff_id` hasher; the
/// caller reads the stream to its end, then calls [`Unpacked::verify`].
pub(super) struct Unpacked<'a> {
    inner: Box<dyn Read + 'a>,
    hasher: Option<Hasher>,
    /// Decompressed bytes the image may still produce.
    pub(super) remaining: u64,
    /// The cap, for messages.
    cap: u64,
    /// The layer, for messages.
    what: &'a Digest,
    /// Set once the cap was exceeded: that is the real cause of whatever fails next.
    over_cap: bool,
    /// Decompressed bytes all layers read at once may still produce (concurrent reading):
    /// exceeding it stops this layer as over the cap too.
    shared: Option<&'a AtomicU64>,
}

impl<'a> Unpacked<'a> {
    /// `expected` is the layer's `diff_id`, if the config gives one (`None`: not verified).
    pub(super) fn new(
        inner: Box<dyn Read + 'a>,
        expected: Option<&Digest>,
        remaining: u64,
        cap: u64,
        what: &'a Digest,
    ) -> Self {
        Self {
            inner,
            hasher: expected.map(Hasher::new),
            remaining,
            cap,
            what,
            over_cap: false,
            shared: None,
        }
    }

    /// Also count every byte against `shared`, the bytes all layers read at once may still
    /// produce.
    pub(super) fn sharing(mut self, shared: &'a AtomicU64) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Was the cap (this layer's or the shared one) exceeded?
    pub(super) fn over_cap(&self) -> bool {
        self.over_cap
    }

    /// The error for an image whose layers decompress to more than the cap.
    pub(super) fn cap_error(&self) -> Option<Error> {
        self.over_cap.then(|| {
            Error::new(
                ErrorKind::TooLarge,
                format!(
                    "layer {}: the image's layers decompress to more than {} bytes (the cap on decompressed bytes per image)",
                    self.what, self.cap
                ),
            )
        })
    }

    /// Compare the hash of everything read with the `diff_id` (once the stream was read to
    /// its end). `index` is the layer's position, base first.
    pub(super) fn verify(self, index: usize) -> Result<()> {
        match self.hasher {
            Some(hasher) => hasher.finish(&format!(
                "layer {} (index {index}): its uncompressed content against rootfs.diff_ids[{index}] of the image config",
                self.what
            )),
            None => Ok(()),
        }
    }
}

impl Read for Unpacked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.over_cap {
            return Err(self
                .cap_error()
                .map_or_else(|| io::Error::other("over the cap"), Error::into_io));
        }
        // Ask for at most one byte more than allowed: enough to notice the cap.
        let allowed = usize::try_from(self.remaining.saturating_add(1)).unwrap_or(usize::MAX);
        let len = buf.len().min(allowed);
        let Some(window) = buf.get_mut(..len) else {
            return Ok(0);
        };
        let n = self.inner.read(window)?;
        if n as u64 > self.remaining {
            self.over_cap = true;
            self.remaining = 0;
            return Err(self
                .cap_error()
                .map_or_else(|| io::Error::other("over the cap"), Error::into_io));
        }
        self.remaining -= n as u64;
        if let Some(shared) = self.shared
            && shared
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                    left.checked_sub(n as u64)
                })
                .is_err()
        {
            self.over_cap = true;
            return Err(self
                .cap_error()
                .map_or_else(|| io::Error::other("over the cap"), Error::into_io));
        }
        if let (Some(hasher), Some(read)) = (self.hasher.as_mut(), window.get(..n)) {
            hasher.update(read);
        }
        Ok(n)
    }
}
