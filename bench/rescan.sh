#!/usr/bin/env bash
# Issue 14's figures (tests never run this): a simulated inventory of PODS Pods (2,000) running
# IMAGES distinct images (300) pushed to a local docker-registry, judged once, then a database swap
# (Alpine secdb v3.9 -> v3.9 + v3.20): prints the time to re-judge every running image (target
# <= 10 s on 2 cores: each is a re-match of its cached catalogue, not a pull), the admission
# latencies (p50, p99) of reviews sent while that rescan runs, and the peak RSS of the process
# holding the server, the mock API server and the client (target <= 200 MB), and the time the
# dashboard's pages (/ui/workloads, /ui/images, /ui/) take over that inventory (target <= 300 ms).
# Needs: the test data (PORTCULLIS_TESTDATA), docker-registry, umoci, skopeo; a debug build
# (workspace crates unoptimised, dependencies at opt-level 2: the figures are pessimistic).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

PORTCULLIS_BENCH_PODS="${PODS:-2000}" PORTCULLIS_BENCH_IMAGES="${IMAGES:-300}" \
  cargo test -q --workspace --test serve rescan_bench -- --ignored --nocapture 2>&1 |
  grep -E "pushed|first pass|rescan after|admission during|dashboard|peak RSS|test result"
