package orders

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what a draft may contain.
const (
	MaxLines         = 20
	MaxQuantity      = 999
	MaxAddressLen    = 500 // characters
	MaxNameLen       = 100 // characters
	MaxNoteLen       = 500
	MaxTrackingLen   = 100
	MaxCostCentreLen = 64  // characters, once trimmed
	MaxReasonLen     = 500 // characters
)

// Store persists the order core. orders/sqlstore implements it.
type Store interface {
	// Catalog returns the whole catalog, active and inactive products.
	Catalog(ctx context.Context) (*Catalog, error)
	// ImportCatalog upserts categories, products and variants; products
	// missing from c are deactivated, never deleted (orders refer to them).
	ImportCatalog(ctx context.Context, c *Catalog) (ImportReport, error)
	// PlaceOrder, in one transaction: returns the existing order if one has
	// d.CheckoutKey; else re-validates d against prices and stock (returning
	// *ProblemsError and writing nothing when they differ), reserves stock,
	// inserts the order with number, its lines, its first history entry and an
	// outbox notification. A draft paid with PayStars is checked against the
	// variants' Stars prices, and only digital products are sold for Stars.
	// A PayCompany draft with d.Approvals starts in pending_approval, its
	// approvers stored with it and each told through the outbox as well
	// (RoleApprover); without, it can ship at once. A PayCompany draft with
	// d.FulfilmentChat is stored with that channel (EINVALID for any other
	// draft), and announced there (RoleFulfilment) when it can ship at once.
	PlaceOrder(ctx context.Context, d Draft, number string, at time.Time) (Order, error)
	// Order returns an order with its history, ENOTFOUND if there is none.
	Order(ctx context.Context, number string) (Order, error)
	// Orders lists orders, newest first, without history.
	Orders(ctx context.Context, f Filter) ([]Order, error)
	// Transition moves an order to t.To if the lifecycle allows it from its
	// current status (ECONFLICT otherwise), records the history entry, releases
	// stock when t.To does, and writes an outbox notification, in one transaction.
	// An order placed with a fulfilment channel gets a second one, to that
	// channel (RoleFulfilment), when it enters pending_shipment and on every
	// change after that.
	Transition(ctx context.Context, number string, t Transition) (Order, error)
	// Decide, in one transaction, records approver's decision on an order
	// waiting for approval. A rejection (t.To rejected) moves it on at
	// once. An approval (t.To pending_shipment) is recorded
	// (Approval.Approved), and moves it on only once every rule of the
	// order has an approver who approved; until then nothing else is
	// written and the order is returned as it now is. Moving on is as
	// Transition does, fulfilment channel included, with an outbox
	// notification to every approver of the order, approver included
	// (RoleApprover). It is EINVALID when approver is not one of the
	// order's approvers, and ECONFLICT, with the order as it is and
	// nothing written, when the order no longer waits for approval or
	// approver approves again while it waits for other rules (the message
	// names them).
	Decide(ctx context.Context, number, approver string, t Transition) (Order, error)
	// Amend, in one transaction, replaces the lines of the order with
	// a.Lines if it is still in a.From and Amendable (ECONFLICT, nothing
	// written, otherwise): the stock of its old lines given back, the new
	// ones reserved as PlaceOrder reserves them (*ProblemsError, nothing
	// written, when one cannot be), its total set. With a.Reapprove its
	// approvers become a.Approvals, none approved, and it is
	// pending_approval. It records the change in the history (Note
	// AmendedNote) and tells, through the outbox, the customer, the
	// fulfilment channel when it follows the order (as Transition does), and
	// every approver of the order when it waits for approval. Lines equal to
	// the order's own (variants, quantities and prices, in order) change
	// nothing: the order is returned as it is.
	Amend(ctx context.Context, number string, a Amendment) (Order, error)
	// ClaimNotifications leases up to limit due, undelivered notifications that
	// match f until at+lease, so that no other notifier takes them meanwhile.
	ClaimNotifications(ctx context.Context, f NotificationFilter, limit int, at time.Time, lease time.Duration) ([]Notification, error)
	// MarkDelivered records that a notification reached its recipient.
	MarkDelivered(ctx context.Context, id int64, at time.Time) error
	// MarkFailed records a failed attempt and when to try again.
	MarkFailed(ctx context.Context, id int64, reason string, retryAt time.Time) error
	// MarkParked sets a notification aside for good (its recipient cannot
	// be reached), with the reason.
	MarkParked(ctx context.Context, id int64, reason string, at time.Time) error
	// RecordPayment, in one transaction, records p against the order and,
	// the first time p.ChargeID is seen, moves the order from
	// pending_payment to pending_shipment with its history entry and
	// notification. A charge id seen before changes nothing and returns the
	// order. A payment for an order no longer waiting for one (it expired)
	// is recorded, for a refund, and returned as ECONFLICT.
	RecordPayment(ctx context.Context, number string, p ReceivedPayment) (Order, error)
	// Unpaid lists the numbers of orders waiting for payment since before
	// the given time, oldest first.
	Unpaid(ctx context.Context, before time.Time, limit int) ([]string, error)
	// DueReminders lists up to limit orders waiting for approval, with
	// approvers, placed before placedBefore and whose approvers were last
	// reminded before remindedBefore or never, oldest first.
	DueReminders(ctx context.Context, placedBefore, remindedBefore time.Time, limit int) ([]Reminder, error)
	// Remind, in one transaction, records that the approvers of r's order
	// were reminded at at, and tells each of them through the outbox
	// (RoleApprover, from and to pending_approval, Actor ActorSystem, Note
	// ReminderNote), if the order still waits for approval and was last
	// reminded at r.RemindedAt. Otherwise (it was decided, or another
	// process reminded its approvers since r was listed) it writes nothing
	// and returns false.
	Remind(ctx context.Context, r Reminder, at time.Time) (bool, error)
}

// Reminder is an order whose approvers are due a reminder, as
// Store.DueReminders lists it.
type Reminder struct {
	OrderID    int64     // Order.ID
	Number     string    // Order.Number
	RemindedAt time.Time // when its approvers were last reminded; zero: never
}

// Filter selects orders.
type Filter struct {
	Customer *Customer // by conversation (channel, chat, user); Lang is ignored
	Status   Status
	Approver string // orders this user is an approver of
	Limit    int    // 0: 100
}

// NotificationFilter selects the notifications one notifier can deliver.
type NotificationFilter struct {
	Channels []string // empty: every channel
	Chat     string   // when set, only this chat (a terminal delivers its own user's)
}

// Transition is a requested status change.
type Transition struct {
	To       Status
	Actor    string
	Note     string
	Tracking string
	At       time.Time
}

// Service is the order core's entry point: it checks input, numbers orders and
// delegates the transactional work to its Store.
type Service struct {
	store      Store
	now        func() time.Time
	approvals  *ApprovalRules
	fulfilment *Fulfilment
}

// NewService returns a Service over store. now may be nil for time.Now.
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// SetApprovalRules sets the rules that decide which company orders need
// approval; nil means none do. Validate them first. It is not safe to call
// once the Service is in use.
func (s *Service) SetApprovalRules(r *ApprovalRules) { s.approvals = r }

// SetFulfilment sets the desk where company orders are fulfilled; nil means
// none, and company orders are not announced anywhere. Validate it first.
// It is not safe to call once the Service is in use.
func (s *Service) SetFulfilment(f *Fulfilment) { s.fulfilment = f }

// Catalog returns the current catalog.
func (s *Service) Catalog(ctx context.Context) (*Catalog, error) { return s.store.Catalog(ctx) }

// ImportCatalog validates and imports a catalog.
func (s *Service) ImportCatalog(ctx context.Context, c *Catalog) (ImportReport, error) {
	if err := c.Validate(); err != nil {
		return ImportReport{}, err
	}
	return s.store.ImportCatalog(ctx, c)
}

// Order returns one order with its history.
func (s *Service) Order(ctx context.Context, number string) (Order, error) {
	number = NormalizeNumber(number)
	if number == "" {
		return Order{}, Errorf(EINVALID, "order number is empty")
	}
	return s.store.Order(ctx, number)
}

// Orders lists orders.
func (s *Service) Orders(ctx context.Context, f Filter) ([]Order, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	return s.store.Orders(ctx, f)
}

// Place validates d and places it, returning the new (or, for a repeated
// checkout key, the existing) order. A *ProblemsError means the cart must be
// shown to the customer again. A company order the approval rules match
// waits for its approvers (see Decide); a company order is announced in the
// Fulfilment's channel, if one is set, once it can ship. d.Approvals and
// d.FulfilmentChat are ignored, and the cost centre trimmed.
func (s *Service) Place(ctx context.Context, d Draft) (Order, error) {
	d.Approvals = nil
	d.FulfilmentChat = ""
	d.CostCentre = strings.TrimSpace(d.CostCentre)
	if err := d.Validate(); err != nil {
		return Order{}, err
	}
	if d.Payment == PayCompany && s.fulfilment != nil {
		d.FulfilmentChat = s.fulfilment.Chat
	}
	if d.Payment == PayCompany && s.approvals != nil {
		var err error
		if d.Approvals, err = s.approvers(ctx, d); err != nil {
			return Order{}, err
		}
	}
	for attempt := 0; ; attempt++ {
		o, err := s.store.PlaceOrder(ctx, d, NewNumber(), s.now().UTC())
		if errors.Is(err, ErrNumberTaken) && attempt < 5 {
			continue
		}
		return o, err
	}
}

// approvers returns who must approve company draft d. The categories come
// from the catalog; the total from the prices shown, which the store checks
// when it places the order.
func (s *Service) approvers(ctx context.Context, d Draft) ([]Approval, error) {
	c, err := s.store.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	lines := make([]Line, len(d.Lines))
	for i, dl := range d.Lines {
		_, p, _ := c.Variant(dl.VariantSKU) // an unknown one is refused by the store
		lines[i] = Line{VariantSKU: dl.VariantSKU, ProductSKU: p.SKU, UnitPrice: dl.UnitPrice, Quantity: dl.Quantity}
	}
	return s.approvals.Approvers(d, lines, func(sku string) string {
		p, _ := c.Product(sku)
		return p.CategoryID
	})
}

// ErrNumberTaken is returned by a Store when a freshly drawn order number
// collides with an existing one; Place draws another.
var ErrNumberTaken = errors.New("order number taken")

// Advance moves an order along its lifecycle.
func (s *Service) Advance(ctx context.Context, number string, t Transition) (Order, error) {
	number = NormalizeNumber(number)
	if number == "" {
		return Order{}, Errorf(EINVALID, "order number is empty")
	}
	if _, err := ParseStatus(string(t.To)); err != nil {
		return Order{}, err
	}
	if utf8.RuneCountInString(t.Note) > MaxNoteLen {
		return Order{}, Errorf(EINVALID, "note is longer than %d characters", MaxNoteLen)
	}
	if utf8.RuneCountInString(t.Tracking) > MaxTrackingLen {
		return Order{}, Errorf(EINVALID, "tracking code is longer than %d characters", MaxTrackingLen)
	}
	if t.Actor == "" {
		t.Actor = "system"
	}
	if t.At.IsZero() {
		t.At = s.now().UTC()
	}
	// An order waiting for approval is decided by its approvers (Decide),
	// nobody else.
	if cur, err := s.store.Order(ctx, number); err == nil && cur.Status == StatusPendingApproval {
		return cur, Errorf(ECONFLICT, "order %s waits for its approvers; only they can approve or reject it", number)
	}
	return s.store.Transition(ctx, number, t)
}

// Decide records an approver's decision on an order waiting for approval.
// Rejected, it moves to rejected at once, which gives its stock back.
// Approved, it moves on to pending_shipment once each rule that sent it for
// approval has been approved by one of that rule's approvers; before that
// the approval is only recorded (Order.Approvals says who approved), and
// the order, still pending_approval, is returned with no error. The note of
// the decision that moves the order on is kept in the history and told to
// the customer; rejecting needs one, the reason. Only the order's approvers
// may decide (EINVALID for anyone else). When the order no longer waits for
// approval, Decide returns ECONFLICT and the order, whose last history
// entry says who decided; an approver approving again while it waits
// gets ECONFLICT naming the rules still waiting.
func (s *Service) Decide(ctx context.Context, number, approver string, approve bool, note string) (Order, error) {
	number = NormalizeNumber(number)
	if number == "" {
		return Order{}, Errorf(EINVALID, "order number is empty")
	}
	if approver == "" {
		return Order{}, Errorf(EINVALID, "approver is missing")
	}
	note = strings.TrimSpace(note)
	if !approve && note == "" {
		return Order{}, Errorf(EINVALID, "a rejection needs a reason")
	}
	if utf8.RuneCountInString(note) > MaxReasonLen {
		return Order{}, Errorf(EINVALID, "the reason is longer than %d characters", MaxReasonLen)
	}
	t := Transition{To: StatusPendingShipment, Actor: ActorApproverPrefix + approver, Note: note, At: s.now().UTC()}
	if !approve {
		t.To = StatusRejected
	}
	return s.store.Decide(ctx, number, approver, t)
}

// RemindApprovers reminds the approvers of orders that have waited for
// approval longer than after, and again every every while they still
// wait: each approver of such an order is told through the outbox
// (RoleApprover, from and to pending_approval, Actor ActorSystem, Note
// ReminderNote). It handles at most 100 orders a call, oldest first, and
// returns how many it reminded. Several processes may call it at once: an
// order's approvers are reminded by one of them, once per every. Both
// durations must be positive (EINVALID).
func (s *Service) RemindApprovers(ctx context.Context, after, every time.Duration) (int, error) {
	if after <= 0 || every <= 0 {
		return 0, Errorf(EINVALID, "approvers are reminded after a positive wait, at a positive interval")
	}
	now := s.now().UTC()
	due, err := s.store.DueReminders(ctx, now.Add(-after), now.Add(-every), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range due {
		reminded, err := s.store.Remind(ctx, r, now)
		if err != nil {
			return n, err
		}
		if reminded { // else decided, or reminded by another process, meanwhile
			n++
		}
	}
	return n, nil
}

// Fulfil lets fulfilment staff member by mark a company order shipped or
// completed (delivered), as the lifecycle allows. Only the Fulfilment's
// staff may (EINVALID for anyone else, and for everyone when no Fulfilment
// is set), and only on orders paid by PayCompany. When the lifecycle does
// not allow the change, because someone else already made it or the order
// moved on, Fulfil returns ECONFLICT and the order as it is. The customer
// and the fulfilment channel are told through the outbox, as of every
// change.
func (s *Service) Fulfil(ctx context.Context, number, by string, to Status) (Order, error) {
	number = NormalizeNumber(number)
	switch {
	case number == "":
		return Order{}, Errorf(EINVALID, "order number is empty")
	case to != StatusShipped && to != StatusCompleted:
		return Order{}, Errorf(EINVALID, "fulfilment staff mark orders shipped or completed, not %s", to)
	case by == "":
		return Order{}, Errorf(EINVALID, "who marks the order is missing")
	case !s.fulfilment.isStaff(by):
		return Order{}, Errorf(EINVALID, "%s is not fulfilment staff", by)
	}
	cur, err := s.store.Order(ctx, number)
	if err != nil {
		return Order{}, err
	}
	if cur.Payment != PayCompany {
		return Order{}, Errorf(EINVALID, "order %s is not paid by the company account; fulfilment staff do not handle it", number)
	}
	if !CanTransition(cur.Status, to) {
		return cur, notFulfillable(cur, to)
	}
	o, err := s.store.Transition(ctx, number, Transition{To: to, Actor: ActorStaffPrefix + by, At: s.now().UTC()})
	if ErrorCode(err) == ECONFLICT {
		// Someone moved the order between the read and the change.
		if cur, rerr := s.store.Order(ctx, number); rerr == nil {
			return cur, notFulfillable(cur, to)
		}
	}
	return o, err
}

// notFulfillable is the ECONFLICT error for marking o, which the lifecycle
// does not allow to become to, as to: naming who did when it already was.
func notFulfillable(o Order, to Status) error {
	for i := len(o.History) - 1; i >= 0; i-- {
		if h := o.History[i]; h.To == to {
			by := strings.TrimPrefix(h.Actor, ActorStaffPrefix)
			return Errorf(ECONFLICT, "order %s was already marked %s by %s; it is %s", o.Number, to, by, o.Status)
		}
	}
	return Errorf(ECONFLICT, "order %s is %s; it cannot be marked %s", o.Number, o.Status, to)
}

// Cancel cancels a customer's own order if it has not shipped.
func (s *Service) Cancel(ctx context.Context, number string, c Customer) (Order, error) {
	o, err := s.Order(ctx, number)
	if err != nil {
		return Order{}, err
	}
	if o.Customer.Channel != c.Channel || o.Customer.Chat != c.Chat || o.Customer.User != c.User {
		return Order{}, Errorf(ENOTFOUND, "order %s not found", number)
	}
	if !o.Status.Cancellable() {
		return Order{}, Errorf(ECONFLICT, "order %s is %s and can no longer be cancelled", o.Number, o.Status)
	}
	return s.Advance(ctx, number, Transition{To: StatusCancelled, Actor: ActorCustomer})
}

// CheckPayable tells whether order number can still be paid amount: it
// waits for payment and amount is its total. Stock was reserved when the
// order was placed, so an order that can be paid can be shipped.
func (s *Service) CheckPayable(ctx context.Context, number string, amount Money) (Order, error) {
	o, err := s.Order(ctx, number)
	if err != nil {
		return Order{}, err
	}
	if o.Status != StatusPendingPayment {
		return o, Errorf(ECONFLICT, "order %s is %s and cannot be paid", o.Number, o.Status)
	}
	if amount != o.Total {
		return o, Errorf(ECONFLICT, "order %s costs %s, not %s", o.Number, o.Total, amount)
	}
	return o, nil
}

// ConfirmPayment records a payment the provider confirmed and moves the
// order on, once per charge id.
func (s *Service) ConfirmPayment(ctx context.Context, number string, p ReceivedPayment) (Order, error) {
	number = NormalizeNumber(number)
	if number == "" || p.ChargeID == "" || len(p.ChargeID) > 200 {
		return Order{}, Errorf(EINVALID, "a payment needs an order number and a charge id")
	}
	if p.At.IsZero() {
		p.At = s.now().UTC()
	}
	return s.store.RecordPayment(ctx, number, p)
}

// ExpireUnpaid cancels the orders still waiting for payment after maxAge,
// releasing their stock; each customer is told through the outbox. It
// returns how many it cancelled. An order paid meanwhile is left alone.
func (s *Service) ExpireUnpaid(ctx context.Context, maxAge time.Duration) (int, error) {
	now := s.now().UTC()
	numbers, err := s.store.Unpaid(ctx, now.Add(-maxAge), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, number := range numbers {
		_, err := s.store.Transition(ctx, number, Transition{To: StatusCancelled, Actor: ActorSystem, Note: "not paid in time", At: now})
		switch ErrorCode(err) {
		case "":
			n++
		case ECONFLICT: // paid or cancelled meanwhile
		default:
			return n, err
		}
	}
	return n, nil
}

// Validate checks a draft's shape; prices and stock are checked by the store.
func (d Draft) Validate() error {
	if d.CheckoutKey == "" || len(d.CheckoutKey) > 100 {
		return Errorf(EINVALID, "checkout key is missing")
	}
	if d.Customer.Channel == "" || d.Customer.User == "" {
		return Errorf(EINVALID, "customer is missing")
	}
	if len(d.Lines) == 0 {
		return Errorf(EINVALID, "the cart is empty")
	}
	if len(d.Lines) > MaxLines {
		return Errorf(EINVALID, "at most %d lines per order", MaxLines)
	}
	seen := map[string]bool{}
	for _, l := range d.Lines {
		if l.VariantSKU == "" {
			return Errorf(EINVALID, "a line has no product")
		}
		if seen[l.VariantSKU] {
			return Errorf(EINVALID, "%s appears twice", l.VariantSKU)
		}
		seen[l.VariantSKU] = true
		if l.Quantity < 1 || l.Quantity > MaxQuantity {
			return Errorf(EINVALID, "quantity must be between 1 and %d", MaxQuantity)
		}
		if d.Payment == PayStars && l.UnitPrice.Currency != CurrencyStars {
			return Errorf(EINVALID, "an order paid in Telegram Stars must be priced in Stars")
		}
	}
	if n := utf8.RuneCountInString(d.Address); n > MaxAddressLen {
		return Errorf(EINVALID, "address is longer than %d characters", MaxAddressLen)
	}
	if strings.TrimSpace(d.ContactName) == "" || utf8.RuneCountInString(d.ContactName) > MaxNameLen {
		return Errorf(EINVALID, "contact name is missing or too long")
	}
	if !strings.HasPrefix(d.Phone, "+") || len(d.Phone) < 8 || len(d.Phone) > 16 {
		return Errorf(EINVALID, "phone number is missing or malformed")
	}
	if d.Payment != PayOnDelivery && d.Payment != PayTelegram && d.Payment != PayStars && d.Payment != PayCompany {
		return Errorf(EINVALID, "payment method %q is not available", d.Payment)
	}
	cc := strings.TrimSpace(d.CostCentre)
	if utf8.RuneCountInString(cc) > MaxCostCentreLen {
		return Errorf(EINVALID, "cost centre is longer than %d characters", MaxCostCentreLen)
	}
	if d.Payment == PayCompany && cc == "" {
		return Errorf(EINVALID, "an order paid by the company account needs a cost centre")
	}
	if utf8.RuneCountInString(d.Reason) > MaxReasonLen {
		return Errorf(EINVALID, "reason is longer than %d characters", MaxReasonLen)
	}
	return nil
}

// numberAlphabet has no 0/O, 1/I/L or U, so numbers read aloud and typed
// back are unambiguous.
const numberAlphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewNumber draws a random order number such as "OB-7KQ4M2X": 30^7 (about
// 2·10^10) possibilities, so numbers cannot be guessed from one another.
func NewNumber() string {
	b := make([]byte, 7)
	max := big.NewInt(int64(len(numberAlphabet)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b[i] = numberAlphabet[n.Int64()]
	}
	return "OB-" + string(b)
}

// NormalizeNumber upper-cases a typed order number and adds the "OB-" prefix
// when missing: "ob-7kq4m2x" and "7KQ4M2X" both become "OB-7KQ4M2X".
func NormalizeNumber(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" || len(s) > 20 {
		return ""
	}
	if !strings.HasPrefix(s, "OB-") {
		s = "OB-" + s
	}
	return s
}
