#!/usr/bin/env bash
# Builds, when missing, local stand-ins for the two public base images the
# Dockerfile names, for machines that cannot reach an image registry:
#   docker.io/library/debian:bookworm-slim  a Debian bookworm minbase root
#   docker.io/library/rust:1.95-bookworm    that root + build tools + the
#                                           machine's Rust 1.95 toolchain
# The Dockerfile itself stays what Docker users build with the real images.
# Both stand-ins carry this machine's CA bundle, so HTTPS to the package
# registries (cargo, apt over https) works inside a build behind a proxy
# that re-signs TLS. Progress goes to stderr.
#
#   RUST_TOOLCHAIN_DIR=dir  the toolchain to copy (default: rustc's sysroot)
set -euo pipefail
cd "$(dirname "$0")"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/containers.conf}"

debian=docker.io/library/debian:bookworm-slim
rust=docker.io/library/rust:1.95-bookworm
say() { echo "[base-images] $*" >&2; }

if podman image exists "$debian"; then
  say "$debian: present"
else
  say "$debian: building from debootstrap --variant=minbase bookworm (about 4 minutes)..."
  root="$(mktemp -d -t bookworm-root.XXXXXX)"
  trap 'rm -rf "$root"' EXIT
  mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)"
  debootstrap --variant=minbase bookworm "$root" "${mirror:-http://deb.debian.org/debian}" >&2
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt" 2>/dev/null \
    || { mkdir -p "$root/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | podman import --change 'CMD ["bash"]' - "$debian" >&2
  rm -rf "$root"; trap - EXIT
fi

if podman image exists "$rust"; then
  say "$rust: present"
else
  toolchain="${RUST_TOOLCHAIN_DIR:-$(rustc +1.95 --print sysroot 2>/dev/null || rustc --print sysroot)}"
  toolchain="$(readlink -f "$toolchain")"
  "$toolchain/bin/rustc" --version | grep -q '^rustc 1\.95\.' \
    || { say "$toolchain is not Rust 1.95"; exit 2; }
  say "$rust: $debian + build tools + $toolchain (about 2 minutes)..."
  podman build --network host -v "$toolchain:/host-toolchain:ro" -t "$rust" -f rust-standin.Containerfile . >&2
fi
