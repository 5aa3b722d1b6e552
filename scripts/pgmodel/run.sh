#!/usr/bin/env bash
# A pgbench model of the lease cycle, for finding where PostgreSQL's time
# goes (README, Performance, rounds 3 and 4). It starts a throwaway cluster
# with fsync on, applies the migrations and then each SETUP file given,
# runs cycle.sql at 8 clients and prints the cluster's CPU per cycle from
# /proc. PGMODEL_WAL=1 also breaks a run's WAL down with pg_walinspect.
#
#   scripts/pgmodel/run.sh [SETUP.sql ...]
#   SECS=8 scripts/pgmodel/run.sh scripts/pgmodel/leases-pk-only.sql
#
# This machine's noise is about ±15% run to run: compare variants in
# interleaved pairs, several of them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
source scripts/pg.sh
setups=()
for f in "$@"; do setups+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"); done
PG_DURABLE=1 pg_start_throwaway >/dev/null
trap pg_stop_throwaway EXIT
export PATH=$PG_BIN:$PATH
for f in migrations/0*.up.sql "${setups[@]}"; do
  psql -q -v ON_ERROR_STOP=1 "$PG_URL" -f "$f" >/dev/null
done
pm=$(head -1 "$PG_DIR/data/postmaster.pid")
# utime, stime, cutime, cstime of the postmaster and its children.
cpu() {
  local t=0 p
  for p in $pm $(pgrep -P "$pm"); do
    # shellcheck disable=SC2046
    set -- $(cut -d' ' -f14-17 "/proc/$p/stat" 2>/dev/null) || continue
    [[ $# == 4 ]] && t=$((t + $1 + $2 + $3 + $4))
  done
  echo $t
}
bench() { pgbench -n -M prepared -c 8 -j 2 "$@" -f "$here/cycle.sql" "$PG_URL" 2>&1; }
bench -T 3 >/dev/null
[[ ${PGMODEL_WAL:-} == 1 ]] && psql -q "$PG_URL" -c "CREATE EXTENSION IF NOT EXISTS pg_walinspect" >/dev/null
lsn0=$(psql -qtA "$PG_URL" -c "SELECT pg_current_wal_lsn()")
c0=$(cpu)
out=$(bench -T "${SECS:-10}")
c1=$(cpu)
lsn1=$(psql -qtA "$PG_URL" -c "SELECT pg_current_wal_lsn()")
n=$(echo "$out" | awk '/number of transactions actually processed/{print $NF}' | cut -d/ -f1)
tps=$(echo "$out" | awk '/^tps/{print $3}')
echo "setup=[${*:-none}] cycles/s=$tps cycles=$n PostgreSQL_CPU_ms_per_cycle=$(awk -v c=$((c1 - c0)) -v n="$n" 'BEGIN{printf "%.3f", c*10/n}')"
if [[ ${PGMODEL_WAL:-} == 1 ]]; then
  psql "$PG_URL" -c "SELECT \"resource_manager/record_type\" AS kind, count, round(combined_size::numeric / $n) AS bytes_per_cycle,
      round(combined_size_percentage::numeric, 1) AS pct
    FROM pg_get_wal_stats('$lsn0', '$lsn1', true) WHERE count > 0 ORDER BY combined_size DESC LIMIT 12"
fi
