-- Issue 11, the public edge.
-- 1. A joined person who redeems a code again is mailed "you already have
--    access" (kind already_joined). SQLite cannot alter a CHECK: rebuild.
CREATE TABLE outbox_new (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('confirm', 'invite', 'referral', 'webhook', 'already_joined')),
    entry_id         INTEGER REFERENCES entries (id),
    code_id          INTEGER REFERENCES invite_codes (id),
    recipient        TEXT NOT NULL,
    payload          TEXT,
    status           TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    sent_at          TEXT
);
INSERT INTO outbox_new SELECT id, kind, entry_id, code_id, recipient, payload, status, attempts, next_attempt_at, last_error, created_at, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_entry ON outbox (entry_id, id);

-- 2. Secrets leave the database: the key of rate-limit and device hashes
--    now comes from the configuration (or a key file beside the SQLite
--    database); only its fingerprint is stored. A dump alone no longer
--    lets anyone test an address against the hashes.
DELETE FROM settings WHERE key = '_server_secret';
