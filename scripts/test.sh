#!/usr/bin/env bash
# Runs every check CI runs. `scripts/test.sh lint` stops after the linters.
# Needs only Go: the tests use real SQLite files in temporary directories and
# local HTTP servers; nothing is reached over the network.
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

echo "== go test -race"
$GO test -race -count=1 -timeout 15m ./...
