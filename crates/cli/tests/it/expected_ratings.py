# Expected ratings and exploitation data, straight from the test data files (stdlib only),
# compared by tests/it/ratings.rs. Usage: expected_ratings.py ADVISORIES < ids (one per line:
# a finding's CVE ids, space-separated, the finding's own id first).
#
# The severity rule, as the README states it (no distribution rating exists in this data):
# NVD's own (Primary) metric, newest CVSS version first (v4.0, v3.1, v3.0, v2); else the
# CNA's (Secondary) metric, same order; the severity is that metric's baseSeverity, the
# score its baseScore, the source "nvd" or "nvd:cna:<source>".
import csv, glob, gzip, io, json, os, sys

root = sys.argv[1]
KEYS = ["cvssMetricV40", "cvssMetricV31", "cvssMetricV30", "cvssMetricV2"]


def rating(record):
    metrics = record.get("metrics") or {}
    for wanted in ("Primary", "Secondary"):
        for key in KEYS:
            for m in metrics.get(key, []):
                if m.get("type") != wanted:
                    continue
                data = m.get("cvssData", {})
                sev = data.get("baseSeverity") or m.get("baseSeverity")
                if not sev:
                    continue
                source = "nvd" if wanted == "Primary" else "nvd:cna:" + m["source"]
                return {"severity": sev.lower(), "source": source, "score": data.get("baseScore")}
    return None


nvd = {}
for path in glob.glob(os.path.join(root, "nvd", "*.json")):
    with open(path) as f:
        record = json.load(f)
    nvd[record["id"]] = rating(record)

with open(os.path.join(root, "kev", "known_exploited_vulnerabilities.json")) as f:
    kev = {v["cveID"]: v for v in json.load(f)["vulnerabilities"]}

epss, epss_date = {}, None
(path,) = glob.glob(os.path.join(root, "epss", "epss_scores-*.csv.gz"))
with gzip.open(path, "rt") as f:
    lines = []
    for line in f:
        if line.startswith("#"):
            if "score_date:" in line:
                epss_date = line.split("score_date:")[1][:10]
            continue
        lines.append(line)
for row in csv.DictReader(io.StringIO("".join(lines))):
    epss[row["cve"]] = (float(row["epss"]), float(row["percentile"]))

out = {}
for line in sys.stdin:
    cves = line.split()
    if not cves:
        continue
    first = cves[0]
    entry = {"in_nvd": first in nvd, "rating": nvd.get(first), "kev": None, "epss": None}
    for cve in cves:
        if cve in kev:
            v = kev[cve]
            entry["kev"] = {"cve": cve, "date_added": v["dateAdded"], "due_date": v["dueDate"],
                            "known_ransomware_use": v["knownRansomwareCampaignUse"]}
            break
    best = None
    for cve in cves:
        if cve in epss and (best is None or epss[cve][0] > best[1]):
            best = (cve, epss[cve][0], epss[cve][1])
    if best:
        entry["epss"] = {"cve": best[0], "score": best[1], "percentile": best[2], "date": epss_date}
    out[line.strip()] = entry
print(json.dumps(out, sort_keys=True))
