#!/usr/bin/env bash
# Installs the local Kafka-protocol broker (Tansu 0.6.0) into a cache folder
# outside the clone, so every clone and CI run on this machine reuses it.
# Prints the path of the tansu binary on stdout; progress goes to stderr.
#
#   TANSU_BIN=/path/to/tansu   use this binary, install nothing
#   WEIBOSTREAM_CACHE_DIR=dir  cache root (default ~/.cache/weibostream)
set -euo pipefail

TANSU_VERSION=0.6.0
if [[ -n "${TANSU_BIN:-}" ]]; then
  [[ -x "$TANSU_BIN" ]] || { echo "TANSU_BIN=$TANSU_BIN is not an executable file" >&2; exit 2; }
  echo "$TANSU_BIN"; exit 0
fi

cache="${WEIBOSTREAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/weibostream}"
root="$cache/tansu-$TANSU_VERSION"
bin="$root/bin/tansu"
if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi

# A tansu already on PATH is used only if it is the version we test against.
if command -v tansu >/dev/null 2>&1 && tansu --version 2>/dev/null | grep -q " $TANSU_VERSION"; then
  command -v tansu; exit 0
fi

echo "installing tansu $TANSU_VERSION into $root (first run only, 8-15 minutes on 2 cores)..." >&2
mkdir -p "$cache"
# dynostore enables the in-memory storage engine the tests and local run use.
cargo install tansu --version "$TANSU_VERSION" --locked --no-default-features \
  --features dynostore --root "$root.partial" >&2
rm -rf "$root" && mv "$root.partial" "$root"
echo "$bin"
