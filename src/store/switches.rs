//! Pause switches and settings rows, read by every server and console.

use super::{Result, StoreError, Tx, exec, on};
use crate::domain::{Switch, SwitchState};
use chrono::{DateTime, Utc};

impl Tx {
    /// The switches that are on, by key.
    pub async fn switches(&mut self) -> Result<Vec<SwitchState>> {
        let sql = "SELECT scope, paused_at, paused_by, reason FROM switches ORDER BY scope";
        let rows =
            on!(self, c => sqlx::query_as::<_, (String, DateTime<Utc>, String, Option<String>)>(sql).fetch_all(c))?;
        rows.into_iter()
            .map(|(key, paused_at, paused_by, reason)| {
                let switch = Switch::from_key(&key).ok_or_else(|| StoreError::Corrupt(format!("switch '{key}'")))?;
                Ok(SwitchState { switch, paused_at, paused_by, reason })
            })
            .collect()
    }

    /// Whether `switch` is on.
    pub async fn is_paused(&mut self, switch: &Switch<i64>) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM switches WHERE scope = $1";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(switch.key()).fetch_one(c))? > 0)
    }

    /// Sets a pause; false if it was already set.
    pub async fn insert_switch(
        &mut self,
        switch: &Switch<i64>,
        now: DateTime<Utc>,
        by: &str,
        reason: Option<&str>,
    ) -> Result<bool> {
        let sql = "INSERT INTO switches (scope, paused_at, paused_by, reason) VALUES ($1, $2, $3, $4) ON CONFLICT (scope) DO NOTHING";
        let done = exec!(self, c => sqlx::query(sql).bind(switch.key()).bind(now).bind(by).bind(reason).execute(c))?;
        Ok(done == 1)
    }

    /// Clears a pause; false if it was not set.
    pub async fn delete_switch(&mut self, switch: &Switch<i64>) -> Result<bool> {
        let sql = "DELETE FROM switches WHERE scope = $1";
        let done = exec!(self, c => sqlx::query(sql).bind(switch.key()).execute(c))?;
        Ok(done == 1)
    }

    pub async fn settings_rows(&mut self) -> Result<Vec<(String, String)>> {
        // Keys starting with '_' are internal (the server secret).
        let sql = "SELECT key, value FROM settings WHERE substr(key, 1, 1) <> '_' ORDER BY key";
        Ok(on!(self, c => sqlx::query_as::<_, (String, String)>(sql).fetch_all(c))?)
    }

    pub async fn upsert_setting(&mut self, key: &str, value: &str, now: DateTime<Utc>, by: &str) -> Result<()> {
        let sql = "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, \
                   updated_by = excluded.updated_by";
        exec!(self, c => sqlx::query(sql).bind(key).bind(value).bind(now).bind(by).execute(c))?;
        Ok(())
    }
}
