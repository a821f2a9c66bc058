package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scriptedBot is a webhook that answers each update of a conversation
// with the reply the script expects, through the fake Bot API: the
// customer logic without a real server.
type scriptedBot struct {
	t      *testing.T
	api    string // the fake Bot API's URL
	steps  []step
	status int                                // the webhook's answer; 0: 200
	answer func(i int, s step) (string, bool) // the reply's text to step i, and whether to send it

	mu     sync.Mutex
	next   map[int64]int  // chat → the step expected next
	byHost map[string]int // updates each webhook server got
	hits   atomic.Int64
}

func (b *scriptedBot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.hits.Add(1)
	b.mu.Lock()
	b.byHost[r.Host]++
	b.mu.Unlock()
	if r.Header.Get(secretHeader) != "s3cret" {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if b.status != 0 {
		w.WriteHeader(b.status)
		return
	}
	var u tgUpdate
	if err := json.NewDecoder(r.Body).Decode(&u); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var chat int64
	var got string
	switch {
	case u.Message != nil:
		chat, got = u.Message.Chat.ID, u.Message.Text
	case u.CallbackQuery != nil:
		chat, got = u.CallbackQuery.Message.Chat.ID, u.CallbackQuery.Data
	}
	b.mu.Lock()
	i := b.next[chat]
	b.next[chat]++
	b.mu.Unlock()
	s := b.steps[i]
	if want := pick(s.text, "tap:"+s.tap, s.tap == ""); got != want {
		b.t.Errorf("chat %d, step %d: got %q, want %q", chat, i+1, got, want)
	}
	w.WriteHeader(http.StatusOK)
	text, ok := s.want, true
	if b.answer != nil {
		text, ok = b.answer(i, s)
	}
	if !ok {
		return
	}
	// The reply shows the button the next step presses, among others.
	params := url.Values{"chat_id": {strconv.FormatInt(chat, 10)}, "text": {"Done. " + text}}
	if i+1 < len(b.steps) && b.steps[i+1].tap != "" {
		label := b.steps[i+1].tap
		params.Set("reply_markup", fmt.Sprintf(`{"inline_keyboard":[[{"text":"⬅️ Back","callback_data":"back"}],[{"text":"✅ %s now","callback_data":"tap:%s"}]]}`, label, label))
	}
	go func() { // as the hub does: the webhook answers before the reply goes
		resp, err := http.PostForm(b.api+"/bot1:x/sendMessage", params)
		if err != nil {
			b.t.Error(err)
			return
		}
		resp.Body.Close()
	}()
}

// pick is a when first, else b.
func pick(a, b string, first bool) string {
	if first {
		return a
	}
	return b
}

// testLoad is a load of conversations against the scripted bot.
func testLoad(t *testing.T, bot *scriptedBot, conversations int64, timeout time.Duration) *load {
	t.Helper()
	api := newBotAPI()
	apiSrv := httptest.NewServer(api)
	t.Cleanup(apiSrv.Close)
	bot.t, bot.api, bot.next, bot.byHost = t, apiSrv.URL, map[int64]int{}, map[string]int{}
	bot.steps = conversation("Office", "Gel pen", "Black", "2")
	hooks := []*httptest.Server{httptest.NewServer(bot), httptest.NewServer(bot)}
	for _, h := range hooks {
		t.Cleanup(h.Close)
	}
	return &load{
		api: api, client: http.DefaultClient, targets: []string{hooks[0].URL + "/hook", hooks[1].URL + "/hook"},
		secret: "s3cret", botID: 1, variants: []string{"Black"},
		script:  func(v string) []step { return conversation("Office", "Gel pen", v, "2") },
		timeout: timeout, conversations: conversations, idBase: 1000,
	}
}

func TestLoadPlaysWholeConversations(t *testing.T) {
	bot := &scriptedBot{}
	l := testLoad(t, bot, 10, 5*time.Second)
	total, elapsed := l.run(context.Background(), 3)
	if total.started != 10 || total.completed != 10 || total.sent != 120 || total.measured != 120 || total.answered != 120 || total.errors() != 0 {
		t.Fatalf("tally %+v", total)
	}
	if len(total.latencies) != 120 || elapsed <= 0 {
		t.Fatalf("%d latencies in %v", len(total.latencies), elapsed)
	}
	for _, d := range total.latencies {
		if d <= 0 || d > 5*time.Second {
			t.Fatalf("latency %v", d)
		}
	}
	if bot.hits.Load() != 120 {
		t.Fatalf("the webhooks got %d updates", bot.hits.Load())
	}
	for host, n := range bot.byHost {
		if n != 60 || len(bot.byHost) != 2 {
			t.Fatalf("the targets are not used in turn: %s got %d of %v", host, n, bot.byHost)
		}
	}
	if len(bot.next) != 10 {
		t.Fatalf("%d chats, want one a conversation", len(bot.next))
	}
}

func TestLoadCountsWhatWentWrong(t *testing.T) {
	tests := []struct {
		name    string
		bot     *scriptedBot
		check   func(*tally) bool
		message string
	}{
		{
			name:    "no reply",
			bot:     &scriptedBot{answer: func(i int, s step) (string, bool) { return s.want, i != 3 }},
			check:   func(t *tally) bool { return t.timeouts == 2 && t.sent == 8 && t.answered == 6 },
			message: "no reply within",
		},
		{
			name:    "another reply",
			bot:     &scriptedBot{answer: func(i int, s step) (string, bool) { return pick("Sorry, out of stock", s.want, i == 4), true }},
			check:   func(t *tally) bool { return t.unexpected == 2 && t.sent == 10 && t.answered == 8 },
			message: `no reply containing "How many"`,
		},
		{
			name:    "refused",
			bot:     &scriptedBot{status: http.StatusServiceUnavailable},
			check:   func(t *tally) bool { return t.refused == 2 && t.sent == 2 && t.answered == 0 },
			message: "503 Service Unavailable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := testLoad(t, tt.bot, 2, 200*time.Millisecond)
			total, _ := l.run(context.Background(), 2)
			if total.started != 2 || total.completed != 0 || !tt.check(total) {
				t.Fatalf("tally %+v", total)
			}
			if len(total.samples) != 2 || !strings.Contains(total.samples[0], tt.message) {
				t.Fatalf("samples %q, want %q", total.samples, tt.message)
			}
		})
	}
}

func TestLoadMeasuresAfterTheWarmup(t *testing.T) {
	l := testLoad(t, &scriptedBot{}, 2, 5*time.Second)
	l.warmup = time.Hour
	total, _ := l.run(context.Background(), 2)
	if total.sent != 24 || total.answered != 24 || total.measured != 0 || len(total.latencies) != 0 {
		t.Fatalf("tally %+v: everything was in the warm-up", total)
	}
}

func TestLoadStopsAtTheDeadline(t *testing.T) {
	l := testLoad(t, &scriptedBot{}, 0, 5*time.Second)
	l.deadline = time.Now() // conversations under way would finish; none starts
	if total, _ := l.run(context.Background(), 4); total.started != 0 {
		t.Fatalf("%d conversations started after the deadline", total.started)
	}
}

func TestPacer(t *testing.T) {
	if newPacer(0) != nil {
		t.Fatal("rate 0 is paced")
	}
	p := newPacer(400)
	if p.every != 2500*time.Microsecond {
		t.Fatalf("every %v at 400/s", p.every)
	}
	if got := p.at(1000).Sub(p.start); got != 2500*time.Millisecond {
		t.Fatalf("the 1000th message is due after %v, want 2.5s", got)
	}
	// Open loop: messages owed since the start go at once.
	p.start = time.Now().Add(-time.Hour)
	start := time.Now()
	for range 100 {
		if err := p.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if time.Since(start) > time.Second {
		t.Fatal("a pacer behind schedule waited")
	}
	// Ahead of schedule, it waits until the message is due or ctx is done.
	p.start = time.Now().Add(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.wait(ctx); err == nil {
		t.Fatal("a pacer ahead of schedule did not wait")
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(*options) bool
	}{
		{"defaults", nil, func(o *options) bool {
			return len(o.targets) == 1 && o.targets[0].String() == defaultTarget && o.customers == 32 &&
				o.conversations == 1000 && o.idBase > 0 && len(o.command) == 0 && o.variants[0] == "Black"
		}},
		{"duration alone plays no fixed number", []string{"-duration", "30s"}, func(o *options) bool {
			return o.conversations == 0 && o.duration == 30*time.Second
		}},
		{"duration and conversations", []string{"-duration", "30s", "-conversations", "5"}, func(o *options) bool {
			return o.conversations == 5
		}},
		{"targets repeated and comma-separated", []string{"-target", "http://a:1/h, http://b:2/h", "-target", "http://c:3/h"}, func(o *options) bool {
			return len(o.targets) == 3 && o.targets[2].Host == "c:3"
		}},
		{"variants", []string{"-variant", "Black, Blue,,Red"}, func(o *options) bool {
			return strings.Join(o.variants, "|") == "Black|Blue|Red"
		}},
		{"a command", []string{"-customers", "4", "--", "bin/orderbot", "serve", "-x"}, func(o *options) bool {
			return o.customers == 4 && strings.Join(o.command, " ") == "bin/orderbot serve -x"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(o) {
				t.Fatalf("options %+v", o)
			}
		})
	}
	for _, bad := range [][]string{
		{"serve"}, {"-target", "127.0.0.1:8080"}, {"-target", "http://127.0.0.1:0/hook"}, {"-customers", "0"}, {"-rate", "-1"},
		{"-conversations", "0"}, {"-timeout", "0s"}, {"-duration", "5s", "-warmup", "5s"}, {"-variant", ","}, {"-nope"},
	} {
		if _, err := parseOptions(bad, nil); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
