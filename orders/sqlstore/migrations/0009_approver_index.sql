-- The requests waiting for one approver (the Slack Home tab) are found by
-- approver.
CREATE INDEX order_approvers_approver ON order_approvers (approver, order_id);
