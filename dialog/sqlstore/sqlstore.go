// Package sqlstore keeps dialog sessions in the order database (SQLite or
// PostgreSQL), next to the orders, with compare-and-set saves on a version.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"orderbot/dialog"
)

// Store is a dialog.Store on an SQL database.
type Store struct {
	db     *sqlx.DB // saves
	rdb    *sqlx.DB // loads
	writes *stmts   // prepared on db
	reads  *stmts   // prepared on rdb
	now    func() time.Time

	load, insert, update string
}

var _ dialog.Store = (*Store)(nil)

// New returns a session store on db, whose bind variables sqlx knows from its
// driver name. now may be nil for time.Now.
func New(db *sqlx.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	prepared := newStmts(db)
	return &Store{
		db:     db,
		rdb:    db,
		writes: prepared,
		reads:  prepared,
		now:    now,
		load:   db.Rebind(`SELECT version, data FROM sessions WHERE conv = ?`),
		insert: db.Rebind(`INSERT INTO sessions (conv, version, data, updated_at) VALUES (?, 1, ?, ?) ON CONFLICT (conv) DO NOTHING`),
		update: db.Rebind(`UPDATE sessions SET version = version + 1, data = ?, updated_at = ? WHERE conv = ? AND version = ?`),
	}
}

// ReadFrom makes the store load sessions through rdb, a read pool on the
// same database (SQLite's read-only connections beside its one writer): a
// load then never waits for another conversation's save. Saves stay
// compare-and-set, so a load that missed a concurrent save only costs a
// retry. It returns s.
func (s *Store) ReadFrom(rdb *sqlx.DB) *Store {
	s.rdb = rdb
	s.reads = newStmts(rdb)
	s.load = rdb.Rebind(`SELECT version, data FROM sessions WHERE conv = ?`)
	return s
}

// Migrate creates the sessions and seen-messages tables if they are missing.
func (s *Store) Migrate(ctx context.Context) error { return Migrate(ctx, s.db) }

// Migrate creates this package's tables on db if they are missing.
func Migrate(ctx context.Context, db *sqlx.DB) error {
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS sessions (
			conv       TEXT PRIMARY KEY,
			version    BIGINT NOT NULL,
			data       TEXT NOT NULL,
			updated_at BIGINT NOT NULL
		)`,
		`CREATE TABLE IF NOT EXISTS seen_messages (
			id      TEXT PRIMARY KEY,
			seen_at BIGINT NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS seen_messages_at ON seen_messages (seen_at)`,
		`CREATE TABLE IF NOT EXISTS order_cards (
			channel      TEXT NOT NULL,
			order_number TEXT NOT NULL,
			ref          TEXT NOT NULL,
			PRIMARY KEY (channel, order_number)
		)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("migrate sessions: %w", err)
		}
	}
	return nil
}

// Load implements dialog.Store.
func (s *Store) Load(ctx context.Context, key dialog.Key) (*dialog.Session, bool, error) {
	var row struct {
		Version int64  `db:"version"`
		Data    string `db:"data"`
	}
	st, err := s.reads.get(ctx, s.load)
	if err == nil {
		err = st.GetContext(ctx, &row, key.String())
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &dialog.Session{Key: key}, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("load session: %w", err)
	}
	sess, err := dialog.DecodeSession([]byte(row.Data))
	if err != nil {
		return nil, false, err
	}
	sess.Key, sess.Version = key, row.Version
	return sess, true, nil
}

// Update implements dialog.Store: the save succeeds only if nobody saved the
// session since it was loaded; otherwise fn runs again on the fresh copy.
func (s *Store) Update(ctx context.Context, key dialog.Key, fn func(*dialog.Session) error) error {
	return dialog.CompareAndSet(ctx, key, s.Load, func(_ *dialog.Session, found bool, base int64, data []byte) (int64, error) {
		now := s.now().UnixMicro()
		var res sql.Result
		var err error
		if found {
			res, err = s.exec(ctx, s.update, string(data), now, key.String(), base)
		} else {
			res, err = s.exec(ctx, s.insert, key.String(), string(data), now)
		}
		if err != nil {
			return 0, fmt.Errorf("save session: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("save session: %w", err)
		}
		if n != 1 {
			return 0, nil
		}
		return base + 1, nil
	}, fn)
}

// exec runs a write, prepared.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := s.writes.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}
