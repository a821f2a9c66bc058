package dialog

import (
	"context"
	"errors"

	"orderbot/orders"
)

func (st *step) customer() orders.Customer {
	k := st.s.Key
	return orders.Customer{Channel: k.Channel, Chat: k.Chat, User: k.User, Lang: st.s.Lang}
}

// placeOrder hands the draft to the order core. The checkout key makes a
// repeated attempt (a retried save, a second Confirm) return the same order.
func (st *step) placeOrder(ctx context.Context) error {
	s := st.s
	if len(s.Cart) == 0 {
		st.notice("empty_checkout")
		st.fire(EventShowCart)
		return nil
	}
	if s.Checkout.Key == "" {
		s.Checkout.Key = newCheckoutKey()
	}
	d := orders.Draft{
		CheckoutKey: s.Checkout.Key,
		Customer:    st.customer(),
		Address:     s.Checkout.Address,
		ContactName: s.Checkout.Name,
		Phone:       s.Checkout.Phone,
		Payment:     s.Checkout.Payment,
	}
	for _, l := range s.Cart {
		d.Lines = append(d.Lines, orders.DraftLine{VariantSKU: l.VariantSKU, Quantity: l.Quantity, UnitPrice: l.UnitPrice})
	}
	o, err := st.e.svc.Place(ctx, d)
	var pe *orders.ProblemsError
	switch {
	case errors.As(err, &pe):
		st.e.InvalidateCatalog()
		st.applyProblems(pe.Problems)
		if len(s.Cart) == 0 {
			st.fire(EventShowCart)
		} else {
			st.fire(EventReview)
		}
		return nil
	case orders.ErrorCode(err) == orders.EINVALID:
		// A slot the dialog let through but the core refuses: ask for the
		// missing one, or show the review again, rather than fail.
		st.e.cfg.Logger.Warn("draft refused", "conv", s.Key.String(), "err", err)
		st.notice("changed_check")
		st.next()
		return nil
	case err != nil:
		return err
	}
	st.e.InvalidateCatalog()
	saved := s.Profile.Address
	s.Profile = Profile{Address: s.Checkout.Address, Name: s.Checkout.Name, Phone: s.Checkout.Phone}
	if !st.needsAddress() {
		s.Profile.Address = saved // a digital order asked for none
	}
	s.Cart, s.Checkout = nil, Checkout{}
	s.Order = o.Number
	st.placed = &o
	st.notice("placed", o.Number, o.Total.String())
	st.fire(EventShowOrder)
	return nil
}

func (st *step) cancelOrder(ctx context.Context) error {
	o, err := st.e.svc.Cancel(ctx, st.s.Order, st.customer())
	if orders.ErrorCode(err) == orders.ECONFLICT {
		// A retried step finds the order it cancelled already cancelled.
		if cur, rerr := st.e.svc.Order(ctx, st.s.Order); rerr == nil && cur.Status == orders.StatusCancelled {
			o, err = cur, nil
		}
	}
	switch orders.ErrorCode(err) {
	case "":
		st.e.InvalidateCatalog()
		st.notice("order_cancelled", o.Number)
		st.fire(EventShowOrder)
	case orders.ENOTFOUND, orders.EINVALID:
		st.notice("order_not_found", st.s.Order)
		st.fire(EventListOrders)
	case orders.ECONFLICT:
		if cur, err := st.e.svc.Order(ctx, st.s.Order); err == nil {
			st.notice("cannot_cancel", cur.Number, st.t("status_"+string(cur.Status)))
		}
		st.fire(EventShowOrder)
	default:
		return err
	}
	return nil
}
