# Alpine minirootfs images for the benches (sourced; needs work and testdata).

# alpine_image LAYOUT VERSION: the Alpine VERSION minirootfs (testdata) as the image
# LAYOUT:VERSION of an OCI layout, built with umoci unless already there (cached).
alpine_image() {
  local layout="$1" v="$2"
  if ! grep -q "\"$v\"" "$layout/index.json" 2>/dev/null; then
    [[ -f "$layout/index.json" ]] || umoci init --layout "$layout"
    umoci new --image "$layout:$v"
    umoci unpack --rootless --image "$layout:$v" "$work/bundle-$v" >/dev/null
    tar -C "$work/bundle-$v/rootfs" -xzf "$testdata/images/alpine/alpine-minirootfs-$v-x86_64.tar.gz"
    umoci repack --image "$layout:$v" "$work/bundle-$v"
    rm -rf "$work/bundle-$v"
  fi
}
