package redisstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"orderbot/dialog/redisstore"
)

// An id is new once, for every replica, until it expires.
func TestDeduper(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		ctx := context.Background()
		const ttl = time.Hour
		one, two := redisstore.NewDeduper(srv.rdb, "", ttl), redisstore.NewDeduper(srv.rdb, "", ttl)
		if ok, err := one.FirstSeen(ctx, "telegram\x00100"); !ok || err != nil {
			t.Fatalf("first sight = %v, %v", ok, err)
		}
		if ok, err := two.FirstSeen(ctx, "telegram\x00100"); ok || err != nil {
			t.Fatalf("on another replica = %v, %v; want a duplicate", ok, err)
		}
		if ok, _ := two.FirstSeen(ctx, "telegram\x00101"); !ok {
			t.Fatal("a new id was taken for a duplicate")
		}
		wantTTL(t, srv, redisstore.DefaultPrefix+"seen:telegram\x00100", ttl)
		if srv.mini == nil {
			return
		}
		srv.elapse(ttl)
		if ok, _ := one.FirstSeen(ctx, "telegram\x00100"); !ok {
			t.Fatal("an expired id is still a duplicate")
		}
	})
}

// Of replicas that see the same ids at once, exactly one takes each id.
func TestDeduperConcurrent(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		const replicas, ids = 8, 50
		var firsts atomic.Int64
		var wg sync.WaitGroup
		for range replicas {
			d := redisstore.NewDeduper(srv.rdb, "", 0)
			wg.Go(func() {
				for i := range ids {
					ok, err := d.FirstSeen(context.Background(), fmt.Sprint(i))
					if err != nil {
						t.Error(err)
					}
					if ok {
						firsts.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if firsts.Load() != ids {
			t.Fatalf("%d first sightings of %d ids", firsts.Load(), ids)
		}
	})
}
