//! Content digests (`sha256:<hex>`, `sha512:<hex>`) and a reader that verifies one.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{Error, ErrorKind, Result};

/// A validated content digest such as `sha256:e3b0…`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parse `algorithm:hex`; only sha256 and sha512 are accepted.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::new(
                ErrorKind::InvalidReference,
                format!("invalid digest '{s}': {why}"),
            )
        };
        let (algorithm, hex) = s
            .split_once(':')
            .ok_or_else(|| bad("expected algorithm:hex"))?;
        let expected_len = match algorithm {
            "sha256" => 64,
            "sha512" => 128,
            other => return Err(bad(&format!("unsupported algorithm '{other}'"))),
        };
        if hex.len() != expected_len
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad(&format!(
                "expected {expected_len} lowercase hex digits"
            )));
        }
        Ok(Self(s.to_string()))
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        Self(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }

    /// The algorithm part, e.g. `sha256`.
    pub fn algorithm(&self) -> &str {
        self.0.split_once(':').map_or("", |(a, _)| a)
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, h)| h)
    }

    /// The whole digest string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Check that `bytes` hash to this digest; `what` names the content in the error.
    pub fn verify(&self, bytes: &[u8], what: &str) -> Result<()> {
        let mut hasher = Hasher::new(self);
        hasher.update(bytes);
        hasher.finish(what)
    }

    /// Wrap `inner` so that reading it to the end checks this digest (and `expected_size`
    /// if given). A mismatch surfaces as an I/O error carrying an [`ErrorKind::DigestMismatch`]
    /// error, which [`Error::io`] turns back into that kind.
    pub fn verifying_reader<R: Read>(
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

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.0)
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
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
        if actual == self.expected.0 {
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
    fn parses_and_verifies() {
        let d = Digest::parse(EMPTY).unwrap();
        assert_eq!(d.algorithm(), "sha256");
        d.verify(b"", "empty").unwrap();
        let err = d.verify(b"x", "blob x").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DigestMismatch);
        assert!(err.to_string().starts_with("blob x: digest mismatch"));
        assert_eq!(Digest::sha256_of(b""), d);
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

    #[test]
    fn rejects_bad_digests() {
        for bad in [
            "sha256",
            "sha256:",
            "md5:00",
            "sha256:ABC",
            &format!("{EMPTY}0"),
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }
}
