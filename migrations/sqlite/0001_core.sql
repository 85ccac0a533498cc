-- velvet core schema, SQLite flavour. Timestamps are RFC 3339 text in UTC
-- written by the application (fixed "+00:00" offset, so text order is time
-- order); "now" never comes from SQL.

CREATE TABLE operators (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('viewer', 'support', 'admin')),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
);

CREATE TABLE entries (
    id               INTEGER PRIMARY KEY,
    email            TEXT NOT NULL UNIQUE,
    email_display    TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'approved', 'invited', 'joined', 'blocked')),
    blocked_from     TEXT CHECK (blocked_from IN ('pending', 'confirmed', 'approved', 'invited')),
    note             TEXT,
    source           TEXT,
    referrer_id      INTEGER REFERENCES entries (id),
    joined_code_id   INTEGER,
    ip_prefix        TEXT,
    device_hash      TEXT,
    first_seen       TEXT NOT NULL,
    last_attempt_at  TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 1,
    confirmed_at     TEXT,
    approved_at      TEXT,
    invited_at       TEXT,
    joined_at        TEXT,
    blocked_at       TEXT,
    block_reason     TEXT,
    CHECK ((status = 'blocked') = (blocked_from IS NOT NULL))
);
CREATE INDEX entries_confirmed_queue ON entries (status, confirmed_at, id);
CREATE INDEX entries_approved_queue ON entries (status, approved_at, id);
CREATE INDEX entries_referrer ON entries (referrer_id);
CREATE INDEX entries_first_seen ON entries (first_seen, id);

CREATE TABLE batches (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('access', 'referral', 'partner')),
    campaign    TEXT,
    size        INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
);

CREATE TABLE invite_codes (
    id                INTEGER PRIMARY KEY,
    code_hash         TEXT UNIQUE,
    hint              TEXT,
    prefix            TEXT,
    kind              TEXT NOT NULL CHECK (kind IN ('access', 'referral', 'partner')),
    campaign          TEXT,
    batch_id          INTEGER REFERENCES batches (id),
    inviter_entry_id  INTEGER REFERENCES entries (id),
    bound_entry_id    INTEGER REFERENCES entries (id),
    max_uses          INTEGER NOT NULL CHECK (max_uses > 0),
    uses              INTEGER NOT NULL DEFAULT 0,
    daily_cap         INTEGER CHECK (daily_cap > 0),
    day_uses          INTEGER NOT NULL DEFAULT 0,
    uses_day          TEXT,
    status            TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    expires_at        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    revoked_at        TEXT,
    revoked_by        TEXT,
    revoke_reason     TEXT,
    CHECK (uses >= 0 AND uses <= max_uses)
);
CREATE INDEX invite_codes_batch ON invite_codes (batch_id);
CREATE INDEX invite_codes_campaign ON invite_codes (campaign);
CREATE INDEX invite_codes_inviter ON invite_codes (inviter_entry_id);
CREATE INDEX invite_codes_bound ON invite_codes (bound_entry_id);

CREATE TABLE redemptions (
    id               INTEGER PRIMARY KEY,
    code_id          INTEGER NOT NULL REFERENCES invite_codes (id),
    entry_id         INTEGER NOT NULL REFERENCES entries (id),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'expired')),
    created_at       TEXT NOT NULL,
    hold_expires_at  TEXT,
    completed_at     TEXT
);
CREATE INDEX redemptions_code ON redemptions (code_id, status);
CREATE INDEX redemptions_entry ON redemptions (entry_id, status);
CREATE INDEX redemptions_holds ON redemptions (status, hold_expires_at);

CREATE TABLE confirm_tokens (
    id          INTEGER PRIMARY KEY,
    entry_id    INTEGER NOT NULL REFERENCES entries (id),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX confirm_tokens_entry ON confirm_tokens (entry_id);

CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    entry_id     INTEGER,
    code_id      INTEGER,
    referrer_id  INTEGER,
    batch_id     INTEGER,
    campaign     TEXT,
    ip_prefix    TEXT,
    country      TEXT,
    user_agent   TEXT,
    device_hash  TEXT,
    outcome      TEXT,
    reason       TEXT,
    rule         TEXT,
    actor        TEXT NOT NULL,
    detail       TEXT
);
CREATE INDEX events_entry ON events (entry_id, id);
CREATE INDEX events_code ON events (code_id, id);
CREATE INDEX events_kind_at ON events (kind, at);
CREATE INDEX events_at ON events (at);

CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL
);

-- Pause switches: 'redemption', 'signups', 'campaign:NAME', 'inviter:ENTRY_ID'.
CREATE TABLE switches (
    scope      TEXT PRIMARY KEY,
    paused_at  TEXT NOT NULL,
    paused_by  TEXT NOT NULL,
    reason     TEXT
);

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('confirm', 'invite', 'referral', 'webhook')),
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
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_entry ON outbox (entry_id, id);
