"""Synthetic upstream data for bench/db-mirror.sh: every default source of `portcullis db update`,
laid out as the mirrors serve it, at about real size, generated from the real records of
testdata/advisories (and, for the formats the test data has no real file of, the hand-written
fixtures of crates/vulndb/tests/fixtures/distros, which follow the real layouts).

usage: db-mirror-data.py TESTDATA FIXTURES OUT SCALE

Records per OSV ecosystem are approximate counts of the real exports in late 2025 (times SCALE);
ids are renumbered so that every record is distinct. npm counts its advisories only: the
malicious-package (MAL-) records of OSV's npm export, about ten times as many, are left out. Files copied unchanged: the Alpine secdb
branches, Debian's OVAL (bookworm's, served for the three codenames), DSA/DLA lists, KEV, EPSS.
"""

import bz2
import copy
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sys
import zipfile

testdata, fixtures, out, scale = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
adv = os.path.join(testdata, "advisories")


def mkdir(*parts):
    path = os.path.join(out, *parts)
    os.makedirs(path, exist_ok=True)
    return path


def zip_records(path):
    with zipfile.ZipFile(path) as z:
        return [json.loads(z.read(n)) for n in z.namelist() if n.endswith(".json")]


templates = {name: zip_records(os.path.join(adv, "osv", name, "all.zip"))
             for name in ["Go", "PyPI", "crates.io", "AlmaLinux", "Ubuntu"]}

# (OSV ecosystem, template export, ecosystems written, id prefix, approximate real count)
OSV = [
    ("Go", "Go", ["Go"], "GO-", 5_000),
    ("PyPI", "PyPI", ["PyPI"], "PYSEC-", 17_000),
    ("crates.io", "crates.io", ["crates.io"], "RUSTSEC-", 2_000),
    ("npm", "PyPI", ["npm"], "GHSA-npm-", 20_000),
    ("Maven", "PyPI", ["Maven"], "GHSA-mvn-", 6_000),
    ("Alpine", "Ubuntu", [f"Alpine:v3.{m}" for m in range(16, 22)], "ALPINE-CVE-", 10_000),
    ("Debian", "Ubuntu", ["Debian:11", "Debian:12", "Debian:13"], "DEBIAN-CVE-", 50_000),
    ("Ubuntu", "Ubuntu", ["Ubuntu:22.04:LTS", "Ubuntu:24.04:LTS"], "UBUNTU-CVE-", 45_000),
    ("Red Hat", "AlmaLinux",
     ["Red Hat:enterprise_linux:9::appstream", "Red Hat:enterprise_linux:9::baseos",
      "Red Hat:enterprise_linux:8::appstream", "Red Hat:enterprise_linux:8::baseos"],
     "RHSA-", 20_000),
    ("AlmaLinux", "AlmaLinux", ["AlmaLinux:8", "AlmaLinux:9"], "ALSA-", 4_000),
    ("Rocky Linux", "AlmaLinux", ["Rocky Linux:8", "Rocky Linux:9"], "RLSA-", 3_500),
    ("SUSE", "AlmaLinux",
     ["SUSE:Linux Enterprise Server 15 SP5", "SUSE:Linux Enterprise Module for Basesystem 15 SP5"],
     "SUSE-SU-", 40_000),
    ("openSUSE", "AlmaLinux", ["openSUSE:Leap 15.5", "openSUSE:Tumbleweed"], "openSUSE-SU-", 12_000),
    ("Wolfi", "Ubuntu", ["Wolfi"], "CGA-w-", 6_000),
    ("Chainguard", "Ubuntu", ["Chainguard"], "CGA-c-", 20_000),
    ("Azure Linux", "AlmaLinux", ["Azure Linux:2", "Azure Linux:3"], "AZL-", 8_000),
]

counts = {}
for ecosystem, template, written, prefix, real in OSV:
    count = max(1, int(real * scale))
    pool = templates[template]
    target = os.path.join(mkdir("osv", ecosystem), "all.zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for i in range(count):
            record = copy.deepcopy(pool[i % len(pool)])
            record["id"] = f"{prefix}{i + 1:07d}"
            eco = written[i % len(written)]
            for affected in record.get("affected", []):
                package = affected.get("package")
                if package:
                    package["ecosystem"] = eco
                    if ecosystem == "Maven" and ":" not in package["name"]:
                        package["name"] = f"org.example:{package['name']}"
                    package.pop("purl", None)
            z.writestr(f"{record['id']}.json", json.dumps(record))
    counts[f"osv:{ecosystem}"] = count

# Alpine secdb: the real branches.
for minor in range(16, 22):
    branch = f"v3.{minor}"
    dest = mkdir("alpine", branch)
    for repo in ["main", "community"]:
        shutil.copy(os.path.join(adv, "alpine-secdb", branch, f"{repo}.json"), dest)

# Debian OVAL: bookworm's real file for each codename.
oval = os.path.join(adv, "debian", "oval-definitions-bookworm.xml.bz2")
for codename in ["bullseye", "bookworm", "trixie"]:
    shutil.copy(oval, os.path.join(mkdir("debian-oval"), f"oval-definitions-{codename}.xml.bz2"))

# Debian tracker: the real DSA/DLA lists, and a tracker JSON of the real shape.
tracker = mkdir("debian-tracker")
for kind in ["DSA", "DLA"]:
    shutil.copy(os.path.join(adv, "debian", f"{kind}.list"), os.path.join(mkdir("debian-tracker", kind), "list"))
tracker_entries = max(1, int(60_000 * scale))
doc = {}
urgencies = ["unimportant", "low", "medium", "high", "not yet assigned"]
for i in range(tracker_entries):
    package = doc.setdefault(f"pkg{i % 9000}", {})
    releases = {}
    for j, release in enumerate(["bullseye", "bookworm", "trixie", "sid"]):
        entry = {"status": "resolved" if (i + j) % 3 else "open",
                 "repositories": {release: f"1.{i % 50}-{j + 1}"},
                 "urgency": urgencies[(i + j) % len(urgencies)]}
        if entry["status"] == "resolved":
            entry["fixed_version"] = f"1.{i % 50}-{j + 1}"
        if (i + j) % 11 == 0:
            entry["nodsa"] = "Minor issue"
            entry["nodsa_reason"] = "postponed"
        releases[release] = entry
    package[f"CVE-{2005 + i % 21}-{100000 + i}"] = {
        "description": "A flaw was found that allows a remote attacker to cause a denial of service.",
        "scope": "remote" if i % 2 else "local",
        "releases": releases,
    }
with open(os.path.join(tracker, "json"), "w") as f:
    json.dump(doc, f)
counts["debian-tracker"] = tracker_entries

# NVD `recent` and `modified`, with their .meta (SHA-256 of the uncompressed feed).
nvd_templates = [json.load(open(os.path.join(adv, "nvd", f)))
                 for f in sorted(os.listdir(os.path.join(adv, "nvd"))) if f.endswith(".json")]
for feed, real in [("recent", 2_000), ("modified", 8_000)]:
    count = max(1, int(real * scale))
    items = []
    for i in range(count):
        record = copy.deepcopy(nvd_templates[i % len(nvd_templates)])
        record["id"] = f"CVE-2026-{(900000 if feed == 'modified' else 800000) + i}"
        items.append({"cve": record})
    body = json.dumps({"resultsPerPage": count, "startIndex": 0, "totalResults": count,
                       "format": "NVD_CVE", "version": "2.0",
                       "timestamp": "2026-12-01T00:00:00.000", "vulnerabilities": items}).encode()
    nvd = mkdir("nvd")
    with open(os.path.join(nvd, f"nvdcve-2.0-{feed}.json.gz"), "wb") as f:
        f.write(gzip.compress(body, 6))
    gz_size = os.path.getsize(os.path.join(nvd, f"nvdcve-2.0-{feed}.json.gz"))
    with open(os.path.join(nvd, f"nvdcve-2.0-{feed}.meta"), "w") as f:
        f.write("lastModifiedDate:2026-12-01T00:00:00-05:00\r\n"
                f"size:{len(body)}\r\ngzSize:{gz_size}\r\n"
                f"sha256:{hashlib.sha256(body).hexdigest().upper()}\r\n")
    counts[f"nvd:{feed}"] = count

# KEV and EPSS: the real files.
shutil.copy(os.path.join(adv, "kev", "known_exploited_vulnerabilities.json"), mkdir("kev"))
epss = [f for f in os.listdir(os.path.join(adv, "epss")) if f.endswith(".csv.gz")][0]
shutil.copy(os.path.join(adv, "epss", epss), os.path.join(mkdir("epss"), "epss_scores-current.csv.gz"))

# Oracle ELSA OVAL: the fixture's definitions, tests, objects and states, copied with every
# OVAL id and ELSA id made unique per copy.
text = open(os.path.join(fixtures, "com.oracle.elsa-sample.xml")).read()
head, rest = text.split("<definitions>", 1)
sections = {}
for name in ["definitions", "tests", "objects", "states"]:
    start = text.index(f"<{name}>") + len(f"<{name}>")
    sections[name] = text[start:text.index(f"</{name}>")]
per_copy = text.count("<definition ")
copies = max(1, int(9_000 * scale) // per_copy)
ids = re.compile(r"(oval:com\.oracle\.elsa:(?:def|tst|obj|ste):)(\d+)")
elsa = re.compile(r"ELSA-(\d{4})-(\d{4})")
buf = io.StringIO()
buf.write(head)
for name in ["definitions", "tests", "objects", "states"]:
    buf.write(f"<{name}>")
    for k in range(copies):
        part = ids.sub(lambda m: f"{m.group(1)}{k + 1}{m.group(2)}", sections[name])
        buf.write(elsa.sub(lambda m: f"ELSA-{m.group(1)}-{k + 1:05d}{m.group(2)}", part))
    buf.write(f"</{name}>\n")
buf.write("</oval_definitions>\n")
with open(os.path.join(mkdir("oracle"), "com.oracle.elsa-all.xml.bz2"), "wb") as f:
    f.write(bz2.compress(buf.getvalue().encode(), 9))
counts["oracle-oval"] = copies * per_copy

# Amazon Linux: mirror list -> repository -> repomd.xml -> updateinfo.xml.gz.
update = re.compile(r"<update .*?</update>", re.S)
for release, fixture, real, path in [
    ("2", "amazon-2-updateinfo.xml", 2_600, "2/core/latest/x86_64"),
    ("2023", "amazon-2023-updateinfo.xml", 1_200, "al2023/core/mirrors/latest/x86_64"),
]:
    text = open(os.path.join(fixtures, fixture)).read()
    updates = update.findall(text)
    count = max(1, int(real * scale))
    body = io.StringIO()
    body.write('<?xml version="1.0" ?>\n<updates>\n')
    advisory = re.compile(r"(ALAS[0-9A-Z]*-\d{4}-)(\d+)")
    for i in range(count):
        body.write(advisory.sub(lambda m: f"{m.group(1)}{i + 1:06d}", updates[i % len(updates)]))
        body.write("\n")
    body.write("</updates>\n")
    base = mkdir("amazon", *path.split("/"))
    with open(os.path.join(base, "mirror.list"), "w") as f:
        f.write("repo\n")
    repodata = mkdir("amazon", *path.split("/"), "repo", "repodata")
    with open(os.path.join(repodata, "updateinfo.xml.gz"), "wb") as f:
        f.write(gzip.compress(body.getvalue().encode(), 6))
    with open(os.path.join(repodata, "repomd.xml"), "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<repomd xmlns="http://linux.duke.edu/metadata/repo">\n'
                '  <data type="updateinfo">\n'
                '    <location href="repodata/updateinfo.xml.gz"/>\n'
                '  </data>\n</repomd>\n')
    counts[f"alas:{release}"] = count

# Photon: the fixture's entries, CVE ids renumbered.
# (The fixture also holds hostile entries for the parser's tests: those are left out.)
entries = [e for e in json.load(open(os.path.join(fixtures, "cve_data_photon5.0.json")))
           if isinstance(e, dict) and str(e.get("cve_id", "")).startswith("CVE-")
           and " " not in str(e.get("res_ver", " "))]
for version, real in [("3.0", 6_000), ("4.0", 6_000), ("5.0", 4_000)]:
    count = max(1, int(real * scale))
    rows = []
    for i in range(count):
        row = dict(entries[i % len(entries)])
        row["cve_id"] = f"CVE-{2015 + i % 11}-{200000 + i}"
        rows.append(row)
    with open(os.path.join(mkdir("photon"), f"cve_data_photon{version}.json"), "w") as f:
        json.dump(rows, f)
    counts[f"photon:{version}"] = count

json.dump(counts, open(os.path.join(out, "counts.json"), "w"), indent=1)
