package sqlstore

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"orderbot/orders"
)

// deskChat is the office manager's fulfilment channel in Slack.
const deskChat = "C-desk"

// testDesk is the office's fulfilment desk: its channel and two staff.
func testDesk() *orders.Fulfilment {
	return &orders.Fulfilment{Chat: deskChat, Staff: []string{"U-ship1", "U-ship2"}}
}

// mustDeskService returns a Service over s with companyRules and testDesk.
func mustDeskService(t testing.TB, s *Store) *orders.Service {
	t.Helper()
	svc := mustCompanyService(t, s)
	svc.SetFulfilment(mustValid(t, testDesk()))
	return svc
}

// mustDeskStore is mustCompanyStore with testDesk set.
func mustDeskStore(t testing.TB) (*Store, *orders.Service) {
	t.Helper()
	s, _ := mustCompanyStore(t)
	return s, mustDeskService(t, s)
}

// smallCompanyDraft is a company order no approval rule matches.
func smallCompanyDraft(key string) orders.Draft {
	return companyDraft(key, line("tea-green", 2, 1200))
}

// customerTold is the notification change c of o writes for o's customer,
// id its id, as first claimed.
func customerTold(id int64, o orders.Order, c orders.Change) orders.Notification {
	return orders.Notification{ID: id, Customer: o.Customer, Role: orders.RoleCustomer, OrderNumber: o.Number,
		From: c.From, To: c.To, Tracking: o.Tracking, Note: c.Note, Actor: c.Actor, CreatedAt: c.At, Attempts: 1}
}

// deskTold is the notification change c of o writes for the fulfilment
// channel, id its id, as first claimed.
func deskTold(id int64, o orders.Order, c orders.Change) orders.Notification {
	n := customerTold(id, o, c)
	n.Customer = orders.Customer{Channel: o.Customer.Channel, Chat: deskChat}
	n.Role = orders.RoleFulfilment
	return n
}

// lastChange is the newest history entry of o.
func lastChange(o orders.Order) orders.Change { return o.History[len(o.History)-1] }

// mustFulfilmentChat returns the fulfilment channel stored with an order.
func mustFulfilmentChat(t testing.TB, s *Store, number string) string {
	t.Helper()
	return mustGet[string](t, s, "SELECT fulfilment_chat FROM orders WHERE number = ?", number)
}

// mustCountRole returns the number of outbox rows of a role.
func mustCountRole(t testing.TB, s *Store, role string) int {
	t.Helper()
	return mustGet[int](t, s, "SELECT COUNT(*) FROM outbox WHERE role = ?", role)
}

// A company order that needs no approval can ship at once: the customer
// and the fulfilment channel are told, in the same transaction.
func TestPlaceCompanyOrderTellsTheDesk(t *testing.T) {
	s, svc := mustDeskStore(t)
	placed := mustPlace(t, svc, smallCompanyDraft("k1"))

	if placed.Status != orders.StatusPendingShipment {
		t.Fatalf("status = %s, want pending_shipment", placed.Status)
	}
	if got := mustFulfilmentChat(t, s, placed.Number); got != deskChat {
		t.Errorf("fulfilment chat stored = %q, want %q", got, deskChat)
	}
	if got := mustOrder(t, svc, placed.Number); !reflect.DeepEqual(got, placed) {
		t.Errorf("Order() =\n%+v\nwant what Place returned\n%+v", got, placed)
	}
	at := placed.CreatedAt
	want := []orders.Notification{
		{ID: 1, Customer: employee, OrderNumber: placed.Number, To: orders.StatusPendingShipment,
			Actor: "customer", CreatedAt: at, Attempts: 1},
		{ID: 2, Customer: orders.Customer{Channel: "slack", Chat: deskChat}, Role: "fulfilment", OrderNumber: placed.Number,
			To: orders.StatusPendingShipment, Actor: "customer", CreatedAt: at, Attempts: 1},
	}
	if got := mustClaimAll(t, s, at); !reflect.DeepEqual(got, want) {
		t.Errorf("outbox =\n%+v\nwant Ann and the desk told\n%+v", got, want)
	}
}

// A company order that needs approval reaches the desk when approved for
// every rule, and never when rejected. The manager's approval, for one of
// its two rules, tells nobody.
func TestDeskLearnsOfApprovedOrdersOnly(t *testing.T) {
	tests := []struct {
		name    string
		approve bool
		note    string
		desk    bool
	}{
		{name: "approved", approve: true, note: "Enjoy", desk: true},
		{name: "rejected", approve: false, note: "Not in this quarter's budget", desk: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, svc := mustDeskStore(t)
			placed := mustPlace(t, svc, approvalDraft("k1"))
			if got := mustClaimAll(t, s, placed.CreatedAt); !reflect.DeepEqual(got, told(1, placed, placed.History[0])) {
				t.Errorf("placement's outbox =\n%+v\nwant Ann and her approvers only, not the desk", got)
			}

			mustDecide(t, svc, placed.Number, "U-boss", true, "")
			if n := mustCount(t, s, "outbox"); n != 4 {
				t.Errorf("outbox rows after the manager's approval = %d, want 4: the placement's only", n)
			}

			o, err := svc.Decide(context.Background(), placed.Number, "U-ops1", tt.approve, tt.note)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			c := lastChange(o)
			want := []orders.Notification{customerTold(5, o, c)}
			if tt.desk {
				want = append(want, deskTold(6, o, c))
			}
			// The approvers' come after, their ids following on.
			want = append(want, told(int64(4+len(want)), o, c)[1:]...)
			if got := mustClaimAll(t, s, o.UpdatedAt); !reflect.DeepEqual(got, want) {
				t.Errorf("decision's outbox =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// Without a fulfilment desk, or for an order not paid by the company,
// nothing is announced and no channel is stored; a channel a caller puts
// in a draft is ignored.
func TestNoDeskNoAnnouncement(t *testing.T) {
	s := mustOpen(t)
	c := testCatalog()
	c.Products[0].Variants[0].Stock = 100
	mustImport(t, s, c)
	ctx := context.Background()
	withoutDesk := mustCompanyService(t, s)
	withDesk := mustDeskService(t, s)

	forged := smallCompanyDraft("forged")
	forged.FulfilmentChat = "C-elsewhere"
	cod := draft("cod", line("tea-green", 1, 1200))
	cod.FulfilmentChat = deskChat
	tests := []struct {
		name  string
		svc   *orders.Service
		draft orders.Draft
	}{
		{name: "company order, no desk", svc: withoutDesk, draft: smallCompanyDraft("small")},
		{name: "company order, no desk, a channel in the draft", svc: withoutDesk, draft: forged},
		{name: "cash on delivery, desk set", svc: withDesk, draft: cod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustPlace(t, tt.svc, tt.draft)
			if got := mustFulfilmentChat(t, s, o.Number); got != "" {
				t.Errorf("fulfilment chat stored = %q, want none", got)
			}
			if _, err := tt.svc.Advance(ctx, o.Number, orders.Transition{To: orders.StatusShipped, Actor: "operator"}); err != nil {
				t.Fatalf("Advance: %v", err)
			}
		})
	}
	approved := mustPlace(t, withoutDesk, approvalDraft("big"))
	mustDecide(t, withoutDesk, approved.Number, "U-boss", true, "")
	if o := mustDecide(t, withoutDesk, approved.Number, "U-ops1", true, ""); o.Status != orders.StatusPendingShipment {
		t.Fatalf("approved order is %s, want pending_shipment", o.Status)
	}
	if n := mustCountRole(t, s, orders.RoleFulfilment); n != 0 {
		t.Errorf("%d fulfilment notifications, want none", n)
	}

	// The store refuses a channel on an order not paid by the company.
	_, err := s.PlaceOrder(ctx, cod, "OB-2222222", t0)
	wantCode(t, err, orders.EINVALID)
}

// Staff ship a company order and then mark it delivered; each time the
// customer and the desk are told.
func TestFulfilShipsAndCompletes(t *testing.T) {
	s, svc := mustDeskStore(t)
	ctx := context.Background()
	placed := mustPlace(t, svc, smallCompanyDraft("k1"))
	mustClaimAll(t, s, placed.CreatedAt)

	id := int64(3)
	prev := placed
	for _, step := range []struct {
		by string
		to orders.Status
	}{
		{by: "U-ship1", to: orders.StatusShipped},
		{by: "U-ship2", to: orders.StatusCompleted},
	} {
		o, err := svc.Fulfil(ctx, placed.Number, step.by, step.to)
		if err != nil {
			t.Fatalf("Fulfil(%s, %s): %v", step.by, step.to, err)
		}
		wantHistory := append(append([]orders.Change(nil), prev.History...),
			orders.Change{From: prev.Status, To: step.to, Actor: "staff:" + step.by, At: o.UpdatedAt})
		if o.Status != step.to || !reflect.DeepEqual(o.History, wantHistory) {
			t.Errorf("after %s: status %s, history\n%+v\nwant %s and\n%+v", step.by, o.Status, o.History, step.to, wantHistory)
		}
		if got := mustOrder(t, svc, placed.Number); !reflect.DeepEqual(got, o) {
			t.Errorf("Order() =\n%+v\nwant what Fulfil returned\n%+v", got, o)
		}
		c := lastChange(o)
		want := []orders.Notification{customerTold(id, o, c), deskTold(id+1, o, c)}
		if got := mustClaimAll(t, s, o.UpdatedAt); !reflect.DeepEqual(got, want) {
			t.Errorf("outbox after %s =\n%+v\nwant Ann and the desk told\n%+v", step.to, got, want)
		}
		id += 2
		prev = o
	}
}

// The desk follows an order to the end, whoever moves it: the customer
// cancelling it, an operator refunding it.
func TestDeskFollowsEveryChange(t *testing.T) {
	s, svc := mustDeskStore(t)
	ctx := context.Background()

	cancelled := mustPlace(t, svc, smallCompanyDraft("k1"))
	o, err := svc.Cancel(ctx, cancelled.Number, employee)
	if err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	refunded := mustPlace(t, svc, smallCompanyDraft("k2"))
	if _, err := svc.Fulfil(ctx, refunded.Number, "U-ship1", orders.StatusShipped); err != nil {
		t.Fatal(err)
	}
	r, err := svc.Advance(ctx, refunded.Number, orders.Transition{To: orders.StatusRefunded, Actor: "operator", Note: "damaged"})
	if err != nil {
		t.Fatalf("Advance: %v", err)
	}

	var got []orders.Notification
	for _, n := range mustClaimAll(t, s, r.UpdatedAt) {
		if n.Role == orders.RoleFulfilment {
			got = append(got, n)
		}
	}
	want := []orders.Notification{
		deskTold(2, cancelled, cancelled.History[0]),
		deskTold(4, o, o.History[1]),
		deskTold(6, refunded, refunded.History[0]),
		deskTold(8, r, r.History[1]),
		deskTold(10, r, r.History[2]),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("desk told =\n%+v\nwant placement, cancellation, placement, shipment, refund\n%+v", got, want)
	}
}

// Only staff mark orders, only as shipped or completed, and only company
// orders; a refused request changes nothing.
func TestFulfilRefused(t *testing.T) {
	s, svc := mustDeskStore(t)
	ctx := context.Background()
	placed := mustPlace(t, svc, smallCompanyDraft("k1"))
	waiting := mustPlace(t, svc, approvalDraft("k2"))
	cod := mustPlace(t, svc, draft("k3", line("tea-green", 1, 1200)))
	noDesk := mustCompanyService(t, s)

	tests := []struct {
		name   string
		svc    *orders.Service
		number string
		by     string
		to     orders.Status
		code   orders.Code
		want   string
	}{
		{name: "the requester", number: placed.Number, by: "U-ann", to: orders.StatusShipped, code: orders.EINVALID,
			want: "U-ann is not fulfilment staff"},
		{name: "an approver", number: placed.Number, by: "U-ops1", to: orders.StatusShipped, code: orders.EINVALID,
			want: "U-ops1 is not fulfilment staff"},
		{name: "nobody", number: placed.Number, by: "", to: orders.StatusShipped, code: orders.EINVALID,
			want: "who marks the order is missing"},
		{name: "staff, no desk set", svc: noDesk, number: placed.Number, by: "U-ship1", to: orders.StatusShipped,
			code: orders.EINVALID, want: "U-ship1 is not fulfilment staff"},
		{name: "cancelling", number: placed.Number, by: "U-ship1", to: orders.StatusCancelled, code: orders.EINVALID,
			want: "fulfilment staff mark orders shipped or completed, not cancelled"},
		{name: "refunding", number: placed.Number, by: "U-ship1", to: orders.StatusRefunded, code: orders.EINVALID,
			want: "fulfilment staff mark orders shipped or completed, not refunded"},
		{name: "a cash-on-delivery order", number: cod.Number, by: "U-ship1", to: orders.StatusShipped, code: orders.EINVALID,
			want: "order " + cod.Number + " is not paid by the company account; fulfilment staff do not handle it"},
		{name: "an order waiting for approval", number: waiting.Number, by: "U-ship1", to: orders.StatusShipped,
			code: orders.ECONFLICT, want: "order " + waiting.Number + " is pending_approval; it cannot be marked shipped"},
		{name: "delivered before shipped", number: placed.Number, by: "U-ship1", to: orders.StatusCompleted,
			code: orders.ECONFLICT, want: "order " + placed.Number + " is pending_shipment; it cannot be marked completed"},
		{name: "an unknown order", number: "OB-2222222", by: "U-ship1", to: orders.StatusShipped, code: orders.ENOTFOUND,
			want: "order OB-2222222 not found"},
		{name: "no number", number: " ", by: "U-ship1", to: orders.StatusShipped, code: orders.EINVALID,
			want: "order number is empty"},
	}
	outbox := mustCount(t, s, "outbox")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.svc == nil {
				tt.svc = svc
			}
			_, err := tt.svc.Fulfil(ctx, tt.number, tt.by, tt.to)
			wantCode(t, err, tt.code)
			if got := orders.ErrorMessage(err); got != tt.want {
				t.Errorf("message = %q, want %q", got, tt.want)
			}
		})
	}
	for _, o := range []orders.Order{placed, waiting, cod} {
		if got := mustOrder(t, svc, o.Number); !reflect.DeepEqual(got, o) {
			t.Errorf("%s changed:\n%+v\nwas\n%+v", o.Number, got, o)
		}
	}
	if n := mustCount(t, s, "outbox"); n != outbox {
		t.Errorf("outbox rows = %d, want %d: refusals tell nobody", n, outbox)
	}
}

// Marking an order shipped twice changes nothing the second time, and
// says who did it first.
func TestFulfilTwice(t *testing.T) {
	s, svc := mustDeskStore(t)
	ctx := context.Background()
	placed := mustPlace(t, svc, smallCompanyDraft("k1"))
	shipped, err := svc.Fulfil(ctx, placed.Number, "U-ship1", orders.StatusShipped)
	if err != nil {
		t.Fatal(err)
	}
	outbox := mustCount(t, s, "outbox")

	for _, by := range []string{"U-ship2", "U-ship1"} {
		o, err := svc.Fulfil(ctx, placed.Number, by, orders.StatusShipped)
		wantCode(t, err, orders.ECONFLICT)
		want := fmt.Sprintf("order %s was already marked shipped by U-ship1; it is shipped", placed.Number)
		if got := orders.ErrorMessage(err); got != want {
			t.Errorf("message = %q, want %q", got, want)
		}
		if !reflect.DeepEqual(o, shipped) {
			t.Errorf("order returned =\n%+v\nwant it as the first shipment left it\n%+v", o, shipped)
		}
	}
	if n := mustCount(t, s, "outbox"); n != outbox {
		t.Errorf("outbox rows = %d, want %d: a refused shipment tells nobody", n, outbox)
	}
}

// Two staff members, in two processes, mark the same orders shipped at
// once: for every order exactly one does, and the other gets the order as
// it is.
func TestFulfilConcurrently(t *testing.T) {
	one, two := mustTwoProcesses(t)
	svcs := []*orders.Service{mustDeskService(t, one), mustDeskService(t, two)}
	staff := []string{"U-ship1", "U-ship2"}
	ctx := context.Background()

	const n = 10
	for i := range n {
		placed := mustPlace(t, svcs[0], companyDraft(fmt.Sprintf("k%d", i), line("tea-green", 1, 1200)))
		winner, results := mustRace(t, func(j int) (orders.Order, error) {
			return svcs[j].Fulfil(ctx, placed.Number, staff[j], orders.StatusShipped)
		})
		final := mustOrder(t, svcs[1], placed.Number)
		if !reflect.DeepEqual(final, results[0]) || !reflect.DeepEqual(final, results[1]) {
			t.Errorf("order %d: the two staff saw %s and %s, stored %s", i, results[0].Status, results[1].Status, final.Status)
		}
		if len(final.History) != 2 || final.History[1].Actor != "staff:"+staff[winner] {
			t.Errorf("order %d: history %+v, want one shipment, by %s", i, final.History, staff[winner])
		}
	}
	// Per order, the placement and one shipment, each told to Ann and the desk.
	if got := mustCountRole(t, two, orders.RoleFulfilment); got != 2*n {
		t.Errorf("fulfilment notifications = %d, want %d", got, 2*n)
	}
}

// A database from before the fulfilment desk keeps its company orders,
// which staff may fulfil but are not announced (they were placed without a
// channel), and announces new ones once migrated.
func TestMigrateAddsFulfilmentChat(t *testing.T) {
	ctx := context.Background()
	s := mustOpenMigratedBefore(t, "0006_fulfilment.sql")
	mustExecOldOrder(t, s, `INSERT INTO orders (id, number, checkout_key, customer_channel, customer_chat, customer_user, customer_lang,
			status, total, currency, address, contact_name, phone, payment, cost_centre, reason, created_at, updated_at)
		VALUES (1, 'OB-2345678', 'old', 'slack', 'D-ann', 'U-ann', 'en', 'pending_shipment', 1200, 'CNY',
			'Office 3', 'Ann', '+8613800000000', 'company', 'CC-7', '', 1, 1)`)

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if got := mustFulfilmentChat(t, s, "OB-2345678"); got != "" {
		t.Errorf("old order's fulfilment chat = %q, want none", got)
	}
	mustImport(t, s, testCatalog())
	svc := mustDeskService(t, s)
	old, err := svc.Fulfil(ctx, "OB-2345678", "U-ship1", orders.StatusShipped)
	if err != nil {
		t.Fatalf("Fulfil an order from before the desk: %v", err)
	}
	want := []orders.Notification{customerTold(1, old, lastChange(old))}
	if got := mustClaimAll(t, s, old.UpdatedAt); !reflect.DeepEqual(got, want) {
		t.Errorf("outbox =\n%+v\nwant Ann told, not the desk\n%+v", got, want)
	}

	placed := mustPlace(t, svc, smallCompanyDraft("new"))
	want = []orders.Notification{customerTold(2, placed, placed.History[0]), deskTold(3, placed, placed.History[0])}
	if got := mustClaimAll(t, s, placed.CreatedAt); !reflect.DeepEqual(got, want) {
		t.Errorf("outbox after migrating =\n%+v\nwant Ann and the desk told\n%+v", got, want)
	}
}
