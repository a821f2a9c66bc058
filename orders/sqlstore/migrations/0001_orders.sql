-- The order core: catalog, orders and the notification outbox.
--
-- Written for SQLite and PostgreSQL alike: {{id}} becomes an auto-increment
-- primary key of the dialect, {{without_rowid}} a clustered table on SQLite
-- and nothing on PostgreSQL; money is BIGINT minor units plus a TEXT ISO 4217
-- currency; every time is BIGINT microseconds since the Unix epoch (UTC), so
-- ordering and comparisons are plain integer work on both. Multi-language texts
-- and specs are JSON in TEXT columns: they are only ever read whole.
-- Statements end with ";" at the end of a line; migrate splits on that.

CREATE TABLE categories (
	id       TEXT PRIMARY KEY,
	name     TEXT NOT NULL,
	position INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE products (
	sku         TEXT PRIMARY KEY,
	category_id TEXT NOT NULL REFERENCES categories (id),
	kind        TEXT NOT NULL,
	name        TEXT NOT NULL,
	description TEXT NOT NULL,
	specs       TEXT NOT NULL,
	image       TEXT NOT NULL DEFAULT '',
	rating      INTEGER NOT NULL DEFAULT 0,
	position    INTEGER NOT NULL DEFAULT 0,
	active      BOOLEAN NOT NULL DEFAULT TRUE
);

-- removed marks a variant dropped from the catalog that order lines still
-- refer to: it is kept for them, hidden from the catalog and never sold.
CREATE TABLE variants (
	sku         TEXT PRIMARY KEY,
	product_sku TEXT NOT NULL REFERENCES products (sku),
	name        TEXT NOT NULL,
	price       BIGINT NOT NULL,
	currency    TEXT NOT NULL,
	stock       INTEGER NOT NULL CHECK (stock >= 0),
	position    INTEGER NOT NULL DEFAULT 0,
	removed     BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX variants_product ON variants (product_sku);

CREATE TABLE orders (
	id               {{id}},
	number           TEXT NOT NULL CONSTRAINT orders_number_key UNIQUE,
	checkout_key     TEXT NOT NULL CONSTRAINT orders_checkout_key_key UNIQUE,
	customer_channel TEXT NOT NULL,
	customer_chat    TEXT NOT NULL,
	customer_user    TEXT NOT NULL,
	customer_lang    TEXT NOT NULL,
	status           TEXT NOT NULL,
	total            BIGINT NOT NULL,
	currency         TEXT NOT NULL,
	address          TEXT NOT NULL,
	contact_name     TEXT NOT NULL,
	phone            TEXT NOT NULL,
	payment          TEXT NOT NULL,
	tracking         TEXT NOT NULL DEFAULT '',
	created_at       BIGINT NOT NULL,
	updated_at       BIGINT NOT NULL
);

-- "Newest first" is placement order, the id: listing needs no sort.
CREATE INDEX orders_customer ON orders (customer_channel, customer_chat, customer_user, id);
CREATE INDEX orders_status ON orders (status, id);

-- Lines and history are read per order only: on SQLite they are stored
-- clustered by their key ({{without_rowid}}), one B-tree each instead of a
-- table plus an index, so placing an order writes fewer pages.
CREATE TABLE order_lines (
	order_id     BIGINT NOT NULL REFERENCES orders (id),
	line_no      INTEGER NOT NULL,
	variant_sku  TEXT NOT NULL REFERENCES variants (sku),
	product_sku  TEXT NOT NULL,
	product_name TEXT NOT NULL,
	variant_name TEXT NOT NULL,
	unit_price   BIGINT NOT NULL,
	currency     TEXT NOT NULL,
	quantity     INTEGER NOT NULL CHECK (quantity > 0),
	PRIMARY KEY (order_id, line_no)
){{without_rowid}};

-- Lets an import tell quickly whether a dropped variant was ever ordered, and
-- SQLite check the foreign key when one is deleted.
CREATE INDEX order_lines_variant ON order_lines (variant_sku);

-- seq numbers an order's changes from 1, its creation.
CREATE TABLE order_history (
	order_id    BIGINT NOT NULL REFERENCES orders (id),
	seq         INTEGER NOT NULL,
	from_status TEXT NOT NULL,
	to_status   TEXT NOT NULL,
	actor       TEXT NOT NULL,
	note        TEXT NOT NULL DEFAULT '',
	at          BIGINT NOT NULL,
	PRIMARY KEY (order_id, seq)
){{without_rowid}};

-- One row per status change to tell a customer about. The customer is copied
-- in so that a notifier needs no join, and so that a row reads on its own.
-- Whatever prunes delivered rows one day must keep the newest row, so that
-- SQLite never hands its id to a new one (see idColumn in migrate.go).
CREATE TABLE outbox (
	id               {{id}},
	order_number     TEXT NOT NULL,
	customer_channel TEXT NOT NULL,
	customer_chat    TEXT NOT NULL,
	customer_user    TEXT NOT NULL,
	customer_lang    TEXT NOT NULL,
	from_status      TEXT NOT NULL,
	to_status        TEXT NOT NULL,
	tracking         TEXT NOT NULL DEFAULT '',
	note             TEXT NOT NULL DEFAULT '',
	actor            TEXT NOT NULL DEFAULT '',
	created_at       BIGINT NOT NULL,
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  BIGINT NOT NULL,
	claimed_until    BIGINT,
	delivered_at     BIGINT,
	parked_at        BIGINT,
	last_error       TEXT NOT NULL DEFAULT ''
);

-- Claiming scans only undelivered rows, in due order.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL AND parked_at IS NULL;
