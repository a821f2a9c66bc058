package sqlstore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"orderbot/orders"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name, url       string
		dialect, target string
		wantErr         bool
	}{
		{name: "sqlite relative", url: "sqlite:data/orderbot.db", dialect: DialectSQLite, target: "data/orderbot.db"},
		{name: "sqlite absolute", url: "sqlite:/var/lib/orderbot.db", dialect: DialectSQLite, target: "/var/lib/orderbot.db"},
		{name: "sqlite URL relative", url: "sqlite://data/orderbot.db", dialect: DialectSQLite, target: "data/orderbot.db"},
		{name: "sqlite URL absolute", url: "sqlite:///var/lib/orderbot.db", dialect: DialectSQLite, target: "/var/lib/orderbot.db"},
		{name: "file URI", url: "file:orderbot.db", dialect: DialectSQLite, target: "orderbot.db"},
		{name: "file URI absolute", url: "file:///tmp/orderbot.db", dialect: DialectSQLite, target: "/tmp/orderbot.db"},
		{name: "bare path", url: "./orderbot.db", dialect: DialectSQLite, target: "orderbot.db"},
		{name: "postgres", url: "postgres://bot:secret@db:5432/orderbot?sslmode=disable", dialect: DialectPostgres, target: "postgres://bot:secret@db:5432/orderbot?sslmode=disable"},
		{name: "postgresql", url: "postgresql://db/orderbot", dialect: DialectPostgres, target: "postgresql://db/orderbot"},
		{name: "empty path", url: "sqlite:", wantErr: true},
		{name: "in memory", url: "sqlite::memory:", wantErr: true},
		{name: "options", url: "sqlite:x.db?_pragma=foo", wantErr: true},
		{name: "other database", url: "mysql://db/orderbot", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dialect, target, err := parseURL(tt.url)
			if tt.wantErr {
				wantCode(t, err, orders.EINVALID)
				return
			}
			if err != nil {
				t.Fatalf("parseURL(%q): %v", tt.url, err)
			}
			if dialect != tt.dialect || target != tt.target {
				t.Errorf("parseURL(%q) = %q, %q; want %q, %q", tt.url, dialect, target, tt.dialect, tt.target)
			}
		})
	}
}

func TestOpenErrorHidesPassword(t *testing.T) {
	_, _, err := parseURL("mysql://bot:hunter2@db/orderbot")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v should not show the password", err)
	}
}

func TestOpenCreatesDirectoryAndSetsPragmas(t *testing.T) {
	onlySQLite(t)
	path := filepath.Join(t.TempDir(), "a", "b", "orderbot.db")
	s := mustOpenURL(t, "sqlite:"+path)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	if s.Dialect() != DialectSQLite {
		t.Errorf("Dialect() = %q, want %q", s.Dialect(), DialectSQLite)
	}
	pragmas := []struct {
		name, want string
		readPool   bool
	}{
		{name: "journal_mode", want: "wal"},
		{name: "foreign_keys", want: "1"},
		{name: "synchronous", want: "1"}, // NORMAL
		{name: "busy_timeout", want: "10000"},
		{name: "busy_timeout", want: "10000", readPool: true},
		{name: "query_only", want: "1", readPool: true},
		{name: "query_only", want: "0"},
	}
	for _, p := range pragmas {
		db := s.DB()
		if p.readPool {
			db = s.rdb
		}
		var got string
		if err := db.Get(&got, "PRAGMA "+p.name); err != nil {
			t.Fatalf("PRAGMA %s: %v", p.name, err)
		}
		if got != p.want {
			t.Errorf("PRAGMA %s (read pool %v) = %q, want %q", p.name, p.readPool, got, p.want)
		}
	}
}

// A PostgreSQL server that is not there is an error at Open, with the
// password kept out of it.
func TestOpenPostgresUnreachable(t *testing.T) {
	_, err := Open(context.Background(), "postgres://orderbot:s3cret@127.0.0.1:1/orderbot?connect_timeout=2")
	if err == nil {
		t.Fatal("Open succeeded against a closed port")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestMigrateTwice(t *testing.T) {
	s := mustOpen(t)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if got := mustCount(t, s, "schema_migrations"); got != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", got, len(ms))
	}
	// No sessions table: dialog owns that.
	var n int
	q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name LIKE '%session%'"
	if testDialect == DialectPostgres {
		q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE '%session%'"
	}
	if err := s.rdb.Get(&n, q); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("found %d session tables, want none", n)
	}
}

// Processes starting at once all migrate a fresh database.
func TestMigrateConcurrently(t *testing.T) {
	db := freshDB(t)
	stores := make([]*Store, 4)
	for i := range stores {
		s, err := Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	ms, _ := migrations()
	if got := mustCount(t, stores[0], "schema_migrations"); got != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", got, len(ms))
	}
}

func TestMigrationStatements(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		for _, dialect := range []string{DialectSQLite, DialectPostgres} {
			for _, st := range statements(m.sql, dialect) {
				if strings.Contains(st, "{{") {
					t.Errorf("%s (%s): template left in %q", m.name, dialect, st)
				}
				if !strings.HasSuffix(st, ";") {
					t.Errorf("%s (%s): statement does not end with ';': %q", m.name, dialect, st)
				}
				if strings.Count(st, ";") != 1 {
					t.Errorf("%s (%s): two statements in one: %q", m.name, dialect, st)
				}
			}
		}
	}
}

func TestUnknownNotFound(t *testing.T) {
	s := mustOpen(t)
	ctx := context.Background()
	_, err := s.Order(ctx, "OB-NOPE")
	wantCode(t, err, orders.ENOTFOUND)
	_, err = s.Transition(ctx, "OB-NOPE", orders.Transition{To: orders.StatusShipped, Actor: "test", At: t0})
	wantCode(t, err, orders.ENOTFOUND)
	wantCode(t, s.MarkDelivered(ctx, 42, t0), orders.ENOTFOUND)
	wantCode(t, s.MarkFailed(ctx, 42, "boom", t0), orders.ENOTFOUND)
}

// The background checkpointer copies the WAL into the database file
// without anyone writing: the writer's own checkpoint is far away.
func TestCheckpointInBackground(t *testing.T) {
	onlySQLite(t)
	path := filepath.Join(t.TempDir(), "ckpt.db")
	s := mustOpenURL(t, "sqlite:"+path)
	mustImport(t, s, testCatalog())
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * checkpointEvery)
	for {
		now, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if now.Size() > before.Size() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes: the WAL was never checkpointed", now.Size())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
