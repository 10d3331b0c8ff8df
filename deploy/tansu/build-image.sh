#!/usr/bin/env bash
# Builds the image localhost/weibostream-tansu:local from the Tansu binary
# deploy/local/install-tansu.sh provides (installing it when missing), with
# podman or docker (CONTAINER_ENGINE=docker|podman picks one). Skips the
# build when the image exists and holds the same binary. Progress goes to
# stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
engine="${CONTAINER_ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}"
image=localhost/weibostream-tansu:local
tansu="$(deploy/local/install-tansu.sh)"
sum="$(sha256sum "$tansu" | cut -d' ' -f1)"
if [[ "$("$engine" image inspect --format '{{index .Config.Labels "tansu.sha256"}}' "$image" 2>/dev/null)" == "$sum" ]]; then
  echo "[tansu-image] $image: present" >&2
  exit 0
fi
context="$(mktemp -d -t tansu-image.XXXXXX)"
trap 'rm -rf "$context"' EXIT
cp deploy/tansu/Containerfile "$context/"
cp "$tansu" "$context/tansu"
"$engine" build --label "tansu.sha256=$sum" -t "$image" "$context" >&2
