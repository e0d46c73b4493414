#!/usr/bin/python3
"""Expected findings of a distribution image, computed from an OSV all.zip alone.

usage: distro_expected.py rpm|dpkg ECOSYSTEM ALL.ZIP|OVAL.XML.BZ2 INSTALLED.TSV

INSTALLED.TSV: one line per installed binary package: binary<TAB>source<TAB>version
(rpm: [epoch:]version-release of the binary; dpkg: the source package's version).

Prints one JSON object per line: {"package", "id", "advisories", "fixed", "impacts"} (impacts:
the severities that the Red Hat-family advisories about this CVE alone state), where a package is
looked up by its source name and, for rpm, also by its binary name; a record is a flaw (its
id is a CVE) or a distribution advisory whose CVEs are its CVE aliases, `related` ids and
`upstream` ids with a distribution prefix (UBUNTU-CVE-...). A CVE's own record for the
package decides alone; an advisory counts for a CVE without one.

A Debian OVAL file is read as the same records: one per definition, its id the first word
of the title (`CVE-2023-2828`, `DSA-5439-1`), its aliases the other CVE references, one
affected package per "PKG DPKG is earlier than EVR" criterion (`0:0`: no fix yet; a `0:`
epoch dropped from the fix, as dpkg treats them alike).
"""
import bz2
import json
import re
import sys
import xml.etree.ElementTree as ET
import zipfile

kind, ecosystem, archive, installed_path = sys.argv[1:]
if kind == "rpm":
    import rpm

    def split_evr(v):
        epoch, _, vr = v.rpartition(":")
        version, _, release = vr.rpartition("-")
        return (epoch or "0", version, release)

    def older(a, b):
        return rpm.labelCompare(split_evr(a), split_evr(b)) < 0
else:
    import apt_pkg

    apt_pkg.init_system()

    def older(a, b):
        return apt_pkg.version_compare(a, b) < 0


def cves_of(record):
    ids = list(record.get("aliases") or []) + list(record.get("related") or [])
    ids += [u[u.index("CVE-"):] for u in record.get("upstream") or [] if "CVE-" in u]
    return sorted({i for i in ids if i.startswith("CVE-")})


def verdict(affected, version):
    """None when not affected, else the fixed version ('' when there is none)."""
    for r in affected.get("ranges") or []:
        events = r["events"]
        assert r["type"] == "ECOSYSTEM" and events[0] == {"introduced": "0"}, r
        assert len(events) <= 2, events
        fixed = events[1]["fixed"] if len(events) == 2 else None
        if fixed is None or older(version, fixed):
            return fixed or ""
    return None


def oval_records(path):
    local = lambda tag: tag.rsplit("}", 1)[-1]
    earlier = re.compile(r"^(\S+) DPKG is earlier than (\S+)$")
    with bz2.open(path) as f:
        for _, element in ET.iterparse(f):
            if local(element.tag) != "definition":
                continue
            title, refs, affected = "", [], []
            for node in element.iter():
                tag = local(node.tag)
                if tag == "title":
                    title = node.text or ""
                elif tag == "reference" and node.get("source") == "CVE":
                    refs.append(node.get("ref_id"))
                elif tag == "criterion":
                    m = earlier.match(node.get("comment", ""))
                    if m:
                        name, evr = m.groups()
                        events = [{"introduced": "0"}]
                        if evr not in ("0:0", "0"):
                            events.append({"fixed": evr[2:] if evr.startswith("0:") else evr})
                        affected.append({
                            "package": {"ecosystem": ecosystem, "name": name},
                            "ranges": [{"type": "ECOSYSTEM", "events": events}],
                        })
            rid = title.split(" ")[0]
            yield {"id": rid, "aliases": [r for r in refs if r != rid], "affected": affected}
            element.clear()


records = []
if archive.endswith(".xml.bz2"):
    records = list(oval_records(archive))
else:
    with zipfile.ZipFile(archive) as z:
        for name in z.namelist():
            records.append(json.loads(z.read(name)))

IMPACTS = {"Critical": "critical", "Important": "high", "Moderate": "medium", "Low": "low"}

# (binary, cve) -> {"own": [fixed...] or None (no own record), "seen_own": bool,
#                   "advisories": {id: [fixed...]}}
found = {}
for line in open(installed_path):
    binary, source, version = line.rstrip("\n").split("\t")
    names = {source, binary} if kind == "rpm" else {source}
    for record in records:
        rid = record["id"]
        for affected in record.get("affected") or []:
            package = affected["package"]
            if package["ecosystem"] != ecosystem or package["name"] not in names:
                continue
            fixed = verdict(affected, version)
            if rid.startswith("CVE-"):
                slot = found.setdefault((binary, rid), {"own": None, "advisories": {}})
                if slot["own"] is None:
                    slot["own"] = []
                if fixed is not None:
                    slot["own"].append(fixed)
            elif fixed is not None:
                cves = cves_of(record)
                for cve in cves or [rid]:
                    slot = found.setdefault((binary, cve), {"own": None, "advisories": {}})
                    slot["advisories"].setdefault(rid, []).append(fixed)
                    # Red Hat's impact, the start of the summary ("Important: ..."), rates
                    # the finding when the advisory is about this one CVE only.
                    impact = (record.get("summary") or "").split(":")[0]
                    if len(cves) <= 1 and impact in IMPACTS:
                        slot.setdefault("impacts", set()).add(IMPACTS[impact])

for (binary, cve), slot in sorted(found.items()):
    if slot["own"] is not None:
        if not slot["own"]:
            continue  # its own record says not affected
        fixes = slot["own"]
    else:
        fixes = [f for fs in slot["advisories"].values() for f in fs]
    fixes = sorted({f for f in fixes if f})
    print(json.dumps({
        "package": binary,
        "id": cve,
        "advisories": sorted(a for a in slot["advisories"] if a != cve),
        "fixed": ", ".join(fixes) if fixes else None,
        "impacts": sorted(slot.get("impacts", ())),
    }))
