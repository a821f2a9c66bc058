package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"orderbot/orders"
)

// notificationRow is an outbox row as stored.
type notificationRow struct {
	ID          int64  `db:"id"`
	OrderNumber string `db:"order_number"`
	Channel     string `db:"customer_channel"`
	Chat        string `db:"customer_chat"`
	User        string `db:"customer_user"`
	Lang        string `db:"customer_lang"`
	Role        string `db:"role"`
	From        string `db:"from_status"`
	To          string `db:"to_status"`
	Tracking    string `db:"tracking"`
	Note        string `db:"note"`
	Actor       string `db:"actor"`
	CreatedAt   int64  `db:"created_at"`
	Attempts    int    `db:"attempts"`
	LastError   string `db:"last_error"`
}

const notificationColumns = `id, order_number, customer_channel, customer_chat, customer_user, customer_lang, role,
	from_status, to_status, tracking, note, actor, created_at, attempts, last_error`

// insertNotification writes n, a change told to an order's customer, to the
// outbox; and, when desk is set, the same change for that fulfilment
// channel (orders.RoleFulfilment), in the order's channel, with no user or
// language. Both rows are one statement: an order the desk follows costs no
// more statements than any other. n's ID, Role, Attempts and LastError are
// ignored.
func insertNotification(ctx context.Context, tx *txn, n notificationRow, desk string) error {
	args := []any{n.OrderNumber, n.Channel, n.Chat, n.User, n.Lang,
		n.From, n.To, n.Tracking, n.Note, n.Actor, n.CreatedAt, n.CreatedAt}
	if desk == "" {
		_, err := tx.exec(ctx, qInsertOutbox, args...)
		return err
	}
	change := args[5:]
	args = append(append(args, n.OrderNumber, n.Channel, desk), change...)
	_, err := tx.exec(ctx, qInsertOutboxAndDesk, args...)
	return err
}

// deskOf returns the fulfilment channel to tell of an order's change from
// → to ("" when the order was placed before there was one), or "" when
// the channel does not follow that change. The channel follows an order
// from the moment it may ship: it learns of it entering pending_shipment,
// and of every change after that (shipped, completed, cancelled,
// refunded); not of its approval request, nor of its rejection.
func deskOf(chat string, from, to orders.Status) string {
	if chat == "" || !onDesk(from) && !onDesk(to) {
		return ""
	}
	return chat
}

// onDesk reports whether an order in s is on the fulfilment desk: it may
// ship, or is on its way.
func onDesk(s orders.Status) bool {
	return s == orders.StatusPendingShipment || s == orders.StatusShipped || s == orders.StatusCompleted
}

// insertApproverNotifications tells each of an order's approvers, in the
// order given, of the change n tells its customer: one outbox row each, all
// in one statement, with n's order, channel, change and time, addressed to
// the approver's user id (orders.RoleApprover) in an unknown language. n's
// other fields are ignored. No approvers, no statement: the hot path of
// orders without approval stays as it was.
func insertApproverNotifications(ctx context.Context, tx *txn, n notificationRow, approvers []orders.Approval) error {
	if len(approvers) == 0 {
		return nil
	}
	const row = "(?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?)"
	values := make([]string, len(approvers))
	args := make([]any, 0, 12*len(approvers))
	for i, a := range approvers {
		values[i] = row
		args = append(args, n.OrderNumber, n.Channel, a.Approver, a.Approver, orders.RoleApprover,
			n.From, n.To, n.Tracking, n.Note, n.Actor, n.CreatedAt, n.CreatedAt)
	}
	q := `INSERT INTO outbox (order_number, customer_channel, customer_chat, customer_user, customer_lang, role,
		from_status, to_status, tracking, note, actor, created_at, next_attempt_at) VALUES ` + strings.Join(values, ", ")
	_, err := tx.ExecContext(ctx, tx.Rebind(q), args...)
	return err
}

// maxErrorLen bounds a stored delivery error; the start says what went wrong.
const maxErrorLen = 1000

// ClaimNotifications leases up to limit due, undelivered notifications that
// match f until at+lease, counting an attempt on each, and returns them in
// the order they were written. A row is due when its next attempt is at or
// before at and no unexpired lease holds it, so a notifier that crashes
// mid-delivery only delays its rows until the lease runs out.
//
// The select and the lease are one UPDATE in one write transaction, so two
// claimers never get the same row: on SQLite they take turns on the write
// lock; on PostgreSQL FOR UPDATE SKIP LOCKED makes each skip the rows the
// other is leasing.
func (s *Store) ClaimNotifications(ctx context.Context, f orders.NotificationFilter, limit int, at time.Time, lease time.Duration) ([]orders.Notification, error) {
	if limit <= 0 {
		return nil, nil
	}
	if lease <= 0 {
		return nil, orders.Errorf(orders.EINVALID, "a lease must be longer than zero")
	}
	now := micros(at)
	args := []any{micros(at.Add(lease)), now, now}
	where := []string{"delivered_at IS NULL", "parked_at IS NULL", "next_attempt_at <= ?", "(claimed_until IS NULL OR claimed_until <= ?)"}
	if len(f.Channels) > 0 {
		where = append(where, "customer_channel IN ("+placeholders(len(f.Channels))+")")
		for _, c := range f.Channels {
			args = append(args, c)
		}
	}
	if f.Chat != "" {
		where = append(where, "customer_chat = ?")
		args = append(args, f.Chat)
	}
	args = append(args, limit)
	sub := "SELECT id FROM outbox WHERE " + strings.Join(where, " AND ") + " ORDER BY id LIMIT ?"
	if s.dialect == DialectPostgres {
		sub += " FOR UPDATE SKIP LOCKED"
	}
	q := "UPDATE outbox SET claimed_until = ?, attempts = attempts + 1 WHERE id IN (" + sub + ") RETURNING " + notificationColumns

	var rows []notificationRow
	err := s.write(ctx, func(tx *txn) error {
		rows = rows[:0]
		return tx.SelectContext(ctx, &rows, tx.Rebind(q), args...)
	})
	if err != nil {
		return nil, fail("claim notifications", err)
	}
	// RETURNING promises no order.
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	out := make([]orders.Notification, len(rows))
	for i, r := range rows {
		out[i] = r.notification()
	}
	return out, nil
}

// notification is the row as orders.Notification.
func (r notificationRow) notification() orders.Notification {
	return orders.Notification{
		ID:          r.ID,
		Customer:    orders.Customer{Channel: r.Channel, Chat: r.Chat, User: r.User, Lang: r.Lang},
		Role:        r.Role,
		OrderNumber: r.OrderNumber,
		From:        orders.Status(r.From),
		To:          orders.Status(r.To),
		Tracking:    r.Tracking,
		Note:        r.Note,
		Actor:       r.Actor,
		CreatedAt:   fromMicros(r.CreatedAt),
		Attempts:    r.Attempts,
		LastError:   r.LastError,
	}
}

// Undelivered lists, for an operator, up to limit notifications not
// delivered yet, oldest first, with when each is due and, if it was
// parked, when: those still being tried, or only the parked ones.
func (s *Store) Undelivered(ctx context.Context, parked bool, limit int) ([]orders.Notification, error) {
	if limit <= 0 {
		return nil, nil
	}
	cond := "parked_at IS NULL"
	if parked {
		cond = "parked_at IS NOT NULL"
	}
	var rows []struct {
		notificationRow
		NextAttempt int64         `db:"next_attempt_at"`
		ParkedAt    sql.NullInt64 `db:"parked_at"`
	}
	q := "SELECT " + notificationColumns + ", next_attempt_at, parked_at FROM outbox WHERE delivered_at IS NULL AND " + cond + " ORDER BY id LIMIT ?"
	if err := s.rdb.SelectContext(ctx, &rows, s.rdb.Rebind(q), limit); err != nil {
		return nil, fail("list undelivered notifications", err)
	}
	out := make([]orders.Notification, len(rows))
	for i, r := range rows {
		out[i] = r.notification()
		out[i].NextAttempt = fromMicros(r.NextAttempt)
		if r.ParkedAt.Valid {
			out[i].ParkedAt = fromMicros(r.ParkedAt.Int64)
		}
	}
	return out, nil
}

// Backlog counts, for metrics, the notifications not delivered yet: those
// still being tried, with when the oldest of them was written (zero when
// there is none), and the parked ones.
func (s *Store) Backlog(ctx context.Context) (waiting int, oldest time.Time, parked int, err error) {
	var row struct {
		Waiting int           `db:"waiting"`
		Oldest  sql.NullInt64 `db:"oldest"`
		Parked  int           `db:"parked"`
	}
	const q = `SELECT
		(SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND parked_at IS NULL) AS waiting,
		(SELECT MIN(created_at) FROM outbox WHERE delivered_at IS NULL AND parked_at IS NULL) AS oldest,
		(SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND parked_at IS NOT NULL) AS parked`
	if err := s.rdb.GetContext(ctx, &row, q); err != nil {
		return 0, time.Time{}, 0, fail("count the outbox", err)
	}
	if row.Oldest.Valid {
		oldest = fromMicros(row.Oldest.Int64)
	}
	return row.Waiting, oldest, row.Parked, nil
}

// Unpark makes parked notifications due again at at, their attempts
// counted from zero and their last error kept until the next attempt: the
// ones ids names, or every parked one when ids is empty. It returns the
// ids it unparked, in ascending order; an id that is not parked
// (delivered, still being tried, or unknown) is left alone.
func (s *Store) Unpark(ctx context.Context, ids []int64, at time.Time) ([]int64, error) {
	q := "UPDATE outbox SET parked_at = NULL, attempts = 0, next_attempt_at = ?, claimed_until = NULL WHERE parked_at IS NOT NULL AND delivered_at IS NULL"
	args := []any{micros(at)}
	if len(ids) > 0 {
		q += " AND id IN (" + placeholders(len(ids)) + ")"
		for _, id := range ids {
			args = append(args, id)
		}
	}
	var unparked []int64
	err := s.write(ctx, func(tx *txn) error {
		unparked = unparked[:0]
		return tx.SelectContext(ctx, &unparked, tx.Rebind(q+" RETURNING id"), args...)
	})
	if err != nil {
		return nil, fail("unpark notifications", err)
	}
	slices.Sort(unparked)
	return unparked, nil
}

// MarkDelivered records that notification id reached its recipient; it is
// never claimed again.
func (s *Store) MarkDelivered(ctx context.Context, id int64, at time.Time) error {
	return s.markOutbox(ctx, "mark notification delivered", id,
		"UPDATE outbox SET delivered_at = ?, claimed_until = NULL WHERE id = ?", micros(at), id)
}

// MarkFailed records a failed delivery of notification id and makes it due
// again at retryAt, releasing its lease. A notification already delivered
// stays delivered.
func (s *Store) MarkFailed(ctx context.Context, id int64, reason string, retryAt time.Time) error {
	return s.markOutbox(ctx, "mark notification failed", id,
		"UPDATE outbox SET last_error = ?, next_attempt_at = ?, claimed_until = NULL WHERE id = ? AND delivered_at IS NULL",
		truncate(reason, maxErrorLen), micros(retryAt), id)
}

// MarkParked sets notification id aside for good: its recipient cannot be
// reached. It is never claimed again, and keeps its reason.
func (s *Store) MarkParked(ctx context.Context, id int64, reason string, at time.Time) error {
	return s.markOutbox(ctx, "park notification", id,
		"UPDATE outbox SET last_error = ?, parked_at = ?, claimed_until = NULL WHERE id = ? AND delivered_at IS NULL",
		truncate(reason, maxErrorLen), micros(at), id)
}

// markOutbox runs one update of notification id; ENOTFOUND when there is no
// such notification.
func (s *Store) markOutbox(ctx context.Context, op string, id int64, q string, args ...any) error {
	err := s.write(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(q), args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n > 0 {
			return err
		}
		var exists bool
		if err := tx.GetContext(ctx, &exists, tx.Rebind("SELECT EXISTS (SELECT 1 FROM outbox WHERE id = ?)"), id); err != nil {
			return err
		}
		if !exists {
			return orders.Errorf(orders.ENOTFOUND, "notification %d not found", id)
		}
		return nil
	})
	return fail(op, err)
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
