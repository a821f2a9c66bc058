package dialog

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	if s.Amending != "" {
		return st.amendOrder(ctx)
	}
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
	if d.Payment == orders.PayCompany {
		d.CostCentre, d.Reason = s.Checkout.CostCentre, s.Checkout.Reason
	}
	for _, l := range s.Cart {
		price := l.UnitPrice
		if d.Payment == orders.PayStars {
			// Paid in Stars, the order is priced in Stars, as the review showed.
			var ok bool
			if price, ok = st.starsPrice(l.VariantSKU); !ok {
				st.notice("stars_gone", st.cartLineName(l))
				s.Checkout.Payment = ""
				st.next()
				return nil
			}
		}
		d.Lines = append(d.Lines, orders.DraftLine{VariantSKU: l.VariantSKU, Quantity: l.Quantity, UnitPrice: price})
	}
	o, err := st.e.svc.Place(ctx, d)
	var pe *orders.ProblemsError
	switch {
	case errors.As(err, &pe) && d.Payment == orders.PayStars:
		st.e.InvalidateCatalog()
		st.starsProblems(pe.Problems)
		return nil
	case errors.As(err, &pe):
		st.cartChanged(pe.Problems)
		return nil
	case orders.ErrorCode(err) == orders.EINVALID && d.Payment == orders.PayCompany && st.missingSlot() == "":
		// Every slot is there: the approval rules refuse it.
		st.noApprover("company order refused", err)
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
	// The catalog snapshot is not read again for the stock this order
	// took: a snapshot lives catalog_ttl at most, every placement checks
	// stock and prices again in its transaction, and reading the catalog
	// after every order made a sale a storm of catalog reads.
	saved := s.Profile.Address
	s.Profile = Profile{Address: s.Checkout.Address, Name: s.Checkout.Name, Phone: s.Checkout.Phone, CostCentre: s.Profile.CostCentre}
	if d.CostCentre != "" {
		s.Profile.CostCentre = d.CostCentre
	}
	if !st.needsAddress() {
		s.Profile.Address = saved // a digital order asked for none
	}
	s.Cart, s.Checkout = nil, Checkout{}
	s.Order = o.Number
	st.placed = &o
	if o.Status == orders.StatusPendingPayment {
		st.notice("placed_unpaid", o.Number, o.Total.String(), int(st.e.cfg.PaymentTTL.Minutes()))
		st.fire(EventShowOrder)
		st.after = append(st.after, Reply{Invoice: st.invoiceOf(o)})
		return nil
	}
	switch {
	case o.Status == orders.StatusPendingApproval:
		st.notice("placed_approval", o.Number, o.Total.String())
	case o.Payment == orders.PayCompany:
		st.notice("placed_company", o.Number, o.Total.String(), o.CostCentre)
	default:
		st.notice("placed", o.Number, o.Total.String())
	}
	st.fire(EventShowOrder)
	return nil
}

// cartChanged answers an order the core refused because lines changed
// (price, stock): the cart follows, and the review is shown again, or the
// cart when nothing is left in it.
func (st *step) cartChanged(problems []orders.Problem) {
	st.e.InvalidateCatalog()
	st.applyProblems(problems)
	if len(st.s.Cart) == 0 {
		st.fire(EventShowCart)
	} else {
		st.fire(EventReview)
	}
}

// noApprover answers a company order the approval rules refuse although
// everything was given: a rule names the requester's manager and none is
// configured. Asking again would not help; the office manager can.
func (st *step) noApprover(what string, err error) {
	st.e.cfg.Logger.Warn(what, "conv", st.s.Key.String(), "err", err)
	st.notice("approval_unavailable")
	st.show = true
}

// starsProblems answers a Stars order the core refused: stock problems
// change the cart as for any order; a changed Stars price is told and shown
// again for review; a line no longer sold for Stars sends the customer back
// to choosing how to pay.
func (st *step) starsProblems(problems []orders.Problem) {
	s := st.s
	var stock []orders.Problem
	for _, pr := range problems {
		i := st.lineIndex(pr.VariantSKU)
		switch {
		case i < 0:
		case pr.Kind == orders.ProblemLowStock || pr.Kind == orders.ProblemOutOfStock:
			stock = append(stock, pr)
		case pr.Kind == orders.ProblemPriceChanged && pr.Current.Currency == orders.CurrencyStars:
			st.notice("stars_changed", st.cartLineName(s.Cart[i]), pr.Current.String())
		default:
			st.notice("stars_gone", st.cartLineName(s.Cart[i]))
			s.Checkout.Payment = ""
		}
	}
	st.applyProblems(stock)
	s.Checkout.Key = ""
	if len(s.Cart) == 0 {
		st.fire(EventShowCart)
		return
	}
	st.next()
}

// invoiceOf is the invoice of an order, in the conversation's language.
func (st *step) invoiceOf(o orders.Order) *Invoice {
	inv := &Invoice{OrderNumber: o.Number, Title: st.t("invoice_title", o.Number), Total: o.Total}
	items := 0
	for _, l := range o.Lines {
		sub, _ := l.UnitPrice.Mul(l.Quantity)
		name := withVariant(l.ProductName.In(st.lang()), l.VariantName.In(st.lang()), st.lang())
		inv.Lines = append(inv.Lines, InvoiceLine{Label: fmt.Sprintf("%s × %d", name, l.Quantity), Amount: sub})
		items += l.Quantity
	}
	inv.Description = st.t("invoice_desc", o.Number, items)
	return inv
}

// sendInvoice sends the invoice of the order on screen again, if it still
// waits for payment.
func (st *step) sendInvoice(ctx context.Context) error {
	o, err := st.e.svc.Order(ctx, st.s.Order)
	if err != nil {
		return err
	}
	st.placed = &o
	st.fire(EventShowOrder)
	if o.Status != orders.StatusPendingPayment || !o.Payment.Upfront() {
		return nil // the order view shows why there is nothing to pay
	}
	st.after = append(st.after, Reply{Invoice: st.invoiceOf(o)})
	return nil
}

// confirmPayment records a payment the channel confirmed (the channel may
// have recorded it already: RecordPayment) and tells the customer.
func (st *step) confirmPayment(ctx context.Context) error {
	p := st.paid
	o, err := st.e.svc.ConfirmPayment(ctx, p.OrderNumber, received(*p, st.now))
	switch orders.ErrorCode(err) {
	case "":
		if o.Status == orders.StatusCancelled {
			// Seen before, for an order that had expired.
			st.notice("paid_late", o.Number)
		} else {
			st.notice("paid", o.Number)
		}
	case orders.ECONFLICT:
		st.e.cfg.Logger.Warn("payment for an order no longer payable", "conv", st.s.Key.String(), "order", p.OrderNumber)
		st.notice("paid_late", p.OrderNumber)
	default:
		return err
	}
	st.s.Order = o.Number
	if o.Number == "" {
		st.s.Order = orders.NormalizeNumber(p.OrderNumber)
	} else {
		st.placed = &o
	}
	st.fire(EventShowOrder)
	return nil
}

// received is a channel's payment event as the order core records it.
func received(p PaymentEvent, at time.Time) orders.ReceivedPayment {
	method := orders.PayTelegram
	if p.Amount.Currency == orders.CurrencyStars {
		method = orders.PayStars
	}
	return orders.ReceivedPayment{ChargeID: p.ChargeID, Method: method, Amount: p.Amount, At: at}
}

// RecordPayment records a payment a channel confirmed, before the channel
// acknowledges it to its provider: money that moved is then never lost,
// even when the conversation's answer is (a full queue, a crash). It is
// recorded once per charge id, so the payment event that follows through
// the conversation changes nothing more. A payment for an order that no
// longer waits for one (it expired) is recorded for a refund, logged for
// the operator, and not an error; nor is one for an unknown order, which
// no retry would help. Other errors mean: try again.
func (e *Engine) RecordPayment(ctx context.Context, key Key, p PaymentEvent) error {
	_, err := e.svc.ConfirmPayment(ctx, p.OrderNumber, received(p, e.cfg.Now()))
	switch orders.ErrorCode(err) {
	case "":
		return nil
	case orders.ECONFLICT:
		e.cfg.Logger.Warn("payment for an order no longer payable; refund it", "conv", key.String(), "order", p.OrderNumber)
		return nil
	case orders.ENOTFOUND, orders.EINVALID:
		e.cfg.Logger.Error("payment for no known order; refund it", "conv", key.String(), "order", truncate(p.OrderNumber, 20))
		return nil
	}
	return err
}

// payGrace is how long before its expiry an order stops taking payments:
// enough for a payment approved at the last moment to complete first.
func payGrace(ttl time.Duration) time.Duration { return min(2*time.Minute, ttl/4) }

// PreCheckout answers a channel's last check before it charges the
// customer: whether the order can still be paid this amount. reason is for
// the customer, in their language, when it cannot.
func (e *Engine) PreCheckout(ctx context.Context, key Key, number string, amount orders.Money) (ok bool, reason string, err error) {
	lang, _ := e.langOf(ctx, key, "") // a refusal in the default language rather than none
	o, err := e.svc.CheckPayable(ctx, number, amount)
	switch {
	case err == nil:
		if o.Customer.Channel != key.Channel || o.Customer.User != key.User {
			return false, T(lang, "order_not_found", number), nil
		}
		// Close to its expiry an order is no longer paid for: the payment
		// would race the expiry, and the customer be charged for an order
		// cancelled a moment later.
		if e.cfg.Now().Sub(o.CreatedAt) > e.cfg.PaymentTTL-payGrace(e.cfg.PaymentTTL) {
			return false, T(lang, "pay_expiring", o.Number), nil
		}
		return true, "", nil
	case orders.ErrorCode(err) == orders.ENOTFOUND || orders.ErrorCode(err) == orders.EINVALID:
		return false, T(lang, "order_not_found", number), nil
	case orders.ErrorCode(err) == orders.ECONFLICT && o.Status != orders.StatusPendingPayment:
		return false, T(lang, "not_payable", o.Number, T(lang, "status_"+string(o.Status))), nil
	case orders.ErrorCode(err) == orders.ECONFLICT:
		return false, T(lang, "wrong_amount"), nil
	}
	return false, T(lang, "error"), err
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
