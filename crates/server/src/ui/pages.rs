//! The pages. Each returns its status and complete HTML; every value is escaped with
//! [`esc`] (or built from escaped parts).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use hyper::StatusCode;
use portcullis_matcher::Finding;
use portcullis_report::Timestamp;
use portcullis_scan::ScanResult;

use super::html::{Cell, Table, admissions_chart, cut, esc, page, url_part};
use super::view::{self, ImageView, WorkloadView, action_rank, audit_result};
use crate::audits::AuditRecord;
use crate::engine::unix_now;
use crate::inventory::{WorkloadRef, severity_rank};
use crate::server::App;

/// Severities, highest first, plus `none` (no findings).
const SEVERITIES: [&str; 7] = [
    "critical",
    "high",
    "medium",
    "low",
    "negligible",
    "unknown",
    "none",
];
/// The longest search query taken.
const MAX_QUERY: usize = 200;
/// The most rows a list page shows (the rest are counted, not shown).
pub const MAX_ROWS: usize = 5000;

/// The page for `path` (already authorised).
pub fn render(app: &Arc<App>, path: &str, query: &str, csrf: Option<&str>) -> (StatusCode, String) {
    let params = super::session::form_fields(query.as_bytes());
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let (status, title, active, body) = match path.trim_end_matches('/') {
        "/ui" => (StatusCode::OK, "Overview", "/ui/", overview(app)),
        "/ui/images" => (StatusCode::OK, "Images", "/ui/images", images(app)),
        "/ui/workloads" => (
            StatusCode::OK,
            "Workloads",
            "/ui/workloads",
            workloads(app, param("namespace").as_deref()),
        ),
        "/ui/search" => (
            StatusCode::OK,
            "Vulnerability search",
            "/ui/search",
            search(app, param("q").as_deref()),
        ),
        "/ui/audits" => (
            StatusCode::OK,
            "Audits",
            "/ui/audits",
            audits(
                app,
                param("namespace").as_deref(),
                param("result").as_deref(),
            ),
        ),
        "/ui/policies" => (
            StatusCode::OK,
            "Policies and whitelists",
            "/ui/policies",
            policies(app),
        ),
        p => match p.strip_prefix("/ui/images/") {
            Some(digest) => match image(app, digest) {
                Some(body) => (StatusCode::OK, "Image", "/ui/images", body),
                None => (
                    StatusCode::NOT_FOUND,
                    "Image not found",
                    "/ui/images",
                    format!(
                        "<p>No image <code>{}</code> runs or was judged by this server.</p>",
                        esc(&cut(digest, 100))
                    ),
                ),
            },
            None => (
                StatusCode::NOT_FOUND,
                "Not found",
                "",
                "<p>There is no such page.</p>".to_string(),
            ),
        },
    };
    (status, page(title, active, csrf, &body))
}

/// The login form, with an error when the last try failed.
pub fn login(failed: Option<&str>) -> String {
    let error = failed.map_or_else(String::new, |m| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", esc(m))
    });
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Log in · Portcullis</title><link rel=\"stylesheet\" href=\"/ui/static/app.css\"></head>\
<body><main id=\"main\" class=\"login\"><h1>Portcullis</h1>{error}\
<form method=\"post\" action=\"/ui/login\"><label for=\"token\">API token</label>\
<input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"current-password\" required>\
<button type=\"submit\">Log in</button></form>\
<p class=\"hint\">Any of the server's <code>apiTokens</code>. The session lasts {} hours.</p></main></body></html>\n",
        super::SESSION_TTL.as_secs() / 3600
    )
}

/// A bare page with one message.
pub fn message(title: &str, text: &str) -> String {
    page(title, "", None, &format!("<p>{}</p>", esc(text)))
}

fn time(seconds: Option<i64>) -> String {
    seconds
        .and_then(Timestamp::from_unix)
        .map_or_else(|| "—".to_string(), |t| t.to_rfc3339())
}

fn short_digest(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

fn image_link(digest: &str) -> String {
    format!(
        "<a href=\"/ui/images/{}\"><code>{}</code></a>",
        esc(digest),
        esc(&short_digest(digest))
    )
}

fn workload_link(w: &WorkloadRef) -> String {
    format!(
        "<a href=\"/ui/workloads?namespace={}\">{}/{}/{}</a>",
        url_part(&w.namespace),
        esc(&w.namespace),
        esc(&w.kind),
        esc(&cut(&w.name, 120))
    )
}

fn badge(word: &str) -> String {
    let class: String = word.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("<span class=\"badge b-{class}\">{}</span>", esc(word))
}

/// The namespace `<select>` of a filter form.
fn namespace_select(namespaces: &BTreeSet<&str>, selected: Option<&str>) -> String {
    select(
        "ns",
        "namespace",
        "Namespace",
        namespaces.iter().copied(),
        selected,
    )
}

/// A labelled `<select>` of `options` (plus `all`, the empty value) with `selected` chosen.
fn select<'a>(
    id: &str,
    name: &str,
    label: &str,
    options: impl Iterator<Item = &'a str>,
    selected: Option<&str>,
) -> String {
    let mut out = format!(
        "<label for=\"{id}\">{label}</label><select id=\"{id}\" name=\"{name}\"><option value=\"\">all</option>"
    );
    for option in options {
        let chosen = if Some(option) == selected {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<option value=\"{0}\"{chosen}>{0}</option>",
            esc(option)
        );
    }
    out.push_str("</select>");
    out
}

fn inventory_off() -> String {
    "<p class=\"note\">The inventory of running workloads is off (it needs <code>kubernetes: true</code> and <code>inventory.enabled</code>).</p>".to_string()
}

// ---- overview ---------------------------------------------------------------------------

fn overview(app: &Arc<App>) -> String {
    let mut out = String::new();
    out.push_str(&database_banner(app));
    let top = view::top(app);
    if app.running.is_some() {
        let rows = view::rows(app);
        let images = view::images(app, &rows);
        let running: Vec<(&String, &ImageView)> =
            images.iter().filter(|(_, v)| v.running).collect();
        let workloads = view::workloads(app, &rows);
        out.push_str(&what_runs(&running, &workloads, top));
        out.push_str(&known_exploited(&running));
    } else {
        out.push_str(&inventory_off());
    }
    let audits = app.audits.list();
    out.push_str(&admissions_last_day(&audits));
    out.push_str(&recent_denials(&audits));
    out
}

/// The "What runs" section: the running images and workloads counted by highest severity.
fn what_runs(
    running: &[(&String, &ImageView)],
    workloads: &BTreeMap<WorkloadRef, WorkloadView>,
    top: usize,
) -> String {
    let mut by_image: BTreeMap<String, usize> = BTreeMap::new();
    for (_, image) in running {
        *by_image.entry(image.summary(top).highest).or_default() += 1;
    }
    let mut by_workload: BTreeMap<String, usize> = BTreeMap::new();
    for w in workloads.values() {
        *by_workload.entry(w.highest.clone()).or_default() += 1;
    }
    let mut out = String::new();
    let _ = write!(
        out,
        "<section aria-labelledby=\"running-h\"><h2 id=\"running-h\">What runs</h2>\
<p><span id=\"running-images\">{}</span> images in <span id=\"running-workloads\">{}</span> workloads.</p>\
<table id=\"by-severity\"><caption>Running images and workloads by highest severity</caption>\
<thead><tr><th scope=\"col\">Highest severity</th><th scope=\"col\" class=\"num\">Images</th><th scope=\"col\" class=\"num\">Workloads</th></tr></thead><tbody>",
        running.len(),
        workloads.len()
    );
    for severity in SEVERITIES {
        let _ = write!(
            out,
            "<tr data-severity=\"{severity}\"><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            badge(severity),
            by_image.get(severity).copied().unwrap_or(0),
            by_workload.get(severity).copied().unwrap_or(0)
        );
    }
    out.push_str("</tbody></table></section>");
    out
}

/// The section of known exploited vulnerabilities (CISA KEV) in the running images, one row
/// per (vulnerability, package) of an image.
fn known_exploited(running: &[(&String, &ImageView)]) -> String {
    let mut kev = Table::new(
        "kev",
        "Known exploited vulnerabilities in running images",
        &[
            ("ID", false),
            ("Package", false),
            ("Image", false),
            ("Workloads", true),
            ("Due", false),
        ],
    );
    for (digest, image) in running {
        let Some(result) = &image.state.result else {
            continue;
        };
        let mut seen = BTreeSet::new();
        for finding in &result.findings {
            let Some(k) = &finding.kev else { continue };
            if !seen.insert((finding.id.clone(), finding.package.name.clone())) {
                continue;
            }
            kev.row(vec![
                Cell::html(search_link(&finding.id)),
                Cell::text(&format!(
                    "{} {}",
                    finding.package.name, finding.package.version
                )),
                Cell::html(image_link(digest)),
                Cell::number(image.workloads.len()),
                Cell::text(&k.due_date),
            ]);
        }
    }
    let mut out = String::from(
        "<section aria-labelledby=\"kev-h\"><h2 id=\"kev-h\">Known exploited (CISA KEV)</h2>",
    );
    out.push_str(&kev.render(
        "No running image has a finding in the KEV catalog (or the database has no KEV data).",
    ));
    out.push_str("</section>");
    out
}

/// The admissions of the last 24 hours: totals by result and a chart by hour.
fn admissions_last_day(audits: &[Arc<AuditRecord>]) -> String {
    let now = unix_now();
    let mut hours = [[0usize; 3]; 24];
    let mut totals = [0usize; 3];
    for audit in audits {
        let Some(at) = Timestamp::parse_rfc3339(&audit.spec.timestamp).map(Timestamp::unix) else {
            continue;
        };
        let age = now - at;
        if !(0..86_400).contains(&age) {
            continue;
        }
        let slot = match audit_result(audit.spec.allowed, &audit.spec.action) {
            "allowed" => 0,
            "warned" => 1,
            _ => 2,
        };
        let hour = 23 - usize::try_from(age / 3600).unwrap_or(23).min(23);
        hours[hour][slot] += 1;
        totals[slot] += 1;
    }
    format!(
        "<section aria-labelledby=\"adm-h\"><h2 id=\"adm-h\">Admissions, last 24 hours</h2>\
<p class=\"legend\"><span class=\"key allowed\"></span>allowed <span id=\"adm-allowed\">{}</span> \
<span class=\"key warned\"></span>warned <span id=\"adm-warned\">{}</span> \
<span class=\"key denied\"></span>denied <span id=\"adm-denied\">{}</span></p>{}</section>",
        totals[0],
        totals[1],
        totals[2],
        admissions_chart(&hours)
    )
}

/// The 10 most recent denials, with a link to all of them.
fn recent_denials(audits: &[Arc<AuditRecord>]) -> String {
    let mut denials = Table::new(
        "denials",
        "Most recent denials",
        &[
            ("Time", false),
            ("Namespace", false),
            ("Workload", false),
            ("Why", false),
        ],
    );
    for audit in audits.iter().filter(|a| !a.spec.allowed).take(10) {
        denials.row(vec![
            Cell::text(&audit.spec.timestamp),
            Cell::text(&audit.spec.owner.namespace),
            Cell::text(&format!(
                "{}/{}",
                audit.spec.owner.kind,
                cut(&audit.spec.owner.name, 120)
            )),
            Cell::text(&cut(&why(&audit.spec), 300)),
        ]);
    }
    let mut out = String::from(
        "<section aria-labelledby=\"den-h\"><h2 id=\"den-h\">The 10 most recent denials</h2>",
    );
    out.push_str(&denials.render("No admission was denied."));
    out.push_str("<p><a href=\"/ui/audits?result=denied\">Every denial</a></p></section>");
    out
}

fn database_banner(app: &Arc<App>) -> String {
    if app.engine.is_remote() {
        return format!(
            "<section aria-labelledby=\"db-h\"><h2 id=\"db-h\">Vulnerability database</h2>\
<p>Remote engine mode: images are scanned by <code>{}</code>, whose database content id is <code id=\"db-version\">{}</code>.</p></section>",
            esc(app.config.engine.url.as_deref().unwrap_or("")),
            esc(&app.engine.database_version().unwrap_or_default())
        );
    }
    let Some(current) = app.engine.db().current() else {
        return "<p class=\"banner stale\" role=\"alert\">No vulnerability database is loaded: images cannot be judged.</p>".to_string();
    };
    let built = current
        .built_at
        .as_deref()
        .and_then(Timestamp::parse_rfc3339)
        .map(Timestamp::unix);
    let limit = i64::try_from(app.config.database.update_interval.get().as_secs() * 2)
        .unwrap_or(i64::MAX)
        .max(86_400);
    let age = built.map(|b| unix_now() - b);
    let stale = age.is_none_or(|a| a > limit);
    let hours = age.map_or_else(
        || "an unknown time".to_string(),
        |a| format!("{} hours", a / 3600),
    );
    let mut out = String::new();
    if stale {
        let _ = write!(
            out,
            "<p class=\"banner stale\" role=\"alert\" id=\"stale\">The vulnerability database is stale: built {} ago (updates are due every {} hours). Verdicts may miss recent vulnerabilities.</p>",
            esc(&hours),
            app.config.database.update_interval.get().as_secs() / 3600
        );
    }
    let _ = write!(
        out,
        "<section aria-labelledby=\"db-h\"><h2 id=\"db-h\">Vulnerability database</h2><dl class=\"facts\">\
<dt>Content id</dt><dd><code id=\"db-version\">{}</code></dd><dt>Built</dt><dd>{} ({} ago)</dd></dl></section>",
        esc(&current.version),
        esc(current.built_at.as_deref().unwrap_or("unknown")),
        esc(&hours)
    );
    out
}

fn why(spec: &portcullis_k8s::AuditSpec) -> String {
    if let Some(reason) = &spec.reason {
        return reason.clone();
    }
    let stops: Vec<String> = spec
        .results
        .iter()
        .filter(|r| r.action == "stop")
        .map(|r| format!("{}: {}", r.trigger, r.message))
        .collect();
    if stops.is_empty() {
        spec.action.clone()
    } else {
        stops.join("; ")
    }
}

fn search_link(id: &str) -> String {
    format!(
        "<a href=\"/ui/search?q={}\">{}</a>",
        url_part(id),
        esc(&cut(id, 80))
    )
}

// ---- images -----------------------------------------------------------------------------

fn images(app: &Arc<App>) -> String {
    let top = view::top(app);
    let images = view::images(app, &view::rows(app));
    let mut table = Table::new(
        "images",
        "Images",
        &[
            ("Digest", false),
            ("References", false),
            ("Workloads", true),
            ("Critical", true),
            ("High", true),
            ("Medium", true),
            ("Low", true),
            ("Other", true),
            ("Last scan", false),
            ("Decision", false),
        ],
    );
    for (digest, image) in images.iter().take(MAX_ROWS) {
        let summary = image.summary(top);
        let count = |s: &str| summary.counts.get(s).copied().unwrap_or(0);
        let other = count("negligible") + count("unknown");
        let references: Vec<String> = image.references.iter().map(|r| esc(&cut(r, 160))).collect();
        table.row(vec![
            Cell::html(image_link(digest)).sort_by(digest),
            Cell::html(references.join("<br>")),
            Cell::number(image.workloads.len()),
            Cell::number(count("critical")),
            Cell::number(count("high")),
            Cell::number(count("medium")),
            Cell::number(count("low")),
            Cell::number(other),
            Cell::text(&time(image.state.last_scan)).sort_by(image.state.last_scan.unwrap_or(0)),
            Cell::html(badge(&summary.action)).sort_by(action_rank(&summary.action)),
        ]);
    }
    let mut out = String::from(
        "<p>Images that run in the cluster, and images judged at admission or through the API.</p>",
    );
    out.push_str(&table.render("No image runs or was judged yet."));
    if images.len() > MAX_ROWS {
        let _ = write!(
            out,
            "<p class=\"note\">{} more not shown.</p>",
            images.len() - MAX_ROWS
        );
    }
    out
}

fn image(app: &Arc<App>, digest: &str) -> Option<String> {
    let images = view::images(app, &view::rows(app));
    let image = images.get(digest)?;
    let top = view::top(app);
    let summary = image.summary(top);
    let mut out = String::new();
    let references: Vec<String> = image
        .references
        .iter()
        .map(|r| format!("<code>{}</code>", esc(r)))
        .collect();
    let _ = write!(
        out,
        "<dl class=\"facts\"><dt>Digest</dt><dd><code id=\"digest\">{}</code></dd>\
<dt>References</dt><dd>{}</dd><dt>Decision</dt><dd>{} {}</dd><dt>Highest severity</dt><dd>{}</dd>\
<dt>Last scan</dt><dd>{}</dd><dt>Database</dt><dd><code>{}</code></dd></dl>",
        esc(digest),
        references.join(" "),
        badge(&summary.action),
        summary
            .policy
            .as_deref()
            .map(|p| format!("by <code>{}</code>", esc(p)))
            .unwrap_or_default(),
        badge(&summary.highest),
        esc(&time(image.state.last_scan)),
        esc(image.state.database.as_deref().unwrap_or("—"))
    );
    if let Some(error) = &image.state.error {
        let _ = write!(
            out,
            "<p class=\"error\">Not judged: {}</p>",
            esc(&cut(error, 500))
        );
    }
    if let Some(result) = &image.state.result {
        out.push_str(&policy_results(result));
        out.push_str(&findings_by_package(result));
    }
    let mut workloads = Table::new("workloads", "Workloads running it", &[("Workload", false)]);
    for w in &image.workloads {
        workloads.row(vec![Cell::html(workload_link(w))]);
    }
    out.push_str("<section aria-labelledby=\"wl-h\"><h2 id=\"wl-h\">Workloads</h2>");
    out.push_str(&workloads.render("No running workload runs this image."));
    out.push_str("</section>");
    Some(out)
}

fn policy_results(result: &ScanResult) -> String {
    let Some(decision) = &result.decision else {
        return "<p class=\"note\">No policy decision.</p>".to_string();
    };
    let mut table = Table::new(
        "results",
        "Policy results",
        &[
            ("Gate", false),
            ("Trigger", false),
            ("Action", false),
            ("Message", false),
        ],
    );
    for r in &decision.results {
        table.row(vec![
            Cell::text(&r.gate),
            Cell::text(&r.trigger),
            Cell::html(badge(r.action.as_str())).sort_by(action_rank(r.action.as_str())),
            Cell::text(&cut(&r.message, 400)),
        ]);
    }
    format!(
        "<section aria-labelledby=\"pr-h\"><h2 id=\"pr-h\">Policy <code>{}</code>: {}</h2>{}</section>",
        esc(&decision.policy_id),
        badge(decision.final_action.as_str()),
        table.render("No rule fired.")
    )
}

fn exploit(finding: &Finding) -> String {
    let kev = finding.kev.is_some();
    let epss = finding.epss.as_ref().map(|e| e.score).filter(|s| *s >= 0.1);
    match (kev, epss) {
        (true, Some(s)) => format!("KEV {:.0}%", s * 100.0),
        (true, None) => "KEV".to_string(),
        (false, Some(s)) => format!("EPSS {:.0}%", s * 100.0),
        (false, None) => "-".to_string(),
    }
}

fn findings_by_package(result: &ScanResult) -> String {
    let findings = portcullis_report::scan::sorted_findings(result);
    let mut out = format!(
        "<section aria-labelledby=\"f-h\"><h2 id=\"f-h\">Findings (<span id=\"finding-count\">{}</span>)</h2>",
        findings.len()
    );
    if findings.is_empty() {
        out.push_str("<p class=\"empty\">No vulnerabilities found.</p></section>");
        return out;
    }
    let mut groups: Vec<(String, Vec<&Finding>)> = Vec::new();
    for f in findings {
        let key = format!(
            "{} {} ({})",
            f.package.name,
            f.package.version,
            f.package.ecosystem.as_str()
        );
        match groups.last_mut() {
            Some((k, list)) if *k == key => list.push(f),
            _ => groups.push((key, vec![f])),
        }
    }
    for (i, (package, list)) in groups.iter().enumerate() {
        let mut table = Table::new(
            &format!("pkg-{i}"),
            package,
            &[
                ("ID", false),
                ("Severity", false),
                ("Exploit", false),
                ("Fixed in", false),
                ("Summary", false),
            ],
        );
        for f in list {
            table.row(vec![
                Cell::html(search_link(&f.id)),
                Cell::html(badge(f.severity.as_str())).sort_by(severity_rank(f.severity.as_str())),
                Cell::text(&exploit(f)),
                Cell::text(f.fixed_version.as_deref().unwrap_or("not fixed")),
                Cell::text(&cut(f.summary.as_deref().unwrap_or(""), 200)),
            ]);
        }
        let _ = write!(out, "<h3>{}</h3>{}", esc(package), table.render(""));
    }
    out.push_str("</section>");
    out
}

// ---- workloads --------------------------------------------------------------------------

fn workloads(app: &Arc<App>, namespace: Option<&str>) -> String {
    if app.running.is_none() {
        return inventory_off();
    }
    let all = view::workloads(app, &view::rows(app));
    let namespaces: BTreeSet<&str> = all.keys().map(|w| w.namespace.as_str()).collect();
    let mut out = format!(
        "<form method=\"get\" action=\"/ui/workloads\" class=\"inline\">{}<button type=\"submit\">Show</button></form>",
        namespace_select(&namespaces, namespace)
    );
    let _ = write!(
        out,
        "<p><span id=\"workload-count\">{}</span> workloads in {} namespaces.</p>",
        all.len(),
        namespaces.len()
    );
    let mut current: Option<(&str, Table)> = None;
    let mut shown = 0usize;
    let flush = |out: &mut String, current: Option<(&str, Table)>| {
        if let Some((ns, table)) = current {
            let _ = write!(
                out,
                "<section><h2 id=\"ns-{}\">{}</h2>{}</section>",
                url_part(ns),
                esc(ns),
                table.render("")
            );
        }
    };
    for (w, view) in &all {
        if namespace.is_some_and(|n| n != w.namespace) {
            continue;
        }
        if shown >= MAX_ROWS {
            break;
        }
        shown += 1;
        if current.as_ref().is_none_or(|(ns, _)| *ns != w.namespace) {
            flush(&mut out, current.take());
            current = Some((
                w.namespace.as_str(),
                Table::new(
                    &format!("wl-{}", url_part(&w.namespace)),
                    &format!("Workloads of {}", w.namespace),
                    &[
                        ("Kind", false),
                        ("Name", false),
                        ("Images", false),
                        ("Highest", false),
                        ("Decision", false),
                    ],
                ),
            ));
        }
        let images: Vec<String> = view
            .containers
            .iter()
            .map(|(container, reference, digest)| {
                let link = digest
                    .as_deref()
                    .map(image_link)
                    .unwrap_or_else(|| "unresolved".to_string());
                format!("{}: {} {}", esc(container), esc(&cut(reference, 120)), link)
            })
            .collect();
        if let Some((_, table)) = current.as_mut() {
            table.row(vec![
                Cell::text(&w.kind),
                Cell::text(&cut(&w.name, 200)),
                Cell::html(images.join("<br>")),
                Cell::html(badge(&view.highest)).sort_by(severity_rank(&view.highest)),
                Cell::html(badge(&view.action)).sort_by(action_rank(&view.action)),
            ]);
        }
    }
    flush(&mut out, current);
    if shown == 0 {
        out.push_str("<p class=\"empty\">No running workload.</p>");
    }
    out
}

// ---- search -----------------------------------------------------------------------------

fn search(app: &Arc<App>, query: Option<&str>) -> String {
    let query = query.map(|q| q.chars().take(MAX_QUERY).collect::<String>());
    let mut out = format!(
        "<form method=\"get\" action=\"/ui/search\" role=\"search\"><label for=\"q\">CVE, GHSA or other id or alias</label>\
<input type=\"search\" id=\"q\" name=\"q\" value=\"{}\" required><button type=\"submit\">Search</button></form>",
        esc(query.as_deref().unwrap_or(""))
    );
    let Some(query) = query else { return out };
    let wanted = query.to_ascii_uppercase();
    let matches = |f: &Finding| {
        f.id.to_ascii_uppercase() == wanted
            || f.aliases.iter().any(|a| a.to_ascii_uppercase() == wanted)
    };
    let mut table = Table::new(
        "hits",
        &format!("Images affected by {query}"),
        &[
            ("Image", false),
            ("References", false),
            ("Finding", false),
            ("Package", false),
            ("Installed", false),
            ("Fixed in", false),
            ("Severity", false),
            ("Workloads", false),
        ],
    );
    let mut workloads = BTreeSet::new();
    for (digest, image) in view::images(app, &view::rows(app)) {
        let Some(result) = &image.state.result else {
            continue;
        };
        let mut seen = BTreeSet::new();
        for f in result.findings.iter().filter(|f| matches(f)) {
            if !seen.insert((
                f.id.clone(),
                f.package.name.clone(),
                f.package.version.clone(),
            )) {
                continue;
            }
            workloads.extend(image.workloads.iter().cloned());
            let links: Vec<String> = image.workloads.iter().map(workload_link).collect();
            let references: Vec<String> =
                image.references.iter().map(|r| esc(&cut(r, 120))).collect();
            table.row(vec![
                Cell::html(image_link(&digest)).sort_by(&digest),
                Cell::html(references.join("<br>")),
                Cell::text(&f.id),
                Cell::text(&f.package.name),
                Cell::text(&f.package.version),
                Cell::text(f.fixed_version.as_deref().unwrap_or("not fixed")),
                Cell::html(badge(f.severity.as_str())).sort_by(severity_rank(f.severity.as_str())),
                Cell::html(if links.is_empty() {
                    "not running".to_string()
                } else {
                    links.join("<br>")
                }),
            ]);
        }
    }
    let _ = write!(
        out,
        "<p><span id=\"hit-images\">{}</span> image findings, <span id=\"hit-workloads\">{}</span> workloads running them.</p>",
        table.len(),
        workloads.len()
    );
    out.push_str(&table.render(&format!(
        "No image this server knows is affected by {query}."
    )));
    out
}

// ---- audits -----------------------------------------------------------------------------

fn audits(app: &Arc<App>, namespace: Option<&str>, result: Option<&str>) -> String {
    let all = app.audits.list();
    let namespaces: BTreeSet<&str> = all
        .iter()
        .map(|a| a.spec.owner.namespace.as_str())
        .collect();
    let out_form = format!(
        "<form method=\"get\" action=\"/ui/audits\" class=\"inline\">{}{}<button type=\"submit\">Show</button></form>",
        namespace_select(&namespaces, namespace),
        select(
            "result",
            "result",
            "Result",
            ["allowed", "warned", "denied"].into_iter(),
            result
        )
    );
    let mut out = out_form;
    let mut table = Table::new(
        "audits",
        "Admission decisions",
        &[
            ("Time", false),
            ("Namespace", false),
            ("Workload", false),
            ("Operation", false),
            ("Result", false),
            ("Policy", false),
            ("Images", false),
            ("Why", false),
        ],
    );
    for audit in &all {
        let spec = &audit.spec;
        let outcome = audit_result(spec.allowed, &spec.action);
        if namespace.is_some_and(|n| n != spec.owner.namespace)
            || result.is_some_and(|r| r != outcome)
        {
            continue;
        }
        let images: Vec<String> = spec
            .images
            .iter()
            .map(|i| match &i.digest {
                Some(d) => format!(
                    "{} {} {}",
                    esc(&cut(&i.image, 120)),
                    image_link(d),
                    badge(&i.action)
                ),
                None => format!("{} {}", esc(&cut(&i.image, 120)), badge(&i.action)),
            })
            .collect();
        table.row(vec![
            Cell::text(&spec.timestamp),
            Cell::text(&spec.owner.namespace),
            Cell::text(&format!(
                "{}/{}",
                spec.owner.kind,
                cut(&spec.owner.name, 120)
            )),
            Cell::text(&spec.operation),
            Cell::html(badge(outcome)),
            Cell::text(spec.policy.as_deref().unwrap_or("—")),
            Cell::html(images.join("<br>")),
            Cell::text(&cut(&why(spec), 400)),
        ]);
    }
    let _ = write!(
        out,
        "<p>The newest {} decisions this replica made (at most <code>auditStoreSize</code>); the cluster's <code>Audit</code> objects hold every replica's.</p>",
        all.len()
    );
    out.push_str(&table.render("No admission decision matches."));
    out
}

// ---- policies ---------------------------------------------------------------------------

fn policies(app: &Arc<App>) -> String {
    let set = app.engine.policies();
    let mut out = format!(
        "<section aria-labelledby=\"pol-h\"><h2 id=\"pol-h\">Policies</h2><p>Default policy: <code id=\"default-policy\">{}</code></p>",
        esc(&set.default_policy)
    );
    if !set.mappings.is_empty() {
        let mappings = serde_json::to_string_pretty(&set.mappings).unwrap_or_default();
        let _ = write!(out, "<h3>Mappings</h3><pre>{}</pre>", esc(&mappings));
    }
    let mut ids: Vec<String> = set.policies.iter().map(|p| p.id.clone()).collect();
    for id in portcullis_policy::BUILTIN_IDS {
        if !ids.iter().any(|i| i == id) {
            ids.push((*id).to_string());
        }
    }
    for policy in ids.iter().filter_map(|id| set.policy(id)) {
        let text = portcullis_policy::policy_to_string(&policy, portcullis_policy::Format::Yaml)
            .unwrap_or_else(|e| e.to_string());
        let _ = write!(
            out,
            "<details><summary><code>{}</code> {} <span class=\"muted\">version {}</span></summary><pre>{}</pre></details>",
            esc(&policy.id),
            esc(&policy.description),
            esc(&policy.version()),
            esc(&text)
        );
    }
    out.push_str("</section>");
    let mut table = Table::new(
        "whitelists",
        "Release whitelist",
        &[
            ("Name", false),
            ("Reason", false),
            ("Pattern", false),
            ("Creator", false),
            ("From", false),
        ],
    );
    for item in app.whitelist.items() {
        table.row(vec![
            Cell::text(&item.name),
            Cell::text(&item.reason),
            Cell::text(item.regexp.as_deref().unwrap_or("")),
            Cell::text(item.creator.as_deref().unwrap_or("")),
            Cell::text(&item.origin),
        ]);
    }
    out.push_str("<section aria-labelledby=\"wl-h\"><h2 id=\"wl-h\">Whitelisted releases</h2>");
    out.push_str(&table.render("No release is whitelisted."));
    out.push_str("</section>");
    out
}
