#!/usr/bin/env bash
# Benchmark: read every layer of a real image (Debian 12 minbase, 88 packages) from a local
# registry, side by side with the floor for moving the bytes:
#   floor:      skopeo copy docker://REF oci:DIR   (fetch + verify every blob, write to disk)
#   portcullis: image inspect (manifest + config) and image files (stream every layer once and
#               keep the package-database files)
# Uses hyperfine if installed, and GNU time (/usr/bin/time) for peak RSS. Tests never run this.
source "$(dirname "$0")/lib.sh"
trap 'kill $regpid 2>/dev/null; rm -rf "$regdir" "$work/pulled"' EXIT

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

read -r fw fr < <(measure "$floor_cmd")
read -r iw ir < <(measure "$inspect_cmd")
read -r ow orr < <(measure "$ours_cmd")
printf '\n%-28s %12s %16s\n' "tool" "best wall s" "peak RSS MiB"
printf '%-28s %12s %16.1f\n' "skopeo copy (floor)" "$fw" "$(echo "$fr / 1024" | bc -l)"
printf '%-28s %12s %16.1f\n' "portcullis image inspect" "$iw" "$(echo "$ir / 1024" | bc -l)"
printf '%-28s %12s %16.1f\n' "portcullis image files" "$ow" "$(echo "$orr / 1024" | bc -l)"
