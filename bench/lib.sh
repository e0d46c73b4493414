# Shared set-up for the benchmarks (sourced): a Debian 12 minbase image and the Alpine
# minirootfs images as OCI layouts (cached under bench/work/), a plain-HTTP docker-registry on
# 127.0.0.1 holding them, and a release build of portcullis. Sets: work, layout, ref,
# alpine_layout, alpine_refs, portcullis.
# Needs: debootstrap (first run only; network to Debian's mirror), umoci, skopeo,
# docker-registry, curl, python3.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
work="$here/work"
runs="${RUNS:-5}"
testdata="${PORTCULLIS_TESTDATA:-$root/testdata}"
mkdir -p "$work"

for tool in debootstrap umoci skopeo docker-registry curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install $tool" >&2; exit 1; }
done

# 1. Debian 12 minbase root filesystem (cached).
rootfs_tar="$work/bookworm-minbase.tar"
layout="$work/layout"
if [[ ! -f "$rootfs_tar" && ! -f "$layout/index.json" ]]; then
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase bookworm "$work/rootfs"
  tar -C "$work/rootfs" -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$work/rootfs"
fi

# 2. OCI image with umoci (cached).
if [[ ! -f "$layout/index.json" ]]; then
  rm -rf "$layout" "$work/bundle"
  umoci init --layout "$layout"
  umoci new --image "$layout:bookworm"
  umoci unpack --rootless --image "$layout:bookworm" "$work/bundle" >/dev/null
  tar -C "$work/bundle/rootfs" -xf "$rootfs_tar"
  umoci repack --image "$layout:bookworm" "$work/bundle"
  rm -rf "$work/bundle"
fi

# 3. A plain-HTTP registry on a free port of 127.0.0.1, stopped on exit.
# shellcheck source=bench/registry.sh
source "$here/registry.sh"
trap 'kill $regpid 2>/dev/null; rm -rf "$regdir" "$work/pulled"' EXIT
ref="127.0.0.1:$port/bookworm:minbase"
skopeo --insecure-policy copy --dest-tls-verify=false "oci:$layout:bookworm" "docker://$ref" >/dev/null

# Alpine minirootfs images (cached), pushed too.
# shellcheck source=bench/alpine.sh
source "$here/alpine.sh"
alpine_layout="$work/alpine-layout"
alpine_refs=()
for v in 3.9.6 3.20.3; do
  alpine_image "$alpine_layout" "$v"
  skopeo --insecure-policy copy --dest-tls-verify=false "oci:$alpine_layout:$v" "docker://127.0.0.1:$port/alpine:$v" >/dev/null
  alpine_refs+=("127.0.0.1:$port/alpine:$v")
done

# 4. Build portcullis.
(cd "$root" && cargo build --release -p portcullis-cli 2>/dev/null)
portcullis="$root/target/release/portcullis"

# "best-wall-seconds peak-RSS-KiB" over $runs runs of a shell command (GNU time).
measure() {
  local best_wall="" best_rss="" out
  out="$(mktemp)"
  for _ in $(seq "$runs"); do
    /usr/bin/time -f '%e %M' -o "$out" bash -c "$1 >/dev/null 2>&1" || true
    local wall rss
    read -r wall rss < <(tail -1 "$out")
    if [[ -z "$best_wall" ]] || awk -v a="$wall" -v b="$best_wall" 'BEGIN{exit !(a < b)}'; then best_wall="$wall"; fi
    if [[ -z "$best_rss" || "$rss" -gt "$best_rss" ]]; then best_rss="$rss"; fi
  done
  rm -f "$out"
  echo "$best_wall $best_rss"
}
