package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"orderbot/dialog"
	"orderbot/orders"
)

// Outbox is what the notifier needs from the order store.
type Outbox interface {
	// ClaimNotifications leases up to limit due, undelivered notifications
	// matching f until at+lease, oldest first.
	ClaimNotifications(ctx context.Context, f orders.NotificationFilter, limit int, at time.Time, lease time.Duration) ([]orders.Notification, error)
	// MarkDelivered records that a notification reached the customer.
	MarkDelivered(ctx context.Context, id int64, at time.Time) error
	// MarkFailed records a failed attempt and when to try again.
	MarkFailed(ctx context.Context, id int64, reason string, retryAt time.Time) error
	// MarkParked sets a notification aside for good: it is not retried.
	MarkParked(ctx context.Context, id int64, reason string, at time.Time) error
}

var _ Outbox = orders.Store(nil)

// Renderer turns a notification into the replies to send, in the customer's
// language (the dialog engine implements it).
type Renderer interface {
	RenderNotification(ctx context.Context, n orders.Notification) ([]dialog.Reply, error)
}

// ErrUnreachable is wrapped by a Sender's error when the recipient can no
// longer be reached at all (a Telegram user who blocked the bot): the
// notifier parks the notification instead of retrying it.
var ErrUnreachable = errors.New("bot: recipient unreachable")

// Sender sends replies to one conversation on one channel (each channel
// adapter implements it).
type Sender interface {
	Send(ctx context.Context, to dialog.Key, replies []dialog.Reply) error
}

// NotifierConfig tunes a Notifier. Zero fields get their defaults.
type NotifierConfig struct {
	// Filter selects the notifications this notifier claims. When
	// Filter.Channels is empty it becomes the channels that have a Sender, so
	// a notifier never leases rows that another replica could deliver.
	Filter orders.NotificationFilter
	// Interval is how often the outbox is polled when nobody pokes. Default 1s.
	Interval time.Duration
	// Batch is how many notifications one pass claims. Default 50.
	Batch int
	// Parallel is how many conversations one pass sends to at once; each
	// conversation's notifications go one after another, in order. Channels
	// pace each chat (Telegram: one message a second), so sending to many
	// chats at once is what reaches a channel's overall rate. Default 32.
	Parallel int
	// Lease is how long claimed notifications are reserved for this
	// notifier. A pass stops sending once the remaining lease could run out
	// before a send and its bookkeeping finish, so a notification whose lease
	// expired is never sent by two notifiers. Default 1m.
	Lease time.Duration
	// MinBackoff and MaxBackoff bound the wait before a failed notification
	// is retried: MinBackoff doubled per earlier attempt, capped at
	// MaxBackoff, then jittered down by up to half so retries of many
	// notifications spread out. Defaults 2s and 5m.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts is how many deliveries of one notification fail before
	// it is parked (`orderbot outbox list --failed` shows it, `orderbot
	// outbox retry` sends it again), so that a recipient who stays
	// unreachable stops holding their later notifications. Default 25:
	// with the default back-off, about an hour and a half of trying.
	MaxAttempts int
	// Timeout bounds each call out: claim, render, send, mark. Default 10s,
	// and at most a quarter of Lease.
	Timeout time.Duration
	// Logger receives operator logs; they never contain texts or addresses.
	// Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c NotifierConfig) withDefaults() NotifierConfig {
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 50
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 25
	}
	if c.Parallel <= 0 {
		c.Parallel = 32
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 2 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	c.Timeout = min(c.Timeout, c.Lease/4)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Notifier delivers outbox notifications to the customers' channels, with
// retries. Each notification is marked delivered only after its Sender
// succeeded, so a crash sends it again rather than losing it.
type Notifier struct {
	out     Outbox
	render  Renderer
	senders map[string]Sender
	cfg     NotifierConfig
	log     *slog.Logger
	wake    chan struct{}

	// pass serialises passes, so this notifier never has two notifications
	// of one conversation in flight.
	pass sync.Mutex
	// held remembers conversations whose oldest undelivered notification
	// failed, so their later notifications wait even when claimed by a
	// later pass. Guarded by heldMu.
	held   map[dialog.Key]hold
	heldMu sync.Mutex
}

// hold says that notification id of a conversation failed and is due again
// at until; later notifications of that conversation wait for it.
type hold struct {
	id    int64
	until time.Time
}

// NewNotifier returns a Notifier that claims from out, renders with r and
// sends through senders, keyed by channel name.
func NewNotifier(out Outbox, r Renderer, senders map[string]Sender, cfg NotifierConfig) *Notifier {
	cfg = cfg.withDefaults()
	senders = maps.Clone(senders)
	if len(cfg.Filter.Channels) == 0 {
		cfg.Filter.Channels = slices.Sorted(maps.Keys(senders))
	}
	return &Notifier{
		out:     out,
		render:  r,
		senders: senders,
		cfg:     cfg,
		log:     cfg.Logger,
		wake:    make(chan struct{}, 1),
		held:    make(map[dialog.Key]hold),
	}
}

// Run delivers due notifications every Interval, or sooner after Poke, until
// ctx is done. A notification being sent when ctx ends is finished and
// marked first; Run then returns nil.
func (n *Notifier) Run(ctx context.Context) error {
	timer := time.NewTimer(0) // first pass at once: work may have piled up while we were down
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.wake:
		case <-timer.C:
		}
		for {
			_, claimed, err := n.deliverDue(ctx)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				n.log.Error("deliver notifications", "err", err)
			}
			// A full batch means more may be due: go on without waiting.
			if err != nil || claimed < n.cfg.Batch {
				break
			}
		}
		timer.Reset(n.cfg.Interval)
	}
}

// Poke wakes Run now, for instance right after an order changed status. It
// never blocks, and pokes during a pass coalesce into one more pass.
func (n *Notifier) Poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// DeliverDue runs one pass: claim due notifications, render, send and mark
// each. It returns how many were delivered. Failed sends are rescheduled and
// logged, not returned; the error reports a failed claim or failed marks.
func (n *Notifier) DeliverDue(ctx context.Context) (int, error) {
	delivered, _, err := n.deliverDue(ctx)
	return delivered, err
}

func (n *Notifier) deliverDue(ctx context.Context) (delivered, claimed int, err error) {
	if len(n.senders) == 0 {
		return 0, 0, nil
	}
	n.pass.Lock()
	defer n.pass.Unlock()

	at := n.cfg.Now()
	cctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	batch, err := n.out.ClaimNotifications(cctx, n.cfg.Filter, n.cfg.Batch, at, n.cfg.Lease)
	cancel()
	if err != nil {
		return 0, 0, fmt.Errorf("bot: claim notifications: %w", err)
	}
	n.dropStaleHolds(at)

	// Render, send and mark may each take up to Timeout; start a notification
	// only while all three fit in what is left of the lease.
	lastStart := at.Add(n.cfg.Lease - 3*n.cfg.Timeout)
	// Calls out are not cancelled with ctx: a send that started finishes and
	// is marked, or it would be sent again after the lease.
	callCtx := context.WithoutCancel(ctx)

	// Each conversation's notifications are sent in claim order (oldest
	// first) by one goroutine; up to Parallel conversations at once.
	var (
		convs  [][]orders.Notification
		index  = map[dialog.Key]int{}
		mu     sync.Mutex // guards delivered, errs, stopped and expiring
		errs   []error
		wg     sync.WaitGroup
		tokens = make(chan struct{}, n.cfg.Parallel)
		// Notifications left for a later pass: the notifier is stopping, or
		// the lease would run out.
		stopped, expiring int
	)
	for _, note := range batch {
		k := dialog.Key{Channel: note.Customer.Channel, Chat: note.Customer.Chat, User: note.Customer.User}
		i, ok := index[k]
		if !ok {
			i = len(convs)
			index[k] = i
			convs = append(convs, nil)
		}
		convs[i] = append(convs[i], note)
	}
	for _, notes := range convs {
		tokens <- struct{}{}
		wg.Go(func() {
			defer func() { <-tokens }()
			for i, note := range notes {
				now := n.cfg.Now()
				if ctx.Err() != nil || now.After(lastStart) {
					mu.Lock()
					if ctx.Err() != nil {
						stopped += len(notes) - i
					} else {
						expiring += len(notes) - i
					}
					mu.Unlock()
					return
				}
				ok, err := n.deliverOne(callCtx, note, now)
				mu.Lock()
				if ok {
					delivered++
				}
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if stopped > 0 {
		n.log.Info("notifier stopping; claimed notifications wait for their lease to expire", "left", stopped)
	}
	if expiring > 0 {
		n.log.Warn("notification lease running out; rest of batch left for a later pass", "left", expiring)
	}
	return delivered, len(batch), errors.Join(errs...)
}

// deliverOne renders, sends and marks one notification. ok reports delivery;
// err reports only a failed mark, since a failed send is expected and retried.
func (n *Notifier) deliverOne(ctx context.Context, note orders.Notification, now time.Time) (ok bool, err error) {
	to := dialog.Key{Channel: note.Customer.Channel, Chat: note.Customer.Chat, User: note.Customer.User}
	log := n.log.With("order", note.OrderNumber, "channel", to.Channel, "conv", to.String())

	sender := n.senders[to.Channel]
	if sender == nil {
		// Only reachable with an explicit Filter naming a channel we cannot
		// serve. Leave the row: its lease expires and a notifier that can
		// deliver it takes it.
		log.Warn("no sender for the notification's channel; left for another notifier")
		return false, nil
	}
	if h, ok := n.holding(to); ok && h.id < note.ID {
		// An earlier notification to this conversation is waiting for a
		// retry; this one must not overtake it. It becomes due no earlier than
		// that one, and claims return the oldest first.
		retryAt := h.until
		if soonest := now.Add(n.cfg.MinBackoff); retryAt.Before(soonest) {
			retryAt = soonest // that one is already due: don't spin on this one meanwhile
		}
		return false, n.markFailed(ctx, log, note, fmt.Sprintf("waiting for notification %d", h.id), retryAt)
	}

	rctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	replies, err := n.render.RenderNotification(rctx, note)
	cancel()
	if err != nil {
		return false, n.retry(ctx, log, to, note, now, fmt.Errorf("render: %w", err))
	}
	if len(replies) > 0 {
		out := make([]dialog.Reply, len(replies))
		for i, r := range replies {
			r.Notification = true
			out[i] = r
		}
		sctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
		err = sender.Send(sctx, to, out)
		cancel()
		if errors.Is(err, ErrUnreachable) {
			return false, n.park(ctx, log, note, err)
		}
		if err != nil {
			return false, n.retry(ctx, log, to, note, now, fmt.Errorf("send: %w", err))
		}
	} // else the renderer chose to say nothing about this change: done.

	n.release(to, note.ID) // the conversation has caught up
	mctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	err = n.out.MarkDelivered(mctx, note.ID, n.cfg.Now())
	cancel()
	if err != nil {
		// The customer has it; the row will be sent again after its lease.
		log.Error("mark notification delivered", "err", err)
		return true, fmt.Errorf("bot: mark notification %d delivered: %w", note.ID, err)
	}
	log.Debug("notification delivered")
	return true, nil
}

// retry schedules a failed notification with backoff and holds its
// conversation's later notifications behind it.
func (n *Notifier) retry(ctx context.Context, log *slog.Logger, to dialog.Key, note orders.Notification, now time.Time, cause error) error {
	if note.Attempts >= n.cfg.MaxAttempts { // Attempts counts this one
		n.release(to, note.ID) // the conversation's later notifications go on
		return n.park(ctx, log, note, fmt.Errorf("gave up after %d attempts: %w", note.Attempts, cause))
	}
	retryAt := now.Add(retryBackoff(note.Attempts-1, n.cfg.MinBackoff, n.cfg.MaxBackoff))
	n.heldMu.Lock()
	n.held[to] = hold{id: note.ID, until: retryAt}
	n.heldMu.Unlock()
	log.Warn("notification failed; will retry", "err", cause, "attempts", note.Attempts, "retry_at", retryAt)
	return n.markFailed(ctx, log, note, cause.Error(), retryAt)
}

// park sets aside a notification whose recipient cannot be reached; it is
// not retried and holds nothing behind it.
func (n *Notifier) park(ctx context.Context, log *slog.Logger, note orders.Notification, cause error) error {
	log.Warn("recipient unreachable; notification parked", "err", cause)
	mctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	err := n.out.MarkParked(mctx, note.ID, truncateReason(cause.Error()), n.cfg.Now())
	cancel()
	if err != nil {
		log.Error("park notification", "err", err)
		return fmt.Errorf("bot: park notification %d: %w", note.ID, err)
	}
	return nil
}

// truncateReason keeps a stored failure reason to a summary.
func truncateReason(reason string) string {
	const maxReason = 500
	if len(reason) > maxReason {
		reason = strings.ToValidUTF8(reason[:maxReason], "")
	}
	return reason
}

func (n *Notifier) markFailed(ctx context.Context, log *slog.Logger, note orders.Notification, reason string, retryAt time.Time) error {
	mctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	err := n.out.MarkFailed(mctx, note.ID, truncateReason(reason), retryAt)
	cancel()
	if err != nil {
		log.Error("mark notification failed", "err", err)
		return fmt.Errorf("bot: mark notification %d failed: %w", note.ID, err)
	}
	return nil
}

// dropStaleHolds forgets holds whose notification is long past due: by then
// it was retried by this or another notifier, and a hold kept forever would
// block a conversation whose notification another replica delivered.
func (n *Notifier) dropStaleHolds(now time.Time) {
	n.heldMu.Lock()
	defer n.heldMu.Unlock()
	for k, h := range n.held {
		if now.Sub(h.until) > n.cfg.Lease {
			delete(n.held, k)
		}
	}
}

// holding returns the hold on a conversation, if any.
func (n *Notifier) holding(to dialog.Key) (hold, bool) {
	n.heldMu.Lock()
	defer n.heldMu.Unlock()
	h, ok := n.held[to]
	return h, ok
}

// release lifts a conversation's hold once notification id, or a later
// one, was delivered.
func (n *Notifier) release(to dialog.Key, id int64) {
	n.heldMu.Lock()
	defer n.heldMu.Unlock()
	if h, ok := n.held[to]; ok && h.id <= id {
		delete(n.held, to)
	}
}

// retryBackoff returns the wait before retrying a notification that failed after
// attempts earlier failures: min·2^attempts capped at max, minus a random part
// of up to half, so it is always positive and never above max.
func retryBackoff(attempts int, minWait, maxWait time.Duration) time.Duration {
	d := minWait
	for i := 0; i < attempts && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return d - rand.N(d/2+1)
}
