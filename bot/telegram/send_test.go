package telegram_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"orderbot/bot"
	"orderbot/bot/telegram"
	"orderbot/bot/telegram/telegramtest"
	"orderbot/dialog"
)

func chatKey(chat int64) dialog.Key {
	id := strconv.FormatInt(chat, 10)
	return dialog.Key{Channel: telegram.Channel, Chat: id, User: id}
}

func note(text string) []dialog.Reply {
	return []dialog.Reply{{Text: text, Notification: true, Buttons: [][]dialog.Button{{{Label: "View order", Action: "g:order:OB-7KX2M9Q"}}}}}
}

// maxInWindow is the most calls whose times fall in any window [t, t+w).
func maxInWindow(times []time.Time, w time.Duration) int {
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	most := 0
	for i := range times {
		j := i
		for j < len(times) && times[j].Sub(times[i]) < w {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

// TestSendPacing: a burst of 500 notifications to 50 chats, sent at once,
// reaches every chat with none lost and never faster than the limits, as
// the server saw them. The limits are scaled down 50× to keep the test
// quick: 20ms per chat instead of 1s, 1500/s overall instead of 30/s.
func TestSendPacing(t *testing.T) {
	const (
		chats    = 50
		per      = 10
		interval = 20 * time.Millisecond
		rate     = 1500
	)
	e := newEnv(t, newRecorder(nil), telegram.Config{PerChatInterval: interval, GlobalRate: rate})
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, chats*per)
	for c := range chats {
		for i := range per {
			wg.Go(func() {
				errs <- e.bot.Send(e.ctx, chatKey(int64(1000+c)), note(fmt.Sprintf("Order of chat %d, change %d", c, i)))
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	calls := e.srv.Calls("sendMessage")
	seen := map[string]bool{}
	byChat := map[int64][]time.Time{}
	var all []time.Time
	for _, c := range calls {
		text := c.Param("text")
		if seen[text] {
			t.Errorf("sent twice: %q", text)
		}
		seen[text] = true
		byChat[c.Int("chat_id")] = append(byChat[c.Int("chat_id")], c.At)
		all = append(all, c.At)
	}
	if len(seen) != chats*per {
		t.Fatalf("%d distinct notifications arrived, want %d", len(seen), chats*per)
	}
	// Paced sends start at least interval apart in a chat and 1/rate apart
	// overall, so a window of k intervals holds at most k+1 of a chat's;
	// one more is allowed for the jitter between sending and arriving.
	for chat, times := range byChat {
		if n := maxInWindow(times, 5*interval); n > 5+1+1 {
			t.Errorf("chat %d: %d messages within %v", chat, n, 5*interval)
		}
	}
	// Overall, W·rate+1 in a window of W, and 2% more for the jitter.
	w := 200 * time.Millisecond
	allowed := rate * int(w/time.Millisecond) / 1000
	if n, limit := maxInWindow(all, w), allowed+1+allowed/50; n > limit {
		t.Errorf("%d messages within %v, limit %d", n, w, limit)
	} else {
		t.Logf("at most %d messages within %v (rate allows %d)", n, w, allowed)
	}
	if min := time.Duration(chats*per-1) * time.Second / rate; elapsed < min {
		t.Errorf("500 notifications took %v, the rate allows no less than %v", elapsed, min)
	}
}

// TestSendFloodControl: a 429 is obeyed for its retry_after, by the retry
// and by notifications to other chats, and the notification still arrives.
func TestSendFloodControl(t *testing.T) {
	e := newEnv(t, newRecorder(nil), telegram.Config{})
	e.srv.FailNext("sendMessage", 1, telegramtest.TooManyRequests(1))
	first := make(chan error, 1)
	go func() { first <- e.bot.Send(e.ctx, chatKey(1), note("shipped")) }()
	limited := e.wait(telegramtest.Method("sendMessage", func(c telegramtest.Call) bool { return c.Status == 429 }))
	e.logs.waitFor(t, "Bot API call failed; retrying") // the bot has read the 429
	if err := e.bot.Send(e.ctx, chatKey(2), note("other chat")); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	calls := e.srv.Calls("sendMessage")
	if len(calls) != 3 {
		t.Fatalf("%d calls, want the 429, its retry and the other chat's", len(calls))
	}
	for _, c := range calls[1:] {
		if d := c.At.Sub(limited.At); d < time.Second {
			t.Errorf("chat %d sent %v after a 429 asking for 1s", c.Int("chat_id"), d)
		}
	}
}

func TestSendFailures(t *testing.T) {
	tests := []struct {
		name        string
		faults      []telegramtest.Fault
		calls       int
		unreachable bool
		fails       bool
	}{
		{"5xx retried", []telegramtest.Fault{telegramtest.InternalError(), telegramtest.InternalError()}, 3, false, false},
		{"blocked by the user", []telegramtest.Fault{telegramtest.Blocked()}, 1, true, true},
		{"chat gone", []telegramtest.Fault{telegramtest.BadRequest("chat not found")}, 1, true, true},
		{"refused for good", []telegramtest.Fault{telegramtest.BadRequest("can't parse entities")}, 1, false, true},
		{"5xx until the attempts run out", slices.Repeat([]telegramtest.Fault{telegramtest.InternalError()}, 4), 4, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, newRecorder(nil), telegram.Config{})
			for _, f := range tt.faults {
				e.srv.FailNext("sendMessage", 1, f)
			}
			err := e.bot.Send(e.ctx, chatKey(5), note("shipped"))
			if (err != nil) != tt.fails || errors.Is(err, bot.ErrUnreachable) != tt.unreachable {
				t.Fatalf("err = %v; want failure %v, unreachable %v", err, tt.fails, tt.unreachable)
			}
			if n := len(e.srv.Calls("sendMessage")); n != tt.calls {
				t.Fatalf("%d calls, want %d", n, tt.calls)
			}
		})
	}
}

// TestSendHangingServer: a server that never answers costs at most the
// caller's deadline.
func TestSendHangingServer(t *testing.T) {
	for name, cfg := range map[string]telegram.Config{
		"short request timeout, retried":    {RequestTimeout: 200 * time.Millisecond},
		"request timeout beyond the caller": {},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, newRecorder(nil), cfg)
			e.srv.FailNext("sendMessage", 100, telegramtest.Hang())
			ctx, cancel := context.WithTimeout(e.ctx, 1500*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := e.bot.Send(ctx, chatKey(6), note("shipped"))
			if err == nil {
				t.Fatal("no error from a hanging server")
			}
			if d := time.Since(start); d > 2500*time.Millisecond {
				t.Fatalf("returned after %v", d)
			}
		})
	}
}

func TestSendRefusesOtherChannels(t *testing.T) {
	e := newEnv(t, newRecorder(nil), telegram.Config{})
	if err := e.bot.Send(e.ctx, dialog.Key{Channel: "slack", Chat: "C1", User: "U1"}, note("x")); err == nil {
		t.Error("sent to a Slack conversation")
	}
	if err := e.bot.Send(e.ctx, dialog.Key{Channel: telegram.Channel, Chat: "not-a-number", User: "1"}, note("x")); !errors.Is(err, bot.ErrUnreachable) {
		t.Errorf("bad chat id: %v", err)
	}
}
