#!/usr/bin/env bash
# Benchmark (issue 17, target 1): the server's CPU time per request, from /proc/PID/stat,
# for a cached admission beside the floor, `GET /healthz` on the same server (TLS, HTTP, no
# work). Same set-up as bench/admission.sh (its cached image and database, built there
# first when missing): `portcullis serve` over TLS with the full testdata database, one
# Alpine 3.20 image in a local docker-registry, judged once, then N (default 60000) requests
# of each kind from `oha` at RATE (default 5000) req/s over 32 connections, after 5000 to
# warm up. The CPU a cached admission costs is what limits the rate 2 cores can serve.
# Needs: oha (cargo install oha), skopeo, docker-registry, curl, openssl, python3.
# Tests never run this.
name=admission
needs="oha skopeo docker-registry curl openssl python3"
source "$(dirname "$0")/common.sh"
# shellcheck source=bench/serve-lib.sh
source "$here/serve-lib.sh"
db="$work/full.sqlite"
layout="$work/layout"
if [[ ! -f "$db" || ! -d "$layout" ]]; then
  echo "run bench/admission.sh once first: it builds $db and $layout" >&2
  exit 1
fi
rate="${RATE:-5000}"
n="${N:-60000}"
start_run
skopeo --insecure-policy copy --dest-tls-verify=false "oci:$layout:cold-0" \
  "docker://127.0.0.1:$regport/bench/app0:v1" >/dev/null
start_server "$db" --policy reject_critical --insecure-registry "127.0.0.1:$regport"
review "127.0.0.1:$regport/bench/app0:v1" >"$run/cached.json"
curl -s -o /dev/null --cacert "$run/tls.crt" -H 'Content-Type: application/json' \
  --data-binary "@$run/cached.json" "$url/imagecheck"
ticks() { awk '{print $14 + $15}' "/proc/$srvpid/stat"; }
hz="$(getconf CLK_TCK)"
printf '%-52s %14s\n' "server CPU per request, $n requests at $rate req/s" "µs"
for path in /healthz /imagecheck; do
  args=()
  [[ "$path" == /imagecheck ]] && args=(-m POST -T application/json -D "$run/cached.json")
  oha --no-tui --insecure -c 32 -q "$rate" -n 5000 "${args[@]}" "$url$path" >/dev/null
  before="$(ticks)"
  oha --no-tui --insecure -c 32 -q "$rate" -n "$n" "${args[@]}" "$url$path" >/dev/null
  after="$(ticks)"
  label="cached admission (POST /imagecheck)"
  [[ "$path" == /healthz ]] && label="floor: GET /healthz"
  printf '%-52s %14d\n' "$label" "$(( (after - before) * 1000000 / hz / n ))"
done
