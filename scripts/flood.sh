#!/usr/bin/env bash
# Issue #10's unauthenticated floods against the real broker binary, beside
# a steady load of admitted callers: prints the broker's peak RSS and the
# callers' IssueToken p50/p99 with no flood, with 20,000 Watch streams
# tried, and with 1,000 idle TCP connections held. Extra arguments go to
# `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
if [[ -z "${BROKER_TEST_DATABASE_URL:-}" ]]; then
  PG_DURABLE=1 pg_start_throwaway
  trap pg_stop_throwaway EXIT
  export BROKER_TEST_DATABASE_URL="$PG_URL"
fi
# The flood opens over a thousand sockets at once.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
go test -run '^$' -bench 'BenchmarkUnauthenticatedFlood' -benchtime 1x -timeout 20m -v "$@" ./internal/tests/flood/
