# Shared prologue of the benches (sourced after setting `needs`, the tools to check, and `name`):
# sets here, root, testdata, runs, work (bench/work/$name, or bench/work when `name` is empty;
# created) and portcullis (PORTCULLIS_BIN picks another build, e.g. target/debug/portcullis; by
# default a release build, built here when missing). Defines cached_db.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
testdata="${PORTCULLIS_TESTDATA:-$root/testdata}"
runs="${RUNS:-5}"
work="$here/work${name:+/$name}"
mkdir -p "$work"
for tool in ${needs:-}; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install $tool" >&2; exit 1; }
done
if [[ -z "${PORTCULLIS_BIN:-}" ]]; then
  (cd "$root" && cargo build --release -p portcullis-cli 2>/dev/null)
fi
portcullis="${PORTCULLIS_BIN:-$root/target/release/portcullis}"

# cached_db DB PATH...: the database DB, imported from the advisory PATHs unless this build can
# already read it (cached).
cached_db() {
  local db="$1"
  shift
  if ! "$portcullis" --db "$db" db status >/dev/null 2>&1; then
    rm -f "$db"
    "$portcullis" --db "$db" db import "$@" >/dev/null
  fi
}
