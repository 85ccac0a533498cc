-- Rate-limit state shared by every `serve` process on one database.
-- Keys are keyed hashes of the signal (never a raw IP address or email).
CREATE TABLE rate_counters (
    key           TEXT NOT NULL,
    window_start  TEXT NOT NULL,
    count         INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_counters_window ON rate_counters (window_start);

CREATE TABLE rate_lockouts (
    key    TEXT PRIMARY KEY,
    until  TEXT NOT NULL,
    rule   TEXT NOT NULL
);
CREATE INDEX rate_lockouts_until ON rate_lockouts (until);
