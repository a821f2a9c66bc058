package sqlstore_test

import (
	"context"
	"testing"

	"orderbot/dialog"
	dialogsql "orderbot/dialog/sqlstore"
	"orderbot/dialog/storetest"
	"orderbot/orders/sqlstore"
)

func TestContractSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dialog.Store {
		t.Helper()
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, "sqlite:"+t.TempDir()+"/sessions.db")
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
	})
}

// Two handles on one file are two processes: a save based on a stale load
// must not overwrite the other's.
func TestTwoHandlesCompareAndSet(t *testing.T) {
	ctx := context.Background()
	path := "sqlite:" + t.TempDir() + "/sessions.db"
	open := func() *dialogsql.Store {
		db, err := sqlstore.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s := dialogsql.New(db.DB(), nil).ReadFrom(db.ReadDB())
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := open(), open()
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
}
