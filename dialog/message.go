package dialog

import (
	"time"

	"orderbot/orders"
)

// Key identifies a conversation: one user in one chat on one channel.
type Key struct {
	Channel string `json:"channel"`
	Chat    string `json:"chat"`
	User    string `json:"user"`
}

// String returns "channel:chat:user", the form sessions are stored under.
func (k Key) String() string { return k.Channel + ":" + k.Chat + ":" + k.User }

// Contact is a phone number the channel shared on the user's behalf.
type Contact struct {
	Phone     string `json:"phone"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Own       bool   `json:"own"` // the contact is the sender's own
}

// Location is a point the user shared.
type Location struct {
	Latitude  float64 `json:"lat"`
	Longitude float64 `json:"lon"`
}

// PaymentEvent is a payment the channel's provider confirmed.
type PaymentEvent struct {
	OrderNumber string       // the invoice's payload
	ChargeID    string       // the provider's id of the charge
	Amount      orders.Money // what was paid
}

// Inbound is one channel-neutral message from a user: typed text, a pressed
// button, a shared contact, a shared location or a confirmed payment.
type Inbound struct {
	ID       string    // unique per channel, for deduplication
	Key      Key       // the conversation
	Text     string    // typed text; with Action, what the channel's own form for the action collected (a rejection's reason)
	Action   string    // a button's action
	Contact  *Contact  // a shared contact
	Location *Location // a shared location
	Payment  *PaymentEvent
	Form     *OrderForm // an order filled in a form, checked with CheckForm
	Lang     string     // the channel's locale hint for a new conversation ("en", "zh-CN")
	At       time.Time
}

// Button is one choice offered to the user.
type Button struct {
	Label  string `json:"label"`
	Action string `json:"action"`
}

// Request asks the channel for a special input, when it can.
type Request string

// Requests a channel may support.
const (
	RequestNone     Request = ""
	RequestContact  Request = "contact"
	RequestLocation Request = "location"
)

// Reply is one message from the bot.
type Reply struct {
	Text         string     `json:"text"`
	Image        string     `json:"image,omitempty"`
	Buttons      [][]Button `json:"buttons,omitempty"`
	Request      Request    `json:"request,omitempty"`
	Invoice      *Invoice   `json:"invoice,omitempty"`      // send an invoice (after the text)
	Notification bool       `json:"notification,omitempty"` // pushed, not an answer
	// Card names the order this reply is the card of: a summary of the
	// order and its current status. A channel that can edit messages keeps
	// one card message per order and edits it as the status changes; one
	// that cannot skips card replies (the notification beside says what
	// changed).
	Card string `json:"card,omitempty"`
}

// CardMark starts the text of every order card.
const CardMark = "🧾"

// Invoice asks the channel to collect a payment for an order.
type Invoice struct {
	OrderNumber string        `json:"order"` // comes back in the PaymentEvent
	Title       string        `json:"title"`
	Description string        `json:"description"`
	Lines       []InvoiceLine `json:"lines"`
	Total       orders.Money  `json:"total"`
}

// InvoiceLine is one priced line of an invoice.
type InvoiceLine struct {
	Label  string       `json:"label"`
	Amount orders.Money `json:"amount"`
}
