//! The stages of reading one layer, each on its own thread so that two cores overlap them:
//! fetching the blob (and verifying its digest, inside the store's reader), decompressing
//! it, and walking the tar (with the `diff_id` hash) on the caller's thread. Stages hand
//! chunks of [`CHUNK_SIZE`] bytes through bounded channels of [`CHUNKS_IN_FLIGHT`], and
//! emptied chunks go back to be filled again: a new chunk is allocated only when none came
//! back, so a channel owns at most `CHUNKS_IN_FLIGHT + 2` chunks (queued, being filled,
//! being read), 1.5 MiB, and a layer two channels.

use std::io::{self, BufRead, Read};
use std::sync::mpsc;

use flate2::bufread::MultiGzDecoder;

use super::{Compression, read_prefix};

/// Size of a chunk handed from one stage to the next.
pub(super) const CHUNK_SIZE: usize = 256 * 1024;
/// Chunks in flight between two stages.
pub(super) const CHUNKS_IN_FLIGHT: usize = 4;

/// The sending end of a stage: chunks go out, emptied ones come back to be refilled.
pub(super) struct ChunkSender {
    full: mpsc::SyncSender<io::Result<Vec<u8>>>,
    empty: mpsc::Receiver<Vec<u8>>,
}

/// A bounded channel of chunks: the sender for the producing stage, a [`ChunkReader`] for
/// the consuming one.
pub(super) fn channel() -> (ChunkSender, ChunkReader) {
    let (full, receiver) = mpsc::sync_channel(CHUNKS_IN_FLIGHT);
    let (returned, empty) = mpsc::sync_channel(CHUNKS_IN_FLIGHT + 1);
    (
        ChunkSender { full, empty },
        ChunkReader {
            receiver,
            returned,
            chunk: Vec::new(),
            offset: 0,
        },
    )
}

/// Why a stage stopped sending.
pub(super) enum Stop {
    /// The source ended and every chunk was sent.
    End,
    /// The receiver hung up (the next stage stopped early), or reading failed (the error
    /// was sent on).
    HungUp,
}

impl ChunkSender {
    /// Read `source` in chunks and send them on, until its end, an error (sent on too), or
    /// the receiver hangs up.
    pub(super) fn pump(&self, source: &mut dyn Read) -> Stop {
        loop {
            let mut chunk = self.empty.try_recv().unwrap_or_default();
            chunk.resize(CHUNK_SIZE, 0);
            let sent = match read_prefix(source, &mut chunk) {
                Ok(0) => return Stop::End,
                Ok(n) => {
                    chunk.truncate(n);
                    self.full.send(Ok(chunk))
                }
                Err(e) => {
                    // The receiver sees the error and stops.
                    let _ = self.full.send(Err(e));
                    return Stop::HungUp;
                }
            };
            if sent.is_err() {
                return Stop::HungUp;
            }
        }
    }

    /// Send an error on.
    pub(super) fn fail(&self, e: io::Error) {
        let _ = self.full.send(Err(e));
    }
}

/// The receiving end of a stage: a `Read` over the chunks received. The end of the stream
/// is the sender going away.
pub(super) struct ChunkReader {
    receiver: mpsc::Receiver<io::Result<Vec<u8>>>,
    returned: mpsc::SyncSender<Vec<u8>>,
    chunk: Vec<u8>,
    offset: usize,
}

impl Read for ChunkReader {
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
                    let used = std::mem::replace(&mut self.chunk, chunk);
                    if used.capacity() > 0 {
                        let _ = self.returned.try_send(used);
                    }
                    self.offset = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The sender is gone: the end of the stream.
                Err(_) => return Ok(0),
            }
        }
    }
}

/// The decompressing stage: decode `stream` (gzip or zstd) and send the decoded chunks on.
/// After the compressed stream's end, what follows it is read too (so the store's reader
/// reaches its end and verifies the blob digest) before the channel is closed; an error
/// there is sent on. If decoding fails or the receiver hangs up early, it stops at once:
/// the caller decides whether the rest of `stream` is worth reading.
pub(super) fn decode(stream: &mut dyn BufRead, compression: Compression, sender: ChunkSender) {
    let stop = match decoder(&mut *stream, compression) {
        Ok(mut decoded) => sender.pump(&mut decoded),
        Err(e) => {
            sender.fail(e);
            Stop::HungUp
        }
    };
    if let Stop::End = stop
        && let Err(e) = io::copy(stream, &mut io::sink())
    {
        sender.fail(e);
    }
}

/// The decoder of `stream`: gzip (any number of members), zstd, or the stream itself.
/// Unbuffered: [`ChunkSender::pump`] asks for whole chunks; a reader of small pieces (the
/// tar walk) puts a buffer in front.
pub(super) fn decoder<'a>(
    stream: &'a mut dyn BufRead,
    compression: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::Gzip => Box::new(MultiGzDecoder::new(stream)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(stream)?),
        Compression::None => Box::new(stream),
    })
}

/// The fetching stage: read the stored blob and send it on (its digest is verified by the
/// store's reader as it reaches the end).
pub(super) fn fetch(mut source: Box<dyn Read + Send + '_>, sender: ChunkSender) {
    let _ = sender.pump(&mut source);
}
