package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"orderbot/dialog"
	"orderbot/orders"
)

// fakeOutbox is an in-memory outbox with the store's claim semantics: a
// claim leases due, undelivered rows, oldest first, and a leased row is not
// claimed again until its lease expires or it is marked.
type fakeOutbox struct {
	t *testing.T

	mu       sync.Mutex
	rows     []*outboxRow // in id order
	claimErr error
	markErr  error
	claimed  chan struct{} // a value after every claim, if not nil
}

type outboxRow struct {
	n           orders.Notification
	due         time.Time
	leasedUntil time.Time
	delivered   bool
	parked      bool
}

func newFakeOutbox(t *testing.T) *fakeOutbox { return &fakeOutbox{t: t} }

// add appends a notification for c, due at once, and returns its id.
func (o *fakeOutbox) add(c orders.Customer, number string, to orders.Status) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	id := int64(len(o.rows) + 1)
	o.rows = append(o.rows, &outboxRow{n: orders.Notification{
		ID: id, Customer: c, OrderNumber: number, To: to, Note: "leave it with the neighbour at 5 Elm Street",
	}})
	return id
}

func (o *fakeOutbox) row(id int64) outboxRow {
	o.mu.Lock()
	defer o.mu.Unlock()
	return *o.rows[id-1]
}

func (o *fakeOutbox) checkDeadline(ctx context.Context, call string) {
	if _, ok := ctx.Deadline(); !ok {
		o.t.Errorf("%s called without a deadline", call)
	}
}

func matches(f orders.NotificationFilter, c orders.Customer) bool {
	return (len(f.Channels) == 0 || slices.Contains(f.Channels, c.Channel)) && (f.Chat == "" || f.Chat == c.Chat)
}

func (o *fakeOutbox) ClaimNotifications(ctx context.Context, f orders.NotificationFilter, limit int, at time.Time, lease time.Duration) ([]orders.Notification, error) {
	o.checkDeadline(ctx, "ClaimNotifications")
	o.mu.Lock()
	defer func() {
		o.mu.Unlock()
		if o.claimed != nil {
			o.claimed <- struct{}{}
		}
	}()
	if o.claimErr != nil {
		return nil, o.claimErr
	}
	var out []orders.Notification
	for _, r := range o.rows {
		if len(out) == limit {
			break
		}
		if r.delivered || r.parked || r.due.After(at) || r.leasedUntil.After(at) || !matches(f, r.n.Customer) {
			continue
		}
		r.leasedUntil = at.Add(lease)
		r.n.Attempts++ // as the store does: a claim is an attempt
		out = append(out, r.n)
	}
	return out, nil
}

func (o *fakeOutbox) MarkDelivered(ctx context.Context, id int64, at time.Time) error {
	o.checkDeadline(ctx, "MarkDelivered")
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.markErr != nil {
		return o.markErr
	}
	r := o.rows[id-1]
	if r.delivered {
		o.t.Errorf("notification %d marked delivered twice", id)
	}
	r.delivered, r.leasedUntil = true, time.Time{}
	return nil
}

func (o *fakeOutbox) MarkFailed(ctx context.Context, id int64, reason string, retryAt time.Time) error {
	o.checkDeadline(ctx, "MarkFailed")
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.markErr != nil {
		return o.markErr
	}
	r := o.rows[id-1]
	r.n.LastError = reason
	r.due, r.leasedUntil = retryAt, time.Time{}
	return nil
}

func (o *fakeOutbox) MarkParked(ctx context.Context, id int64, reason string, at time.Time) error {
	o.checkDeadline(ctx, "MarkParked")
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.markErr != nil {
		return o.markErr
	}
	r := o.rows[id-1]
	r.n.LastError = reason
	r.parked, r.leasedUntil = true, time.Time{}
	return nil
}

// textRenderer renders "<order> <status>"; orders listed in fail cannot be rendered.
type textRenderer struct {
	t    *testing.T
	fail map[string]bool
	none map[string]bool // orders the renderer says nothing about
}

func (r textRenderer) RenderNotification(ctx context.Context, n orders.Notification) ([]dialog.Reply, error) {
	if _, ok := ctx.Deadline(); !ok {
		r.t.Errorf("RenderNotification called without a deadline")
	}
	if r.fail[n.OrderNumber] {
		return nil, errors.New("no text for status")
	}
	if r.none[n.OrderNumber] {
		return nil, nil
	}
	return []dialog.Reply{{Text: n.OrderNumber + " " + string(n.To)}, {Text: "thank you"}}, nil
}

// sent is one Send call.
type sent struct {
	to      dialog.Key
	replies []dialog.Reply
	err     error
}

// recordingSender records every Send; fail decides which ones fail.
type recordingSender struct {
	t     *testing.T
	fail  func(to dialog.Key, replies []dialog.Reply) error
	block chan struct{} // if not nil, Send waits on it, announcing itself on sending
	// sending receives the Send's context when it starts.
	sending chan context.Context

	mu    sync.Mutex
	calls []sent
}

func (s *recordingSender) Send(ctx context.Context, to dialog.Key, replies []dialog.Reply) error {
	if _, ok := ctx.Deadline(); !ok {
		s.t.Errorf("Send called without a deadline")
	}
	if s.sending != nil {
		s.sending <- ctx
	}
	if s.block != nil {
		<-s.block
	}
	var err error
	if s.fail != nil {
		err = s.fail(to, replies)
	}
	s.mu.Lock()
	s.calls = append(s.calls, sent{to: to, replies: replies, err: err})
	s.mu.Unlock()
	return err
}

// orders returns the order numbers sent to to, failed attempts included, in order.
func (s *recordingSender) orders(to dialog.Key) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		if c.to == to {
			number, _, _ := strings.Cut(c.replies[0].Text, " ")
			if c.err != nil {
				number += "!"
			}
			out = append(out, number)
		}
	}
	return out
}

func (s *recordingSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

var (
	alice = orders.Customer{Channel: "telegram", Chat: "100", User: "7", Lang: "en"}
	bob   = orders.Customer{Channel: "telegram", Chat: "200", User: "8", Lang: "zh"}
	carol = orders.Customer{Channel: "slack", Chat: "D1", User: "U1", Lang: "en"}
)

func keyOf(c orders.Customer) dialog.Key {
	return dialog.Key{Channel: c.Channel, Chat: c.Chat, User: c.User}
}

// notifierFixture wires a Notifier to fakes, with a telegram sender only.
type notifierFixture struct {
	out    *fakeOutbox
	sender *recordingSender
	clock  *fakeClock
	logs   *lockedBuffer
	n      *Notifier
}

func newNotifierFixture(t *testing.T, cfg NotifierConfig, r textRenderer) *notifierFixture {
	t.Helper()
	f := &notifierFixture{out: newFakeOutbox(t), sender: &recordingSender{t: t}, clock: newFakeClock()}
	r.t = t
	var log = cfg.Logger
	if log == nil {
		log, f.logs = newTestLogger()
	}
	cfg.Logger = log
	if cfg.Now == nil {
		cfg.Now = f.clock.Now
	}
	f.n = NewNotifier(f.out, r, map[string]Sender{"telegram": f.sender}, cfg)
	return f
}

func (f *notifierFixture) mustDeliverDue(t *testing.T, want int) {
	t.Helper()
	got, err := f.n.DeliverDue(context.Background())
	if err != nil || got != want {
		t.Fatalf("DeliverDue = %d, %v; want %d, nil", got, err, want)
	}
}

func TestNotifierDeliversAndMarks(t *testing.T) {
	f := newNotifierFixture(t, NotifierConfig{}, textRenderer{})
	ids := []int64{
		f.out.add(alice, "OB-A1", orders.StatusPendingShipment),
		f.out.add(bob, "OB-B1", orders.StatusShipped),
		f.out.add(alice, "OB-A1", orders.StatusShipped),
	}
	f.mustDeliverDue(t, 3)

	if got := f.sender.orders(keyOf(alice)); !slices.Equal(got, []string{"OB-A1", "OB-A1"}) {
		t.Errorf("sent to alice %v", got)
	}
	if got := f.sender.orders(keyOf(bob)); !slices.Equal(got, []string{"OB-B1"}) {
		t.Errorf("sent to bob %v", got)
	}
	for _, c := range f.sender.calls {
		if len(c.replies) != 2 {
			t.Errorf("sent %d replies, want the 2 rendered", len(c.replies))
		}
		for _, r := range c.replies {
			if !r.Notification {
				t.Errorf("reply %q not flagged as a notification", r.Text)
			}
		}
	}
	for _, id := range ids {
		if r := f.out.row(id); !r.delivered {
			t.Errorf("notification %d not marked delivered", id)
		}
	}
	f.mustDeliverDue(t, 0)
	if n := f.sender.count(); n != 3 {
		t.Errorf("%d sends after a second pass, want still 3", n)
	}
}

func TestNotifierRetriesFailedSend(t *testing.T) {
	cfg := NotifierConfig{MinBackoff: 2 * time.Second, MaxBackoff: time.Minute}
	f := newNotifierFixture(t, cfg, textRenderer{})
	attempts := 0
	f.sender.fail = func(dialog.Key, []dialog.Reply) error {
		if attempts++; attempts == 1 {
			return errors.New("telegram: 502 bad gateway")
		}
		return nil
	}
	id := f.out.add(alice, "OB-A1", orders.StatusShipped)
	start := f.clock.Now()
	f.mustDeliverDue(t, 0)

	r := f.out.row(id)
	if r.delivered || r.n.Attempts != 1 || !strings.Contains(r.n.LastError, "502") {
		t.Errorf("after a failed send: delivered %v, attempts %d, last error %q", r.delivered, r.n.Attempts, r.n.LastError)
	}
	if !r.due.After(start) || r.due.After(start.Add(cfg.MinBackoff)) {
		t.Errorf("retry at %v, want in (now, now+%v]", r.due.Sub(start), cfg.MinBackoff)
	}

	f.mustDeliverDue(t, 0) // not due yet
	if n := f.sender.count(); n != 1 {
		t.Fatalf("%d sends before the retry was due, want 1", n)
	}
	f.clock.Advance(cfg.MinBackoff)
	f.mustDeliverDue(t, 1)
	if got := f.sender.orders(keyOf(alice)); !slices.Equal(got, []string{"OB-A1!", "OB-A1"}) {
		t.Errorf("sends %v, want a failure then the redelivery", got)
	}
	if !f.out.row(id).delivered {
		t.Error("redelivered notification not marked delivered")
	}
}

func TestNotifierKeepsConversationOrderAcrossFailure(t *testing.T) {
	f := newNotifierFixture(t, NotifierConfig{}, textRenderer{})
	failed := false
	f.sender.fail = func(to dialog.Key, replies []dialog.Reply) error {
		if to == keyOf(alice) && !failed {
			failed = true
			return errors.New("telegram: timeout")
		}
		return nil
	}
	a1 := f.out.add(alice, "OB-1", orders.StatusPendingShipment)
	f.out.add(bob, "OB-2", orders.StatusShipped)
	a2 := f.out.add(alice, "OB-3", orders.StatusShipped)
	a3 := f.out.add(alice, "OB-4", orders.StatusCompleted)

	f.mustDeliverDue(t, 1) // bob's only
	if got := f.sender.orders(keyOf(alice)); !slices.Equal(got, []string{"OB-1!"}) {
		t.Fatalf("sent to alice %v; later notifications overtook the failed one", got)
	}
	first := f.out.row(a1)
	for _, id := range []int64{a2, a3} {
		r := f.out.row(id)
		if r.delivered || r.due.Before(first.due) {
			t.Errorf("notification %d: delivered %v, due %v before the failed one (%v)", id, r.delivered, r.due, first.due)
		}
	}

	f.clock.Advance(time.Hour)
	f.mustDeliverDue(t, 3)
	if got := f.sender.orders(keyOf(alice)); !slices.Equal(got, []string{"OB-1!", "OB-1", "OB-3", "OB-4"}) {
		t.Errorf("sent to alice %v, want the outbox order", got)
	}
}

func TestNotifierHoldsLaterNotificationsAcrossPasses(t *testing.T) {
	// With a batch of one, the failed notification and the next one of the
	// same conversation are claimed in different passes.
	f := newNotifierFixture(t, NotifierConfig{Batch: 1}, textRenderer{})
	failed := false
	f.sender.fail = func(dialog.Key, []dialog.Reply) error {
		if !failed {
			failed = true
			return errors.New("telegram: 429 too many requests")
		}
		return nil
	}
	a1 := f.out.add(alice, "OB-1", orders.StatusPendingShipment)
	a2 := f.out.add(alice, "OB-2", orders.StatusShipped)

	f.mustDeliverDue(t, 0) // OB-1 fails
	f.mustDeliverDue(t, 0) // OB-2 claimed and held
	if got := f.sender.orders(keyOf(alice)); !slices.Equal(got, []string{"OB-1!"}) {
		t.Fatalf("sent %v; OB-2 overtook the failed OB-1", got)
	}
	if r1, r2 := f.out.row(a1), f.out.row(a2); r2.due.Before(r1.due) || !strings.Contains(r2.n.LastError, "waiting for notification 1") {
		t.Errorf("held notification due %v (failed one %v), reason %q", r2.due, r1.due, r2.n.LastError)
	}

	f.clock.Advance(time.Hour)
	f.mustDeliverDue(t, 1)
	f.mustDeliverDue(t, 1)
	if got := f.sender.orders(keyOf(alice)); !slices.Equal(got, []string{"OB-1!", "OB-1", "OB-2"}) {
		t.Errorf("sent %v, want the outbox order", got)
	}
}

func TestNotifierRenderFailureIsRetried(t *testing.T) {
	f := newNotifierFixture(t, NotifierConfig{}, textRenderer{fail: map[string]bool{"OB-X": true}})
	id := f.out.add(alice, "OB-X", orders.StatusShipped)
	f.mustDeliverDue(t, 0)
	r := f.out.row(id)
	if r.delivered || r.n.Attempts != 1 || !strings.Contains(r.n.LastError, "render") || !r.due.After(f.clock.Now()) {
		t.Errorf("after a render failure: %+v", r)
	}
	if n := f.sender.count(); n != 0 {
		t.Errorf("%d sends of an unrendered notification", n)
	}
}

func TestNotifierMarksSilentNotificationsDelivered(t *testing.T) {
	f := newNotifierFixture(t, NotifierConfig{}, textRenderer{none: map[string]bool{"OB-Q": true}})
	id := f.out.add(alice, "OB-Q", orders.StatusShipped)
	f.mustDeliverDue(t, 1)
	if !f.out.row(id).delivered || f.sender.count() != 0 {
		t.Errorf("a notification with nothing to say: delivered %v, %d sends; want delivered, none", f.out.row(id).delivered, f.sender.count())
	}
}

func TestNotifierLeavesChannelsWithoutSender(t *testing.T) {
	t.Run("default filter does not claim them", func(t *testing.T) {
		f := newNotifierFixture(t, NotifierConfig{}, textRenderer{})
		id := f.out.add(carol, "OB-S", orders.StatusShipped)
		f.out.add(alice, "OB-T", orders.StatusShipped)
		f.mustDeliverDue(t, 1)
		if r := f.out.row(id); !r.leasedUntil.IsZero() || r.delivered {
			t.Errorf("slack notification leased until %v, delivered %v; want untouched", r.leasedUntil, r.delivered)
		}
	})
	t.Run("explicit filter: claimed, left alone, warned", func(t *testing.T) {
		f := newNotifierFixture(t, NotifierConfig{Filter: orders.NotificationFilter{Channels: []string{"telegram", "slack"}}}, textRenderer{})
		id := f.out.add(carol, "OB-S", orders.StatusShipped)
		f.mustDeliverDue(t, 0)
		if r := f.out.row(id); r.delivered || r.parked || f.sender.count() != 0 {
			t.Errorf("slack notification delivered %v, parked %v, sends %d; want left alone", r.delivered, r.parked, f.sender.count())
		}
		if out := f.logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "channel=slack") {
			t.Errorf("no warning for the missing sender:\n%s", out)
		}
	})
}

func TestNotifierStopsWhenLeaseRunsOut(t *testing.T) {
	cfg := NotifierConfig{Lease: time.Minute, Timeout: 10 * time.Second}
	f := newNotifierFixture(t, cfg, textRenderer{})
	// Each send takes 31s: after the first, too little lease is left to
	// start the conversation's next one (3 calls of up to 10s each).
	f.sender.fail = func(dialog.Key, []dialog.Reply) error {
		f.clock.Advance(31 * time.Second)
		return nil
	}
	f.out.add(alice, "OB-1", orders.StatusShipped)
	id2 := f.out.add(alice, "OB-2", orders.StatusShipped)
	f.mustDeliverDue(t, 1)
	if r := f.out.row(id2); r.delivered || r.n.LastError != "" || f.sender.count() != 1 {
		t.Errorf("second notification delivered %v, error %q, sends %d; want left for a later pass", r.delivered, r.n.LastError, f.sender.count())
	}
	f.clock.Advance(time.Minute) // its lease expires
	f.mustDeliverDue(t, 1)
}

func TestNotifierReportsStoreErrors(t *testing.T) {
	f := newNotifierFixture(t, NotifierConfig{}, textRenderer{})
	f.out.add(alice, "OB-1", orders.StatusShipped)

	f.out.claimErr = errors.New("database is locked")
	if _, err := f.n.DeliverDue(context.Background()); err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Errorf("DeliverDue with a failing claim = %v", err)
	}
	f.out.claimErr = nil
	f.out.markErr = errors.New("disk full")
	got, err := f.n.DeliverDue(context.Background())
	if got != 1 || err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("DeliverDue with a failing mark = %d, %v; want 1 sent and the error", got, err)
	}
}

func TestNotifierLogsNoContent(t *testing.T) {
	f := newNotifierFixture(t, NotifierConfig{}, textRenderer{})
	f.sender.fail = func(dialog.Key, []dialog.Reply) error { return errors.New("telegram: chat not found") }
	f.out.add(alice, "OB-L", orders.StatusShipped)
	f.mustDeliverDue(t, 0)
	out := f.logs.String()
	for _, secret := range []string{"Elm Street", "thank you", "OB-L shipped"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"order=OB-L", "channel=telegram", "conv=telegram:100:7", `err="send: telegram: chat not found"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
}

func TestNotifierRunFinishesInFlightOnCancel(t *testing.T) {
	f := newNotifierFixture(t, NotifierConfig{}, textRenderer{})
	f.sender.block = make(chan struct{})
	f.sender.sending = make(chan context.Context, 1)
	// One conversation: its second notification would start only after
	// the first.
	a := f.out.add(alice, "OB-1", orders.StatusShipped)
	b := f.out.add(alice, "OB-2", orders.StatusShipped)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.n.Run(ctx) }()
	sendCtx := recv(t, "the first send", f.sender.sending)
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned %v with a send in flight", err)
	default:
	}
	if sendCtx.Err() != nil {
		t.Errorf("the in-flight send was cancelled with Run: %v", sendCtx.Err())
	}
	close(f.sender.block)
	if err := recv(t, "Run to return", done); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if !f.out.row(a).delivered {
		t.Error("the in-flight notification was not marked delivered")
	}
	if r := f.out.row(b); r.delivered || f.sender.count() != 1 {
		t.Errorf("Run went on after cancel: second delivered %v, %d sends", r.delivered, f.sender.count())
	}
}

func TestNotifierPokeWakesRun(t *testing.T) {
	f := newNotifierFixture(t, NotifierConfig{Interval: time.Hour}, textRenderer{})
	f.out.claimed = make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.n.Run(ctx) }()
	recv(t, "the first pass", f.out.claimed)

	id := f.out.add(alice, "OB-P", orders.StatusShipped)
	f.n.Poke()
	f.n.Poke() // coalesces, never blocks
	waitFor(t, "the poked delivery", func() bool { return f.out.row(id).delivered })
	cancel()
	if err := recv(t, "Run to return", done); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestNotifierPollsEveryInterval(t *testing.T) {
	f := newNotifierFixture(t, NotifierConfig{Interval: 5 * time.Millisecond}, textRenderer{})
	f.out.claimed = make(chan struct{}, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.n.Run(ctx) }()
	recv(t, "the first pass", f.out.claimed)
	id := f.out.add(alice, "OB-I", orders.StatusShipped)
	waitFor(t, "the polled delivery", func() bool { return f.out.row(id).delivered })
	cancel()
	recv(t, "Run to return", done)
}

func TestNotifierRunDrainsFullBatches(t *testing.T) {
	f := newNotifierFixture(t, NotifierConfig{Interval: time.Hour, Batch: 2}, textRenderer{})
	var ids []int64
	for i := range 5 {
		ids = append(ids, f.out.add(alice, fmt.Sprintf("OB-%d", i), orders.StatusShipped))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.n.Run(ctx) }()
	waitFor(t, "all five delivered without a poke", func() bool {
		return f.out.row(ids[len(ids)-1]).delivered
	})
	cancel()
	recv(t, "Run to return", done)
	if got := f.sender.orders(keyOf(alice)); !slices.Equal(got, []string{"OB-0", "OB-1", "OB-2", "OB-3", "OB-4"}) {
		t.Errorf("sent %v", got)
	}
}

func TestNotifierWithoutSendersDoesNothing(t *testing.T) {
	out := newFakeOutbox(t)
	out.add(alice, "OB-1", orders.StatusShipped)
	n := NewNotifier(out, textRenderer{t: t}, nil, NotifierConfig{})
	if got, err := n.DeliverDue(context.Background()); got != 0 || err != nil {
		t.Errorf("DeliverDue = %d, %v", got, err)
	}
	if r := out.row(1); !r.leasedUntil.IsZero() {
		t.Error("a notifier with no senders leased a notification")
	}
}

func TestBackoff(t *testing.T) {
	const minWait, maxWait = 2 * time.Second, 5 * time.Minute
	cases := []struct {
		attempts int
		lo, hi   time.Duration
	}{
		{0, time.Second, 2 * time.Second},
		{1, 2 * time.Second, 4 * time.Second},
		{3, 8 * time.Second, 16 * time.Second},
		{7, 128 * time.Second, 256 * time.Second},
		{8, 150 * time.Second, maxWait},
		{1000, 150 * time.Second, maxWait},
	}
	for _, c := range cases {
		for range 200 {
			if d := retryBackoff(c.attempts, minWait, maxWait); d < c.lo || d > c.hi {
				t.Fatalf("retryBackoff(%d) = %v, want in [%v, %v]", c.attempts, d, c.lo, c.hi)
			}
		}
	}
}

func TestNotifierConfigDefaults(t *testing.T) {
	c := NotifierConfig{}.withDefaults()
	if c.Interval != time.Second || c.Batch != 50 || c.Lease != time.Minute || c.MinBackoff != 2*time.Second ||
		c.MaxBackoff != 5*time.Minute || c.Timeout != 10*time.Second || c.Logger == nil || c.Now == nil {
		t.Errorf("defaults = %+v", c)
	}
	if c := (NotifierConfig{Lease: 8 * time.Second}).withDefaults(); c.Timeout != 2*time.Second {
		t.Errorf("Timeout with an 8s lease = %v, want 2s", c.Timeout)
	}
}

func TestNotifierForgetsStaleHolds(t *testing.T) {
	// Another replica may deliver the failed notification; once it is long
	// past due, this notifier must stop holding the conversation.
	f := newNotifierFixture(t, NotifierConfig{Batch: 1}, textRenderer{})
	failed := false
	f.sender.fail = func(dialog.Key, []dialog.Reply) error {
		if !failed {
			failed = true
			return errors.New("telegram: timeout")
		}
		return nil
	}
	a1 := f.out.add(alice, "OB-1", orders.StatusShipped)
	a2 := f.out.add(alice, "OB-2", orders.StatusCompleted)
	f.mustDeliverDue(t, 0) // OB-1 fails and holds alice

	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := f.out.MarkDelivered(ctx, a1, f.clock.Now()); err != nil { // another replica's doing
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Minute)
	f.mustDeliverDue(t, 1)
	if !f.out.row(a2).delivered {
		t.Error("OB-2 still held behind a notification delivered elsewhere")
	}
}

// A recipient who blocked the bot is not retried: the notification is parked
// and the conversation's later notifications are still tried.
func TestNotifierParksUnreachable(t *testing.T) {
	f := newNotifierFixture(t, NotifierConfig{}, textRenderer{})
	f.sender.fail = func(_ dialog.Key, replies []dialog.Reply) error {
		if strings.HasPrefix(replies[0].Text, "OB-A1 ") {
			return fmt.Errorf("telegram: 403 Forbidden: %w", ErrUnreachable)
		}
		return nil
	}
	parked := f.out.add(alice, "OB-A1", orders.StatusShipped)
	later := f.out.add(alice, "OB-A2", orders.StatusShipped)
	f.mustDeliverDue(t, 1)
	if r := f.out.row(parked); !r.parked || r.delivered || !strings.Contains(r.n.LastError, "unreachable") {
		t.Fatalf("row = %+v, want parked with its reason", r)
	}
	if r := f.out.row(later); !r.delivered {
		t.Fatalf("a later notification was held behind a parked one")
	}
	f.clock.Advance(time.Hour)
	f.mustDeliverDue(t, 0)
	if got := f.sender.orders(keyOf(alice)); !slices.Equal(got, []string{"OB-A1!", "OB-A2"}) {
		t.Fatalf("sends = %v; a parked notification must not be retried", got)
	}
}

// A notification that keeps failing is parked after MaxAttempts tries, and
// the conversation's later notifications go on.
func TestNotifierParksAfterMaxAttempts(t *testing.T) {
	cfg := NotifierConfig{MinBackoff: time.Second, MaxBackoff: time.Second, MaxAttempts: 3}
	f := newNotifierFixture(t, cfg, textRenderer{})
	f.sender.fail = func(_ dialog.Key, replies []dialog.Reply) error {
		if strings.HasPrefix(replies[0].Text, "OB-A1 ") {
			return errors.New("telegram: 502 bad gateway")
		}
		return nil
	}
	stuck := f.out.add(alice, "OB-A1", orders.StatusShipped)
	later := f.out.add(alice, "OB-A2", orders.StatusShipped)
	for range 2 {
		f.mustDeliverDue(t, 0)
		f.clock.Advance(time.Second)
	}
	f.mustDeliverDue(t, 1) // the third failure parks it; the next one goes
	r := f.out.row(stuck)
	if !r.parked || r.n.Attempts != 3 || !strings.Contains(r.n.LastError, "gave up after 3 attempts") || !strings.Contains(r.n.LastError, "502") {
		t.Fatalf("row = %+v, want parked after 3 attempts with the last error", r)
	}
	if !f.out.row(later).delivered {
		t.Fatal("the later notification is still held behind the parked one")
	}
	if got := f.sender.orders(keyOf(alice)); !slices.Equal(got, []string{"OB-A1!", "OB-A1!", "OB-A1!", "OB-A2"}) {
		t.Fatalf("sends = %v", got)
	}
}

// A conversation waiting on a slow send does not hold the others up, and
// each conversation's notifications still go in order.
func TestNotifierSendsConversationsInParallel(t *testing.T) {
	f := newNotifierFixture(t, NotifierConfig{}, textRenderer{})
	release := make(chan struct{})
	var bobDone sync.WaitGroup
	bobDone.Add(2)
	f.sender.fail = func(to dialog.Key, _ []dialog.Reply) error {
		if to == keyOf(alice) {
			<-release // alice's channel is slow
		} else {
			bobDone.Done()
		}
		return nil
	}
	f.out.add(alice, "OB-A1", orders.StatusShipped)
	f.out.add(bob, "OB-B1", orders.StatusShipped)
	f.out.add(alice, "OB-A2", orders.StatusCompleted)
	f.out.add(bob, "OB-B2", orders.StatusCompleted)
	done := make(chan int, 1)
	go func() {
		n, err := f.n.DeliverDue(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- n
	}()
	bobSent := make(chan struct{})
	go func() { bobDone.Wait(); close(bobSent) }()
	select {
	case <-bobSent: // both of bob's were sent while alice's first hung
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("bob's notifications waited for alice's")
	}
	close(release)
	if n := recv(t, "the pass", done); n != 4 {
		t.Errorf("delivered %d, want 4", n)
	}
	if got := f.sender.orders(keyOf(alice)); !slices.Equal(got, []string{"OB-A1", "OB-A2"}) {
		t.Errorf("alice got %v", got)
	}
	if got := f.sender.orders(keyOf(bob)); !slices.Equal(got, []string{"OB-B1", "OB-B2"}) {
		t.Errorf("bob got %v", got)
	}
}

// A conversation waiting for a free slot starts only while the lease
// allows: with one slot and a 31 s send, the second conversation is left
// for a later pass.
func TestNotifierLeaseLimitsWaitingConversations(t *testing.T) {
	f := newNotifierFixture(t, NotifierConfig{Lease: time.Minute, Timeout: 10 * time.Second, Parallel: 1}, textRenderer{})
	f.sender.fail = func(dialog.Key, []dialog.Reply) error {
		f.clock.Advance(31 * time.Second)
		return nil
	}
	f.out.add(alice, "OB-1", orders.StatusShipped)
	id2 := f.out.add(bob, "OB-2", orders.StatusShipped)
	f.mustDeliverDue(t, 1)
	if r := f.out.row(id2); r.delivered || r.n.LastError != "" || f.sender.count() != 1 {
		t.Errorf("second conversation delivered %v, error %q, sends %d; want left for a later pass", r.delivered, r.n.LastError, f.sender.count())
	}
}
