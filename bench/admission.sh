#!/usr/bin/env bash
# Benchmark (issue 17, targets 1, 2 and the server half of 4): `portcullis serve` over TLS on
# loopback with the full testdata database, a local docker-registry holding COLD (default 20)
# distinct Alpine 3.20 images (the minirootfs plus one small layer naming the image, so each
# has its own digest), and `oha` as the load generator (latency-corrected, constant rate):
#   1. cold decisions: one AdmissionReview per unscanned image, one after the other, timed by
#      curl; p50 and p99 (targets <= 150 ms and <= 250 ms);
#   2. the cached-verdict path at RATE (default 10000) req/s over 32 connections for DURATION
#      (default 20s), `oha -q RATE --latency-correction`: p50, p99, p99.9 and the maximum
#      (targets p99 <= 2 ms, p99.9 <= 5 ms), with the load generator on the same 2 cores.
#      Percentiles are of the requests scheduled after the first second (WARMUP): oha opens
#      its 32 TLS connections when the clock starts, and the requests scheduled during those
#      handshakes wait for them (tens of ms); the whole run is printed too. The floor beside
#      it: the same load on `GET /healthz` of the same server (TLS, HTTP, no work);
#   3. ADMISSIONS (default 1000000) cached admissions at RATE, then the server's RSS
#      (target <= 100 MB) beside its idle RSS, and the cache bounds it reports.
# Needs: oha (cargo install oha), umoci, skopeo, docker-registry, curl, openssl, python3.
# Tests never run this.
name=admission
needs="oha umoci skopeo docker-registry curl openssl python3"
source "$(dirname "$0")/common.sh"
cold_count="${COLD:-20}"
rate="${RATE:-10000}"
duration="${DURATION:-20s}"
admissions="${ADMISSIONS:-1000000}"
# shellcheck source=bench/serve-lib.sh
source "$here/serve-lib.sh"

# The full testdata database (cached).
db="$work/full.sqlite"
if [[ ! -f "$db" ]]; then
  adv="$testdata/advisories"
  "$portcullis" --db "$db.tmp" db import --lenient "$adv" >/dev/null
  mv "$db.tmp" "$db"
fi

# COLD distinct images (cached): alpine 3.20.3 plus a layer holding /etc/bench-image.
layout="$work/layout"
if ! grep -q "\"cold-$cold_count\"" "$layout/index.json" 2>/dev/null; then
  rm -rf "$layout"
  umoci init --layout "$layout"
  umoci new --image "$layout:base"
  umoci unpack --rootless --image "$layout:base" "$work/bundle" >/dev/null
  tar -C "$work/bundle/rootfs" -xzf "$testdata/images/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz"
  umoci repack --image "$layout:base" "$work/bundle"
  rm -rf "$work/bundle"
  for i in $(seq 0 "$cold_count"); do
    umoci unpack --rootless --image "$layout:base" "$work/bundle" >/dev/null
    echo "bench image $i" >"$work/bundle/rootfs/etc/bench-image"
    umoci repack --image "$layout:cold-$i" "$work/bundle"
    rm -rf "$work/bundle"
  done
fi

start_run
for i in $(seq 0 "$cold_count"); do
  skopeo --insecure-policy copy --dest-tls-verify=false "oci:$layout:cold-$i" \
    "docker://127.0.0.1:$regport/bench/app$i:v1" >/dev/null
done
start_server "$db" --policy reject_critical --insecure-registry "127.0.0.1:$regport"
status_kib() { awk -v key="$1:" '$1 == key {print $2}' "/proc/$srvpid/status"; }
rss_idle_kib="$(status_kib VmRSS)"

# 1. Cold decisions: images 1..COLD, each seen for the first time (image 0 warms the server).
post() {
  curl -s -o "$run/answer.json" -w '%{time_total}' --cacert "$run/tls.crt" \
    -H 'Content-Type: application/json' --data-binary "@$1" "$url/imagecheck"
}
review "127.0.0.1:$regport/bench/app0:v1" >"$run/cached.json"
post "$run/cached.json" >/dev/null
: >"$run/cold.txt"
for i in $(seq 1 "$cold_count"); do
  review "127.0.0.1:$regport/bench/app$i:v1" >"$run/cold-$i.json"
  post "$run/cold-$i.json" >>"$run/cold.txt"
  echo >>"$run/cold.txt"
  grep -q '"allowed":true' "$run/answer.json" || grep -q '"allowed":false' "$run/answer.json" || {
    echo "unexpected answer: $(cat "$run/answer.json")" >&2; exit 1; }
  ! grep -q 'not judged' "$run/answer.json" || { echo "not judged: $(cat "$run/answer.json")" >&2; exit 1; }
done

# 2. and 3. The cached path with oha, latency-corrected at a constant rate.
load() { # path, then oha's arguments
  local path="$1"
  shift
  oha --no-tui --insecure -c 32 -q "$rate" --latency-correction --output-format csv "$@" "$url$path"
}
load /healthz -z "$duration" >"$run/floor.csv"
load /imagecheck -m POST -T application/json -D "$run/cached.json" -z "$duration" >"$run/tail.csv"
load /imagecheck -m POST -T application/json -D "$run/cached.json" -n "$admissions" >"$run/million.csv"
rss_after_kib="$(status_kib VmRSS)"
metrics="$(curl -s --cacert "$run/tls.crt" "$url/metrics")"

python3 - "$run" "$rss_idle_kib" "$rss_after_kib" "$rate" "$duration" "$admissions" "${WARMUP:-1}" <<'PY'
import csv, sys
run, idle, after = sys.argv[1], int(sys.argv[2]) / 1024, int(sys.argv[3]) / 1024
rate, duration, admissions, warmup = sys.argv[4], sys.argv[5], int(sys.argv[6]), float(sys.argv[7])
cold = sorted(float(x) * 1000 for x in open(f"{run}/cold.txt").read().split())
def pct(values, p):
    return values[min(len(values) - 1, int(p / 100 * len(values)))]
def row(name, value, target=""):
    print(f"{name:<66} {value:>12}   {target}")
def latencies(name):
    rows = list(csv.DictReader(open(f"{run}/{name}.csv")))
    ok = [r for r in rows if r["status"] == "200"]
    every = sorted(float(r["request-duration"]) * 1000 for r in ok)
    steady = sorted(float(r["request-duration"]) * 1000 for r in ok
                    if float(r["request-start"]) >= warmup)
    span = max(float(r["request-start"]) for r in rows) or 1
    return len(rows), len(ok), len(rows) / span, every, steady
print(f"{'measure':<66} {'portcullis':>12}   target")
row(f"cold decision, {len(cold)} distinct unscanned images, p50 (ms)", f"{pct(cold, 50):.0f}", "<= 150")
row("cold decision, p99 (ms)", f"{pct(cold, 99):.0f}", "<= 250")
for name, label, targets in (
        ("floor", f"floor: GET /healthz, {rate} req/s, 32 TLS conn, {duration}", False),
        ("tail", f"cached admission, {rate} req/s, 32 TLS conn, {duration}", True),
        ("million", f"{admissions} cached admissions at {rate} req/s", True)):
    sent, ok, rps, every, steady = latencies(name)
    row(f"{label}: requests (200 OK), req/s", f"{ok}/{sent}, {rps:.0f}")
    for p, target in ((50, ""), (99, "<= 2"), (99.9, "<= 5")):
        row(f"  p{p} after {warmup:g} s (ms)", f"{pct(steady, p):.2f}", target if targets else "")
    row(f"  max after {warmup:g} s (ms)", f"{steady[-1]:.2f}")
    row(f"  whole run, connection set-up included: p99.9 / max (ms)", f"{pct(every, 99.9):.1f} / {every[-1]:.1f}")
row("server RSS idle, full testdata database (MiB)", f"{idle:.1f}")
row(f"server RSS after the {admissions} cached admissions (MiB)", f"{after:.1f}", "<= 100 MB")
PY
echo "cache bounds (the defaults): verdictCacheSize 1000, tagCacheSize 10000, catalogCacheBytes 128 MiB, auditStoreSize 1000 (and 64 workloads waiting for their Audit, 1000 Audit writes in flight), scanLogSize 1000"
echo "$metrics" | grep -E '^portcullis_verdict_cache_lookups_total' || true
