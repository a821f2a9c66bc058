package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strings"
	"time"

	"orderbot/orders"
)

const (
	qVariantForSale = `SELECT v.sku, v.name AS variant_name, v.price, v.currency, v.stars, v.stock, v.removed,
			p.sku AS product_sku, p.name AS product_name, p.kind, p.active
		FROM variants v JOIN products p ON p.sku = v.product_sku WHERE v.sku = ?`
	// ON CONFLICT DO NOTHING covers both unique keys without aborting the
	// transaction (PostgreSQL would otherwise): no row inserted means the
	// checkout key or the number is already taken, and a look-up tells which.
	qInsertOrder = `INSERT INTO orders (number, checkout_key, customer_channel, customer_chat, customer_user, customer_lang,
			status, total, currency, address, contact_name, phone, payment, tracking, cost_centre, reason, created_at, updated_at,
			fulfilment_chat)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`
	// PostgreSQL's driver has no LastInsertId; SQLite runs the plain insert,
	// which costs a third less than one returning rows.
	qInsertOrderReturning = qInsertOrder + " RETURNING id"
	// qReserve takes quantity units of a variant if it is still in the
	// catalog at the price shown and has that many. The stock condition
	// alone keeps stock from ever going below zero, whatever runs
	// concurrently. No row updated means the line cannot be ordered as shown.
	qReserve = `UPDATE variants SET stock = stock - ?
		WHERE sku = ? AND stock >= ? AND price = ? AND currency = ? AND removed = FALSE`
	// qInsertLine records a line with the names and price the catalog has
	// now, if the variant's product is active. No row inserted means it is not.
	// (The casts tell PostgreSQL what the parameters of a SELECT list are.)
	qInsertLine = `INSERT INTO order_lines (order_id, line_no, variant_sku, product_sku, product_name, variant_name,
			unit_price, currency, quantity)
		SELECT CAST(? AS BIGINT), CAST(? AS INTEGER), v.sku, v.product_sku, p.name, v.name, v.price, v.currency, CAST(? AS INTEGER)
		FROM variants v JOIN products p ON p.sku = v.product_sku
		WHERE v.sku = ? AND p.active = TRUE`
	// qReserveStars and qInsertStarsLine are qReserve and qInsertLine for an
	// order paid in Telegram Stars: a line is reserved only at the Stars
	// price shown, which a variant without one (stars = 0) never has, and
	// only if its product is of the kind given (digital); it is recorded at
	// the Stars price, in XTR.
	qReserveStars = `UPDATE variants SET stock = stock - ?
		WHERE sku = ? AND stock >= ? AND stars = ? AND stars > 0 AND removed = FALSE
			AND EXISTS (SELECT 1 FROM products p WHERE p.sku = variants.product_sku AND p.kind = ?)`
	qInsertStarsLine = `INSERT INTO order_lines (order_id, line_no, variant_sku, product_sku, product_name, variant_name,
			unit_price, currency, quantity)
		SELECT CAST(? AS BIGINT), CAST(? AS INTEGER), v.sku, v.product_sku, p.name, v.name, v.stars, '` + orders.CurrencyStars + `', CAST(? AS INTEGER)
		FROM variants v JOIN products p ON p.sku = v.product_sku
		WHERE v.sku = ? AND p.active = TRUE`
)

// forSaleRow is a variant with what placing an order needs of its product.
type forSaleRow struct {
	SKU         string `db:"sku"`
	VariantName string `db:"variant_name"`
	Price       int64  `db:"price"`
	Currency    string `db:"currency"`
	Stars       int64  `db:"stars"`
	Stock       int    `db:"stock"`
	Removed     bool   `db:"removed"`
	ProductSKU  string `db:"product_sku"`
	ProductName string `db:"product_name"`
	Kind        string `db:"kind"`
	Active      bool   `db:"active"`
}

// initialStatus is the status a new order starts in, which depends on how it
// is paid: paid on delivery, it can ship at once; paid up front (by card or
// in Stars), it waits for the payment; paid by the company account, it
// waits for its approvers if it has any, and can ship at once otherwise.
// Approvals and a fulfilment channel are refused on any other order.
func initialStatus(d orders.Draft) (orders.Status, error) {
	if len(d.Approvals) > 0 && d.Payment != orders.PayCompany {
		return "", orders.Errorf(orders.EINVALID, "only orders paid by the company account are approved")
	}
	if d.FulfilmentChat != "" && d.Payment != orders.PayCompany {
		return "", orders.Errorf(orders.EINVALID, "only orders paid by the company account go to the fulfilment channel")
	}
	switch d.Payment {
	case orders.PayOnDelivery:
		return orders.StatusPendingShipment, nil
	case orders.PayTelegram, orders.PayStars:
		return orders.StatusPendingPayment, nil
	case orders.PayCompany:
		if len(d.Approvals) > 0 {
			return orders.StatusPendingApproval, nil
		}
		return orders.StatusPendingShipment, nil
	}
	return "", orders.Errorf(orders.EINVALID, "payment method %q is not available", d.Payment)
}

// PlaceOrder places d as order number in one write transaction, as
// orders.Store documents: the order already placed with d.CheckoutKey if
// there is one; else *orders.ProblemsError, having written nothing, when a
// line's product is gone, its price differs from the one shown or its stock
// is short; else the new order with its lines and first history entry, its
// stock reserved and its notification in the outbox, and one notification
// for each of its approvers when it has any. A company order placed with
// d.FulfilmentChat keeps it, and the channel is told of it at once when it
// needs no approval. orders.ErrNumberTaken means number is in use by
// another order; draw another.
//
// Paid in Telegram Stars (orders.PayStars), every line must be shown in XTR
// and is checked against its variant's Stars price instead; a product that
// is not digital, or a variant without a Stars price, is unavailable.
//
// Placing an order is the hot write path, so it runs few statements, and
// statements that return no rows where it can (through database/sql and
// modernc's SQLite, a statement returning rows costs about half as much
// again as one that does not): the order row; per line, one that
// reserves stock and one that records the line, each only if the line can
// be ordered as shown; the history entry; the notification; and one query
// reading the lines back; an order with approvers adds two statements,
// one storing them and one writing their notifications. The fulfilment
// channel's notification is written by the statement that writes the
// customer's. The checks are not skipped, only folded into the writes; a
// refused line is examined afterwards to say why.
func (s *Store) PlaceOrder(ctx context.Context, d orders.Draft, number string, at time.Time) (orders.Order, error) {
	status, err := initialStatus(d)
	if err != nil {
		return orders.Order{}, err
	}
	if d.CheckoutKey == "" || number == "" || len(d.Lines) == 0 {
		return orders.Order{}, orders.Errorf(orders.EINVALID, "an order needs a checkout key, a number and lines")
	}
	for _, l := range d.Lines {
		if l.Quantity < 1 {
			return orders.Order{}, orders.Errorf(orders.EINVALID, "quantity must be at least 1")
		}
		if d.Payment == orders.PayStars && l.UnitPrice.Currency != orders.CurrencyStars {
			return orders.Order{}, orders.Errorf(orders.EINVALID, "an order paid in Telegram Stars must be priced in Stars")
		}
	}
	if err := checkApprovals(d.Approvals); err != nil {
		return orders.Order{}, err
	}
	if at.IsZero() {
		at = time.Now()
	}
	// Stored times have microsecond precision; the order returned now must
	// equal the one read back later.
	at = at.UTC().Truncate(time.Microsecond)
	var o orders.Order
	err = s.write(ctx, func(tx *txn) error {
		var err error
		o, err = s.placeOrder(ctx, tx, d, number, status, at)
		return err
	})
	if err != nil {
		return orders.Order{}, fail("place order "+number, err)
	}
	return o, nil
}

// qNeedsAddress tells whether an order has a line of a kind that is
// delivered to an address.
const qNeedsAddress = `SELECT EXISTS (SELECT 1 FROM order_lines l JOIN products p ON p.sku = l.product_sku
	WHERE l.order_id = ? AND p.kind <> ?)`

func (s *Store) placeOrder(ctx context.Context, tx *txn, d orders.Draft, number string, status orders.Status, at time.Time) (orders.Order, error) {
	// The total of the prices shown is the order's total if it is placed at
	// all: a line is reserved only at the price shown.
	total, ok := orders.DraftTotal(d.Lines)
	if !ok {
		return orders.Order{}, orders.Errorf(orders.EINVALID, "the order total is too large or mixes currencies")
	}

	// The order row goes first: its insert is where a repeated checkout (a
	// double-pressed Confirm, a retried request) shows, as a conflict on the
	// checkout key, before anything else is written. On PostgreSQL the
	// insert also waits for a concurrent twin to commit.
	c := d.Customer
	id, inserted, err := s.insertOrder(ctx, tx, number, d.CheckoutKey, c.Channel, c.Chat, c.User, c.Lang,
		string(status), total.Amount, total.Currency, d.Address, d.ContactName, d.Phone, string(d.Payment),
		d.CostCentre, d.Reason, micros(at), micros(at), d.FulfilmentChat)
	if err != nil {
		return orders.Order{}, err
	}
	if !inserted {
		// Nothing is written yet, so returning without an error commits an
		// empty transaction.
		o, found, err := s.orderByKey(ctx, tx, d.CheckoutKey)
		if err != nil || found {
			return o, err
		}
		return orders.Order{}, orders.ErrNumberTaken
	}

	// Any problem rolls the whole transaction back, reservations and order
	// row included.
	if err := s.reserveLines(ctx, tx, id, d.Lines, d.Payment == orders.PayStars); err != nil {
		return orders.Order{}, err
	}
	if err := s.checkAddress(ctx, tx, id, d.Address); err != nil {
		return orders.Order{}, err
	}

	approvers, err := insertApprovers(ctx, tx, id, d.Approvals)
	if err != nil {
		return orders.Order{}, err
	}

	first := orders.Change{From: "", To: status, Actor: orders.ActorCustomer, At: at}
	if _, err := tx.exec(ctx, qInsertFirstChange, id, string(first.From), string(first.To), first.Actor, first.Note, micros(at)); err != nil {
		return orders.Order{}, err
	}
	n := notificationRow{OrderNumber: number, Channel: c.Channel, Chat: c.Chat, User: c.User, Lang: c.Lang,
		To: string(status), Actor: first.Actor, CreatedAt: micros(at)}
	if err := insertNotification(ctx, tx, n, deskOf(d.FulfilmentChat, "", status)); err != nil {
		return orders.Order{}, err
	}
	// The lines as recorded, names and all, are the ones to return.
	lines, err := scanLines(tx.query(ctx, qLinesOfOrder, id))
	if err != nil {
		return orders.Order{}, err
	}
	r := orderRow{
		ID: id, Number: number, CheckoutKey: d.CheckoutKey,
		Channel: c.Channel, Chat: c.Chat, User: c.User, Lang: c.Lang,
		Status: string(status), Total: total.Amount, Currency: total.Currency,
		Address: d.Address, ContactName: d.ContactName, Phone: d.Phone, Payment: string(d.Payment),
		CostCentre: d.CostCentre, Reason: d.Reason, CreatedAt: micros(at), UpdatedAt: micros(at),
		FulfilmentChat: d.FulfilmentChat,
	}
	o, err := r.order(lines, []changeRow{{From: string(first.From), To: string(first.To), Actor: first.Actor, At: micros(at)}}, approvers)
	if err != nil {
		return orders.Order{}, err
	}
	// Each approver learns that the order waits for them, in the order's
	// channel, as Order.Approvals lists them.
	told := notificationRow{OrderNumber: number, Channel: c.Channel, To: string(status), Actor: first.Actor, CreatedAt: micros(at)}
	if err := insertApproverNotifications(ctx, tx, told, o.Approvals); err != nil {
		return orders.Order{}, err
	}
	return o, nil
}

// reserveLines reserves the stock of lines and records them as the lines
// of order id, numbered from 1, each by statements that do so only if it
// can be ordered as shown; a line they refuse is then looked at to tell the
// customer why, and all such problems are returned together as a
// *orders.ProblemsError. With stars the lines are paid in Telegram Stars
// (qReserveStars).
//
// Stock is reserved in the order of the variants' SKUs, whatever the order
// of the lines: two orders of the same variants then lock their rows in
// the same order, and cannot deadlock on PostgreSQL.
func (s *Store) reserveLines(ctx context.Context, tx *txn, id int64, lines []orders.DraftLine, stars bool) error {
	bySKU := make([]int, len(lines))
	for i := range bySKU {
		bySKU[i] = i
	}
	sort.SliceStable(bySKU, func(a, b int) bool { return lines[bySKU[a]].VariantSKU < lines[bySKU[b]].VariantSKU })
	reserved := make([]bool, len(lines))
	for _, i := range bySKU {
		dl := lines[i]
		var err error
		if stars {
			reserved[i], err = affected(tx.exec(ctx, qReserveStars, dl.Quantity, dl.VariantSKU, dl.Quantity, dl.UnitPrice.Amount, string(orders.KindDigital)))
		} else {
			reserved[i], err = affected(tx.exec(ctx, qReserve, dl.Quantity, dl.VariantSKU, dl.Quantity, dl.UnitPrice.Amount, dl.UnitPrice.Currency))
		}
		if err != nil {
			return err
		}
	}
	var problems []orders.Problem
	for i, dl := range lines {
		ok := reserved[i]
		if ok {
			var err error
			insert := qInsertLine
			if stars {
				insert = qInsertStarsLine
			}
			if ok, err = affected(tx.exec(ctx, insert, id, i+1, dl.Quantity, dl.VariantSKU)); err != nil {
				return err
			}
		}
		if !ok {
			ps, err := s.whyNot(ctx, tx, dl, stars)
			if err != nil {
				return err
			}
			problems = append(problems, ps...)
		}
	}
	if len(problems) > 0 {
		return &orders.ProblemsError{Problems: problems}
	}
	return nil
}

// checkAddress refuses order id, with no delivery address, when one of its
// lines is delivered to an address: only digital products are not.
func (s *Store) checkAddress(ctx context.Context, tx *txn, id int64, address string) error {
	if strings.TrimSpace(address) != "" {
		return nil
	}
	var shipped bool
	if err := tx.GetContext(ctx, &shipped, tx.Rebind(qNeedsAddress), id, string(orders.KindDigital)); err != nil {
		return err
	}
	if shipped {
		return orders.Errorf(orders.EINVALID, "this order needs a delivery address")
	}
	return nil
}

// insertOrder inserts an order row unless its number or checkout key is
// taken, and returns its id.
func (s *Store) insertOrder(ctx context.Context, tx *txn, args ...any) (id int64, inserted bool, err error) {
	if s.dialect == DialectPostgres {
		err = tx.get(ctx, &id, qInsertOrderReturning, args...)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, false, nil
		}
		return id, err == nil, err
	}
	res, err := tx.exec(ctx, qInsertOrder, args...)
	if err != nil {
		return 0, false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, false, err
	}
	id, err = res.LastInsertId()
	return id, err == nil, err
}

// affected reports whether a statement changed a row.
func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// whyNot says why a draft line could not be reserved: its product is gone or
// inactive, its price changed, or its stock is short (possibly both of the
// last two). With stars, the line was to be paid in Telegram Stars: the price
// is the Stars price, and a variant not sold for Stars (none, or not a
// digital product) is unavailable.
func (s *Store) whyNot(ctx context.Context, tx *txn, dl orders.DraftLine, stars bool) ([]orders.Problem, error) {
	var v forSaleRow
	err := tx.get(ctx, &v, qVariantForSale, dl.VariantSKU)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	gone := err != nil || v.Removed || !v.Active
	current := orders.Money{Amount: v.Price, Currency: v.Currency}
	if stars {
		var sold bool
		current, sold = orders.Variant{Stars: v.Stars}.StarsPrice()
		gone = gone || !sold || orders.Kind(v.Kind) != orders.KindDigital
	}
	if gone {
		return []orders.Problem{{
			Kind: orders.ProblemUnavailable, VariantSKU: dl.VariantSKU, Requested: dl.Quantity, Shown: dl.UnitPrice,
		}}, nil
	}
	var problems []orders.Problem
	if current != dl.UnitPrice {
		problems = append(problems, orders.Problem{
			Kind: orders.ProblemPriceChanged, VariantSKU: dl.VariantSKU, Requested: dl.Quantity,
			Available: v.Stock, Shown: dl.UnitPrice, Current: current,
		})
	}
	if p, ok := stockProblem(dl, v.Stock, current); ok {
		problems = append(problems, p)
	}
	if len(problems) == 0 {
		// The reservation refused a line that looks fine now: on PostgreSQL
		// another order may have taken the stock and then been cancelled
		// in between. Asking again is the honest answer.
		return nil, orders.Errorf(orders.EUNAVAILABLE, "the stock of %s changed while ordering; please try again", dl.VariantSKU)
	}
	return problems, nil
}

// stockProblem says what is wrong when stock cannot cover a line.
func stockProblem(dl orders.DraftLine, stock int, current orders.Money) (orders.Problem, bool) {
	p := orders.Problem{
		VariantSKU: dl.VariantSKU, Requested: dl.Quantity, Available: stock, Shown: dl.UnitPrice, Current: current,
	}
	switch {
	case stock <= 0:
		p.Kind = orders.ProblemOutOfStock
	case stock < dl.Quantity:
		p.Kind = orders.ProblemLowStock
	default:
		return orders.Problem{}, false
	}
	return p, true
}

// orderByKey returns the order placed with a checkout key, if any, with its
// lines and history.
func (s *Store) orderByKey(ctx context.Context, tx *txn, key string) (orders.Order, bool, error) {
	var id int64
	err := tx.get(ctx, &id, qOrderIDByKey, key)
	if errors.Is(err, sql.ErrNoRows) {
		return orders.Order{}, false, nil
	}
	if err != nil {
		return orders.Order{}, false, err
	}
	o, err := s.loadOrder(ctx, tx, qOrderByID, id)
	return o, err == nil, err
}
