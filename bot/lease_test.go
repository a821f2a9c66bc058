package bot

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"orderbot/dialog"
)

// memoryLease is a Leaser in memory, shared by the hubs of a test as Redis
// is by replicas: one holder a name, growing tokens, ttl ignored, and the
// message ids recorded as handled.
type memoryLease struct {
	mu       sync.Mutex
	cond     *sync.Cond
	held     map[string]int64
	handled  map[string]bool
	next     int64
	fail     error // Acquire's error, when set
	released atomic.Int64
}

func newMemoryLease() *memoryLease {
	l := &memoryLease{held: map[string]int64{}, handled: map[string]bool{}}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *memoryLease) Acquire(ctx context.Context, name, id string, _ time.Duration) (context.Context, int64, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.held[name] != 0 && l.fail == nil && ctx.Err() == nil && !l.handled[id] {
		l.cond.Wait()
	}
	if l.fail != nil {
		return ctx, 0, false, l.fail
	}
	if err := ctx.Err(); err != nil {
		return ctx, 0, false, err
	}
	if id != "" && l.handled[id] {
		return ctx, 0, true, nil
	}
	l.next++
	l.held[name] = l.next
	return dialog.WithLease(ctx, l.next), l.next, false, nil
}

func (l *memoryLease) Release(_ context.Context, name string, token int64, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id != "" {
		l.handled[id] = true
	}
	if l.held[name] != token {
		return dialog.ErrLeaseLost
	}
	delete(l.held, name)
	l.released.Add(1)
	l.cond.Broadcast()
	return nil
}

// Two hubs (two replicas) sharing a lease never handle one conversation's
// messages at the same time, and every handling carries its token; each
// message's replies are delivered before the lease is released.
func TestHubLeaseAcrossReplicas(t *testing.T) {
	lease := newMemoryLease()
	var busy, overlaps, handled atomic.Int64
	handler := HandlerFunc(func(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		if _, ok := dialog.LeaseOf(ctx); !ok {
			t.Error("handled without the lease's token in the context")
		}
		if busy.Add(1) > 1 {
			overlaps.Add(1)
		}
		time.Sleep(200 * time.Microsecond)
		busy.Add(-1)
		handled.Add(1)
		return []dialog.Reply{{Text: in.Text}}, nil
	})
	var observed atomic.Int64
	cfg := HubConfig{Workers: 4, QueueLimit: 200, Lease: lease, Observe: func(channel string, took time.Duration, replies int, err error) {
		if channel != "telegram" || replies != 1 || err != nil || took <= 0 {
			t.Errorf("observed %s, %v, %d, %v", channel, took, replies, err)
		}
		observed.Add(1)
	}}
	replicas := []*Hub{NewHub(handler, cfg), NewHub(handler, cfg)}
	rec := newRecorder()
	key := chatKey("1")
	const n = 200
	for i := range n {
		if err := replicas[i%2].Submit(msg(key, i), rec.deliver); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitDeliveries(t, n)
	for _, h := range replicas {
		mustClose(t, h)
	}
	if overlaps.Load() != 0 || handled.Load() != n || observed.Load() != n {
		t.Fatalf("overlaps %d, handled %d, observed %d; want 0, %d, %d", overlaps.Load(), handled.Load(), observed.Load(), n, n)
	}
	if got := lease.released.Load(); got != n {
		t.Errorf("leases released %d, want %d", got, n)
	}
}

// A handler that lost the lease (it stalled past it; nothing was saved)
// handles the message again under a new lease; a lease that cannot be
// taken is the message's error.
func TestHubLeaseLostAndUnavailable(t *testing.T) {
	lease := newMemoryLease()
	var calls atomic.Int64
	var tokens sync.Map
	handler := HandlerFunc(func(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		token, _ := dialog.LeaseOf(ctx)
		tokens.Store(calls.Add(1), token)
		if calls.Load() == 1 {
			return nil, dialog.ErrLeaseLost
		}
		return []dialog.Reply{{Text: in.Text}}, nil
	})
	h := NewHub(handler, HubConfig{Lease: lease})
	rec := newRecorder()
	key := chatKey("2")
	if err := h.Submit(msg(key, 1), rec.deliver); err != nil {
		t.Fatal(err)
	}
	rec.waitDeliveries(t, 1)
	first, _ := tokens.Load(int64(1))
	second, _ := tokens.Load(int64(2))
	if calls.Load() != 2 || rec.errors(key)[0] != nil || second.(int64) <= first.(int64) {
		t.Fatalf("calls %d, error %v, tokens %v then %v; want a second handling under a new lease", calls.Load(), rec.errors(key)[0], first, second)
	}

	lease.mu.Lock()
	lease.fail = errors.New("redis: connection refused")
	lease.mu.Unlock()
	if err := h.Submit(msg(key, 2), rec.deliver); err != nil {
		t.Fatal(err)
	}
	rec.waitDeliveries(t, 1)
	if errs := rec.errors(key); len(errs) != 2 || errs[1] == nil || calls.Load() != 2 {
		t.Fatalf("errors %v, calls %d; want the lease's error and no handling", errs, calls.Load())
	}
	mustClose(t, h)
}

// A message delivered to two replicas (a channel's retry reaching the
// other one) is handled once: the lease remembers it as handled, the
// other replica delivers it no replies and counts it a duplicate. A
// message whose handling failed is not remembered, so its retry is
// handled.
func TestHubLeaseHandlesMessageOnce(t *testing.T) {
	lease := newMemoryLease()
	var handled atomic.Int64
	fail := atomic.Bool{}
	handler := HandlerFunc(func(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		if fail.Load() {
			return nil, errors.New("order core down")
		}
		handled.Add(1)
		return []dialog.Reply{{Text: in.Text}}, nil
	})
	dedupe := NewMemoryDeduper(0, 0)
	cfg := HubConfig{Lease: lease, Dedupe: dedupe}
	a, b := NewHub(handler, cfg), NewHub(handler, cfg)
	key := chatKey("3")
	var replies sync.Map // hub → replies delivered
	deliver := func(name string, done chan<- struct{}) Deliver {
		return func(_ context.Context, _ dialog.Inbound, r []dialog.Reply, err error) {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			replies.Store(name, len(r))
			close(done)
		}
	}
	first, second := make(chan struct{}), make(chan struct{})
	if err := a.Submit(msg(key, 1), deliver("a", first)); err != nil {
		t.Fatal(err)
	}
	<-first
	if err := b.Submit(msg(key, 1), deliver("b", second)); err != nil {
		t.Fatal(err)
	}
	<-second
	ra, _ := replies.Load("a")
	rb, _ := replies.Load("b")
	if handled.Load() != 1 || ra != 1 || rb != 0 || b.Stats().Duplicates != 1 || b.Stats().Handled != 0 {
		t.Fatalf("handled %d, replies %v and %v, b's stats %+v; want one handling, its replies once", handled.Load(), ra, rb, b.Stats())
	}
	if dedupe.Len() != 0 {
		t.Errorf("the hub used its Deduper beside the lease: %d ids", dedupe.Len())
	}

	fail.Store(true)
	rec := newRecorder()
	if err := a.Submit(msg(key, 2), rec.deliver); err != nil {
		t.Fatal(err)
	}
	rec.waitDeliveries(t, 1)
	fail.Store(false)
	if err := b.Submit(msg(key, 2), rec.deliver); err != nil {
		t.Fatal(err)
	}
	rec.waitDeliveries(t, 1)
	if errs := rec.errors(key); len(errs) != 2 || errs[0] == nil || errs[1] != nil || handled.Load() != 2 {
		t.Fatalf("errors %v, handled %d; want the failed message handled on its retry", errs, handled.Load())
	}
	mustClose(t, a)
	mustClose(t, b)
}

// A handler that lost the lease while another replica handled the same
// message (the channel's retry reached it): the second attempt finds the
// message handled and delivers nothing, not the first attempt's apology.
func TestHubLeaseLostToTheReplicaThatHandledIt(t *testing.T) {
	lease := newMemoryLease()
	var calls atomic.Int64
	handler := HandlerFunc(func(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		calls.Add(1)
		lease.mu.Lock()
		lease.handled[dedupeID(in)] = true // the other replica's release
		lease.mu.Unlock()
		return []dialog.Reply{{Text: "sorry, something went wrong"}}, dialog.ErrLeaseLost
	})
	h := NewHub(handler, HubConfig{Lease: lease})
	done := make(chan struct{})
	var got []dialog.Reply
	var gotErr error
	if err := h.Submit(msg(chatKey("4"), 1), func(_ context.Context, _ dialog.Inbound, r []dialog.Reply, err error) {
		got, gotErr = r, err
		close(done)
	}); err != nil {
		t.Fatal(err)
	}
	<-done
	mustClose(t, h)
	if calls.Load() != 1 || len(got) != 0 || gotErr != nil || h.Stats().Duplicates != 1 {
		t.Fatalf("handled %d times, delivered %v, %v, stats %+v; want one handling and nothing delivered", calls.Load(), got, gotErr, h.Stats())
	}
}
