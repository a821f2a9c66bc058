#!/usr/bin/env bash
# The benchmarks recorded in docs/BENCHMARKS.md. COUNT runs of each (default
# 5): report the median, and compare only figures taken in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-5}
BENCHTIME=${BENCHTIME:-2s}
go test ./dialog -run '^$' -bench 'EngineStep' -benchtime "$BENCHTIME" -count "$COUNT"
go test ./orders/sqlstore -run '^$' -bench '^BenchmarkPlaceOrder(BareSQL)?$' -benchtime "$BENCHTIME" -count "$COUNT"
go test ./bot -run '^$' -bench 'Hub' -benchtime "$BENCHTIME" -count "$COUNT"
go test ./cmd/orderbot -run '^$' -bench ServeWebhook -benchtime 5000x -count "$COUNT"
# Whole conversations through `orderbot serve` over HTTP, played by
# cmd/orderbench (SQLite; DB=postgres REDIS=1 REPLICAS=2 for the others).
RUNS=$COUNT bash scripts/loadtest.sh
# Orders placed on PostgreSQL by 8 clients, beside pgbench running the same statements.
COUNT=$COUNT bash scripts/bench-postgres.sh
