#!/usr/bin/env bash
# Run every fuzz target for SECONDS (default 60) each; needs cargo-fuzz (`cargo install cargo-fuzz`).
# The toolchain here is stable, so RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${SECONDS_PER_TARGET:-60}"
export RUSTC_BOOTSTRAP=1
failed=()
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target"
  echo "== $target ($seconds s)"
  log="$(mktemp)"
  if cargo fuzz run -O "$target" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 >"$log" 2>&1; then
    grep -E "^(#[0-9]+.*DONE|Done)" "$log" || true
  else
    # A crash, a leak, a timeout or an out-of-memory: show libFuzzer's report and the artifact.
    tail -n 40 "$log"
    failed+=("$target")
  fi
  rm -f "$log"
done
if ((${#failed[@]})); then
  echo "fuzz targets that failed: ${failed[*]} (artifacts under fuzz/artifacts/)" >&2
  exit 1
fi
echo "all fuzz targets ran ${seconds} s without a failure"
