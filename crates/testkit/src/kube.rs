//! An HTTP-level mock of the Kubernetes API server, for kube-rs clients.
//!
//! It stores objects by (group/version/resource, namespace, name) and answers GET, LIST,
//! POST, PUT, PATCH (server-side apply `application/apply-patch+yaml` with `fieldManager`,
//! JSON merge and strategic merge patches, treated alike) and DELETE with the API server's
//! JSON shapes: `Status` objects for 404 and 409, `<Kind>List` for lists, and `?watch=true`
//! streams of `WatchEvent` lines, so a kube-rs reflector works against it. Every request is
//! recorded for assertions. It serves plain HTTP on 127.0.0.1; point kube-rs at
//! [`KubeMock::url`] (or a kubeconfig from [`KubeMock::write_kubeconfig`], or, with the
//! `kube` feature, [`KubeMock::client`]).
//!
//! Resources are named `group/version/plural` (`apps/v1/deployments`), with the core group
//! written as `v1/secrets`. A write that leaves an object as it was changes nothing: its
//! `resourceVersion` stays and no watch event is sent (as the real server does).
//!
//! Fixed answers for other paths (a service proxy, discovery) come from
//! [`KubeMock::respond_raw`].
//!
//! A watch can be made to fail the ways real ones do: [`KubeMock::drop_watches`] cuts every
//! open stream mid-way, [`KubeMock::expire_watch_history`] answers a resume from an old
//! resourceVersion with `410 Gone`.
//!
//! Not modelled: JSON patch, `DELETE` of collections, field selectors, admission, and
//! garbage collection (except that deleting a CRD deletes its custom objects).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::http::{Request, read_request};

/// The largest request body accepted.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// One request the mock received.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeRequest {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The raw query string (without `?`), empty when none.
    pub query: String,
    /// The `Content-Type` header, when sent.
    pub content_type: Option<String>,
    /// The body parsed as JSON (or YAML), when there was one.
    pub body: Option<Value>,
}

impl KubeRequest {
    /// `METHOD path` (`PATCH /apis/apps/v1/namespaces/x/deployments/y`).
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Whether the request could change state (not GET).
    pub fn is_write(&self) -> bool {
        self.method != "GET"
    }

    /// The value of query parameter `name`.
    pub fn query_value(&self, name: &str) -> Option<String> {
        query_map(&self.query).remove(name)
    }
}

/// What a write did to the store, as a watch event type.
#[derive(Debug, Clone)]
struct Event {
    resource_version: u64,
    key: Key,
    kind: &'static str,
    object: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    resource: String,
    namespace: String,
    name: String,
}

type StatusHook = Arc<dyn Fn(&Value) -> Option<Value> + Send + Sync>;

#[derive(Default)]
struct State {
    objects: BTreeMap<Key, Value>,
    kinds: BTreeMap<String, String>,
    events: Vec<Event>,
    resource_version: u64,
    uid: u64,
    requests: Vec<KubeRequest>,
    status_hooks: BTreeMap<String, StatusHook>,
    raw: BTreeMap<String, (u16, String, Vec<u8>)>,
    /// Watches from a resourceVersion below this get `410 Gone` (see
    /// [`KubeMock::expire_watch_history`]).
    oldest_watchable: u64,
    /// Bumped by [`KubeMock::drop_watches`]: open watch streams end abruptly.
    watch_epoch: u64,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running mock API server on 127.0.0.1; stops on drop.
pub struct KubeMock {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for KubeMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeMock")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Default for KubeMock {
    fn default() -> Self {
        Self::start()
    }
}

impl KubeMock {
    /// Start an empty mock.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = Arc::clone(&shared);
                    std::thread::spawn(move || serve_connection(stream, &shared));
                }
            })
        };
        Self {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Write a kubeconfig pointing at the mock (context `mock`) to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> PathBuf {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: mock\n  cluster:\n    server: {}\ncontexts:\n- name: mock\n  context:\n    cluster: mock\n    user: mock\n    namespace: default\ncurrent-context: mock\nusers:\n- name: mock\n  user:\n    token: mock-token\n",
            self.url()
        );
        std::fs::write(path, text).unwrap();
        path.to_path_buf()
    }

    /// A kube-rs client for the mock. Call it inside a Tokio runtime.
    #[cfg(feature = "kube")]
    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url().parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    /// Store `object` (with `apiVersion`, `kind`, `metadata.name`) as if created, under
    /// `resource` (`apps/v1/deployments`). Returns the stored object.
    pub fn seed(&self, resource: &str, object: Value) -> Value {
        let mut state = self.shared.lock();
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let key = Key {
            resource: resource.to_string(),
            namespace,
            name,
        };
        let stored = state.create(key, object);
        self.shared.changed.notify_all();
        stored
    }

    /// The stored object, if any (`namespace` empty for cluster-scoped ones).
    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        self.shared
            .lock()
            .objects
            .get(&Key {
                resource: resource.to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
            })
            .cloned()
    }

    /// Every stored object as (`resource`, `namespace`, `name`, object), sorted.
    pub fn objects(&self) -> Vec<(String, String, String, Value)> {
        self.shared
            .lock()
            .objects
            .iter()
            .map(|(k, v)| {
                (
                    k.resource.clone(),
                    k.namespace.clone(),
                    k.name.clone(),
                    v.clone(),
                )
            })
            .collect()
    }

    /// The names (`resource namespace/name`) of every stored object, sorted.
    pub fn object_ids(&self) -> Vec<String> {
        self.objects()
            .into_iter()
            .map(|(r, ns, n, _)| {
                if ns.is_empty() {
                    format!("{r} {n}")
                } else {
                    format!("{r} {ns}/{n}")
                }
            })
            .collect()
    }

    /// Replace the `status` of a stored object (a watch `MODIFIED` event follows).
    pub fn set_status(&self, resource: &str, namespace: &str, name: &str, status: Value) {
        let mut state = self.shared.lock();
        let key = Key {
            resource: resource.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        if let Some(mut object) = state.objects.get(&key).cloned() {
            object["status"] = status;
            state.replace(key, object);
        }
        self.shared.changed.notify_all();
    }

    /// After every write to an object of `resource`, set its `status` to what `hook` returns
    /// for the written object (`None`: leave it). E.g. make Deployments ready at once.
    pub fn on_write_set_status(
        &self,
        resource: &str,
        hook: impl Fn(&Value) -> Option<Value> + Send + Sync + 'static,
    ) {
        self.shared
            .lock()
            .status_hooks
            .insert(resource.to_string(), Arc::new(hook));
    }

    /// Answer `GET path` (exact, without query) with `status`, `content_type` and `body`
    /// instead of the object store: for proxy and discovery paths.
    pub fn respond_raw(&self, path: &str, status: u16, content_type: &str, body: &[u8]) {
        self.shared.lock().raw.insert(
            path.to_string(),
            (status, content_type.to_string(), body.to_vec()),
        );
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<KubeRequest> {
        self.shared.lock().requests.clone()
    }

    /// The requests that could change state (not GET), as `METHOD path` lines.
    pub fn write_lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| r.is_write())
            .map(KubeRequest::line)
            .collect()
    }

    /// Forget the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// The current resource version of the store.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().resource_version
    }

    /// Forget the event history, as etcd compaction does: a watch resuming from any
    /// resourceVersion older than the current one gets a `410 Gone` (`Expired`) watch event,
    /// and the client must list again.
    pub fn expire_watch_history(&self) {
        let mut state = self.shared.lock();
        state.oldest_watchable = state.resource_version.saturating_add(1);
        drop(state);
        self.shared.changed.notify_all();
    }

    /// End every open watch stream abruptly (the connection closes mid-stream, without the
    /// final chunk), as when an API server restarts.
    pub fn drop_watches(&self) {
        let mut state = self.shared.lock();
        state.watch_epoch = state.watch_epoch.wrapping_add(1);
        drop(state);
        self.shared.changed.notify_all();
    }

    /// How many `?watch=true` requests were made on `resource` (`v1/pods`) so far.
    pub fn watch_count(&self, resource: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| {
                r.query_value("watch")
                    .is_some_and(|v| v == "true" || v == "1")
                    && parse_target(&r.path).is_some_and(|t| t.resource == resource)
            })
            .count()
    }

    /// Delete a stored object (a watch `DELETED` event follows); whether there was one.
    pub fn delete(&self, resource: &str, namespace: &str, name: &str) -> bool {
        let mut state = self.shared.lock();
        let gone = state
            .delete(&Key {
                resource: resource.to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
            })
            .is_some();
        drop(state);
        self.shared.changed.notify_all();
        gone
    }
}

impl Drop for KubeMock {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl State {
    fn next_rv(&mut self) -> u64 {
        self.resource_version += 1;
        self.resource_version
    }

    fn create(&mut self, key: Key, mut object: Value) -> Value {
        let rv = self.next_rv();
        self.uid += 1;
        if !object["metadata"].is_object() {
            object["metadata"] = json!({});
        }
        let meta = &mut object["metadata"];
        meta["name"] = json!(key.name);
        if !key.namespace.is_empty() {
            meta["namespace"] = json!(key.namespace);
        }
        meta["uid"] = json!(format!("00000000-0000-0000-0000-{:012}", self.uid));
        meta["resourceVersion"] = json!(rv.to_string());
        meta["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        meta["generation"] = json!(1);
        if let Some(kind) = object["kind"].as_str() {
            self.kinds.insert(key.resource.clone(), kind.to_string());
        }
        let object = self.apply_status_hook(&key.resource, object);
        self.objects.insert(key.clone(), object.clone());
        self.events.push(Event {
            resource_version: rv,
            key,
            kind: "ADDED",
            object: object.clone(),
        });
        object
    }

    /// Store `object` for `key` when it differs from what is stored; returns the stored one.
    fn replace(&mut self, key: Key, mut object: Value) -> Value {
        let Some(old) = self.objects.get(&key).cloned() else {
            return self.create(key, object);
        };
        for field in ["uid", "creationTimestamp", "resourceVersion", "generation"] {
            object["metadata"][field] = old["metadata"][field].clone();
        }
        if without_status(&object) != without_status(&old) {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            object["metadata"]["generation"] = json!(generation);
        }
        let mut object = self.apply_status_hook(&key.resource, object);
        if object == old {
            return old;
        }
        let rv = self.next_rv();
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.objects.insert(key.clone(), object.clone());
        self.events.push(Event {
            resource_version: rv,
            key,
            kind: "MODIFIED",
            object: object.clone(),
        });
        object
    }

    fn delete(&mut self, key: &Key) -> Option<Value> {
        let object = self.objects.remove(key)?;
        let rv = self.next_rv();
        let mut gone = object.clone();
        gone["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.events.push(Event {
            resource_version: rv,
            key: key.clone(),
            kind: "DELETED",
            object: gone,
        });
        Some(object)
    }

    fn apply_status_hook(&self, resource: &str, mut object: Value) -> Value {
        if let Some(hook) = self.status_hooks.get(resource)
            && let Some(status) = hook(&object)
        {
            object["status"] = status;
        }
        object
    }
}

fn without_status(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
            meta.remove("generation");
            meta.remove("managedFields");
        }
    }
    object
}

/// Where a request points: a resource, maybe a namespace, maybe a name and subresource.
#[derive(Debug)]
struct Target {
    resource: String,
    group: String,
    plural: String,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_target(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, resource, rest @ ..] => (Some((*ns).to_string()), {
            let mut v = vec![*resource];
            v.extend_from_slice(rest);
            v
        }),
        other => (None, other.to_vec()),
    };
    let (plural, name, subresource) = match rest.as_slice() {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some((*name).to_string()), None),
        [plural, name, sub] => (*plural, Some((*name).to_string()), Some((*sub).to_string())),
        _ => return None,
    };
    let resource = if group.is_empty() {
        format!("{version}/{plural}")
    } else {
        format!("{group}/{version}/{plural}")
    };
    Some(Target {
        resource,
        group: group.to_string(),
        plural: plural.to_string(),
        namespace,
        name,
        subresource,
    })
}

fn query_map(query: &str) -> BTreeMap<String, String> {
    let request = Request {
        method: String::new(),
        target: format!("/?{query}"),
        headers: Vec::new(),
    };
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k).or(Some(kv)))
        .filter(|k| !k.is_empty())
        .map(|k| {
            let v = request
                .query_values(k)
                .into_iter()
                .next()
                .unwrap_or_default();
            (k.to_string(), v)
        })
        .collect()
}

fn status(code: u16, reason: &str, message: String, target: &Target) -> (u16, Value) {
    let mut details = json!({"group": target.group, "kind": target.plural});
    if let Some(name) = &target.name {
        details["name"] = json!(name);
    }
    (
        code,
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "details": details,
            "code": code,
        }),
    )
}

fn not_found(target: &Target) -> (u16, Value) {
    let what = qualified(target);
    let name = target.name.clone().unwrap_or_default();
    status(
        404,
        "NotFound",
        format!("{what} \"{name}\" not found"),
        target,
    )
}

fn qualified(target: &Target) -> String {
    if target.group.is_empty() {
        target.plural.clone()
    } else {
        format!("{}.{}", target.plural, target.group)
    }
}

fn serve_connection(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    // One request per connection: answers carry `Connection: close`.
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    let length: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        write_json(&mut stream, 413, &json!({"kind": "Status", "code": 413}));
        return;
    }
    let mut body = vec![0u8; length];
    if stream.read_exact(&mut body).is_err() {
        return;
    }
    let (path, query) = match request.target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (request.target.clone(), String::new()),
    };
    let parsed_body = if body.is_empty() {
        None
    } else {
        serde_json::from_slice(&body)
            .ok()
            .or_else(|| yaml_serde::from_slice(&body).ok())
    };
    let recorded = KubeRequest {
        method: request.method.clone(),
        path: path.clone(),
        query: query.clone(),
        content_type: request.header("content-type").map(str::to_string),
        body: parsed_body.clone(),
    };
    let raw = {
        let mut state = shared.lock();
        state.requests.push(recorded.clone());
        state.raw.get(&path).cloned()
    };
    if let Some((code, content_type, body)) = raw {
        crate::http::respond(
            &mut stream,
            code,
            &[("Content-Type", content_type)],
            &body,
            false,
        );
        return;
    }
    let Some(target) = parse_target(&path) else {
        write_json(
            &mut stream,
            404,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": format!("the server could not find the requested resource ({path})")}),
        );
        return;
    };
    let params = query_map(&query);
    if request.method == "GET" && params.get("watch").is_some_and(|v| v == "true" || v == "1") {
        watch(&mut stream, shared, &target, &params);
        return;
    }
    let (code, answer) = handle(shared, &recorded, &target, &params);
    write_json(&mut stream, code, &answer);
}

fn write_json(stream: &mut TcpStream, code: u16, body: &Value) {
    let body = serde_json::to_vec(body).unwrap_or_default();
    crate::http::respond(
        stream,
        code,
        &[("Content-Type", "application/json".to_string())],
        &body,
        false,
    );
}

fn handle(
    shared: &Shared,
    request: &KubeRequest,
    target: &Target,
    params: &BTreeMap<String, String>,
) -> (u16, Value) {
    let mut state = shared.lock();
    let answer = handle_locked(&mut state, request, target, params);
    drop(state);
    shared.changed.notify_all();
    answer
}

fn handle_locked(
    state: &mut State,
    request: &KubeRequest,
    target: &Target,
    params: &BTreeMap<String, String>,
) -> (u16, Value) {
    let key = |name: &str| Key {
        resource: target.resource.clone(),
        namespace: target.namespace.clone().unwrap_or_default(),
        name: name.to_string(),
    };
    let body = request.body.clone().unwrap_or(Value::Null);
    match (request.method.as_str(), target.name.as_deref()) {
        ("GET", None) => (200, list(state, target, params)),
        ("GET", Some(name)) => match state.objects.get(&key(name)) {
            Some(object) => (200, object.clone()),
            None => not_found(target),
        },
        ("POST", None) => {
            let Some(name) = body["metadata"]["name"].as_str().map(str::to_string) else {
                return status(
                    422,
                    "Invalid",
                    "metadata.name: Required value".to_string(),
                    target,
                );
            };
            if state.objects.contains_key(&key(&name)) {
                let what = qualified(target);
                return status(
                    409,
                    "AlreadyExists",
                    format!("{what} \"{name}\" already exists"),
                    &Target {
                        name: Some(name),
                        ..clone_target(target)
                    },
                );
            }
            (201, state.create(key(&name), body))
        }
        ("PUT", Some(name)) => {
            let Some(old) = state.objects.get(&key(name)).cloned() else {
                return not_found(target);
            };
            let sent_rv = body["metadata"]["resourceVersion"].as_str();
            if sent_rv.is_some_and(|rv| Some(rv) != old["metadata"]["resourceVersion"].as_str()) {
                let what = qualified(target);
                return status(
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on {what} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                    ),
                    target,
                );
            }
            let object = if target.subresource.as_deref() == Some("status") {
                let mut object = old;
                object["status"] = body["status"].clone();
                object
            } else {
                let mut object = body;
                object["status"] = old["status"].clone();
                strip_null_status(&mut object);
                object
            };
            (200, state.replace(key(name), object))
        }
        ("PATCH", Some(name)) => patch(state, request, target, params, key(name), body),
        ("DELETE", Some(name)) => match state.delete(&key(name)) {
            Some(object) => {
                if target.plural == "customresourcedefinitions" {
                    delete_custom_objects(state, &object);
                }
                (200, object)
            }
            None => not_found(target),
        },
        _ => status(
            405,
            "MethodNotAllowed",
            format!("{} is not supported on {}", request.method, request.path),
            target,
        ),
    }
}

fn clone_target(target: &Target) -> Target {
    Target {
        resource: target.resource.clone(),
        group: target.group.clone(),
        plural: target.plural.clone(),
        namespace: target.namespace.clone(),
        name: target.name.clone(),
        subresource: target.subresource.clone(),
    }
}

fn strip_null_status(object: &mut Value) {
    if object["status"].is_null()
        && let Some(map) = object.as_object_mut()
    {
        map.remove("status");
    }
}

fn delete_custom_objects(state: &mut State, crd: &Value) {
    let group = crd["spec"]["group"].as_str().unwrap_or("");
    let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or("");
    let doomed: Vec<Key> = state
        .objects
        .keys()
        .filter(|k| {
            k.resource.starts_with(&format!("{group}/"))
                && k.resource.ends_with(&format!("/{plural}"))
        })
        .cloned()
        .collect();
    for key in doomed {
        state.delete(&key);
    }
}

fn patch(
    state: &mut State,
    request: &KubeRequest,
    target: &Target,
    params: &BTreeMap<String, String>,
    key: Key,
    body: Value,
) -> (u16, Value) {
    let content_type = request.content_type.as_deref().unwrap_or("");
    let is_apply = content_type.starts_with("application/apply-patch");
    let is_merge = content_type.starts_with("application/merge-patch+json")
        || content_type.starts_with("application/strategic-merge-patch+json");
    if !is_apply && !is_merge {
        return status(
            415,
            "UnsupportedMediaType",
            format!("the mock does not support patches of type {content_type:?}"),
            target,
        );
    }
    let old = state.objects.get(&key).cloned();
    let status_only = target.subresource.as_deref() == Some("status");
    match old {
        None if is_apply && !status_only => {
            let Some(manager) = params.get("fieldManager") else {
                return status(
                    422,
                    "Invalid",
                    "PATCH with apply requires a fieldManager".to_string(),
                    target,
                );
            };
            let mut object = body;
            object["metadata"]["managedFields"] =
                json!([{"manager": manager, "operation": "Apply"}]);
            (201, state.create(key, object))
        }
        None => not_found(target),
        Some(old) => {
            if is_apply && !params.contains_key("fieldManager") {
                return status(
                    422,
                    "Invalid",
                    "PATCH with apply requires a fieldManager".to_string(),
                    target,
                );
            }
            let mut object = old.clone();
            if status_only {
                merge(&mut object["status"], &body["status"]);
            } else {
                let mut body = body;
                if let Some(map) = body.as_object_mut() {
                    map.remove("status");
                }
                merge(&mut object, &body);
            }
            (200, state.replace(key, object))
        }
    }
}

/// RFC 7386 JSON merge: objects merge key by key, `null` removes, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(into), Some(from)) => {
            for (k, v) in from {
                if v.is_null() {
                    into.remove(k);
                } else {
                    merge(into.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (None, Some(_)) => {
            *target = Value::Object(Map::new());
            merge(target, patch);
        }
        _ => *target = patch.clone(),
    }
}

fn matches(target: &Target, params: &BTreeMap<String, String>, key: &Key, object: &Value) -> bool {
    key.resource == target.resource
        && target
            .namespace
            .as_ref()
            .is_none_or(|ns| *ns == key.namespace)
        && params
            .get("labelSelector")
            .is_none_or(|selector| selects(selector, &object["metadata"]["labels"]))
}

/// `a=b`, `a==b`, `a!=b`, `a` and `!a`, comma-separated.
fn selects(selector: &str, labels: &Value) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            labels[k.trim()].as_str() != Some(v.trim())
        } else if let Some((k, v)) = term.split_once('=') {
            labels[k.trim()].as_str() == Some(v.trim_start_matches('=').trim())
        } else if let Some(k) = term.strip_prefix('!') {
            labels[k.trim()].is_null()
        } else {
            !labels[term.trim()].is_null()
        }
    })
}

fn list(state: &State, target: &Target, params: &BTreeMap<String, String>) -> Value {
    let items: Vec<Value> = state
        .objects
        .iter()
        .filter(|(k, v)| matches(target, params, k, v))
        .map(|(_, v)| v.clone())
        .collect();
    let kind = state
        .kinds
        .get(&target.resource)
        .cloned()
        .unwrap_or_else(|| guess_kind(&target.plural));
    let api_version = target
        .resource
        .rsplit_once('/')
        .map(|(gv, _)| gv.to_string())
        .unwrap_or_default();
    json!({
        "apiVersion": api_version,
        "kind": format!("{kind}List"),
        "metadata": {"resourceVersion": state.resource_version.to_string()},
        "items": items,
    })
}

fn guess_kind(plural: &str) -> String {
    let singular = plural
        .strip_suffix("ies")
        .map(|s| format!("{s}y"))
        .or_else(|| plural.strip_suffix("sses").map(|s| format!("{s}ss")))
        .or_else(|| plural.strip_suffix('s').map(str::to_string))
        .unwrap_or_else(|| plural.to_string());
    let mut chars = singular.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Stream watch events as chunked JSON lines until `timeoutSeconds` (default 30 s), the
/// client goes away, or the mock stops.
fn watch(
    stream: &mut TcpStream,
    shared: &Shared,
    target: &Target,
    params: &BTreeMap<String, String>,
) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let timeout = params
        .get("timeoutSeconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(30u64)
        .min(300);
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let since: u64 = params
        .get("resourceVersion")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut pending: Vec<Value> = Vec::new();
    let mut seen = since;
    let epoch;
    {
        let state = shared.lock();
        epoch = state.watch_epoch;
        if since != 0 && since < state.oldest_watchable {
            drop(state);
            let gone = json!({"type": "ERROR", "object": {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "reason": "Expired", "code": 410,
                "message": format!("too old resource version: {since}"),
            }});
            let mut line = serde_json::to_vec(&gone).unwrap_or_default();
            line.push(b'\n');
            let chunk = format!("{:x}\r\n", line.len());
            let _ = stream.write_all(chunk.as_bytes());
            let _ = stream.write_all(&line);
            let _ = stream.write_all(b"\r\n0\r\n\r\n");
            return;
        }
        if since == 0 {
            for (k, v) in &state.objects {
                if matches(target, params, k, v) {
                    pending.push(json!({"type": "ADDED", "object": v}));
                }
            }
            seen = state.resource_version;
        }
    }
    loop {
        for event in pending.drain(..) {
            let mut line = serde_json::to_vec(&event).unwrap_or_default();
            line.push(b'\n');
            let chunk = format!("{:x}\r\n", line.len());
            if stream.write_all(chunk.as_bytes()).is_err()
                || stream.write_all(&line).is_err()
                || stream.write_all(b"\r\n").is_err()
                || stream.flush().is_err()
            {
                return;
            }
        }
        if shared.stop.load(Ordering::SeqCst) || Instant::now() >= deadline {
            break;
        }
        let state = shared.lock();
        let (state, _) = shared
            .changed
            .wait_timeout(state, Duration::from_millis(200))
            .unwrap_or_else(|e| e.into_inner());
        if state.watch_epoch != epoch {
            // Dropped mid-stream: no final chunk.
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return;
        }
        for event in state.events.iter().filter(|e| e.resource_version > seen) {
            if matches(target, params, &event.key, &event.object) {
                pending.push(json!({"type": event.kind, "object": event.object}));
            }
        }
        seen = state.resource_version;
    }
    let _ = stream.write_all(b"0\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = parse_target("/apis/apps/v1/namespaces/ns/deployments/web/status").unwrap();
        assert_eq!(t.resource, "apps/v1/deployments");
        assert_eq!(t.namespace.as_deref(), Some("ns"));
        assert_eq!(t.name.as_deref(), Some("web"));
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = parse_target("/api/v1/namespaces/kube-system").unwrap();
        assert_eq!(t.resource, "v1/namespaces");
        assert_eq!(t.name.as_deref(), Some("kube-system"));
        assert_eq!(t.namespace, None);
        let t = parse_target("/api/v1/namespaces/ns/secrets").unwrap();
        assert_eq!((t.resource.as_str(), t.name), ("v1/secrets", None));
        assert!(parse_target("/healthz").is_none());
    }

    #[test]
    fn selectors_and_kinds() {
        let labels = json!({"a": "1", "b": "2"});
        assert!(selects("a=1,b", &labels));
        assert!(selects("a==1,!c", &labels));
        assert!(!selects("a!=1", &labels));
        assert_eq!(guess_kind("policies"), "Policy");
        assert_eq!(guess_kind("secrets"), "Secret");
    }

    #[test]
    fn merge_patch() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "l": [1]});
        merge(&mut v, &json!({"a": {"b": null, "d": 3}, "l": [2]}));
        assert_eq!(v, json!({"a": {"c": 2, "d": 3}, "l": [2]}));
    }
}
