#!/usr/bin/env bash
# What the scoped proxy adds, against the real binaries: a throwaway
# PostgreSQL with fsync on, `broker emulator` and `broker serve` as their
# own processes, and internal/tests/proxyload sending the same calls
# straight to the emulator and through the broker's /zt/ proxy, side by
# side, at 1 and 8 clients. Environment: BENCH_SECONDS (per scenario run,
# default 5), BENCH_ROUNDS (default 3), BENCH_CLIENTS (default 1,8).
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

network=8056c2e21c000001
member=deadbeef00
export ZTBROKER_EMULATOR_ADMIN_TOKEN="emu-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export BROKER_API_KEY="ztb-bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
emu_port=$(pg_free_port)
http_port=$(pg_free_port)
grpc_port=$(pg_free_port)

"$work/broker" emulator --addr "127.0.0.1:$emu_port" --network "$network:bench,$member+" >"$work/emulator.log" 2>&1 &
emu_pid=$!
pids+=("$emu_pid")

key_hash=$(printf %s "$BROKER_API_KEY" | sha256sum | cut -d' ' -f1)
cat >"$work/broker.yaml" <<YAML
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
"$work/broker" serve --config "$work/broker.yaml" >"$work/broker.log" 2>&1 &
broker_pid=$!
pids+=("$broker_pid")

for _ in $(seq 1 100); do
  if curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null && curl -sf "http://127.0.0.1:$emu_port/_emulator/healthz" >/dev/null; then
    break
  fi
  sleep 0.1
done
postmaster=$(head -1 "$PG_DIR/data/postmaster.pid")

echo "== machine: $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$work/proxyload" \
  -broker "http://127.0.0.1:$http_port" -emulator "http://127.0.0.1:$emu_port" \
  -network "$network" -member "$member" \
  -clients "${BENCH_CLIENTS:-1,8}" -duration "${BENCH_SECONDS:-5}s" -rounds "${BENCH_ROUNDS:-3}" \
  -pids "broker=$broker_pid,emulator=$emu_pid,postgres=$postmaster"
