package dialog

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"orderbot/orders"
)

// OrderForm is an order filled in at once in a form (Slack's /order
// modal) instead of step by step: one item, charged to the company
// account.
type OrderForm struct {
	ProductSKU string
	VariantSKU string // one of the product's variants
	Quantity   string // as typed
	Location   string // where to deliver: office, floor, desk
	Name       string
	Phone      string
	CostCentre string
	Reason     string
}

// The form's fields, as CheckForm names them.
const (
	FormProduct    = "product"
	FormVariant    = "variant"
	FormQuantity   = "quantity"
	FormLocation   = "location"
	FormName       = "name"
	FormPhone      = "phone"
	FormCostCentre = "cost_centre"
	FormReason     = "reason"
)

// The most options a form's select offers at once, and the longest label
// (Slack's limits for a select menu).
const (
	maxFormOptions = 100
	maxFormLabel   = 75
)

// FormProducts lists the active products matching query that have a
// variant in stock, for the form's type-ahead: a label ("Gel pen —
// ¥2.50") and the product's SKU as the action.
func (e *Engine) FormProducts(ctx context.Context, key Key, query string) ([]Button, error) {
	cat, err := e.catalog(ctx)
	if err != nil {
		return nil, err
	}
	lang, _ := e.langOf(ctx, key, "")
	var out []Button
	for _, p := range searchProducts(cat, strings.TrimSpace(query)) {
		in := inStock(p)
		if len(in) == 0 {
			continue
		}
		p.Variants = in // what can be ordered sets the price
		low, high, _ := priceRange(p)
		price := low.String()
		if high != low {
			price += " – " + high.String()
		}
		out = append(out, formOption(p.Name.In(lang), price, p.SKU))
		if len(out) == maxFormOptions {
			break
		}
	}
	return out, nil
}

// FormVariants lists the variants in stock of an active product, for the
// form's second select: a label ("Black — ¥2.50") and the variant's SKU as
// the action. An unknown or inactive product has none.
func (e *Engine) FormVariants(ctx context.Context, key Key, productSKU string) ([]Button, error) {
	cat, err := e.catalog(ctx)
	if err != nil {
		return nil, err
	}
	p, ok := cat.Product(productSKU)
	if !ok || !p.Active {
		return nil, nil
	}
	lang, _ := e.langOf(ctx, key, "")
	var out []Button
	for _, v := range inStock(p) {
		name := v.Name.In(lang)
		if name == "" {
			name = p.Name.In(lang)
		}
		out = append(out, formOption(name, v.Price.String(), v.SKU))
		if len(out) == maxFormOptions {
			break
		}
	}
	return out, nil
}

// inStock returns a product's variants that have stock, in catalog order.
func inStock(p orders.Product) []orders.Variant {
	var in []orders.Variant
	for _, v := range p.Variants {
		if v.Stock > 0 {
			in = append(in, v)
		}
	}
	return in
}

// formOption is an option of the form's selects, "name — price", the name
// shortened so that the label fits.
func formOption(name, price, action string) Button {
	suffix := " — " + price
	return Button{Label: truncate(name, maxFormLabel-runes(suffix)-1) + suffix, Action: action}
}

// FormDefaults is a form filled with what the user gave last time.
func (e *Engine) FormDefaults(ctx context.Context, key Key) (OrderForm, error) {
	s, _, err := e.store.Load(ctx, key)
	if err != nil {
		return OrderForm{}, err
	}
	p := s.Profile
	return OrderForm{Location: p.Address, Name: p.Name, Phone: p.Phone, CostCentre: p.CostCentre}, nil
}

// CheckForm checks a form as the conversation checks each answer, and
// normalizes it (the phone number to E.164, the texts trimmed). It returns,
// per field, why it cannot be ordered so, in the user's language; no entry
// means the form is ready to place.
func (e *Engine) CheckForm(ctx context.Context, key Key, f *OrderForm) (map[string]string, error) {
	cat, err := e.catalog(ctx)
	if err != nil {
		return nil, err
	}
	lang, _ := e.langOf(ctx, key, "")
	problems := map[string]string{}
	p, ok := cat.Product(f.ProductSKU)
	ok = ok && p.Active
	if !ok {
		problems[FormProduct] = T(lang, "form_product")
	}
	// The variant is checked against the product: a form built for
	// another product (a stale modal, a forged submission) is refused.
	v, vp, vok := cat.Variant(f.VariantSKU)
	switch {
	case !ok:
		vok = false // the product's field says what to do first
	case len(inStock(p)) == 0:
		vok = false
		problems[FormProduct] = T(lang, "form_sold_out")
	case !vok || vp.SKU != p.SKU:
		vok = false
		problems[FormVariant] = T(lang, "form_variant")
	case v.Stock <= 0:
		vok = false
		problems[FormVariant] = T(lang, "variant_gone", lineName(p, v, lang))
	}
	n, qok := ParseQuantity(f.Quantity)
	switch {
	case !qok:
		problems[FormQuantity] = T(lang, "bad_quantity", truncate(f.Quantity, 40))
	case vok && n > v.Stock:
		problems[FormQuantity] = T(lang, "form_stock", v.Stock)
	default:
		f.Quantity = fmt.Sprint(n)
	}
	if ok && p.Kind.NeedsAddress() {
		if loc, lok := CleanText(f.Location, orders.MaxAddressLen); lok {
			f.Location = loc
		} else {
			problems[FormLocation] = T(lang, "form_location", orders.MaxAddressLen)
		}
	}
	if name, nok := CleanText(f.Name, orders.MaxNameLen); nok {
		f.Name = name
	} else {
		problems[FormName] = T(lang, "bad_name", orders.MaxNameLen)
	}
	if phone, err := NormalizePhone(f.Phone, e.cfg.PhoneRegion); err == nil {
		f.Phone = phone
	} else {
		problems[FormPhone] = T(lang, "bad_phone", truncate(f.Phone, 40))
	}
	if cc, cok := CleanText(f.CostCentre, orders.MaxCostCentreLen); cok {
		f.CostCentre = cc
	} else {
		problems[FormCostCentre] = T(lang, "bad_cost_centre", orders.MaxCostCentreLen)
	}
	f.Reason = strings.TrimSpace(f.Reason)
	if runes(f.Reason) > orders.MaxReasonLen {
		problems[FormReason] = T(lang, "bad_reason", orders.MaxReasonLen)
	}
	return problems, nil
}

// langOf is the language to speak to a conversation in outside its own
// steps (a notification, a form, the Home tab): the one the conversation
// chose, else the hint (the language an order was placed in), else what
// the channel knows of the user (SetLocale), else the default. An error
// reading the session comes with the best language known without it.
func (e *Engine) langOf(ctx context.Context, key Key, hint string) (string, error) {
	s, found, err := e.store.Load(ctx, key)
	switch {
	case err == nil && found && s.Lang != "":
		return s.Lang, nil
	case hint != "":
		return NormalizeLang(hint), err
	}
	if f := e.locale.Load(); f != nil {
		if l := (*f)(ctx, key); l != "" {
			return NormalizeLang(l), err
		}
	}
	return e.cfg.DefaultLang, err
}

// placeForm places a form's order, charged to the company account, without
// touching the conversation's cart; the checkout key is the form's
// submission, so a repeated submission places nothing more. The form was
// checked; what changed since (stock, price) is told.
func (st *step) placeForm(ctx context.Context) error {
	f := st.form
	s := st.s
	if !st.offered(orders.PayCompany) {
		st.notice("form_unavailable")
		st.show = true
		return nil
	}
	v, p, ok := st.cat.Variant(f.VariantSKU)
	n, qok := ParseQuantity(f.Quantity)
	if !ok || !p.Active || p.SKU != f.ProductSKU || !qok {
		st.notice("form_item")
		st.show = true
		return nil
	}
	address := f.Location
	if !p.Kind.NeedsAddress() {
		address = ""
	}
	d := orders.Draft{
		CheckoutKey: "form:" + st.in.ID,
		Customer:    st.customer(),
		Lines:       []orders.DraftLine{{VariantSKU: v.SKU, Quantity: n, UnitPrice: v.Price}},
		Address:     address,
		ContactName: f.Name,
		Phone:       f.Phone,
		Payment:     orders.PayCompany,
		CostCentre:  f.CostCentre,
		Reason:      f.Reason,
	}
	o, err := st.e.svc.Place(ctx, d)
	var pe *orders.ProblemsError
	switch {
	case errors.As(err, &pe):
		st.e.InvalidateCatalog()
		st.notice("form_changed", lineName(p, v, st.lang()))
		st.show = true
		return nil
	case orders.ErrorCode(err) == orders.EINVALID:
		// The form was checked: what the core still refuses is the
		// approval rules'.
		st.noApprover("company order refused", err)
		return nil
	case err != nil:
		return err
	}
	s.Profile.Name, s.Profile.Phone, s.Profile.CostCentre = f.Name, f.Phone, f.CostCentre
	if address != "" {
		s.Profile.Address = address
	}
	if o.Status == orders.StatusPendingApproval {
		st.notice("placed_approval", o.Number, o.Total.String())
	} else {
		st.notice("placed_company", o.Number, o.Total.String(), o.CostCentre)
	}
	s.Order = o.Number
	st.placed = &o
	st.fire(EventShowOrder)
	return nil
}
