package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"orderbot/orders"
)

const (
	qIsApprover = "SELECT EXISTS (SELECT 1 FROM order_approvers WHERE order_id = ? AND approver = ?)"
	// qApproversOfOrder reads one order's approvers, in no particular order.
	qApproversOfOrder = "SELECT order_id, approver, rule, approved_at FROM order_approvers WHERE order_id = ?"
	// qRecordApproval records an approval once: no row updated means the
	// approver had approved already (the caller knows they are listed).
	qRecordApproval = "UPDATE order_approvers SET approved_at = ? WHERE order_id = ? AND approver = ? AND approved_at = 0"
)

// checkApprovals refuses approvals that could not be stored: an empty
// approver, or one listed twice.
func checkApprovals(as []orders.Approval) error {
	seen := make(map[string]bool, len(as))
	for _, a := range as {
		if a.Approver == "" || seen[a.Approver] {
			return orders.Errorf(orders.EINVALID, "an approver is empty or listed twice")
		}
		seen[a.Approver] = true
	}
	return nil
}

// insertApprovers stores an order's approvers in one statement, none for an
// order without, and returns them as approversOf reads them back.
func insertApprovers(ctx context.Context, tx *txn, orderID int64, as []orders.Approval) ([]approverRow, error) {
	if len(as) == 0 {
		return nil, nil
	}
	rows := make([]approverRow, len(as))
	values := make([]string, len(as))
	args := make([]any, 0, 3*len(as))
	for i, a := range as {
		rows[i] = approverRow{OrderID: orderID, Approver: a.Approver, Rule: a.Rule}
		values[i] = "(?, ?, ?)"
		args = append(args, orderID, a.Approver, a.Rule)
	}
	q := "INSERT INTO order_approvers (order_id, approver, rule) VALUES " + strings.Join(values, ", ")
	if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
		return nil, err
	}
	sortApprovers(rows)
	return rows, nil
}

// approversOf reads the approvers of the given orders, by order and then
// approver. Only orders paid by the company account have any, so no other
// order costs a query.
func approversOf(ctx context.Context, tx *txn, rs []orderRow) ([]approverRow, error) {
	var ids []any
	for _, r := range rs {
		if orders.Payment(r.Payment) == orders.PayCompany {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []approverRow
	q := "SELECT order_id, approver, rule, approved_at FROM order_approvers WHERE order_id IN (" + placeholders(len(ids)) + ")"
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(q), ids...); err != nil {
		return nil, err
	}
	sortApprovers(rows)
	return rows, nil
}

// approval is the approver as Order.Approvals lists it.
func (a approverRow) approval() orders.Approval {
	return orders.Approval{Approver: a.Approver, Rule: a.Rule, Approved: a.ApprovedAt != 0}
}

// waitingRules returns the rules of an order's approvers that no approver
// has approved yet, in the order rows first name them; none once the order
// may ship.
func waitingRules(rows []approverRow) []string {
	approved := map[string]bool{}
	for _, a := range rows {
		if a.ApprovedAt != 0 {
			approved[a.Rule] = true
		}
	}
	var waiting []string
	for _, a := range rows {
		if !approved[a.Rule] && !slices.Contains(waiting, a.Rule) {
			waiting = append(waiting, a.Rule)
		}
	}
	return waiting
}

// sortApprovers orders approvers by order and then by approver, byte by
// byte: the same on every database, whatever its collation.
func sortApprovers(rows []approverRow) {
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].OrderID != rows[j].OrderID {
			return rows[i].OrderID < rows[j].OrderID
		}
		return rows[i].Approver < rows[j].Approver
	})
}

// Decide implements orders.Store: the approver check, the status check,
// the approval recorded, the check that every rule of the order now has an
// approval, the transition and the notifications are one write
// transaction. So of two approvers deciding at once the second sees what
// the first did: a rejection or the approval that let the order ship (and
// is told who decided), or an approval for another rule, which it may
// complete; the order moves on exactly once.
//
// An approval that leaves a rule of the order waiting is recorded and
// nothing else: the order, its history and the outbox stay as they were,
// and the order is returned with no error. When the order moves on,
// besides the customer's notification, every approver of the order, the
// decider included, gets one: each has a request to see decided.
func (s *Store) Decide(ctx context.Context, number, approver string, t orders.Transition) (orders.Order, error) {
	if t.To != orders.StatusPendingShipment && t.To != orders.StatusRejected {
		return orders.Order{}, orders.Errorf(orders.EINVALID, "a decision approves an order or rejects it")
	}
	at := changeTime(t)
	q := qOrderByNumber
	if s.dialect == DialectPostgres {
		// SQLite's write transaction already excludes every other writer;
		// on PostgreSQL the row lock makes a concurrent decision wait and
		// then see this one, its approval included.
		q += " FOR UPDATE"
	}
	var o orders.Order
	var decided error
	err := s.write(ctx, func(tx *txn) error {
		r, err := orderToChange(ctx, tx, q, number)
		if err != nil {
			return err
		}
		var listed bool
		if err := tx.GetContext(ctx, &listed, tx.Rebind(qIsApprover), r.ID, approver); err != nil {
			return err
		}
		if !listed {
			return orders.Errorf(orders.EINVALID, "%s is not an approver of order %s", approver, number)
		}
		if orders.Status(r.Status) != orders.StatusPendingApproval {
			// Nothing is written: the commit ends an empty transaction.
			if o, err = s.loadOrder(ctx, tx, qOrderByID, r.ID); err != nil {
				return err
			}
			decided = alreadyDecided(o)
			return nil
		}
		if t.To == orders.StatusPendingShipment {
			waiting, first, err := recordApproval(ctx, tx, r.ID, approver, at)
			if err != nil {
				return err
			}
			if len(waiting) > 0 {
				if o, err = s.loadOrder(ctx, tx, qOrderByID, r.ID); err != nil {
					return err
				}
				if !first {
					decided = orders.Errorf(orders.ECONFLICT, "%s already approved order %s; it waits for %s", approver, number, quoteAll(waiting))
				}
				return nil
			}
		}
		if o, err = s.transition(ctx, tx, r, t, at); err != nil {
			return err
		}
		told := notificationRow{OrderNumber: o.Number, Channel: r.Channel, From: r.Status, To: string(o.Status),
			Tracking: o.Tracking, Note: t.Note, Actor: t.Actor, CreatedAt: micros(at)}
		return insertApproverNotifications(ctx, tx, told, o.Approvals)
	})
	if err != nil {
		return orders.Order{}, fail("decide on order "+number, err)
	}
	return o, decided
}

// recordApproval records, inside tx, that approver approved the order at
// at, unless they had already (first is then false), and returns the rules
// of the order still waiting for an approval, read after the write so that
// an approval committed meanwhile by another approver counts.
func recordApproval(ctx context.Context, tx *txn, orderID int64, approver string, at time.Time) (waiting []string, first bool, err error) {
	// 0 means "not approved": an approval at the epoch itself is stored a
	// microsecond later.
	first, err = affected(tx.ExecContext(ctx, tx.Rebind(qRecordApproval), max(micros(at), 1), orderID, approver))
	if err != nil {
		return nil, false, err
	}
	var rows []approverRow
	if err := tx.sel(ctx, &rows, qApproversOfOrder, orderID); err != nil {
		return nil, false, err
	}
	sortApprovers(rows)
	return waitingRules(rows), first, nil
}

// quoteAll lists names for a message: "a", "b".
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// alreadyDecided is the ECONFLICT error for a decision on o, which no
// longer waits for approval, naming who moved it on.
func alreadyDecided(o orders.Order) error {
	for i := len(o.History) - 1; i >= 0; i-- {
		if h := o.History[i]; h.From == orders.StatusPendingApproval {
			by := strings.TrimPrefix(h.Actor, orders.ActorApproverPrefix)
			return orders.Errorf(orders.ECONFLICT, "order %s was already decided by %s; it is %s", o.Number, by, o.Status)
		}
	}
	return orders.Errorf(orders.ECONFLICT, "order %s is %s; it does not wait for approval", o.Number, o.Status)
}
