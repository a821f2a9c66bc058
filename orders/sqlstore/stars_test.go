package sqlstore

import (
	"context"
	"reflect"
	"testing"
	"time"

	"orderbot/orders"
)

// xtr is an amount of Telegram Stars.
func xtr(stars int64) orders.Money {
	return orders.Money{Amount: stars, Currency: orders.CurrencyStars}
}

// starsDraft returns a checkout of digital lines paid in Telegram Stars:
// no address needed.
func starsDraft(key string, lines ...orders.DraftLine) orders.Draft {
	d := draft(key, lines...)
	d.Address = ""
	d.Payment = orders.PayStars
	return d
}

// starsLine is a cart line shown at a price in Stars.
func starsLine(sku string, qty int, stars int64) orders.DraftLine {
	return orders.DraftLine{VariantSKU: sku, Quantity: qty, UnitPrice: xtr(stars)}
}

func TestPlaceOrderStars(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	svc := mustService(t, s)
	ctx := context.Background()

	placed := mustPlace(t, svc, starsDraft("k1", starsLine("gift-100", 2, 500)))

	if placed.Status != orders.StatusPendingPayment || placed.Payment != orders.PayStars {
		t.Errorf("status = %s, payment = %s; want pending_payment, stars", placed.Status, placed.Payment)
	}
	if placed.Total != xtr(1000) {
		t.Errorf("total = %v, want XTR 1000", placed.Total)
	}
	wantLines := []orders.Line{{
		VariantSKU: "gift-100", ProductSKU: "gift", ProductName: text("Gift card"), VariantName: text("¥100"),
		UnitPrice: xtr(500), Quantity: 2,
	}}
	if !reflect.DeepEqual(placed.Lines, wantLines) {
		t.Errorf("lines = %+v, want %+v", placed.Lines, wantLines)
	}
	if got := mustStock(t, s, "gift-100"); got != 998 {
		t.Errorf("stock = %d, want 998: reserved while the order waits for payment", got)
	}
	got, err := svc.Order(ctx, placed.Number)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, placed) {
		t.Errorf("Order() =\n%+v\nwant what Place returned\n%+v", got, placed)
	}

	// The same checkout placed again is the same order, reserved once.
	if again := mustPlace(t, svc, starsDraft("k1", starsLine("gift-100", 2, 500))); again.Number != placed.Number {
		t.Errorf("repeated checkout = %s, want %s", again.Number, placed.Number)
	}
	if got := mustStock(t, s, "gift-100"); got != 998 {
		t.Errorf("stock = %d, want 998 after a repeated checkout", got)
	}

	// Paid in yuan, the same product is still sold at its yuan price.
	d := draft("k2", line("gift-100", 1, 10000))
	d.Payment = orders.PayTelegram
	if o := mustPlace(t, svc, d); o.Total != cny(10000) {
		t.Errorf("total paid by card = %v, want ¥100.00", o.Total)
	}
}

func TestPlaceOrderStarsProblems(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, s *Store) // after importing testCatalog; nil for nothing
		lines []orders.DraftLine
		want  []orders.Problem
	}{
		{
			name:  "stars price changed",
			lines: []orders.DraftLine{starsLine("gift-100", 1, 400)},
			want:  []orders.Problem{{Kind: orders.ProblemPriceChanged, VariantSKU: "gift-100", Requested: 1, Available: 1000, Shown: xtr(400), Current: xtr(500)}},
		},
		{
			name:  "no stars shown",
			lines: []orders.DraftLine{starsLine("gift-100", 1, 0)},
			want:  []orders.Problem{{Kind: orders.ProblemPriceChanged, VariantSKU: "gift-100", Requested: 1, Available: 1000, Shown: xtr(0), Current: xtr(500)}},
		},
		{
			name: "stars price changed and low stock",
			setup: func(t *testing.T, s *Store) {
				c := testCatalog()
				c.Products[4].Variants[0].Stars, c.Products[4].Variants[0].Stock = 600, 2
				mustImport(t, s, c)
			},
			lines: []orders.DraftLine{starsLine("gift-100", 3, 500)},
			want: []orders.Problem{
				{Kind: orders.ProblemPriceChanged, VariantSKU: "gift-100", Requested: 3, Available: 2, Shown: xtr(500), Current: xtr(600)},
				{Kind: orders.ProblemLowStock, VariantSKU: "gift-100", Requested: 3, Available: 2, Shown: xtr(500), Current: xtr(600)},
			},
		},
		{
			name: "out of stock",
			setup: func(t *testing.T, s *Store) {
				c := testCatalog()
				c.Products[4].Variants[0].Stock = 0
				mustImport(t, s, c)
			},
			lines: []orders.DraftLine{starsLine("gift-100", 1, 500)},
			want:  []orders.Problem{{Kind: orders.ProblemOutOfStock, VariantSKU: "gift-100", Requested: 1, Available: 0, Shown: xtr(500), Current: xtr(500)}},
		},
		{
			name: "no longer sold for stars",
			setup: func(t *testing.T, s *Store) {
				c := testCatalog()
				c.Products[4].Variants[0].Stars = 0
				mustImport(t, s, c)
			},
			lines: []orders.DraftLine{starsLine("gift-100", 1, 500)},
			want:  []orders.Problem{{Kind: orders.ProblemUnavailable, VariantSKU: "gift-100", Requested: 1, Shown: xtr(500)}},
		},
		{
			// 0 stars is "not sold for Stars", never a price of nothing.
			name: "not sold for stars, shown free",
			setup: func(t *testing.T, s *Store) {
				c := testCatalog()
				c.Products[4].Variants[0].Stars = 0
				mustImport(t, s, c)
			},
			lines: []orders.DraftLine{starsLine("gift-100", 1, 0)},
			want:  []orders.Problem{{Kind: orders.ProblemUnavailable, VariantSKU: "gift-100", Requested: 1, Shown: xtr(0)}},
		},
		{
			name: "inactive product",
			setup: func(t *testing.T, s *Store) {
				c := testCatalog()
				c.Products[4].Active = false
				mustImport(t, s, c)
			},
			lines: []orders.DraftLine{starsLine("gift-100", 1, 500)},
			want:  []orders.Problem{{Kind: orders.ProblemUnavailable, VariantSKU: "gift-100", Requested: 1, Shown: xtr(500)}},
		},
		{
			name:  "goods",
			lines: []orders.DraftLine{starsLine("tea-green", 1, 1200)},
			want:  []orders.Problem{{Kind: orders.ProblemUnavailable, VariantSKU: "tea-green", Requested: 1, Shown: xtr(1200)}},
		},
		{
			// The catalog refuses Stars on goods; the store does not rely on it.
			name: "goods with a stars price in the database",
			setup: func(t *testing.T, s *Store) {
				if _, err := s.db.Exec("UPDATE variants SET stars = 100 WHERE sku = 'tea-green'"); err != nil {
					t.Fatal(err)
				}
			},
			lines: []orders.DraftLine{starsLine("tea-green", 1, 100)},
			want:  []orders.Problem{{Kind: orders.ProblemUnavailable, VariantSKU: "tea-green", Requested: 1, Shown: xtr(100)}},
		},
		{
			name:  "unknown variant",
			lines: []orders.DraftLine{starsLine("caviar", 1, 100)},
			want:  []orders.Problem{{Kind: orders.ProblemUnavailable, VariantSKU: "caviar", Requested: 1, Shown: xtr(100)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t)
			mustImport(t, s, testCatalog())
			if tt.setup != nil {
				tt.setup(t, s)
			}
			stock := map[string]int{"gift-100": mustStock(t, s, "gift-100"), "tea-green": mustStock(t, s, "tea-green")}

			_, err := mustService(t, s).Place(context.Background(), starsDraft("k1", tt.lines...))
			if got := problemsOf(t, err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems =\n%+v\nwant\n%+v", got, tt.want)
			}
			for _, table := range []string{"orders", "order_lines", "order_history", "outbox"} {
				if n := mustCount(t, s, table); n != 0 {
					t.Errorf("%s has %d rows, want none", table, n)
				}
			}
			for sku, n := range stock {
				if got := mustStock(t, s, sku); got != n {
					t.Errorf("stock of %s = %d, want %d untouched", sku, got, n)
				}
			}
		})
	}
}

// A Stars order is priced in Stars only: a line shown in yuan, or a cart
// mixing both, is refused before anything is written, by the Service and by
// the Store alike.
func TestPlaceOrderStarsInvalid(t *testing.T) {
	tests := []struct {
		name  string
		lines []orders.DraftLine
	}{
		{"priced in yuan", []orders.DraftLine{line("gift-100", 1, 10000)}},
		{"mixed currencies", []orders.DraftLine{starsLine("gift-100", 1, 500), line("tea-green", 1, 1200)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t)
			mustImport(t, s, testCatalog())
			d := starsDraft("k1", tt.lines...)
			_, err := mustService(t, s).Place(context.Background(), d)
			wantCode(t, err, orders.EINVALID)
			_, err = s.PlaceOrder(context.Background(), d, "OB-2222222", t0)
			wantCode(t, err, orders.EINVALID)
			if n := mustCount(t, s, "orders"); n != 0 {
				t.Errorf("%d orders written", n)
			}
			if got := mustStock(t, s, "gift-100"); got != 1000 {
				t.Errorf("stock = %d, want 1000 untouched", got)
			}
		})
	}
}

// A Stars order waits for its total in Stars (CheckPayable compares in
// XTR) and is moved on once per charge id.
func TestStarsPaymentMovesOrderOnce(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	svc := mustService(t, s)
	o := mustPlace(t, svc, starsDraft("k1", starsLine("gift-100", 2, 500)))

	if _, err := svc.CheckPayable(ctx, o.Number, xtr(1000)); err != nil {
		t.Fatalf("CheckPayable(XTR 1000): %v", err)
	}
	for _, wrong := range []orders.Money{xtr(999), cny(1000), cny(100000)} {
		if _, err := svc.CheckPayable(ctx, o.Number, wrong); orders.ErrorCode(err) != orders.ECONFLICT {
			t.Errorf("CheckPayable(%v) = %v, want ECONFLICT", wrong, err)
		}
	}
	p := orders.ReceivedPayment{ChargeID: "stars_1", Method: orders.PayStars, Amount: xtr(1000), At: t0.Add(time.Minute)}
	for range 2 { // the same confirmation twice: a repeated update
		got, err := svc.ConfirmPayment(ctx, o.Number, p)
		if err != nil {
			t.Fatalf("ConfirmPayment: %v", err)
		}
		if got.Status != orders.StatusPendingShipment {
			t.Fatalf("status = %s, want pending_shipment", got.Status)
		}
	}
	got, err := svc.Order(ctx, o.Number)
	if err != nil {
		t.Fatal(err)
	}
	want := []orders.Change{
		{To: orders.StatusPendingPayment, Actor: orders.ActorCustomer, At: o.CreatedAt},
		{From: orders.StatusPendingPayment, To: orders.StatusPendingShipment, Actor: orders.ActorPayment, Note: "paid ⭐1000", At: p.At},
	}
	if !reflect.DeepEqual(got.History, want) {
		t.Errorf("history = %+v, want %+v", got.History, want)
	}
	var paid struct {
		Method   string `db:"method"`
		Amount   int64  `db:"amount"`
		Currency string `db:"currency"`
	}
	if err := s.rdb.Get(&paid, s.rdb.Rebind("SELECT method, amount, currency FROM payments WHERE charge_id = ?"), p.ChargeID); err != nil {
		t.Fatal(err)
	}
	if paid.Method != "stars" || paid.Amount != 1000 || paid.Currency != "XTR" {
		t.Errorf("payment recorded as %+v, want stars, 1000 XTR", paid)
	}
	if n := mustCount(t, s, "payments"); n != 1 {
		t.Errorf("%d payments recorded, want 1", n)
	}
	if got := mustStock(t, s, "gift-100"); got != 998 {
		t.Errorf("stock = %d, want 998 (reserved once)", got)
	}
}

func TestImportStarsPrice(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	c := testCatalog()
	c.Products[4].Variants[0].Stars = 450
	if rep := mustImport(t, s, c); rep != (orders.ImportReport{VariantsUpdated: 1}) {
		t.Errorf("changing a Stars price = %+v, want one variant updated", rep)
	}
	got, err := s.Catalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v, _, _ := got.Variant("gift-100"); v.Stars != 450 {
		t.Errorf("gift-100 stars = %d, want 450", v.Stars)
	}
	// The Service validates what it imports: no Stars on goods.
	c.Products[0].Variants[0].Stars = 100
	_, err = orders.NewService(s, nil).ImportCatalog(context.Background(), c)
	wantCode(t, err, orders.EINVALID)
}

// A database from before Stars keeps its variants, not sold for Stars, when
// it is migrated.
func TestMigrateAddsStarsToExistingVariants(t *testing.T) {
	ctx := context.Background()
	s := mustOpenMigratedBefore(t, "0003_stars.sql")
	mustExec(t, s,
		`INSERT INTO categories (id, name) VALUES ('snacks', '{"en":"Snacks"}')`,
		`INSERT INTO products (sku, category_id, kind, name, description, specs) VALUES ('gift', 'snacks', 'digital', '{"en":"Gift card"}', '{}', '[]')`,
		`INSERT INTO variants (sku, product_sku, name, price, currency, stock) VALUES ('gift-100', 'gift', '{"en":"¥100"}', 10000, 'CNY', 3)`,
	)

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	c, err := s.Catalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, _, ok := c.Variant("gift-100"); !ok || v.Stars != 0 || v.Stock != 3 {
		t.Errorf("gift-100 after migrating = %+v, %v; want it kept, not sold for Stars", v, ok)
	}
	if _, err := s.db.Exec("UPDATE variants SET stars = -1 WHERE sku = 'gift-100'"); err == nil {
		t.Error("a negative Stars price was stored; want the CHECK to refuse it")
	}
}
