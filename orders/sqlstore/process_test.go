package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"orderbot/orders"
)

// Two Store handles on one file stand for two processes: `orderbot chat`
// placing orders while `orderbot orders advance` ships them. Neither sees a
// lock error, each sees the other's writes, and stock adds up.
func TestTwoProcessesShareTheFile(t *testing.T) {
	db := freshDB(t)
	chat := mustOpenURL(t, db)
	admin := mustOpenURL(t, db)
	c := testCatalog()
	c.Products[4].Variants[0].Stock = 100
	mustImport(t, chat, c)
	chatSvc := mustService(t, chat)
	adminSvc := mustService(t, admin)
	ctx := context.Background()

	const n = 40
	type placement struct {
		i      int
		number string
	}
	placed := make(chan placement, n)
	var wg sync.WaitGroup
	var placeErr, shipErr error
	wg.Go(func() {
		defer close(placed)
		for i := range n {
			o, err := chatSvc.Place(ctx, draft(fmt.Sprintf("k%d", i), line("gift-100", 2, 10000)))
			if err != nil {
				placeErr = err
				return
			}
			placed <- placement{i, o.Number}
		}
	})
	wg.Go(func() {
		for p := range placed {
			// Every other order is shipped, the rest cancelled.
			to := orders.StatusShipped
			if p.i%2 == 1 {
				to = orders.StatusCancelled
			}
			if _, err := adminSvc.Advance(ctx, p.number, orders.Transition{To: to, Actor: "agent:ann"}); err != nil {
				shipErr = err
				return
			}
		}
	})
	wg.Wait()
	if placeErr != nil || shipErr != nil {
		t.Fatalf("place: %v; advance: %v", placeErr, shipErr)
	}

	// The chat process reads what the admin process wrote.
	all, err := chatSvc.Orders(ctx, orders.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n {
		t.Fatalf("%d orders, want %d", len(all), n)
	}
	shipped := 0
	for _, o := range all {
		full, err := chatSvc.Order(ctx, o.Number)
		if err != nil {
			t.Fatal(err)
		}
		if len(full.History) != 2 || full.History[1].Actor != "agent:ann" {
			t.Errorf("%s history = %+v", o.Number, full.History)
		}
		if o.Status == orders.StatusShipped {
			shipped++
		}
	}
	if shipped != n/2 {
		t.Errorf("%d orders shipped, want %d", shipped, n/2)
	}
	if got, want := mustStock(t, admin, "gift-100"), 100-2*shipped; got != want {
		t.Errorf("stock = %d, want %d (%d shipped orders of 2)", got, want, shipped)
	}
	if got := mustCount(t, chat, "outbox"); got != 2*n {
		t.Errorf("outbox rows = %d, want %d", got, 2*n)
	}
}

// Buyers in two processes race for the same 20 units.
func TestTwoProcessesStockRace(t *testing.T) {
	db := freshDB(t)
	stores := []*Store{mustOpenURL(t, db), mustOpenURL(t, db)}
	c := testCatalog()
	c.Products[0].Variants[0].Stock = 20
	mustImport(t, stores[0], c)

	const buyers = 60
	errs := make([]error, buyers)
	var wg sync.WaitGroup
	for i := range buyers {
		svc := orders.NewService(stores[i%2], nil)
		wg.Go(func() {
			_, errs[i] = svc.Place(context.Background(), draft(fmt.Sprintf("buyer-%d", i), line("tea-green", 1, 1200)))
		})
	}
	wg.Wait()
	placed := 0
	for i, err := range errs {
		var pe *orders.ProblemsError
		switch {
		case err == nil:
			placed++
		case !errors.As(err, &pe):
			t.Errorf("buyer %d: %v", i, err)
		}
	}
	if placed != 20 {
		t.Errorf("placed %d orders, want 20", placed)
	}
	if got := mustStock(t, stores[1], "tea-green"); got != 0 {
		t.Errorf("stock = %d, want 0", got)
	}
}

// A Confirm pressed twice reaches two processes at once (two webhook
// replicas): one order, stock taken once.
func TestTwoProcessesSameCheckoutKey(t *testing.T) {
	db := freshDB(t)
	stores := []*Store{mustOpenURL(t, db), mustOpenURL(t, db)}
	mustImport(t, stores[0], testCatalog())

	const n = 20
	numbers := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		svc := orders.NewService(stores[i%2], nil)
		wg.Go(func() {
			o, err := svc.Place(context.Background(), draft("double", line("tea-green", 4, 1200)))
			numbers[i], errs[i] = o.Number, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || numbers[i] != numbers[0] {
			t.Errorf("Place %d = %s, %v; want %s", i, numbers[i], errs[i], numbers[0])
		}
	}
	if got := mustCount(t, stores[1], "orders"); got != 1 {
		t.Errorf("orders = %d, want 1", got)
	}
	if got := mustStock(t, stores[1], "tea-green"); got != 6 {
		t.Errorf("stock = %d, want 6", got)
	}
}
