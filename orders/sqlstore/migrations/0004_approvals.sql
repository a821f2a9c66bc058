-- Orders paid by the company account (Slack employees): the cost centre
-- charged and the reason the requester gave, empty for every other order.
ALTER TABLE orders ADD COLUMN cost_centre TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN reason TEXT NOT NULL DEFAULT '';

-- Who may approve an order waiting for approval, and the rule that asked
-- for them. Read per order only, and by (order, approver) when one decides:
-- clustered by that key on SQLite, like order_lines.
CREATE TABLE order_approvers (
	order_id BIGINT NOT NULL REFERENCES orders (id),
	approver TEXT NOT NULL,
	rule     TEXT NOT NULL,
	PRIMARY KEY (order_id, approver)
){{without_rowid}};
