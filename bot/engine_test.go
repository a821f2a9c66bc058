package bot_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"orderbot/bot"
	"orderbot/configs"
	"orderbot/dialog"
	dialogsql "orderbot/dialog/sqlstore"
	"orderbot/orders"
	"orderbot/orders/sqlstore"
)

// realEngine is the conversation on a real SQLite file with the demo
// catalog and sessions in the same file.
func realEngine(t *testing.T) (*dialog.Engine, *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite:"+t.TempDir()+"/orderbot.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sessions := dialogsql.New(st.DB(), nil)
	if err := sessions.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cat, err := orders.ParseCatalog(bytes.NewReader(configs.DemoCatalog))
	if err != nil {
		t.Fatal(err)
	}
	svc := orders.NewService(st, nil)
	if _, err := svc.ImportCatalog(ctx, cat); err != nil {
		t.Fatal(err)
	}
	return dialog.New(svc, sessions, dialog.Config{}), st
}

// TestHubWithEngine runs 1,000 conversations at once through the hub and the
// real engine. Each switches language back and forth; every reply must be in
// the language its own predecessors chose, which holds only if each
// conversation's messages ran in order and no save was lost.
func TestHubWithEngine(t *testing.T) {
	eng, _ := realEngine(t)
	hub := bot.NewHub(eng, bot.HubConfig{Workers: 8})
	const convs = 1000
	script := []struct{ text, want string }{
		{"/start", "Welcome"},
		{"/lang zh", "接下来我将使用中文"},
		{"/cart", "购物车是空的"},
		{"/lang en", "I will speak English"},
		{"/orders", "no orders yet"},
	}
	type result struct {
		conv, step int
		text       string
	}
	results := make(chan result, convs*len(script))
	var wg sync.WaitGroup
	for c := 0; c < convs; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			key := dialog.Key{Channel: "test", Chat: fmt.Sprint(c), User: fmt.Sprint(c)}
			for i, s := range script {
				step := i
				err := hub.Submit(dialog.Inbound{ID: fmt.Sprint(c, "-", i), Key: key, Text: s.text, Lang: "en"},
					func(_ context.Context, _ dialog.Inbound, replies []dialog.Reply, err error) {
						var b strings.Builder
						for _, r := range replies {
							b.WriteString(r.Text + "\n")
						}
						if err != nil {
							b.WriteString("error: " + err.Error())
						}
						results <- result{c, step, b.String()}
					})
				if err != nil {
					t.Errorf("conversation %d: Submit: %v", c, err)
				}
			}
		}(c)
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := hub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	close(results)
	next := make([]int, convs)
	n := 0
	for r := range results {
		n++
		if r.step != next[r.conv] {
			t.Fatalf("conversation %d: reply to step %d came before step %d's", r.conv, r.step, next[r.conv])
		}
		next[r.conv]++
		if want := script[r.step].want; !strings.Contains(r.text, want) {
			t.Fatalf("conversation %d step %d: reply %q lacks %q", r.conv, r.step, r.text, want)
		}
	}
	if n != convs*len(script) {
		t.Fatalf("%d replies, want %d", n, convs*len(script))
	}
}

// recorder is a channel that records what it is sent and can be told to fail.
type recorder struct {
	mu    sync.Mutex
	fail  bool
	sent  []string
	cards []string // the orders whose card was sent
}

func (r *recorder) Send(_ context.Context, to dialog.Key, replies []dialog.Reply) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return fmt.Errorf("channel down")
	}
	for _, rep := range replies {
		if rep.Card != "" {
			r.cards = append(r.cards, rep.Card)
			continue
		}
		r.sent = append(r.sent, to.User+": "+rep.Text)
	}
	return nil
}

// TestNotifierOnSQLite: an operator's status change reaches the customer in
// their language through the real outbox, once, and after a failed attempt
// on the next one.
func TestNotifierOnSQLite(t *testing.T) {
	ctx := context.Background()
	eng, st := realEngine(t)
	svc := orders.NewService(st, nil)
	cust := orders.Customer{Channel: "test", Chat: "li", User: "li", Lang: "zh"}
	o, err := svc.Place(ctx, orders.Draft{
		CheckoutKey: "k1", Customer: cust, Address: "上海市世纪大道88号", ContactName: "李雷", Phone: "+8613800138000", Payment: orders.PayOnDelivery,
		Lines: []orders.DraftLine{{VariantSKU: "pen-gel-blk", Quantity: 1, UnitPrice: orders.Money{Amount: 250, Currency: "CNY"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Advance(ctx, o.Number, orders.Transition{To: orders.StatusShipped, Actor: "operator", Tracking: "SF42"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rec := &recorder{fail: true}
	n := bot.NewNotifier(st, eng, map[string]bot.Sender{"test": rec}, bot.NotifierConfig{
		Now: func() time.Time { return now }, MinBackoff: time.Second, MaxBackoff: time.Second,
	})
	if _, err := n.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if len(rec.sent) != 0 {
		t.Fatalf("sent %v through a failing channel", rec.sent)
	}
	rec.fail = false
	now = now.Add(time.Minute) // past the back-off
	for i := 0; i < 2; i++ {
		if _, err := n.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := "li: 您的订单 " + o.Number + " 已发货，物流单号 SF42。"
	if len(rec.sent) != 1 || rec.sent[0] != want {
		t.Fatalf("sent %q, want exactly [%q]", rec.sent, want)
	}
	// The card went with the placement and with the change.
	if !slices.Equal(rec.cards, []string{o.Number, o.Number}) {
		t.Fatalf("cards sent: %q", rec.cards)
	}
}
