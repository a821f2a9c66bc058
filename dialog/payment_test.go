package dialog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"orderbot/dialog"
	"orderbot/orders"
)

// withCard offers card payment on the harness's channel, as Telegram does
// when a payment provider is configured.
func withCard(c *dialog.Config) {
	c.Payments = map[string][]orders.Payment{"console": {orders.PayOnDelivery, orders.PayTelegram}}
}

func (h *harness) invoice() *dialog.Invoice {
	h.t.Helper()
	for _, r := range h.replies {
		if r.Invoice != nil {
			return r.Invoice
		}
	}
	h.t.Fatalf("no invoice in:\n%s", h.text())
	return nil
}

func TestPayByCard(t *testing.T) {
	for _, lang := range dialog.Languages {
		t.Run(lang, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, lang, withCard)
			h.fillCart()
			h.press(pick(lang, "Check out", "去结算"))
			h.say("88 Century Avenue, Shanghai")
			h.say("Li Lei")
			h.say("+8613800138000")
			h.expect(pick(lang, "Pay on delivery", "货到付款"), pick(lang, "Pay now by card", "立即在线支付"))
			h.press(pick(lang, "Pay now by card", "立即在线支付"))
			h.press(pick(lang, "Confirm order", "确认下单"))
			o := h.orders()[0]
			if o.Status != orders.StatusPendingPayment || o.Payment != orders.PayTelegram {
				t.Fatalf("order = %s paid by %s", o.Status, o.Payment)
			}
			h.expect(pick(lang, "within 30 minutes", "30 分钟内"))
			inv := h.invoice()
			if inv.OrderNumber != o.Number || inv.Total != o.Total || len(inv.Lines) != 1 || inv.Lines[0].Amount.Amount != 1050 {
				t.Fatalf("invoice = %+v for %+v", inv, o)
			}
			if got := h.stock("pen-blk"); got != 7 {
				t.Fatalf("stock = %d: not reserved while waiting for payment", got)
			}

			ok, reason, err := h.eng.PreCheckout(ctx, h.key, o.Number, o.Total)
			if !ok || err != nil {
				t.Fatalf("PreCheckout = %v, %q, %v", ok, reason, err)
			}
			if ok, reason, _ := h.eng.PreCheckout(ctx, h.key, o.Number, orders.Money{Amount: 1, Currency: "CNY"}); ok || !strings.Contains(reason, pick(lang, "out of date", "已过期")) {
				t.Fatalf("PreCheckout of a wrong amount = %v, %q", ok, reason)
			}
			stranger := dialog.Key{Channel: "console", Chat: "eve", User: "eve"}
			if ok, _, _ := h.eng.PreCheckout(ctx, stranger, o.Number, o.Total); ok {
				t.Fatal("someone else's order passed the pre-checkout")
			}

			h.press(pick(lang, "Pay ¥10.50", "支付 ¥10.50")) // the invoice again, from the order
			h.invoice()
			pay := &dialog.PaymentEvent{OrderNumber: o.Number, ChargeID: "tg_charge_1", Amount: o.Total}
			h.send(dialog.Inbound{Payment: pay})
			h.expect(pick(lang, "Payment received", "已收到付款"))
			h.send(dialog.Inbound{Payment: pay}) // repeated
			got := h.orders()[0]
			if got.Status != orders.StatusPendingShipment {
				t.Fatalf("status = %s after payment", got.Status)
			}
			full, err := h.svc.Order(ctx, o.Number)
			if err != nil || len(full.History) != 2 {
				t.Fatalf("history = %+v, %v; want one payment change", full.History, err)
			}
			if ok, reason, _ := h.eng.PreCheckout(ctx, h.key, o.Number, o.Total); ok || !strings.Contains(reason, pick(lang, "can no longer be paid", "已无法支付")) {
				t.Fatalf("PreCheckout of a paid order = %v, %q", ok, reason)
			}
		})
	}
}

func TestCardNotOfferedWithoutProvider(t *testing.T) {
	h := newHarness(t, "en")
	h.fillCart()
	h.press("Check out")
	h.say("88 Century Avenue, Shanghai")
	h.say("Li Lei")
	h.say("+8613800138000")
	if strings.Contains(h.text(), "card") {
		t.Fatalf("card payment offered without a provider:\n%s", h.text())
	}
	h.send(dialog.Inbound{Action: h.currentTag() + ":pay:telegram"})
	h.expect("Please choose a payment method")
	h.say("card")
	h.expect("Please choose a payment method")
	h.expectState(dialog.StatePayment)
}

func TestLatePayment(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "en", withCard)
	h.fillCart()
	h.press("Check out")
	h.say("88 Century Avenue, Shanghai")
	h.say("Li Lei")
	h.say("+8613800138000")
	h.press("Pay now by card")
	h.press("Confirm order")
	o := h.orders()[0]
	if _, err := h.svc.Advance(ctx, o.Number, orders.Transition{To: orders.StatusCancelled, Actor: orders.ActorSystem}); err != nil {
		t.Fatal(err)
	}
	h.send(dialog.Inbound{Payment: &dialog.PaymentEvent{OrderNumber: o.Number, ChargeID: "late", Amount: o.Total}})
	h.expect("already been cancelled", "refunded")
}

// withStars offers every method, Telegram Stars included.
func withStars(c *dialog.Config) {
	c.Payments = map[string][]orders.Payment{"console": {orders.PayOnDelivery, orders.PayTelegram, orders.PayStars}}
}

func TestPayInStars(t *testing.T) {
	for _, lang := range dialog.Languages {
		t.Run(lang, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, lang, withStars)
			h.say(pick(lang, "gift", "礼品卡"))
			h.press(pick(lang, "Gift card", "礼品卡"))
			h.press(pick(lang, "¥100", "100元"))
			h.say("2")
			h.press(pick(lang, "Check out", "去结算"))
			h.say("Li Lei")
			h.say("+8613800138000")
			h.expect(pick(lang, "Pay in Telegram Stars", "Telegram 星星支付"))
			if strings.Contains(h.text(), pick(lang, "by card", "在线支付")) {
				t.Fatalf("a card offered for digital products, which Telegram sells for Stars only:\n%s", h.text())
			}
			h.press(pick(lang, "Pay in Telegram Stars", "Telegram 星星支付"))
			h.expect("⭐1400")
			h.press(pick(lang, "Confirm order", "确认下单"))
			o := h.orders()[0]
			if o.Status != orders.StatusPendingPayment || o.Payment != orders.PayStars || o.Total != (orders.Money{Amount: 1400, Currency: "XTR"}) {
				t.Fatalf("order %s paid by %s, total %v", o.Status, o.Payment, o.Total)
			}
			if inv := h.invoice(); inv.Total != o.Total || inv.Lines[0].Amount.Currency != "XTR" {
				t.Fatalf("invoice = %+v", inv)
			}
			if ok, reason, err := h.eng.PreCheckout(ctx, h.key, o.Number, o.Total); !ok || err != nil {
				t.Fatalf("PreCheckout = %v, %q, %v", ok, reason, err)
			}
			h.send(dialog.Inbound{Payment: &dialog.PaymentEvent{OrderNumber: o.Number, ChargeID: "stars_1", Amount: o.Total}})
			h.expect(pick(lang, "Payment received", "已收到付款"))
			if got := h.orders()[0]; got.Status != orders.StatusPendingShipment {
				t.Fatalf("status = %s after payment", got.Status)
			}

			// A cart with goods in it cannot be paid in Stars.
			h.fillCart()
			h.press(pick(lang, "Check out", "去结算"))
			h.say("88 Century Avenue, Shanghai")
			h.press(pick(lang, "Use", "使用"))
			h.press(pick(lang, "Use", "使用"))
			h.expectState(dialog.StatePayment)
			if strings.Contains(h.text(), "⭐") {
				t.Fatalf("Stars offered for goods:\n%s", h.text())
			}
			h.say(pick(lang, "stars", "星星"))
			h.expect(pick(lang, "Please choose a payment method", "请用按钮选择付款方式"))
		})
	}
}

// A cart over the Stars ceiling is not offered Stars; an order about to
// expire is no longer paid for.
func TestStarsCeilingAndExpiringOrder(t *testing.T) {
	now := time.Now() // the order core's clock, which stamps the order
	h := newHarness(t, "en", withStars, func(c *dialog.Config) {
		c.Now = func() time.Time { return now }
	})
	h.say("gift")
	h.press("Gift card")
	h.press("¥100")
	h.say("15") // 15 × 700 stars
	h.press("Check out")
	h.say("Li Lei")
	h.say("+8613800138000")
	h.expectState(dialog.StatePayment)
	if strings.Contains(h.text(), "Stars") {
		t.Fatalf("Stars offered over the ceiling:\n%s", h.text())
	}
	h.say("/cart")
	h.press("✏ 1.")
	h.say("2")
	h.press("Check out") // name and phone are kept
	h.press("Pay in Telegram Stars")
	h.press("Confirm order")
	o := h.orders()[0]
	ctx := context.Background()
	now = now.Add(29 * time.Minute) // the order expires at 30
	if ok, reason, err := h.eng.PreCheckout(ctx, h.key, o.Number, o.Total); ok || err != nil || !strings.Contains(reason, "about to expire") {
		t.Fatalf("PreCheckout a minute before expiry = %v, %q, %v", ok, reason, err)
	}
}

// An employee orders on the company account: the cost centre is asked
// (and offered again next time), the reason may be skipped, and an order
// the rules send for approval says so; the approver's decision reaches the
// conversation.
func TestCompanyAccountWithApproval(t *testing.T) {
	for _, lang := range dialog.Languages {
		t.Run(lang, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, lang, func(c *dialog.Config) {
				c.Payments = map[string][]orders.Payment{"console": {orders.PayCompany}}
			})
			over := orders.Money{Amount: 1500, Currency: "CNY"}
			h.svc.SetApprovalRules(&orders.ApprovalRules{
				Managers: map[string]string{"alice": "bob"},
				Rules:    []orders.ApprovalRule{{Name: "over ¥15", TotalOver: &over, Approvers: []string{orders.ApproverManager}}},
			})
			h.fillCart() // ¥10.50
			h.press(pick(lang, "Check out", "去结算"))
			h.say("12F, 88 Century Avenue")
			h.say("Li Lei")
			h.say("+8613800138000")
			h.press(pick(lang, "Company account", "公司账户"))
			h.expect(pick(lang, "cost centre", "成本中心"))
			h.say("R&D-42")
			h.expect(pick(lang, "What is it for", "用途"))
			h.press(pick(lang, "Skip", "跳过"))
			h.expect("R&D-42")
			h.press(pick(lang, "Confirm order", "确认下单"))
			o := h.orders()[0]
			if o.Status != orders.StatusPendingShipment || o.Payment != orders.PayCompany || o.CostCentre != "R&D-42" {
				t.Fatalf("small order %s, %s, %q", o.Status, o.Payment, o.CostCentre)
			}

			// A bigger one needs the manager's approval; the cost centre is
			// offered again.
			h.fillCart()
			h.say("/cart")
			h.press("✏ 1.")
			h.say("5") // ¥17.50, over ¥15
			h.press(pick(lang, "Check out", "去结算"))
			h.press(pick(lang, "Use", "使用")) // the address, name and phone of last time
			h.press(pick(lang, "Use", "使用"))
			h.press(pick(lang, "Use", "使用"))
			h.press(pick(lang, "Company account", "公司账户"))
			h.expect(pick(lang, "cost centre", "成本中心"))
			h.press("R&D-42")
			h.say(pick(lang, "Pens for the new team", "新团队用笔"))
			h.press(pick(lang, "Confirm order", "确认下单"))
			h.expect(pick(lang, "waiting for approval", "等待审批"))
			big := h.orders()[0]
			if big.Status != orders.StatusPendingApproval || len(big.Approvals) != 1 || big.Approvals[0].Approver != "bob" {
				t.Fatalf("big order %s approvals %+v", big.Status, big.Approvals)
			}
			approved, err := h.svc.Decide(ctx, big.Number, "bob", true, "")
			if err != nil {
				t.Fatal(err)
			}
			n := orders.Notification{OrderNumber: big.Number, From: orders.StatusPendingApproval, To: orders.StatusPendingShipment,
				Actor: orders.ActorApproverPrefix + "bob", Customer: approved.Customer}
			replies, err := h.eng.RenderNotification(ctx, n)
			if err != nil || len(replies) != 2 || !strings.Contains(replies[1].Text, pick(lang, "was approved", "已通过审批")) {
				t.Fatalf("approval notification = %+v, %v", replies, err)
			}
		})
	}
}

// An approver is sent a request card with Approve and Reject; rejecting
// asks for the reason, which the order keeps; the card then shows the
// decision; a second decision, or one by someone else, changes nothing.
func TestApproverDecides(t *testing.T) {
	for _, lang := range dialog.Languages {
		t.Run(lang, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, lang, func(c *dialog.Config) {
				c.Payments = map[string][]orders.Payment{"console": {orders.PayCompany}}
			})
			h.svc.SetApprovalRules(&orders.ApprovalRules{
				Managers: map[string]string{"alice": "bob"},
				Rules:    []orders.ApprovalRule{{Name: "Every order", Approvers: []string{orders.ApproverManager}}},
			})
			h.fillCart()
			h.press(pick(lang, "Check out", "去结算"))
			h.say("12F, 88 Century Avenue")
			h.say("Li Lei")
			h.say("+8613800138000")
			h.press(pick(lang, "Company account", "公司账户"))
			h.say("R&D-42")
			h.say(pick(lang, "Pens for the new team", "新团队用笔"))
			h.press(pick(lang, "Confirm order", "确认下单"))
			o := h.orders()[0]

			bob := dialog.Key{Channel: "console", Chat: "bob", User: "bob"}
			request := orders.Notification{OrderNumber: o.Number, To: orders.StatusPendingApproval, Actor: orders.ActorCustomer,
				Role: orders.RoleApprover, Customer: orders.Customer{Channel: "console", Chat: "bob", User: "bob"}}
			cards, err := h.eng.RenderNotification(ctx, request)
			if err != nil || len(cards) != 1 || cards[0].Card == "" || !strings.Contains(cards[0].Text, "R&D-42") ||
				!strings.Contains(cards[0].Text, "Every order") || len(cards[0].Buttons) != 1 {
				t.Fatalf("approval request = %+v, %v", cards, err)
			}

			// Carol is no approver.
			h.key = dialog.Key{Channel: "console", Chat: "carol", User: "carol"}
			h.replies = cards
			h.press("Approve") // in English: bob never wrote to the bot
			h.expect(pick(lang, "not an approver", "不是订单"))

			h.key = bob
			h.replies = cards
			h.press("Reject")
			h.expect(pick(lang, "Why is order", "为何被驳回"))
			h.say(pick(lang, "Not in this quarter's budget", "本季度预算不足"))
			h.expect(pick(lang, "You rejected", "您已驳回"))
			full, err := h.svc.Order(ctx, o.Number)
			if err != nil || full.Status != orders.StatusRejected || !strings.Contains(full.History[len(full.History)-1].Note, pick(lang, "budget", "预算")) {
				t.Fatalf("order after rejection: %s %+v, %v", full.Status, full.History, err)
			}
			decided := request
			decided.From, decided.To, decided.Actor = orders.StatusPendingApproval, orders.StatusRejected, orders.ActorApproverPrefix+"bob"
			cards2, err := h.eng.RenderNotification(ctx, decided)
			if err != nil || len(cards2) != 1 || cards2[0].Card != cards[0].Card || len(cards2[0].Buttons) != 0 ||
				!strings.Contains(cards2[0].Text, pick(lang, "Rejected by bob", "已由 bob 驳回")) {
				t.Fatalf("decided card = %+v, %v", cards2, err)
			}
			h.replies = cards
			h.press("Approve") // in English: bob never wrote to the bot
			h.expect(pick(lang, "already decided", "已审批"), "bob")
		})
	}
}

// An order two rules sent for approval waits for both: the first approval
// says what it still waits for, the second completes it.
func TestTwoRulesNeedTwoApprovals(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "en", withCompany)
	h.svc.SetApprovalRules(&orders.ApprovalRules{
		Managers: map[string]string{"alice": "bob"},
		Groups:   map[string][]string{"office": {"carol"}},
		Rules: []orders.ApprovalRule{
			{Name: "Every order", Approvers: []string{orders.ApproverManager}},
			{Name: "Office supplies", Approvers: []string{orders.ApproverGroupPrefix + "office"}},
		},
	})
	o := h.orderOnCompanyAccount()
	action := "g:approve:" + o.Number
	h.key = dialog.Key{Channel: "console", Chat: "bob", User: "bob"}
	h.send(dialog.Inbound{Action: action})
	h.expect("still waits for: Office supplies")
	if got, _ := h.svc.Order(ctx, o.Number); got.Status != orders.StatusPendingApproval {
		t.Fatalf("one approval of two moved the order to %s", got.Status)
	}
	h.key = dialog.Key{Channel: "console", Chat: "carol", User: "carol"}
	h.send(dialog.Inbound{Action: action})
	h.expect("You approved order " + o.Number)
	if got, _ := h.svc.Order(ctx, o.Number); got.Status != orders.StatusPendingShipment {
		t.Fatalf("both approvals left the order %s", got.Status)
	}
}

// An approver who never wrote to the bot gets their request in the
// language their channel knows for them.
func TestApprovalRequestInApproversLanguage(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "en", withCompany)
	h.svc.SetApprovalRules(&orders.ApprovalRules{
		Managers: map[string]string{"alice": "bob"},
		Rules:    []orders.ApprovalRule{{Name: "Every order", Approvers: []string{orders.ApproverManager}}},
	})
	h.eng.SetLocale(func(_ context.Context, k dialog.Key) string {
		if k.User == "bob" {
			return "zh-CN"
		}
		return ""
	})
	o := h.orderOnCompanyAccount()
	n := orders.Notification{OrderNumber: o.Number, To: orders.StatusPendingApproval, Actor: orders.ActorCustomer,
		Role: orders.RoleApprover, Customer: orders.Customer{Channel: "console", Chat: "bob", User: "bob"}}
	cards, err := h.eng.RenderNotification(ctx, n)
	if err != nil || len(cards) != 1 || !strings.Contains(cards[0].Text, "审批请求") || !strings.Contains(cards[0].Buttons[0][0].Label, "批准") {
		t.Fatalf("request for a Chinese approver = %+v, %v", cards, err)
	}
}

// orderOnCompanyAccount places, in the harness's language, an order of the test cart on
// the company account and returns it.
func (h *harness) orderOnCompanyAccount() orders.Order {
	h.t.Helper()
	h.fillCart()
	h.press(pick(h.lang, "Check out", "去结算"))
	h.say("12F, 88 Century Avenue")
	h.say("Li Lei")
	h.say("+8613800138000")
	h.press(pick(h.lang, "Company account", "公司账户"))
	h.say("R&D-42")
	h.press(pick(h.lang, "Skip", "跳过"))
	h.press(pick(h.lang, "Confirm order", "确认下单"))
	return h.orders()[0]
}
