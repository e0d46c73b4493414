//! What already runs: the Pod inventory against the mock API server, rescans on a database
//! swap (a re-match per distinct digest, not per workload), PolicyReports valid against the
//! real CRDs, the views, and hostile cluster data.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use portcullis_testkit::kube::KubeMock;
use portcullis_testkit::{ImageName, Registry, RegistryKind, images};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::{TestServer, alpine_secdb, base_config};

/// Poll `condition` every 50 ms for at most 60 s; the last value on failure.
pub fn wait_for<T: std::fmt::Debug>(what: &str, mut probe: impl FnMut() -> (bool, T)) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (done, value) = probe();
        if done {
            return value;
        }
        if Instant::now() > deadline {
            panic!("{what}: not reached within 60 s; last: {value:#?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A database of the Alpine secdb `branches` written at `path` (write, then rename over).
fn build_db(path: &Path, branches: &[&str]) {
    let inputs = alpine_secdb(branches);
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    portcullis_vulndb::Database::import_paths(&tmp, &inputs, &Default::default()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The four images: (repository:tag in the registry, test image).
pub const IMAGES: [(&str, ImageName); 4] = [
    ("team/alpine:3.20", ImageName::Alpine320),
    ("team/alpine:3.9", ImageName::Alpine39),
    ("team/configured:1", ImageName::Configured),
    ("team/layered:1", ImageName::Layered),
];

pub struct Cluster {
    pub registry: Registry,
    pub mock: KubeMock,
    pub server: TestServer,
    db: PathBuf,
    _dir: TempDir,
}

/// A server against `mock` as replica `identity`, reading `db`.
fn replica(
    mock: &KubeMock,
    registry: &Registry,
    db: &Path,
    identity: &str,
    adjust: impl FnOnce(&mut portcullis_config::ServerConfig),
) -> TestServer {
    let mut config = base_config(Some(db.to_path_buf()));
    config.kubernetes = true;
    config.namespace = "portcullis-system".to_string();
    config.rescan.concurrency = 2;
    config.rescan.interval = portcullis_config::Duration::from_secs(0);
    adjust(&mut config);
    let ca = registry.ca_cert_pem_path().unwrap().to_path_buf();
    let server = TestServer::start(config, |settings| {
        settings.kube = Some(mock.client());
        settings.registry.ca_certs.push(ca);
        settings.identity = Some(identity.to_string());
    });
    server.wait_ready();
    server
}

impl Cluster {
    fn start(seed: impl FnOnce(&KubeMock, &Registry)) -> Self {
        Self::start_with(seed, |_| {})
    }

    pub fn start_with(
        seed: impl FnOnce(&KubeMock, &Registry),
        adjust: impl FnOnce(&mut portcullis_config::ServerConfig),
    ) -> Self {
        let registry = Registry::start(RegistryKind::Tls);
        for (repo_tag, image) in IMAGES {
            registry.push(&images().skopeo_ref(image), repo_tag, false);
        }
        let mock = KubeMock::start();
        seed(&mock, &registry);
        let dir = portcullis_testkit::temp_dir("serve-running");
        let db = dir.path().join("db.sqlite");
        build_db(&db, &["v3.9"]);
        let server = replica(&mock, &registry, &db, "replica-a", adjust);
        Self {
            registry,
            mock,
            server,
            db,
            _dir: dir,
        }
    }

    pub fn digest(&self, repo_tag: &str) -> String {
        self.registry.manifest_digest(repo_tag)
    }

    pub fn reference(&self, repo_tag: &str) -> String {
        self.registry.reference(repo_tag)
    }

    /// `repo@digest` as `imageID`, with the `docker-pullable://` prefix when `docker`.
    pub fn image_id(&self, repo_tag: &str, docker: bool) -> String {
        let repo = self.reference(repo_tag);
        let repo = repo.rsplit_once(':').unwrap().0;
        let id = format!("{repo}@{}", self.digest(repo_tag));
        if docker {
            format!("docker-pullable://{id}")
        } else {
            id
        }
    }

    pub fn get(&self, path: &str) -> Value {
        let answer = self.server.get(path, Some("token-one"));
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        answer.json()
    }

    fn scan_log(&self) -> Vec<Value> {
        self.get("/api/v1/scanlog")["scans"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// The PolicyReport Portcullis wrote for `namespace`.
    fn namespace_report(&self, namespace: &str) -> Value {
        let resource = "wgpolicyk8s.io/v1alpha2/policyreports";
        self.mock.get(resource, namespace, "portcullis").unwrap()
    }

    fn reports(&self) -> Vec<(String, Value)> {
        self.mock
            .objects()
            .into_iter()
            .filter(|(r, ..)| r.starts_with("wgpolicyk8s.io/"))
            .map(|(r, ns, name, v)| (format!("{r} {ns}/{name}"), v))
            .collect()
    }
}

/// A Pod of `namespace` owned by `owner` running `containers` (name, image, imageID).
pub fn pod(
    namespace: &str,
    name: &str,
    owner: Option<(&str, &str)>,
    containers: &[(&str, String, String)],
) -> Value {
    let mut metadata = json!({"name": name, "namespace": namespace});
    if let Some((kind, owner_name)) = owner {
        metadata["ownerReferences"] = json!([{
            "apiVersion": if kind == "Job" { "batch/v1" } else { "apps/v1" },
            "kind": kind, "name": owner_name, "uid": format!("uid-{owner_name}"), "controller": true
        }]);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": containers.iter().map(|(n, image, _)| json!({"name": n, "image": image})).collect::<Vec<_>>()},
        "status": {
            "phase": "Running",
            "containerStatuses": containers.iter().map(|(n, image, id)| json!({
                "name": n, "image": image, "imageID": id, "ready": true, "restartCount": 0
            })).collect::<Vec<_>>()
        }
    })
}

fn owned(
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    owner: Option<(&str, &str)>,
) -> Value {
    let mut object = json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
    });
    if let Some((owner_kind, owner_name)) = owner {
        object["metadata"]["ownerReferences"] = json!([{
            "apiVersion": if owner_kind == "CronJob" { "batch/v1" } else { "apps/v1" },
            "kind": owner_kind, "name": owner_name, "uid": format!("uid-{owner_name}"), "controller": true
        }]);
    }
    object
}

/// Three namespaces, ten workloads, four images (and Pods that must stay out).
pub fn seed_cluster(mock: &KubeMock, registry: &Registry) {
    let reference = |repo_tag: &str| registry.reference(repo_tag);
    let id = |repo_tag: &str, docker: bool| {
        let repo = reference(repo_tag);
        let repo = repo.rsplit_once(':').unwrap().0.to_string();
        let id = format!("{repo}@{}", registry.manifest_digest(repo_tag));
        if docker {
            format!("docker-pullable://{id}")
        } else {
            id
        }
    };
    let rs = |ns: &str, name: &str, deployment: &str| {
        mock.seed(
            "apps/v1/replicasets",
            owned(
                "apps/v1",
                "ReplicaSet",
                ns,
                name,
                Some(("Deployment", deployment)),
            ),
        );
    };
    // One Pod a line: namespace, name, owner (`Kind/name`, `-` for none), then each container
    // as `name=repo:tag`, `@cri` after those whose imageID is not `docker-pullable://`.
    let seed_pods = |table: &str| {
        for line in table.lines() {
            let mut fields = line.split_whitespace();
            let (ns, name) = (fields.next().unwrap(), fields.next().unwrap());
            let owner = fields.next().unwrap().split_once('/');
            let list: Vec<(&str, String, String)> = fields
                .map(|container| {
                    let (image, docker) = match container.strip_suffix("@cri") {
                        Some(image) => (image, false),
                        None => (container, true),
                    };
                    let (name, repo_tag) = image.split_once('=').unwrap();
                    (name, reference(repo_tag), id(repo_tag, docker))
                })
                .collect();
            mock.seed("v1/pods", pod(ns, name, owner, &list));
        }
    };
    // team-a: Deployment web (2 replicas), Deployment api (app + sidecar), StatefulSet db.
    rs("team-a", "web-5d4f", "web");
    rs("team-a", "api-6b7c", "api");
    seed_pods(
        "\
         team-a web-5d4f-aaaaa ReplicaSet/web-5d4f app=team/alpine:3.20
         team-a web-5d4f-bbbbb ReplicaSet/web-5d4f app=team/alpine:3.20@cri
         team-a api-6b7c-ccccc ReplicaSet/api-6b7c app=team/configured:1 sidecar=team/alpine:3.9
         team-a db-0 StatefulSet/db db=team/alpine:3.9@cri",
    );
    // team-b: DaemonSet agent (2 Pods), Deployment web, CronJob nightly (via a Job), Job once.
    rs("team-b", "web-7c8d", "web");
    mock.seed(
        "batch/v1/jobs",
        owned(
            "batch/v1",
            "Job",
            "team-b",
            "nightly-29001",
            Some(("CronJob", "nightly")),
        ),
    );
    mock.seed(
        "batch/v1/jobs",
        owned("batch/v1", "Job", "team-b", "once", None),
    );
    seed_pods(
        "\
         team-b agent-x1 DaemonSet/agent agent=team/layered:1
         team-b agent-y2 DaemonSet/agent agent=team/layered:1
         team-b web-7c8d-ddddd ReplicaSet/web-7c8d app=team/alpine:3.20
         team-b nightly-29001-eeeee Job/nightly-29001 job=team/alpine:3.9
         team-b once-fffff Job/once job=team/configured:1@cri",
    );
    // team-c: a bare Pod, Deployment shop, StatefulSet cache.
    rs("team-c", "shop-9e0f", "shop");
    seed_pods(
        "\
         team-c debug - shell=team/layered:1
         team-c shop-9e0f-ggggg ReplicaSet/shop-9e0f app=team/alpine:3.20
         team-c cache-0 StatefulSet/cache cache=team/configured:1",
    );
    // Never inventoried: kube-system and Portcullis's own namespace.
    seed_pods(
        "\
         kube-system coredns-1 - coredns=team/alpine:3.9
         portcullis-system portcullis-1 - server=team/alpine:3.9",
    );
}

/// Every workload as `namespace/Kind/name`.
fn workload_ids(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|w| {
            format!(
                "{}/{}/{}",
                w["namespace"].as_str().unwrap(),
                w["kind"].as_str().unwrap(),
                w["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Validate objects against a CRD of `testdata/specs/` with the Python checker.
fn validate(crd: &str, objects: &[Value]) {
    use std::io::Write as _;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/serve/validate_crd.py");
    let crd = portcullis_testkit::testdata_dir().join("specs").join(crd);
    assert!(crd.is_file(), "test data file {} is missing", crd.display());
    let mut child = std::process::Command::new("python3")
        .arg(&script)
        .arg(&crd)
        .arg("v1alpha2")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (with python3-jsonschema and python3-yaml) runs the CRD schema check");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(objects).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}: {text}", crd.display());
    assert!(
        text.contains(&format!("{} objects checked, 0 errors", objects.len())),
        "{text}"
    );
}

/// The reports (name, object) of `kind`, objects only.
fn of_kind(reports: &[(String, Value)], kind: &str) -> Vec<Value> {
    reports
        .iter()
        .filter(|(_, v)| v["kind"] == kind)
        .map(|(_, v)| v.clone())
        .collect()
}

fn validate_reports(cluster: &Cluster) {
    let reports = cluster.reports();
    let namespaced = of_kind(&reports, "PolicyReport");
    let clustered = of_kind(&reports, "ClusterPolicyReport");
    assert_eq!(
        namespaced.len(),
        3,
        "{:#?}",
        reports.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    assert_eq!(clustered.len(), 1);
    for report in namespaced.iter().chain(&clustered) {
        let size = serde_json::to_vec(report).unwrap().len();
        assert!(size < 512 * 1024, "{size}");
    }
    validate("wgpolicyk8s.io_policyreports.yaml", &namespaced);
    validate("wgpolicyk8s.io_clusterpolicyreports.yaml", &clustered);
}

fn rescans_with(log: &[Value], database: &str) -> Vec<Value> {
    log.iter()
        .filter(|s| s["trigger"] == "rescan" && s["database"] == database)
        .cloned()
        .collect()
}

/// The version of the database the server judges with now.
fn current_db(cluster: &Cluster) -> String {
    cluster
        .server
        .app()
        .engine
        .db()
        .current()
        .unwrap()
        .version
        .clone()
}

/// Wait until the 4 running images are judged with `database`; the images listed then.
fn judged_with(cluster: &Cluster, what: &str, database: &str) -> Value {
    wait_for(what, || {
        let images = cluster.get("/api/v1/images")["images"].clone();
        let judged = images
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["database"] == database)
            .count();
        (judged == 4, images)
    })
}

/// The rescans logged with `database`: exactly 4, each `work` and ok.
fn rescans_done(log: &[Value], database: &str, work: &str) -> Vec<Value> {
    let done = rescans_with(log, database);
    assert_eq!(done.len(), 4, "{log:#?}");
    assert!(
        done.iter()
            .all(|s| s["work"] == work && s["result"] == "ok"),
        "{done:#?}"
    );
    done
}

#[test]
fn running_workloads_are_inventoried_rescanned_once_per_digest_and_reported() {
    let cluster = Cluster::start(seed_cluster);
    let digests: Vec<String> = IMAGES.iter().map(|(r, _)| cluster.digest(r)).collect();
    let all_digests: BTreeSet<String> = digests.iter().cloned().collect();
    assert_eq!(all_digests.len(), 4);
    let first_db = current_db(&cluster);

    // Every distinct digest is pulled and judged once, in the background.
    let images = judged_with(&cluster, "4 running images judged", &first_db);
    let log = cluster.scan_log();
    let first = rescans_done(&log, &first_db, "pull");
    let scanned: BTreeSet<String> = first
        .iter()
        .map(|s| s["digest"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(scanned, all_digests);

    // The images view: each digest with its references and workloads.
    let by_digest = |d: &str| {
        images
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["digest"] == d)
            .unwrap_or_else(|| panic!("{d} missing from {images:#}"))
            .clone()
    };
    let alpine320 = by_digest(&digests[0]);
    assert_eq!(
        workload_ids(&alpine320["workloads"]),
        set(&[
            "team-a/Deployment/web",
            "team-b/Deployment/web",
            "team-c/Deployment/shop"
        ])
    );
    assert_eq!(
        alpine320["references"],
        json!([cluster.reference("team/alpine:3.20")])
    );
    assert_eq!(
        workload_ids(&by_digest(&digests[1])["workloads"]),
        set(&[
            "team-a/Deployment/api",
            "team-a/StatefulSet/db",
            "team-b/CronJob/nightly"
        ])
    );
    assert_eq!(
        workload_ids(&by_digest(&digests[2])["workloads"]),
        set(&[
            "team-a/Deployment/api",
            "team-b/Job/once",
            "team-c/StatefulSet/cache"
        ])
    );
    assert_eq!(
        workload_ids(&by_digest(&digests[3])["workloads"]),
        set(&["team-b/DaemonSet/agent", "team-c/Pod/debug"])
    );
    // Alpine 3.9 has findings in the v3.9 secdb; 3.20 has no data in it yet.
    assert!(
        by_digest(&digests[1])["summary"]["counts"]
            .as_object()
            .is_some_and(|c| !c.is_empty())
    );
    assert_eq!(alpine320["summary"]["counts"], json!({}));

    // The workloads views.
    let everything = cluster.get("/api/v1/workloads")["workloads"].clone();
    assert_eq!(everything.as_array().unwrap().len(), 10, "{everything:#}");
    assert_eq!(
        workload_ids(&cluster.get("/api/v1/workloads?namespace=team-b")["workloads"]),
        set(&[
            "team-b/DaemonSet/agent",
            "team-b/Deployment/web",
            "team-b/CronJob/nightly",
            "team-b/Job/once"
        ])
    );
    let with_findings =
        workload_ids(&cluster.get("/api/v1/workloads?severity=unknown")["workloads"]);
    assert_eq!(
        with_findings,
        set(&[
            "team-a/Deployment/api",
            "team-a/StatefulSet/db",
            "team-b/CronJob/nightly"
        ])
    );
    assert_eq!(
        cluster.get("/api/v1/workloads?severity=critical")["workloads"],
        json!([])
    );
    assert_eq!(
        cluster
            .server
            .get("/api/v1/workloads?severity=dire", Some("token-one"))
            .status,
        400
    );
    assert_eq!(cluster.server.get("/api/v1/workloads", None).status, 401);
    assert_eq!(
        workload_ids(
            &cluster.get(&format!("/api/v1/images/{}/workloads", digests[3]))["workloads"]
        ),
        set(&["team-b/DaemonSet/agent", "team-c/Pod/debug"])
    );
    let unknown = format!("sha256:{}", "0".repeat(64));
    assert_eq!(
        cluster
            .server
            .get(
                &format!("/api/v1/images/{unknown}/workloads"),
                Some("token-one")
            )
            .status,
        404
    );

    // Reports: one per namespace, one for the cluster, all valid against the CRDs.
    wait_for("3 PolicyReports and a ClusterPolicyReport", || {
        let reports = cluster.reports();
        (
            reports.len() == 4,
            reports.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        )
    });
    validate_reports(&cluster);
    let team_a = cluster.namespace_report("team-a");
    // One result per workload and container: web, api (app, sidecar), db.
    assert_eq!(team_a["results"].as_array().unwrap().len(), 4, "{team_a:#}");

    // The database is swapped for one that adds findings to the 3.20 images.
    build_db(&cluster.db, &["v3.9", "v3.20"]);
    let second_db = wait_for("the new database loaded", || {
        let v = current_db(&cluster);
        (v != first_db, v)
    });
    judged_with(
        &cluster,
        "4 images re-judged with the new database",
        &second_db,
    );
    // Exactly one re-match per distinct digest (4), not one per workload (10), no pull.
    let log = cluster.scan_log();
    rescans_done(&log, &second_db, "rematch");
    assert_eq!(log.len(), 8, "{log:#?}");
    let alpine320 = cluster.get("/api/v1/images")["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["digest"] == digests[0].as_str())
        .unwrap()
        .clone();
    assert!(
        alpine320["summary"]["top"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t.as_str().unwrap().starts_with("CVE-2024-9143 ")),
        "{alpine320:#}"
    );
    // Now every workload runs an image with findings.
    assert_eq!(
        cluster.get("/api/v1/workloads?severity=unknown")["workloads"]
            .as_array()
            .unwrap()
            .len(),
        10
    );

    // The reports follow: team-a's web result names the new finding and the new database.
    let web = wait_for("team-a's report updated", || {
        let report = cluster.namespace_report("team-a");
        let web = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resources"][0]["name"] == "web")
            .cloned()
            .unwrap();
        (web["properties"]["database"] == second_db.as_str(), web)
    });
    assert!(
        web["message"].as_str().unwrap().contains("CVE-2024-9143"),
        "{web:#}"
    );
    assert_eq!(web["properties"]["digest"], digests[0].as_str());
    assert_eq!(web["resources"][0]["kind"], "Deployment");
    assert_eq!(web["resources"][0]["apiVersion"], "apps/v1");
    validate_reports(&cluster);

    // The metrics.
    let metrics = cluster.server.get("/metrics", None).text();
    assert!(
        metrics.contains("portcullis_rescan_duration_seconds_count "),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"portcullis_running_images{severity="unknown"} 4"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"portcullis_running_workloads_with_findings{severity="unknown"} 10"#),
        "{metrics}"
    );
}

#[test]
fn hostile_cluster_data_never_crashes_the_inventory() {
    let cluster = Cluster::start(|mock, registry| {
        let reference = registry.reference("team/alpine:3.9");
        let digest = registry.manifest_digest("team/alpine:3.9");
        // No imageID yet (still pulling): resolved from the spec's tag.
        mock.seed(
            "v1/pods",
            pod(
                "team-a",
                "pending",
                None,
                &[("app", reference.clone(), String::new())],
            ),
        );
        // A bare `sha256:` image id (not a manifest digest): resolved from the spec too.
        mock.seed(
            "v1/pods",
            pod(
                "team-a",
                "bare",
                None,
                &[(
                    "app",
                    reference.clone(),
                    format!("docker://sha256:{}", "a".repeat(64)),
                )],
            ),
        );
        // Its ReplicaSet is gone: the ReplicaSet is the workload.
        mock.seed(
            "v1/pods",
            pod(
                "team-a",
                "orphan",
                Some(("ReplicaSet", "gone-5d")),
                &[(
                    "app",
                    reference.clone(),
                    format!(
                        "docker-pullable://{}@{digest}",
                        reference.rsplit_once(':').unwrap().0
                    ),
                )],
            ),
        );
        // Garbage: no spec, no status, no containers.
        mock.seed("v1/pods", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "empty", "namespace": "team-a"}}));
        mock.seed("v1/pods", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "noimage", "namespace": "team-a"}, "spec": {"containers": [{"name": "x"}]}, "status": {"containerStatuses": [{"name": "x", "image": "", "imageID": "@@", "ready": false, "restartCount": 0}]}}));
        mock.seed(
            "v1/pods",
            pod(
                "team-a",
                "badref",
                None,
                &[("app", "UPPER CASE/!!".to_string(), "nonsense".to_string())],
            ),
        );
    });
    let digest = cluster.digest("team/alpine:3.9");
    let workloads = wait_for(
        "the pending, bare and orphan Pods resolved to one digest",
        || {
            let answer = cluster.server.get(
                &format!("/api/v1/images/{digest}/workloads"),
                Some("token-one"),
            );
            let ids = if answer.status == 200 {
                workload_ids(&answer.json()["workloads"])
            } else {
                BTreeSet::new()
            };
            (ids.len() == 3, ids)
        },
    );
    assert_eq!(
        workloads,
        set(&[
            "team-a/Pod/bare",
            "team-a/Pod/pending",
            "team-a/ReplicaSet/gone-5d"
        ])
    );
    // The pull was done once for the digest however many ways it was found.
    let pulls = cluster
        .scan_log()
        .iter()
        .filter(|s| s["digest"] == digest.as_str())
        .count();
    assert_eq!(pulls, 1, "{:#?}", cluster.scan_log());

    // The watch drops mid-stream, then resuming finds its history compacted (410 Gone):
    // the inventory lists again and sees what changed meanwhile.
    let watches = cluster.mock.watch_count("v1/pods");
    cluster.mock.expire_watch_history();
    cluster.mock.drop_watches();
    let reference = cluster.reference("team/alpine:3.20");
    let id = cluster.image_id("team/alpine:3.20", true);
    cluster.mock.seed(
        "v1/pods",
        pod("team-b", "late", None, &[("app", reference, id)]),
    );
    assert!(cluster.mock.delete("v1/pods", "team-a", "orphan"));
    let late = cluster.digest("team/alpine:3.20");
    wait_for("the Pod added during the outage inventoried", || {
        let answer = cluster.server.get(
            &format!("/api/v1/images/{late}/workloads"),
            Some("token-one"),
        );
        (answer.status == 200, answer.text())
    });
    let ids =
        workload_ids(&cluster.get(&format!("/api/v1/images/{digest}/workloads"))["workloads"]);
    assert_eq!(ids, set(&["team-a/Pod/bare", "team-a/Pod/pending"]));
    assert!(cluster.mock.watch_count("v1/pods") > watches);
    // A list followed the 410.
    let relisted = cluster
        .mock
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/pods" && r.query_value("watch").is_none())
        .count();
    assert!(relisted >= 2, "{relisted}");
    assert_eq!(cluster.server.get("/healthz", None).status, 200);
    validate_reports_loose(&cluster);
}

/// Every report written is valid (however many namespaces there are).
fn validate_reports_loose(cluster: &Cluster) {
    let reports = cluster.reports();
    validate(
        "wgpolicyk8s.io_policyreports.yaml",
        &of_kind(&reports, "PolicyReport"),
    );
    validate(
        "wgpolicyk8s.io_clusterpolicyreports.yaml",
        &of_kind(&reports, "ClusterPolicyReport"),
    );
}

fn lease_holder(mock: &KubeMock) -> (String, i64) {
    let lease = mock
        .get(
            "coordination.k8s.io/v1/leases",
            "portcullis-system",
            "portcullis-rescan",
        )
        .unwrap_or_default();
    (
        lease["spec"]["holderIdentity"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        lease["spec"]["leaseTransitions"].as_i64().unwrap_or(-1),
    )
}

/// A cluster whose `replica-a` leads (Leases of `lease_seconds`, renewed every 200 ms)
/// and judged the 4 running images, and a `replica-b` following it.
fn led_cluster(lease_seconds: u64) -> (Cluster, TestServer) {
    let lease = move |config: &mut portcullis_config::ServerConfig| {
        config.leader_election.lease_duration =
            portcullis_config::Duration::from_secs(lease_seconds);
        config.leader_election.renew_interval = portcullis_config::Duration::from_millis(200);
    };
    let cluster = Cluster::start_with(seed_cluster, lease);
    wait_for("replica-a leads", || {
        let holder = lease_holder(&cluster.mock);
        (holder.0 == "replica-a", holder)
    });
    let follower = replica(
        &cluster.mock,
        &cluster.registry,
        &cluster.db,
        "replica-b",
        lease,
    );
    wait_for("the leader judged the 4 running images", || {
        let n = cluster.scan_log().len();
        (n == 4, n)
    });
    (cluster, follower)
}

/// How many scans `server`'s scan log holds.
fn scans_logged(server: &TestServer) -> usize {
    server.get("/api/v1/scanlog", Some("token-one")).json()["scans"]
        .as_array()
        .unwrap()
        .len()
}

/// Waits until `follower` (`replica-b`) took the Lease over and judged the 4 running images.
fn wait_for_takeover(cluster: &Cluster, follower: &TestServer) {
    wait_for("replica-b leads", || {
        let holder = lease_holder(&cluster.mock);
        (holder == ("replica-b".to_string(), 1), holder)
    });
    wait_for("the new leader judged the 4 running images", || {
        let n = scans_logged(follower);
        (n == 4, n)
    });
}

#[test]
fn electors_take_a_lease_only_once_it_expires() {
    use portcullis_server::leader::{Elector, LeaseSettings};
    let mock = KubeMock::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let settings = |identity: &str| LeaseSettings {
            namespace: "portcullis-system".to_string(),
            name: "portcullis-rescan".to_string(),
            identity: identity.to_string(),
            lease_duration: Duration::from_secs(1),
            renew_interval: Duration::from_millis(100),
        };
        let a = Elector::new(mock.client(), settings("a"));
        let b = Elector::new(mock.client(), settings("b"));
        assert!(a.try_acquire_or_renew().await.unwrap());
        assert!(!b.try_acquire_or_renew().await.unwrap());
        assert!(a.try_acquire_or_renew().await.unwrap());
        assert_eq!(lease_holder(&mock), ("a".to_string(), 0));
        // `a` dies (stops renewing): `b` takes over once the Lease expired, not before.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !b.try_acquire_or_renew().await.unwrap() {
            assert_eq!(lease_holder(&mock).0, "a");
            assert!(Instant::now() < deadline, "b never took the Lease");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(lease_holder(&mock), ("b".to_string(), 1));
        assert!(!a.try_acquire_or_renew().await.unwrap());
    });
    // Every write carried the resourceVersion it read (optimistic concurrency).
    for request in mock.requests().iter().filter(|r| r.method == "PUT") {
        let body = request.body.as_ref().unwrap();
        assert!(body["metadata"]["resourceVersion"].is_string(), "{body}");
    }
}

#[test]
fn only_the_leader_rescans_and_a_follower_takes_over_when_it_dies() {
    let (mut cluster, follower) = led_cluster(2);
    // The follower watches too (it knows what runs) but judges nothing, and says so.
    let answer = wait_for("the follower inventoried the 10 workloads", || {
        let answer = follower.get("/api/v1/workloads", Some("token-one")).json();
        let n = answer["workloads"].as_array().unwrap().len();
        (n == 10, answer)
    });
    assert_eq!(answer["leading"], false);
    assert_eq!(cluster.get("/api/v1/workloads")["leading"], true);
    assert_eq!(scans_logged(&follower), 0);
    assert_eq!(lease_holder(&cluster.mock).0, "replica-a");

    // The leader dies without releasing the Lease: the follower takes over once it expires.
    let leader = cluster.server.server.take().unwrap();
    {
        let _entered = cluster.server.runtime.enter();
        leader.kill();
    }
    wait_for_takeover(&cluster, &follower);
    let reports = cluster.reports();
    assert_eq!(reports.len(), 4, "{reports:#?}");
    validate_reports(&cluster);
}

/// One request a [`Receiver`] got: path, headers (lowercase names), body, and the status
/// it answered.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    status: u16,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A local webhook receiver: answers 500 to its very first request, 200 after.
fn receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Received>>>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Received>::new()));
    let seen = std::sync::Arc::clone(&log);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((n, v)) = h.split_once(':') {
                    headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            let length: usize = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let status = {
                let mut log = seen.lock().unwrap();
                let status = if log.is_empty() { 500 } else { 200 };
                log.push(Received {
                    path,
                    headers,
                    body,
                    status,
                });
                status
            };
            let _ = stream.write_all(
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (url, log)
}

#[test]
fn new_findings_are_notified_once_per_image_signed_retried_and_deduplicated() {
    let (url, received) = receiver();
    let keys = portcullis_testkit::temp_dir("serve-notify");
    let key_file = keys.path().join("hmac.key");
    std::fs::write(&key_file, "s3cret-key\n").unwrap();
    let cluster = Cluster::start_with(seed_cluster, |config| {
        config.notifications = vec![
            portcullis_config::NotificationConfig {
                name: "hook".into(),
                url: format!("{url}/hook"),
                secret_file: Some(key_file.display().to_string()),
                events: vec![],
                min_severity: None,
                format: "json".into(),
            },
            portcullis_config::NotificationConfig {
                name: "chat".into(),
                url: format!("{url}/slack"),
                secret_file: None,
                events: vec!["new_findings".into()],
                min_severity: None,
                format: "slack".into(),
            },
        ];
    });
    let first_db = current_db(&cluster);
    wait_for("4 running images judged", || {
        let n = rescans_with(&cluster.scan_log(), &first_db).len();
        (n == 4, n)
    });
    // A first verdict is not news.
    assert!(received.lock().unwrap().is_empty());

    build_db(&cluster.db, &["v3.9", "v3.20"]);
    let second_db = wait_for("the new database loaded", || {
        let v = current_db(&cluster);
        (v != first_db, v)
    });
    // The same event three times is delivered once. A receiver's queue is first in, first
    // out: once the marker queued after them is delivered, any duplicate would have been.
    let stale = portcullis_server::notify::Event {
        event: "database_stale".into(),
        database: Some(second_db.clone()),
        message: "test".into(),
        ..Default::default()
    };
    for _ in 0..3 {
        cluster.server.app().notifier.emit(stale.clone());
    }
    let marker = portcullis_server::notify::Event {
        database: Some("marker".into()),
        ..stale.clone()
    };
    cluster.server.app().notifier.emit(marker.clone());
    // The three images based on Alpine 3.20 gain CVE-2024-9143; Alpine 3.9 gains nothing.
    let expected: BTreeSet<String> = [&IMAGES[0], &IMAGES[2], &IMAGES[3]]
        .iter()
        .map(|(r, _)| cluster.digest(r))
        .collect();
    let delivered = |path: &str, event: &str| -> BTreeSet<String> {
        received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path && r.status == 200)
            .filter(|r| event.is_empty() || r.header("x-portcullis-event") == Some(event))
            .map(|r| r.header("x-portcullis-delivery").unwrap_or("").to_string())
            .collect()
    };
    wait_for(
        "3 new_findings and 2 database_stale delivered to both receivers",
        || {
            let hook = delivered("/hook", "new_findings").len();
            let stale = delivered("/hook", "database_stale").len();
            let chat = delivered("/slack", "new_findings").len();
            ((hook, stale, chat) == (3, 2, 3), (hook, stale, chat))
        },
    );
    let all = received.lock().unwrap().clone();
    let ok_deliveries_of = |path: &str, id: &str| {
        all.iter()
            .filter(|r| r.path == path && r.status == 200)
            .filter(|r| r.header("x-portcullis-delivery") == Some(id))
            .count()
    };
    assert_eq!(ok_deliveries_of("/hook", &stale.id()), 1, "{all:#?}");
    assert_eq!(ok_deliveries_of("/hook", &marker.id()), 1, "{all:#?}");
    // Every new_findings event too was delivered exactly once to each receiver.
    for id in delivered("/hook", "new_findings") {
        assert_eq!(ok_deliveries_of("/hook", &id), 1, "{all:#?}");
        assert_eq!(ok_deliveries_of("/slack", &id), 1, "{all:#?}");
    }
    let mut new_findings = BTreeSet::new();
    for request in all.iter().filter(|r| r.path == "/hook") {
        // Signed: HMAC-SHA256 of the exact body with the key (without its newline).
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret-key");
        let expected_signature = format!(
            "sha256={}",
            hex::encode(ring::hmac::sign(&key, &request.body).as_ref())
        );
        assert_eq!(
            request.header("x-portcullis-signature"),
            Some(expected_signature.as_str())
        );
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["version"], 1);
        assert_eq!(body["id"], request.header("x-portcullis-delivery").unwrap());
        assert!(
            ["new_findings", "verdict_changed", "database_stale"]
                .contains(&body["event"].as_str().unwrap()),
            "{body}"
        );
        if body["event"] == "new_findings" {
            assert_eq!(body["database"], second_db.as_str());
            assert!(
                body["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f.as_str().unwrap().starts_with("CVE-2024-9143 ")),
                "{body}"
            );
            assert!(!body["workloads"].as_array().unwrap().is_empty(), "{body}");
            new_findings.insert(body["digest"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(new_findings, expected);
    // The first request got a 500 and was delivered again (same delivery id).
    let first = &all[0];
    assert_eq!(first.status, 500);
    let again = all[1..]
        .iter()
        .filter(|r| {
            r.path == first.path
                && r.header("x-portcullis-delivery") == first.header("x-portcullis-delivery")
        })
        .count();
    assert_eq!(again, 1, "{all:#?}");
    for request in all.iter().filter(|r| r.path == "/slack") {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert!(
            body["text"].as_str().unwrap().contains("new_findings"),
            "{body}"
        );
        assert!(request.header("x-portcullis-signature").is_none());
    }
    let metrics = cluster.server.get("/metrics", None).text();
    assert!(
        metrics.contains(r#"portcullis_notifications_total{receiver=""#)
            && metrics.contains(r#"result="retried"} 1"#),
        "{metrics}"
    );
}

#[test]
fn denied_admissions_are_notified_once() {
    use crate::admission::{Registries, admit, pod, server_with};
    let (url, received) = receiver();
    let registries = Registries::start();
    let server = server_with(&registries, |config| {
        config.notifications = vec![portcullis_config::NotificationConfig {
            name: "hook".into(),
            url: format!("{url}/hook"),
            secret_file: None,
            events: vec!["admission_denied".into()],
            min_severity: None,
            format: "json".into(),
        }];
    });
    let allowed = admit(
        &server,
        "v1",
        &pod("team-a", json!({}), &[&registries.go_image()], &[]),
    );
    assert_eq!(allowed["allowed"], true, "{allowed}");
    let denied_pod = pod("team-a", json!({}), &[&registries.stop_image()], &[]);
    for _ in 0..2 {
        let denied = admit(&server, "v1", &denied_pod);
        assert_eq!(denied["allowed"], false, "{denied}");
    }
    // Queued after the two denials: once it is delivered, a duplicate would have been.
    let marker = portcullis_server::notify::Event {
        event: "admission_denied".into(),
        subject: "marker".into(),
        message: "marker".into(),
        ..Default::default()
    };
    server.app().notifier.emit(marker.clone());
    let all = wait_for("the marker delivered", || {
        let all = received.lock().unwrap().clone();
        let done = all.iter().any(|r| {
            r.status == 200 && r.header("x-portcullis-delivery") == Some(marker.id().as_str())
        });
        (done, all)
    });
    let denials: Vec<Value> = all
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .filter(|b| b["message"] != "marker")
        .collect();
    assert_eq!(denials.len(), 1, "{all:#?}");
    let body = &denials[0];
    assert_eq!(body["event"], "admission_denied");
    assert_eq!(body["namespace"], "team-a");
    assert_eq!(
        body["workloads"],
        json!([{"namespace": "team-a", "kind": "Pod", "name": "web"}])
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&registries.stop_image()),
        "{body}"
    );
    // The first attempt got a 500 and was retried.
    assert_eq!(all[0].status, 500);
}

#[test]
fn a_leader_shutting_down_hands_the_lease_over_at_once() {
    // A Lease held for 10 minutes: only a release lets the follower in within the test.
    let (mut cluster, follower) = led_cluster(600);
    let leader = cluster.server.server.take().unwrap();
    cluster.server.runtime.block_on(leader.shutdown());
    wait_for_takeover(&cluster, &follower);
}
