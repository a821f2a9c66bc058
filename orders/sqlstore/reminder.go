package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"orderbot/orders"
)

// stillWaiting is the condition on an approver a of an order that a
// reminder is for them: they have not approved, and neither has anyone
// else for their rule.
const stillWaiting = `a.approved_at = 0 AND NOT EXISTS (SELECT 1 FROM order_approvers b
	WHERE b.order_id = a.order_id AND b.rule = a.rule AND b.approved_at <> 0)`

const (
	// qDueReminders lists orders waiting for approval, oldest first; an
	// order without approvers still waiting has nobody to remind.
	qDueReminders = `SELECT id, number, reminded_at FROM orders
		WHERE status = ? AND created_at < ? AND (reminded_at = 0 OR reminded_at < ?)
			AND EXISTS (SELECT 1 FROM order_approvers a WHERE a.order_id = orders.id AND ` + stillWaiting + `)
		ORDER BY id LIMIT ?`
	// qApproversToRemind reads the approvers of an order a reminder is for.
	qApproversToRemind = "SELECT order_id, approver, rule, approved_at FROM order_approvers a WHERE a.order_id = ? AND " + stillWaiting
	// qSetReminded is a compare-and-set: no row means the order was decided,
	// or reminded by someone else, since its reminder was listed.
	qSetReminded = `UPDATE orders SET reminded_at = ? WHERE id = ? AND status = ? AND reminded_at = ?
		RETURNING number, customer_channel`
)

// reminderRow is an order due a reminder, as listed.
type reminderRow struct {
	ID         int64  `db:"id"`
	Number     string `db:"number"`
	RemindedAt int64  `db:"reminded_at"`
}

// DueReminders implements orders.Store.
func (s *Store) DueReminders(ctx context.Context, placedBefore, remindedBefore time.Time, limit int) ([]orders.Reminder, error) {
	var rows []reminderRow
	err := s.rdb.SelectContext(ctx, &rows, s.rdb.Rebind(qDueReminders),
		string(orders.StatusPendingApproval), micros(placedBefore), micros(remindedBefore), limit)
	if err != nil {
		return nil, fail("list orders due a reminder", err)
	}
	out := make([]orders.Reminder, len(rows))
	for i, r := range rows {
		out[i] = orders.Reminder{OrderID: r.ID, Number: r.Number}
		if r.RemindedAt != 0 {
			out[i].RemindedAt = fromMicros(r.RemindedAt)
		}
	}
	return out, nil
}

// Remind implements orders.Store in one write transaction: the approvers
// still waited for are read (not those who approved, nor the other
// approvers of a rule one of them approved for), reminded_at moves from r.RemindedAt to at only if the order
// still waits for approval and holds r.RemindedAt, and then each approver
// gets an outbox row, in the order Order.Approvals lists them. Of two
// processes reminding the same order at once, the second finds reminded_at
// changed (on SQLite once the first commits, as write transactions take
// turns; on PostgreSQL once the first's row lock is released) and writes
// nothing.
func (s *Store) Remind(ctx context.Context, r orders.Reminder, at time.Time) (bool, error) {
	if at.IsZero() {
		at = time.Now()
	}
	last := int64(0) // never
	if !r.RemindedAt.IsZero() {
		last = micros(r.RemindedAt)
	}
	var reminded bool
	err := s.write(ctx, func(tx *txn) error {
		var approvers []approverRow
		if err := tx.sel(ctx, &approvers, qApproversToRemind, r.OrderID); err != nil {
			return err
		}
		if len(approvers) == 0 {
			return nil
		}
		var o struct {
			Number  string `db:"number"`
			Channel string `db:"customer_channel"`
		}
		err := tx.get(ctx, &o, qSetReminded, micros(at), r.OrderID, string(orders.StatusPendingApproval), last)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		sortApprovers(approvers)
		as := make([]orders.Approval, len(approvers))
		for i, a := range approvers {
			as[i] = a.approval()
		}
		waiting := string(orders.StatusPendingApproval)
		n := notificationRow{OrderNumber: o.Number, Channel: o.Channel, From: waiting, To: waiting,
			Note: orders.ReminderNote, Actor: orders.ActorSystem, CreatedAt: micros(at)}
		reminded = true
		return insertApproverNotifications(ctx, tx, n, as)
	})
	if err != nil {
		return false, fail("remind the approvers of order "+r.Number, err)
	}
	return reminded, nil
}
