#!/usr/bin/env bash
# Benchmark: what ratings, KEV and EPSS cost a scan. Scans the 720-package Debian 12 host
# inventory (testdata/pkgdb/dpkg/status-debian12-host, as a `dir:` root with an os-release)
# against two databases built from testdata/advisories: one without the rating and
# exploitation data (no nvd/, kev/, epss/: the scan as it was before ratings) and one with
# everything. Runs are interleaved; prints the median and the fastest of RUNS (default 41) of
# each, the number of rated findings, and the ratios (target: <= 1.10). Single runs of a 30 ms
# scan vary by a few ms on a 2-core machine: the fastest runs are the steadier figure.
#   PORTCULLIS_BIN=target/release/portcullis bash bench/ratings.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
work="$here/work/ratings"
testdata="${PORTCULLIS_TESTDATA:-$root/testdata}"
runs="${RUNS:-41}"
if [[ -z "${PORTCULLIS_BIN:-}" ]]; then
  (cd "$root" && cargo build --release -p portcullis-cli 2>/dev/null)
fi
portcullis="${PORTCULLIS_BIN:-$root/target/release/portcullis}"
rm -rf "$work"
mkdir -p "$work/rootfs/var/lib/dpkg" "$work/rootfs/etc" "$work/base-inputs"
cp "$testdata/pkgdb/dpkg/status-debian12-host" "$work/rootfs/var/lib/dpkg/status"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n' \
  >"$work/rootfs/etc/os-release"
for d in "$testdata"/advisories/*; do
  case "$(basename "$d")" in nvd|kev|epss) ;; *) ln -s "$d" "$work/base-inputs/" ;; esac
done
"$portcullis" --db "$work/base.sqlite" db import -q "$work/base-inputs"/* >/dev/null
"$portcullis" --db "$work/full.sqlite" db import -q "$testdata/advisories" >/dev/null

scan() { "$portcullis" --db "$work/$1.sqlite" scan -q -f json "dir:$work/rootfs" --exit-code 0; }
time_scan() {
  python3 -c '
import subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(f"{time.perf_counter() - start:.4f}")' \
    "$portcullis" --db "$work/$1.sqlite" scan -q -f json "dir:$work/rootfs" --exit-code 0
}
scan base >/dev/null; scan full >/dev/null  # warm the page cache
base=(); full=()
for _ in $(seq "$runs"); do
  base+=("$(time_scan base)")
  full+=("$(time_scan full)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
b=$(median "${base[@]}"); f=$(median "${full[@]}")
fastest() { printf '%s\n' "$@" | sort -n | head -1; }
bmin=$(fastest "${base[@]}"); fmin=$(fastest "${full[@]}")
summary() { scan "$1" | python3 -c '
import json, sys
v = json.load(sys.stdin)["vulnerabilities"]
rated = sum(1 for f in v if f["severity"] != "unknown")
kev = sum(1 for f in v if f.get("kev"))
epss = sum(1 for f in v if f.get("epss"))
print(f"{len(v)} findings, {rated} rated, {kev} KEV, {epss} with EPSS")'; }
printf '%-46s median %s s, fastest %s s (%s)\n' "scan, without ratings/KEV/EPSS data" "$b" "$bmin" "$(summary base)"
printf '%-46s median %s s, fastest %s s (%s)\n' "scan, with NVD, KEV and EPSS" "$f" "$fmin" "$(summary full)"
printf '%-46s medians %.2f, fastest %.2f (target <= 1.10)\n' "ratio" "$(echo "$f / $b" | bc -l)" "$(echo "$fmin / $bmin" | bc -l)"
