#!/usr/bin/env bash
# The benchmarks the README quotes, all on one throwaway PostgreSQL cluster
# with fsync on, so their numbers can be compared.
#
#   scripts/bench.sh [all|e2e|scale|go] [go test flags...]
#
# e2e    the real binaries (broker serve, broker emulator) driven by
#        internal/tests/loadgen: issue-then-revoke over REST and gRPC at 1
#        and 8 clients, beside pgbench (a single-row INSERT and the
#        floor) on the same cluster and the relay (the same REST cycle on
#        net/http and pgx with none of the broker's work), with CPU per
#        cycle, statements and WAL per cycle.
# scale  loadgen scale: RSS and start-up over 1,000,000 leases (100,000
#        active), and a storm of 2,000 leases expiring at one instant.
# go     the in-process Go benchmarks (store, policy, OIDC, revocation).
# all    (default) all three.
#
# LOADGEN_FLAGS adds flags to loadgen cycles (e.g. "--rounds 3"),
# BENCH_SECONDS sets the measured window (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh

mode=all
case "${1:-}" in all | e2e | scale | go) mode=$1; shift ;; esac

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
if [[ -z "${BROKER_TEST_DATABASE_URL:-}" ]]; then
  # pg_stat_statements gives the statements per cycle; it is loaded at
  # start, which is why the benchmarks start their own cluster.
  PG_DURABLE=1 PG_EXTRA_OPTS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on" \
    pg_start_throwaway
  trap pg_stop_throwaway EXIT
  export BROKER_TEST_DATABASE_URL="$PG_URL"
fi
pg_ensure_bin
secs="${BENCH_SECONDS:-10}"
export PATH="$PG_BIN:$PATH" # pgbench

if [[ $mode == all || $mode == e2e ]]; then
  echo "== loadgen cycles: the real binaries, issue then revoke, beside pgbench and the relay"
  # shellcheck disable=SC2086
  go run ./internal/tests/loadgen cycles --pg-url "$BROKER_TEST_DATABASE_URL" \
    --duration "${secs}s" --statements ${LOADGEN_FLAGS:-}
fi

if [[ $mode == all || $mode == scale ]]; then
  echo "== loadgen scale: 1,000,000 leases (100,000 active), 2,000 expiring at one instant"
  go run ./internal/tests/loadgen scale --pg-url "$BROKER_TEST_DATABASE_URL"
fi

if [[ $mode == all || $mode == go ]]; then
  echo "== broker in-process: issue-then-revoke through REST, 8 concurrent clients"
  go test -run '^$' -bench 'BenchmarkIssueRevokeREST' -benchtime "${secs}s" "$@" ./internal/server/

  echo "== store: one lease cycle (3 statements with audit rows)"
  go test -run '^$' -bench 'BenchmarkLeaseCycle' -benchtime 3s "$@" ./internal/store/pgstore/

  echo "== policy: decision over 100 purposes x 10 rules; OIDC verification, warm cache"
  go test -run '^$' -bench 'BenchmarkDecide' -benchmem "$@" ./internal/policy/
  go test -run '^$' -bench 'BenchmarkAuthenticateWarm' -benchmem "$@" ./internal/auth/oidcauth/

  echo "== revocation lag: 1000 leases expiring in the same second"
  go test -run '^$' -bench 'BenchmarkRevocation' -benchtime 1x "$@" ./internal/worker/revoker/

  echo "== reconciliation: one pass over 2,000 and 20,000 keys, each with its active lease"
  go test -run '^$' -bench 'BenchmarkReconcile$' -benchtime 5x "$@" ./internal/worker/reconcile/
fi
