package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"orderbot/dialog"
)

// Errors returned by Hub.Submit. Adapters tell them apart with errors.Is: a
// duplicate is acknowledged and forgotten, a busy hub asks the channel to
// retry later, a closed hub means the process is shutting down.
var (
	ErrDuplicate = errors.New("bot: duplicate message")
	ErrBusy      = errors.New("bot: too many pending messages")
	ErrClosed    = errors.New("bot: hub closed")
)

// ErrPanic is wrapped by the error delivered for a message whose handler
// panicked, so an adapter can answer with an apology instead of nothing.
var ErrPanic = errors.New("bot: handler panicked")

// Handler handles one inbound message and returns the replies (the dialog
// engine implements it).
type Handler interface {
	Handle(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error)
}

// HandlerFunc lets a plain function serve as a Handler.
type HandlerFunc func(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
	return f(ctx, in)
}

// Deliver receives the outcome of one handled message, on the worker
// goroutine, in the conversation's order. It runs before the conversation's
// next message is handled, so an adapter sends replies in order simply by
// sending them from here.
type Deliver func(ctx context.Context, in dialog.Inbound, replies []dialog.Reply, err error)

// Submitter is what a channel needs of the hub: hand it a message with the
// callback that delivers the replies. *Hub implements it; tests wrap it.
type Submitter interface {
	Submit(in dialog.Inbound, deliver Deliver) error
}

var _ Submitter = (*Hub)(nil)

// Deduper remembers the ids of the messages handled: Seen reports whether
// id was recorded, FirstSeen records it and reports whether it was new. A
// shared implementation (Redis, SQL) lets several replicas drop each
// other's duplicates.
//
// The hub asks Seen when a message arrives and records its id only once it
// was handled (with a Leaser, the lease does both instead, and the Deduper
// is not used): a message taken by a replica that died before handling it
// is let through again when the channel delivers it again (a webhook that
// got no answer), while the conversation itself, which keeps its latest
// message ids with its session, answers a message handled but not recorded
// only once.
type Deduper interface {
	Seen(ctx context.Context, id string) (bool, error)
	FirstSeen(ctx context.Context, id string) (bool, error)
}

// HubConfig tunes a Hub. The zero value is usable: every zero field gets its
// default.
type HubConfig struct {
	// Workers bounds how many messages are handled at once, across all
	// conversations. Default: 2×GOMAXPROCS and at least 4, because handling
	// mostly waits on a database or a session store.
	Workers int
	// QueueLimit is the most messages one conversation may have waiting
	// (not counting the one being handled); more are refused with ErrBusy so
	// one flooding chat cannot use up the global budget. Default 64.
	QueueLimit int
	// MaxPending is the most messages waiting across all conversations, which
	// bounds the hub's memory. Default 10000.
	MaxPending int
	// Timeout bounds the handling of one message, and separately its
	// delivery, so a reply can still go out after a slow handler. Default 30s.
	Timeout time.Duration
	// Dedupe remembers message ids. Default: NewMemoryDeduper(100000, 24h).
	Dedupe Deduper
	// Lease, when set, makes replicas sharing a session store take turns
	// at a conversation: each message is handled, and its replies
	// delivered, under the conversation's lease, whose fencing token goes
	// to the session store in the context (dialog.WithLease). Within one
	// process the hub already runs a conversation's messages in order.
	// The lease also remembers the ids of the messages handled, in the
	// same round trips, so Dedupe is not used with one.
	Lease Leaser
	// LeaseTTL is how long a conversation's lease lasts: the longest a
	// replica that died holding it delays the conversation. Handling a
	// message is bounded to three quarters of it. Default 10s.
	LeaseTTL time.Duration
	// Observe, when set, is told of every message handled: its channel,
	// how long handling took (the lease's wait included), how many
	// replies it made and the handler's error. For metrics; it must not
	// block.
	Observe func(channel string, took time.Duration, replies int, err error)
	// Logger receives operator logs; they never contain message content.
	// Default: discard.
	Logger *slog.Logger
}

// maxDedupeWait bounds how long Submit waits for the Deduper: Submit is called
// from a channel's receive loop, which must not stall on a slow store.
const maxDedupeWait = 5 * time.Second

func (c HubConfig) withDefaults() HubConfig {
	if c.Workers <= 0 {
		c.Workers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if c.QueueLimit <= 0 {
		c.QueueLimit = 64
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 10000
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Dedupe == nil {
		c.Dedupe = NewMemoryDeduper(100000, 24*time.Hour)
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// HubStats is a snapshot of a Hub's counters, for metrics and health checks.
type HubStats struct {
	Queued        int    // accepted messages not yet handled, the running ones excluded
	Running       int    // messages being handled now
	Conversations int    // conversations with a queued or running message
	Handled       uint64 // messages handled and delivered
	Duplicates    uint64 // messages dropped as already seen: by Submit, or by the lease when taken
	Busy          uint64 // messages refused by Submit because a queue was full
	Panics        uint64 // handler or deliver panics recovered
	Abandoned     uint64 // queued messages dropped when Close ran out of time
}

// Hub runs each conversation's messages strictly one at a time, in
// submission order, while different conversations run in parallel on a fixed
// set of workers. It drops messages it has already seen.
//
// Each conversation has its own FIFO queue; a conversation with waiting
// messages and nothing running sits in one ready queue. A worker takes the
// conversation at the front, handles one message, and puts the conversation
// at the back if more remain: one busy chat cannot starve others and a slow
// one holds only its own worker.
type Hub struct {
	handler Handler
	cfg     HubConfig
	log     *slog.Logger

	// base is the parent of every handling context; cancelled when Close
	// gives up so handlers that honour their context stop.
	base   context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when every worker has returned

	mu       sync.Mutex
	cond     *sync.Cond // workers wait on it for ready conversations
	convs    map[dialog.Key]*conv
	inflight map[string]struct{} // dedupe ids of the messages queued or running
	ready    fifo[*conv]         // conversations with queued messages and none running
	pending  int                 // queued plus reserved messages, all conversations
	running  int
	closed   bool // Submit refuses new messages
	aborted  bool // Close ran out of time: queued messages are dropped

	handled, duplicates, busy, panics, abandoned atomic.Uint64
}

// conv is one conversation's state in the hub. It is in Hub.ready exactly
// when it has queued messages and none running, and in Hub.convs while it has
// queued, reserved or running messages; empty conversations are forgotten so
// memory follows the load, not the number of chats ever seen.
type conv struct {
	key      dialog.Key
	queue    fifo[job]
	reserved int // Submits past the limit checks, still asking the Deduper
	running  bool
}

func (c *conv) idle() bool { return !c.running && c.reserved == 0 && c.queue.len() == 0 }

type job struct {
	in      dialog.Inbound
	deliver Deliver
}

// NewHub starts cfg.Workers goroutines that handle messages with h until
// Close.
func NewHub(h Handler, cfg HubConfig) *Hub {
	cfg = cfg.withDefaults()
	base, cancel := context.WithCancel(context.Background())
	hub := &Hub{
		handler: h,
		cfg:     cfg,
		log:     cfg.Logger,
		base:    base,
		cancel:  cancel,
		done:    make(chan struct{}),
		convs:   make(map[dialog.Key]*conv),
	}
	hub.inflight = make(map[string]struct{})
	hub.cond = sync.NewCond(&hub.mu)
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Go(hub.work)
	}
	go func() {
		wg.Wait()
		cancel()
		close(hub.done)
	}()
	return hub
}

// Submit queues in for handling and returns at once; deliver (which may be
// nil) later receives the outcome. It returns ErrDuplicate when a message
// with in.ID on the same channel is queued or being handled, or was handled
// (messages without an ID are never deduplicated), ErrBusy when the
// conversation's queue or the hub is full, and ErrClosed after Close. On
// any error nothing was queued.
func (h *Hub) Submit(in dialog.Inbound, deliver Deliver) error {
	did := dedupeID(in)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	if _, dup := h.inflight[did]; dup && did != "" {
		h.mu.Unlock()
		h.duplicates.Add(1)
		return ErrDuplicate
	}
	c := h.convs[in.Key]
	if h.pending >= h.cfg.MaxPending || (c != nil && c.queue.len()+c.reserved >= h.cfg.QueueLimit) {
		h.mu.Unlock()
		h.busy.Add(1)
		return ErrBusy
	}
	if c == nil {
		c = &conv{key: in.Key}
		h.convs[in.Key] = c
	}
	// Reserve the place before asking the Deduper, outside the lock: a slow
	// shared Deduper must not stall other conversations, and once an id is
	// recorded the message must fit.
	c.reserved++
	h.pending++
	h.mu.Unlock()

	// With a lease, the worker asks when it takes the lease.
	seen := did != "" && h.cfg.Lease == nil && h.seen(in, did)

	h.mu.Lock()
	defer h.mu.Unlock()
	c.reserved--
	if _, dup := h.inflight[did]; dup && did != "" {
		seen = true // queued by a Submit that asked at the same time
	}
	if seen || h.aborted {
		h.pending--
		if c.idle() {
			delete(h.convs, c.key)
		}
		if h.closed && h.pending == 0 {
			h.cond.Broadcast()
		}
		if h.aborted {
			return ErrClosed
		}
		h.duplicates.Add(1)
		return ErrDuplicate
	}
	if did != "" {
		h.inflight[did] = struct{}{}
	}
	c.queue.push(job{in: in, deliver: deliver})
	if !c.running && c.queue.len() == 1 {
		h.ready.push(c)
		h.cond.Signal()
	}
	return nil
}

// dedupeID is the id under which a message is deduplicated: its channel's
// and its own, "" for a message without an id.
func dedupeID(in dialog.Inbound) string {
	if in.ID == "" {
		return ""
	}
	return in.Key.Channel + "\x00" + in.ID
}

// seen asks the Deduper whether the message was handled. When it fails the
// message is let through: the conversation answers a message it already
// handled only once anyway.
func (h *Hub) seen(in dialog.Inbound, did string) bool {
	ctx, cancel := context.WithTimeout(h.base, min(h.cfg.Timeout, maxDedupeWait))
	defer cancel()
	seen, err := h.cfg.Dedupe.Seen(ctx, did)
	if err != nil {
		h.log.Warn("dedupe failed; accepting message", "conv", in.Key.String(), "channel", in.Key.Channel, "err", err)
		return false
	}
	return seen
}

// finished records a message's id once it was handled (not when handling
// failed: then a retry may succeed) unless the lease did, and forgets it as
// in flight.
func (h *Hub) finished(in dialog.Inbound, err error) {
	did := dedupeID(in)
	if did == "" {
		return
	}
	if err == nil && h.cfg.Lease == nil {
		ctx, cancel := context.WithTimeout(context.Background(), min(h.cfg.Timeout, maxDedupeWait))
		if _, rerr := h.cfg.Dedupe.FirstSeen(ctx, did); rerr != nil {
			h.log.Warn("message id not recorded", "conv", in.Key.String(), "channel", in.Key.Channel, "err", rerr)
		}
		cancel()
	}
	h.mu.Lock()
	delete(h.inflight, did)
	h.mu.Unlock()
}

// Close stops accepting messages and waits until the workers have handled
// and delivered everything already queued. If ctx ends first, Close drops the
// messages still queued, cancels the contexts of those being handled and
// returns ctx.Err() without waiting for them.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.cond.Broadcast()
	h.mu.Unlock()
	select {
	case <-h.done:
		return nil
	case <-ctx.Done():
		h.abort()
		return ctx.Err()
	}
}

// abort drops every queued message and cancels running handlers, so that the
// workers return as soon as their handlers do.
func (h *Hub) abort() {
	h.mu.Lock()
	if h.aborted {
		h.mu.Unlock()
		return
	}
	h.aborted = true
	dropped := 0
	for k, c := range h.convs {
		n := c.queue.len()
		dropped += n
		h.pending -= n
		c.queue = fifo[job]{}
		if c.idle() {
			delete(h.convs, k)
		}
	}
	h.ready = fifo[*conv]{}
	h.cond.Broadcast()
	h.mu.Unlock()
	h.abandoned.Add(uint64(dropped))
	h.cancel()
	if dropped > 0 {
		h.log.Warn("hub closed before its queue drained; messages dropped", "dropped", dropped)
	}
}

// Stats returns the hub's current counters.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	s := HubStats{Queued: h.pending, Running: h.running, Conversations: len(h.convs)}
	h.mu.Unlock()
	s.Handled = h.handled.Load()
	s.Duplicates = h.duplicates.Load()
	s.Busy = h.busy.Load()
	s.Panics = h.panics.Load()
	s.Abandoned = h.abandoned.Load()
	return s
}

// work is one worker: take the conversation at the front of the ready queue,
// handle its oldest message, requeue it at the back if more are waiting.
func (h *Hub) work() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		for h.ready.len() == 0 && !h.aborted && !(h.closed && h.pending == 0) {
			h.cond.Wait()
		}
		if h.ready.len() == 0 {
			return // aborted, or closed and drained
		}
		c := h.ready.pop()
		j := c.queue.pop()
		c.running = true
		h.pending--
		h.running++
		h.mu.Unlock()

		h.process(c.key, j)

		h.mu.Lock()
		h.running--
		c.running = false
		switch {
		case c.queue.len() > 0:
			// This worker takes from the ready queue next, so no one needs waking.
			h.ready.push(c)
		case c.idle():
			delete(h.convs, c.key)
		}
		if h.closed && h.pending == 0 {
			h.cond.Broadcast()
		}
	}
}

// process handles one message and delivers the outcome, each under its own
// deadline, and survives panics in either. With a Lease, both happen under
// the conversation's lease; a handler that lost it (it stalled past the
// lease, and nothing was saved) handles the message again under a new one,
// and a message the lease finds handled already (by another replica) is
// delivered no replies.
func (h *Hub) process(key dialog.Key, j job) {
	start := time.Now()
	did := dedupeID(j.in)
	var replies []dialog.Reply
	var err error
	dup := false
	release := func(bool) {}
	for attempt := 0; attempt < 2; attempt++ {
		release(false)
		replies, err = nil, nil // not the apology of an attempt that lost the lease
		ctx, cancel := context.WithTimeout(h.base, h.cfg.Timeout)
		if h.cfg.Lease != nil {
			ctx, release, dup, err = h.lease(ctx, key, did)
		}
		if err == nil && !dup {
			replies, err = h.handle(ctx, j.in)
		}
		cancel()
		if !errors.Is(err, dialog.ErrLeaseLost) {
			break
		}
	}
	defer func() { release(err == nil && !dup) }()
	if dup {
		h.duplicates.Add(1)
	} else {
		if h.cfg.Observe != nil {
			h.cfg.Observe(key.Channel, time.Since(start), len(replies), err)
		}
		if err != nil && !errors.Is(err, ErrPanic) {
			h.log.Error("handle message", "conv", key.String(), "channel", key.Channel, "err", err)
		}
	}
	if j.deliver != nil {
		ctx, cancel := context.WithTimeout(h.base, h.cfg.Timeout)
		h.deliver(ctx, j, replies, err)
		cancel()
	}
	h.finished(j.in, err)
	if !dup {
		h.handled.Add(1)
	}
}

// Leaser lends a conversation to one replica at a time
// (dialog/redisstore.Lease), and remembers which messages were handled
// (a Deduper's ids), so that a message is handled once across replicas.
type Leaser interface {
	// Acquire waits while another holds the lease named name, takes it for
	// ttl, and returns a fencing token that grows with every lease, and
	// ctx carrying it (dialog.WithLease) with whatever else the session
	// store wants to find there. When message id ("" for none) was
	// recorded as handled, it reports handled and takes no lease.
	Acquire(ctx context.Context, name, id string, ttl time.Duration) (leased context.Context, token int64, handled bool, err error)
	// Release records message id as handled (when id is not ""), and frees
	// the lease named name if token still holds it; it returns
	// dialog.ErrLeaseLost when it did not.
	Release(ctx context.Context, name string, token int64, id string) error
}

// lease takes the conversation's lease, waiting while another replica
// holds it, and returns ctx carrying its token, bounded to three quarters
// of the lease, and the function that releases it, recording message did
// as handled when told so. dup reports that did was handled already: then
// no lease is held.
func (h *Hub) lease(ctx context.Context, key dialog.Key, did string) (_ context.Context, release func(handled bool), dup bool, err error) {
	name := key.String()
	leased, token, dup, err := h.cfg.Lease.Acquire(ctx, name, did, h.cfg.LeaseTTL)
	if err != nil || dup {
		if err != nil {
			err = fmt.Errorf("lease conversation: %w", err)
		}
		return ctx, func(bool) {}, dup, err
	}
	ctx, cancel := context.WithTimeout(leased, h.cfg.LeaseTTL*3/4)
	release = func(handled bool) {
		cancel()
		id := ""
		if handled {
			id = did
		}
		// The hub's own context may be ending (shutdown): releasing must
		// still happen, or the conversation waits out the lease.
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer rcancel()
		if err := h.cfg.Lease.Release(rctx, name, token, id); err != nil {
			h.log.Warn("release conversation lease", "conv", name, "err", err)
		}
	}
	return ctx, release, false, nil
}

func (h *Hub) handle(ctx context.Context, in dialog.Inbound) (replies []dialog.Reply, err error) {
	defer func() {
		if r := recover(); r != nil {
			h.panics.Add(1)
			desc := describePanic(r)
			h.log.Error("handler panicked", "conv", in.Key.String(), "channel", in.Key.Channel,
				"err", desc, "stack", string(debug.Stack()))
			replies, err = nil, fmt.Errorf("%w: %s", ErrPanic, desc)
		}
	}()
	return h.handler.Handle(ctx, in)
}

func (h *Hub) deliver(ctx context.Context, j job, replies []dialog.Reply, err error) {
	defer func() {
		if r := recover(); r != nil {
			h.panics.Add(1)
			h.log.Error("deliver panicked", "conv", j.in.Key.String(), "channel", j.in.Key.Channel,
				"err", describePanic(r), "stack", string(debug.Stack()))
		}
	}()
	j.deliver(ctx, j.in, replies, err)
}

// describePanic names a recovered value without risking message content in
// the logs: runtime errors ("index out of range", "nil map") are written by
// the runtime and safe to show, anything else could have been formatted from
// the user's text, so only its type is kept.
func describePanic(r any) string {
	if re, ok := r.(runtime.Error); ok {
		return re.Error()
	}
	return fmt.Sprintf("panic value of type %T", r)
}

// fifo is a slice-backed queue. Popped slots are zeroed so their messages can
// be collected, and the slice is compacted once half of it is dead space.
type fifo[T any] struct {
	items []T
	head  int
}

func (q *fifo[T]) len() int { return len(q.items) - q.head }

func (q *fifo[T]) push(v T) { q.items = append(q.items, v) }

func (q *fifo[T]) front() T { return q.items[q.head] }

func (q *fifo[T]) pop() T {
	v := q.items[q.head]
	var zero T
	q.items[q.head] = zero
	q.head++
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head >= 32 && 2*q.head >= len(q.items):
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return v
}

// MemoryDeduper is an in-process Deduper for a single replica: it remembers
// at most max ids, each for ttl after it was first seen, forgetting the
// oldest first. It is safe for concurrent use.
type MemoryDeduper struct {
	max int
	ttl time.Duration
	now func() time.Time // replaced by tests

	mu    sync.Mutex
	seen  map[string]struct{}
	order fifo[seenID] // first sightings, oldest first; every id in seen is here once
}

type seenID struct {
	id string
	at time.Time
}

var _ Deduper = (*MemoryDeduper)(nil)

// NewMemoryDeduper returns a Deduper that remembers up to max ids (default
// 100000) for ttl each (default 24h): long enough to cover Telegram resends
// and Slack retries, bounded so a flood of ids cannot exhaust memory.
func NewMemoryDeduper(max int, ttl time.Duration) *MemoryDeduper {
	if max <= 0 {
		max = 100000
	}
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	return &MemoryDeduper{max: max, ttl: ttl, now: time.Now, seen: make(map[string]struct{})}
}

// Seen reports whether id is recorded.
func (d *MemoryDeduper) Seen(_ context.Context, id string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(d.now())
	_, ok := d.seen[id]
	return ok, nil
}

// expire forgets the ids older than the TTL. All ids share one TTL, so
// first-sighting order is also expiry order.
func (d *MemoryDeduper) expire(now time.Time) {
	for d.order.len() > 0 && now.Sub(d.order.front().at) >= d.ttl {
		delete(d.seen, d.order.pop().id)
	}
}

// FirstSeen reports whether id is new and records it. Seeing an id again
// does not extend its life: the TTL counts from the first sighting.
func (d *MemoryDeduper) FirstSeen(_ context.Context, id string) (bool, error) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	if _, ok := d.seen[id]; ok {
		return false, nil
	}
	d.seen[id] = struct{}{}
	d.order.push(seenID{id: id, at: now})
	for d.order.len() > d.max {
		delete(d.seen, d.order.pop().id)
	}
	return true, nil
}

// Len returns how many ids are remembered.
func (d *MemoryDeduper) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}
