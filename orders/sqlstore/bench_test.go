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

// benchCatalog is one category of benchVariants single-variant products
// with as much stock as a catalog may hold.
func benchCatalog() *orders.Catalog {
	c := &orders.Catalog{Categories: []orders.Category{{ID: "bench", Name: text("Bench")}}}
	for i := range benchVariants {
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
// and the Store, one write transaction each, on a WAL file.
func BenchmarkPlaceOrder(b *testing.B) {
	s := mustOpen(b)
	mustImport(b, s, benchCatalog())
	svc := orders.NewService(s, nil)
	ctx := context.Background()
	i := 0
	for ; b.Loop(); i++ {
		if _, err := svc.Place(ctx, benchDraft(i)); err != nil {
			b.Fatal(err)
		}
	}
	reportOrdersPerSecond(b, i)
}

// BenchmarkPlaceOrderBareSQL runs the statements PlaceOrder runs for the
// same orders, prepared the same way, straight through database/sql in one
// transaction each, with none of the Go around them: the floor the store
// could reach.
func BenchmarkPlaceOrderBareSQL(b *testing.B) {
	s := mustOpen(b)
	mustImport(b, s, benchCatalog())
	ctx := context.Background()
	db := s.DB().DB
	queries := []string{qInsertOrder, qReserve, qInsertLine, qInsertFirstChange, qInsertOutbox, qLinesOfOrder}
	stmts := make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		stmts[q] = st
	}
	c := customer
	i := 0
	for ; b.Loop(); i++ {
		d := benchDraft(i)
		at := micros(time.Now())
		var total int64
		for _, l := range d.Lines {
			total += l.UnitPrice.Amount * int64(l.Quantity)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		must := func(err error) {
			if err != nil {
				tx.Rollback()
				b.Fatal(err)
			}
		}
		res, err := tx.StmtContext(ctx, stmts[qInsertOrder]).ExecContext(ctx, orders.NewNumber(), d.CheckoutKey,
			c.Channel, c.Chat, c.User, c.Lang, string(orders.StatusPendingShipment), total, "CNY",
			d.Address, d.ContactName, d.Phone, string(d.Payment), d.CostCentre, d.Reason, at, at, "")
		must(err)
		id, err := res.LastInsertId()
		must(err)
		for j, l := range d.Lines {
			_, err := tx.StmtContext(ctx, stmts[qReserve]).ExecContext(ctx,
				l.Quantity, l.VariantSKU, l.Quantity, l.UnitPrice.Amount, l.UnitPrice.Currency)
			must(err)
			_, err = tx.StmtContext(ctx, stmts[qInsertLine]).ExecContext(ctx, id, j+1, l.Quantity, l.VariantSKU)
			must(err)
		}
		_, err = tx.StmtContext(ctx, stmts[qInsertFirstChange]).ExecContext(ctx, id, "", string(orders.StatusPendingShipment), "customer", "", at)
		must(err)
		_, err = tx.StmtContext(ctx, stmts[qInsertOutbox]).ExecContext(ctx, "OB-X", c.Channel, c.Chat, c.User, c.Lang,
			"", string(orders.StatusPendingShipment), "", "", "customer", at, at)
		must(err)
		rows, err := tx.StmtContext(ctx, stmts[qLinesOfOrder]).QueryContext(ctx, id)
		must(err)
		for rows.Next() {
			var l lineRow
			must(rows.Scan(&l.OrderID, &l.VariantSKU, &l.ProductSKU, &l.ProductName, &l.VariantName, &l.UnitPrice, &l.Currency, &l.Quantity))
		}
		must(rows.Close())
		must(tx.Commit())
	}
	reportOrdersPerSecond(b, i)
}
