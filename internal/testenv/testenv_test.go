package testenv_test

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"orderbot/internal/testenv"
)

// Each test gets databases of its own, empty, and gone (PostgreSQL) or
// emptied (Redis) when it ends.
func TestFreshDatabases(t *testing.T) {
	ctx := context.Background()
	for _, server := range []struct {
		name  string
		fresh func(testing.TB) string
		// count counts what is in the database at url (tables, keys); fill
		// adds to it; left counts what is left of it after its test.
		count, left func(t *testing.T, url string) int
		fill        func(t *testing.T, url string)
	}{{
		name:  "postgres",
		fresh: testenv.PostgresURL,
		count: func(t *testing.T, u string) int {
			return mustCount(t, u, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'`)
		},
		fill: func(t *testing.T, u string) {
			if _, err := mustSQL(t, u).Exec(`CREATE TABLE t (id INT)`); err != nil {
				t.Fatal(err)
			}
		},
		left: func(t *testing.T, u string) int {
			name := u[strings.LastIndex(u, "/")+1:]
			return mustCount(t, os.Getenv(testenv.PostgresEnv), `SELECT COUNT(*) FROM pg_database WHERE datname = $1`, name)
		},
	}, {
		name:  "redis",
		fresh: testenv.RedisURL,
		count: func(t *testing.T, u string) int { return int(mustRedis(t, u).DBSize(ctx).Val()) },
		fill: func(t *testing.T, u string) {
			if err := mustRedis(t, u).Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
		},
		left: func(t *testing.T, u string) int { return int(mustRedis(t, u).DBSize(ctx).Val()) },
	}} {
		t.Run(server.name, func(t *testing.T) {
			var urls []string
			t.Run("two databases", func(t *testing.T) {
				for range 2 {
					u := server.fresh(t)
					if n := server.count(t, u); n != 0 {
						t.Fatalf("%d in a fresh database", n)
					}
					server.fill(t, u)
					urls = append(urls, u)
				}
				if urls[0] == urls[1] {
					t.Fatalf("the same database twice: %s", urls[0])
				}
			})
			for _, u := range urls {
				if n := server.left(t, u); n != 0 {
					t.Errorf("%d left of %s after its test", n, u)
				}
			}
		})
	}
}

// Without a server's URL a test is skipped, and in CI it fails, saying how to
// start the servers.
func TestMissingServer(t *testing.T) {
	if server := os.Getenv("TESTENV_CHILD"); server != "" {
		if server == "postgres" {
			testenv.PostgresURL(t)
		} else {
			testenv.RedisURL(t)
		}
		return
	}
	for _, tc := range []struct {
		name, server, ci, want string
		fails                  bool
	}{
		{"postgres skipped", "postgres", "", "--- SKIP", false},
		{"postgres fails in CI", "postgres", "true", "--- FAIL", true},
		{"redis skipped", "redis", "", "--- SKIP", false},
		{"redis fails in CI", "redis", "true", "--- FAIL", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMissingServer$", "-test.v")
			for _, kv := range os.Environ() {
				if name, _, _ := strings.Cut(kv, "="); name != testenv.PostgresEnv && name != testenv.RedisEnv && name != "CI" {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			// GORACE: a race-enabled child would otherwise wait a second at exit.
			cmd.Env = append(cmd.Env, "TESTENV_CHILD="+tc.server, "CI="+tc.ci, "GORACE=atexit_sleep_ms=0")
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.fails || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "make test") {
				t.Fatalf("exit %v, output:\n%s\nwant %s and how to start the servers", err, out, tc.want)
			}
		})
	}
}

// mustCount returns the count query q reads from the database at u.
func mustCount(t *testing.T, u, q string, args ...any) int {
	t.Helper()
	var n int
	if err := mustSQL(t, u).QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustSQL(t *testing.T, u string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustRedis(t *testing.T, u string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
