#!/usr/bin/env bash
# The ztbroker GitHub Action's one script: `token.sh issue` leases a token
# with `broker token issue --oidc github --format github` (which masks the
# token first, then writes $GITHUB_OUTPUT and $GITHUB_ENV), and
# `token.sh revoke` revokes the lease. The broker CLI does the retries,
# the idempotency key derived from the run and the run's labels.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# broker finds the CLI: one on PATH, one this job built earlier, or one
# built now from the action's own checkout (which is the whole repository
# at the action's ref), so the CLI always matches the action.
broker() {
  if command -v broker >/dev/null 2>&1; then
    command -v broker
    return
  fi
  local bin="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ztbroker-broker"
  if [[ ! -x "$bin" ]]; then
    if ! command -v go >/dev/null 2>&1; then
      echo "::error::ztbroker: no broker binary on PATH and no Go to build one; add actions/setup-go before this step" >&2
      exit 1
    fi
    (cd "$here/../.." && go build -o "$bin.tmp" ./cmd/broker) >&2
    mv "$bin.tmp" "$bin"
  fi
  echo "$bin"
}

: "${INPUT_BROKER_ADDRESS:?broker-address is required}"
common=(--addr "$INPUT_BROKER_ADDRESS" --oidc github --oidc-audience "${INPUT_AUDIENCE:-ztbroker}")
if [[ -n "${INPUT_TLS_CA:-}" ]]; then
  common+=(--tls-ca "$INPUT_TLS_CA")
fi

case "${1:-}" in
issue)
  : "${INPUT_PURPOSE:?purpose is required}"
  args=(token issue "${common[@]}" --purpose "$INPUT_PURPOSE" --format github)
  if [[ -n "${INPUT_TTL:-}" ]]; then
    args+=(--ttl "$INPUT_TTL")
  fi
  while IFS= read -r label; do
    label="${label#"${label%%[![:space:]]*}"}"
    label="${label%"${label##*[![:space:]]}"}"
    if [[ -n "$label" ]]; then
      args+=(--label "$label")
    fi
  done < <(printf '%s\n' "${INPUT_LABELS:-}" | tr ',' '\n')
  bin=$(broker)
  exec "$bin" "${args[@]}"
  ;;
revoke)
  if [[ -z "${INPUT_LEASE_ID:-}" ]]; then
    echo "ztbroker: no lease to revoke"
    exit 0
  fi
  bin=$(broker)
  exec "$bin" token revoke "${common[@]}" --id "$INPUT_LEASE_ID" --reason "${INPUT_REASON:-GitHub Actions job finished}"
  ;;
*)
  echo "usage: token.sh issue|revoke" >&2
  exit 2
  ;;
esac
