package sqlstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"orderbot/orders"
)

// benchClients is how many clients place orders at once in the concurrent
// benchmarks, as many as pgbench runs beside them (scripts/bench-postgres.sh,
// -c 8): PostgreSQL's throughput comes from transactions running side by
// side, each client waiting for its own round trips. On SQLite they queue
// for the one write connection.
const benchClients = 8

// clientsProducts is how many products the concurrent benchmarks' catalog
// has: benchCatalog(clientsProducts).
const clientsProducts = 1000

// An orderShape is what the orders of a concurrent benchmark order: the
// i-th order's draft, and the same orders as pgbench places them
// (bench_pgbench_test.go).
type orderShape struct {
	name    string
	draft   func(i int) orders.Draft
	pgbench pgbenchShape
}

// orderShapes are the concurrent benchmarks' orders:
//   - spread: two lines of one unit, products p and p+1 of the 1,000, p at
//     random. PlaceOrder reserves the lines in the draft's order, so two
//     orders naming two variants in opposite orders may deadlock on
//     PostgreSQL; these lock theirs in the same order, and rarely meet;
//   - hot: one unit of p0-v in every order; each client waits for the row
//     lock on its stock, held by the order before it until that one commits.
var orderShapes = []orderShape{
	{
		name: "spread",
		draft: func(i int) orders.Draft {
			p := rand.IntN(clientsProducts)
			q := (p + 1) % clientsProducts
			return draft(fmt.Sprint("spread-", i),
				line(fmt.Sprintf("p%d-v", p), 1, int64(100+p)),
				line(fmt.Sprintf("p%d-v", q), 1, int64(100+q)))
		},
		pgbench: pgbenchShape{
			about: `Two lines of one unit each, products p and p+1 of the 1,000 of the
bench catalog, p chosen at random: two orders lock their variants in the
same order and never deadlock.`,
			sets: []string{
				fmt.Sprintf("p random(0, %d)", clientsProducts-1),
				fmt.Sprintf("q (:p + 1) %% %d", clientsProducts),
			},
			lines: []pgbenchLine{{"'p' || :p || '-v'", "100 + :p"}, {"'p' || :q || '-v'", "100 + :q"}},
			total: "200 + :p + :q",
		},
	},
	{
		name: "hot",
		draft: func(i int) orders.Draft {
			return draft(fmt.Sprint("hot-", i), line("p0-v", 1, 100))
		},
		pgbench: pgbenchShape{
			about: `One unit of the same variant, p0-v, in every order: each client waits
for the row lock on its stock, held by the order before it until that one
commits.`,
			lines: []pgbenchLine{{"'p0-v'", "100"}},
			total: "100",
		},
	},
}

// BenchmarkPlaceOrderClients places orders through the Service and the
// Store from benchClients goroutines at once, in each of orderShapes, on a
// new database each time. Its sub-benchmarks are named after the dialect
// (BenchmarkPlaceOrderClients/postgres/hot), so that one run can pick
// PostgreSQL's alone.
func BenchmarkPlaceOrderClients(b *testing.B) {
	for _, shape := range orderShapes {
		b.Run(testDialect+"/"+shape.name, func(b *testing.B) {
			s := mustOpen(b)
			mustImport(b, s, benchCatalog(clientsProducts))
			svc := orders.NewService(s, nil)
			ctx := context.Background()
			placeConcurrently(b, func(i int) error {
				_, err := svc.Place(ctx, shape.draft(i))
				return err
			})
		})
	}
}

// BenchmarkPlaceOrderClientsBareSQL is BenchmarkPlaceOrderClients with
// BenchmarkPlaceOrderBareSQL's statements instead of the Service and the
// Store: what the same orders cost through database/sql and the driver
// alone.
func BenchmarkPlaceOrderClientsBareSQL(b *testing.B) {
	for _, shape := range orderShapes {
		b.Run(testDialect+"/"+shape.name, func(b *testing.B) {
			s := mustOpen(b)
			mustImport(b, s, benchCatalog(clientsProducts))
			bare := mustPrepareBare(b, s)
			ctx := context.Background()
			placeConcurrently(b, func(i int) error {
				return bare.place(ctx, shape.draft(i))
			})
		})
	}
}

// placeConcurrently calls place for orders 0 to b.N-1 from benchClients
// goroutines, each taking the next order as soon as its last one is placed,
// and reports orders/s over the time they took. The first error stops the
// goroutine that met it and fails the benchmark.
func placeConcurrently(b *testing.B, place func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range benchClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := place(i); err != nil {
					b.Errorf("order %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportOrdersPerSecond(b, b.N)
}
