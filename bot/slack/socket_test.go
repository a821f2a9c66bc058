package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"orderbot/bot"
	"orderbot/bot/slack"
	"orderbot/bot/slack/slackfake"
	"orderbot/dialog"
)

// socketFake plays Slack's side of Socket Mode: apps.connections.open
// hands out a WebSocket URL, which greets the client and sends envelopes,
// recording the acknowledgements.
type socketFake struct {
	mu     sync.Mutex
	acked  []string
	ackedC chan string
	send   chan any
	srv    *httptest.Server
}

func newSocketFake(t *testing.T) *socketFake {
	f := &socketFake{ackedC: make(chan string, 128), send: make(chan any, 16)}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		conn.WriteJSON(map[string]any{"type": "hello", "num_connections": 1, "connection_info": map[string]any{"app_id": slackfake.AppID}})
		go func() {
			for msg := range f.send {
				if conn.WriteJSON(msg) != nil {
					return
				}
			}
		}()
		for {
			var ack struct {
				EnvelopeID string          `json:"envelope_id"`
				Payload    json.RawMessage `json:"payload"`
			}
			if err := conn.ReadJSON(&ack); err != nil {
				return
			}
			f.mu.Lock()
			f.acked = append(f.acked, ack.EnvelopeID)
			f.mu.Unlock()
			f.ackedC <- ack.EnvelopeID + " " + string(ack.Payload)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// socketEnv is a bot running Socket Mode against the fakes until its test
// ends.
type socketEnv struct {
	fake *slackfake.Server
	ws   *socketFake
	ctx  context.Context // the test's deadline
	stop func() error    // ends RunSocketMode and returns its error
}

func newSocketEnv(t *testing.T, h *echo) *socketEnv {
	t.Helper()
	fake := slackfake.NewServer(t)
	ws := newSocketFake(t)
	target, _ := url.Parse(fake.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/apps.connections.open") {
			if r.Header.Get("Authorization") != "Bearer xapp-unit" {
				json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_auth"})
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(ws.srv.URL, "http") + "/link"})
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)

	hub := bot.NewHub(h, bot.HubConfig{Workers: 2})
	t.Cleanup(func() { hub.Close(context.Background()) })
	t.Cleanup(h.open) // before the hub closes: a failed test may leave messages held
	b, err := slack.New(context.Background(), slack.Config{Token: "xoxb-unit", APIURL: api.URL + "/", PerChannelInterval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, hub)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	done := make(chan error, 1)
	go func() { done <- b.RunSocketMode(ctx, "xapp-unit") }()
	stopped := false
	var runErr error
	e := &socketEnv{fake: fake, ws: ws, ctx: ctx}
	e.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
		}
		return runErr
	}
	t.Cleanup(func() {
		e.stop()
		close(ws.send)
	})
	return e
}

// sendDM sends a direct message in an events_api envelope.
func (e *socketEnv) sendDM(envelope, eventID, text string) {
	e.sendDMFrom("U5", envelope, eventID, text)
}

// sendDMFrom sends a direct message from user, in their DM channel "D"+user.
func (e *socketEnv) sendDMFrom(user, envelope, eventID, text string) {
	var payload map[string]any
	json.Unmarshal(slackfake.EventCallback(eventID, slackfake.TeamID, slackfake.DMMessage(user, "D"+user, text, "1.1")), &payload)
	e.ws.send <- map[string]any{"type": "events_api", "envelope_id": envelope, "payload": payload, "accepts_response_payload": false}
}

// sendCommand sends a slash command Slack answers with an ephemeral note.
func (e *socketEnv) sendCommand(envelope string) {
	e.ws.send <- map[string]any{"type": "slash_commands", "envelope_id": envelope, "accepts_response_payload": true,
		"payload": map[string]any{"command": "/nope", "user_id": "U5", "trigger_id": "trig", "channel_id": "C1", "text": ""}}
}

// acked returns the next acknowledgement: the envelope id, a space and its
// payload.
func (e *socketEnv) acked(t *testing.T) string {
	t.Helper()
	select {
	case got := <-e.ws.ackedC:
		return strings.TrimSpace(got)
	case <-e.ctx.Done():
		t.Fatal("no envelope acknowledged")
		return ""
	}
}

// replied reports whether the echo's answer to text was posted.
func replied(fake *slackfake.Server, text string) bool {
	for _, c := range fake.Calls("chat.postMessage") {
		if strings.Contains(c.Param("text"), "ok: "+text) {
			return true
		}
	}
	return false
}

// Socket Mode: a direct message arriving in an envelope is handled, its
// answer posted, and then the envelope acknowledged; a slash command is
// answered in its acknowledgement.
func TestSocketMode(t *testing.T) {
	e := newSocketEnv(t, &echo{})
	e.sendDM("env-1", "EvSock1", "hello over a socket")
	if got := e.acked(t); got != "env-1" {
		t.Fatalf("acknowledged %q", got)
	}
	if !replied(e.fake, "hello over a socket") {
		t.Fatal("the envelope was acknowledged before its message was answered")
	}
	e.sendCommand("env-2")
	if got := e.acked(t); !strings.HasPrefix(got, "env-2 ") || !strings.Contains(got, `"response_type":"ephemeral"`) {
		t.Fatalf("slash command acknowledged as %q", got)
	}
	if err := e.stop(); err != nil {
		t.Fatalf("RunSocketMode = %v after its context ended", err)
	}
}

// An envelope waiting for its message to be handled does not hold up the
// next ones: a slash command sent after it is acknowledged first, and the
// message's envelope once it was answered.
func TestSocketModeAcksWithoutBlocking(t *testing.T) {
	h := gated()
	e := newSocketEnv(t, h)
	e.sendDM("env-1", "EvSock2", "slow one")
	select {
	case <-h.started:
	case <-e.ctx.Done():
		t.Fatal("the message was never handled")
	}
	e.sendCommand("env-2")
	if got := e.acked(t); !strings.HasPrefix(got, "env-2 ") {
		t.Fatalf("acknowledged %q first, want the slash command while the message is held", got)
	}
	h.open()
	if got := e.acked(t); got != "env-1" {
		t.Fatalf("acknowledged %q, want env-1", got)
	}
	if !replied(e.fake, "slow one") {
		t.Fatal("the envelope was acknowledged before its message was answered")
	}
}

// With as many envelopes waiting for their messages as it keeps, the next
// one is acknowledged at once, its message queued, instead of the receive
// loop waiting.
func TestSocketModeAcksAtOnceWhenManyWait(t *testing.T) {
	h := gated()
	h.started = make(chan dialog.Inbound, 128) // every handling's, unread
	e := newSocketEnv(t, h)
	// slack.maxPendingAcks wait in line, and the oldest is being waited
	// for: the first message is held, the others queue behind it.
	const waiting = 64 + 1
	go func() {
		// From two people, so that neither conversation's queue is full.
		for i := 1; i <= waiting+1; i++ {
			user := []string{"U5", "U6"}[i%2]
			e.sendDMFrom(user, fmt.Sprintf("env-%d", i), fmt.Sprintf("EvMany%d", i), fmt.Sprintf("message %d", i))
		}
	}()
	select {
	case <-h.started:
	case <-e.ctx.Done():
		t.Fatal("the first message was never handled")
	}
	defer h.open()
	start := time.Now()
	var got string
	select {
	case got = <-e.ws.ackedC:
		got = strings.TrimSpace(got)
	case <-e.ctx.Done():
		t.Fatal("no envelope acknowledged")
	}
	if got != fmt.Sprintf("env-%d", waiting+1) {
		t.Fatalf("acknowledged %q first after %v, want env-%d at once", got, time.Since(start), waiting+1)
	}
	if took := time.Since(start); took >= 2*time.Second {
		t.Fatalf("acknowledged after %v: it waited for the others' budgets", took)
	}
}
