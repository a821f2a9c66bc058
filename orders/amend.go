package orders

import (
	"context"
	"slices"
	"time"
)

// AmendedNote is the note of the change an amendment records (Service.Amend):
// the order's lines changed, and its status stayed or went back to
// pending_approval.
const AmendedNote = "amended"

// Amendment replaces the lines of an order that has not shipped. The
// Service builds it; a Store applies it (Store.Amend).
type Amendment struct {
	Lines []DraftLine // the order's new lines, each at the price shown
	From  Status      // the status the order had when the amendment was decided

	// Approvals, when Reapprove is set, are the approvers the amended order
	// waits for: it goes back to pending_approval, and the approvals given
	// so far no longer count. Without Reapprove the order keeps its status
	// and approvers.
	Approvals []Approval
	Reapprove bool

	Actor string
	At    time.Time
}

// Amendable reports whether an order in status s, paid with p, may still
// have its lines changed: it has not shipped, and nothing was paid for it
// up front (a payment cannot follow a new total).
func Amendable(s Status, p Payment) bool {
	return !p.Upfront() && (s == StatusPendingApproval || s == StatusPendingShipment)
}

// Amend replaces the lines of customer c's own order with lines, each at
// the price it was shown at, as Place checks them: a *ProblemsError, with
// nothing changed, when a line's product is gone, its price differs or its
// stock is short. The stock the order held is given back and the new lines
// reserved, in one transaction.
//
// A company order whose new lines need an approval rule it did not have
// before, or whose total rose while the rules still ask for approval, goes
// back to pending_approval, and waits for every rule again: approvals given
// so far are for what the order was. Otherwise it keeps its status and its
// approvals. The customer, the approvers while it waits and the fulfilment
// channel while it follows the order are told through the outbox (Note
// AmendedNote). The same lines as the order has change nothing.
//
// Only orders that have not shipped and were not paid up front can change
// (Amendable): ECONFLICT otherwise, or when the order moved on meanwhile.
// Another customer's order is ENOTFOUND.
func (s *Service) Amend(ctx context.Context, number string, c Customer, lines []DraftLine) (Order, error) {
	for attempt := 0; ; attempt++ {
		o, err := s.Order(ctx, number)
		if err != nil {
			return Order{}, err
		}
		if o.Customer.Channel != c.Channel || o.Customer.Chat != c.Chat || o.Customer.User != c.User {
			return Order{}, Errorf(ENOTFOUND, "order %s not found", number)
		}
		if !Amendable(o.Status, o.Payment) {
			return o, Errorf(ECONFLICT, "order %s is %s and can no longer be changed", o.Number, o.Status)
		}
		a, err := s.amendment(ctx, o, lines)
		if err != nil {
			return o, err
		}
		amended, err := s.store.Amend(ctx, o.Number, a)
		if ErrorCode(err) == ECONFLICT && attempt < 2 {
			// An approver moved the order on between the read and the
			// write: decide again on what it is now.
			continue
		}
		return amended, err
	}
}

// amendment is the change of order o to lines: who must approve it, if
// anyone must again.
func (s *Service) amendment(ctx context.Context, o Order, lines []DraftLine) (Amendment, error) {
	// The draft the order would be placed as now: its checkout, new lines.
	d := Draft{
		CheckoutKey: "amend:" + o.Number, Customer: o.Customer, Lines: lines,
		Address: o.Address, ContactName: o.ContactName, Phone: o.Phone, Payment: o.Payment,
		CostCentre: o.CostCentre, Reason: o.Reason,
	}
	if err := d.Validate(); err != nil {
		return Amendment{}, err
	}
	a := Amendment{Lines: lines, From: o.Status, Actor: ActorCustomer, At: s.now().UTC()}
	if o.Payment != PayCompany || s.approvals == nil {
		return a, nil
	}
	need, err := s.approvers(ctx, d)
	if err != nil {
		return Amendment{}, err
	}
	if a.Reapprove = reapprove(o, d, need); a.Reapprove {
		a.Approvals = need
	}
	return a, nil
}

// reapprove reports whether order o, amended to draft d whose lines the
// rules send to need, must be approved again: some rule asks for it that
// the order was not approved under, or its total rose while a rule still
// asks for approval.
func reapprove(o Order, d Draft, need []Approval) bool {
	if len(need) == 0 {
		return false
	}
	for _, a := range need {
		if !slices.ContainsFunc(o.Approvals, func(b Approval) bool { return b.Rule == a.Rule }) {
			return true
		}
	}
	total, ok := DraftTotal(d.Lines)
	return !ok || total.Currency != o.Total.Currency || total.Amount > o.Total.Amount
}
