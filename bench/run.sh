#!/usr/bin/env bash
# The benchmark (issue #4), in one run on a fresh local broker: load N
# synthetic posts with the collector, a null consumer (the limit), the filter
# in 1/2/3 replicas with and without text features, a Quix Streams peer, and
# end-to-end latency at 20,000 posts/s. Prints a table; writes
# bench/results/latest.json (and bench/results/<date>-<desc>.json with --desc).
#
#   bench/run.sh                       # the default run (1,000,000 posts, < 10 min)
#   bench/run.sh --posts 200000        # smaller
#   bench/run.sh --desc quiet-machine  # also keep a dated copy
#   bench/run.sh --no-quix --no-text   # Rust parts only
#   Other flags go to target/release/weibostream-bench (see its --help).
#
# Installs what is missing: the local broker, the release binaries, a
# git-ignored virtualenv bench/.venv with quixstreams (from PyPI), the
# sentiment data and a classifier model (target/bench/model.json).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[bench] $*" >&2; }
quix=1 text=1 args=()
for arg in "$@"; do
  case "$arg" in
    --no-quix) quix=0 ;;
    --no-text) text=0 ;;
    *) args+=("$arg") ;;
  esac
done

TANSU_BIN="$(deploy/local/install-tansu.sh)"
export TANSU_BIN
say "building the release binaries..."
cargo build --release --bins --quiet

mkdir -p target/bench
if (( text )); then
  model=target/bench/model.json
  if [[ ! -s "$model" ]]; then
    data="$(deploy/data/fetch-sentiment-data.sh)"
    say "training the classifier model for the text runs..."
    target/release/filter train --input "$data/zh.jsonl" --out "$model.partial" >&2
    mv "$model.partial" "$model"
  fi
  args+=(--model "$model")
fi
if (( quix )); then
  if ! bench/.venv/bin/python -c 'import quixstreams' 2>/dev/null; then
    say "installing Quix Streams into bench/.venv..."
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install --quiet quixstreams
  fi
  args+=(--quix-venv bench/.venv)
fi
exec target/release/weibostream-bench "${args[@]}"
