package dialog_test

import (
	"context"
	"strings"
	"testing"

	"orderbot/dialog"
	"orderbot/orders"
)

// A requester changes an approved company order: its lines come into the
// cart (their own cart held aside), are edited and reviewed; the total
// rose, so it goes back to the manager, who is told; the desk is told to
// wait. Their own cart is back afterwards.
func TestAmendCompanyOrder(t *testing.T) {
	for _, lang := range dialog.Languages {
		t.Run(lang, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, lang, withCompany)
			over := orders.Money{Amount: 1000, Currency: "CNY"}
			h.svc.SetApprovalRules(&orders.ApprovalRules{
				Managers: map[string]string{"alice": "bob"},
				Rules:    []orders.ApprovalRule{{Name: "over ¥10", TotalOver: &over, Approvers: []string{orders.ApproverManager}}},
			})
			h.svc.SetFulfilment(&orders.Fulfilment{Chat: "desk", Staff: []string{"sam"}})
			o := h.orderOnCompanyAccount() // 3 pens, ¥10.50
			if _, err := h.svc.Decide(ctx, o.Number, "bob", true, ""); err != nil {
				t.Fatal(err)
			}
			// Something else waits in the cart meanwhile.
			h.press(pick(lang, "Menu", "主菜单"))
			h.press(pick(lang, "Browse", "浏览"))
			h.press(pick(lang, "Office", "办公"))
			h.press(pick(lang, "Notebook", "笔记本"))
			h.press("A5")
			h.say("1")

			h.say(o.Number)
			h.press(pick(lang, "Change items", "修改商品"))
			h.expectState(dialog.StateCart)
			h.expect(o.Number, pick(lang, "being changed", "修改中"), "¥10.50")
			if s := h.session(); s.Amending != o.Number || len(s.Held) != 1 || s.Held[0].VariantSKU != "notebook-a5" {
				t.Fatalf("session while amending: %+v", s)
			}
			h.press("✏ 1.")
			h.say("5") // ¥17.50
			h.press(pick(lang, "Review changes", "查看修改"))
			h.expectState(dialog.StateReview)
			h.expect("¥17.50", pick(lang, "goes back for approval", "重新审批"))
			h.press(pick(lang, "Confirm changes", "确认修改"))
			h.expect(pick(lang, "waits for approval", "等待审批"), "¥17.50")
			h.expectState(dialog.StateOrder)

			got, err := h.svc.Order(ctx, o.Number)
			if err != nil || got.Status != orders.StatusPendingApproval || got.Lines[0].Quantity != 5 || got.Approvals[0].Approved {
				t.Fatalf("amended order = %+v, %v", got, err)
			}
			if h.stock("pen-blk") != 5 {
				t.Errorf("pen stock = %d, want 5", h.stock("pen-blk"))
			}
			if s := h.session(); s.Amending != "" || len(s.Cart) != 1 || s.Cart[0].VariantSKU != "notebook-a5" || s.Held != nil {
				t.Errorf("own cart not restored: %+v", s)
			}
			last := got.History[len(got.History)-1]
			n := orders.Notification{OrderNumber: o.Number, From: last.From, To: last.To, Note: last.Note, Actor: last.Actor,
				Role: orders.RoleApprover, Customer: orders.Customer{Channel: "console", Chat: "bob", User: "bob"}}
			replies, err := h.eng.RenderNotification(ctx, n)
			if err != nil || len(replies) != 2 || !strings.Contains(replies[1].Text, "needs your approval again") || len(replies[1].Buttons) != 1 {
				t.Fatalf("approver's notification = %+v, %v", replies, err)
			}
			n.Role, n.Customer = orders.RoleFulfilment, orders.Customer{Channel: "console", Chat: "desk"}
			replies, err = h.eng.RenderNotification(ctx, n)
			if err != nil || len(replies) != 2 || !strings.Contains(replies[1].Text, "do not ship it yet") || len(replies[0].Buttons) != 0 {
				t.Fatalf("desk's notification = %+v, %v", replies, err)
			}
			n.Role, n.Customer = orders.RoleCustomer, got.Customer
			if replies, err = h.eng.RenderNotification(ctx, n); err != nil || len(replies) != 1 || replies[0].Card != o.Number {
				t.Fatalf("customer's notification = %+v, %v; want the card only: they made the change", replies, err)
			}
		})
	}
}

// Changes can be discarded; an order left without items cannot be
// reviewed; an order that shipped meanwhile refuses them and offers no
// change any more.
func TestAmendRefusedOrDiscarded(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "en")
	o := h.orderOnDelivery()
	h.expect("Change items")

	h.press("Change items")
	h.press("Remove")
	h.expect("needs at least one item")
	h.expectState(dialog.StateCart)
	h.press("Discard changes")
	h.expect("stays as it was")
	h.expectState(dialog.StateOrder)
	if s := h.session(); s.Amending != "" || len(s.Cart) != 0 {
		t.Fatalf("after discarding: %+v", s)
	}

	h.press("Change items")
	h.press("✏ 1.")
	h.say("2")
	h.press("Review changes")
	if _, err := h.svc.Advance(ctx, o.Number, orders.Transition{To: orders.StatusShipped}); err != nil {
		t.Fatal(err)
	}
	h.press("Confirm changes")
	h.expect("can no longer be changed")
	got, _ := h.svc.Order(ctx, o.Number)
	if got.Lines[0].Quantity != 3 || h.stock("pen-blk") != 7 {
		t.Errorf("shipped order changed: %+v, stock %d", got.Lines, h.stock("pen-blk"))
	}
	if s := h.session(); s.Amending != "" || s.State != dialog.StateOrder {
		t.Errorf("after the refusal: %+v", s)
	}
	if strings.Contains(h.text(), "Change items") {
		t.Errorf("a shipped order offers a change:\n%s", h.text())
	}
}

// Lowering a quantity gives the stock back and keeps an order paid on
// delivery as it is.
func TestAmendLowersQuantity(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "zh")
	o := h.orderOnDelivery()
	h.press("修改商品")
	h.press("✏ 1.")
	h.say("1")
	h.press("查看修改")
	h.say("确认")
	h.expect("已修改", "¥3.50")
	got, err := h.svc.Order(ctx, o.Number)
	if err != nil || got.Status != orders.StatusPendingShipment || got.Total.Amount != 350 || h.stock("pen-blk") != 9 {
		t.Fatalf("order %+v, stock %d, %v", got, h.stock("pen-blk"), err)
	}
}

// orderOnDelivery places, in the harness's language, an order of the test
// cart paid on delivery and returns it.
func (h *harness) orderOnDelivery() orders.Order {
	h.t.Helper()
	h.fillCart()
	h.checkoutToReview()
	h.press(pick(h.lang, "Confirm order", "确认下单"))
	return h.orders()[0]
}
