package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"orderbot/dialog"
	"orderbot/dialog/storetest"
)

// waitTimeout bounds every wait in these tests; reaching it means a bug.
const waitTimeout = 10 * time.Second

// waitFor polls cond until it holds, failing the test at waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// recv waits for a value on ch, failing the test at waitTimeout.
func recv[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// mustClose closes h, failing the test if it does not drain in time.
func mustClose(t *testing.T, h *Hub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestLogger() (*slog.Logger, *lockedBuffer) {
	buf := &lockedBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func chatKey(chat string) dialog.Key {
	return dialog.Key{Channel: "telegram", Chat: chat, User: "u" + chat}
}

// msg is message seq of a conversation, with a unique id and its number as text.
func msg(key dialog.Key, seq int) dialog.Inbound {
	return dialog.Inbound{ID: key.Chat + "/" + strconv.Itoa(seq), Key: key, Text: strconv.Itoa(seq)}
}

// recorder collects delivered outcomes per conversation.
type recorder struct {
	mu   sync.Mutex
	got  map[dialog.Key][]string // texts of the handled messages, in delivery order
	errs map[dialog.Key][]error
	n    chan struct{} // one value per delivery
}

func newRecorder() *recorder {
	return &recorder{got: map[dialog.Key][]string{}, errs: map[dialog.Key][]error{}, n: make(chan struct{}, 100000)}
}

func (r *recorder) deliver(_ context.Context, in dialog.Inbound, _ []dialog.Reply, err error) {
	r.mu.Lock()
	r.got[in.Key] = append(r.got[in.Key], in.Text)
	r.errs[in.Key] = append(r.errs[in.Key], err)
	r.mu.Unlock()
	r.n <- struct{}{}
}

func (r *recorder) texts(k dialog.Key) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got[k]...)
}

func (r *recorder) errors(k dialog.Key) []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs[k]...)
}

// waitDeliveries waits for n more deliveries.
func (r *recorder) waitDeliveries(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		recv(t, fmt.Sprintf("delivery %d of %d", i+1, n), r.n)
	}
}

func seqTexts(from, to int) []string {
	var s []string
	for i := from; i < to; i++ {
		s = append(s, strconv.Itoa(i))
	}
	return s
}

func echo(_ context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
	return []dialog.Reply{{Text: in.Text}}, nil
}

// gatedHandler blocks the messages whose text is in block until the gate
// opens, announcing each on started.
type gatedHandler struct {
	block   map[string]bool
	gate    chan struct{}
	started chan dialog.Inbound
}

func newGatedHandler(block ...string) *gatedHandler {
	g := &gatedHandler{block: map[string]bool{}, gate: make(chan struct{}), started: make(chan dialog.Inbound, 100)}
	for _, b := range block {
		g.block[b] = true
	}
	return g
}

func (g *gatedHandler) Handle(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
	if g.block[in.Key.Chat+"/"+in.Text] {
		g.started <- in
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return echo(ctx, in)
}

func TestHubKeepsOrderAndBoundsWorkers(t *testing.T) {
	const (
		convs     = 1000
		perConv   = 20
		producers = 50
		workers   = 8
	)
	var running, peak atomic.Int64
	busy := make([]atomic.Int32, convs) // handlers running per conversation
	handler := HandlerFunc(func(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		c, _ := strconv.Atoi(in.Key.Chat)
		if busy[c].Add(1) != 1 {
			t.Errorf("conversation %d: two messages handled at once", c)
		}
		r := running.Add(1)
		for p := peak.Load(); r > p && !peak.CompareAndSwap(p, r); p = peak.Load() {
		}
		for range 3 {
			runtime.Gosched() // give other workers a chance to overlap
		}
		running.Add(-1)
		busy[c].Add(-1)
		return echo(ctx, in)
	})
	rec := newRecorder()
	h := NewHub(handler, HubConfig{Workers: workers, MaxPending: convs * perConv})

	// Each producer owns some conversations and submits their messages in
	// order, interleaved with the other producers' conversations.
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for seq := range perConv {
				for c := p; c < convs; c += producers {
					if err := h.Submit(msg(chatKey(strconv.Itoa(c)), seq), rec.deliver); err != nil {
						t.Errorf("Submit(conversation %d, message %d): %v", c, seq, err)
					}
				}
			}
		})
	}
	wg.Wait()
	mustClose(t, h)

	want := seqTexts(0, perConv)
	for c := range convs {
		if got := rec.texts(chatKey(strconv.Itoa(c))); !slices.Equal(got, want) {
			t.Fatalf("conversation %d handled %v, want %v", c, got, want)
		}
	}
	if p := peak.Load(); p > workers || p < 2 {
		t.Errorf("peak concurrent handlers = %d, want 2..%d", p, workers)
	}
	s := h.Stats()
	if s.Handled != convs*perConv || s.Queued != 0 || s.Running != 0 || s.Conversations != 0 {
		t.Errorf("Stats after Close = %+v, want %d handled and nothing left", s, convs*perConv)
	}
}

func TestHubRunsConversationsInParallel(t *testing.T) {
	// Each handler waits for the other to start: only parallel workers finish.
	a, b := chatKey("a"), chatKey("b")
	started := map[dialog.Key]chan struct{}{a: make(chan struct{}), b: make(chan struct{})}
	other := map[dialog.Key]dialog.Key{a: b, b: a}
	handler := HandlerFunc(func(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		close(started[in.Key])
		select {
		case <-started[other[in.Key]]:
			return nil, nil
		case <-ctx.Done():
			return nil, errors.New("the other conversation never started")
		}
	})
	rec := newRecorder()
	h := NewHub(handler, HubConfig{Workers: 2, Timeout: waitTimeout})
	for _, k := range []dialog.Key{a, b} {
		if err := h.Submit(msg(k, 0), rec.deliver); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, h)
	for _, k := range []dialog.Key{a, b} {
		if errs := rec.errors(k); len(errs) != 1 || errs[0] != nil {
			t.Errorf("%v: errors %v, want one nil", k, errs)
		}
	}
}

func TestHubSlowConversationDoesNotBlockOthers(t *testing.T) {
	slow := chatKey("slow")
	g := newGatedHandler("slow/0")
	rec := newRecorder()
	h := NewHub(g, HubConfig{Workers: 4, Timeout: waitTimeout})
	defer mustClose(t, h)
	defer close(g.gate)

	for seq := range 5 {
		if err := h.Submit(msg(slow, seq), rec.deliver); err != nil {
			t.Fatal(err)
		}
	}
	recv(t, "slow handler to start", g.started)
	for c := range 100 {
		if err := h.Submit(msg(chatKey(strconv.Itoa(c)), 0), rec.deliver); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitDeliveries(t, 100)
	for c := range 100 {
		if got := rec.texts(chatKey(strconv.Itoa(c))); len(got) != 1 {
			t.Errorf("conversation %d: %v delivered, want one message", c, got)
		}
	}
	if got := rec.texts(slow); len(got) != 0 {
		t.Errorf("slow conversation delivered %v while its first message was blocked", got)
	}
}

func TestHubSlowConversationKeepsItsOrder(t *testing.T) {
	slow := chatKey("slow")
	g := newGatedHandler("slow/0")
	rec := newRecorder()
	h := NewHub(g, HubConfig{Workers: 4, Timeout: waitTimeout})
	for seq := range 5 {
		if err := h.Submit(msg(slow, seq), rec.deliver); err != nil {
			t.Fatal(err)
		}
	}
	recv(t, "slow handler to start", g.started)
	close(g.gate)
	mustClose(t, h)
	if got, want := rec.texts(slow), seqTexts(0, 5); !slices.Equal(got, want) {
		t.Errorf("slow conversation handled %v, want %v", got, want)
	}
}

func TestHubIsFairBetweenConversations(t *testing.T) {
	// One worker; a has a backlog when b's first message arrives. b must be
	// next after a's current message, not after a's whole backlog.
	a, b := chatKey("a"), chatKey("b")
	g := newGatedHandler("a/0")
	var mu sync.Mutex
	var order []string
	deliver := func(_ context.Context, in dialog.Inbound, _ []dialog.Reply, _ error) {
		mu.Lock()
		order = append(order, in.ID)
		mu.Unlock()
	}
	h := NewHub(g, HubConfig{Workers: 1, Timeout: waitTimeout})
	for seq := range 10 {
		if err := h.Submit(msg(a, seq), deliver); err != nil {
			t.Fatal(err)
		}
	}
	recv(t, "a/0 to start", g.started)
	if err := h.Submit(msg(b, 0), deliver); err != nil {
		t.Fatal(err)
	}
	close(g.gate)
	mustClose(t, h)
	if len(order) != 11 || order[0] != "a/0" || order[1] != "b/0" {
		t.Errorf("handling order %v, want a/0, b/0, then a's backlog", order)
	}
}

func TestHubDropsDuplicates(t *testing.T) {
	var handled atomic.Int64
	handler := HandlerFunc(func(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		handled.Add(1)
		return echo(ctx, in)
	})
	h := NewHub(handler, HubConfig{})
	tg := dialog.Key{Channel: "telegram", Chat: "1", User: "1"}
	tgOtherChat := dialog.Key{Channel: "telegram", Chat: "2", User: "2"}
	slack := dialog.Key{Channel: "slack", Chat: "1", User: "1"}
	steps := []struct {
		name string
		in   dialog.Inbound
		want error
	}{
		{"first sighting", dialog.Inbound{ID: "42", Key: tg}, nil},
		{"resent", dialog.Inbound{ID: "42", Key: tg}, ErrDuplicate},
		{"ids are unique per channel, not per chat", dialog.Inbound{ID: "42", Key: tgOtherChat}, ErrDuplicate},
		{"same id on another channel", dialog.Inbound{ID: "42", Key: slack}, nil},
		{"no id", dialog.Inbound{Key: tg}, nil},
		{"no id again", dialog.Inbound{Key: tg}, nil},
	}
	for _, s := range steps {
		if err := h.Submit(s.in, nil); !errors.Is(err, s.want) {
			t.Errorf("%s: Submit = %v, want %v", s.name, err, s.want)
		}
	}
	mustClose(t, h)
	if got := handled.Load(); got != 4 {
		t.Errorf("handler saw %d messages, want 4", got)
	}
	if s := h.Stats(); s.Duplicates != 2 || s.Handled != 4 {
		t.Errorf("Stats = %+v, want 2 duplicates, 4 handled", s)
	}
}

// A message's id is recorded once it was handled, not before: one whose
// handling failed, or that a replica took and died with, is taken again
// when the channel delivers it again; one handled is dropped, by a new hub
// (a restart, another replica) sharing the Deduper too.
func TestHubRecordsIdsOnceHandled(t *testing.T) {
	dedupe := NewMemoryDeduper(100, time.Hour)
	fail := true
	handler := HandlerFunc(func(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		if fail {
			return nil, errors.New("session store unavailable")
		}
		return echo(ctx, in)
	})
	rec := newRecorder()
	key := chatKey("1")
	h := NewHub(handler, HubConfig{Dedupe: dedupe})
	if err := h.Submit(msg(key, 1), rec.deliver); err != nil {
		t.Fatal(err)
	}
	rec.waitDeliveries(t, 1)
	mustClose(t, h)
	if seen, _ := dedupe.Seen(context.Background(), "telegram\x001/1"); seen {
		t.Fatal("a message whose handling failed was recorded as handled")
	}

	fail = false
	h = NewHub(handler, HubConfig{Dedupe: dedupe})
	if err := h.Submit(msg(key, 1), rec.deliver); err != nil {
		t.Fatalf("the retry of a failed message = %v, want taken", err)
	}
	rec.waitDeliveries(t, 1)
	mustClose(t, h)

	again := NewHub(handler, HubConfig{Dedupe: dedupe})
	if err := again.Submit(msg(key, 1), rec.deliver); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("a handled message delivered again = %v, want ErrDuplicate", err)
	}
	mustClose(t, again)
	if errs := rec.errors(key); len(errs) != 2 || errs[0] == nil || errs[1] != nil {
		t.Fatalf("outcomes %v, want the failure then the success", errs)
	}
}

func TestHubRetryStormQueuesOnce(t *testing.T) {
	var handled atomic.Int64
	handler := HandlerFunc(func(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		handled.Add(1)
		return nil, nil
	})
	h := NewHub(handler, HubConfig{})
	var accepted, dups atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			switch err := h.Submit(dialog.Inbound{ID: "update-7", Key: chatKey("1")}, nil); {
			case err == nil:
				accepted.Add(1)
			case errors.Is(err, ErrDuplicate):
				dups.Add(1)
			default:
				t.Errorf("Submit: %v", err)
			}
		})
	}
	wg.Wait()
	mustClose(t, h)
	if accepted.Load() != 1 || dups.Load() != 63 || handled.Load() != 1 {
		t.Errorf("accepted %d, duplicates %d, handled %d; want 1, 63, 1", accepted.Load(), dups.Load(), handled.Load())
	}
}

func TestHubBusyPerConversation(t *testing.T) {
	a, b := chatKey("a"), chatKey("b")
	g := newGatedHandler("a/0")
	rec := newRecorder()
	h := NewHub(g, HubConfig{Workers: 1, QueueLimit: 3, Timeout: waitTimeout})

	if err := h.Submit(msg(a, 0), rec.deliver); err != nil {
		t.Fatal(err)
	}
	recv(t, "a/0 to start", g.started) // running, so no longer counted as queued
	for seq := 1; seq <= 3; seq++ {
		if err := h.Submit(msg(a, seq), rec.deliver); err != nil {
			t.Fatalf("Submit(a/%d): %v", seq, err)
		}
	}
	if err := h.Submit(msg(a, 4), rec.deliver); !errors.Is(err, ErrBusy) {
		t.Fatalf("Submit(a/4) over the limit = %v, want ErrBusy", err)
	}
	if err := h.Submit(msg(b, 0), rec.deliver); err != nil {
		t.Errorf("Submit(b/0): another conversation is refused: %v", err)
	}

	close(g.gate)
	waitFor(t, "queue to drain", func() bool { return h.Stats().Queued == 0 })
	// The refused message was not remembered: its retry is accepted.
	if err := h.Submit(msg(a, 4), rec.deliver); err != nil {
		t.Errorf("retry of refused a/4 = %v, want accepted", err)
	}
	mustClose(t, h)

	if got, want := rec.texts(a), seqTexts(0, 5); !slices.Equal(got, want) {
		t.Errorf("a handled %v, want %v", got, want)
	}
	if s := h.Stats(); s.Busy != 1 {
		t.Errorf("Stats.Busy = %d, want 1", s.Busy)
	}
}

func TestHubBusyOverall(t *testing.T) {
	g := newGatedHandler("a/0")
	rec := newRecorder()
	h := NewHub(g, HubConfig{Workers: 1, MaxPending: 2, Timeout: waitTimeout})
	if err := h.Submit(msg(chatKey("a"), 0), rec.deliver); err != nil {
		t.Fatal(err)
	}
	recv(t, "a/0 to start", g.started)
	for _, c := range []string{"b", "c"} {
		if err := h.Submit(msg(chatKey(c), 0), rec.deliver); err != nil {
			t.Fatalf("Submit(%s/0): %v", c, err)
		}
	}
	if err := h.Submit(msg(chatKey("d"), 0), rec.deliver); !errors.Is(err, ErrBusy) {
		t.Fatalf("Submit(d/0) over MaxPending = %v, want ErrBusy", err)
	}
	close(g.gate)
	mustClose(t, h)
	for _, c := range []string{"a", "b", "c"} {
		if got := rec.texts(chatKey(c)); len(got) != 1 {
			t.Errorf("%s delivered %v, want its one accepted message", c, got)
		}
	}
	if got := rec.texts(chatKey("d")); len(got) != 0 {
		t.Errorf("refused d delivered %v", got)
	}
}

func TestHubRecoversPanics(t *testing.T) {
	const secret = "my card is 4111 1111 1111 1111"
	handler := HandlerFunc(func(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		switch in.Action {
		case "panic-text":
			panic("cannot parse " + in.Text)
		case "panic-runtime":
			var lines []string
			_ = lines[len(in.Text)] // index out of range
		}
		return echo(ctx, in)
	})
	log, logs := newTestLogger()
	rec := newRecorder()
	h := NewHub(handler, HubConfig{Workers: 1, Logger: log})
	k := chatKey("p")
	for i, action := range []string{"panic-text", "", "panic-runtime", ""} {
		in := dialog.Inbound{ID: strconv.Itoa(i), Key: k, Text: secret, Action: action}
		if err := h.Submit(in, rec.deliver); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, h)

	errs := rec.errors(k)
	if len(errs) != 4 {
		t.Fatalf("%d deliveries, want 4", len(errs))
	}
	for i, wantPanic := range []bool{true, false, true, false} {
		if got := errors.Is(errs[i], ErrPanic); got != wantPanic {
			t.Errorf("delivery %d: err = %v, want panic %v", i, errs[i], wantPanic)
		}
	}
	if errs[0] != nil && strings.Contains(errs[0].Error(), secret) {
		t.Errorf("panic error carries the message text: %v", errs[0])
	}
	out := logs.String()
	if strings.Contains(out, "4111") {
		t.Errorf("logs contain message text:\n%s", out)
	}
	for _, want := range []string{"handler panicked", "conv=telegram:p:up", "channel=telegram", "index out of range", "panic value of type string"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if s := h.Stats(); s.Panics != 2 || s.Handled != 4 {
		t.Errorf("Stats = %+v, want 2 panics, 4 handled", s)
	}
}

func TestHubRecoversDeliverPanics(t *testing.T) {
	h := NewHub(HandlerFunc(echo), HubConfig{Workers: 1})
	var delivered atomic.Int64
	deliver := func(_ context.Context, in dialog.Inbound, _ []dialog.Reply, _ error) {
		if delivered.Add(1) == 1 {
			panic("adapter bug")
		}
	}
	for seq := range 3 {
		if err := h.Submit(msg(chatKey("a"), seq), deliver); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, h)
	if delivered.Load() != 3 {
		t.Errorf("%d deliveries, want 3: the worker died with the panic", delivered.Load())
	}
}

func TestHubLogsHandlerErrorsWithoutText(t *testing.T) {
	handler := HandlerFunc(func(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		return nil, errors.New("session store unavailable")
	})
	log, logs := newTestLogger()
	rec := newRecorder()
	h := NewHub(handler, HubConfig{Logger: log})
	if err := h.Submit(dialog.Inbound{ID: "1", Key: chatKey("e"), Text: "deliver to 10 Downing Street"}, rec.deliver); err != nil {
		t.Fatal(err)
	}
	mustClose(t, h)
	out := logs.String()
	if strings.Contains(out, "Downing") {
		t.Errorf("logs contain message text:\n%s", out)
	}
	for _, want := range []string{`err="session store unavailable"`, "conv=telegram:e:ue", "channel=telegram"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if errs := rec.errors(chatKey("e")); len(errs) != 1 || errs[0] == nil {
		t.Errorf("delivered errors %v, want the handler's error", errs)
	}
}

func TestHubHandlerDeadline(t *testing.T) {
	handler := HandlerFunc(func(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		<-ctx.Done() // a handler stuck on I/O that honours its context
		return nil, ctx.Err()
	})
	var deliverCtxErr error
	var got error
	done := make(chan struct{})
	deliver := func(ctx context.Context, _ dialog.Inbound, _ []dialog.Reply, err error) {
		deliverCtxErr, got = ctx.Err(), err
		close(done)
	}
	h := NewHub(handler, HubConfig{Timeout: 20 * time.Millisecond})
	if err := h.Submit(msg(chatKey("a"), 0), deliver); err != nil {
		t.Fatal(err)
	}
	recv(t, "delivery", done)
	mustClose(t, h)
	if !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("delivered err = %v, want deadline exceeded", got)
	}
	if deliverCtxErr != nil {
		t.Errorf("deliver got a spent context (%v); it needs its own deadline to send an apology", deliverCtxErr)
	}
}

func TestHubCloseDrainsQueuedWork(t *testing.T) {
	a, b := chatKey("a"), chatKey("b")
	g := newGatedHandler("a/0")
	rec := newRecorder()
	h := NewHub(g, HubConfig{Workers: 2, Timeout: waitTimeout})
	for seq := range 10 {
		for _, k := range []dialog.Key{a, b} {
			if err := h.Submit(msg(k, seq), rec.deliver); err != nil {
				t.Fatal(err)
			}
		}
	}
	recv(t, "a/0 to start", g.started)

	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		closed <- h.Close(ctx)
	}()
	waitFor(t, "Close to stop intake", func() bool {
		return errors.Is(h.Submit(msg(chatKey("late"), 0), rec.deliver), ErrClosed)
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a message was still being handled", err)
	default:
	}

	close(g.gate)
	if err := recv(t, "Close", closed); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, k := range []dialog.Key{a, b} {
		if got, want := rec.texts(k), seqTexts(0, 10); !slices.Equal(got, want) {
			t.Errorf("%v handled %v, want %v", k, got, want)
		}
	}
	if err := h.Submit(msg(a, 99), rec.deliver); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close = %v, want ErrClosed", err)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestHubCloseGivesUpAtDeadline(t *testing.T) {
	a := chatKey("a")
	cancelled := make(chan struct{})
	started := make(chan struct{})
	handler := HandlerFunc(func(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		if in.Text == "0" {
			close(started)
			<-ctx.Done()
			close(cancelled)
			return nil, ctx.Err()
		}
		return echo(ctx, in)
	})
	log, logs := newTestLogger()
	rec := newRecorder()
	h := NewHub(handler, HubConfig{Workers: 1, Timeout: time.Hour, Logger: log})
	for seq := range 3 {
		if err := h.Submit(msg(a, seq), rec.deliver); err != nil {
			t.Fatal(err)
		}
	}
	recv(t, "message 0 to start", started)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := h.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want deadline exceeded", err)
	}
	recv(t, "the blocked handler's context to be cancelled", cancelled)
	recv(t, "workers to stop", h.done)
	if got := rec.texts(a); len(got) != 1 || got[0] != "0" {
		t.Errorf("delivered %v, want only the in-flight message", got)
	}
	if s := h.Stats(); s.Abandoned != 2 || s.Queued != 0 || s.Conversations != 0 {
		t.Errorf("Stats = %+v, want 2 abandoned and nothing left", s)
	}
	if err := h.Submit(msg(a, 9), rec.deliver); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close = %v, want ErrClosed", err)
	}
	if !strings.Contains(logs.String(), "dropped=2") {
		t.Errorf("logs do not report the dropped messages:\n%s", logs.String())
	}
}

// slowDeduper lets a test hold Submit inside the Deduper.
type slowDeduper struct {
	entered chan struct{}
	release chan struct{}
	inner   *MemoryDeduper
}

func (d *slowDeduper) Seen(ctx context.Context, id string) (bool, error) {
	d.entered <- struct{}{}
	<-d.release
	return d.inner.Seen(ctx, id)
}

func (d *slowDeduper) FirstSeen(ctx context.Context, id string) (bool, error) {
	return d.inner.FirstSeen(ctx, id)
}

func TestHubCloseWaitsForSubmitInDeduper(t *testing.T) {
	// A message past the limit checks when Close starts was accepted: it
	// must be handled, not stranded.
	d := &slowDeduper{entered: make(chan struct{}), release: make(chan struct{}), inner: NewMemoryDeduper(10, time.Hour)}
	rec := newRecorder()
	h := NewHub(HandlerFunc(echo), HubConfig{Dedupe: d})
	submitted := make(chan error, 1)
	go func() { submitted <- h.Submit(msg(chatKey("a"), 0), rec.deliver) }()
	recv(t, "Submit to reach the deduper", d.entered)

	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		closed <- h.Close(ctx)
	}()
	waitFor(t, "Close to stop intake", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.closed
	})
	close(d.release)
	if err := recv(t, "Submit", submitted); err != nil {
		t.Fatalf("Submit = %v, want accepted", err)
	}
	if err := recv(t, "Close", closed); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if got := rec.texts(chatKey("a")); len(got) != 1 {
		t.Errorf("delivered %v, want the accepted message", got)
	}
}

type failingDeduper struct{}

func (failingDeduper) Seen(context.Context, string) (bool, error) {
	return false, errors.New("redis: connection refused")
}

func (failingDeduper) FirstSeen(context.Context, string) (bool, error) {
	return false, errors.New("redis: connection refused")
}

func TestHubAcceptsMessagesWhenDedupeFails(t *testing.T) {
	log, logs := newTestLogger()
	rec := newRecorder()
	h := NewHub(HandlerFunc(echo), HubConfig{Dedupe: failingDeduper{}, Logger: log})
	if err := h.Submit(msg(chatKey("a"), 0), rec.deliver); err != nil {
		t.Fatalf("Submit = %v, want accepted despite the failing deduper", err)
	}
	mustClose(t, h)
	if got := rec.texts(chatKey("a")); len(got) != 1 {
		t.Errorf("delivered %v, want the message", got)
	}
	if !strings.Contains(logs.String(), "dedupe failed") {
		t.Errorf("the dedupe failure was not logged:\n%s", logs.String())
	}
}

func TestHubForgetsIdleConversations(t *testing.T) {
	h := NewHub(HandlerFunc(echo), HubConfig{})
	rec := newRecorder()
	for c := range 500 {
		if err := h.Submit(msg(chatKey(strconv.Itoa(c)), 0), rec.deliver); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitDeliveries(t, 500)
	waitFor(t, "conversations to be forgotten", func() bool { return h.Stats().Conversations == 0 })
	// A duplicate leaves nothing behind either.
	if err := h.Submit(msg(chatKey("0"), 0), rec.deliver); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("Submit = %v, want ErrDuplicate", err)
	}
	if n := h.Stats().Conversations; n != 0 {
		t.Errorf("%d conversations kept after a duplicate", n)
	}
	mustClose(t, h)
}

func TestHubConfigDefaults(t *testing.T) {
	c := HubConfig{}.withDefaults()
	if c.Workers < 4 || c.QueueLimit != 64 || c.MaxPending != 10000 || c.Timeout != 30*time.Second || c.Dedupe == nil || c.Logger == nil {
		t.Errorf("defaults = %+v", c)
	}
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestMemoryDeduper(t *testing.T) {
	type step struct {
		advance time.Duration
		id      string
		first   bool
	}
	cases := []struct {
		name  string
		max   int
		ttl   time.Duration
		steps []step
	}{
		{"remembers within ttl", 10, time.Hour, []step{
			{0, "a", true}, {0, "a", false}, {0, "b", true}, {59 * time.Minute, "a", false},
		}},
		{"forgets after ttl", 10, time.Hour, []step{
			{0, "a", true}, {time.Hour, "a", true}, {0, "a", false},
		}},
		{"seeing again does not extend", 10, time.Hour, []step{
			{0, "a", true}, {30 * time.Minute, "a", false}, {30 * time.Minute, "a", true},
		}},
		{"evicts the oldest over max", 3, time.Hour, []step{
			{0, "a", true}, {0, "b", true}, {0, "c", true}, {0, "d", true},
			{0, "b", false}, {0, "c", false}, {0, "d", false}, {0, "a", true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			d := NewMemoryDeduper(tc.max, tc.ttl)
			d.now = clock.Now
			for i, s := range tc.steps {
				clock.Advance(s.advance)
				first, err := d.FirstSeen(context.Background(), s.id)
				if err != nil || first != s.first {
					t.Fatalf("step %d: FirstSeen(%q) = %v, %v; want %v", i, s.id, first, err, s.first)
				}
			}
			if d.Len() > tc.max {
				t.Errorf("Len = %d, above max %d", d.Len(), tc.max)
			}
		})
	}
}

func TestMemoryDeduperStaysBounded(t *testing.T) {
	clock := newFakeClock()
	d := NewMemoryDeduper(100, time.Minute)
	d.now = clock.Now
	for i := range 10000 {
		if first, _ := d.FirstSeen(context.Background(), strconv.Itoa(i)); !first {
			t.Fatalf("id %d reported seen", i)
		}
	}
	if d.Len() != 100 || d.order.len() != 100 || cap(d.order.items) > 1000 {
		t.Errorf("Len %d, order %d (cap %d); want 100 and a bounded slice", d.Len(), d.order.len(), cap(d.order.items))
	}
	clock.Advance(time.Minute)
	d.FirstSeen(context.Background(), "fresh")
	if d.Len() != 1 {
		t.Errorf("Len after ttl = %d, want 1", d.Len())
	}
}

func TestMemoryDeduperConcurrent(t *testing.T) {
	d := NewMemoryDeduper(1<<20, time.Hour)
	var firsts atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range 2000 {
				if first, _ := d.FirstSeen(context.Background(), strconv.Itoa(i)); first {
					firsts.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if firsts.Load() != 2000 {
		t.Errorf("%d first sightings of 2000 ids", firsts.Load())
	}
}

func TestFifo(t *testing.T) {
	var q fifo[int]
	next, want := 0, 0
	for round := range 1000 {
		for range round%7 + 1 {
			q.push(next)
			next++
		}
		for range round%5 + 1 {
			if q.len() == 0 {
				break
			}
			if got := q.pop(); got != want {
				t.Fatalf("pop = %d, want %d", got, want)
			}
			want++
		}
		if q.len() != next-want {
			t.Fatalf("len = %d, want %d", q.len(), next-want)
		}
	}
	if live := q.len(); cap(q.items) > 4*live+64 {
		t.Errorf("cap %d for %d live items: dead space is not reclaimed", cap(q.items), live)
	}
}

func BenchmarkHub(b *testing.B) {
	for _, bc := range []struct {
		name  string
		dedup bool
	}{{"dedupe=off", false}, {"dedupe=on", true}} {
		b.Run(bc.name, func(b *testing.B) {
			const convs = 1000
			keys := make([]dialog.Key, convs)
			for i := range keys {
				keys[i] = chatKey(strconv.Itoa(i))
			}
			var delivered atomic.Int64
			all := make(chan struct{})
			total := int64(b.N)
			deliver := func(context.Context, dialog.Inbound, []dialog.Reply, error) {
				if delivered.Add(1) == total {
					close(all)
				}
			}
			h := NewHub(HandlerFunc(echo), HubConfig{QueueLimit: b.N + 1, MaxPending: b.N + 1})
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					in := dialog.Inbound{Key: keys[i%convs], Text: "hi"}
					if bc.dedup {
						in.ID = strconv.FormatInt(i, 10)
					}
					if err := h.Submit(in, deliver); err != nil {
						b.Errorf("Submit: %v", err)
					}
				}
			})
			<-all
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := h.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func BenchmarkMemoryDeduper(b *testing.B) {
	d := NewMemoryDeduper(100000, time.Hour)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d.FirstSeen(context.Background(), strconv.FormatInt(next.Add(1), 10))
		}
	})
}

// MemoryDeduper meets the Deduper contract; its handles share one memory,
// as goroutines of one process do.
func TestMemoryDeduperContract(t *testing.T) {
	storetest.RunDeduper(t, func(t *testing.T, n int) []storetest.Deduper {
		d := NewMemoryDeduper(1000, time.Hour)
		ds := make([]storetest.Deduper, n)
		for i := range ds {
			ds[i] = d
		}
		return ds
	})
}
