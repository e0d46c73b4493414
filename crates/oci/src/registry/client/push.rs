//! Uploads: blobs (monolithic `POST` + `PUT`, streamed from a reader) and manifests, with the
//! same authentication, TLS, retry and error handling as the fetches. Used to publish the
//! vulnerability database as an OCI artifact, and SBOMs as referrers of an image.

use std::io::Read;

use ureq::http::Response;
use ureq::{Body, SendBody};

use super::{Attempt, Origin, RegistryClient, header, loggable, resolve_location, retry_after};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};

/// Gives a request's body from the start, with its length (`None`: no body); called again
/// for a retry.
type ContentSource<'a> = dyn FnMut() -> std::io::Result<Option<(Box<dyn Read + Send>, u64)>> + 'a;

/// The HTTP method of an upload request.
#[derive(Debug, Clone, Copy)]
enum Method {
    Head,
    Post,
    Put,
}

impl RegistryClient {
    /// The digest of manifest `reference` (a tag or digest) as the registry names it in
    /// `Docker-Content-Digest`, from one `HEAD`; `None` when it sends no valid header (then
    /// a [`RegistryClient::fetch_manifest`] tells).
    pub fn manifest_digest(&self, reference: &str, what: &str) -> Result<Option<Digest>> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.repository);
        let accept = crate::manifest::MANIFEST_ACCEPT;
        let response = self.send(Method::Head, &url, Some(accept), &mut || Ok(None), what)?;
        if !response.status().is_success() {
            return Err(self.status_error(response, what, "repository or tag not found"));
        }
        Ok(header(&response, "docker-content-digest").and_then(|d| Digest::parse(d.trim()).ok()))
    }

    /// Whether the repository already holds blob `digest` (`HEAD`), so an upload can be skipped.
    pub fn blob_exists(&self, digest: &Digest, what: &str) -> Result<bool> {
        let url = format!("{}/v2/{}/blobs/{digest}", self.base, self.repository);
        let response = self.send(Method::Head, &url, None, &mut || Ok(None), what)?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.status_error(response, what, "repository not found")),
        }
    }

    /// Upload blob `digest` of `size` bytes in one request, unless the repository already
    /// has it. `open` gives the content from the start; it is called again for a retry. The
    /// registry verifies the digest, and we check that it answers with the same one.
    pub fn push_blob(
        &self,
        digest: &Digest,
        size: u64,
        open: &mut dyn FnMut() -> std::io::Result<Box<dyn Read + Send>>,
        what: &str,
    ) -> Result<()> {
        if self.blob_exists(digest, what)? {
            tracing::debug!(what, %digest, "blob already in the registry");
            return Ok(());
        }
        let start = format!("{}/v2/{}/blobs/uploads/", self.base, self.repository);
        let response = self.send(Method::Post, &start, None, &mut || Ok(None), what)?;
        if response.status().as_u16() != 202 {
            return Err(self.status_error(response, what, "repository not found"));
        }
        let location = header(&response, "location")
            .and_then(|location| resolve_location(&start, location))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Registry,
                    format!(
                        "{what}: registry {} started an upload without a valid Location",
                        self.registry
                    ),
                )
            })?;
        let separator = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{separator}digest={digest}");
        let mut body = || open().map(|reader| Some((reader, size)));
        let response = self.send(
            Method::Put,
            &url,
            Some("application/octet-stream"),
            &mut body,
            what,
        )?;
        if response.status().as_u16() != 201 {
            return Err(self.status_error(response, what, "upload not found"));
        }
        self.check_digest_header(&response, digest, what)?;
        tracing::debug!(what, %digest, size, "pushed blob");
        Ok(())
    }

    /// Upload a manifest under `reference` (a tag, or its digest) with `media_type`, and
    /// return its digest.
    pub fn push_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
        what: &str,
    ) -> Result<Digest> {
        self.put_manifest(reference, media_type, bytes, what)
            .map(|(digest, _)| digest)
    }

    /// [`RegistryClient::push_manifest`], also telling whether the registry answered with
    /// `OCI-Subject` (it indexes the manifest's `subject` for the referrers API).
    pub(super) fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
        what: &str,
    ) -> Result<(Digest, bool)> {
        let digest = Digest::sha256_of(bytes);
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.repository);
        let size = bytes.len() as u64;
        let mut body = || {
            let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(bytes.to_vec()));
            Ok(Some((reader, size)))
        };
        let response = self.send(Method::Put, &url, Some(media_type), &mut body, what)?;
        if response.status().as_u16() != 201 {
            return Err(self.status_error(response, what, "repository not found"));
        }
        self.check_digest_header(&response, &digest, what)?;
        let has_subject = header(&response, "oci-subject").is_some();
        tracing::debug!(what, %digest, reference, has_subject, "pushed manifest");
        Ok((digest, has_subject))
    }

    fn check_digest_header(
        &self,
        response: &Response<Body>,
        expected: &Digest,
        what: &str,
    ) -> Result<()> {
        match header(response, "docker-content-digest").map(|v| Digest::parse(v.trim())) {
            Some(Ok(sent)) if &sent != expected => Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "{what}: registry {} stored digest {sent}, we sent {expected}",
                    self.registry
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Send one upload request with retries, authenticating on a 401 as the fetches do
    /// (the challenge's scope asks for push rights). Redirects are not followed: uploads
    /// go to the registry's own origin.
    fn send(
        &self,
        method: Method,
        url: &str,
        content_type: Option<&str>,
        body: &mut ContentSource<'_>,
        what: &str,
    ) -> Result<Response<Body>> {
        let origin = Origin::parse(url);
        self.authorized(what, |authorization| {
            self.send_once(
                method,
                url,
                content_type,
                authorization,
                origin.as_ref(),
                &mut *body,
                what,
            )
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn send_once(
        &self,
        method: Method,
        url: &str,
        content_type: Option<&str>,
        authorization: Option<&str>,
        origin: Option<&Origin>,
        body: &mut ContentSource<'_>,
        what: &str,
    ) -> Attempt {
        let Some(current) = origin else {
            return Attempt::Fail(Error::new(
                ErrorKind::Registry,
                format!("{what}: invalid URL {}", loggable(url)),
            ));
        };
        let agent = self.agent_for(origin);
        let result = match method {
            // For a HEAD, `content_type` is what is accepted.
            Method::Head => {
                let mut request = authorize(agent.head(url), authorization);
                if let Some(accept) = content_type {
                    request = request.header("Accept", accept);
                }
                request.call()
            }
            Method::Post => authorize(agent.post(url), authorization)
                .header("Content-Length", "0")
                .send_empty(),
            Method::Put => {
                let content = match body() {
                    Ok(content) => content,
                    Err(e) => {
                        return Attempt::Fail(Error::io(format!("{what}: reading the content"), e));
                    }
                };
                let mut request = authorize(agent.put(url), authorization);
                if let Some(content_type) = content_type {
                    request = request.header("Content-Type", content_type);
                }
                match content {
                    Some((mut reader, size)) => request
                        .header("Content-Length", size.to_string())
                        .send(SendBody::from_reader(&mut reader)),
                    None => request.header("Content-Length", "0").send_empty(),
                }
            }
        };
        let response = match result {
            Ok(response) => response,
            Err(err) => return self.transport_failure(err, current, what),
        };
        let status = response.status().as_u16();
        if matches!(status, 429 | 500 | 502 | 503 | 504) {
            let delay = retry_after(&response);
            let error = self.status_error(response, what, "not found");
            return Attempt::Retry(error, delay);
        }
        Attempt::Response(response)
    }
}

fn authorize<B>(
    request: ureq::RequestBuilder<B>,
    authorization: Option<&str>,
) -> ureq::RequestBuilder<B> {
    match authorization {
        Some(authorization) => request.header("Authorization", authorization),
        None => request,
    }
}
