package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"orderbot/bot"
)

// secretHeader carries the webhook's secret token on Telegram's requests.
const secretHeader = "X-Telegram-Bot-Api-Secret-Token"

// step is one message of a conversation: a text typed or a button pressed,
// and the words of the bot's reply that end the step.
type step struct {
	text string // typed text
	tap  string // or the label (a part of it) of the button to press
	want string // what the reply contains
}

func (s step) String() string {
	if s.tap != "" {
		return fmt.Sprintf("press %q", s.tap)
	}
	return fmt.Sprintf("type %q", s.text)
}

// conversation is a whole order paid on delivery, the English wording of
// the dialog: browse, a product and a variant, a typed quantity, check
// out, address, name and phone typed, pay on delivery, confirm.
func conversation(category, product, variant, quantity string) []step {
	return []step{
		{text: "/start", want: "Main menu"},
		{tap: "Browse", want: "Choose a category"},
		{tap: category, want: "Choose a product"},
		{tap: product, want: "Choose an option"},
		{tap: variant, want: "How many"},
		{text: quantity, want: "Your cart"},
		{tap: "Check out", want: "Where should we deliver"},
		{text: "Building 3, 1000 Century Avenue, Pudong, Shanghai", want: "Who will receive"},
		{text: "Li Lei", want: "phone number"},
		{text: "+86 138 0013 8000", want: "How would you like to pay"},
		{tap: "Pay on delivery", want: "Please check your order"},
		{tap: "Confirm order", want: placedMark},
	}
}

// placedMark is in the reply that confirms an order: its number.
const placedMark = "OB-"

// load plays the conversations of one run.
type load struct {
	api      *botAPI
	client   *http.Client
	targets  []string
	secret   string
	botID    int64
	variants []string
	script   func(variant string) []step
	timeout  time.Duration
	pace     *pacer        // nil: as fast as possible
	warmup   time.Duration // at the start, not measured

	conversations int64     // how many to play; 0: until the deadline
	deadline      time.Time // no conversation starts after it; zero: none

	measureFrom time.Time // the end of the warm-up

	idBase     int64        // chat and update ids start above it
	started    atomic.Int64 // conversations started
	nextUpdate atomic.Int64
	nextTarget atomic.Uint64
}

// run plays with customers concurrent customers until the conversations
// are played or the deadline passed, and returns their tally and the time
// it took.
func (l *load) run(ctx context.Context, customers int) (*tally, time.Duration) {
	start := time.Now()
	if l.pace != nil {
		l.pace.start = start
	}
	l.measureFrom = start.Add(l.warmup)
	tallies := make([]tally, customers)
	var wg sync.WaitGroup
	for i := range tallies {
		wg.Go(func() { l.customer(ctx, &tallies[i]) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	var total tally
	for i := range tallies {
		total.add(&tallies[i])
	}
	return &total, elapsed
}

// customer plays one conversation after another, each in a new chat.
func (l *load) customer(ctx context.Context, t *tally) {
	for ctx.Err() == nil {
		n := l.started.Add(1)
		if (l.conversations > 0 && n > l.conversations) || (!l.deadline.IsZero() && time.Now().After(l.deadline)) {
			return
		}
		t.started++
		variant := l.variants[int(n-1)%len(l.variants)]
		if l.play(ctx, l.idBase+n, l.script(variant), t) {
			t.completed++
		}
	}
}

// play runs one conversation in the private chat of user, and reports
// whether every step got its reply. A step that fails ends it.
func (l *load) play(ctx context.Context, user int64, steps []step, t *tally) bool {
	c := l.api.play(user)
	defer l.api.stop(user)
	since := 0 // the steps' replies: what the bot sent after this seq
	for i, s := range steps {
		deadline := time.Now().Add(l.timeout)
		var body []byte
		update := l.idBase + l.nextUpdate.Add(1)
		if s.tap != "" {
			// The buttons may come a call after the text that ended the
			// previous step (an edit adds them).
			var b button
			on, ok := c.waitFor(ctx, since, deadline, func(m message) bool {
				var found bool
				b, found = m.buttonLabelled(s.tap)
				return found
			})
			if !ok {
				if ctx.Err() == nil {
					t.unexpected++
					t.sample("chat %d, step %d (%s): no button labelled %q; last message: %q", user, i+1, s, s.tap, c.last())
				}
				return false
			}
			body = callbackUpdate(update, user, l.botID, on, b.Data, time.Now().Unix())
		} else {
			body = textUpdate(update, user, s.text, time.Now().Unix())
		}
		if err := l.pace.wait(ctx); err != nil {
			return false
		}
		seq := c.mark()
		start := time.Now()
		measured := !start.Before(l.measureFrom)
		t.sent++
		if measured {
			t.measured++
		}
		if err := l.post(ctx, body); err != nil {
			if ctx.Err() == nil {
				t.refused++
				t.sample("chat %d, step %d (%s): %v", user, i+1, s, err)
			}
			return false
		}
		reply, ok := c.waitFor(ctx, seq, start.Add(l.timeout), containing(s.want))
		switch {
		case ok:
			t.answered++
			if measured {
				t.latencies = append(t.latencies, reply.at.Sub(start))
			}
		case ctx.Err() != nil:
			return false
		case !c.repliedAfter(seq):
			t.timeouts++
			t.sample("chat %d, step %d (%s): no reply within %v", user, i+1, s, l.timeout)
			return false
		default:
			t.unexpected++
			t.sample("chat %d, step %d (%s): no reply containing %q within %v; last message: %q", user, i+1, s, s.want, l.timeout, c.last())
			return false
		}
		since = seq
	}
	return true
}

// post sends one update to the next target, as Telegram does.
func (l *load) post(ctx context.Context, body []byte) error {
	target := l.targets[int(l.nextTarget.Add(1)%uint64(len(l.targets)))]
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(secretHeader, l.secret)
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return l.api.webhookAnswer(answer)
}

// pacer hands out send times at a fixed rate, open loop: the k-th message
// of the run goes at start + k/rate however long the earlier ones took, so
// a slow server does not slow the arrivals down (if the customers are
// all waiting for replies, the messages go late and the rate is not met:
// the report's throughput tells).
type pacer struct {
	start time.Time
	every time.Duration
	next  atomic.Int64
}

func newPacer(rate float64) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{start: time.Now(), every: time.Duration(float64(time.Second) / rate)}
}

// at is when the k-th message (from 0) is due.
func (p *pacer) at(k int64) time.Time { return p.start.Add(time.Duration(k) * p.every) }

// wait waits for the next message's time; a nil pacer does not wait.
func (p *pacer) wait(ctx context.Context) error {
	if p == nil {
		return ctx.Err()
	}
	return bot.Sleep(ctx, time.Until(p.at(p.next.Add(1)-1)))
}

// splitList splits comma-separated values, dropping blanks.
func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
