package telegram_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"orderbot/bot"
	"orderbot/bot/telegram"
	"orderbot/bot/telegram/telegramtest"
	"orderbot/dialog"
	dialogsql "orderbot/dialog/sqlstore"
	"orderbot/orders"
)

// A burst of 500 notifications to 50 chats (250 orders shipped, then
// completed), with the orders' 250 cards, from the outbox on SQLite through
// the notifier and the bot to the fake server: none is lost or sent twice,
// each chat's come in order, and neither the per-chat nor the overall rate
// is ever exceeded, a 429 on the way included. The rates are Telegram's
// scaled up fivefold (5 a second per chat, 150 overall) to keep the test
// short; their ratio is Telegram's.
//
// Cards show an order as it is when sent: the outbox is drained after the
// burst, so each order's card is sent once, already completed, and the
// later renderings of the same card cost no call.
func TestNotificationPacingUnderBurst(t *testing.T) {
	const (
		chats     = 50
		perChat   = 200 * time.Millisecond
		rate      = 150
		ordersPer = 5 // each: its card, a text when shipped and one when completed
		want      = chats * ordersPer * 3
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	engine, svc, st := realShop(t)
	cat, err := svc.Catalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var variant orders.Variant
	for _, p := range cat.Products {
		for _, v := range p.Variants {
			if p.Kind == orders.KindGoods && v.Stock >= chats*ordersPer {
				variant = v
			}
		}
	}
	if variant.SKU == "" {
		t.Fatal("the demo catalog has no variant with enough stock")
	}

	// The burst: every order placed, then every one shipped, then every one
	// completed, as an operator's bulk updates would.
	var numbers []string
	for i := range chats * ordersPer {
		chat := fmt.Sprint(1000 + i%chats)
		o, err := svc.Place(ctx, orders.Draft{
			CheckoutKey: fmt.Sprintf("burst-%d", i),
			Customer:    orders.Customer{Channel: telegram.Channel, Chat: chat, User: chat, Lang: "en"},
			Address:     "1 Test Road", ContactName: "Burst", Phone: "+8613800138000", Payment: orders.PayOnDelivery,
			Lines: []orders.DraftLine{{VariantSKU: variant.SKU, Quantity: 1, UnitPrice: variant.Price}},
		})
		if err != nil {
			t.Fatal(err)
		}
		numbers = append(numbers, o.Number)
	}
	for _, to := range []orders.Status{orders.StatusShipped, orders.StatusCompleted} {
		for _, n := range numbers {
			if _, err := svc.Advance(ctx, n, orders.Transition{To: to, Actor: "operator"}); err != nil {
				t.Fatal(err)
			}
		}
	}

	e := newEnv(t, newRecorder(nil), telegram.Config{PerChatInterval: perChat, GlobalRate: rate, Cards: dialogsql.NewCards(st.DB())})
	e.srv.FailNext("sendMessage", 1, telegramtest.TooManyRequests(1))
	notifier := bot.NewNotifier(st, engine, map[string]bot.Sender{telegram.Channel: e.bot}, bot.NotifierConfig{
		Interval: 50 * time.Millisecond, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil)),
	})
	start := time.Now()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- notifier.Run(runCtx) }()
	sent := func(c telegramtest.Call) bool {
		return (c.Method == "sendMessage" || c.Method == "editMessageText") && c.Status == 200
	}
	if _, err := e.srv.WaitCalls(ctx, want, sent); err != nil {
		logs := e.logs.String()
		t.Fatalf("%v; logs:\n%s", err, logs[max(0, len(logs)-5000):])
	}
	elapsed := time.Since(start)
	time.Sleep(300 * time.Millisecond) // anything more would be a duplicate
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	var calls []telegramtest.Call
	for _, c := range e.srv.Calls("") {
		if c.Method == "sendMessage" || c.Method == "editMessageText" {
			calls = append(calls, c)
		}
	}
	var delivered []telegramtest.Call
	for _, c := range calls {
		if sent(c) {
			delivered = append(delivered, c)
		}
	}
	if len(delivered) != want || len(calls) != want+1 {
		t.Fatalf("%d messages delivered in %d calls, want %d and one refused", len(delivered), len(calls), want)
	}
	// Every attempt counts against the limits, the refused one included.
	// Arrival times carry a little scheduling jitter: allow 10% per chat.
	byChat := map[string][]time.Time{}
	var all []time.Time
	for _, c := range calls {
		byChat[c.Param("chat_id")] = append(byChat[c.Param("chat_id")], c.At)
		all = append(all, c.At)
	}
	for chat, times := range byChat {
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap < perChat*9/10 {
				t.Errorf("chat %s: two messages %v apart, limit %v", chat, gap, perChat)
			}
		}
	}
	slices.SortFunc(all, func(a, b time.Time) int { return a.Compare(b) })
	worst := 0
	for i := range all {
		j := i
		for j < len(all) && all[j].Sub(all[i]) < time.Second {
			j++
		}
		worst = max(worst, j-i)
	}
	if worst > rate+2 {
		t.Errorf("%d messages within one second, limit %d", worst, rate)
	}

	// Each chat saw each of its orders' card once, showing it completed,
	// and each order's two notifications once each, shipped first.
	for i := range chats {
		chat := int64(1000 + i)
		var mine []string
		for j := i; j < len(numbers); j += chats {
			mine = append(mine, numbers[j])
		}
		msgs := e.srv.Messages(chat)
		for _, number := range mine {
			var cards, shipped, completed []int
			for k, m := range msgs {
				if !strings.Contains(m.Text, number) {
					continue
				}
				switch {
				case strings.HasPrefix(m.Text, dialog.CardMark):
					cards = append(cards, k)
					if !strings.Contains(m.Text, "Status: completed") {
						t.Errorf("chat %d: card of %s not up to date: %q", chat, number, m.Text)
					}
				case strings.Contains(m.Text, "has shipped"):
					shipped = append(shipped, k)
				case strings.Contains(m.Text, "is completed"):
					completed = append(completed, k)
				}
			}
			if len(cards) != 1 || len(shipped) != 1 || len(completed) != 1 || shipped[0] > completed[0] {
				t.Fatalf("chat %d, order %s: cards at %v, shipped at %v, completed at %v", chat, number, cards, shipped, completed)
			}
		}
		if len(msgs) != 3*ordersPer {
			t.Fatalf("chat %d shows %d messages, want %d", chat, len(msgs), 3*ordersPer)
		}
	}
	t.Logf("%d messages to %d chats in %v (%.0f/s; worst second %d)", want, chats, elapsed.Round(time.Millisecond),
		float64(want)/elapsed.Seconds(), worst)
}
