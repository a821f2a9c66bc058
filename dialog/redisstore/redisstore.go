// Package redisstore keeps what the replicas of orderbot share about
// conversations in Redis: sessions (Store), where each order's card is
// shown (Cards), per-conversation leases that keep one conversation on one
// replica at a time and remember the inbound message ids already handled
// (Lease), and the channels' rate limits, so that they hold for the whole
// fleet (Limiter). It is the only package of orderbot that knows Redis.
//
// Every key starts with a prefix (DefaultPrefix unless configured), so that
// several deployments may share a server:
//
//	PREFIX session:CHANNEL:CHAT:USER  hash: v the version, d the session (JSON); expires when idle
//	PREFIX seen:ID                    an inbound message id handled; expires after the lease's handled TTL
//	PREFIX card:CHANNEL:ORDER         the message showing the order's card
//	PREFIX lease:NAME                 the fencing token of the lease's holder; expires after the lease TTL
//	PREFIX fence:NAME                 the last fencing token handed out for NAME
//	PREFIX limit:CHANNEL:global       when the channel's next send may leave
//	PREFIX limit:CHANNEL:chat:CHAT    when the chat's next send may leave
//	PREFIX limit:CHANNEL:pause        set while the channel asked the fleet to wait (a 429)
//
// A Redis Cluster is not supported: the scripts touch several keys of one
// conversation together (its lease, fence and session, a message's seen
// key), which a cluster would place in different slots.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"orderbot/dialog"
)

// DefaultPrefix starts every key when no prefix is configured.
const DefaultPrefix = "orderbot:"

// DefaultSessionIdle is how long a session is kept after its last save.
const DefaultSessionIdle = 30 * 24 * time.Hour

// Open returns a client for a Redis URL: redis://[:PASSWORD@]HOST[:PORT][/DB],
// rediss:// for TLS, or unix://PATH. It does not connect; the first command
// does, and go-redis reconnects by itself after a failure. Every command
// ends with its context's deadline, so that a Redis that hangs (rather
// than refusing connections) holds a caller no longer than it allows.
func Open(redisURL string) (*redis.Client, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		// A url.Error quotes the URL, password and all.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	opts.ContextTimeoutEnabled = true
	return redis.NewClient(opts), nil
}

// Store is a dialog.Store in Redis. A session is saved compare-and-set on its
// version by one script, and expires when it has not been saved for the idle
// time.
type Store struct {
	keyspace // ttl: the idle time
}

var _ dialog.Store = (*Store)(nil)

// New returns a session store on rdb with keys under prefix ("" for
// DefaultPrefix) that forgets a session idle (not saved) for idle (0 for
// DefaultSessionIdle).
func New(rdb redis.UniversalClient, prefix string, idle time.Duration) *Store {
	return &Store{newKeyspace(rdb, prefix, idle, DefaultSessionIdle)}
}

// keyspace is what the stores share: keys under a prefix in rdb, each kept
// for ttl after it was last written.
type keyspace struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// newKeyspace returns a keyspace with the default prefix when prefix is ""
// and ttl def when ttl is 0.
func newKeyspace(rdb redis.UniversalClient, prefix string, ttl, def time.Duration) keyspace {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if ttl <= 0 {
		ttl = def
	}
	return keyspace{rdb: rdb, prefix: prefix, ttl: ttl}
}

func (s *Store) key(key dialog.Key) string { return sessionKey(s.prefix, key.String()) }

// sessionKey is where the session of the conversation named name is kept
// (its dialog.Key.String()).
func sessionKey(prefix, name string) string { return prefix + "session:" + name }

// leaseKey is where the lease named name keeps its holder's token.
func leaseKey(prefix, name string) string { return prefix + "lease:" + name }

// Load implements dialog.Store.
func (s *Store) Load(ctx context.Context, key dialog.Key) (*dialog.Session, bool, error) {
	vals, err := s.rdb.HMGet(ctx, s.key(key), "v", "d").Result()
	if err != nil {
		return nil, false, fmt.Errorf("load session: %w", err)
	}
	return decodeSession(key, vals[0], vals[1])
}

// decodeSession is the session for key from its hash's fields v and d
// (strings; nil, or false from a script, when there is no session).
func decodeSession(key dialog.Key, v, d any) (*dialog.Session, bool, error) {
	version, _ := v.(string)
	data, found := d.(string)
	if !found {
		return &dialog.Session{Key: key}, false, nil
	}
	sess, err := dialog.DecodeSession([]byte(data))
	if err != nil {
		return nil, false, err
	}
	sess.Key = key
	if sess.Version, err = strconv.ParseInt(version, 10, 64); err != nil {
		return nil, false, fmt.Errorf("load session: version %q: %w", version, err)
	}
	return sess, true, nil
}

// Update implements dialog.Store. When ctx carries a lease token
// (dialog.WithLease), it is UpdateFenced with that token.
func (s *Store) Update(ctx context.Context, key dialog.Key, fn func(*dialog.Session) error) error {
	if token, ok := dialog.LeaseOf(ctx); ok {
		return s.UpdateFenced(ctx, key, token, fn)
	}
	return s.update(ctx, key, nil, 0, fn)
}

// UpdateFenced is Update for the holder of the conversation's lease: the
// one that Lease.Acquire(ctx, key.String(), …) returned token for. The save
// is refused with ErrLeaseLost, and fn's change dropped, when the lease has
// expired or another replica holds it since: the holder stalled past its
// lease, and the other replica may have moved the conversation on.
func (s *Store) UpdateFenced(ctx context.Context, key dialog.Key, token int64, fn func(*dialog.Session) error) error {
	return s.update(ctx, key, []string{leaseKey(s.prefix, key.String())}, token, fn)
}

// saveScript saves a session if its version is still ARGV[1], and, when
// KEYS[2] names a lease, if that lease is still held by token ARGV[4]. It
// returns the new version, 0 on a version conflict, or -1 when the lease is
// not held.
var saveScript = redis.NewScript(`
if KEYS[2] and redis.call('GET', KEYS[2]) ~= ARGV[4] then return -1 end
local v = tonumber(redis.call('HGET', KEYS[1], 'v')) or 0
if v ~= tonumber(ARGV[1]) then return 0 end
v = v + 1
redis.call('HSET', KEYS[1], 'v', v, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return v
`)

// update is Update, fenced by the lease in leaseKeys if there is one. The
// first load is the session Lease.Acquire read with the lease, when ctx
// carries it (a save over a session changed since fails, and the next
// attempt loads it afresh).
func (s *Store) update(ctx context.Context, key dialog.Key, leaseKeys []string, token int64, fn func(*dialog.Session) error) error {
	keys := append([]string{s.key(key)}, leaseKeys...)
	load := s.Load
	if p, ok := ctx.Value(prefetchKey{}).(*prefetched); ok && token != 0 && p.token == token && p.name == key.String() && p.prefix == s.prefix {
		first := true
		load = func(ctx context.Context, key dialog.Key) (*dialog.Session, bool, error) {
			if first {
				first = false
				return decodeSession(key, p.v, p.d)
			}
			return s.Load(ctx, key)
		}
	}
	return dialog.CompareAndSet(ctx, key, load, func(_ *dialog.Session, _ bool, base int64, data []byte) (int64, error) {
		v, err := saveScript.Run(ctx, s.rdb, keys, base, data, millis(s.ttl), token).Int64()
		switch {
		case err != nil:
			return 0, fmt.Errorf("save session: %w", err)
		case v < 0:
			return 0, ErrLeaseLost
		}
		return v, nil
	}, fn)
}
