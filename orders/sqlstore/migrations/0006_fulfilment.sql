-- The fulfilment channel a company order is announced in (a Slack channel
-- id), stored when it is placed so that every later change of the order is
-- announced there too, whoever makes it; '' for every other order, and for
-- orders placed before there was one. Its notifications are outbox rows of
-- role 'fulfilment', addressed to that channel (customer_chat), with no
-- user (customer_user '') and no language (customer_lang '').
ALTER TABLE orders ADD COLUMN fulfilment_chat TEXT NOT NULL DEFAULT '';
