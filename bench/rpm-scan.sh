#!/usr/bin/env bash
# Benchmark: a full `portcullis scan` (pull from a local registry, catalog, match, render JSON)
# of an rpm-based image of about 200 packages with a SQLite rpm database, next to the Alpine
# path on the same registry. The rpm image is AlmaLinux 9: the 102 rpms of the real
# almalinux:9-minimal inventory (testdata/pkgdb/inventories/almalinux-9-minimal.tsv: names,
# versions, source rpms) and a `-devel` sub-package of as many of their sources as it takes to
# reach PACKAGES (default 200; then `-doc`, ...), each with FILES files (default 60, so that
# headers carry file lists as real ones do), built with Debian's rpmbuild and installed with
# `rpm --root R --dbpath /var/lib/rpm --justdb --nodeps -i` (as crates/cli/tests/it/distros.rs
# does), packed with umoci and pushed with skopeo into a docker-registry on 127.0.0.1. The
# database holds the real AlmaLinux OSV records and the Alpine v3.20 secdb.
# The inventory shows no epochs, so the rpms whose real epoch is not 0 (openssl's is 1) come out
# older than the advisories' fixes: the findings are many more than the real image's.
# Prints the median of RUNS (default 5) full scans of each image (target for the rpm image:
# <= 0.3 s) and the time per package.
# Needs: rpmbuild, rpm, umoci, skopeo, docker-registry, curl, bc, python3.
needs="rpmbuild rpm umoci skopeo docker-registry curl bc"
name="rpm-scan"
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
want="${PACKAGES:-200}"
files="${FILES:-60}"

# 1. The rpms and their database (cached).
rootfs="$work/rootfs-$want-$files"
if [[ ! -f "$rootfs/var/lib/rpm/rpmdb.sqlite" ]]; then
  rm -rf "$work/specs" "$work/rpmbuild" "$rootfs"
  mkdir -p "$work/specs"
  python3 - "$testdata/pkgdb/inventories/almalinux-9-minimal.tsv" "$work/specs" "$want" "$files" <<'PY'
import os, re, sys
inventory, out, want, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sources = {}
for line in open(inventory):
    if line.startswith("#") or not line.strip():
        continue
    nvra, srpm = line.split("\t")[:2]
    name = nvra.rsplit(".", 1)[0].rsplit("-", 2)[0]
    parsed = re.match(r"(.+)-([^-]+)-([^-]+)\.src\.rpm$", srpm)
    if not parsed:  # gpg-pubkey: a key, not a package built from a source
        continue
    source, version, release = parsed.groups()
    sources.setdefault((source, version, release), []).append(name)
total = sum(len(b) for b in sources.values())
for suffix in ["-devel", "-doc", "-static", "-tools"]:
    for binaries in sources.values():
        extra = f"{binaries[0]}{suffix}"
        if total < want and extra not in binaries:
            binaries.append(extra)
            total += 1
for (source, version, release), binaries in sources.items():
    spec = [f"Name: {source}", f"Version: {version}", f"Release: {release}", "Summary: bench",
            "License: MIT", "BuildArch: noarch", "%description", "bench", "%install"]
    # FILES files per package, so that each header carries a file list as real ones do.
    for binary in binaries:
        spec.append(f"mkdir -p %{{buildroot}}/usr/share/{binary}; for i in $(seq {files}); do "
                    f"echo {binary} $i > %{{buildroot}}/usr/share/{binary}/file$i; done")
    for binary in binaries:
        if binary == source:
            spec.append("%files")
        else:
            spec += [f"%package -n {binary}", "Summary: bench", f"%description -n {binary}", "bench",
                     f"%files -n {binary}"]
        spec.append(f"/usr/share/{binary}")
    open(os.path.join(out, f"{source}.spec"), "w").write("\n".join(spec) + "\n")
print(total)
PY
  for spec in "$work"/specs/*.spec; do
    rpmbuild -bb --quiet --define "_topdir $work/rpmbuild" "$spec" >/dev/null 2>&1
  done
  rpm --root "$rootfs" --dbpath /var/lib/rpm --justdb --nodeps --noscripts -i "$work"/rpmbuild/RPMS/noarch/*.rpm 2>/dev/null
  mkdir -p "$rootfs/etc"
  cat >"$rootfs/etc/os-release" <<'EOF'
NAME="AlmaLinux"
VERSION="9.8 (Moss Jungle Cat)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.8"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.8 (Moss Jungle Cat)"
EOF
fi
installed=$(rpm --root "$rootfs" --dbpath /var/lib/rpm -qa | wc -l)

# 2. OCI images (cached): the rpm image, and Alpine 3.20.3's minirootfs.
layout="$work/layout"
if [[ ! -f "$layout/index.json" ]] || ! grep -q "\"alma-$want-$files\"" "$layout/index.json"; then
  [[ -f "$layout/index.json" ]] || umoci init --layout "$layout"
  umoci new --image "$layout:alma-$want-$files"
  umoci unpack --rootless --image "$layout:alma-$want-$files" "$work/bundle" >/dev/null
  cp -a "$rootfs/." "$work/bundle/rootfs/"
  umoci repack --image "$layout:alma-$want-$files" "$work/bundle"
  rm -rf "$work/bundle"
fi
if ! grep -q '"alpine-3.20.3"' "$layout/index.json"; then
  umoci new --image "$layout:alpine-3.20.3"
  umoci unpack --rootless --image "$layout:alpine-3.20.3" "$work/bundle" >/dev/null
  tar -C "$work/bundle/rootfs" -xzf "$testdata/images/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz"
  umoci repack --image "$layout:alpine-3.20.3" "$work/bundle"
  rm -rf "$work/bundle"
fi

# 3. The registry, both images pushed.
# shellcheck source=bench/registry.sh
source "$here/registry.sh"
trap 'kill $regpid 2>/dev/null; rm -rf "$regdir"' EXIT
alma="127.0.0.1:$port/almalinux:9-bench"
alpine="127.0.0.1:$port/alpine:3.20.3"
skopeo --insecure-policy copy --dest-tls-verify=false "oci:$layout:alma-$want-$files" "docker://$alma" >/dev/null
skopeo --insecure-policy copy --dest-tls-verify=false "oci:$layout:alpine-3.20.3" "docker://$alpine" >/dev/null

# 4. The database (cached; rebuilt when this build cannot read it).
db="$work/db.sqlite"
if ! "$portcullis" --db "$db" db status >/dev/null 2>&1; then
  rm -f "$db" "$db.tmp"
  "$portcullis" --db "$db.tmp" db import "$testdata/advisories/osv/AlmaLinux/all.zip" \
    "$testdata/advisories/alpine-secdb/v3.20" >/dev/null
  mv "$db.tmp" "$db"
fi

# "median-seconds packages findings" of $runs full scans of $1.
median_scan() {
  local times=() out
  out="$(mktemp)"
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s.%N)
    "$portcullis" -q --db "$db" scan --insecure -f json "$1" >"$out"
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
  read -r packages findings < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["packages"]), len(d["vulnerabilities"]))' "$out")
  rm -f "$out"
  echo "$median $packages $findings"
}

read -r alma_s alma_packages alma_findings < <(median_scan "$alma")
read -r alpine_s alpine_packages alpine_findings < <(median_scan "$alpine")
[[ "$alma_packages" == "$installed" ]] || echo "warning: the scan found $alma_packages rpms, rpm -qa lists $installed" >&2

printf '\n%-34s %9s %9s %10s %12s\n' image packages findings "median_s" "ms/package"
printf '%-34s %9s %9s %10.3f %12.2f\n' "AlmaLinux 9, SQLite rpmdb" "$alma_packages" "$alma_findings" "$alma_s" \
  "$(echo "$alma_s * 1000 / $alma_packages" | bc -l)"
printf '%-34s %9s %9s %10.3f %12.2f\n' "Alpine 3.20.3 minirootfs" "$alpine_packages" "$alpine_findings" "$alpine_s" \
  "$(echo "$alpine_s * 1000 / $alpine_packages" | bc -l)"
echo "(full scans from a registry on 127.0.0.1: pull, catalog, match, JSON; median of $runs runs; target for the rpm image <= 0.3 s)"
