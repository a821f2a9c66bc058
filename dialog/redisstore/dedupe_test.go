package redisstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"orderbot/dialog/redisstore"
	"orderbot/dialog/storetest"
)

// An id is remembered for the TTL given, and forgotten after.
func TestDeduperExpires(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		ctx := context.Background()
		const ttl = time.Hour
		d := redisstore.NewDeduper(srv.rdb, "", ttl)
		if ok, err := d.FirstSeen(ctx, "telegram\x00100"); !ok || err != nil {
			t.Fatalf("first sight = %v, %v", ok, err)
		}
		wantTTL(t, srv, redisstore.DefaultPrefix+"seen:telegram\x00100", ttl)
		if srv.mini == nil {
			return
		}
		srv.elapse(ttl)
		if seen, _ := d.Seen(ctx, "telegram\x00100"); seen {
			t.Fatal("an expired id is still seen")
		}
	})
}

// The Deduper contract, each handle a replica on the same Redis; each
// store of ids has a prefix of its own.
func TestDeduperContract(t *testing.T) {
	var stores atomic.Int64
	eachServer(t, func(t *testing.T, srv server) {
		storetest.RunDeduper(t, func(t *testing.T, n int) []storetest.Deduper {
			prefix := fmt.Sprintf("contract%d:", stores.Add(1))
			ds := make([]storetest.Deduper, n)
			for i := range ds {
				ds[i] = redisstore.NewDeduper(srv.rdb, prefix, 0)
			}
			return ds
		})
	})
}
