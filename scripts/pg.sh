# Sourced by scripts: locate PostgreSQL server binaries (installing the
# Debian package when we are root and they are missing) and run a
# throwaway cluster in a temporary directory.

pg_find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [[ -x "$d/initdb" && -x "$d/postgres" ]]; then PG_BIN="$d"; fi
  done
  [[ -n "${PG_BIN:-}" ]]
}

pg_ensure_bin() {
  if pg_find_bin; then return 0; fi
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "pg.sh: PostgreSQL server binaries not found; installing the postgresql package" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  if ! pg_find_bin; then
    echo "pg.sh: PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin." >&2
    echo "pg.sh: install them (Debian: apt-get install postgresql) or set BROKER_TEST_DATABASE_URL." >&2
    exit 1
  fi
}

# pg_as_owner runs a command as the cluster owner: initdb refuses root.
pg_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_free_port() {
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

pg_start_throwaway() {
  pg_ensure_bin
  PG_DIR=$(mktemp -d -t ztbroker-pg.XXXXXX)
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$PG_DIR"; fi
  chmod 700 "$PG_DIR"
  PG_PORT=$(pg_free_port)
  pg_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --no-locale >"$PG_DIR/initdb.log" 2>&1 || {
    cat "$PG_DIR/initdb.log" >&2; exit 1; }
  # fsync off for tests: a throwaway cluster need not survive a power cut,
  # and the suite commits a lot. Benchmarks set PG_DURABLE=1 so commits
  # cost what they cost in production.
  local durability="-c fsync=off -c full_page_writes=off"
  if [[ "${PG_DURABLE:-0}" == 1 ]]; then durability=""; fi
  # PG_EXTRA_OPTS adds server settings, e.g. the benchmarks' preloaded
  # pg_stat_statements.
  pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR $durability -c max_connections=400 ${PG_EXTRA_OPTS:-}" >/dev/null || {
    cat "$PG_DIR/server.log" >&2; exit 1; }
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
}

pg_stop_throwaway() {
  if [[ -n "${PG_DIR:-}" && -d "$PG_DIR/data" ]]; then
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
