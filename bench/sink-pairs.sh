#!/usr/bin/env bash
# The sink with its store on and off, in alternated rounds (docs/history.md,
# "The sink with history and alerts on"): each round runs the benchmark's
# end-to-end step (5000 posts/s for 30 s, collector -> 3 filters -> sink)
# once per mode, so a busy machine hits every mode alike. One line per run:
# publish -> output p50, after-close p50, the sink's peak RSS and CPU, and the
# load average before and after.
#
#   bench/sink-pairs.sh ROUNDS [MODE...]      # modes: off (default), sqlite, postgres
#   bench/sink-pairs.sh 8 off sqlite postgres
#
# sqlite: history (SQLite) + alerts + retention; postgres: the same on the
# database bench_sinkmem of $WEIBOSTREAM_PG_URL's server, dropped and created
# again before each run. Needs TANSU_BIN and the release binaries
# (cargo build --release -p weibostream-sink -p weibostream-collector
# -p weibostream-filter -p weibostream-bench). BIN_DIR (target/release) and
# WORK_DIR (target/bench/sink-pairs) can be overridden; other environment
# variables reach every service (e.g. MALLOC_ARENA_MAX=2 to try glibc knobs).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:?usage: bench/sink-pairs.sh ROUNDS [off|sqlite|postgres]...}
shift
modes=("${@:-off}")
bin=${BIN_DIR:-target/release}
work=${WORK_DIR:-target/bench/sink-pairs}
: "${TANSU_BIN:?set TANSU_BIN (deploy/local/install-tansu.sh prints it)}"

run() {
  local label=$1 mode=$2 w=$work/$1 store=()
  rm -rf "$w"
  mkdir -p "$w"
  case $mode in
    off) ;;
    sqlite) store=(SINK__SQLITE_PATH="$w/history.db") ;;
    postgres)
      : "${WEIBOSTREAM_PG_URL:?set WEIBOSTREAM_PG_URL}"
      psql -q "$WEIBOSTREAM_PG_URL" -c 'DROP DATABASE IF EXISTS bench_sinkmem' \
        -c 'CREATE DATABASE bench_sinkmem' > /dev/null
      store=(SINK__POSTGRES_URL="${WEIBOSTREAM_PG_URL%/*}/bench_sinkmem") ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac
  if [[ $mode != off ]]; then
    store+=(SINK__ALERTS__RULES_PATH=bench/rules20-alerts.toml SINK__RETENTION_DAYS=7)
  fi
  local load_before
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  env "${store[@]}" "$bin/weibostream-bench" --posts 20000 --replicas 1 --pairs 1 \
    --e2e-rate 5000 --e2e-seconds 30 --rules bench/rules20-alerts.toml --bin-dir "$bin" \
    --work-dir "$w" --out "$w/result.json" > "$w/stdout.txt" 2> "$w/stderr.txt" || true
  python3 - "$label" "$(cut -d' ' -f1 /proc/loadavg)" "$load_before" "$w/result.json" <<'PY'
import json, sys
label, load_after, load_before, path = sys.argv[1:]
try:
    e = json.load(open(path))["e2e"]
except Exception as error:
    print(f"{label} failed: {error}")
    sys.exit()
print(f"{label} load {load_before}/{load_after} outputs {e['outputs']} "
      f"publish->output p50 {e['raw_ms']['p50']:.0f} ms, after close p50 "
      f"{e['after_close_ms']['p50']:.1f} ms, sink peak RSS {e['sink']['peak_rss_mb']:.2f} MiB, "
      f"CPU {e['sink']['cpu_s']:.2f} s")
PY
}

for round in $(seq 1 "$rounds"); do
  for mode in "${modes[@]}"; do
    run "r$round-$mode" "$mode"
  done
done
