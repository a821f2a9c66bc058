package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"orderbot/bot"
	"orderbot/bot/slack"
	"orderbot/bot/slack/slackfake"
	"orderbot/dialog"
)

const secret = "unit-signing-secret"

// echo is a handler that answers every message with its text or action,
// a button, and records what it handled. A gated echo (see gated) holds
// every message until the test releases it.
type echo struct {
	mu      sync.Mutex
	handled []dialog.Inbound

	started chan dialog.Inbound // told of each message as its handling starts; nil: not told
	release chan struct{}       // handling waits until it is closed; nil: no wait
	once    sync.Once
}

// gated is an echo that holds every message until open is called; a
// message whose handling context ends first fails, and is not recorded.
func gated() *echo {
	return &echo{started: make(chan dialog.Inbound, 16), release: make(chan struct{})}
}

// open lets a gated echo handle its messages, now and from now on.
func (e *echo) open() {
	if e.release != nil {
		e.once.Do(func() { close(e.release) })
	}
}

func (e *echo) Handle(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
	if e.started != nil {
		e.started <- in
	}
	if e.release != nil {
		select {
		case <-e.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e.mu.Lock()
	e.handled = append(e.handled, in)
	e.mu.Unlock()
	return []dialog.Reply{{Text: "ok: " + in.Text + in.Action, Buttons: [][]dialog.Button{{{Label: "Next", Action: "menu.1:next"}}}}}, nil
}

func (e *echo) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.handled)
}

type env struct {
	t    *testing.T
	fake *slackfake.Server
	bot  *slack.Bot
	hub  *bot.Hub
	h    *echo
	srv  *httptest.Server
}

func newEnv(t *testing.T, options ...func(*slack.Config)) *env {
	t.Helper()
	return newReplica(t, slackfake.NewServer(t), &echo{}, bot.HubConfig{}, options...)
}

// newReplica is one orderbot replica talking to fake, its hub handling
// messages with h under hubCfg (four workers unless it says).
func newReplica(t *testing.T, fake *slackfake.Server, h *echo, hubCfg bot.HubConfig, options ...func(*slack.Config)) *env {
	t.Helper()
	e := &env{t: t, fake: fake, h: h}
	if hubCfg.Workers == 0 {
		hubCfg.Workers = 4
	}
	hub := bot.NewHub(e.h, hubCfg)
	e.hub = hub
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hub.Close(ctx)
	})
	t.Cleanup(h.open) // before the hub closes: a failed test may leave messages held
	cfg := slack.Config{
		Token: "xoxb-unit", SigningSecret: secret, APIURL: e.fake.URL(),
		PerChannelInterval: 10 * time.Millisecond, GlobalRate: 1000,
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, o := range options {
		o(&cfg)
	}
	b, err := slack.New(context.Background(), cfg, hub)
	if err != nil {
		t.Fatal(err)
	}
	e.bot = b
	mux := http.NewServeMux()
	mux.Handle("/events", b.EventsHandler())
	mux.Handle("/interactivity", b.InteractivityHandler())
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) event(id string, event any) int {
	e.t.Helper()
	code, _, err := slackfake.Post(e.srv.URL+"/events", secret, time.Now(), slackfake.ContentTypeJSON, slackfake.EventCallback(id, slackfake.TeamID, event))
	if err != nil {
		e.t.Fatal(err)
	}
	return code
}

func (e *env) wait(match func(slackfake.Call) bool) slackfake.Call {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := e.fake.WaitFor(ctx, match)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// Only what a person writes to the app in a direct message reaches the
// conversation: not the app's own messages, edits, other bots, or channel
// chatter; a mention in a channel gets a private hint.
func TestOnlyDirectMessagesFromPeople(t *testing.T) {
	e := newEnv(t)
	ignored := []map[string]any{
		{"type": "message", "user": slackfake.BotUserID, "channel": "DU1", "channel_type": "im", "text": "my own", "ts": "1.1"},
		{"type": "message", "bot_id": "B999", "user": "U2", "channel": "DU1", "channel_type": "im", "text": "a bot", "ts": "1.2"},
		{"type": "message", "subtype": "message_changed", "channel": "DU1", "channel_type": "im", "ts": "1.3",
			"message": map[string]any{"type": "message", "user": "U1", "text": "edited", "ts": "1.0"}},
		{"type": "message", "user": "U1", "channel": "C1", "channel_type": "channel", "text": "chatter", "ts": "1.4"},
		{"type": "message", "user": "U1", "channel": "DU1", "channel_type": "im", "text": "   ", "ts": "1.5"},
	}
	for i, ev := range ignored {
		if code := e.event(fmt.Sprintf("EvIgnored%d", i), ev); code != http.StatusOK {
			t.Fatalf("event %d answered %d", i, code)
		}
	}
	mention := map[string]any{"type": "app_mention", "user": "U1", "channel": "C1", "text": "<@" + slackfake.BotUserID + "> pens?", "ts": "1.6"}
	if code := e.event("EvMention", mention); code != http.StatusOK {
		t.Fatalf("mention answered %d", code)
	}
	e.wait(slackfake.Method("chat.postEphemeral"))
	if code := e.event("EvDM", slackfake.DMMessage("U1", "DU1", "hello &amp; &lt;welcome&gt;", "1.7")); code != http.StatusOK {
		t.Fatalf("DM answered %d", code)
	}
	e.wait(func(c slackfake.Call) bool {
		return c.Method == "chat.postMessage" && strings.Contains(c.Param("text"), "ok: hello & <welcome>")
	})
	if n := e.h.count(); n != 1 {
		t.Fatalf("%d messages reached the conversation, want the one DM", n)
	}
}

// A notification obeys Slack's Retry-After, retries a 500, and a channel
// that is gone is reported unreachable.
func TestSendRetriesAndUnreachable(t *testing.T) {
	e := newEnv(t)
	key := dialog.Key{Channel: slack.Channel, Chat: "DU7", User: "U7"}
	e.fake.FailNext("chat.postMessage", 1, slackfake.RateLimited(1))
	e.fake.FailNext("chat.postMessage", 1, slackfake.ServerError())
	start := time.Now()
	if err := e.bot.Send(context.Background(), key, []dialog.Reply{{Text: "Your order OB-1 has shipped.", Notification: true}}); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("sent %v after a 429 asking for 1 s", waited)
	}
	if msgs := e.fake.Messages("DU7"); len(msgs) != 1 || !strings.HasPrefix(msgs[0].Text, "🔔") {
		t.Fatalf("channel shows %+v", msgs)
	}
	e.fake.FailNext("chat.postMessage", 1, slackfake.SlackError("channel_not_found"))
	err := e.bot.Send(context.Background(), key, []dialog.Reply{{Text: "again", Notification: true}})
	if !errors.Is(err, bot.ErrUnreachable) {
		t.Fatalf("Send to a missing channel = %v, want ErrUnreachable", err)
	}
}

// A button pressed on a notification opens a new message; one pressed on
// a step updates it, and when the update fails a new message carries it.
func TestButtonsUpdateStepsNotNotifications(t *testing.T) {
	e := newEnv(t)
	key := dialog.Key{Channel: slack.Channel, Chat: "DU8", User: "U8"}
	if err := e.bot.Send(context.Background(), key, []dialog.Reply{{Text: "Your order OB-2 has shipped.", Notification: true,
		Buttons: [][]dialog.Button{{{Label: "View order", Action: "g:order:OB-2"}}}}}); err != nil {
		t.Fatal(err)
	}
	click := func(label, method string) {
		t.Helper()
		msgs := e.fake.Messages("DU8")
		m := msgs[len(msgs)-1]
		id := ""
		for _, part := range strings.Split(string(m.Blocks), `"action_id":"`)[1:] {
			id, _, _ = strings.Cut(part, `"`)
		}
		body, err := e.fake.Click("U8", "DU8", m.Ts, id, "trig")
		if err != nil {
			t.Fatal(err)
		}
		seq := e.fake.LastSeq()
		if code, _, err := slackfake.Post(e.srv.URL+"/interactivity", secret, time.Now(), slackfake.ContentTypeForm, body); err != nil || code != http.StatusOK {
			t.Fatalf("click answered %d, %v", code, err)
		}
		e.wait(func(c slackfake.Call) bool {
			return c.Seq > seq && c.Method == method && c.Status == http.StatusOK && strings.Contains(c.Param("text"), "ok: ")
		})
	}
	click("View order", "chat.postMessage")
	if n := len(e.fake.Calls("chat.update")); n != 0 {
		t.Fatalf("the notification was overwritten (%d updates)", n)
	}
	click("Next", "chat.update")
	if n := len(e.fake.Calls("chat.update")); n != 1 {
		t.Fatalf("%d updates, want the step updated in place", n)
	}
	e.fake.FailNext("chat.update", 1, slackfake.SlackError("message_not_found"))
	posts := len(e.fake.Calls("chat.postMessage"))
	click("Next", "chat.postMessage")
	if n := len(e.fake.Calls("chat.postMessage")); n != posts+1 {
		t.Fatalf("a failed update was not replaced by a new message (%d posts, had %d)", n, posts)
	}
}

// A user's Slack locale reaches the conversation (zh-CN → Chinese); the
// look-up is made once and cached.
func TestLocaleFromUsersInfo(t *testing.T) {
	e := newEnv(t)
	e.fake.SetUser(slackapi.User{ID: "U9", Name: "lilei", RealName: "Li Lei", Locale: "zh-CN"})
	for i, text := range []string{"你好", "再见"} {
		if code := e.event(fmt.Sprintf("EvLocale%d", i), slackfake.DMMessage("U9", "DU9", text, fmt.Sprintf("2.%d", i))); code != http.StatusOK {
			t.Fatalf("DM answered %d", code)
		}
	}
	e.wait(func(c slackfake.Call) bool {
		return c.Method == "chat.postMessage" && strings.Contains(c.Param("text"), "再见")
	})
	e.h.mu.Lock()
	defer e.h.mu.Unlock()
	for _, in := range e.h.handled {
		if in.Lang != "zh-CN" {
			t.Fatalf("message handled with language %q", in.Lang)
		}
	}
	if n := len(e.fake.Calls("users.info")); n != 1 {
		t.Fatalf("%d users.info calls, want 1", n)
	}
}

// homeStub renders a Home tab with one button.
type homeStub struct{}

func (homeStub) Home(_ context.Context, key dialog.Key) ([]dialog.Reply, error) {
	return []dialog.Reply{{Text: "Home of " + key.User, Buttons: [][]dialog.Button{{{Label: "Open", Action: "g:order:OB-1"}}}}}, nil
}

// Opening the Home tab publishes it; a button pressed there answers in the
// user's direct message, and the tab is published again.
func TestHomeTab(t *testing.T) {
	e := newEnv(t, func(c *slack.Config) { c.Home = homeStub{} })
	ev := map[string]any{"type": "app_home_opened", "user": "U3", "channel": "DU3", "tab": "home", "event_ts": "1.1"}
	if code := e.event("EvHome1", ev); code != http.StatusOK {
		t.Fatalf("app_home_opened answered %d", code)
	}
	e.wait(func(c slackfake.Call) bool {
		return c.Method == "views.publish" && strings.Contains(c.Param("view"), "Home of U3")
	})
	raw, ok := e.fake.HomeView("U3")
	if !ok {
		t.Fatal("no Home view stored")
	}
	var view struct {
		ID     string `json:"id"`
		Blocks []struct {
			Elements []struct {
				ActionID string `json:"action_id"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(raw, &view); err != nil {
		t.Fatal(err)
	}
	actionID := ""
	for _, b := range view.Blocks {
		for _, el := range b.Elements {
			actionID = el.ActionID
		}
	}
	body, err := e.fake.ClickView("U3", view.ID, actionID, "trig-home")
	if err != nil {
		t.Fatal(err)
	}
	if code, _, err := slackfake.Post(e.srv.URL+"/interactivity", secret, time.Now(), slackfake.ContentTypeForm, body); err != nil || code != http.StatusOK {
		t.Fatalf("click answered %d, %v", code, err)
	}
	e.wait(func(c slackfake.Call) bool {
		return c.Method == "chat.postMessage" && c.Param("channel") == "DU3" && strings.Contains(c.Param("text"), "ok: g:order:OB-1")
	})
	// Once the press is handled, the tab is published again, fresh.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.fake.WaitCalls(ctx, 2, slackfake.Method("views.publish", func(c slackfake.Call) bool { return c.Param("user_id") == "U3" })); err != nil {
		t.Fatal(err)
	}
}

// A long list of choices comes as one drop-down; choosing from it reaches
// the conversation as that choice's action.
func TestLongListsAreDropDowns(t *testing.T) {
	e := newEnv(t)
	key := dialog.Key{Channel: slack.Channel, Chat: "DU6", User: "U6"}
	var rows [][]dialog.Button
	for i := range 8 {
		rows = append(rows, []dialog.Button{{Label: fmt.Sprintf("Product %d", i), Action: fmt.Sprintf("products.1:open:p%d", i)}})
	}
	rows = append(rows, []dialog.Button{{Label: "Back", Action: "g:back"}, {Label: "Menu", Action: "g:menu"}})
	if err := e.bot.Send(context.Background(), key, []dialog.Reply{{Text: "Choose a product", Buttons: rows}}); err != nil {
		t.Fatal(err)
	}
	m := e.fake.Messages("DU6")[0]
	var blocks []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Elements []struct {
			Type     string `json:"type"`
			ActionID string `json:"action_id"`
			Options  []struct {
				Value string `json:"value"`
			} `json:"options"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 3 || blocks[1].Elements[0].Type != "static_select" || len(blocks[1].Elements[0].Options) != 8 ||
		len(blocks[2].Elements) != 2 || blocks[2].Elements[0].Type != "button" {
		t.Fatalf("blocks = %s", m.Blocks)
	}
	sel := blocks[1].Elements[0]
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U6"}, "channel": map[string]any{"id": "DU6"}, "trigger_id": "t",
		"container": map[string]any{"type": "message", "message_ts": m.Ts, "channel_id": "DU6"},
		"message":   map[string]any{"ts": m.Ts, "text": m.Text},
		"actions": []map[string]any{{"type": "static_select", "action_id": sel.ActionID, "block_id": blocks[1].BlockID, "action_ts": "1.9",
			"selected_option": map[string]any{"value": "products.1:open:p5", "text": map[string]any{"type": "plain_text", "text": "Product 5"}}}},
	})
	body := []byte(url.Values{"payload": {string(payload)}}.Encode())
	if code, _, err := slackfake.Post(e.srv.URL+"/interactivity", secret, time.Now(), slackfake.ContentTypeForm, body); err != nil || code != http.StatusOK {
		t.Fatalf("choice answered %d, %v", code, err)
	}
	e.wait(func(c slackfake.Call) bool { return strings.Contains(c.Param("text"), "ok: products.1:open:p5") })
}
