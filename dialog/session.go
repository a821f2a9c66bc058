package dialog

import (
	"context"
	"errors"
	"sync"
	"time"

	"orderbot/orders"
)

// Session is everything the bot remembers of one conversation.
type Session struct {
	Key     Key   `json:"key"`
	Version int64 `json:"-"` // compare-and-set version, kept by the store

	State State   `json:"state"`
	Stack []State `json:"stack,omitempty"` // previous steps, for Back
	Seq   int     `json:"seq"`             // bumped every time a step is shown; buttons carry it
	Lang  string  `json:"lang"`

	Category string `json:"category,omitempty"` // the category being browsed
	Search   string `json:"search,omitempty"`   // or the search being shown
	Page     int    `json:"page,omitempty"`
	Product  string `json:"product,omitempty"`  // product SKU on screen
	Variant  string `json:"variant,omitempty"`  // variant SKU being added
	EditLine string `json:"edit,omitempty"`     // variant SKU of the cart line being edited
	Order    string `json:"order,omitempty"`    // order number on screen
	Deciding string `json:"deciding,omitempty"` // order number an approver is rejecting
	Failures int    `json:"failures,omitempty"` // invalid answers in a row at this step
	// Recent are the ids of the latest messages handled (MaxRecent), saved
	// with what they changed: a message delivered again is answered by
	// showing the step, not handled twice, whatever crashed in between.
	Recent []string `json:"recent,omitempty"`

	Cart []CartLine `json:"cart,omitempty"`
	// Amending is the order whose lines the cart holds while the customer
	// changes them; Held is the customer's own cart meanwhile.
	Amending string     `json:"amending,omitempty"`
	Held     []CartLine `json:"held,omitempty"`
	Checkout Checkout   `json:"checkout"`
	Profile  Profile    `json:"profile"`

	UpdatedAt time.Time `json:"updated_at"`
}

// CartLine is one line of the cart, with the price the customer was shown.
type CartLine struct {
	VariantSKU string       `json:"variant"`
	Quantity   int          `json:"qty"`
	UnitPrice  orders.Money `json:"price"`
}

// Checkout holds the slots collected for the order being placed.
type Checkout struct {
	Address  string         `json:"address,omitempty"`
	Location *Location      `json:"location,omitempty"`
	Name     string         `json:"name,omitempty"`
	Phone    string         `json:"phone,omitempty"`
	Payment  orders.Payment `json:"payment,omitempty"`
	// CostCentre and Reason go with an order paid by the company account;
	// ReasonAsked records that the optional reason was asked (and perhaps
	// skipped).
	CostCentre  string `json:"cost_centre,omitempty"`
	Reason      string `json:"reason,omitempty"`
	ReasonAsked bool   `json:"reason_asked,omitempty"`
	Key         string `json:"key,omitempty"` // the checkout key: one order per key
}

// Profile is what the customer gave last time, offered again with one tap.
type Profile struct {
	Address string `json:"address,omitempty"`
	Name    string `json:"name,omitempty"`
	Phone   string `json:"phone,omitempty"`
	// CostCentre is the company cost centre last charged.
	CostCentre string `json:"cost_centre,omitempty"`
}

// Store keeps sessions by conversation key. dialog/sqlstore keeps them in the
// order database; MemoryStore in process memory.
type Store interface {
	// Load returns the session for key; found is false, and s a fresh session
	// with Version 0, when there is none.
	Load(ctx context.Context, key Key) (s *Session, found bool, err error)
	// Update loads the session, calls fn on it and saves it if fn returns nil,
	// compare-and-set on Version: when another writer saved in between, it
	// loads again and calls fn again. It returns fn's error or the save's.
	Update(ctx context.Context, key Key, fn func(s *Session) error) error
}

// ErrConflict is returned by a store when the session kept changing under
// Update longer than it retries.
var ErrConflict = errors.New("dialog: session changed concurrently")

// ErrLeaseLost is returned by a store whose Update was given a lease token
// (WithLease) that no longer holds the conversation's lease: the replica
// handling the message stalled past its lease, another may hold it since,
// and nothing was saved.
var ErrLeaseLost = errors.New("dialog: conversation lease lost")

type leaseKey struct{}

// WithLease returns a context saying that the conversation being handled
// is leased with the fencing token given: a store that keeps leases
// (dialog/redisstore) then saves the session only while the lease is still
// that token's. The hub sets it when it leases conversations across
// replicas.
func WithLease(ctx context.Context, token int64) context.Context {
	return context.WithValue(ctx, leaseKey{}, token)
}

// LeaseOf returns the lease token WithLease put in ctx.
func LeaseOf(ctx context.Context) (token int64, ok bool) {
	token, ok = ctx.Value(leaseKey{}).(int64)
	return token, ok
}

// MaxRecent is how many message ids a session remembers (Session.Recent):
// channels deliver a message again soon after the failure that made them.
const MaxRecent = 16

// MaxUpdateAttempts bounds the compare-and-set retries of Update.
const MaxUpdateAttempts = 10

// MemoryStore keeps sessions in memory: for tests, benchmarks and one-off runs.
type MemoryStore struct {
	mu       sync.Mutex
	sessions map[Key][]byte
	versions map[Key]int64
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{sessions: map[Key][]byte{}, versions: map[Key]int64{}}
}

// Load implements Store.
func (m *MemoryStore) Load(_ context.Context, key Key) (*Session, bool, error) {
	m.mu.Lock()
	data, ok := m.sessions[key]
	v := m.versions[key]
	m.mu.Unlock()
	if !ok {
		return &Session{Key: key}, false, nil
	}
	s, err := DecodeSession(data)
	if err != nil {
		return nil, false, err
	}
	s.Key, s.Version = key, v
	return s, true, nil
}

// Update implements Store. Sessions are stored encoded, as in the other
// stores, so that fn never shares memory with the stored copy.
func (m *MemoryStore) Update(ctx context.Context, key Key, fn func(*Session) error) error {
	return CompareAndSet(ctx, key, m.Load, func(_ *Session, _ bool, base int64, data []byte) (int64, error) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.versions[key] != base {
			return 0, nil
		}
		m.sessions[key] = data
		m.versions[key] = base + 1
		return base + 1, nil
	}, fn)
}

// CompareAndSet is a store's Update: it loads the session for key, calls fn
// on it and saves it, encoded, with save, which must store it only if the
// stored version is still base (found tells whether one was stored at all)
// and return the new version, or 0 when another writer saved in between;
// fn then runs again on a fresh copy, up to MaxUpdateAttempts times
// (ErrConflict after that). It returns fn's error or save's.
func CompareAndSet(ctx context.Context, key Key,
	load func(context.Context, Key) (*Session, bool, error),
	save func(s *Session, found bool, base int64, data []byte) (version int64, err error),
	fn func(*Session) error) error {
	for attempt := 0; attempt < MaxUpdateAttempts; attempt++ {
		s, found, err := load(ctx, key)
		if err != nil {
			return err
		}
		base := s.Version
		if err := fn(s); err != nil {
			return err
		}
		data, err := EncodeSession(s)
		if err != nil {
			return err
		}
		v, err := save(s, found, base, data)
		if err != nil {
			return err
		}
		if v > 0 {
			s.Version = v
			return nil
		}
	}
	return ErrConflict
}
