package dialog

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"orderbot/orders"
)

// Buttons carry actions of the form "<state>.<seq>:<verb>[:<arg>]": the step
// they were shown at, so a button from an older message is recognised, or
// "g:<verb>[:<arg>]" for global commands that work from any message.
const globalTag = "g"

// Slot limits.
const (
	MinAddressLen = 5
	MaxCartLines  = orders.MaxLines
)

// Global verbs.
const (
	cmdMenu    = "menu"
	cmdStart   = "start"
	cmdResume  = "resume"
	cmdBrowse  = "browse"
	cmdCart    = "cart"
	cmdOrders  = "orders"
	cmdOrder   = "order"
	cmdProduct = "product"
	cmdHelp    = "help"
	cmdBack    = "back"
	cmdCancel  = "cancel"
	cmdLang    = "lang"
	// cmdApprove and cmdReject are an approver's buttons on an approval
	// request, with the order number.
	cmdApprove = "approve"
	cmdReject  = "reject"
	// cmdShip and cmdDeliver are the fulfilment staff's buttons on an
	// order's fulfilment card, with the order number.
	cmdShip    = "ship"
	cmdDeliver = "deliver"
)

// GlobalAction returns the action of a global command, for channels that map
// their own commands (Telegram's /start payload, a notification's button).
func GlobalAction(verb string, arg ...string) string {
	return strings.Join(append([]string{globalTag, verb}, arg...), ":")
}

// commands are the typed words that act like a global button.
var commands = map[string][2]string{
	"/start": {cmdStart}, "start": {cmdMenu}, "start over": {cmdStart}, "restart": {cmdStart}, "重新开始": {cmdStart}, "/menu": {cmdMenu}, "menu": {cmdMenu}, "main menu": {cmdMenu},
	"菜单": {cmdMenu}, "主菜单": {cmdMenu}, "开始": {cmdMenu},
	"/shop": {cmdBrowse}, "shop": {cmdBrowse}, "browse": {cmdBrowse}, "products": {cmdBrowse}, "catalog": {cmdBrowse},
	"浏览": {cmdBrowse}, "商品": {cmdBrowse}, "逛逛": {cmdBrowse},
	"/cart": {cmdCart}, "cart": {cmdCart}, "my cart": {cmdCart}, "购物车": {cmdCart},
	"/orders": {cmdOrders}, "orders": {cmdOrders}, "my orders": {cmdOrders}, "我的订单": {cmdOrders}, "订单": {cmdOrders},
	"/help": {cmdHelp}, "help": {cmdHelp}, "?": {cmdHelp}, "？": {cmdHelp}, "帮助": {cmdHelp}, "faq": {cmdHelp},
	"/back": {cmdBack}, "back": {cmdBack}, "返回": {cmdBack}, "上一步": {cmdBack},
	"/cancel": {cmdCancel}, "cancel": {cmdCancel}, "取消": {cmdCancel},
	"/lang": {cmdLang}, "language": {cmdLang}, "语言": {cmdLang},
	"/lang en": {cmdLang, "en"}, "english": {cmdLang, "en"}, "英文": {cmdLang, "en"},
	"/lang zh": {cmdLang, "zh"}, "中文": {cmdLang, "zh"}, "chinese": {cmdLang, "zh"}, "简体中文": {cmdLang, "zh"},
}

var orderNumberRE = regexp.MustCompile(`^(?i)ob-[0-9a-z]{7}$`)

// tag names the step as it is shown now.
func (st *step) tag() string {
	return string(st.s.State) + "." + strconv.FormatInt(int64(st.s.Seq), 36)
}

// action builds a step button's action.
func (st *step) action(verb string, arg ...string) string {
	return strings.Join(append([]string{st.tag(), verb}, arg...), ":")
}

// interpret turns the message into changes of the session and at most one
// event (effects come after). It does no I/O.
func (st *step) interpret(fresh bool) {
	in := st.in
	switch {
	case in.Action != "":
		parts := strings.SplitN(in.Action, ":", 3)
		verb, arg := "", ""
		if len(parts) > 1 {
			verb = parts[1]
		}
		if len(parts) > 2 {
			arg = parts[2]
		}
		switch {
		case parts[0] == globalTag:
			st.global(verb, arg, fresh)
		case parts[0] == st.tag() && !fresh:
			st.onAction(verb, arg)
		default:
			st.notice("stale")
			st.show = true
		}
	case in.Payment != nil:
		st.paid = in.Payment
	case in.Form != nil:
		st.form = in.Form
	case in.Contact != nil:
		if st.s.State == StatePhone {
			st.onContact(in.Contact)
			return
		}
		st.fail("use_buttons")
	case in.Location != nil:
		if st.s.State == StateAddress {
			st.setAddress(st.t("location_addr", in.Location.Latitude, in.Location.Longitude), in.Location)
			return
		}
		st.fail("use_buttons")
	default:
		text := strings.TrimSpace(in.Text)
		if runes(text) > st.e.cfg.MaxInput {
			st.fail("too_long", st.e.cfg.MaxInput)
			return
		}
		if cmd, ok := commands[lower(text)]; ok {
			st.global(cmd[0], cmd[1], fresh)
			return
		}
		if rest, ok := strings.CutPrefix(text, "/start "); ok {
			st.global(cmdStart, strings.TrimSpace(rest), fresh)
			return
		}
		if orderNumberRE.MatchString(text) {
			st.global(cmdOrder, strings.ToUpper(text), fresh)
			return
		}
		if text == "" {
			st.fail("unknown")
			return
		}
		if fresh {
			st.notice("welcome")
		}
		st.onText(text)
	}
}

// global runs a command that works in every state.
func (st *step) global(verb, arg string, fresh bool) {
	s := st.s
	switch verb {
	case cmdResume:
		if fresh {
			st.notice("welcome")
		} else {
			st.notice("welcome_back")
		}
		st.show = true
	case cmdStart:
		if sku, ok := strings.CutPrefix(arg, "p_"); ok {
			if _, found := st.cat.Product(sku); found {
				s.Product = sku
				st.fire(EventShowProduct)
				return
			}
		}
		st.notice("welcome")
		st.fire(EventShowMenu)
	case cmdMenu:
		st.fire(EventShowMenu)
	case cmdBrowse:
		st.fire(EventBrowse)
	case cmdCart:
		st.fire(EventShowCart)
	case cmdOrders:
		st.fire(EventListOrders)
	case cmdApprove:
		st.decide = &decision{number: orders.NormalizeNumber(arg), approve: true}
	case cmdShip:
		st.fulfil = &fulfilment{number: orders.NormalizeNumber(arg), to: orders.StatusShipped}
	case cmdDeliver:
		st.fulfil = &fulfilment{number: orders.NormalizeNumber(arg), to: orders.StatusCompleted}
	case cmdReject:
		n := orders.NormalizeNumber(arg)
		if n == "" {
			st.fail("unknown")
			return
		}
		if st.in.Action != "" && strings.TrimSpace(st.in.Text) != "" {
			// The reason came with the button (a channel's own form for it).
			reason, ok := CleanText(st.in.Text, orders.MaxNoteLen)
			if !ok {
				st.fail("bad_reason", orders.MaxNoteLen)
				return
			}
			st.decide = &decision{number: n, note: reason}
			return
		}
		s.Deciding = n
		st.fire(EventAskReject)
	case cmdOrder:
		if n := orders.NormalizeNumber(arg); n != "" {
			s.Order = n
			st.fire(EventShowOrder)
			return
		}
		st.fail("unknown")
	case cmdProduct:
		if _, found := st.cat.Product(arg); found {
			s.Product = arg
			st.fire(EventShowProduct)
			return
		}
		st.notice("product_gone")
		st.show = true
	case cmdHelp:
		st.fire(EventShowHelp)
	case cmdBack:
		st.back()
	case cmdCancel:
		switch s.State {
		case StateAddress, StateName, StatePhone, StatePayment, StateCostCentre, StateReason, StateReview, StateLineQuantity:
			st.notice("checkout_cancelled")
			st.fire(EventShowCart)
		default:
			st.fire(EventShowMenu)
		}
	case cmdLang:
		switch {
		case arg == "en" || arg == "zh":
			s.Lang = arg
		case s.Lang == "zh":
			s.Lang = "en"
		default:
			s.Lang = "zh"
		}
		st.notice("lang_set")
		st.show = true
	default:
		st.fail("unknown")
	}
}

// onAction handles a button of the step on screen.
func (st *step) onAction(verb, arg string) {
	s := st.s
	switch s.State {
	case StateMenu:
		st.fail("use_buttons")
	case StateCategories:
		if _, ok := st.cat.Category(arg); verb == "open" && ok {
			s.Category, s.Search, s.Page = arg, "", 0
			st.fire(EventListProducts)
			return
		}
		st.fail("use_buttons")
	case StateProducts:
		switch verb {
		case "open":
			if _, ok := st.cat.Product(arg); ok {
				s.Product = arg
				st.fire(EventShowProduct)
				return
			}
			st.notice("product_gone")
			st.show = true
		case "page":
			if n, err := strconv.Atoi(arg); err == nil && n >= 0 {
				s.Page = n
			}
			st.show = true
		default:
			st.fail("use_buttons")
		}
	case StateProduct:
		if verb == "variant" {
			st.chooseVariant(arg)
			return
		}
		st.fail("use_buttons")
	case StateQuantity:
		if n, err := strconv.Atoi(arg); verb == "qty" && err == nil {
			st.addToCart(n)
			return
		}
		st.fail("use_buttons")
	case StateCart:
		st.cartAction(verb, arg)
	case StateLineQuantity:
		switch verb {
		case "qty":
			n, err := strconv.Atoi(arg)
			if err != nil {
				st.fail("use_buttons")
				return
			}
			st.setLine(n)
		case "rm":
			st.removeLine(s.EditLine)
			st.leaveLine()
		default:
			st.fail("use_buttons")
		}
	case StateAddress:
		if verb == "saved" && s.Profile.Address != "" {
			st.setAddress(s.Profile.Address, nil)
			return
		}
		st.fail("use_buttons")
	case StateName:
		if verb == "saved" && s.Profile.Name != "" {
			s.Checkout.Name = s.Profile.Name
			st.next()
			return
		}
		st.fail("use_buttons")
	case StatePhone:
		if verb == "saved" && s.Profile.Phone != "" {
			s.Checkout.Phone = s.Profile.Phone
			st.next()
			return
		}
		st.fail("use_buttons")
	case StatePayment:
		if p := orders.Payment(arg); verb == "pay" && st.choosable(p) {
			s.Checkout.Payment = p
			st.next()
			return
		}
		st.fail("bad_payment")
	case StateCostCentre:
		if verb == "saved" && s.Profile.CostCentre != "" {
			s.Checkout.CostCentre = s.Profile.CostCentre
			st.next()
			return
		}
		st.fail("use_buttons")
	case StateReason:
		if verb == "skip" {
			s.Checkout.Reason, s.Checkout.ReasonAsked = "", true
			st.next()
			return
		}
		st.fail("use_buttons")
	case StateReview:
		st.reviewAction(verb, arg)
	case StateOrders:
		if verb == "open" && orders.NormalizeNumber(arg) != "" {
			s.Order = orders.NormalizeNumber(arg)
			st.fire(EventShowOrder)
			return
		}
		st.fail("use_buttons")
	case StateOrder:
		switch verb {
		case "cancel":
			st.fire(EventConfirmCancel)
		case "pay":
			st.invoice = true
		case "amend":
			st.amend = true
		default:
			st.fail("use_buttons")
		}
	case StateCancelOrder:
		switch verb {
		case "yes":
			st.cancel = true
		case "no":
			st.fire(EventShowOrder)
		default:
			st.fail("use_buttons")
		}
	case StateHelp:
		for _, f := range st.e.cfg.FAQ {
			if verb == "faq" && f.ID == arg {
				st.replies = append(st.replies, Reply{Text: f.Question.In(st.lang()) + "\n\n" + f.Answer.In(st.lang())})
				st.show = true
				return
			}
		}
		st.fail("use_buttons")
	default:
		st.fail("use_buttons")
	}
}

func (st *step) cartAction(verb, arg string) {
	s := st.s
	switch verb {
	case "edit":
		if st.lineIndex(arg) >= 0 {
			s.EditLine = arg
			st.fire(EventEditLine)
			return
		}
		st.show = true
	case "rm":
		st.removeLine(arg)
		st.show = true
	case "clear":
		if s.Amending != "" {
			st.fail("use_buttons") // an order keeps a line; the button is not shown
			return
		}
		s.Cart = nil
		s.Checkout.Key = ""
		st.notice("cart_cleared")
		st.show = true
	case "discard":
		if s.Amending == "" {
			st.fail("use_buttons")
			return
		}
		st.discardAmend()
	case "checkout":
		st.checkout()
	case "shop":
		st.fire(EventBrowse)
	default:
		st.fail("use_buttons")
	}
}

func (st *step) reviewAction(verb, arg string) {
	if st.s.Amending != "" {
		switch verb {
		case "confirm":
			st.place = true
		case "cart":
			st.fire(EventShowCart)
		case "discard":
			st.discardAmend()
		default:
			st.fail("use_buttons")
		}
		return
	}
	switch verb {
	case "confirm":
		st.place = true
	case "address":
		st.fire(EventAskAddress)
	case "name":
		st.fire(EventAskName)
	case "phone":
		st.fire(EventAskPhone)
	case "payment":
		st.fire(EventAskPayment)
	case "cost_centre":
		st.fire(EventAskCostCentre)
	case "reason":
		st.fire(EventAskReason)
	case "cart":
		st.fire(EventShowCart)
	case "cancel":
		st.notice("checkout_cancelled")
		st.fire(EventShowCart)
	default:
		st.fail("use_buttons")
	}
}

// onText handles typed text that is not a command, by step.
func (st *step) onText(text string) {
	s := st.s
	switch s.State {
	case StateQuantity:
		n, ok := ParseQuantity(text)
		if !ok {
			st.fail("bad_quantity", truncate(text, 40))
			return
		}
		st.addToCart(n)
	case StateLineQuantity:
		n, ok := ParseQuantity(text)
		if !ok {
			st.fail("bad_quantity", truncate(text, 40))
			return
		}
		st.setLine(n)
	case StateCart:
		n, ok := ParseQuantity(text)
		switch {
		case ok && len(s.Cart) == 1:
			s.EditLine = s.Cart[0].VariantSKU
			st.setLineQuantity(n)
		case ok:
			st.fail("which_line")
		default:
			st.search(text)
		}
	case StateAddress:
		st.setAddress(text, nil)
	case StateName:
		name, ok := CleanText(text, orders.MaxNameLen)
		if !ok {
			st.fail("bad_name", orders.MaxNameLen)
			return
		}
		s.Checkout.Name = name
		st.next()
	case StatePhone:
		phone, err := NormalizePhone(text, st.e.cfg.PhoneRegion)
		if err != nil {
			st.fail("bad_phone", truncate(text, 40))
			return
		}
		s.Checkout.Phone = phone
		st.next()
	case StateCostCentre:
		cc, ok := CleanText(text, orders.MaxCostCentreLen)
		if !ok {
			st.fail("bad_cost_centre", orders.MaxCostCentreLen)
			return
		}
		s.Checkout.CostCentre = cc
		st.next()
	case StateReason:
		reason, ok := CleanText(text, orders.MaxReasonLen)
		if !ok {
			st.fail("bad_reason", orders.MaxReasonLen)
			return
		}
		s.Checkout.Reason, s.Checkout.ReasonAsked = reason, true
		st.next()
	case StatePayment:
		var p orders.Payment
		switch lower(text) {
		case "cod", "cash", "pay on delivery", "cash on delivery", "货到付款", "现金":
			p = orders.PayOnDelivery
		case "card", "pay now", "online", "在线支付", "立即支付", "刷卡":
			p = orders.PayTelegram
		case "stars", "telegram stars", "星星", "星币":
			p = orders.PayStars
		case "company", "company account", "公司", "公司账户", "公司支付":
			p = orders.PayCompany
		}
		if !st.choosable(p) {
			st.fail("bad_payment")
			return
		}
		s.Checkout.Payment = p
		st.next()
	case StateReview:
		switch lower(text) {
		case "confirm", "yes", "ok", "确认", "确定", "下单":
			st.place = true
		default:
			st.fail("use_buttons")
		}
	case StateRejectReason:
		reason, ok := CleanText(text, orders.MaxNoteLen)
		if !ok {
			st.fail("bad_reason", orders.MaxNoteLen)
			return
		}
		st.decide = &decision{number: s.Deciding, note: reason}
	case StateCancelOrder:
		switch lower(text) {
		case "yes", "y", "是", "是的", "确定", "确认":
			st.cancel = true
		case "no", "n", "否", "不", "不要":
			st.fire(EventShowOrder)
		default:
			st.fail("use_buttons")
		}
	case StateMenu, StateCategories, StateProducts, StateProduct, StateHelp, StateOrders:
		st.search(text)
	default:
		st.fail("use_buttons")
	}
}

func (st *step) onContact(c *Contact) {
	if !c.Own {
		st.fail("not_own_contact")
		return
	}
	raw := strings.TrimSpace(c.Phone)
	if raw != "" && !strings.HasPrefix(raw, "+") {
		raw = "+" + raw // channels send international numbers without the plus
	}
	phone, err := NormalizePhone(raw, st.e.cfg.PhoneRegion)
	if err != nil {
		st.fail("bad_phone", truncate(c.Phone, 40))
		return
	}
	st.s.Checkout.Phone = phone
	if st.s.Checkout.Name == "" {
		st.s.Checkout.Name = strings.TrimSpace(c.FirstName + " " + c.LastName)
	}
	st.next()
}

// payments lists the payment methods offered on this conversation's channel.
func (st *step) payments() []orders.Payment {
	if ps, ok := st.e.cfg.Payments[st.s.Key.Channel]; ok && len(ps) > 0 {
		return ps
	}
	return []orders.Payment{orders.PayOnDelivery}
}

// offered reports whether p is offered on this conversation's channel.
func (st *step) offered(p orders.Payment) bool {
	return p != "" && slices.Contains(st.payments(), p)
}

// MaxStarsInvoice is the most Telegram Stars one order is offered to be
// paid with: a conservative ceiling below what Telegram accepts in one
// invoice. Larger carts are paid another way.
const MaxStarsInvoice = 10000

// choices lists the payment methods this cart may be paid with: the
// channel's, Telegram Stars only when every line has a Stars price (and
// the total stays under MaxStarsInvoice), and never a card through
// Telegram's payment providers for digital products, which Telegram sells
// for Stars only.
func (st *step) choices() []orders.Payment {
	var ps []orders.Payment
	for _, p := range st.payments() {
		switch p {
		case orders.PayStars:
			if total, ok := st.starsTotal(); !ok || total.Amount > MaxStarsInvoice {
				continue
			}
		case orders.PayTelegram:
			if st.hasDigital() {
				continue
			}
		}
		ps = append(ps, p)
	}
	return ps
}

// hasDigital reports whether the cart has a digital product.
func (st *step) hasDigital() bool {
	for _, l := range st.s.Cart {
		if _, p, ok := st.cat.Variant(l.VariantSKU); ok && p.Kind == orders.KindDigital {
			return true
		}
	}
	return false
}

// choosable reports whether this cart may be paid with p.
func (st *step) choosable(p orders.Payment) bool {
	return p != "" && slices.Contains(st.choices(), p)
}

// starsTotal is what the cart costs in Telegram Stars, when every line can
// be paid so: a digital product with a Stars price.
func (st *step) starsTotal() (orders.Money, bool) {
	total := orders.Money{Currency: orders.CurrencyStars}
	for _, l := range st.s.Cart {
		price, ok := st.starsPrice(l.VariantSKU)
		if !ok {
			return total, false
		}
		sub, ok := price.Mul(l.Quantity)
		if !ok {
			return total, false
		}
		if total, ok = total.Add(sub); !ok {
			return total, false
		}
	}
	return total, len(st.s.Cart) > 0
}

// starsPrice is a variant's Stars price in the catalog snapshot.
func (st *step) starsPrice(sku string) (orders.Money, bool) {
	v, p, ok := st.cat.Variant(sku)
	if !ok || !p.Active || p.Kind != orders.KindDigital {
		return orders.Money{}, false
	}
	return v.StarsPrice()
}

// search shows the products whose name or SKU contains text.
func (st *step) search(text string) {
	// One character is a word in Chinese (笔, 茶), noise in English.
	if n := runes(text); n > 60 || n == 0 || (n == 1 && text[0] < utf8.RuneSelf) {
		st.fail("unknown")
		return
	}
	if len(searchProducts(st.cat, text)) == 0 {
		st.fail("no_results", truncate(text, 40))
		return
	}
	st.s.Search, st.s.Category, st.s.Page = text, "", 0
	st.fire(EventListProducts)
}

func searchProducts(cat *orders.Catalog, q string) []orders.Product {
	words := strings.Fields(lower(q))
	for i, w := range words {
		words[i] = singular(w)
	}
	var found []orders.Product
	for _, p := range cat.Products {
		if !p.Active || len(words) == 0 {
			continue
		}
		names := []string{p.SKU}
		for _, name := range p.Name {
			names = append(names, strings.ToLower(name))
		}
		if slices.ContainsFunc(names, func(name string) bool {
			return !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(name, w) })
		}) {
			found = append(found, p)
		}
	}
	return found
}

// singular drops an English plural ending from a search word, so that
// "pens" finds "Gel pen" and "boxes" "Box": "ies" becomes "y", a final
// "es" after s, x, z, ch or sh goes, and otherwise a final "s" (not "ss").
// Short words and other languages are left as they are.
func singular(w string) string {
	switch {
	case len(w) <= 3:
		return w
	case strings.HasSuffix(w, "ies"):
		return strings.TrimSuffix(w, "ies") + "y"
	case strings.HasSuffix(w, "ses"), strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "zes"),
		strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"):
		return strings.TrimSuffix(w, "es")
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss"):
		return strings.TrimSuffix(w, "s")
	}
	return w
}

func (st *step) chooseVariant(sku string) {
	v, p, ok := st.cat.Variant(sku)
	if !ok || !p.Active || p.SKU != st.s.Product {
		st.notice("product_gone")
		st.show = true
		return
	}
	if v.Stock <= 0 {
		st.fail("variant_gone", lineName(p, v, st.lang()))
		return
	}
	st.s.Variant = sku
	st.fire(EventChooseVariant)
}

// addToCart adds n of the chosen variant, merging with a line already there.
func (st *step) addToCart(n int) {
	s := st.s
	v, p, ok := st.cat.Variant(s.Variant)
	if !ok || !p.Active {
		st.notice("product_gone")
		st.fire(EventBrowse)
		return
	}
	name := lineName(p, v, st.lang())
	i := st.lineIndex(v.SKU)
	have := 0
	if i >= 0 {
		have = s.Cart[i].Quantity
	}
	switch {
	case n < 1 || n > orders.MaxQuantity:
		st.fail("qty_range", orders.MaxQuantity)
		return
	case v.Stock <= 0:
		st.fail("variant_gone", name)
		return
	case have > 0 && (have+n > v.Stock || have+n > orders.MaxQuantity):
		st.fail("qty_have", have, name, max(min(v.Stock, orders.MaxQuantity)-have, 0))
		return
	case n > v.Stock:
		st.fail("qty_stock", v.Stock, name, v.Stock)
		return
	case i < 0 && len(s.Cart) >= MaxCartLines:
		st.fail("cart_full", MaxCartLines)
		return
	}
	if i >= 0 {
		s.Cart[i].Quantity += n
		s.Cart[i].UnitPrice = v.Price
	} else {
		s.Cart = append(s.Cart, CartLine{VariantSKU: v.SKU, Quantity: n, UnitPrice: v.Price})
	}
	s.Checkout.Key = ""
	st.notice("added", n, name)
	st.fire(EventShowCart)
}

func (st *step) lineIndex(sku string) int {
	for i, l := range st.s.Cart {
		if l.VariantSKU == sku {
			return i
		}
	}
	return -1
}

func (st *step) removeLine(sku string) {
	i := st.lineIndex(sku)
	if i < 0 {
		return
	}
	st.notice("line_removed", st.cartLineName(st.s.Cart[i]))
	st.s.Cart = append(st.s.Cart[:i], st.s.Cart[i+1:]...)
	st.s.Checkout.Key = ""
}

// setLine changes the quantity of the line being edited and leaves the edit.
func (st *step) setLine(n int) {
	if st.setLineQuantity(n) {
		st.leaveLine()
	}
}

// setLineQuantity validates and applies a new quantity for s.EditLine.
func (st *step) setLineQuantity(n int) bool {
	s := st.s
	i := st.lineIndex(s.EditLine)
	if i < 0 {
		st.show = true
		return false
	}
	v, p, ok := st.cat.Variant(s.EditLine)
	if !ok || !p.Active {
		st.notice("changed_gone", st.cartLineName(s.Cart[i]))
		s.Cart = append(s.Cart[:i], s.Cart[i+1:]...)
		s.Checkout.Key = ""
		st.fire(EventShowCart)
		return false
	}
	name := lineName(p, v, st.lang())
	switch {
	case n < 1 || n > orders.MaxQuantity:
		st.fail("qty_range", orders.MaxQuantity)
		return false
	case n > v.Stock:
		st.fail("qty_stock", v.Stock, name, v.Stock)
		return false
	}
	s.Cart[i].Quantity = n
	s.Cart[i].UnitPrice = v.Price
	s.Checkout.Key = ""
	st.notice("line_updated", name, n)
	st.show = true
	return true
}

// leaveLine returns from editing a line to the review or the cart.
func (st *step) leaveLine() {
	if n := len(st.s.Stack); n > 0 && st.s.Stack[n-1] == StateReview && len(st.s.Cart) > 0 {
		st.fire(EventReview)
		return
	}
	st.fire(EventShowCart)
}

func (st *step) setAddress(text string, loc *Location) {
	addr, ok := CleanText(text, orders.MaxAddressLen)
	if !ok || runes(addr) < MinAddressLen {
		st.fail("bad_address", MinAddressLen, orders.MaxAddressLen)
		return
	}
	st.s.Checkout.Address, st.s.Checkout.Location = addr, loc
	st.next()
}

// checkout starts collecting the slots; the lines of an order being
// changed go straight to their review, the order having its slots.
func (st *step) checkout() {
	if len(st.s.Cart) == 0 {
		if st.s.Amending != "" {
			st.notice("amend_empty", st.s.Amending)
		} else {
			st.notice("empty_checkout")
		}
		st.fire(EventShowCart)
		return
	}
	if st.reconcile() {
		st.show = true
		return
	}
	if st.s.Amending != "" {
		st.s.Checkout.Key = ""
		st.fire(EventReview)
		return
	}
	st.next()
}

// next asks for the first missing slot, or shows the review when every slot
// is given: a slot changed from the review returns there, and the review is
// never shown with a slot missing.
func (st *step) next() {
	// The draft changed: an order placed under the old key, whose save
	// failed, must not be returned for the new draft.
	st.s.Checkout.Key = ""
	if ev := st.missingSlot(); ev != "" {
		st.fire(ev)
		return
	}
	st.fire(EventReview)
}

// missingSlot returns the event that asks for the first slot not given yet,
// or "" when the checkout is complete.
func (st *step) missingSlot() Event {
	c := st.s.Checkout
	switch {
	case st.needsAddress() && c.Address == "":
		return EventAskAddress
	case c.Name == "":
		return EventAskName
	case c.Phone == "":
		return EventAskPhone
	case c.Payment == "" || !st.choosable(c.Payment):
		// Not chosen yet, or the cart changed so that it no longer can be
		// paid this way (Telegram Stars).
		return EventAskPayment
	case c.Payment == orders.PayCompany && c.CostCentre == "":
		return EventAskCostCentre
	case c.Payment == orders.PayCompany && !c.ReasonAsked:
		return EventAskReason
	}
	return ""
}

func (st *step) needsAddress() bool {
	for _, l := range st.s.Cart {
		if _, p, ok := st.cat.Variant(l.VariantSKU); !ok || p.Kind.NeedsAddress() {
			return true
		}
	}
	return false
}

// reconcile compares the cart with the catalog snapshot and applies what
// changed; it reports whether anything did.
func (st *step) reconcile() bool {
	var problems []orders.Problem
	for _, l := range st.s.Cart {
		v, p, ok := st.cat.Variant(l.VariantSKU)
		switch {
		case !ok || !p.Active:
			problems = append(problems, orders.Problem{Kind: orders.ProblemUnavailable, VariantSKU: l.VariantSKU})
		case v.Stock <= 0:
			problems = append(problems, orders.Problem{Kind: orders.ProblemOutOfStock, VariantSKU: l.VariantSKU})
		case v.Stock < l.Quantity:
			problems = append(problems, orders.Problem{Kind: orders.ProblemLowStock, VariantSKU: l.VariantSKU, Requested: l.Quantity, Available: v.Stock})
		case v.Price != l.UnitPrice:
			problems = append(problems, orders.Problem{Kind: orders.ProblemPriceChanged, VariantSKU: l.VariantSKU, Shown: l.UnitPrice, Current: v.Price})
		}
	}
	st.applyProblems(problems)
	return len(problems) > 0
}

// applyProblems brings the cart in line with the problems found and tells
// the customer what changed.
func (st *step) applyProblems(problems []orders.Problem) {
	s := st.s
	for _, pr := range problems {
		i := st.lineIndex(pr.VariantSKU)
		if i < 0 {
			continue
		}
		name := st.cartLineName(s.Cart[i])
		switch pr.Kind {
		case orders.ProblemPriceChanged:
			st.notice("changed_price", name, pr.Shown.String(), pr.Current.String())
			if pr.Current.Currency == s.Cart[i].UnitPrice.Currency {
				s.Cart[i].UnitPrice = pr.Current
			}
		case orders.ProblemLowStock:
			st.notice("changed_low", pr.Available, name, pr.Available)
			s.Cart[i].Quantity = pr.Available
		case orders.ProblemOutOfStock:
			st.notice("changed_soldout", name)
			s.Cart = append(s.Cart[:i], s.Cart[i+1:]...)
		default:
			st.notice("changed_gone", name)
			s.Cart = append(s.Cart[:i], s.Cart[i+1:]...)
		}
	}
	if len(problems) > 0 {
		s.Checkout.Key = ""
		st.notice("changed_check")
	}
}

// effects performs the I/O the step asked for, then moves the machine on.
func (st *step) effects(ctx context.Context) error {
	switch {
	case st.place:
		return st.placeOrder(ctx)
	case st.cancel:
		return st.cancelOrder(ctx)
	case st.invoice:
		return st.sendInvoice(ctx)
	case st.paid != nil:
		return st.confirmPayment(ctx)
	case st.decide != nil:
		return st.decideOrder(ctx)
	case st.fulfil != nil:
		return st.fulfilOrder(ctx)
	case st.form != nil:
		return st.placeForm(ctx)
	case st.amend:
		return st.startAmend(ctx)
	}
	return nil
}
