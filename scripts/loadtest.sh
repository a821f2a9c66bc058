#!/usr/bin/env bash
# Whole conversations through `orderbot serve` in Telegram webhook mode:
# cmd/orderbench plays simulated customers (browse, choose, check out, pay on
# delivery, confirm) against its own fake Bot API and prints messages/s and
# the latency percentiles (docs/BENCHMARKS.md, "Whole conversations through
# serve"). Each run starts serve on a new database, plays, and stops it.
#
#   scripts/loadtest.sh [ORDERBENCH FLAGS...]     e.g. -customers 8 -rate 500 -json
#
# Environment:
#   RUNS=3        runs; report the median
#   REPLICAS=1    serve processes on free ports; orderbench posts to them in turn
#   DB=sqlite     or postgres: a new database for each run on the server of
#                 ORDERBOT_TEST_POSTGRES_URL (eval "$(scripts/services.sh start)"),
#                 dropped afterwards
#   REDIS=        1: ORDERBOT_REDIS_URL is ORDERBOT_TEST_REDIS_URL's logical
#                 database 1023 (the update and chat ids of each run are new,
#                 so runs do not meet there)
#   BASELINE=1    before each run, the same load against orderbench's
#                 plumbing bot (-plumbing: read the update, one Bot API call,
#                 answer; with REDIS=1 also a replica's three Redis round
#                 trips a message, on database 1022): the ceiling of the
#                 machine for this load, to compare serve with. 0: none
#
# Default load: 32 customers for 22 s as fast as they get replies, the first
# 2 s (serve warming up) left out of the figures, the orders spread over four
# variants with stock for a million each. Flags given here come after these
# and win.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
REPLICAS=${REPLICAS:-1}
BASELINE=${BASELINE:-1}
DB=${DB:-sqlite}
GO=${GO:-go}

work=$(mktemp -d "${TMPDIR:-/tmp}/orderbench.XXXXXX")
pg_databases=()
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  for db in "${pg_databases[@]}"; do
    psql -q "$ORDERBOT_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# with_database URL NAME is URL with its path (the database) set to NAME.
with_database() {
  local base=${1%%\?*} query=
  [ "$base" != "$1" ] && query="?${1#*\?}"
  echo "${base%/*}/$2$query"
}

case $DB in
sqlite) ;;
postgres)
  if [ -z "${ORDERBOT_TEST_POSTGRES_URL:-}" ]; then
    # shellcheck disable=SC2016 # the command to type, not to expand
    echo 'loadtest: DB=postgres needs ORDERBOT_TEST_POSTGRES_URL: eval "$(scripts/services.sh start)"' >&2
    exit 2
  fi ;;
*) echo "loadtest: DB is sqlite or postgres, not $DB" >&2; exit 2 ;;
esac
if [ -n "${REDIS:-}" ]; then
  if [ -z "${ORDERBOT_TEST_REDIS_URL:-}" ]; then
    # shellcheck disable=SC2016 # the command to type, not to expand
    echo 'loadtest: REDIS=1 needs ORDERBOT_TEST_REDIS_URL: eval "$(scripts/services.sh start)"' >&2
    exit 2
  fi
  export ORDERBOT_REDIS_URL
  ORDERBOT_REDIS_URL=$(with_database "$ORDERBOT_TEST_REDIS_URL" 1023)
fi

$GO build -o "$work/orderbot" ./cmd/orderbot
$GO build -o "$work/orderbench" ./cmd/orderbench
cat >"$work/orderbot.yaml" <<EOF
log:
  level: warn
catalog:
  file: $PWD/cmd/orderbench/testdata/catalog.yaml
EOF
export ORDERBOT_CONFIG="$work/orderbot.yaml"
targets=http://127.0.0.1:0/telegram/webhook
for _ in $(seq 2 "$REPLICAS"); do targets+=,http://127.0.0.1:0/telegram/webhook; done

status=0
for run in $(seq 1 "$RUNS"); do
  case $DB in
  sqlite) export ORDERBOT_DATABASE_URL="sqlite:$work/run$run.db" ;;
  postgres)
    db="orderbench_$$_$run"
    psql -q "$ORDERBOT_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
    pg_databases+=("$db")
    export ORDERBOT_DATABASE_URL
    ORDERBOT_DATABASE_URL=$(with_database "$ORDERBOT_TEST_POSTGRES_URL" "$db") ;;
  esac
  if [ "$BASELINE" = 1 ]; then
    echo "== run $run of $RUNS: baseline, the plumbing bot${REDIS:+ + Redis}" >&2
    plumbing=(-plumbing)
    [ -n "${REDIS:-}" ] && plumbing+=(-plumbing-redis "$(with_database "$ORDERBOT_TEST_REDIS_URL" 1022)")
    "$work/orderbench" -api-listen 127.0.0.1:0 -target "$targets" \
      -customers 32 -duration 22s -warmup 2s -variant Black,Blue,Red,Green "${plumbing[@]}" "$@" || status=1
  fi
  echo "== run $run of $RUNS: $REPLICAS replica(s) on $DB${REDIS:+ + Redis}" >&2
  "$work/orderbench" -api-listen 127.0.0.1:0 -target "$targets" \
    -customers 32 -duration 22s -warmup 2s -variant Black,Blue,Red,Green "$@" \
    -- "$work/orderbot" serve || status=1
done
exit $status
