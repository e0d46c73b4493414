# Independent counts of the testdata advisories (stdlib only), compared by tests/vulndb.rs.
import bz2, glob, gzip, json, os, sys, zipfile
import xml.etree.ElementTree as ET

root = sys.argv[1]
out = {"osv": {}, "alpine": {}, "oval_definitions": 0}
for path in sorted(glob.glob(os.path.join(root, "osv", "*", "all.zip"))):
    with zipfile.ZipFile(path) as z:
        out["osv"][os.path.basename(os.path.dirname(path))] = sum(
            1 for n in z.namelist() if n.endswith(".json"))
for path in sorted(glob.glob(os.path.join(root, "alpine-secdb", "*", "*.json"))):
    with open(path) as f:
        d = json.load(f)
    pairs = set()
    for p in d["packages"]:
        for ids in (p["pkg"].get("secfixes") or {}).values():
            for i in ids or []:
                if i.split():
                    pairs.add((p["pkg"]["name"], i.split()[0]))
    branch = d["distroversion"]
    out["alpine"][branch] = out["alpine"].get(branch, 0) + len(pairs)
with bz2.open(os.path.join(root, "debian", "oval-definitions-bookworm.xml.bz2")) as f:
    for _, el in ET.iterparse(f):
        if el.tag.endswith("}definition"):
            out["oval_definitions"] += 1
            el.clear()
out["nvd"] = len({json.load(open(p))["id"] for p in glob.glob(os.path.join(root, "nvd", "*.json"))})
with open(os.path.join(root, "kev", "known_exploited_vulnerabilities.json")) as f:
    out["kev"] = len({v["cveID"] for v in json.load(f)["vulnerabilities"]})
out["epss"] = 0
for path in glob.glob(os.path.join(root, "epss", "*.csv.gz")):
    with gzip.open(path, "rt") as f:
        rows = [l for l in f if not l.startswith("#")][1:]
    out["epss"] += len({r.split(",")[0] for r in rows if r.strip()})
# Importable files, and the files beside them that are not data (schema, licence).
files = glob.glob(os.path.join(root, "**", "*"), recursive=True)
files = [p for p in files if os.path.isfile(p) and not os.path.basename(p).startswith(".")]
skipped = [p for p in files if os.path.basename(p) in ("LICENSE", "known_exploited_vulnerabilities_schema.json")]
out["files"] = len(files) - len(skipped)
out["skipped"] = sorted(os.path.relpath(p, root) for p in skipped)
print(json.dumps(out, sort_keys=True))
