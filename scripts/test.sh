#!/usr/bin/env bash
# The whole test suite on a fresh machine: finds (or installs) PostgreSQL
# and the tools that check deploy/ (helm, promtool, docker-compose),
# starts one throwaway PostgreSQL cluster for every test package to share,
# and runs `go test -race` over the module. Set BROKER_TEST_DATABASE_URL to
# use an existing server instead. Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
source scripts/pg.sh
source scripts/deploytools.sh

# internal/tests/deploytest checks deploy/ with helm, promtool and
# docker-compose. helm is built here, before the tests, so that a cold
# build is not charged to a test's timeout.
SECONDS=0
helm_ensure
promtool_ensure
compose_ensure
echo "test.sh: deploy tools ready in ${SECONDS}s (helm from tools/helm/go.mod, $PROMTOOL, $DOCKER_COMPOSE)"

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
