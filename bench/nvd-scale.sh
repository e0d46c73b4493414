#!/usr/bin/env bash
# Benchmark: NVD at real scale. Generates N CVE records (default 300,000) shaped exactly like the
# real feed, using the 104 real NVD records of testdata/advisories/nvd as templates (ids renumbered,
# one NVD JSON 2.0 feed per year 2002..2026, gzipped as NVD serves them), then imports them all into
# a database that already holds the Alpine secdb. Prints the import time (target <= 60 s), the
# growth of the database file (target <= 120 MB), a package lookup before and after (target:
# unchanged), re-applying an unchanged `modified` feed with `db import` and with `db update`
# from a loopback mirror (target <= 2 s), and, as the floor, the time to gunzip and parse the
# same feeds with Python's json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
work="$here/work/nvd-scale"
testdata="${PORTCULLIS_TESTDATA:-$root/testdata}"
records="${RECORDS:-300000}"
mkdir -p "$work"
if [[ -z "${PORTCULLIS_BIN:-}" ]]; then
  (cd "$root" && cargo build --release -p portcullis-cli 2>/dev/null)
fi
portcullis="${PORTCULLIS_BIN:-$root/target/release/portcullis}"

feeds="$work/feeds-$records"
if [[ ! -f "$feeds/done" ]]; then
  rm -rf "$feeds"
  mkdir -p "$feeds"
  python3 - "$testdata/advisories/nvd" "$feeds" "$records" <<'PY'
import gzip, json, os, sys
src, out, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
templates = [json.load(open(os.path.join(src, f))) for f in sorted(os.listdir(src)) if f.endswith(".json")]
years = list(range(2002, 2027))
per_year = total // len(years)
n = 0
for year in years:
    count = per_year if year != years[-1] else total - per_year * (len(years) - 1)
    items = []
    for i in range(count):
        record = json.loads(json.dumps(templates[n % len(templates)]))
        record["id"] = f"CVE-{year}-{100000 + i}"
        items.append({"cve": record})
        n += 1
    doc = {"resultsPerPage": len(items), "startIndex": 0, "totalResults": len(items),
           "format": "NVD_CVE", "version": "2.0", "timestamp": "2026-12-01T00:00:00.000",
           "vulnerabilities": items}
    with gzip.open(os.path.join(out, f"nvdcve-2.0-{year}.json.gz"), "wt", compresslevel=6) as f:
        json.dump(doc, f)
open(os.path.join(out, "done"), "w").write(str(n))
PY
fi

db="$work/db.sqlite"
rm -f "$db" "$db".*
"$portcullis" --db "$db" db import "$testdata/advisories/alpine-secdb/v3.20" >/dev/null
before=$(stat -c %s "$db")
lookup() { /usr/bin/time -f '%e' "$portcullis" --db "$db" scan -f json "tar:$testdata/images/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz" 2>&1 >/dev/null | tail -1; }
scan_before=$(lookup)
import_s=$( { /usr/bin/time -f '%e %M' "$portcullis" --db "$db" db import "$feeds" >/dev/null; } 2>&1 | tail -1)
after=$(stat -c %s "$db")
scan_after=$(lookup)
# A `modified` and a `recent` feed holding records already imported, unchanged (the first
# 5,000 and 1,000 of the newest yearly feed), with their .meta files, served over loopback.
updates="$work/updates-$records"
rm -rf "$updates"
mkdir -p "$updates"
python3 - "$feeds" "$updates" <<'PY'
import gzip, hashlib, json, os, sys
feeds, out = sys.argv[1], sys.argv[2]
newest = sorted(f for f in os.listdir(feeds) if f.endswith(".json.gz"))[-1]
doc = json.load(gzip.open(os.path.join(feeds, newest), "rt"))
for name, count in (("modified", 5000), ("recent", 1000)):
    part = dict(doc, vulnerabilities=doc["vulnerabilities"][:count],
                resultsPerPage=count, totalResults=count)
    raw = json.dumps(part).encode()
    with gzip.open(os.path.join(out, f"nvdcve-2.0-{name}.json.gz"), "wb", compresslevel=6) as f:
        f.write(raw)
    with open(os.path.join(out, f"nvdcve-2.0-{name}.meta"), "w") as f:
        f.write(f"lastModifiedDate:2026-12-01T00:00:00-05:00\r\nsize:{len(raw)}\r\n"
                f"sha256:{hashlib.sha256(raw).hexdigest().upper()}\r\n")
PY
reimport_s=$( { /usr/bin/time -f '%e' "$portcullis" --db "$db" db import "$updates/nvdcve-2.0-modified.json.gz" >/dev/null; } 2>&1 | tail -1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$updates" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
until curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1; do :; done
update() { /usr/bin/time -f '%e' "$portcullis" --db "$db" db update -q --source nvd --nvd-mirror "http://127.0.0.1:$port" 2>&1 >/dev/null | tail -1; }
first_update_s=$(update)
unchanged_update_s=$(update)

floor=$( { /usr/bin/time -f '%e' python3 -c '
import gzip, json, os, sys
d = sys.argv[1]
for f in sorted(os.listdir(d)):
    if f.endswith(".gz"):
        json.load(gzip.open(os.path.join(d, f), "rt"))' "$feeds"; } 2>&1 | tail -1)

printf '%-58s %s\n' "NVD records generated (25 yearly feeds)" "$records"
printf '%-58s %s s, peak RSS %s KiB (target <= 60 s)\n' "db import of every feed" "${import_s% *}" "${import_s#* }"
printf '%-58s %.1f MB (target <= 120 MB)\n' "growth of the database file" "$(echo "($after - $before) / 1000000" | bc -l)"
printf '%-58s %s s before, %s s after (target: unchanged)\n' "scan of Alpine 3.20.3 (lookups, matching)" "$scan_before" "$scan_after"
printf '%-58s %s s (target <= 2 s)\n' "db import of an unchanged modified feed (5,000 records)" "$reimport_s"
printf '%-58s %s s\n' "db update, modified + recent from a mirror, first time" "$first_update_s"
printf '%-58s %s s (target <= 2 s)\n' "db update again, both feeds unchanged (.meta only)" "$unchanged_update_s"
printf '%-58s %s s\n' "floor: gunzip + json.load of the same feeds (Python)" "$floor"
