package dialog

import (
	"context"
	"strings"

	"orderbot/orders"
)

// decision is an approver's answer to an approval request: approve, or
// reject with a note.
type decision struct {
	number  string
	approve bool
	note    string
}

// decideOrder records the approver's decision through the order core, which
// checks that this user is an approver of the order and that nobody decided
// before; the requester hears of it through the outbox.
func (st *step) decideOrder(ctx context.Context) error {
	d := st.decide
	s := st.s
	o, err := st.e.svc.Decide(ctx, d.number, s.Key.User, d.approve, d.note)
	switch orders.ErrorCode(err) {
	case "":
		switch {
		case !d.approve:
			st.notice("you_rejected", o.Number)
		case o.Status == orders.StatusPendingApproval:
			st.notice("you_approved_waiting", o.Number, strings.Join(waitingRules(o), ", "))
		default:
			st.notice("you_approved", o.Number)
		}
	case orders.ECONFLICT:
		if o.Status == orders.StatusPendingApproval {
			st.notice("you_approved_waiting", o.Number, strings.Join(waitingRules(o), ", "))
			break
		}
		st.notice("already_decided", o.Number, st.t("status_"+string(o.Status)), decider(o))
	case orders.ENOTFOUND:
		st.notice("order_not_found", d.number)
	case orders.EINVALID:
		st.notice("not_approver", d.number)
	default:
		return err
	}
	s.Deciding = ""
	if s.State == StateRejectReason {
		st.back()
	}
	// Otherwise the notice is the whole answer: the step on screen stays.
	return nil
}

// waitingRules are the rules of an order no approver has approved yet.
func waitingRules(o orders.Order) []string {
	approved := map[string]bool{}
	for _, a := range o.Approvals {
		if a.Approved {
			approved[a.Rule] = true
		}
	}
	var rules []string
	seen := map[string]bool{}
	for _, a := range o.Approvals {
		if !approved[a.Rule] && !seen[a.Rule] {
			seen[a.Rule] = true
			rules = append(rules, a.Rule)
		}
	}
	return rules
}

// decider is who decided an order that waited for approval, from its
// history.
func decider(o orders.Order) string {
	for i := len(o.History) - 1; i >= 0; i-- {
		if c := o.History[i]; c.From == orders.StatusPendingApproval {
			return strings.TrimPrefix(c.Actor, orders.ActorApproverPrefix)
		}
	}
	return "?"
}

// approvalCard is an approver's request for one order: the order, who asked
// and why, with Approve and Reject while it waits, and the decision once
// taken. It is a card, updated in place as the decision is made.
func (e *Engine) approvalCard(o orders.Order, approver, lang string) Reply {
	view := &step{e: e, s: &Session{Lang: lang}}
	var b strings.Builder
	b.WriteString(CardMark + " " + T(lang, "approval_request", o.ContactName, o.Customer.User))
	for _, a := range o.Approvals {
		if a.Approver == approver {
			b.WriteString("\n" + T(lang, "approval_rule", a.Rule))
		}
	}
	b.WriteString("\n\n" + view.orderText(o))
	r := Reply{Card: o.Number + "/approval/" + approver}
	mine := false
	for _, a := range o.Approvals {
		mine = mine || (a.Approver == approver && a.Approved)
	}
	switch {
	case o.Status == orders.StatusPendingApproval && mine:
		// Approved by this approver; other rules still wait. Reject stays
		// possible until the order is decided.
		b.WriteString("\n\n" + T(lang, "approval_yours", strings.Join(waitingRules(o), ", ")))
		r.Buttons = [][]Button{{{T(lang, "btn_reject"), GlobalAction(cmdReject, o.Number)}}}
	case o.Status == orders.StatusPendingApproval:
		r.Buttons = [][]Button{{
			{T(lang, "btn_approve"), GlobalAction(cmdApprove, o.Number)},
			{T(lang, "btn_reject"), GlobalAction(cmdReject, o.Number)},
		}}
	case o.Status == orders.StatusRejected:
		b.WriteString("\n\n" + T(lang, "approval_rejected", decider(o)))
	default:
		b.WriteString("\n\n" + T(lang, "approval_approved", decider(o)))
	}
	r.Text = b.String()
	return r
}

// fulfilment is a staff member moving a company order on from the
// fulfilment desk.
type fulfilment struct {
	number string
	to     orders.Status
}

// fulfilOrder marks the order shipped or delivered through the order core,
// which checks the staff list and the lifecycle; the requester is told
// through the outbox, and the desk's card follows.
func (st *step) fulfilOrder(ctx context.Context) error {
	f := st.fulfil
	o, err := st.e.svc.Fulfil(ctx, f.number, st.s.Key.User, f.to)
	switch orders.ErrorCode(err) {
	case "":
		st.notice("you_fulfilled", o.Number, st.t("status_"+string(o.Status)))
	case orders.ECONFLICT:
		st.notice("fulfil_refused", o.Number, st.t("status_"+string(o.Status)))
	case orders.ENOTFOUND:
		st.notice("order_not_found", f.number)
	case orders.EINVALID:
		st.notice("not_staff", f.number)
	default:
		return err
	}
	// The notice is the whole answer: pressed in a shared channel, a
	// conversation step would only be noise there.
	return nil
}

// fulfilmentCard is the fulfilment desk's card of a company order: what to
// deliver where, and the button for the next step while there is one.
func (e *Engine) fulfilmentCard(o orders.Order, lang string) Reply {
	view := &step{e: e, s: &Session{Lang: lang}}
	r := Reply{
		Text: CardMark + " " + T(lang, "fulfil_card", o.ContactName, o.Customer.User) + "\n\n" + view.orderText(o),
		Card: o.Number + "/fulfilment",
	}
	switch o.Status {
	case orders.StatusPendingShipment:
		r.Buttons = [][]Button{{{T(lang, "btn_mark_shipped"), GlobalAction(cmdShip, o.Number)}}}
	case orders.StatusShipped:
		r.Buttons = [][]Button{{{T(lang, "btn_mark_delivered"), GlobalAction(cmdDeliver, o.Number)}}}
	}
	return r
}

// Home is a user's overview outside the conversation (Slack's App Home):
// their recent orders, each with a button to open it, and the approval
// requests waiting for them, with their buttons.
func (e *Engine) Home(ctx context.Context, key Key) ([]Reply, error) {
	lang, err := e.langOf(ctx, key, "")
	if err != nil {
		return nil, err
	}
	view := &step{e: e, s: &Session{Key: key, Lang: lang}}
	c := orders.Customer{Channel: key.Channel, Chat: key.Chat, User: key.User}
	mine, err := e.svc.Orders(ctx, orders.Filter{Customer: &c, Limit: 10})
	if err != nil {
		return nil, err
	}
	own := Reply{Text: T(lang, "home_orders")}
	if len(mine) == 0 {
		own.Text += "\n" + T(lang, "no_orders")
	}
	for _, o := range mine {
		own.Buttons = append(own.Buttons, []Button{{view.t("order_btn", o.Number, view.t("status_"+string(o.Status)), o.Total.String()), GlobalAction(cmdOrder, o.Number)}})
	}
	replies := []Reply{own}
	waiting, err := e.svc.Orders(ctx, orders.Filter{Status: orders.StatusPendingApproval, Approver: key.User, Limit: 20})
	if err != nil {
		return nil, err
	}
	var requests []Reply
	for _, o := range waiting {
		requests = append(requests, e.approvalCard(o, key.User, lang))
	}
	if len(requests) > 0 {
		replies = append(replies, Reply{Text: T(lang, "home_requests", len(requests))})
		replies = append(replies, requests...)
	}
	return replies, nil
}
