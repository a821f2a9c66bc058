package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"orderbot/bot/telegram/telegramtest"
	"orderbot/dialog"
)

// server is a running `orderbot serve`, in process.
type server struct {
	t    *testing.T
	addr string
	stop func() int
}

// startServe runs `orderbot serve` with env until the test stops it.
func startServe(t *testing.T, env []string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		code <- run(ctx, []string{"serve"}, envFunc(env), strings.NewReader(""), pw, &lockedBuilder{b: &stderr})
		pw.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "orderbot serving on http://"); ok {
				addr <- a
			}
		}
		close(addr)
	}()
	s := &server{t: t}
	select {
	case a, ok := <-addr:
		if !ok {
			cancel()
			t.Fatalf("serve exited with %d before listening:\n%s", <-code, stderr.String())
		}
		s.addr = a
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start listening")
	}
	stopped := false
	s.stop = func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
	t.Cleanup(func() {
		if c := s.stop(); c != 0 {
			t.Errorf("serve exited with %d", c)
		}
	})
	return s
}

// tgEnv is an environment for serve against a fake Bot API server.
func tgEnv(t *testing.T, fake *telegramtest.Server, extra ...string) []string {
	t.Helper()
	return tgEnvConfig(t, fake, "", extra...)
}

// tgEnvConfig is tgEnv with more configuration.
func tgEnvConfig(t *testing.T, fake *telegramtest.Server, config string, extra ...string) []string {
	t.Helper()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "telegram:\n  poll_timeout: 1s\n  per_chat_interval: 10ms\n  global_rate: 1000\n"+config)
	return append([]string{
		"ORDERBOT_DATABASE_URL=sqlite:" + filepath.Join(dir, "orderbot.db"),
		"ORDERBOT_CONFIG=" + cfg,
		"ORDERBOT_HTTP_ADDR=127.0.0.1:0",
		"TELEGRAM_BOT_TOKEN=123456:test-token",
		"TELEGRAM_API_ENDPOINT=" + fake.URL(),
		"PATH=" + os.Getenv("PATH"),
	}, extra...)
}

// tgCustomer is one Telegram user in a private chat with the bot.
type tgCustomer struct {
	t    *testing.T
	fake *telegramtest.Server
	user tgbotapi.User
	push func(tgbotapi.Update)
}

// waitText waits until the bot has sent or edited a message in the chat
// whose text contains want, after call seq.
func (c *tgCustomer) waitText(seq int, want string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	chat := fmt.Sprint(c.user.ID)
	_, err := c.fake.WaitFor(ctx, func(call telegramtest.Call) bool {
		if call.Seq <= seq || call.Param("chat_id") != chat {
			return false
		}
		text := call.Param("text") + call.Param("caption")
		return strings.Contains(text, want)
	})
	if err != nil {
		var got []string
		for _, m := range c.fake.Messages(c.user.ID) {
			got = append(got, m.Text+m.Caption)
		}
		c.t.Fatalf("no message containing %q: %v\nmessages:\n%s", want, err, strings.Join(got, "\n---\n"))
	}
}

func (c *tgCustomer) send(u tgbotapi.Update, want string) {
	c.t.Helper()
	seq := c.fake.LastSeq()
	c.push(u)
	c.waitText(seq, want)
}

func (c *tgCustomer) say(text, want string) { c.t.Helper(); c.send(c.fake.Text(c.user, text), want) }

// button presses the button labelled label, waiting for it to be shown: a
// step's keyboard may come in a call after its text.
func (c *tgCustomer) button(label string) tgbotapi.Update {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		seq := c.fake.LastSeq()
		u, err := c.fake.Tap(c.user, c.user.ID, telegramtest.Label(label))
		if err == nil {
			return u
		}
		if _, werr := c.fake.WaitFor(ctx, telegramtest.After(seq)); werr != nil {
			c.t.Fatalf("tap %q: %v", label, err)
		}
	}
}

func (c *tgCustomer) tap(label, want string) {
	c.t.Helper()
	u := c.button(label)
	c.send(u, want)
	if !c.fake.Answered(u.CallbackQuery.ID) {
		c.t.Fatalf("callback query for %q not answered", label)
	}
}

// order plays a whole order paid on delivery: buttons, a typed quantity, a
// shared location as the address and the user's own shared contact as the
// phone.
func (c *tgCustomer) order() string {
	c.t.Helper()
	return c.orderPaying("Pay on delivery", "is placed")
}

// orderPaying plays a whole order choosing the payment labelled pay, and
// returns its number from the message saying placed.
func (c *tgCustomer) orderPaying(pay, placed string) string {
	c.t.Helper()
	c.say("/start", "Main menu")
	c.tap("Browse", "Choose a category")
	c.tap("Office", "Choose a product")
	c.tap("Gel pen", "Choose an option")
	c.tap("Black", "How many")
	c.say("2", "Your cart")
	c.tap("Check out", "Where should we deliver")
	c.send(c.fake.Location(c.user, 31.2304, 121.4737), "Who will receive")
	c.say("Li Lei", "phone number")
	c.send(c.fake.Contact(c.user, "+1 555 000 0000", c.user.ID+1), "your own phone number")
	c.send(c.fake.Contact(c.user, "8613800138000", c.user.ID), "How would you like to pay")
	c.tap(pay, "Please check your order")
	u := c.button("Confirm order")
	seq := c.fake.LastSeq()
	c.push(u)
	c.waitText(seq, placed)
	msgs := c.fake.Messages(c.user.ID)
	for j := len(msgs) - 1; j >= 0; j-- {
		m := msgs[j]
		if i := strings.Index(m.Text, "OB-"); i >= 0 && strings.Contains(m.Text, placed) {
			return m.Text[i : i+10]
		}
	}
	c.t.Fatal("no order number in the chat")
	return ""
}

func TestServeHealth(t *testing.T) {
	env := []string{"ORDERBOT_DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "x.db"), "ORDERBOT_HTTP_ADDR=127.0.0.1:0",
		"ORDERBOT_CONFIG=" + writeConfig(t, t.TempDir(), "")}
	s := startServe(t, env)
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/nope": 404} {
		resp, err := http.Get("http://" + s.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited with %d", code)
	}
}

func TestServeTelegramPolling(t *testing.T) {
	fake := telegramtest.NewServer(t)
	env := tgEnv(t, fake)
	startServe(t, env)
	c := &tgCustomer{t: t, fake: fake, user: telegramtest.NewUser(4242, "en"), push: func(u tgbotapi.Update) { fake.PushUpdate(u) }}
	number := c.order()

	seq := fake.LastSeq()
	if _, errOut, code := runCmd(t, env, "orders", "advance", number, "shipped", "--tracking", "SF777"); code != 0 {
		t.Fatal(errOut)
	}
	c.waitText(seq, "has shipped, tracking SF777")

	// The order's card, sent at placement, now shows the new status.
	var cards []string
	for _, m := range fake.Messages(c.user.ID) {
		if strings.HasPrefix(m.Text, dialog.CardMark) {
			cards = append(cards, m.Text)
		}
	}
	if len(cards) != 1 || !strings.Contains(cards[0], number) || !strings.Contains(cards[0], "SF777") {
		t.Fatalf("order cards in the chat: %q", cards)
	}
}

func TestServeTelegramWebhook(t *testing.T) {
	fake := telegramtest.NewServer(t)
	const secret = "s3cret-s3cret"
	env := tgEnv(t, fake, "TELEGRAM_WEBHOOK_URL=https://bot.example.com/telegram/webhook", "TELEGRAM_WEBHOOK_SECRET="+secret)
	s := startServe(t, env)
	url := "http://" + s.addr + "/telegram/webhook"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := fake.WaitFor(ctx, telegramtest.Method("setWebhook")); err != nil {
		t.Fatal(err)
	}
	if registered, got, _ := fake.Webhook(); registered != "https://bot.example.com/telegram/webhook" || got != secret {
		t.Fatalf("webhook registered as %q with secret %q", registered, got)
	}
	user := telegramtest.NewUser(777, "zh")
	for _, bad := range []string{"", "wrong"} {
		seq := fake.LastSeq()
		code, err := telegramtest.PostWebhook(url, bad, fake.Text(user, "/start"))
		if err != nil || code != http.StatusUnauthorized {
			t.Fatalf("secret %q: status %d, %v; want 401", bad, code, err)
		}
		if calls := fake.Calls("sendMessage"); len(calls) > 0 && calls[len(calls)-1].Seq > seq {
			t.Fatal("an unauthenticated update was answered")
		}
	}
	c := &tgCustomer{t: t, fake: fake, user: user, push: func(u tgbotapi.Update) {
		if code, err := fake.PostWebhook(url, secret, u); err != nil || code != http.StatusOK {
			t.Fatalf("webhook answered %d, %v", code, err)
		}
	}}
	c.say("/start", "主菜单")
	c.say("/lang en", "I will speak English")
	c.order()
}

// A webhook update delivered again after a restart (Telegram retries what it
// saw no answer for) is not processed twice; the next one is processed once.
func TestServeRestartProcessesNeitherTwice(t *testing.T) {
	fake := telegramtest.NewServer(t)
	const secret = "restart-secret"
	env := tgEnv(t, fake, "TELEGRAM_WEBHOOK_URL=https://bot.example.com/hook", "TELEGRAM_WEBHOOK_SECRET="+secret)
	user := telegramtest.NewUser(99, "en")
	first := fake.Text(user, "/start")
	second := fake.Text(user, "/cart")

	s := startServe(t, env)
	c := &tgCustomer{t: t, fake: fake, user: user, push: func(u tgbotapi.Update) {
		if code, err := fake.PostWebhook("http://"+s.addr+"/hook", secret, u); err != nil || code != http.StatusOK {
			t.Fatalf("webhook answered %d, %v", code, err)
		}
	}}
	c.send(first, "Main menu")
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited with %d", code)
	}

	s = startServe(t, env)
	c.push(first) // delivered again: its reply, if any, would come before the next one
	c.send(second, "Your cart is empty")
	welcomes := 0
	for _, call := range fake.Calls("sendMessage") {
		if strings.Contains(call.Param("text"), "Welcome") {
			welcomes++
		}
	}
	if welcomes != 1 {
		t.Fatalf("%d welcomes: the repeated update was processed again", welcomes)
	}
}

// A card payment through serve in webhook mode: the invoice, the
// pre-checkout query answered within Telegram's 10 seconds (refused for a
// wrong amount), the successful payment moving the order on exactly once
// even when Telegram repeats it, then a status push; and an order left
// unpaid expiring with the customer told.
func TestServeTelegramPayment(t *testing.T) {
	fake := telegramtest.NewServer(t)
	const secret = "pay-secret"
	env := tgEnvConfig(t, fake, "payments:\n  ttl: 3s\n  expire_every: 100ms\n",
		"TELEGRAM_WEBHOOK_URL=https://bot.example.com/hook", "TELEGRAM_WEBHOOK_SECRET="+secret,
		"TELEGRAM_PAYMENT_PROVIDER_TOKEN=284685063:TEST:provider")
	s := startServe(t, env)
	post := func(u tgbotapi.Update) {
		t.Helper()
		if code, err := fake.PostWebhook("http://"+s.addr+"/hook", secret, u); err != nil || code != http.StatusOK {
			t.Fatalf("webhook answered %d, %v", code, err)
		}
	}
	user := telegramtest.NewUser(5151, "en")
	c := &tgCustomer{t: t, fake: fake, user: user, push: post}
	number := c.orderPaying("Pay now by card", "is reserved")

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := fake.WaitFor(ctx, telegramtest.Method("sendInvoice")); err != nil {
		t.Fatal(err)
	}
	inv := fake.Invoices()[0]
	if inv.Payload != number || inv.Currency != "CNY" || inv.ProviderToken != "284685063:TEST:provider" || inv.Total <= 0 {
		t.Fatalf("invoice %+v for order %s", inv, number)
	}

	// Telegram asks before charging; a changed amount is refused.
	checkout := func(total int) telegramtest.CheckoutAnswer {
		t.Helper()
		u := fake.PreCheckout(user, inv.Currency, total, inv.Payload)
		seq := fake.LastSeq()
		post(u)
		if _, err := fake.WaitFor(ctx, telegramtest.Method("answerPreCheckoutQuery", telegramtest.After(seq))); err != nil {
			t.Fatal(err)
		}
		a := fake.CheckoutAnswer(u.PreCheckoutQuery.ID)
		if !a.Answered || a.After >= 10*time.Second {
			t.Fatalf("pre-checkout answer %+v", a)
		}
		return a
	}
	if a := checkout(inv.Total + 1); a.OK || !strings.Contains(a.ErrorMessage, "out of date") {
		t.Fatalf("a wrong amount was answered %+v", a)
	}
	if a := checkout(inv.Total); !a.OK {
		t.Fatalf("the right amount was refused: %+v", a)
	}

	paid := fake.SuccessfulPayment(user, inv.Currency, inv.Total, inv.Payload, "charge-1")
	c.send(paid, "Payment received")
	post(paid) // the same update again: taken once
	// The same charge in another update: recorded already, so only told.
	c.send(fake.SuccessfulPayment(user, inv.Currency, inv.Total, inv.Payload, "charge-1"), "Payment received")
	out, errOut, code := runCmd(t, env, "orders", "show", number)
	if code != 0 {
		t.Fatal(errOut)
	}
	if !strings.Contains(out, "pending_shipment") || strings.Count(out, "pending_payment → pending_shipment") != 1 {
		t.Fatalf("after one charge reported three times:\n%s", out)
	}

	seq := fake.LastSeq()
	if _, errOut, code := runCmd(t, env, "orders", "advance", number, "shipped"); code != 0 {
		t.Fatal(errOut)
	}
	c.waitText(seq, "has shipped")

	// An order left unpaid expires, and then cannot be paid.
	unpaid := c.orderPaying("Pay now by card", "is reserved")
	c.waitText(fake.LastSeq(), "was not paid in time")
	for _, i := range fake.Invoices() {
		if i.Payload == unpaid {
			inv = i
		}
	}
	if inv.Payload != unpaid {
		t.Fatalf("no invoice for order %s", unpaid)
	}
	if a := checkout(inv.Total); a.OK || !strings.Contains(a.ErrorMessage, "cancelled") {
		t.Fatalf("an expired order was answered %+v", a)
	}
}

type lockedBuilder struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Telegram Stars need no payment provider: a gift card (digital, with a
// Stars price) ordered by polling is invoiced in XTR without a provider
// token, and paid.
func TestServeTelegramStars(t *testing.T) {
	fake := telegramtest.NewServer(t)
	env := tgEnv(t, fake)
	startServe(t, env)
	user := telegramtest.NewUser(6262, "en")
	c := &tgCustomer{t: t, fake: fake, user: user, push: func(u tgbotapi.Update) { fake.PushUpdate(u) }}
	c.say("/start p_gift-card", "Gift card")
	c.tap("¥50", "How many")
	c.say("2", "Your cart")
	c.tap("Check out", "Who will receive")
	c.say("Li Lei", "phone number")
	c.send(c.fake.Contact(user, "8613800138000", user.ID), "How would you like to pay")
	if calls := fake.Calls("sendMessage"); strings.Contains(calls[len(calls)-1].Param("reply_markup"), "by card") {
		t.Fatal("card payment offered without a payment provider")
	}
	c.tap("Pay in Telegram Stars", "⭐700")
	u := c.button("Confirm order")
	seq := fake.LastSeq()
	c.push(u)
	c.waitText(seq, "is reserved")

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := fake.WaitFor(ctx, telegramtest.Method("sendInvoice")); err != nil {
		t.Fatal(err)
	}
	inv := fake.Invoices()[0]
	if inv.Currency != "XTR" || inv.ProviderToken != "" || inv.Total != 700 || len(inv.Prices) != 1 {
		t.Fatalf("stars invoice %+v", inv)
	}
	q := fake.PreCheckout(user, "XTR", inv.Total, inv.Payload)
	fake.PushUpdate(q)
	if _, err := fake.WaitFor(ctx, telegramtest.Method("answerPreCheckoutQuery")); err != nil {
		t.Fatal(err)
	}
	if a := fake.CheckoutAnswer(q.PreCheckoutQuery.ID); !a.OK {
		t.Fatalf("pre-checkout answered %+v", a)
	}
	c.send(fake.SuccessfulPayment(user, "XTR", inv.Total, inv.Payload, "stars-charge-1"), "Payment received")
	out, errOut, code := runCmd(t, env, "orders", "show", inv.Payload)
	if code != 0 {
		t.Fatal(errOut)
	}
	if !strings.Contains(out, "pending_shipment") || !strings.Contains(out, "⭐700") {
		t.Fatalf("order after paying in Stars:\n%s", out)
	}
}
