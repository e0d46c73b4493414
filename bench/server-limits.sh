#!/usr/bin/env bash
# Benchmark / long run of issue 19's server limits (tests never run this):
#   1. isolation: 50 cold decisions of a healthy image (Alpine 3.9 on a mock registry),
#      each a real verdict within the (test's 20 s) budget, while one review names 1,000 images on a
#      registry that never answers and two name images whose layers trickle, under
#      `reject` and `allow` (the test prints nothing on success; its run time is shown);
#   2. slow bodies: 2,000 clients (fewer if the open-file limit is lower) each sending a
#      body at 1 byte/s to a real `portcullis serve` process; prints its idle, peak and
#      after RSS (the test asserts peak and after within 50 MB of idle).
# Needs: the test data (PORTCULLIS_TESTDATA), a debug build of the workspace.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
ulimit -n 8192 2>/dev/null || true

echo "== 1. isolation, ${ROUNDS:-50} cold decisions per action"
start=$(date +%s)
PORTCULLIS_ISOLATION_ROUNDS="${ROUNDS:-50}" cargo test -q -p portcullis-server --test serve \
  isolation:: -- --nocapture
echo "   took $(( $(date +%s) - start )) s"

echo "== 2. slow bodies, ${CLIENTS:-2000} clients"
PORTCULLIS_SLOW_CLIENTS="${CLIENTS:-2000}" cargo test -q -p portcullis-cli --test it \
  serve::slow_bodies -- --nocapture 2>&1 | grep -E "slow clients|test result"
