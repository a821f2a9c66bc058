package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"orderbot/orders"
)

// claimIDs claims with f at at and returns the ids and attempts it got.
func claimIDs(t *testing.T, s *Store, f orders.NotificationFilter, limit int, at time.Time, lease time.Duration) []string {
	t.Helper()
	ns, err := s.ClaimNotifications(context.Background(), f, limit, at, lease)
	if err != nil {
		t.Fatalf("ClaimNotifications: %v", err)
	}
	out := []string{}
	for _, n := range ns {
		out = append(out, fmt.Sprintf("%s#%d", n.OrderNumber, n.Attempts))
	}
	return out
}

// A notification's life: claimed, leased, failed and retried, claimed again
// after a lost lease, delivered.
func TestOutboxLifecycle(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	ctx := context.Background()
	o, err := s.PlaceOrder(ctx, draft("k1", line("tea-green", 1, 1200)), "OB-2222222", t0)
	if err != nil {
		t.Fatal(err)
	}
	all := orders.NotificationFilter{}
	lease := time.Minute
	want := func(attempts int) []string { return []string{fmt.Sprintf("%s#%d", o.Number, attempts)} }

	steps := []struct {
		name string
		do   func()
		at   time.Duration // claim at t0 + at
		want []string
	}{
		{name: "not due before it was written", at: -time.Second, want: []string{}},
		{name: "first claim", at: 0, want: want(1)},
		{name: "leased to the first claimer", at: 30 * time.Second, want: []string{}},
		{name: "lease expired: the notifier died", at: 61 * time.Second, want: want(2)},
		{name: "failed: retry in five minutes", do: func() {
			if err := s.MarkFailed(ctx, 1, "telegram: 429 Too Many Requests", t0.Add(6*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}, at: 5 * time.Minute, want: []string{}},
		{name: "due again", at: 6 * time.Minute, want: want(3)},
		{name: "delivered", do: func() {
			if err := s.MarkDelivered(ctx, 1, t0.Add(6*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}, at: time.Hour, want: []string{}},
		{name: "a late failure report does not resurrect it", do: func() {
			if err := s.MarkFailed(ctx, 1, "timeout", t0); err != nil {
				t.Fatal(err)
			}
		}, at: 2 * time.Hour, want: []string{}},
	}
	for _, st := range steps {
		if st.do != nil {
			st.do()
		}
		if got := claimIDs(t, s, all, 10, t0.Add(st.at), lease); !slices.Equal(got, st.want) {
			t.Errorf("%s: claimed %v, want %v", st.name, got, st.want)
		}
	}

	var lastError string
	var delivered int64
	if err := s.rdb.QueryRow("SELECT last_error, delivered_at FROM outbox WHERE id = 1").Scan(&lastError, &delivered); err != nil {
		t.Fatal(err)
	}
	if lastError != "telegram: 429 Too Many Requests" || delivered != micros(t0.Add(6*time.Minute)) {
		t.Errorf("row: last error %q, delivered at %d", lastError, delivered)
	}
}

func TestOutboxLastErrorIsReturned(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	ctx := context.Background()
	if _, err := s.PlaceOrder(ctx, draft("k1", line("tea-green", 1, 1200)), "OB-2222222", t0); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", maxErrorLen) // 2 bytes each: cut in half, on a character boundary
	if err := s.MarkFailed(ctx, 1, long, t0); err != nil {
		t.Fatal(err)
	}
	ns, err := s.ClaimNotifications(ctx, orders.NotificationFilter{}, 1, t0, time.Minute)
	if err != nil || len(ns) != 1 {
		t.Fatalf("claimed %v, %v", ns, err)
	}
	if want := strings.Repeat("é", maxErrorLen/2); ns[0].LastError != want {
		t.Errorf("last error has %d bytes, want %d", len(ns[0].LastError), len(want))
	}
}

func TestOutboxFilterAndLimit(t *testing.T) {
	s := mustOpen(t)
	c := testCatalog()
	mustImport(t, s, c)
	ctx := context.Background()

	// One notification each, written in this order.
	customers := []orders.Customer{
		{Channel: "telegram", Chat: "100", User: "100"},
		{Channel: "console", Chat: "alice", User: "alice"},
		{Channel: "telegram", Chat: "200", User: "200"},
		{Channel: "slack", Chat: "C1", User: "U1"},
		{Channel: "console", Chat: "bob", User: "bob"},
	}
	for i, cu := range customers {
		d := draft(fmt.Sprintf("k%d", i), line("gift-100", 1, 10000))
		d.Customer = cu
		if _, err := s.PlaceOrder(ctx, d, fmt.Sprintf("OB-%d", i), t0); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name   string
		filter orders.NotificationFilter
		limit  int
		want   []string
	}{
		{name: "every channel, in written order", limit: 10, want: []string{"OB-0#1", "OB-1#1", "OB-2#1", "OB-3#1", "OB-4#1"}},
		{name: "limit takes the oldest", limit: 2, want: []string{"OB-0#1", "OB-1#1"}},
		{name: "one channel", filter: orders.NotificationFilter{Channels: []string{"telegram"}}, limit: 10, want: []string{"OB-0#1", "OB-2#1"}},
		{name: "two channels", filter: orders.NotificationFilter{Channels: []string{"slack", "console"}}, limit: 10, want: []string{"OB-1#1", "OB-3#1", "OB-4#1"}},
		{name: "one chat", filter: orders.NotificationFilter{Channels: []string{"console"}, Chat: "bob"}, limit: 10, want: []string{"OB-4#1"}},
		{name: "unknown channel", filter: orders.NotificationFilter{Channels: []string{"web"}}, limit: 10, want: []string{}},
		{name: "zero limit", limit: 0, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case claims on a fresh copy of the outbox: claims lease.
			if _, err := s.db.Exec("UPDATE outbox SET claimed_until = NULL, attempts = 0"); err != nil {
				t.Fatal(err)
			}
			if got := claimIDs(t, s, tt.filter, tt.limit, t0, time.Minute); !slices.Equal(got, tt.want) {
				t.Errorf("claimed %v, want %v", got, tt.want)
			}
		})
	}
}

// Notifiers in two processes, two goroutines each, drain one outbox: every
// notification is claimed exactly once.
func TestOutboxConcurrentClaimersGetDisjointRows(t *testing.T) {
	db := freshDB(t)
	s1 := mustOpenURL(t, db)
	s2 := mustOpenURL(t, db)
	c := testCatalog()
	mustImport(t, s1, c)
	ctx := context.Background()

	const total = 120
	for i := range total {
		if _, err := s1.PlaceOrder(ctx, draft(fmt.Sprintf("k%d", i), line("gift-100", 1, 10000)), fmt.Sprintf("OB-%d", i), t0); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	claimed := map[int64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, s := range []*Store{s1, s1, s2, s2} {
		wg.Go(func() {
			for {
				ns, err := s.ClaimNotifications(ctx, orders.NotificationFilter{}, 7, t0, time.Hour)
				if err != nil {
					errs <- err
					return
				}
				if len(ns) == 0 {
					return
				}
				mu.Lock()
				for _, n := range ns {
					claimed[n.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(claimed) != total {
		t.Errorf("claimed %d notifications, want %d", len(claimed), total)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("notification %d claimed %d times", id, n)
		}
	}
}

// A status change's notification says who made it, with its tracking code
// and note, so that the conversation can word it (and stay quiet about the
// customer's own changes).
func TestOutboxCarriesTheTransition(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	svc := mustService(t, s)
	o := mustPlace(t, svc, draft("k1", line("tea-green", 1, 1200)))
	if _, err := svc.Advance(ctx, o.Number, orders.Transition{To: orders.StatusShipped, Actor: "operator", Tracking: "SF1", Note: "at the door", At: t0}); err != nil {
		t.Fatal(err)
	}
	ns, err := s.ClaimNotifications(ctx, orders.NotificationFilter{}, 10, t0.Add(time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 {
		t.Fatalf("%d notifications, want the placement and the shipment", len(ns))
	}
	got := ns[1]
	if got.From != orders.StatusPendingShipment || got.To != orders.StatusShipped || got.Actor != "operator" || got.Tracking != "SF1" || got.Note != "at the door" {
		t.Fatalf("notification = %+v", got)
	}
}

func TestOutboxParkedIsNeverClaimed(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	svc := mustService(t, s)
	mustPlace(t, svc, draft("k1", line("tea-green", 1, 1200)))
	ns, err := s.ClaimNotifications(ctx, orders.NotificationFilter{}, 10, t0.Add(time.Hour), time.Minute)
	if err != nil || len(ns) != 1 {
		t.Fatalf("claim = %v, %v", ns, err)
	}
	if err := s.MarkParked(ctx, ns[0].ID, "blocked by the user", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.MarkParked(ctx, 999, "x", t0), orders.ENOTFOUND)
	again, err := s.ClaimNotifications(ctx, orders.NotificationFilter{}, 10, t0.Add(48*time.Hour), time.Minute)
	if err != nil || len(again) != 0 {
		t.Fatalf("claim after parking = %v, %v; want nothing", again, err)
	}
	var reason string
	if err := s.rdb.Get(&reason, s.rdb.Rebind("SELECT last_error FROM outbox WHERE id = ?"), ns[0].ID); err != nil || reason != "blocked by the user" {
		t.Fatalf("reason = %q, %v", reason, err)
	}
}

// An operator sees the notifications still being tried and the parked
// ones, and sends parked ones again: they are claimed anew, attempts
// counted from zero.
func TestOutboxUndeliveredAndUnpark(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	ctx := context.Background()
	for i := range 4 {
		if _, err := s.PlaceOrder(ctx, draft(fmt.Sprintf("k%d", i), line("gift-100", 1, 10000)), fmt.Sprintf("OB-%d", i), t0); err != nil {
			t.Fatal(err)
		}
	}
	ns := mustClaimAll(t, s, t0)
	if len(ns) != 4 {
		t.Fatalf("claimed %d, want 4", len(ns))
	}
	retryAt := t0.Add(time.Hour)
	for _, err := range []error{
		s.MarkDelivered(ctx, ns[0].ID, t0),
		s.MarkFailed(ctx, ns[1].ID, "502 bad gateway", retryAt),
		s.MarkParked(ctx, ns[2].ID, "blocked by the user", t0),
		s.MarkParked(ctx, ns[3].ID, "gave up after 25 attempts", t0),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if waiting, oldest, parked, err := s.Backlog(ctx); err != nil || waiting != 1 || !oldest.Equal(t0) || parked != 2 {
		t.Fatalf("Backlog = %d, %v, %d, %v; want 1 waiting since t0, 2 parked", waiting, oldest, parked, err)
	}
	trying, err := s.Undelivered(ctx, false, 10)
	if err != nil || len(trying) != 1 || trying[0].ID != ns[1].ID || !trying[0].NextAttempt.Equal(retryAt) ||
		trying[0].LastError != "502 bad gateway" || !trying[0].ParkedAt.IsZero() || trying[0].Attempts != 1 {
		t.Fatalf("Undelivered(trying) = %+v, %v", trying, err)
	}
	parked, err := s.Undelivered(ctx, true, 10)
	if err != nil || len(parked) != 2 || parked[0].ID != ns[2].ID || !parked[0].ParkedAt.Equal(t0) || parked[1].LastError != "gave up after 25 attempts" {
		t.Fatalf("Undelivered(parked) = %+v, %v", parked, err)
	}
	if got, err := s.Undelivered(ctx, true, 1); err != nil || len(got) != 1 {
		t.Fatalf("Undelivered with limit 1 = %d rows, %v", len(got), err)
	}

	later := t0.Add(2 * time.Hour)
	if got, err := s.Unpark(ctx, []int64{ns[2].ID, ns[0].ID, 999}, later); err != nil || !slices.Equal(got, []int64{ns[2].ID}) {
		t.Fatalf("Unpark(one parked, one delivered, one unknown) = %v, %v; want [%d]", got, err, ns[2].ID)
	}
	again := mustClaimAll(t, s, later)
	if len(again) != 2 || again[0].ID != ns[1].ID || again[1].ID != ns[2].ID || again[1].Attempts != 1 {
		t.Fatalf("claimed after unparking = %+v; want the retried one and the unparked one, its attempts anew", again)
	}
	if got, err := s.Unpark(ctx, nil, later); err != nil || len(got) != 1 {
		t.Fatalf("Unpark(all) = %v, %v; want the last parked one", got, err)
	}
	if left, _ := s.Undelivered(ctx, true, 10); len(left) != 0 {
		t.Errorf("still parked: %+v", left)
	}
	for _, n := range again {
		if err := s.MarkDelivered(ctx, n.ID, later); err != nil {
			t.Fatal(err)
		}
	}
	if waiting, oldest, _, err := s.Backlog(ctx); err != nil || waiting != 1 || oldest.IsZero() {
		t.Fatalf("Backlog = %d, %v, %v; want the last unparked one waiting", waiting, oldest, err)
	}
}
