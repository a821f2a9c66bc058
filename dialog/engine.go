package dialog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/looplab/fsm"
	"golang.org/x/sync/singleflight"

	"orderbot/orders"
)

// OrderService is what the conversation needs from the order core.
// *orders.Service implements it.
type OrderService interface {
	Catalog(ctx context.Context) (*orders.Catalog, error)
	Place(ctx context.Context, d orders.Draft) (orders.Order, error)
	Orders(ctx context.Context, f orders.Filter) ([]orders.Order, error)
	Order(ctx context.Context, number string) (orders.Order, error)
	Cancel(ctx context.Context, number string, c orders.Customer) (orders.Order, error)
	CheckPayable(ctx context.Context, number string, amount orders.Money) (orders.Order, error)
	ConfirmPayment(ctx context.Context, number string, p orders.ReceivedPayment) (orders.Order, error)
	Decide(ctx context.Context, number, approver string, approve bool, note string) (orders.Order, error)
	Fulfil(ctx context.Context, number, by string, to orders.Status) (orders.Order, error)
	Amend(ctx context.Context, number string, c orders.Customer, lines []orders.DraftLine) (orders.Order, error)
}

var _ OrderService = (*orders.Service)(nil)

// Config tunes the engine. Zero values take the defaults.
type Config struct {
	FAQ []FAQEntry
	// Payments lists the payment methods offered on each channel, in the
	// order shown; a channel not listed offers pay on delivery. Only methods
	// whose whole flow the channel supports belong here (an invoice needs
	// Telegram with a payment provider).
	Payments    map[string][]orders.Payment
	PaymentTTL  time.Duration // how long an order paid up front waits for its payment; 30m
	DefaultLang string        // for conversations whose channel gives no locale; "en"
	PhoneRegion string        // region for phone numbers typed without a country code; "CN"
	PageSize    int           // products per page; 6
	CatalogTTL  time.Duration // how long a catalog snapshot is reused; 2s
	IdleReset   time.Duration // a conversation idle this long restarts at the menu; 24h
	CartTTL     time.Duration // an untouched cart is dropped after this long; 30 days
	MaxInput    int           // longest text accepted, in characters; 4096
	Now         func() time.Time
	Logger      *slog.Logger
}

func (c *Config) defaults() {
	if c.DefaultLang == "" {
		c.DefaultLang = "en"
	}
	c.DefaultLang = NormalizeLang(c.DefaultLang)
	if c.PhoneRegion == "" {
		c.PhoneRegion = "CN"
	}
	if c.PageSize <= 0 {
		c.PageSize = 6
	}
	if c.CatalogTTL <= 0 {
		c.CatalogTTL = 2 * time.Second
	}
	if c.IdleReset <= 0 {
		c.IdleReset = 24 * time.Hour
	}
	if c.CartTTL <= 0 {
		c.CartTTL = 30 * 24 * time.Hour
	}
	if c.MaxInput <= 0 {
		c.MaxInput = 4096
	}
	if c.PaymentTTL <= 0 {
		c.PaymentTTL = 30 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Engine runs conversations: for each inbound message it loads the session,
// rebuilds the state machine at the stored step, fires one event whose
// callbacks change only the in-memory session, then performs the effects
// (placing or cancelling an order, reading orders to show), renders the
// replies and saves the session with compare-and-set.
type Engine struct {
	svc   OrderService
	store Store
	cfg   Config

	mu     sync.Mutex
	cat    *orders.Catalog
	catAt  time.Time
	catGen uint64             // bumped by InvalidateCatalog: a read begun before it is not kept
	catRun singleflight.Group // one catalog read at a time, shared by the messages that wait for it

	locale atomic.Pointer[func(ctx context.Context, key Key) string]
}

// SetLocale gives the engine a way to learn a user's locale from their
// channel (Slack's users.info), for notifications to someone who has not
// talked to the bot in that conversation yet: an approver, a desk.
func (e *Engine) SetLocale(f func(ctx context.Context, key Key) string) { e.locale.Store(&f) }

// New returns an engine over the order service and the session store.
func New(svc OrderService, store Store, cfg Config) *Engine {
	cfg.defaults()
	return &Engine{svc: svc, store: store, cfg: cfg}
}

// InvalidateCatalog makes the next message read the catalog afresh: the
// order core found the snapshot stale (a price or the stock changed).
func (e *Engine) InvalidateCatalog() {
	e.mu.Lock()
	e.cat = nil
	e.catGen++
	e.mu.Unlock()
}

// catalogReadTimeout bounds one shared read of the catalog.
const catalogReadTimeout = 10 * time.Second

// catalog returns the catalog snapshot, read afresh once it is older than
// the configured TTL.
func (e *Engine) catalog(ctx context.Context) (*orders.Catalog, error) {
	now := e.cfg.Now()
	e.mu.Lock()
	if e.cat != nil && now.Sub(e.catAt) < e.cfg.CatalogTTL {
		c := e.cat
		e.mu.Unlock()
		return c, nil
	}
	gen := e.catGen
	e.mu.Unlock()
	// When the snapshot expires, every worker would read the catalog at
	// once; one reads it and the others wait for its result.
	ch := e.catRun.DoChan(strconv.FormatUint(gen, 10), func() (any, error) {
		// Not the first caller's own deadline alone: the others wait too.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), catalogReadTimeout)
		defer cancel()
		c, err := e.svc.Catalog(rctx)
		if err != nil {
			return nil, err
		}
		e.mu.Lock()
		if e.catGen == gen {
			e.cat, e.catAt = c, now
		}
		e.mu.Unlock()
		return c, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*orders.Catalog), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("read catalog: %w", context.Cause(ctx)) // the read goes on for the others
	}
}

// Handle answers one inbound message. Failures of the order core or the
// session store are logged and answered with an apology in the user's
// language; the error is returned as well, for the caller's metrics.
func (e *Engine) Handle(ctx context.Context, in Inbound) ([]Reply, error) {
	lang := NormalizeLang(in.Lang)
	if in.Lang == "" {
		lang = e.cfg.DefaultLang
	}
	cat, err := e.catalog(ctx)
	if err == nil {
		var replies []Reply
		err = e.store.Update(ctx, in.Key, func(s *Session) error {
			if s.Lang != "" {
				lang = s.Lang // for the apology, should the step fail
			}
			st := &step{e: e, s: s, cat: cat, in: in, now: e.cfg.Now().UTC()}
			if in.ID != "" && slices.Contains(s.Recent, in.ID) {
				// Handled and saved before, its answer perhaps lost (the
				// replica died before replying): show where the
				// conversation is, and change nothing else. The step shown
				// anew is saved, so that its buttons are the current ones.
				st.show = true
				if err := st.render(ctx); err != nil {
					return err
				}
				replies = st.replies
				return nil
			}
			if err := st.run(ctx); err != nil {
				return err
			}
			if in.ID != "" {
				s.Recent = append(s.Recent, in.ID)
				s.Recent = s.Recent[max(0, len(s.Recent)-MaxRecent):]
			}
			replies = st.replies
			lang = s.Lang
			return nil
		})
		if err == nil {
			return replies, nil
		}
	}
	e.cfg.Logger.Error("handle message", "conv", in.Key.String(), "channel", in.Key.Channel, "err", err)
	return []Reply{{Text: T(lang, "error")}}, err
}

// step is one message's worth of work on one session.
type step struct {
	e   *Engine
	s   *Session
	cat *orders.Catalog
	in  Inbound
	now time.Time

	replies []Reply
	show    bool          // render the current step at the end
	backing bool          // the transition under way is a Back: do not push the stack
	place   bool          // effect: place the order
	cancel  bool          // effect: cancel s.Order
	invoice bool          // effect: send the invoice of s.Order again
	paid    *PaymentEvent // effect: record a payment the channel confirmed
	decide  *decision     // effect: an approver's decision
	fulfil  *fulfilment   // effect: fulfilment staff moving an order on
	form    *OrderForm    // effect: place a form's order
	amend   bool          // effect: start changing s.Order's lines

	placed *orders.Order // the order this step placed, shown without reading it back
	after  []Reply       // replies that follow the step's message (an invoice)
}

func (st *step) lang() string { return st.s.Lang }

func (st *step) t(key string, args ...any) string { return T(st.s.Lang, key, args...) }

func (st *step) notice(key string, args ...any) {
	st.replies = append(st.replies, Reply{Text: st.t(key, args...)})
}

// fail answers an invalid input: the reason, a hint after repeated failures,
// and the step again.
func (st *step) fail(key string, args ...any) {
	st.notice(key, args...)
	st.s.Failures++
	if st.s.Failures >= 3 {
		st.notice("stuck_hint")
	}
	st.show = true
}

// run is the whole step: prepare the session, interpret the message and fire
// its event (pure), perform the effects, render.
func (st *step) run(ctx context.Context) error {
	s := st.s
	fresh := s.State == ""
	if fresh {
		s.Key = st.in.Key
		s.State = StateMenu
		s.Lang = st.e.cfg.DefaultLang
		if st.in.Lang != "" {
			s.Lang = NormalizeLang(st.in.Lang)
		}
	} else {
		st.expire()
	}
	if _, known := eventTo[s.State]; !known {
		// A state this version does not have (a session saved by another
		// version): start again from the menu rather than get stuck.
		s.State, s.Stack = StateMenu, nil
	}
	st.interpret(fresh)
	if err := st.effects(ctx); err != nil {
		return err
	}
	if st.show {
		if err := st.render(ctx); err != nil {
			return err
		}
	}
	st.replies = append(st.replies, st.after...)
	s.UpdatedAt = st.now
	return nil
}

// expire drops what an idle conversation should no longer hold.
func (st *step) expire() {
	s := st.s
	idle := st.now.Sub(s.UpdatedAt)
	if s.UpdatedAt.IsZero() || idle < st.e.cfg.IdleReset {
		return
	}
	if idle >= st.e.cfg.CartTTL {
		s.Cart, s.Held, s.Amending = nil, nil, ""
	}
	s.State, s.Stack, s.Failures = StateMenu, nil, 0
	s.Checkout = Checkout{}
}

// entered is the machine's only callback.
func (st *step) entered(from, to State) {
	s := st.s
	s.Failures = 0
	switch {
	case to == StateMenu:
		s.Stack = nil
	case st.backing, from == StateCancelOrder:
		// A confirmation is not a step to go back to.
	default:
		s.Stack = append(s.Stack, from)
		if len(s.Stack) > 20 {
			s.Stack = s.Stack[len(s.Stack)-20:]
		}
	}
}

// fire moves the conversation with ev through a state machine rebuilt at
// the current step; a self-transition just shows the step again.
func (st *step) fire(ev Event) {
	st.show = true
	m := newMachine(st.s.State, st.entered)
	err := m.Event(context.Background(), string(ev))
	var same fsm.NoTransitionError
	if err == nil || errors.As(err, &same) {
		st.s.State = State(m.Current())
		return
	}
	// The transition table does not allow ev here: a programming error, never
	// the user's. Show where the conversation is.
	st.e.cfg.Logger.Error("dialog transition refused", "conv", st.s.Key.String(), "event", string(ev), "state", string(st.s.State), "err", err)
}

// back returns to the previous step that can still be shown.
func (st *step) back() {
	for len(st.s.Stack) > 0 {
		prev := st.s.Stack[len(st.s.Stack)-1]
		st.s.Stack = st.s.Stack[:len(st.s.Stack)-1]
		ev := eventTo[prev]
		if prev == st.s.State || !canFire(st.s.State, ev) || !st.showable(prev) {
			continue
		}
		st.backing = true
		st.fire(ev)
		st.backing = false
		return
	}
	st.fire(EventShowMenu)
}

// showable reports whether a step has what it needs to be shown again.
func (st *step) showable(s State) bool {
	switch s {
	case StateProducts:
		return st.s.Category != "" || st.s.Search != ""
	case StateProduct:
		_, ok := st.cat.Product(st.s.Product)
		return ok
	case StateQuantity:
		_, _, ok := st.cat.Variant(st.s.Variant)
		return ok
	case StateLineQuantity:
		return st.lineIndex(st.s.EditLine) >= 0
	case StateAddress, StateName, StatePhone, StatePayment, StateCostCentre, StateReason:
		return len(st.s.Cart) > 0
	case StateReview:
		return len(st.s.Cart) > 0 && st.missingSlot() == ""
	case StateOrder, StateCancelOrder:
		return st.s.Order != ""
	case StateRejectReason:
		return st.s.Deciding != ""
	}
	return true
}

func newCheckoutKey() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

func runes(s string) int { return utf8.RuneCountInString(s) }

func truncate(s string, n int) string {
	if runes(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
