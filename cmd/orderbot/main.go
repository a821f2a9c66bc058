// Command orderbot is the one binary of orderbot: the terminal chat, the
// operators' commands and, later, the server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

const usage = `orderbot — order by chatting

Usage:
  orderbot [--config FILE] COMMAND [ARGS]

Commands:
  chat [--jsonl] [--user ID] [--lang en|zh]   talk to the shop in this terminal
  serve                                       run the channels (Telegram, Slack) and /healthz, /readyz
  migrate                                     create or upgrade the database schema
  catalog import FILE                         import a YAML catalog and report what changed
  catalog list                                list categories, products, variants, prices, stock
  orders list [--status S] [--limit N]        list orders, newest first
  orders show NUMBER                          show one order with its history
  orders advance NUMBER STATUS [--note TEXT] [--tracking CODE]
  orders approve NUMBER --as APPROVER [--note TEXT]
  orders reject NUMBER --as APPROVER --note REASON
                                              move an order along its lifecycle; the customer is told
  outbox list [--failed] [--limit N]          notifications not delivered yet: being retried, or parked (--failed)
  outbox retry (ID... | --all)                send parked notifications again
Environment:
  ORDERBOT_CONFIG, ORDERBOT_DATABASE_URL, ORDERBOT_REDIS_URL, ORDERBOT_HTTP_ADDR, ORDERBOT_DEBUG_ADDR,
  ORDERBOT_LOG_LEVEL, TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET, TELEGRAM_API_ENDPOINT,
  TELEGRAM_PAYMENT_PROVIDER_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, SLACK_API_URL
  (see configs/orderbot.yaml)
`

// errUsage marks a command line that does not parse; run prints the usage.
var errUsage = errors.New("usage")

// run is the whole program, testable end to end: it returns the exit code.
func run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("orderbot", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configPath := fs.String("config", "", "configuration file")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cfg, err := loadConfig(*configPath, env)
	if err != nil {
		fmt.Fprintf(stderr, "orderbot: %v\n", err)
		return 2
	}
	logger := newLogger(cfg, stderr, cmd == "chat")
	switch cmd {
	case "chat":
		err = runChat(ctx, cfg, logger, rest, stdin, stdout)
	case "serve":
		err = runServe(ctx, cfg, logger, rest, env, stdout)
	case "migrate":
		err = runMigrate(ctx, cfg, logger, rest, stdout)
	case "catalog":
		err = runCatalog(ctx, cfg, logger, rest, stdout)
	case "orders":
		err = runOrders(ctx, cfg, logger, rest, stdout)
	case "outbox":
		err = runOutbox(ctx, cfg, logger, rest, stdout)
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "orderbot: %v\n\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "orderbot: %s\n", describe(err))
		logger.Debug("command failed", "err", err)
		return 1
	}
}

func newLogger(cfg *Config, w io.Writer, quiet bool) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	if quiet && !cfg.logLevelSet {
		level = slog.LevelWarn
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
