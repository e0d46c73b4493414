# Independent counts of the testdata advisories (stdlib only), compared by tests/vulndb.rs.
import bz2, glob, json, os, sys, zipfile
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
print(json.dumps(out, sort_keys=True))
