#!/usr/bin/env bash
# Makes headless Chromium available for the dashboard's browser test:
# installs Debian's `chromium` package when /usr/bin/chromium is missing.
# Prints the browser's path on stdout; progress goes to stderr.
#
#   CHROMIUM_BIN=path   use this browser, install nothing
set -euo pipefail

if [[ -n "${CHROMIUM_BIN:-}" ]]; then echo "$CHROMIUM_BIN"; exit 0; fi

bin=/usr/bin/chromium
if [[ ! -x "$bin" ]]; then
  echo "installing Chromium (Debian package chromium)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >&2
fi
[[ -x "$bin" ]] || { echo "no $bin after installing the chromium package" >&2; exit 1; }
echo "$bin"
