# Shared prologue of bench/db-mirror.sh and bench/rpm-scan.sh (sourced after setting `needs`, the
# tools to check, and `name`): sets here, root, testdata, runs, work (bench/work/$name, created) and
# portcullis (PORTCULLIS_BIN picks another build, e.g. target/debug/portcullis; by default a release
# build, built here when missing).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
testdata="${PORTCULLIS_TESTDATA:-$root/testdata}"
runs="${RUNS:-5}"
work="$here/work/$name"
mkdir -p "$work"
for tool in ${needs:-}; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install $tool" >&2; exit 1; }
done
if [[ -z "${PORTCULLIS_BIN:-}" ]]; then
  (cd "$root" && cargo build --release -p portcullis-cli 2>/dev/null)
fi
portcullis="${PORTCULLIS_BIN:-$root/target/release/portcullis}"
