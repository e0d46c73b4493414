#!/usr/bin/env bash
# Draft benchmark: read a real image (Debian 12 minbase, ~88 packages) from a local registry.
#   floor:      skopeo copy docker://REF oci:DIR   (fetch + verify every blob, write to disk)
#   portcullis: portcullis image files --insecure REF   (stream every layer once, print the
#               package-database files found)
# Needs: debootstrap, umoci, skopeo, docker-registry (Debian packages); hyperfine if installed,
# else GNU time (/usr/bin/time, Debian package `time`) for peak RSS.
# The first run builds the rootfs with debootstrap (network to Debian's mirror, ~70 s) and
# caches it under bench/work/. Tests never run this.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
work="$here/work"
runs="${RUNS:-5}"
mkdir -p "$work"

for tool in debootstrap umoci skopeo docker-registry; do
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
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
regdir="$(mktemp -d)"
cat >"$regdir/config.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $regdir/storage}}
http: {addr: 127.0.0.1:$port, secret: bench}
YML
docker-registry serve "$regdir/config.yml" 2>"$regdir/stderr" &
regpid=$!
trap 'kill $regpid 2>/dev/null; rm -rf "$regdir" "$work/pulled"' EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
  sleep 0.1
done
ref="127.0.0.1:$port/bookworm:minbase"
skopeo --insecure-policy copy --dest-tls-verify=false "oci:$layout:bookworm" "docker://$ref"

# 4. Build portcullis.
(cd "$root" && cargo build --release -p portcullis-cli >/dev/null)
portcullis="$root/target/release/portcullis"

floor_cmd="rm -rf $work/pulled && skopeo --insecure-policy copy --src-tls-verify=false docker://$ref oci:$work/pulled:x"
ours_cmd="$portcullis image files --insecure $ref >/dev/null"
inspect_cmd="$portcullis image inspect --insecure $ref >/dev/null"

# 5. Time both.
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 1 --runs "$runs" \
    --command-name "skopeo copy (floor)" "$floor_cmd" \
    --command-name "portcullis image inspect" "$inspect_cmd" \
    --command-name "portcullis image files" "$ours_cmd" \
    --export-markdown "$work/image-read.md"
  cat "$work/image-read.md"
fi

# Peak RSS and wall time with GNU time, both tools side by side.
measure() {
  local best_wall="" best_rss=""
  for _ in $(seq "$runs"); do
    local out
    out="$( { /usr/bin/time -f '%e %M' bash -c "$1" >/dev/null; } 2>&1 | tail -1)"
    local wall="${out% *}" rss="${out#* }"
    if [[ -z "$best_wall" ]] || awk "BEGIN{exit !($wall < $best_wall)}"; then best_wall="$wall"; fi
    if [[ -z "$best_rss" || "$rss" -gt "$best_rss" ]]; then best_rss="$rss"; fi
  done
  echo "$best_wall $best_rss"
}
read -r fw fr < <(measure "$floor_cmd")
read -r iw ir < <(measure "$inspect_cmd")
read -r ow orr < <(measure "$ours_cmd")
printf '\n%-28s %12s %16s\n' "tool" "best wall s" "peak RSS MiB"
printf '%-28s %12s %16.1f\n' "skopeo copy (floor)" "$fw" "$(echo "$fr / 1024" | bc -l)"
printf '%-28s %12s %16.1f\n' "portcullis image inspect" "$iw" "$(echo "$ir / 1024" | bc -l)"
printf '%-28s %12s %16.1f\n' "portcullis image files" "$ow" "$(echo "$orr / 1024" | bc -l)"
