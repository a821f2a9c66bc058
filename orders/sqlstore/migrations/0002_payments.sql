-- Payments received for orders paid up front. The charge id is the
-- provider's: a payment confirmed twice (a repeated update) is one row and
-- moves its order once.
CREATE TABLE payments (
	charge_id   TEXT PRIMARY KEY,
	order_id    BIGINT NOT NULL REFERENCES orders (id),
	method      TEXT NOT NULL,
	amount      BIGINT NOT NULL,
	currency    TEXT NOT NULL,
	received_at BIGINT NOT NULL
);
CREATE INDEX payments_order ON payments (order_id);
