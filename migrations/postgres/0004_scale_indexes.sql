-- Indexes that keep per-person and per-rule reads independent of the list's size.
-- A confirmation's "first N confirmed" count reads at most N + 1 entries of this one.
CREATE INDEX entries_confirmed_at ON entries (confirmed_at) WHERE confirmed_at IS NOT NULL;
