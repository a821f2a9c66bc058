// Package sqlstore persists the order core in SQL: SQLite for the embedded
// default, PostgreSQL at scale. It is the only package of orderbot that knows
// SQL; it implements orders.Store.
//
// Times are stored as BIGINT microseconds since the Unix epoch, UTC, so they
// compare and sort as integers on both databases; a time read back is in UTC
// and has microsecond precision. Money is BIGINT minor units plus a TEXT
// currency code.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"orderbot/orders"
)

// Dialects Store.Dialect reports.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// busyTimeout is how long a SQLite connection waits for another process's
// write transaction before giving up with EUNAVAILABLE. Write transactions
// are short (milliseconds), so reaching it means something is stuck.
const busyTimeout = 10 * time.Second

// maxReaders bounds the SQLite read pool; WAL lets readers run alongside the
// one writer, and more connections than this only add memory.
const maxReaders = 8

// Store is an orders.Store on a SQL database.
type Store struct {
	db      *sqlx.DB // writes; on PostgreSQL also reads
	rdb     *sqlx.DB // reads; on SQLite a separate read-only pool
	dialect string

	// Prepared statements of the hot paths, keyed by their text before
	// rebinding, prepared on db once the schema exists. Until then (nil)
	// queries run unprepared, which is slower but equally correct.
	stmtMu sync.Mutex // serializes preparing
	stmts  atomic.Pointer[map[string]*sqlx.Stmt]

	checkpoints *checkpointer // SQLite only
}

var _ orders.Store = (*Store)(nil)

// Open connects to the database at dbURL and returns a Store; call Migrate
// before use. Accepted forms:
//
//	sqlite:PATH, sqlite://PATH, sqlite:///ABSOLUTE/PATH, file:PATH, or a bare PATH
//	postgres://USER:PASSWORD@HOST/DB?sslmode=… (also postgresql://)
//
// A SQLite file and its directory are created when missing. Several processes
// may open the same SQLite file: they take turns through SQLite's own locks.
func Open(ctx context.Context, dbURL string) (*Store, error) {
	dialect, target, err := parseURL(dbURL)
	if err != nil {
		return nil, err
	}
	if dialect == DialectPostgres {
		return openPostgres(ctx, target)
	}
	return openSQLite(ctx, target)
}

// parseURL splits a database URL into its dialect and what the driver needs:
// a file path for SQLite, the URL itself for PostgreSQL.
func parseURL(u string) (dialect, target string, err error) {
	u = strings.TrimSpace(u)
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return DialectPostgres, u, nil
	case strings.HasPrefix(u, "sqlite:"):
		target = strings.TrimPrefix(u, "sqlite:")
	case strings.HasPrefix(u, "file:"):
		target = strings.TrimPrefix(u, "file:")
	case !strings.Contains(u, "://"):
		target = u
	default:
		return "", "", orders.Errorf(orders.EINVALID, "database URL %q: use sqlite:PATH or postgres://…", redact(u))
	}
	// "sqlite://data/x.db" is relative, "sqlite:///var/x.db" absolute: the
	// two slashes of an authority-less URL are not part of the path.
	target = strings.TrimPrefix(target, "//")
	switch {
	case target == "":
		return "", "", orders.Errorf(orders.EINVALID, "database URL %q has no file path", u)
	case target == ":memory:" || strings.Contains(target, "mode=memory"):
		// The store keeps a writer and a reader pool; they would see two
		// different in-memory databases.
		return "", "", orders.Errorf(orders.EINVALID, "an in-memory SQLite database cannot be shared between connections; use a file")
	case strings.ContainsAny(target, "?#"):
		return "", "", orders.Errorf(orders.EINVALID, "database URL %q: options are not supported, orderbot sets them itself", u)
	}
	return DialectSQLite, filepath.Clean(target), nil
}

// redact hides a password in a URL that is about to appear in an error.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// openSQLite opens path with two pools: one connection for writes and a few
// read-only ones. Writes in one process queue for the single write connection
// in Go, which is fast and fair, instead of spinning in SQLite's busy handler
// (which sleeps for milliseconds); writes from other processes still wait on
// SQLite's file lock for up to busyTimeout.
func openSQLite(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, &orders.Error{Code: orders.EINTERNAL, Message: "cannot create the database directory", Err: fmt.Errorf("sqlstore: %w", err)}
		}
	}
	ms := fmt.Sprint(busyTimeout.Milliseconds())
	// _txlock=immediate makes every write transaction take the write lock at
	// BEGIN, so two writers never both read and then fail to upgrade
	// (SQLITE_BUSY that no busy timeout can fix). WAL lets readers proceed
	// during writes; synchronous=NORMAL is durable against application
	// crashes and loses at most the last transactions on power loss.
	wq := url.Values{}
	wq.Set("_busy_timeout", ms)
	wq.Set("_journal_mode", "WAL")
	wq.Set("_synchronous", "NORMAL")
	wq.Set("_foreign_keys", "1")
	wq.Set("_txlock", "immediate")
	// The WAL is checkpointed in the background (checkpointer), so that
	// copying pages into the database file and its fsync never hold up a
	// write; the writer checkpoints itself only as a backstop, should the
	// WAL reach ~400 MB.
	wq.Add("_pragma", "wal_autocheckpoint(100000)")
	db, err := sqlx.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fail("open "+path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	// The writer connects first so that the file exists and is in WAL mode
	// before any reader looks at it.
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fail("open "+path, err)
	}

	rq := url.Values{}
	rq.Set("_busy_timeout", ms)
	rq.Set("_query_only", "1")
	rdb, err := sqlx.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		db.Close()
		return nil, fail("open "+path, err)
	}
	rdb.SetMaxOpenConns(maxReaders)
	rdb.SetMaxIdleConns(maxReaders)
	rdb.SetConnMaxIdleTime(5 * time.Minute)
	if err := rdb.PingContext(ctx); err != nil {
		db.Close()
		rdb.Close()
		return nil, fail("open "+path, err)
	}
	cq := url.Values{}
	cq.Set("_busy_timeout", ms)
	cdb, err := sqlx.Open("sqlite", path+"?"+cq.Encode())
	if err != nil {
		db.Close()
		rdb.Close()
		return nil, fail("open "+path, err)
	}
	cdb.SetMaxOpenConns(1)
	s := &Store{db: db, rdb: rdb, dialect: DialectSQLite}
	s.checkpoints = startCheckpointer(cdb, checkpointEvery)
	return s, nil
}

// checkpointEvery is how often the background checkpointer copies the WAL
// into the database file. Pages written again and again (stock, sessions)
// are copied once per checkpoint: every second cost placing orders ~7 %,
// every five seconds nothing measurable.
const checkpointEvery = 5 * time.Second

// checkpointer runs SQLite's passive checkpoints on a connection of its
// own. A passive checkpoint copies what it can without waiting for readers
// or the writer, and the writer goes on appending to the WAL meanwhile;
// once every frame is copied, the next write starts the WAL over, so it
// stays small.
type checkpointer struct {
	db   *sqlx.DB
	stop context.CancelFunc
	done chan struct{}
}

func startCheckpointer(db *sqlx.DB, every time.Duration) *checkpointer {
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{db: db, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// A failure (the file is busy elsewhere) is tried again next
			// tick; the writer's own checkpoint is the backstop.
			db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}()
	return c
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	c.stop()
	<-c.done
	return c.db.Close()
}

// openPostgres opens a pool through the pgx database/sql driver
// (driver_pgx.go). The PostgreSQL path is not exercised by tests yet.
func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	db, err := sqlx.Open("pgx", dsn)
	if err != nil {
		return nil, fail("open "+redact(dsn), err)
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fail("open "+redact(dsn), err)
	}
	return &Store{db: db, rdb: db, dialect: DialectPostgres}, nil
}

// startLock is the PostgreSQL advisory lock key of Exclusive (Migrate's,
// taken inside it, is another).
const startLock = 7243002

// Exclusive runs fn while no other process runs an Exclusive fn on the
// same database: what every replica does at start (migrations of the
// packages sharing the database, seeding an empty catalog) then runs once
// at a time, and the later replicas find it done. On PostgreSQL it holds
// a session advisory lock on a connection of its own; on SQLite, whose
// writes already take turns and whose start-up statements tolerate each
// other, it just runs fn.
func (s *Store) Exclusive(ctx context.Context, fn func() error) error {
	if s.dialect != DialectPostgres {
		return fn()
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fail("lock the database", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", startLock); err != nil {
		return fail("lock the database", err)
	}
	defer func() {
		// Closing the connection releases the lock too; this returns it
		// to the pool unlocked.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn.ExecContext(uctx, "SELECT pg_advisory_unlock($1)", startLock)
	}()
	return fn()
}

// DB returns the handle writes go through, for a sibling store (dialog
// sessions) that keeps its tables in the same database. Its transactions take
// the write lock at BEGIN on SQLite, where it also has a single connection:
// never call the Store while holding one of its transactions open, or the
// two wait for each other forever.
func (s *Store) DB() *sqlx.DB { return s.db }

// Dialect returns DialectSQLite or DialectPostgres, for SQL that differs.
func (s *Store) Dialect() string { return s.dialect }

// ReadDB returns the handle for reads: on SQLite a pool of read-only
// connections that run beside the one writer; on PostgreSQL the same pool
// as DB.
func (s *Store) ReadDB() *sqlx.DB { return s.rdb }

// Close closes the database handles.
func (s *Store) Close() error {
	if m := s.stmts.Load(); m != nil {
		for _, st := range *m {
			st.Close()
		}
	}
	var err error
	if s.checkpoints != nil {
		err = s.checkpoints.close()
	}
	err = errors.Join(err, s.db.Close())
	if s.rdb != s.db {
		err = errors.Join(err, s.rdb.Close())
	}
	return err
}

// hotQueries are prepared once per write connection: they run on every
// order placed or advanced, and preparing costs about as much as running.
var hotQueries = []string{
	qInsertOrder, qInsertOrderReturning, qReserve, qInsertLine, qReserveStars, qInsertStarsLine,
	qInsertFirstChange, qInsertChange, qInsertOutbox, qInsertOutboxAndDesk, qOrderByNumber, qOrderByID, qLinesOfOrder, qHistoryOfOrder,
	qSetStatus, qReleaseStock,
}

// prepare prepares hotQueries on the write pool once the schema exists. It
// must run outside any transaction: on SQLite the write pool has one
// connection, which a transaction would be holding.
func (s *Store) prepare(ctx context.Context) {
	if s.stmts.Load() != nil {
		return
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if s.stmts.Load() != nil {
		return
	}
	m := make(map[string]*sqlx.Stmt, len(hotQueries))
	for _, q := range hotQueries {
		st, err := s.db.PreparexContext(ctx, s.db.Rebind(q))
		if err != nil {
			// Most likely not migrated yet; try again next time.
			for _, st := range m {
				st.Close()
			}
			return
		}
		m[q] = st
	}
	s.stmts.Store(&m)
}

// txn is a transaction with the prepared statements of its pool.
type txn struct {
	*sqlx.Tx
	stmts map[string]*sqlx.Stmt // nil: run every query unprepared
}

// stmt returns q prepared for tx when it is a prepared hot query.
func (t *txn) stmt(ctx context.Context, q string) *sqlx.Stmt {
	st, ok := t.stmts[q]
	if !ok {
		return nil
	}
	return t.StmtxContext(ctx, st)
}

// exec runs a statement, prepared when possible.
func (t *txn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.ExecContext(ctx, t.Rebind(q), args...)
}

// get scans one row of q into dest, prepared when possible.
func (t *txn) get(ctx context.Context, dest any, q string, args ...any) error {
	if st := t.stmt(ctx, q); st != nil {
		return st.GetContext(ctx, dest, args...)
	}
	return t.GetContext(ctx, dest, t.Rebind(q), args...)
}

// query runs q, prepared when possible, for callers that scan rows
// themselves.
func (t *txn) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.QueryContext(ctx, t.Rebind(q), args...)
}

// sel scans all rows of q into dest, prepared when possible.
func (t *txn) sel(ctx context.Context, dest any, q string, args ...any) error {
	if st := t.stmt(ctx, q); st != nil {
		return st.SelectContext(ctx, dest, args...)
	}
	return t.SelectContext(ctx, dest, t.Rebind(q), args...)
}

// write runs fn in a write transaction and commits it when fn returns nil.
// The commit error is returned: a transaction that did not commit did not
// happen.
func (s *Store) write(ctx context.Context, fn func(tx *txn) error) error {
	s.prepare(ctx)
	t, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	w := &txn{Tx: t}
	if m := s.stmts.Load(); m != nil {
		w.stmts = *m
	}
	if err := fn(w); err != nil {
		t.Rollback()
		return err
	}
	return t.Commit()
}

// read runs fn in a read-only transaction, so that what it reads in several
// queries is one consistent snapshot.
//
// Reads run unprepared: on SQLite they use another pool than the one the
// statements are prepared on, and none of them is hot enough to matter.
func (s *Store) read(ctx context.Context, fn func(tx *txn) error) error {
	t, err := s.rdb.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer t.Rollback()
	if err := fn(&txn{Tx: t}); err != nil {
		return err
	}
	return t.Commit()
}

// fail turns err into what a caller of the Store may see. Domain errors pass
// through; a missing row becomes ENOTFOUND; a database too busy for too long
// becomes EUNAVAILABLE; anything else becomes EINTERNAL, wrapping err with
// what was being done, for the logs.
func fail(op string, err error) error {
	if err == nil {
		return nil
	}
	var oe *orders.Error
	var pe *orders.ProblemsError
	switch {
	case errors.As(err, &oe), errors.As(err, &pe), errors.Is(err, orders.ErrNumberTaken):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return &orders.Error{Code: orders.ENOTFOUND, Message: "not found", Err: fmt.Errorf("sqlstore: %s: %w", op, err)}
	case busy(err):
		return &orders.Error{Code: orders.EUNAVAILABLE, Message: "the database is busy, please try again", Err: fmt.Errorf("sqlstore: %s: %w", op, err)}
	}
	return &orders.Error{Code: orders.EINTERNAL, Message: "internal error", Err: fmt.Errorf("sqlstore: %s: %w", op, err)}
}

// busy reports whether err says the database was locked by someone else for
// longer than we were willing to wait, or (PostgreSQL) that a transaction lost
// a race it may simply retry.
func busy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	var pe interface{ SQLState() string }
	if errors.As(err, &pe) {
		switch pe.SQLState() {
		case "40001", "40P01", "55P03": // serialization failure, deadlock, lock not available
			return true
		}
	}
	return false
}

// micros encodes a time for storage; see the package comment.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros decodes a stored time.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
