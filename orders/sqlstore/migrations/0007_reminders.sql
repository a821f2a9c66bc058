-- When the approvers of an order waiting for approval were last reminded of
-- it (Service.RemindApprovers), in microseconds like every time; 0 for
-- never, as for every order placed before reminders. A reminder sets it
-- only if it still holds the value read, so that of two processes
-- reminding at once one does and the other writes nothing.
ALTER TABLE orders ADD COLUMN reminded_at BIGINT NOT NULL DEFAULT 0;
