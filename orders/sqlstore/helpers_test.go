package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"orderbot/internal/testenv"
	"orderbot/orders"
)

// t0 is when every test's clock starts.
var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// clock is a test clock that moves one second each time it is read, so every
// event has its own time and order.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// testDialect is the database the package's tests run on: TestMain runs
// them all on SQLite, then again on PostgreSQL.
var testDialect = DialectSQLite

// TestMain runs every test on SQLite files, then on PostgreSQL databases
// when a server is there (testenv; scripts/services.sh starts one): every
// behaviour of the store is checked on both. In CI the PostgreSQL run is
// never skipped.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && (os.Getenv(testenv.PostgresEnv) != "" || os.Getenv("CI") == "true") {
		fmt.Fprintln(os.Stderr, "== orders/sqlstore tests again, on PostgreSQL")
		testDialect = DialectPostgres
		code = m.Run()
	}
	os.Exit(code)
}

// onlySQLite skips a test of something only SQLite has (files, pragmas,
// the checkpointer) in the PostgreSQL run.
func onlySQLite(t testing.TB) {
	t.Helper()
	if testDialect != DialectSQLite {
		t.Skip("SQLite only")
	}
}

// freshDB returns the URL of a new, empty database of the test dialect: a
// file in a temporary directory, or a PostgreSQL database of its own.
func freshDB(t testing.TB) string {
	t.Helper()
	if testDialect == DialectPostgres {
		return testenv.PostgresURL(t)
	}
	return "sqlite:" + filepath.Join(t.TempDir(), "orderbot.db")
}

// mustOpen opens and migrates a store on a fresh database.
func mustOpen(t testing.TB) *Store {
	t.Helper()
	return mustOpenURL(t, freshDB(t))
}

// mustOpenURL opens and migrates a store on the database at url; several
// may share one, as separate processes do.
func mustOpenURL(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// mustTwoProcesses opens two stores on one fresh file, as two processes
// would, with the test catalog and 100 of tea-green in stock, for races
// over many orders.
func mustTwoProcesses(t testing.TB) (one, two *Store) {
	t.Helper()
	db := freshDB(t)
	one, two = mustOpenURL(t, db), mustOpenURL(t, db)
	c := testCatalog()
	c.Products[0].Variants[0].Stock = 100
	mustImport(t, one, c)
	return one, two
}

// mustOpenMigratedBefore opens a store on a fresh database whose schema is as
// Migrate left it before the migration file named existed, for testing
// that migration's upgrade of an older database.
func mustOpenMigratedBefore(t testing.TB, name string) *Store {
	t.Helper()
	s, err := Open(context.Background(), freshDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`CREATE TABLE schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL,
		name TEXT NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (component, version))`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.name == name {
			return s
		}
		for _, st := range statements(m.sql, testDialect) {
			if _, err := s.db.Exec(st); err != nil {
				t.Fatalf("%s: %v", m.name, err)
			}
		}
		if _, err := s.db.Exec(s.db.Rebind("INSERT INTO schema_migrations VALUES (?, ?, ?, 0)"), component, m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("no migration %s", name)
	return nil
}

// mustExec runs statements on the write pool, in order.
func mustExec(t testing.TB, s *Store, statements ...string) {
	t.Helper()
	for _, q := range statements {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// mustExecOldOrder writes, on a store migrated only so far, the catalog of
// one variant (tea-green, 9 in stock) and the order insertOrder inserts, id
// 1, with one line of it and its placement (pending_shipment): an order
// from an older orderbot, for testing a migration's upgrade.
func mustExecOldOrder(t testing.TB, s *Store, insertOrder string) {
	t.Helper()
	mustExec(t, s,
		`INSERT INTO categories (id, name) VALUES ('drinks', '{"en":"Drinks"}')`,
		`INSERT INTO products (sku, category_id, kind, name, description, specs) VALUES ('tea', 'drinks', 'goods', '{"en":"Tea"}', '{}', '[]')`,
		`INSERT INTO variants (sku, product_sku, name, price, currency, stock) VALUES ('tea-green', 'tea', '{"en":"Green, 100 g"}', 1200, 'CNY', 9)`,
		insertOrder,
		`INSERT INTO order_lines (order_id, line_no, variant_sku, product_sku, product_name, variant_name, unit_price, currency, quantity)
			VALUES (1, 1, 'tea-green', 'tea', '{"en":"Tea"}', '{"en":"Green, 100 g"}', 1200, 'CNY', 1)`,
		`INSERT INTO order_history (order_id, seq, from_status, to_status, actor, at) VALUES (1, 1, '', 'pending_shipment', 'customer', 1)`,
	)
}

// mustGet returns the one value query q reads, on the read pool.
func mustGet[T any](t testing.TB, s *Store, q string, args ...any) T {
	t.Helper()
	var v T
	if err := s.rdb.Get(&v, s.rdb.Rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// mustRace runs do(0) and do(1) at once, as two people in two processes
// would, and returns which one succeeded and what both returned. It fails
// the test unless exactly one did, and the other got ECONFLICT.
func mustRace(t testing.TB, do func(j int) (orders.Order, error)) (winner int, results [2]orders.Order) {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var errs [2]error
	for j := range 2 {
		wg.Go(func() {
			<-start
			results[j], errs[j] = do(j)
		})
	}
	close(start)
	wg.Wait()
	if errs[0] != nil {
		winner = 1
	}
	if errs[winner] != nil || orders.ErrorCode(errs[1-winner]) != orders.ECONFLICT {
		t.Fatalf("errors %v and %v; want one success and one ECONFLICT", errs[0], errs[1])
	}
	return winner, results
}

// mustValid returns configuration v, failing the test unless it is valid.
func mustValid[T interface{ Validate() error }](t testing.TB, v T) T {
	t.Helper()
	if err := v.Validate(); err != nil {
		t.Fatalf("%T: %v", v, err)
	}
	return v
}

// mustService returns a Service over s with a test clock.
func mustService(t testing.TB, s *Store) *orders.Service {
	t.Helper()
	return orders.NewService(s, newClock().Now)
}

func text(en string) orders.Text { return orders.Text{"en": en} }

func cny(amount int64) orders.Money { return orders.Money{Amount: amount, Currency: "CNY"} }

// testCatalog is a small shop: two categories, an inactive product, a
// variant out of stock, one with little stock and a digital one also sold
// for Telegram Stars. Products and variants are
// in catalog order, so that it equals what Catalog returns once imported.
func testCatalog() *orders.Catalog {
	return &orders.Catalog{
		Categories: []orders.Category{
			{ID: "drinks", Name: orders.Text{"en": "Drinks", "zh": "饮品"}, Position: 1},
			{ID: "snacks", Name: text("Snacks"), Position: 2},
		},
		Products: []orders.Product{
			{
				SKU: "tea", CategoryID: "drinks", Kind: orders.KindGoods, Position: 1, Active: true,
				Name:        orders.Text{"en": "Tea", "zh": "茶"},
				Description: text("Loose leaf tea."),
				Specs:       []orders.Spec{{Name: text("Origin"), Value: text("Fujian")}},
				Image:       "images/tea.jpg", Rating: 45,
				Variants: []orders.Variant{
					{SKU: "tea-green", ProductSKU: "tea", Name: text("Green, 100 g"), Price: cny(1200), Stock: 10, Position: 1},
					{SKU: "tea-black", ProductSKU: "tea", Name: text("Black, 100 g"), Price: cny(1500), Stock: 5, Position: 2},
				},
			},
			{
				SKU: "coffee", CategoryID: "drinks", Kind: orders.KindGoods, Position: 2, Active: true,
				Name: text("Coffee"),
				Variants: []orders.Variant{
					{SKU: "coffee-250g", ProductSKU: "coffee", Name: text("250 g"), Price: cny(4800), Stock: 3, Position: 1},
				},
			},
			{
				SKU: "mate", CategoryID: "drinks", Kind: orders.KindGoods, Position: 3, Active: false,
				Name: text("Mate"),
				Variants: []orders.Variant{
					{SKU: "mate-500g", ProductSKU: "mate", Name: text("500 g"), Price: cny(6000), Stock: 7, Position: 1},
				},
			},
			{
				SKU: "cookie", CategoryID: "snacks", Kind: orders.KindGoods, Position: 1, Active: true,
				Name: text("Cookies"),
				Variants: []orders.Variant{
					{SKU: "cookie-box", ProductSKU: "cookie", Name: text("Box of 12"), Price: cny(2000), Stock: 0, Position: 1},
				},
			},
			{
				SKU: "gift", CategoryID: "snacks", Kind: orders.KindDigital, Position: 2, Active: true,
				Name: text("Gift card"),
				Variants: []orders.Variant{
					{SKU: "gift-100", ProductSKU: "gift", Name: text("¥100"), Price: cny(10000), Stars: 500, Stock: 1000, Position: 1},
				},
			},
		},
	}
}

// mustImport imports c through the Service, which validates it first.
func mustImport(t testing.TB, s *Store, c *orders.Catalog) orders.ImportReport {
	t.Helper()
	rep, err := orders.NewService(s, nil).ImportCatalog(context.Background(), c)
	if err != nil {
		t.Fatalf("ImportCatalog: %v", err)
	}
	return rep
}

// customer is who places the test orders unless a test says otherwise.
var customer = orders.Customer{Channel: "console", Chat: "chat-1", User: "user-1", Lang: "en"}

// draft returns a cash-on-delivery checkout of lines.
func draft(key string, lines ...orders.DraftLine) orders.Draft {
	return orders.Draft{
		CheckoutKey: key,
		Customer:    customer,
		Lines:       lines,
		Address:     "1 Garden Road, Hangzhou",
		ContactName: "Li Lei",
		Phone:       "+8613800000000",
		Payment:     orders.PayOnDelivery,
	}
}

func line(sku string, qty int, price int64) orders.DraftLine {
	return orders.DraftLine{VariantSKU: sku, Quantity: qty, UnitPrice: cny(price)}
}

// mustPlace places d and fails the test on any error.
func mustPlace(t testing.TB, svc *orders.Service, d orders.Draft) orders.Order {
	t.Helper()
	o, err := svc.Place(context.Background(), d)
	if err != nil {
		t.Fatalf("Place(%s): %v", d.CheckoutKey, err)
	}
	return o
}

// mustStock returns a variant's stock as stored.
func mustStock(t testing.TB, s *Store, sku string) int {
	t.Helper()
	var n int
	if err := s.rdb.Get(&n, s.rdb.Rebind("SELECT stock FROM variants WHERE sku = ?"), sku); err != nil {
		t.Fatalf("stock of %s: %v", sku, err)
	}
	return n
}

// mustCount returns the number of rows of a table.
func mustCount(t testing.TB, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.rdb.Get(&n, "SELECT COUNT(*) FROM "+table); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// mustForceStatus puts an order in a status directly, bypassing the
// lifecycle, to set up a test for a status no placement starts in.
func mustForceStatus(t testing.TB, s *Store, number string, st orders.Status) {
	t.Helper()
	if _, err := s.db.Exec(s.db.Rebind("UPDATE orders SET status = ? WHERE number = ?"), string(st), number); err != nil {
		t.Fatalf("force %s to %s: %v", number, st, err)
	}
}

// wantCode fails the test unless err carries code.
func wantCode(t testing.TB, err error, code orders.Code) {
	t.Helper()
	if got := orders.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

// problemsOf returns the problems of a *orders.ProblemsError, failing the
// test when err is anything else.
func problemsOf(t testing.TB, err error) []orders.Problem {
	t.Helper()
	var pe *orders.ProblemsError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v, want *orders.ProblemsError", err)
	}
	return pe.Problems
}
