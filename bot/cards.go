package bot

import (
	"context"
	"sync"
)

// Cards remembers, per channel and order, the message that shows the
// order's card (a channel-specific reference), so that a channel updates
// that message as the order's status changes instead of sending a new one.
// dialog/sqlstore.Cards keeps them in the database.
type Cards interface {
	CardRef(ctx context.Context, channel, order string) (ref string, ok bool, err error)
	SaveCardRef(ctx context.Context, channel, order, ref string) error
}

// maxMemoryCards bounds MemoryCards; past it, every card is forgotten
// (each order's next change sends a new card).
const maxMemoryCards = 100000

// MemoryCards keeps card references in this process only: a restart then
// sends new cards. The zero value is ready to use.
type MemoryCards struct {
	mu   sync.Mutex
	refs map[string]string
}

// CardRef implements Cards.
func (m *MemoryCards) CardRef(_ context.Context, channel, order string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ref, ok := m.refs[channel+"\x00"+order]
	return ref, ok, nil
}

// SaveCardRef implements Cards.
func (m *MemoryCards) SaveCardRef(_ context.Context, channel, order, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refs == nil || len(m.refs) >= maxMemoryCards {
		m.refs = make(map[string]string)
	}
	m.refs[channel+"\x00"+order] = ref
	return nil
}
