#!/usr/bin/env bash
# Remote engine mode's figure (tests never run this): 500 cached admissions, sequential, over TLS
# with a new connection each, on a central `serve` and on a replica in remote engine mode in front
# of it; prints p50, p99 and max of each and the difference of the medians (target <= 2 ms). A
# cached admission on the replica never contacts the engine. Debug build of our crates.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo test -q --workspace --test serve bench_cached_admission_local_and_remote -- --ignored --nocapture 2>&1 |
  grep -E "cached admission|remote mode adds|test result"
