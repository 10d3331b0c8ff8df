#!/usr/bin/env bash
# Makes stunnel (a real TLS server) and the openssl command available for the
# Kafka TLS tests: the tests put stunnel in front of the local broker and
# make their CA, server and client certificates with openssl. Installs
# Debian's `stunnel4` (and `openssl`) when missing. Prints the stunnel path on
# stdout; progress goes to stderr.
#
#   STUNNEL_BIN=path   use this stunnel, install nothing
set -euo pipefail

if [[ -n "${STUNNEL_BIN:-}" ]]; then echo "$STUNNEL_BIN"; exit 0; fi

bin="$(command -v stunnel4 || command -v stunnel || true)"
if [[ -z "$bin" || ! -x "$(command -v openssl || true)" ]]; then
  echo "installing stunnel and openssl (Debian packages stunnel4, openssl)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends stunnel4 openssl >&2
  bin="$(command -v stunnel4 || command -v stunnel || true)"
fi
[[ -n "$bin" && -x "$bin" ]] || { echo "no stunnel after installing the stunnel4 package" >&2; exit 1; }
command -v openssl >/dev/null || { echo "no openssl after installing the openssl package" >&2; exit 1; }
echo "$bin"
