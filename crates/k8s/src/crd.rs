//! The custom resources: `WhiteListItem` (cluster-scoped) and `Audit` (namespaced).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of every Portcullis custom resource.
pub const GROUP: &str = "security.portcullis.dev";
/// The API version of every Portcullis custom resource.
pub const VERSION: &str = "v1alpha1";

/// A release allowed to run whatever its images contain.
///
/// The object's name is the release name matched exactly; `regexp`, when set, is matched
/// anchored (`^(?:regexp)$`) against the release name as well.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "security.portcullis.dev",
    version = "v1alpha1",
    kind = "WhiteListItem",
    plural = "whitelistitems",
    singular = "whitelistitem",
    shortname = "wl",
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".spec.reason"}"#,
    printcolumn = r#"{"name":"Regexp","type":"string","jsonPath":".spec.regexp"}"#,
    printcolumn = r#"{"name":"Creator","type":"string","jsonPath":".spec.creator"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct WhiteListItemSpec {
    /// Why the release is allowed.
    pub reason: String,
    /// Who created the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    /// An anchored regular expression matched against release names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<String>,
}

/// One admission decision about one workload (its owner), kept for review.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "security.portcullis.dev",
    version = "v1alpha1",
    kind = "Audit",
    plural = "audits",
    singular = "audit",
    shortname = "paudit",
    namespaced,
    printcolumn = r#"{"name":"Kind","type":"string","jsonPath":".spec.owner.kind"}"#,
    printcolumn = r#"{"name":"Owner","type":"string","jsonPath":".spec.owner.name"}"#,
    printcolumn = r#"{"name":"Action","type":"string","jsonPath":".spec.action"}"#,
    printcolumn = r#"{"name":"Allowed","type":"boolean","jsonPath":".spec.allowed"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AuditSpec {
    /// The workload the decision was about.
    pub owner: AuditOwner,
    /// The admission operation (`CREATE`, `UPDATE`).
    pub operation: String,
    /// The outcome: `go`, `warn`, `stop`, `skipped`, `whitelisted`, `unknown`.
    pub action: String,
    /// Whether the request was allowed.
    pub allowed: bool,
    /// Why, in one line (the whitelist entry, the skip label, the budget that ran out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The policy id that judged the images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The vulnerability database version used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Every image of the workload with its verdict.
    pub images: Vec<AuditImage>,
    /// The policy results (bounded; see `truncated`).
    #[serde(default)]
    pub results: Vec<AuditResult>,
    /// True when results were left out to bound the object's size.
    #[serde(default)]
    pub truncated: bool,
    /// When the decision was made (RFC 3339).
    pub timestamp: String,
}

/// The workload an audit is about.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditOwner {
    /// Its kind (`Deployment`, `Pod`, ...).
    pub kind: String,
    /// Its name (or `generateName` when the name is not set yet).
    pub name: String,
    /// Its namespace.
    pub namespace: String,
}

/// One image of an audited workload.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditImage {
    /// The image reference as written in the pod spec.
    pub image: String,
    /// The digest it resolved to, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The image's own outcome (`go`, `warn`, `stop`, `unknown`).
    pub action: String,
    /// How many vulnerabilities were found.
    #[serde(default)]
    pub vulnerabilities: u32,
}

/// One policy result of one image.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditResult {
    /// The image the result is about.
    pub image: String,
    /// The gate.
    pub gate: String,
    /// The trigger.
    pub trigger: String,
    /// The action (`go`, `warn`, `stop`).
    pub action: String,
    /// What triggered it.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::{CustomResourceExt, Resource};

    #[test]
    fn whitelist_crd_is_cluster_scoped_with_short_name() {
        let crd = WhiteListItem::crd();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("whitelistitems.security.portcullis.dev")
        );
        assert_eq!(crd.spec.scope, "Cluster");
        assert_eq!(crd.spec.names.short_names, Some(vec!["wl".to_string()]));
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert_eq!(
            version.additional_printer_columns.as_ref().map(Vec::len),
            Some(4)
        );
        assert!(version.schema.is_some());
    }

    #[test]
    fn audit_crd_is_namespaced() {
        let crd = Audit::crd();
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(Audit::group(&()), GROUP);
        assert_eq!(Audit::version(&()), VERSION);
    }

    #[test]
    fn whitelist_item_reads_from_yaml() {
        let item: WhiteListItem = yaml_serde::from_str(
            "apiVersion: security.portcullis.dev/v1alpha1\nkind: WhiteListItem\nmetadata:\n  name: legacy\nspec:\n  reason: vendor image\n  regexp: 'legacy-.*'\n",
        )
        .unwrap();
        assert_eq!(item.metadata.name.as_deref(), Some("legacy"));
        assert_eq!(item.spec.regexp.as_deref(), Some("legacy-.*"));
        assert_eq!(item.spec.creator, None);
    }
}
