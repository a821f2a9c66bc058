-- When each approver of an order approved it, in microseconds like every
-- time; 0 while they have not. An order matching several rules waits until
-- every rule has an approver who approved (any one of a rule's approvers
-- will do); a rejection by any approver ends the wait at once. Approvers of
-- orders placed before this are all "not yet": those still waiting need an
-- approval per rule from then on.
ALTER TABLE order_approvers ADD COLUMN approved_at BIGINT NOT NULL DEFAULT 0;
