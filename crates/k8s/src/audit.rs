//! Writing `Audit` objects: one per owner, created or replaced.

use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

use crate::client::Error;
use crate::crd::{Audit, AuditSpec};

/// Most attempts when a replace races another writer (409 Conflict).
const MAX_ATTEMPTS: usize = 3;

/// Create Audit `name` in `namespace` with `spec`, or replace the one already there.
pub async fn write(
    client: &Client,
    namespace: &str,
    name: &str,
    spec: AuditSpec,
) -> Result<(), Error> {
    let api: Api<Audit> = Api::namespaced(client.clone(), namespace);
    let what = format!("Audit {namespace}/{name}");
    let mut audit = Audit {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_string(),
                    "portcullis".to_string(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        spec,
    };
    let params = PostParams {
        field_manager: Some("portcullis".to_string()),
        ..PostParams::default()
    };
    match api.create(&params, &audit).await {
        Ok(_) => return Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => return Err(Error::api(&format!("{what}: creating"), e)),
    }
    let mut last = None;
    for _ in 0..MAX_ATTEMPTS {
        let current = api
            .get(name)
            .await
            .map_err(|e| Error::api(&format!("{what}: reading"), e))?;
        audit.metadata.resource_version = current.metadata.resource_version;
        match api.replace(name, &params, &audit).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                last = Some(kube::Error::Api(status));
            }
            Err(e) => return Err(Error::api(&format!("{what}: replacing"), e)),
        }
    }
    Err(match last {
        Some(e) => Error::api(&format!("{what}: replacing"), e),
        None => Error::new(crate::client::ErrorKind::Api, format!("{what}: replacing")),
    })
}
