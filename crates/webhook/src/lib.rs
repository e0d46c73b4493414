//! The admission logic of `portcullis serve`. Pure: no I/O, no async, no network.
//!
//! The server calls, for each `POST /imagecheck` body:
//!
//! 1. [`parse_review`] — the AdmissionReview (`admission.k8s.io/v1` or `v1beta1`); a
//!    malformed body is an [`ErrorKind::BadRequest`] the server answers with HTTP 400.
//! 2. [`workload()`] — the [`Workload`] to judge, or `None` (other kinds, subresources,
//!    DELETE/CONNECT, a Pod UPDATE adding no ephemeral container and changing no image).
//! 3. [`Selection::judges`], [`skip_requested`], [`Whitelist::find`] on
//!    [`Workload::release`] — the cases decided without looking at images.
//! 4. Resolving and judging each image is the server's; it reports [`ImageVerdict`]s in an
//!    [`Outcome`].
//! 5. [`respond`] — the AdmissionReview answer in the request's version, with
//!    `auditAnnotations` always; [`audit`] and [`audit_name`] — the `Audit` resource.

mod audit;
mod error;
mod outcome;
mod response;
mod review;
mod selection;
mod summary;
mod text;
mod whitelist;
mod workload;

pub use audit::{
    MAX_AUDIT_IMAGES, MAX_AUDIT_RESULTS, MAX_AUDIT_TEXT, MAX_NAME_LEN, audit, audit_name,
};
pub use error::{Error, ErrorKind, Result};
pub use outcome::{ImageOutcome, ImageVerdict, Outcome, top_findings};
pub use response::{Response, respond};
pub use review::{ApiVersion, MAX_BODY, REVIEW_KIND, Review, parse_review};
pub use selection::{SYSTEM_NAMESPACE, Selection};
pub use summary::{MAX_MESSAGE_BYTES, MAX_WARNING_BYTES, MAX_WARNINGS, TOP_FINDINGS};
pub use whitelist::{MAX_REGEXP_LEN, Whitelist, WhitelistEntry};
pub use workload::{
    ContainerImage, ContainerRole, MAX_CONTAINERS, SKIP_LABEL, Workload, skip_requested, workload,
};
