//! Operator tokens (the admin API's bearer tokens), stored only as hashes.

use super::{Result, Tx, exec, on};
use chrono::{DateTime, Utc};

/// A token as listed: never its text, which is not stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OperatorTokenRow {
    pub id: i64,
    pub operator_id: i64,
    /// The operator's name (joined).
    pub operator: String,
    pub hint: String,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

/// What authenticating a token needs: the token's state and its
/// operator's role as the database holds them now.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TokenHolderRow {
    pub id: i64,
    pub operator: String,
    pub role: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new token: its hash and hint, never its text.
pub struct NewOperatorToken<'a> {
    pub operator_id: i64,
    pub hash: &'a str,
    pub hint: &'a str,
    pub note: Option<&'a str>,
    pub expires_at: Option<DateTime<Utc>>,
    pub by: &'a str,
}

macro_rules! listed_tokens {
    ($tail:literal) => {
        concat!(
            "SELECT t.id, t.operator_id, o.name AS operator, t.hint, t.note, t.created_at, t.created_by, ",
            "t.expires_at, t.last_used_at, t.revoked_at, t.revoked_by ",
            "FROM operator_tokens t JOIN operators o ON o.id = t.operator_id ",
            $tail
        )
    };
}

impl Tx {
    pub async fn insert_operator_token(&mut self, t: &NewOperatorToken<'_>, now: DateTime<Utc>) -> Result<i64> {
        let sql = "INSERT INTO operator_tokens (operator_id, token_hash, hint, note, created_at, created_by, expires_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql)
            .bind(t.operator_id)
            .bind(t.hash)
            .bind(t.hint)
            .bind(t.note)
            .bind(now)
            .bind(t.by)
            .bind(t.expires_at)
            .fetch_one(c))?)
    }

    /// The token with this hash and its operator (one indexed lookup).
    pub async fn token_holder(&mut self, hash: &str) -> Result<Option<TokenHolderRow>> {
        let sql = "SELECT t.id, o.name AS operator, o.role, t.expires_at, t.last_used_at, t.revoked_at \
                   FROM operator_tokens t JOIN operators o ON o.id = t.operator_id WHERE t.token_hash = $1";
        Ok(on!(self, c => sqlx::query_as::<_, TokenHolderRow>(sql).bind(hash).fetch_optional(c))?)
    }

    pub async fn operator_token(&mut self, id: i64) -> Result<Option<OperatorTokenRow>> {
        let sql = listed_tokens!("WHERE t.id = $1");
        Ok(on!(self, c => sqlx::query_as::<_, OperatorTokenRow>(sql).bind(id).fetch_optional(c))?)
    }

    /// Every token (of one operator), oldest first.
    pub async fn operator_tokens(&mut self, operator_id: Option<i64>) -> Result<Vec<OperatorTokenRow>> {
        Ok(match operator_id {
            Some(id) => {
                let sql = listed_tokens!("WHERE t.operator_id = $1 ORDER BY t.id");
                on!(self, c => sqlx::query_as::<_, OperatorTokenRow>(sql).bind(id).fetch_all(c))?
            }
            None => {
                on!(self, c => sqlx::query_as::<_, OperatorTokenRow>(listed_tokens!("ORDER BY t.id")).fetch_all(c))?
            }
        })
    }

    /// Revokes a token unless it already was; false then (or if unknown).
    pub async fn revoke_operator_token(&mut self, id: i64, now: DateTime<Utc>, by: &str) -> Result<bool> {
        let sql = "UPDATE operator_tokens SET revoked_at = $2, revoked_by = $3 WHERE id = $1 AND revoked_at IS NULL";
        Ok(exec!(self, c => sqlx::query(sql).bind(id).bind(now).bind(by).execute(c))? == 1)
    }

    /// Records a use of a token unless one was recorded after `since`, so
    /// a busy client costs one write a minute, not one per call.
    pub async fn touch_operator_token(&mut self, id: i64, now: DateTime<Utc>, since: DateTime<Utc>) -> Result<bool> {
        let sql = "UPDATE operator_tokens SET last_used_at = $2 \
                   WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)";
        Ok(exec!(self, c => sqlx::query(sql).bind(id).bind(now).bind(since).execute(c))? == 1)
    }

    /// Deletes every token of an operator (it is being removed).
    pub async fn delete_operator_tokens(&mut self, operator_id: i64) -> Result<u64> {
        let sql = "DELETE FROM operator_tokens WHERE operator_id = $1";
        Ok(exec!(self, c => sqlx::query(sql).bind(operator_id).execute(c))?)
    }
}
