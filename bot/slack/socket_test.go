package slack_test

import (
	"context"
	"encoding/json"
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
	f := &socketFake{ackedC: make(chan string, 16), send: make(chan any, 16)}
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

// Socket Mode: a direct message arriving in an envelope is handled, its
// answer posted, and the envelope acknowledged.
func TestSocketMode(t *testing.T) {
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
	defer api.Close()

	h := &echo{}
	hub := bot.NewHub(h, bot.HubConfig{Workers: 2})
	defer hub.Close(context.Background())
	b, err := slack.New(context.Background(), slack.Config{Token: "xoxb-unit", APIURL: api.URL + "/", PerChannelInterval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, hub)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.RunSocketMode(ctx, "xapp-unit") }()

	var payload map[string]any
	json.Unmarshal(slackfake.EventCallback("EvSock1", slackfake.TeamID, slackfake.DMMessage("U5", "DU5", "hello over a socket", "1.1")), &payload)
	ws.send <- map[string]any{"type": "events_api", "envelope_id": "env-1", "payload": payload, "accepts_response_payload": false}
	select {
	case id := <-ws.ackedC:
		if strings.TrimSpace(id) != "env-1" {
			t.Fatalf("acknowledged %q", id)
		}
	case <-ctx.Done():
		t.Fatal("the envelope was never acknowledged")
	}
	// A slash command is answered in its acknowledgement.
	ws.send <- map[string]any{"type": "slash_commands", "envelope_id": "env-2", "accepts_response_payload": true,
		"payload": map[string]any{"command": "/nope", "user_id": "U5", "trigger_id": "trig", "channel_id": "C1", "text": ""}}
	select {
	case got := <-ws.ackedC:
		if !strings.HasPrefix(got, "env-2 ") || !strings.Contains(got, `"response_type":"ephemeral"`) {
			t.Fatalf("slash command acknowledged as %q", got)
		}
	case <-ctx.Done():
		t.Fatal("the slash command was never acknowledged")
	}
	if _, err := fake.WaitFor(ctx, func(c slackfake.Call) bool {
		return c.Method == "chat.postMessage" && strings.Contains(c.Param("text"), "ok: hello over a socket")
	}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunSocketMode = %v after its context ended", err)
	}
	close(ws.send)
}
