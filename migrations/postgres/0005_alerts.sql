-- Issue 14, alerts evaluated by the server.
-- 1. Leases: one holder at a time for work done once per deployment (the
--    alert evaluator), taken with a conditional upsert, lapsing when the
--    holder stops renewing.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);

-- 2. Alert pages go through the outbox with their own kind.
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('confirm', 'invite', 'referral', 'webhook', 'already_joined', 'alert'));

-- 3. The active alerts (the last `alert` of each rule with no later
--    `alert_resolved`) are read every round by every console and by
--    /metrics: small partial indexes, whatever the size of the trail.
CREATE INDEX events_alerts ON events (rule, id) WHERE kind = 'alert';
CREATE INDEX events_alerts_resolved ON events (rule, id) WHERE kind = 'alert_resolved';
