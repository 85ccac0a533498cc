-- Issue 15, the person's lifecycle.
-- 1. The invite sweeper finds unused access codes by expiry (reminders, and
--    sending expired ones back to the approved queue) on this index alone.
CREATE INDEX invite_codes_unused_expiry ON invite_codes (expires_at) WHERE status = 'active' AND uses = 0 AND kind = 'access';

-- 2. A bulk block is one batch: the id of its `bulk_block` event. Each entry
--    it blocked carries it until unblocked, so `unblock --batch` returns
--    exactly that set. A new nullable column: no table rebuild.
ALTER TABLE entries ADD COLUMN block_batch_id INTEGER;
CREATE INDEX entries_block_batch ON entries (block_batch_id) WHERE block_batch_id IS NOT NULL;
