package bot

import (
	"context"
	"fmt"
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
//
// Those limits are this process's. A Pacer made with NewSharedPacer also
// keeps them for every process sharing its SharedLimit (the replicas of
// orderbot, through Redis): at the gate, each send reserves its slot there
// too. While the shared limit fails, the Pacer paces on its own.
type Pacer[K comparable] struct {
	interval time.Duration
	gap      time.Duration
	gate     chan struct{} // held while waiting for the next global slot
	last     time.Time     // when the last paced send left; guarded by gate
	shared   SharedLimit   // nil: this process's limits only
	channel  string        // the channel's name in shared

	mu       sync.Mutex
	paused   time.Time // no paced send before this (flood control)
	chats    map[K]*ChatPace
	acquired int
	pauses   uint64    // calls to Pause: rate limits the channel answered
	alone    time.Time // shared is not asked before this: it failed lately
	failures uint64    // calls to shared that failed
}

// ChatPace is one chat's place in a Pacer, held between Acquire and Release.
type ChatPace struct {
	lock  chan struct{} // one Send per chat at a time
	last  time.Time     // when the chat's latest paced send left
	users int           // Sends holding or waiting for lock
	key   string        // the chat in the shared limit
}

// SharedLimit keeps a channel's limits for several processes together
// (dialog/redisstore.Limiter): each process's Pacer reserves its sends in
// it.
type SharedLimit interface {
	// Reserve asks to send one message to chat on channel, allowing one
	// per interval to a chat and one per gap overall. While the chat had
	// a message less than interval ago, or the channel is paused, it
	// reserves nothing: ok is false and wait is how long until asking
	// again may succeed. Otherwise it takes the channel's next free slot
	// and the chat's: ok is true and wait is how long until that slot,
	// before which the message must not leave.
	Reserve(ctx context.Context, channel, chat string, interval, gap time.Duration) (wait time.Duration, ok bool, err error)
	// Pause holds back every send on channel for d from now, unless it
	// is held back longer already: the channel answered that the senders
	// went over its rate limit.
	Pause(ctx context.Context, channel string, d time.Duration) error
}

// sharedTimeout bounds each call to a SharedLimit. After one failed, the
// Pacer paces on its own for aloneFor before it asks again, so that sends
// go on, with no more than a short delay, while the shared limit is down.
const (
	sharedTimeout = time.Second
	aloneFor      = 5 * time.Second
)

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

// NewSharedPacer is NewPacer whose limits also hold for every process
// sharing l under the name channel (the same for all of them); nil l is
// NewPacer. A chat is known in l as fmt.Sprint(chat), which must be the same
// in every process (as it is for numbers and strings).
func NewSharedPacer[K comparable](interval time.Duration, rate int, l SharedLimit, channel string) *Pacer[K] {
	p := NewPacer[K](interval, rate)
	p.shared, p.channel = l, channel
	return p
}

// Acquire waits for exclusive use of a chat; Release gives it back. Between
// the two, call Wait before each message.
func (p *Pacer[K]) Acquire(ctx context.Context, chat K) (*ChatPace, error) {
	p.mu.Lock()
	c := p.chats[chat]
	if c == nil {
		c = &ChatPace{lock: make(chan struct{}, 1)}
		if p.shared != nil {
			c.key = fmt.Sprint(chat)
		}
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
	for {
		retry, err := p.pass(ctx, c)
		if err != nil || retry == 0 {
			return err
		}
		// Another process wrote to the chat lately, or the channel is
		// paused: wait outside the gate, so that other chats' sends go on.
		if err := Sleep(ctx, retry); err != nil {
			return err
		}
	}
}

// pass passes the gate for one send to c's chat and returns 0; or, when the
// shared limit did not let it pass yet, how long to wait before trying
// again.
func (p *Pacer[K]) pass(ctx context.Context, c *ChatPace) (retry time.Duration, err error) {
	select {
	case p.gate <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-p.gate }()
	reserved := false
	for {
		p.mu.Lock()
		until := later(p.last.Add(p.gap), p.paused)
		p.mu.Unlock()
		if time.Now().Before(until) {
			// Sleep, then look again: a 429 may have paused everything meanwhile.
			if err := Sleep(ctx, time.Until(until)); err != nil {
				return 0, err
			}
			continue
		}
		if reserved {
			break
		}
		wait, ok, err := p.reserve(ctx, c)
		switch {
		case err != nil:
			return 0, err
		case !ok:
			return max(wait, time.Millisecond), nil // never 0: that is passed
		}
		if err := Sleep(ctx, wait); err != nil {
			return 0, err
		}
		reserved = true
	}
	now := time.Now()
	p.last, c.last = now, now
	return 0, nil
}

// reserve asks the shared limit for a send to c's chat, as
// SharedLimit.Reserve. Without a shared limit, or when it fails, the send
// may go now; it returns an error only when ctx is done.
func (p *Pacer[K]) reserve(ctx context.Context, c *ChatPace) (wait time.Duration, ok bool, err error) {
	if !p.sharing() {
		return 0, true, nil
	}
	rctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	wait, ok, err = p.shared.Reserve(rctx, p.channel, c.key, p.interval, p.gap)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return 0, false, ctx.Err()
		}
		p.sharedFailed()
		return 0, true, nil
	}
	return wait, ok, nil
}

// sharing reports whether to ask the shared limit: there is one, and it
// did not fail in the last aloneFor.
func (p *Pacer[K]) sharing() bool {
	if p.shared == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !time.Now().Before(p.alone)
}

// sharedFailed counts a failed call to the shared limit and paces alone
// for aloneFor.
func (p *Pacer[K]) sharedFailed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures++
	p.alone = time.Now().Add(aloneFor)
}

// Pause holds every paced send back for d: the channel's rate limit asked
// the bot to wait. A shared Pacer holds back every process's sends; it
// waits up to a second for the shared limit to take the pause.
func (p *Pacer[K]) Pause(d time.Duration) {
	p.mu.Lock()
	p.paused = later(p.paused, time.Now().Add(d))
	p.pauses++
	p.mu.Unlock()
	if !p.sharing() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	if err := p.shared.Pause(ctx, p.channel, d); err != nil {
		p.sharedFailed()
	}
}

// Pauses is how many times Pause was called: how often the channel
// answered that the bot went over its rate limit (a 429).
func (p *Pacer[K]) Pauses() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pauses
}

// SharedFailures is how many calls to the shared limit failed (Redis
// down): after each, the Pacer paced on its own for a few seconds, so the
// fleet together may have gone over the channel's limits.
func (p *Pacer[K]) SharedFailures() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failures
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
