package sqlstore_test

import (
	"context"
	"testing"

	"orderbot/dialog"
	dialogsql "orderbot/dialog/sqlstore"
	"orderbot/dialog/storetest"
	"orderbot/internal/testenv"
	"orderbot/orders/sqlstore"
)

func TestContractSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dialog.Store {
		return mustStore(t, "sqlite:"+t.TempDir()+"/sessions.db")
	})
}

func TestContractPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dialog.Store {
		return mustStore(t, testenv.PostgresURL(t))
	})
}

// mustStore opens a session store on the database at url, migrated twice
// (the second time must change nothing), as a new process would.
func mustStore(t *testing.T, url string) *dialogsql.Store {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := dialogsql.New(db.DB(), nil).ReadFrom(db.ReadDB())
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	return s
}

// Two handles on one file are two processes: a save based on a stale load
// must not overwrite the other's.
func TestTwoHandlesCompareAndSet(t *testing.T) {
	eachDatabase(t, func(t *testing.T, url string) {
		ctx := context.Background()
		a, b := mustStore(t, url), mustStore(t, url)
		key := dialog.Key{Channel: "console", Chat: "x", User: "x"}
		if err := a.Update(ctx, key, func(s *dialog.Session) error { s.Lang = "en"; return nil }); err != nil {
			t.Fatal(err)
		}
		calls := 0
		err := a.Update(ctx, key, func(s *dialog.Session) error {
			calls++
			if calls == 1 {
				// Another process saves while this one is deciding.
				if err := b.Update(ctx, key, func(s *dialog.Session) error { s.Seq += 10; return nil }); err != nil {
					t.Fatal(err)
				}
			}
			s.Seq++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		s, _, err := b.Load(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if calls != 2 || s.Seq != 11 || s.Version != 3 {
			t.Fatalf("calls %d, seq %d, version %d; want the update re-applied on top of the other save (2, 11, 3)", calls, s.Seq, s.Version)
		}
	})
}
