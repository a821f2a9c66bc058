package redisstore_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"orderbot/dialog"
	"orderbot/dialog/redisstore"
)

// A lease is held by one holder at a time, and only the holder's token
// extends or releases it.
func TestLease(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		ctx := context.Background()
		lease := redisstore.NewLease(srv.rdb, "", 0)
		_, first, _, err := lease.Acquire(ctx, "conv", "", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _, err := lease.TryAcquire(ctx, "conv", "", time.Minute); ok || err != nil {
			t.Fatalf("a held lease taken again: %v, %v", ok, err)
		}
		if _, ok, _, _ := lease.TryAcquire(ctx, "other", "", time.Minute); !ok {
			t.Fatal("another conversation's lease is held too")
		}
		if err := lease.Release(ctx, "conv", first+1, ""); !errors.Is(err, redisstore.ErrLeaseLost) {
			t.Fatalf("release with another token = %v, want ErrLeaseLost", err)
		}
		if err := lease.Extend(ctx, "conv", first, time.Hour); err != nil {
			t.Fatal(err)
		}
		wantTTL(t, srv, redisstore.DefaultPrefix+"lease:conv", time.Hour)
		waitCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, _, _, err := lease.Acquire(waitCtx, "conv", "", time.Minute); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Acquire of a held lease = %v, want it to wait until ctx ends", err)
		}
		if err := lease.Release(ctx, "conv", first, ""); err != nil {
			t.Fatal(err)
		}
		if err := lease.Extend(ctx, "conv", first, time.Hour); !errors.Is(err, redisstore.ErrLeaseLost) {
			t.Fatalf("extend after release = %v, want ErrLeaseLost", err)
		}
		next, ok, _, err := lease.TryAcquire(ctx, "conv", "", time.Minute)
		if !ok || err != nil || next <= first {
			t.Fatalf("after release = %d, %v, %v; want a token above %d", next, ok, err, first)
		}
	})
}

// A holder that dies without releasing delays the others by its ttl, no
// more, and its token no longer counts.
func TestLeaseOfDeadHolderExpires(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		ctx := context.Background()
		lease := redisstore.NewLease(srv.rdb, "", 0)
		const ttl = 100 * time.Millisecond
		_, dead, _, err := lease.Acquire(ctx, "conv", "", ttl)
		if err != nil {
			t.Fatal(err)
		}
		srv.elapse(ttl)
		waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, next, _, err := lease.Acquire(waitCtx, "conv", "", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := lease.Release(ctx, "conv", dead, ""); !errors.Is(err, redisstore.ErrLeaseLost) {
			t.Fatalf("the dead holder's release = %v, want ErrLeaseLost", err)
		}
		if err := lease.Release(ctx, "conv", next, ""); err != nil {
			t.Fatalf("the dead holder released the new holder's lease: %v", err)
		}
	})
}

// Replicas contending for one conversation hold it one at a time, each
// with a token of its own.
func TestLeaseMutualExclusion(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		const replicas, turns = 8, 20
		var (
			holders atomic.Int32
			mu      sync.Mutex
			tokens  []int64
			wg      sync.WaitGroup
		)
		for range replicas {
			lease := redisstore.NewLease(srv.rdb, "", 0)
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				for range turns {
					_, token, _, err := lease.Acquire(ctx, "conv", "", time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if n := holders.Add(1); n != 1 {
						t.Errorf("%d holders at once", n)
					}
					runtime.Gosched()
					holders.Add(-1)
					mu.Lock()
					tokens = append(tokens, token)
					mu.Unlock()
					if err := lease.Release(ctx, "conv", token, ""); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		slices.Sort(tokens)
		if len(slices.Compact(tokens)) != replicas*turns {
			t.Fatalf("%d distinct tokens for %d turns", len(tokens), replicas*turns)
		}
	})
}

// A message id released as handled is remembered for the TTL given: taking
// the lease for it again reports it handled and takes nothing, while a
// message released as not handled (its handling failed) is taken again.
func TestLeaseRemembersHandledMessages(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		ctx := context.Background()
		const ttl = time.Hour
		lease := redisstore.NewLease(srv.rdb, "", ttl)
		id := "telegram\x00100"
		_, token, handled, err := lease.Acquire(ctx, "conv", id, time.Minute)
		if err != nil || handled {
			t.Fatalf("a new message: %v, %v", handled, err)
		}
		if err := lease.Release(ctx, "conv", token, ""); err != nil {
			t.Fatal(err)
		}
		// Not recorded (handling failed): the retry takes the lease.
		_, token, handled, err = lease.Acquire(ctx, "conv", id, time.Minute)
		if err != nil || handled {
			t.Fatalf("a message released unhandled: %v, %v", handled, err)
		}
		if err := lease.Release(ctx, "conv", token, id); err != nil {
			t.Fatal(err)
		}
		wantTTL(t, srv, redisstore.DefaultPrefix+"seen:"+id, ttl)
		if _, _, handled, err := lease.Acquire(ctx, "conv", id, time.Minute); !handled || err != nil {
			t.Fatalf("a handled message: %v, %v; want it reported handled", handled, err)
		}
		// Nothing was taken for it: the next message gets the lease at once.
		if _, ok, _, err := lease.TryAcquire(ctx, "conv", "telegram\x00101", time.Minute); !ok || err != nil {
			t.Fatalf("the lease after a handled message: %v, %v", ok, err)
		}
		// A holder whose lease ran out still records what it handled.
		if err := lease.Release(ctx, "other", 12345, "telegram\x00102"); !errors.Is(err, redisstore.ErrLeaseLost) {
			t.Fatalf("release of a lost lease = %v, want ErrLeaseLost", err)
		}
		if _, _, handled, _ := lease.Acquire(ctx, "other", "telegram\x00102", time.Minute); !handled {
			t.Fatal("a message handled under a lost lease was forgotten")
		}
		if srv.mini == nil {
			return
		}
		srv.elapse(ttl)
		if _, _, handled, _ := lease.Acquire(ctx, "conv2", id, time.Minute); handled {
			t.Fatal("an expired id is still handled")
		}
	})
}

// Replicas given one message at once (a channel's retry reaching another
// replica while the first handles it): exactly one handles it; the others
// wait for its lease and then find the message handled.
func TestLeaseOneMessageManyReplicas(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		const replicas = 8
		var handlings atomic.Int32
		var wg sync.WaitGroup
		for range replicas {
			lease := redisstore.NewLease(srv.rdb, "", 0)
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				_, token, handled, err := lease.Acquire(ctx, "conv", "slack\x00Ev1", time.Minute)
				if err != nil || handled {
					if err != nil {
						t.Error(err)
					}
					return
				}
				handlings.Add(1)
				runtime.Gosched()
				if err := lease.Release(ctx, "conv", token, "slack\x00Ev1"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := handlings.Load(); n != 1 {
			t.Fatalf("the message was handled %d times by %d replicas", n, replicas)
		}
	})
}

// commandLog records the commands a client sends, by name.
type commandLog struct {
	mu    sync.Mutex
	names []string
}

func (c *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			return err // a script's first run on a server: go-redis sends it whole next
		}
		c.mu.Lock()
		c.names = append(c.names, cmd.Name())
		c.mu.Unlock()
		return err
	}
}

func (c *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (c *commandLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := c.names
	c.names = nil
	return names
}

// The lease reads the conversation's session as it takes the lease, and a
// fenced update under it starts from that copy: a message costs the lease,
// the save and the release, no separate load. A session changed after the
// lease was taken (by an update that holds no lease) is not overwritten:
// the save over the stale copy fails and the update starts again from the
// stored session.
func TestLeaseReadsTheSession(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		ctx := context.Background()
		log := &commandLog{}
		srv.rdb.AddHook(log)
		st, lease := redisstore.New(srv.rdb, "", 0), redisstore.NewLease(srv.rdb, "", 0)
		if err := st.Update(ctx, conv, func(s *dialog.Session) error {
			s.Cart = []dialog.CartLine{{VariantSKU: "pen", Quantity: 1}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		log.take()

		leased, token, _, err := lease.Acquire(ctx, conv.String(), "telegram\x00500", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var seen int
		if err := st.Update(leased, conv, func(s *dialog.Session) error {
			seen = s.Cart[0].Quantity
			s.Cart[0].Quantity++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := lease.Release(ctx, conv.String(), token, "telegram\x00500"); err != nil {
			t.Fatal(err)
		}
		if got := log.take(); len(got) != 3 || slices.Contains(got, "hmget") || seen != 1 {
			t.Fatalf("a message sent %v and saw quantity %d; want 3 scripts (lease, save, release), no hmget, and 1", got, seen)
		}

		// Changed after the lease was taken: the update sees the change.
		leased, token, _, err = lease.Acquire(ctx, conv.String(), "telegram\x00501", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Update(ctx, conv, func(s *dialog.Session) error { s.Cart[0].Quantity = 10; return nil }); err != nil {
			t.Fatal(err)
		}
		calls := 0
		if err := st.Update(leased, conv, func(s *dialog.Session) error {
			calls++
			s.Cart[0].Quantity++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		lease.Release(ctx, conv.String(), token, "")
		s, _, err := st.Load(ctx, conv)
		if err != nil || s.Cart[0].Quantity != 11 || calls != 2 {
			t.Fatalf("quantity %d after %d tries, %v; want 11: the change made after the lease kept", s.Cart[0].Quantity, calls, err)
		}

		// Another conversation's update under this lease's context reads
		// its own session, not this one.
		leased, token, _, _ = lease.Acquire(ctx, conv.String(), "", time.Minute)
		other := dialog.Key{Channel: "telegram", Chat: "99", User: "99"}
		if err := st.Update(leased, other, func(s *dialog.Session) error {
			if len(s.Cart) != 0 {
				t.Errorf("conversation %s started from another's session", other)
			}
			return nil
		}); err != nil && !errors.Is(err, redisstore.ErrLeaseLost) {
			t.Fatal(err)
		}
		lease.Release(ctx, conv.String(), token, "")
	})
}
