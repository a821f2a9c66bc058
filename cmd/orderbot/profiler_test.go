package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
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
