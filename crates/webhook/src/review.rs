//! Parsing an AdmissionReview request body.

use kube::core::admission::AdmissionRequest;
use kube::core::{DynamicObject, TypeMeta};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The largest request body accepted (the server caps the body at the same size).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// The `kind` of every AdmissionReview.
pub const REVIEW_KIND: &str = "AdmissionReview";

/// The admission API version of a request; the response uses the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    /// `admission.k8s.io/v1`.
    V1,
    /// `admission.k8s.io/v1beta1`.
    V1Beta1,
}

impl ApiVersion {
    /// The `apiVersion` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "admission.k8s.io/v1",
            Self::V1Beta1 => "admission.k8s.io/v1beta1",
        }
    }

    /// The version named by an `apiVersion` string, if it is one we answer.
    pub fn parse(api_version: &str) -> Option<Self> {
        [Self::V1, Self::V1Beta1]
            .into_iter()
            .find(|v| v.as_str() == api_version)
    }
}

/// A parsed AdmissionReview.
#[derive(Debug, Clone)]
pub struct Review {
    /// The API version the request came in (and the response goes out) in.
    pub version: ApiVersion,
    /// The request; its `types` carry the review's `apiVersion` and `kind`.
    pub request: AdmissionRequest<DynamicObject>,
}

/// Parse a request body. Every failure is an [`ErrorKind::BadRequest`](crate::ErrorKind)
/// naming what is wrong by its JSON path (`request.uid: missing`); never panics.
pub fn parse_review(body: &[u8]) -> Result<Review> {
    if body.len() > MAX_BODY {
        return Err(Error::bad_request(format!(
            "body: {} bytes, more than the {MAX_BODY} allowed",
            body.len()
        )));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::bad_request("body: empty"));
    }
    match parse_typed(body) {
        Some(review) => Ok(review),
        None => parse_careful(body),
    }
}

/// The careful path of [`parse_review`]: a JSON tree first, each field checked with its path.
fn parse_careful(body: &[u8]) -> Result<Review> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Error::bad_request(format!("body: not JSON: {e}")))?;
    let Value::Object(mut review) = value else {
        return Err(unexpected("body", "a JSON object", &value));
    };
    let kind = string_at(&review, "", "kind")?;
    if kind != REVIEW_KIND {
        return Err(Error::bad_request(format!(
            "kind: expected {REVIEW_KIND}, got {kind:?}"
        )));
    }
    let api_version = string_at(&review, "", "apiVersion")?;
    let version = ApiVersion::parse(api_version).ok_or_else(|| {
        Error::bad_request(format!(
            "apiVersion: expected {} or {}, got {api_version:?}",
            ApiVersion::V1.as_str(),
            ApiVersion::V1Beta1.as_str()
        ))
    })?;
    let mut request = match review.remove("request") {
        None | Some(Value::Null) => return Err(Error::bad_request("request: missing")),
        Some(Value::Object(request)) => request,
        Some(other) => {
            return Err(unexpected("request", "an object", &other));
        }
    };
    check_request(&mut request)?;
    let mut request: AdmissionRequest<DynamicObject> =
        serde_json::from_value(Value::Object(request))
            .map_err(|e| Error::bad_request(format!("request: {e}")))?;
    request.types = TypeMeta {
        api_version: version.as_str().to_string(),
        kind: REVIEW_KIND.to_string(),
    };
    Ok(Review { version, request })
}

/// An AdmissionReview as its types read it, for [`parse_typed`].
#[derive(serde::Deserialize)]
struct TypedReview {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    request: Option<AdmissionRequest<DynamicObject>>,
}

/// The fast path of [`parse_review`]: the body read straight into the request's types, with
/// no JSON tree in between. `None` when anything is off, so the careful path runs and names
/// what. Every check of that path holds here too: the types require the fields it checks
/// (uid, kind, resource, operation, userInfo; string metadata, labels and annotations), and
/// the rest is checked below.
fn parse_typed(body: &[u8]) -> Option<Review> {
    let typed: TypedReview = serde_json::from_slice(body).ok()?;
    let version = ApiVersion::parse(&typed.api_version)?;
    let mut request = typed.request?;
    if typed.kind != REVIEW_KIND || request.uid.is_empty() {
        return None;
    }
    request.types = TypeMeta {
        api_version: version.as_str().to_string(),
        kind: REVIEW_KIND.to_string(),
    };
    Some(Review { version, request })
}

/// Check the fields serde would otherwise reject with a message naming no path.
fn check_request(request: &mut Map<String, Value>) -> Result<()> {
    let uid = string_at(request, "request.", "uid")?;
    if uid.is_empty() {
        return Err(Error::bad_request("request.uid: empty"));
    }
    for (key, fields) in [
        ("kind", ["group", "version", "kind"]),
        ("resource", ["group", "version", "resource"]),
    ] {
        let object = object_at(request, "request.", key)?;
        for field in fields {
            string_at(object, &format!("request.{key}."), field)?;
        }
    }
    let operation = string_at(request, "request.", "operation")?;
    if !matches!(operation, "CREATE" | "UPDATE" | "DELETE" | "CONNECT") {
        return Err(Error::bad_request(format!(
            "request.operation: expected CREATE, UPDATE, DELETE or CONNECT, got {operation:?}"
        )));
    }
    match request.get("userInfo") {
        None | Some(Value::Null) => {
            request.insert("userInfo".to_string(), Value::Object(Map::new()));
        }
        Some(Value::Object(_)) => {}
        Some(other) => {
            return Err(unexpected("request.userInfo", "an object", other));
        }
    }
    for key in ["object", "oldObject"] {
        check_object(request.get(key), &format!("request.{key}"))?;
    }
    Ok(())
}

/// An embedded object must be a JSON object with well-formed metadata (or absent).
fn check_object(object: Option<&Value>, path: &str) -> Result<()> {
    let object = match object {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(object)) => object,
        Some(other) => {
            return Err(unexpected(path, "an object", other));
        }
    };
    let metadata = match object.get("metadata") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(metadata)) => metadata,
        Some(other) => {
            return Err(unexpected(&format!("{path}.metadata"), "an object", other));
        }
    };
    for key in ["name", "generateName", "namespace"] {
        match metadata.get(key) {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(other) => {
                return Err(unexpected(
                    &format!("{path}.metadata.{key}"),
                    "a string",
                    other,
                ));
            }
        }
    }
    for key in ["labels", "annotations"] {
        match metadata.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                if let Some((name, value)) = map.iter().find(|(_, v)| !v.is_string()) {
                    return Err(unexpected(
                        &format!("{path}.metadata.{key}.{name}"),
                        "a string",
                        value,
                    ));
                }
            }
            Some(other) => {
                return Err(unexpected(
                    &format!("{path}.metadata.{key}"),
                    "an object",
                    other,
                ));
            }
        }
    }
    Ok(())
}

/// `map[key]` as a string; `prefix` is the JSON path of `map` (with its trailing dot).
pub(crate) fn string_at<'a>(
    map: &'a Map<String, Value>,
    prefix: &str,
    key: &str,
) -> Result<&'a str> {
    match map.get(key) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(Error::bad_request(format!("{prefix}{key}: missing"))),
        Some(other) => Err(unexpected(&format!("{prefix}{key}"), "a string", other)),
    }
}

/// `map[key]` as an object; `prefix` is the JSON path of `map` (with its trailing dot).
pub(crate) fn object_at<'a>(
    map: &'a Map<String, Value>,
    prefix: &str,
    key: &str,
) -> Result<&'a Map<String, Value>> {
    match map.get(key) {
        Some(Value::Object(object)) => Ok(object),
        None | Some(Value::Null) => Err(Error::bad_request(format!("{prefix}{key}: missing"))),
        Some(other) => Err(unexpected(&format!("{prefix}{key}"), "an object", other)),
    }
}

/// `<path>: expected <expected>, got <the JSON type of value>`.
pub(crate) fn unexpected(path: &str, expected: &str, value: &Value) -> Error {
    Error::bad_request(format!(
        "{path}: expected {expected}, got {}",
        type_name(value)
    ))
}

/// The JSON type of `value`, for messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// The paths the careful path checks, and their neighbours.
    const PATHS: &[&str] = &[
        "apiVersion",
        "kind",
        "request",
        "request.uid",
        "request.kind",
        "request.kind.group",
        "request.kind.kind",
        "request.resource",
        "request.resource.resource",
        "request.subResource",
        "request.name",
        "request.namespace",
        "request.operation",
        "request.userInfo",
        "request.userInfo.username",
        "request.object",
        "request.object.metadata",
        "request.object.metadata.name",
        "request.object.metadata.namespace",
        "request.object.metadata.labels",
        "request.object.metadata.labels.app",
        "request.object.metadata.annotations",
        "request.object.spec",
        "request.oldObject",
        "request.dryRun",
    ];

    fn base() -> Value {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"},
                "annotations": {"a": "b"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}});
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "name": "web", "namespace": "default", "operation": "UPDATE",
                "userInfo": {"username": "admin"}, "object": pod.clone(), "oldObject": pod,
                "dryRun": false}})
    }

    fn replacements() -> Vec<Option<Value>> {
        vec![
            None,
            Some(Value::Null),
            Some(json!(1)),
            Some(json!("")),
            Some(json!("CREATE")),
            Some(json!("AdmissionReview")),
            Some(json!("admission.k8s.io/v1beta1")),
            Some(json!([])),
            Some(json!({})),
            Some(json!({"x": 1})),
            Some(json!(true)),
        ]
    }

    /// `value` with the field at `path` replaced (or removed, for `None`).
    fn mutate(value: &mut Value, path: &str, with: Option<Value>) {
        let mut keys: Vec<&str> = path.split('.').collect();
        let Some(last) = keys.pop() else { return };
        let mut at = value;
        for key in keys {
            match at.get_mut(key) {
                Some(next) => at = next,
                None => return,
            }
        }
        if let Value::Object(map) = at {
            match with {
                Some(with) => {
                    map.insert(last.to_string(), with);
                }
                None => {
                    map.remove(last);
                }
            }
        }
    }

    /// A review as comparable values: its version, types and serialised request.
    fn seen(review: &Review) -> (ApiVersion, TypeMeta, Value) {
        let request = serde_json::to_value(&review.request).unwrap_or_default();
        (review.version, review.request.types.clone(), request)
    }

    fn message(
        result: &Result<Review>,
    ) -> std::result::Result<(ApiVersion, TypeMeta, Value), String> {
        result.as_ref().map(seen).map_err(ToString::to_string)
    }

    proptest! {
        /// The fast path answers exactly as the careful one: the same review, or the
        /// careful path's error.
        #[test]
        fn the_fast_path_agrees_with_the_careful_one(
            mutations in prop::collection::vec((0..PATHS.len(), 0..11usize), 0..4)
        ) {
            let mut review = base();
            for (path, with) in mutations {
                mutate(&mut review, PATHS[path], replacements()[with].clone());
            }
            let body = serde_json::to_vec(&review).unwrap_or_default();
            let careful = parse_careful(&body);
            prop_assert_eq!(message(&parse_review(&body)), message(&careful));
            if let Some(fast) = parse_typed(&body) {
                prop_assert_eq!(Ok(seen(&fast)), message(&careful));
            }
        }
    }

    #[test]
    fn the_fast_path_reads_a_well_formed_review() {
        let body = serde_json::to_vec(&base()).unwrap_or_default();
        let fast = parse_typed(&body);
        assert!(fast.is_some());
        assert_eq!(
            fast.as_ref().map(seen),
            parse_careful(&body).ok().as_ref().map(seen)
        );
    }
}
