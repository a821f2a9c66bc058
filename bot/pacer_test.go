package bot

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// memoryLimit is a SharedLimit in memory, kept as redisstore.Limiter keeps
// it in Redis: what the Pacers of several replicas share in these tests.
type memoryLimit struct {
	mu     sync.Mutex
	due    map[string]time.Time   // channel and chat: its next message's time
	next   map[string]time.Time   // channel: its next free slot
	paused map[string]time.Time   // channel: the end of its pause
	slots  map[string][]time.Time // chat: the slots reserved for it
	calls  int
	err    error // every call fails with it, when set
}

func newMemoryLimit() *memoryLimit {
	return &memoryLimit{
		due: map[string]time.Time{}, next: map[string]time.Time{}, paused: map[string]time.Time{},
		slots: map[string][]time.Time{},
	}
}

func (m *memoryLimit) Reserve(_ context.Context, channel, chat string, interval, gap time.Duration) (time.Duration, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.err != nil {
		return 0, false, m.err
	}
	now := time.Now()
	if due := later(m.paused[channel], m.due[channel+"\x00"+chat]); due.After(now) {
		return due.Sub(now), false, nil
	}
	slot := later(m.next[channel], now)
	m.next[channel] = slot.Add(gap)
	m.due[channel+"\x00"+chat] = slot.Add(interval)
	m.slots[chat] = append(m.slots[chat], slot)
	return slot.Sub(now), true, nil
}

func (m *memoryLimit) Pause(_ context.Context, channel string, d time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.err != nil {
		return m.err
	}
	m.paused[channel] = later(m.paused[channel], time.Now().Add(d))
	return nil
}

func (m *memoryLimit) callCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// send is one paced send: when it left, and to which chat.
type send struct {
	chat int
	at   time.Time
}

// mustSend makes one paced send to chat through p, as a channel's Send
// does, and returns when it left.
func mustSend(t *testing.T, p *Pacer[int], chat int) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := p.Acquire(ctx, chat)
	if err != nil {
		t.Fatalf("acquire chat %d: %v", chat, err)
	}
	defer p.Release(c)
	if err := p.Wait(ctx, c); err != nil {
		t.Fatalf("wait for chat %d: %v", chat, err)
	}
	return time.Now()
}

// sendAll sends perChat messages to each of chats through every pacer at
// once, a goroutine a pacer and chat, and returns the sends in time order.
func sendAll(t *testing.T, pacers []*Pacer[int], chats, perChat int) []send {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var (
		mu    sync.Mutex
		sends []send
		wg    sync.WaitGroup
	)
	for _, p := range pacers {
		for chat := range chats {
			wg.Go(func() {
				for range perChat {
					c, err := p.Acquire(ctx, chat)
					if err != nil {
						t.Errorf("acquire chat %d: %v", chat, err)
						return
					}
					err = p.Wait(ctx, c)
					at := time.Now()
					p.Release(c)
					if err != nil {
						t.Errorf("wait for chat %d: %v", chat, err)
						return
					}
					mu.Lock()
					sends = append(sends, send{chat, at})
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	slices.SortFunc(sends, func(a, b send) int { return a.at.Compare(b.at) })
	if want := len(pacers) * chats * perChat; len(sends) != want {
		t.Fatalf("%d sends, want %d", len(sends), want)
	}
	return sends
}

// checkChats fails the test when two sends to one chat were less than
// half the interval apart: the other half is slack for the scheduler (a
// send is timed when its goroutine wakes, which may be late; checkSlots
// needs no slack).
func checkChats(t *testing.T, sends []send, interval time.Duration) {
	t.Helper()
	last := map[int]time.Time{}
	for _, s := range sends {
		if prev, ok := last[s.chat]; ok && s.at.Sub(prev) < interval/2 {
			t.Fatalf("chat %d had two sends %v apart, want about %v", s.chat, s.at.Sub(prev), interval)
		}
		last[s.chat] = s.at
	}
}

// checkSlots fails the test unless each chat had a slot reserved in limit
// for every send, and no send left before its slot.
func checkSlots(t *testing.T, sends []send, limit *memoryLimit) {
	t.Helper()
	limit.mu.Lock()
	defer limit.mu.Unlock()
	n := map[int]int{}
	for _, s := range sends { // in time order, as the slots of each chat
		slots := limit.slots[strconv.Itoa(s.chat)]
		if n[s.chat] >= len(slots) {
			t.Fatalf("chat %d: send %d had no slot reserved", s.chat, n[s.chat]+1)
		}
		if slot := slots[n[s.chat]]; s.at.Before(slot) {
			t.Fatalf("chat %d: send %d left %v before its slot", s.chat, n[s.chat]+1, slot.Sub(s.at))
		}
		n[s.chat]++
	}
	for chat, slots := range limit.slots {
		if c, _ := strconv.Atoi(chat); len(slots) != n[c] {
			t.Fatalf("chat %s: %d slots reserved for %d sends", chat, len(slots), n[c])
		}
	}
}

// checkRate fails the test when a window of length window holds more sends
// than window/gap+1, plus slack for the scheduler.
func checkRate(t *testing.T, sends []send, window, gap time.Duration) {
	t.Helper()
	most := int(window/gap) + 1 + 4
	for i := range sends {
		n := 0
		for j := i; j < len(sends) && sends[j].at.Sub(sends[i].at) < window; j++ {
			n++
		}
		if n > most {
			t.Fatalf("%d sends within %v of %v, want at most %d", n, window, sends[i].at, most)
		}
	}
}

// Two replicas sharing a limit keep the per-chat interval and the overall
// rate together: each alone would send at the full rate.
func TestSharedPacerKeepsLimitsAcrossReplicas(t *testing.T) {
	const (
		interval = 50 * time.Millisecond
		rate     = 500 // a send every 2 ms
		gap      = time.Second / rate
		chats    = 40
		perChat  = 2 // from each replica
	)
	limit := newMemoryLimit()
	replicas := []*Pacer[int]{
		NewSharedPacer[int](interval, rate, limit, "test"),
		NewSharedPacer[int](interval, rate, limit, "test"),
	}
	sends := sendAll(t, replicas, chats, perChat)
	checkSlots(t, sends, limit)
	checkChats(t, sends, interval)
	checkRate(t, sends, 20*gap, gap)
	if took, least := sends[len(sends)-1].at.Sub(sends[0].at), time.Duration(len(sends)-1)*gap; took < least*9/10 {
		t.Fatalf("%d sends took %v, want at least %v", len(sends), took, least)
	}
	for i, p := range replicas {
		if n := p.SharedFailures(); n != 0 {
			t.Errorf("replica %d: %d failures of the shared limit", i, n)
		}
	}
}

// A 429 answered to one replica holds back the others too.
func TestSharedPacerPauseHoldsOtherReplicas(t *testing.T) {
	const pause = 50 * time.Millisecond
	limit := newMemoryLimit()
	a := NewSharedPacer[int](time.Millisecond, 1000, limit, "test")
	b := NewSharedPacer[int](time.Millisecond, 1000, limit, "test")
	start := time.Now()
	a.Pause(pause)
	if took := mustSend(t, b, 1).Sub(start); took < pause {
		t.Fatalf("the other replica sent %v after the pause of %v began", took, pause)
	}
	if a.Pauses() != 1 || b.Pauses() != 0 {
		t.Fatalf("Pauses = %d and %d, want 1 and 0: only the replica told counts", a.Pauses(), b.Pauses())
	}
}

// Pause holds every send back for the time asked, and counts.
func TestPacerPause(t *testing.T) {
	const pause = 30 * time.Millisecond
	p := NewPacer[int](time.Millisecond, 1000)
	mustSend(t, p, 1)
	start := time.Now()
	p.Pause(pause)
	p.Pause(pause / 3) // a shorter pause does not cut the longer short
	p.Pause(pause / 2)
	if took := mustSend(t, p, 2).Sub(start); took < pause {
		t.Fatalf("sent %v after a pause of %v began", took, pause)
	}
	if n := p.Pauses(); n != 3 {
		t.Fatalf("Pauses = %d, want 3", n)
	}
}

// While the shared limit fails (Redis down), sends go on, paced by the
// replica alone, and the limit is left alone for a while instead of being
// asked again for every message.
func TestSharedPacerFallsBackWhenSharedLimitFails(t *testing.T) {
	const (
		interval = 50 * time.Millisecond
		rate     = 500
	)
	limit := newMemoryLimit()
	limit.err = errors.New("redis: connection refused")
	p := NewSharedPacer[int](interval, rate, limit, "test")
	sends := sendAll(t, []*Pacer[int]{p}, 5, 4)
	checkChats(t, sends, interval)
	p.Pause(time.Millisecond)
	if n := p.SharedFailures(); n != 1 {
		t.Errorf("SharedFailures = %d, want 1", n)
	}
	if n := limit.callCount(); n != 1 {
		t.Errorf("the failing shared limit was called %d times, want once", n)
	}
}

// A chat another replica wrote to lately waits for its turn outside the
// gate: the replica's other chats go on meanwhile. The wait ends with ctx.
func TestSharedPacerWaitsForChatAlone(t *testing.T) {
	limit := newMemoryLimit()
	a := NewSharedPacer[int](time.Hour, 1000, limit, "test")
	b := NewSharedPacer[int](time.Hour, 1000, limit, "test")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	mustSend(t, b, 1)

	waitCtx, stop := context.WithCancel(ctx)
	waited := make(chan error, 1)
	go func() {
		c, err := a.Acquire(waitCtx, 1)
		if err == nil {
			err = a.Wait(waitCtx, c)
			a.Release(c)
		}
		waited <- err
	}()
	waitFor(t, "replica a to ask for chat 1", func() bool { return limit.callCount() >= 2 })
	mustSend(t, a, 2)
	select {
	case err := <-waited:
		t.Fatalf("chat 1 was sent to again within its interval: %v", err)
	default:
	}
	stop()
	if err := recv(t, "the wait for chat 1", waited); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait for chat 1 = %v, want context.Canceled", err)
	}
	if n := a.SharedFailures(); n != 0 {
		t.Fatalf("SharedFailures = %d, want 0: an ended wait is no failure", n)
	}
}

// A chat is known in the shared limit by its printed form, the same in
// every replica.
func TestSharedPacerChatKeys(t *testing.T) {
	var keys []string
	limit := recordingLimit(func(chat string) { keys = append(keys, chat) })
	p := NewSharedPacer[int64](time.Millisecond, 1000, limit, "test")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for _, chat := range []int64{-1001234567890, 42} {
		c, err := p.Acquire(ctx, chat)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(ctx, c); err != nil {
			t.Fatal(err)
		}
		p.Release(c)
	}
	if want := []string{"-1001234567890", "42"}; !slices.Equal(keys, want) {
		t.Fatalf("chat keys %q, want %q", keys, want)
	}
}

// recordingLimit is a SharedLimit that lets every send go at once and
// tells reserved which chat asked.
type recordingLimit func(chat string)

func (r recordingLimit) Reserve(_ context.Context, _, chat string, _, _ time.Duration) (time.Duration, bool, error) {
	r(chat)
	return 0, true, nil
}

func (recordingLimit) Pause(context.Context, string, time.Duration) error { return nil }
