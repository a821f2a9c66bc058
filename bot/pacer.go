package bot

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Pacer spaces messages out to a channel's limits: at most one message per
// interval to a chat, and at least 1/rate between any two. Channels pace
// their notifications with it (Telegram: one a second per chat, 30 a second
// overall; Slack: one a second per channel); a rate-limited answer pauses
// every paced send for the time the channel asked.
//
// A paced send first waits for its chat (one Send per chat at a time, the
// interval after the chat's last message), then passes the gate: senders
// pass it one at a time, in arrival order, each 1/rate after the one before,
// measured when it actually leaves. So any window of length W holds at most
// W·rate+1 paced sends, and at most W/interval+1 of one chat's, even when a
// sender wakes late.
type Pacer[K comparable] struct {
	interval time.Duration
	gap      time.Duration
	gate     chan struct{} // held while waiting for the next global slot
	last     time.Time     // when the last paced send left; guarded by gate

	mu       sync.Mutex
	paused   time.Time // no paced send before this (flood control)
	chats    map[K]*ChatPace
	acquired int
	pauses   uint64 // calls to Pause: rate limits the channel answered
}

// ChatPace is one chat's place in a Pacer, held between Acquire and Release.
type ChatPace struct {
	lock  chan struct{} // one Send per chat at a time
	last  time.Time     // when the chat's latest paced send left
	users int           // Sends holding or waiting for lock
}

// NewPacer returns a Pacer allowing one message per interval to a chat and
// rate messages a second overall.
func NewPacer[K comparable](interval time.Duration, rate int) *Pacer[K] {
	return &Pacer[K]{
		interval: interval,
		gap:      time.Second / time.Duration(rate),
		gate:     make(chan struct{}, 1),
		chats:    make(map[K]*ChatPace),
	}
}

// Acquire waits for exclusive use of a chat; Release gives it back. Between
// the two, call Wait before each message.
func (p *Pacer[K]) Acquire(ctx context.Context, chat K) (*ChatPace, error) {
	p.mu.Lock()
	c := p.chats[chat]
	if c == nil {
		c = &ChatPace{lock: make(chan struct{}, 1)}
		p.chats[chat] = c
	}
	c.users++
	p.acquired++
	if p.acquired%1024 == 0 {
		p.prune(time.Now())
	}
	p.mu.Unlock()
	select {
	case c.lock <- struct{}{}:
		return c, nil
	case <-ctx.Done():
		p.mu.Lock()
		c.users--
		p.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Release gives a chat back.
func (p *Pacer[K]) Release(c *ChatPace) {
	<-c.lock
	p.mu.Lock()
	c.users--
	p.mu.Unlock()
}

// prune forgets idle chats whose interval has passed, so memory follows the
// chats being notified now rather than all chats ever notified.
func (p *Pacer[K]) prune(now time.Time) {
	for id, c := range p.chats {
		if c.users == 0 && now.Sub(c.last) >= p.interval {
			delete(p.chats, id)
		}
	}
}

// Wait blocks until c's chat and the overall rate allow one more message,
// and records it as leaving now.
func (p *Pacer[K]) Wait(ctx context.Context, c *ChatPace) error {
	if err := Sleep(ctx, time.Until(c.last.Add(p.interval))); err != nil {
		return err
	}
	select {
	case p.gate <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.gate }()
	for {
		p.mu.Lock()
		until := later(p.last.Add(p.gap), p.paused)
		p.mu.Unlock()
		if !time.Now().Before(until) {
			break
		}
		// Sleep, then look again: a 429 may have paused everything meanwhile.
		if err := Sleep(ctx, time.Until(until)); err != nil {
			return err
		}
	}
	now := time.Now()
	p.last, c.last = now, now
	return nil
}

// Pause holds every paced send back for d: the channel's rate limit asked
// the bot to wait.
func (p *Pacer[K]) Pause(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = later(p.paused, time.Now().Add(d))
	p.pauses++
}

// Pauses is how many times Pause was called: how often the channel
// answered that the bot went over its rate limit (a 429).
func (p *Pacer[K]) Pauses() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pauses
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Backoff is the wait before retry attempt+1 of a call to a channel:
// minWait·2^attempt capped at maxWait, its upper half jittered so that many
// clients retrying at once spread out.
func Backoff(attempt int, minWait, maxWait time.Duration) time.Duration {
	d := minWait
	for i := 0; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return d/2 + rand.N(d/2+1)
}

// Sleep waits for d or until ctx is done, and returns ctx's error then.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
