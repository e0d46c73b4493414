//! What an admission request asks to run: the workload and its images.

use std::collections::BTreeMap;

use kube::core::DynamicObject;
use kube::core::admission::Operation;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::review::{Review, object_at, string_at, unexpected};

/// The label that asks Portcullis to leave a pod alone, and its value.
pub const SKIP_LABEL: (&str, &str) = ("portcullis.dev/validate", "skip");

/// The most containers (of every role together) one object may list.
pub const MAX_CONTAINERS: usize = 1000;

/// Where release names are read, in order of precedence.
const RELEASE_LABEL: &str = "app.kubernetes.io/instance";
const RELEASE_ANNOTATION: &str = "meta.helm.sh/release-name";
const RELEASE_LEGACY_LABEL: &str = "release";

/// How a container takes part in its pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContainerRole {
    /// `spec.containers`.
    Container,
    /// `spec.initContainers`.
    Init,
    /// `spec.ephemeralContainers`.
    Ephemeral,
}

impl ContainerRole {
    /// Every role, in the order they are listed.
    pub const ALL: [ContainerRole; 3] = [Self::Container, Self::Init, Self::Ephemeral];

    /// The pod spec field listing containers of this role.
    pub fn field(self) -> &'static str {
        match self {
            Self::Container => "containers",
            Self::Init => "initContainers",
            Self::Ephemeral => "ephemeralContainers",
        }
    }
}

/// One container's image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerImage {
    /// The container's name.
    pub container: String,
    /// The image reference as written.
    pub image: String,
    /// Which list the container is in.
    pub role: ContainerRole,
}

/// The thing judged: a Pod or a workload's pod template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// `Pod`, `Deployment`, `StatefulSet`, `DaemonSet`, `ReplicaSet`, `Job` or `CronJob`.
    pub kind: String,
    /// The object's name, or its `generateName` when the name is not set yet.
    pub name: String,
    /// The namespace.
    pub namespace: String,
    /// `CREATE` or `UPDATE`.
    pub operation: String,
    /// The admission request's uid.
    pub uid: String,
    /// The object's labels, plus its pod template's labels for keys the object does not set.
    pub labels: BTreeMap<String, String>,
    /// The object's annotations, plus its pod template's for keys the object does not set.
    pub annotations: BTreeMap<String, String>,
    /// The images to judge: every container, init and ephemeral container; on a Pod UPDATE
    /// only the new ones (ephemeral containers added, images changed).
    pub images: Vec<ContainerImage>,
    /// The names in `imagePullSecrets`.
    pub pull_secrets: Vec<String>,
    /// The release: label `app.kubernetes.io/instance`, else annotation
    /// `meta.helm.sh/release-name`, else label `release`.
    pub release: Option<String>,
    /// `serviceAccountName`, when set.
    pub service_account: Option<String>,
}

/// The kinds judged and where their pod spec is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JudgedKind {
    Pod,
    Template,
    CronJob,
}

impl JudgedKind {
    fn of(group: &str, kind: &str) -> Option<Self> {
        match (group, kind) {
            ("", "Pod") => Some(Self::Pod),
            ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
            | ("batch", "Job") => Some(Self::Template),
            ("batch", "CronJob") => Some(Self::CronJob),
            _ => None,
        }
    }

    /// The path of the pod template (None for a Pod itself).
    fn template_path(self) -> &'static [&'static str] {
        match self {
            Self::Pod => &[],
            Self::Template => &["spec", "template"],
            Self::CronJob => &["spec", "jobTemplate", "spec", "template"],
        }
    }
}

/// The workload a request asks about, or `None` when it is not judged: other kinds and
/// subresources, DELETE and CONNECT, a Pod UPDATE that adds no ephemeral container and
/// changes no image. Errors name the malformed field by its path.
pub fn workload(review: &Review) -> Result<Option<Workload>> {
    let request = &review.request;
    let operation = match request.operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete | Operation::Connect => return Ok(None),
    };
    let Some(kind) = JudgedKind::of(&request.kind.group, &request.kind.kind) else {
        return Ok(None);
    };
    let subresource = request.sub_resource.as_deref().unwrap_or("");
    let only_new = match (kind, subresource) {
        (JudgedKind::Pod, "ephemeralcontainers") => true,
        (JudgedKind::Pod, "") => operation == "UPDATE",
        (_, "") => false,
        _ => return Ok(None),
    };
    let Some(object) = &request.object else {
        return Err(Error::bad_request(format!(
            "request.object: missing for {operation} of {}",
            request.kind.kind
        )));
    };
    let spec = pod_spec(object, kind, "request.object")?;
    let mut images = containers(spec.map, &spec.path)?;
    if only_new {
        let old = match &request.old_object {
            Some(old) => {
                let old_spec = pod_spec(old, kind, "request.oldObject")?;
                containers(old_spec.map, &old_spec.path)?
            }
            None => Vec::new(),
        };
        images.retain(|image| !old.contains(image));
        if images.is_empty() {
            return Ok(None);
        }
    }

    let template_meta = spec
        .template
        .and_then(|t| t.get("metadata"))
        .and_then(Value::as_object);
    let labels = merged(object.metadata.labels.as_ref(), template_meta, "labels");
    let annotations = merged(
        object.metadata.annotations.as_ref(),
        template_meta,
        "annotations",
    );
    let release = [
        labels.get(RELEASE_LABEL),
        annotations.get(RELEASE_ANNOTATION),
        labels.get(RELEASE_LEGACY_LABEL),
    ]
    .into_iter()
    .flatten()
    .find(|name| !name.is_empty())
    .cloned();

    let name = [
        object.metadata.name.as_deref(),
        Some(request.name.as_str()),
        object.metadata.generate_name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .find(|name| !name.is_empty())
    .unwrap_or_default()
    .to_string();
    let namespace = request
        .namespace
        .as_deref()
        .filter(|ns| !ns.is_empty())
        .or(object.metadata.namespace.as_deref())
        .unwrap_or_default()
        .to_string();

    Ok(Some(Workload {
        kind: request.kind.kind.clone(),
        name,
        namespace,
        operation: operation.to_string(),
        uid: request.uid.clone(),
        labels,
        annotations,
        images,
        pull_secrets: pull_secrets(spec.map),
        release,
        service_account: ["serviceAccountName", "serviceAccount"]
            .into_iter()
            .filter_map(|key| spec.map.get(key).and_then(Value::as_str))
            .find(|name| !name.is_empty())
            .map(str::to_string),
    }))
}

/// True when the pod (template) carries the label `portcullis.dev/validate: skip`.
pub fn skip_requested(workload: &Workload) -> bool {
    workload.labels.get(SKIP_LABEL.0).map(String::as_str) == Some(SKIP_LABEL.1)
}

/// A pod spec found in an object, with its JSON path.
struct PodSpec<'a> {
    map: &'a Map<String, Value>,
    path: String,
    template: Option<&'a Map<String, Value>>,
}

fn pod_spec<'a>(object: &'a DynamicObject, kind: JudgedKind, root: &str) -> Result<PodSpec<'a>> {
    let Value::Object(data) = &object.data else {
        return Err(unexpected(root, "an object", &object.data));
    };
    let mut map = data;
    let mut path = root.to_string();
    for key in kind.template_path() {
        map = object_at(map, &format!("{path}."), key)?;
        path = format!("{path}.{key}");
    }
    let template = (kind != JudgedKind::Pod).then_some(map);
    let spec = object_at(map, &format!("{path}."), "spec")?;
    Ok(PodSpec {
        map: spec,
        path: format!("{path}.spec"),
        template,
    })
}

/// Every container's image, in the order containers, initContainers, ephemeralContainers.
fn containers(spec: &Map<String, Value>, path: &str) -> Result<Vec<ContainerImage>> {
    let mut images = Vec::new();
    for role in ContainerRole::ALL {
        let field = role.field();
        let list = match spec.get(field) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(list)) => list,
            Some(other) => {
                return Err(unexpected(&format!("{path}.{field}"), "an array", other));
            }
        };
        for (index, container) in list.iter().enumerate() {
            if images.len() >= MAX_CONTAINERS {
                return Err(Error::bad_request(format!(
                    "{path}: more than {MAX_CONTAINERS} containers"
                )));
            }
            let here = format!("{path}.{field}[{index}]");
            let Value::Object(container) = container else {
                return Err(unexpected(&here, "an object", container));
            };
            let prefix = format!("{here}.");
            let name = string_at(container, &prefix, "name")?;
            let image = string_at(container, &prefix, "image")?;
            if image.trim().is_empty() {
                return Err(Error::bad_request(format!("{here}.image: empty")));
            }
            images.push(ContainerImage {
                container: name.to_string(),
                image: image.to_string(),
                role,
            });
        }
    }
    Ok(images)
}

fn pull_secrets(spec: &Map<String, Value>) -> Vec<String> {
    spec.get("imagePullSecrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|secret| secret.get("name").and_then(Value::as_str))
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// The object's own map, completed by the pod template's `metadata.<key>`.
fn merged(
    own: Option<&BTreeMap<String, String>>,
    template_meta: Option<&Map<String, Value>>,
    key: &str,
) -> BTreeMap<String, String> {
    let mut out = own.cloned().unwrap_or_default();
    let template = template_meta
        .and_then(|m| m.get(key))
        .and_then(Value::as_object);
    for (name, value) in template.into_iter().flatten() {
        if let Some(value) = value.as_str() {
            out.entry(name.clone()).or_insert_with(|| value.to_string());
        }
    }
    out
}
