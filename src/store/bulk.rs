//! Bulk inserts for seeding worlds (demo, benchmarks): many rows per
//! statement, parameters bound by sqlx's QueryBuilder.

use super::{NewEvent, Result, Tx};
use chrono::{DateTime, Utc};

/// An entry with its whole history already decided.
#[derive(Clone, Debug)]
pub struct SeedEntry {
    pub id: i64,
    pub email: String,
    pub status: &'static str,
    pub blocked_from: Option<&'static str>,
    pub source: Option<&'static str>,
    pub referrer_id: Option<i64>,
    pub ip_prefix: String,
    pub first_seen: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub invited_at: Option<DateTime<Utc>>,
    pub joined_at: Option<DateTime<Utc>>,
    pub block_reason: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub struct SeedCode {
    pub hash: String,
    pub hint: String,
    pub kind: &'static str,
    pub campaign: Option<&'static str>,
    pub batch_id: Option<i64>,
    pub inviter_entry_id: Option<i64>,
    pub bound_entry_id: Option<i64>,
    pub max_uses: i64,
    pub uses: i64,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub created_by: &'static str,
}

/// Rows per statement (kept under SQLite's and PostgreSQL's bind limits).
const CHUNK: usize = 1_000;

/// Runs one QueryBuilder-built statement on whichever backend `tx` holds;
/// yields the rows affected.
macro_rules! build_and_run {
    ($tx:expr, $qb:ident => $build:block) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let mut $qb: sqlx::QueryBuilder<sqlx::Sqlite> = sqlx::QueryBuilder::new("");
                $build;
                $qb.build().execute(&mut **t).await.map(|r| r.rows_affected())
            }
            $crate::store::Tx::Postgres(t) => {
                let mut $qb: sqlx::QueryBuilder<sqlx::Postgres> = sqlx::QueryBuilder::new("");
                $build;
                $qb.build().execute(&mut **t).await.map(|r| r.rows_affected())
            }
        }
    };
}
pub(super) use build_and_run;

/// Appends `(id, id, …)` with each id bound: the id list of a chunked
/// bulk statement, on either backend.
pub(super) fn push_ids<DB>(qb: &mut sqlx::QueryBuilder<DB>, ids: &[i64])
where
    DB: sqlx::Database,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    qb.push("(");
    let mut list = qb.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    qb.push(")");
}

impl Tx {
    pub async fn bulk_entries(&mut self, rows: &[SeedEntry]) -> Result<()> {
        for chunk in rows.chunks(CHUNK) {
            build_and_run!(self, qb => {
                qb.push("INSERT INTO entries (id, email, email_display, status, blocked_from, source, referrer_id, ip_prefix, \
                         first_seen, last_attempt_at, attempts, confirmed_at, approved_at, invited_at, joined_at, blocked_at, block_reason) ");
                qb.push_values(chunk, |mut b, e| {
                    b.push_bind(e.id).push_bind(&e.email).push_bind(&e.email).push_bind(e.status).push_bind(e.blocked_from)
                        .push_bind(e.source).push_bind(e.referrer_id).push_bind(&e.ip_prefix).push_bind(e.first_seen)
                        .push_bind(e.first_seen).push_bind(1i64).push_bind(e.confirmed_at).push_bind(e.approved_at)
                        .push_bind(e.invited_at).push_bind(e.joined_at)
                        .push_bind(e.block_reason.map(|_| e.first_seen)).push_bind(e.block_reason);
                });
            })?;
        }
        if let Tx::Postgres(t) = self {
            sqlx::query("SELECT setval(pg_get_serial_sequence('entries', 'id'), (SELECT MAX(id) FROM entries))")
                .execute(&mut **t)
                .await?;
        }
        Ok(())
    }

    pub async fn bulk_events(&mut self, rows: &[(DateTime<Utc>, NewEvent)]) -> Result<()> {
        for chunk in rows.chunks(CHUNK) {
            build_and_run!(self, qb => {
                qb.push("INSERT INTO events (at, kind, entry_id, code_id, referrer_id, batch_id, campaign, ip_prefix, outcome, reason, rule, actor, detail) ");
                qb.push_values(chunk, |mut b, (at, e)| {
                    b.push_bind(*at).push_bind(e.kind).push_bind(e.entry_id).push_bind(e.code_id).push_bind(e.referrer_id).push_bind(e.batch_id)
                        .push_bind(e.campaign.clone()).push_bind(e.ip_prefix.clone()).push_bind(e.outcome).push_bind(e.reason.clone())
                        .push_bind(e.rule.clone()).push_bind(e.actor.clone()).push_bind(e.detail.clone());
                });
            })?;
        }
        Ok(())
    }

    pub async fn bulk_codes(&mut self, rows: &[SeedCode]) -> Result<()> {
        for chunk in rows.chunks(CHUNK) {
            build_and_run!(self, qb => {
                qb.push("INSERT INTO invite_codes (code_hash, hint, kind, campaign, batch_id, inviter_entry_id, bound_entry_id, \
                         max_uses, uses, expires_at, created_at, created_by) ");
                qb.push_values(chunk, |mut b, c| {
                    b.push_bind(&c.hash).push_bind(&c.hint).push_bind(c.kind).push_bind(c.campaign).push_bind(c.batch_id)
                        .push_bind(c.inviter_entry_id).push_bind(c.bound_entry_id).push_bind(c.max_uses).push_bind(c.uses)
                        .push_bind(c.expires_at).push_bind(c.created_at).push_bind(c.created_by);
                });
            })?;
        }
        Ok(())
    }

    /// Moves many entries from `from` to `to` at once, stamping
    /// `invited_at`. Returns how many rows moved: fewer than `ids.len()`
    /// means someone changed some of them meanwhile.
    pub async fn bulk_move(&mut self, ids: &[i64], from: &str, to: &str, at: DateTime<Utc>) -> Result<u64> {
        let mut moved = 0;
        for chunk in ids.chunks(CHUNK) {
            moved += build_and_run!(self, qb => {
                qb.push("UPDATE entries SET status = ");
                qb.push_bind(to);
                qb.push(", invited_at = ");
                qb.push_bind(at);
                qb.push(" WHERE status = ");
                qb.push_bind(from);
                qb.push(" AND id IN ");
                push_ids(&mut qb, chunk);
            })?;
        }
        Ok(moved)
    }

    /// Access codes for many entries in one batch, unminted (hash NULL: each
    /// is minted when its mail goes out). Returns (code id, entry id).
    pub async fn bulk_access_codes(
        &mut self,
        batch: i64,
        entries: &[i64],
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        by: &str,
    ) -> Result<Vec<(i64, i64)>> {
        for chunk in entries.chunks(CHUNK) {
            build_and_run!(self, qb => {
                qb.push("INSERT INTO invite_codes (kind, batch_id, bound_entry_id, max_uses, expires_at, created_at, created_by) ");
                qb.push_values(chunk, |mut b, id| {
                    b.push_bind("access").push_bind(batch).push_bind(*id).push_bind(1i64).push_bind(expires_at).push_bind(now).push_bind(by);
                });
            })?;
        }
        let sql = "SELECT id, bound_entry_id FROM invite_codes WHERE batch_id = $1 ORDER BY id";
        Ok(super::on!(self, c => sqlx::query_as::<_, (i64, i64)>(sql).bind(batch).fetch_all(c))?)
    }

    /// Queues one message per (entry, code, recipient).
    pub async fn bulk_enqueue(
        &mut self,
        kind: &str,
        rows: &[(i64, Option<i64>, String)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        for chunk in rows.chunks(CHUNK) {
            build_and_run!(self, qb => {
                qb.push("INSERT INTO outbox (kind, entry_id, code_id, recipient, next_attempt_at, created_at) ");
                qb.push_values(chunk, |mut b, (entry, code, to)| {
                    b.push_bind(kind).push_bind(*entry).push_bind(*code).push_bind(to.as_str()).push_bind(now).push_bind(now);
                });
            })?;
        }
        Ok(())
    }

    /// Records a delivery failure for a seeded mail.
    pub async fn seed_failed_mail(
        &mut self,
        entry_id: i64,
        recipient: &str,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "INSERT INTO outbox (kind, entry_id, recipient, status, attempts, next_attempt_at, last_error, created_at) \
                   VALUES ('invite', $1, $2, 'failed', 8, $3, $4, $3)";
        super::exec!(self, c => sqlx::query(sql).bind(entry_id).bind(recipient).bind(at).bind(error).execute(c))?;
        Ok(())
    }
}
