package telegram_test

import (
	"bytes"
	"context"
	"regexp"

	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"orderbot/bot"
	"orderbot/bot/telegram"
	"orderbot/bot/telegram/telegramtest"
	"orderbot/configs"
	"orderbot/dialog"
	dialogsql "orderbot/dialog/sqlstore"
	"orderbot/orders"
	"orderbot/orders/sqlstore"
)

const testToken = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

// syncBuffer collects logs written from several goroutines.
type syncBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	wake chan struct{} // closed and replaced on every write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wake != nil {
		close(s.wake)
	}
	s.wake = make(chan struct{})
	return s.b.Write(p)
}

// waitFor waits until the logs contain substr.
func (s *syncBuffer) waitFor(t *testing.T, substr string) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		s.mu.Lock()
		found := strings.Contains(s.b.String(), substr)
		if s.wake == nil {
			s.wake = make(chan struct{})
		}
		wake := s.wake
		s.mu.Unlock()
		if found {
			return
		}
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("no log line with %q", substr)
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a bot against the fake Bot API server, with a real hub.
type env struct {
	t    *testing.T
	ctx  context.Context // ends with the test's deadline
	srv  *telegramtest.Server
	hub  *bot.Hub
	sub  *countingHub
	bot  *telegram.Bot
	logs *syncBuffer
}

// countingHub counts what reaches the hub.
type countingHub struct {
	hub *bot.Hub
	mu  sync.Mutex
	n   int
}

func (c *countingHub) Submit(in dialog.Inbound, d bot.Deliver) error {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.hub.Submit(in, d)
}

func (c *countingHub) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// newEnv connects a bot to a fake server; cfg's token, endpoint and logger
// are filled in.
func newEnv(t *testing.T, h bot.Handler, cfg telegram.Config) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, srv: telegramtest.NewServer(t), logs: &syncBuffer{}}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.hub = bot.NewHub(h, bot.HubConfig{Workers: 8, Logger: logger})
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.hub.Close(cctx)
	})
	e.sub = &countingHub{hub: e.hub}
	cfg.Token, cfg.APIEndpoint, cfg.Logger = testToken, e.srv.URL(), logger
	b, err := telegram.New(ctx, cfg, e.sub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	e.bot = b
	return e
}

// run starts Run; the returned stop cancels it and returns its error.
func (e *env) run() (stop func() error) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- e.bot.Run(ctx) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			e.t.Fatal("Run did not return after its context ended")
			return nil
		}
	}
	e.t.Cleanup(func() { stop() })
	return stop
}

// wait returns the first call, past or future, that matches.
func (e *env) wait(match func(telegramtest.Call) bool) telegramtest.Call {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 15*time.Second)
	defer cancel()
	c, err := e.srv.WaitFor(ctx, match)
	if err != nil {
		calls := e.srv.Calls("")
		for _, c := range calls[max(0, len(calls)-8):] {
			e.t.Logf("call %d %s %d %q", c.Seq, c.Method, c.Status, c.Param("text"))
		}
		e.t.Fatal(err)
	}
	return c
}

// Matchers for calls.
func chatIs(chat int64) func(telegramtest.Call) bool {
	return func(c telegramtest.Call) bool { return c.Int("chat_id") == chat }
}

func textHas(s string) func(telegramtest.Call) bool {
	return func(c telegramtest.Call) bool {
		return strings.Contains(html.UnescapeString(c.Param("text")+c.Param("caption")), s)
	}
}

func ok(c telegramtest.Call) bool { return c.Status == http.StatusOK }

func param(name, value string) func(telegramtest.Call) bool {
	return func(c telegramtest.Call) bool { return c.Param(name) == value }
}

// realEngine is the conversation on SQLite with the demo catalog.
func realEngine(t *testing.T) (*dialog.Engine, *orders.Service) {
	t.Helper()
	eng, svc, _ := realShop(t)
	return eng, svc
}

// realShop is realEngine with its store, and the demo catalog imported.
func realShop(t *testing.T) (*dialog.Engine, *orders.Service, *sqlstore.Store) {
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
	return dialog.New(svc, sessions, dialog.Config{}), svc, st
}

// shopper walks one customer through an order; send delivers an update the
// way the mode under test does (queued for polling, or posted).
type shopper struct {
	e    *env
	user tgbotapi.User
	send func(tgbotapi.Update)
}

func (s *shopper) chat() int64 { return s.user.ID }

// say sends a message and waits for the reply that matches.
func (s *shopper) say(u tgbotapi.Update, want ...func(telegramtest.Call) bool) telegramtest.Call {
	s.e.t.Helper()
	seq := s.e.srv.LastSeq()
	s.send(u)
	return s.e.wait(telegramtest.Method("sendMessage", append([]func(telegramtest.Call) bool{telegramtest.After(seq), chatIs(s.chat()), ok}, want...)...))
}

// tap presses a button and checks that the callback query is answered and
// the message the button was on is edited in place to show want.
func (s *shopper) tap(button func(tgbotapi.InlineKeyboardButton) bool, want string) tgbotapi.Update {
	s.e.t.Helper()
	seq := s.e.srv.LastSeq()
	u, err := s.e.srv.Tap(s.user, s.chat(), button)
	for deadline := time.Now().Add(10 * time.Second); err != nil && time.Now().Before(deadline); {
		// The buttons may still be on their way (added by an edit): wait
		// for the next call and look again.
		ctx, cancel := context.WithDeadline(s.e.ctx, deadline)
		s.e.srv.WaitFor(ctx, telegramtest.After(seq))
		cancel()
		seq = s.e.srv.LastSeq()
		u, err = s.e.srv.Tap(s.user, s.chat(), button)
	}
	if err != nil {
		for _, m := range s.e.srv.Messages(s.chat()) {
			s.e.t.Logf("message %d %q %+v", m.MessageID, m.Text, m.ReplyMarkup)
		}
		s.e.t.Fatal(err)
	}
	s.send(u)
	s.e.wait(telegramtest.Method("answerCallbackQuery", param("callback_query_id", u.CallbackQuery.ID), ok))
	msgID := u.CallbackQuery.Message.MessageID
	s.e.wait(telegramtest.Method("editMessageText", chatIs(s.chat()), func(c telegramtest.Call) bool { return int(c.Int("message_id")) == msgID }, textHas(want), ok))
	m, _ := s.e.srv.Message(s.chat(), msgID)
	if !strings.Contains(m.Text, want) {
		s.e.t.Fatalf("message %d shows %q, want %q", msgID, m.Text, want)
	}
	return u
}

// orderScript is a whole order: menu, catalog, quantity typed, a shared
// location as the address, a contact that is not the user's refused, the
// user's own contact, pay on delivery, and ten taps on Confirm.
func orderScript(t *testing.T, e *env, svc *orders.Service, send func(tgbotapi.Update)) {
	s := &shopper{e: e, user: telegramtest.NewUser(512345678, "en"), send: send}
	chat := s.chat()

	s.say(e.srv.Text(s.user, "/start"), textHas("Main menu"))
	s.tap(telegramtest.Data("g:browse"), "Choose a category")
	s.tap(telegramtest.Data(":open:office"), "Office supplies")
	s.tap(telegramtest.Data(":open:pen-gel"), "Choose an option")
	s.tap(telegramtest.Data(":variant:pen-gel-blk"), "How many")
	s.say(e.srv.Text(s.user, "3"), textHas("Your cart"))
	if !strings.Contains(lastTexts(e, chat, 2), "Added 3") {
		t.Fatalf("no 'added' notice before the cart: %q", lastTexts(e, chat, 2))
	}

	// Checkout: the address step edits the cart message and offers the
	// location button on a reply keyboard.
	s.tap(telegramtest.Data(":checkout"), "Where should we deliver")
	e.wait(telegramtest.Method("sendMessage", chatIs(chat), textHas("Send my location"), ok))
	kb := e.srv.ReplyKeyboard(chat)
	if kb == nil || !kb.Keyboard[0][0].RequestLocation || !kb.OneTimeKeyboard {
		t.Fatalf("reply keyboard %+v, want a one-time location request", kb)
	}

	// A shared location is the address; the keyboard goes away with the
	// next step, whose buttons are added by an edit.
	s.say(e.srv.Location(s.user, 31.230416, 121.473701), textHas("Who will receive"))
	e.wait(telegramtest.Method("editMessageReplyMarkup", chatIs(chat), ok))
	if kb := e.srv.ReplyKeyboard(chat); kb != nil {
		t.Fatalf("reply keyboard still shown: %+v", kb)
	}
	if msgs := e.srv.Messages(chat); msgs[len(msgs)-1].ReplyMarkup == nil {
		t.Fatal("the name step lost its buttons")
	}

	s.say(e.srv.Text(s.user, "Li Lei"), textHas("Share my phone number"))
	if kb := e.srv.ReplyKeyboard(chat); kb == nil || !kb.Keyboard[0][0].RequestContact {
		t.Fatalf("reply keyboard %+v, want a contact request", kb)
	}
	s.say(e.srv.Contact(s.user, "+44 20 7946 0018", 698765432), textHas("your own phone number"))
	s.say(e.srv.Contact(s.user, "8613800138000", s.user.ID), textHas("How would you like to pay"))
	if kb := e.srv.ReplyKeyboard(chat); kb != nil {
		t.Fatalf("reply keyboard still shown after the phone: %+v", kb)
	}
	s.tap(telegramtest.Data(":pay:cod"), "Please check your order")

	// Ten taps on Confirm before any is handled: one order.
	var taps []tgbotapi.Update
	for range 10 {
		u, err := e.srv.Tap(s.user, chat, telegramtest.Data(":confirm"))
		if err != nil {
			t.Fatal(err)
		}
		taps = append(taps, u)
	}
	for _, u := range taps {
		send(u)
	}
	for _, u := range taps {
		e.wait(telegramtest.Method("answerCallbackQuery", param("callback_query_id", u.CallbackQuery.ID), ok))
	}
	e.wait(telegramtest.Method("editMessageText", chatIs(chat), textHas("is placed"), ok))

	cust := orders.Customer{Channel: telegram.Channel, Chat: "512345678", User: "512345678"}
	placed, err := svc.Orders(context.Background(), orders.Filter{Customer: &cust})
	if err != nil {
		t.Fatal(err)
	}
	if len(placed) != 1 {
		t.Fatalf("%d orders placed, want 1", len(placed))
	}
	o := placed[0]
	if o.Phone != "+8613800138000" || o.ContactName != "Li Lei" || o.Payment != orders.PayOnDelivery ||
		!strings.Contains(o.Address, "31.23042") || len(o.Lines) != 1 || o.Lines[0].Quantity != 3 || o.Lines[0].VariantSKU != "pen-gel-blk" {
		t.Fatalf("order %+v", o)
	}
	for _, c := range e.srv.Calls("") {
		if c.Token != testToken {
			t.Fatalf("%s called with token %q", c.Method, c.Token)
		}
	}
	checkLogs(t, e.logs.String(), "Li Lei", "8613800138000", "+8613800138000", "7946", "31.23", "121.47", "Shared location", testToken, "Lei")
}

// lastTexts joins the texts of the chat's last n bot messages.
func lastTexts(e *env, chat int64, n int) string {
	msgs := e.srv.Messages(chat)
	var b strings.Builder
	for _, m := range msgs[max(0, len(msgs)-n):] {
		b.WriteString(m.Text + "\n")
	}
	return b.String()
}

// checkLogs fails when the logs contain any of the private strings.
func checkLogs(t *testing.T, logs string, private ...string) {
	t.Helper()
	if logs == "" {
		t.Fatal("no logs at all: the check below would prove nothing")
	}
	// The timestamps are the logger's own and may spell anything
	// ("18:59:31.23" holds a latitude).
	logs = logTime.ReplaceAllString(logs, `"time":""`)
	for _, p := range private {
		if strings.Contains(logs, p) {
			t.Errorf("logs contain %q:\n%s", p, logs)
		}
	}
}

var logTime = regexp.MustCompile(`"time":"[^"]*"`)

func TestOrderByPolling(t *testing.T) {
	eng, svc := realEngine(t)
	e := newEnv(t, eng, telegram.Config{PollTimeout: 5 * time.Second})
	stop := e.run()
	e.wait(telegramtest.Method("deleteWebhook", ok))
	orderScript(t, e, svc, func(u tgbotapi.Update) { e.srv.PushUpdate(u) })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The commands menu was registered in both languages.
	if en, zh := e.srv.Commands(""), e.srv.Commands("zh"); len(en) != 5 || len(zh) != 5 || en[0].Command != "start" || zh[1].Description != "购物车" {
		t.Errorf("commands en %+v zh %+v", en, zh)
	}
}

func TestOrderByWebhook(t *testing.T) {
	eng, svc := realEngine(t)
	mux := http.NewServeMux()
	web := httptest.NewServer(mux)
	defer web.Close()
	hookURL := web.URL + "/telegram/webhook"
	e := newEnv(t, eng, telegram.Config{WebhookURL: hookURL, WebhookSecret: "s3cret_Token-42"})
	mux.Handle("/telegram/webhook", e.bot.WebhookHandler())
	if err := e.bot.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	url, secret, allowed := e.srv.Webhook()
	if url != hookURL || secret != "s3cret_Token-42" || strings.Join(allowed, ",") != "message,callback_query,pre_checkout_query" {
		t.Fatalf("webhook registered as %q %q %v", url, secret, allowed)
	}

	// Refused requests reach nothing.
	before := e.sub.count()
	probe := e.srv.Text(telegramtest.NewUser(1, "en"), "/start")
	for name, sec := range map[string]string{"no secret": "", "wrong secret": "s3cret_Token-43", "prefix": "s3cret"} {
		if code, err := telegramtest.PostWebhook(url, sec, probe); err != nil || code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, %v; want 401", name, code, err)
		}
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", resp.StatusCode)
	}
	for name, body := range map[string]string{"not JSON": "{update_id: 1", "no id": `{"message":{"message_id":1}}`, "array": `[1,2]`} {
		if code, _ := telegramtest.PostWebhook(url, secret, body); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, code)
		}
	}
	huge := `{"update_id":5,"message":{"text":"` + strings.Repeat("x", 2<<20) + `"}}`
	if code, _ := telegramtest.PostWebhook(url, secret, huge); code != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB body: status %d, want 413", code)
	}
	if n := e.sub.count(); n != before {
		t.Fatalf("refused requests reached the hub %d times", n-before)
	}

	orderScript(t, e, svc, func(u tgbotapi.Update) {
		t.Helper()
		if code, err := e.srv.PostWebhook(url, secret, u); err != nil || code != http.StatusOK {
			t.Fatalf("webhook: status %d, %v", code, err)
		}
	})
	if got := len(e.srv.Calls("getUpdates")); got != 0 {
		t.Errorf("%d getUpdates calls in webhook mode", got)
	}
}

// recorder is a handler that remembers what it handled, per chat, in order.
type recorder struct {
	mu      sync.Mutex
	handled map[string][]string // chat → inbound ids
	replies func(in dialog.Inbound) []dialog.Reply
	wake    chan struct{}
}

func newRecorder(replies func(in dialog.Inbound) []dialog.Reply) *recorder {
	return &recorder{handled: make(map[string][]string), replies: replies, wake: make(chan struct{}, 1)}
}

func (r *recorder) Handle(_ context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
	r.mu.Lock()
	r.handled[in.Key.Chat] = append(r.handled[in.Key.Chat], in.Text+in.Action)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	if r.replies != nil {
		return r.replies(in), nil
	}
	return []dialog.Reply{{Text: "ok: " + in.Text + in.Action}}, nil
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, h := range r.handled {
		n += len(h)
	}
	return n
}

func (r *recorder) of(chat string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.handled[chat]...)
}

// waitTotal waits until n messages were handled.
func (r *recorder) waitTotal(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for r.total() < n {
		select {
		case <-r.wake:
		case <-deadline:
			t.Fatalf("%d messages handled, want %d", r.total(), n)
		}
	}
}

// TestRestartBetweenUpdates: a bot stopped between two updates confirms
// what it took; even when Telegram sends those again (the confirmation was
// lost), the hub drops them, and nothing is handled twice.
func TestRestartBetweenUpdates(t *testing.T) {
	rec := newRecorder(nil)
	e := newEnv(t, rec, telegram.Config{PollTimeout: 5 * time.Second})
	user := telegramtest.NewUser(7, "en")
	stop := e.run()
	first := e.srv.PushUpdate(e.srv.Text(user, "one"))
	e.srv.PushUpdate(e.srv.Text(user, "two"))
	rec.waitTotal(t, 2)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if off := e.srv.Offset(); off != first+2 {
		t.Fatalf("offset confirmed %d, want %d", off, first+2)
	}

	e.srv.ResetOffset() // Telegram resends updates 1 and 2
	b2, err := telegram.New(e.ctx, telegram.Config{Token: testToken, APIEndpoint: e.srv.URL(), PollTimeout: 5 * time.Second}, e.hub)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- b2.Run(ctx) }()
	e.srv.PushUpdate(e.srv.Text(user, "three"))
	rec.waitTotal(t, 3)
	// Updates 1 and 2 came before 3 in the same poll; they were dropped.
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rec.of("7"), ","); got != "one,two,three" {
		t.Fatalf("handled %s, want one,two,three", got)
	}
}

// TestWebhookRetryHandledOnce: Telegram retrying a delivery is answered
// 200 and handled once.
func TestWebhookRetryHandledOnce(t *testing.T) {
	rec := newRecorder(nil)
	e := newEnv(t, rec, telegram.Config{WebhookURL: "https://example.com/hook", WebhookSecret: "abc"})
	web := httptest.NewServer(e.bot.WebhookHandler())
	defer web.Close()
	u := e.srv.Text(telegramtest.NewUser(8, "en"), "hello")
	for range 3 {
		if code, err := e.srv.PostWebhook(web.URL, "abc", u); err != nil || code != http.StatusOK {
			t.Fatalf("status %d, %v", code, err)
		}
	}
	e.wait(telegramtest.Method("sendMessage", chatIs(8), textHas("ok: hello")))
	if got := rec.of("8"); len(got) != 1 {
		t.Fatalf("handled %d times", len(got))
	}
}

// TestWebhookAnswersOnceHandled: the webhook's 200 comes once the update
// was handled and answered, so a replica killed before that leaves the
// update to Telegram's retry.
func TestWebhookAnswersOnceHandled(t *testing.T) {
	rec := newRecorder(nil)
	e := newEnv(t, rec, telegram.Config{WebhookURL: "https://example.com/hook", WebhookSecret: "abc"})
	web := httptest.NewServer(e.bot.WebhookHandler())
	defer web.Close()
	for i := range 5 {
		u := e.srv.Text(telegramtest.NewUser(int64(20+i), "en"), "hello")
		if code, err := e.srv.PostWebhook(web.URL, "abc", u); err != nil || code != http.StatusOK {
			t.Fatalf("status %d, %v", code, err)
		}
		// Already answered when the webhook returned: no waiting.
		if n := len(e.srv.Calls("sendMessage")); n != i+1 {
			t.Fatalf("%d replies sent when webhook %d returned, want %d", n, i+1, i+1)
		}
	}
}

// TestChatsInOrder: each chat's updates are handled in the order sent,
// while chats interleave.
func TestChatsInOrder(t *testing.T) {
	rec := newRecorder(nil)
	e := newEnv(t, rec, telegram.Config{PollTimeout: 5 * time.Second})
	e.run()
	users := []tgbotapi.User{telegramtest.NewUser(11, "en"), telegramtest.NewUser(12, "zh"), telegramtest.NewUser(13, "en")}
	const per = 30
	for i := range per {
		for _, u := range users {
			e.srv.PushUpdate(e.srv.Text(u, strings.Repeat("x", i+1)))
		}
	}
	rec.waitTotal(t, per*len(users))
	for _, u := range users {
		got := rec.of(strings.TrimPrefix(u.UserName, "user"))
		for i, text := range got {
			if len(text) != i+1 {
				t.Fatalf("chat %d: message %d handled at position %d", u.ID, len(text), i+1)
			}
		}
	}
}

// TestGroups: in a group only commands addressed to the bot are answered,
// with the way to a private chat.
func TestGroups(t *testing.T) {
	rec := newRecorder(nil)
	e := newEnv(t, rec, telegram.Config{PollTimeout: 5 * time.Second})
	e.run()
	user := telegramtest.NewUser(21, "en")
	const group = -1001987654321
	e.srv.PushUpdate(e.srv.GroupText(group, user, "who wants coffee?", nil))
	e.srv.PushUpdate(e.srv.GroupText(group, user, "/start", nil))
	e.srv.PushUpdate(e.srv.GroupText(group, user, "/start@some_other_bot", nil))
	cmd := e.srv.GroupText(group, user, "/start@"+telegramtest.BotUsername+" p_pen-gel", nil)
	e.srv.PushUpdate(cmd)
	hint := e.wait(telegramtest.Method("sendMessage", chatIs(group), ok))
	if !strings.Contains(html.UnescapeString(hint.Param("text")), "private chat") || hint.Int("reply_to_message_id") != int64(cmd.Message.MessageID) {
		t.Fatalf("hint %+v", hint.Params)
	}
	var kb tgbotapi.InlineKeyboardMarkup
	if err := hint.Decode("reply_markup", &kb); err != nil || kb.InlineKeyboard[0][0].URL == nil ||
		*kb.InlineKeyboard[0][0].URL != "https://t.me/"+telegramtest.BotUsername+"?start=p_pen-gel" {
		t.Fatalf("hint keyboard %+v (%v)", kb, err)
	}
	// Chinese users get the hint in Chinese; a private chat keeps working.
	zh := telegramtest.NewUser(22, "zh-hans")
	e.srv.PushUpdate(e.srv.GroupText(-42, zh, "/cart@"+telegramtest.BotUsername, nil))
	e.wait(telegramtest.Method("sendMessage", chatIs(-42), textHas("私聊"), ok))
	e.srv.PushUpdate(e.srv.Text(user, "hi"))
	e.wait(telegramtest.Method("sendMessage", chatIs(21), textHas("ok: hi")))
	if n := len(e.srv.Calls("sendMessage")); n != 3 {
		t.Errorf("%d messages sent, want the two hints and one reply", n)
	}
	if rec.total() != 1 {
		t.Errorf("group messages reached the conversation: %v", rec.handled)
	}
}

// TestUnreadableMessages: a sticker is answered with what the bot reads; a
// pre-checkout query is refused when the bot has no Checkout.
func TestUnreadableMessages(t *testing.T) {
	rec := newRecorder(nil)
	e := newEnv(t, rec, telegram.Config{PollTimeout: 5 * time.Second})
	e.run()
	user := telegramtest.NewUser(31, "zh-CN")
	e.srv.PushUpdate(e.srv.Sticker(user))
	e.wait(telegramtest.Method("sendMessage", chatIs(31), textHas("我只能读取文字"), ok))
	q := e.srv.PreCheckout(user, "CNY", 750, "OB-7KX2M9Q")
	e.srv.PushUpdate(q)
	c := e.wait(telegramtest.Method("answerPreCheckoutQuery", ok))
	if c.Param("pre_checkout_query_id") != q.PreCheckoutQuery.ID || c.Param("ok") != "false" || c.Param("error_message") == "" {
		t.Fatalf("pre-checkout answered %v", c.Params)
	}
	if rec.total() != 0 {
		t.Errorf("handled %v", rec.handled)
	}
}

// TestStopDuringLongPoll: stopping returns at once, not after the poll's
// timeout, and confirms the last update taken.
func TestStopDuringLongPoll(t *testing.T) {
	rec := newRecorder(nil)
	e := newEnv(t, rec, telegram.Config{PollTimeout: 50 * time.Second})
	stop := e.run()
	id := e.srv.PushUpdate(e.srv.Text(telegramtest.NewUser(41, "en"), "hello"))
	rec.waitTotal(t, 1)
	// The next long poll (with the new offset) may or may not have reached
	// the server; wait until one is waiting there.
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	if err := e.srv.WaitPolling(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Run took %v to stop", d)
	}
	if off := e.srv.Offset(); off <= id {
		t.Fatalf("offset %d: update %d not confirmed", off, id)
	}
	// The cancelled long poll may be recorded after the confirmation; look
	// for a getUpdates that did not wait.
	confirmed := false
	for _, c := range e.srv.Calls("getUpdates") {
		confirmed = confirmed || (c.Int("offset") == int64(id+1) && c.Param("timeout") == "" && c.Status == http.StatusOK)
	}
	if !confirmed {
		t.Fatalf("no quick getUpdates confirming offset %d", id+1)
	}
}

// TestPollBackoff: failing polls are retried with growing waits, not in a
// busy loop, and polling resumes.
func TestPollBackoff(t *testing.T) {
	rec := newRecorder(nil)
	e := newEnv(t, rec, telegram.Config{PollTimeout: 5 * time.Second})
	e.srv.FailNext("getUpdates", 2, telegramtest.InternalError())
	e.run()
	e.srv.PushUpdate(e.srv.Text(telegramtest.NewUser(51, "en"), "hello"))
	rec.waitTotal(t, 1)
	calls := e.srv.Calls("getUpdates")
	if len(calls) < 3 || !calls[0].Fault || !calls[1].Fault || calls[2].Fault {
		t.Fatalf("getUpdates calls: %d", len(calls))
	}
	// Back-off: 0.25–0.5s after the first failure, 0.5–1s after the second.
	if d := calls[1].At.Sub(calls[0].At); d < 250*time.Millisecond {
		t.Errorf("retried after %v", d)
	}
	if d := calls[2].At.Sub(calls[1].At); d < 500*time.Millisecond {
		t.Errorf("retried after %v", d)
	}
}

// TestConnect: a wrong token fails at once; a transient failure is retried;
// errors never show the token.
func TestConnect(t *testing.T) {
	srv := telegramtest.NewServer(t)
	ctx := context.Background()
	hub := bot.NewHub(newRecorder(nil), bot.HubConfig{})
	defer hub.Close(ctx)

	srv.FailNext("getMe", 1, telegramtest.Unauthorized())
	_, err := telegram.New(ctx, telegram.Config{Token: testToken, APIEndpoint: srv.URL()}, hub)
	if err == nil || len(srv.Calls("getMe")) != 1 {
		t.Fatalf("wrong token: %v after %d calls", err, len(srv.Calls("getMe")))
	}

	srv.FailNext("getMe", 1, telegramtest.InternalError())
	b, err := telegram.New(ctx, telegram.Config{Token: testToken, APIEndpoint: srv.URL()}, hub)
	if err != nil {
		t.Fatal(err)
	}
	if b.Username() != telegramtest.BotUsername {
		t.Errorf("username %q", b.Username())
	}

	if _, err := telegram.New(ctx, telegram.Config{Token: testToken, APIEndpoint: "127.0.0.1:8081"}, hub); err == nil {
		t.Error("an endpoint without a scheme accepted")
	}

	// A server that is not there: the error names the call, not the token.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = telegram.New(cctx, telegram.Config{Token: testToken, APIEndpoint: dead.URL, RequestTimeout: 200 * time.Millisecond}, hub)
	if err == nil || strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "AAHdqTcvCH1v") {
		t.Fatalf("error %v", err)
	}
}

// TestStartRetries: start-up calls that fail are retried in the background
// and never stop the bot.
func TestStartRetries(t *testing.T) {
	rec := newRecorder(nil)
	e := newEnv(t, rec, telegram.Config{WebhookURL: "https://example.com/hook", WebhookSecret: "abc"})
	e.srv.FailNext("setMyCommands", 1, telegramtest.InternalError())
	e.srv.FailNext("setWebhook", 1, telegramtest.TooManyRequests(1))
	if err := e.bot.Start(e.ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	set := e.wait(telegramtest.Method("setWebhook", ok))
	if refused := e.srv.Calls("setWebhook")[0]; !refused.Fault || set.At.Sub(refused.At) < time.Second {
		t.Errorf("setWebhook retried %v after a 429 asking for 1s", set.At.Sub(refused.At))
	}
	e.wait(telegramtest.Method("setMyCommands", param("language_code", "zh"), ok))
	if u, _, _ := e.srv.Webhook(); u != "https://example.com/hook" {
		t.Fatalf("webhook %q", u)
	}

	// A webhook Telegram refuses outright is a configuration error.
	e2 := newEnv(t, rec, telegram.Config{WebhookURL: "ftp://example.com/hook", WebhookSecret: "abc"})
	if err := e2.bot.Start(e2.ctx); err == nil {
		t.Fatal("Start accepted a webhook the server refused")
	}
	if _, err := telegram.New(e.ctx, telegram.Config{Token: testToken, APIEndpoint: e.srv.URL(), WebhookURL: "https://example.com/hook", WebhookSecret: "bad secret!"}, e.hub); err == nil {
		t.Fatal("New accepted a secret Telegram refuses")
	}
}

// TestTokenNeverLogged: transport errors carry the request URL, which
// holds the token; the logs show the failure without it.
func TestTokenNeverLogged(t *testing.T) {
	e := newEnv(t, newRecorder(nil), telegram.Config{PollTimeout: time.Second, RequestTimeout: 300 * time.Millisecond})
	e.srv.FailNext("getUpdates", 1, telegramtest.Hang()) // times out after 1.3s
	e.run()
	e.logs.waitFor(t, "getUpdates failed; retrying")
	logs := e.logs.String()
	if !strings.Contains(logs, "/bot<token>/getUpdates") {
		t.Errorf("the failure does not name the call:\n%s", logs)
	}
	checkLogs(t, logs, testToken, strings.Split(testToken, ":")[1])
}
