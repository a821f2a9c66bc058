package dialog

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/looplab/fsm"
)

// State is the step a conversation is at. States are nouns.
type State string

// The conversation's states.
const (
	StateMenu         State = "menu"
	StateCategories   State = "categories"
	StateProducts     State = "products"
	StateProduct      State = "product"
	StateQuantity     State = "quantity"
	StateCart         State = "cart"
	StateLineQuantity State = "line_quantity"
	StateAddress      State = "address"
	StateName         State = "name"
	StatePhone        State = "phone"
	StatePayment      State = "payment"
	StateCostCentre   State = "cost_centre"
	StateReason       State = "reason"
	StateReview       State = "review"
	StateOrders       State = "orders"
	StateOrder        State = "order"
	StateCancelOrder  State = "cancel_order"
	StateHelp         State = "help"
	StateRejectReason State = "reject_reason"
)

// States lists every state.
var States = []State{
	StateMenu, StateCategories, StateProducts, StateProduct, StateQuantity, StateCart,
	StateLineQuantity, StateAddress, StateName, StatePhone, StatePayment, StateCostCentre, StateReason, StateReview,
	StateOrders, StateOrder, StateCancelOrder, StateHelp, StateRejectReason,
}

// Event is what moves a conversation to another step. Events are verbs, and
// each leads to exactly one state, so "go back" can find the event that
// returns to the previous step.
type Event string

// The conversation's events.
const (
	EventShowMenu      Event = "show_menu"
	EventBrowse        Event = "browse"
	EventListProducts  Event = "list_products"
	EventShowProduct   Event = "show_product"
	EventChooseVariant Event = "choose_variant"
	EventShowCart      Event = "show_cart"
	EventEditLine      Event = "edit_line"
	EventAskAddress    Event = "ask_address"
	EventAskName       Event = "ask_name"
	EventAskPhone      Event = "ask_phone"
	EventAskPayment    Event = "ask_payment"
	EventAskCostCentre Event = "ask_cost_centre"
	EventAskReason     Event = "ask_reason"
	EventReview        Event = "review"
	EventListOrders    Event = "list_orders"
	EventShowOrder     Event = "show_order"
	EventConfirmCancel Event = "confirm_cancel"
	EventShowHelp      Event = "show_help"
	EventAskReject     Event = "ask_reject"
)

// transition is one row of the machine: an event, where it may fire and where
// it leads. A nil From means every state: the global commands.
type transition struct {
	Event Event
	From  []State
	To    State
}

// checkout is where the checkout's slots may be asked for and the review
// shown: the cart, the line being edited and every checkout step, so that a
// slot can be given, skipped back to or changed in any order.
var checkout = []State{StateCart, StateLineQuantity, StateAddress, StateName, StatePhone, StatePayment, StateCostCentre, StateReason, StateReview}

// transitions is the whole conversation. docs/dialog.md is generated from it.
var transitions = []transition{
	{EventShowMenu, nil, StateMenu},
	{EventBrowse, nil, StateCategories},
	{EventListProducts, nil, StateProducts},
	{EventShowProduct, nil, StateProduct},
	{EventChooseVariant, []State{StateProduct}, StateQuantity},
	{EventShowCart, nil, StateCart},
	{EventEditLine, []State{StateCart, StateReview}, StateLineQuantity},
	{EventAskAddress, checkout, StateAddress},
	{EventAskName, checkout, StateName},
	{EventAskPhone, checkout, StatePhone},
	{EventAskPayment, checkout, StatePayment},
	{EventAskCostCentre, checkout, StateCostCentre},
	{EventAskReason, checkout, StateReason},
	{EventReview, checkout, StateReview},
	{EventListOrders, nil, StateOrders},
	{EventShowOrder, nil, StateOrder},
	{EventConfirmCancel, []State{StateOrder}, StateCancelOrder},
	{EventShowHelp, nil, StateHelp},
	{EventAskReject, nil, StateRejectReason},
}

// eventTo maps each state to the one event that leads to it.
var eventTo = func() map[State]Event {
	m := make(map[State]Event, len(transitions))
	for _, t := range transitions {
		if _, dup := m[t.To]; dup {
			panic("dialog: two events lead to " + string(t.To))
		}
		m[t.To] = t.Event
	}
	return m
}()

func fsmEvents(globals bool) fsm.Events {
	var evs fsm.Events
	for _, t := range transitions {
		from := t.From
		if from == nil {
			if !globals {
				continue
			}
			from = States
		}
		src := make([]string, len(from))
		for i, s := range from {
			src[i] = string(s)
		}
		evs = append(evs, fsm.EventDesc{Name: string(t.Event), Src: src, Dst: string(t.To)})
	}
	return evs
}

// fromState holds, for each state, the rows of the machine that can fire
// there. The machine built for a message carries only these: the same
// transitions from where the conversation is, at a fraction of the cost of
// building the whole table for every message.
var fromState = func() map[State]fsm.Events {
	m := make(map[State]fsm.Events, len(States))
	for _, ev := range fsmEvents(true) {
		for _, src := range ev.Src {
			m[State(src)] = append(m[State(src)], fsm.EventDesc{Name: ev.Name, Src: []string{src}, Dst: ev.Dst})
		}
	}
	return m
}()

// canFire reports whether ev may fire in state.
func canFire(state State, ev Event) bool {
	for _, e := range fromState[state] {
		if e.Name == string(ev) {
			return true
		}
	}
	return false
}

// newMachine builds the state machine at the session's stored state. Its only
// callback records the transition on the in-memory step; it does no I/O and
// never fires another event.
func newMachine(state State, entered func(from, to State)) *fsm.FSM {
	return fsm.NewFSM(string(state), fromState[state], fsm.Callbacks{
		"enter_state": func(_ context.Context, e *fsm.Event) {
			entered(State(e.Src), State(e.Dst))
		},
	})
}

// Diagram returns docs/dialog.md: the flow as a Mermaid state diagram drawn by
// looplab/fsm, and the global commands, which work in every state, as a table.
func Diagram() string {
	flow := fsm.NewFSM(string(StateMenu), fsmEvents(false), nil)
	mermaid, err := fsm.VisualizeWithType(flow, fsm.MERMAID)
	if err != nil {
		panic(err) // only for an unknown visualizer type
	}
	var b strings.Builder
	b.WriteString("# The conversation\n\n")
	b.WriteString("Generated from `dialog/machine.go` by `go test ./dialog -run TestDiagram -update`; do not edit.\n\n")
	b.WriteString("## Flow\n\n```mermaid\n")
	b.WriteString(mermaid)
	b.WriteString("```\n\n## Global commands (from every state)\n\n| event | leads to |\n|---|---|\n")
	var rows []string
	for _, t := range transitions {
		if t.From == nil {
			rows = append(rows, fmt.Sprintf("| `%s` | `%s` |\n", t.Event, t.To))
		}
	}
	sort.Strings(rows)
	for _, r := range rows {
		b.WriteString(r)
	}
	b.WriteString("\nGo back returns to the previous step through the event that leads to it, when the table above allows it from the current step.\n")
	return b.String()
}
