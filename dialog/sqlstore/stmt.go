package sqlstore

import (
	"context"
	"sync"

	"github.com/jmoiron/sqlx"
)

// stmts prepares each statement once, on first use: every inbound message
// loads and saves its session and records its id, and for such small
// statements SQLite spends more time parsing the SQL than running it.
// database/sql prepares a statement again on each connection it runs on.
type stmts struct {
	db *sqlx.DB
	mu sync.Mutex
	m  map[string]*sqlx.Stmt
}

func newStmts(db *sqlx.DB) *stmts { return &stmts{db: db, m: make(map[string]*sqlx.Stmt)} }

// get returns q prepared. A statement that fails to prepare (the table is
// not migrated yet) is not kept, so the next call tries again.
func (s *stmts) get(ctx context.Context, q string) (*sqlx.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.m[q]; ok {
		return st, nil
	}
	st, err := s.db.PreparexContext(ctx, q)
	if err != nil {
		return nil, err
	}
	s.m[q] = st
	return st, nil
}
