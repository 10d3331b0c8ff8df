#!/usr/bin/env bash
# The container test: the image built from the Dockerfile and the compose
# stack run for real, the way users run it, with podman standing in for the
# Docker engine and the local broker (Tansu) in a container standing in for
# Redpanda (deploy/tansu/compose.override.yml). tests/run.sh calls it.
#
# It installs what it needs (podman, runc, debootstrap, docker-compose;
# skipped when present), builds the base images when missing, builds the
# project's image, starts the stack with --scale filter=3, feeds a known
# number of synthetic posts, and checks against an independent oracle
# (tests/containers/oracle.py): every replica got partitions; the sink's
# blocks say 3 replicas and 6/6 partitions; the output equals the oracle with
# no duplicates; the dashboard and /metrics answer on the published port;
# stopping and starting one replica mid-stream, and SIGKILL of another (the
# restart policy brings it back), lose and double nothing; scaling 3 -> 1 -> 3
# keeps every partition owned; stopping the stack ends every service within
# its stop grace period with exit code 0.
#
#   POSTS=30000 RATE=150   the synthetic posts (count, per second): long enough
#                          that the faults below happen mid-stream
#   KEEP=1                 leave the stack running at the end
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
POSTS="${POSTS:-30000}"
RATE="${RATE:-150}"
say() { echo "[containers] $(date -u +%H:%M:%S) $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

# --- what the test needs -----------------------------------------------------
missing=()
for cmd in podman runc debootstrap docker-compose catatonit; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
if ((${#missing[@]})); then
  say "installing podman runc debootstrap docker-compose catatonit (missing: ${missing[*]})"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    podman runc debootstrap docker-compose catatonit >&2
fi
export CONTAINERS_CONF="$root/deploy/podman/containers.conf"
deploy/podman/base-images.sh
deploy/tansu/build-image.sh

say "building the image (podman build from the Dockerfile)"
build_start=$SECONDS
podman build --network host -t localhost/weibostream:local . > /tmp/weibostream-image-build.log 2>&1 \
  || { tail -n 60 /tmp/weibostream-image-build.log >&2; fail "podman build"; }
build_seconds=$((SECONDS - build_start))
deps_layer="rebuilt"
grep -q -- '--> Using cache' /tmp/weibostream-image-build.log && deps_layer="cached"
image_bytes="$(podman image inspect --format '{{.Size}}' localhost/weibostream:local)"
say "image built in ${build_seconds} s (dependency layer $deps_layer); size $((image_bytes / 1000000)) MB"

# --- the Docker API, served by podman ------------------------------------------
work="$(mktemp -d -t weibostream-containers.XXXXXX)"
sock="$work/podman.sock"
podman system service --time=0 "unix://$sock" > "$work/podman-service.log" 2>&1 &
service_pid=$!
export DOCKER_HOST="unix://$sock"
for _ in $(seq 1 100); do [[ -S "$sock" ]] && break; sleep 0.1; done
project=wsct
# podman runs healthchecks from systemd timers, and none run here: run them
# every 2 s, so depends_on's service_healthy works as under Docker.
(
  while kill -0 "$service_pid" 2>/dev/null; do
    for name in $(podman ps --format '{{.Names}}' --filter "name=^${project}_" 2>/dev/null); do
      podman healthcheck run "$name" > /dev/null 2>&1 || true
    done
    sleep 2
  done
) &
compose() {
  docker-compose -p "$project" -f docker-compose.yml -f deploy/tansu/compose.override.yml "$@"
}
cleanup() {
  local code=$?
  if ((code != 0)); then
    say "logs of the failed run:"
    compose ps >&2 || true
    compose logs --no-color --tail 40 >&2 2>/dev/null || true
  fi
  if [[ -z "${KEEP:-}" ]]; then
    compose down -v --timeout 5 > /dev/null 2>&1 || true
    kill "$service_pid" 2>/dev/null || true
    rm -rf "$work"
  else
    say "KEEP=1: stack left running; DOCKER_HOST=$DOCKER_HOST docker-compose -p $project ..."
  fi
}
trap cleanup EXIT
compose down -v --timeout 5 > /dev/null 2>&1 || true

# --- helpers ---------------------------------------------------------------
container() { echo "${project}_$1"; }
filters() { podman ps --format '{{.Names}}' --filter "name=^${project}_filter_" | sort; }
sink_log() { podman logs "$(container sink_1)" 2>/dev/null; }
# Waits up to $1 seconds for the command in the remaining arguments.
wait_for() {
  local timeout=$1; shift
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}
# The footer of the sink's latest block: "... | 3 replicas, 6/6 partitions | ...".
last_footer() { sink_log | grep -E '^\([0-9]+ posts in' | tail -n 1; }
footer_says() { last_footer | grep -qE "\| $1 replicas?, 6/6 partitions \|"; }
blocks_since() { sink_log | grep -cE '^\([0-9]+ posts in' || true; }
ip_of() { podman inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
# Assigned partitions per replica, from each replica's /metrics on its
# container address (not published to the host, as in the compose file).
assigned() {
  local name ip
  for name in $(filters); do
    ip="$(ip_of "$name")"
    printf '%s %s\n' "$name" \
      "$(curl -sf --max-time 2 "http://$ip:9102/metrics" | awk '$1 == "weibostream_filter_assigned_partitions" { print $2 }')"
  done
}
every_replica_owns() { # count of replicas expected
  local lines total=0 n=0 parts
  lines="$(assigned)"
  while read -r _ parts; do
    [[ -n "$parts" && "$parts" -gt 0 ]] || return 1
    total=$((total + parts)); n=$((n + 1))
  done <<< "$lines"
  ((n == $1 && total == 6))
}
collector_exited() { [[ "$(podman inspect --format '{{.State.Status}}' "$(container collector_1)")" == exited ]]; }

# --- up --------------------------------------------------------------------
say "compose up --scale filter=3 ($POSTS posts at $RATE/s)"
up_start=$SECONDS
SYNTHETIC_COUNT="$POSTS" SYNTHETIC_RATE="$RATE" compose up -d --scale filter=3 >&2
wait_for 180 footer_says 3 || fail "no block saying 3 replicas, 6/6 partitions within 180 s"
first_block=$((SECONDS - up_start))
say "first block with 3 replicas and 6/6 partitions ${first_block} s after up"
wait_for 30 every_replica_owns 3 || { assigned >&2; fail "not every replica owns partitions"; }
say "every replica owns partitions: $(assigned | tr '\n' ' ')"

curl -sf --max-time 5 http://127.0.0.1:9103/ | grep -qi '<html' || fail "dashboard on the published port 9103"
curl -sf --max-time 5 http://127.0.0.1:9103/metrics | grep -q '^weibostream_sink_' || fail "/metrics on the published port 9103"
say "dashboard and /metrics answer on 127.0.0.1:9103"

# --- faults mid-stream -----------------------------------------------------
victim="$(container filter_2)"
say "stop $victim (SIGTERM, grace period), then start it again"
podman stop --time 20 "$victim" > /dev/null
[[ "$(podman inspect --format '{{.State.ExitCode}}' "$victim")" == 0 ]] || fail "$victim did not exit 0 on stop"
wait_for 60 footer_says 2 || fail "no block with 2 replicas after stopping $victim"
podman start "$victim" > /dev/null
wait_for 60 footer_says 3 || fail "no block with 3 replicas after starting $victim"

victim="$(container filter_3)"
pid="$(podman inspect --format '{{.State.Pid}}' "$victim")"
restarts="$(podman inspect --format '{{.RestartCount}}' "$victim")"
say "SIGKILL to $victim's process (pid $pid); the restart policy must bring it back"
kill -KILL "$pid"
restarted() {
  [[ "$(podman inspect --format '{{.RestartCount}} {{.State.Status}}' "$victim")" == "$((restarts + 1)) running" ]] \
    && [[ "$(podman inspect --format '{{.State.Pid}}' "$victim")" != "$pid" ]]
}
wait_for 60 restarted || fail "$victim was not restarted by its restart policy"
blocks="$(blocks_since)"
new_block_with_3() { (( $(blocks_since) >= blocks + 2 )) && footer_says 3; }
wait_for 90 new_block_with_3 || fail "no new block with 3 replicas after $victim came back"
say "$victim restarted; 3 replicas again"

say "scale filter 3 -> 1 -> 3"
# --no-deps and the service name: only the filter is touched (a finished
# collector started again would publish its posts twice).
compose up -d --no-recreate --no-deps --scale filter=1 filter >&2
wait_for 90 footer_says 1 || fail "no block with 1 replica, 6/6 partitions"
wait_for 30 every_replica_owns 1 || { assigned >&2; fail "the one replica does not own all 6 partitions"; }
compose up -d --no-recreate --no-deps --scale filter=3 filter >&2
wait_for 90 footer_says 3 || fail "no block with 3 replicas, 6/6 partitions after scaling back"
wait_for 30 every_replica_owns 3 || { assigned >&2; fail "not every replica owns partitions after scaling back"; }
say "scaled 3 -> 1 -> 3 with every partition owned"
if collector_exited; then
  say "note: the collector finished before the faults above ended (slow machine?): they were not all mid-stream"
else
  say "the collector is still publishing: the faults above were mid-stream"
fi

# --- the output against the oracle -----------------------------------------
wait_for 600 collector_exited || fail "the collector did not finish its $POSTS posts"
[[ "$(podman inspect --format '{{.State.ExitCode}}' "$(container collector_1)")" == 0 ]] || fail "collector exit code"
say "collector finished; reading posts.raw back for the oracle"
# By address: tansu (static, musl) resolves names badly on podman networks
# (see init-topics in deploy/tansu/compose.override.yml).
broker_ip="$(ip_of "$(container redpanda_1)")"
for p in 0 1 2 3 4 5; do
  podman run --rm --network "${project}_default" --entrypoint tansu localhost/weibostream-tansu:local \
    cat consume posts.raw --broker "tcp://$broker_ip:9092" --partition "$p" --max-wait-time-ms 2000 \
    --max-bytes 268435456 --partition-max-bytes 268435456 > "$work/raw-$p.json"
done
python3 tests/containers/oracle.py deploy/rules.toml "$work"/raw-*.json > "$work/oracle.json"
read -r raw_posts expected < <(python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); print(o["posts"], len(o["matched"]))' "$work/oracle.json")
[[ "$raw_posts" == "$POSTS" ]] || fail "posts.raw holds $raw_posts posts, expected $POSTS"
say "oracle: $expected of $raw_posts posts match"

matched_now() { podman exec "$(container sink_1)" cat /var/lib/weibostream/matched.jsonl 2>/dev/null | grep -c . || true; }
enough() { (( $(matched_now) >= expected )); }
wait_for 120 enough || true
sleep 12 # two more batches, so late duplicates would show
podman exec "$(container sink_1)" cat /var/lib/weibostream/matched.jsonl > "$work/matched.jsonl"
python3 - "$work/oracle.json" "$work/matched.jsonl" <<'EOF' || fail "the sink's output differs from the oracle"
import collections, json, sys
oracle = json.load(open(sys.argv[1]))["matched"]
lines = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
ids = collections.Counter(l["post"]["id"] for l in lines)
dups = {i: n for i, n in ids.items() if n > 1}
got = {l["post"]["id"]: sorted(l["rules"]) for l in lines}
missing = sorted(set(oracle) - set(got))
extra = sorted(set(got) - set(oracle))
wrong = sorted(i for i in set(oracle) & set(got) if oracle[i] != got[i])
print(f"output: {len(lines)} lines, {len(got)} posts; oracle {len(oracle)}; "
      f"duplicates {len(dups)}, missing {len(missing)}, unexpected {len(extra)}, wrong rules {len(wrong)}", file=sys.stderr)
for name, items in (("duplicates", list(dups)), ("missing", missing), ("unexpected", extra), ("wrong rules", wrong)):
    if items:
        print(f"  {name}: {items[:10]}", file=sys.stderr)
sys.exit(1 if dups or missing or extra or wrong else 0)
EOF
say "the sink's output equals the oracle ($expected posts, no duplicates)"

# --- stop ------------------------------------------------------------------
say "compose stop: every service within its stop grace period, exit code 0"
stop_start=$SECONDS
compose stop >&2
stop_seconds=$((SECONDS - stop_start))
bad=""
for name in $(podman ps -a --format '{{.Names}}' --filter "name=^${project}_" | sort); do
  code="$(podman inspect --format '{{.State.ExitCode}}' "$name")"
  echo "  $name exit $code" >&2
  [[ "$code" == 0 ]] || bad+=" $name=$code"
done
[[ -z "$bad" ]] || fail "non-zero exit codes after stop:$bad"
((stop_seconds <= 25)) || fail "stop took ${stop_seconds} s (grace period 20 s)"
compose down -v >&2
say "stopped in ${stop_seconds} s, every exit code 0; removed"

echo "containers: image $((image_bytes / 1000000)) MB; build ${build_seconds} s (dependency layer $deps_layer); first 3-replica block ${first_block} s after up; stop ${stop_seconds} s" >&2
say "PASS"
