package sqlstore

import (
	"context"
	"fmt"
	"strings"
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

	insert, exists, purge string
	inserts               atomic.Int64
	// escape makes an id storable: PostgreSQL's TEXT cannot hold the NUL
	// byte that the hub's ids contain ("channel\x00id"). SQLite keeps ids
	// as they are, so the ids it recorded before still match.
	escape func(string) string
}

// nulEscaper writes NUL as \0 and so \ as \\, keeping distinct ids distinct.
var nulEscaper = strings.NewReplacer(`\`, `\\`, "\x00", `\0`)

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
	d := &Deduper{
		db: db, stmts: newStmts(db), ttl: ttl, now: now,
		insert: db.Rebind(`INSERT INTO seen_messages (id, seen_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`),
		exists: db.Rebind(`SELECT EXISTS (SELECT 1 FROM seen_messages WHERE id = ? AND seen_at >= ?)`),
		purge:  db.Rebind(`DELETE FROM seen_messages WHERE seen_at < ?`),
		escape: func(id string) string { return id },
	}
	if sqlx.BindType(db.DriverName()) == sqlx.DOLLAR { // PostgreSQL
		d.escape = nulEscaper.Replace
	}
	return d
}

// Seen reports whether id was recorded less than the TTL ago.
func (d *Deduper) Seen(ctx context.Context, id string) (bool, error) {
	var seen bool
	err := d.db.GetContext(ctx, &seen, d.exists, d.escape(id), d.now().Add(-d.ttl).UnixMicro())
	if err != nil {
		return false, fmt.Errorf("look up message id: %w", err)
	}
	return seen, nil
}

// FirstSeen records id and reports whether it was new. Ids older than the
// TTL are forgotten now and then.
func (d *Deduper) FirstSeen(ctx context.Context, id string) (bool, error) {
	now := d.now()
	st, err := d.stmts.get(ctx, d.insert)
	if err != nil {
		return false, fmt.Errorf("record message id: %w", err)
	}
	res, err := st.ExecContext(ctx, d.escape(id), now.UnixMicro())
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
