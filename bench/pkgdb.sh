#!/usr/bin/env bash
# Benchmark: cataloging a very large dpkg status file (issue 19: real ones reach a million
# packages, about 1 GB). Builds `dir:` roots holding a status of N packages made from the
# Debian 12 host status of the shared test data (each stanza renamed per copy), then times
# `portcullis sbom` and records peak RSS for each N, to show that cost grows linearly.
#   SIZES="100000 400000 1000000" bench/pkgdb.sh
# PORTCULLIS=path/to/binary (default: target/release/portcullis, built if missing).
# Uses GNU time (/usr/bin/time) for peak RSS. Tests never run this.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
work="$here/work/pkgdb"
testdata="${PORTCULLIS_TESTDATA:-$(cd "$root/.." && pwd)/shared/testdata}"
sizes="${SIZES:-100000 400000 1000000}"
portcullis="${PORTCULLIS:-$root/target/release/portcullis}"
if [ ! -x "$portcullis" ]; then
  (cd "$root" && cargo build --release -p portcullis-cli)
fi
mkdir -p "$work"

printf '%-10s %12s %10s %14s\n' "packages" "status MiB" "wall s" "peak RSS MiB"
for n in $sizes; do
  dir="$work/root-$n"
  status="$dir/var/lib/dpkg/status"
  if [ ! -f "$status" ]; then
    mkdir -p "$(dirname "$status")"
    python3 "$here/dpkg-status.py" "$testdata/pkgdb/dpkg/status-debian12-host" "$n" "$status" --rename-all
  fi
  mib=$(du -m "$status" | cut -f1)
  /usr/bin/time -f '%e %M' -o "$work/time" "$portcullis" sbom "dir:$dir" --format json >"$work/out.json"
  read -r wall rss <"$work/time"
  printf '%-10s %12s %10s %14.1f\n' "$n" "$mib" "$wall" "$(echo "$rss / 1024" | bc -l)"
done
