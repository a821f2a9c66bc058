package sqlstore

import (
	"context"
	"time"

	"orderbot/orders"
)

const (
	qInsertPayment = `INSERT INTO payments (charge_id, order_id, method, amount, currency, received_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (charge_id) DO NOTHING`
	qUnpaid = `SELECT number FROM orders WHERE status = ? AND created_at < ? ORDER BY id LIMIT ?`
)

// RecordPayment implements orders.Store: the payment row and the status
// change are one transaction, and the charge id's primary key makes a
// repeated confirmation a no-op.
func (s *Store) RecordPayment(ctx context.Context, number string, p orders.ReceivedPayment) (orders.Order, error) {
	at := p.At.UTC().Truncate(time.Microsecond)
	var o orders.Order
	var late error
	err := s.write(ctx, func(tx *txn) error {
		r, err := orderToChange(ctx, tx, qOrderByNumber, number)
		if err != nil {
			return err
		}
		fresh, err := affected(tx.exec(ctx, qInsertPayment, p.ChargeID, r.ID, string(p.Method), p.Amount.Amount, p.Amount.Currency, micros(at)))
		if err != nil {
			return err
		}
		if fresh && orders.Status(r.Status) == orders.StatusPendingPayment {
			o, err = s.transition(ctx, tx, r, orders.Transition{
				To: orders.StatusPendingShipment, Actor: orders.ActorPayment, Note: "paid " + p.Amount.String(),
			}, at)
			return err
		}
		if fresh {
			// Kept, and committed, so that the money can be given back.
			late = orders.Errorf(orders.ECONFLICT, "order %s is %s; the payment was recorded for a refund", number, r.Status)
		}
		o, err = s.loadOrder(ctx, tx, qOrderByID, r.ID)
		return err
	})
	if err != nil {
		return orders.Order{}, fail("record payment for "+number, err)
	}
	return o, late
}

// Unpaid implements orders.Store.
func (s *Store) Unpaid(ctx context.Context, before time.Time, limit int) ([]string, error) {
	var numbers []string
	err := s.rdb.SelectContext(ctx, &numbers, s.rdb.Rebind(qUnpaid), string(orders.StatusPendingPayment), micros(before), limit)
	return numbers, fail("list unpaid orders", err)
}
