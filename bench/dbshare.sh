#!/usr/bin/env bash
# Benchmark: the database as an OCI artifact. Builds the full testdata database (cached), pushes it
# to a local docker-registry, pulls it into a new file RUNS times, and prints the compressed size
# beside the SQLite file's (target: <= 25%) and the best pull + verify + swap time (target: <= 3 s),
# with `skopeo copy` of the same artifact to a local directory as the transfer floor, and the time of
# the HEAD check a following server makes when nothing changed (target: <= 20 ms).
name=""
needs="docker-registry skopeo curl"
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"

db="$work/full-testdata.sqlite"
cached_db "$db" "$testdata/advisories"

# shellcheck source=bench/registry.sh
source "$here/registry.sh"
trap 'kill $regpid 2>/dev/null; rm -rf "$regdir" "$work/dbshare-pulled"' EXIT
ref="127.0.0.1:$port/portcullis/db:latest"
"$portcullis" --db "$db" db push --insecure "$ref" >/dev/null

best() { sort -n | head -1; }
pull_s=$(for _ in $(seq "$runs"); do
  rm -rf "$work/dbshare-pulled"
  /usr/bin/time -f '%e' "$portcullis" --db "$work/dbshare-pulled/db.sqlite" db pull --insecure "$ref" 2>&1 >/dev/null | tail -1
done | best)
floor_s=$(for _ in $(seq "$runs"); do
  rm -rf "$work/dbshare-pulled"
  /usr/bin/time -f '%e' skopeo --insecure-policy copy --src-tls-verify=false "docker://$ref" "dir:$work/dbshare-pulled" 2>&1 >/dev/null | tail -1
done | best)
sqlite_bytes=$(stat -c %s "$db")
layer_bytes=$(curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://127.0.0.1:$port/v2/portcullis/db/manifests/latest" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["size"])')

printf '%-44s %s\n' "SQLite file (full testdata), bytes" "$sqlite_bytes"
printf '%-44s %s (%.1f%%; target <= 25%%)\n' "compressed artifact layer, bytes" "$layer_bytes" "$(echo "100 * $layer_bytes / $sqlite_bytes" | bc -l)"
printf '%-44s %s s (target <= 3 s)\n' "db pull + verify + swap, best of $runs" "$pull_s"
printf '%-44s %s s\n' "skopeo copy of the same artifact (floor)" "$floor_s"

# The following server's HEAD check when nothing changed (connect, ping, one HEAD; over TLS with a
# test CA): an ignored test of crates/dbshare, debug build of our crates.
(cd "$root" && cargo test -q -p portcullis-dbshare --test dbshare bench_head_check_when_nothing_changed \
  -- --ignored --nocapture 2>&1 | grep -E "^HEAD check")
