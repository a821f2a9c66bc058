package sqlstore

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"orderbot/orders"
)

// Every pair of statuses: the store allows exactly what the lifecycle table
// allows, and a refused transition changes nothing.
func TestTransitionTable(t *testing.T) {
	s := mustOpen(t)
	c := testCatalog()
	c.Products[4].Variants[0].Stock = 100
	mustImport(t, s, c)
	svc := mustService(t, s)
	ctx := context.Background()

	for _, from := range orders.Statuses {
		for _, to := range orders.Statuses {
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				o := mustPlace(t, svc, draft(fmt.Sprintf("%s-%s", from, to), line("gift-100", 1, 10000)))
				mustForceStatus(t, s, o.Number, from)
				outboxBefore := mustCount(t, s, "outbox")

				tr := orders.Transition{To: to, Actor: "agent:ann", Note: "test"}
				got, err := svc.Advance(ctx, o.Number, tr)
				if from == orders.StatusPendingApproval {
					// Only the approvers decide (Service.Decide); the table
					// below the Service still holds.
					if orders.ErrorCode(err) != orders.ECONFLICT {
						t.Fatalf("Advance from pending_approval = %v, want ECONFLICT", err)
					}
					tr.At = time.Now()
					got, err = s.Transition(ctx, o.Number, tr)
				}
				if orders.CanTransition(from, to) {
					if err != nil {
						t.Fatalf("Advance: %v", err)
					}
					if got.Status != to {
						t.Errorf("status = %s, want %s", got.Status, to)
					}
					last := got.History[len(got.History)-1]
					if last.From != from || last.To != to || last.Actor != "agent:ann" || last.Note != "test" {
						t.Errorf("last history entry = %+v", last)
					}
					if n := mustCount(t, s, "outbox"); n != outboxBefore+1 {
						t.Errorf("outbox rows = %d, want %d", n, outboxBefore+1)
					}
					return
				}
				wantCode(t, err, orders.ECONFLICT)
				after, err := svc.Order(ctx, o.Number)
				if err != nil {
					t.Fatal(err)
				}
				if after.Status != from || len(after.History) != 1 {
					t.Errorf("refused transition left status %s and %d history entries", after.Status, len(after.History))
				}
				if n := mustCount(t, s, "outbox"); n != outboxBefore {
					t.Errorf("refused transition wrote to the outbox")
				}
			})
		}
	}
}

func TestTransitionConflictMessage(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	svc := mustService(t, s)
	ctx := context.Background()
	o := mustPlace(t, svc, draft("k1", line("tea-green", 1, 1200)))

	tests := []struct {
		name     string
		from, to orders.Status
		want     string
	}{
		{name: "not allowed", from: orders.StatusShipped, to: orders.StatusPendingPayment,
			want: "order %s is shipped; it cannot become pending_payment (allowed: completed, refunded)"},
		{name: "final", from: orders.StatusCancelled, to: orders.StatusShipped,
			want: "order %s is cancelled; it cannot become shipped (allowed: none, it is final)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustForceStatus(t, s, o.Number, tt.from)
			_, err := svc.Advance(ctx, o.Number, orders.Transition{To: tt.to})
			if got, want := orders.ErrorMessage(err), fmt.Sprintf(tt.want, o.Number); got != want {
				t.Errorf("message = %q, want %q", got, want)
			}
		})
	}
}

func TestTransitionTracking(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	svc := mustService(t, s)
	ctx := context.Background()
	o := mustPlace(t, svc, draft("k1", line("tea-green", 1, 1200)))

	shipped, err := svc.Advance(ctx, o.Number, orders.Transition{To: orders.StatusShipped, Actor: "agent:bo", Tracking: "SF1234567", Note: "by courier"})
	if err != nil {
		t.Fatal(err)
	}
	completed, err := svc.Advance(ctx, o.Number, orders.Transition{To: orders.StatusCompleted})
	if err != nil {
		t.Fatal(err)
	}
	if shipped.Tracking != "SF1234567" || completed.Tracking != "SF1234567" {
		t.Errorf("tracking = %q then %q, want it kept", shipped.Tracking, completed.Tracking)
	}
	wantHistory := []orders.Change{
		{From: "", To: orders.StatusPendingShipment, Actor: "customer", At: o.CreatedAt},
		{From: orders.StatusPendingShipment, To: orders.StatusShipped, Actor: "agent:bo", Note: "by courier", At: shipped.UpdatedAt},
		{From: orders.StatusShipped, To: orders.StatusCompleted, Actor: "system", At: completed.UpdatedAt},
	}
	if !reflect.DeepEqual(completed.History, wantHistory) {
		t.Errorf("history =\n%+v\nwant\n%+v", completed.History, wantHistory)
	}
	if !completed.UpdatedAt.After(shipped.UpdatedAt) || !shipped.UpdatedAt.After(o.CreatedAt) {
		t.Errorf("updated at %v, %v after created at %v: want increasing", shipped.UpdatedAt, completed.UpdatedAt, o.CreatedAt)
	}

	ns, err := s.ClaimNotifications(ctx, orders.NotificationFilter{}, 10, completed.UpdatedAt, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 3 {
		t.Fatalf("claimed %d notifications, want 3", len(ns))
	}
	if n := ns[1]; n.From != orders.StatusPendingShipment || n.To != orders.StatusShipped || n.Tracking != "SF1234567" || n.Note != "by courier" {
		t.Errorf("shipping notification = %+v", n)
	}
}

func TestCancelReleasesStockOnce(t *testing.T) {
	tests := []struct {
		name    string
		from    orders.Status
		to      orders.Status
		release bool
	}{
		{name: "customer cancels", from: orders.StatusPendingShipment, to: orders.StatusCancelled, release: true},
		{name: "unpaid order expires", from: orders.StatusPendingPayment, to: orders.StatusCancelled, release: true},
		{name: "approver rejects", from: orders.StatusPendingApproval, to: orders.StatusRejected, release: true},
		{name: "refund keeps stock", from: orders.StatusShipped, to: orders.StatusRefunded, release: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t)
			mustImport(t, s, testCatalog())
			svc := mustService(t, s)
			ctx := context.Background()

			o := mustPlace(t, svc, draft("k1", line("tea-green", 3, 1200), line("tea-black", 5, 1500)))
			mustForceStatus(t, s, o.Number, tt.from)
			if _, err := s.Transition(ctx, o.Number, orders.Transition{To: tt.to, Actor: "test", At: time.Now()}); err != nil {
				t.Fatal(err)
			}
			want := map[string]int{"tea-green": 7, "tea-black": 0}
			if tt.release {
				want = map[string]int{"tea-green": 10, "tea-black": 5}
			}
			// Once: the order is now final and cannot be cancelled again.
			_, err := svc.Advance(ctx, o.Number, orders.Transition{To: orders.StatusCancelled})
			wantCode(t, err, orders.ECONFLICT)
			for sku, n := range want {
				if got := mustStock(t, s, sku); got != n {
					t.Errorf("stock of %s = %d, want %d", sku, got, n)
				}
			}
		})
	}
}

func TestServiceCancel(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	svc := mustService(t, s)
	ctx := context.Background()
	o := mustPlace(t, svc, draft("k1", line("tea-green", 3, 1200)))

	_, err := svc.Cancel(ctx, o.Number, orders.Customer{Channel: "telegram", Chat: "1", User: "1"})
	wantCode(t, err, orders.ENOTFOUND) // someone else's order
	got, err := svc.Cancel(ctx, o.Number, customer)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != orders.StatusCancelled || got.History[1].Actor != "customer" {
		t.Errorf("cancelled order = %+v", got)
	}
	if n := mustStock(t, s, "tea-green"); n != 10 {
		t.Errorf("stock = %d, want 10", n)
	}
}
