package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"orderbot/orders"
)

// orderRow, lineRow, changeRow and approverRow are order rows as stored.
type orderRow struct {
	ID          int64  `db:"id"`
	Number      string `db:"number"`
	CheckoutKey string `db:"checkout_key"`
	Channel     string `db:"customer_channel"`
	Chat        string `db:"customer_chat"`
	User        string `db:"customer_user"`
	Lang        string `db:"customer_lang"`
	Status      string `db:"status"`
	Total       int64  `db:"total"`
	Currency    string `db:"currency"`
	Address     string `db:"address"`
	ContactName string `db:"contact_name"`
	Phone       string `db:"phone"`
	Payment     string `db:"payment"`
	Tracking    string `db:"tracking"`
	CostCentre  string `db:"cost_centre"`
	Reason      string `db:"reason"`
	CreatedAt   int64  `db:"created_at"`
	UpdatedAt   int64  `db:"updated_at"`
	// FulfilmentChat is the fulfilment channel a company order was placed
	// with, where its changes are announced; "" for none.
	FulfilmentChat string `db:"fulfilment_chat"`
}

type lineRow struct {
	OrderID     int64  `db:"order_id"`
	VariantSKU  string `db:"variant_sku"`
	ProductSKU  string `db:"product_sku"`
	ProductName string `db:"product_name"`
	VariantName string `db:"variant_name"`
	UnitPrice   int64  `db:"unit_price"`
	Currency    string `db:"currency"`
	Quantity    int    `db:"quantity"`
}

type changeRow struct {
	From  string `db:"from_status"`
	To    string `db:"to_status"`
	Actor string `db:"actor"`
	Note  string `db:"note"`
	At    int64  `db:"at"`
}

type approverRow struct {
	OrderID  int64  `db:"order_id"`
	Approver string `db:"approver"`
	Rule     string `db:"rule"`
	// ApprovedAt is when the approver approved the order; 0 while they have not.
	ApprovedAt int64 `db:"approved_at"`
}

const (
	orderColumns = `id, number, checkout_key, customer_channel, customer_chat, customer_user, customer_lang,
		status, total, currency, address, contact_name, phone, payment, tracking, cost_centre, reason, created_at, updated_at,
		fulfilment_chat`
	lineColumns = "order_id, variant_sku, product_sku, product_name, variant_name, unit_price, currency, quantity"
)

// The queries of the hot paths; see hotQueries.
const (
	qOrderByNumber  = "SELECT " + orderColumns + " FROM orders WHERE number = ?"
	qOrderByID      = "SELECT " + orderColumns + " FROM orders WHERE id = ?"
	qOrderIDByKey   = "SELECT id FROM orders WHERE checkout_key = ?"
	qLinesOfOrder   = "SELECT " + lineColumns + " FROM order_lines WHERE order_id = ? ORDER BY line_no"
	qHistoryOfOrder = "SELECT from_status, to_status, actor, note, at FROM order_history WHERE order_id = ? ORDER BY seq"
	// The first change of an order is its creation, seq 1.
	qInsertFirstChange = "INSERT INTO order_history (order_id, seq, from_status, to_status, actor, note, at) VALUES (?, 1, ?, ?, ?, ?, ?)"
	qInsertChange      = `INSERT INTO order_history (order_id, seq, from_status, to_status, actor, note, at)
		VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM order_history WHERE order_id = ?), ?, ?, ?, ?, ?)`
	qInsertOutbox = `INSERT INTO outbox (order_number, customer_channel, customer_chat, customer_user, customer_lang,
		from_status, to_status, tracking, note, actor, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// qInsertOutboxAndDesk is qInsertOutbox followed by the same change for
	// a fulfilment channel: its order number, channel, chat (the fulfilment
	// channel's), and then the change again.
	qInsertOutboxAndDesk = `INSERT INTO outbox (order_number, customer_channel, customer_chat, customer_user, customer_lang, role,
		from_status, to_status, tracking, note, actor, created_at, next_attempt_at)
		VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, '', '', '` + orders.RoleFulfilment + `', ?, ?, ?, ?, ?, ?, ?)`
	qSetStatus    = "UPDATE orders SET status = ?, tracking = ?, updated_at = ? WHERE id = ? AND status = ?"
	qReleaseStock = `UPDATE variants SET stock = stock + (
			SELECT SUM(l.quantity) FROM order_lines l WHERE l.order_id = ? AND l.variant_sku = variants.sku)
		WHERE sku IN (SELECT variant_sku FROM order_lines WHERE order_id = ?)`
)

// scanLines reads lineColumns rows. It scans by hand rather than through
// sqlx's reflection: every order placed reads its lines back.
func scanLines(rows *sql.Rows, err error) ([]lineRow, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lines []lineRow
	for rows.Next() {
		var l lineRow
		if err := rows.Scan(&l.OrderID, &l.VariantSKU, &l.ProductSKU, &l.ProductName, &l.VariantName,
			&l.UnitPrice, &l.Currency, &l.Quantity); err != nil {
			return nil, err
		}
		lines = append(lines, l)
	}
	return lines, rows.Err()
}

// order decodes an order row with the given lines, history and approvers.
func (r orderRow) order(lines []lineRow, history []changeRow, approvers []approverRow) (orders.Order, error) {
	o := orders.Order{
		ID:          r.ID,
		Number:      r.Number,
		CheckoutKey: r.CheckoutKey,
		Customer:    orders.Customer{Channel: r.Channel, Chat: r.Chat, User: r.User, Lang: r.Lang},
		Status:      orders.Status(r.Status),
		Total:       orders.Money{Amount: r.Total, Currency: r.Currency},
		Address:     r.Address,
		ContactName: r.ContactName,
		Phone:       r.Phone,
		Payment:     orders.Payment(r.Payment),
		Tracking:    r.Tracking,
		CostCentre:  r.CostCentre,
		Reason:      r.Reason,
		CreatedAt:   fromMicros(r.CreatedAt),
		UpdatedAt:   fromMicros(r.UpdatedAt),
		Lines:       make([]orders.Line, 0, len(lines)),
	}
	for _, l := range lines {
		pn, err := decodeText(l.ProductName)
		if err != nil {
			return orders.Order{}, fmt.Errorf("order %s: %w", r.Number, err)
		}
		vn, err := decodeText(l.VariantName)
		if err != nil {
			return orders.Order{}, fmt.Errorf("order %s: %w", r.Number, err)
		}
		o.Lines = append(o.Lines, orders.Line{
			VariantSKU:  l.VariantSKU,
			ProductSKU:  l.ProductSKU,
			ProductName: pn,
			VariantName: vn,
			UnitPrice:   orders.Money{Amount: l.UnitPrice, Currency: l.Currency},
			Quantity:    l.Quantity,
		})
	}
	for _, a := range approvers {
		o.Approvals = append(o.Approvals, a.approval())
	}
	for _, h := range history {
		o.History = append(o.History, orders.Change{
			From: orders.Status(h.From), To: orders.Status(h.To), Actor: h.Actor, Note: h.Note, At: fromMicros(h.At),
		})
	}
	return o, nil
}

// loadOrder reads the order with the given id, its lines, its history and
// its approvers within tx.
func (s *Store) loadOrder(ctx context.Context, tx *txn, q string, arg any) (orders.Order, error) {
	var r orderRow
	if err := tx.get(ctx, &r, q, arg); err != nil {
		return orders.Order{}, err
	}
	lines, err := scanLines(tx.query(ctx, qLinesOfOrder, r.ID))
	if err != nil {
		return orders.Order{}, err
	}
	var history []changeRow
	if err := tx.sel(ctx, &history, qHistoryOfOrder, r.ID); err != nil {
		return orders.Order{}, err
	}
	approvers, err := approversOf(ctx, tx, []orderRow{r})
	if err != nil {
		return orders.Order{}, err
	}
	return r.order(lines, history, approvers)
}

// Order returns an order with its lines and its history, oldest first.
func (s *Store) Order(ctx context.Context, number string) (orders.Order, error) {
	var o orders.Order
	err := s.read(ctx, func(tx *txn) error {
		var err error
		o, err = s.loadOrder(ctx, tx, qOrderByNumber, number)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return orders.Order{}, orders.Errorf(orders.ENOTFOUND, "order %s not found", number)
	}
	if err != nil {
		return orders.Order{}, fail("read order "+number, err)
	}
	return o, nil
}

// Orders lists orders matching f, newest (last placed) first, with their
// lines and approvers but without history. A zero f.Limit means 100.
func (s *Store) Orders(ctx context.Context, f orders.Filter) ([]orders.Order, error) {
	var where []string
	var args []any
	if c := f.Customer; c != nil {
		where = append(where, "customer_channel = ? AND customer_chat = ? AND customer_user = ?")
		args = append(args, c.Channel, c.Chat, c.User)
	}
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, string(f.Status))
	}
	if f.Approver != "" {
		where = append(where, "id IN (SELECT order_id FROM order_approvers WHERE approver = ?)")
		args = append(args, f.Approver)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q := "SELECT " + orderColumns + " FROM orders"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)

	var rows []orderRow
	var lines []lineRow
	var approvers []approverRow
	err := s.read(ctx, func(tx *txn) error {
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(q), args...); err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		ids := make([]any, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		var err error
		lines, err = scanLines(tx.QueryContext(ctx, tx.Rebind("SELECT "+lineColumns+" FROM order_lines WHERE order_id IN ("+
			placeholders(len(ids))+") ORDER BY order_id, line_no"), ids...))
		if err != nil {
			return err
		}
		approvers, err = approversOf(ctx, tx, rows)
		return err
	})
	if err != nil {
		return nil, fail("list orders", err)
	}
	byOrder := make(map[int64][]lineRow, len(rows))
	for _, l := range lines {
		byOrder[l.OrderID] = append(byOrder[l.OrderID], l)
	}
	approversByOrder := map[int64][]approverRow{}
	for _, a := range approvers {
		approversByOrder[a.OrderID] = append(approversByOrder[a.OrderID], a)
	}
	out := make([]orders.Order, 0, len(rows))
	for _, r := range rows {
		o, err := r.order(byOrder[r.ID], nil, approversByOrder[r.ID])
		if err != nil {
			return nil, fail("list orders", err)
		}
		out = append(out, o)
	}
	return out, nil
}

// Transition moves an order to t.To in one write transaction: it checks the
// lifecycle, updates the order only if its status is still the one checked,
// records the history entry, gives reserved stock back when t.To releases it,
// and writes the outbox notification, and the fulfilment channel's when the
// order has one and the change is one it follows (deskOf). It returns the
// order with its history.
//
// Stock is released exactly once: the statuses that release it are final, so
// no order can enter one twice.
func (s *Store) Transition(ctx context.Context, number string, t orders.Transition) (orders.Order, error) {
	if _, err := orders.ParseStatus(string(t.To)); err != nil {
		return orders.Order{}, err
	}
	at := changeTime(t)
	var o orders.Order
	err := s.write(ctx, func(tx *txn) error {
		r, err := orderToChange(ctx, tx, qOrderByNumber, number)
		if err != nil {
			return err
		}
		o, err = s.transition(ctx, tx, r, t, at)
		return err
	})
	if err != nil {
		return orders.Order{}, fail("advance order "+number, err)
	}
	return o, nil
}

// changeTime is when t happens: t.At, or now when it is not set (the
// Service always sets it; a direct caller may not).
func changeTime(t orders.Transition) time.Time {
	if t.At.IsZero() {
		return time.Now().UTC()
	}
	return t.At.UTC()
}

// orderToChange reads, with q, the row of the order that a write
// transaction is about to change; ENOTFOUND when there is none.
func orderToChange(ctx context.Context, tx *txn, q, number string) (orderRow, error) {
	var r orderRow
	err := tx.get(ctx, &r, q, number)
	if errors.Is(err, sql.ErrNoRows) {
		return orderRow{}, orders.Errorf(orders.ENOTFOUND, "order %s not found", number)
	}
	return r, err
}

// transition moves the order read as r to t.To inside tx: the conditional
// status update, the history entry, the stock released when t.To releases
// it, and the outbox notification (two for an order the fulfilment channel
// follows; see deskOf). It returns the order as it now is.
func (s *Store) transition(ctx context.Context, tx *txn, r orderRow, t orders.Transition, at time.Time) (orders.Order, error) {
	from := orders.Status(r.Status)
	if !orders.CanTransition(from, t.To) {
		return orders.Order{}, orders.Errorf(orders.ECONFLICT, "order %s is %s; it cannot become %s (allowed: %s)", r.Number, from, t.To, allowed(from))
	}
	tracking := r.Tracking
	if t.Tracking != "" {
		tracking = t.Tracking
	}
	ok, err := affected(tx.exec(ctx, qSetStatus, string(t.To), tracking, micros(at), r.ID, string(from)))
	if err != nil {
		return orders.Order{}, err
	}
	if !ok {
		// Only possible on PostgreSQL, where another transaction may have
		// moved the order between our read and our update.
		return orders.Order{}, orders.Errorf(orders.ECONFLICT, "order %s changed meanwhile; look at it again", r.Number)
	}
	if _, err := tx.exec(ctx, qInsertChange, r.ID, r.ID, string(from), string(t.To), t.Actor, t.Note, micros(at)); err != nil {
		return orders.Order{}, err
	}
	if t.To.ReleasesStock() {
		if _, err := tx.exec(ctx, qReleaseStock, r.ID, r.ID); err != nil {
			return orders.Order{}, err
		}
	}
	n := notificationRow{OrderNumber: r.Number, Channel: r.Channel, Chat: r.Chat, User: r.User, Lang: r.Lang,
		From: string(from), To: string(t.To), Tracking: tracking, Note: t.Note, Actor: t.Actor, CreatedAt: micros(at)}
	if err := insertNotification(ctx, tx, n, deskOf(r.FulfilmentChat, from, t.To)); err != nil {
		return orders.Order{}, err
	}
	return s.loadOrder(ctx, tx, qOrderByID, r.ID)
}

// allowed lists the statuses an order in s may move to, for error messages.
func allowed(s orders.Status) string {
	next := s.Next()
	if len(next) == 0 {
		return "none, it is final"
	}
	names := make([]string, len(next))
	for i, n := range next {
		names[i] = string(n)
	}
	return strings.Join(names, ", ")
}
