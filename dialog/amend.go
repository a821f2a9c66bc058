package dialog

import (
	"context"
	"errors"
	"strings"

	"orderbot/orders"
)

// Changing an order that has not shipped reuses the cart: the order's
// lines are put in it (the customer's own cart is held aside), edited like
// any cart, reviewed, and confirmed through the order core's Amend. A
// company order whose total rises goes back to its approvers.

// startAmend puts the lines of s.Order in the cart for changing, if it is
// the customer's and can still change.
func (st *step) startAmend(ctx context.Context) error {
	s := st.s
	o, err := st.e.svc.Order(ctx, s.Order)
	c := st.customer()
	switch {
	case orders.ErrorCode(err) == orders.ENOTFOUND || orders.ErrorCode(err) == orders.EINVALID ||
		(err == nil && (o.Customer.Channel != c.Channel || o.Customer.Chat != c.Chat || o.Customer.User != c.User)):
		st.notice("order_not_found", s.Order)
		st.fire(EventListOrders)
		return nil
	case err != nil:
		return err
	case !orders.Amendable(o.Status, o.Payment):
		st.notice("cannot_amend", o.Number, st.t("status_"+string(o.Status)))
		st.fire(EventShowOrder)
		return nil
	}
	if s.Amending == "" {
		s.Held = s.Cart
	}
	s.Amending = o.Number
	s.Cart = make([]CartLine, len(o.Lines))
	for i, l := range o.Lines {
		s.Cart[i] = CartLine{VariantSKU: l.VariantSKU, Quantity: l.Quantity, UnitPrice: l.UnitPrice}
	}
	s.Checkout.Key = ""
	st.notice("amend_started", o.Number)
	st.fire(EventShowCart)
	return nil
}

// endAmend gives the customer their own cart back.
func (st *step) endAmend() {
	s := st.s
	if s.Amending == "" {
		return
	}
	s.Order = s.Amending
	s.Cart, s.Held, s.Amending = s.Held, nil, ""
	s.Checkout.Key = ""
}

// discardAmend drops the changes and shows the order as it is.
func (st *step) discardAmend() {
	number := st.s.Amending
	st.endAmend()
	st.notice("amend_discarded", number)
	st.fire(EventShowOrder)
}

// amendOrder sends the changed lines to the order core.
func (st *step) amendOrder(ctx context.Context) error {
	s := st.s
	if len(s.Cart) == 0 {
		st.notice("amend_empty", s.Amending)
		st.fire(EventShowCart)
		return nil
	}
	lines := make([]orders.DraftLine, len(s.Cart))
	for i, l := range s.Cart {
		lines[i] = orders.DraftLine{VariantSKU: l.VariantSKU, Quantity: l.Quantity, UnitPrice: l.UnitPrice}
	}
	number := s.Amending
	o, err := st.e.svc.Amend(ctx, number, st.customer(), lines)
	var pe *orders.ProblemsError
	switch {
	case errors.As(err, &pe):
		st.cartChanged(pe.Problems)
		return nil
	case orders.ErrorCode(err) == orders.ECONFLICT:
		st.endAmend()
		st.notice("cannot_amend", o.Number, st.t("status_"+string(o.Status)))
		st.fire(EventShowOrder)
		return nil
	case orders.ErrorCode(err) == orders.ENOTFOUND:
		st.endAmend()
		st.notice("order_not_found", number)
		st.fire(EventListOrders)
		return nil
	case orders.ErrorCode(err) == orders.EINVALID:
		// The lines were checked: what the core refuses is the approval
		// rules'.
		st.noApprover("amendment refused", err)
		return nil
	case err != nil:
		return err
	}
	st.endAmend()
	st.placed = &o
	if o.Status == orders.StatusPendingApproval {
		st.notice("amended_approval", o.Number, o.Total.String())
	} else {
		st.notice("amended", o.Number, o.Total.String())
	}
	st.fire(EventShowOrder)
	return nil
}

// renderAmendReview shows the order's new lines before they are sent.
func (st *step) renderAmendReview() Reply {
	var b strings.Builder
	b.WriteString(st.t("amend_review", st.s.Amending))
	st.cartLines(&b)
	b.WriteString("\n\n" + st.t("amend_review_note"))
	return Reply{Text: b.String(), Buttons: [][]Button{
		{{st.t("btn_confirm_changes"), st.action("confirm")}},
		{{st.t("btn_edit_cart"), st.action("cart")}, {st.t("btn_discard_changes"), st.action("discard")}},
	}}
}
