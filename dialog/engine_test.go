package dialog_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"orderbot/dialog"
	dialogsql "orderbot/dialog/sqlstore"
	"orderbot/orders"
	"orderbot/orders/sqlstore"
)

// testCatalog is a small shop: a pen in two colours (one sold out), a
// notebook, and a digital gift card.
func testCatalog() *orders.Catalog {
	cny := func(a int64) orders.Money { return orders.Money{Amount: a, Currency: "CNY"} }
	return &orders.Catalog{
		Categories: []orders.Category{
			{ID: "office", Name: orders.Text{"en": "Office", "zh": "办公"}, Position: 1},
			{ID: "gifts", Name: orders.Text{"en": "Gifts", "zh": "礼品"}, Position: 2},
		},
		Products: []orders.Product{
			{SKU: "pen", CategoryID: "office", Kind: orders.KindGoods, Active: true, Rating: 46, Position: 1,
				Name: orders.Text{"en": "Gel pen", "zh": "中性笔"}, Description: orders.Text{"en": "Smooth writing.", "zh": "书写顺滑。"},
				Specs: []orders.Spec{{Name: orders.Text{"en": "Tip", "zh": "笔尖"}, Value: orders.Text{"en": "0.5 mm", "zh": "0.5 毫米"}}},
				Variants: []orders.Variant{
					{SKU: "pen-blk", ProductSKU: "pen", Name: orders.Text{"en": "Black", "zh": "黑色"}, Price: cny(350), Stock: 10, Position: 1},
					{SKU: "pen-red", ProductSKU: "pen", Name: orders.Text{"en": "Red", "zh": "红色"}, Price: cny(350), Stock: 0, Position: 2},
				}},
			{SKU: "notebook", CategoryID: "office", Kind: orders.KindGoods, Active: true, Position: 2,
				Name: orders.Text{"en": "Notebook", "zh": "笔记本"}, Description: orders.Text{"en": "A5, dotted.", "zh": "A5 点阵。"},
				Variants: []orders.Variant{
					{SKU: "notebook-a5", ProductSKU: "notebook", Name: orders.Text{"en": "A5", "zh": "A5"}, Price: cny(1200), Stock: 5, Position: 1},
				}},
			{SKU: "giftcard", CategoryID: "gifts", Kind: orders.KindDigital, Active: true, Position: 3,
				Name: orders.Text{"en": "Gift card", "zh": "礼品卡"}, Description: orders.Text{"en": "Sent by message.", "zh": "通过消息发送。"},
				Variants: []orders.Variant{
					{SKU: "giftcard-100", ProductSKU: "giftcard", Name: orders.Text{"en": "¥100", "zh": "100元"}, Price: cny(10000), Stars: 700, Stock: 100, Position: 1},
				}},
		},
	}
}

var testFAQ = []dialog.FAQEntry{
	{ID: "delivery", Question: orders.Text{"en": "How long does delivery take?", "zh": "多久送达？"}, Answer: orders.Text{"en": "Two days.", "zh": "两天。"}},
}

// harness is one conversation with an engine on a real SQLite file.
type harness struct {
	t       *testing.T
	path    string
	store   *sqlstore.Store
	svc     *orders.Service
	eng     *dialog.Engine
	key     dialog.Key
	lang    string
	replies []dialog.Reply
	logs    *bytes.Buffer
	n       int
	options []func(*dialog.Config)
}

func newHarness(t *testing.T, lang string, options ...func(*dialog.Config)) *harness {
	t.Helper()
	h := &harness{t: t, path: t.TempDir() + "/orderbot.db", key: dialog.Key{Channel: "console", Chat: "alice", User: "alice"}, lang: lang, logs: &bytes.Buffer{}, options: options}
	h.open()
	if _, err := h.svc.ImportCatalog(context.Background(), testCatalog()); err != nil {
		t.Fatal(err)
	}
	return h
}

// open (re)opens the database and builds a new engine on it, as a process
// restart would.
func (h *harness) open() {
	h.t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite:"+h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		h.t.Fatal(err)
	}
	sessions := dialogsql.New(st.DB(), nil)
	if err := sessions.Migrate(ctx); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { st.Close() })
	h.store = st
	h.svc = orders.NewService(st, nil)
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: h.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := dialog.Config{FAQ: testFAQ, CatalogTTL: time.Nanosecond, Logger: logger}
	for _, o := range h.options {
		o(&cfg)
	}
	h.eng = dialog.New(h.svc, sessions, cfg)
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (h *harness) send(in dialog.Inbound) []dialog.Reply {
	h.t.Helper()
	h.n++
	in.ID = fmt.Sprint(h.n)
	in.Key = h.key
	in.Lang = h.lang
	replies, err := h.eng.Handle(context.Background(), in)
	if err != nil {
		h.t.Fatalf("Handle(%+v): %v", in, err)
	}
	if len(replies) == 0 {
		h.t.Fatalf("Handle(%+v): no reply", in)
	}
	for _, r := range replies {
		for _, row := range r.Buttons {
			for _, b := range row {
				if len(b.Action) > 64 || b.Label == "" {
					h.t.Fatalf("button %+v: empty label or action over Telegram's 64 bytes", b)
				}
			}
		}
	}
	h.replies = replies
	return replies
}

func (h *harness) say(text string) []dialog.Reply {
	h.t.Helper()
	return h.send(dialog.Inbound{Text: text})
}

// press presses the first button on screen whose label contains label.
func (h *harness) press(label string) []dialog.Reply {
	h.t.Helper()
	for _, r := range h.replies {
		for _, row := range r.Buttons {
			for _, b := range row {
				if strings.Contains(b.Label, label) {
					return h.send(dialog.Inbound{Action: b.Action})
				}
			}
		}
	}
	h.t.Fatalf("no button %q in:\n%s", label, h.text())
	return nil
}

func (h *harness) text() string {
	var b strings.Builder
	for _, r := range h.replies {
		b.WriteString(r.Text + "\n")
		for _, row := range r.Buttons {
			for _, btn := range row {
				b.WriteString("  [" + btn.Label + "]")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// expect fails unless some reply contains every one of want.
func (h *harness) expect(want ...string) {
	h.t.Helper()
	got := h.text()
	for _, w := range want {
		if !strings.Contains(got, w) {
			h.t.Fatalf("reply lacks %q:\n%s", w, got)
		}
	}
}

func (h *harness) session() *dialog.Session {
	h.t.Helper()
	ctx := context.Background()
	s, _, err := dialogsql.New(h.store.DB(), nil).Load(ctx, h.key)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) expectState(want dialog.State) {
	h.t.Helper()
	if got := h.session().State; got != want {
		h.t.Fatalf("state = %s, want %s; last reply:\n%s", got, want, h.text())
	}
}

func (h *harness) stock(sku string) int {
	h.t.Helper()
	c, err := h.svc.Catalog(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	v, _, ok := c.Variant(sku)
	if !ok {
		h.t.Fatalf("no variant %s", sku)
	}
	return v.Stock
}

func (h *harness) orders() []orders.Order {
	h.t.Helper()
	list, err := h.svc.Orders(context.Background(), orders.Filter{})
	if err != nil {
		h.t.Fatal(err)
	}
	return list
}

// fillCart puts 3 black pens in the cart.
func (h *harness) fillCart() {
	h.t.Helper()
	h.say("/start")
	h.press(pick(h.lang, "Browse", "浏览"))
	h.press(pick(h.lang, "Office", "办公"))
	h.press(pick(h.lang, "Gel pen", "中性笔"))
	h.press(pick(h.lang, "Black", "黑色"))
	h.say("3")
	h.expectState(dialog.StateCart)
}

// checkoutToReview fills every slot.
func (h *harness) checkoutToReview() {
	h.t.Helper()
	h.press(pick(h.lang, "Check out", "去结算"))
	h.expectState(dialog.StateAddress)
	h.say("88 Century Avenue, Pudong, Shanghai")
	h.expectState(dialog.StateName)
	h.say("Li Lei")
	h.expectState(dialog.StatePhone)
	h.say("138 0013 8000")
	h.expectState(dialog.StatePayment)
	h.press(pick(h.lang, "Pay on delivery", "货到付款"))
	h.expectState(dialog.StateReview)
}

func pick(lang, en, zh string) string {
	if lang == "zh" {
		return zh
	}
	return en
}

func TestWholeOrder(t *testing.T) {
	for _, lang := range dialog.Languages {
		t.Run(lang, func(t *testing.T) {
			h := newHarness(t, lang)
			h.fillCart()
			h.expect("¥10.50")
			h.checkoutToReview()
			h.expect("¥10.50", "88 Century Avenue", "Li Lei", "+8613800138000", pick(lang, "Pay on delivery", "货到付款"))
			h.press(pick(lang, "Confirm order", "确认下单"))
			h.expectState(dialog.StateOrder)
			list := h.orders()
			if len(list) != 1 {
				t.Fatalf("%d orders, want 1", len(list))
			}
			o := list[0]
			h.expect(o.Number, pick(lang, "being prepared", "待发货"))
			if o.Status != orders.StatusPendingShipment || o.Total.Amount != 1050 || o.Phone != "+8613800138000" || o.Customer.Lang != lang {
				t.Fatalf("order = %+v", o)
			}
			if got := h.stock("pen-blk"); got != 7 {
				t.Fatalf("stock = %d, want 7", got)
			}
			if s := h.session(); len(s.Cart) != 0 || s.Profile.Phone != "+8613800138000" {
				t.Fatalf("after placing: cart %v, profile %+v", s.Cart, s.Profile)
			}
			for _, secret := range []string{"Century", "Li Lei", "8000", "+86"} {
				if strings.Contains(h.logs.String(), secret) {
					t.Fatalf("logs contain %q:\n%s", secret, h.logs.String())
				}
			}
		})
	}
}

func TestSavedContactOfferedNextTime(t *testing.T) {
	h := newHarness(t, "en")
	h.fillCart()
	h.checkoutToReview()
	h.press("Confirm order")
	h.fillCart()
	h.press("Check out")
	h.press("Use: 88 Century Avenue")
	h.press("Use: Li Lei")
	h.press("Use: +8613800138000")
	h.press("Pay on delivery")
	h.expectState(dialog.StateReview)
	h.press("Confirm order")
	if n := len(h.orders()); n != 2 {
		t.Fatalf("%d orders, want 2", n)
	}
}

func TestQuantityInput(t *testing.T) {
	cases := []struct {
		name, lang, input string
		wantQty           int    // 0: not added
		wantText          string // in the reply
	}{
		{"digit", "en", "3", 3, "Added 3"},
		{"word", "en", "three", 3, "Added 3"},
		{"times", "en", "x3", 3, "Added 3"},
		{"chinese three", "zh", "三", 3, "已将 3 件"},
		{"chinese two", "zh", "两", 2, "已将 2 件"},
		{"zero", "en", "0", 0, "between 1 and"},
		{"zero zh", "zh", "0", 0, "必须在 1 到"},
		{"negative", "en", "-1", 0, ""},
		{"huge", "en", "99999", 0, "between 1 and"},
		{"more than stock", "en", "11", 0, "Only 10 left"},
		{"more than stock zh", "zh", "11", 0, "仅剩 10 件"},
		{"letters", "en", "abc", 0, "didn't understand “abc”"},
		{"letters zh", "zh", "abc", 0, "没能把“abc”识别为数量"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.lang)
			h.say("/start")
			h.press(pick(c.lang, "Browse", "浏览"))
			h.press(pick(c.lang, "Office", "办公"))
			h.press(pick(c.lang, "Gel pen", "中性笔"))
			h.press(pick(c.lang, "Black", "黑色"))
			h.say(c.input)
			if c.wantText != "" {
				h.expect(c.wantText)
			}
			s := h.session()
			if c.wantQty == 0 {
				if len(s.Cart) != 0 || s.State != dialog.StateQuantity {
					t.Fatalf("cart %v, state %s; want nothing added and the question again", s.Cart, s.State)
				}
				return
			}
			if len(s.Cart) != 1 || s.Cart[0].Quantity != c.wantQty {
				t.Fatalf("cart = %v, want %d", s.Cart, c.wantQty)
			}
		})
	}
}

func TestSlotValidation(t *testing.T) {
	cases := []struct {
		name, lang string
		state      dialog.State
		input      string
		want       string
	}{
		{"empty address", "en", dialog.StateAddress, " ", "didn't understand"},
		{"short address", "en", dialog.StateAddress, "abc", "between 5 and 500"},
		{"huge address", "en", dialog.StateAddress, strings.Repeat("长", 5000), "under 4096"},
		{"long address", "zh", dialog.StateAddress, strings.Repeat("路", 600), "5 到 500"},
		{"bad phone", "en", dialog.StatePhone, "12345", "not a valid phone number"},
		{"bad phone zh", "zh", dialog.StatePhone, "hello", "不是有效的电话号码"},
		{"long name", "en", dialog.StateName, strings.Repeat("n", 101), "at most 100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.lang)
			h.fillCart()
			h.press(pick(c.lang, "Check out", "去结算"))
			if c.state != dialog.StateAddress {
				h.say("88 Century Avenue, Shanghai")
			}
			if c.state == dialog.StatePhone {
				h.say("Li Lei")
			}
			h.expectState(c.state)
			before := h.session().Checkout
			h.say(c.input)
			h.expect(c.want)
			h.expectState(c.state)
			if after := h.session().Checkout; after != before {
				t.Fatalf("checkout changed by invalid input: %+v → %+v", before, after)
			}
		})
	}
}

func TestStaleButton(t *testing.T) {
	h := newHarness(t, "en")
	h.say("/start")
	h.press("Browse")
	old := h.replies
	h.press("Office")
	h.replies = old // a button from the earlier message
	h.press("Office")
	h.expect("out of date", "Gel pen")
	h.expectState(dialog.StateProducts)
	h.send(dialog.Inbound{Action: "nonsense:::"})
	h.expect("out of date")
}

func TestPriceAndStockChangedInCart(t *testing.T) {
	for _, lang := range dialog.Languages {
		t.Run(lang, func(t *testing.T) {
			h := newHarness(t, lang)
			h.fillCart()
			h.checkoutToReview()
			c := testCatalog()
			c.Products[0].Variants[0].Price.Amount = 400
			if _, err := h.svc.ImportCatalog(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			h.press(pick(lang, "Confirm order", "确认下单"))
			h.expect(pick(lang, "changed from ¥3.50 to ¥4.00", "从 ¥3.50 变为 ¥4.00"), "¥12.00")
			h.expectState(dialog.StateReview)
			if n := len(h.orders()); n != 0 {
				t.Fatalf("%d orders placed at a stale price", n)
			}
			c.Products[0].Variants[0].Stock = 2
			if _, err := h.svc.ImportCatalog(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			h.press(pick(lang, "Confirm order", "确认下单"))
			h.expect(pick(lang, "Only 2 of Gel pen (Black) are left", "中性笔（黑色）仅剩 2 件"))
			h.press(pick(lang, "Confirm order", "确认下单"))
			list := h.orders()
			if len(list) != 1 || list[0].Total.Amount != 800 {
				t.Fatalf("orders = %+v, want one for ¥8.00", list)
			}
			if got := h.stock("pen-blk"); got != 0 {
				t.Fatalf("stock = %d, want 0", got)
			}
		})
	}
}

func TestSoldOutWhileInCart(t *testing.T) {
	h := newHarness(t, "en")
	h.fillCart()
	c := testCatalog()
	c.Products[0].Variants[0].Stock = 0
	if _, err := h.svc.ImportCatalog(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	h.press("Check out")
	h.expect("sold out and was removed")
	if s := h.session(); len(s.Cart) != 0 {
		t.Fatalf("cart = %v, want empty", s.Cart)
	}
}

func TestRestartMidCheckout(t *testing.T) {
	h := newHarness(t, "zh")
	h.fillCart()
	h.press("去结算")
	h.say("上海市浦东新区世纪大道88号")
	h.expectState(dialog.StateName)
	h.open() // a new process on the same file
	h.send(dialog.Inbound{Action: dialog.GlobalAction("resume")})
	h.expect("欢迎回来", "收件人")
	h.say("韩梅梅")
	h.say("+86 138 0013 8000")
	h.press("货到付款")
	h.expect("世纪大道88号", "¥10.50")
	h.press("确认下单")
	if n := len(h.orders()); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
}

func TestConcurrentDoubleConfirm(t *testing.T) {
	h := newHarness(t, "en")
	h.fillCart()
	h.checkoutToReview()
	var confirm string
	for _, r := range h.replies {
		for _, row := range r.Buttons {
			for _, b := range row {
				if strings.Contains(b.Label, "Confirm") {
					confirm = b.Action
				}
			}
		}
	}
	// Two engines on two connections, as two replicas would be.
	other := *h
	other.open()
	engines := []*dialog.Engine{h.eng, other.eng}
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(e *dialog.Engine, i int) {
			defer wg.Done()
			if _, err := e.Handle(context.Background(), dialog.Inbound{ID: fmt.Sprint("c", i), Key: h.key, Action: confirm}); err != nil {
				t.Error(err)
			}
		}(engines[i%2], i)
	}
	wg.Wait()
	if n := len(h.orders()); n != 1 {
		t.Fatalf("%d orders from one checkout, want 1", n)
	}
	if got := h.stock("pen-blk"); got != 7 {
		t.Fatalf("stock = %d, want 7", got)
	}
}

func TestMyOrdersAndCancel(t *testing.T) {
	for _, lang := range dialog.Languages {
		t.Run(lang, func(t *testing.T) {
			h := newHarness(t, lang)
			h.fillCart()
			h.checkoutToReview()
			h.press(pick(lang, "Confirm order", "确认下单"))
			number := h.orders()[0].Number
			h.say("/orders")
			h.expect(number)
			h.press(number)
			h.press(pick(lang, "Cancel this order", "取消订单"))
			h.expect(number)
			h.press(pick(lang, "Yes, cancel it", "确定取消"))
			h.expect(pick(lang, "is cancelled", "已取消"))
			if o := h.orders()[0]; o.Status != orders.StatusCancelled {
				t.Fatalf("status = %s", o.Status)
			}
			if got := h.stock("pen-blk"); got != 10 {
				t.Fatalf("stock = %d after cancel, want 10", got)
			}
			if _, err := h.svc.Advance(context.Background(), number, orders.Transition{To: orders.StatusShipped}); orders.ErrorCode(err) != orders.ECONFLICT {
				t.Fatalf("shipping a cancelled order: %v", err)
			}
		})
	}
}

func TestCannotCancelShipped(t *testing.T) {
	h := newHarness(t, "en")
	h.fillCart()
	h.checkoutToReview()
	h.press("Confirm order")
	number := h.orders()[0].Number
	h.press("Cancel this order")
	if _, err := h.svc.Advance(context.Background(), number, orders.Transition{To: orders.StatusShipped, Tracking: "SF123"}); err != nil {
		t.Fatal(err)
	}
	h.press("Yes, cancel it")
	h.expect("shipped and can no longer be cancelled", "SF123")
	if o := h.orders()[0]; o.Status != orders.StatusShipped {
		t.Fatalf("status = %s", o.Status)
	}
}

func TestEditCartAndBack(t *testing.T) {
	h := newHarness(t, "en")
	h.fillCart()
	h.press("✏ 1.")
	h.expectState(dialog.StateLineQuantity)
	h.say("make it 5")
	h.expect("quantity is now 5", "¥17.50")
	h.expectState(dialog.StateCart)
	h.say("2")
	h.expect("quantity is now 2")
	h.checkoutToReview()
	h.press("Edit cart")
	h.press("Remove")
	h.expect("Removed Gel pen (Black)", "empty")
	h.say("/back")
	// The review and the checkout steps need a cart: Back skips them and
	// returns to the last product page.
	h.expectState(dialog.StateProduct)
	h.say("/menu")
	h.say("/back")
	h.expectState(dialog.StateMenu) // ...and the menu has no step before it.
}

func TestDigitalOrderNeedsNoAddress(t *testing.T) {
	h := newHarness(t, "en")
	h.say("gift")
	h.press("Gift card")
	h.expect("no address needed")
	h.press("¥100")
	h.say("1")
	h.press("Check out")
	h.expectState(dialog.StateName)
	h.say("Li Lei")
	h.say("+8613800138000")
	h.press("Pay on delivery")
	h.expect("Delivery: electronic")
	h.press("Confirm order")
	if o := h.orders(); len(o) != 1 || o[0].Address != "" {
		t.Fatalf("orders = %+v", o)
	}
}

func TestUnknownStoredStateRestartsAtMenu(t *testing.T) {
	h := newHarness(t, "en")
	h.say("/start")
	sessions := dialogsql.New(h.store.DB(), nil)
	if err := sessions.Update(context.Background(), h.key, func(s *dialog.Session) error {
		s.State = "teleporting"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	h.say("start over")
	h.expect("Welcome", "Main menu")
	h.expectState(dialog.StateMenu)
}

func TestLanguageSwitchAndHelp(t *testing.T) {
	h := newHarness(t, "en")
	h.say("/start")
	h.press("中文")
	h.expect("接下来我将使用中文", "主菜单")
	h.say("/help")
	h.press("多久送达")
	h.expect("两天。")
	h.say("english")
	h.expect("I will speak English")
	h.say("unknown gibberish text")
	h.expect("no product matching")
}

func TestSharedContactAndLocation(t *testing.T) {
	h := newHarness(t, "en")
	h.fillCart()
	h.press("Check out")
	h.send(dialog.Inbound{Location: &dialog.Location{Latitude: 31.2304, Longitude: 121.4737}})
	h.expectState(dialog.StateName)
	if s := h.session(); s.Checkout.Location == nil || !strings.Contains(s.Checkout.Address, "31.23040") {
		t.Fatalf("checkout = %+v", s.Checkout)
	}
	h.say("Li Lei")
	h.send(dialog.Inbound{Contact: &dialog.Contact{Phone: "8613800138000", Own: false}})
	h.expect("your own phone number")
	h.send(dialog.Inbound{Contact: &dialog.Contact{Phone: "8613800138000", Own: true}})
	h.expectState(dialog.StatePayment)
}

func TestNotificationText(t *testing.T) {
	cases := []struct {
		lang, tracking, want string
		to                   orders.Status
	}{
		{"en", "SF123", "Your order OB-2345678 has shipped, tracking SF123.", orders.StatusShipped},
		{"zh", "SF123", "您的订单 OB-2345678 已发货，物流单号 SF123。", orders.StatusShipped},
		{"en", "", "Your order OB-2345678 is completed.", orders.StatusCompleted},
		{"zh", "", "您的订单 OB-2345678 已取消", orders.StatusCancelled},
	}
	expired := orders.Notification{OrderNumber: "OB-2345678", From: orders.StatusPendingPayment, To: orders.StatusCancelled, Actor: orders.ActorSystem,
		Note: "not paid in time", Customer: orders.Customer{Channel: "console", Chat: "bob", User: "bob", Lang: "zh"}}
	if replies, err := newHarness(t, "zh").eng.RenderNotification(context.Background(), expired); err != nil || len(replies) != 1 ||
		replies[0].Text != "您的订单 OB-2345678 因未按时付款已取消，商品已重新上架。" {
		t.Fatalf("expiry = %+v, %v", replies, err)
	}
	for _, c := range cases {
		h := newHarness(t, c.lang)
		n := orders.Notification{OrderNumber: "OB-2345678", From: orders.StatusPendingShipment, To: c.to, Tracking: c.tracking,
			Customer: orders.Customer{Channel: "console", Chat: "bob", User: "bob", Lang: c.lang}}
		replies, err := h.eng.RenderNotification(context.Background(), n)
		if err != nil || len(replies) != 1 || !strings.Contains(replies[0].Text, c.want) {
			t.Fatalf("%s %s: %+v, %v; want %q", c.lang, c.to, replies, err, c.want)
		}
	}
	h := newHarness(t, "en")
	byCustomer := orders.Notification{OrderNumber: "OB-2345678", From: orders.StatusPendingShipment, To: orders.StatusCancelled, Actor: orders.ActorCustomer,
		Customer: orders.Customer{Channel: "console", Chat: "bob", User: "bob"}}
	if replies, err := h.eng.RenderNotification(context.Background(), byCustomer); err != nil || len(replies) != 0 {
		t.Fatalf("the customer's own cancellation = %+v, %v; the chat already said so", replies, err)
	}
	placed := orders.Notification{OrderNumber: "OB-2345678", To: orders.StatusPendingShipment, Customer: orders.Customer{Channel: "console", Chat: "bob", User: "bob"}}
	if replies, err := h.eng.RenderNotification(context.Background(), placed); err != nil || len(replies) != 0 {
		t.Fatalf("placement notification = %+v, %v; the chat already confirmed it", replies, err)
	}
}

// currentTag returns the step tag the buttons on screen carry.
func (h *harness) currentTag() string {
	h.t.Helper()
	for i := len(h.replies) - 1; i >= 0; i-- {
		for _, row := range h.replies[i].Buttons {
			for _, b := range row {
				if !strings.HasPrefix(b.Action, "g:") {
					tag, _, _ := strings.Cut(b.Action, ":")
					return tag
				}
			}
		}
	}
	h.t.Fatalf("no step button on screen:\n%s", h.text())
	return ""
}

func TestBackAndForthThroughCheckout(t *testing.T) {
	h := newHarness(t, "en")
	h.fillCart()
	h.press("Check out")
	h.say("88 Century Avenue, Shanghai")
	h.say("Li Lei")
	h.expectState(dialog.StatePhone)
	h.say("/back")
	h.expectState(dialog.StateName)
	h.say("/back")
	h.expectState(dialog.StateAddress)
	h.say("99 Nanjing Road, Shanghai")
	h.expectState(dialog.StatePhone) // the name is still given
	h.say("+8613800138000")
	h.press("Pay on delivery")
	h.expect("99 Nanjing Road")
	h.press("Edit cart")
	h.press("Check out")
	h.expectState(dialog.StateReview) // the slots given are kept
	h.say("/back")
	h.say("/back")
	if s := h.session(); s.State == dialog.StateReview && s.Checkout.Payment == "" {
		t.Fatal("the review is shown with a slot missing")
	}
	h.say("/cart")
	h.press("Check out")
	h.press("Confirm order")
	if o := h.orders(); len(o) != 1 || o[0].Address != "99 Nanjing Road, Shanghai" {
		t.Fatalf("orders = %+v", o)
	}
}

// A digital cart needs no address; adding goods from the review must make
// the checkout ask for one before the order can be placed.
func TestGoodsAddedToDigitalCheckoutAskForAddress(t *testing.T) {
	h := newHarness(t, "en")
	h.say("gift")
	h.press("Gift card")
	h.press("¥100")
	h.say("1")
	h.press("Check out")
	h.say("Li Lei")
	h.say("+8613800138000")
	h.press("Pay on delivery")
	h.expect("Delivery: electronic")
	h.press("Edit cart")
	h.say("pen")
	h.press("Gel pen")
	h.press("Black")
	h.say("1")
	for i := 0; i < 4; i++ {
		h.say("/back")
		if s := h.session(); s.State == dialog.StateReview {
			t.Fatalf("Back reached the review of goods without an address:\n%s", h.text())
		}
	}
	h.say("/cart")
	h.press("Check out")
	h.expectState(dialog.StateAddress)
}

func TestForgedQuantityButton(t *testing.T) {
	h := newHarness(t, "en")
	h.fillCart()
	h.say("pen")
	h.press("Gel pen")
	h.press("Black")
	for _, n := range []string{"9223372036854775807", "-5", "0", "1000"} {
		h.send(dialog.Inbound{Action: h.currentTag() + ":qty:" + n})
		h.expect("between 1 and 999")
	}
	h.send(dialog.Inbound{Action: h.currentTag() + ":qty:8"})
	h.expect("You already have 3 of Gel pen (Black) in your cart; you can add up to 7 more.")
	if s := h.session(); len(s.Cart) != 1 || s.Cart[0].Quantity != 3 {
		t.Fatalf("cart = %+v", s.Cart)
	}
}

func TestCancelPromptIsNotABackStep(t *testing.T) {
	h := newHarness(t, "en")
	h.fillCart()
	h.checkoutToReview()
	h.press("Confirm order")
	h.press("Cancel this order")
	h.press("No, keep it")
	h.say("/back")
	if s := h.session(); s.State == dialog.StateCancelOrder {
		t.Fatal("Back reopened the cancel prompt")
	}
	h.say(h.orders()[0].Number)
	h.press("Cancel this order")
	h.say("yes")
	h.expect("is cancelled")
	if o := h.orders()[0]; o.Status != orders.StatusCancelled {
		t.Fatalf("status = %s", o.Status)
	}
}

func TestEditedLineWithdrawn(t *testing.T) {
	h := newHarness(t, "en")
	h.fillCart()
	h.press("✏ 1.")
	c := testCatalog()
	c.Products = c.Products[1:] // the pen is withdrawn
	if _, err := h.svc.ImportCatalog(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	h.say("2")
	h.expect("no longer sold", "empty")
	h.expectState(dialog.StateCart)
}

func TestOneCharacterChineseSearch(t *testing.T) {
	h := newHarness(t, "zh")
	h.say("/start")
	h.say("笔")
	h.expect("中性笔", "笔记本")
	h.expectState(dialog.StateProducts)
}

// Every notification of an existing order carries its card, in the
// customer's language: the whole order with its current status.
func TestNotificationCard(t *testing.T) {
	h := newHarness(t, "zh")
	h.fillCart()
	h.checkoutToReview()
	h.press("确认下单")
	o := h.orders()[0]
	ctx := context.Background()
	shipped, err := h.svc.Advance(ctx, o.Number, orders.Transition{To: orders.StatusShipped, Tracking: "SF42"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []struct {
		note  orders.Notification
		texts int
	}{
		{orders.Notification{OrderNumber: o.Number, To: orders.StatusPendingShipment, Actor: orders.ActorCustomer, Customer: o.Customer}, 0},
		{orders.Notification{OrderNumber: o.Number, From: orders.StatusPendingShipment, To: orders.StatusShipped, Tracking: "SF42", Actor: "operator", Customer: o.Customer}, 1},
	} {
		replies, err := h.eng.RenderNotification(ctx, n.note)
		if err != nil || len(replies) != 1+n.texts {
			t.Fatalf("%s: %+v, %v", n.note.To, replies, err)
		}
		card := replies[0]
		if card.Card != o.Number || !strings.HasPrefix(card.Text, dialog.CardMark) ||
			!strings.Contains(card.Text, "已发货") || !strings.Contains(card.Text, "SF42") || !strings.Contains(card.Text, shipped.Total.String()) {
			t.Fatalf("card = %+v", card)
		}
		if n.texts == 1 && (replies[1].Card != "" || !strings.Contains(replies[1].Text, "物流单号 SF42")) {
			t.Fatalf("notification = %+v", replies[1])
		}
	}
}

// A message delivered again after it was handled and saved (its replica
// died before answering, a channel retried) is not handled twice: the
// conversation shows where it is. Only the latest MaxRecent ids are kept.
func TestMessageDeliveredAgain(t *testing.T) {
	h := newHarness(t, "en")
	h.say("/start")
	h.press("Browse")
	h.press("Office")
	h.press("Gel pen")
	h.press("Black")
	qty := dialog.Inbound{ID: "update-42", Key: h.key, Text: "3"}
	first, err := h.eng.Handle(context.Background(), qty)
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.eng.Handle(context.Background(), qty)
	if err != nil {
		t.Fatal(err)
	}
	s := h.session()
	if len(s.Cart) != 1 || s.Cart[0].Quantity != 3 || s.State != dialog.StateCart {
		t.Fatalf("cart %+v in %s; want 3 pens once", s.Cart, s.State)
	}
	if !strings.Contains(first[0].Text, "Added 3") || strings.Contains(again[0].Text, "Added") || !strings.Contains(again[len(again)-1].Text, "Your cart") {
		t.Fatalf("first answer %q, again %q; want the cart shown again, nothing added", first[0].Text, again[0].Text)
	}
	for range dialog.MaxRecent {
		h.say("/cart")
	}
	if s := h.session(); len(s.Recent) != dialog.MaxRecent || slices.Contains(s.Recent, "update-42") {
		t.Fatalf("recent ids %v; want the latest %d only", s.Recent, dialog.MaxRecent)
	}
}

// The step shown again for a message delivered twice has working buttons.
func TestMessageDeliveredAgainButtonsWork(t *testing.T) {
	h := newHarness(t, "en")
	h.say("/start")
	in := dialog.Inbound{ID: "update-7", Key: h.key, Action: "g:browse"}
	if _, err := h.eng.Handle(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	again, err := h.eng.Handle(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	h.replies = again
	h.press("Office")
	h.expectState(dialog.StateProducts)
}
