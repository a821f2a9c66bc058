package telegram

import (
	"sync"
	"time"
)

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
