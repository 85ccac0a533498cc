-- Issue 11, the public edge.
-- 1. A joined person who redeems a code again is mailed "you already have
--    access" (kind already_joined).
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('confirm', 'invite', 'referral', 'webhook', 'already_joined'));

-- 2. Secrets leave the database: the key of rate-limit and device hashes
--    now comes from the configuration (shared by every server); only its
--    fingerprint is stored. A dump alone no longer lets anyone test an
--    address against the hashes.
DELETE FROM settings WHERE key = '_server_secret';
