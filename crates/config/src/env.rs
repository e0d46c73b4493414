//! Environment overrides: every key of the configuration as `PORTCULLIS_<PATH>`.
//!
//! The variable name is the key path in SCREAMING_SNAKE_CASE joined with `_`:
//! `scanBudget` is `PORTCULLIS_SCAN_BUDGET`, `database.updateInterval` is
//! `PORTCULLIS_DATABASE_UPDATE_INTERVAL`, `tls.cert` is `PORTCULLIS_TLS_CERT`. Strings are
//! taken as written; booleans and numbers are parsed; lists of strings are comma-separated
//! (or a YAML flow list `[a, b]`); lists of objects (`registries`, `whitelist`) and whole
//! objects are YAML or JSON.

use serde_json::{Map, Value};

use crate::{Error, ServerConfig};

/// The prefix of every override variable.
pub const ENV_PREFIX: &str = "PORTCULLIS";

impl ServerConfig {
    /// Apply `PORTCULLIS_*` overrides from `vars` (typically `std::env::vars()`). Variables
    /// that name no key are ignored; a value that does not fit its key is an error naming
    /// the variable.
    pub fn apply_env<I>(&mut self, vars: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
            .collect();
        if vars.is_empty() {
            return Ok(());
        }
        let mut tree = serde_json::to_value(&*self).map_err(|e| env_error("config", e))?;
        override_node(&mut tree, ENV_PREFIX, &vars)?;
        *self = serde_json::from_value(tree).map_err(|e| env_error("PORTCULLIS_*", e))?;
        Ok(())
    }
}

fn env_error(name: &str, message: impl std::fmt::Display) -> Error {
    Error {
        source_name: format!("environment {name}"),
        message: message.to_string(),
    }
}

fn lookup<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
    vars.iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `updateInterval` → `UPDATE_INTERVAL`.
fn screaming(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// `UPDATE_INTERVAL` → `updateInterval`.
fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, part) in name.split('_').filter(|p| !p.is_empty()).enumerate() {
        let lower = part.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&lower);
        } else {
            let mut chars = lower.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(chars);
            }
        }
    }
    out
}

fn override_node(node: &mut Value, name: &str, vars: &[(String, String)]) -> Result<(), Error> {
    if let Some(raw) = lookup(vars, name) {
        *node = parse_for(node, name, raw)?;
        return Ok(());
    }
    match node {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                override_node(child, &format!("{name}_{}", screaming(key)), vars)?;
            }
        }
        Value::Null => {
            // An unset optional object (`tls`): build it from `NAME_*` variables.
            let prefix = format!("{name}_");
            let mut map = Map::new();
            for (var, raw) in vars {
                if let Some(rest) = var.strip_prefix(&prefix) {
                    map.insert(camel(rest), Value::String(raw.clone()));
                }
            }
            if !map.is_empty() {
                *node = Value::Object(map);
            }
        }
        _ => {}
    }
    Ok(())
}

fn parse_for(current: &Value, name: &str, raw: &str) -> Result<Value, Error> {
    let yaml = |raw: &str| -> Result<Value, Error> {
        yaml_serde::from_str::<Value>(raw).map_err(|e| env_error(name, e))
    };
    Ok(match current {
        Value::String(_) => Value::String(raw.to_string()),
        Value::Bool(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Value::Bool(true),
            "false" | "0" | "no" | "off" | "" => Value::Bool(false),
            other => return Err(env_error(name, format!("'{other}' is not a boolean"))),
        },
        Value::Number(_) => yaml(raw)?,
        Value::Array(_) => {
            let trimmed = raw.trim();
            if trimmed.starts_with('[') || trimmed.starts_with('-') || trimmed.starts_with('{') {
                yaml(raw)?
            } else {
                Value::Array(
                    trimmed
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                )
            }
        }
        Value::Null | Value::Object(_) => match yaml(raw)? {
            Value::Object(map) => Value::Object(map),
            Value::Null if raw.trim().is_empty() => Value::Null,
            // An optional scalar (`policy.file`): the text as written.
            _ => Value::String(raw.to_string()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Duration, RegistryConfig, Selector, TlsConfig, UnknownImageAction};

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn overrides_every_kind_of_key() {
        let mut config = ServerConfig::default();
        config
            .apply_env(vars(&[
                ("PORTCULLIS_LISTEN", "127.0.0.1:9443"),
                ("PORTCULLIS_PLAIN_HTTP", "true"),
                ("PORTCULLIS_SCAN_BUDGET", "3s"),
                ("PORTCULLIS_UNKNOWN_IMAGE_ACTION", "allow"),
                ("PORTCULLIS_DATABASE_PATH", "/data/db.sqlite"),
                ("PORTCULLIS_DATABASE_UPDATE_INTERVAL", "2h"),
                ("PORTCULLIS_POLICY_ID", "reject_high"),
                ("PORTCULLIS_WEBHOOK_SELECTOR", "exclude"),
                ("PORTCULLIS_WEBHOOK_NAMESPACES", "team-*, dev"),
                ("PORTCULLIS_API_TOKENS", "a,b"),
                ("PORTCULLIS_TLS_CERT", "/tls/tls.crt"),
                ("PORTCULLIS_TLS_KEY", "/tls/tls.key"),
                (
                    "PORTCULLIS_REGISTRIES",
                    "[{registry: ghcr.io, secret: pull, insecure: false}]",
                ),
                ("OTHER", "x"),
                ("PORTCULLIS_NOT_A_KEY", "ignored"),
            ]))
            .unwrap();
        assert_eq!(config.listen, "127.0.0.1:9443");
        assert!(config.plain_http);
        assert_eq!(config.scan_budget, Duration::from_secs(3));
        assert_eq!(config.unknown_image_action, UnknownImageAction::Allow);
        assert_eq!(config.database.path.as_deref(), Some("/data/db.sqlite"));
        assert_eq!(config.database.update_interval, Duration::from_secs(7200));
        assert_eq!(config.policy.id.as_deref(), Some("reject_high"));
        assert_eq!(config.webhook.selector, Selector::Exclude);
        assert_eq!(config.webhook.namespaces, vec!["team-*", "dev"]);
        assert_eq!(config.api_tokens, vec!["a", "b"]);
        assert_eq!(
            config.tls,
            Some(TlsConfig {
                cert: "/tls/tls.crt".into(),
                key: "/tls/tls.key".into()
            })
        );
        assert_eq!(
            config.registries,
            vec![RegistryConfig {
                registry: "ghcr.io".into(),
                secret: Some("pull".into()),
                insecure: false
            }]
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let mut config = ServerConfig::default();
        let err = config
            .apply_env(vars(&[("PORTCULLIS_PLAIN_HTTP", "maybe")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment PORTCULLIS_PLAIN_HTTP: 'maybe' is not a boolean"
        );
        let err = config
            .apply_env(vars(&[("PORTCULLIS_SCAN_BUDGET", "soon")]))
            .unwrap_err();
        assert!(err.to_string().contains("soon"), "{err}");
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(screaming("updateInterval"), "UPDATE_INTERVAL");
        assert_eq!(camel("UPDATE_INTERVAL"), "updateInterval");
    }
}
