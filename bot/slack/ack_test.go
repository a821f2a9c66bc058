package slack_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"orderbot/bot"
	"orderbot/bot/slack"
	"orderbot/bot/slack/slackfake"
	"orderbot/dialog"
)

// posted is the outcome of one request to the bot, as Slack sees it.
type posted struct {
	code int
	err  error
	took time.Duration
}

// postAsync sends a signed request to the bot in the background, as Slack
// does: it gives up after Slack's 3 seconds, or when ctx ends.
func (e *env) postAsync(ctx context.Context, path, contentType string, body []byte, headers ...http.Header) <-chan posted {
	out := make(chan posted, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, slackfake.AckTimeout)
		defer cancel()
		start := time.Now()
		code, _, err := slackfake.PostContext(ctx, e.srv.URL+path, secret, time.Now(), contentType, body, headers...)
		out <- posted{code: code, err: err, took: time.Since(start)}
	}()
	return out
}

// outcome waits for a request's outcome; postAsync bounds the wait.
func (e *env) outcome(out <-chan posted) posted {
	e.t.Helper()
	select {
	case p := <-out:
		return p
	case <-time.After(2 * slackfake.AckTimeout):
		e.t.Fatal("the request never ended")
		return posted{}
	}
}

// handling waits until the gated handler started on a message.
func (e *env) handling() dialog.Inbound {
	e.t.Helper()
	select {
	case in := <-e.h.started:
		return in
	case <-time.After(10 * time.Second):
		e.t.Fatal("the message never reached the handler")
		return dialog.Inbound{}
	}
}

// count is how many calls so far match.
func (e *env) count(match func(slackfake.Call) bool) int {
	n := 0
	for _, c := range e.fake.Calls("") {
		if match(c) {
			n++
		}
	}
	return n
}

// answer is a matcher for the echo's answer to what was typed or pressed,
// posted or updated in place.
func answer(method, said string) func(slackfake.Call) bool {
	return func(c slackfake.Call) bool {
		return c.Method == method && c.Status == http.StatusOK && strings.Contains(c.Param("text"), "ok: "+said)
	}
}

// lastActionID is the action_id of the last element of a message's blocks.
func lastActionID(m slackfake.Message) string {
	id := ""
	for _, part := range strings.Split(string(m.Blocks), `"action_id":"`)[1:] {
		id, _, _ = strings.Cut(part, `"`)
	}
	return id
}

// A direct message and a button press are answered only once they were
// handled and their replies are in Slack: a replica killed in between
// leaves the request unanswered, and Slack sends it again.
func TestAnsweredOnceHandled(t *testing.T) {
	tests := []struct {
		name string
		// request makes the request Slack sends, and the matcher of the
		// reply it must lead to.
		request func(t *testing.T, e *env) (path, contentType string, body []byte, reply func(slackfake.Call) bool)
	}{
		{"direct message", func(t *testing.T, e *env) (string, string, []byte, func(slackfake.Call) bool) {
			body := slackfake.EventCallback("EvHeld", slackfake.TeamID, slackfake.DMMessage("U1", "DU1", "held", "3.1"))
			return "/events", slackfake.ContentTypeJSON, body, answer("chat.postMessage", "held")
		}},
		{"button", func(t *testing.T, e *env) (string, string, []byte, func(slackfake.Call) bool) {
			key := dialog.Key{Channel: slack.Channel, Chat: "DU2", User: "U2"}
			step := []dialog.Reply{{Text: "Choose", Buttons: [][]dialog.Button{{{Label: "Next", Action: "menu.1:next"}}}}}
			if err := e.bot.Send(context.Background(), key, step); err != nil {
				t.Fatal(err)
			}
			m := e.fake.Messages("DU2")[0]
			body, err := e.fake.Click("U2", "DU2", m.Ts, lastActionID(m), "trig")
			if err != nil {
				t.Fatal(err)
			}
			return "/interactivity", slackfake.ContentTypeForm, body, answer("chat.update", "menu.1:next")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newReplica(t, slackfake.NewServer(t), gated(), bot.HubConfig{})
			path, contentType, body, reply := tc.request(t, e)
			out := e.postAsync(context.Background(), path, contentType, body)
			e.handling()
			select {
			case p := <-out:
				t.Fatalf("answered %d (%v) while the message was still being handled", p.code, p.err)
			case <-time.After(300 * time.Millisecond):
			}
			if n := e.count(reply); n != 0 {
				t.Fatalf("%d replies before the handler was released", n)
			}
			e.h.open()
			p := e.outcome(out)
			if p.err != nil || p.code != http.StatusOK {
				t.Fatalf("answered %d, %v; want 200", p.code, p.err)
			}
			if n := e.count(reply); n != 1 {
				t.Fatalf("answered with %d replies in Slack, want the reply posted first", n)
			}
		})
	}
}

// A message that takes longer than the budget to handle is still answered
// within the budget, as queued; its reply follows when it is handled.
func TestAnsweredWithinBudget(t *testing.T) {
	const budget = 300 * time.Millisecond
	e := newReplica(t, slackfake.NewServer(t), gated(), bot.HubConfig{}, func(c *slack.Config) { c.AckWithin = budget })
	body := slackfake.EventCallback("EvSlow", slackfake.TeamID, slackfake.DMMessage("U1", "DU1", "slow", "3.2"))
	out := e.postAsync(context.Background(), "/events", slackfake.ContentTypeJSON, body)
	e.handling()
	p := e.outcome(out)
	if p.err != nil || p.code != http.StatusOK {
		t.Fatalf("answered %d, %v; want 200", p.code, p.err)
	}
	if p.took < budget || p.took > budget+time.Second {
		t.Fatalf("answered after %v, want about the budget of %v (Slack waits %v)", p.took, budget, slackfake.AckTimeout)
	}
	if n := e.count(answer("chat.postMessage", "slow")); n != 0 {
		t.Fatalf("%d replies before the handler was released", n)
	}
	e.h.open()
	e.wait(answer("chat.postMessage", "slow"))
}

// Slack sends an event again (X-Slack-Retry-Num) when its answer was lost:
// whether the first was still being handled or already answered, the
// message is handled, and answered in Slack, once.
func TestRetryAfterLostAnswerHandledOnce(t *testing.T) {
	body := slackfake.EventCallback("EvLost", slackfake.TeamID, slackfake.DMMessage("U1", "DU1", "once", "3.3"))
	retry := func(t *testing.T, e *env, num int) {
		t.Helper()
		p := e.outcome(e.postAsync(context.Background(), "/events", slackfake.ContentTypeJSON, body, slackfake.RetryHeaders(num, "http_timeout")))
		if p.err != nil || p.code != http.StatusOK {
			t.Fatalf("retry %d answered %d, %v; want 200", num, p.code, p.err)
		}
	}
	t.Run("answer lost after handling", func(t *testing.T) {
		e := newReplica(t, slackfake.NewServer(t), gated(), bot.HubConfig{})
		gone, hangUp := context.WithCancel(context.Background())
		out := e.postAsync(gone, "/events", slackfake.ContentTypeJSON, body)
		e.handling()
		hangUp() // Slack stops waiting: the answer is lost
		if p := e.outcome(out); p.err == nil {
			t.Fatalf("answered %d to a request Slack gave up on", p.code)
		}
		e.h.open()
		e.wait(answer("chat.postMessage", "once"))
		retry(t, e, 1)
		if n, posts := e.h.count(), e.count(answer("chat.postMessage", "once")); n != 1 || posts != 1 {
			t.Fatalf("handled %d times, answered %d times; want once", n, posts)
		}
	})
	t.Run("retry while handling", func(t *testing.T) {
		e := newReplica(t, slackfake.NewServer(t), gated(), bot.HubConfig{})
		out := e.postAsync(context.Background(), "/events", slackfake.ContentTypeJSON, body)
		e.handling()
		retry(t, e, 1) // a duplicate of a message in flight: confirmed at once
		select {
		case p := <-out:
			t.Fatalf("the first delivery answered %d (%v) before it was handled", p.code, p.err)
		default:
		}
		e.h.open()
		if p := e.outcome(out); p.err != nil || p.code != http.StatusOK {
			t.Fatalf("answered %d, %v; want 200", p.code, p.err)
		}
		if n, posts := e.h.count(), e.count(answer("chat.postMessage", "once")); n != 1 || posts != 1 {
			t.Fatalf("handled %d times, answered %d times; want once", n, posts)
		}
	})
}

// A replica killed while handling a message never answered it; Slack's
// retry, refused by the dying replica and then taken by another sharing
// its message ids, is handled once.
func TestRetryAfterReplicaDiedHandledOnce(t *testing.T) {
	fake := slackfake.NewServer(t)
	ids := bot.NewMemoryDeduper(0, 0)
	dying := newReplica(t, fake, gated(), bot.HubConfig{Dedupe: ids})
	other := newReplica(t, fake, &echo{}, bot.HubConfig{Dedupe: ids})
	body := slackfake.EventCallback("EvDied", slackfake.TeamID, slackfake.DMMessage("U1", "DU1", "survivor", "3.4"))

	gone, hangUp := context.WithCancel(context.Background())
	out := dying.postAsync(gone, "/events", slackfake.ContentTypeJSON, body)
	dying.handling()
	hangUp() // Slack gives up waiting
	if p := dying.outcome(out); p.err == nil {
		t.Fatalf("answered %d before the message was handled", p.code)
	}
	killed, kill := context.WithCancel(context.Background())
	kill()
	dying.hub.Close(killed) // its handler is cancelled, nothing answered or recorded

	send := func(e *env, num int) int {
		t.Helper()
		p := e.outcome(e.postAsync(context.Background(), "/events", slackfake.ContentTypeJSON, body, slackfake.RetryHeaders(num, "http_timeout")))
		if p.err != nil {
			t.Fatal(p.err)
		}
		return p.code
	}
	if code := send(dying, 1); code != http.StatusServiceUnavailable {
		t.Fatalf("the dying replica answered the retry %d, want 503", code)
	}
	if code := send(other, 2); code != http.StatusOK {
		t.Fatalf("the other replica answered the retry %d, want 200", code)
	}
	if n := other.count(answer("chat.postMessage", "survivor")); n != 1 {
		t.Fatalf("the retry was answered before its reply was posted (%d replies)", n)
	}
	if code := send(other, 3); code != http.StatusOK {
		t.Fatalf("a repeat answered %d, want 200", code)
	}
	if handled := dying.h.count() + other.h.count(); handled != 1 {
		t.Fatalf("handled %d times, want once", handled)
	}
	if n := other.count(answer("chat.postMessage", "survivor")); n != 1 {
		t.Fatalf("answered %d times in Slack, want once", n)
	}
	if n := other.count(slackfake.Method("chat.postMessage")); n != 1 {
		t.Fatalf("%d messages posted, want only the answer", n)
	}
}
