package redisstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"

	"orderbot/dialog"
)

// ErrLeaseLost is returned for a lease that is no longer held by the token
// given: it expired, and perhaps another replica took it since.
var ErrLeaseLost = dialog.ErrLeaseLost

// fenceKeep is how long the counter of a lease's fencing tokens outlives the
// last Acquire. A counter forgotten starts again at 1, so a holder that
// stalled for longer than this (and whose lease expired a lot earlier) could
// meet its own token again.
const fenceKeep = 30 * 24 * time.Hour

// The wait between two tries of Acquire starts at minPoll and doubles up
// to maxPoll, plus up to as much again at random, so that waiting replicas
// do not try in step.
const (
	minPoll = 2 * time.Millisecond
	maxPoll = 50 * time.Millisecond
)

// Lease hands out named leases, one a conversation, so that replicas take
// turns at a conversation: each message is handled by the replica that
// holds the conversation's lease, in order.
//
// A lease lasts ttl unless released or extended, so a holder that died
// delays the conversation by at most ttl. Each Acquire returns a fencing
// token larger than any handed out before for the name (while the name is
// taken at least once every 30 days; the counter is forgotten after
// that); a holder that
// stalled past its ttl finds, through that token, that it lost the lease:
// Extend and Release return ErrLeaseLost, and Store.UpdateFenced refuses its
// save.
type Lease struct {
	keyspace // ttl unused: each Acquire names its own
}

// NewLease returns leases kept in rdb under prefix ("" for DefaultPrefix):
// the prefix of the Store whose UpdateFenced checks them.
func NewLease(rdb redis.UniversalClient, prefix string) *Lease {
	return &Lease{newKeyspace(rdb, prefix, 0, 0)}
}

// acquireScript takes the lease KEYS[1] for ARGV[1] ms if it is free, with
// the next token of the counter KEYS[2], kept for ARGV[2] ms. It returns the
// token, or 0 when the lease is held.
var acquireScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
return token
`)

// holdScript, if the lease KEYS[1] is held by token ARGV[1], extends it to
// ARGV[2] ms from now, or releases it when ARGV[2] is 0. It returns 1, or 0
// when the lease is not held by that token.
var holdScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`)

// TryAcquire takes the lease named name for ttl if it is free, and returns
// its fencing token; ok is false when another holds it.
func (l *Lease) TryAcquire(ctx context.Context, name string, ttl time.Duration) (token int64, ok bool, err error) {
	keys := []string{leaseKey(l.prefix, name), l.prefix + "fence:" + name}
	token, err = acquireScript.Run(ctx, l.rdb, keys, millis(ttl), millis(max(ttl, fenceKeep))).Int64()
	if err != nil {
		return 0, false, fmt.Errorf("acquire lease: %w", err)
	}
	return token, token > 0, nil
}

// Acquire waits until the lease named name is free, takes it for ttl and
// returns its fencing token. It returns an error when ctx ends first or
// Redis fails; it does not wait for Redis to come back.
func (l *Lease) Acquire(ctx context.Context, name string, ttl time.Duration) (int64, error) {
	wait := minPoll
	for {
		token, ok, err := l.TryAcquire(ctx, name, ttl)
		if err != nil || ok {
			return token, err
		}
		timer := time.NewTimer(wait + rand.N(wait))
		select {
		case <-ctx.Done():
			timer.Stop()
			return 0, fmt.Errorf("acquire lease: %w", context.Cause(ctx))
		case <-timer.C:
		}
		wait = min(2*wait, maxPoll)
	}
}

// Extend makes the lease named name, held with token, last ttl from now. It
// returns ErrLeaseLost when the lease is no longer held with token.
func (l *Lease) Extend(ctx context.Context, name string, token int64, ttl time.Duration) error {
	return l.hold(ctx, name, token, millis(ttl))
}

// Release frees the lease named name, held with token, for the next
// Acquire. It returns ErrLeaseLost, and frees nothing, when the lease is no
// longer held with token.
func (l *Lease) Release(ctx context.Context, name string, token int64) error {
	return l.hold(ctx, name, token, 0)
}

func (l *Lease) hold(ctx context.Context, name string, token, ms int64) error {
	held, err := holdScript.Run(ctx, l.rdb, []string{leaseKey(l.prefix, name)}, token, ms).Int64()
	switch {
	case err != nil:
		return fmt.Errorf("lease: %w", err)
	case held == 0:
		return ErrLeaseLost
	}
	return nil
}

// millis is d in whole milliseconds, at least 1: Redis refuses to expire a
// key in 0 ms.
func millis(d time.Duration) int64 { return max(1, d.Milliseconds()) }
