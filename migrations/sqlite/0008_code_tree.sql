-- Issue 15, item 5: the console's Codes view as a campaign → batch → codes tree.
-- (0007 is another change's.)
-- 1. The tree's totals are one GROUP BY (kind, campaign, batch) read from this
--    index alone, in its order, never from the table's rows; the same index
--    pages one batch's codes (or a group's unbatched ones) down the primary key.
CREATE INDEX invite_codes_tree ON invite_codes (kind, campaign, batch_id, id, status, expires_at, uses, max_uses, revoke_reason);

-- 2. Referral codes are listed without a batch level (each joined person's
--    codes are a batch of their own): their pages walk this index down.
CREATE INDEX invite_codes_referral ON invite_codes (kind, id) WHERE kind = 'referral';

-- 3. "Joined through it": the people who joined with a code, read without
--    a pass over every entry.
CREATE INDEX entries_joined_code ON entries (joined_code_id) WHERE joined_code_id IS NOT NULL;
