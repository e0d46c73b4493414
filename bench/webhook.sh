#!/usr/bin/env bash
# Benchmark: `portcullis serve` admission decisions over TLS on loopback.
#   1. cold decision: one AdmissionReview for an Alpine image the server has never seen
#      (resolve, pull, catalog, match, judge), timed by curl; target < 300 ms;
#   2. cached-verdict path: wrk POSTing the same AdmissionReview; requests/s and latency
#      percentiles, (a) closed loop at full speed, (b) paced at about $RATE req/s (wrk2 -R
#      when installed, else 16 connections each waiting 8 ms between requests through wrk's
#      Lua delay(), which gives about 1,900 req/s and, unlike wrk2, does not correct for
#      coordinated omission), (c) one connection; target p99 < 2 ms at 2,000 req/s;
#   3. resident memory of the server with the full testdata database loaded; target < 100 MB.
# Needs: wrk (apt-get install wrk; installed here if missing), umoci, skopeo,
# docker-registry, curl, openssl, python3. Tests never run this.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
work="$here/work/webhook"
testdata="${PORTCULLIS_TESTDATA:-$root/testdata}"
duration="${DURATION:-15s}"
rate="${RATE:-2000}"
mkdir -p "$work"

if ! command -v wrk >/dev/null; then
  apt-get install -y wrk >/dev/null
fi
for tool in wrk umoci skopeo docker-registry curl openssl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install $tool" >&2; exit 1; }
done
# shellcheck source=bench/serve-lib.sh
source "$here/serve-lib.sh"

# 1. A release build.
(cd "$root" && cargo build --release -p portcullis-cli 2>/dev/null)
portcullis="$root/target/release/portcullis"

# 2. The full testdata database (cached): every advisory source of the shared testdata.
db="$work/full.sqlite"
if [[ ! -f "$db" ]]; then
  adv="$testdata/advisories"
  "$portcullis" --db "$db.tmp" db import --lenient \
    "$adv/osv" "$adv/alpine-secdb" "$adv/debian" "$adv/nvd" >/dev/null
  mv "$db.tmp" "$db"
fi

# 3. Alpine images in an OCI layout (cached) and a plain-HTTP registry holding them.
layout="$work/alpine-layout"
# shellcheck source=bench/alpine.sh
source "$here/alpine.sh"
for v in 3.9.6 3.20.3; do
  alpine_image "$layout" "$v"
done
start_run
for v in 3.9.6 3.20.3; do
  skopeo --insecure-policy copy --dest-tls-verify=false "oci:$layout:$v" \
    "docker://127.0.0.1:$regport/alpine:$v" >/dev/null
done

# 4. The server over TLS.
start_server "$db" --policy allow_all_and_warn --insecure-registry "127.0.0.1:$regport"
rss_idle_kib="$(awk '/VmRSS/ {print $2}' "/proc/$srvpid/status")"

review "127.0.0.1:$regport/alpine:3.9.6" >"$run/cold.json"
review "127.0.0.1:$regport/alpine:3.20.3" >"$run/cached.json"

# 5. The cold decision (first sight of alpine:3.9.6).
cold="$(curl -s -o "$run/cold.out" -w '%{time_total}' --cacert "$run/tls.crt" \
  -H 'Content-Type: application/json' --data-binary "@$run/cold.json" "$url/imagecheck")"
grep -q '"uid":"0b8a3c1e-0000-4000-8000-000000000001"' "$run/cold.out" || {
  echo "unexpected answer: $(cat "$run/cold.out")" >&2; exit 1; }

# 6. The cached-verdict path.
curl -s -o /dev/null --cacert "$run/tls.crt" -H 'Content-Type: application/json' \
  --data-binary "@$run/cached.json" "$url/imagecheck"
python3 - "$run/cached.json" "$run/post.lua" "$run/paced.lua" <<'PY'
import json, sys
body = open(sys.argv[1]).read().strip()
script = ('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
          'wrk.body = %s\n' % json.dumps(body))
open(sys.argv[2], "w").write(script)
open(sys.argv[3], "w").write(script + "function delay()\n  return 8\nend\n")
PY
wrk -t2 -c16 -d"$duration" --latency -s "$run/post.lua" "$url/imagecheck" >"$run/full.out"
if command -v wrk2 >/dev/null; then
  paced="wrk2 -R $rate"
  wrk2 -R "$rate" -t2 -c16 -d"$duration" --latency -s "$run/post.lua" "$url/imagecheck" >"$run/paced.out"
else
  paced="wrk, 16 connections x 8 ms delay (wrk2 not installed)"
  wrk -t2 -c16 -d"$duration" --latency -s "$run/paced.lua" "$url/imagecheck" >"$run/paced.out"
fi
wrk -t1 -c1 -d"$duration" --latency -s "$run/post.lua" "$url/imagecheck" >"$run/one.out"
status_kib() { awk -v key="$1:" '$1 == key {print $2}' "/proc/$srvpid/status"; }
mib() { echo "scale=1; $1 / 1024" | bc; }

show() {
  echo "== cached-verdict admission path: $1 =="
  grep -E '^ +(50|75|90|99)%' "$2"
  grep -E 'Requests/sec|Non-2xx|Socket errors' "$2" || true
}
show "closed loop, 2 threads, 16 connections, $duration" "$run/full.out"
show "paced ($paced), $duration" "$run/paced.out"
show "closed loop, 1 connection, $duration" "$run/one.out"
printf '\n%-58s %s\n' "cold decision, unscanned alpine:3.9.6 (s)" "$cold"
printf '%-58s %s\n' "server RSS, full testdata DB loaded, idle (MiB)" "$(mib "$rss_idle_kib")"
printf '%-58s %s (anon %s, file-backed DB map %s)\n' "server RSS after the load (MiB)" \
  "$(mib "$(status_kib VmRSS)")" "$(mib "$(status_kib RssAnon)")" "$(mib "$(status_kib RssFile)")"
printf '%-58s %s\n' "server peak RSS (MiB)" "$(mib "$(status_kib VmHWM)")"
printf '%-58s %s\n' "database file (MiB)" "$(mib "$(( $(stat -c %s "$db") / 1024 ))")"
