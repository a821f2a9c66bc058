package sqlstore

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"orderbot/orders"
)

// Approvers are reminded once an order has waited an hour, and every four
// hours after that while it still waits.
const (
	remindAfter = time.Hour
	remindEvery = 4 * time.Hour
)

// mustReminderStore opens a store with the test catalog and a Service over
// it with companyRules, on a clock the test moves.
func mustReminderStore(t testing.TB) (*Store, *orders.Service, *clock) {
	t.Helper()
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	c := newClock()
	svc := orders.NewService(s, c.Now)
	svc.SetApprovalRules(mustValid(t, companyRules()))
	return s, svc, c
}

// mustRemind calls RemindApprovers with remindAfter and remindEvery and
// returns how many orders it reminded.
func mustRemind(t testing.TB, svc *orders.Service) int {
	t.Helper()
	n, err := svc.RemindApprovers(context.Background(), remindAfter, remindEvery)
	if err != nil {
		t.Fatalf("RemindApprovers: %v", err)
	}
	return n
}

// mustDeliverAll claims every notification written so far and marks it
// delivered, as a notifier would, and returns them: each call returns
// what was written since the last.
func mustDeliverAll(t testing.TB, s *Store) []orders.Notification {
	t.Helper()
	far := t0.AddDate(10, 0, 0)
	ns := mustClaimAll(t, s, far)
	for _, n := range ns {
		if err := s.MarkDelivered(context.Background(), n.ID, far); err != nil {
			t.Fatalf("MarkDelivered(%d): %v", n.ID, err)
		}
	}
	return ns
}

// reminded returns the reminders of order o written at at, as first
// claimed, their ids counting from id: one to each of o's approvers, in
// o's order.
func reminded(id int64, o orders.Order, at time.Time) []orders.Notification {
	c := orders.Change{From: orders.StatusPendingApproval, To: orders.StatusPendingApproval,
		Actor: orders.ActorSystem, Note: orders.ReminderNote, At: at}
	return told(id-1, o, c)[1:] // without the customer's
}

// mustRemindedAt returns an order's reminded_at as stored: 0 for never.
func mustRemindedAt(t testing.TB, s *Store, number string) int64 {
	t.Helper()
	return mustGet[int64](t, s, "SELECT reminded_at FROM orders WHERE number = ?", number)
}

// mustCountReminders returns the number of reminders in the outbox.
func mustCountReminders(t testing.TB, s *Store) int {
	t.Helper()
	return mustGet[int](t, s, "SELECT COUNT(*) FROM outbox WHERE note = ?", orders.ReminderNote)
}

// An order waiting for approval is not reminded before remindAfter; then
// each approver is reminded, and again once remindEvery has passed since,
// never in between.
func TestRemindApprovers(t *testing.T) {
	s, svc, clock := mustReminderStore(t)
	placed := mustPlace(t, svc, approvalDraft("k1"))
	id := int64(len(mustDeliverAll(t, s)) + 1) // after the request itself

	steps := []struct {
		name     string
		wait     time.Duration
		reminded bool
	}{
		{name: "waiting less than after", wait: 30 * time.Minute},
		{name: "waiting longer than after", wait: 31 * time.Minute, reminded: true},
		{name: "again before every", wait: 3 * time.Hour},
		{name: "again after every", wait: time.Hour, reminded: true},
		{name: "again right away", wait: time.Minute},
	}
	for _, st := range steps {
		before := mustRemindedAt(t, s, placed.Number)
		clock.t = clock.t.Add(st.wait)
		n := mustRemind(t, svc)
		now := clock.t // RemindApprovers read the clock once
		got := mustDeliverAll(t, s)
		if !st.reminded {
			if n != 0 || len(got) != 0 || mustRemindedAt(t, s, placed.Number) != before {
				t.Errorf("%s: reminded %d orders, wrote %+v, reminded_at %d → %d; want nothing",
					st.name, n, got, before, mustRemindedAt(t, s, placed.Number))
			}
			continue
		}
		if n != 1 {
			t.Errorf("%s: reminded %d orders, want 1", st.name, n)
		}
		if want := reminded(id, placed, now); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: outbox =\n%+v\nwant\n%+v", st.name, got, want)
		}
		if got := mustRemindedAt(t, s, placed.Number); got != micros(now) {
			t.Errorf("%s: reminded_at = %d, want %d", st.name, got, micros(now))
		}
		id += int64(len(placed.Approvals))
	}
	if o := mustOrder(t, svc, placed.Number); o.Status != orders.StatusPendingApproval || !reflect.DeepEqual(o.History, placed.History) {
		t.Errorf("reminders changed the order: %s with history %+v", o.Status, o.History)
	}
}

// Only orders waiting for approval, with approvers, are reminded: not one
// decided, nor one that needed no approval.
func TestRemindApproversOnlyWaitingOrders(t *testing.T) {
	s, svc, clock := mustReminderStore(t)
	ctx := context.Background()
	approved := mustPlace(t, svc, approvalDraft("approved"))
	rejected := mustPlace(t, svc, approvalDraft("rejected"))
	waiting := mustPlace(t, svc, companyDraft("waiting", line("gift-100", 1, 10000)))
	company := mustPlace(t, svc, companyDraft("company", line("tea-green", 1, 1200)))
	cash := mustPlace(t, svc, draft("cash", line("tea-green", 1, 1200)))
	// No placement leaves an order waiting without approvers; an old
	// database or a hand-made change might.
	noApprovers := mustPlace(t, svc, companyDraft("no-approvers", line("tea-black", 1, 1500)))
	mustForceStatus(t, s, noApprovers.Number, orders.StatusPendingApproval)
	mustDecide(t, svc, approved.Number, "U-boss", true, "")
	mustDecide(t, svc, approved.Number, "U-ops2", true, "")
	if _, err := svc.Decide(ctx, rejected.Number, "U-ops1", false, "Not now"); err != nil {
		t.Fatal(err)
	}
	id := int64(len(mustDeliverAll(t, s)) + 1)

	clock.t = clock.t.Add(24 * time.Hour)
	if n := mustRemind(t, svc); n != 1 {
		t.Errorf("reminded %d orders, want 1", n)
	}
	if got, want := mustDeliverAll(t, s), reminded(id, waiting, clock.t); !reflect.DeepEqual(got, want) {
		t.Errorf("outbox =\n%+v\nwant only the waiting order's approvers reminded\n%+v", got, want)
	}
	for _, o := range []orders.Order{approved, rejected, company, cash, noApprovers} {
		if got := mustRemindedAt(t, s, o.Number); got != 0 {
			t.Errorf("order %s (%s): reminded_at = %d, want 0", o.Number, o.CheckoutKey, got)
		}
	}
}

// Only the approvers still waited for are reminded: not one who approved,
// nor the other approvers of a rule someone approved. An order whose
// approvers all approved is not reminded at all.
func TestRemindSkipsApproved(t *testing.T) {
	tests := []struct {
		name     string
		approved []string
		want     []string // approvers reminded
	}{
		{name: "nobody approved", want: []string{"U-boss", "U-ops1", "U-ops2"}},
		{name: "the manager approved", approved: []string{"U-boss"}, want: []string{"U-ops1", "U-ops2"}},
		{name: "an office manager approved", approved: []string{"U-ops2"}, want: []string{"U-boss"}},
		{name: "both office managers approved", approved: []string{"U-ops1", "U-ops2"}, want: []string{"U-boss"}},
		{name: "every rule approved", approved: []string{"U-ops1", "U-boss"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, svc, clock := mustReminderStore(t)
			placed := mustPlace(t, svc, approvalDraft("k1"))
			for _, a := range tt.approved {
				mustDecide(t, svc, placed.Number, a, true, "")
			}
			mustDeliverAll(t, s)

			clock.t = clock.t.Add(2 * time.Hour)
			n := mustRemind(t, svc)
			var got []string
			for _, r := range mustDeliverAll(t, s) {
				if r.Note == orders.ReminderNote {
					got = append(got, r.Customer.User)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("reminded %v, want %v", got, tt.want)
			}
			if wantN := min(len(tt.want), 1); n != wantN {
				t.Errorf("reminded %d orders, want %d", n, wantN)
			}
		})
	}
}

// At most 100 orders are reminded a call, the oldest first; the next call
// reminds the rest.
func TestRemindApproversOldestFirst(t *testing.T) {
	s, svc, clock := mustReminderStore(t)
	var placed []orders.Order
	for i := range 101 {
		placed = append(placed, mustPlace(t, svc, companyDraft(fmt.Sprintf("k%d", i), line("gift-100", 1, 10000))))
	}
	clock.t = clock.t.Add(2 * time.Hour)
	if n := mustRemind(t, svc); n != 100 {
		t.Errorf("first call reminded %d orders, want 100", n)
	}
	if got := mustRemindedAt(t, s, placed[99].Number); got == 0 {
		t.Error("the 100th order was not reminded")
	}
	if got := mustRemindedAt(t, s, placed[100].Number); got != 0 {
		t.Errorf("the newest order was reminded (at %d) in the first call", got)
	}
	if n := mustRemind(t, svc); n != 1 {
		t.Errorf("second call reminded %d orders, want 1, the newest", n)
	}
	if n := mustRemind(t, svc); n != 0 {
		t.Errorf("third call reminded %d orders, want none", n)
	}
	if got, want := mustCountReminders(t, s), 101*2; got != want {
		t.Errorf("reminders = %d, want %d: two approvers each", got, want)
	}
}

// A reminder listed before someone else reminded the order, or decided
// it, writes nothing.
func TestRemindLosesToWhatHappenedMeanwhile(t *testing.T) {
	s, svc, clock := mustReminderStore(t)
	ctx := context.Background()
	remindedTwice := mustPlace(t, svc, approvalDraft("reminded"))
	decided := mustPlace(t, svc, approvalDraft("decided"))
	clock.t = clock.t.Add(2 * time.Hour)
	due, err := s.DueReminders(ctx, clock.t.Add(-remindAfter), clock.t.Add(-remindEvery), 100)
	if err != nil {
		t.Fatalf("DueReminders: %v", err)
	}
	want := []orders.Reminder{
		{OrderID: remindedTwice.ID, Number: remindedTwice.Number},
		{OrderID: decided.ID, Number: decided.Number},
	}
	if !reflect.DeepEqual(due, want) {
		t.Fatalf("DueReminders = %+v, want %+v", due, want)
	}

	if ok, err := s.Remind(ctx, due[0], clock.Now()); !ok || err != nil {
		t.Fatalf("first Remind = %t, %v; want true", ok, err)
	}
	first := mustRemindedAt(t, s, remindedTwice.Number)
	if ok, err := s.Remind(ctx, due[0], clock.Now()); ok || err != nil {
		t.Errorf("Remind from the same listing again = %t, %v; want false", ok, err)
	}
	if got := mustRemindedAt(t, s, remindedTwice.Number); got != first {
		t.Errorf("reminded_at = %d, want %d, the first reminder's", got, first)
	}

	if _, err := svc.Decide(ctx, decided.Number, "U-boss", false, "Not now"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Remind(ctx, due[1], clock.Now()); ok || err != nil {
		t.Errorf("Remind of a decided order = %t, %v; want false", ok, err)
	}
	if got := mustRemindedAt(t, s, decided.Number); got != 0 {
		t.Errorf("decided order's reminded_at = %d, want 0", got)
	}
	if got := mustCountReminders(t, s); got != 3 {
		t.Errorf("reminders = %d, want 3: the first reminder's only", got)
	}
}

// Two processes remind at the same moment: each order's approvers are
// reminded once, by one of them.
func TestRemindApproversConcurrently(t *testing.T) {
	one, two := mustTwoProcesses(t)
	clock := newClock()
	var svcs [2]*orders.Service
	for j, s := range []*Store{one, two} {
		svcs[j] = orders.NewService(s, clock.Now)
		svcs[j].SetApprovalRules(mustValid(t, companyRules()))
	}
	ctx := context.Background()

	// Each order is reminded a minute after it is placed, and not again
	// while the test runs.
	const n, after, every = 20, time.Minute, 24 * time.Hour
	for i := range n {
		placed := mustPlace(t, svcs[0], approvalDraft(fmt.Sprintf("k%d", i)))
		clock.mu.Lock()
		clock.t = clock.t.Add(2 * after)
		clock.mu.Unlock()

		start := make(chan struct{})
		var wg sync.WaitGroup
		var counts [2]int
		var errs [2]error
		for j := range 2 {
			wg.Go(func() {
				<-start
				counts[j], errs[j] = svcs[j].RemindApprovers(ctx, after, every)
			})
		}
		close(start)
		wg.Wait()
		if errs[0] != nil || errs[1] != nil || counts[0]+counts[1] != 1 {
			t.Fatalf("order %d: RemindApprovers = (%d, %v) and (%d, %v); want one order reminded, by one of them",
				i, counts[0], errs[0], counts[1], errs[1])
		}
		if got := mustGet[int](t, two, "SELECT COUNT(*) FROM outbox WHERE note = ? AND order_number = ?", orders.ReminderNote, placed.Number); got != 3 {
			t.Fatalf("order %d: reminders = %d, want 3: one to each approver", i, got)
		}
	}
}

// RemindApprovers needs a positive wait and interval.
func TestRemindApproversInvalid(t *testing.T) {
	_, svc, _ := mustReminderStore(t)
	for _, d := range [][2]time.Duration{{0, time.Hour}, {time.Hour, 0}, {-time.Hour, time.Hour}} {
		_, err := svc.RemindApprovers(context.Background(), d[0], d[1])
		wantCode(t, err, orders.EINVALID)
	}
}

// A database from before reminders keeps its orders waiting for approval,
// never reminded, and reminds their approvers once migrated.
func TestMigrateAddsRemindedAt(t *testing.T) {
	s := mustOpenMigratedBefore(t, "0007_reminders.sql")
	mustExecOldOrder(t, s, `INSERT INTO orders (id, number, checkout_key, customer_channel, customer_chat, customer_user, customer_lang,
			status, total, currency, address, contact_name, phone, payment, cost_centre, reason, created_at, updated_at, fulfilment_chat)
		VALUES (1, 'OB-2345678', 'old', 'slack', 'D-ann', 'U-ann', 'en', 'pending_approval', 1200, 'CNY',
			'Office 3', 'Ann', '+8613800000000', 'company', 'CC-7', '', 1, 1, '')`)
	mustExec(t, s, `INSERT INTO order_approvers (order_id, approver, rule) VALUES (1, 'U-boss', 'over ¥100')`)

	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if got := mustRemindedAt(t, s, "OB-2345678"); got != 0 {
		t.Errorf("old order's reminded_at = %d, want 0, never", got)
	}
	clock := newClock()
	svc := orders.NewService(s, clock.Now)
	if n := mustRemind(t, svc); n != 1 {
		t.Errorf("reminded %d orders, want the old one", n)
	}
	old := mustOrder(t, svc, "OB-2345678")
	if got, want := mustDeliverAll(t, s), reminded(1, old, clock.t); !reflect.DeepEqual(got, want) {
		t.Errorf("outbox =\n%+v\nwant the old order's approver reminded\n%+v", got, want)
	}
}
