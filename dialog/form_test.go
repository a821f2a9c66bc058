package dialog_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

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
	bad := dialog.OrderForm{ProductSKU: "nope", VariantSKU: "nope", Quantity: "lots", Location: "", Name: "", Phone: "12", CostCentre: "", Reason: strings.Repeat("x", 501)}
	problems, err := h.eng.CheckForm(ctx, h.key, &bad)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{dialog.FormProduct, dialog.FormQuantity, dialog.FormName, dialog.FormPhone, dialog.FormCostCentre, dialog.FormReason} {
		if problems[field] == "" {
			t.Errorf("no problem reported for %s: %v", field, problems)
		}
	}
	if problems[dialog.FormVariant] != "" {
		t.Errorf("the variant of an unknown product judged: %v", problems)
	}
	tooMany := dialog.OrderForm{ProductSKU: "pen", VariantSKU: "pen-blk", Quantity: "5000", Location: "HQ", Name: "Li", Phone: "13800138000", CostCentre: "R&D"}
	if problems, _ := h.eng.CheckForm(ctx, h.key, &tooMany); problems[dialog.FormQuantity] == "" || problems[dialog.FormLocation] != "" {
		t.Errorf("quantity over stock: %v", problems)
	}
	good := dialog.OrderForm{ProductSKU: "pen", VariantSKU: "pen-blk", Quantity: "三", Location: " HQ, 12F ", Name: " 李雷 ", Phone: "138 0013 8000", CostCentre: " R&D "}
	if problems, _ := h.eng.CheckForm(ctx, h.key, &good); len(problems) != 0 {
		t.Fatalf("a good form refused: %v", problems)
	}
	if good.Quantity != "3" || good.Phone != "+8613800138000" || good.Name != "李雷" || good.CostCentre != "R&D" || good.Location != "HQ, 12F" {
		t.Fatalf("normalized form = %+v", good)
	}
}

// The product and the variant are checked together: a variant must be one
// of the product's, in stock; a form for another product (a stale modal, a
// forged submission) is refused on the variant's field.
func TestCheckFormProductAndVariant(t *testing.T) {
	h := newHarness(t, "en", withCompany)
	ctx := context.Background()
	c := testCatalog()
	c.Products = append(c.Products, orders.Product{
		SKU: "ink", CategoryID: "office", Kind: orders.KindGoods, Position: 4, Name: orders.Text{"en": "Ink"},
		Variants: []orders.Variant{{SKU: "ink-blk", ProductSKU: "ink", Name: orders.Text{"en": "Black"}, Price: orders.Money{Amount: 500, Currency: "CNY"}, Stock: 9}},
	})
	c.Products[1].Variants[0].Stock = 0 // the notebook sold out
	if _, err := h.svc.ImportCatalog(ctx, c); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		product, variant string
		field, want      string // the field refused and what it says; "" for none
	}{
		{"good", "pen", "pen-blk", "", ""},
		{"no product", "", "pen-blk", dialog.FormProduct, "choose a product"},
		{"inactive product", "ink", "ink-blk", dialog.FormProduct, "choose a product"},
		{"no variant", "pen", "", dialog.FormVariant, "choose an option of this product"},
		{"unknown variant", "pen", "pen-green", dialog.FormVariant, "choose an option of this product"},
		{"another product's variant", "pen", "notebook-a5", dialog.FormVariant, "choose an option of this product"},
		{"variant sold out", "pen", "pen-red", dialog.FormVariant, "Gel pen (Red) is sold out"},
		{"product sold out", "notebook", "notebook-a5", dialog.FormProduct, "sold out now; please choose another"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := dialog.OrderForm{ProductSKU: tc.product, VariantSKU: tc.variant, Quantity: "1", Location: "HQ", Name: "Li Lei", Phone: "+8613800138000", CostCentre: "R&D"}
			problems, err := h.eng.CheckForm(ctx, h.key, &f)
			if err != nil {
				t.Fatal(err)
			}
			if tc.field == "" {
				if len(problems) != 0 {
					t.Fatalf("refused: %v", problems)
				}
				return
			}
			if len(problems) != 1 || !strings.Contains(problems[tc.field], tc.want) {
				t.Fatalf("problems = %v, want %s: %q", problems, tc.field, tc.want)
			}
		})
	}
}

// A forged form whose variant is not of its product is not placed, even
// unchecked.
func TestPlaceFormRefusesAnotherProductsVariant(t *testing.T) {
	h := newHarness(t, "en", withCompany)
	f := dialog.OrderForm{ProductSKU: "notebook", VariantSKU: "pen-blk", Quantity: "1", Location: "HQ", Name: "Li Lei", Phone: "+8613800138000", CostCentre: "R&D"}
	replies, err := h.eng.Handle(context.Background(), dialog.Inbound{ID: "view:V9", Key: h.key, Form: &f})
	if err != nil || len(replies) == 0 || !strings.Contains(replies[0].Text, "choose an item") {
		t.Fatalf("replies = %+v, %v", replies, err)
	}
	if got := h.orders(); len(got) != 0 {
		t.Fatalf("orders = %+v", got)
	}
}

// The type-ahead offers the active products matching what was typed that
// have something in stock, priced by what can be ordered, in the user's
// language.
func TestFormProducts(t *testing.T) {
	h := newHarness(t, "en", withCompany)
	ctx := context.Background()
	c := testCatalog()
	c.Products[1].Variants[0].Stock = 0                                          // the notebook sold out
	c.Products[0].Variants[1].Price = orders.Money{Amount: 400, Currency: "CNY"} // the sold-out red pen dearer
	long := orders.Product{
		SKU: "pen-long", CategoryID: "office", Kind: orders.KindGoods, Active: true, Position: 5,
		Name: orders.Text{"en": "Pen " + strings.Repeat("with a very long name ", 5)},
		Variants: []orders.Variant{
			{SKU: "pen-long-1", ProductSKU: "pen-long", Name: orders.Text{"en": "One"}, Price: orders.Money{Amount: 100, Currency: "CNY"}, Stock: 1},
			{SKU: "pen-long-2", ProductSKU: "pen-long", Name: orders.Text{"en": "Two"}, Price: orders.Money{Amount: 250, Currency: "CNY"}, Stock: 1},
		},
	}
	c.Products = append(c.Products, long)
	if _, err := h.svc.ImportCatalog(ctx, c); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, query string
		want        []string // labels
	}{
		{"by name", "gel", []string{"Gel pen — ¥3.50"}},
		{"by SKU, several", "pen", []string{"Gel pen — ¥3.50", ""}},
		{"sold out", "notebook", nil},
		{"none", "stapler", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.eng.FormProducts(ctx, h.key, tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("products = %+v, want %q", got, tc.want)
			}
			for i, w := range tc.want {
				if w != "" && got[i].Label != w {
					t.Errorf("label %d = %q, want %q", i, got[i].Label, w)
				}
			}
		})
	}
	got, _ := h.eng.FormProducts(ctx, h.key, "long")
	if len(got) != 1 || got[0].Action != "pen-long" || utf8.RuneCountInString(got[0].Label) > 75 || !strings.HasSuffix(got[0].Label, "… — ¥1.00 – ¥2.50") {
		t.Errorf("a long name with a price range = %+v", got)
	}
	zh := newHarness(t, "zh", withCompany)
	zh.say("/start") // the conversation speaks Chinese
	if got, err := zh.eng.FormProducts(ctx, zh.key, "笔"); err != nil || len(got) != 2 || !strings.HasPrefix(got[0].Label, "中性笔") {
		t.Errorf("in Chinese: %+v, %v", got, err)
	}
}

// The variant select lists the product's variants in stock; an unknown or
// inactive product has none.
func TestFormVariants(t *testing.T) {
	h := newHarness(t, "en", withCompany)
	ctx := context.Background()
	got, err := h.eng.FormVariants(ctx, h.key, "pen")
	if err != nil || len(got) != 1 || got[0] != (dialog.Button{Label: "Black — ¥3.50", Action: "pen-blk"}) {
		t.Fatalf("variants of the pen = %+v, %v", got, err)
	}
	for _, sku := range []string{"", "nope", "pen-blk"} {
		if got, err := h.eng.FormVariants(ctx, h.key, sku); err != nil || len(got) != 0 {
			t.Errorf("variants of %q = %+v, %v", sku, got, err)
		}
	}
	zh := newHarness(t, "zh", withCompany)
	zh.say("/start")
	if got, _ := zh.eng.FormVariants(ctx, zh.key, "pen"); len(got) != 1 || got[0].Label != "黑色 — ¥3.50" {
		t.Errorf("in Chinese: %+v", got)
	}
}

// A checked form places its order once per submission, leaves the
// conversation's cart alone, and is remembered for the next form.
func TestPlaceForm(t *testing.T) {
	h := newHarness(t, "en", withCompany)
	ctx := context.Background()
	h.fillCart()
	f := dialog.OrderForm{ProductSKU: "pen", VariantSKU: "pen-blk", Quantity: "2", Location: "HQ, 12F", Name: "Li Lei", Phone: "+8613800138000", CostCentre: "R&D-42"}
	if problems, _ := h.eng.CheckForm(ctx, h.key, &f); len(problems) != 0 {
		t.Fatal(problems)
	}
	in := dialog.Inbound{ID: "view:V1", Key: h.key, Form: &f}
	replies, err := h.eng.Handle(ctx, in)
	if err != nil || len(replies) == 0 || !strings.Contains(replies[0].Text, "charged to cost centre R&D-42") {
		t.Fatalf("form placed as %+v, %v", replies, err)
	}
	// The same submission again (Slack retried it) shows the order placed.
	again, err := h.eng.Handle(ctx, in)
	if err != nil || len(again) != 1 || !strings.Contains(again[0].Text, "being prepared") {
		t.Fatalf("the submission again = %+v, %v", again, err)
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
