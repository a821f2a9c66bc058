package sqlstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"orderbot/orders"
)

// placeUpfront places an order paid up front: it waits for payment with its
// stock reserved.
func placeUpfront(t *testing.T, svc *orders.Service, key string) orders.Order {
	t.Helper()
	d := draft(key, line("tea-green", 2, 1200))
	d.Payment = orders.PayTelegram
	o := mustPlace(t, svc, d)
	if o.Status != orders.StatusPendingPayment {
		t.Fatalf("status = %s, want pending_payment", o.Status)
	}
	return o
}

func TestPaymentMovesOrderOnce(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	svc := mustService(t, s)
	o := placeUpfront(t, svc, "k1")
	if _, err := svc.CheckPayable(ctx, o.Number, cny(2400)); err != nil {
		t.Fatalf("CheckPayable: %v", err)
	}
	if _, err := svc.CheckPayable(ctx, o.Number, cny(100)); orders.ErrorCode(err) != orders.ECONFLICT {
		t.Fatalf("CheckPayable of the wrong amount = %v", err)
	}
	p := orders.ReceivedPayment{ChargeID: "ch_1", Method: orders.PayTelegram, Amount: cny(2400), At: t0}
	// The same confirmation arrives ten times at once (a repeated update).
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := svc.ConfirmPayment(ctx, o.Number, p); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := svc.Order(ctx, o.Number)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != orders.StatusPendingShipment || len(got.History) != 2 || got.History[1].Actor != orders.ActorPayment {
		t.Fatalf("order = %s with history %+v; want one payment change", got.Status, got.History)
	}
	if n := mustCount(t, s, "payments"); n != 1 {
		t.Fatalf("%d payments recorded, want 1", n)
	}
	if _, err := svc.CheckPayable(ctx, o.Number, cny(2400)); orders.ErrorCode(err) != orders.ECONFLICT {
		t.Fatalf("a paid order is payable again: %v", err)
	}
	if got := mustStock(t, s, "tea-green"); got != 8 {
		t.Fatalf("stock = %d, want 8 (reserved once)", got)
	}
}

func TestExpireUnpaid(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	clock := newClock()
	svc := orders.NewService(s, clock.Now)
	stale := placeUpfront(t, svc, "k1")
	clock.t = clock.t.Add(20 * time.Minute)
	paid := placeUpfront(t, svc, "k2")
	fresh := placeUpfront(t, svc, "k3")
	clock.t = clock.t.Add(20 * time.Minute)
	if _, err := svc.ConfirmPayment(ctx, paid.Number, orders.ReceivedPayment{ChargeID: "ch", Method: orders.PayTelegram, Amount: paid.Total}); err != nil {
		t.Fatal(err)
	}
	n, err := svc.ExpireUnpaid(ctx, 30*time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("ExpireUnpaid = %d, %v; want 1", n, err)
	}
	want := map[string]orders.Status{stale.Number: orders.StatusCancelled, paid.Number: orders.StatusPendingShipment, fresh.Number: orders.StatusPendingPayment}
	for number, st := range want {
		if o, _ := svc.Order(ctx, number); o.Status != st {
			t.Errorf("%s is %s, want %s", number, o.Status, st)
		}
	}
	if got := mustStock(t, s, "tea-green"); got != 6 {
		t.Fatalf("stock = %d, want 6: the expired order's 2 released", got)
	}
	// A payment arriving after the order expired is kept for a refund.
	_, err = svc.ConfirmPayment(ctx, stale.Number, orders.ReceivedPayment{ChargeID: "late", Method: orders.PayTelegram, Amount: stale.Total})
	if orders.ErrorCode(err) != orders.ECONFLICT {
		t.Fatalf("late payment = %v, want ECONFLICT", err)
	}
	if n := mustCount(t, s, "payments"); n != 2 {
		t.Fatalf("%d payments recorded, want 2", n)
	}
	ns, err := s.ClaimNotifications(ctx, orders.NotificationFilter{}, 20, clock.t.Add(time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var expired bool
	for _, n := range ns {
		if n.OrderNumber == stale.Number && n.To == orders.StatusCancelled && n.Actor == orders.ActorSystem {
			expired = true
		}
	}
	if !expired {
		t.Fatal("the customer is not told that the order expired")
	}
}
