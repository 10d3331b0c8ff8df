#!/usr/bin/env bash
# Runs the whole pipeline on this machine without Docker: a local Tansu
# broker, 1 collector (synthetic posts), 3 filter replicas in one group and
# 1 sink printing Spark-style blocks. Ctrl-C (or SIGTERM) stops everything.
#
# Environment (all optional):
#   RATE=200              synthetic posts per second
#   REPLICAS=3            filter replicas
#   INTERVAL_MS=5000      batch interval
#   RULES=deploy/rules.toml
#   INPUT=path            publish this file (Weibo statuses / posts) instead of synthetic posts
#   RUN_DIR=dir           where logs and the pid list go (default: a new temp dir)
#   TANSU_LOG=warn        the broker's log filter (its log is RUN_DIR/broker.log)
#   SINK__HTTP__BIND=127.0.0.1:9103   the sink's live dashboard and /metrics (off = none)
#   COLLECTOR__HTTP__BIND=127.0.0.1:9101  the collector's /metrics, /healthz, /readyz
#   FILTER__HTTP__BIND    every replica's endpoint (port 0 or off; default: filter-N on 127.0.0.1:911N)
set -euo pipefail
cd "$(dirname "$0")/../.."

RATE="${RATE:-200}"
REPLICAS="${REPLICAS:-3}"
INTERVAL_MS="${INTERVAL_MS:-5000}"
RULES="${RULES:-deploy/rules.toml}"
RUN_DIR="${RUN_DIR:-$(mktemp -d -t weibostream-run.XXXXXX)}"
mkdir -p "$RUN_DIR"
: > "$RUN_DIR/pids"

say() { echo "[run] $*" >&2; }

TANSU="$(deploy/local/install-tansu.sh)"
say "building the services (release)..."
# Cargo's progress stays visible: a first build takes minutes. Only the three
# services: the tests and the benchmark are not needed to run.
cargo build --release -p weibostream-collector -p weibostream-filter -p weibostream-sink
BIN=target/release

port=""
for _ in $(seq 1 100); do
  candidate=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[[ -n "$port" ]] || { say "no free port found"; exit 1; }
broker="127.0.0.1:$port"

# Job control gives each child its own process group, so a terminal's Ctrl-C
# reaches only this script, which then stops the services in order, once.
set -m
# The broker logs only warnings unless TANSU_LOG says otherwise: a RUST_LOG
# meant for the services (info) made it write 1.5 GB in 20 s.
RUST_LOG="${TANSU_LOG:-warn}" "$TANSU" broker --listener-url "tcp://$broker" --advertised-listener-url "tcp://$broker" \
  --storage-engine memory://tansu/ > "$RUN_DIR/broker.log" 2>&1 &
broker_pid=$!
echo "$broker_pid" >> "$RUN_DIR/pids"
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "$broker_pid" 2>/dev/null || { say "broker failed to start:"; cat "$RUN_DIR/broker.log" >&2; exit 1; }
  sleep 0.1
done
say "broker (Tansu) on $broker; logs in $RUN_DIR"

export KAFKA_BROKERS="$broker"
# The local broker's workarounds and tuning (docs/local-broker.md).
export KAFKA_LOCAL_BROKER_QUIRKS=true
export FILTER__BATCH_INTERVAL_MS="$INTERVAL_MS"
export RUST_LOG="${RUST_LOG:-info,rdkafka=warn,librdkafka=warn}"

"$BIN/sink" &
sink_pid=$!
filter_pids=()
filter_urls=()
for i in $(seq 1 "$REPLICAS"); do
  # Each replica needs a port of its own (9111, 9112, ...).
  filter_http="${FILTER__HTTP__BIND:-127.0.0.1:$((9110 + i))}"
  FILTER__HTTP__BIND="$filter_http" "$BIN/filter" --rules "$RULES" --replica-id "filter-$i" &
  filter_pids+=($!)
  filter_urls+=("http://$filter_http/metrics")
done
if [[ -n "${INPUT:-}" ]]; then
  "$BIN/collector" --file "$INPUT" --rate "$RATE" &
else
  "$BIN/collector" --synthetic --rate "$RATE" &
fi
collector_pid=$!
printf '%s\n' "$sink_pid" "${filter_pids[@]}" "$collector_pid" >> "$RUN_DIR/pids"
say "collector -> $REPLICAS filter replicas (group 'filter') -> sink; rules from $RULES. Ctrl-C to stop."
say "metrics: collector http://${COLLECTOR__HTTP__BIND:-127.0.0.1:9101}/metrics, filters ${filter_urls[*]} (port 0: see each 'serving /metrics' log line)"
say "lag: $BIN/filter inspect   (with KAFKA_BROKERS=$broker KAFKA_LOCAL_BROKER_QUIRKS=true)"
sink_http="${SINK__HTTP__BIND:-127.0.0.1:9103}"
case "$sink_http" in
  off|"") ;;
  *:0) say "dashboard: see the sink's 'dashboard url=...' log line (SINK__HTTP__BIND=$sink_http picks a free port)" ;;
  0.0.0.0:*) say "dashboard: http://127.0.0.1:${sink_http##*:}/  (metrics: /metrics)" ;;
  *) say "dashboard: http://$sink_http/  (metrics: /metrics)" ;;
esac

stop_and_wait() {
  local deadline=$((SECONDS + 15))
  kill -TERM "$@" 2>/dev/null || true
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null; do
      if (( SECONDS > deadline )); then say "pid $pid did not stop in time; killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.1
    done
  done
}

stopping=0
shutdown() {
  local code="${1:-0}"
  (( stopping )) && return
  stopping=1
  say "stopping: collector, then filters, then sink, then broker..."
  stop_and_wait "$collector_pid"
  stop_and_wait "${filter_pids[@]}"
  sleep 1  # lets the sink merge the filters' final batch
  stop_and_wait "$sink_pid"
  stop_and_wait "$broker_pid"
  say "stopped"
  exit "$code"
}
trap shutdown INT TERM

# Wait until stopped; a service that dies on its own is reported.
while true; do
  for pid in "$sink_pid" "${filter_pids[@]}" "$broker_pid"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null && code=0 || code=$?
      say "process $pid exited unexpectedly (code $code); stopping the rest"
      shutdown 1
    fi
  done
  sleep 0.5 &
  wait $! || true
done
