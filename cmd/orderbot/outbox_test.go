package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"orderbot/orders"
	"orderbot/orders/sqlstore"
)

// An operator lists the parked notifications and sends them again.
func TestOutboxCommands(t *testing.T) {
	env := testEnv(t)
	ctx := context.Background()
	if _, errOut, code := runCmd(t, env, "catalog", "import", "../../configs/catalog.yaml"); code != 0 {
		t.Fatal(errOut)
	}
	store, err := sqlstore.Open(ctx, envFunc(env)("ORDERBOT_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	d := orders.Draft{CheckoutKey: "k1", Customer: orders.Customer{Channel: "telegram", Chat: "100", User: "7", Lang: "en"},
		Lines:   []orders.DraftLine{{VariantSKU: "pen-gel-blk", Quantity: 1, UnitPrice: orders.Money{Amount: 250, Currency: "CNY"}}},
		Address: "1 Garden Road", ContactName: "Li Lei", Phone: "+8613800000000", Payment: orders.PayOnDelivery}
	o, err := orders.NewService(store, nil).Place(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := store.ClaimNotifications(ctx, orders.NotificationFilter{}, 10, time.Now(), time.Minute)
	if err != nil || len(ns) != 1 {
		t.Fatalf("claimed %d, %v", len(ns), err)
	}
	if err := store.MarkParked(ctx, ns[0].ID, "gave up after 25 attempts: telegram: 502", time.Now()); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"outbox", "list"}, 0, "NEXT ATTEMPT"},
		{[]string{"outbox", "list", "--failed"}, 0, o.Number},
		{[]string{"outbox", "list", "--failed"}, 0, "gave up after 25 attempts"},
		{[]string{"outbox", "retry"}, 2, "ids, or --all"},
		{[]string{"outbox", "retry", "1", "--all"}, 2, "ids, or --all"},
		{[]string{"outbox", "retry", "x1"}, 2, "not a notification id"},
		{[]string{"outbox", "list", "--limit", "0"}, 2, "--limit"},
		{[]string{"outbox", "retry", "--all"}, 0, "1 notification(s) will be sent again"},
		{[]string{"outbox", "retry", "--all"}, 0, "0 notification(s)"},
		{[]string{"outbox", "retry", strconv.FormatInt(ns[0].ID, 10), "999"}, 0, "left alone: " + strconv.FormatInt(ns[0].ID, 10) + ", 999"},
		{[]string{"outbox", "list"}, 0, o.Number},
		{[]string{"outbox", "fly"}, 2, "unknown outbox command"},
	} {
		out, errOut, code := runCmd(t, env, c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.want) {
			t.Fatalf("%v: exit %d (want %d)\n%s%s\nwant %q", c.args, code, c.code, out, errOut, c.want)
		}
	}
	if out, _, _ := runCmd(t, env, "outbox", "list", "--failed"); strings.Contains(out, o.Number) {
		t.Errorf("still parked after retry:\n%s", out)
	}
}
