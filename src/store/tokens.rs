//! Confirmation tokens, stored only as hashes.

use super::{Result, Tx, exec, on};
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub entry_id: i64,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

impl Tx {
    pub async fn insert_token(
        &mut self,
        entry_id: i64,
        hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<i64> {
        let sql = "INSERT INTO confirm_tokens (entry_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id";
        Ok(
            on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(entry_id).bind(hash).bind(now).bind(expires_at).fetch_one(c))?,
        )
    }

    pub async fn token_by_hash(&mut self, hash: &str) -> Result<Option<TokenRow>> {
        let sql = "SELECT id, entry_id, expires_at, used_at FROM confirm_tokens WHERE token_hash = $1";
        Ok(on!(self, c => sqlx::query_as::<_, TokenRow>(sql).bind(hash).fetch_optional(c))?)
    }

    /// Marks a token used; false if it already was (a double click).
    pub async fn use_token(&mut self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let sql = "UPDATE confirm_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL";
        let done = exec!(self, c => sqlx::query(sql).bind(id).bind(now).execute(c))?;
        Ok(done == 1)
    }
}

impl Tx {
    /// Ends every unused confirmation link of an entry now (its address
    /// changed: a link mailed to the old one must not confirm the new).
    pub async fn expire_tokens_of(&mut self, entry_id: i64, now: DateTime<Utc>) -> Result<u64> {
        let sql =
            "UPDATE confirm_tokens SET expires_at = $2 WHERE entry_id = $1 AND used_at IS NULL AND expires_at > $2";
        Ok(exec!(self, c => sqlx::query(sql).bind(entry_id).bind(now).execute(c))?)
    }
}
