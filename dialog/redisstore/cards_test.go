package redisstore_test

import (
	"context"
	"testing"
	"time"

	"orderbot/dialog/redisstore"
)

// A card reference is kept per channel and order, replaced when the card
// moves to a new message, seen by every replica, and kept for the TTL.
func TestCards(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		ctx := context.Background()
		const ttl = 90 * 24 * time.Hour
		cards := redisstore.NewCards(srv.rdb, "", ttl)
		if _, ok, err := cards.CardRef(ctx, "telegram", "OB-1"); ok || err != nil {
			t.Fatalf("unknown card = %v, %v", ok, err)
		}
		for _, ref := range []string{"100:7", "100:9"} {
			if err := cards.SaveCardRef(ctx, "telegram", "OB-1", ref); err != nil {
				t.Fatal(err)
			}
		}
		if err := cards.SaveCardRef(ctx, "slack", "OB-1", "C1:1700000000.1"); err != nil {
			t.Fatal(err)
		}
		other := redisstore.NewCards(srv.rdb, "", ttl)
		if ref, ok, err := other.CardRef(ctx, "telegram", "OB-1"); ref != "100:9" || !ok || err != nil {
			t.Fatalf("on another replica = %q, %v, %v", ref, ok, err)
		}
		if ref, _, _ := other.CardRef(ctx, "slack", "OB-1"); ref != "C1:1700000000.1" {
			t.Fatalf("slack card = %q", ref)
		}
		wantTTL(t, srv, redisstore.DefaultPrefix+"card:telegram:OB-1", ttl)
	})
}
