package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"orderbot/orders"
)

func TestPlaceOrder(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	svc := mustService(t, s)
	ctx := context.Background()

	placed := mustPlace(t, svc, draft("k1", line("tea-green", 3, 1200), line("coffee-250g", 1, 4800)))

	if placed.Status != orders.StatusPendingShipment {
		t.Errorf("status = %s, want %s for cash on delivery", placed.Status, orders.StatusPendingShipment)
	}
	if want := cny(3*1200 + 4800); placed.Total != want {
		t.Errorf("total = %v, want %v", placed.Total, want)
	}
	wantLines := []orders.Line{
		{VariantSKU: "tea-green", ProductSKU: "tea", ProductName: orders.Text{"en": "Tea", "zh": "茶"}, VariantName: text("Green, 100 g"), UnitPrice: cny(1200), Quantity: 3},
		{VariantSKU: "coffee-250g", ProductSKU: "coffee", ProductName: text("Coffee"), VariantName: text("250 g"), UnitPrice: cny(4800), Quantity: 1},
	}
	if !reflect.DeepEqual(placed.Lines, wantLines) {
		t.Errorf("lines = %+v, want %+v", placed.Lines, wantLines)
	}
	for sku, want := range map[string]int{"tea-green": 7, "coffee-250g": 2, "tea-black": 5} {
		if got := mustStock(t, s, sku); got != want {
			t.Errorf("stock of %s = %d, want %d", sku, got, want)
		}
	}

	// What is read back is what was returned.
	got, err := svc.Order(ctx, placed.Number)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, placed) {
		t.Errorf("Order() =\n%+v\nwant what Place returned\n%+v", got, placed)
	}
	wantHistory := []orders.Change{{From: "", To: orders.StatusPendingShipment, Actor: "customer", At: placed.CreatedAt}}
	if !reflect.DeepEqual(got.History, wantHistory) {
		t.Errorf("history = %+v, want %+v", got.History, wantHistory)
	}
	if got.CreatedAt.Location() != time.UTC || got.CreatedAt.Before(t0) {
		t.Errorf("created at %v, want UTC after %v", got.CreatedAt, t0)
	}

	// A later price change does not touch the order: its lines are frozen.
	c := testCatalog()
	c.Products[0].Variants[0].Price = cny(9900)
	c.Products[0].Name = text("Fine tea")
	mustImport(t, s, c)
	if again, _ := svc.Order(ctx, placed.Number); !reflect.DeepEqual(again.Lines, wantLines) {
		t.Errorf("lines after a catalog change = %+v, want %+v", again.Lines, wantLines)
	}

	ns, err := s.ClaimNotifications(ctx, orders.NotificationFilter{}, 10, placed.CreatedAt, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	wantN := []orders.Notification{{
		ID: ns[0].ID, Customer: customer, OrderNumber: placed.Number, From: "", To: orders.StatusPendingShipment,
		Actor: orders.ActorCustomer, CreatedAt: placed.CreatedAt, Attempts: 1,
	}}
	if !reflect.DeepEqual(ns, wantN) {
		t.Errorf("outbox = %+v, want %+v", ns, wantN)
	}
}

func TestPlaceOrderSameCheckoutKey(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	svc := mustService(t, s)

	d := draft("k1", line("tea-green", 2, 1200))
	first := mustPlace(t, svc, d)
	second := mustPlace(t, svc, d)
	if !reflect.DeepEqual(first, second) {
		t.Errorf("second Place =\n%+v\nwant the first order\n%+v", second, first)
	}
	// Even when the cart changed meanwhile: the key names the checkout.
	third := mustPlace(t, svc, draft("k1", line("coffee-250g", 9, 1)))
	if third.Number != first.Number {
		t.Errorf("third Place = %s, want %s", third.Number, first.Number)
	}
	if got := mustStock(t, s, "tea-green"); got != 8 {
		t.Errorf("stock = %d, want 8: decremented once", got)
	}
	if got := mustCount(t, s, "outbox"); got != 1 {
		t.Errorf("outbox rows = %d, want 1", got)
	}
}

// A double-pressed Confirm, retried by two goroutines at once, places one order.
func TestPlaceOrderConcurrentSameCheckoutKey(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	svc := mustService(t, s)

	const n = 20
	numbers := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			o, err := svc.Place(context.Background(), draft("double", line("tea-green", 2, 1200)))
			numbers[i], errs[i] = o.Number, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Place %d: %v", i, errs[i])
		}
		if numbers[i] != numbers[0] {
			t.Errorf("Place %d = %s, want %s like the first", i, numbers[i], numbers[0])
		}
	}
	if got := mustCount(t, s, "orders"); got != 1 {
		t.Errorf("orders = %d, want 1", got)
	}
	if got := mustStock(t, s, "tea-green"); got != 8 {
		t.Errorf("stock = %d, want 8", got)
	}
}

func TestPlaceOrderProblems(t *testing.T) {
	tests := []struct {
		name  string
		lines []orders.DraftLine
		want  []orders.Problem
	}{
		{
			name:  "price changed",
			lines: []orders.DraftLine{line("tea-green", 1, 1000)},
			want:  []orders.Problem{{Kind: orders.ProblemPriceChanged, VariantSKU: "tea-green", Requested: 1, Available: 10, Shown: cny(1000), Current: cny(1200)}},
		},
		{
			name:  "currency changed",
			lines: []orders.DraftLine{{VariantSKU: "tea-green", Quantity: 1, UnitPrice: orders.Money{Amount: 1200, Currency: "USD"}}},
			want:  []orders.Problem{{Kind: orders.ProblemPriceChanged, VariantSKU: "tea-green", Requested: 1, Available: 10, Shown: orders.Money{Amount: 1200, Currency: "USD"}, Current: cny(1200)}},
		},
		{
			name:  "out of stock",
			lines: []orders.DraftLine{line("cookie-box", 1, 2000)},
			want:  []orders.Problem{{Kind: orders.ProblemOutOfStock, VariantSKU: "cookie-box", Requested: 1, Available: 0, Shown: cny(2000), Current: cny(2000)}},
		},
		{
			name:  "low stock",
			lines: []orders.DraftLine{line("coffee-250g", 5, 4800)},
			want:  []orders.Problem{{Kind: orders.ProblemLowStock, VariantSKU: "coffee-250g", Requested: 5, Available: 3, Shown: cny(4800), Current: cny(4800)}},
		},
		{
			name:  "unknown variant",
			lines: []orders.DraftLine{line("caviar", 1, 100)},
			want:  []orders.Problem{{Kind: orders.ProblemUnavailable, VariantSKU: "caviar", Requested: 1, Shown: cny(100)}},
		},
		{
			name:  "inactive product",
			lines: []orders.DraftLine{line("mate-500g", 1, 6000)},
			want:  []orders.Problem{{Kind: orders.ProblemUnavailable, VariantSKU: "mate-500g", Requested: 1, Shown: cny(6000)}},
		},
		{
			name:  "price changed and low stock",
			lines: []orders.DraftLine{line("tea-black", 6, 1400)},
			want: []orders.Problem{
				{Kind: orders.ProblemPriceChanged, VariantSKU: "tea-black", Requested: 6, Available: 5, Shown: cny(1400), Current: cny(1500)},
				{Kind: orders.ProblemLowStock, VariantSKU: "tea-black", Requested: 6, Available: 5, Shown: cny(1400), Current: cny(1500)},
			},
		},
		{
			name:  "one bad line among good ones",
			lines: []orders.DraftLine{line("tea-green", 2, 1200), line("cookie-box", 1, 2000), line("gift-100", 1, 10000)},
			want:  []orders.Problem{{Kind: orders.ProblemOutOfStock, VariantSKU: "cookie-box", Requested: 1, Available: 0, Shown: cny(2000), Current: cny(2000)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t)
			mustImport(t, s, testCatalog())
			svc := mustService(t, s)

			_, err := svc.Place(context.Background(), draft("k-"+tt.name, tt.lines...))
			if got := problemsOf(t, err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems =\n%+v\nwant\n%+v", got, tt.want)
			}
			if code := orders.ErrorCode(err); code != orders.EINTERNAL {
				// A ProblemsError is not an *orders.Error; the dialog shows
				// the cart again rather than a message.
				t.Errorf("ErrorCode = %s", code)
			}
			for _, table := range []string{"orders", "order_lines", "order_history", "outbox"} {
				if n := mustCount(t, s, table); n != 0 {
					t.Errorf("%s has %d rows, want none", table, n)
				}
			}
			for _, v := range []orders.Variant{testCatalog().Products[0].Variants[0], testCatalog().Products[4].Variants[0]} {
				if got := mustStock(t, s, v.SKU); got != v.Stock {
					t.Errorf("stock of %s = %d, want %d untouched", v.SKU, got, v.Stock)
				}
			}
		})
	}
}

// 200 customers race for the last 50 units: exactly 50 get one.
func TestPlaceOrderStockRace(t *testing.T) {
	s := mustOpen(t)
	c := testCatalog()
	c.Products[0].Variants[0].Stock = 50
	mustImport(t, s, c)
	svc := mustService(t, s)

	const buyers = 200
	errs := make([]error, buyers)
	var wg sync.WaitGroup
	for i := range buyers {
		wg.Go(func() {
			_, errs[i] = svc.Place(context.Background(), draft(fmt.Sprintf("buyer-%d", i), line("tea-green", 1, 1200)))
		})
	}
	wg.Wait()

	placed, refused := 0, 0
	for i, err := range errs {
		var pe *orders.ProblemsError
		switch {
		case err == nil:
			placed++
		case errors.As(err, &pe):
			refused++
			if len(pe.Problems) != 1 || pe.Problems[0].Kind != orders.ProblemOutOfStock {
				t.Errorf("buyer %d: problems %+v, want one %s", i, pe.Problems, orders.ProblemOutOfStock)
			}
		default:
			t.Errorf("buyer %d: %v", i, err)
		}
	}
	if placed != 50 || refused != 150 {
		t.Errorf("placed %d, refused %d; want 50 and 150", placed, refused)
	}
	if got := mustCount(t, s, "orders"); got != 50 {
		t.Errorf("orders = %d, want 50", got)
	}
	if got := mustStock(t, s, "tea-green"); got != 0 {
		t.Errorf("stock = %d, want 0", got)
	}
}

func TestPlaceOrderNumberTaken(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	ctx := context.Background()

	first, err := s.PlaceOrder(ctx, draft("k1", line("tea-green", 1, 1200)), "OB-2222222", t0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.PlaceOrder(ctx, draft("k2", line("tea-green", 1, 1200)), first.Number, t0)
	if !errors.Is(err, orders.ErrNumberTaken) {
		t.Fatalf("placing with a taken number: %v, want orders.ErrNumberTaken", err)
	}
	if got := mustStock(t, s, "tea-green"); got != 9 {
		t.Errorf("stock = %d, want 9: the refused order reserved nothing", got)
	}
	// The same checkout with a fresh number still finds its order.
	again, err := s.PlaceOrder(ctx, draft("k1", line("tea-green", 1, 1200)), "OB-3333333", t0)
	if err != nil || again.Number != first.Number {
		t.Errorf("repeated checkout = %s, %v; want %s", again.Number, err, first.Number)
	}
}

func TestPlaceOrderTotalOverflow(t *testing.T) {
	s := mustOpen(t)
	c := testCatalog()
	c.Products[4].Variants[0].Price = cny(1 << 62)
	c.Products[4].Variants[0].Stock = orders.MaxStock
	mustImport(t, s, c)
	_, err := mustService(t, s).Place(context.Background(), draft("k1", line("gift-100", 4, 1<<62)))
	wantCode(t, err, orders.EINVALID)
	if got := mustStock(t, s, "gift-100"); got != orders.MaxStock {
		t.Errorf("stock = %d, want %d untouched", got, orders.MaxStock)
	}
}

func TestOrdersFilter(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	svc := mustService(t, s)
	ctx := context.Background()

	other := orders.Customer{Channel: "telegram", Chat: "42", User: "42", Lang: "zh"}
	a := mustPlace(t, svc, draft("a", line("tea-green", 1, 1200)))
	b := mustPlace(t, svc, draft("b", line("tea-black", 1, 1500)))
	dc := draft("c", line("gift-100", 1, 10000))
	dc.Customer = other
	c := mustPlace(t, svc, dc)
	if _, err := svc.Advance(ctx, a.Number, orders.Transition{To: orders.StatusShipped}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		filter orders.Filter
		want   []string
	}{
		{name: "all, newest first", filter: orders.Filter{}, want: []string{c.Number, b.Number, a.Number}},
		{name: "by customer", filter: orders.Filter{Customer: &customer}, want: []string{b.Number, a.Number}},
		{name: "language does not matter", filter: orders.Filter{Customer: &orders.Customer{Channel: "telegram", Chat: "42", User: "42"}}, want: []string{c.Number}},
		{name: "by status", filter: orders.Filter{Status: orders.StatusShipped}, want: []string{a.Number}},
		{name: "by customer and status", filter: orders.Filter{Customer: &customer, Status: orders.StatusPendingShipment}, want: []string{b.Number}},
		{name: "limit", filter: orders.Filter{Limit: 2}, want: []string{c.Number, b.Number}},
		{name: "nobody", filter: orders.Filter{Customer: &orders.Customer{Channel: "slack", Chat: "x", User: "y"}}, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := svc.Orders(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			numbers := []string{}
			for _, o := range got {
				numbers = append(numbers, o.Number)
				if len(o.Lines) != 1 {
					t.Errorf("%s has %d lines, want 1", o.Number, len(o.Lines))
				}
				if o.History != nil {
					t.Errorf("%s comes with history; Orders leaves it out", o.Number)
				}
			}
			if !reflect.DeepEqual(numbers, tt.want) {
				t.Errorf("orders %v, want %v", numbers, tt.want)
			}
		})
	}
}

// Goods are delivered to an address: an order of goods without one is
// refused and writes nothing; a digital order needs none.
func TestPlaceOrderNeedsAddressForGoods(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	svc := mustService(t, s)
	d := draft("k1", line("tea-green", 1, 1200))
	d.Address = "  "
	_, err := svc.Place(context.Background(), d)
	wantCode(t, err, orders.EINVALID)
	if n := mustCount(t, s, "orders"); n != 0 {
		t.Fatalf("%d orders written", n)
	}
	if got := mustStock(t, s, "tea-green"); got != 10 {
		t.Fatalf("stock = %d, want 10", got)
	}
	gift := testCatalog().Products[4].Variants[0]
	d = draft("k2", line(gift.SKU, 1, gift.Price.Amount))
	d.Address = ""
	mustPlace(t, svc, d)
}
