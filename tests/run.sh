#!/usr/bin/env bash
# The one test command (CI runs it too): installs what is missing (the local
# Tansu broker, cached outside the clone; Debian's PostgreSQL and Chromium;
# stunnel and a SCRAM-checking broker for the security tests), builds the
# services, checks format and lints, runs every unit and integration test,
# then the container test (tests/containers.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# A build from scratch fills target/ with ~4.5 GiB; when the disk runs out
# mid-build, rustc fails with an LLVM I/O error that does not say why.
free_kib="$(df -Pk . | awk 'NR == 2 { print $4 }')"
if (( free_kib < 5 * 1024 * 1024 )); then
  echo "warning: $(( free_kib / 1024 )) MiB free on this disk; a build from scratch needs about 4.5 GiB (target/)" >&2
fi

cache="${WEIBOSTREAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/weibostream}"
# Build outputs live outside the clone, so a fresh clone on this machine
# reuses the compiled dependencies (target/ is a link to the cache).
if [[ ! -e target && -z "${CARGO_TARGET_DIR:-}" ]]; then
  mkdir -p "$cache/target"
  ln -s "$cache/target" target
fi

echo "== build tools (OpenSSL headers for the Kafka client's TLS)" >&2
if ! pkg-config --exists openssl 2>/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libssl-dev pkg-config >&2
fi

echo "== local broker" >&2
TANSU_BIN="$(deploy/local/install-tansu.sh)"
export TANSU_BIN
echo "tansu: $TANSU_BIN" >&2

echo "== PostgreSQL (for the PostgreSQL sink tests)" >&2
WEIBOSTREAM_PG_URL="$(deploy/local/ensure-postgres.sh)"
export WEIBOSTREAM_PG_URL

echo "== Chromium (for the dashboard's browser test)" >&2
CHROMIUM_BIN="$(deploy/local/ensure-chromium.sh)"
export CHROMIUM_BIN

echo "== TLS and SASL endpoints (stunnel; a broker that checks SCRAM logins)" >&2
STUNNEL_BIN="$(deploy/local/ensure-stunnel.sh)"
export STUNNEL_BIN
TANSU_SASL_BIN="$(deploy/local/install-tansu-sasl.sh)"
export TANSU_SASL_BIN

echo "== build (release)" >&2
cargo build --release --bins

echo "== format and lints" >&2
cargo fmt --all -- --check
cargo clippy --release --all-targets -- -D warnings

echo "== tests" >&2
# cargo-nextest (on every machine of this kind) runs the test binaries side
# by side with the limits in .config/nextest.toml; plain cargo test otherwise.
if cargo nextest --version >/dev/null 2>&1; then
  # local_run (the README's run command as real processes) once failed
  # under nextest, 3 of 3 times, with two filter replicas never joining;
  # later the same symptom under cargo test was traced to the test's own
  # wait racing run.sh's build step (fixed). Not retried under nextest yet,
  # so it still runs on its own, under cargo test.
  cargo nextest run --release --workspace -E 'not binary(local_run)'
  # --workspace, not -p: features are resolved per selected package set, and
  # `-p weibostream-tests` alone rebuilt serde, tokio and everything above them.
  cargo test --release --workspace --test local_run
  # No `cargo test --doc`: every library sets `doctest = false` (there are
  # no doctests; the step compiled for a minute to run none).
else
  cargo test --release --workspace
fi

echo "== containers (the image and the compose stack, with podman)" >&2
tests/containers.sh
