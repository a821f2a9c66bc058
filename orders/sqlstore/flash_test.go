package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"orderbot/orders"
)

// A flash sale: 1,000 customers check out the last 100 units of one
// variant at once, through two store handles (two replicas). Exactly 100
// orders are placed, stock ends at 0 and never below, and each of the
// other 900 is told the variant sold out; nobody gets an error of
// another kind.
func TestFlashSale(t *testing.T) {
	const customers, units = 1000, 100
	db := freshDB(t)
	replicas := []*Store{mustOpenURL(t, db), mustOpenURL(t, db)}
	c := testCatalog()
	c.Products[0].Variants[0].Stock = units
	mustImport(t, replicas[0], c)
	svcs := []*orders.Service{mustService(t, replicas[0]), mustService(t, replicas[1])}
	ctx := context.Background()

	var mu sync.Mutex
	placed, soldOut := map[string]bool{}, 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range customers {
		wg.Go(func() {
			d := draft(fmt.Sprintf("flash-%d", i), line("tea-green", 1, 1200))
			d.Customer.Chat = fmt.Sprintf("chat-%d", i)
			<-start
			o, err := svcs[i%2].Place(ctx, d)
			mu.Lock()
			defer mu.Unlock()
			switch ps, ok := problems(err); {
			case err == nil:
				placed[o.Number] = true
			case ok && len(ps) == 1 && ps[0].Kind == orders.ProblemOutOfStock && ps[0].VariantSKU == "tea-green":
				soldOut++
			default:
				t.Errorf("customer %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(placed) != units || soldOut != customers-units {
		t.Errorf("placed %d, sold out %d; want %d and %d", len(placed), soldOut, units, customers-units)
	}
	if got := mustStock(t, replicas[1], "tea-green"); got != 0 {
		t.Errorf("stock = %d, want 0", got)
	}
	if got := mustCount(t, replicas[1], "orders"); got != units {
		t.Errorf("orders stored = %d, want %d", got, units)
	}
	if got := mustCount(t, replicas[1], "order_lines"); got != units {
		t.Errorf("order lines stored = %d, want %d", got, units)
	}
}

// problems returns the problems of a *orders.ProblemsError.
func problems(err error) ([]orders.Problem, bool) {
	var pe *orders.ProblemsError
	if !errors.As(err, &pe) {
		return nil, false
	}
	return pe.Problems, true
}

// Orders naming the same variants in opposite orders, placed at once from
// two store handles, never deadlock: stock is reserved in SKU order.
func TestOppositeLineOrdersDoNotDeadlock(t *testing.T) {
	db := freshDB(t)
	replicas := []*Store{mustOpenURL(t, db), mustOpenURL(t, db)}
	c := testCatalog()
	c.Products[0].Variants[0].Stock = 1000 // tea-green
	c.Products[0].Variants[1].Stock = 1000 // tea-black
	mustImport(t, replicas[0], c)
	svcs := []*orders.Service{mustService(t, replicas[0]), mustService(t, replicas[1])}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			lines := []orders.DraftLine{line("tea-green", 1, 1200), line("tea-black", 1, 1500)}
			if i%2 == 1 {
				lines[0], lines[1] = lines[1], lines[0]
			}
			if _, err := svcs[i%2].Place(ctx, draft(fmt.Sprintf("dl-%d", i), lines...)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Place: %v", err)
	}
	if green, black := mustStock(t, replicas[0], "tea-green"), mustStock(t, replicas[0], "tea-black"); green != 800 || black != 800 {
		t.Errorf("stock %d and %d, want 800 each", green, black)
	}
}
