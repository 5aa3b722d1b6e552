#!/usr/bin/env bash
# The whole test suite on a fresh machine: finds (or installs) PostgreSQL,
# starts one throwaway cluster for every test package to share, and runs
# `go test -race` over the module. Set BROKER_TEST_DATABASE_URL to use an
# existing server instead. Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
source scripts/pg.sh

if [[ -z "${BROKER_TEST_DATABASE_URL:-}" ]]; then
  pg_start_throwaway
  trap pg_stop_throwaway EXIT
  export BROKER_TEST_DATABASE_URL="$PG_URL"
  echo "test.sh: throwaway PostgreSQL at $PG_URL ($PG_BIN)"
fi

go vet ./...
# -p 2 matches the two cores: packages that start servers and clusters
# contend badly when more run at once.
go test -race -count=1 -p 2 -timeout 20m "$@" ./...
