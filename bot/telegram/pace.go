package telegram

import (
	"context"
	"sync"
	"time"
)

// pacer spaces the notifications out to Telegram's limits: at most one
// message per interval to a chat, and at least 1/rate between any two.
// Replies to users are not paced (Telegram allows answering bursts), but a
// 429 on any call pauses the notifications for its retry_after.
//
// A paced send first waits for its chat (one Send per chat at a time, the
// interval after the chat's last message), then passes the gate: senders
// pass it one at a time, in arrival order, each 1/rate after the one before,
// measured when it actually leaves. So any window of length W holds at most
// W·rate+1 paced sends, and at most W/interval+1 of one chat's, even when a
// sender wakes late.
type pacer struct {
	interval time.Duration
	gap      time.Duration
	gate     chan struct{} // held while waiting for the next global slot
	last     time.Time     // when the last paced send left; guarded by gate

	mu       sync.Mutex
	paused   time.Time // no paced send before this (flood control)
	chats    map[int64]*chatPace
	acquired int
}

type chatPace struct {
	lock  chan struct{} // one Send per chat at a time
	last  time.Time     // when the chat's latest paced send left
	users int           // Sends holding or waiting for lock
}

func newPacer(interval time.Duration, rate int) *pacer {
	return &pacer{
		interval: interval,
		gap:      time.Second / time.Duration(rate),
		gate:     make(chan struct{}, 1),
		chats:    make(map[int64]*chatPace),
	}
}

// acquire waits for exclusive use of a chat; release gives it back.
func (p *pacer) acquire(ctx context.Context, chat int64) (*chatPace, error) {
	p.mu.Lock()
	c := p.chats[chat]
	if c == nil {
		c = &chatPace{lock: make(chan struct{}, 1)}
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

func (p *pacer) release(c *chatPace) {
	<-c.lock
	p.mu.Lock()
	c.users--
	p.mu.Unlock()
}

// prune forgets idle chats whose interval has passed, so memory follows the
// chats being notified now rather than all chats ever notified.
func (p *pacer) prune(now time.Time) {
	for id, c := range p.chats {
		if c.users == 0 && now.Sub(c.last) >= p.interval {
			delete(p.chats, id)
		}
	}
}

// wait blocks until c's chat and the global rate allow one more message,
// and records it as leaving now.
func (p *pacer) wait(ctx context.Context, c *chatPace) error {
	if err := sleep(ctx, time.Until(c.last.Add(p.interval))); err != nil {
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
		if err := sleep(ctx, time.Until(until)); err != nil {
			return err
		}
	}
	now := time.Now()
	p.last, c.last = now, now
	return nil
}

// pause holds every paced send back for d: Telegram's flood control asked
// the bot to wait.
func (p *pacer) pause(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = later(p.paused, time.Now().Add(d))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// memo remembers chats for a while (a reply keyboard shown, a hint given),
// bounded in size. It is a hint kept in this process only: losing it costs
// a keyboard left on screen or one more hint, never a message.
type memo struct {
	ttl time.Duration
	max int

	mu sync.Mutex
	at map[int64]time.Time
}

func newMemo(ttl time.Duration, max int) *memo {
	return &memo{ttl: ttl, max: max, at: make(map[int64]time.Time)}
}

func (m *memo) set(k int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	m.at[k] = now
	if len(m.at) > m.max {
		for id, t := range m.at {
			if now.Sub(t) >= m.ttl || len(m.at) > m.max {
				delete(m.at, id)
			}
		}
	}
}

func (m *memo) has(k int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.at[k]
	return ok && time.Since(t) < m.ttl
}

func (m *memo) del(k int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.at, k)
}

// first reports whether k was not seen within the TTL, and marks it seen.
func (m *memo) first(k int64) bool {
	if m.has(k) {
		return false
	}
	m.set(k)
	return true
}

// fileIDs maps images already sent to Telegram's file_id, so each is
// uploaded or fetched once.
type fileIDs struct {
	mu  sync.Mutex
	ids map[string]string
}

const maxFileIDs = 4096

func (f *fileIDs) get(image string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.ids[image]
	return id, ok
}

func (f *fileIDs) put(image, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ids == nil || len(f.ids) >= maxFileIDs {
		f.ids = make(map[string]string)
	}
	f.ids[image] = id
}
