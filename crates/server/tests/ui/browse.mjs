// Drives the Portcullis dashboard in Debian's chromium (headless) and checks it against the
// REST API. Run by crates/server/tests/serve/ui.rs; needs `npm ci` here and
// /usr/bin/chromium (no browser is downloaded).
//
// Environment: PORTCULLIS_URL (https://127.0.0.1:PORT), PORTCULLIS_TOKEN, OUT_DIR (screenshots),
// HOSTILE (a string the cluster holds that must render as text), SEARCH_ID (a vulnerability id
// that affects a running workload).
// Prints one JSON line of what it saw; exits 1 with the reasons when a check fails.
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const base = process.env.PORTCULLIS_URL;
const token = process.env.PORTCULLIS_TOKEN;
const out = process.env.OUT_DIR;
const hostile = process.env.HOSTILE;
const searchId = process.env.SEARCH_ID;
mkdirSync(out, { recursive: true });

const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };
const seen = {};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({
  ignoreHTTPSErrors: true,
  viewport: { width: 1280, height: 800 },
  // axe-core is injected as a script; the pages' CSP allows only their own.
  bypassCSP: true,
});
const api = await context.request;
const apiGet = async (path) => {
  const r = await api.get(base + path, { headers: { Authorization: `Bearer ${token}` } });
  if (!r.ok()) throw new Error(`${path}: HTTP ${r.status()}`);
  return r.json();
};
const page = await context.newPage();
page.on("dialog", async (d) => { failures.push(`a dialog opened: ${d.message()}`); await d.dismiss(); });
page.on("pageerror", (e) => failures.push(`script error: ${e.message}`));

async function audit(name) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "best-practice"] } }));
  for (const v of result.violations) {
    failures.push(`${name}: axe ${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
  }
}

async function shoot(name) {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: `${out}/${name}-1280x800.png`, fullPage: false });
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `${name}: ${overflow}px wider than a 390px phone screen`);
  await page.screenshot({ path: `${out}/${name}-390x844.png`, fullPage: false });
  await page.setViewportSize({ width: 1280, height: 800 });
  // The only script a page has is its own file (hostile data never became markup).
  const scripts = await page.evaluate(() => Array.from(document.scripts).filter((s) => !s.src.endsWith("/ui/static/app.js")).length);
  check(scripts === 0, `${name}: ${scripts} unexpected script elements`);
  await audit(name);
}

const text = async (selector) => (await page.locator(selector).first().textContent()).trim();
const count = (selector) => page.locator(selector).count();

// 1. No session: the login page, never data.
await page.goto(base + "/ui/images");
check(page.url() === base + "/ui/login", `without a session /ui/images went to ${page.url()}`);
await shoot("login");
await page.fill("#token", "not-a-token");
await page.click("button[type=submit]");
check((await count(".error")) === 1, "a wrong token shows an error");
await page.fill("#token", token);
await page.click("button[type=submit]");
check(page.url() === base + "/ui/", `after login: ${page.url()}`);
const cookies = await context.cookies();
const session = cookies.find((c) => c.name === "portcullis_session");
check(session && session.httpOnly && session.secure && session.sameSite === "Strict" && session.expires > 0,
  `session cookie flags: ${JSON.stringify(session)}`);

// 2. Overview numbers equal the API's.
const images = (await apiGet("/api/v1/images")).images;
const workloads = (await apiGet("/api/v1/workloads")).workloads;
const audits = (await apiGet("/api/v1/audits")).audits;
seen.images = Number(await text("#running-images"));
seen.workloads = Number(await text("#running-workloads"));
check(seen.images === images.length, `overview images ${seen.images} != API ${images.length}`);
check(seen.workloads === workloads.length, `overview workloads ${seen.workloads} != API ${workloads.length}`);
for (const severity of ["critical", "high", "medium", "low", "negligible", "unknown", "none"]) {
  const cells = page.locator(`#by-severity tr[data-severity="${severity}"] td`);
  const shownImages = Number((await cells.nth(0).textContent()).trim());
  const shownWorkloads = Number((await cells.nth(1).textContent()).trim());
  const apiImages = images.filter((i) => i.summary.highest === severity).length;
  const apiWorkloads = workloads.filter((w) => (w.highest ?? "none") === severity).length;
  check(shownImages === apiImages, `overview ${severity} images ${shownImages} != API ${apiImages}`);
  check(shownWorkloads === apiWorkloads, `overview ${severity} workloads ${shownWorkloads} != API ${apiWorkloads}`);
}
const outcome = (a) => (!a.spec.allowed ? "denied" : a.spec.action === "warn" ? "warned" : "allowed");
for (const kind of ["allowed", "warned", "denied"]) {
  const shown = Number(await text(`#adm-${kind}`));
  const expected = audits.filter((a) => outcome(a) === kind).length;
  seen[`admissions_${kind}`] = shown;
  check(shown === expected, `overview ${kind} admissions ${shown} != API ${expected}`);
}
const denialRows = await count("#denials tbody tr");
check(denialRows === Math.min(10, audits.filter((a) => !a.spec.allowed).length), `recent denials rows ${denialRows}`);
check((await count("svg.chart rect")) > 0, "the admissions chart has bars");
await shoot("overview");

// 3. Images: one row per image, counts as the API's; sorting works.
await page.click("nav >> text=Images");
const rows = page.locator("#images tbody tr");
seen.image_rows = await rows.count();
check(seen.image_rows === images.length, `images rows ${seen.image_rows} != API ${images.length}`);
for (const image of images) {
  const row = page.locator(`#images tbody tr:has(a[href="/ui/images/${image.digest}"])`);
  const cells = await row.locator("td").allTextContents();
  const c = (s) => image.summary.counts[s] ?? 0;
  const expected = [c("critical"), c("high"), c("medium"), c("low"), c("negligible") + c("unknown")];
  const shown = cells.slice(3, 8).map((x) => Number(x.trim()));
  check(JSON.stringify(shown) === JSON.stringify(expected), `image ${image.digest}: counts ${shown} != API ${expected}`);
  check(Number(cells[2].trim()) === image.workloads.length, `image ${image.digest}: workloads ${cells[2]} != ${image.workloads.length}`);
}
await page.click("#images thead th:nth-child(4) button");
await page.click("#images thead th:nth-child(4) button");
const critical = (await page.locator("#images tbody tr td:nth-child(4)").allTextContents()).map(Number);
check(critical.every((v, i) => i === 0 || critical[i - 1] >= v), `sorting by Critical descending: ${critical}`);
await shoot("images");

// 4. One image: findings grouped by package, the API's count.
const worst = images.slice().sort((a, b) => Object.values(b.summary.counts).reduce((x, y) => x + y, 0) - Object.values(a.summary.counts).reduce((x, y) => x + y, 0))[0];
await page.goto(`${base}/ui/images/${worst.digest}`);
const vulns = (await apiGet(`/api/v1/images/${worst.digest}/vulnerabilities`)).vulnerabilities;
const uniqueFindings = new Set(vulns.map((v) => JSON.stringify(v))).size;
seen.image_findings = Number(await text("#finding-count"));
check(seen.image_findings === uniqueFindings, `image page findings ${seen.image_findings} != API ${uniqueFindings}`);
const packages = new Set(vulns.map((v) => `${v.package.name} ${v.package.version}`));
check((await count("#f-h ~ h3")) === packages.size, `package groups ${await count("#f-h ~ h3")} != ${packages.size}`);
await shoot("image");

// 5. Workloads, with the hostile pod name as text.
await page.goto(base + "/ui/workloads");
seen.workload_count = Number(await text("#workload-count"));
check(seen.workload_count === workloads.length, `workloads ${seen.workload_count} != API ${workloads.length}`);
const hostileShown = await page.getByText(hostile.slice(0, 60), { exact: false }).count();
check(hostileShown >= 1, "the hostile pod name is shown as text");
await shoot("workloads");

// 6. Search a CVE and follow it to a workload.
await page.goto(base + "/ui/search");
await page.fill("#q", searchId);
await page.click("form[role=search] button");
check(page.url().startsWith(`${base}/ui/search?q=`), `search went to ${page.url()}`);
seen.search_workloads = Number(await text("#hit-workloads"));
check(seen.search_workloads > 0, `no workload runs ${searchId}`);
const expectedHits = images.filter((i) => i.summary.top.some((t) => t.startsWith(searchId + " "))).flatMap((i) => i.workloads);
const link = page.locator("#hits tbody a[href^='/ui/workloads?namespace=']").first();
const target = (await link.textContent()).trim();
check(expectedHits.some((w) => `${w.namespace}/${w.kind}/${w.name}` === target), `search hit ${target} is not among the API's workloads running ${searchId}`);
await shoot("search");
await link.click();
const [ns, kind, ...name] = target.split("/");
check(page.url() === `${base}/ui/workloads?namespace=${encodeURIComponent(ns)}`, `followed to ${page.url()}`);
check((await page.locator(`table tbody tr:has(td:text-is("${name.join("/")}"))`).count()) >= 1, `the workload ${target} is on the page it links to`);

// 7. Audits, filtered.
await page.goto(base + "/ui/audits");
seen.audit_rows = await count("#audits tbody tr");
check(seen.audit_rows === audits.length, `audit rows ${seen.audit_rows} != API ${audits.length}`);
await page.selectOption("#result", "denied");
await page.click("form.inline button");
const deniedRows = await count("#audits tbody tr");
check(deniedRows === audits.filter((a) => !a.spec.allowed).length, `denied audit rows ${deniedRows}`);
check(page.url().includes("result=denied"), `filter url ${page.url()}`);
await shoot("audits");

// 8. Policies.
await page.goto(base + "/ui/policies");
const policies = await apiGet("/api/v1/policies");
check((await text("#default-policy")) === policies.default, "default policy as the API's");
check((await count("details")) === policies.policies.length, `policies ${await count("details")} != ${policies.policies.length}`);
await shoot("policies");

// 9. Typing into a filter hides rows (the script), and logout ends the session.
await page.goto(base + "/ui/images");
await page.fill("#images-filter", "no-such-image-anywhere");
check((await page.locator("#images tbody tr:visible").count()) === 0, "the filter hides every row");
await page.click("header button[type=submit]");
check(page.url() === base + "/ui/login", `after logout: ${page.url()}`);
await page.goto(base + "/ui/");
check(page.url() === base + "/ui/login", `after logout /ui/ went to ${page.url()}`);

await browser.close();
console.log(JSON.stringify(seen));
if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
