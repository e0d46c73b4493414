"""Reference comparisons for the portcullis-versions differential tests.

Run with Debian's /usr/bin/python3 (python3-rpm, python3-packaging and python3-apt are
Debian packages for it). Usage:
  python_oracle.py versions ZIP...        print every version string in OSV all.zip files
  python_oracle.py SCHEME PAIRS_FILE      print one answer per tab-separated pair:
                                          -1, 0, 1, or E (invalid), then a tools line
SCHEME is pep440 (packaging.version), rpm (rpm.labelCompare on E:V-R strings) or
dpkg (apt_pkg.version_compare).
"""
import json
import sys
import zipfile


def osv_versions(paths):
    seen = set()
    for path in paths:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if not name.endswith(".json"):
                    continue
                rec = json.loads(z.read(name))
                for aff in rec.get("affected", []) or []:
                    for v in aff.get("versions", []) or []:
                        seen.add(v)
                    for r in aff.get("ranges", []) or []:
                        for ev in r.get("events", []) or []:
                            for v in ev.values():
                                seen.add(v)
    for v in sorted(seen):
        if "\t" not in v and "\n" not in v:
            print(v)


def sign(n):
    return (n > 0) - (n < 0)


def evr(s):
    epoch = None
    if ":" in s:
        epoch, s = s.split(":", 1)
    release = None
    if "-" in s:
        s, release = s.rsplit("-", 1)
    return (epoch, s, release)


def main():
    mode = sys.argv[1]
    if mode == "versions":
        osv_versions(sys.argv[2:])
        return
    if mode == "pep440":
        import packaging
        from packaging.version import InvalidVersion, Version

        def parse(s):
            try:
                return Version(s)
            except InvalidVersion:
                return None

        def cmp(a, b):
            va, vb = parse(a), parse(b)
            if va is None or vb is None:
                return "E"
            return str((va > vb) - (va < vb))

        tool = "packaging " + packaging.__version__
    elif mode == "rpm":
        import rpm

        def cmp(a, b):
            return str(sign(rpm.labelCompare(evr(a), evr(b))))

        tool = "python3-rpm " + rpm.__version__
    elif mode == "dpkg":
        import apt_pkg

        apt_pkg.init_system()

        def cmp(a, b):
            return str(sign(apt_pkg.version_compare(a, b)))

        tool = "python3-apt apt_pkg " + getattr(apt_pkg, "VERSION", "?")
    else:
        raise SystemExit("unknown mode " + mode)
    out = []
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            a, b = line.rstrip("\n").split("\t")
            out.append(cmp(a, b))
    print("\n".join(out))
    print("tool: " + tool)


main()
