-- Issue 13, team access.
-- 1. The role `product` (the product's own backend). SQLite cannot alter a
--    CHECK constraint, so the operators table is rebuilt; nothing refers to
--    it yet (events, codes and settings name operators as text, so a removed
--    operator's past events keep the name).
CREATE TABLE operators_new (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('viewer', 'support', 'admin', 'product')),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
);
INSERT INTO operators_new (id, name, role, created_at, created_by)
    SELECT id, name, role, created_at, created_by FROM operators;
DROP TABLE operators;
ALTER TABLE operators_new RENAME TO operators;

-- 2. Operator tokens, the admin API's bearer tokens: only the SHA-256 of the
--    whole token is kept, with its last symbols as a hint. Removing an
--    operator deletes its tokens in the same transaction (velvet does it;
--    the foreign key makes sure no token outlives its operator).
CREATE TABLE operator_tokens (
    id            INTEGER PRIMARY KEY,
    operator_id   INTEGER NOT NULL REFERENCES operators (id),
    token_hash    TEXT NOT NULL UNIQUE,
    hint          TEXT NOT NULL,
    note          TEXT,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    expires_at    TEXT,
    last_used_at  TEXT,
    revoked_at    TEXT,
    revoked_by    TEXT,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX operator_tokens_operator ON operator_tokens (operator_id, id);
