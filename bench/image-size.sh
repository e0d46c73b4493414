#!/usr/bin/env bash
# Benchmark: the container image's compressed size (what a node pulls: config + layers), from
# scripts/build-image.sh. Target: <= 25 MB. PORTCULLIS_BIN picks another binary (e.g. the debug
# one, stripped of debug info by the script); by default the script builds the release binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-image-size-XXXXXX")"
trap 'rm -rf "$out"' EXIT
digest="$("$root/scripts/build-image.sh" "$out/image" | tail -n1)"
python3 - "$out/image" "$digest" <<'PY'
import json, sys
layout, digest = sys.argv[1], sys.argv[2]
blob = lambda d: f"{layout}/blobs/sha256/{d.split(':', 1)[1]}"
manifest = json.load(open(blob(digest)))
size = manifest["config"]["size"] + sum(l["size"] for l in manifest["layers"])
print(f"image {digest}: {size} bytes compressed ({size / 1e6:.1f} MB; target <= 25 MB)")
PY
