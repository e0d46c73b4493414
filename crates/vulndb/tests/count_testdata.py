# Independent counts of the testdata advisories (stdlib only), compared by tests/vulndb.rs.
import bz2, glob, json, os, sys, zipfile
import xml.etree.ElementTree as ET

root = sys.argv[1]
out = {"osv": {}, "alpine": {}, "oval_definitions": 0, "nvd_records": 0, "files": {}}
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
# NVD: one bare `cve` object per file, or a feed wrapping them in `vulnerabilities`.
for path in sorted(glob.glob(os.path.join(root, "nvd", "*.json"))):
    with open(path) as f:
        d = json.load(f)
    out["nvd_records"] += len(d["vulnerabilities"]) if "vulnerabilities" in d else 1
# Files per top-level folder, as an import walks them (hidden files left out).
for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = [d for d in dirnames if not d.startswith(".")]
    top = os.path.relpath(dirpath, root).split(os.sep)[0]
    n = sum(1 for f in filenames if not f.startswith("."))
    if n:
        out["files"][top] = out["files"].get(top, 0) + n
print(json.dumps(out, sort_keys=True))
