-- Who a notification is for: '' the order's customer, 'approver' one of its
-- approvers, whose user id is then in customer_chat and customer_user (and
-- whose language is not known: customer_lang is ''). Rows written before
-- approvers were told are all the customer's.
ALTER TABLE outbox ADD COLUMN role TEXT NOT NULL DEFAULT '';
