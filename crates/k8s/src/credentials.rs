//! Registry credentials from Kubernetes Secrets: `kubernetes.io/dockerconfigjson`,
//! `kubernetes.io/dockercfg` and `kubernetes.io/basic-auth`.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::client::{Error, ErrorKind};

/// The Secret type holding a docker `config.json`.
pub const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
/// The legacy Secret type holding a `.dockercfg`.
pub const DOCKER_CFG: &str = "kubernetes.io/dockercfg";
/// The Secret type holding a user name and password.
pub const BASIC_AUTH: &str = "kubernetes.io/basic-auth";

/// A user name and password for one registry. `Debug` never shows the password.
pub use portcullis_dockercfg::Credential as RegistryCredential;
/// The registry host of a docker config key (`https://index.docker.io/v1/` is `docker.io`).
pub use portcullis_dockercfg::normalize_registry;

/// The credential for `registry` among `credentials`, if any (first match wins).
pub fn find<'a>(
    credentials: &'a [RegistryCredential],
    registry: &str,
) -> Option<&'a RegistryCredential> {
    let wanted = normalize_registry(registry);
    credentials.iter().find(|c| c.registry == wanted)
}

/// The credentials in `secret`. A basic-auth Secret names no registry, so `registry` says
/// which one it is for (it is ignored for docker config Secrets).
pub fn from_secret(
    secret: &Secret,
    registry: Option<&str>,
) -> Result<Vec<RegistryCredential>, Error> {
    let name = secret.metadata.name.as_deref().unwrap_or("<unnamed>");
    let what = format!("Secret {name}");
    let data = |key: &str| -> Option<&[u8]> {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.as_slice())
    };
    let invalid =
        |message: String| Error::new(ErrorKind::InvalidSecret, format!("{what}: {message}"));
    match secret.type_.as_deref() {
        Some(DOCKER_CONFIG_JSON) => {
            let bytes = data(".dockerconfigjson")
                .ok_or_else(|| invalid("no .dockerconfigjson key".to_string()))?;
            parse_docker_config(bytes, true).map_err(invalid)
        }
        Some(DOCKER_CFG) => {
            let bytes =
                data(".dockercfg").ok_or_else(|| invalid("no .dockercfg key".to_string()))?;
            parse_docker_config(bytes, false).map_err(invalid)
        }
        Some(BASIC_AUTH) => {
            let registry = registry.ok_or_else(|| {
                invalid("a basic-auth Secret needs a registry to go with it".to_string())
            })?;
            let text = |key: &str| -> Result<String, Error> {
                let bytes = data(key).ok_or_else(|| invalid(format!("no {key} key")))?;
                String::from_utf8(bytes.to_vec())
                    .map_err(|_| invalid(format!("{key} is not UTF-8")))
            };
            Ok(vec![RegistryCredential {
                registry: normalize_registry(registry),
                username: text("username")?,
                password: text("password")?,
            }])
        }
        other => Err(invalid(format!(
            "type {} holds no registry credentials (expected {DOCKER_CONFIG_JSON} or {BASIC_AUTH})",
            other.unwrap_or("<none>")
        ))),
    }
}

/// Parse a docker `config.json` (`{"auths": {...}}`) or a legacy `.dockercfg` (the map
/// itself) with the one reader every part of Portcullis uses, sorted by registry. Entries
/// without credentials are skipped; errors never quote secrets. Credential helpers named in
/// a Secret are not run (a cluster has none).
pub fn parse_docker_config(bytes: &[u8], wrapped: bool) -> Result<Vec<RegistryCredential>, String> {
    let layout = if wrapped {
        portcullis_dockercfg::Layout::ConfigJson
    } else {
        portcullis_dockercfg::Layout::DockerCfg
    };
    let config = portcullis_dockercfg::Config::parse(bytes, layout, "docker config")
        .map_err(|e| e.to_string())?;
    let mut out: Vec<RegistryCredential> = config.credentials().cloned().collect();
    out.sort_by(|a, b| a.registry.cmp(&b.registry));
    Ok(out)
}

/// Read Secret `name` in `namespace` and return its credentials (see [`from_secret`]).
pub async fn read(
    client: &Client,
    namespace: &str,
    name: &str,
    registry: Option<&str>,
) -> Result<Vec<RegistryCredential>, Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api
        .get(name)
        .await
        .map_err(|e| Error::api(&format!("Secret {namespace}/{name}"), e))?;
    from_secret(&secret, registry)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    fn secret(type_: &str, data: &[(&str, &[u8])]) -> Secret {
        let mut secret = Secret {
            type_: Some(type_.to_string()),
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        };
        secret.metadata.name = Some("pull".to_string());
        secret
    }

    #[test]
    fn reads_dockerconfigjson_in_both_spellings() {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode("bob:s3cret");
        let json = format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"Registry.Local:5000":{{"username":"amy","password":"pw"}},"empty.io":{{}}}}}}"#
        );
        let creds = from_secret(
            &secret(
                DOCKER_CONFIG_JSON,
                &[(".dockerconfigjson", json.as_bytes())],
            ),
            None,
        )
        .unwrap();
        assert_eq!(creds.len(), 2);
        assert_eq!(creds[0].registry, "docker.io");
        assert_eq!(
            (creds[0].username.as_str(), creds[0].password.as_str()),
            ("bob", "s3cret")
        );
        assert_eq!(creds[1].registry, "registry.local:5000");
        assert_eq!(
            find(&creds, "registry.local:5000").map(|c| c.username.as_str()),
            Some("amy")
        );
        assert!(!format!("{creds:?}").contains("s3cret"));
    }

    #[test]
    fn reads_basic_auth_for_the_named_registry() {
        let s = secret(BASIC_AUTH, &[("username", b"u"), ("password", b"p")]);
        let creds = from_secret(&s, Some("ghcr.io")).unwrap();
        assert_eq!(
            creds,
            vec![RegistryCredential {
                registry: "ghcr.io".into(),
                username: "u".into(),
                password: "p".into()
            }]
        );
        assert_eq!(
            from_secret(&s, None).unwrap_err().kind(),
            ErrorKind::InvalidSecret
        );
    }

    #[test]
    fn refuses_other_types_and_bad_json_without_quoting_it() {
        let err = from_secret(&secret("Opaque", &[]), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Secret pull: type Opaque holds no registry credentials (expected kubernetes.io/dockerconfigjson or kubernetes.io/basic-auth)"
        );
        let err = from_secret(
            &secret(DOCKER_CONFIG_JSON, &[(".dockerconfigjson", b"topsecret")]),
            None,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("topsecret"), "{err}");
    }

    #[test]
    fn normalizes_registry_keys() {
        assert_eq!(normalize_registry("https://ghcr.io/v2/"), "ghcr.io");
        assert_eq!(normalize_registry("registry-1.docker.io"), "docker.io");
        assert_eq!(normalize_registry("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}
