package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// The plumbing bot, the baseline, plays every customer through the whole
// script, pressed buttons answered in the webhook's answers; with Redis it
// makes a serve replica's round trips for each message and leaves a
// session a conversation and a handled id a message.
func TestPlumbingBaseline(t *testing.T) {
	m := miniredis.RunT(t)
	for _, redisURL := range []string{"", "redis://" + m.Addr() + "/0"} {
		args := []string{"-plumbing", "-api-listen", "127.0.0.1:0", "-target", "http://127.0.0.1:0/hook",
			"-customers", "8", "-conversations", "16", "-variant", "Black,Blue", "-json"}
		if redisURL != "" {
			args = append(args, "-plumbing-redis", redisURL)
		}
		var stdout, stderr strings.Builder
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		code := run(ctx, args, nil, &stdout, &lockedWriter{w: &stderr})
		cancel()
		if code != 0 {
			t.Fatalf("redis %q: exit %d\n%s%s", redisURL, code, stdout.String(), stderr.String())
		}
		var r report
		if err := json.Unmarshal([]byte(stdout.String()), &r); err != nil {
			t.Fatal(err)
		}
		taps := 0
		for _, s := range conversation("Office", "Gel pen", "Black", "1") {
			if s.tap != "" {
				taps++
			}
		}
		if r.Conversations.Completed != 16 || r.Messages != 16*12 || r.Errors != 0 || r.APICalls != 16*12 ||
			r.InAnswers != int64(16*taps) || r.Methods["answerCallbackQuery in answers"] != int64(16*taps) {
			t.Fatalf("redis %q: report %+v", redisURL, r)
		}
	}
	var sessions, seen int
	for _, k := range m.Keys() {
		switch {
		case strings.HasPrefix(k, "orderbench:session:"):
			sessions++
		case strings.HasPrefix(k, "orderbench:seen:"):
			seen++
		}
	}
	if sessions != 16 || seen != 16*12 {
		t.Fatalf("%d sessions and %d handled ids in Redis, want 16 and %d", sessions, seen, 16*12)
	}
}
