package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Cards remembers, per channel and order, which message shows the order's
// card, so that the channel edits that message as the status changes
// instead of sending a new one. The reference is the channel's own
// ("chat:message" on Telegram). The table is created by Migrate.
type Cards struct {
	db       *sqlx.DB
	get, put string
}

// NewCards returns the card references kept in db.
func NewCards(db *sqlx.DB) *Cards {
	return &Cards{
		db:  db,
		get: db.Rebind(`SELECT ref FROM order_cards WHERE channel = ? AND order_number = ?`),
		put: db.Rebind(`INSERT INTO order_cards (channel, order_number, ref) VALUES (?, ?, ?)
			ON CONFLICT (channel, order_number) DO UPDATE SET ref = excluded.ref`),
	}
}

// CardRef returns the message showing an order's card on a channel.
func (c *Cards) CardRef(ctx context.Context, channel, order string) (string, bool, error) {
	var ref string
	err := c.db.GetContext(ctx, &ref, c.get, channel, order)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("load order card: %w", err)
	}
	return ref, true, nil
}

// SaveCardRef records the message now showing an order's card.
func (c *Cards) SaveCardRef(ctx context.Context, channel, order, ref string) error {
	if _, err := c.db.ExecContext(ctx, c.put, channel, order, ref); err != nil {
		return fmt.Errorf("save order card: %w", err)
	}
	return nil
}
