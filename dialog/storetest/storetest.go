// Package storetest is the contract every dialog.Store must meet, run by the
// tests of each implementation.
package storetest

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"orderbot/dialog"
	"orderbot/orders"
)

// Run checks a store; newStore returns an empty store.
func Run(t *testing.T, newStore func(t *testing.T) dialog.Store) {
	ctx := context.Background()
	key := dialog.Key{Channel: "console", Chat: "c1", User: "u1"}

	t.Run("missing session loads fresh", func(t *testing.T) {
		st := newStore(t)
		s, found, err := st.Load(ctx, key)
		if err != nil || found {
			t.Fatalf("Load = %v, %v; want not found", found, err)
		}
		if s.Key != key || s.Version != 0 || s.State != "" {
			t.Fatalf("fresh session = %+v", s)
		}
	})

	t.Run("round trip keeps every field", func(t *testing.T) {
		st := newStore(t)
		want := dialog.Session{
			Key: key, State: dialog.StateReview, Stack: []dialog.State{dialog.StateCart, dialog.StatePayment},
			Seq: 42, Lang: "zh", Category: "office", Page: 2, Product: "pen", Variant: "pen-blk",
			EditLine: "pen-blk", Order: "OB-2345678", Deciding: "OB-3456789", Failures: 1,
			Amending: "OB-2345678", Held: []dialog.CartLine{{VariantSKU: "pad-a4", Quantity: 1, UnitPrice: orders.Money{Amount: 900, Currency: "CNY"}}},
			Cart:      []dialog.CartLine{{VariantSKU: "pen-blk", Quantity: 3, UnitPrice: orders.Money{Amount: 350, Currency: "CNY"}}},
			Checkout:  dialog.Checkout{Address: "1 Main St", Location: &dialog.Location{Latitude: 31.2, Longitude: 121.5}, Name: "Li Lei", Phone: "+8613800138000", Payment: orders.PayOnDelivery, Key: "k1"},
			Profile:   dialog.Profile{Address: "1 Main St", Name: "Li Lei", Phone: "+8613800138000"},
			UpdatedAt: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		}
		err := st.Update(ctx, key, func(s *dialog.Session) error {
			v := s.Version
			*s = want
			s.Version = v
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, found, err := st.Load(ctx, key)
		if err != nil || !found {
			t.Fatalf("Load = %v, %v", found, err)
		}
		if got.Version != 1 {
			t.Errorf("version = %d, want 1", got.Version)
		}
		got.Version = 0
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("round trip:\n got %+v\nwant %+v", *got, want)
		}
	})

	t.Run("error from fn saves nothing", func(t *testing.T) {
		st := newStore(t)
		boom := errors.New("boom")
		err := st.Update(ctx, key, func(s *dialog.Session) error {
			s.State = dialog.StateCart
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update = %v, want boom", err)
		}
		if _, found, _ := st.Load(ctx, key); found {
			t.Fatal("session saved despite the error")
		}
	})

	t.Run("concurrent updates lose nothing", func(t *testing.T) {
		st := newStore(t)
		const writers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					errs <- retryConflict(func() error {
						return st.Update(ctx, key, func(s *dialog.Session) error {
							s.Seq++
							return nil
						})
					})
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		s, _, err := st.Load(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if s.Seq != writers*each {
			t.Fatalf("Seq = %d after %d increments: an update was lost", s.Seq, writers*each)
		}
	})

	t.Run("conversations are separate", func(t *testing.T) {
		st := newStore(t)
		other := dialog.Key{Channel: "console", Chat: "c1", User: "u2"}
		if err := st.Update(ctx, key, func(s *dialog.Session) error { s.Lang = "zh"; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, found, _ := st.Load(ctx, other); found {
			t.Fatal("another user's session is visible")
		}
	})
}

// retryConflict retries an update that gave up under heavy contention, as the
// engine's caller would; losing an increment is what the test looks for.
func retryConflict(f func() error) error {
	for {
		if err := f(); !errors.Is(err, dialog.ErrConflict) {
			return err
		}
	}
}
