#!/usr/bin/env bash
# Runs every check CI runs. `scripts/test.sh lint` stops after the linters.
# The tests use real SQLite files in temporary directories, local HTTP
# servers, and PostgreSQL and Redis servers on loopback that
# scripts/services.sh installs when missing, starts, and this script stops
# at exit. Without them (no apt-get, no root) the tests that need them are
# skipped, with a warning; with CI=true the run fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
$GO vet ./...

echo "== staticcheck"
$GO run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

[ "${1:-}" = "lint" ] && exit 0

echo "== services: PostgreSQL, Redis"
stop_services() {
  if [ -n "${ORDERBOT_SERVICES_STARTED:-}" ]; then
    # shellcheck disable=SC2086 # one argument a service
    bash scripts/services.sh stop $ORDERBOT_SERVICES_STARTED
  fi
}
trap stop_services EXIT
if services=$(bash scripts/services.sh start); then
  eval "$services"
else
  eval "$services" # those that did start are used, and stopped at exit
  if [ "${CI:-}" = true ]; then
    echo "not every service started; CI runs every test" >&2
    exit 1
  fi
  echo "WARNING: not every service started; the tests that need one are skipped" >&2
fi

echo "== go test -race"
$GO test -race -count=1 -timeout 15m ./...
