#!/usr/bin/env bash
# Build the Portcullis container image as an OCI image layout, tagged `latest`, with umoci
# (no Docker engine). Prints the manifest digest as its last line.
#
#   scripts/build-image.sh OUT
#
# Contents: the binary (/usr/local/bin/portcullis), exactly the shared libraries `ldd` names
# plus the dynamic loader (with the host's symlinks on the way, e.g. /lib -> usr/lib), the
# host's CA bundle and /etc/os-release, /etc/passwd and /etc/group with the user nonroot (65532), /tmp (1777),
# and one /var/lib/dpkg/status.d/<package> stanza per Debian package owning a library.
# Nothing else: no shell, no package manager.
#
# Reproducible: the same binary, host libraries and SOURCE_DATE_EPOCH give the same digest.
#
# Environment:
#   PORTCULLIS_BIN     use this binary instead of `cargo build --release -p portcullis-cli`
#   PORTCULLIS_STRIP   1 (default): strip debug info from the copied binary (as the release
#                      profile does); 0: copy it unchanged
#   SOURCE_DATE_EPOCH  file mtimes and the `created` time (default: the last commit's time,
#                      else 0)
set -euo pipefail
umask 022
export LC_ALL=C TZ=UTC

die() {
    echo "build-image: $*" >&2
    exit 2
}

[ $# -eq 1 ] || die "usage: $0 OUT"
OUT=$1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

for tool in umoci ldd dpkg-query python3; do
    command -v "$tool" >/dev/null || die "needs '$tool' on PATH"
done

# --- inputs ---------------------------------------------------------------------------------
if [ -n "${PORTCULLIS_BIN:-}" ]; then
    BIN=$PORTCULLIS_BIN
else
    (cd "$ROOT" && cargo build --release --locked -p portcullis-cli >&2)
    BIN=$ROOT/target/release/portcullis
fi
[ -x "$BIN" ] || die "no executable binary at $BIN"

# The first `version`/`repository` of the workspace manifest's [workspace.package].
cargo_field() {
    sed -n "s/^$1 *= *\"\(.*\)\"/\1/p" "$ROOT/Cargo.toml" | head -n1
}
VERSION=$(cargo_field version)
SOURCE=$(cargo_field repository)
[ -n "$VERSION" ] || die "no version in $ROOT/Cargo.toml"
REVISION=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || true)
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)
fi
[[ $SOURCE_DATE_EPOCH =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH must be a number of seconds"
CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

# --- the root filesystem ----------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-image-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS"

# Copy host file $1 to the same path in the image, recreating every symlink met on the way
# (so /lib64/ld-linux-x86-64.so.2 still resolves to the loader inside the image).
copy_host_path() {
    local path prefix="" part rest target
    path=$(realpath -sm "$1")
    IFS=/ read -ra parts <<<"${path#/}"
    local i
    for i in "${!parts[@]}"; do
        part=${parts[$i]}
        prefix=$prefix/$part
        if [ -L "$prefix" ]; then
            target=$(readlink "$prefix")
            mkdir -p "$ROOTFS$(dirname "$prefix")"
            [ -L "$ROOTFS$prefix" ] || ln -s "$target" "$ROOTFS$prefix"
            rest=$(IFS=/; echo "${parts[*]:$((i + 1))}")
            case $target in
                /*) copy_host_path "$target/$rest" ;;
                *) copy_host_path "$(dirname "$prefix")/$target/$rest" ;;
            esac
            return
        fi
    done
    [ -f "$path" ] || die "$path is not a regular file"
    mkdir -p "$ROOTFS$(dirname "$path")"
    cp "$path" "$ROOTFS$path"
    chmod u+w,go-w "$ROOTFS$path"
}

mkdir -p "$ROOTFS/usr/local/bin"
cp "$BIN" "$ROOTFS/usr/local/bin/portcullis"
chmod 0755 "$ROOTFS/usr/local/bin/portcullis"
if [ "${PORTCULLIS_STRIP:-1}" = 1 ]; then
    command -v strip >/dev/null || die "needs 'strip' (binutils), or PORTCULLIS_STRIP=0"
    strip --strip-debug "$ROOTFS/usr/local/bin/portcullis"
fi

# The libraries as ldd names them ("libc.so.6 => /lib/.../libc.so.6 (0x..)") and the loader
# ("/lib64/ld-linux-x86-64.so.2 (0x..)"); the vDSO has no file.
mapfile -t LIBS < <(ldd "$BIN" | awk '
    $2 == "=>" && $3 ~ /^\// { print $3; next }
    $1 ~ /^\// { print $1 }' | sort -u)
[ ${#LIBS[@]} -gt 0 ] || die "ldd names no libraries for $BIN (a static binary needs none: not supported here)"
for lib in "${LIBS[@]}"; do
    copy_host_path "$lib"
done

# One dpkg status stanza per package owning a library, in status.d as distroless does.
mkdir -p "$ROOTFS/var/lib/dpkg/status.d"
for lib in "${LIBS[@]}"; do
    owner=$(dpkg-query -S "$lib" 2>/dev/null || dpkg-query -S "$(readlink -f "$lib")" 2>/dev/null) ||
        die "no Debian package owns $lib"
    echo "${owner%%: *}"
done | tr ', ' '\n\n' | sed '/^$/d' | sort -u | while read -r pkg; do
    name=${pkg%%:*}
    dpkg-query -s "$pkg" >"$ROOTFS/var/lib/dpkg/status.d/$name" ||
        die "dpkg has no status for $pkg"
done

# The distribution's identity, so scanners match the status.d packages against its advisories.
copy_host_path /etc/os-release

mkdir -p "$ROOTFS/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
cat >"$ROOTFS/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin
EOF
cat >"$ROOTFS/etc/group" <<'EOF'
root:x:0:
nonroot:x:65532:
EOF
mkdir -p "$ROOTFS/tmp"
chmod 1777 "$ROOTFS/tmp"

# Fixed owners and mtimes everywhere (umoci sorts the entries it writes).
chown -hR 0:0 "$ROOTFS"
find "$ROOTFS" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# --- the image ---------------------------------------------------------------------------------
rm -rf "$OUT"
umoci init --layout "$OUT"
umoci new --image "$OUT:latest"
ROOTLESS=()
[ "$(id -u)" = 0 ] || ROOTLESS=(--rootless)
umoci unpack "${ROOTLESS[@]}" --image "$OUT:latest" "$WORK/bundle" >/dev/null
rmdir "$WORK/bundle/rootfs"
mv "$ROOTFS" "$WORK/bundle/rootfs"
touch -h -d "@$SOURCE_DATE_EPOCH" "$WORK/bundle/rootfs"
umoci repack --image "$OUT:latest" \
    --history.created "$CREATED" \
    --history.created_by "scripts/build-image.sh" \
    --history.comment "portcullis $VERSION" \
    "$WORK/bundle"
REVISION_LABEL=()
[ -z "$REVISION" ] || REVISION_LABEL=(--config.label "org.opencontainers.image.revision=$REVISION")
umoci config --image "$OUT:latest" --no-history \
    --created "$CREATED" \
    --author "" \
    --config.user 65532:65532 \
    --config.entrypoint /usr/local/bin/portcullis \
    --config.cmd serve \
    --config.exposedports 8443/tcp \
    --config.env PATH=/usr/local/bin \
    --config.label "org.opencontainers.image.source=$SOURCE" \
    --config.label "org.opencontainers.image.version=$VERSION" \
    "${REVISION_LABEL[@]}" \
    --config.label "org.opencontainers.image.created=$CREATED" \
    --config.label "org.opencontainers.image.licenses=Apache-2.0" \
    --config.label "org.opencontainers.image.title=portcullis"
umoci gc --layout "$OUT"

python3 - "$OUT" <<'EOF'
import json, sys
index = json.load(open(sys.argv[1] + "/index.json"))
tagged = [m for m in index["manifests"]
          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "latest"]
print(tagged[0]["digest"])
EOF
