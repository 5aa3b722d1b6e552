#!/bin/sh
# Using ztbroker from a shell script with an API key, e.g. an operator's
# one-off task or a cron job. The token is revoked when the script exits,
# however it exits.
#
#   BROKER_API_KEY=... BROKER_ADDR=broker.example.com:443 ./shell.sh
set -eu

: "${BROKER_API_KEY:?set BROKER_API_KEY to your broker API key}"
export BROKER_API_KEY
export BROKER_ADDR="${BROKER_ADDR:-127.0.0.1:9090}"
purpose="${ZT_PURPOSE:-ops}"

# Capture first: with `eval "$(broker ...)"` a failure would go unnoticed.
creds=$(broker token issue --purpose "$purpose" --ttl 30m --format env)
eval "$creds"
unset creds
export ZEROTIER_CENTRAL_TOKEN ZEROTIER_CENTRAL_URL ZEROTIER_AUTH_SCHEME ZTBROKER_LEASE_ID

revoke() {
	broker token revoke --id "$ZTBROKER_LEASE_ID" --reason "script exited" >/dev/null ||
		echo "shell.sh: lease $ZTBROKER_LEASE_ID is still live; it expires on its own" >&2
}
trap revoke EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The work itself: anything that reads the three ZEROTIER_* variables, e.g.
#   curl -fsS -H "Authorization: $ZEROTIER_AUTH_SCHEME $ZEROTIER_CENTRAL_TOKEN" "$ZEROTIER_CENTRAL_URL/..."
./scripts/zerotier-task.sh "$@"
