// Package testenv hands tests the external servers they need: a fresh
// PostgreSQL database, an empty Redis database. The servers' URLs come from
// the environment, set by scripts/services.sh (which `make test` runs):
//
//	ORDERBOT_TEST_POSTGRES_URL  a PostgreSQL role that may create databases
//	ORDERBOT_TEST_REDIS_URL     a Redis server with more logical databases
//	                            than tests that run at once
//
// When a URL is not set, a test that needs it is skipped, except in CI
// (CI=true), where it fails: there every test must run. A URL that is set
// but does not answer always fails the test.
//
// Only tests use this package: reading the environment is its job, where
// the product's packages below cmd/ take plain values.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/redis/go-redis/v9"
)

// The environment variables naming the servers.
const (
	PostgresEnv = "ORDERBOT_TEST_POSTGRES_URL"
	RedisEnv    = "ORDERBOT_TEST_REDIS_URL"
)

// setupTimeout bounds each call this package makes to a server.
const setupTimeout = 30 * time.Second

// PostgresURL returns the URL of a new, empty PostgreSQL database that only
// this test uses; it is dropped when the test ends. Tests that call it may
// run in parallel, in any number of packages.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := serverURL(t, PostgresEnv, "PostgreSQL")
	name := "orderbot_test_" + strings.ToLower(rand.Text()[:16])
	admin := func(q string) error {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		db, err := sql.Open("pgx", base)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, q)
		return err
	}
	if err := admin("CREATE DATABASE " + name); err != nil {
		t.Fatalf("testenv: create a database on %s: %v", PostgresEnv, err)
	}
	t.Cleanup(func() {
		if err := admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testenv: %s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// RedisURL returns the URL of an empty logical database of the test Redis
// server that no other test uses until this one ends; it is emptied again
// then. Tests that call it may run in parallel, in any number of packages:
// database 0 only records which databases are taken, with a key
// testenv:db:N each, that expires after an hour should a test process die
// holding it.
func RedisURL(t testing.TB) string {
	t.Helper()
	base := serverURL(t, RedisEnv, "Redis")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testenv: %s: %v", RedisEnv, err)
	}
	opts, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("testenv: %s: %v", RedisEnv, err)
	}
	client := func(db int) *redis.Client {
		o := *opts
		o.DB = db
		rdb := redis.NewClient(&o)
		t.Cleanup(func() { rdb.Close() })
		return rdb
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	claims := client(0)
	db, err := claimRedisDB(ctx, claims)
	if err != nil {
		t.Fatalf("testenv: %s: %v", RedisEnv, err)
	}
	rdb := client(db)
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("testenv: %s: %v", RedisEnv, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		err := rdb.FlushDB(ctx).Err()
		if err == nil {
			err = claims.Del(ctx, claimKey(db)).Err()
		}
		if err != nil {
			t.Errorf("testenv: release Redis database %d: %v", db, err)
		}
	})
	u.Path = fmt.Sprint("/", db)
	return u.String()
}

// claimTTL is how long a Redis database stays claimed by a test process
// that died before releasing it.
const claimTTL = time.Hour

func claimKey(db int) string { return fmt.Sprint("testenv:db:", db) }

// claimRedisDB takes a logical database other than 0 that no test holds,
// trying them in turn from a shared counter so that tests starting at once
// try different ones.
func claimRedisDB(ctx context.Context, rdb *redis.Client) (int, error) {
	conf, err := rdb.ConfigGet(ctx, "databases").Result()
	if err != nil {
		return 0, fmt.Errorf("count the logical databases: %w", err)
	}
	var n int
	if _, err := fmt.Sscan(conf["databases"], &n); err != nil || n < 2 {
		return 0, fmt.Errorf("the server has %q logical databases; tests need more than 1", conf["databases"])
	}
	start, err := rdb.Incr(ctx, "testenv:next").Result()
	if err != nil {
		return 0, err
	}
	for i := range n - 1 {
		db := 1 + int((start+int64(i))%int64(n-1))
		ok, err := rdb.SetNX(ctx, claimKey(db), os.Getpid(), claimTTL).Result()
		if err != nil {
			return 0, err
		}
		if ok {
			return db, nil
		}
	}
	return 0, fmt.Errorf("all %d logical databases are taken by running tests; start redis-server with --databases larger", n-1)
}

// serverURL returns the URL in env, skipping the test when it is not set,
// or failing it in CI.
func serverURL(t testing.TB, env, server string) string {
	t.Helper()
	u := os.Getenv(env)
	if u != "" {
		return u
	}
	msg := fmt.Sprintf("%s is not set: this test needs a %s server; run `make test`, or "+
		"`eval \"$(scripts/services.sh start)\"` before go test", env, server)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI runs every test)")
	}
	t.Skip(msg)
	return ""
}
