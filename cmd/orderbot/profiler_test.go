package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"orderbot/bot/telegram/telegramtest"
)

// The profiler is off unless an address is given; on its own listener it
// serves Go's profiler pages, and it stops with its context.
func TestProfiler(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	if p, err := listenProfiler("", logger); p != nil || err != nil {
		t.Fatalf("no address: %v, %v; want no profiler", p, err)
	}
	p, err := listenProfiler("127.0.0.1:0", logger)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.serve(ctx) }()
	resp, err := http.Get("http://" + p.ln.Addr().String() + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("/debug/pprof/: %d\n%.200s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the profiler did not stop with its context")
	}
}

// serve with the profiler on still stops at once when Telegram refuses its
// webhook at start.
func TestServeWithProfilerStopsWhenTelegramRefuses(t *testing.T) {
	fake := telegramtest.NewServer(t)
	fake.FailNext("setWebhook", 1, telegramtest.Fault{Code: 400, Description: "Bad Request: bad webhook: Failed to resolve host"})
	env := tgEnv(t, fake, "TELEGRAM_WEBHOOK_URL=https://bot.example.com/hook", "TELEGRAM_WEBHOOK_SECRET=s3cret",
		"ORDERBOT_HTTP_ADDR=127.0.0.1:0", "ORDERBOT_DEBUG_ADDR=127.0.0.1:0")
	code := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		code <- run(context.Background(), []string{"serve"}, envFunc(env), strings.NewReader(""), io.Discard, &lockedBuilder{b: &stderr})
	}()
	select {
	case c := <-code:
		if c == 0 || !strings.Contains(stderr.String(), "bad webhook") {
			t.Fatalf("exit %d:\n%s", c, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after Telegram refused its webhook")
	}
}
