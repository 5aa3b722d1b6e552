# Sourced by scripts: the tools that check deploy/ and docker-compose.yml,
# found (or fetched from Debian) the way pg.sh finds PostgreSQL.
#
#   helm_ensure      builds helm from tools/helm/go.mod (cached by `go tool`)
#   promtool_ensure  sets PROMTOOL: from PATH, else extracted from Debian's
#                    prometheus package into a cache directory
#                    (apt-get download + dpkg-deb -x: the binary without
#                    installing, and so without starting, a Prometheus)
#   compose_ensure   sets DOCKER_COMPOSE: from PATH, else Debian's
#                    docker-compose package when we are root
#
# Each exits with a message saying how to get the tool when it cannot.

HELM=(go tool -modfile=tools/helm/go.mod helm)

helm_ensure() {
  "${HELM[@]}" version --short >/dev/null
}

deploytools_cache() {
  echo "${ZTBROKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ztbroker}"
}

promtool_ensure() {
  if [[ -n "${PROMTOOL:-}" && -x "$PROMTOOL" ]]; then return 0; fi
  if PROMTOOL=$(command -v promtool); then export PROMTOOL; return 0; fi
  local cache
  cache="$(deploytools_cache)/promtool"
  PROMTOOL="$cache/usr/bin/promtool"
  export PROMTOOL
  if [[ -x "$PROMTOOL" ]]; then return 0; fi
  if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    echo "deploytools.sh: promtool not found; install it (Debian: apt-get install prometheus) or set PROMTOOL." >&2
    exit 1
  fi
  echo "deploytools.sh: extracting promtool from Debian's prometheus package into $cache" >&2
  local tmp deb
  tmp=$(mktemp -d -t ztbroker-promtool.XXXXXX)
  # A stale package list names a version the mirror no longer has;
  # refresh it once (as root) and try again.
  if ! (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1) && [[ $(id -u) -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    (cd "$tmp" && apt-get download -qq prometheus >/dev/null) || true
  fi
  deb=$(ls "$tmp"/prometheus_*.deb 2>/dev/null | head -n1)
  if [[ -z "$deb" ]]; then
    rm -rf "$tmp"
    echo "deploytools.sh: could not download Debian's prometheus package; install it (apt-get install prometheus) or set PROMTOOL." >&2
    exit 1
  fi
  dpkg-deb -x "$deb" "$tmp/root"
  install -D -m 0755 "$tmp/root/usr/bin/promtool" "$PROMTOOL"
  rm -rf "$tmp"
}

compose_ensure() {
  if [[ -n "${DOCKER_COMPOSE:-}" && -x "$DOCKER_COMPOSE" ]]; then return 0; fi
  if DOCKER_COMPOSE=$(command -v docker-compose); then export DOCKER_COMPOSE; return 0; fi
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "deploytools.sh: docker-compose not found; installing Debian's docker-compose package (no Docker engine)" >&2
    # Without recommends: they would pull in the Docker engine.
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
    fi
  fi
  if ! DOCKER_COMPOSE=$(command -v docker-compose); then
    echo "deploytools.sh: docker-compose not found; install it (Debian: apt-get install --no-install-recommends docker-compose) or set DOCKER_COMPOSE." >&2
    exit 1
  fi
  export DOCKER_COMPOSE
}
