package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dialogsql "orderbot/dialog/sqlstore"
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

// An id seen before a restart is still a duplicate after it.
func TestDeduperSurvivesRestart(t *testing.T) {
	eachDatabase(t, func(t *testing.T, url string) {
		ctx := context.Background()
		first := dialogsql.NewDeduper(openDB(t, url).DB(), time.Hour, nil)
		if ok, err := first.FirstSeen(ctx, "telegram\x00100"); !ok || err != nil {
			t.Fatalf("first sight = %v, %v", ok, err)
		}
		again := dialogsql.NewDeduper(openDB(t, url).DB(), time.Hour, nil)
		if ok, err := again.FirstSeen(ctx, "telegram\x00100"); ok || err != nil {
			t.Fatalf("after a restart = %v, %v; want a duplicate", ok, err)
		}
		if ok, _ := again.FirstSeen(ctx, "telegram\x00101"); !ok {
			t.Fatal("a new id was taken for a duplicate")
		}
	})
}

// The hub's ids hold a NUL byte, which PostgreSQL's TEXT cannot: an id that
// looks like another once escaped is still another.
func TestDeduperNULInIds(t *testing.T) {
	eachDatabase(t, func(t *testing.T, url string) {
		d := dialogsql.NewDeduper(openDB(t, url).DB(), time.Hour, nil)
		for _, c := range []struct {
			id    string
			first bool
		}{
			{"telegram\x00100", true}, {`telegram\0100`, true}, {`telegram\\0100`, true},
			{"telegram\x00100", false}, {`telegram\0100`, false},
		} {
			if first, err := d.FirstSeen(context.Background(), c.id); first != c.first || err != nil {
				t.Fatalf("FirstSeen(%q) = %v, %v; want %v", c.id, first, err, c.first)
			}
		}
	})
}

func TestDeduperConcurrent(t *testing.T) {
	eachDatabase(t, func(t *testing.T, url string) {
		d := dialogsql.NewDeduper(openDB(t, url).DB(), time.Hour, nil)
		var firsts atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					ok, err := d.FirstSeen(context.Background(), fmt.Sprint(i))
					if err != nil {
						t.Error(err)
					}
					if ok {
						firsts.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if firsts.Load() != 50 {
			t.Fatalf("%d first sightings of 50 ids", firsts.Load())
		}
	})
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
