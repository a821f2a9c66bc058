package sqlstore

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"orderbot/orders"
)

// companyRules are an office's approval rules: orders over ¥100 need the
// requester's manager, snacks one of the office managers.
func companyRules() *orders.ApprovalRules {
	return &orders.ApprovalRules{
		Managers: map[string]string{"U-ann": "U-boss"},
		Groups:   map[string][]string{"office": {"U-ops1", "U-ops2"}},
		Rules: []orders.ApprovalRule{
			{Name: "over ¥100", TotalOver: &orders.Money{Amount: 10000, Currency: "CNY"}, Approvers: []string{"manager"}},
			{Name: "snacks", Categories: []string{"snacks"}, Approvers: []string{"group:office"}},
		},
	}
}

// employee is Ann, ordering in a direct message to the Slack app.
var employee = orders.Customer{Channel: "slack", Chat: "D-ann", User: "U-ann", Lang: "en"}

// companyDraft returns Ann's checkout of lines, paid by the company.
func companyDraft(key string, lines ...orders.DraftLine) orders.Draft {
	d := draft(key, lines...)
	d.Customer = employee
	d.Payment = orders.PayCompany
	d.CostCentre = "CC-7"
	d.Reason = "The team ran out of tea"
	return d
}

// mustCompanyService returns a Service over s with companyRules.
func mustCompanyService(t testing.TB, s *Store) *orders.Service {
	t.Helper()
	svc := mustService(t, s)
	svc.SetApprovalRules(mustValid(t, companyRules()))
	return svc
}

// mustCompanyStore opens a store with the test catalog and a Service over
// it with companyRules.
func mustCompanyStore(t testing.TB) (*Store, *orders.Service) {
	t.Helper()
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	return s, mustCompanyService(t, s)
}

// approvalDraft is an order every rule of companyRules matches: ¥112.00,
// with a gift card, which is a snack.
func approvalDraft(key string) orders.Draft {
	return companyDraft(key, line("tea-green", 1, 1200), line("gift-100", 1, 10000))
}

// wantApprovals are approvalDraft's approvers, by user id.
var wantApprovals = []orders.Approval{
	{Approver: "U-boss", Rule: "over ¥100"},
	{Approver: "U-ops1", Rule: "snacks"},
	{Approver: "U-ops2", Rule: "snacks"},
}

// mustPlaceForApproval places approvalDraft in a store of its own.
func mustPlaceForApproval(t testing.TB) (*Store, *orders.Service, orders.Order) {
	t.Helper()
	s, svc := mustCompanyStore(t)
	return s, svc, mustPlace(t, svc, approvalDraft("k1"))
}

// mustOrder reads an order back and fails the test on any error.
func mustOrder(t testing.TB, svc *orders.Service, number string) orders.Order {
	t.Helper()
	o, err := svc.Order(context.Background(), number)
	if err != nil {
		t.Fatalf("Order(%s): %v", number, err)
	}
	return o
}

// mustClaimAll claims every notification due at at, in written order.
func mustClaimAll(t testing.TB, s *Store, at time.Time) []orders.Notification {
	t.Helper()
	ns, err := s.ClaimNotifications(context.Background(), orders.NotificationFilter{}, 100, at, time.Minute)
	if err != nil {
		t.Fatalf("ClaimNotifications: %v", err)
	}
	return ns
}

// told returns the notifications change c of order o writes, as first
// claimed, their ids counting from id: its customer's, then one to each of
// o's approvers, in o's order.
func told(id int64, o orders.Order, c orders.Change) []orders.Notification {
	ns := []orders.Notification{{ID: id, Customer: o.Customer, Role: orders.RoleCustomer, OrderNumber: o.Number,
		From: c.From, To: c.To, Tracking: o.Tracking, Note: c.Note, Actor: c.Actor, CreatedAt: c.At, Attempts: 1}}
	for i, a := range o.Approvals {
		n := ns[0]
		n.ID = id + 1 + int64(i)
		n.Customer = orders.Customer{Channel: o.Customer.Channel, Chat: a.Approver, User: a.Approver}
		n.Role = orders.RoleApprover
		ns = append(ns, n)
	}
	return ns
}

func TestPlaceCompanyOrderWithoutApproval(t *testing.T) {
	s, svc := mustCompanyStore(t)
	ctx := context.Background()

	d := companyDraft("k1", line("tea-green", 2, 1200))
	d.CostCentre = "  CC-7 "
	placed := mustPlace(t, svc, d)

	if placed.Status != orders.StatusPendingShipment || placed.Payment != orders.PayCompany {
		t.Errorf("status %s, payment %s; want pending_shipment, company", placed.Status, placed.Payment)
	}
	if placed.CostCentre != "CC-7" || placed.Reason != "The team ran out of tea" || placed.Approvals != nil {
		t.Errorf("cost centre %q, reason %q, approvals %+v; want CC-7 trimmed, the reason, none", placed.CostCentre, placed.Reason, placed.Approvals)
	}
	if got := mustOrder(t, svc, placed.Number); !reflect.DeepEqual(got, placed) {
		t.Errorf("Order() =\n%+v\nwant what Place returned\n%+v", got, placed)
	}
	list, err := svc.Orders(ctx, orders.Filter{Customer: &employee})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].CostCentre != "CC-7" || list[0].Reason != d.Reason {
		t.Errorf("Orders() = %+v, want the order with its cost centre and reason", list)
	}
	if n := mustCount(t, s, "order_approvers"); n != 0 {
		t.Errorf("order_approvers has %d rows, want none", n)
	}
}

func TestPlaceCompanyOrderNeedsApproval(t *testing.T) {
	s, svc, placed := mustPlaceForApproval(t)
	ctx := context.Background()

	if placed.Status != orders.StatusPendingApproval {
		t.Errorf("status = %s, want pending_approval", placed.Status)
	}
	if !reflect.DeepEqual(placed.Approvals, wantApprovals) {
		t.Errorf("approvals = %+v, want %+v", placed.Approvals, wantApprovals)
	}
	wantHistory := []orders.Change{{From: "", To: orders.StatusPendingApproval, Actor: orders.ActorCustomer, At: placed.CreatedAt}}
	if !reflect.DeepEqual(placed.History, wantHistory) {
		t.Errorf("history = %+v, want %+v", placed.History, wantHistory)
	}
	// Stock is held while the approvers decide.
	for sku, want := range map[string]int{"tea-green": 9, "gift-100": 999} {
		if got := mustStock(t, s, sku); got != want {
			t.Errorf("stock of %s = %d, want %d", sku, got, want)
		}
	}
	if got := mustOrder(t, svc, placed.Number); !reflect.DeepEqual(got, placed) {
		t.Errorf("Order() =\n%+v\nwant what Place returned\n%+v", got, placed)
	}
	waiting, err := svc.Orders(ctx, orders.Filter{Status: orders.StatusPendingApproval})
	if err != nil {
		t.Fatal(err)
	}
	if len(waiting) != 1 || !reflect.DeepEqual(waiting[0].Approvals, wantApprovals) {
		t.Errorf("orders waiting for approval = %+v, want the order with its approvers", waiting)
	}
	for approver, want := range map[string]int{"U-ops2": 1, "U-ann": 0, "U-nobody": 0} {
		mine, err := svc.Orders(ctx, orders.Filter{Status: orders.StatusPendingApproval, Approver: approver})
		if err != nil || len(mine) != want {
			t.Errorf("orders waiting for %s = %d, %v; want %d", approver, len(mine), err, want)
		}
	}
	if got, want := mustClaimAll(t, s, placed.CreatedAt), told(1, placed, placed.History[0]); !reflect.DeepEqual(got, want) {
		t.Errorf("outbox =\n%+v\nwant Ann and her approvers told the order waits for approval\n%+v", got, want)
	}

	// The same checkout placed again is the same order, its approvers stored once.
	if again := mustPlace(t, svc, approvalDraft("k1")); !reflect.DeepEqual(again, placed) {
		t.Errorf("repeated checkout =\n%+v\nwant\n%+v", again, placed)
	}
	if n := mustCount(t, s, "order_approvers"); n != len(wantApprovals) {
		t.Errorf("order_approvers has %d rows, want %d", n, len(wantApprovals))
	}
}

func TestPlaceCompanyOrderRefused(t *testing.T) {
	tests := []struct {
		name   string
		change func(d *orders.Draft)
		want   string
	}{
		{name: "no cost centre", change: func(d *orders.Draft) { d.CostCentre = " " },
			want: "an order paid by the company account needs a cost centre"},
		{name: "cost centre too long", change: func(d *orders.Draft) { d.CostCentre = strings.Repeat("C", 65) },
			want: "cost centre is longer than 64 characters"},
		{name: "reason too long", change: func(d *orders.Draft) { d.Reason = strings.Repeat("r", 501) },
			want: "reason is longer than 500 characters"},
		{name: "no manager to approve", change: func(d *orders.Draft) { d.Customer.User = "U-new" },
			want: "no manager is configured for this requester"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, svc := mustCompanyStore(t)
			d := approvalDraft("k1")
			tt.change(&d)
			_, err := svc.Place(context.Background(), d)
			wantCode(t, err, orders.EINVALID)
			if got := orders.ErrorMessage(err); got != tt.want {
				t.Errorf("message = %q, want %q", got, tt.want)
			}
			for _, table := range []string{"orders", "order_approvers", "outbox"} {
				if n := mustCount(t, s, table); n != 0 {
					t.Errorf("%s has %d rows, want none", table, n)
				}
			}
			if got := mustStock(t, s, "gift-100"); got != 1000 {
				t.Errorf("stock = %d, want 1000 untouched", got)
			}
		})
	}
}

// Approvals are the Service's to compute: what a caller puts in a draft is
// dropped, and the store refuses approvals on an order that is not the
// company's.
func TestPlaceIgnoresCallerApprovals(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	forged := []orders.Approval{{Approver: "U-friend", Rule: "forged"}}

	cod := draft("cod", line("tea-green", 1, 1200))
	cod.Approvals = forged
	small := companyDraft("small", line("tea-green", 1, 1200))
	small.Approvals = forged
	big := approvalDraft("big")
	big.Approvals = forged
	tests := []struct {
		name  string
		svc   *orders.Service
		draft orders.Draft
	}{
		{name: "cash on delivery", svc: mustCompanyService(t, s), draft: cod},
		{name: "company order no rule matches", svc: mustCompanyService(t, s), draft: small},
		{name: "company order without rules", svc: mustService(t, s), draft: big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustPlace(t, tt.svc, tt.draft)
			if o.Status != orders.StatusPendingShipment || o.Approvals != nil {
				t.Errorf("status %s, approvals %+v; want pending_shipment and none", o.Status, o.Approvals)
			}
		})
	}
	if n := mustCount(t, s, "order_approvers"); n != 0 {
		t.Errorf("order_approvers has %d rows, want none", n)
	}

	d := draft("direct", line("tea-green", 1, 1200))
	d.Approvals = forged
	_, err := s.PlaceOrder(context.Background(), d, "OB-2222222", t0)
	wantCode(t, err, orders.EINVALID)
}

// mustDecide records a decision through svc and fails the test on any error.
func mustDecide(t testing.TB, svc *orders.Service, number, approver string, approve bool, note string) orders.Order {
	t.Helper()
	o, err := svc.Decide(context.Background(), number, approver, approve, note)
	if err != nil {
		t.Fatalf("Decide(%s, %s, approve %t): %v", number, approver, approve, err)
	}
	return o
}

// approvedBy returns wantApprovals with the given approvers' approvals
// recorded.
func approvedBy(approvers ...string) []orders.Approval {
	as := slices.Clone(wantApprovals)
	for i := range as {
		as[i].Approved = slices.Contains(approvers, as[i].Approver)
	}
	return as
}

// An order matching two rules waits for an approval of each: the
// manager's alone is recorded and changes nothing else; one office
// manager's then lets the order ship.
func TestDecideApprove(t *testing.T) {
	s, svc, placed := mustPlaceForApproval(t)
	ctx := context.Background()
	placement := told(1, placed, placed.History[0])
	if got := mustClaimAll(t, s, placed.CreatedAt); !reflect.DeepEqual(got, placement) {
		t.Fatalf("placement's outbox =\n%+v\nwant\n%+v", got, placement)
	}

	half := mustDecide(t, svc, placed.Number, "U-boss", true, "Fine by me")
	if half.Status != orders.StatusPendingApproval || !reflect.DeepEqual(half.Approvals, approvedBy("U-boss")) {
		t.Errorf("after the manager: status %s, approvals %+v; want pending_approval, U-boss's approval recorded", half.Status, half.Approvals)
	}
	if !reflect.DeepEqual(half.History, placed.History) || !half.UpdatedAt.Equal(placed.UpdatedAt) {
		t.Errorf("after the manager: history %+v, updated %v; want both unchanged", half.History, half.UpdatedAt)
	}
	if got := mustOrder(t, svc, placed.Number); !reflect.DeepEqual(got, half) {
		t.Errorf("Order() =\n%+v\nwant what Decide returned\n%+v", got, half)
	}
	if n := mustCount(t, s, "outbox"); n != len(placement) {
		t.Errorf("outbox rows = %d, want %d: nobody is told of half an approval", n, len(placement))
	}
	waiting, err := svc.Orders(ctx, orders.Filter{Status: orders.StatusPendingApproval})
	if err != nil {
		t.Fatal(err)
	}
	if len(waiting) != 1 || !reflect.DeepEqual(waiting[0].Approvals, approvedBy("U-boss")) {
		t.Errorf("orders waiting for approval = %+v, want the order with U-boss's approval", waiting)
	}

	o := mustDecide(t, svc, strings.ToLower(placed.Number), "U-ops1", true, " Enjoy ")
	if o.Status != orders.StatusPendingShipment || !reflect.DeepEqual(o.Approvals, approvedBy("U-boss", "U-ops1")) {
		t.Errorf("status %s, approvals %+v; want pending_shipment and the approvers kept, two approved", o.Status, o.Approvals)
	}
	wantHistory := []orders.Change{
		placed.History[0],
		{From: orders.StatusPendingApproval, To: orders.StatusPendingShipment, Actor: "approver:U-ops1", Note: "Enjoy", At: o.UpdatedAt},
	}
	if !reflect.DeepEqual(o.History, wantHistory) {
		t.Errorf("history =\n%+v\nwant\n%+v", o.History, wantHistory)
	}
	if got := mustOrder(t, svc, placed.Number); !reflect.DeepEqual(got, o) {
		t.Errorf("Order() =\n%+v\nwant what Decide returned\n%+v", got, o)
	}
	if got := mustStock(t, s, "gift-100"); got != 999 {
		t.Errorf("stock = %d, want 999: still reserved", got)
	}
	// Ann and every approver, U-ops1 included, are told of the approval.
	if got, want := mustClaimAll(t, s, o.UpdatedAt), told(5, o, o.History[1]); !reflect.DeepEqual(got, want) {
		t.Errorf("outbox =\n%+v\nwant the decision's\n%+v", got, want)
	}
}

// Approving again while the order waits for another rule is a conflict
// that names the rule and writes nothing; another approver of a rule
// already approved may still approve, which changes nothing either.
func TestDecideApproveAgainWhileWaiting(t *testing.T) {
	s, svc, placed := mustPlaceForApproval(t)
	ctx := context.Background()
	half := mustDecide(t, svc, placed.Number, "U-boss", true, "")

	o, err := svc.Decide(ctx, placed.Number, "U-boss", true, "Really")
	wantCode(t, err, orders.ECONFLICT)
	want := fmt.Sprintf(`U-boss already approved order %s; it waits for "snacks"`, placed.Number)
	if got := orders.ErrorMessage(err); got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	if !reflect.DeepEqual(o, half) {
		t.Errorf("order returned =\n%+v\nwant it as the first approval left it\n%+v", o, half)
	}
	at := mustGet[int64](t, s, "SELECT approved_at FROM order_approvers WHERE approver = 'U-boss'")
	if want := micros(half.UpdatedAt); at == 0 || at < want {
		t.Errorf("U-boss's approved_at = %d, want the first approval's time, after placement (%d)", at, want)
	}

	// The office managers' rule, approved by one, then by the other: the
	// order waits for the manager's rule still.
	other := mustPlace(t, svc, approvalDraft("k2"))
	mustDecide(t, svc, other.Number, "U-ops1", true, "")
	both := mustDecide(t, svc, other.Number, "U-ops2", true, "")
	if both.Status != orders.StatusPendingApproval || !reflect.DeepEqual(both.Approvals, approvedBy("U-ops1", "U-ops2")) {
		t.Errorf("after both office managers: status %s, approvals %+v; want pending_approval, both recorded", both.Status, both.Approvals)
	}
	_, err = svc.Decide(ctx, other.Number, "U-ops1", true, "")
	wantCode(t, err, orders.ECONFLICT)
	if got, want := orders.ErrorMessage(err), fmt.Sprintf(`U-ops1 already approved order %s; it waits for "over ¥100"`, other.Number); got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	if n := mustCount(t, s, "outbox"); n != 2*4 {
		t.Errorf("outbox rows = %d, want 8: the placements only", n)
	}
}

// A rejection after an approval rejects the order at once.
func TestDecideRejectAfterApproval(t *testing.T) {
	s, svc, placed := mustPlaceForApproval(t)
	mustDecide(t, svc, placed.Number, "U-boss", true, "")

	o := mustDecide(t, svc, placed.Number, "U-ops2", false, "No snacks this month")
	last := lastChange(o)
	if o.Status != orders.StatusRejected || last.Actor != "approver:U-ops2" || len(o.History) != 2 {
		t.Errorf("status %s, history %+v; want rejected by U-ops2, the one decision", o.Status, o.History)
	}
	if !reflect.DeepEqual(o.Approvals, approvedBy("U-boss")) {
		t.Errorf("approvals = %+v, want U-boss's approval kept", o.Approvals)
	}
	if got := mustStock(t, s, "gift-100"); got != 1000 {
		t.Errorf("stock = %d, want 1000: released", got)
	}
	want := append(told(1, placed, placed.History[0]), told(5, o, last)...)
	if got := mustClaimAll(t, s, o.UpdatedAt); !reflect.DeepEqual(got, want) {
		t.Errorf("outbox =\n%+v\nwant the placement's and then the rejection's\n%+v", got, want)
	}

	// The manager, having approved, may also reject.
	other := mustPlace(t, svc, approvalDraft("k2"))
	mustDecide(t, svc, other.Number, "U-boss", true, "")
	if o := mustDecide(t, svc, other.Number, "U-boss", false, "Changed my mind"); o.Status != orders.StatusRejected {
		t.Errorf("manager's rejection after approving: status %s, want rejected", o.Status)
	}
}

func TestDecideReject(t *testing.T) {
	s, svc, placed := mustPlaceForApproval(t)
	ctx := context.Background()

	for reason, want := range map[string]string{
		"":                       "a rejection needs a reason",
		"  ":                     "a rejection needs a reason",
		strings.Repeat("x", 501): "the reason is longer than 500 characters",
	} {
		_, err := svc.Decide(ctx, placed.Number, "U-boss", false, reason)
		wantCode(t, err, orders.EINVALID)
		if got := orders.ErrorMessage(err); got != want {
			t.Errorf("rejecting with %d characters: %q, want %q", len(reason), got, want)
		}
	}
	if got := mustOrder(t, svc, placed.Number); got.Status != orders.StatusPendingApproval {
		t.Fatalf("refused rejections left the order %s", got.Status)
	}

	o, err := svc.Decide(ctx, placed.Number, "U-boss", false, "Not in this quarter's budget")
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	last := o.History[len(o.History)-1]
	if o.Status != orders.StatusRejected || last.Actor != "approver:U-boss" || last.Note != "Not in this quarter's budget" {
		t.Errorf("status %s, last change %+v; want rejected by U-boss with the reason", o.Status, last)
	}
	for sku, want := range map[string]int{"tea-green": 10, "gift-100": 1000} {
		if got := mustStock(t, s, sku); got != want {
			t.Errorf("stock of %s = %d, want %d: released", sku, got, want)
		}
	}
	// Ann and every approver, U-boss included, are told of the rejection
	// and its reason.
	want := append(told(1, placed, placed.History[0]), told(5, o, last)...)
	if got := mustClaimAll(t, s, o.UpdatedAt); !reflect.DeepEqual(got, want) {
		t.Errorf("outbox =\n%+v\nwant the placement's and then the decision's\n%+v", got, want)
	}
}

func TestDecideByNonApprover(t *testing.T) {
	s, svc, placed := mustPlaceForApproval(t)
	ctx := context.Background()
	unapproved := mustPlace(t, svc, companyDraft("k2", line("tea-green", 1, 1200)))

	tests := []struct {
		name     string
		number   string
		approver string
		code     orders.Code
		want     string
	}{
		{name: "the requester", number: placed.Number, approver: "U-ann", code: orders.EINVALID,
			want: "U-ann is not an approver of order " + placed.Number},
		{name: "a stranger", number: placed.Number, approver: "U-zed", code: orders.EINVALID,
			want: "U-zed is not an approver of order " + placed.Number},
		{name: "a group, not a person", number: placed.Number, approver: "group:office", code: orders.EINVALID,
			want: "group:office is not an approver of order " + placed.Number},
		{name: "nobody", number: placed.Number, approver: "", code: orders.EINVALID, want: "approver is missing"},
		{name: "an order without approvers", number: unapproved.Number, approver: "U-ops1", code: orders.EINVALID,
			want: "U-ops1 is not an approver of order " + unapproved.Number},
		{name: "an unknown order", number: "OB-2222222", approver: "U-ops1", code: orders.ENOTFOUND,
			want: "order OB-2222222 not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.Decide(ctx, tt.number, tt.approver, true, "")
			wantCode(t, err, tt.code)
			if got := orders.ErrorMessage(err); got != tt.want {
				t.Errorf("message = %q, want %q", got, tt.want)
			}
		})
	}
	for _, o := range []orders.Order{placed, unapproved} {
		if got := mustOrder(t, svc, o.Number); !reflect.DeepEqual(got, o) {
			t.Errorf("%s changed:\n%+v\nwas\n%+v", o.Number, got, o)
		}
	}
	// The placements only: Ann's and three approvers', and Ann's alone.
	if n := mustCount(t, s, "outbox"); n != 4+1 {
		t.Errorf("outbox rows = %d, want 5: the placements only", n)
	}
}

// A decision on an order already decided changes nothing and says who
// decided.
func TestDecideTwice(t *testing.T) {
	s, svc, placed := mustPlaceForApproval(t)
	ctx := context.Background()
	mustDecide(t, svc, placed.Number, "U-ops2", true, "")
	approved := mustDecide(t, svc, placed.Number, "U-boss", true, "")

	for _, approve := range []bool{false, true} {
		o, err := svc.Decide(ctx, placed.Number, "U-ops1", approve, "Too expensive")
		wantCode(t, err, orders.ECONFLICT)
		want := fmt.Sprintf("order %s was already decided by U-boss; it is pending_shipment", placed.Number)
		if got := orders.ErrorMessage(err); got != want {
			t.Errorf("message = %q, want %q", got, want)
		}
		if !reflect.DeepEqual(o, approved) {
			t.Errorf("order returned =\n%+v\nwant it as the first decision left it\n%+v", o, approved)
		}
	}
	// The placement and the first decision, each told to Ann and three
	// approvers; nothing for the refused ones.
	if n := mustCount(t, s, "outbox"); n != 2*4 {
		t.Errorf("outbox rows = %d, want 8", n)
	}
	if got := mustStock(t, s, "gift-100"); got != 999 {
		t.Errorf("stock = %d, want 999: still reserved", got)
	}
}

// Two approvers, in two processes, decide at once on an order the manager
// has approved: one approves for the other rule, the other rejects. For
// every order exactly one of them wins, and the other is told who did.
func TestDecideConcurrently(t *testing.T) {
	one, two := mustTwoProcesses(t)
	svcs := []*orders.Service{mustCompanyService(t, one), mustCompanyService(t, two)}
	ctx := context.Background()

	const n = 20
	approvedCount := 0
	for i := range n {
		placed := mustPlace(t, svcs[0], approvalDraft(fmt.Sprintf("k%d", i)))
		mustDecide(t, svcs[0], placed.Number, "U-boss", true, "")
		deciders := []string{"U-ops1", "U-ops2"}
		winner, results := mustRace(t, func(j int) (orders.Order, error) {
			return svcs[j].Decide(ctx, placed.Number, deciders[j], j == 0, "decided by "+deciders[j])
		})
		final := mustOrder(t, svcs[1], placed.Number)
		if !reflect.DeepEqual(final, results[0]) || !reflect.DeepEqual(final, results[1]) {
			t.Errorf("order %d: the two deciders saw %s and %s, stored %s", i, results[0].Status, results[1].Status, final.Status)
		}
		if len(final.History) != 2 || final.History[1].Actor != "approver:"+deciders[winner] {
			t.Errorf("order %d: history %+v, want one decision, by %s", i, final.History, deciders[winner])
		}
		if winner == 0 {
			approvedCount++
		}
	}
	if got, want := mustStock(t, one, "tea-green"), 100-approvedCount; got != want {
		t.Errorf("stock = %d, want %d: %d approved orders hold one each", got, want, approvedCount)
	}
	// Per order, the placement and one decision, each told to Ann and
	// three approvers.
	if got := mustCount(t, two, "outbox"); got != 2*4*n {
		t.Errorf("outbox rows = %d, want %d", got, 2*4*n)
	}
}

// The approvers of the two rules, in two processes, approve at once: both
// approvals are recorded, and the order moves on exactly once, by
// whichever came second, with one set of notifications.
func TestApproveBothRulesConcurrently(t *testing.T) {
	one, two := mustTwoProcesses(t)
	svcs := []*orders.Service{mustDeskService(t, one), mustDeskService(t, two)}
	ctx := context.Background()

	const n = 20
	for i := range n {
		placed := mustPlace(t, svcs[0], approvalDraft(fmt.Sprintf("k%d", i)))
		approvers := []string{"U-boss", "U-ops1"}
		start := make(chan struct{})
		var wg sync.WaitGroup
		var results [2]orders.Order
		var errs [2]error
		for j := range 2 {
			wg.Go(func() {
				<-start
				results[j], errs[j] = svcs[j].Decide(ctx, placed.Number, approvers[j], true, "")
			})
		}
		close(start)
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("order %d: errors %v and %v; want both approvals recorded", i, errs[0], errs[1])
		}
		final := mustOrder(t, svcs[1], placed.Number)
		shipped := 0
		for j, r := range results {
			switch r.Status {
			case orders.StatusPendingShipment:
				shipped++
				if !reflect.DeepEqual(r, final) || final.History[1].Actor != "approver:"+approvers[j] {
					t.Errorf("order %d: %s's result %+v, stored %+v", i, approvers[j], r, final)
				}
			case orders.StatusPendingApproval:
			default:
				t.Errorf("order %d: %s saw %s", i, approvers[j], r.Status)
			}
		}
		if shipped != 1 || final.Status != orders.StatusPendingShipment || len(final.History) != 2 ||
			!reflect.DeepEqual(final.Approvals, approvedBy("U-boss", "U-ops1")) {
			t.Errorf("order %d: %d approvals saw it ship; stored %s, history %+v, approvals %+v; want one transition, both approvals",
				i, shipped, final.Status, final.History, final.Approvals)
		}
	}
	// Per order, the placement told to Ann and three approvers, and the
	// approval to Ann, the desk and three approvers.
	if got, want := mustCount(t, two, "outbox"), (4+5)*n; got != want {
		t.Errorf("outbox rows = %d, want %d", got, want)
	}
	if got := mustCountRole(t, two, orders.RoleFulfilment); got != n {
		t.Errorf("desk rows = %d, want %d: one per order", got, n)
	}
}

// A database from before approvals were recorded keeps its orders waiting,
// none of their approvers having approved, and then waits for an approval
// per rule.
func TestMigrateAddsApprovedAt(t *testing.T) {
	s := mustOpenMigratedBefore(t, "0008_approval_decisions.sql")
	mustExecOldOrder(t, s, `INSERT INTO orders (id, number, checkout_key, customer_channel, customer_chat, customer_user, customer_lang,
			status, total, currency, address, contact_name, phone, payment, cost_centre, reason, created_at, updated_at, fulfilment_chat, reminded_at)
		VALUES (1, 'OB-2345678', 'old', 'slack', 'D-ann', 'U-ann', 'en', 'pending_approval', 1200, 'CNY',
			'Office 3', 'Ann', '+8613800000000', 'company', 'CC-7', '', 1, 1, '', 0)`)
	mustExec(t, s, `INSERT INTO order_approvers (order_id, approver, rule) VALUES
		(1, 'U-boss', 'over ¥100'), (1, 'U-ops1', 'snacks'), (1, 'U-ops2', 'snacks')`)

	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	svc := mustCompanyService(t, s)
	if old := mustOrder(t, svc, "OB-2345678"); !reflect.DeepEqual(old.Approvals, approvedBy()) {
		t.Errorf("old order's approvals = %+v, want none approved", old.Approvals)
	}
	if o := mustDecide(t, svc, "OB-2345678", "U-ops2", true, ""); o.Status != orders.StatusPendingApproval {
		t.Errorf("after one rule's approval: %s, want pending_approval", o.Status)
	}
	o := mustDecide(t, svc, "OB-2345678", "U-boss", true, "")
	if o.Status != orders.StatusPendingShipment || !reflect.DeepEqual(o.Approvals, approvedBy("U-boss", "U-ops2")) {
		t.Errorf("after both rules' approvals: %s, approvals %+v; want pending_shipment", o.Status, o.Approvals)
	}
}

// A database from before approvals keeps its orders, with no cost centre,
// reason or approvers, and takes company orders once migrated.
func TestMigrateAddsApprovals(t *testing.T) {
	ctx := context.Background()
	s := mustOpenMigratedBefore(t, "0004_approvals.sql")
	mustExecOldOrder(t, s, `INSERT INTO orders (id, number, checkout_key, customer_channel, customer_chat, customer_user, customer_lang,
			status, total, currency, address, contact_name, phone, payment, created_at, updated_at)
		VALUES (1, 'OB-2345678', 'old', 'console', 'chat-1', 'user-1', 'en', 'pending_shipment', 1200, 'CNY',
			'1 Garden Road', 'Li Lei', '+8613800000000', 'cod', 1, 1)`)

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	mustImport(t, s, testCatalog())
	svc := mustCompanyService(t, s)
	old := mustOrder(t, svc, "OB-2345678")
	if old.Status != orders.StatusPendingShipment || len(old.Lines) != 1 || old.CostCentre != "" || old.Reason != "" || old.Approvals != nil {
		t.Errorf("order from before approvals = %+v", old)
	}
	placed := mustPlace(t, svc, approvalDraft("new"))
	if got := mustOrder(t, svc, placed.Number); !reflect.DeepEqual(got.Approvals, wantApprovals) || got.CostCentre != "CC-7" {
		t.Errorf("company order after migrating: approvals %+v, cost centre %q", got.Approvals, got.CostCentre)
	}
}

// Approvers are told through the outbox, like customers: of the order
// waiting for them, and of the decision, whoever of them made it.
func TestApproversAreTold(t *testing.T) {
	s, svc := mustCompanyStore(t)
	// A snack of ¥100, not over ¥100: the office managers approve it.
	placed := mustPlace(t, svc, companyDraft("k1", line("gift-100", 1, 10000)))
	decided, err := svc.Decide(context.Background(), placed.Number, "U-ops2", false, "No snacks this month")
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}

	at, then := placed.CreatedAt, decided.UpdatedAt
	ops1 := orders.Customer{Channel: "slack", Chat: "U-ops1", User: "U-ops1"}
	ops2 := orders.Customer{Channel: "slack", Chat: "U-ops2", User: "U-ops2"}
	n := placed.Number
	want := []orders.Notification{
		{ID: 1, Customer: employee, OrderNumber: n, To: orders.StatusPendingApproval, Actor: "customer", CreatedAt: at, Attempts: 1},
		{ID: 2, Customer: ops1, Role: "approver", OrderNumber: n, To: orders.StatusPendingApproval, Actor: "customer", CreatedAt: at, Attempts: 1},
		{ID: 3, Customer: ops2, Role: "approver", OrderNumber: n, To: orders.StatusPendingApproval, Actor: "customer", CreatedAt: at, Attempts: 1},
		{ID: 4, Customer: employee, OrderNumber: n, From: orders.StatusPendingApproval, To: orders.StatusRejected,
			Note: "No snacks this month", Actor: "approver:U-ops2", CreatedAt: then, Attempts: 1},
		{ID: 5, Customer: ops1, Role: "approver", OrderNumber: n, From: orders.StatusPendingApproval, To: orders.StatusRejected,
			Note: "No snacks this month", Actor: "approver:U-ops2", CreatedAt: then, Attempts: 1},
		{ID: 6, Customer: ops2, Role: "approver", OrderNumber: n, From: orders.StatusPendingApproval, To: orders.StatusRejected,
			Note: "No snacks this month", Actor: "approver:U-ops2", CreatedAt: then, Attempts: 1},
	}
	if got := mustClaimAll(t, s, then); !reflect.DeepEqual(got, want) {
		t.Errorf("outbox =\n%+v\nwant\n%+v", got, want)
	}
}

// An order that needs no approval tells its customer only, as before
// approvers were told.
func TestPlaceWithoutApproversTellsOnlyTheCustomer(t *testing.T) {
	tests := []struct {
		name  string
		draft orders.Draft
	}{
		{name: "company order no rule matches", draft: companyDraft("k1", line("tea-green", 1, 1200))},
		{name: "cash on delivery", draft: draft("k1", line("tea-green", 1, 1200))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, svc := mustCompanyStore(t)
			o := mustPlace(t, svc, tt.draft)
			want := []orders.Notification{{ID: 1, Customer: tt.draft.Customer, OrderNumber: o.Number,
				To: orders.StatusPendingShipment, Actor: "customer", CreatedAt: o.CreatedAt, Attempts: 1}}
			if got := mustClaimAll(t, s, o.CreatedAt); !reflect.DeepEqual(got, want) {
				t.Errorf("outbox =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// A database from before approvers were told keeps its notifications, all
// the customers', and tells approvers once migrated.
func TestMigrateAddsOutboxRole(t *testing.T) {
	s := mustOpenMigratedBefore(t, "0005_outbox_role.sql")
	mustExec(t, s,
		`INSERT INTO outbox (order_number, customer_channel, customer_chat, customer_user, customer_lang,
			from_status, to_status, tracking, note, actor, created_at, next_attempt_at)
			VALUES ('OB-2345678', 'console', 'chat-1', 'user-1', 'en', 'pending_shipment', 'shipped', 'SF1', '', 'operator', 1, 1)`,
	)

	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	mustImport(t, s, testCatalog())
	placed := mustPlace(t, mustCompanyService(t, s), approvalDraft("new"))
	old := orders.Notification{ID: 1, Customer: customer, OrderNumber: "OB-2345678", From: orders.StatusPendingShipment,
		To: orders.StatusShipped, Tracking: "SF1", Actor: "operator", CreatedAt: fromMicros(1), Attempts: 1}
	want := append([]orders.Notification{old}, told(2, placed, placed.History[0])...)
	if got := mustClaimAll(t, s, placed.CreatedAt); !reflect.DeepEqual(got, want) {
		t.Errorf("outbox after migrating =\n%+v\nwant the old row, the customer's, and then the approvers'\n%+v", got, want)
	}
}
