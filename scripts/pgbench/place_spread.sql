-- Generated from PlaceOrder's statements by TestPgbenchScripts
-- (orders/sqlstore/bench_pgbench_test.go); do not edit, run
--   go test ./orders/sqlstore -run PgbenchScripts -update
--
-- One order placed the way sqlstore.PlaceOrder places it on PostgreSQL,
-- statement for statement, in one transaction: the order row
-- (qInsertOrderReturning), per line the stock reservation (qReserve) and the
-- line (qInsertLine), the first history entry (qInsertFirstChange), the
-- notification (qInsertOutbox) and the lines read back (qLinesOfOrder), with
-- what BenchmarkPlaceOrderClients/postgres/spread passes for each ?.
-- scripts/bench-postgres.sh runs it.
--
-- :r numbers the order and is its checkout key: 63 random bits, unique in
-- practice (a taken one would insert no row, and \gset would stop the
-- client). Every order is placed at the same time, :at: pgbench has no
-- clock, and times are only stored. pgbench's variables are numbers: the
-- server makes a SKU of one.
--
-- Two lines of one unit each, products p and p+1 of the 1,000 of the
-- bench catalog, p chosen at random: two orders lock their variants in the
-- same order and never deadlock.
\set p random(0, 999)
\set q (:p + 1) % 1000
\set r random(1, 9223372036854775806)
\set at 1767225600000000
BEGIN;
INSERT INTO orders (number, checkout_key, customer_channel, customer_chat, customer_user, customer_lang,
			status, total, currency, address, contact_name, phone, payment, tracking, cost_centre, reason, created_at, updated_at,
			fulfilment_chat)
		VALUES (:r, :r, 'console', 'chat-1', 'user-1', 'en', 'pending_shipment', 200 + :p + :q, 'CNY', '1 Garden Road, Hangzhou', 'Li Lei', '+8613800000000', 'cod', '', '', '', :at, :at, '')
		ON CONFLICT DO NOTHING RETURNING id \gset
UPDATE variants SET stock = stock - 1
		WHERE sku = 'p' || :p || '-v' AND stock >= 1 AND price = 100 + :p AND currency = 'CNY' AND removed = FALSE;
INSERT INTO order_lines (order_id, line_no, variant_sku, product_sku, product_name, variant_name,
			unit_price, currency, quantity)
		SELECT CAST(:id AS BIGINT), CAST(1 AS INTEGER), v.sku, v.product_sku, p.name, v.name, v.price, v.currency, CAST(1 AS INTEGER)
		FROM variants v JOIN products p ON p.sku = v.product_sku
		WHERE v.sku = 'p' || :p || '-v' AND p.active = TRUE;
UPDATE variants SET stock = stock - 1
		WHERE sku = 'p' || :q || '-v' AND stock >= 1 AND price = 100 + :q AND currency = 'CNY' AND removed = FALSE;
INSERT INTO order_lines (order_id, line_no, variant_sku, product_sku, product_name, variant_name,
			unit_price, currency, quantity)
		SELECT CAST(:id AS BIGINT), CAST(2 AS INTEGER), v.sku, v.product_sku, p.name, v.name, v.price, v.currency, CAST(1 AS INTEGER)
		FROM variants v JOIN products p ON p.sku = v.product_sku
		WHERE v.sku = 'p' || :q || '-v' AND p.active = TRUE;
INSERT INTO order_history (order_id, seq, from_status, to_status, actor, note, at) VALUES (:id, 1, '', 'pending_shipment', 'customer', '', :at);
INSERT INTO outbox (order_number, customer_channel, customer_chat, customer_user, customer_lang,
		from_status, to_status, tracking, note, actor, created_at, next_attempt_at) VALUES (:r, 'console', 'chat-1', 'user-1', 'en', '', 'pending_shipment', '', '', 'customer', :at, :at);
SELECT order_id, variant_sku, product_sku, product_name, variant_name, unit_price, currency, quantity FROM order_lines WHERE order_id = :id ORDER BY line_no;
END;
