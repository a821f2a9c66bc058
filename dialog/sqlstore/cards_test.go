package sqlstore_test

import (
	"context"
	"testing"

	dialogsql "orderbot/dialog/sqlstore"
)

// A card reference is kept per channel and order, replaced when the card
// moves to a new message, and survives a restart.
func TestCards(t *testing.T) {
	eachDatabase(t, func(t *testing.T, url string) {
		ctx := context.Background()
		cards := dialogsql.NewCards(openDB(t, url).DB())
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
		again := dialogsql.NewCards(openDB(t, url).DB())
		if ref, ok, err := again.CardRef(ctx, "telegram", "OB-1"); ref != "100:9" || !ok || err != nil {
			t.Fatalf("after a restart = %q, %v, %v", ref, ok, err)
		}
		if ref, _, _ := again.CardRef(ctx, "slack", "OB-1"); ref != "C1:1700000000.1" {
			t.Fatalf("slack card = %q", ref)
		}
	})
}
