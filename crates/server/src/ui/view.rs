//! What the pages show, gathered from the same state the REST API reads: the inventory's
//! rows (running images and workloads), the engine's latest verdicts (images judged at
//! admission or by the API), and the audit log.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::inventory::{ImageState, Summary, WorkloadRef, severity_rank};
use crate::policyreport::Row;
use crate::server::App;

/// One image: running, judged at admission or by the API, or both.
#[derive(Debug, Clone, Default)]
pub struct ImageView {
    /// The references it runs or was asked as.
    pub references: BTreeSet<String>,
    /// The workloads running it (empty when it does not run).
    pub workloads: BTreeSet<WorkloadRef>,
    /// Its verdict state.
    pub state: ImageState,
    /// Whether a running workload runs it.
    pub running: bool,
}

impl ImageView {
    /// Counts, decision and top findings, as `/api/v1/images` gives them.
    pub fn summary(&self, top: usize) -> Summary {
        self.state.summary(top)
    }
}

/// How many top findings the summaries name.
pub fn top(app: &App) -> usize {
    app.running.as_ref().map_or(5, |r| r.inventory.top_findings)
}

/// The inventory's rows (empty without the inventory), read once per page.
pub fn rows(app: &App) -> Vec<Row> {
    app.running.as_ref().map_or_else(Vec::new, |r| r.rows())
}

/// Every image by digest: the running ones (from `rows`) first-hand, then those only the
/// engine judged.
pub fn images(app: &Arc<App>, rows: &[Row]) -> BTreeMap<String, ImageView> {
    let mut images: BTreeMap<String, ImageView> = BTreeMap::new();
    for row in rows.iter().cloned() {
        let Some(digest) = row.digest else { continue };
        let view = images.entry(digest).or_default();
        view.running = true;
        view.references.insert(row.image);
        view.workloads.insert(row.workload);
        if let Some(state) = row.state
            && view.state.result.is_none()
            && view.state.error.is_none()
        {
            view.state = state;
        }
    }
    for (digest, result) in app.engine.latest_all() {
        let view = images.entry(digest).or_default();
        if view.running {
            continue;
        }
        view.references.insert(result.image.reference.clone());
        if view.state.result.is_none() {
            view.state.result = Some(result);
        }
    }
    images
}

/// One workload with its containers' images and its worst outcome.
#[derive(Debug, Clone, Default)]
pub struct WorkloadView {
    /// (container, reference, digest) of each container.
    pub containers: Vec<(String, String, Option<String>)>,
    /// The highest finding severity over its images (`none` without findings).
    pub highest: String,
    /// The worst decision over its images (`stop`, `warn`, `unknown`, `go`).
    pub action: String,
}

/// The rank of a decision, worst highest.
pub fn action_rank(action: &str) -> u8 {
    match action {
        "go" => 1,
        "unknown" => 2,
        "warn" => 3,
        "stop" => 4,
        _ => 0,
    }
}

/// Every running workload of `rows`, by namespace.
pub fn workloads(app: &App, rows: &[Row]) -> BTreeMap<WorkloadRef, WorkloadView> {
    let mut out: BTreeMap<WorkloadRef, WorkloadView> = BTreeMap::new();
    let top = top(app);
    for row in rows.iter().cloned() {
        let summary = row.state.unwrap_or_default().summary(top);
        let view = out.entry(row.workload).or_insert_with(|| WorkloadView {
            highest: "none".to_string(),
            ..WorkloadView::default()
        });
        if severity_rank(&summary.highest) > severity_rank(&view.highest) {
            view.highest = summary.highest.clone();
        }
        if action_rank(&summary.action) > action_rank(&view.action) {
            view.action = summary.action.clone();
        }
        view.containers.push((row.container, row.image, row.digest));
    }
    out
}

/// How an audit ended: `allowed`, `warned` or `denied`.
pub fn audit_result(allowed: bool, action: &str) -> &'static str {
    match (allowed, action) {
        (false, _) => "denied",
        (true, "warn") => "warned",
        _ => "allowed",
    }
}
