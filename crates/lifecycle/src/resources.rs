//! The kinds of object Portcullis installs, with what the API needs to address them.

/// One kind of Kubernetes object: its API group, version, kind and plural resource name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResourceType {
    /// The API group (`""` for the core group).
    pub group: &'static str,
    /// The API version (`v1`).
    pub version: &'static str,
    /// The kind (`Deployment`).
    pub kind: &'static str,
    /// The plural resource name used in URLs (`deployments`).
    pub plural: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The kube-rs description of this resource, for dynamic API calls.
    pub fn api_resource(&self) -> kube::core::ApiResource {
        kube::core::ApiResource {
            group: self.group.to_string(),
            version: self.version.to_string(),
            api_version: self.api_version(),
            kind: self.kind.to_string(),
            plural: self.plural.to_string(),
        }
    }
}

const fn rt(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> ResourceType {
    ResourceType {
        group,
        version,
        kind,
        plural,
        namespaced,
    }
}

/// CustomResourceDefinition.
pub const CRD: ResourceType = rt(
    "apiextensions.k8s.io",
    "v1",
    "CustomResourceDefinition",
    "customresourcedefinitions",
    false,
);
/// Namespace.
pub const NAMESPACE: ResourceType = rt("", "v1", "Namespace", "namespaces", false);
/// ServiceAccount.
pub const SERVICE_ACCOUNT: ResourceType = rt("", "v1", "ServiceAccount", "serviceaccounts", true);
/// ClusterRole.
pub const CLUSTER_ROLE: ResourceType = rt(
    "rbac.authorization.k8s.io",
    "v1",
    "ClusterRole",
    "clusterroles",
    false,
);
/// ClusterRoleBinding.
pub const CLUSTER_ROLE_BINDING: ResourceType = rt(
    "rbac.authorization.k8s.io",
    "v1",
    "ClusterRoleBinding",
    "clusterrolebindings",
    false,
);
/// Role.
pub const ROLE: ResourceType = rt("rbac.authorization.k8s.io", "v1", "Role", "roles", true);
/// RoleBinding.
pub const ROLE_BINDING: ResourceType = rt(
    "rbac.authorization.k8s.io",
    "v1",
    "RoleBinding",
    "rolebindings",
    true,
);
/// ConfigMap.
pub const CONFIG_MAP: ResourceType = rt("", "v1", "ConfigMap", "configmaps", true);
/// Secret.
pub const SECRET: ResourceType = rt("", "v1", "Secret", "secrets", true);
/// Service.
pub const SERVICE: ResourceType = rt("", "v1", "Service", "services", true);
/// Deployment.
pub const DEPLOYMENT: ResourceType = rt("apps", "v1", "Deployment", "deployments", true);
/// CronJob.
pub const CRON_JOB: ResourceType = rt("batch", "v1", "CronJob", "cronjobs", true);
/// PodDisruptionBudget.
pub const PDB: ResourceType = rt(
    "policy",
    "v1",
    "PodDisruptionBudget",
    "poddisruptionbudgets",
    true,
);
/// WhiteListItem (Portcullis).
pub const WHITELIST_ITEM: ResourceType = rt(
    portcullis_k8s::GROUP,
    portcullis_k8s::VERSION,
    "WhiteListItem",
    "whitelistitems",
    false,
);
/// ValidatingWebhookConfiguration.
pub const WEBHOOK: ResourceType = rt(
    "admissionregistration.k8s.io",
    "v1",
    "ValidatingWebhookConfiguration",
    "validatingwebhookconfigurations",
    false,
);
