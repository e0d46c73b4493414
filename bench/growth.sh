#!/usr/bin/env bash
# Benchmark (issue 17, target 6): growth curves. One table, several sizes per row:
#   1. image size: full `portcullis scan` (catalog, match, JSON) of 10-layer images of about
#      50 MiB, 200 MiB and 1 GiB of real Debian package files (bench/multilayer.sh, shared
#      with bench/layers.sh), read from an OCI layout: wall time and peak RSS, and the peak
#      RSS of the layer read alone (`image files`), which tells decoding from cataloguing;
#   2. package count: `portcullis scan` of a `dir:` root whose dpkg status holds 100, 1,000
#      and 5,000 packages made from the real testdata/pkgdb/dpkg/status-debian12-host (the
#      first copy of each stanza as is, later copies renamed, as bench/pkgdb.sh does), with a
#      Debian 12 os-release: wall time and peak RSS;
#   3. database records: `db import` of 50k, 150k and 300k NVD CVE records (the generator of
#      bench/nvd-scale.sh, same cache) into an empty database: import time, peak RSS, file size;
#   4. concurrent cold admissions: 1, 10 and 50 AdmissionReviews sent at once (curl, in
#      parallel) to `portcullis serve` over TLS, each for a distinct Alpine 3.20 image the
#      server has never seen (each with a layer of its own, in a local docker-registry):
#      p50 and max latency, and the server's peak RSS.
# For each row it prints the growth of cost against size between the smallest and the
# largest size (target: at most linear, i.e. cost ratio <= size ratio), and for image size
# whether peak RSS stays flat (largest <= 1.5x smallest).
#   QUICK=1 bench/growth.sh        (smaller sizes, one run each: proves the script end to end)
#   IMAGE_SIZES="50 200 1024" PKG_COUNTS="100 1000 5000" RECORD_COUNTS="50000 150000 300000"
#   COLD_COUNTS="1 10 50" RUNS=3 bench/growth.sh
# Needs a Debian host (dpkg-query), GNU tar, gzip, GNU time, docker-registry, skopeo, umoci,
# curl, openssl. Figures on a shared 2-core machine are provisional. Tests never run this.
name=growth
needs="tar gzip python3 dpkg-query docker-registry skopeo umoci curl openssl"
if [[ -n "${QUICK:-}" ]]; then
  export RUNS="${RUNS:-1}"
  image_sizes="${IMAGE_SIZES:-20 50 100}"
  pkg_counts="${PKG_COUNTS:-100 300 1000}"
  record_counts="${RECORD_COUNTS:-5000 15000 30000}"
  cold_counts="${COLD_COUNTS:-1 3 6}"
else
  export RUNS="${RUNS:-3}"
  image_sizes="${IMAGE_SIZES:-50 200 1024}"
  pkg_counts="${PKG_COUNTS:-100 1000 5000}"
  record_counts="${RECORD_COUNTS:-50000 150000 300000}"
  cold_counts="${COLD_COUNTS:-1 10 50}"
fi
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
# shellcheck source=bench/multilayer.sh
source "$here/multilayer.sh"

rows="$work/rows"
: >"$rows"
# row DIMENSION SIZE SIZE_LABEL COST COST_LABEL RSS_KIB EXTRA
row() { echo "$*" >>"$rows"; }
mib() { awk -v k="$1" 'BEGIN{ printf "%.1f", k / 1024 }'; }

# The test data database for scans (cached; rebuilt when this build cannot read it).
db="$work/scan-db.sqlite"
if ! "$portcullis" --db "$db" db status >/dev/null 2>&1; then
  rm -f "$db" "$db.tmp"
  "$portcullis" --db "$db.tmp" db import "$testdata/advisories" >/dev/null
  mv "$db.tmp" "$db"
fi

# 1. Image size (images shared with bench/layers.sh).
for mb in $image_sizes; do
  image="$here/work/layers/img-$mb-10"
  mkdir -p "$here/work/layers"
  echo "image of about $mb MiB (cached)..." >&2
  multilayer_image "$image" "$mb" 10
  read -r stored unpacked < <(multilayer_sizes "$image")
  read -r median _ rss < <(median_rss "$runs" "$portcullis --db $db scan -f json oci-dir:$image:v1")
  # The layer read alone (no executables, no matching): its peak RSS tells decoding from
  # cataloguing.
  read -r _ read_rss < <(time_rss "$portcullis -q image files oci-dir:$image:v1")
  row image "$unpacked" "${unpacked}MiB" "$median" scan_s "$rss" "stored=${stored}MiB layer-read-only-peak=$(mib "$read_rss")MiB"
done

# 2. Package count.
for n in $pkg_counts; do
  dir="$work/pkgs-$n"
  if [[ ! -f "$dir/var/lib/dpkg/status" ]]; then
    mkdir -p "$dir/var/lib/dpkg" "$dir/etc"
    printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n' \
      >"$dir/etc/os-release"
    python3 "$here/dpkg-status.py" "$testdata/pkgdb/dpkg/status-debian12-host" "$n" "$dir/var/lib/dpkg/status"
  fi
  read -r median _ rss < <(median_rss "$runs" "$portcullis --db $db scan -f json dir:$dir")
  row packages "$n" "$n" "$median" scan_s "$rss" ""
done

# 3. Database records (the feeds generator of bench/nvd-scale.sh, same cache).
for records in $record_counts; do
  feeds="$here/work/nvd-scale/feeds-$records"
  if [[ ! -f "$feeds/done" ]]; then
    echo "generating $records NVD records (cached)..." >&2
    rm -rf "$feeds"
    mkdir -p "$feeds"
    # The first Python heredoc of nvd-scale.sh is its generator.
    python3 <(awk "/<<'PY'\$/ && !seen { on = 1; seen = 1; next } on && /^PY\$/ { exit } on" "$here/nvd-scale.sh") \
      "$testdata/advisories/nvd" "$feeds" "$records"
  fi
  rdb="$work/records-$records.sqlite"
  rm -f "$rdb" "$rdb".*
  read -r wall rss < <(time_rss "$portcullis --db $rdb db import $feeds")
  size=$(( $(stat -c %s "$rdb") / 1024 ))
  row records "$records" "$records" "$wall" import_s "$rss" "db=$(mib "$size")MiB"
  rm -f "$rdb" "$rdb".*
done

# 4. Concurrent cold admissions.
total=0
for c in $cold_counts; do total=$((total + c)); done
layout="$work/cold-layout-$total"
if [[ ! -f "$layout/index.json" ]]; then
  echo "building $total distinct Alpine images (cached)..." >&2
  rm -rf "$layout" "$layout.tmp"
  python3 - "$testdata/images/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz" "$layout.tmp" "$total" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
src, out, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs)
base = gzip.decompress(open(src, "rb").read())
def put(data):
    digest = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, digest), "wb").write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}
manifests = []
for i in range(total):
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(base)) as old, tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as new:
        for member in old.getmembers():
            new.addfile(member, old.extractfile(member) if member.isfile() else None)
        data = f"cold image {i}\n".encode()
        info = tarfile.TarInfo("etc/bench-image")
        info.size = len(data)
        new.addfile(info, io.BytesIO(data))
    tar = buf.getvalue()
    layer = put(gzip.compress(tar, 6, mtime=0))
    config = put(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]}}).encode())
    manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}]}).encode())
    manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest,
                      "annotations": {"org.opencontainers.image.ref.name": f"img{i}"}})
json.dump({"schemaVersion": 2, "manifests": manifests}, open(os.path.join(out, "index.json"), "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out, "oci-layout"), "w"))
PY
  mv "$layout.tmp" "$layout"
fi
adb="$work/cold-db.sqlite"
cached_db "$adb" "$testdata/advisories/alpine-secdb" "$testdata/advisories/nvd"
# shellcheck source=bench/registry.sh
source "$here/registry.sh"
srvpid=""
run="$(mktemp -d)"
trap 'kill $regpid $srvpid 2>/dev/null; rm -rf "$regdir" "$run"' EXIT
echo "pushing $total images..." >&2
for i in $(seq 0 $((total - 1))); do
  skopeo --insecure-policy copy --dest-tls-verify=false "oci:$layout:img$i" \
    "docker://127.0.0.1:$port/cold$i:v1" >/dev/null
done
# shellcheck source=bench/serve-lib.sh
source "$here/serve-lib.sh"
start_server "$adb" --policy allow_all_and_warn --insecure-registry "127.0.0.1:$port"
next=0
for c in $cold_counts; do
  for j in $(seq 0 $((c - 1))); do
    review "127.0.0.1:$port/cold$((next + j)):v1" "0b8a3c1e-0000-4000-8000-$(printf '%012d' $((next + j)))" >"$run/review-$j.json"
  done
  curls=()
  for j in $(seq 0 $((c - 1))); do
    curl -s -o "$run/answer-$j.json" -w '%{time_total}\n' --cacert "$run/tls.crt" \
      -H 'Content-Type: application/json' --data-binary "@$run/review-$j.json" \
      "$url/imagecheck" >"$run/time-$j" &
    curls+=("$!")
  done
  wait "${curls[@]}" || true
  for j in $(seq 0 $((c - 1))); do
    grep -q "\"uid\":\"0b8a3c1e-0000-4000-8000-$(printf '%012d' $((next + j)))\"" "$run/answer-$j.json" || {
      echo "unexpected answer for cold$((next + j)): $(head -c 300 "$run/answer-$j.json")" >&2; exit 1; }
  done
  read -r p50 max < <(cat "$run"/time-* | sort -g | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)], t[NR] }')
  rm -f "$run"/time-* "$run"/answer-*
  next=$((next + c))
  rss="$(awk '/VmHWM/ {print $2}' "/proc/$srvpid/status")"
  row cold "$c" "$c" "$max" max_s "$rss" "p50=${p50}s"
done

# The table, and the growth of each row between its smallest and largest size.
echo
printf '%-9s %10s %10s %9s %12s  %s\n' row size cost "" "peak_MiB" extra
while read -r dim size label cost what rss extra; do
  printf '%-9s %10s %10s %-9s %12s  %s\n' "$dim" "$label" "$cost" "$what" "$(mib "$rss")" "$extra"
done <"$rows"
echo
awk '
  { if (!($1 in first)) { first[$1] = NR; order[++n] = $1 } size[$1, ++count[$1]] = $2; cost[$1, count[$1]] = $4; rss[$1, count[$1]] = $6 }
  END {
    for (i = 1; i <= n; i++) {
      d = order[i]; k = count[d]
      s = size[d, k] / size[d, 1]; c0 = cost[d, 1]; if (c0 <= 0) c0 = 0.001
      c = cost[d, k] / c0; r = rss[d, k] / rss[d, 1]
      printf "%-9s size x%.1f -> cost x%.2f: %s; peak RSS x%.2f", d, s, c, (c <= s ? "at most linear" : "MORE THAN LINEAR"), r
      if (d == "image") printf " (%s)", (r <= 1.5 ? "flat" : "NOT FLAT")
      printf "\n"
    }
  }' "$rows"
echo "(shared 2-core machine: provisional figures; median of $runs runs for scans, one run for imports and admissions)"
