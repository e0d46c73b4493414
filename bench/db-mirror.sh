#!/usr/bin/env bash
# Benchmark: `portcullis db update` of every default source from a local mirror. Generates
# synthetic upstream data of about real size (bench/db-mirror-data.py: the real records of
# testdata/advisories as templates, counts of the real exports; SCALE=0.1 for a quick run),
# serves it with `python3 -m http.server` on 127.0.0.1, then:
#  - one `db update --source NAME` per source into a fresh database, timed: the time per source
#    (download from the mirror, parse, write);
#  - one `db update` of every source with every --*-mirror flag: the total time, peak RSS and
#    the size of the database file.
# Prints our figures next to the floor: the time to read (decompress) each source's files.
# Needs: python3, curl, bc.
needs="python3 curl bc"
scale="${SCALE:-1}"
name="db-mirror-$scale"
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
fixtures="$root/crates/vulndb/tests/fixtures/distros"

mirror="$work/mirror"
if [[ ! -f "$mirror/counts.json" ]]; then
  rm -rf "$mirror"
  mkdir -p "$mirror"
  python3 "$here/db-mirror-data.py" "$testdata" "$fixtures" "$mirror" "$scale"
fi

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$mirror" >"$work/http.log" 2>&1 &
httpd=$!
trap 'kill $httpd 2>/dev/null' EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/counts.json" >/dev/null 2>&1 && break
  sleep 0.1
done
url="http://127.0.0.1:$port"
mirrors=(
  --osv-mirror "$url/osv" --alpine-mirror "$url/alpine" --debian-oval-mirror "$url/debian-oval"
  --debian-tracker-mirror "$url/debian-tracker" --nvd-mirror "$url/nvd" --kev-mirror "$url/kev"
  --epss-mirror "$url/epss" --oracle-mirror "$url/oracle" --amazon-mirror "$url/amazon"
  --photon-mirror "$url/photon"
)

# Every default source, as `db update --dry-run` lists them.
# (A name may hold a space, `osv:Red Hat`: the URL is the last word.)
mapfile -t sources < <("$portcullis" --db "$work/dry.sqlite" db update --dry-run "${mirrors[@]}" | sed -E 's/[[:space:]]+[^[:space:]]+$//')
printf '%-34s %10s %9s %10s\n' "source" "records" "seconds" "MB served"
for source in "${sources[@]}"; do
  db="$work/one.sqlite"
  rm -rf "$db" "$db".*
  seconds=$( { /usr/bin/time -f '%e' "$portcullis" -q --db "$db" db update --source "$source" "${mirrors[@]}" >"$work/one.out"; } 2>&1 | tail -1)
  records=$(awk '/^imported/ {print $2}' "$work/one.out")
  bytes=$(python3 - "$mirror" "$source" <<'PY'
import sys, os, urllib.parse
mirror, source = sys.argv[1], sys.argv[2]
kind, _, arg = source.partition(":")
paths = {
    "osv": lambda: [f"osv/{arg}/all.zip"],
    "alpine-secdb": lambda: [f"alpine/{arg}.json"],
    "debian-oval": lambda: [f"debian-oval/oval-definitions-{arg}.xml.bz2"],
    "debian-dsa": lambda: ["debian-tracker/DSA/list"],
    "debian-dla": lambda: ["debian-tracker/DLA/list"],
    "debian-tracker": lambda: ["debian-tracker/json"],
    "nvd": lambda: [f"nvd/nvdcve-2.0-{arg}.json.gz"],
    "kev": lambda: ["kev/known_exploited_vulnerabilities.json"],
    "epss": lambda: ["epss/epss_scores-current.csv.gz"],
    "oracle-oval": lambda: ["oracle/com.oracle.elsa-all.xml.bz2"],
    "alas": lambda: [("amazon/2/core/latest/x86_64" if arg == "2" else f"amazon/al{arg}/core/mirrors/latest/x86_64") + "/repo/repodata/updateinfo.xml.gz"],
    "photon": lambda: [f"photon/cve_data_photon{arg}.json"],
}.get(kind, lambda: [])()
print(sum(os.path.getsize(os.path.join(mirror, p)) for p in paths if os.path.exists(os.path.join(mirror, p))) / 1e6)
PY
)
  printf '%-34s %10s %9s %10.1f\n' "$source" "$records" "$seconds" "$bytes"
done

db="$work/all.sqlite"
rm -rf "$db" "$db".*
total=$( { /usr/bin/time -f '%e %M' "$portcullis" -q --db "$db" db update "${mirrors[@]}" >"$work/all.out"; } 2>&1 | tail -1)
records=$(awk '/^imported/ {print $2}' "$work/all.out")
size=$(stat -c %s "$db")
served=$(du -sb "$mirror" | cut -f1)
# Floor: reading every served file once (decompressing the compressed ones).
floor=$( { /usr/bin/time -f '%e' python3 - "$mirror" <<'PY'
import bz2, gzip, os, sys, zipfile
for base, _, files in os.walk(sys.argv[1]):
    for name in files:
        path = os.path.join(base, name)
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as z:
                for n in z.namelist():
                    z.read(n)
        elif name.endswith(".bz2"):
            bz2.open(path).read()
        elif name.endswith(".gz"):
            gzip.open(path).read()
        else:
            open(path, "rb").read()
PY
} 2>&1 | tail -1)
echo
printf '%-58s %s\n' "sources" "${#sources[@]} (SCALE=$scale)"
printf '%-58s %.1f MB\n' "data served by the mirror" "$(echo "$served / 1000000" | bc -l)"
printf '%-58s %s s, peak RSS %s KiB\n' "db update of every source (one atomic import)" "${total% *}" "${total#* }"
printf '%-58s %s\n' "records imported" "$records"
printf '%-58s %.1f MB\n' "database file" "$(echo "$size / 1000000" | bc -l)"
printf '%-58s %s s\n' "floor: reading and decompressing every file (Python)" "$floor"
