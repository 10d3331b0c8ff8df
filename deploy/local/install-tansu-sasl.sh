#!/usr/bin/env bash
# Installs a Tansu broker that can check SASL/SCRAM logins, for the Kafka
# security tests, into the cache folder outside the clone. Prints the path of
# its tansu binary on stdout; progress goes to stderr.
#
# Why a second broker: the prebuilt Tansu (install-tansu.sh) has only the
# memory/S3 engine ("dynostore"), whose user store keeps nothing (creating a
# SCRAM user is a no-op there, so every SCRAM login is refused as an unknown
# user). Tansu 0.6.0 with its SQLite engine (`--storage-engine
# sqlite://FILE`, feature libsql) stores SCRAM credentials in the file and
# creates its schema itself, so with `--authentication` it accepts the right
# password and refuses a wrong one. It is built from source (crates.io,
# pinned with --locked) the first time, then cached. It is built without
# optimisation (--debug, no debug info): the tests send it a few logins and
# records, and the unoptimised build takes a third of the release build's
# CPU time (docs/kafka-security.md).
#
#   TANSU_SASL_BIN=/path/to/tansu   use this binary, install nothing
#   WEIBOSTREAM_CACHE_DIR=dir       cache root (default ~/.cache/weibostream)
set -euo pipefail

if [[ -n "${TANSU_SASL_BIN:-}" ]]; then
  [[ -x "$TANSU_SASL_BIN" ]] || { echo "TANSU_SASL_BIN=$TANSU_SASL_BIN is not an executable file" >&2; exit 2; }
  echo "$TANSU_SASL_BIN"; exit 0
fi

cache="${WEIBOSTREAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/weibostream}"
mkdir -p "$cache"
TANSU_VERSION=0.6.0
root="$cache/tansu-$TANSU_VERSION-sqlite-debug"
bin="$root/bin/tansu"

if [[ ! -x "$bin" ]]; then
  echo "building tansu $TANSU_VERSION with the SQLite engine into $root (about 10 minutes on 2 cores, once)..." >&2
  started=$SECONDS
  rm -rf "$root.partial"
  CARGO_PROFILE_DEV_DEBUG=0 cargo install tansu --version "$TANSU_VERSION" --locked \
    --no-default-features --features libsql --debug --root "$root.partial" >&2
  rm -rf "$root" && mv "$root.partial" "$root"
  echo "built in $(( SECONDS - started )) s" >&2
fi
echo "$bin"
