package sqlstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
)

// Deduper remembers inbound message ids in the database, so that a message
// a channel delivers again after a restart (Telegram re-sends updates whose
// offset was not confirmed, a webhook is retried) is dropped. It implements
// bot.Deduper.
type Deduper struct {
	db    *sqlx.DB
	stmts *stmts
	ttl   time.Duration
	now   func() time.Time

	insert, purge string
	inserts       atomic.Int64
}

// purgeEvery is how many new ids pass between two purges of expired ones.
const purgeEvery = 1000

// NewDeduper returns a Deduper that remembers an id for ttl (channels stop
// re-sending long before a day). now may be nil for time.Now.
func NewDeduper(db *sqlx.DB, ttl time.Duration, now func() time.Time) *Deduper {
	if now == nil {
		now = time.Now
	}
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	return &Deduper{
		db: db, stmts: newStmts(db), ttl: ttl, now: now,
		insert: db.Rebind(`INSERT INTO seen_messages (id, seen_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`),
		purge:  db.Rebind(`DELETE FROM seen_messages WHERE seen_at < ?`),
	}
}

// FirstSeen records id and reports whether it was new. Ids older than the
// TTL are forgotten now and then.
func (d *Deduper) FirstSeen(ctx context.Context, id string) (bool, error) {
	now := d.now()
	st, err := d.stmts.get(ctx, d.insert)
	if err != nil {
		return false, fmt.Errorf("record message id: %w", err)
	}
	res, err := st.ExecContext(ctx, id, now.UnixMicro())
	if err != nil {
		return false, fmt.Errorf("record message id: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record message id: %w", err)
	}
	if n == 1 && d.inserts.Add(1)%purgeEvery == 0 {
		if _, err := d.db.ExecContext(ctx, d.purge, now.Add(-d.ttl).UnixMicro()); err != nil {
			return true, fmt.Errorf("purge message ids: %w", err)
		}
	}
	return n == 1, nil
}
