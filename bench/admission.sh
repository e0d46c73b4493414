#!/usr/bin/env bash
# Benchmark (issue 17, targets 1, 2 and the server half of 4): `portcullis serve` over TLS on
# loopback with the full testdata database, a local docker-registry holding COLD (default 20)
# distinct Alpine 3.20 images (the minirootfs plus one small layer naming the image, so each
# has its own digest), and a constant-rate, latency-corrected load generator on the same 2
# cores:
#   1. cold decisions: one AdmissionReview per unscanned image, one after the other, timed by
#      curl; p50 and p99 (targets <= 150 ms and <= 250 ms);
#   2. the cached-verdict path at RATE (default 10000) req/s over 32 keep-alive TLS
#      connections for DURATION (default 20s): p50, p99, p99.9 and the maximum (targets
#      p99 <= 2 ms, p99.9 <= 5 ms). The floor beside it: the same load on `GET /healthz` of
#      the same server (TLS, HTTP, no work);
#   3. ADMISSIONS (default 1000000) cached admissions at RATE, then the server's RSS
#      (target <= 100 MB) beside its idle RSS, and the cache bounds it reports; beside them
#      the floor over as many requests: ADMISSIONS `GET /healthz` at RATE.
# The load generator is crates/server/examples/loadgen.rs: request i is due at i / RATE and
# its latency counts from then (the correction of `oha --latency-correction` and wrk2), and
# its result slots are allocated before the clock starts. `oha` (cargo install oha), when
# installed, runs the 20 s admission load too, for comparison: it stores its results in a
# vector that doubles as it fills, and stalls at each doubling (65,536, 131,072, 262,144,
# 524,288 requests; up to 97 ms, on /healthz as much as on /imagecheck), which its row shows
# as the request number where its slow requests cluster. Percentiles are of the requests due
# after the first second (WARMUP); oha opens its connections when its clock starts.
# Needs: umoci, skopeo, docker-registry, curl, openssl, python3.
# Tests never run this.
name=admission
needs="umoci skopeo docker-registry curl openssl python3"
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

# 2. and 3. The cached path at a constant rate, latency-corrected.
(cd "$root" && cargo build --release -p portcullis-server --example loadgen 2>/dev/null)
loadgen="$root/target/release/examples/loadgen"
load() { # csv name, path, then the generator's arguments
  local name="$1" path="$2"
  shift 2
  "$loadgen" --cacert "$run/tls.crt" -c 32 -q "$rate" --csv "$run/$name.csv" "$@" "$url$path" >/dev/null
}
post=(-m POST -T application/json -D "$run/cached.json")
seconds="${duration%s}"
load floor /healthz -z "$seconds"
load tail /imagecheck "${post[@]}" -z "$seconds"
load million /imagecheck "${post[@]}" -n "$admissions"
rss_after_kib="$(status_kib VmRSS)"
load floor-million /healthz -n "$admissions"
runs_shown=(floor tail million floor-million)
if command -v oha >/dev/null; then
  oha --no-tui --insecure -c 32 -q "$rate" --latency-correction --output-format csv \
    -m POST -T application/json -D "$run/cached.json" -z "$duration" "$url/imagecheck" >"$run/oha.csv"
  runs_shown+=(oha)
fi
metrics="$(curl -s --cacert "$run/tls.crt" "$url/metrics")"

python3 - "$run" "$rss_idle_kib" "$rss_after_kib" "$rate" "$duration" "$admissions" "${WARMUP:-1}" "${runs_shown[@]}" <<'PY'
import csv, sys
run, idle, after = sys.argv[1], int(sys.argv[2]) / 1024, int(sys.argv[3]) / 1024
rate, duration, admissions, warmup = sys.argv[4], sys.argv[5], int(sys.argv[6]), float(sys.argv[7])
shown = sys.argv[8:]
cold = sorted(float(x) * 1000 for x in open(f"{run}/cold.txt").read().split())
def pct(values, p):
    return values[min(len(values) - 1, int(p / 100 * len(values)))]
def row(name, value, target=""):
    print(f"{name:<66} {value:>12}   {target}")
def latencies(name):
    rows = list(csv.DictReader(open(f"{run}/{name}.csv")))
    ok = [(float(r["request-start"]), float(r["request-duration"]) * 1000) for r in rows if r["status"] == "200"]
    ok.sort()
    every = sorted(d for _, d in ok)
    steady = sorted(d for t, d in ok if t >= warmup)
    span = max(float(r["request-start"]) for r in rows) or 1
    # Requests slower than 5 ms after the warm-up, and the request number (in the order
    # due) where most of them start within 0.2 s of each other.
    slow, groups = 0, []
    for n, (t, d) in enumerate(ok):
        if t < warmup or d <= 5:
            continue
        slow += 1
        if groups and t - groups[-1][1] < 0.2:
            groups[-1][1] = t
            groups[-1][2] += 1
        else:
            groups.append([t, t, 1, n])
    worst = max(groups, key=lambda g: g[2]) if groups else None
    return len(rows), len(ok), len(rows) / span, every, steady, slow, worst
print(f"{'measure':<66} {'portcullis':>12}   target")
row(f"cold decision, {len(cold)} distinct unscanned images, p50 (ms)", f"{pct(cold, 50):.0f}", "<= 150")
row("cold decision, p99 (ms)", f"{pct(cold, 99):.0f}", "<= 250")
labels = {
    "floor": (f"floor: GET /healthz, {rate} req/s, 32 TLS conn, {duration}", False),
    "tail": (f"cached admission, {rate} req/s, 32 TLS conn, {duration}", True),
    "million": (f"{admissions} cached admissions at {rate} req/s", True),
    "floor-million": (f"floor: {admissions} GET /healthz at {rate} req/s", False),
    "oha": (f"oha: cached admission, {rate} req/s, 32 TLS conn, {duration}", False),
}
for name in shown:
    label, targets = labels[name]
    sent, ok, rps, every, steady, slow, worst = latencies(name)
    row(f"{label}: requests (200 OK), req/s", f"{ok}/{sent}, {rps:.0f}")
    for p, target in ((50, ""), (99, "<= 2"), (99.9, "<= 5")):
        row(f"  p{p} after {warmup:g} s (ms)", f"{pct(steady, p):.2f}", target if targets else "")
    row(f"  max after {warmup:g} s (ms)", f"{steady[-1]:.2f}")
    row(f"  whole run: p99.9 / max (ms)", f"{pct(every, 99.9):.1f} / {every[-1]:.1f}")
    where = f", {worst[2]} from request {worst[3]}" if worst else ""
    row(f"  slower than 5 ms after {warmup:g} s (largest group)", f"{slow}{where}")
row("server RSS idle, full testdata database (MiB)", f"{idle:.1f}")
row(f"server RSS after the {admissions} cached admissions (MiB)", f"{after:.1f}", "<= 100 MB")
PY
echo "cache bounds (the defaults): verdictCacheSize 1000, tagCacheSize 10000, catalogCacheBytes 128 MiB, auditStoreSize 1000 (and 64 workloads waiting for their Audit, 1000 Audit writes in flight), scanLogSize 1000"
echo "$metrics" | grep -E '^portcullis_verdict_cache_lookups_total' || true
