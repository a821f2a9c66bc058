package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	dialogsql "orderbot/dialog/sqlstore"
	"orderbot/dialog/storetest"
	"orderbot/internal/testenv"
	"orderbot/orders/sqlstore"
)

// openDB opens and migrates the database at url (sqlite:PATH or
// postgres://…), as a new process would.
func openDB(t *testing.T, url string) *sqlstore.Store {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := dialogsql.Migrate(context.Background(), db.DB()); err != nil {
		t.Fatal(err)
	}
	return db
}

// eachDatabase runs test on SQLite and on PostgreSQL (skipped, outside CI,
// when there is none), with the URL of a new, empty database that test may
// open any number of times.
func eachDatabase(t *testing.T, test func(t *testing.T, url string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { test(t, "sqlite:"+t.TempDir()+"/orderbot.db") })
	t.Run("postgres", func(t *testing.T) { test(t, testenv.PostgresURL(t)) })
}

// The Deduper contract, each handle a process of its own on a new
// database, SQLite and PostgreSQL.
func TestDeduperContract(t *testing.T) {
	for name, fresh := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + t.TempDir() + "/orderbot.db" },
		"postgres": func(t *testing.T) string { return testenv.PostgresURL(t) },
	} {
		t.Run(name, func(t *testing.T) {
			storetest.RunDeduper(t, func(t *testing.T, n int) []storetest.Deduper {
				url := fresh(t)
				ds := make([]storetest.Deduper, n)
				for i := range ds {
					ds[i] = dialogsql.NewDeduper(openDB(t, url).DB(), time.Hour, nil)
				}
				return ds
			})
		})
	}
}

// Expired ids are purged, so the table stays bounded.
func TestDeduperPurgesExpired(t *testing.T) {
	eachDatabase(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := openDB(t, url)
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		d := dialogsql.NewDeduper(db.DB(), time.Hour, func() time.Time { return now })
		for i := 0; i < 1000; i++ {
			if _, err := d.FirstSeen(ctx, fmt.Sprint("old", i)); err != nil {
				t.Fatal(err)
			}
		}
		now = now.Add(2 * time.Hour)
		for i := 0; i < 1000; i++ {
			if _, err := d.FirstSeen(ctx, fmt.Sprint("new", i)); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := db.DB().Get(&n, "SELECT COUNT(*) FROM seen_messages"); err != nil {
			t.Fatal(err)
		}
		if n != 1000 {
			t.Fatalf("%d ids kept, want the 1000 recent ones", n)
		}
	})
}
