#!/usr/bin/env bash
# The benchmarks the README quotes, all in one run on one machine so their
# numbers can be compared: a pgbench single-row INSERT at 8 clients beside
# the broker's issue-then-revoke cycles through REST at 8 clients, on the
# same PostgreSQL cluster with fsync on. Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
if [[ -z "${BROKER_TEST_DATABASE_URL:-}" ]]; then
  PG_DURABLE=1 pg_start_throwaway
  trap pg_stop_throwaway EXIT
  export BROKER_TEST_DATABASE_URL="$PG_URL"
fi
pg_ensure_bin
secs="${BENCH_SECONDS:-10}"

echo "== pgbench: single-row INSERT, 8 clients, ${secs}s"
script=$(mktemp)
echo "INSERT INTO bench_insert (purpose, owner) VALUES ('netops', 'api_key:ci');" >"$script"
"$PG_BIN/psql" -q -d "$BROKER_TEST_DATABASE_URL" -c \
  "DROP TABLE IF EXISTS bench_insert; CREATE TABLE bench_insert (id bigserial PRIMARY KEY, purpose text, owner text, created_at timestamptz DEFAULT now());"
"$PG_BIN/pgbench" -n -c 8 -j 2 -T "$secs" -f "$script" "$BROKER_TEST_DATABASE_URL" | grep -E "^(tps|latency average|number of transactions actually)"
"$PG_BIN/psql" -q -d "$BROKER_TEST_DATABASE_URL" -c "DROP TABLE bench_insert;"
rm -f "$script"

echo "== broker: issue-then-revoke through REST, 8 concurrent clients"
go test -run '^$' -bench 'BenchmarkIssueRevokeREST' -benchtime "${secs}s" "$@" ./internal/server/

echo "== store: one lease cycle (4 statements with audit rows)"
go test -run '^$' -bench 'BenchmarkLeaseCycle' -benchtime 3s "$@" ./internal/store/pgstore/

echo "== policy: decision over 100 purposes x 10 rules; OIDC verification, warm cache"
go test -run '^$' -bench 'BenchmarkDecide' -benchmem "$@" ./internal/policy/
go test -run '^$' -bench 'BenchmarkAuthenticateWarm' -benchmem "$@" ./internal/auth/oidcauth/

echo "== revocation lag: 1000 leases expiring in the same second"
go test -run '^$' -bench 'BenchmarkRevocation' -benchtime 1x "$@" ./internal/worker/revoker/

echo "== reconciliation: one pass over 2,000 and 20,000 keys, each with its active lease"
go test -run '^$' -bench 'BenchmarkReconcile$' -benchtime 5x "$@" ./internal/worker/reconcile/
