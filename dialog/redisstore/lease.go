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
// holds the conversation's lease, in order. It also remembers the ids of
// the messages handled, checked when a lease is taken and recorded when it
// is released, so that a message is handled once across the replicas in
// the same round trips (it implements bot.Leaser).
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
	keyspace // ttl: how long a handled message id is remembered
}

// DefaultHandledTTL is how long the id of a message handled is remembered:
// channels stop sending a message again long before.
const DefaultHandledTTL = 24 * time.Hour

// NewLease returns leases kept in rdb under prefix ("" for DefaultPrefix):
// the prefix of the Store whose UpdateFenced checks them. A handled
// message id is remembered for handled (0 for DefaultHandledTTL).
func NewLease(rdb redis.UniversalClient, prefix string, handled time.Duration) *Lease {
	return &Lease{newKeyspace(rdb, prefix, handled, DefaultHandledTTL)}
}

// seenKey is where message id is recorded as handled.
func (l *Lease) seenKey(id string) string { return l.prefix + "seen:" + id }

// acquireScript returns {-1} when ARGV[3] is 1 and KEYS[3] (a handled
// message id) exists; otherwise it takes the lease KEYS[1] for ARGV[1] ms
// if it is free, with the next token of the counter KEYS[2], kept for
// ARGV[2] ms, and returns the token with the fields v and d of the session
// hash KEYS[4] (nil when absent), or {0} when the lease is held.
var acquireScript = redis.NewScript(`
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return {-1} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
local s = redis.call('HMGET', KEYS[4], 'v', 'd')
return {token, s[1], s[2]}
`)

// prefetched is the session Acquire read with the lease, for the Store's
// first load under it.
type prefetched struct {
	prefix, name string
	token        int64
	v, d         any // the hash's fields: strings; nil (or false) when absent
}

type prefetchKey struct{}

// releaseScript records the handled message id KEYS[2] (if given) for
// ARGV[2] ms, then, if the lease KEYS[1] is held by token ARGV[1], frees
// it. It returns 1, or 0 when the lease is not held by that token.
var releaseScript = redis.NewScript(`
if KEYS[2] then redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`)

// extendScript, if the lease KEYS[1] is held by token ARGV[1], extends it
// to ARGV[2] ms from now. It returns 1, or 0 when the lease is not held by
// that token.
var extendScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`)

// TryAcquire takes the lease named name for ttl if it is free, and returns
// its fencing token; ok is false when another holds it. When message id
// ("" for none) was recorded as handled, it reports handled and takes
// nothing.
func (l *Lease) TryAcquire(ctx context.Context, name, id string, ttl time.Duration) (token int64, ok, handled bool, err error) {
	token, _, err = l.tryAcquire(ctx, name, id, ttl)
	return max(token, 0), token > 0, token < 0, err
}

// tryAcquire runs acquireScript: the token (0: held by another, -1: the
// message was handled) and, with a token, the conversation's session as
// read with the lease.
func (l *Lease) tryAcquire(ctx context.Context, name, id string, ttl time.Duration) (int64, *prefetched, error) {
	seen, checkSeen := l.seenKey(id), "1"
	if id == "" {
		seen, checkSeen = leaseKey(l.prefix, name), "0" // a stand-in, not read
	}
	keys := []string{leaseKey(l.prefix, name), l.prefix + "fence:" + name, seen, sessionKey(l.prefix, name)}
	reply, err := acquireScript.Run(ctx, l.rdb, keys, millis(ttl), millis(max(ttl, fenceKeep)), checkSeen).Slice()
	if err != nil {
		return 0, nil, fmt.Errorf("acquire lease: %w", err)
	}
	token, ok := reply[0].(int64)
	if !ok || (token > 0 && len(reply) != 3) {
		return 0, nil, fmt.Errorf("acquire lease: unexpected answer %v", reply)
	}
	if token <= 0 {
		return token, nil, nil
	}
	return token, &prefetched{prefix: l.prefix, name: name, token: token, v: reply[1], d: reply[2]}, nil
}

// Acquire waits until the lease named name is free, takes it for ttl and
// returns its fencing token and ctx carrying it (dialog.WithLease) for the
// Store's fenced saves, with the session as read with the lease for the
// Store's first load. When message id ("" for none) was recorded as
// handled (by the holder it waited for, perhaps), it reports handled and
// takes nothing. It returns an error when ctx ends first or Redis fails;
// it does not wait for Redis to come back.
func (l *Lease) Acquire(ctx context.Context, name, id string, ttl time.Duration) (leased context.Context, token int64, handled bool, err error) {
	wait := minPoll
	for {
		token, p, err := l.tryAcquire(ctx, name, id, ttl)
		switch {
		case err != nil:
			return ctx, 0, false, err
		case token < 0:
			return ctx, 0, true, nil
		case token > 0:
			return context.WithValue(dialog.WithLease(ctx, token), prefetchKey{}, p), token, false, nil
		}
		timer := time.NewTimer(wait + rand.N(wait))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx, 0, false, fmt.Errorf("acquire lease: %w", context.Cause(ctx))
		case <-timer.C:
		}
		wait = min(2*wait, maxPoll)
	}
}

// Extend makes the lease named name, held with token, last ttl from now. It
// returns ErrLeaseLost when the lease is no longer held with token.
func (l *Lease) Extend(ctx context.Context, name string, token int64, ttl time.Duration) error {
	held, err := extendScript.Run(ctx, l.rdb, []string{leaseKey(l.prefix, name)}, token, millis(ttl)).Int64()
	return heldOrLost(held, err)
}

// Release records message id as handled, unless id is "", and frees the
// lease named name, held with token, for the next Acquire. It returns
// ErrLeaseLost, and frees nothing, when the lease is no longer held with
// token; the id is recorded all the same (the holder's save was fenced, so
// what it handled stands).
func (l *Lease) Release(ctx context.Context, name string, token int64, id string) error {
	keys := []string{leaseKey(l.prefix, name)}
	if id != "" {
		keys = append(keys, l.seenKey(id))
	}
	held, err := releaseScript.Run(ctx, l.rdb, keys, token, millis(l.ttl)).Int64()
	return heldOrLost(held, err)
}

// heldOrLost is a lease script's answer: nil for 1, ErrLeaseLost for 0.
func heldOrLost(held int64, err error) error {
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
