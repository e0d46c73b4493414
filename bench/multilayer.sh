# Shared by bench/layers.sh and bench/growth.sh (sourced after bench/common.sh): builds
# multi-layer OCI images from real Debian packages and measures commands.
#
# multilayer_image DIR MB LAYERS: an OCI layout in DIR (tag `v1`, cached) of LAYERS gzip
# layers holding about MB MiB of files in all (uncompressed). The files are those of the
# Debian 12 packages installed on this machine (their `dpkg -L` lists, read from
# /var/lib/dpkg/info/*.list), a few packages per layer in package order, each layer tarred
# from the real files with GNU tar and gzipped (-6) as `docker build` would; the first layer
# also holds /etc/os-release and the machine's real /var/lib/dpkg/status, so the image is a
# Debian 12 image that catalogs and matches. No debootstrap and no network needed.
#
# time_rss CMD: run CMD once; prints "wall-seconds peak-RSS-KiB" (wall to the millisecond, RSS
# from GNU time).
# median_rss RUNS CMD: RUNS runs; prints "median-wall best-wall max-peak-RSS-KiB".

multilayer_image() {
  local dir="$1" mb="$2" layers="$3"
  [[ -f "$dir/index.json" ]] && return 0
  command -v dpkg-query >/dev/null || { echo "multilayer_image: needs a Debian host (dpkg-query)" >&2; return 1; }
  rm -rf "$dir" "$dir.tmp"
  python3 - "$dir.tmp" "$mb" "$layers" <<'PY'
import hashlib, json, os, shutil, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

out, mb, nlayers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
target = mb * 1024 * 1024
per_layer = target // nlayers
info = "/var/lib/dpkg/info"
os.makedirs(os.path.join(out, "blobs", "sha256"))

def size_of(path):
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    return st.st_size if os.path.isfile(path) and not os.path.islink(path) else 0

pkgs = subprocess.check_output(
    ["dpkg-query", "-W", "-f=${Package} ${Architecture}\n"], text=True).split("\n")
buckets = [[] for _ in range(nlayers)]
sizes = [0] * nlayers
buckets[0] += ["etc/os-release", "usr/lib/os-release", "var/lib/dpkg/status"]
k = 0
for line in sorted(p for p in pkgs if p.strip()):
    name, arch = line.split()
    lst = os.path.join(info, f"{name}:{arch}.list")
    if not os.path.exists(lst):
        lst = os.path.join(info, f"{name}.list")
    if not os.path.exists(lst):
        continue
    paths = [l.rstrip("\n") for l in open(lst, encoding="utf-8", errors="surrogateescape")]
    paths = [p for p in paths if p.startswith("/") and p != "/."]
    size = sum(size_of(p) for p in paths)
    if size == 0 or size > per_layer:
        continue  # keeps the layers even
    if sizes[k] >= per_layer:
        if k == nlayers - 1:
            break
        k += 1
    buckets[k] += [p.lstrip("/") for p in paths]
    sizes[k] += size

def layer(i):
    lst = os.path.join(out, f"layer-{i}.list")
    tar = os.path.join(out, f"layer-{i}.tar")
    # Each path once (directories and merged-/usr symlinks are listed by many packages; a
    # name given twice would become a hard link to itself).
    names = list(dict.fromkeys(buckets[i]))
    with open(lst, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("\n".join(names) + "\n")
    subprocess.run(["tar", "-C", "/", "--no-recursion", "--ignore-failed-read", "--warning=none",
                    "--verbatim-files-from", "-T", lst, "-cf", tar], check=True)
    diff = hashlib.sha256()
    with open(tar, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            diff.update(chunk)
    gz = tar + ".gz"
    with open(gz, "wb") as f:
        subprocess.run(["gzip", "-6", "-n", "-c", tar], stdout=f, check=True)
    blob = hashlib.sha256()
    with open(gz, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            blob.update(chunk)
    digest = blob.hexdigest()
    size = os.path.getsize(gz)
    os.replace(gz, os.path.join(out, "blobs", "sha256", digest))
    unpacked = os.path.getsize(tar)
    os.remove(tar)
    os.remove(lst)
    return digest, size, "sha256:" + diff.hexdigest(), unpacked

with ThreadPoolExecutor(max_workers=2) as pool:
    built = list(pool.map(layer, range(nlayers)))

def put(doc):
    data = json.dumps(doc, separators=(",", ":")).encode()
    digest = hashlib.sha256(data).hexdigest()
    open(os.path.join(out, "blobs", "sha256", digest), "wb").write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}

config = put({"architecture": "amd64", "os": "linux", "config": {},
              "rootfs": {"type": "layers", "diff_ids": [b[2] for b in built]}})
manifest = put({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": "sha256:" + b[0], "size": b[1]} for b in built]})
json.dump({"schemaVersion": 2, "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest,
     "annotations": {"org.opencontainers.image.ref.name": "v1"}}]},
    open(os.path.join(out, "index.json"), "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out, "oci-layout"), "w"))
with open(os.path.join(out, "sizes"), "w") as f:
    f.write(f"{sum(b[1] for b in built)} {sum(b[3] for b in built)}\n")
    f.write(" ".join("sha256:" + b[0] for b in built) + "\n")
PY
  mv "$dir.tmp" "$dir"
}

# The layer blob files of a layout built by multilayer_image, in order.
multilayer_blobs() {
  local dir="$1"
  sed -n 2p "$dir/sizes" | tr ' ' '\n' | sed "s|^sha256:|$dir/blobs/sha256/|"
}

# "compressed-MiB uncompressed-MiB" of a layout built by multilayer_image.
multilayer_sizes() {
  awk 'NR == 1 { printf "%.0f %.0f\n", $1 / 1048576, $2 / 1048576 }' "$1/sizes"
}

time_rss() {
  local out start end
  out="$(mktemp)"
  # The wall time to the millisecond (GNU time's %e has 10 ms steps); GNU time for the RSS.
  start="$(date +%s%N)"
  /usr/bin/time -f '%M' -o "$out" bash -c "$1 >/dev/null 2>&1" || true
  end="$(date +%s%N)"
  grep -q 'non-zero status' "$out" && echo "failed: $1" >&2
  echo "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }') $(tail -1 "$out")"
  rm -f "$out"
}

median_rss() {
  local runs="$1" cmd="$2" walls=() rss=0 wall r
  for _ in $(seq "$runs"); do
    read -r wall r < <(time_rss "$cmd")
    walls+=("$wall")
    (( r > rss )) && rss="$r"
  done
  printf '%s\n' "${walls[@]}" | sort -g | awk -v rss="$rss" '
    { w[NR] = $1 } END { m = (NR % 2) ? w[(NR + 1) / 2] : (w[NR / 2] + w[NR / 2 + 1]) / 2; print m, w[1], rss }'
}
