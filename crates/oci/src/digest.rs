//! Verifying content against a [`Digest`]: a hasher and a reader that checks at its end.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{Error, ErrorKind, Result};

pub use portcullis_types::Digest;

/// Verification of content against a [`Digest`].
pub trait DigestExt {
    /// Check that `bytes` hash to this digest; `what` names the content in the error.
    fn verify(&self, bytes: &[u8], what: &str) -> Result<()>;

    /// Wrap `inner` so that reading it to the end checks this digest (and `expected_size`
    /// if given). A mismatch surfaces as an I/O error carrying an [`ErrorKind::DigestMismatch`]
    /// error, which [`Error::io`] turns back into that kind.
    fn verifying_reader<R: Read>(
        &self,
        inner: R,
        expected_size: Option<u64>,
        what: impl Into<String>,
    ) -> VerifyingReader<R>;
}

impl DigestExt for Digest {
    fn verify(&self, bytes: &[u8], what: &str) -> Result<()> {
        let mut hasher = Hasher::new(self);
        hasher.update(bytes);
        hasher.finish(what)
    }

    fn verifying_reader<R: Read>(
        &self,
        inner: R,
        expected_size: Option<u64>,
        what: impl Into<String>,
    ) -> VerifyingReader<R> {
        VerifyingReader {
            inner,
            hasher: Some(Hasher::new(self)),
            expected_size,
            read: 0,
            what: what.into(),
        }
    }
}

/// An incremental hasher for a given digest's algorithm.
#[derive(Debug)]
pub struct Hasher {
    expected: Digest,
    state: HashState,
}

#[derive(Debug)]
enum HashState {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    /// A hasher that will be compared with `expected`.
    pub fn new(expected: &Digest) -> Self {
        let state = if expected.algorithm() == "sha512" {
            HashState::Sha512(Sha512::new())
        } else {
            HashState::Sha256(Sha256::new())
        };
        Self {
            expected: expected.clone(),
            state,
        }
    }

    /// Feed bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            HashState::Sha256(h) => h.update(bytes),
            HashState::Sha512(h) => h.update(bytes),
        }
    }

    /// Compare with the expected digest; `what` names the content in the error.
    pub fn finish(self, what: &str) -> Result<()> {
        let actual = match self.state {
            HashState::Sha256(h) => format!("sha256:{}", hex::encode(h.finalize())),
            HashState::Sha512(h) => format!("sha512:{}", hex::encode(h.finalize())),
        };
        if actual == self.expected.as_str() {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "{what}: digest mismatch: expected {}, got {actual}",
                    self.expected
                ),
            ))
        }
    }
}

/// A reader that hashes what passes through and fails at EOF if the digest or size is wrong.
#[derive(Debug)]
pub struct VerifyingReader<R> {
    inner: R,
    hasher: Option<Hasher>,
    expected_size: Option<u64>,
    read: u64,
    what: String,
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if let Some(expected) = self.expected_size
            && self.read > expected
        {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "{}: more data than the {expected} bytes its descriptor declares",
                    self.what
                ),
            )
            .into_io());
        }
        match self.hasher.as_mut() {
            Some(hasher) if n > 0 => hasher.update(&buf[..n]),
            Some(_) if !buf.is_empty() => {
                // EOF: verify once.
                if let Some(expected) = self.expected_size
                    && self.read != expected
                {
                    return Err(Error::new(
                        ErrorKind::DigestMismatch,
                        format!(
                            "{}: got {} bytes, its descriptor declares {expected}",
                            self.what, self.read
                        ),
                    )
                    .into_io());
                }
                if let Some(hasher) = self.hasher.take() {
                    hasher.finish(&self.what).map_err(Error::into_io)?;
                }
            }
            _ => {}
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn verifies() {
        let d = Digest::parse(EMPTY).unwrap();
        d.verify(b"", "empty").unwrap();
        let err = d.verify(b"x", "blob x").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DigestMismatch);
        assert!(err.to_string().starts_with("blob x: digest mismatch"));
    }

    #[test]
    fn verifying_reader_detects_mismatch() {
        let d = Digest::sha256_of(b"hello");
        let mut ok = String::new();
        d.verifying_reader(&b"hello"[..], Some(5), "h")
            .read_to_string(&mut ok)
            .unwrap();
        assert_eq!(ok, "hello");
        let mut out = Vec::new();
        let err = d
            .verifying_reader(&b"hellp"[..], Some(5), "layer x")
            .read_to_end(&mut out)
            .unwrap_err();
        let err = Error::io("reading", err);
        assert_eq!(err.kind(), ErrorKind::DigestMismatch);
        let err = d
            .verifying_reader(&b"hell"[..], Some(5), "layer x")
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(Error::io("r", err).kind(), ErrorKind::DigestMismatch);
    }
}
