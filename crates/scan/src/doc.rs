//! Reading filter documents (ignore files, VEX): size caps and field helpers whose errors
//! name the file and the entry.

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};

/// The largest ignore file or VEX document accepted, in bytes.
pub const MAX_FILTER_DOCUMENT_LEN: u64 = 16 * 1024 * 1024;
/// The most entries (ignore entries, VEX statements, products) one document may hold.
pub const MAX_FILTER_ITEMS: usize = 100_000;

/// A filter error: `{file}: {what}`.
pub(crate) fn error(file: &str, what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Filter, format!("{file}: {what}"))
}

/// Read at most [`MAX_FILTER_DOCUMENT_LEN`] bytes of `path`.
pub(crate) fn read_capped(path: &Path) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| error(&name, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILTER_DOCUMENT_LEN.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| error(&name, e))?;
    if bytes.len() as u64 > MAX_FILTER_DOCUMENT_LEN {
        return Err(error(
            &name,
            format!("larger than the {MAX_FILTER_DOCUMENT_LEN} bytes allowed"),
        ));
    }
    Ok(bytes)
}

/// Read the document at `path` ([`read_capped`]) and parse it with `parse(name, bytes)`,
/// `name` being the path as shown in messages.
pub(crate) fn load<T>(path: &Path, parse: impl FnOnce(&str, &[u8]) -> Result<T>) -> Result<T> {
    let bytes = read_capped(path)?;
    parse(&path.display().to_string(), &bytes)
}

/// Refuse the bytes of document `name` when over [`MAX_FILTER_DOCUMENT_LEN`].
pub(crate) fn check_len(name: &str, bytes: &[u8]) -> Result<()> {
    if bytes.len() as u64 > MAX_FILTER_DOCUMENT_LEN {
        return Err(error(name, "too large"));
    }
    Ok(())
}

/// Read each of `items` with `read(item, number)`, numbering from 1; an error names the
/// file `name` and the item (`{what} {number}: ...`).
pub(crate) fn read_numbered<T>(
    name: &str,
    items: &[Value],
    what: &str,
    read: impl Fn(&Value, usize) -> std::result::Result<T, String>,
) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let number = index.saturating_add(1);
        out.push(read(item, number).map_err(|e| error(name, format!("{what} {number}: {e}")))?);
    }
    Ok(out)
}

/// `value` as a mapping, else `expected a mapping, found ...`.
pub(crate) fn mapping(value: &Value) -> std::result::Result<&Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("expected a mapping, found {}", type_name(value)))
}

/// What kind of JSON value this is, for messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// `value` as a list of at most [`MAX_FILTER_ITEMS`] items; `what` names it in errors.
pub(crate) fn list<'v>(value: &'v Value, what: &str) -> std::result::Result<&'v [Value], String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("{what}: expected a list, found {}", type_name(value)))?;
    if items.len() > MAX_FILTER_ITEMS {
        return Err(format!(
            "{what}: {} items, more than the {MAX_FILTER_ITEMS} allowed",
            items.len()
        ));
    }
    Ok(items)
}

/// The non-empty, trimmed string at `key`; `Ok(None)` when absent or null.
pub(crate) fn optional_string(
    map: &Map<String, Value>,
    key: &str,
) -> std::result::Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Err(format!("empty {key}")),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(other) => Err(format!(
            "{key}: expected a string, found {}",
            type_name(other)
        )),
    }
}

/// The non-empty, trimmed string at `key`, or `missing {key}`.
pub(crate) fn required_string(
    map: &Map<String, Value>,
    key: &str,
) -> std::result::Result<String, String> {
    optional_string(map, key)?.ok_or_else(|| format!("missing {key}"))
}
