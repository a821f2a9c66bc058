-- A variant's price in Telegram Stars (currency XTR, whole stars), or 0 when
-- it is not sold for Stars. Only digital products have one: the catalog's
-- validation says so, and placing an order paid in Stars checks it again.
ALTER TABLE variants ADD COLUMN stars BIGINT NOT NULL DEFAULT 0 CHECK (stars >= 0);
