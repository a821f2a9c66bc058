package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"orderbot/orders"
)

// benchVariants is how many variants the benchmark orders spread over, so
// that they do not all update one row.
const benchVariants = 500

// benchCatalog is one category of n single-variant products, p0 to p(n-1),
// variant pI-v priced 100+I, with as much stock as a catalog may hold.
// scripts/bench-postgres.sh writes the same catalog for pgbench.
func benchCatalog(n int) *orders.Catalog {
	c := &orders.Catalog{Categories: []orders.Category{{ID: "bench", Name: text("Bench")}}}
	for i := range n {
		sku := fmt.Sprintf("p%d", i)
		c.Products = append(c.Products, orders.Product{
			SKU: sku, CategoryID: "bench", Kind: orders.KindGoods, Active: true, Name: text("Product " + sku),
			Variants: []orders.Variant{{SKU: sku + "-v", Name: text("Only"), Price: cny(int64(100 + i)), Stock: orders.MaxStock}},
		})
	}
	return c
}

// benchDraft is the i-th order: two lines, quantity 1 each.
func benchDraft(i int) orders.Draft {
	a, b := i%benchVariants, (i+1)%benchVariants
	return draft(fmt.Sprintf("bench-%d", i),
		line(fmt.Sprintf("p%d-v", a), 1, int64(100+a)),
		line(fmt.Sprintf("p%d-v", b), 1, int64(100+b)))
}

// reportOrdersPerSecond reports n orders over the benchmark's measured time.
func reportOrdersPerSecond(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "orders/s")
}

// BenchmarkPlaceOrder places orders one after another through the Service
// and the Store, one write transaction each (on SQLite, a WAL file). Like
// every benchmark of the package, it runs once a dialect, named after it
// (BenchmarkPlaceOrder/sqlite, …/postgres): TestMain runs the package
// again on PostgreSQL.
func BenchmarkPlaceOrder(b *testing.B) {
	b.Run(testDialect, func(b *testing.B) {
		s := mustOpen(b)
		mustImport(b, s, benchCatalog(benchVariants))
		svc := orders.NewService(s, nil)
		ctx := context.Background()
		i := 0
		for ; b.Loop(); i++ {
			if _, err := svc.Place(ctx, benchDraft(i)); err != nil {
				b.Fatal(err)
			}
		}
		reportOrdersPerSecond(b, i)
	})
}

// BenchmarkPlaceOrderBareSQL runs the statements PlaceOrder runs for the
// same orders, prepared the same way, straight through database/sql in one
// transaction each, with none of the Go around them: the floor the store
// could reach.
func BenchmarkPlaceOrderBareSQL(b *testing.B) {
	b.Run(testDialect, func(b *testing.B) {
		s := mustOpen(b)
		mustImport(b, s, benchCatalog(benchVariants))
		ctx := context.Background()
		bare := mustPrepareBare(b, s)
		i := 0
		for ; b.Loop(); i++ {
			if err := bare.place(ctx, benchDraft(i)); err != nil {
				b.Fatal(err)
			}
		}
		reportOrdersPerSecond(b, i)
	})
}

// bareSQL places orders with PlaceOrder's statements for an order paid on
// delivery, prepared on the store's write pool, and nothing else.
type bareSQL struct {
	db       *sql.DB
	postgres bool
	stmts    map[string]*sql.Stmt // by the query's text before rebinding
}

// mustPrepareBare prepares PlaceOrder's statements on s's write pool, as
// the store prepares its own: in the dialect's placeholders, the order's
// insert returning its id on PostgreSQL, whose driver has no LastInsertId.
func mustPrepareBare(b *testing.B, s *Store) *bareSQL {
	b.Helper()
	bare := &bareSQL{db: s.DB().DB, postgres: s.Dialect() == DialectPostgres, stmts: map[string]*sql.Stmt{}}
	insert := qInsertOrder
	if bare.postgres {
		insert = qInsertOrderReturning
	}
	for _, q := range []string{insert, qReserve, qInsertLine, qInsertFirstChange, qInsertOutbox, qLinesOfOrder} {
		st, err := bare.db.Prepare(s.DB().Rebind(q))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		bare.stmts[q] = st
	}
	return bare
}

// place places d in one transaction, as PlaceOrder would place it
// (pending shipment, placed now by its customer), checking only that each
// line's stock was reserved.
func (bare *bareSQL) place(ctx context.Context, d orders.Draft) error {
	c := d.Customer
	at := micros(time.Now())
	var total int64
	for _, l := range d.Lines {
		total += l.UnitPrice.Amount * int64(l.Quantity)
	}
	tx, err := bare.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt := func(q string) *sql.Stmt { return tx.StmtContext(ctx, bare.stmts[q]) }
	number := orders.NewNumber()
	args := []any{number, d.CheckoutKey, c.Channel, c.Chat, c.User, c.Lang, string(orders.StatusPendingShipment), total, "CNY",
		d.Address, d.ContactName, d.Phone, string(d.Payment), d.CostCentre, d.Reason, at, at, ""}
	var id int64
	if bare.postgres {
		err = stmt(qInsertOrderReturning).QueryRowContext(ctx, args...).Scan(&id)
	} else {
		var res sql.Result
		if res, err = stmt(qInsertOrder).ExecContext(ctx, args...); err == nil {
			id, err = res.LastInsertId()
		}
	}
	if err != nil {
		return err
	}
	for j, l := range d.Lines {
		ok, err := affected(stmt(qReserve).ExecContext(ctx, l.Quantity, l.VariantSKU, l.Quantity, l.UnitPrice.Amount, l.UnitPrice.Currency))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s: no stock reserved", l.VariantSKU)
		}
		if _, err := stmt(qInsertLine).ExecContext(ctx, id, j+1, l.Quantity, l.VariantSKU); err != nil {
			return err
		}
	}
	if _, err := stmt(qInsertFirstChange).ExecContext(ctx, id, "", string(orders.StatusPendingShipment), "customer", "", at); err != nil {
		return err
	}
	if _, err := stmt(qInsertOutbox).ExecContext(ctx, number, c.Channel, c.Chat, c.User, c.Lang,
		"", string(orders.StatusPendingShipment), "", "", "customer", at, at); err != nil {
		return err
	}
	if _, err := scanLines(stmt(qLinesOfOrder).QueryContext(ctx, id)); err != nil {
		return err
	}
	return tx.Commit()
}
