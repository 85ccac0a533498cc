//! The durable mail and webhook outbox. Rows carry no secrets: codes and
//! confirmation tokens are minted when a message is delivered.

use super::{Result, Tx, exec, on};
use crate::domain::{MailKind, MailStatus};
use chrono::{DateTime, Utc};

macro_rules! outbox_columns {
    () => {
        "id, kind, entry_id, code_id, recipient, payload, status, attempts, next_attempt_at, last_error, created_at, sent_at"
    };
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub kind: MailKind,
    pub entry_id: Option<i64>,
    pub code_id: Option<i64>,
    pub recipient: String,
    pub payload: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: MailStatus,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

pub struct NewMail<'a> {
    pub kind: MailKind,
    pub entry_id: Option<i64>,
    pub code_id: Option<i64>,
    pub recipient: &'a str,
    pub payload: Option<&'a str>,
}

/// What a lapsed lease means: the dispatcher holding it stopped (crash,
/// kill, lost database) before recording the outcome.
pub const INTERRUPTED: &str =
    "the previous delivery attempt was cut off before its outcome was recorded (server stopped?)";

impl Tx {
    pub async fn enqueue(&mut self, m: NewMail<'_>, now: DateTime<Utc>) -> Result<i64> {
        let sql = "INSERT INTO outbox (kind, entry_id, code_id, recipient, payload, next_attempt_at, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql)
            .bind(m.kind.as_str()).bind(m.entry_id).bind(m.code_id).bind(m.recipient).bind(m.payload).bind(now)
            .fetch_one(c))?)
    }

    pub async fn mail_of_entry(&mut self, entry_id: i64) -> Result<Vec<OutboxRow>> {
        let sql = concat!("SELECT ", outbox_columns!(), " FROM outbox WHERE entry_id = $1 ORDER BY id");
        Ok(on!(self, c => sqlx::query_as::<_, OutboxRow>(sql).bind(entry_id).fetch_all(c))?)
    }

    /// The newest message of `kind` to an entry (resend window checks).
    pub async fn last_mail(&mut self, entry_id: i64, kind: MailKind) -> Result<Option<OutboxRow>> {
        let sql = concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM outbox WHERE entry_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1"
        );
        Ok(on!(self, c => sqlx::query_as::<_, OutboxRow>(sql).bind(entry_id).bind(kind.as_str()).fetch_optional(c))?)
    }

    /// Claims due messages for delivery: marks them `sending` with a lease
    /// until `lease_until`, so a crashed dispatcher's claims come back. A
    /// claim whose lease lapsed comes back with `last_error` set to
    /// [`INTERRUPTED`], so the caller can record that it is a second try.
    pub async fn claim_mail(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxRow>> {
        let sqlite = concat!(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $2, \
             last_error = CASE WHEN status = 'sending' THEN $4 ELSE last_error END WHERE id IN (\
             SELECT id FROM outbox WHERE status IN ('queued', 'sending') AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $3) \
             RETURNING ",
            outbox_columns!()
        );
        let postgres = concat!(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $2, \
             last_error = CASE WHEN status = 'sending' THEN $4 ELSE last_error END WHERE id IN (\
             SELECT id FROM outbox WHERE status IN ('queued', 'sending') AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $3 \
             FOR UPDATE SKIP LOCKED) RETURNING ",
            outbox_columns!()
        );
        let mut rows = on!(self, sqlite = sqlite, postgres = postgres, |sql, c| sqlx::query_as::<_, OutboxRow>(sql)
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .bind(INTERRUPTED)
            .fetch_all(c))?;
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    /// Gives back a claim that was never attempted: queued again, due now,
    /// the attempt not counted.
    pub async fn release_claim(&mut self, id: i64, now: DateTime<Utc>) -> Result<()> {
        let sql = "UPDATE outbox SET status = 'queued', attempts = attempts - 1, next_attempt_at = $2 WHERE id = $1 AND status = 'sending'";
        exec!(self, c => sqlx::query(sql).bind(id).bind(now).execute(c))?;
        Ok(())
    }

    pub async fn mark_mail_sent(&mut self, id: i64, now: DateTime<Utc>) -> Result<()> {
        let sql = "UPDATE outbox SET status = 'sent', sent_at = $2, last_error = NULL WHERE id = $1";
        exec!(self, c => sqlx::query(sql).bind(id).bind(now).execute(c))?;
        Ok(())
    }

    /// Records a failed attempt: back to `queued` for a retry at `retry_at`,
    /// or `failed` when `retry_at` is `None` (until an operator retries it);
    /// a failed row's `next_attempt_at` is the time it failed.
    pub async fn mark_mail_failed(
        &mut self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "UPDATE outbox SET status = CASE WHEN $3 IS NULL THEN 'failed' ELSE 'queued' END, \
                   last_error = $2, next_attempt_at = COALESCE($3, $4) WHERE id = $1";
        exec!(self, c => sqlx::query(sql).bind(id).bind(error).bind(retry_at).bind(now).execute(c))?;
        Ok(())
    }

    /// Failed messages that still matter, oldest first: not replaced by a
    /// newer message of the same kind to the same person (a reissued
    /// invite, a fresh confirmation link). `id` picks one; `kind` filters.
    pub async fn failed_mail(&mut self, id: Option<i64>, kind: Option<MailKind>, limit: i64) -> Result<Vec<OutboxRow>> {
        let kind = kind.map(MailKind::as_str);
        let sql = concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM outbox o WHERE status = 'failed' AND ($1 IS NULL OR id = $1) \
             AND ($2 IS NULL OR kind = $2) AND NOT EXISTS (SELECT 1 FROM outbox n WHERE o.kind IN ('confirm', 'invite') \
             AND n.kind = o.kind AND n.entry_id = o.entry_id AND n.id > o.id) ORDER BY id LIMIT $3"
        );
        Ok(on!(self, c => sqlx::query_as::<_, OutboxRow>(sql).bind(id).bind(kind).bind(limit).fetch_all(c))?)
    }

    /// How many failed messages [`Tx::failed_mail`] would list.
    pub async fn count_failed_mail(&mut self) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM outbox o WHERE status = 'failed' AND NOT EXISTS (SELECT 1 FROM outbox n \
                   WHERE o.kind IN ('confirm', 'invite') AND n.kind = o.kind AND n.entry_id = o.entry_id AND n.id > o.id)";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql).fetch_one(c))?)
    }

    /// How many of those gave up at or after `since` (a failed row's
    /// `next_attempt_at` is when it failed).
    pub async fn count_failed_mail_since(&mut self, since: DateTime<Utc>) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM outbox o WHERE status = 'failed' AND next_attempt_at >= $1 AND NOT EXISTS \
                   (SELECT 1 FROM outbox n WHERE o.kind IN ('confirm', 'invite') AND n.kind = o.kind \
                   AND n.entry_id = o.entry_id AND n.id > o.id)";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(since).fetch_one(c))?)
    }

    pub async fn outbox_row(&mut self, id: i64) -> Result<Option<OutboxRow>> {
        let sql = concat!("SELECT ", outbox_columns!(), " FROM outbox WHERE id = $1");
        Ok(on!(self, c => sqlx::query_as::<_, OutboxRow>(sql).bind(id).fetch_optional(c))?)
    }

    /// Queues a failed message again, due now, with a fresh count of
    /// attempts; false if it was not failed (any more).
    pub async fn requeue_failed(&mut self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let sql = "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = $2, last_error = NULL WHERE id = $1 AND status = 'failed'";
        Ok(exec!(self, c => sqlx::query(sql).bind(id).bind(now).execute(c))? == 1)
    }

    pub async fn outbox_depth(&mut self) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'sending')";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql).fetch_one(c))?)
    }
}

impl Tx {
    /// Stops the confirmation and invite mail still queued for an entry
    /// (its address changed): each is marked failed with `why`, and the
    /// fresh message queued after it replaces it in `failed_mail`.
    pub async fn supersede_queued_mail(&mut self, entry_id: i64, why: &str, now: DateTime<Utc>) -> Result<u64> {
        let sql = "UPDATE outbox SET status = 'failed', last_error = $2, next_attempt_at = $3 \
                   WHERE entry_id = $1 AND status = 'queued' AND kind IN ('confirm', 'invite')";
        Ok(exec!(self, c => sqlx::query(sql).bind(entry_id).bind(why).bind(now).execute(c))?)
    }
}
