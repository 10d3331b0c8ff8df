#!/usr/bin/env bash
# Builds the image localhost/weibostream-tansu:local from the Tansu binary
# deploy/local/install-tansu.sh provides (installing it when missing), with
# podman. Skips the build when the image exists and holds the same binary.
# Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}"
image=localhost/weibostream-tansu:local
tansu="$(deploy/local/install-tansu.sh)"
sum="$(sha256sum "$tansu" | cut -d' ' -f1)"
if [[ "$(podman image inspect --format '{{index .Labels "tansu.sha256"}}' "$image" 2>/dev/null)" == "$sum" ]]; then
  echo "[tansu-image] $image: present" >&2
  exit 0
fi
context="$(mktemp -d -t tansu-image.XXXXXX)"
trap 'rm -rf "$context"' EXIT
cp deploy/tansu/Containerfile "$context/"
cp "$tansu" "$context/tansu"
podman build --label "tansu.sha256=$sum" -t "$image" "$context" >&2
