//! Pause switches and settings rows, read by every server and console.

use super::{Result, Tx, exec, on};
use crate::domain::Switch;
use chrono::{DateTime, Utc};

/// An active pause: which switch, since when, by whom, why (the one
/// name for a switch's state, from the store to every front end).
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct SwitchState {
    pub scope: String,
    pub paused_at: DateTime<Utc>,
    pub paused_by: String,
    pub reason: Option<String>,
}

impl Tx {
    pub async fn switches(&mut self) -> Result<Vec<SwitchState>> {
        let sql = "SELECT scope, paused_at, paused_by, reason FROM switches ORDER BY scope";
        Ok(on!(self, c => sqlx::query_as::<_, SwitchState>(sql).fetch_all(c))?)
    }

    /// Whether any of `scopes` is paused.
    pub async fn is_paused(&mut self, switch: Switch<'_>) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM switches WHERE scope = $1";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(switch.key()).fetch_one(c))? > 0)
    }

    /// Sets a pause; false if it was already set.
    pub async fn insert_switch(
        &mut self,
        scope: &str,
        now: DateTime<Utc>,
        by: &str,
        reason: Option<&str>,
    ) -> Result<bool> {
        let sql = "INSERT INTO switches (scope, paused_at, paused_by, reason) VALUES ($1, $2, $3, $4) ON CONFLICT (scope) DO NOTHING";
        let done = exec!(self, c => sqlx::query(sql).bind(scope).bind(now).bind(by).bind(reason).execute(c))?;
        Ok(done == 1)
    }

    /// Clears a pause; false if it was not set.
    pub async fn delete_switch(&mut self, scope: &str) -> Result<bool> {
        let done = exec!(self, c => sqlx::query("DELETE FROM switches WHERE scope = $1").bind(scope).execute(c))?;
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
