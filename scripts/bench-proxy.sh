#!/usr/bin/env bash
# What the scoped proxy adds, against the real binaries: a throwaway
# PostgreSQL with fsync on, `broker emulator` and `broker serve` as their
# own processes, and internal/tests/proxyload sending the same calls
# straight to the emulator and through the broker's /zt/ proxy, side by
# side, at 1 and 8 clients. Environment: BENCH_SECONDS (per scenario run,
# default 5), BENCH_ROUNDS (default 3), BENCH_CLIENTS (default 1,8).
# BENCH_BASELINE=<git ref> also builds the broker at that ref and serves
# it beside the first, on the same database and emulator, its calls
# interleaved with the others' (the "before" rows): a change measured
# before and after in one run. BENCH_CPUPROFILE=<dir> leaves the
# brokers' CPU profiles there (broker.pprof, broker-before.pprof).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh

work=$(mktemp -d -t ztbroker-bench-proxy.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pg_stop_throwaway
  rm -rf "$work"
}
trap cleanup EXIT

PG_DURABLE=1 pg_start_throwaway
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
go build -o "$work/broker" ./cmd/broker
go build -o "$work/proxyload" ./internal/tests/proxyload
if [[ -n "${BENCH_BASELINE:-}" ]]; then
  mkdir -p "$work/baseline-src"
  git archive "$BENCH_BASELINE" | tar -x -C "$work/baseline-src"
  (cd "$work/baseline-src" && go build -o "$work/broker-before" ./cmd/broker)
fi
profile_dir=""
if [[ -n "${BENCH_CPUPROFILE:-}" ]]; then
  mkdir -p "$BENCH_CPUPROFILE"
  profile_dir=$(cd "$BENCH_CPUPROFILE" && pwd)
fi

network=8056c2e21c000001
member=deadbeef00
export ZTBROKER_EMULATOR_ADMIN_TOKEN="emu-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export BROKER_API_KEY="ztb-bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
emu_port=$(pg_free_port)

"$work/broker" emulator --addr "127.0.0.1:$emu_port" --network "$network:bench,$member+" >"$work/emulator.log" 2>&1 &
emu_pid=$!
pids+=("$emu_pid")

key_hash=$(printf %s "$BROKER_API_KEY" | sha256sum | cut -d' ' -f1)
# start_broker BINARY NAME: serves BINARY with its own ports, setting
# started_pid and started_port (not a subshell: the script must be the
# broker's parent to wait for it, and so for its profile, at the end).
start_broker() {
  local bin=$1 name=$2 http_port grpc_port
  http_port=$(pg_free_port)
  grpc_port=$(pg_free_port)
  cat >"$work/$name.yaml" <<YAML
listen:
  grpc_addr: 127.0.0.1:$grpc_port
  http_addr: 127.0.0.1:$http_port
database:
  url: "$PG_URL"
  max_conns: 20
upstreams:
  new_central:
    base_url: http://127.0.0.1:$emu_port
    admin_key_env: ZTBROKER_EMULATOR_ADMIN_TOKEN
    rate_limit: 100000
purposes:
  - name: bench-scoped
    delivery: proxy
    default_ttl: 1h
    max_ttl: 2h
    upstream: {kind: new_central, service_account_id: sa-emulator}
    allow: {api_keys: [bench]}
    scope:
      networks: ["$network"]
      rules:
        - {name: read, operations: ["GET /api/v2/network/{network}"]}
        - name: rename
          operations: ["POST /api/v2/network/{network}/member/{member}"]
          when: 'fields.all(f, f in ["name", "description"])'
      rate_limit: 50000
      burst: 50000
auth:
  api_keys:
    - {name: bench, sha256: "$key_hash"}
YAML
  local prof=()
  if [[ -n "$profile_dir" ]]; then prof=(--cpuprofile "$profile_dir/$name.pprof"); fi
  "$bin" serve --config "$work/$name.yaml" "${prof[@]}" >"$work/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null; then break; fi
    sleep 0.1
  done
  started_pid=$pid started_port=$http_port
}

# The baseline first: both run the same migrations, and the newer one
# may know more of them.
extra=()
pidlist=""
if [[ -n "${BENCH_BASELINE:-}" ]]; then
  start_broker "$work/broker-before" broker-before
  pids+=("$started_pid")
  extra=(-baseline "http://127.0.0.1:$started_port")
  pidlist=",broker-before=$started_pid"
fi
start_broker "$work/broker" broker
broker_pid=$started_pid http_port=$started_port
pids+=("$broker_pid")

for _ in $(seq 1 100); do
  if curl -sf "http://127.0.0.1:$emu_port/_emulator/healthz" >/dev/null; then break; fi
  sleep 0.1
done
postmaster=$(head -1 "$PG_DIR/data/postmaster.pid")

echo "== machine: $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
if [[ -n "${BENCH_BASELINE:-}" ]]; then
  echo "== baseline (\"before\" rows): $BENCH_BASELINE = $(git rev-parse --short "$BENCH_BASELINE"); this build: $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' + uncommitted changes')"
fi
"$work/proxyload" \
  -broker "http://127.0.0.1:$http_port" -emulator "http://127.0.0.1:$emu_port" "${extra[@]}" \
  -network "$network" -member "$member" \
  -clients "${BENCH_CLIENTS:-1,8}" -duration "${BENCH_SECONDS:-5}s" -rounds "${BENCH_ROUNDS:-3}" \
  -pids "broker=$broker_pid,emulator=$emu_pid,postgres=$postmaster$pidlist"
