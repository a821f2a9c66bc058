package dialog_test

import (
	"context"
	"strings"
	"testing"

	"orderbot/dialog"
	"orderbot/orders"
)

func withCompany(c *dialog.Config) {
	c.Payments = map[string][]orders.Payment{"console": {orders.PayCompany}}
}

// A form is checked field by field, in the user's language, and normalized
// when good.
func TestCheckForm(t *testing.T) {
	h := newHarness(t, "zh", withCompany)
	ctx := context.Background()
	bad := dialog.OrderForm{VariantSKU: "nope", Quantity: "lots", Location: "", Name: "", Phone: "12", CostCentre: "", Reason: strings.Repeat("x", 501)}
	problems, err := h.eng.CheckForm(ctx, h.key, &bad)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{dialog.FormItem, dialog.FormQuantity, dialog.FormName, dialog.FormPhone, dialog.FormCostCentre, dialog.FormReason} {
		if problems[field] == "" {
			t.Errorf("no problem reported for %s: %v", field, problems)
		}
	}
	tooMany := dialog.OrderForm{VariantSKU: "pen-blk", Quantity: "5000", Location: "HQ", Name: "Li", Phone: "13800138000", CostCentre: "R&D"}
	if problems, _ := h.eng.CheckForm(ctx, h.key, &tooMany); problems[dialog.FormQuantity] == "" || problems[dialog.FormLocation] != "" {
		t.Errorf("quantity over stock: %v", problems)
	}
	good := dialog.OrderForm{VariantSKU: "pen-blk", Quantity: "三", Location: " HQ, 12F ", Name: " 李雷 ", Phone: "138 0013 8000", CostCentre: " R&D "}
	if problems, _ := h.eng.CheckForm(ctx, h.key, &good); len(problems) != 0 {
		t.Fatalf("a good form refused: %v", problems)
	}
	if good.Quantity != "3" || good.Phone != "+8613800138000" || good.Name != "李雷" || good.CostCentre != "R&D" || good.Location != "HQ, 12F" {
		t.Fatalf("normalized form = %+v", good)
	}
	opts, err := h.eng.FormOptions(ctx, h.key, "pen")
	if err != nil || len(opts) == 0 || !strings.Contains(opts[0].Label, "¥") {
		t.Fatalf("options = %+v, %v", opts, err)
	}
}

// A checked form places its order once per submission, leaves the
// conversation's cart alone, and is remembered for the next form.
func TestPlaceForm(t *testing.T) {
	h := newHarness(t, "en", withCompany)
	ctx := context.Background()
	h.fillCart()
	f := dialog.OrderForm{VariantSKU: "pen-blk", Quantity: "2", Location: "HQ, 12F", Name: "Li Lei", Phone: "+8613800138000", CostCentre: "R&D-42"}
	if problems, _ := h.eng.CheckForm(ctx, h.key, &f); len(problems) != 0 {
		t.Fatal(problems)
	}
	in := dialog.Inbound{ID: "view:V1", Key: h.key, Form: &f}
	for range 2 {
		replies, err := h.eng.Handle(ctx, in)
		if err != nil || len(replies) == 0 || !strings.Contains(replies[0].Text, "charged to cost centre R&D-42") {
			t.Fatalf("form placed as %+v, %v", replies, err)
		}
	}
	if got := h.orders(); len(got) != 1 || got[0].Lines[0].Quantity != 2 || got[0].CostCentre != "R&D-42" {
		t.Fatalf("orders = %+v", got)
	}
	if s := h.session(); len(s.Cart) != 1 {
		t.Fatalf("the conversation's cart changed: %+v", s.Cart)
	}
	def, err := h.eng.FormDefaults(ctx, h.key)
	if err != nil || def.CostCentre != "R&D-42" || def.Phone != "+8613800138000" || def.Location != "HQ, 12F" {
		t.Fatalf("defaults = %+v, %v", def, err)
	}
}
