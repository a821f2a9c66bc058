package bot

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
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

// CardMessage is how one channel shows one order's card.
type CardMessage struct {
	// Sum identifies what the card shows: a card already showing it is left
	// alone, without a call.
	Sum string
	// Edit shows the card in the message at (a reference Post returned).
	// gone reports that the message can no longer be edited (deleted, too
	// old): a new card takes its place. Any other error is returned.
	Edit func(ctx context.Context, at string) (gone bool, err error)
	// Post shows the card in a new message and returns where it is, or ""
	// when it cannot be edited later.
	Post func(ctx context.Context) (at string, err error)
}

// PutCard shows an order's card on a channel: by editing the message that
// shows it already, or, the first time or when that message is gone, by
// posting a new one and remembering it. A failed look-up is returned
// rather than posting a second card (the notification is retried); a card
// not remembered is posted again next time.
func PutCard(ctx context.Context, cards Cards, channel, order string, m CardMessage, log *slog.Logger) error {
	ref, found, err := cards.CardRef(ctx, channel, order)
	if err != nil {
		return err
	}
	if shown, at, ok := strings.Cut(ref, " "); found && ok && at != "" {
		if shown == m.Sum {
			return nil
		}
		gone, err := m.Edit(ctx, at)
		if err == nil {
			saveCard(ctx, cards, channel, order, m.Sum, at, log)
			return nil
		}
		if !gone {
			return err
		}
		log.Debug("order card cannot be edited; posting a new one", "order", order, "err", err)
	}
	at, err := m.Post(ctx)
	if err != nil || at == "" {
		return err
	}
	saveCard(ctx, cards, channel, order, m.Sum, at, log)
	return nil
}

// saveCard remembers where a card is and what it shows ("sum at"), trying
// a few times.
func saveCard(ctx context.Context, cards Cards, channel, order, sum, at string, log *slog.Logger) {
	var err error
	for attempt := range 3 {
		if err = cards.SaveCardRef(ctx, channel, order, sum+" "+at); err == nil {
			return
		}
		if Sleep(ctx, Backoff(attempt, 100*time.Millisecond, time.Second)) != nil {
			break
		}
	}
	log.Warn("order card not remembered; the next change sends a new one", "order", order, "err", err)
}
