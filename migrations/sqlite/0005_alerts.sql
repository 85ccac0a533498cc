-- Issue 14, alerts evaluated by the server.
-- 1. Leases: one holder at a time for work done once per deployment (the
--    alert evaluator), taken with a conditional upsert, lapsing when the
--    holder stops renewing.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

-- 2. Alert pages go through the outbox with their own kind. SQLite cannot
--    alter a CHECK: rebuild.
CREATE TABLE outbox_new (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('confirm', 'invite', 'referral', 'webhook', 'already_joined', 'alert')),
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

-- 3. The active alerts (the last `alert` of each rule with no later
--    `alert_resolved`) are read every round by every console and by
--    /metrics: small partial indexes, whatever the size of the trail.
CREATE INDEX events_alerts ON events (rule, id) WHERE kind = 'alert';
CREATE INDEX events_alerts_resolved ON events (rule, id) WHERE kind = 'alert_resolved';
