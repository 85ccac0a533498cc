//! Shared rate-limit counters and lockouts, plus the fingerprint of the
//! secret that keys their hashes (the secret itself is never stored).

use super::{Result, Tx, exec, on};
use chrono::{DateTime, Utc};

impl Tx {
    /// Adds `delta` to a window's counter and returns the new total.
    pub async fn add_rate_count(&mut self, key: &str, window_start: DateTime<Utc>, delta: i64) -> Result<i64> {
        let sql = "INSERT INTO rate_counters (key, window_start, count) VALUES ($1, $2, $3) \
                   ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + excluded.count \
                   RETURNING count";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(key).bind(window_start).bind(delta).fetch_one(c))?)
    }

    /// The shared count of one window (0 when nobody counted yet).
    pub async fn rate_count(&mut self, key: &str, window_start: DateTime<Utc>) -> Result<i64> {
        let sql = "SELECT COALESCE(MAX(count), 0) FROM rate_counters WHERE key = $1 AND window_start = $2";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(key).bind(window_start).fetch_one(c))?)
    }

    /// Locks `key` out until `until` (keeps a later existing lockout).
    pub async fn set_lockout(&mut self, key: &str, until: DateTime<Utc>, rule: &str) -> Result<()> {
        let sql = "INSERT INTO rate_lockouts (key, until, rule) VALUES ($1, $2, $3) \
                   ON CONFLICT (key) DO UPDATE SET until = CASE WHEN rate_lockouts.until > excluded.until \
                   THEN rate_lockouts.until ELSE excluded.until END, rule = excluded.rule";
        exec!(self, c => sqlx::query(sql).bind(key).bind(until).bind(rule).execute(c))?;
        Ok(())
    }

    pub async fn active_lockouts(&mut self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        let sql = "SELECT key, until FROM rate_lockouts WHERE until > $1";
        Ok(on!(self, c => sqlx::query_as::<_, (String, DateTime<Utc>)>(sql).bind(now).fetch_all(c))?)
    }

    /// Forgets windows and lockouts that ended before `before`.
    pub async fn prune_rate_state(&mut self, before: DateTime<Utc>) -> Result<u64> {
        let a =
            exec!(self, c => sqlx::query("DELETE FROM rate_counters WHERE window_start < $1").bind(before).execute(c))?;
        let b = exec!(self, c => sqlx::query("DELETE FROM rate_lockouts WHERE until < $1").bind(before).execute(c))?;
        Ok(a + b)
    }

    /// The fingerprint of the deployment's secret: `fresh` is recorded when
    /// none is yet (the first server to start); returns the recorded one.
    pub async fn secret_fingerprint(&mut self, fresh: &str, now: DateTime<Utc>) -> Result<String> {
        let insert = "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ('_secret_fingerprint', $1, $2, 'velvet') \
                      ON CONFLICT (key) DO NOTHING";
        exec!(self, c => sqlx::query(insert).bind(fresh).bind(now).execute(c))?;
        let sql = "SELECT value FROM settings WHERE key = '_secret_fingerprint'";
        Ok(on!(self, c => sqlx::query_scalar::<_, String>(sql).fetch_one(c))?)
    }

    /// Forgets the recorded fingerprint (the secret is being changed on
    /// purpose) and the rate-limit state keyed by the old secret.
    pub async fn forget_secret_fingerprint(&mut self) -> Result<()> {
        exec!(self, c => sqlx::query("DELETE FROM settings WHERE key = '_secret_fingerprint'").execute(c))?;
        exec!(self, c => sqlx::query("DELETE FROM rate_counters").execute(c))?;
        exec!(self, c => sqlx::query("DELETE FROM rate_lockouts").execute(c))?;
        Ok(())
    }
}
