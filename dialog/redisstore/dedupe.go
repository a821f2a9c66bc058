package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultDedupeTTL is how long an inbound message id is remembered:
// channels stop re-sending long before.
const DefaultDedupeTTL = 24 * time.Hour

// Deduper remembers inbound message ids in Redis, so that a message one
// replica handled is a duplicate for every other, and after a restart. It
// implements bot.Deduper.
type Deduper struct {
	keyspace
}

// NewDeduper returns a Deduper on rdb with keys under prefix ("" for
// DefaultPrefix) that remembers an id for ttl (0 for DefaultDedupeTTL).
func NewDeduper(rdb redis.UniversalClient, prefix string, ttl time.Duration) *Deduper {
	return &Deduper{newKeyspace(rdb, prefix, ttl, DefaultDedupeTTL)}
}

// Seen reports whether id is recorded.
func (d *Deduper) Seen(ctx context.Context, id string) (bool, error) {
	n, err := d.rdb.Exists(ctx, d.prefix+"seen:"+id).Result()
	if err != nil {
		return false, fmt.Errorf("look up message id: %w", err)
	}
	return n == 1, nil
}

// FirstSeen records id and reports whether it was new: of any number of
// replicas that see one id at once, exactly one is told it is new.
func (d *Deduper) FirstSeen(ctx context.Context, id string) (bool, error) {
	first, err := d.rdb.SetNX(ctx, d.prefix+"seen:"+id, 1, d.ttl).Result()
	if err != nil {
		return false, fmt.Errorf("record message id: %w", err)
	}
	return first, nil
}
