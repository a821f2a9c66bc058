package orders

import (
	"fmt"
	"time"
)

// Status is where an order is in its lifecycle.
type Status string

// Order statuses.
const (
	StatusPendingApproval Status = "pending_approval"
	StatusPendingPayment  Status = "pending_payment"
	StatusPendingShipment Status = "pending_shipment"
	StatusShipped         Status = "shipped"
	StatusCompleted       Status = "completed"
	StatusCancelled       Status = "cancelled"
	StatusRejected        Status = "rejected"
	StatusRefunded        Status = "refunded"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{
	StatusPendingApproval, StatusPendingPayment, StatusPendingShipment, StatusShipped,
	StatusCompleted, StatusCancelled, StatusRejected, StatusRefunded,
}

// transitions is the strict lifecycle table (DESIGN.md §4). Refunds are possible
// once an order has been paid: while it waits for shipment, after shipping and
// after completion.
var transitions = map[Status][]Status{
	StatusPendingApproval: {StatusPendingPayment, StatusPendingShipment, StatusRejected},
	StatusPendingPayment:  {StatusPendingShipment, StatusCancelled},
	StatusPendingShipment: {StatusShipped, StatusCancelled, StatusRefunded},
	StatusShipped:         {StatusCompleted, StatusRefunded},
	StatusCompleted:       {StatusRefunded},
}

// ParseStatus returns the status named s.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses {
		if string(st) == s {
			return st, nil
		}
	}
	return "", Errorf(EINVALID, "unknown status %q", s)
}

// CanTransition reports whether the lifecycle allows from → to.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Next returns the statuses an order in s may move to.
func (s Status) Next() []Status { return append([]Status(nil), transitions[s]...) }

// Final reports whether no further transition is possible.
func (s Status) Final() bool { return len(transitions[s]) == 0 }

// ReleasesStock reports whether entering s gives the reserved stock back.
func (s Status) ReleasesStock() bool { return s == StatusCancelled || s == StatusRejected }

// Cancellable reports whether the customer may still cancel an order in s.
func (s Status) Cancellable() bool { return CanTransition(s, StatusCancelled) }

// Payment is how an order is paid.
type Payment string

// Payment methods. Only methods whose whole flow works are offered by the dialog.
const (
	PayOnDelivery Payment = "cod"      // cash or a scanned code to the courier
	PayTelegram   Payment = "telegram" // a card, through Telegram Payments' provider
	PayStars      Payment = "stars"    // Telegram Stars, for digital products with a Stars price; priced in CurrencyStars
	PayCompany    Payment = "company"  // the company account (Slack employees); needs a cost centre, and approval when the rules say so
)

// Upfront reports whether an order paid this way waits for its payment
// before it ships or is delivered.
func (p Payment) Upfront() bool { return p == PayTelegram || p == PayStars }

// ActorPayment is the actor of the change a received payment makes, and
// ActorSystem of changes nobody made by hand (an unpaid order expiring)
// and of reminders to approvers.
const (
	ActorPayment = "payment"
	ActorSystem  = "system"
)

// ReminderNote is the note of a reminder to an approver
// (Service.RemindApprovers): a RoleApprover notification of an order that
// still waits for approval, from and to pending_approval, by ActorSystem.
const ReminderNote = "reminder"

// ActorApproverPrefix starts the actor of an approver's decision:
// "approver:" and the approver's user id.
const ActorApproverPrefix = "approver:"

// ActorStaffPrefix starts the actor of a change fulfilment staff made
// (Service.Fulfil): "staff:" and the staff member's user id.
const ActorStaffPrefix = "staff:"

// ReceivedPayment is a payment its provider confirmed.
type ReceivedPayment struct {
	ChargeID string  // the provider's id: one payment, one status change
	Method   Payment // how it was paid
	Amount   Money   // what was paid
	At       time.Time
}

// Customer is the conversation an order came from; notifications go back there.
type Customer struct {
	Channel string `json:"channel"`
	Chat    string `json:"chat"`
	User    string `json:"user"`
	Lang    string `json:"lang"`
}

// DraftLine is one cart line as the customer saw it.
type DraftLine struct {
	VariantSKU string `json:"variant"`
	Quantity   int    `json:"quantity"`
	UnitPrice  Money  `json:"unit_price"` // the price the customer was shown; in CurrencyStars when paid with PayStars
}

// Draft is a checkout ready to become an order.
type Draft struct {
	CheckoutKey string      `json:"checkout_key"` // same key, same order
	Customer    Customer    `json:"customer"`
	Lines       []DraftLine `json:"lines"`
	Address     string      `json:"address"`
	ContactName string      `json:"contact_name"`
	Phone       string      `json:"phone"` // E.164
	Payment     Payment     `json:"payment"`
	CostCentre  string      `json:"cost_centre,omitempty"` // the budget a PayCompany order is charged to; trimmed by Service.Place
	Reason      string      `json:"reason,omitempty"`      // why the requester needs it, for approvers

	// Approvals are who must approve the order before it ships. Only
	// Service.Place sets them, from its ApprovalRules, after clearing
	// whatever the caller put there: they are never taken from callers.
	Approvals []Approval `json:"-"`

	// FulfilmentChat is the fulfilment channel (Fulfilment.Chat) a company
	// order is announced in, stored with the order so that every later
	// change of its status is announced there too; "" for none. Only
	// Service.Place sets it, from its Fulfilment, like Approvals.
	FulfilmentChat string `json:"-"`
}

// Approval names one person who may approve an order, and the rule that
// made it so (the first, when several did). An order waits until each of
// its rules has one approver who approved: several approvers of one rule (a
// group) are alternatives, several rules each need their own.
type Approval struct {
	Approver string `json:"approver"`           // a user id of the order's channel
	Rule     string `json:"rule"`               // the rule's name, shown to the approver
	Approved bool   `json:"approved,omitempty"` // this approver has approved the order
}

// Line is an ordered line, with the names and price frozen at placement.
type Line struct {
	VariantSKU  string `json:"variant"`
	ProductSKU  string `json:"product"`
	ProductName Text   `json:"product_name"`
	VariantName Text   `json:"variant_name"`
	UnitPrice   Money  `json:"unit_price"`
	Quantity    int    `json:"quantity"`
}

// ActorCustomer is the actor of the changes a customer makes: placing an
// order, cancelling it in the chat.
const ActorCustomer = "customer"

// Change is one entry of an order's history.
type Change struct {
	From  Status    `json:"from"` // "" for the order's creation
	To    Status    `json:"to"`
	Actor string    `json:"actor"`
	Note  string    `json:"note,omitempty"`
	At    time.Time `json:"at"`
}

// Order is a placed order.
type Order struct {
	ID          int64      `json:"-"`
	Number      string     `json:"number"`
	CheckoutKey string     `json:"-"`
	Customer    Customer   `json:"customer"`
	Status      Status     `json:"status"`
	Lines       []Line     `json:"lines"`
	Total       Money      `json:"total"`
	Address     string     `json:"address"`
	ContactName string     `json:"contact_name"`
	Phone       string     `json:"phone"`
	Payment     Payment    `json:"payment"`
	Tracking    string     `json:"tracking,omitempty"`
	CostCentre  string     `json:"cost_centre,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	Approvals   []Approval `json:"approvals,omitempty"` // who may decide while the order is pending_approval, by user id
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	History     []Change   `json:"history,omitempty"`
}

// Total sums lines; ok is false on overflow or mixed currencies.
func Total(lines []Line) (Money, bool) {
	var t Money
	for _, l := range lines {
		sub, ok := l.UnitPrice.Mul(l.Quantity)
		if !ok {
			return Money{}, false
		}
		if t, ok = t.Add(sub); !ok {
			return Money{}, false
		}
	}
	return t, true
}

// DraftTotal sums draft lines at the prices shown; ok is false on overflow
// or mixed currencies.
func DraftTotal(lines []DraftLine) (Money, bool) {
	shown := make([]Line, len(lines))
	for i, l := range lines {
		shown[i] = Line{UnitPrice: l.UnitPrice, Quantity: l.Quantity}
	}
	return Total(shown)
}

// ProblemKind says why a cart line cannot be ordered as it is.
type ProblemKind string

// Problem kinds.
const (
	ProblemUnavailable  ProblemKind = "unavailable"   // product or variant gone or deactivated, or not sold for Stars
	ProblemOutOfStock   ProblemKind = "out_of_stock"  // nothing left
	ProblemLowStock     ProblemKind = "low_stock"     // fewer left than asked for
	ProblemPriceChanged ProblemKind = "price_changed" // the price differs from what was shown
)

// Problem is one reason a draft was refused.
type Problem struct {
	Kind       ProblemKind `json:"kind"`
	VariantSKU string      `json:"variant"`
	Requested  int         `json:"requested"`
	Available  int         `json:"available"`
	Shown      Money       `json:"shown"`
	Current    Money       `json:"current"`
}

// ProblemsError is returned when a draft no longer matches the catalog. Nothing
// was reserved or written.
type ProblemsError struct {
	Problems []Problem
}

func (e *ProblemsError) Error() string {
	return fmt.Sprintf("conflict: %d cart line(s) changed since they were added", len(e.Problems))
}

// Roles of a notification's recipient.
const (
	// RoleCustomer addresses a notification to the order's customer.
	RoleCustomer = ""
	// RoleApprover addresses a notification to one of the order's
	// approvers, in the order's channel: its Customer.Chat and
	// Customer.User are the approver's user id, and its Customer.Lang is
	// empty (unknown).
	RoleApprover = "approver"
	// RoleFulfilment addresses a notification to the fulfilment channel
	// of a company order (see Fulfilment): its Customer.Channel is the
	// order's channel, its Customer.Chat the Fulfilment.Chat the order was
	// placed with, its Customer.User and Customer.Lang are empty.
	RoleFulfilment = "fulfilment"
)

// Notification is an outbox row: a status change to tell the customer about,
// or, when Role is RoleApprover, one of the order's approvers, or, when it is
// RoleFulfilment, the fulfilment channel.
type Notification struct {
	ID          int64     `json:"id"`
	Customer    Customer  `json:"customer"` // the recipient's conversation
	Role        string    `json:"role,omitempty"`
	OrderNumber string    `json:"order"`
	From        Status    `json:"from"`
	To          Status    `json:"to"`
	Tracking    string    `json:"tracking,omitempty"`
	Note        string    `json:"note,omitempty"`
	Actor       string    `json:"actor"` // who made the change: "customer", "operator", …
	CreatedAt   time.Time `json:"created_at"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	// NextAttempt and ParkedAt are when an undelivered notification is
	// due, and when it was set aside for good (zero: it was not), as an
	// operator's listing shows them; a claimed notification has neither.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	ParkedAt    time.Time `json:"parked_at,omitzero"`
}
