package sqlstore

import (
	"context"
	"reflect"
	"sync"
	"testing"

	"orderbot/orders"
)

// mustAmend amends Ann's order and fails the test on any error.
func mustAmend(t testing.TB, svc *orders.Service, number string, lines ...orders.DraftLine) orders.Order {
	t.Helper()
	o, err := svc.Amend(context.Background(), number, employee, lines)
	if err != nil {
		t.Fatalf("Amend(%s): %v", number, err)
	}
	return o
}

// amended is the history entry an amendment by the customer writes.
func amended(o orders.Order, from orders.Status) orders.Change {
	return orders.Change{From: from, To: o.Status, Actor: orders.ActorCustomer, Note: orders.AmendedNote, At: o.UpdatedAt}
}

// An amendment that needs no approval keeps the order's status: the stock
// of the old lines is given back and the new ones reserved, the total
// follows, and the customer and the desk are told.
func TestAmendWithoutApproval(t *testing.T) {
	s, svc := mustDeskStore(t)
	placed := mustPlace(t, svc, smallCompanyDraft("k1"))
	mustClaimAll(t, s, placed.CreatedAt)

	o := mustAmend(t, svc, placed.Number, line("tea-black", 1, 1500), line("tea-green", 1, 1200))
	if o.Status != orders.StatusPendingShipment || o.Total != cny(2700) || len(o.Lines) != 2 ||
		o.Lines[0].VariantSKU != "tea-black" || o.Lines[0].ProductName["en"] != "Tea" || o.Lines[1].Quantity != 1 {
		t.Fatalf("amended = %+v; want pending_shipment, ¥27.00, black tea then one green tea", o)
	}
	if got := mustOrder(t, svc, placed.Number); !reflect.DeepEqual(got, o) {
		t.Errorf("Order() =\n%+v\nwant what Amend returned\n%+v", got, o)
	}
	if green, black := mustStock(t, s, "tea-green"), mustStock(t, s, "tea-black"); green != 9 || black != 4 {
		t.Errorf("stock green %d, black %d; want 9 and 4", green, black)
	}
	c := amended(o, orders.StatusPendingShipment)
	if want := append(placed.History, c); !reflect.DeepEqual(o.History, want) {
		t.Errorf("history =\n%+v\nwant\n%+v", o.History, want)
	}
	want := []orders.Notification{customerTold(3, o, c), deskTold(4, o, c)}
	if got := mustClaimAll(t, s, o.UpdatedAt); !reflect.DeepEqual(got, want) {
		t.Errorf("outbox =\n%+v\nwant\n%+v", got, want)
	}

	// The same lines again (a retried step) write nothing.
	again := mustAmend(t, svc, placed.Number, line("tea-black", 1, 1500), line("tea-green", 1, 1200))
	if !reflect.DeepEqual(again, o) || mustCount(t, s, "outbox") != 4 || mustStock(t, s, "tea-green") != 9 {
		t.Errorf("repeated amendment changed the order or wrote: %+v", again)
	}
}

// An order approved under its rules whose total rises goes back to its
// approvers, approvals cleared; one whose total falls keeps them.
func TestAmendAfterApproval(t *testing.T) {
	s, svc := mustDeskStore(t)
	placed := mustPlace(t, svc, approvalDraft("k1"))
	mustDecide(t, svc, placed.Number, "U-boss", true, "")
	approved := mustDecide(t, svc, placed.Number, "U-ops2", true, "")
	mustClaimAll(t, s, approved.UpdatedAt)
	clock := newClock()
	clock.t = approved.UpdatedAt

	fewer := mustAmend(t, svc, placed.Number, line("gift-100", 1, 10000), line("tea-green", 1, 1200))
	if fewer.Status != orders.StatusPendingShipment || !reflect.DeepEqual(fewer.Approvals, approvedBy("U-boss", "U-ops2")) {
		t.Fatalf("same total: status %s, approvals %+v; want pending_shipment, approvals kept", fewer.Status, fewer.Approvals)
	}
	mustClaimAll(t, s, fewer.UpdatedAt)

	next := mustGet[int64](t, s, "SELECT MAX(id) FROM outbox") + 1
	more := mustAmend(t, svc, placed.Number, line("gift-100", 1, 10000), line("tea-green", 3, 1200))
	if more.Status != orders.StatusPendingApproval || more.Total != cny(13600) || !reflect.DeepEqual(more.Approvals, wantApprovals) {
		t.Fatalf("total up: status %s, total %s, approvals %+v; want pending_approval, ¥136.00, nobody approved", more.Status, more.Total, more.Approvals)
	}
	c := amended(more, orders.StatusPendingShipment)
	if got := lastChange(more); !reflect.DeepEqual(got, c) {
		t.Errorf("last change = %+v, want %+v", got, c)
	}
	// The customer, the desk (the order left it) and every approver.
	want := append([]orders.Notification{customerTold(next, more, c), deskTold(next+1, more, c)}, told(next+1, more, c)[1:]...)
	if got := mustClaimAll(t, s, more.UpdatedAt); !reflect.DeepEqual(got, want) {
		t.Errorf("outbox =\n%+v\nwant\n%+v", got, want)
	}
	if got := mustGet[int64](t, s, "SELECT reminded_at FROM orders WHERE number = ?", placed.Number); got != micros(more.UpdatedAt) {
		t.Errorf("reminded_at = %d, want the amendment's time: reminders start again from it", got)
	}
	// Waiting again, it needs a new approval for each rule.
	mustDecide(t, svc, placed.Number, "U-boss", true, "")
	if o := mustDecide(t, svc, placed.Number, "U-ops1", true, ""); o.Status != orders.StatusPendingShipment {
		t.Errorf("after both rules approved again: %s", o.Status)
	}
}

// An order no rule matched goes to approval once its lines need it; an
// order that waits keeps its approvals while its total does not rise, and
// its approvers, even those of a rule it no longer matches: they were
// asked, and are told of the change.
func TestAmendIntoApproval(t *testing.T) {
	s, svc := mustCompanyStore(t)
	small := mustPlace(t, svc, smallCompanyDraft("k1"))
	big := mustAmend(t, svc, small.Number, line("tea-green", 9, 1200))
	want := []orders.Approval{{Approver: "U-boss", Rule: "over ¥100"}}
	if big.Status != orders.StatusPendingApproval || !reflect.DeepEqual(big.Approvals, want) {
		t.Fatalf("status %s, approvals %+v; want pending_approval, the manager", big.Status, big.Approvals)
	}

	waiting := mustPlace(t, svc, approvalDraft("k2"))
	mustDecide(t, svc, waiting.Number, "U-ops1", true, "")
	less := mustAmend(t, svc, waiting.Number, line("gift-100", 1, 10000))
	if less.Status != orders.StatusPendingApproval || !reflect.DeepEqual(less.Approvals, approvedBy("U-ops1")) {
		t.Errorf("status %s, approvals %+v; want still waiting with U-ops1's approval", less.Status, less.Approvals)
	}
	// Its approvers see the change: the customer and three approvers.
	if n := mustGet[int](t, s, "SELECT COUNT(*) FROM outbox WHERE order_number = ? AND note = ?", waiting.Number, orders.AmendedNote); n != 4 {
		t.Errorf("amendment notifications = %d, want 4", n)
	}
}

// A refused amendment changes nothing at all.
func TestAmendRefused(t *testing.T) {
	s, svc := mustCompanyStore(t)
	placed := mustPlace(t, svc, smallCompanyDraft("k1"))
	ctx := context.Background()
	outbox := mustCount(t, s, "outbox")

	_, err := svc.Amend(ctx, placed.Number, employee, []orders.DraftLine{line("tea-green", 11, 1200), line("coffee-250g", 1, 4000)})
	ps := problemsOf(t, err)
	if len(ps) != 2 || ps[0].Kind != orders.ProblemLowStock || ps[0].Available != 10 || ps[1].Kind != orders.ProblemPriceChanged {
		t.Errorf("problems = %+v; want green tea low (10 with the order's own 2 back), coffee's price changed", ps)
	}
	for _, c := range []struct {
		name  string
		who   orders.Customer
		lines []orders.DraftLine
		code  orders.Code
	}{
		{"another customer's order", customer, []orders.DraftLine{line("tea-green", 1, 1200)}, orders.ENOTFOUND},
		{"no lines", employee, nil, orders.EINVALID},
		{"zero quantity", employee, []orders.DraftLine{line("tea-green", 0, 1200)}, orders.EINVALID},
		{"a line twice", employee, []orders.DraftLine{line("tea-green", 1, 1200), line("tea-green", 1, 1200)}, orders.EINVALID},
	} {
		_, err := svc.Amend(ctx, placed.Number, c.who, c.lines)
		if orders.ErrorCode(err) != c.code {
			t.Errorf("%s: error %v, want %s", c.name, err, c.code)
		}
	}
	_, err = svc.Amend(ctx, placed.Number, employee, []orders.DraftLine{line("mate-500g", 1, 6000)})
	if ps := problemsOf(t, err); ps[0].Kind != orders.ProblemUnavailable {
		t.Errorf("inactive product: %+v", ps)
	}
	if got := mustOrder(t, svc, placed.Number); !reflect.DeepEqual(got, placed) || mustStock(t, s, "tea-green") != 8 || mustCount(t, s, "outbox") != outbox {
		t.Errorf("after refusals the order, stock or outbox changed: %+v", got)
	}

	mustForceStatus(t, s, placed.Number, orders.StatusShipped)
	_, err = svc.Amend(ctx, placed.Number, employee, []orders.DraftLine{line("tea-green", 1, 1200)})
	wantCode(t, err, orders.ECONFLICT)

	card := mustPlace(t, svc, func() orders.Draft {
		d := draft("k2", line("tea-green", 1, 1200))
		d.Payment = orders.PayTelegram
		return d
	}())
	_, err = svc.Amend(ctx, card.Number, customer, []orders.DraftLine{line("tea-green", 2, 1200)})
	wantCode(t, err, orders.ECONFLICT)
}

// Amendments racing approvals: whatever the order, every approval that
// counts was given for the lines it approves, and stock adds up.
func TestAmendWhileApproving(t *testing.T) {
	s, svc := mustCompanyStore(t)
	placed := mustPlace(t, svc, approvalDraft("k1"))
	mustDecide(t, svc, placed.Number, "U-ops1", true, "")
	ctx := context.Background()
	var wg sync.WaitGroup
	var amendErr, decideErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, amendErr = svc.Amend(ctx, placed.Number, employee, []orders.DraftLine{line("gift-100", 1, 10000), line("tea-green", 5, 1200)})
	}()
	go func() {
		defer wg.Done()
		_, decideErr = svc.Decide(ctx, placed.Number, "U-boss", true, "")
	}()
	wg.Wait()
	if amendErr != nil {
		t.Fatalf("Amend: %v", amendErr)
	}
	o := mustOrder(t, svc, placed.Number)
	// Either the approval came first (the order shipped, then went back
	// to approval with nobody approved) or the amendment did (and the
	// approval, if it was let in, was for the new lines).
	if o.Status != orders.StatusPendingApproval && o.Status != orders.StatusPendingShipment {
		t.Fatalf("status %s", o.Status)
	}
	if o.Status == orders.StatusPendingShipment && (decideErr != nil || lastChange(o).Actor != "approver:U-boss") {
		t.Errorf("shipping after the amendment needs the boss's approval of it: %+v, %v", o.History, decideErr)
	}
	if got := mustStock(t, s, "tea-green"); got != 5 {
		t.Errorf("green tea stock = %d, want 5", got)
	}
}
