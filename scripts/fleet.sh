#!/usr/bin/env bash
# A local Parley fleet on loopback (docs/fleet.md): Redis (the shared KV tier), N replicas of
# `parley serve` and HAProxy in front of them with sticky, bounded-load consistent hashing.
#   scripts/fleet.sh up --replicas N [--port P] [--redis-port R] [--balance B] [--no-redis] [-- serve options]
#   scripts/fleet.sh down
#   scripts/fleet.sh status
# HAProxy listens on 127.0.0.1:P (default 8080), replica i on P+i, Redis on R (default P+100).
# --balance: sticky (default: deploy/haproxy.cfg as shipped) or roundrobin (the same config
# with `balance roundrobin`, to measure what stickiness is worth; scripts/bench_fleet.py).
# --no-redis: no shared KV tier (a moved conversation recomputes: the failover baseline).
# Each started process prints one line: `<role> <index> pid <PID> port <PORT>`.
# Serve options default to the README's model (fetched if missing): -m
# models/SmolLM2-135M-Instruct.Q4_1.gguf. Logs and pids live in $PARLEY_FLEET_DIR (default
# /tmp/parley-fleet-$USER). PARLEY_BIN picks the parley binary (default build/bin/parley,
# built by scripts/setup.sh, which also installs redis-server and haproxy when missing).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${PARLEY_FLEET_DIR:-/tmp/parley-fleet-${USER:-parley}}"
BIN="${PARLEY_BIN:-$ROOT/build/bin/parley}"

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

wait_http() {  # URL TIMEOUT_S: waits until URL answers 200
  python3 - "$1" "$2" <<'PY'
import sys, time, urllib.request
url, deadline = sys.argv[1], time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        if urllib.request.urlopen(url, timeout=2).status == 200:
            sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(1)
PY
}

stop_pid() {  # PIDFILE SIGNAL TIMEOUT_S: signals the process and waits (SIGKILL after the timeout)
  local f="$1" sig="$2" t="$3" pid
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((t * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

down() {
  [ -d "$DIR" ] || { echo "fleet: nothing running ($DIR does not exist)"; return 0; }
  # Replicas first (SIGTERM drains: streams finish, hot pages go to Redis), then the
  # balancer, then Redis.
  for f in "$DIR"/replica-*.pid; do [ -e "$f" ] && stop_pid "$f" TERM 40; done
  stop_pid "$DIR/haproxy.pid" TERM 5
  stop_pid "$DIR/redis.pid" TERM 5
  echo "fleet: stopped"
}

status() {
  for f in "$DIR"/*.pid; do
    [ -e "$f" ] || continue
    local name pid
    name="$(basename "$f" .pid)"; pid="$(cat "$f")"
    kill -0 "$pid" 2>/dev/null && echo "$name pid $pid running" || echo "$name pid $pid gone"
  done
}

ensure_tools() {
  local need_setup=0
  command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || need_setup=1
  command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need_setup=1
  [ -x "$BIN" ] || need_setup=1
  if [ "$need_setup" = 1 ]; then "$ROOT/scripts/setup.sh" build; fi
  PATH="$PATH:/usr/sbin"
}

up() {
  local replicas=2 port=8080 redis_port="" balance=sticky redis=1 serve=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --replicas) replicas="$2"; shift 2 ;;
      --port) port="$2"; shift 2 ;;
      --redis-port) redis_port="$2"; shift 2 ;;
      --balance) balance="$2"; shift 2 ;;
      --no-redis) redis=0; shift ;;
      --) shift; serve=("$@"); break ;;
      *) usage ;;
    esac
  done
  [ "$replicas" -ge 1 ] 2>/dev/null || usage
  case "$balance" in sticky|roundrobin) ;; *) usage ;; esac
  redis_port="${redis_port:-$((port + 100))}"
  ensure_tools
  local has_model=0
  for a in "${serve[@]+"${serve[@]}"}"; do
    if [ "$a" = "-m" ] || [ "$a" = "--model" ]; then has_model=1; fi
  done
  if [ "$has_model" = 0 ]; then
    python3 "$ROOT/scripts/fetch_models.py" smollm2-135m >/dev/null
    serve=(-m "$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf" "${serve[@]+"${serve[@]}"}")
  fi
  if ls "$DIR"/*.pid >/dev/null 2>&1; then down >/dev/null; fi
  mkdir -p "$DIR"

  # Redis: loopback, no persistence (a cache), bounded by maxmemory with LRU eviction.
  local shared=()
  if [ "$redis" = 1 ]; then
    redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
      --maxmemory "${PARLEY_FLEET_REDIS_MB:-1024}mb" --maxmemory-policy allkeys-lru \
      >"$DIR/redis.log" 2>&1 &
    echo $! >"$DIR/redis.pid"
    echo "redis 0 pid $! port $redis_port"
    shared=(--redis-url "redis://127.0.0.1:$redis_port")
  fi

  local servers=""
  for i in $(seq 1 "$replicas"); do
    local p=$((port + i))
    "$BIN" serve --host 127.0.0.1 --port "$p" "${shared[@]+"${shared[@]}"}" \
      --drain-timeout 30 "${serve[@]}" >"$DIR/replica-$i.log" 2>&1 &
    echo $! >"$DIR/replica-$i.pid"
    echo "replica $i pid $! port $p"
    servers+="    server r$i 127.0.0.1:$p"$'\n'
  done
  for i in $(seq 1 "$replicas"); do
    wait_http "http://127.0.0.1:$((port + i))/health" 120 || {
      echo "error: replica $i did not start; its log:" >&2; tail -20 "$DIR/replica-$i.log" >&2; down; exit 1; }
  done

  python3 - "$ROOT/deploy/haproxy.cfg" "$DIR/haproxy.cfg" "$port" "$servers" "$balance" <<'PY'
import sys
src, dst, port, servers, balance = sys.argv[1:6]
text = open(src).read().replace("__PORT__", port).replace("    # __SERVERS__\n", servers)
if balance == "roundrobin":
    # Only the balance algorithm changes; the hash settings go with it (they apply to hashing).
    sticky = ("    balance hash var(txn.conv)\n", "    hash-type consistent\n", "    hash-balance-factor 125\n")
    assert all(line in text for line in sticky), "deploy/haproxy.cfg changed: update fleet.sh --balance"
    text = text.replace(sticky[0], "    balance roundrobin\n")
    for line in sticky[1:]:
        text = text.replace(line, "")
open(dst, "w").write(text)
PY
  haproxy -f "$DIR/haproxy.cfg" -db >"$DIR/haproxy.log" 2>&1 &
  echo $! >"$DIR/haproxy.pid"
  echo "haproxy 0 pid $! port $port"
  wait_http "http://127.0.0.1:$port/health" 30 || {
    echo "error: haproxy did not start; its log:" >&2; tail -20 "$DIR/haproxy.log" >&2; down; exit 1; }
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  *) usage ;;
esac
