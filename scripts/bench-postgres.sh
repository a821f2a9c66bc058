#!/usr/bin/env bash
# Orders placed per second on PostgreSQL (docs/BENCHMARKS.md, "Placing orders
# on PostgreSQL"), each next to pgbench running the same SQL statements in
# the same run.
#
#   scripts/bench-postgres.sh
#
# Each of COUNT runs takes, for each shape (spread: two lines over 1,000
# products; hot: one line, every order on the same variant), one after the
# other, with 8 clients each:
#   store    BenchmarkPlaceOrderClients/postgres/SHAPE: orders.Service.Place
#   bare     BenchmarkPlaceOrderClientsBareSQL/postgres/SHAPE: PlaceOrder's
#            statements through database/sql and pgx, no store around them
#   pgbench  scripts/pgbench/place_SHAPE.sql: the same statements from pgbench
#            (-c 8 -j 2 -M prepared -n; the scripts are generated from
#            PlaceOrder's by TestPgbenchScripts), on a new database made by
#            `orderbot catalog import` (the real migrations, the same 1,000
#            products)
# and prints orders/s and the ratios store/pgbench and store/bare of the run,
# then the medians.
#
# Environment:
#   COUNT=3       runs
#   DURATION=10   seconds each benchmark and pgbench run (the Go benchmarks
#                 set up a new database first, not timed)
#   SHAPES="spread hot"
# PostgreSQL is ORDERBOT_TEST_POSTGRES_URL's; scripts/services.sh starts one
# when that does not answer, and stops what it started at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-3}
SECS=${DURATION:-10}
SHAPES=${SHAPES:-spread hot}
CLIENTS=8 # benchClients in orders/sqlstore/bench_clients_test.go
GO=${GO:-go}

log() { echo "bench-postgres: $*" >&2; }

eval "$(scripts/services.sh start)"
: "${ORDERBOT_TEST_POSTGRES_URL:?no PostgreSQL server: see scripts/services.sh}"
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-postgres.XXXXXX")
databases=()
cleanup() {
  for db in "${databases[@]}"; do
    psql -q "$ORDERBOT_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
  if [ -n "$ORDERBOT_SERVICES_STARTED" ]; then
    # shellcheck disable=SC2086 # one word per service
    scripts/services.sh stop $ORDERBOT_SERVICES_STARTED
  fi
}
trap cleanup EXIT

pgbench=$(printf '%s\n' /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n 1)
[ -x "$pgbench" ] || pgbench=$(command -v pgbench) || { log "no pgbench (Debian's postgresql package)"; exit 1; }

$GO build -o "$work/orderbot" ./cmd/orderbot
$GO test -c -o "$work/sqlstore.test" ./orders/sqlstore

# The bench catalog of orders/sqlstore's benchCatalog(1000): product pI with
# one variant pI-v at 100+I minor units, a million in stock (orders.MaxStock).
{
  printf 'currency: CNY\ncategories:\n  - id: bench\n    name: {en: "Bench"}\nproducts:\n'
  for i in $(seq 0 999); do
    printf '  - sku: p%d\n    category: bench\n    name: {en: "Product p%d"}\n    variants:\n' "$i" "$i"
    printf '      - sku: p%d-v\n        name: {en: "Only"}\n        price: "%d.%02d"\n        stock: 1000000\n' \
      "$i" $(((100 + i) / 100)) $(((100 + i) % 100))
  done
} >"$work/catalog.yaml"
printf 'log:\n  level: warn\n' >"$work/orderbot.yaml"

# with_database URL NAME is URL with its path (the database) set to NAME.
with_database() {
  local base=${1%%\?*} query=
  [ "$base" != "$1" ] && query="?${1#*\?}"
  echo "${base%/*}/$2$query"
}

# go_bench NAME SHAPE prints the orders/s of benchmark NAME's PostgreSQL SHAPE.
go_bench() {
  local out
  out=$(cd orders/sqlstore && "$work/sqlstore.test" -test.run '^$' -test.bench "^$1\$/^postgres\$/^$2\$" \
    -test.benchtime "${SECS}s" -test.count 1 2>&1) || { echo "$out" >&2; return 1; }
  echo "$out" | awk '$1 ~ "^'"$1"'/postgres/" { for (i = 2; i < NF; i++) if ($(i+1) == "orders/s") print $i }'
}

# pg_bench SHAPE prints the orders/s of pgbench placing SHAPE on a new
# database, after checking that every transaction it counted placed an order
# and that every line took its unit from the stock.
pg_bench() {
  local db url out tps n placed
  db=bench_pgbench_$RANDOM$RANDOM
  databases+=("$db")
  psql -q "$ORDERBOT_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
  url=$(with_database "$ORDERBOT_TEST_POSTGRES_URL" "$db")
  ORDERBOT_CONFIG=$work/orderbot.yaml ORDERBOT_DATABASE_URL=$url \
    "$work/orderbot" catalog import "$work/catalog.yaml" >/dev/null
  out=$("$pgbench" -n -M prepared -c "$CLIENTS" -j 2 -T "$SECS" -f "scripts/pgbench/place_$1.sql" "$url" 2>&1) ||
    { echo "$out" >&2; return 1; }
  tps=$(echo "$out" | awk '/^tps = / { print $3 }')
  n=$(echo "$out" | awk -F': ' '/^number of transactions actually processed/ { print $2 }')
  placed=$(psql -qtA "$url" -c "SELECT count(*) || CASE WHEN (SELECT count(*) FROM order_lines) =
    (SELECT sum(1000000 - stock) FROM variants) THEN '' ELSE ' (lines without stock)' END FROM orders")
  if [ "$n" != "$placed" ] || ! echo "$out" | grep -q '^number of failed transactions: 0 '; then
    echo "$out" >&2
    log "pgbench counted $n transactions but placed $placed orders"
    return 1
  fi
  psql -q "$ORDERBOT_TEST_POSTGRES_URL" -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
  printf '%.1f\n' "$tps"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2); print (NR % 2 ? v[m] : (v[m] + v[m + 1]) / 2) }'; }

declare -A store bare pgb rp rb
printf '%-4s %-7s %10s %10s %10s %14s %11s\n' run shape store bare pgbench store/pgbench store/bare
for run in $(seq 1 "$COUNT"); do
  for shape in $SHAPES; do
    s=$(go_bench BenchmarkPlaceOrderClients "$shape")
    b=$(go_bench BenchmarkPlaceOrderClientsBareSQL "$shape")
    p=$(pg_bench "$shape")
    store[$shape]+=" $s" bare[$shape]+=" $b" pgb[$shape]+=" $p"
    rp[$shape]+=" $(ratio "$s" "$p")" rb[$shape]+=" $(ratio "$s" "$b")"
    printf '%-4s %-7s %10s %10s %10s %14s %11s\n' "$run" "$shape" "$s" "$b" "$p" "$(ratio "$s" "$p")" "$(ratio "$s" "$b")"
  done
done
echo
echo "medians of $COUNT runs, orders/s ($CLIENTS clients, ${SECS} s each); ratios: the median of each run's"
for shape in $SHAPES; do
  # shellcheck disable=SC2086 # the values are words
  printf '%-4s %-7s %10s %10s %10s %14s %11s\n' median "$shape" "$(median ${store[$shape]})" "$(median ${bare[$shape]})" \
    "$(median ${pgb[$shape]})" "$(median ${rp[$shape]})" "$(median ${rb[$shape]})"
done
