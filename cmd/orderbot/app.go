package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"orderbot/configs"
	"orderbot/dialog"
	"orderbot/dialog/redisstore"
	dialogsql "orderbot/dialog/sqlstore"
	"orderbot/orders"
	"orderbot/orders/sqlstore"
)

// app is the opened database, Redis when configured, and the services on
// them.
type app struct {
	store    *sqlstore.Store
	svc      *orders.Service
	sessions dialog.Store
	redis    *redis.Client // nil without redis.url
}

// openApp opens and migrates the database, and connects to Redis when
// redis.url is set: the conversations then live there.
func openApp(ctx context.Context, cfg *Config) (*app, error) {
	store, err := sqlstore.Open(ctx, cfg.Database.URL)
	if err != nil {
		return nil, err
	}
	sqlSessions := dialogsql.New(store.DB(), nil).ReadFrom(store.ReadDB())
	// Replicas starting together migrate one at a time. The sessions
	// tables stay with Redis too, for order cards.
	err = store.Exclusive(ctx, func() error {
		if err := store.Migrate(ctx); err != nil {
			return err
		}
		return sqlSessions.Migrate(ctx)
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	a := &app{store: store, sessions: sqlSessions}
	if cfg.Redis.URL != "" {
		if a.redis, err = openRedis(ctx, cfg.Redis.URL); err != nil {
			store.Close()
			return nil, err
		}
		a.sessions = redisstore.New(a.redis, cfg.Redis.Prefix, cfg.Redis.SessionIdle)
	}
	rules, err := cfg.Approvals.rules() // checked by loadConfig already
	if err != nil {
		store.Close()
		return nil, err
	}
	desk, err := cfg.fulfilment()
	if err != nil {
		store.Close()
		return nil, err
	}
	a.svc = orders.NewService(store, nil)
	a.svc.SetApprovalRules(rules)
	a.svc.SetFulfilment(desk)
	return a, nil
}

// openRedis connects to the Redis at url and checks that it answers.
func openRedis(ctx context.Context, url string) (*redis.Client, error) {
	rdb, err := redisstore.Open(url)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis: %w", err)
	}
	return rdb, nil
}

func (a *app) Close() error {
	if a.redis != nil {
		a.redis.Close()
	}
	return a.store.Close()
}

// ping checks that the database and Redis, when there is one, answer.
func (a *app) ping(ctx context.Context) error {
	if err := a.store.DB().PingContext(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if a.redis != nil {
		if err := a.redis.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
	}
	return nil
}

// seedCatalog imports the configured (or the demo) catalog into a database
// that has no products yet.
func (a *app) seedCatalog(ctx context.Context, cfg *Config, logger *slog.Logger) error {
	// Replicas starting together on an empty database: one imports, the
	// others find the products.
	return a.store.Exclusive(ctx, func() error { return a.seedEmptyCatalog(ctx, cfg, logger) })
}

func (a *app) seedEmptyCatalog(ctx context.Context, cfg *Config, logger *slog.Logger) error {
	cat, err := a.svc.Catalog(ctx)
	if err != nil {
		return err
	}
	if len(cat.Products) > 0 {
		return nil
	}
	data, name := configs.DemoCatalog, "built-in demo catalog"
	if cfg.Catalog.File != "" {
		if data, err = os.ReadFile(cfg.Catalog.File); err != nil {
			return fmt.Errorf("read catalog: %w", err)
		}
		name = cfg.Catalog.File
	}
	c, err := orders.ParseCatalog(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	rep, err := a.svc.ImportCatalog(ctx, c)
	if err != nil {
		return err
	}
	logger.Info("catalog imported into the empty database", "products", rep.ProductsAdded, "source", name)
	return nil
}

// loadFAQ reads the configured FAQ or the shipped one.
func loadFAQ(cfg *Config) ([]dialog.FAQEntry, error) {
	data, name := configs.FAQ, "built-in FAQ"
	if cfg.FAQ.File != "" {
		var err error
		if data, err = os.ReadFile(cfg.FAQ.File); err != nil {
			return nil, fmt.Errorf("read FAQ: %w", err)
		}
		name = cfg.FAQ.File
	}
	faq, err := dialog.ParseFAQ(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return faq, nil
}

// describe words an error for the operator: the safe message of the order
// core's errors, the whole chain otherwise.
func describe(err error) string {
	var oe *orders.Error
	if errors.As(err, &oe) && oe.Code != orders.EINTERNAL {
		return oe.Message
	}
	return err.Error()
}

// parseArgs parses flags that may stand before, between or after the
// positional arguments, and checks the number of the latter (any number
// when positional is negative).
func parseArgs(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if positional >= 0 && len(pos) != positional {
		want := "no arguments"
		if positional > 0 {
			want = fmt.Sprintf("%d argument(s)", positional)
		}
		return nil, fmt.Errorf("%w: %s takes %s, got %q", errUsage, fs.Name(), want, strings.Join(pos, " "))
	}
	return pos, nil
}

func runMigrate(ctx context.Context, cfg *Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	if _, err := parseArgs(flag.NewFlagSet("migrate", flag.ContinueOnError), args, 0); err != nil {
		return err
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	logger.Info("database migrated", "dialect", a.store.Dialect())
	fmt.Fprintln(stdout, "database is up to date")
	return nil
}
