package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultCardTTL is how long a card reference is kept after it was last
// saved: longer than an order takes to complete.
const DefaultCardTTL = 90 * 24 * time.Hour

// Cards remembers, per channel and order, which message shows the order's
// card, so that whichever replica delivers the next status change edits that
// message instead of sending a new one. It implements bot.Cards.
type Cards struct {
	keyspace
}

// NewCards returns the card references kept in rdb under prefix ("" for
// DefaultPrefix), each for ttl after its last save (0 for DefaultCardTTL).
func NewCards(rdb redis.UniversalClient, prefix string, ttl time.Duration) *Cards {
	return &Cards{newKeyspace(rdb, prefix, ttl, DefaultCardTTL)}
}

func (c *Cards) key(channel, order string) string {
	return c.prefix + "card:" + channel + ":" + order
}

// CardRef returns the message showing an order's card on a channel.
func (c *Cards) CardRef(ctx context.Context, channel, order string) (string, bool, error) {
	ref, err := c.rdb.Get(ctx, c.key(channel, order)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("load order card: %w", err)
	}
	return ref, true, nil
}

// SaveCardRef records the message now showing an order's card.
func (c *Cards) SaveCardRef(ctx context.Context, channel, order, ref string) error {
	if err := c.rdb.Set(ctx, c.key(channel, order), ref, c.ttl).Err(); err != nil {
		return fmt.Errorf("save order card: %w", err)
	}
	return nil
}
