package telegram_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"orderbot/bot/telegram"
	"orderbot/bot/telegram/telegramtest"
	"orderbot/dialog"
	"orderbot/orders"
)

// checkout is a Checkout that accepts one order at one amount, refuses
// everything else with a reason, and can be made to hang.
type checkout struct {
	hang   bool
	calls  atomic.Int32
	number string
	amount orders.Money

	mu       sync.Mutex
	failures int // RecordPayment fails this many more times
	recorded []string
}

func (c *checkout) RecordPayment(_ context.Context, _ dialog.Key, p dialog.PaymentEvent) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failures > 0 {
		c.failures--
		return errors.New("database is locked")
	}
	c.recorded = append(c.recorded, p.ChargeID)
	return nil
}

func (c *checkout) payments() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.recorded)
}

func (c *checkout) PreCheckout(ctx context.Context, key dialog.Key, number string, amount orders.Money) (bool, string, error) {
	c.calls.Add(1)
	if c.hang {
		<-ctx.Done()
		return false, "", ctx.Err()
	}
	if number == c.number && amount == c.amount && key.User != "" {
		return true, "", nil
	}
	return false, "This invoice is out of date.", nil
}

func TestSendInvoices(t *testing.T) {
	e := newEnv(t, newRecorder(nil), telegram.Config{ProviderToken: "284685063:TEST:abc", PerChatInterval: 10 * time.Millisecond})
	key := dialog.Key{Channel: telegram.Channel, Chat: "61", User: "61"}
	card := &dialog.Invoice{
		OrderNumber: "OB-CARD123", Title: "Order OB-CARD123", Description: "Payment for order OB-CARD123: 3 item(s).",
		Lines: []dialog.InvoiceLine{
			{Label: "Gel pen (Black) × 2", Amount: orders.Money{Amount: 700, Currency: "CNY"}},
			{Label: "Notebook × 1", Amount: orders.Money{Amount: 1250, Currency: "CNY"}},
		},
		Total: orders.Money{Amount: 1950, Currency: "CNY"},
	}
	if err := e.bot.Send(e.ctx, key, []dialog.Reply{{Text: "Please pay", Invoice: card}}); err != nil {
		t.Fatal(err)
	}
	stars := &dialog.Invoice{
		OrderNumber: "OB-STARS12", Title: "订单 OB-STARS12 — a title far longer than thirty-two characters", Description: "付款",
		Lines: []dialog.InvoiceLine{{Label: "E-book × 1", Amount: orders.Money{Amount: 50, Currency: "XTR"}}},
		Total: orders.Money{Amount: 50, Currency: "XTR"},
	}
	if err := e.bot.Send(e.ctx, key, []dialog.Reply{{Invoice: stars}}); err != nil {
		t.Fatal(err)
	}
	invs := e.srv.Invoices()
	if len(invs) != 2 {
		t.Fatalf("%d invoices sent, want 2", len(invs))
	}
	if c := invs[0]; c.Payload != "OB-CARD123" || c.Currency != "CNY" || c.ProviderToken != "284685063:TEST:abc" ||
		len(c.Prices) != 2 || c.Prices[0].Amount != 700 || c.Total != 1950 {
		t.Errorf("card invoice %+v", c)
	}
	if s := invs[1]; s.Payload != "OB-STARS12" || s.Currency != "XTR" || s.ProviderToken != "" || len(s.Prices) != 1 || s.Total != 50 {
		t.Errorf("stars invoice %+v", s)
	}
	// The text came first, then the invoice.
	msgs := e.srv.Messages(61)
	if len(msgs) != 3 || msgs[0].Text != "Please pay" || msgs[1].Invoice == nil {
		t.Errorf("chat shows %+v", msgs)
	}

	// A refused invoice becomes a text in the invoice's language; the
	// order keeps its pay button for another try.
	e.srv.FailNext("sendInvoice", 1, telegramtest.BadRequest("PAYMENT_PROVIDER_INVALID"))
	if err := e.bot.Send(e.ctx, key, []dialog.Reply{{Invoice: stars}}); err != nil {
		t.Fatal(err)
	}
	e.wait(telegramtest.Method("sendMessage", chatIs(61), textHas("暂时无法打开支付页面"), ok))
}

func TestPreCheckoutAnswers(t *testing.T) {
	t.Parallel()
	co := &checkout{number: "OB-7KX2M9Q", amount: orders.Money{Amount: 750, Currency: "CNY"}}
	e := newEnv(t, newRecorder(nil), telegram.Config{Checkout: co, PollTimeout: 5 * time.Second})
	e.run()
	user := telegramtest.NewUser(71, "en")
	answer := func(currency string, total int) telegramtest.CheckoutAnswer {
		t.Helper()
		q := e.srv.PreCheckout(user, currency, total, "OB-7KX2M9Q")
		e.srv.PushUpdate(q)
		e.wait(telegramtest.Method("answerPreCheckoutQuery", param("pre_checkout_query_id", q.PreCheckoutQuery.ID), ok))
		return e.srv.CheckoutAnswer(q.PreCheckoutQuery.ID)
	}
	if a := answer("CNY", 750); !a.OK {
		t.Errorf("payable order refused: %+v", a)
	}
	if a := answer("CNY", 751); a.OK || a.ErrorMessage != "This invoice is out of date." {
		t.Errorf("wrong amount answered %+v", a)
	}
	if e.sub.count() != 0 {
		t.Error("pre-checkout queries reached the conversation")
	}

	// A check that does not finish in time is refused before Telegram's
	// 10 seconds run out, saying nothing was charged.
	co.hang = true
	if a := answer("CNY", 750); a.OK || a.After >= 10*time.Second || a.ErrorMessage == "" {
		t.Errorf("hanging check answered %+v", a)
	}
}

// A successful payment is recorded before the update is acknowledged: by
// polling, a failed recording is retried before the offset moves on; by
// webhook, it is answered 503 so that Telegram delivers it again. Then the
// conversation hears of it.
func TestPaymentRecordedBeforeAcknowledged(t *testing.T) {
	t.Run("polling", func(t *testing.T) {
		co := &checkout{failures: 1}
		rec := newRecorder(nil)
		e := newEnv(t, rec, telegram.Config{Checkout: co, PollTimeout: 5 * time.Second})
		e.run()
		user := telegramtest.NewUser(91, "en")
		e.srv.PushUpdate(e.srv.SuccessfulPayment(user, "CNY", 750, "OB-7KX2M9Q", "charge-p"))
		rec.waitTotal(t, 1)
		if got := co.payments(); !slices.Equal(got, []string{"charge-p"}) {
			t.Fatalf("recorded %v", got)
		}
	})
	t.Run("webhook", func(t *testing.T) {
		co := &checkout{failures: 1}
		rec := newRecorder(nil)
		e := newEnv(t, rec, telegram.Config{Checkout: co, WebhookURL: "https://bot.example.com/hook", WebhookSecret: "hook-secret"})
		hook := httptest.NewServer(e.bot.WebhookHandler())
		defer hook.Close()
		u := e.srv.SuccessfulPayment(telegramtest.NewUser(92, "en"), "XTR", 700, "OB-STARS12", "charge-w")
		if code, err := telegramtest.PostWebhook(hook.URL, "hook-secret", u); err != nil || code != http.StatusServiceUnavailable {
			t.Fatalf("first delivery answered %d, %v; want 503 while the payment cannot be recorded", code, err)
		}
		if rec.total() != 0 {
			t.Fatal("an unrecorded payment reached the conversation")
		}
		if code, err := telegramtest.PostWebhook(hook.URL, "hook-secret", u); err != nil || code != http.StatusOK {
			t.Fatalf("second delivery answered %d, %v", code, err)
		}
		rec.waitTotal(t, 1)
		if got := co.payments(); !slices.Equal(got, []string{"charge-w"}) {
			t.Fatalf("recorded %v", got)
		}
	})
}
