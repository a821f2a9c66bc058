# orderbot — see README.md.
GO ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test lint unit fuzz bench docs build

## run: talk to the demo shop in this terminal (embedded SQLite, no servers)
run:
	$(GO) run ./cmd/orderbot chat

## build: the binary in ./bin
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/orderbot ./cmd/orderbot

## test: everything CI runs: formatting, vet, staticcheck, all tests with -race
test:
	bash scripts/test.sh

## lint: formatting, vet and staticcheck only
lint:
	bash scripts/test.sh lint

## fuzz: each fuzz target for FUZZTIME (default 30s)
fuzz:
	bash scripts/fuzz.sh

## bench: the benchmarks recorded in docs/BENCHMARKS.md
bench:
	bash scripts/bench.sh

## docs: regenerate docs/dialog.md from the state machine
docs:
	$(GO) test ./dialog -run TestDiagram -update
