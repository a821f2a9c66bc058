package redisstore_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"orderbot/dialog/redisstore"
)

// A lease is held by one holder at a time, and only the holder's token
// extends or releases it.
func TestLease(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		ctx := context.Background()
		lease := redisstore.NewLease(srv.rdb, "")
		first, err := lease.Acquire(ctx, "conv", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, err := lease.TryAcquire(ctx, "conv", time.Minute); ok || err != nil {
			t.Fatalf("a held lease taken again: %v, %v", ok, err)
		}
		if _, ok, _ := lease.TryAcquire(ctx, "other", time.Minute); !ok {
			t.Fatal("another conversation's lease is held too")
		}
		if err := lease.Release(ctx, "conv", first+1); !errors.Is(err, redisstore.ErrLeaseLost) {
			t.Fatalf("release with another token = %v, want ErrLeaseLost", err)
		}
		if err := lease.Extend(ctx, "conv", first, time.Hour); err != nil {
			t.Fatal(err)
		}
		wantTTL(t, srv, redisstore.DefaultPrefix+"lease:conv", time.Hour)
		waitCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := lease.Acquire(waitCtx, "conv", time.Minute); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Acquire of a held lease = %v, want it to wait until ctx ends", err)
		}
		if err := lease.Release(ctx, "conv", first); err != nil {
			t.Fatal(err)
		}
		if err := lease.Extend(ctx, "conv", first, time.Hour); !errors.Is(err, redisstore.ErrLeaseLost) {
			t.Fatalf("extend after release = %v, want ErrLeaseLost", err)
		}
		next, ok, err := lease.TryAcquire(ctx, "conv", time.Minute)
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
		lease := redisstore.NewLease(srv.rdb, "")
		const ttl = 100 * time.Millisecond
		dead, err := lease.Acquire(ctx, "conv", ttl)
		if err != nil {
			t.Fatal(err)
		}
		srv.elapse(ttl)
		waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		next, err := lease.Acquire(waitCtx, "conv", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := lease.Release(ctx, "conv", dead); !errors.Is(err, redisstore.ErrLeaseLost) {
			t.Fatalf("the dead holder's release = %v, want ErrLeaseLost", err)
		}
		if err := lease.Release(ctx, "conv", next); err != nil {
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
			lease := redisstore.NewLease(srv.rdb, "")
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				for range turns {
					token, err := lease.Acquire(ctx, "conv", time.Minute)
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
					if err := lease.Release(ctx, "conv", token); err != nil {
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
