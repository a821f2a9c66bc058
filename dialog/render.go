package dialog

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"orderbot/orders"
)

// render appends the message of the step the conversation is at. Each
// rendering gets a new sequence number, so the buttons of older messages are
// recognised as out of date.
func (st *step) render(ctx context.Context) error {
	s := st.s
	s.Seq++
	var r Reply
	var err error
	switch s.State {
	case StateCategories:
		r = st.renderCategories()
	case StateProducts:
		r = st.renderProducts()
	case StateProduct:
		r = st.renderProduct()
	case StateQuantity:
		r = st.renderQuantity()
	case StateCart:
		r = st.renderCart()
	case StateLineQuantity:
		r = st.renderLineQuantity()
	case StateAddress, StateName, StatePhone, StateCostCentre, StateReason:
		r = st.renderSlot()
	case StatePayment:
		r = Reply{Text: st.t("ask_payment")}
		for _, p := range st.choices() {
			r.Buttons = append(r.Buttons, []Button{{st.payLabel(p), st.action("pay", string(p))}})
		}
		r.Buttons = append(r.Buttons, st.navRow(true, false))
	case StateReview:
		r = st.renderReview()
	case StateOrders:
		r, err = st.renderOrders(ctx)
	case StateOrder, StateCancelOrder:
		r, err = st.renderOrder(ctx)
	case StateHelp:
		r = st.renderHelp()
	case StateRejectReason:
		r = Reply{Text: st.t("ask_reject_reason", st.s.Deciding), Buttons: [][]Button{st.navRow(true, false)}}
	default:
		r = st.renderMenu()
	}
	if err != nil {
		return err
	}
	st.replies = append(st.replies, r)
	return nil
}

// navRow is the row of Back / Cart / Menu buttons under a step.
func (st *step) navRow(back, cart bool) []Button {
	var row []Button
	if back {
		row = append(row, Button{st.t("btn_back"), GlobalAction(cmdBack)})
	}
	if cart {
		row = append(row, Button{st.cartLabel(), GlobalAction(cmdCart)})
	}
	return append(row, Button{st.t("btn_menu"), GlobalAction(cmdMenu)})
}

func (st *step) cartLabel() string {
	n := 0
	for _, l := range st.s.Cart {
		n += l.Quantity
	}
	if n == 0 {
		return st.t("btn_cart")
	}
	return st.t("btn_cart_n", n)
}

func (st *step) renderMenu() Reply {
	return Reply{Text: st.t("menu"), Buttons: [][]Button{
		{{st.t("btn_browse"), GlobalAction(cmdBrowse)}},
		{{st.cartLabel(), GlobalAction(cmdCart)}, {st.t("btn_orders"), GlobalAction(cmdOrders)}},
		{{st.t("btn_help"), GlobalAction(cmdHelp)}, {st.t("btn_lang"), GlobalAction(cmdLang, other(st.lang()))}},
	}}
}

func other(lang string) string {
	if lang == "zh" {
		return "en"
	}
	return "zh"
}

func (st *step) renderCategories() Reply {
	var rows [][]Button
	for _, c := range st.cat.Categories {
		if len(st.cat.InCategory(c.ID)) > 0 {
			rows = append(rows, []Button{{c.Name.In(st.lang()), st.action("open", c.ID)}})
		}
	}
	if len(rows) == 0 {
		return Reply{Text: st.t("no_categories"), Buttons: [][]Button{st.navRow(false, false)}}
	}
	return Reply{Text: st.t("categories"), Buttons: append(rows, st.navRow(true, true))}
}

func (st *step) renderProducts() Reply {
	s := st.s
	var ps []orders.Product
	var title string
	if s.Search != "" {
		ps = searchProducts(st.cat, s.Search)
	} else {
		ps = st.cat.InCategory(s.Category)
		c, _ := st.cat.Category(s.Category)
		title = c.Name.In(st.lang())
	}
	size := st.e.cfg.PageSize
	pages := (len(ps) + size - 1) / size
	if pages == 0 {
		pages = 1
	}
	s.Page = min(max(s.Page, 0), pages-1)
	var rows [][]Button
	for _, p := range ps[min(s.Page*size, len(ps)):min((s.Page+1)*size, len(ps))] {
		rows = append(rows, []Button{{st.productLabel(p), st.action("open", p.SKU)}})
	}
	var pager []Button
	if s.Page > 0 {
		pager = append(pager, Button{st.t("btn_prev"), st.action("page", strconv.Itoa(s.Page-1))})
	}
	if s.Page < pages-1 {
		pager = append(pager, Button{st.t("btn_next"), st.action("page", strconv.Itoa(s.Page+1))})
	}
	if pager != nil {
		rows = append(rows, pager)
	}
	text := st.t("products", title, s.Page+1, pages)
	if s.Search != "" {
		text = st.t("search_results", truncate(s.Search, 40), s.Page+1, pages)
	}
	return Reply{Text: text, Buttons: append(rows, st.navRow(true, true))}
}

func (st *step) productLabel(p orders.Product) string {
	name := p.Name.In(st.lang())
	low, _, stock := priceRange(p)
	if stock == 0 {
		return st.t("sold_out_tag", name)
	}
	return st.t("product_btn", name, low.String())
}

// priceRange returns the lowest and highest price and the total stock.
func priceRange(p orders.Product) (low, high orders.Money, stock int) {
	for i, v := range p.Variants {
		if i == 0 || v.Price.Amount < low.Amount {
			low = v.Price
		}
		if i == 0 || v.Price.Amount > high.Amount {
			high = v.Price
		}
		stock += max(v.Stock, 0)
	}
	return low, high, stock
}

func (st *step) renderProduct() Reply {
	p, ok := st.cat.Product(st.s.Product)
	if !ok || !p.Active {
		return Reply{Text: st.t("product_gone"), Buttons: [][]Button{st.navRow(true, true)}}
	}
	lang := st.lang()
	var b strings.Builder
	b.WriteString(p.Name.In(lang))
	if d := p.Description.In(lang); d != "" {
		b.WriteString("\n" + d)
	}
	low, high, _ := priceRange(p)
	if low == high {
		b.WriteString("\n" + st.t("product_price", low.String()))
	} else {
		b.WriteString("\n" + st.t("product_prices", low.String(), high.String()))
	}
	if p.Rating > 0 {
		b.WriteString("\n" + st.t("product_rating", fmt.Sprintf("%d.%d", p.Rating/10, p.Rating%10)))
	}
	if len(p.Specs) > 0 {
		b.WriteString("\n" + st.t("product_specs"))
		for _, sp := range p.Specs {
			b.WriteString("\n• " + sp.Name.In(lang) + ": " + sp.Value.In(lang))
		}
	}
	if !p.Kind.NeedsAddress() {
		b.WriteString("\n" + st.t("digital_note"))
	}
	b.WriteString("\n\n" + st.t("choose_variant"))
	var rows [][]Button
	for _, v := range p.Variants {
		label := st.t("variant_soldout", v.Name.In(lang))
		if v.Stock > 0 {
			label = st.t("variant_btn", v.Name.In(lang), v.Price.String(), v.Stock)
		}
		rows = append(rows, []Button{{label, st.action("variant", v.SKU)}})
	}
	return Reply{Text: b.String(), Image: p.Image, Buttons: append(rows, st.navRow(true, true))}
}

// quantityRow offers common quantities up to limit.
func (st *step) quantityRow(limit int) []Button {
	var row []Button
	for _, n := range []int{1, 2, 3, 5, 10} {
		if n <= limit {
			row = append(row, Button{strconv.Itoa(n), st.action("qty", strconv.Itoa(n))})
		}
	}
	return row
}

func (st *step) renderQuantity() Reply {
	v, p, ok := st.cat.Variant(st.s.Variant)
	if !ok || !p.Active {
		return Reply{Text: st.t("product_gone"), Buttons: [][]Button{st.navRow(true, true)}}
	}
	text := st.t("ask_quantity", p.Name.In(st.lang()), v.Name.In(st.lang()), v.Price.String(), max(v.Stock, 0))
	rows := [][]Button{}
	if row := st.quantityRow(min(v.Stock, orders.MaxQuantity)); len(row) > 0 {
		rows = append(rows, row)
	}
	return Reply{Text: text, Buttons: append(rows, st.navRow(true, true))}
}

// payLabel names a payment method.
func (st *step) payLabel(p orders.Payment) string {
	switch p {
	case orders.PayOnDelivery:
		return st.t("pay_cod")
	case orders.PayTelegram:
		return st.t("pay_telegram")
	case orders.PayStars:
		return st.t("pay_stars")
	case orders.PayCompany:
		return st.t("pay_company")
	}
	return string(p)
}

// lineName is "Product (Variant)" in lang.
func lineName(p orders.Product, v orders.Variant, lang string) string {
	if len(p.Variants) == 1 {
		return p.Name.In(lang)
	}
	return withVariant(p.Name.In(lang), v.Name.In(lang), lang)
}

// withVariant appends a variant's name in the parentheses of the language.
func withVariant(product, variant, lang string) string {
	if variant == "" {
		return product
	}
	if lang == "zh" {
		return product + "（" + variant + "）"
	}
	return product + " (" + variant + ")"
}

func (st *step) cartLineName(l CartLine) string {
	if v, p, ok := st.cat.Variant(l.VariantSKU); ok {
		return lineName(p, v, st.lang())
	}
	return l.VariantSKU
}

// cartLines writes the numbered lines and the total.
func (st *step) cartLines(b *strings.Builder) {
	var lines []orders.Line
	for i, l := range st.s.Cart {
		sub, _ := l.UnitPrice.Mul(l.Quantity)
		b.WriteString("\n" + st.t("cart_line", i+1, st.cartLineName(l), l.Quantity, sub.String()))
		lines = append(lines, orders.Line{UnitPrice: l.UnitPrice, Quantity: l.Quantity})
	}
	total, _ := orders.Total(lines)
	b.WriteString("\n" + st.t("cart_total", total.String()))
}

func (st *step) renderCart() Reply {
	if len(st.s.Cart) == 0 && st.s.Amending != "" {
		return Reply{Text: st.t("amend_empty", st.s.Amending), Buttons: [][]Button{
			{{st.t("btn_browse"), GlobalAction(cmdBrowse)}, {st.t("btn_discard_changes"), st.action("discard")}},
			st.navRow(true, false),
		}}
	}
	if len(st.s.Cart) == 0 {
		return Reply{Text: st.t("cart_empty"), Buttons: [][]Button{
			{{st.t("btn_browse"), GlobalAction(cmdBrowse)}},
			st.navRow(true, false),
		}}
	}
	var b strings.Builder
	if st.s.Amending != "" {
		b.WriteString(st.t("amend_cart", st.s.Amending))
	} else {
		b.WriteString(st.t("cart"))
	}
	st.cartLines(&b)
	var rows [][]Button
	for i, l := range st.s.Cart {
		rows = append(rows, []Button{
			{st.t("btn_edit_line", i+1, truncate(st.cartLineName(l), 30)), st.action("edit", l.VariantSKU)},
			{st.t("btn_remove"), st.action("rm", l.VariantSKU)},
		})
	}
	if st.s.Amending != "" {
		rows = append(rows,
			[]Button{{st.t("btn_review_changes"), st.action("checkout")}},
			[]Button{{st.t("btn_shop_more"), st.action("shop")}, {st.t("btn_discard_changes"), st.action("discard")}},
		)
	} else {
		rows = append(rows,
			[]Button{{st.t("btn_checkout"), st.action("checkout")}},
			[]Button{{st.t("btn_shop_more"), st.action("shop")}, {st.t("btn_clear_cart"), st.action("clear")}},
		)
	}
	rows = append(rows, st.navRow(true, false))
	return Reply{Text: b.String(), Buttons: rows}
}

func (st *step) renderLineQuantity() Reply {
	i := st.lineIndex(st.s.EditLine)
	if i < 0 {
		return st.renderCart()
	}
	l := st.s.Cart[i]
	limit := orders.MaxQuantity
	if v, _, ok := st.cat.Variant(l.VariantSKU); ok {
		limit = min(limit, v.Stock)
	}
	rows := [][]Button{}
	if row := st.quantityRow(limit); len(row) > 0 {
		rows = append(rows, row)
	}
	rows = append(rows, []Button{{st.t("btn_remove"), st.action("rm")}}, st.navRow(true, false))
	return Reply{Text: st.t("ask_line_qty", st.cartLineName(l), l.Quantity), Buttons: rows}
}

// renderSlot asks for the address, the name or the phone, offering what the
// customer gave last time.
func (st *step) renderSlot() Reply {
	s := st.s
	var r Reply
	var saved string
	switch s.State {
	case StateAddress:
		r = Reply{Text: st.t("ask_address"), Request: RequestLocation}
		saved = s.Profile.Address
	case StateName:
		r = Reply{Text: st.t("ask_name")}
		saved = s.Profile.Name
	case StateCostCentre:
		r = Reply{Text: st.t("ask_cost_centre")}
		saved = s.Profile.CostCentre
	case StateReason:
		r = Reply{Text: st.t("ask_reason"), Buttons: [][]Button{{{st.t("btn_skip"), st.action("skip")}}}}
	default:
		r = Reply{Text: st.t("ask_phone"), Request: RequestContact}
		saved = s.Profile.Phone
	}
	if saved != "" {
		r.Buttons = append(r.Buttons, []Button{{st.t("btn_use", truncate(saved, 40)), st.action("saved")}})
	}
	r.Buttons = append(r.Buttons, st.navRow(true, false))
	return r
}

func (st *step) renderReview() Reply {
	s := st.s
	if s.Amending != "" {
		return st.renderAmendReview()
	}
	if s.Checkout.Key == "" {
		s.Checkout.Key = newCheckoutKey()
	}
	var b strings.Builder
	b.WriteString(st.t("review"))
	st.cartLines(&b)
	if st.needsAddress() {
		b.WriteString("\n" + st.t("review_address", s.Checkout.Address))
	} else {
		b.WriteString("\n" + st.t("review_digital"))
	}
	b.WriteString("\n" + st.t("review_contact", s.Checkout.Name, s.Checkout.Phone))
	b.WriteString("\n" + st.t("review_payment", st.payLabel(s.Checkout.Payment)))
	if s.Checkout.Payment == orders.PayCompany {
		b.WriteString("\n" + st.t("review_cost_centre", s.Checkout.CostCentre))
		if s.Checkout.Reason != "" {
			b.WriteString("\n" + st.t("review_reason", s.Checkout.Reason))
		}
	}
	if total, ok := st.starsTotal(); ok && s.Checkout.Payment == orders.PayStars {
		b.WriteString("\n" + st.t("review_stars", total.String()))
	}
	rows := [][]Button{{{st.t("btn_confirm"), st.action("confirm")}}}
	change := []Button{}
	if st.needsAddress() {
		change = append(change, Button{st.t("btn_ch_address"), st.action("address")})
	}
	change = append(change, Button{st.t("btn_ch_name"), st.action("name")})
	rows = append(rows, change,
		[]Button{{st.t("btn_ch_phone"), st.action("phone")}, {st.t("btn_ch_payment"), st.action("payment")}},
	)
	if s.Checkout.Payment == orders.PayCompany {
		rows = append(rows, []Button{{st.t("btn_ch_cost_centre"), st.action("cost_centre")}, {st.t("btn_ch_reason"), st.action("reason")}})
	}
	rows = append(rows,
		[]Button{{st.t("btn_edit_cart"), st.action("cart")}, {st.t("btn_cancel"), st.action("cancel")}},
	)
	return Reply{Text: b.String(), Buttons: rows}
}

func (st *step) renderOrders(ctx context.Context) (Reply, error) {
	c := st.customer()
	list, err := st.e.svc.Orders(ctx, orders.Filter{Customer: &c, Limit: 10})
	if err != nil {
		return Reply{}, err
	}
	if len(list) == 0 {
		return Reply{Text: st.t("no_orders"), Buttons: [][]Button{
			{{st.t("btn_browse"), GlobalAction(cmdBrowse)}}, st.navRow(false, false),
		}}, nil
	}
	var rows [][]Button
	for _, o := range list {
		rows = append(rows, []Button{{st.t("order_btn", o.Number, st.t("status_"+string(o.Status)), o.Total.String()), st.action("open", o.Number)}})
	}
	return Reply{Text: st.t("orders"), Buttons: append(rows, st.navRow(false, false))}, nil
}

func (st *step) renderOrder(ctx context.Context) (Reply, error) {
	s := st.s
	var o orders.Order
	var err error
	if st.placed != nil && st.placed.Number == s.Order {
		o = *st.placed // just placed: reading it back could only fail the step
	} else {
		o, err = st.e.svc.Order(ctx, s.Order)
	}
	c := st.customer()
	if orders.ErrorCode(err) == orders.ENOTFOUND || orders.ErrorCode(err) == orders.EINVALID ||
		(err == nil && (o.Customer.Channel != c.Channel || o.Customer.Chat != c.Chat || o.Customer.User != c.User)) {
		return Reply{Text: st.t("order_not_found", s.Order), Buttons: [][]Button{
			{{st.t("btn_orders"), GlobalAction(cmdOrders)}}, st.navRow(false, false),
		}}, nil
	}
	if err != nil {
		return Reply{}, err
	}
	if s.State == StateCancelOrder {
		if !o.Status.Cancellable() {
			st.notice("cannot_cancel", o.Number, st.t("status_"+string(o.Status)))
		} else {
			return Reply{Text: st.t("ask_cancel", o.Number), Buttons: [][]Button{
				{{st.t("btn_yes_cancel"), st.action("yes")}, {st.t("btn_keep"), st.action("no")}},
			}}, nil
		}
	}
	return Reply{Text: st.orderText(o), Buttons: st.orderButtons(o)}, nil
}

func (st *step) orderText(o orders.Order) string {
	lang := st.lang()
	var b strings.Builder
	b.WriteString(st.t("order_title", o.Number))
	b.WriteString("\n" + st.t("order_status", st.t("status_"+string(o.Status))))
	b.WriteString("\n" + st.t("order_placed_at", o.CreatedAt.UTC().Format("2006-01-02 15:04 UTC")))
	for i, l := range o.Lines {
		name := withVariant(l.ProductName.In(lang), l.VariantName.In(lang), lang)
		sub, _ := l.UnitPrice.Mul(l.Quantity)
		b.WriteString("\n" + st.t("cart_line", i+1, name, l.Quantity, sub.String()))
	}
	b.WriteString("\n" + st.t("cart_total", o.Total.String()))
	b.WriteString("\n" + st.t("review_payment", st.payLabel(o.Payment)))
	if o.Address != "" {
		b.WriteString("\n" + st.t("review_address", o.Address))
	}
	if o.CostCentre != "" {
		b.WriteString("\n" + st.t("review_cost_centre", o.CostCentre))
	}
	if o.Reason != "" {
		b.WriteString("\n" + st.t("review_reason", o.Reason))
	}
	if o.Status == orders.StatusPendingApproval && len(o.Approvals) > 0 {
		var who []string
		for _, a := range o.Approvals {
			who = append(who, a.Approver)
		}
		b.WriteString("\n" + st.t("order_approvers", strings.Join(who, ", ")))
	}
	if o.Tracking != "" {
		b.WriteString("\n" + st.t("order_tracking", o.Tracking))
	}
	return b.String()
}

func (st *step) orderButtons(o orders.Order) [][]Button {
	var rows [][]Button
	if st.s.State == StateOrder && o.Status == orders.StatusPendingPayment && st.offered(o.Payment) && o.Payment.Upfront() {
		rows = append(rows, []Button{{st.t("btn_pay", o.Total.String()), st.action("pay")}})
	}
	if st.s.State == StateOrder && orders.Amendable(o.Status, o.Payment) {
		rows = append(rows, []Button{{st.t("btn_amend"), st.action("amend")}})
	}
	if st.s.State == StateOrder && o.Status.Cancellable() {
		rows = append(rows, []Button{{st.t("btn_cancel_order"), st.action("cancel")}})
	}
	if st.s.State == StateCancelOrder && o.Status.Cancellable() {
		rows = append(rows, []Button{{st.t("btn_keep"), st.action("no")}})
	}
	return append(rows, []Button{{st.t("btn_orders"), GlobalAction(cmdOrders)}, {st.t("btn_menu"), GlobalAction(cmdMenu)}})
}

func (st *step) renderHelp() Reply {
	var rows [][]Button
	for _, f := range st.e.cfg.FAQ {
		rows = append(rows, []Button{{f.Question.In(st.lang()), st.action("faq", f.ID)}})
	}
	return Reply{Text: st.t("help"), Buttons: append(rows, st.navRow(true, true))}
}

// RenderNotification words an outbox notification in the customer's current
// language: the order's card, then a message saying what changed. A
// placement, or a change the customer made themselves (a cancellation in
// the chat, a payment), gets the card only: the conversation already said so.
func (e *Engine) RenderNotification(ctx context.Context, n orders.Notification) ([]Reply, error) {
	key := Key{Channel: n.Customer.Channel, Chat: n.Customer.Chat, User: n.Customer.User}
	lang, err := e.langOf(ctx, key, n.Customer.Lang)
	if err != nil {
		return nil, err
	}
	var replies []Reply
	o, err := e.svc.Order(ctx, n.OrderNumber)
	if n.Role == orders.RoleApprover || n.Role == orders.RoleFulfilment {
		// An approver's request or the fulfilment desk's card: the card only.
		switch orders.ErrorCode(err) {
		case "":
			if n.Role == orders.RoleFulfilment {
				card := e.fulfilmentCard(o, lang)
				switch {
				case n.Note != orders.AmendedNote:
					return []Reply{card}, nil
				case n.To == orders.StatusPendingApproval:
					return []Reply{card, {Text: T(lang, "fulfil_back", o.Number)}}, nil
				}
				return []Reply{card, {Text: T(lang, "fulfil_changed", o.Number), Buttons: card.Buttons}}, nil
			}
			card := e.approvalCard(o, n.Customer.User, lang)
			if n.Note == orders.AmendedNote && o.Status == orders.StatusPendingApproval {
				// The card changes in place; a message of its own says so.
				key := "approval_changed"
				if n.From != n.To {
					key = "approval_again"
				}
				return []Reply{card, {Text: T(lang, key, o.Number, o.Total.String()), Buttons: card.Buttons}}, nil
			}
			if n.Note == orders.ReminderNote && o.Status == orders.StatusPendingApproval {
				// The card has not changed; a message of its own reminds.
				reminder := Reply{Text: T(lang, "approval_reminder", o.Number, o.CreatedAt.UTC().Format("2006-01-02 15:04 UTC")), Buttons: card.Buttons}
				return []Reply{card, reminder}, nil
			}
			return []Reply{card}, nil
		case orders.ENOTFOUND, orders.EINVALID:
			return nil, nil
		}
		return nil, err
	}
	switch orders.ErrorCode(err) {
	case "":
		view := &step{e: e, s: &Session{Key: key, Lang: lang}}
		replies = append(replies, Reply{
			Text:    CardMark + " " + view.orderText(o),
			Buttons: [][]Button{{{T(lang, "btn_view_order", o.Number), GlobalAction(cmdOrder, o.Number)}}},
			Card:    o.Number,
		})
	case orders.ENOTFOUND, orders.EINVALID:
		// No order to show a card of (an operator removed it): the
		// notification alone says what changed.
	default:
		return nil, err
	}
	if n.From == "" || n.Actor == orders.ActorCustomer || n.Actor == orders.ActorPayment {
		return replies, nil
	}
	var text string
	switch {
	case n.To == orders.StatusShipped && n.Tracking != "":
		text = T(lang, "notify_shipped_tracking", n.OrderNumber, n.Tracking)
	case n.To == orders.StatusCancelled && n.Actor == orders.ActorSystem:
		text = T(lang, "notify_expired", n.OrderNumber)
	case n.From == orders.StatusPendingApproval && n.To == orders.StatusPendingShipment:
		text = T(lang, "notify_approved", n.OrderNumber)
	case n.Note == orders.AmendedNote:
		text = T(lang, "notify_amended", n.OrderNumber)
	default:
		text = T(lang, "notify_"+string(n.To), n.OrderNumber)
	}
	if n.Note != "" && n.Note != orders.AmendedNote && n.Actor != orders.ActorSystem && n.Actor != orders.ActorPayment {
		text += "\n" + T(lang, "notify_note", n.Note)
	}
	return append(replies, Reply{
		Text:    text,
		Buttons: [][]Button{{{T(lang, "btn_view_order", n.OrderNumber), GlobalAction(cmdOrder, n.OrderNumber)}}},
	}), nil
}
