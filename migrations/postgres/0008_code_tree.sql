-- Issue 15, item 5: the console's Codes view as a campaign → batch → codes tree.
-- (0007 is another change's.)
-- 1. One batch's codes (or a group's unbatched ones) are paged down the
--    primary key on this index, without a sort. The tree's totals are one
--    GROUP BY (kind, campaign, batch) per kind; PostgreSQL counts a large
--    group as fast by a parallel read of the table as by any index (400 vs
--    350 ms at 1,000,000 codes, index-only), so the index carries no more.
CREATE INDEX invite_codes_tree ON invite_codes (kind, campaign, batch_id, id);

-- 2. Referral codes are listed without a batch level (each joined person's
--    codes are a batch of their own): their pages walk this index down.
CREATE INDEX invite_codes_referral ON invite_codes (kind, id) WHERE kind = 'referral';

-- 3. "Joined through it": the people who joined with a code, read without
--    a pass over every entry.
CREATE INDEX entries_joined_code ON entries (joined_code_id) WHERE joined_code_id IS NOT NULL;
