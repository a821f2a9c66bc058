package sqlstore

import (
	"context"

	"orderbot/orders"
)

const (
	qDeleteLines     = "DELETE FROM order_lines WHERE order_id = ?"
	qDeleteApprovers = "DELETE FROM order_approvers WHERE order_id = ?"
	// qSetAmended sets an amended order's total and status, if its status
	// is still the one read; reminded_at restarts the reminders of an order
	// sent back for approval from the amendment.
	qSetAmended = "UPDATE orders SET total = ?, currency = ?, status = ?, reminded_at = ?, updated_at = ? WHERE id = ? AND status = ?"
)

// Amend implements orders.Store in one write transaction: the order's row
// (locked on PostgreSQL, as Decide locks it), the stock of its lines given
// back and its lines deleted, the new lines reserved and recorded as
// PlaceOrder does it, the total and status set, the approvers replaced when
// a.Reapprove, the history entry, and the notifications.
func (s *Store) Amend(ctx context.Context, number string, a orders.Amendment) (orders.Order, error) {
	if len(a.Lines) == 0 {
		return orders.Order{}, orders.Errorf(orders.EINVALID, "an order needs lines")
	}
	for _, l := range a.Lines {
		if l.Quantity < 1 {
			return orders.Order{}, orders.Errorf(orders.EINVALID, "quantity must be at least 1")
		}
	}
	if a.Reapprove && len(a.Approvals) == 0 {
		return orders.Order{}, orders.Errorf(orders.EINVALID, "an order sent back for approval needs approvers")
	}
	if err := checkApprovals(a.Approvals); err != nil {
		return orders.Order{}, err
	}
	total, ok := orders.DraftTotal(a.Lines)
	if !ok {
		return orders.Order{}, orders.Errorf(orders.EINVALID, "the order total is too large or mixes currencies")
	}
	at := changeTime(orders.Transition{At: a.At})
	q := qOrderByNumber
	if s.dialect == DialectPostgres {
		q += " FOR UPDATE"
	}
	var o orders.Order
	err := s.write(ctx, func(tx *txn) error {
		r, err := orderToChange(ctx, tx, q, number)
		if err != nil {
			return err
		}
		from := orders.Status(r.Status)
		if from != a.From || !orders.Amendable(from, orders.Payment(r.Payment)) {
			return orders.Errorf(orders.ECONFLICT, "order %s is %s and can no longer be changed", r.Number, from)
		}
		old, err := scanLines(tx.query(ctx, qLinesOfOrder, r.ID))
		if err != nil {
			return err
		}
		if sameLines(old, a.Lines) {
			// A repeated amendment (a retried step): nothing to do.
			o, err = s.loadOrder(ctx, tx, qOrderByID, r.ID)
			return err
		}
		if total.Currency != r.Currency {
			return orders.Errorf(orders.EINVALID, "order %s is priced in %s, not %s", r.Number, r.Currency, total.Currency)
		}
		if _, err := tx.exec(ctx, qReleaseStock, r.ID, r.ID); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, qDeleteLines, r.ID); err != nil {
			return err
		}
		if err := s.reserveLines(ctx, tx, r.ID, a.Lines, false); err != nil {
			return err
		}
		if err := s.checkAddress(ctx, tx, r.ID, r.Address); err != nil {
			return err
		}
		to, reminded := from, int64(0)
		if a.Reapprove {
			to, reminded = orders.StatusPendingApproval, micros(at)
			if _, err := tx.exec(ctx, qDeleteApprovers, r.ID); err != nil {
				return err
			}
			if _, err := insertApprovers(ctx, tx, r.ID, a.Approvals); err != nil {
				return err
			}
		} else if err := tx.get(ctx, &reminded, qRemindedAt, r.ID); err != nil {
			return err
		}
		ok, err := affected(tx.exec(ctx, qSetAmended, total.Amount, total.Currency, string(to), reminded, micros(at), r.ID, string(from)))
		if err != nil {
			return err
		}
		if !ok {
			return orders.Errorf(orders.ECONFLICT, "order %s changed meanwhile; look at it again", r.Number)
		}
		if _, err := tx.exec(ctx, qInsertChange, r.ID, r.ID, string(from), string(to), a.Actor, orders.AmendedNote, micros(at)); err != nil {
			return err
		}
		n := notificationRow{OrderNumber: r.Number, Channel: r.Channel, Chat: r.Chat, User: r.User, Lang: r.Lang,
			From: string(from), To: string(to), Tracking: r.Tracking, Note: orders.AmendedNote, Actor: a.Actor, CreatedAt: micros(at)}
		if err := insertNotification(ctx, tx, n, deskOf(r.FulfilmentChat, from, to)); err != nil {
			return err
		}
		if o, err = s.loadOrder(ctx, tx, qOrderByID, r.ID); err != nil {
			return err
		}
		if to != orders.StatusPendingApproval {
			return nil
		}
		return insertApproverNotifications(ctx, tx, n, o.Approvals)
	})
	if err != nil {
		return orders.Order{}, fail("amend order "+number, err)
	}
	return o, nil
}

// qRemindedAt reads when an order's approvers were last reminded.
const qRemindedAt = "SELECT reminded_at FROM orders WHERE id = ?"

// sameLines reports whether an order's stored lines are dls: the same
// variants, quantities and prices, in the same order.
func sameLines(rows []lineRow, dls []orders.DraftLine) bool {
	if len(rows) != len(dls) {
		return false
	}
	for i, r := range rows {
		dl := dls[i]
		if r.VariantSKU != dl.VariantSKU || r.Quantity != dl.Quantity || r.UnitPrice != dl.UnitPrice.Amount || r.Currency != dl.UnitPrice.Currency {
			return false
		}
	}
	return true
}
